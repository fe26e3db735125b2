//! One client connection: the FERRY/1 state machine.
//!
//! ```text
//!            greeting
//!               |
//!               v
//!   +----> AwaitHeader ---- PUT ----> ReceivingBody --+
//!   |        |  |  |  \---- GET ----> SendingBody ----+
//!   |        |  |  \------- ECHO ---> EchoingBody ----+
//!   |        |  \---- refused PUT --> DrainingBody ---+
//!   |        |                                        |
//!   +--------+---- STAT, LIST, DEL (answered at once) +
//!            |
//!            +---- QUIT, fatal error, EOF ----> Done (flush) ---> Lingering
//! ```
//!
//! `Lingering` is the lingering close: when the server ends a connection
//! whose peer may still be sending (a 413 in the middle of a body, say), it
//! half-closes and reads and discards what still arrives, up to a limit,
//! before it closes. Closing a socket with unread input makes the kernel
//! send a reset, which can destroy the error line before the peer reads it.
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
//! [`Connection::drive`] never blocks on the peer; it returns a [`Step`]
//! saying what readiness to wait for, that it used its share of this turn,
//! or that the connection is finished.

mod deadline;
mod http;
mod requests;
mod sessions;

use std::mem;
use std::time::Instant;

use log::{debug, error, info, warn};
use mio::Interest;
use mio::net::TcpStream;

use crate::config::Config;
use crate::protocol::{self, Recovery, Response};
use crate::socket::{self, Outcome};
use crate::storage::{Storage, StorageError, Upload};
use deadline::Timing;
use requests::{Commit, Receive, Send, discard, refused_body};

/// Bytes read at once while waiting for a request line. Larger reads pick
/// up pipelined requests in one go (a third less CPU per pipelined 4 KiB
/// PUT than 8 KiB reads), but what follows a request that stops input (a
/// download) is held until it is done.
const HEADER_READ: usize = 64 * 1024;
/// The read size once connections hold [`HELD_INPUT_BUDGET`] between them:
/// the most one request head needs (HTTP's cap), so a connection never
/// holds more than a slow client could make it hold anyway.
const LEAN_READ: usize = 8 * 1024;
/// Input all connections together may hold before reads become lean.
const HELD_INPUT_BUDGET: usize = 16 * 1024 * 1024;
/// Stop parsing further requests while this much output is queued.
const OUTPUT_HIGH_WATER: usize = 64 * 1024;
/// Largest `sendfile` call.
const SEND_CHUNK: u64 = 1024 * 1024;
/// Work one connection may do per turn before others get theirs, in bytes;
/// every operation costs at least [`MIN_OPERATION_COST`].
const TURN_BUDGET: usize = 2 * 1024 * 1024;
const MIN_OPERATION_COST: usize = 4 * 1024;
/// Buffers that grew past this are freed once empty.
const KEEP_CAPACITY: usize = 4 * 1024;
/// Most bytes discarded while lingering before closing anyway.
const LINGER_LIMIT: u64 = 16 * 1024 * 1024;

/// Which wire protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// FERRY/1 (PROTOCOL.md).
    Ferry,
    /// HTTP/1.1.
    Http,
}

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
    /// The root directory.
    pub storage: &'a mut Storage,
    /// Limits and modes.
    pub config: &'a Config,
    /// The server is shutting down: take no new requests.
    pub shutting_down: bool,
    /// Bytes of input buffered by all connections together (see
    /// [`HELD_INPUT_BUDGET`]); each drive updates it by its own change.
    pub held_input: &'a mut usize,
}

enum State {
    AwaitHeader,
    ReceivingBody(Box<Receive>),
    SendingBody(Box<Send>),
    EchoingBody { left: u64 },
    DrainingBody { left: u64 },
    Committing(Box<Commit>),
    Done,
    Lingering { left: u64 },
}

