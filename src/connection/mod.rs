//! One client connection: the I/O engine that moves its bytes.
//!
//! ```text
//!   ProxyHeader (from a --trusted-proxy only: the PROXY header, `proxied.rs`)
//!               |
//!          greeting (FERRY/1, sent at once, before the header)
//!               |
//!               v
//!   +----> AwaitHeader --PUT, APPEND--> ReceivingBody ---+
//!   |        |  |  |                   (fixed, chunked)  |
//!   |        |  |  \--GET (> 16 KiB)--> SendingBody -----+
//!   |        |  |  \--a listing held---> SendingHeld -----+
//!   |        |  \-----ECHO------------> EchoingBody -----+
//!   |        \--------refused body----> DrainingBody ----+
//!   |                                                    |
//!   +----------------------------------------------------+
//!
//!   Waiting: any step that needs the disk (opening, creating, committing,
//!   a listing, a cold read...) waits here while the I/O pool works, then
//!   goes where the job's outcome says (ReceivingBody, SendingBody, ...).
//!   STAT, small GETs, HEAD whose file is cached: answered at once.
//!   QUIT, fatal error, EOF
//!        --> Done (flush) --> Lingering --> close
//!   HTTP "Connection: close" between requests
//!        --> Ended (flush) --> close, or Done if the peer sent more
//! ```
//!
//! The connection never asks which protocol it speaks: its [`Codec`] turns
//! input into operations and replies into output, and the serve layer
//! ([`crate::serve`]) says what each operation answers and what comes next
//! (`advance.rs` applies that). Both protocols share every state; a body
//! arrives in `ReceivingBody` through its `Receive`, which knows its framing
//! (fixed or chunked). HTTP's `Connection: close` between requests ends in
//! `Ended`, which closes at once unless the peer sent more (see below).
//!
//! `Lingering` is the lingering close: when the server ends a connection
//! whose peer may still be sending (a 413 in the middle of a body, say), it
//! half-closes and reads and discards what still arrives, up to a limit,
//! before it closes. Closing a socket with unread input makes the kernel
//! send a reset, which can destroy the error line before the peer reads it.
//! A connection that ends between requests (`Ended`) skips that when
//! nothing unread is there, as nginx does: a shutdown, a wake-up and a read
//! fewer per short HTTP connection.
//!
//! The state is an enum that owns exactly what it needs and is changed by
//! value. A connection at rest holds no buffers: bytes are read into the
//! reactor-wide scratch buffer and only a partial header, or requests
//! pipelined behind a download, are kept. File bodies stream to disk from
//! that scratch buffer and go out with `sendfile`, so they are never held
//! per connection. Output (response lines, a LIST listing, echoed bytes) is
//! queued and flushed before anything else happens, which keeps responses
//! in request order and lets a slow reader hold back only itself.
//!
//! [`Connection::drive`] (`turn.rs`) never blocks on the peer; it returns
//! a [`Step`] saying what readiness to wait for, that it used its share of
//! this turn, or that the connection is finished. This file holds the
//! state and what the reactor asks of a connection; `turn.rs` moves bytes,
//! `input.rs` reads them and feeds them to the state;
//! `advance.rs` reads requests and applies the serve layer's outcomes;
//! `jobs.rs` hands jobs to the I/O pool and takes their outcomes;
//! `deadline.rs` and `note.rs` its timers and its access-log line. The
//! state enum and each state's data sit here, beside the engine that owns
//! them, so every state's invariants read in one place.

mod advance;
pub mod codec;
mod deadline;
mod farewell;
mod flags;
mod input;
mod jobs;
mod link;
mod note;
mod proxied;
mod tls_held;
mod tls_records;
mod tls_session;
mod transport;
mod turn;

use flags::{CUT, FAREWELL, LAST_REQUEST_DUE, PEER_EOF};

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Instant;

use log::debug;
use mio::Interest;
use mio::net::TcpStream;

use crate::access::{Access, Principal};
use crate::connection::codec::Codec;
use crate::serve::{Held, Receive, Send};
use deadline::Timing;
use jobs::Wait;
use note::Opened;
pub use transport::Begin;
use transport::Transport;

