//! The codec a connection speaks: the one place that chooses between
//! FERRY/1 ([`crate::protocol::codec`]), HTTP/1.1
//! ([`crate::http::codec`]), FTP ([`crate::ftp`]) and SFTP
//! ([`crate::sftp`], inside the transport's SSH session).
//!
//! A connection holds a [`Codec`] and asks it everything protocol-specific:
//! the greeting and the busy answer, whether a request head is complete
//! (the header deadline's rule), the next request as an [`crate::serve::Operation`] (or a
//! [`Refusal`]), the bytes of each [`Reply`], and whether the last answer
//! ended the connection. The connection itself never asks which protocol
//! it speaks.

use std::time::Duration;

use crate::access::Login;
use crate::config::Config;
use crate::ftp::{self, Control, Data};
use crate::http::codec::{self as http, Exchange};
use crate::http::origin::Site;
use crate::protocol::codec as ferry;
use crate::serve::Reply;
use crate::serve::decoded::Relay;

pub use crate::serve::decoded::{Decoded, Refusal};
pub use crate::wire::Protocol;

/// A connection's codec and its per-exchange state.
#[derive(Debug)]
pub enum Codec {
    /// FERRY/1: stateless but for its error path (see
    /// [`ferry::Ferry`]).
    Ferry(ferry::Ferry),
    /// HTTP/1.1 and the exchange being answered.
    Http(Exchange),
    /// An FTP control connection: its login and working folder (boxed:
    /// the connection stays small whatever a codec holds).
    Ftp(Box<Control>),
    /// An FTP data connection: the transfer its control connection hands
    /// it, reported back.
    FtpData(Box<Data>),
    /// An SFTP session: its open handles (boxed, as FTP's).
    #[cfg(feature = "sftp")]
    Sftp(Box<crate::sftp::Sftp>),
}

impl Codec {
    /// The protocol this codec speaks.
    pub fn protocol(&self) -> Protocol {
        match self {
            Codec::Ferry(_) => Protocol::Ferry,
            Codec::Http(exchange) => exchange.listener(),
            Codec::Ftp(_) | Codec::FtpData(_) => Protocol::Ftp,
            #[cfg(feature = "sftp")]
            Codec::Sftp(_) => Protocol::Sftp,
        }
    }

    /// The codec for `protocol`; `http_port`: where the server's HTTP
    /// listener is, if it has one (for a FERRY/1 peer that speaks HTTP);
    /// `ftp`: what an FTP control connection is offered.
    pub fn new(protocol: Protocol, http_port: Option<u16>, ftp: ftp::Terms) -> Codec {
        match protocol {
            Protocol::Ferry => Codec::Ferry(ferry::Ferry::new(http_port)),
            // S3 is HTTP/1.1 whose listener serves S3's dialect alone.
            Protocol::Http | Protocol::S3 => Codec::Http(Exchange::new(protocol)),
            Protocol::Ftp => Codec::Ftp(Box::new(Control::new(ftp))),
            #[cfg(feature = "sftp")]
            Protocol::Sftp => Codec::Sftp(Box::default()),
            // `Config::unbuilt` refuses an SFTP listener in this build.
            #[cfg(not(feature = "sftp"))]
            Protocol::Sftp => unreachable!("an SFTP listener in a build without SFTP"),
        }
    }

    /// What a new connection is told before it sends anything; `login`:
    /// how clients log in.
    pub fn greeting(&mut self, client_id: u64, login: Login, out: &mut Vec<u8>) {
        match self {
            Codec::Ferry(_) => ferry::greeting(client_id, login.tokens, out),
            Codec::Http(_) | Codec::FtpData(_) => {}
            Codec::Ftp(control) => control.greeting(login, out),
            // SSH says hello, and SFTP's client speaks first (`INIT`).
            #[cfg(feature = "sftp")]
            Codec::Sftp(_) => {}
        }
    }

    /// What the access log says of an upload whose client went before its
    /// body ended: 499, as nginx logs it; an FTP data connection's 426,
    /// what its control connection is told.
    pub fn cut_code(&self) -> u16 {
        match self {
            Codec::FtpData(_) => 426,
            Codec::Ferry(_) | Codec::Http(_) | Codec::Ftp(_) => 499,
            #[cfg(feature = "sftp")]
            Codec::Sftp(_) => 499,
        }
    }