/// One client connection.
pub struct Connection {
    // Declared first so it drops first: an abandoned upload's temp file is
    // gone before the peer sees its socket close.
    state: State,
    stream: TcpStream,
    id: u64,
    protocol: Protocol,
    /// HTTP only: facts about the request being answered.
    exchange: http::Exchange,
    /// Received bytes not yet consumed: a partial request line, or requests
    /// pipelined behind one that is still being answered. Empty at rest.
    input: Vec<u8>,
    /// Response bytes not yet sent; `output[sent..]` is pending.
    output: Vec<u8>,
    sent: usize,
    peer_eof: bool,
    interest: Interest,
    timing: Timing,
    opened: Instant,
    requests: u32,
    bytes_in: u64,
    bytes_out: u64,
}

impl Connection {
    /// Wraps an accepted stream and queues the greeting.
    pub fn new(stream: TcpStream, id: u64, protocol: Protocol, now: Instant) -> Connection {
        let mut conn = Connection {
            stream,
            id,
            protocol,
            exchange: http::Exchange::default(),
            state: State::AwaitHeader,
            input: Vec::new(),
            output: Vec::new(),
            sent: 0,
            peer_eof: false,
            interest: Interest::READABLE,
            timing: Timing::new(now),
            opened: now,
            requests: 0,
            bytes_in: 0,
            bytes_out: 0,
        };
        if protocol == Protocol::Ferry {
            Response::Greeting { client_id: id }.write_to(&mut conn.output);
        }
        conn
    }

    /// The client id sent in the greeting.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The socket, for (de)registration.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// The interest the socket is registered with.
    pub fn interest(&self) -> Interest {
        self.interest
    }

    /// Records the interest the socket is now registered with.
    pub fn set_interest(&mut self, interest: Interest) {
        self.interest = interest;
    }

    /// A verified upload and its CRC-32C to hand to the fsync thread, once
    /// (`--fsync`).
    pub fn take_pending_commit(&mut self) -> Option<(Upload, u32)> {
        match &mut self.state {
            State::Committing(commit) => commit.upload.take().map(|upload| (upload, commit.crc)),
            _ => None,
        }
    }

    /// The fsync thread finished this connection's commit: answer the PUT.
    pub fn commit_finished(&mut self, result: Result<(), StorageError>) {
        match mem::replace(&mut self.state, State::Done) {
            State::Committing(commit) => self.state = self.report_commit(*commit, result),
            other => {
                error!("#{} commit finished in an unexpected state", self.id);
                self.state = other;
            }
        }
    }

    /// The server is shutting down: whatever this connection answers next
    /// (the request in flight) is its last, and an HTTP answer says so.
    pub fn answer_is_last(&mut self) {
        self.exchange.close = true;
    }

    /// Between requests with nothing queued: safe to close at shutdown.
    pub fn is_idle(&self) -> bool {
        match self.state {
            State::AwaitHeader => self.sent == self.output.len(),
            State::Lingering { .. } => true,
            _ => false,
        }
    }

    /// Logs the summary line for a closing connection.
    pub fn log_close(&self) {
        info!(
            "#{} closed: {} requests, {} bytes in, {} bytes out, {:.3}s",
            self.id,
            self.requests,
            self.bytes_in,
            self.bytes_out,
            self.opened.elapsed().as_secs_f64()
        );
    }

    /// Makes as much progress as the socket, the disk and this turn's
    /// budget allow. `scratch` is the reactor-wide I/O buffer.
    pub fn drive(&mut self, scratch: &mut [u8], env: &mut Env<'_>) -> Step {
        let held_before = self.held_input();
        let step = self.drive_until_blocked(scratch, env);
        self.note_phase(Instant::now());
        if self.output.is_empty() && self.output.capacity() > 0 {
            // Nothing queued: an idle connection keeps no buffer at all.
            self.output = Vec::new();
        }
        *env.held_input = (*env.held_input + self.held_input()).saturating_sub(held_before);
        step
    }

    /// Bytes of input this connection holds (its buffer's capacity).
    pub fn held_input(&self) -> usize {
        self.input.capacity()
    }

