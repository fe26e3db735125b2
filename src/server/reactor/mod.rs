//! One reactor: one thread, one `mio::Poll`, every connection in a slab.
//!
//! Owns its listeners (a duplicate of each shared socket, see `listen.rs`), the
//! slab of [`Connection`]s (slab key = `Token`), the idle-timeout heap, the
//! list of connections that still have work after using their share of a
//! turn, the reactor-wide scratch buffer, its inbox from the I/O pool, and
//! its part of shutdown. It never blocks on a peer (all socket I/O is
//! nonblocking and all per-connection logic lives in `connection/`) nor on
//! the disk: a connection's file-system work goes to the pool, whose
//! answers arrive through the waker. What reactors share (the pool, access
//! control, TLS, the connection cap, client ids, shutdown) is the [`Hub`].
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
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, info};
use mio::{Events, Poll, Token, Waker};
use slab::Slab;

use super::{Hub, SIGNALS, WAKER, listen, listener_index, listener_token};
use crate::connection::Connection;
use crate::metrics::{self, ReactorMetrics};
use crate::pool::{Finished, Inbox, Shared, Task};
use crate::request_log;
use crate::wire::page_buf::PageBuf;
use accept::{AcceptState, Listener};
use links::Links;
use scrape::Scrape;
use timers::Timers;

/// The reactor-wide buffer every body passes through: a busy upload is
/// taken in reads of this much, a quarter of the system calls of 256 KiB
/// ones (benches/notes/put_cpu.md, "A 1 MiB scratch"); one per reactor, its
/// pages resident only once a large read has touched them.
const SCRATCH_SIZE: usize = 1024 * 1024;

/// Rounds of brief jobs' outcomes taken in the turn that made them
/// (`serve::Job::brief`): a request's chain of brief steps (a PUT's
/// open, then its commit) is answered without a poll between steps, while
/// a connection whose chain goes on (pipelined requests) yields to the
/// others after this many.
const BRIEF_ROUNDS: usize = 4;

/// Finished jobs whose room [`Reactor::finish_jobs`] keeps between
/// batches (a few hundred bytes each).
const SPARE_FINISHED: usize = 64;

pub(super) mod accept;
mod bare;
mod crowd;
mod cuts;
mod drive;
mod link_arrival;
mod links;
#[cfg(feature = "metrics")]
mod scrape;
#[cfg(not(feature = "metrics"))]
#[path = "scrape_absent.rs"]
mod scrape;
#[cfg(feature = "hand-over")]
pub(super) mod share;
#[cfg(not(feature = "hand-over"))]
#[path = "share_absent.rs"]
pub(super) mod share;
mod shutdown;
mod timers;

/// One event loop and the connections it serves.
pub(super) struct Reactor {
    /// Which worker this is (1, 2...), in its log lines; `None` when it is
    /// the only one.
    pub(super) worker: Option<usize>,
    pub(super) poll: Poll,
    /// FERRY/1 first, then HTTP if enabled; emptied at shutdown.
    pub(super) listeners: Vec<Listener>,
    /// The configuration and the root, shared with the I/O pool.
    pub(super) shared: Arc<Shared>,
    /// What all reactors share.
    pub(super) hub: Arc<Hub>,
    pub(super) connections: Slab<Connection>,
    /// Page-aligned: the kernel's copies in and out of it are cheaper
    /// (`page_buf.rs`).
    scratch: PageBuf,
    /// Connection deadlines.
    pub(super) timers: Timers,
    /// When this turn began (poll returned): what the connections'
    /// deadlines and progress are kept by, instead of a read of the clock
    /// at each move, as nginx caches its time per turn. A turn is a
    /// bounded amount of work; the deadlines are seconds. (Metrics of
    /// time read the clock.)
    turn_began: Instant,
    /// Connections that used their budget with work left: `(key, id)`.
    pub(super) ready: VecDeque<(usize, u64)>,
    /// Whether a connection driven now is alone, its last drives all of
    /// it (its big `sendfile`s may run corked).
    crowd: crowd::Crowd,
    /// Input buffered by this reactor's connections (kept by
    /// [`Connection::drive`]).
    held_input: usize,
    pub(super) accepting: AcceptState,
    shutdowns_seen: usize,
    shutdown_deadline: Option<Instant>,
    /// Finished jobs come back here.
    pub(super) inbox: Inbox,
    pub(super) signals: Option<signal_hook_mio::v1_0::Signals>,
    /// Jobs waiting for room in the pool's queue, oldest first.
    backlog: VecDeque<Task>,
    /// This reactor's counters (only this thread writes them).
    pub(super) metrics: Arc<ReactorMetrics>,
    /// The metrics listener and its scrapers (the first reactor's, with
    /// `--metrics`).
    pub(super) scrape: Option<Scrape>,
    /// Links between its connections (FTP's data connections).
    links: Links,
    /// Uploads cut off with their connections, until they are ended.
    cuts: cuts::Cuts,
    /// Connections a newcomer may displace: bare ones and HTTP ones
    /// resting between requests, each oldest first.
    bare: bare::Bare,
    /// The grace period is over: what is left has its farewell.
    farewell: bool,
    /// Its load as it tells the others, and where its resting
    /// connections go.
    #[cfg_attr(not(feature = "hand-over"), allow(dead_code))]
    share: share::Share,
    /// Brief jobs run here (a memory file system's), their outcomes to be
    /// taken with the pool's.
    done_here: Vec<Finished>,
    /// The batch `finish_jobs` hands out, kept empty between calls: it
    /// and `done_here` trade places, so a small PUT's three jobs cost no
    /// allocation of either.
    finishing: Vec<Finished>,
}

