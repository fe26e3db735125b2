//! The reactor: one thread, one `mio::Poll`, every connection in a slab.
//!
//! Owns the listener, the slab of [`Connection`]s (slab key = `Token`), the
//! idle-timeout heap, the list of connections that still have work after
//! using their share of a turn, the reactor-wide scratch buffer, the I/O
//! pool ([`crate::pool`]) and shutdown. It never blocks on a peer (all
//! socket I/O is nonblocking and all per-connection logic lives in
//! `connection/`) nor on the disk: a connection's file-system work goes to
//! the pool, whose answers arrive through the waker.
//!
//! One turn of the loop:
//!
//! ```text
//! poll (timeout 0 if work is queued, else until the next deadline)
//!   -> drive each connection that has an event (or whose I/O job is done)
//!   -> drive the connections that yielded last turn
//!   -> accept new connections (bounded per turn)
//!   -> close connections idle past --idle-timeout
//!   -> shutdown bookkeeping
//! ```
//!
//! Events for a token whose connection is gone are ignored. New connections
//! are only accepted after the event batch is handled, so a key freed
//! during the batch is never reused by a newcomer that receives an old
//! event; ready-list and timer entries carry the client id to the same end.

use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use crate::access::{self, Access};
use crate::codec::Protocol;
use crate::config::Config;
use crate::connection::{Connection, Env, Step};
use crate::pool::{Pool, Shared, Task};
use crate::storage::Storage;
use crate::tls::ServerTls;
pub(crate) use accept::raise_fd_limit;
use accept::{AcceptState, Listener};
use timers::Timers;

mod accept;
mod timers;

/// Listener `i` has token `FIRST_LISTENER - i`.
const FIRST_LISTENER: usize = usize::MAX;
const WAKER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);
/// Listener tokens go down from here (FERRY/1, then HTTP).
const LISTENER_TOKENS: [usize; 2] = [FIRST_LISTENER, usize::MAX - 3];

/// The reactor-wide buffer every body passes through.
const SCRATCH_SIZE: usize = 256 * 1024;
/// Jobs queued per I/O thread before connections wait in the backlog.
const POOL_QUEUE_PER_THREAD: usize = 64;

/// Probes the file system, then removes expired upload sessions and the
/// temp files of this node's earlier runs and of gone nodes, on a thread of
/// its own: the server listens meanwhile (on a slow file system, even the
/// journaled directories take a while to read).
fn sweep_in_background(shared: Arc<Shared>) -> io::Result<StartupSweep> {
    let sweep = StartupSweep::default();
    let done = sweep.clone();
    std::thread::Builder::new()
        .name("ferry-sweep".into())
        .spawn(move || {
            let storage = &shared.storage;
            for warning in storage.probe_file_system() {
                warn!("{warning}");
            }
            if shared.config.read_only {
                // Read-only writes nothing, not even to clean up.
                info!("read-only: stale temp files and expired upload sessions are left alone");
            } else {
                let expired = storage.expire_upload_sessions(shared.config.upload_ttl);
                let swept = storage.remove_stale_temp_files();
                info!("start-up sweep done: {swept} and {expired} expired upload sessions removed");
            }
            done.finish();
        })?;
    Ok(sweep)
}

/// The start-up sweep of stale temp files and expired upload sessions,
/// which runs while the server already serves.
#[derive(Debug, Clone, Default)]
pub struct StartupSweep {
    done: Arc<(Mutex<bool>, Condvar)>,
}