    fn drive_until_blocked(&mut self, scratch: &mut [u8], env: &mut Env<'_>) -> Step {
        let mut budget = TURN_BUDGET;
        loop {
            let moved = if self.sent < self.output.len() {
                match self.flush() {
                    Ok(n) => n,
                    Err(step) => return step,
                }
            } else {
                match self.state {
                    State::Done => {
                        if self.peer_eof {
                            return Step::Close;
                        }
                        // The peer then sees our FIN after the last byte.
                        let _ = self.stream.shutdown(std::net::Shutdown::Write);
                        self.state = State::Lingering { left: LINGER_LIMIT };
                        0
                    }
                    State::Lingering { .. } if env.shutting_down => return Step::Close,
                    State::Lingering { left } => match self.linger(scratch, left) {
                        Ok(n) => n,
                        Err(step) => return step,
                    },
                    // Nothing to do until the fsync thread reports back.
                    State::Committing(_) => return Step::Wait(self.interest),
                    State::SendingBody(_) => match self.send_body() {
                        Ok(n) => n,
                        Err(step) => return step,
                    },
                    State::AwaitHeader if env.shutting_down => return Step::Close,
                    // HTTP: the last answer said `Connection: close`.
                    State::AwaitHeader if self.exchange.close => {
                        self.state = State::Done;
                        0
                    }
                    _ => match self.pump_input(scratch, env) {
                        Ok(n) => n,
                        Err(step) => return step,
                    },
                }
            };
            if moved > 0 {
                self.timing.progressed(Instant::now(), moved);
            }
            budget = budget.saturating_sub(moved.max(MIN_OPERATION_COST));
            if budget == 0 {
                return Step::Yield;
            }
        }
    }

    /// Sends queued output. `Ok(bytes)` on progress.
    fn flush(&mut self) -> Result<usize, Step> {
        let more = matches!(self.state, State::SendingBody(_));
        match socket::write(&self.stream, &self.output[self.sent..], more) {
            Outcome::Done(n) => {
                self.sent += n;
                self.bytes_out += n as u64;
                if self.sent == self.output.len() {
                    self.output.clear();
                    self.sent = 0;
                    if self.output.capacity() > KEEP_CAPACITY {
                        self.output = Vec::new();
                    }
                }
                Ok(n)
            }
            Outcome::WouldBlock => Err(Step::Wait(Interest::WRITABLE)),
            other => Err(self.socket_failed(other)),
        }
    }

    /// Sends the next piece of a GET body.
    fn send_body(&mut self) -> Result<usize, Step> {
        let State::SendingBody(send) = &mut self.state else {
            unreachable!("send_body outside SendingBody");
        };
        let chunk = send.left.min(SEND_CHUNK) as usize;
        match socket::send_file(&self.stream, &send.file, send.offset, chunk) {
            Outcome::Done(n) => {
                send.offset += n as u64;
                send.left -= n as u64;
                self.bytes_out += n as u64;
                if send.left == 0 {
                    info!(
                        "#{} GET {} {} bytes {:.3}s",
                        self.id,
                        send.name,
                        send.len,
                        send.started.elapsed().as_secs_f64()
                    );
                    self.state = State::AwaitHeader;
                }
                Ok(n)
            }
            Outcome::WouldBlock => Err(Step::Wait(Interest::WRITABLE)),
            other => Err(self.socket_failed(other)),
        }
    }

    /// Reads and discards input until the peer closes or `left` runs out.
    fn linger(&mut self, scratch: &mut [u8], left: u64) -> Result<usize, Step> {
        let want = clamp_to(left, scratch.len());
        if want == 0 {
            return Err(Step::Close);
        }
        match socket::read(&mut self.stream, &mut scratch[..want]) {
            Outcome::Done(n) => {
                self.bytes_in += n as u64;
                self.state = State::Lingering {
                    left: left - n as u64,
                };
                Ok(n)
            }
            Outcome::WouldBlock => Err(Step::Wait(Interest::READABLE)),
            _ => Err(Step::Close),
        }
    }

