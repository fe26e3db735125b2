//! The access log: one line per answered request, over both protocols,
//! written in batches by a thread of its own.
//!
//! A line is made where a connection's exchange ends (its answer is noted
//! beside the request metrics) and appended to a buffer in memory;
//! nothing on an event loop writes to a file or a pipe. The writer thread
//! takes the buffer every [`FLUSH_EVERY`], sooner once it holds
//! [`FLUSH_AT`] bytes, and at shutdown, and writes it with one call. One
//! `write` per batch instead of one per line is what makes the log cheap
//! (see docs/operating.md, "Access log"); a writer that falls behind (a full
//! disk, a stalled pipe reader) costs lines, counted and reported, never a
//! stalled loop: past [`MOST_HELD`] bytes waiting, new lines are dropped.
//!
//! ```text
//! text: 2026-11-23T17:03:14.740Z 127.0.0.1 #3 alice ferry put "a/b.txt" ok 4096 0.000512 web-1
//! json: {"time":"2026-11-23T17:03:14.740Z","peer":"127.0.0.1","client":3,"user":"alice",
//!        "protocol":"ferry","operation":"put","name":"a/b.txt","outcome":"ok",
//!        "bytes":4096,"seconds":0.000512,"node":"web-1"}
//! ```
//!
//! Names are quoted, `"`, `\\` and control characters escaped as JSON
//! escapes them. `user` is `-` (JSON `null`) without a token; `name` is
//! the file, the prefix of a listing or the session id, with `to` added
//! for a move;
//! `outcome` is `ok` or the status code sent, as in the request metrics;
//! `bytes` is the file bytes moved (stored, or sent: none for a HEAD, what
//! went of a download cut short; an APPEND's or tus PATCH's body); `seconds` runs from the request's head to the
//! end of its exchange (a download's last byte handed to the kernel);
//! `node` is the server's `--node-id`, so that the lines of several nodes
//! gathered in one place still say which node served each. A line is
//! written when the exchange ends (`connection/note.rs`).
//!
//! Health checks (`HEALTH`, `GET /.ferry-health`: a balancer's, every
//! second per node and protocol) are left out unless
//! `--log-health-checks`: they were a sixth of a cluster node's log. So
//! is the `QUIT` that ends a connection whose request before it was a
//! health check left out (HAProxy's FERRY/1 check sends both). They are
//! counted all the same in the request metrics (`operation="health"`).
//!
//! With `--log-file` the log is appended to a file, which SIGHUP reopens
//! (after logrotate has moved it away); otherwise it goes to stderr, beside
//! the diagnostics.
//!
//! The two line formats (text and JSON) are `line.rs`'s; here, the
//! batching thread and the reopen on SIGHUP, which share one buffer.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use log::warn;

use line::format_entry;

mod line;

/// Longest a line waits in memory.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Held bytes that wake the writer before its second is up. Each of the
/// two batch buffers the writer swaps grows to about twice this in a burst
/// and keeps that capacity: 32 KiB (~300 lines per `write`) keeps the log's
/// high-water mark near 128 KiB, where 256 KiB made it 1 MiB, which 10,000
/// connections answering a request each reached (benches/notes/storm.md,
/// "Idle connections").
const FLUSH_AT: usize = 32 * 1024;
/// Held bytes past which new lines are dropped (the writer is stuck).
const MOST_HELD: usize = 16 * 1024 * 1024;

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Fields separated by spaces, the name quoted.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Where the log goes, and how.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// The format of each line.
    pub format: Format,
    /// The file to append to (reopened on SIGHUP); stderr when `None`.
    pub file: Option<PathBuf>,
    /// Log health checks too (`--log-health-checks`).
    pub health_checks: bool,
}

