//! The connection's byte pipe: the socket itself, or the socket under a
//! session that frames and seals its bytes ([`Session`]: TLS, or SSH for
//! SFTP). The state machine reads, writes and sends file data through it
//! the same way whichever it is; only this file knows which, and each
//! session's own file (`tls_session.rs`, `crate::ssh::session`) how it
//! moves its bytes.
//!
//! Under TLS the interest the connection waits with is widened by what the
//! session needs ([`Transport::interest`]): to send records it holds, or
//! to read the rest of a handshake. Every drive of the connection first
//! sends what the session holds, so a writable event always finds work.
//!
//! Without kernel TLS, `sendfile` cannot encrypt: file data is read into
//! the reactor-wide scratch buffer (only from ranges the connection has
//! found cached, as for `sendfile`) and sealed from there; at most
//! [`crate::tls::SEND_BUFFER_LIMIT`] of ciphertext waits unsent. Kernel
//! TLS would be a third variant that hands the session's keys to the
//! socket and goes back to `sendfile`.
//!
//! Why it is long: each thing the connection asks of its pipe is one
//! match over the session kinds, here side by side; split, the same
//! match would be written once per file.

use std::io;

use mio::Interest;
use mio::net::TcpStream;
use rustls::server::UnbufferedServerConnection;

use super::tls_session::TlsSession;
#[cfg(feature = "sftp")]
use crate::ssh::SshSession;
use crate::tls::SEND_BUFFER_LIMIT;
use crate::tls_login::ResumedFrom;
use crate::wire::content::Content;
use crate::wire::socket::{self, Outcome};

/// What a plain socket may hold for a read, as its last read and events
/// tell (nginx's `rev->ready` and `pending_eof`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arrived {
    /// Bytes may be waiting: a read asks the kernel.
    Maybe,
    /// The last read took all that had arrived (it came back short, or
    /// would have blocked): until the socket's next event (or
    /// [`Transport::may_have_more`]) a read answers `WouldBlock` without
    /// asking the kernel. Under edge-triggered polling every arrival after
    /// it brings an event, as does registering for reading with bytes in.
    Nothing,
    /// Every read asks: a short read proves nothing. The peer has closed
    /// its side or the socket failed (its end, or error, waits behind any
    /// bytes, and no event will say so again), or urgent data stays in
    /// its stream (FTP's `ABOR`: a read stops short at the urgent mark
    /// with the rest waiting, and no event to come).
    Always,
}

/// A socket, and the session its bytes go through.
pub(super) struct Transport {
    stream: TcpStream,
    /// What a plain read may find ([`Arrived`]).
    arrived: Arrived,
    /// What runs between the socket and the codec; `None`: nothing, the
    /// codec's bytes are the socket's (one box for any session, so that a
    /// plain connection stays small).
    session: Option<Box<Session>>,
}

/// A session between the socket and the codec. Each of the transport's
/// verbs says what it does under each: a new kind of session is one more
/// variant, and the compiler names every verb it must answer.
// The whole session is boxed in `Transport`: boxing TLS again would cost
// its connections a second allocation for nothing.
#[allow(clippy::large_enum_variant)]
enum Session {
    /// TLS.
    Tls(TlsSession),
    /// SSH, whose one SFTP channel carries the codec's bytes (boxed again:
    /// a TLS session does not take an SSH session's room).
    #[cfg(feature = "sftp")]
    Ssh(Box<SshSession>),
}

/// The session a connection begins with.
// A value of the moment the connection is made, moved into it at once.
#[allow(clippy::large_enum_variant)]
pub enum Begin {
    /// None.
    Plain,
    /// TLS from the first byte.
    Tls(UnbufferedServerConnection),
    /// SSH (an SFTP listener's).
    #[cfg(feature = "sftp")]
    Ssh(Box<SshSession>),
}

impl Transport {
    /// `urgent_inline`: the socket keeps urgent data in its stream
    /// (`SO_OOBINLINE`).
    pub(super) fn new(stream: TcpStream, begin: Begin, urgent_inline: bool) -> Transport {
        Transport {
            stream,
            arrived: match urgent_inline {
                true => Arrived::Always,
                false => Arrived::Maybe,
            },
            session: match begin {
                Begin::Plain => None,
                Begin::Tls(tls) => Some(Box::new(Session::Tls(TlsSession::new(tls)))),
                #[cfg(feature = "sftp")]
                Begin::Ssh(ssh) => Some(Box::new(Session::Ssh(ssh))),
            },
        }
    }