    /// How long the connection may rest between requests, nothing owed
    /// either way, before it is closed: a logged-in SFTP session's own
    /// time (`--ssh-idle-timeout`: a mount or a file manager sits quiet
    /// for minutes, and its user loses a cut one, where an HTTP client
    /// just opens another connection), every other's the idle timeout.
    pub fn resting_timeout(&self, config: &Config) -> Duration {
        match self {
            #[cfg(feature = "sftp")]
            Codec::Sftp(_) => config.ssh_idle_timeout,
            _ => config.idle_timeout,
        }
    }

    /// The answer for a connection refused because the server is full.
    pub fn busy(&self, out: &mut Vec<u8>) {
        match self {
            Codec::Ferry(_) => ferry::busy(out),
            Codec::Http(_) => http::busy(out),
            Codec::Ftp(_) => {
                out.extend_from_slice(b"421 too many connections: try again later\r\n")
            }
            // Nothing is said before SSH's own hello.
            Codec::FtpData(_) => {}
            #[cfg(feature = "sftp")]
            Codec::Sftp(_) => {}
        }
    }

    /// The answer, in plaintext, for a client that spoke plaintext to a
    /// TLS port (the connection then closes).
    pub fn plaintext_on_tls_port(&mut self, out: &mut Vec<u8>) {
        match self {
            Codec::Ferry(_) => ferry::plaintext_on_tls_port(out),
            Codec::Http(_) => http::plaintext_on_tls_port(out),
            // An FTP listener is never TLS from the first byte (`Config::listen`).
            Codec::Ftp(_) => out.extend_from_slice(b"421 this port speaks TLS\r\n"),
            Codec::FtpData(link) => link.spoke_plaintext(),
            // An SFTP listener is never TLS (`Protocol::tls_from_the_start`).
            #[cfg(feature = "sftp")]
            Codec::Sftp(_) => {}
        }
    }

    /// Its TLS session did not resume the one it had to (only an FTPS
    /// data connection is asked to): the connection then closes.
    pub fn tls_not_resumed(&mut self) {
        if let Codec::FtpData(link) = self {
            link.not_resumed();
        }
    }

    /// Decodes the request at the front of `data`; `site`: the web
    /// origin's rules, `room`: the most bytes of a large request body it
    /// may hold in hand now (HTTP's alone: FERRY/1 holds none).
    pub fn decode(&mut self, data: &[u8], site: Site<'_>, room: u64) -> Decoded {
        match self {
            Codec::Ferry(codec) => codec.decode(data),
            Codec::Http(exchange) => exchange.decode(data, site, room),
            Codec::Ftp(control) => control.decode(data),
            Codec::FtpData(link) => link.decode(data),
            #[cfg(feature = "sftp")]
            Codec::Sftp(session) => session.decode(data),
        }
    }

    /// Appends the answer the codec gave itself ([`Decoded::Answered`]).
    pub fn answered(&mut self, out: &mut Vec<u8>) {
        match self {
            Codec::Ftp(control) => control.answered(out),
            #[cfg(feature = "sftp")]
            Codec::Sftp(session) => session.answered(out),
            _ => {}
        }
    }

    /// Whether the answer to the request being served may begin before
    /// its reply, while the work runs (HTTP's, for some dialects' requests).
    pub fn fills(&self) -> bool {
        match self {
            Codec::Ferry(_) | Codec::Ftp(_) | Codec::FtpData(_) => false,
            Codec::Http(exchange) => exchange.fills(),
            #[cfg(feature = "sftp")]
            Codec::Sftp(_) => false,
        }
    }

    /// Appends what such an answer sends while its reply is awaited.
    pub fn fill(&mut self, out: &mut Vec<u8>) {
        if let Codec::Http(exchange) = self {
            exchange.fill(out);
        }
    }

    /// Appends the bytes of `reply` to `out`; `last`: the connection closes
    /// after it (HTTP says so).
    pub fn encode(&mut self, reply: &Reply, last: bool, out: &mut Vec<u8>) {
        match self {
            Codec::Ferry(_) => ferry::encode(reply, out),
            Codec::Http(exchange) => exchange.encode(reply, last, out),
            Codec::Ftp(control) => control.encode(reply, out),
            Codec::FtpData(link) => link.encode(reply),
            #[cfg(feature = "sftp")]
            Codec::Sftp(session) => session.encode(reply, out),
        }
    }