impl StartupSweep {
    /// Waits until the sweep has finished.
    pub fn wait(&self) {
        let (done, finished) = &*self.done;
        let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
        while !*done {
            done = finished.wait(done).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn finish(&self) {
        let (done, finished) = &*self.done;
        *done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        finished.notify_all();
    }
}

/// Descriptors kept back from the connection cap for the files and
/// directories that transfers open: an eighth of the limit, at least 16.
fn reserved_fds(limit: u64) -> u64 {
    (limit / 8).max(16)
}

/// Asks a running server to shut down; cheap to clone, usable from any
/// thread. The first request drains in-flight transfers for the grace
/// period; a second one closes everything at once.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    requests: Arc<AtomicUsize>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Requests a shutdown.
    pub fn shutdown(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if let Err(err) = self.waker.wake() {
            error!("could not wake the reactor: {err}");
        }
    }
}

/// A bound FERRY/1 server, ready to [`Server::run`].
pub struct Server {
    poll: Poll,
    /// FERRY/1 first, then HTTP if enabled; emptied at shutdown.
    listeners: Vec<Listener>,
    http_addr: Option<SocketAddr>,
    local_addr: SocketAddr,
    /// The configuration and the root, shared with the I/O pool.
    shared: Arc<Shared>,
    connections: Slab<Connection>,
    max_connections: usize,
    scratch: Box<[u8]>,
    /// Connection deadlines.
    timers: Timers,
    /// Connections that used their budget with work left: `(key, id)`.
    ready: VecDeque<(usize, u64)>,
    /// Input buffered by all connections (kept by [`Connection::drive`]).
    held_input: usize,
    next_client_id: u64,
    accepting: AcceptState,
    shutdown_requests: Arc<AtomicUsize>,
    shutdowns_seen: usize,
    shutdown_deadline: Option<Instant>,
    waker: Arc<Waker>,
    signals: Option<signal_hook_mio::v1_0::Signals>,
    /// The threads that do the file-system work.
    pool: Pool,
    /// Jobs waiting for room in the pool's queue, oldest first.
    backlog: VecDeque<Task>,
    sweep: StartupSweep,
    /// Tokens and grants (re-read on SIGHUP).
    access: Access,
    /// The certificate both listeners serve TLS with (re-read on SIGHUP).
    tls: Option<ServerTls>,
}

impl Server {
    /// Raises the open-files limit, binds the listeners, then creates,
    /// opens and locks the root and starts the I/O pool; stale temp files and expired upload
    /// sessions are swept in the background.
    ///
    /// # Errors
    /// The address cannot be bound, the root cannot be opened or another
    /// server holds it ([`crate::storage::root_in_use`]), or a thread cannot
    /// be started.
    pub fn bind(config: Config) -> io::Result<Server> {
        let addrs: Vec<SocketAddr> = [Some(config.listen), config.http_listen]
            .into_iter()
            .flatten()
            .collect();
        access::check_exposure(&addrs, &config.access)?;
        let access = Access::new(&config.access)?;
        let tls = config.tls.as_ref().map(ServerTls::load).transpose()?;
        // Before any tree walk: a wide tree must not meet a low soft limit.
        let fd_limit = raise_fd_limit();
        let max_connections = config
            .max_connections
            .min(
                usize::try_from(fd_limit.saturating_sub(reserved_fds(fd_limit)))
                    .unwrap_or(usize::MAX),
            )
            .max(1);
        let poll = Poll::new()?;
        let mut listeners = Vec::new();
        let wanted = [
            (Some(config.listen), Protocol::Ferry),
            (config.http_listen, Protocol::Http),
        ];
        for (addr, protocol) in wanted {
            let Some(addr) = addr else { continue };
            let mut socket = TcpListener::bind(addr)?;
            let token = Token(LISTENER_TOKENS[listeners.len()]);
            poll.registry()
                .register(&mut socket, token, Interest::READABLE)?;
            listeners.push(Listener {
                socket,
                protocol,
                pending: true,
            });
        }
        // Only now that the addresses are ours: the root is created and
        // locked, so a server that cannot start leaves no root behind and
        // touches nothing in another server's.
        let mut storage = Storage::open(&config.root, &config.node_id, config.read_only)?;
        storage.set_gate(config.gate.clone());
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let threads = config.io_threads;
        let shared = Arc::new(Shared { storage, config });
        let pool = Pool::start(
            threads,
            threads * POOL_QUEUE_PER_THREAD,
            Arc::clone(&shared),
            Arc::clone(&waker),
        )?;
        let sweep = sweep_in_background(Arc::clone(&shared))?;
        let local_addr = listeners[0].socket.local_addr()?;
        let http_addr = match listeners.get(1) {
            Some(listener) => Some(listener.socket.local_addr()?),
            None => None,
        };
        info!("open-files limit {fd_limit}");
        Ok(Server {
            poll,
            listeners,
            http_addr,
            local_addr,
            connections: Slab::new(),
            max_connections,
            scratch: vec![0; SCRATCH_SIZE].into_boxed_slice(),
            timers: Timers::new(Instant::now()),
            ready: VecDeque::new(),
            held_input: 0,
            next_client_id: 1,
            accepting: AcceptState::new(),
            shutdown_requests: Arc::new(AtomicUsize::new(0)),
            shutdowns_seen: 0,
            shutdown_deadline: None,
            waker,
            signals: None,
            pool,
            backlog: VecDeque::new(),
            sweep,
            shared,
            access,
            tls,
        })
    }

