//! `ferry bench`: a load generator in the same binary, like
//! `redis-benchmark`. It is itself a single-threaded mio client, so one
//! process can hold 10,000+ connections: each keeps `pipeline` requests in
//! flight for the duration, and the run reports operations and bytes per
//! second, latency percentiles and errors.
//!
//! Each connection speaks as the client commands do: over TLS when the
//! endpoint says so (a rustls `ClientConnection` over the socket), and with `AUTH <token>` after a greeting
//! that says `auth`; a connection counts as connected only once that is
//! answered `OK`. A refused token ends the run with the server's answer,
//! so a misconfigured run never reports a page of failed requests.
//!
//! Layout: this file runs the event loop and reports; `conn.rs` is one
//! connection's request/response state machine; `transport.rs` its socket,
//! with or without TLS; `errors.rs` what went wrong, by kind.

mod conn;
mod errors;
mod transport;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::client::{ClientError, Endpoint};
use conn::{Conn, Progress, Repeat, Workload};
pub use errors::Errors;
use transport::Transport;

/// Connects in progress at once, so the server's accept backlog is not
/// overrun (dropped SYNs cost a one-second retransmit).
const CONNECTS_IN_FLIGHT: usize = 256;
/// How long in-flight requests may take to finish after the run.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting everybody may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The request each connection repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Op {
    /// Download one object of `size` bytes.
    Get,
    /// Upload `size` bytes (each connection to its own name).
    Put,
    /// Send `size` bytes and read them back.
    Echo,
}

impl Op {
    /// Its name as `--op` takes it, in reports.
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put => "put",
            Op::Echo => "echo",
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Server address, resolved.
    pub server: SocketAddr,
    /// The server as the client commands reach it: the name its
    /// certificate is checked against, the token, TLS or not.
    pub endpoint: Endpoint,
    /// Connections held open at once.
    pub connections: usize,
    /// Request type.
    pub op: Op,
    /// Body size in bytes.
    pub size: u64,
    /// How long to measure.
    pub duration: Duration,
    /// Requests in flight per connection.
    pub pipeline: u32,
    /// PUT into `bench/<connection>/` rather than all into `bench/`.
    pub folder_per_connection: bool,
    /// Print a progress line every second on standard error.
    pub live: bool,
}

/// The results of a run.
#[derive(Debug, Clone)]
pub struct Report {
    /// Connections that were established.
    pub connected: usize,
    /// Requests completed within the measured time.
    pub ops: u64,
    /// Body bytes of those requests.
    pub payload: u64,
    /// Measured time.
    pub elapsed: Duration,
    /// Latency percentiles in microseconds: p50, p99, p99.9.
    pub latency_us: [u32; 3],
    /// Failed requests and connections.
    pub errors: u64,
    /// The same, by kind, and the first one's message.
    pub error_kinds: Errors,
}

impl Report {
    /// Requests per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    /// Payload megabytes (10^6 bytes) per second.
    pub fn mb_per_sec(&self) -> f64 {
        self.payload as f64 / 1e6 / self.elapsed.as_secs_f64()
    }

    /// The report as one JSON object.
    pub fn to_json(&self, config: &BenchConfig) -> String {
        let op = config.op.name();
        format!(
            concat!(
                "{{\"op\":\"{}\",\"size\":{},\"connections\":{},\"connected\":{},",
                "\"pipeline\":{},\"seconds\":{:.3},\"ops\":{},\"ops_per_sec\":{:.1},",
                "\"mb_per_sec\":{:.2},\"latency_us\":{{\"p50\":{},\"p99\":{},\"p999\":{}}},",
                "\"errors\":{},{}}}"
            ),
            op,
            config.size,
            config.connections,
            self.connected,
            config.pipeline,
            self.elapsed.as_secs_f64(),
            self.ops,
            self.ops_per_sec(),
            self.mb_per_sec(),
            self.latency_us[0],
            self.latency_us[1],
            self.latency_us[2],
            self.errors,
            self.error_kinds.json_fields()
        )
    }

    /// The report as a few readable lines.
    pub fn to_text(&self, config: &BenchConfig) -> String {
        let ms = |us: u32| f64::from(us) / 1000.0;
        format!(
            "ferry bench: {} {} bytes, {} connections ({} connected), pipeline {}, {:.1}s\n  \
             ops/s     {:.1}\n  MB/s      {:.2}\n  latency   p50 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms\n  \
             errors    {}",
            config.op.name(),
            config.size,
            config.connections,
            self.connected,
            config.pipeline,
            self.elapsed.as_secs_f64(),
            self.ops_per_sec(),
            self.mb_per_sec(),
            ms(self.latency_us[0]),
            ms(self.latency_us[1]),
            ms(self.latency_us[2]),
            self.error_kinds.describe()
        )
    }
}