    /// The socket had an event: what has arrived since the last read is
    /// read. `closing`: the event says the peer closed its side (or the
    /// socket failed).
    pub(super) fn event(&mut self, closing: bool) {
        if closing {
            self.arrived = Arrived::Always;
        } else if self.arrived == Arrived::Nothing {
            self.arrived = Arrived::Maybe;
        }
    }

    /// Time passed on the loop since the last read (a body written there):
    /// a plain socket's next read asks (TLS and SSH reads always do).
    pub(super) fn may_have_more(&mut self) {
        if self.arrived == Arrived::Nothing {
            self.arrived = Arrived::Maybe;
        }
    }

    /// The socket, for registration and options.
    pub(super) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    pub(super) fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Whether the TLS handshake is still going on (the connection treats
    /// it like a request line being received: the header deadline runs).
    pub(super) fn is_handshaking(&self) -> bool {
        match self.session.as_deref() {
            None => false,
            Some(Session::Tls(tls)) => tls.is_handshaking(),
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => ssh.is_handshaking(),
        }
    }

    /// Whether its session is SSH's, not logged in (or not at its
    /// subsystem) yet: the login grace time bounds it.
    pub(super) fn is_logging_in(&self) -> bool {
        match self.session.as_deref() {
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => ssh.is_handshaking(),
            _ => false,
        }
    }

    /// Begins `session` on a connection that spoke plaintext so far (FTP's
    /// `AUTH TLS`): the next bytes read are its handshake.
    pub(super) fn begin_tls(&mut self, session: UnbufferedServerConnection) {
        debug_assert!(self.session.is_none(), "TLS begun twice");
        self.session = Some(Box::new(Session::Tls(TlsSession::new(session))));
    }

    /// Who logged in through the session itself (SSH's), once.
    pub(super) fn take_login(&mut self) -> Option<std::sync::Arc<crate::access::Principal>> {
        match self.session.as_deref_mut() {
            None | Some(Session::Tls(_)) => None,
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => ssh.take_login(),
        }
    }

    /// Whether the session took bytes from the peer that carried none for
    /// the codec (SSH's keepalives), since the last call: the peer is
    /// there, for the idle timeout.
    pub(super) fn take_heard(&mut self) -> bool {
        match self.session.as_deref_mut() {
            None | Some(Session::Tls(_)) => false,
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => ssh.take_heard(),
        }
    }

    /// The TLS session must be a resumed one
    /// (`TlsSession::require_resumption`).
    pub(super) fn require_resumption(&mut self, from: ResumedFrom) {
        match self.session.as_deref_mut() {
            None => {}
            Some(Session::Tls(tls)) => tls.require_resumption(from),
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(_)) => {}
        }
    }

    /// While the TLS session waits for what it resumed from to be judged
    /// (`TlsSession::resumption_waits`): what that is.
    pub(super) fn resumption_waits_for(&self) -> Option<&ResumedFrom> {
        match self.session.as_deref() {
            Some(Session::Tls(tls)) => tls.waits_for(),
            _ => None,
        }
    }

    /// The peer spoke plaintext to a TLS port: forget the session, so the
    /// connection can tell it so in plaintext and close.
    pub(super) fn drop_tls(&mut self) {
        self.session = None;
    }