    /// Feeds buffered input to the state machine, reading more if needed.
    fn pump_input(&mut self, scratch: &mut [u8], env: &mut Env<'_>) -> Result<usize, Step> {
        if !self.input.is_empty() {
            let queued = self.output.len();
            let before = mem::discriminant(&self.state);
            let input = mem::take(&mut self.input);
            let used = self.consume(&input, env);
            self.keep_input(&input[used..]);
            // A fatal error uses no bytes but queues an answer and ends the
            // connection: that is progress too, to be flushed, not a reason
            // to wait for more input.
            if used > 0 || self.output.len() > queued || mem::discriminant(&self.state) != before {
                return Ok(used);
            }
        }
        if self.peer_eof {
            self.on_eof();
            return Ok(0);
        }
        // Not enough buffered to act on: read more behind what we hold.
        let held = self.input.len();
        scratch[..held].copy_from_slice(&self.input);
        let want = self.read_size(*env.held_input).min(scratch.len() - held);
        match socket::read(&mut self.stream, &mut scratch[held..held + want]) {
            Outcome::Done(n) => {
                self.bytes_in += n as u64;
                let data = &scratch[..held + n];
                let used = self.consume(data, env);
                self.keep_input(&data[used..]);
                Ok(n)
            }
            Outcome::Eof => {
                self.peer_eof = true;
                Ok(0)
            }
            Outcome::WouldBlock => Err(Step::Wait(Interest::READABLE)),
            other => Err(self.socket_failed(other)),
        }
    }

    fn keep_input(&mut self, rest: &[u8]) {
        if self.input.capacity() > KEEP_CAPACITY.max(rest.len()) {
            // No large buffer kept for a small remainder.
            self.input = Vec::new();
        }
        self.input.clear();
        self.input.extend_from_slice(rest);
    }

    /// How much to read now: enough for the body in hand plus what follows
    /// it, as much as [`HEADER_READ`] while the server holds little input.
    fn read_size(&self, held_input: usize) -> usize {
        let ahead = if held_input < HELD_INPUT_BUDGET {
            HEADER_READ
        } else {
            LEAN_READ
        };
        let body_left = match &self.state {
            State::ReceivingBody(receive) => receive.left,
            State::DrainingBody { left } => *left,
            _ => 0,
        };
        // A body's own bytes are never held: they go to their file at once.
        usize::try_from(body_left).unwrap_or(usize::MAX).max(ahead)
    }

    /// Runs the state machine over `data`; returns the bytes it used.
    fn consume(&mut self, data: &[u8], env: &mut Env<'_>) -> usize {
        let mut used = 0;
        while used < data.len() {
            let state = mem::replace(&mut self.state, State::Done);
            let (next, n) = self.advance(state, &data[used..], env);
            self.state = next;
            if n == 0 {
                break;
            }
            used += n;
        }
        used
    }