impl Reactor {
    /// A reactor serving `listeners` (already bound, not yet registered).
    ///
    /// # Errors
    /// The poll instance, its waker or a registration fails.
    pub(super) fn new(
        worker: Option<usize>,
        sockets: Vec<Listener>,
        shared: Arc<Shared>,
        hub: Arc<Hub>,
    ) -> io::Result<(Reactor, Arc<Waker>)> {
        let poll = Poll::new()?;
        let mut listeners = Vec::new();
        for listener in sockets {
            let token = listener_token(listeners.len());
            listen::watch(poll.registry(), &listener.socket, token)?;
            listeners.push(listener);
        }
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let index = worker.map_or(0, |worker| worker - 1);
        let metrics = hub.metrics.get(index).cloned().unwrap_or_default();
        if let Some(lane) = hub.lanes.get(index) {
            lane.set_waker(Arc::clone(&waker));
        }
        let share = share::Share::new(shared.config.hand_over, Instant::now());
        let shared_ports = shared.config.ftp.passive_ports.clone();
        let reactor = Reactor {
            worker,
            poll,
            listeners,
            shared,
            hub,
            connections: Slab::new(),
            scratch: PageBuf::with_capacity(SCRATCH_SIZE),
            timers: Timers::new(Instant::now()),
            turn_began: Instant::now(),
            ready: VecDeque::new(),
            crowd: crowd::Crowd::default(),
            held_input: 0,
            accepting: AcceptState::default(),
            shutdowns_seen: 0,
            shutdown_deadline: None,
            inbox: Inbox::new(Arc::clone(&waker)),
            signals: None,
            backlog: VecDeque::new(),
            metrics,
            scrape: None,
            links: Links::new(shared_ports, index),
            cuts: cuts::Cuts::new(),
            bare: bare::Bare::new(),
            farewell: false,
            share,
            done_here: Vec::new(),
            finishing: Vec::new(),
        };
        Ok((reactor, waker))
    }