    /// `wanted`, widened by what the TLS session needs to move on.
    pub(super) fn interest(&self, wanted: Interest) -> Interest {
        let tls = match self.session.as_deref() {
            None => return wanted,
            Some(Session::Tls(tls)) => tls,
            // Whatever the connection waits for, the peer may send what
            // the session needs (a window opened, a key exchange).
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) if ssh.holds_output() => {
                return wanted | Interest::READABLE | Interest::WRITABLE;
            }
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(_)) => return wanted | Interest::READABLE,
        };
        let mut interest = wanted;
        if tls.holds_output() {
            interest |= Interest::WRITABLE;
        }
        if tls.is_handshaking() {
            interest |= Interest::READABLE;
        }
        interest
    }

    /// A turn of the reactor begins for the connection: a TLS or SSH
    /// session may read its turn's share of ciphertext again
    /// (`wire/turn_share.rs`).
    pub(super) fn begin_turn(&mut self) {
        match self.session.as_deref_mut() {
            None => {}
            Some(Session::Tls(tls)) => tls.begin_turn(),
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => ssh.begin_turn(),
        }
    }

    /// Whether the session stopped reading for its turn's share, not for
    /// want of bytes: the connection yields, to come back from the ready
    /// list (no event comes for bytes already arrived).
    pub(super) fn spent(&self) -> bool {
        match self.session.as_deref() {
            None => false,
            Some(Session::Tls(tls)) => tls.spent(),
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => ssh.spent(),
        }
    }

    /// Whether the session holds bytes either way: output not yet sent,
    /// or input not yet handed on (a record's or a packet's part), known
    /// without asking the socket.
    pub(super) fn holds_bytes(&self) -> bool {
        match self.session.as_deref() {
            None => false,
            Some(Session::Tls(tls)) => tls.holds_output() || tls.holds_input(),
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => ssh.holds_output() || ssh.holds_input(),
        }
    }

    /// Whether output handed over is still held here, not yet sent.
    pub(super) fn holds_output(&self) -> bool {
        match self.session.as_deref() {
            None => false,
            Some(Session::Tls(tls)) => tls.holds_output() || tls.holds_early(),
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => ssh.holds_output(),
        }
    }

    /// Whether the peer has sent anything not yet handled: bytes the TLS
    /// session holds, or bytes waiting in the kernel, which one `MSG_PEEK`
    /// shows without taking them (in plaintext, blank lines are nothing).
    pub(super) fn holds_input(&self) -> bool {
        match self.session.as_deref() {
            None => {}
            Some(Session::Tls(tls)) => {
                return tls.holds_input() || matches!(self.peek_raw(&mut [0]), Outcome::Done(_));
            }
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => {
                return ssh.holds_input() || matches!(self.peek_raw(&mut [0]), Outcome::Done(_));
            }
        }
        let mut peeked = [0; 256];
        match self.peek_raw(&mut peeked) {
            Outcome::Done(n) => peeked[..n].iter().any(|b| !matches!(b, b'\r' | b'\n')),
            _ => false,
        }
    }

    /// Whether an SSH session had traffic since it last rested
    /// (`SshSession::may_rest`).
    pub(super) fn may_rest(&self) -> bool {
        match self.session.as_deref() {
            None | Some(Session::Tls(_)) => false,
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => ssh.may_rest(),
        }
    }

    /// Rests an SSH session, its packet buffers' memory given back
    /// (`SshSession::rest`): whether it was.
    pub(super) fn rest(&mut self) -> bool {
        match self.session.as_deref_mut() {
            None | Some(Session::Tls(_)) => false,
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => ssh.rest(),
        }
    }

    /// Lets go of buffers the session no longer needs: called at the end
    /// of every drive, so a connection at rest holds none (TLS), and one
    /// whose SSH peer has said nothing yet holds no packet buffers
    /// (`SshSession::shed`, counted).
    pub(super) fn shed(&mut self) {
        match self.session.as_deref_mut() {
            None => {}
            Some(Session::Tls(tls)) => tls.shed(),
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => {
                let rested = ssh.shed();
                if rested {
                    crate::metrics::count_ssh_bare_rest();
                }
            }
        }
    }

    /// Reads into `buf` (not empty). Under TLS, ciphertext is read into
    /// `spare` (the rest of the reactor-wide buffer) and decrypted into
    /// `buf`.
    pub(super) fn read(&mut self, buf: &mut [u8], spare: &mut [u8]) -> Outcome {
        match self.session.as_deref_mut() {
            None if self.arrived == Arrived::Nothing => Outcome::WouldBlock,
            None => {
                let outcome = socket::read(&mut self.stream, buf);
                let all_taken = match outcome {
                    Outcome::Done(n) => n < buf.len(),
                    Outcome::WouldBlock => true,
                    _ => false,
                };
                if all_taken && self.arrived == Arrived::Maybe {
                    self.arrived = Arrived::Nothing;
                }
                outcome
            }
            Some(Session::Tls(tls)) => tls.read(&self.stream, buf, spare),
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => ssh.read(&self.stream, buf, spare),
        }
    }

    /// How much of `room` bytes of scratch a read may fill with data: under
    /// TLS the rest holds the ciphertext it is decrypted from.
    pub(super) fn read_room(&self, room: usize) -> usize {
        match self.session.as_deref() {
            None => room,
            Some(Session::Tls(_)) => room / 2,
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(_)) => room / 2,
        }
    }

    /// Looks at the raw bytes that have arrived without taking them: the
    /// PROXY header, which comes before any TLS. (Only ever before the TLS
    /// session has read anything: the connection's first state.)
    pub(super) fn peek_raw(&self, buf: &mut [u8]) -> Outcome {
        socket::peek(&self.stream, buf)
    }

    /// Reads and throws away raw bytes (lingering: nothing more is
    /// decrypted once the connection is closing).
    pub(super) fn read_raw(&mut self, buf: &mut [u8]) -> Outcome {
        socket::read(&mut self.stream, buf)
    }

    /// Writes from `buf` (not empty). With `more`, further data follows at
    /// once.
    pub(super) fn write(&mut self, buf: &[u8], more: bool) -> Outcome {
        match self.session.as_deref_mut() {
            None => socket::write(&self.stream, buf, more),
            Some(Session::Tls(tls)) => tls.seal(&self.stream, buf),
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => ssh.seal(&self.stream, buf),
        }
    }

    /// Sends up to `len` bytes of `body` from `offset`, from a range known
    /// to be cached: a file by `sendfile`, bytes in memory by a write.
    /// `scratch` is the reactor-wide buffer, used under TLS. `may_cork`:
    /// the loop counts this connection alone, so a big `sendfile` may run
    /// corked (plain sockets only).
    pub(super) fn send_body(
        &mut self,
        body: &Content,
        (offset, len): (u64, usize),
        scratch: &mut [u8],
        may_cork: bool,
    ) -> Outcome {
        match self.session.as_deref_mut() {
            None => socket::send_content(&self.stream, body, (offset, len), may_cork),
            // A body waiting for a resumption's verdict holds its first
            // piece unsealed (`early`): the verdict is looked at first.
            Some(Session::Tls(tls)) => match tls.await_verdict() {
                Some(outcome) => outcome,
                None => seal_body(tls, &self.stream, (body, offset, len), scratch),
            },
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => {
                seal_body(&mut **ssh, &self.stream, (body, offset, len), scratch)
            }
        }
    }

    /// Sends what the TLS session holds, as far as the socket takes it.
    pub(super) fn send_held(&mut self) -> Outcome {
        match self.session.as_deref_mut() {
            Some(Session::Tls(tls)) => tls.send_held(&self.stream),
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => ssh.send_held(&self.stream),
            None => Outcome::Done(0),
        }
    }

    /// Ends the TLS session politely (`close_notify`) and sends what it
    /// holds: `Done` once all is out, `WouldBlock` until then. Nothing to
    /// do on a plain socket.
    pub(super) fn finish(&mut self) -> Outcome {
        match self.session.as_deref_mut() {
            Some(Session::Tls(tls)) => tls.finish(&self.stream),
            #[cfg(feature = "sftp")]
            Some(Session::Ssh(ssh)) => ssh.finish(&self.stream),
            None => Outcome::Done(0),
        }
    }
}