/// Runs a benchmark against a running server.
///
/// # Errors
/// Setting up fails: polling; the first connection, made as the client
/// commands make theirs (unreachable, an untrusted certificate, a refused
/// token: [`ClientError::Remote`]); uploading the object GET fetches; or a
/// bench connection's token is refused.
pub fn run(config: &BenchConfig) -> Result<Report, ClientError> {
    crate::server::raise_fd_limit();
    let body_len = usize::try_from(config.size.clamp(1, 1 << 20)).unwrap_or(1 << 20);
    let body: Vec<u8> = (0..body_len).map(|i| (i % 251) as u8).collect();
    let get_name = format!("bench/object-{}", config.size);
    // Whatever the op, one ordinary connection first: what keeps every
    // bench connection out (the address, TLS trust, the token) is said
    // once, as `ferry ls` would say it.
    let mut setup = config.endpoint.connect()?;
    if config.op == Op::Get {
        upload_object(&mut setup, &get_name, &body, config.size)?;
    }
    let work = Workload {
        op: config.op,
        size: config.size,
        body,
        get_name,
        put_folders: config.folder_per_connection,
        token: config.endpoint.token.clone(),
    };
    Runner::new(config, work)?.run()
}

fn upload_object(
    client: &mut crate::client::Client,
    name: &str,
    block: &[u8],
    size: u64,
) -> Result<(), ClientError> {
    let reader = |left| Repeat {
        block,
        left,
        offset: 0,
    };
    let mut crc = 0;
    let mut buf = vec![0; 1 << 20];
    let mut source = reader(size);
    loop {
        let n = io::Read::read(&mut source, &mut buf)?;
        if n == 0 {
            break;
        }
        crc = crate::formats::castagnoli::append(crc, &buf[..n]);
    }
    client.put(name, &mut reader(size), size, crc).map(drop)
}

struct Runner<'a> {
    config: &'a BenchConfig,
    work: Workload,
    poll: Poll,
    conns: Vec<Option<Conn>>,
    scratch: Vec<u8>,
    latencies: Vec<u32>,
    ops: u64,
    payload: u64,
    errors: Errors,
    /// The answer to a bench connection's `AUTH` that was not `OK`.
    refused: Option<ClientError>,
}