/// Bytes read at once while waiting for a request line. Larger reads pick
/// up pipelined requests in one go (a third less CPU per pipelined 4 KiB
/// PUT than 8 KiB reads), but what follows a request that stops input (a
/// download) is held until it is done.
const HEADER_READ: usize = 64 * 1024;
/// The read size once connections hold [`HELD_INPUT_BUDGET`] between them:
/// the most one request head needs (HTTP's cap), so a connection never
/// holds more than a slow client could make it hold anyway.
const LEAN_READ: usize = 8 * 1024;
/// Input the connections of one reactor together may hold before reads
/// become lean (each worker has its own budget); a request body in hand
/// over HTTP's usual 64 KiB (S3's list of 10,000 parts) is taken only
/// within what is left of it, else refused with a 503 to be sent again.
const HELD_INPUT_BUDGET: usize = 16 * 1024 * 1024;
/// Stop parsing further requests while this much output is queued.
const OUTPUT_HIGH_WATER: usize = 64 * 1024;
/// Largest `sendfile` call: a turn's whole budget, as nginx's
/// `sendfile_max_chunk` (2 MiB) is: half the calls of 1 MiB ones for the
/// same bytes per turn, so fairness between connections is unchanged.
const SEND_CHUNK: u64 = TURN_BUDGET as u64;
/// Work one connection may do per turn before others get theirs, in bytes;
/// every operation costs at least [`MIN_OPERATION_COST`].
const TURN_BUDGET: usize = 2 * 1024 * 1024;

/// Most unsent output behind which a waiting connection's job still goes
/// to the I/O pool at once (see [`Connection::take_job`]).
const JOB_OUTPUT_BACKLOG: usize = 128 * 1024;
const MIN_OPERATION_COST: usize = 4 * 1024;
/// What serving one request costs from the budget, whatever its bytes: at
/// most 128 requests per connection per turn.
const REQUEST_COST: usize = 16 * 1024;
/// Buffers that grew past this are freed once empty.
const KEEP_CAPACITY: usize = 4 * 1024;
/// Most bytes discarded while lingering before closing anyway.
const LINGER_LIMIT: u64 = 16 * 1024 * 1024;

/// What the reactor should do with a connection after [`Connection::drive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Blocked: call again when this readiness arrives.
    Wait(Interest),
    /// Used its budget with work left: call again next turn.
    Yield,
    /// Finished or failed: deregister and drop.
    Close,
}

/// What a connection borrows from the server while it is driven.
#[derive(Debug)]
pub struct Env<'a> {
    /// What the serve layer is lent for each request (the files among
    /// it), handed over as it is.
    pub served: crate::serve::Served<'a>,
    /// Tokens and grants.
    pub access: &'a std::sync::Arc<Access>,
    /// The server is shutting down: take no new requests.
    pub shutting_down: bool,
    /// Bytes of input buffered by all connections together (see
    /// [`HELD_INPUT_BUDGET`]); during a connection's drive, by the others
    /// (what it may add to), and it adds its own back at the end.
    pub held_input: &'a mut usize,
    /// When the reactor's turn began: the time deadlines and progress are
    /// kept by (one read of the clock a turn, not one a move).
    pub now: Instant,
    /// This connection is alone: its loop's last drives were all of it
    /// (`server/reactor/crowd.rs`), so a big `sendfile` may run corked.
    pub alone: bool,
}

enum State {
    /// A trusted load balancer's connection, before its PROXY header has
    /// been taken off the socket: nothing else reads until then.
    ProxyHeader,
    AwaitHeader,
    ReceivingBody(Box<Receive>),
    SendingBody(Box<Send>),
    /// A listing's answer held in memory, going out after its head.
    SendingHeld(Box<Held>),
    EchoingBody {
        left: u64,
    },
    DrainingBody {
        left: u64,
    },
    /// Waiting for the I/O pool, or the reactor (`link.rs`).
    Waiting(Wait),
    /// The last answer said it was the last, between requests (HTTP's
    /// `Connection: close`): closed at once unless the peer sent more.
    Ended,
    Done,
    Lingering {
        left: u64,
    },
}

/// Where a connection stands in the server's per-client connection cap
/// (`--max-connections-per-client`): whether `peer` is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Counted under its peer's address (from accept on, or once the
    /// server counted the client its PROXY header named).
    Peer,
    /// Not counted: a trusted balancer's connection whose header has not
    /// named a client yet or named none (the balancer's own health check),
    /// or one refused as over its cap.
    Not,
    /// Its PROXY header has just named its client: the connection waits
    /// for the server to count it, or refuse it, before anything of it is
    /// served.
    Named,
}