    /// Whether `reply` answers its request, and with which status (`None`:
    /// ok), as this codec writes it ([`Reply::answer_code`]): an
    /// HTTP dialect may answer a failure with a status of its own
    /// (WebDAV's `412` for a name taken, `405` and `409` for `MKCOL`).
    pub fn answer_code(&self, reply: &Reply) -> Option<Option<u16>> {
        let code = reply.answer_code()?;
        match (self, reply) {
            (Codec::Http(exchange), Reply::Failed(failure)) => {
                Some(Some(exchange.status(failure.kind)))
            }
            _ => Some(code),
        }
    }

    /// Appends the answer to a refused request; `last` as for
    /// [`Codec::encode`].
    pub fn refuse(&mut self, refusal: &Refusal, last: bool, out: &mut Vec<u8>) {
        match self {
            Codec::Ferry(codec) => codec.refuse(refusal, out),
            Codec::Http(exchange) => exchange.refuse(refusal, last, out),
            Codec::Ftp(control) => control.refuse(refusal, out),
            Codec::FtpData(_) => {}
            #[cfg(feature = "sftp")]
            Codec::Sftp(session) => session.refuse(refusal, out),
        }
    }

    /// Whether `input` holds a whole request head. Blank lines before a
    /// request do not count, or a peer could send one and then dribble the
    /// request past the header deadline.
    pub fn holds_whole_head(&self, input: &[u8]) -> bool {
        match self {
            Codec::Ferry(_) => ferry::holds_whole_head(input),
            Codec::Http(_) => http::holds_whole_head(input),
            Codec::Ftp(_) => ftp::holds_whole_head(input),
            Codec::FtpData(_) => true,
            #[cfg(feature = "sftp")]
            Codec::Sftp(_) => crate::sftp::holds_whole_packet(input),
        }
    }

    /// Whether `input`, read while a transfer this connection handed on is
    /// under way, asks to stop it (FTP's `ABOR`).
    pub fn interrupts(&self, input: &[u8]) -> bool {
        matches!(self, Codec::Ftp(_)) && ftp::is_abort(input)
    }

    /// The server is shutting down: whatever is answered next is the
    /// connection's last, and says so where the protocol can.
    pub fn answer_is_last(&mut self) {
        if let Codec::Http(exchange) = self {
            exchange.close = true;
        }
    }

    /// The last answer ended the connection (HTTP's `Connection: close`):
    /// read no further request.
    pub fn is_closing(&self) -> bool {
        match self {
            Codec::Ferry(_) => false,
            Codec::Http(exchange) => exchange.close,
            Codec::Ftp(control) => control.is_closing(),
            Codec::FtpData(link) => link.is_closing(),
            #[cfg(feature = "sftp")]
            Codec::Sftp(_) => false,
        }
    }

    /// A data connection for the connection `control` (FTP's).
    pub fn ftp_data(control: (usize, u64)) -> Codec {
        Codec::FtpData(Box::new(Data::new(control)))
    }

    /// Queues what the reactor relays about a link this connection asked
    /// for (FTP's `227`, `150`, `226`...).
    pub fn relayed(&mut self, relay: &Relay, out: &mut Vec<u8>) {
        if let Codec::Ftp(control) = self {
            control.relayed(relay, out);
        }
    }

    /// The connection this one serves for (a data connection's control).
    pub fn linked_to(&self) -> Option<(usize, u64)> {
        match self {
            Codec::FtpData(link) => Some(link.control()),
            _ => None,
        }
    }

    /// The connection a linked one serves for has let it go: it reports
    /// nothing more.
    pub fn let_go(&mut self) {
        if let Codec::FtpData(link) = self {
            link.let_go();
        }
    }

    /// What a linked connection has to report, once.
    pub fn take_relay(&mut self) -> Option<Relay> {
        match self {
            Codec::FtpData(link) => link.take_relay(),
            _ => None,
        }
    }

    /// What a linked connection reports as it closes (`whole`: all it
    /// had to send is out).
    pub fn closing_relay(&mut self, whole: bool) -> Option<Relay> {
        match self {
            Codec::FtpData(link) => link.closing_relay(whole),
            _ => None,
        }
    }
}