/// One answered request.
pub struct Entry<'a> {
    /// The client's address.
    pub peer: std::net::IpAddr,
    /// The connection's id (the `#n` of the diagnostics).
    pub client: u64,
    /// The token's name, if one was presented.
    pub user: Option<&'a str>,
    /// `ferry` or `http`.
    pub protocol: &'a str,
    /// As the request metrics name it.
    pub operation: &'a str,
    /// What it was about (see the module header).
    pub name: &'a str,
    /// A move's new name.
    pub to: Option<&'a str>,
    /// `None` for success, else the status code sent.
    pub code: Option<u16>,
    /// The file's size as answered.
    pub bytes: u64,
    /// From the request's head to its answer.
    pub took: Duration,
}

/// What the event loops and the writer share.
#[derive(Default)]
struct Held {
    lines: Vec<u8>,
    dropped: u64,
    reopen: bool,
    closing: bool,
}

struct Shared {
    held: Mutex<Held>,
    wake: Condvar,
    format: Format,
    /// The server's node id, on every line.
    node: String,
    health_checks: bool,
}

/// The access log of one server: cloned into each event loop's thread.
pub struct RequestLog {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl RequestLog {
    /// Opens the destination and starts the writer thread; `node` is the
    /// server's node id, which every line names.
    ///
    /// # Errors
    /// The file cannot be opened for appending, or the thread not started.
    pub fn start(settings: &Settings, node: &str) -> io::Result<Arc<RequestLog>> {
        let sink = Sink::open(settings.file.clone())?;
        let shared = Arc::new(Shared {
            held: Mutex::new(Held::default()),
            wake: Condvar::new(),
            format: settings.format,
            node: node.to_owned(),
            health_checks: settings.health_checks,
        });
        let writer = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("ferry-log".into())
                .stack_size(crate::threads::crew::STACK)
                .spawn(move || write_batches(&shared, sink))?
        };
        Ok(Arc::new(RequestLog {
            shared,
            writer: Mutex::new(Some(writer)),
        }))
    }

    /// Adds the line of `entry`, unless it is a health check's (and
    /// those are not logged).
    pub fn record(&self, entry: &Entry<'_>) {
        if !self.shared.health_checks && is_health_check(entry) {
            return;
        }
        LINE.with(|line| {
            let mut line = line.borrow_mut();
            line.clear();
            let format = (self.shared.format, self.shared.node.as_str());
            format_entry(&mut line, format, entry, SystemTime::now());
            let mut held = self.shared.lock();
            if held.lines.len() + line.len() > MOST_HELD {
                held.dropped += 1;
                return;
            }
            held.lines.extend_from_slice(line.as_bytes());
            if held.lines.len() >= FLUSH_AT && held.lines.len() - line.len() < FLUSH_AT {
                self.shared.wake.notify_one();
            }
        });
    }

    /// Asks the writer to reopen the file (SIGHUP), after writing what it
    /// holds to the old one.
    pub fn reopen(&self) {
        self.shared.lock().reopen = true;
        self.shared.wake.notify_one();
    }

    /// Writes what is held and stops the writer; waits for it. Lines
    /// recorded later are not written.
    pub fn close(&self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(writer) = writer
            && writer.join().is_err()
        {
            warn!("the access log's writer panicked");
        }
    }
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        self.close();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether `entry` is a health check's: `HEALTH` or `GET /.ferry-health`,
/// or the `QUIT` of the connection whose last request on this thread was
/// one (a connection's requests are answered on one thread, in order).
fn is_health_check(entry: &Entry<'_>) -> bool {
    LAST_HEALTH_CHECK.with(|last| match entry.operation {
        "health" => {
            last.set(Some(entry.client));
            true
        }
        "quit" => last.take() == Some(entry.client),
        _ => {
            if last.get() == Some(entry.client) {
                last.set(None);
            }
            false
        }
    })
}

thread_local! {
    /// The connection whose last request on this thread was a health check.
    static LAST_HEALTH_CHECK: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
    /// A line being formatted, kept between lines (no allocation each).
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
    /// The access log of the event loop running on this thread. Lines are
    /// made deep in a connection, which carries no pointer to its loop
    /// (it must stay small), as the request metrics are counted.
    static CURRENT: RefCell<Option<Arc<RequestLog>>> = const { RefCell::new(None) };
}

/// Makes `log` the access log that [`record_here`] writes to on this
/// thread (an event loop, before it runs; `None` for none).
pub fn log_on_this_thread(log: Option<Arc<RequestLog>>) {
    CURRENT.with(|current| *current.borrow_mut() = log);
}

/// Whether this thread's event loop keeps an access log.
pub fn is_on() -> bool {
    CURRENT.with(|current| current.borrow().is_some())
}

/// Adds the line of `entry` to this thread's access log, if it has one.
pub fn record_here(entry: &Entry<'_>) {
    CURRENT.with(|current| {
        if let Some(log) = &*current.borrow() {
            log.record(entry);
        }
    });
}

/// Where batches go.
struct Sink {
    path: Option<PathBuf>,
    file: Option<File>,
}

impl Sink {
    fn open(path: Option<PathBuf>) -> io::Result<Sink> {
        let file =
            match &path {
                Some(path) => Some(open_for_append(path).map_err(|err| {
                    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
                })?),
                None => None,
            };
        Ok(Sink { path, file })
    }