/// One client connection.
pub struct Connection {
    // Declared first so it drops first. (The reactor hands an abandoned
    // upload to the I/O pool before it drops a connection: see
    // `abandon_upload`.)
    state: State,
    /// The socket, under TLS on a TLS listener.
    transport: Transport,
    id: u64,
    /// The client's address, whom per-client limits count against (IPv4
    /// mapped: 16 bytes, where an `IpAddr` would take 24 here).
    peer: Ipv6Addr,
    /// The protocol, and what it keeps between a request and its answer.
    codec: Codec,
    /// Received bytes not yet consumed: a partial request line, or requests
    /// pipelined behind one that is still being answered. Empty at rest.
    input: Vec<u8>,
    /// Response bytes not yet sent; `output[sent..]` is pending.
    output: Vec<u8>,
    /// Bytes of `output` sent (output stays far below 4 GiB: new requests
    /// wait above [`OUTPUT_HIGH_WATER`], and bodies go out from files).
    sent: u32,
    /// `PEER_EOF`, `LAST_REQUEST_DUE`, `FAREWELL`, `QUEUED` (`flags.rs`):
    /// one byte, not four, which with `opened`'s 4 bytes keeps the small
    /// fields within 16.
    flags: u8,
    /// Where it stands in the server's per-client connection cap.
    counted: Counted,
    interest: Interest,
    timing: Timing,
    opened: Opened,
    requests: u32,
    /// The operation being answered, for the request metrics and the
    /// access log (an index: see [`crate::serve::Verb::label_at`]).
    operation: u8,
    bytes_in: u64,
    bytes_out: u64,
    /// The token this connection authenticated with (FERRY/1's `AUTH`).
    held: Option<Arc<Principal>>,
    /// The request being answered, while the access log is on.
    note: Option<Box<note::Note>>,
}

impl Connection {
    /// Wraps an accepted stream, under the session it begins with, and queues the
    /// greeting (which tells how clients log in: `login`).
    pub fn new(
        stream: TcpStream,
        begin: Begin,
        peer: IpAddr,
        id: u64,
        codec: Codec,
        now: Instant,
        login: crate::access::Login,
    ) -> Connection {
        let mut conn = Connection {
            transport: Transport::new(stream, begin, codec.protocol().urgent_inline()),
            id,
            peer: mapped(peer),
            codec,
            state: State::AwaitHeader,
            input: Vec::new(),
            output: Vec::new(),
            sent: 0,
            flags: 0,
            counted: Counted::Peer,
            interest: Interest::READABLE,
            timing: Timing::new(now),
            opened: Opened::at(now),
            requests: 0,
            operation: crate::serve::Verb::INVALID,
            bytes_in: 0,
            bytes_out: 0,
            held: None,
            note: None,
        };
        conn.codec.greeting(id, login, &mut conn.output);
        conn
    }

    /// Takes what the transport's session learned beside the bytes it
    /// read: who logged in through it (SSH's login, before any request),
    /// and that the peer is there (SSH's keepalives, for the idle timeout).
    fn take_session_news(&mut self, now: Instant) {
        if let Some(login) = self.transport.take_login() {
            self.held = Some(login);
        }
        if self.transport.take_heard() {
            self.timing.progressed(now, 0);
        }
    }

    /// The peer is a trusted load balancer: the connection must begin with
    /// a PROXY header, whose client becomes the connection's peer. Called
    /// before the first drive.
    pub fn expect_proxy_header(&mut self) {
        debug_assert!(
            matches!(self.state, State::AwaitHeader) && self.bytes_in == 0,
            "a PROXY header expected after reading began"
        );
        self.state = State::ProxyHeader;
        self.counted = Counted::Not;
    }

    /// Where the connection stands in the per-client connection cap.
    pub fn counted(&self) -> Counted {
        self.counted
    }

    /// The server has counted the client a PROXY header named
    /// ([`Counted::Named`]) under its address.
    pub fn set_counted(&mut self) {
        debug_assert_eq!(self.counted, Counted::Named, "counted twice");
        self.counted = Counted::Peer;
    }

    /// The client a PROXY header named is over its cap: tells it `busy`
    /// (in `plain`text only, as at accept: a TLS client could not read it)
    /// and ends the connection. False if it must simply be closed.
    pub fn refuse_busy(&mut self, plain: bool) -> bool {
        debug_assert_eq!(self.counted, Counted::Named, "refused after counting");
        self.counted = Counted::Not;
        if !plain {
            return false;
        }
        self.codec.busy(&mut self.output);
        self.state = State::Ended;
        true
    }

    /// The client id sent in the greeting.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The client's address.
    pub fn peer(&self) -> IpAddr {
        self.peer.to_canonical()
    }