    /// The address of the HTTP listener, if there is one.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The address the listener is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The start-up sweep, which runs while the server serves.
    pub fn startup_sweep(&self) -> StartupSweep {
        self.sweep.clone()
    }

    /// A handle that can stop the server from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            requests: Arc::clone(&self.shutdown_requests),
            waker: Arc::clone(&self.waker),
        }
    }

    /// Treats SIGINT and SIGTERM as shutdown requests, and SIGHUP as the
    /// request to re-read the tokens file (for the binary;
    /// tests that run the server in-process use [`ShutdownHandle`]).
    ///
    /// # Errors
    /// The handlers cannot be installed.
    pub fn handle_signals(&mut self) -> io::Result<()> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook_mio::v1_0::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        self.poll
            .registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        self.signals = Some(signals);
        Ok(())
    }

    /// Serves until shut down. Returns once every connection is closed.
    ///
    /// # Errors
    /// Only if polling itself fails; peer and disk errors are handled.
    pub fn run(mut self) -> io::Result<()> {
        // Logged only now that signal handlers (if any) are in place: tests
        // and scripts wait for this line before they signal the process.
        let http = self
            .http_addr
            .map(|addr| format!(" (HTTP on {addr})"))
            .unwrap_or_default();
        let tls = if self.tls.is_some() { ", over TLS" } else { "" };
        info!(
            "serving {} on {}{http}{tls}, at most {} connections, {} I/O threads",
            self.shared.config.root.display(),
            self.local_addr,
            self.max_connections,
            self.shared.config.io_threads.max(1)
        );
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout(Instant::now());
            if let Err(err) = self.poll.poll(&mut events, timeout) {
                if err.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            for event in events.iter() {
                match event.token() {
                    Token(token) if LISTENER_TOKENS.contains(&token) => {
                        let index = LISTENER_TOKENS.iter().position(|&t| t == token);
                        if let Some(listener) = index.and_then(|i| self.listeners.get_mut(i)) {
                            listener.pending = true;
                        }
                    }
                    WAKER => self.finish_jobs(),
                    SIGNALS => self.collect_signals(),
                    Token(key) => self.drive(key, None),
                }
            }
            self.drive_ready();
            let now = Instant::now();
            if self.listeners.iter().any(|l| l.pending)
                && self.accepting.paused_until.is_none_or(|until| now >= until)
            {
                self.accept(now);
            }
            self.expire_deadlines(now);
            if self.shutdown_step(now) {
                info!("server stopped");
                return Ok(());
            }
        }
    }

    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        let accepting = self.listeners.iter().any(|l| l.pending);
        if !self.ready.is_empty() || (accepting && self.accepting.paused_until.is_none()) {
            return Some(Duration::ZERO);
        }
        let deadlines = [
            self.timers.next(),
            self.accepting.paused_until.filter(|_| accepting),
            self.shutdown_deadline,
        ];
        deadlines
            .into_iter()
            .flatten()
            .min()
            .map(|at| at.saturating_duration_since(now))
    }

    fn drive_ready(&mut self) {
        for _ in 0..self.ready.len() {
            if let Some((key, id)) = self.ready.pop_front() {
                match self.connections.get_mut(key) {
                    Some(conn) if conn.id() == id => conn.set_queued(false),
                    _ => continue,
                }
                self.drive(key, Some(id));
            }
        }
    }

    /// Drives the connection at `key` (if it is still the one with `id`)
    /// and acts on the step it returns.
    fn drive(&mut self, key: usize, id: Option<u64>) {
        let Some(conn) = self.connections.get_mut(key) else {
            return; // an event for a connection already closed
        };
        if id.is_some_and(|id| id != conn.id()) {
            return;
        }
        if id.is_none() && conn.is_queued() {
            return; // an event; its turn comes on the ready list
        }
        let mut env = Env {
            storage: &self.shared.storage,
            config: &self.shared.config,
            access: &self.access,
            shutting_down: self.shutdown_deadline.is_some(),
            held_input: &mut self.held_input,
        };
        let step = conn.drive(&mut self.scratch, &mut env);
        if let Some(job) = conn.take_job() {
            let (id, peer) = (conn.id(), conn.peer());
            self.submit(Task { key, id, peer, job });
        }
        let Some(conn) = self.connections.get_mut(key) else {
            unreachable!("the connection was just driven");
        };
        match step {
            Step::Wait(interest) => {
                if interest != conn.interest() {
                    let id = conn.id();
                    match self
                        .poll
                        .registry()
                        .reregister(conn.stream_mut(), Token(key), interest)
                    {
                        Ok(()) => conn.set_interest(interest),
                        Err(err) => {
                            error!("#{id} reregister failed: {err}");
                            self.close(key);
                        }
                    }
                }
            }
            Step::Yield => {
                if !conn.is_queued() {
                    conn.set_queued(true);
                    self.ready.push_back((key, conn.id()));
                }
            }
            Step::Close => {
                self.close(key);
                return;
            }
        }
        self.reschedule(key);
    }

    /// Queues a job for the pool, behind any backlog: jobs start in the
    /// order they were asked.
    fn submit(&mut self, task: Task) {
        if !self.backlog.is_empty() {
            self.backlog.push_back(task);
        } else if let Err(task) = self.pool.submit(task) {
            self.backlog.push_back(task);
        }
    }

    /// Hands finished I/O jobs to their connections and drives them, then
    /// moves waiting jobs into the room that made in the pool's queue.
    fn finish_jobs(&mut self) {
        let finished: Vec<_> = self.pool.finished().collect();
        for done in finished {
            match self.connections.get_mut(done.key) {
                Some(conn) if conn.id() == done.id => {
                    if let Some(job) = conn.job_finished(done.outcome) {
                        // Not the connection's: it may be waiting for
                        // another job's answer.
                        self.submit(Task::detached(job));
                    }
                    self.drive(done.key, Some(done.id));
                }
                _ => {
                    debug!("#{} gone before its I/O finished", done.id);
                    // What it holds is released on the pool where that is
                    // disk work (an upload's temp file), else here.
                    if let Some(job) = crate::serve::leftover(done.outcome) {
                        self.submit(Task::detached(job));
                    }
                }
            }
        }
        while let Some(task) = self.backlog.pop_front() {
            // A job whose connection has gone still runs: it may be the
            // clean-up of an upload that connection left.
            if let Err(task) = self.pool.submit(task) {
                self.backlog.push_front(task);
                break;
            }
        }
    }

    fn close(&mut self, key: usize) {
        if !self.connections.contains(key) {
            return;
        }
        let mut conn = self.connections.remove(key);
        if let Some(job) = conn.abandon_upload() {
            self.submit(Task {
                key,
                id: conn.id(),
                peer: conn.peer(),
                job,
            });
        }
        self.held_input = self.held_input.saturating_sub(conn.held_input());
        if let Err(err) = self.poll.registry().deregister(conn.stream_mut()) {
            debug!("#{} deregister: {err}", conn.id());
        }
        conn.log_close();
        if self.accepting.paused_until.take().is_some() {
            info!("a descriptor is free again; accepting resumed");
        }
    }

    fn collect_signals(&mut self) {
        if let Some(signals) = &mut self.signals {
            for signal in signals.pending() {
                info!("received signal {signal}");
                if signal == signal_hook::consts::SIGHUP {
                    self.access.reload_in_background();
                    if let Some(tls) = &self.tls {
                        tls.reload_in_background();
                    }
                } else {
                    self.shutdown_requests.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }

    /// Acts on shutdown requests; returns true when the server should exit.
    fn shutdown_step(&mut self, now: Instant) -> bool {
        let requests = self.shutdown_requests.load(Ordering::SeqCst);
        if requests > self.shutdowns_seen && self.shutdowns_seen == 0 {
            self.begin_shutdown(now);
        }
        self.shutdowns_seen = requests;
        let Some(deadline) = self.shutdown_deadline else {
            return false;
        };
        if self.connections.is_empty() {
            return true;
        }
        if requests > 1 || now >= deadline {
            let keys: Vec<usize> = self.connections.iter().map(|(key, _)| key).collect();
            warn!("closing {} unfinished connections", keys.len());
            for key in keys {
                self.close(key);
            }
            return true;
        }
        false
    }

    fn begin_shutdown(&mut self, now: Instant) {
        for mut listener in self.listeners.drain(..) {
            let _ = self.poll.registry().deregister(&mut listener.socket);
        }
        self.shutdown_deadline = Some(now + self.shared.config.grace_period);
        let idle: Vec<usize> = self
            .connections
            .iter()
            .filter(|(_, conn)| conn.is_idle())
            .map(|(key, _)| key)
            .collect();
        for key in idle {
            self.close(key);
        }
        for (_, conn) in self.connections.iter_mut() {
            conn.answer_is_last();
        }
        info!(
            "shutting down: no new connections; {} transfers get up to {:?} to finish",
            self.connections.len(),
            self.shared.config.grace_period
        );
    }
}
