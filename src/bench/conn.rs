//! One load-generator connection: reads the greeting, authenticates if
//! the server asks for a token and one was given, then keeps `pipeline`
//! requests in flight, writes bodies from a shared buffer and reads
//! responses into a shared scratch buffer, so 10,000 plain ones fit in a
//! few megabytes.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::time::Instant;

use super::Op;
use super::transport::Transport;
use crate::access::Secret;
use crate::client::ClientError;
use crate::client::replies::parse_greeting;
use crate::protocol::{Reply, RequestLine, parse_reply};
use crate::wire::socket::Outcome;

/// Longest response line accepted.
const MAX_LINE: usize = 4096;

/// What a connection reports back to the run loop after being driven.
#[derive(Debug, Default)]
pub(super) struct Progress {
    /// Latencies of completed requests, in microseconds.
    pub(super) completed: Vec<u32>,
    /// Body bytes moved by completed requests.
    pub(super) payload: u64,
    /// `ERR` answers, by code.
    pub(super) errors: super::Errors,
}

/// Shared, read-only request material.
pub(super) struct Workload {
    pub(super) op: Op,
    pub(super) size: u64,
    /// Body bytes for PUT and ECHO; repeated when `size` is larger.
    pub(super) body: Vec<u8>,
    /// Name fetched by GET.
    pub(super) get_name: String,
    /// Each connection PUTs into a folder of its own.
    pub(super) put_folders: bool,
    /// Sent with `AUTH` to a server whose greeting says `auth`.
    pub(super) token: Option<String>,
}

/// How far the connection is from sending requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the server's greeting.
    Greeting,
    /// `AUTH` sent (or being sent); waiting for its answer.
    Authenticating,
    /// Requests may go.
    Ready,
}

enum Receiving {
    Line(Vec<u8>),
    Body { left: u64 },
}

pub(super) struct Conn {
    pub(super) transport: Transport,
    index: usize,
    phase: Phase,
    /// Start times of requests sent (or being sent), oldest first.
    in_flight: VecDeque<Instant>,
    /// Unsent part of the request being written.
    header: Vec<u8>,
    header_sent: usize,
    body_left: u64,
    receiving: Receiving,
    /// Requests that may still be started.
    pub(super) allowed: u32,
    /// Why the connection cannot go on, once it cannot.
    pub(super) failed: Option<String>,
    /// Why the server refused the token, when it did.
    pub(super) refused: Option<ClientError>,
}

impl Conn {
    pub(super) fn new(transport: Transport, index: usize) -> Conn {
        Conn {
            transport,
            index,
            phase: Phase::Greeting,
            in_flight: VecDeque::new(),
            header: Vec::new(),
            header_sent: 0,
            body_left: 0,
            receiving: Receiving::Line(Vec::new()),
            allowed: 0,
            failed: None,
            refused: None,
        }
    }