    /// One transition: returns the next state and the bytes of `data` used;
    /// 0 means nothing more can happen with input until output drains.
    fn advance(&mut self, state: State, data: &[u8], env: &mut Env<'_>) -> (State, usize) {
        match state {
            State::AwaitHeader => {
                if self.output.len() >= OUTPUT_HIGH_WATER || env.shutting_down {
                    return (State::AwaitHeader, 0);
                }
                if self.protocol == Protocol::Http {
                    return self.advance_http(data, env);
                }
                match protocol::parse_request(data) {
                    Ok(None) => (State::AwaitHeader, 0),
                    Ok(Some((request, used))) => {
                        self.requests = self.requests.saturating_add(1);
                        (self.start(request, env), used)
                    }
                    Err(err) => {
                        warn!("#{} bad request: {err}", self.id);
                        self.queue_error(err.code, &err.message);
                        match err.recovery {
                            Recovery::Close => (State::Done, 0),
                            Recovery::Skip { line, body } => (refused_body(body, env.config), line),
                        }
                    }
                }
            }
            State::ReceivingBody(receive) if receive.chunked.is_some() => {
                self.receive_chunked(receive, data, env)
            }
            State::ReceivingBody(mut receive) => {
                let take = clamp_to(receive.left, data.len());
                let chunk = &data[..take];
                receive.left -= take as u64;
                if let Err(err) = receive.write(chunk) {
                    warn!("#{} upload of {} failed: {err}", self.id, receive.name);
                    self.queue_error(err.code(), &err.to_string());
                    return (discard(receive.left), take);
                }
                if receive.left == 0 {
                    return (self.finish_receive(*receive, env.config), take);
                }
                (State::ReceivingBody(receive), take)
            }
            State::DrainingBody { left } => {
                let take = clamp_to(left, data.len());
                (discard(left - take as u64), take)
            }
            State::EchoingBody { left } => {
                let room = OUTPUT_HIGH_WATER.saturating_sub(self.output.len());
                let take = clamp_to(left, data.len().min(room));
                self.output.extend_from_slice(&data[..take]);
                let left = left - take as u64;
                let next = if left == 0 {
                    State::AwaitHeader
                } else {
                    State::EchoingBody { left }
                };
                (next, take)
            }
            state @ (State::SendingBody(_)
            | State::Committing(_)
            | State::Done
            | State::Lingering { .. }) => (state, 0),
        }
    }

    /// The peer finished sending: answer what can be answered, then close.
    fn on_eof(&mut self) {
        let state = mem::replace(&mut self.state, State::Done);
        match state {
            State::AwaitHeader if self.input.iter().all(|b| b.is_ascii_whitespace()) => {}
            State::AwaitHeader => {
                warn!("#{} connection closed inside a request line", self.id);
                self.queue_error(400, "incomplete request line");
            }
            State::ReceivingBody(receive) => {
                warn!(
                    "#{} PUT {} truncated after {} of {} bytes; discarded",
                    self.id,
                    receive.name,
                    receive.size - receive.left,
                    receive.size
                );
                self.queue_error(400, "connection closed before the whole body arrived");
            }
            _ => {}
        }
        self.input = Vec::new();
    }

    /// Logs a socket failure and says to close.
    fn socket_failed(&mut self, outcome: Outcome) -> Step {
        let busy = !matches!(
            self.state,
            State::AwaitHeader | State::Done | State::Lingering { .. }
        );
        match outcome {
            Outcome::Error(err) => warn!("#{} socket error: {err}", self.id),
            _ if busy => warn!("#{} peer went away mid-request", self.id),
            _ => debug!("#{} peer went away", self.id),
        }
        Step::Close
    }

    fn queue(&mut self, response: Response<'_>) {
        response.write_to(&mut self.output);
    }

    fn queue_error(&mut self, code: u16, message: &str) {
        match self.protocol {
            Protocol::Ferry => self.queue(Response::Error { code, message }),
            Protocol::Http => crate::http::response::error(
                &mut self.output,
                code,
                message,
                self.exchange.framing(),
            ),
        }
    }

    /// AwaitHeader for HTTP: the next request head, or the close that the
    /// previous exchange asked for.
    fn advance_http(&mut self, data: &[u8], env: &mut Env<'_>) -> (State, usize) {
        if self.exchange.close {
            return (State::Done, 0);
        }
        match crate::http::parse_request(data) {
            Ok(None) => (State::AwaitHeader, 0),
            Ok(Some((request, used))) => {
                self.requests = self.requests.saturating_add(1);
                (self.start_http(request, env), used)
            }
            Err(err) => self.refuse_http(err, env),
        }
    }
}

/// `min(left, available)` as a usize.
fn clamp_to(left: u64, available: usize) -> usize {
    usize::try_from(left).map_or(available, |left| left.min(available))
}

/// A connection at rest must stay small: thousands of them are the point.
const _: () = assert!(std::mem::size_of::<Connection>() <= 192);