    /// The socket, for (de)registration.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        self.transport.stream_mut()
    }

    /// The interest the socket is registered with.
    pub fn interest(&self) -> Interest {
        self.interest
    }

    /// Records the interest the socket is now registered with.
    pub fn set_interest(&mut self, interest: Interest) {
        self.interest = interest;
    }

    /// Whether output is queued to be sent (a deadline's filler, say).
    pub fn has_output(&self) -> bool {
        (self.sent as usize) < self.output.len()
    }

    /// Whether it waits for a write behind it: its body's buffers are full
    /// ([`serve::Receive::waits_for_write`]).
    pub fn waits_for_write(&self) -> bool {
        matches!(&self.state, State::ReceivingBody(receive) if receive.waits_for_write())
    }

    /// Its socket had an event: bytes may have arrived since its last
    /// read. `closing`: the peer closed its side, or the socket failed.
    pub fn socket_event(&mut self, closing: bool) {
        self.transport.event(closing);
    }

    /// The server is shutting down: whatever this connection answers next
    /// (the request in flight, or the one that has begun to arrive) is its
    /// last, and an HTTP answer says so.
    pub fn answer_is_last(&mut self) {
        let due = matches!(self.state, State::AwaitHeader | State::ProxyHeader)
            && !self.codec.is_closing()
            && self.request_begun();
        self.set_flag(LAST_REQUEST_DUE, due);
        // A request still to be decoded: the codec is told once it is, or
        // decoding it would forget (see `next_request`).
        if !due {
            self.codec.answer_is_last();
        }
    }

    /// Between requests with nothing queued and nothing received: safe to
    /// close at shutdown.
    pub fn is_idle(&self) -> bool {
        match self.state {
            State::AwaitHeader => {
                self.sent as usize == self.output.len()
                    && !self.transport.holds_output()
                    && !self.request_begun()
            }
            // A balancer writes its PROXY header and the request at once.
            State::ProxyHeader => !self.request_begun(),
            State::Lingering { .. } => true,
            _ => false,
        }
    }

    /// Whether a request has begun to arrive: in the buffer, in the TLS
    /// session, or still in the kernel, where the next turn would read it.
    /// Its client sent it before the server stopped, and gets an answer.
    /// Blank lines are no request (HTTP lets a client send one after a
    /// body); bytes a TLS session holds may be none either (a
    /// `close_notify`): `pump_input` closes once all has been read and no
    /// request is there after all.
    fn request_begun(&self) -> bool {
        !crate::serve::decoded::after_blank_lines(&self.input).is_empty()
            || self.transport.holds_input()
    }

    /// Bytes received and sent so far (as [`Connection::log_close`] logs
    /// them), for the reactor's metrics.
    pub fn traffic(&self) -> (u64, u64) {
        (self.bytes_in, self.bytes_out)
    }

    /// The protocol the connection speaks.
    pub fn protocol(&self) -> crate::wire::Protocol {
        self.codec.protocol()
    }

    /// Logs the summary line for a closing connection, after the access
    /// log's line of an exchange it cuts short.
    pub fn log_close(&mut self) {
        self.log_exchange();
        debug!(
            "#{} closed: {} requests, {} bytes in, {} bytes out, {:.3}s",
            self.id,
            self.requests,
            self.bytes_in,
            self.bytes_out,
            self.opened.age_secs()
        );
    }
}

/// An address as the connection keeps it: IPv4 mapped into IPv6.
fn mapped(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// `min(left, available)` as a usize.
fn clamp_to(left: u64, available: usize) -> usize {
    usize::try_from(left).map_or(available, |left| left.min(available))
}

/// A connection at rest must stay small: thousands of them are the point.
// 232 bytes in a debug build (where mio keeps a selector id in each
// stream, and so the transport's `arrived` takes 8 bytes more), 216 in a
// release build: the token a FERRY/1 connection holds (`held`), the
// transport's pointer to a TLS session and its `arrived` (socket +
// pointer + flag, 16 bytes with padding) and the access log's pointer to
// its note (`note`, 8 bytes: a request's name and start would be 40 more
// inline) included; `opened` is 4 bytes, not an `Instant`'s 16 (see
// [`Opened`]). The TLS session itself (rustls state and a 4 KiB receive
// buffer) is only there under TLS, the note only while a request is
// answered with the access log on. Per idle connection the reactor adds
// its timer-heap entry (16 bytes) and its place in the queues a newcomer
// may displace (8 bytes, `server/reactor/bare.rs`): benches/notes/storm.md,
// "Idle connections".
#[cfg(debug_assertions)]
const _: () = assert!(std::mem::size_of::<Connection>() <= 232);
#[cfg(not(debug_assertions))]
const _: () = assert!(std::mem::size_of::<Connection>() <= 216);