/// What a session that seals bytes does for a body sent through it:
/// TLS's and SSH's alike.
trait Sealing {
    /// Sends what it holds, as far as the socket takes it.
    fn send_held(&mut self, stream: &TcpStream) -> Outcome;
    /// Whether sealed bytes still wait for the socket.
    fn holds_output(&self) -> bool;
    /// Seals what it takes of `data` and sends what it can.
    fn seal(&mut self, stream: &TcpStream, data: &[u8]) -> Outcome;
}

impl Sealing for TlsSession {
    fn send_held(&mut self, stream: &TcpStream) -> Outcome {
        TlsSession::send_held(self, stream)
    }
    fn holds_output(&self) -> bool {
        // Early data counts: a body waiting for the handshake (or for a
        // resumption's verdict) is not read from the file again.
        TlsSession::holds_output(self) || self.holds_early()
    }
    fn seal(&mut self, stream: &TcpStream, data: &[u8]) -> Outcome {
        TlsSession::seal(self, stream, data)
    }
}

#[cfg(feature = "sftp")]
impl Sealing for SshSession {
    fn send_held(&mut self, stream: &TcpStream) -> Outcome {
        SshSession::send_held(self, stream)
    }
    fn holds_output(&self) -> bool {
        SshSession::holds_output(self)
    }
    fn seal(&mut self, stream: &TcpStream, data: &[u8]) -> Outcome {
        SshSession::seal(self, stream, data)
    }
}