    fn write(&mut self, batch: &[u8]) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.write_all(batch),
            None => write_to_stderr(batch),
        }
    }

    /// Opens the file anew (logrotate moved the old one away); the old one
    /// stays in use if that fails.
    fn reopen(&mut self) {
        let Some(path) = &self.path else {
            return;
        };
        match open_for_append(path) {
            Ok(file) => self.file = Some(file),
            Err(err) => warn!("access log {} not reopened: {err}", path.display()),
        }
    }
}

/// Writes `batch` (whole lines) to stderr in pieces of whole lines of at
/// most `PIPE_BUF` bytes, without std's stderr lock: a diagnostic logged
/// meanwhile (on an event loop) waits for no batch, and a pipe (the
/// journal's) takes each piece whole, so no line is cut by another's.
fn write_to_stderr(batch: &[u8]) -> io::Result<()> {
    const PIECE: usize = 4096; // PIPE_BUF on Linux
    let stderr = io::stderr();
    let mut rest = batch;
    while !rest.is_empty() {
        let most = rest.len().min(PIECE);
        // A line longer than a piece goes in several writes: it is one.
        let end = match rest[..most].iter().rposition(|&b| b == b'\n') {
            Some(newline) if most < rest.len() => newline + 1,
            _ => most,
        };
        let mut piece = &rest[..end];
        while !piece.is_empty() {
            match rustix::io::write(stderr.as_fd(), piece) {
                Ok(n) => piece = &piece[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(errno) => return Err(errno.into()),
            }
        }
        rest = &rest[end..];
    }
    Ok(())
}

/// The log file, appended to, made readable by its owner and group only
/// (it names clients and files).
fn open_for_append(path: &std::path::Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
}

/// The writer thread: takes the held lines every [`FLUSH_EVERY`] (or when
/// woken) and writes them, until told to close.
fn write_batches(shared: &Shared, mut sink: Sink) {
    let mut batch = Vec::new();
    let mut failing = false;
    loop {
        let (reopen, closing, dropped) = {
            let mut held = shared.lock();
            let due = Instant::now() + FLUSH_EVERY;
            while !held.closing && !held.reopen && held.lines.len() < FLUSH_AT {
                let left = due.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                held = shared
                    .wake
                    .wait_timeout(held, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            std::mem::swap(&mut batch, &mut held.lines);
            let reopen = std::mem::take(&mut held.reopen);
            (reopen, held.closing, std::mem::take(&mut held.dropped))
        };
        if dropped > 0 {
            warn!("access log: {dropped} lines dropped, its writer was behind");
        }
        if !batch.is_empty() {
            match sink.write(&batch) {
                Ok(()) if failing => {
                    failing = false;
                    warn!("access log written again");
                }
                Ok(()) => {}
                Err(err) if !failing => {
                    failing = true;
                    warn!("access log not written (lines are lost until it can be): {err}");
                }
                Err(_) => {}
            }
            batch.clear();
            if batch.capacity() > 2 * FLUSH_AT {
                batch = Vec::new();
            }
        }
        if reopen {
            sink.reopen();
        }
        if closing {
            return;
        }
    }
}