    /// Serves until shut down. Returns once every connection is closed.
    ///
    /// # Errors
    /// Only if polling itself fails; peer and disk errors are handled.
    pub(super) fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        metrics::count_on_this_thread(Arc::clone(&self.metrics));
        request_log::log_on_this_thread(self.hub.request_log.clone());
        loop {
            let timeout = self.poll_timeout(Instant::now());
            if let Err(err) = self.poll.poll(&mut events, timeout) {
                if err.kind() == ErrorKind::Interrupted {
                    continue;
                }
                // Its connections go with it, each closed as any other (its
                // counts released, an upload it was receiving ended, an FTP
                // transfer reported), and so does what waits in its lane;
                // no other reactor may hand it more (`share.rs`).
                self.close_all();
                return Err(err);
            }
            // The turn starts when poll returns: the stall detector.
            let turn = Instant::now();
            self.turn_began = turn;
            for event in events.iter() {
                match event.token() {
                    WAKER => self.finish_jobs(),
                    SIGNALS => self.collect_signals(),
                    token if listener_index(token).is_some() => {
                        let index = listener_index(token);
                        if let Some(listener) = index.and_then(|i| self.listeners.get_mut(i)) {
                            listener.pending = true;
                        }
                    }
                    token if Scrape::owns(token) => self.scrape_event(token, turn),
                    token if Links::owns(token) => self.links.listener_event(token),
                    Token(key) => {
                        if let Some(conn) = self.connections.get_mut(key) {
                            conn.socket_event(event.is_read_closed() || event.is_error());
                        }
                        self.drive(key, None);
                    }
                }
            }
            self.take_arrivals();
            self.drive_ready();
            for _ in 0..BRIEF_ROUNDS {
                if self.done_here.is_empty() {
                    break;
                }
                self.finish_jobs();
            }
            let now = Instant::now();
            if self.listeners.iter().any(|l| l.pending)
                && self.accepting.paused_until.is_none_or(|until| now >= until)
            {
                self.accept(now);
            }
            if self.links.pending() {
                self.accept_links(now);
            }
            self.expire_deadlines(now);
            self.expire_scrapers(now);
            self.weigh_load(now);
            let done = self.shutdown_step(now);
            self.metrics.loop_turn.observe(turn.elapsed());
            if done {
                return Ok(());
            }
        }
    }

    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        let accepting = self.listeners.iter().any(|l| l.pending);
        if !self.ready.is_empty()
            || !self.done_here.is_empty()
            || (accepting && self.accepting.paused_until.is_none())
        {
            return Some(Duration::ZERO);
        }
        let deadlines = [
            self.timers.next(),
            self.accepting.paused_until.filter(|_| accepting),
            self.shutdown_deadline,
            self.scrape.as_ref().and_then(Scrape::next_deadline),
        ];
        deadlines
            .into_iter()
            .flatten()
            .min()
            .map(|at| at.saturating_duration_since(now))
    }

    /// Queues a job for the pool, behind any backlog: jobs start in the
    /// order they were asked. A job that waits for a hook goes to the hook
    /// runner instead, whose queue takes one per waiting connection, one
    /// that computes a checksum to the checksum threads likewise, and one
    /// that waits for a durable commit's flush to the group commit.
    pub(super) fn submit(&mut self, mut task: Task) {
        if let Some(owed) = task.job.take_flush() {
            // No thread waits for the batch: the flusher answers.
            task.after_flush(&self.shared, owed);
        } else if task.job.is_hook() {
            let shared = Arc::clone(&self.shared);
            self.shared.hooks.submit(move || task.run(&shared, |_| {}));
        } else if task.job.is_checksum() {
            self.hub.checksums.submit(task);
        } else if !self.backlog.is_empty() {
            self.backlog.push_back(task);
        } else if let Err(task) = self.hub.pool.submit(task) {
            self.backlog.push_back(task);
        }
    }

    /// Hands finished I/O jobs to their connections and drives them, then
    /// moves waiting jobs into the room that made in the pool's queue.
    fn finish_jobs(&mut self) {
        let mut finished = std::mem::take(&mut self.finishing);
        std::mem::swap(&mut finished, &mut self.done_here);
        finished.extend(self.inbox.finished());
        for done in finished.drain(..) {
            match self.connections.get_mut(done.key) {
                Some(conn) if conn.id() == done.id => {
                    if let Some(job) = conn.job_finished(done.outcome) {
                        // Not the connection's: it may be waiting for
                        // another job's answer.
                        self.submit(Task::detached(job, Arc::clone(self.inbox.mailbox())));
                    }
                    self.drive(done.key, Some(done.id));
                }
                _ => {
                    let Some(done) = self.cut_job_done(done) else {
                        continue;
                    };
                    debug!("#{} gone before its I/O finished", done.id);
                    // What it holds is released on the pool where that is
                    // disk work (an upload's temp file), else here.
                    if let Some(job) = crate::serve::leftover(done.outcome) {
                        self.submit(Task::detached(job, Arc::clone(self.inbox.mailbox())));
                    }
                }
            }
        }
        // A burst's batch is not held for good.
        finished.shrink_to(SPARE_FINISHED);
        self.finishing = finished;
        while let Some(task) = self.backlog.pop_front() {
            // A job whose connection has gone still runs: it may be the
            // clean-up of an upload that connection left.
            if let Err(task) = self.hub.pool.submit(task) {
                self.backlog.push_front(task);
                break;
            }
        }
    }

    pub(super) fn close(&mut self, key: usize) {
        if !self.connections.contains(key) {
            return;
        }
        let mut conn = self.connections.remove(key);
        self.forget_idle(key);
        let mut report = conn.linked_to().zip(conn.closing_relay());
        self.hub.release(super::counted_client(&conn));
        self.metrics.closed[conn.protocol().index()].add(1);
        if let Some(receive) = conn.abandon_upload() {
            conn.note_client_went(receive.progress().0);
            let whose = (conn.id(), conn.peer(), conn.protocol());
            report = self.cut_off(whose, receive, report);
        }
        self.held_input = self.held_input.saturating_sub(conn.held_input());
        if let Err(err) = self.poll.registry().deregister(conn.stream_mut()) {
            debug!("#{} deregister: {err}", conn.id());
        }
        conn.log_close();
        if let Some(job) = conn
            .abandon_send()
            .and_then(|send| crate::serve::closing_job(*send))
        {
            self.submit(Task::detached(job, Arc::clone(self.inbox.mailbox())));
        }
        if self.accepting.paused_until.take().is_some() {
            info!("a descriptor is free again; accepting resumed");
        }
        self.links_after_close(key, report);
    }

    fn collect_signals(&mut self) {
        if let Some(signals) = &mut self.signals {
            for signal in signals.pending() {
                info!("received signal {signal}");
                if signal == signal_hook::consts::SIGHUP {
                    self.hub.access.reload_in_background();
                    if let Some(tls) = &self.hub.tls {
                        tls.reload_in_background();
                    }
                    if let Some(log) = &self.hub.request_log {
                        log.reopen();
                    }
                } else {
                    self.hub.shutdown.shutdown();
                }
            }
        }
    }
}
