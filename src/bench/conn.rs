//! One load-generator connection: keeps `pipeline` requests in flight,
//! writes bodies from a shared buffer and reads responses into a shared
//! scratch buffer, so 10,000 of them fit in a few megabytes.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::time::Instant;

use mio::net::TcpStream;

use super::Op;
use crate::socket::{self, Outcome};

/// Longest response line accepted.
const MAX_LINE: usize = 4096;

/// What a connection reports back to the run loop after being driven.
#[derive(Debug, Default)]
pub(super) struct Progress {
    /// Latencies of completed requests, in microseconds.
    pub(super) completed: Vec<u32>,
    /// Body bytes moved by completed requests.
    pub(super) payload: u64,
    /// `ERR` answers and protocol surprises.
    pub(super) errors: u64,
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
}

enum Receiving {
    Line(Vec<u8>),
    Body { left: u64 },
}

pub(super) struct Conn {
    pub(super) stream: TcpStream,
    index: usize,
    greeted: bool,
    /// Start times of requests sent (or being sent), oldest first.
    in_flight: VecDeque<Instant>,
    /// Unsent part of the request being written.
    header: Vec<u8>,
    header_sent: usize,
    body_left: u64,
    receiving: Receiving,
    /// Requests that may still be started.
    pub(super) allowed: u32,
    pub(super) failed: bool,
}

impl Conn {
    pub(super) fn new(stream: TcpStream, index: usize) -> Conn {
        Conn {
            stream,
            index,
            greeted: false,
            in_flight: VecDeque::new(),
            header: Vec::new(),
            header_sent: 0,
            body_left: 0,
            receiving: Receiving::Line(Vec::new()),
            allowed: 0,
            failed: false,
        }
    }

    /// Whether the server's greeting has arrived.
    pub(super) fn greeted(&self) -> bool {
        self.greeted
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
        while !self.failed {
            let wrote = self.greeted && self.write_some(work);
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
                socket::write(&self.stream, &self.header[self.header_sent..], more)
            } else {
                let offset = ((work.size - self.body_left) % work.body.len() as u64) as usize;
                let end = work
                    .body
                    .len()
                    .min(offset + self.body_left.min(usize::MAX as u64) as usize);
                socket::write(&self.stream, &work.body[offset..end], false)
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
                _ => {
                    self.failed = true;
                    return moved;
                }
            }
        }
    }

    fn start_request(&mut self, work: &Workload) {
        self.allowed -= 1;
        self.header.clear();
        self.header_sent = 0;
        let line = match work.op {
            Op::Get => format!("GET {}\n", work.get_name),
            Op::Put if work.put_folders => {
                format!("PUT bench/{0}/put-{0} {1}\n", self.index, work.size)
            }
            Op::Put => format!("PUT bench/put-{} {}\n", self.index, work.size),
            Op::Echo => format!("ECHO {}\n", work.size),
        };
        self.header.extend_from_slice(line.as_bytes());
        self.body_left = match work.op {
            Op::Get => 0,
            Op::Put | Op::Echo => work.size,
        };
        self.in_flight.push_back(Instant::now());
    }

    /// Reads what it can; true if anything moved.
    fn read_some(&mut self, work: &Workload, scratch: &mut [u8], progress: &mut Progress) -> bool {
        let n = match socket::read(&mut self.stream, scratch) {
            Outcome::Done(n) => n,
            Outcome::WouldBlock => return false,
            _ => {
                self.failed = true;
                return false;
            }
        };
        let mut data = &scratch[..n];
        while !data.is_empty() && !self.failed {
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
                        self.failed = true;
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
        let mut fields = text.trim_end().split(' ');
        if !self.greeted {
            self.greeted = fields.next() == Some("OK");
            self.failed = !self.greeted;
            return;
        }
        if fields.next() != Some("OK") {
            progress.errors += 1;
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