impl<'a> Runner<'a> {
    fn new(config: &'a BenchConfig, work: Workload) -> io::Result<Runner<'a>> {
        Ok(Runner {
            config,
            work,
            poll: Poll::new()?,
            conns: Vec::with_capacity(config.connections),
            scratch: vec![0; 256 * 1024],
            latencies: Vec::new(),
            ops: 0,
            payload: 0,
            errors: Errors::default(),
            refused: None,
        })
    }

    fn run(mut self) -> Result<Report, ClientError> {
        let mut events = Events::with_capacity(4096);
        let connected = self.connect_all(&mut events)?;
        for conn in self.conns.iter_mut().flatten() {
            conn.allowed = self.config.pipeline;
        }
        for index in 0..self.conns.len() {
            self.drive(index, true);
        }
        let started = Instant::now();
        let end = started + self.config.duration;
        let mut next_report = started + Duration::from_secs(1);
        while Instant::now() < end {
            self.poll
                .poll(&mut events, Some(Duration::from_millis(50)))?;
            for event in events.iter() {
                self.drive(event.token().0, true);
            }
            if self.config.live && Instant::now() >= next_report {
                let secs = started.elapsed().as_secs_f64();
                // A live line on a terminal: one lost write loses nothing.
                let _ = write!(
                    io::stderr(),
                    "\r{:>6.1}s  {:>10.0} ops/s  {:>9.2} MB/s  errors {}   ",
                    secs,
                    self.ops as f64 / secs,
                    self.payload as f64 / 1e6 / secs,
                    self.errors.total()
                );
                let _ = io::stderr().flush();
                next_report += Duration::from_secs(1);
            }
        }
        let elapsed = started.elapsed();
        if self.config.live {
            let _ = writeln!(io::stderr());
        }
        let (ops, payload) = (self.ops, self.payload);
        self.drain(&mut events)?;
        self.latencies.sort_unstable();
        let pick = |q: f64| {
            let at = ((self.latencies.len() as f64 * q) as usize)
                .min(self.latencies.len().saturating_sub(1));
            self.latencies.get(at).copied().unwrap_or(0)
        };
        Ok(Report {
            connected,
            ops,
            payload,
            elapsed,
            latency_us: [pick(0.50), pick(0.99), pick(0.999)],
            errors: self.errors.total(),
            error_kinds: self.errors,
        })
    }

    /// Opens every connection and waits for the greetings (and the
    /// answers to `AUTH`); returns how many succeeded.
    ///
    /// # Errors
    /// Polling fails, or the server refuses a connection's token.
    fn connect_all(&mut self, events: &mut Events) -> Result<usize, ClientError> {
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let mut settled = 0;
        loop {
            let pending = self.conns.len() - settled;
            while self.conns.len() < self.config.connections && pending < CONNECTS_IN_FLIGHT {
                let index = self.conns.len();
                match TcpStream::connect(self.config.server) {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        let session = match &self.config.endpoint.tls {
                            Some(tls) => Some(tls.session(&self.config.endpoint.addr)?),
                            None => None,
                        };
                        let mut transport = Transport::new(stream, session);
                        // Readable and writable once, edge-triggered, TLS
                        // or not: what a session wants is met without
                        // re-registering, since every transport call first
                        // sends what the session holds, and a send cut
                        // short by a full socket is followed by a writable
                        // edge. (Interest per request would cost the plain
                        // runs two system calls a request.)
                        self.poll.registry().register(
                            transport.stream_mut(),
                            Token(index),
                            Interest::READABLE | Interest::WRITABLE,
                        )?;
                        self.conns.push(Some(Conn::new(transport, index)));
                    }
                    Err(err) => {
                        self.errors.record("connect", format!("connect: {err}"));
                        self.conns.push(None);
                    }
                }
                if self.conns.len() - settled >= CONNECTS_IN_FLIGHT {
                    break;
                }
            }
            settled = self
                .conns
                .iter()
                .filter(|c| c.as_ref().is_some_and(Conn::ready))
                .count()
                + self.conns.iter().filter(|c| c.is_none()).count();
            if settled >= self.config.connections || Instant::now() >= deadline {
                break;
            }
            self.poll.poll(events, Some(Duration::from_millis(50)))?;
            for event in events.iter() {
                self.drive(event.token().0, false);
            }
        }
        if let Some(refused) = self.refused.take() {
            return Err(refused);
        }
        Ok(self.conns.iter().flatten().filter(|c| c.ready()).count())
    }

    /// Drives one connection and, while measuring, tops its pipeline up.
    fn drive(&mut self, index: usize, measuring: bool) {
        let Some(Some(conn)) = self.conns.get_mut(index) else {
            return;
        };
        let mut progress = Progress::default();
        loop {
            conn.drive(&self.work, &mut self.scratch, &mut progress);
            let free = self.config.pipeline as usize
                - conn.outstanding().min(self.config.pipeline as usize);
            let topped = measuring && conn.ready() && free > conn.allowed as usize;
            if topped {
                conn.allowed = free as u32;
            }
            if !topped || conn.failed.is_some() {
                break;
            }
        }
        self.ops += progress.completed.len() as u64;
        self.payload += progress.payload;
        self.errors.absorb(progress.errors);
        self.latencies.extend_from_slice(&progress.completed);
        if let Some(why) = conn.failed.take() {
            self.errors.record("connection", why);
            if let Some(refused) = conn.refused.take() {
                self.refused = Some(refused);
            }
            let _ = self.poll.registry().deregister(conn.transport.stream_mut());
            self.conns[index] = None;
        }
    }

    /// Stops issuing requests and lets the ones in flight finish.
    fn drain(&mut self, events: &mut Events) -> io::Result<()> {
        for conn in self.conns.iter_mut().flatten() {
            conn.allowed = 0;
        }
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while Instant::now() < deadline
            && self
                .conns
                .iter()
                .flatten()
                .any(|c| c.outstanding() > 0 || c.wants_write())
        {
            self.poll.poll(events, Some(Duration::from_millis(50)))?;
            for event in events.iter() {
                self.drive(event.token().0, false);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::Op;

    #[test]
    fn reports_name_an_op_as_op_takes_it() {
        for op in Op::value_variants() {
            let value = op.to_possible_value().expect("a value");
            assert_eq!(op.name(), value.get_name());
        }
    }
}