    /// Whether the connection is ready for requests: greeted, and
    /// authenticated where the server asked for a token.
    pub(super) fn ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// Requests sent whose responses have not completed.
    pub(super) fn outstanding(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether bytes are waiting to be written.
    pub(super) fn wants_write(&self) -> bool {
        self.header_sent < self.header.len() || self.body_left > 0 || self.allowed > 0
    }

    /// Reads and writes until the socket blocks.
    pub(super) fn drive(&mut self, work: &Workload, scratch: &mut [u8], progress: &mut Progress) {
        while self.failed.is_none() {
            let wrote = self.phase != Phase::Greeting && self.write_some(work);
            let read = self.read_some(work, scratch, progress);
            if !wrote && !read {
                return;
            }
        }
    }

    /// Writes what it can; true if anything moved.
    fn write_some(&mut self, work: &Workload) -> bool {
        let mut moved = false;
        loop {
            if self.header_sent == self.header.len() && self.body_left == 0 {
                if self.allowed == 0 {
                    return moved;
                }
                self.start_request(work);
            }
            let outcome = if self.header_sent < self.header.len() {
                let more = self.body_left > 0;
                self.transport.write(&self.header[self.header_sent..], more)
            } else {
                let offset = ((work.size - self.body_left) % work.body.len() as u64) as usize;
                let end = work
                    .body
                    .len()
                    .min(offset + self.body_left.min(usize::MAX as u64) as usize);
                self.transport.write(&work.body[offset..end], false)
            };
            match outcome {
                Outcome::Done(n) => {
                    moved = true;
                    if self.header_sent < self.header.len() {
                        self.header_sent += n;
                    } else {
                        self.body_left -= n as u64;
                    }
                }
                Outcome::WouldBlock => return moved,
                other => {
                    self.fail(format!("sending: {}", lost(other)));
                    return moved;
                }
            }
        }
    }

    fn start_request(&mut self, work: &Workload) {
        self.allowed -= 1;
        self.header.clear();
        self.header_sent = 0;
        let put_name;
        let line = match work.op {
            Op::Get => RequestLine::Get {
                name: &work.get_name,
                offset: 0,
                length: None,
            },
            Op::Put => {
                put_name = if work.put_folders {
                    format!("bench/{0}/put-{0}", self.index)
                } else {
                    format!("bench/put-{}", self.index)
                };
                RequestLine::Put {
                    name: &put_name,
                    size: work.size,
                    crc: None,
                    mtime: None,
                    crc_follows: false,
                }
            }
            Op::Echo => RequestLine::Echo { size: work.size },
        };
        line.encode(&mut self.header);
        self.body_left = match work.op {
            Op::Get => 0,
            Op::Put | Op::Echo => work.size,
        };
        self.in_flight.push_back(Instant::now());
    }

    /// Reads what it can; true if anything moved.
    fn read_some(&mut self, work: &Workload, scratch: &mut [u8], progress: &mut Progress) -> bool {
        let n = match self.transport.read(scratch) {
            Outcome::Done(n) => n,
            Outcome::WouldBlock => return false,
            other => {
                self.fail(format!("receiving: {}", lost(other)));
                return false;
            }
        };
        let mut data = &scratch[..n];
        while !data.is_empty() && self.failed.is_none() {
            match &mut self.receiving {
                Receiving::Body { left } => {
                    let take = (*left).min(data.len() as u64);
                    *left -= take;
                    data = &data[take as usize..];
                    if *left == 0 {
                        self.receiving = Receiving::Line(Vec::new());
                        self.complete(work, progress);
                    }
                }
                Receiving::Line(line) => {
                    let end = data.iter().position(|&b| b == b'\n');
                    let take = end.map_or(data.len(), |at| at + 1);
                    line.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if line.len() > MAX_LINE {
                        self.fail(format!("a reply line over {MAX_LINE} bytes"));
                    } else if end.is_some() {
                        let line = std::mem::take(line);
                        self.on_line(&line, work, progress);
                    }
                }
            }
        }
        true
    }

    fn on_line(&mut self, line: &[u8], work: &Workload, progress: &mut Progress) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end();
        match self.phase {
            Phase::Greeting => return self.on_greeting(text, work),
            Phase::Authenticating => return self.on_auth(text),
            Phase::Ready => {}
        }
        let mut fields = text.split(' ');
        if fields.next() != Some("OK") {
            let kind = match parse_reply(text) {
                Some(Reply::Err { code, .. }) => format!("ERR {code}"),
                _ => "unexpected reply".into(),
            };
            progress.errors.record(kind, text);
            self.in_flight.pop_front();
            return;
        }
        let body = match work.op {
            Op::Put => 0,
            Op::Get | Op::Echo => fields.next().and_then(|f| f.parse().ok()).unwrap_or(0),
        };
        if body > 0 {
            self.receiving = Receiving::Body { left: body };
        } else {
            self.complete(work, progress);
        }
    }

    /// Sends the token if the server asks for one (and only then, as
    /// PROTOCOL.md §6.9 asks); a busy server or another protocol fails the
    /// connection.
    fn on_greeting(&mut self, line: &str, work: &Workload) {
        match (parse_greeting(line), &work.token) {
            (Ok((_, true)), Some(token)) => {
                self.header.clear();
                let token = Secret::new(token.clone());
                RequestLine::Auth { token: &token }.encode(&mut self.header);
                self.header_sent = 0;
                self.phase = Phase::Authenticating;
            }
            (Ok(_), _) => self.phase = Phase::Ready,
            (Err(err), _) => self.fail(format!("greeting: {err}")),
        }
    }

    /// The answer to `AUTH`: anything but `OK` is kept for the run to
    /// report.
    fn on_auth(&mut self, line: &str) {
        match parse_reply(line) {
            Some(Reply::Ok(_)) => self.phase = Phase::Ready,
            Some(Reply::Err { code, message }) => {
                self.fail(format!("AUTH: ERR {code} {message}"));
                self.refused = Some(ClientError::Remote { code, message });
            }
            None => {
                self.fail(format!("unexpected answer to AUTH {line:?}"));
                self.refused = Some(ClientError::protocol(format!(
                    "unexpected answer to AUTH {line:?}"
                )));
            }
        }
    }

    /// Marks the connection failed, for `why` (the first reason only).
    fn fail(&mut self, why: String) {
        self.failed.get_or_insert(why);
    }

    fn complete(&mut self, work: &Workload, progress: &mut Progress) {
        if let Some(started) = self.in_flight.pop_front() {
            let micros = started.elapsed().as_micros();
            progress
                .completed
                .push(u32::try_from(micros).unwrap_or(u32::MAX));
            progress.payload += work.size;
        }
    }
}

/// What a socket outcome that ends a connection means, for the report.
fn lost(outcome: Outcome) -> String {
    match outcome {
        Outcome::Eof => "connection closed by the server".into(),
        Outcome::Closed => "connection reset by the server".into(),
        Outcome::Error(err) => err.to_string(),
        Outcome::NotTls => "the server does not speak TLS".into(),
        Outcome::NotResumed => "a TLS session was not resumed".into(),
        Outcome::Done(_) | Outcome::WouldBlock => "no error".into(),
    }
}

/// A reader of `size` bytes repeating `block`, for uploading the GET object.
pub(super) struct Repeat<'a> {
    pub(super) block: &'a [u8],
    pub(super) left: u64,
    pub(super) offset: usize,
}

impl Read for Repeat<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = &self.block[self.offset..];
        let n = buf
            .len()
            .min(available.len())
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&available[..n]);
        self.left -= n as u64;
        self.offset = (self.offset + n) % self.block.len();
        Ok(n)
    }
}