/// Sends what a session can take of `len` bytes of `body` from `offset`:
/// the file's bytes are read into `scratch` (only from ranges found
/// cached, as for `sendfile`) and sealed, once what the session held
/// before has gone out, at most [`SEND_BUFFER_LIMIT`] at once.
fn seal_body(
    session: &mut impl Sealing,
    stream: &TcpStream,
    (body, offset, len): (&Content, u64, usize),
    scratch: &mut [u8],
) -> Outcome {
    if let outcome @ (Outcome::Closed | Outcome::Error(_)) = session.send_held(stream) {
        return outcome;
    }
    if session.holds_output() {
        // Nothing more is read from the file until the socket drains.
        return Outcome::WouldBlock;
    }
    let piece = &mut scratch[..len.min(SEND_BUFFER_LIMIT)];
    match body.read_at(piece, offset) {
        Ok(0) => Outcome::Error(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shrank while it was being sent",
        )),
        Ok(n) => session.seal(stream, &piece[..n]),
        Err(err) => Outcome::Error(err),
    }
}

#[cfg(test)]
mod tests {
    //! A plain socket's record of what has arrived, over a real loopback
    //! pair: a short read says nothing more is there until the next event
    //! is handed on, unless `may_have_more` says time has passed; a socket
    //! whose urgent data stays in its stream always asks.

    use std::io::Write;
    use std::net::{TcpListener, TcpStream as StdStream};
    use std::time::Duration;

    use mio::{Events, Poll, Token};

    use super::*;

    /// A transport over one end of a loopback pair, the other end, and a
    /// poll its socket is registered with for reading.
    fn pair(urgent_inline: bool) -> (Transport, StdStream, Poll) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = StdStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        accepted.set_nonblocking(true).unwrap();
        let stream = TcpStream::from_std(accepted);
        let mut transport = Transport::new(stream, Begin::Plain, urgent_inline);
        let poll = Poll::new().unwrap();
        poll.registry()
            .register(transport.stream_mut(), Token(0), Interest::READABLE)
            .unwrap();
        (transport, peer, poll)
    }

    /// Sends `bytes` from the peer and waits (ten seconds at most) for the
    /// event saying they arrived.
    fn arrive(peer: &mut StdStream, poll: &mut Poll, bytes: &[u8]) {
        peer.write_all(bytes).unwrap();
        let mut events = Events::with_capacity(4);
        poll.poll(&mut events, Some(Duration::from_secs(10)))
            .unwrap();
        assert!(!events.is_empty(), "no event within ten seconds");
    }

    fn read(transport: &mut Transport) -> Option<usize> {
        match transport.read(&mut [0; 64], &mut []) {
            Outcome::Done(n) => Some(n),
            Outcome::WouldBlock => None,
            _ => panic!("the socket failed"),
        }
    }

    #[test]
    fn a_short_read_waits_for_an_event_unless_more_may_have_arrived() {
        let (mut transport, mut peer, mut poll) = pair(false);
        arrive(&mut peer, &mut poll, b"first");
        assert_eq!(read(&mut transport), Some(5));
        // Short: until the next event is handed on, a read does not ask.
        arrive(&mut peer, &mut poll, b"second");
        assert_eq!(read(&mut transport), None);
        // Time passed on the loop: the next read asks, and finds them.
        transport.may_have_more();
        assert_eq!(read(&mut transport), Some(6));
        assert_eq!(read(&mut transport), None);
        transport.event(false);
        assert_eq!(read(&mut transport), None, "the kernel's EAGAIN");
    }

    #[test]
    fn a_socket_with_urgent_data_inline_always_asks() {
        let (mut transport, mut peer, mut poll) = pair(true);
        arrive(&mut peer, &mut poll, b"first");
        assert_eq!(read(&mut transport), Some(5));
        arrive(&mut peer, &mut poll, b"second");
        assert_eq!(read(&mut transport), Some(6));
        // Still asking after `may_have_more` and an `EAGAIN`.
        transport.may_have_more();
        assert_eq!(read(&mut transport), None);
        arrive(&mut peer, &mut poll, b"third");
        assert_eq!(read(&mut transport), Some(5));
    }
}
