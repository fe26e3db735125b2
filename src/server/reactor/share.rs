//! Work sharing between reactors: a reactor that keeps waking for a few
//! requests at a time hands its resting HTTP connections to a busier one
//! that has room (`--hand-over`).
//!
//! Why: the shared listener spreads connections as they arrive (the
//! kernel wakes a reactor that waits), and a keep-alive connection stays
//! where it landed. With a client on one of two cores (`wrk -t1 -c100`,
//! 4 KiB GETs) the server has about one core however many loops it runs,
//! and two loops split 100 connections 55/45 to 65/35: the lighter one
//! runs dry and sleeps in `epoll_wait` some 10,000–16,000 times a second,
//! and every sleep and wake costs it and the client that wakes it. Two
//! loops served 0.90–0.95× one (benches/notes/workers.md). nginx's
//! workers do the same. Large transfers are the other way round: each
//! wake-up finds a lot to do, a second loop lets the server use a second
//! core, and two loops served 1.2–1.8× one.
//!
//! So each reactor, every [`WINDOW`], reads its thread's CPU time and
//! voluntary context switches (`getrusage`) and publishes its share of a
//! core and its connections in its [`Lane`] of the hub. A reactor that
//! slept at least [`SLEEPY`] times a second for less than [`SMALL_WAKE`]
//! of CPU each (waking for little) names, for the next window, the busiest
//! other reactor that has more connections than it and used less than
//! [`ROOM`] of a core: each of its HTTP connections that comes to rest
//! (its answers all out, nothing it has read left unanswered, no job
//! under way) is handed over then, by value, through the target's lane,
//! and the target's waker. Handing only towards more connections, and
//! only to one with room, keeps connections from going back and forth,
//! and never piles more onto a loop that is already the bottleneck.
//! FERRY/1, FTP and SSH sessions stay where they are (their links and
//! logins are the reactor's). Nothing moves during a shutdown, nor within
//! an eighth of `--max-connections`, where a newcomer takes the place of
//! a resting connection (`bare.rs`), first of all one of the reactor that
//! accepted it.
//!
//! The lanes carry one more kind of arrival, in every `--hand-over`
//! mode: a newcomer accepted by a full reactor that has no connection
//! to displace for it goes to the next reactor, which makes room among
//! its own or refuses it (`pass_newcomer`).
//!
//! Not done: a connection never moves back. A loop that gathered a pool
//! of keep-alive connections keeps them if their requests later grow
//! large (new connections still go to the loop that waits).
//!
//! ```text
//! reactor A (sleepy)                    reactor B (busier, room)
//!   conn rests -> deregister ------------> lane B: arrivals (mutex)
//!                 hub counts unchanged      waker -> take_arrivals:
//!                                           slab insert, register,
//!                                           deadline, resting queue
//! ```
//!
//! Readiness is not lost on the way: registering a socket with epoll
//! reports what has already arrived on it.

use std::cmp::Reverse;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use log::{debug, error};
use mio::{Token, Waker};

use super::accept::Newcomer;
use super::{Hub, Reactor};
use crate::config::HandOver;
use crate::connection::Connection;
use crate::server::Busy;

/// How often a reactor weighs its load.
const WINDOW: Duration = Duration::from_millis(100);

/// Sleeps a second from which a reactor counts as waking for little work
/// (if each wake-up also costs it under [`SMALL_WAKE`]).
const SLEEPY: u64 = 4_000;

/// The CPU a wake-up may cost on average for the reactor to count as
/// waking for little: a context switch each way costs a few microseconds,
/// a fair part of this; a 1 MiB GET's wake-ups cost hundreds.
const SMALL_WAKE: Duration = Duration::from_micros(60);

/// The share of a core (per mille) under which a reactor has room for
/// more connections.
const ROOM: u32 = 850;

/// What one reactor tells the others: its load, and the connections
/// handed (or newcomers passed) to it.
#[derive(Default)]
pub(in crate::server) struct Lane {
    /// Connections in its slab.
    connections: AtomicUsize,
    /// Its share of a core over its last window, per mille.
    busy: AtomicU32,
    /// Connections handed and newcomers passed to it, to be taken on
    /// its next turn.
    arrivals: Mutex<Arrivals>,
    /// Whether `arrivals` may hold any (checked without the lock).
    waiting: AtomicBool,
    waker: OnceLock<Arc<Waker>>,
}

/// What waits for a reactor, and whether it still takes any.
#[derive(Default)]
struct Arrivals {
    connections: Vec<Connection>,
    /// Accepted by a full reactor with no connection that may give way.
    newcomers: Vec<Newcomer>,
    /// It has stopped (its shutdown is through): a connection meant for
    /// it stays where it is, a newcomer is refused.
    closed: bool,
}

impl Arrivals {
    /// Everything waiting: the connections handed over, the newcomers
    /// passed on.
    fn take_all(&mut self) -> (Vec<Connection>, Vec<Newcomer>) {
        let connections = std::mem::take(&mut self.connections);
        (connections, std::mem::take(&mut self.newcomers))
    }
}

impl Lane {
    /// Sets the waker that tells the reactor of arrivals (once).
    pub(in crate::server) fn set_waker(&self, waker: Arc<Waker>) {
        let _ = self.waker.set(waker);
    }

    fn lock(&self) -> MutexGuard<'_, Arrivals> {
        self.arrivals.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds what `put` adds to this lane's arrivals (lane `index`) and
    /// wakes its reactor, unless that has stopped or `put` adds nothing
    /// (returns false); whether it added any.
    fn deliver(&self, index: usize, put: impl FnOnce(&mut Arrivals) -> bool) -> bool {
        let Some(waker) = self.waker.get() else {
            return false;
        };
        let mut arrivals = self.lock();
        if arrivals.closed || !put(&mut arrivals) {
            return false;
        }
        drop(arrivals);
        // One wake-up for all that gathers before the reactor looks: it
        // clears `waiting` before it takes them. (Should a wake fail,
        // `waiting` stays set, so the reactor's next turn, whatever wakes
        // it, takes what waits: better than clearing it, which would leave
        // them to the next delivery.)
        if !self.waiting.swap(true, Ordering::Release)
            && let Err(err) = waker.wake()
        {
            error!("could not wake worker {}: {err}", index + 1);
        }
        true
    }
}

/// A reactor's own side: its last reading and where it hands over now.
pub(super) struct Share {
    mode: HandOver,
    window_began: Instant,
    last: Option<Usage>,
    /// The lane connections coming to rest go to, for this window.
    target: Option<usize>,
}

impl Share {
    pub(super) fn new(mode: HandOver, now: Instant) -> Share {
        Share {
            mode,
            window_began: now,
            last: None,
            target: None,
        }
    }
}

/// A thread's CPU time and voluntary context switches so far.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Usage {
    cpu: Duration,
    sleeps: u64,
}

/// This thread's usage, if the kernel tells it.
fn thread_usage() -> Option<Usage> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a valid, writable rusage; RUSAGE_THREAD reads
    // the calling thread's.
    let result = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) };
    if result != 0 {
        return None;
    }
    // SAFETY: getrusage filled it in.
    let usage = unsafe { usage.assume_init() };
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Some(Usage {
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        sleeps: u64::try_from(usage.ru_nvcsw).unwrap_or(0),
    })
}

/// What a reactor's last window says of it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Window {
    /// Its share of a core, per mille.
    busy: u32,
    /// Whether it woke often, for little each time.
    sleepy: bool,
}

/// Weighs the usage from `before` to `after` over `elapsed`.
fn weigh(before: Usage, after: Usage, elapsed: Duration) -> Window {
    let cpu = after.cpu.saturating_sub(before.cpu);
    let sleeps = after.sleeps.saturating_sub(before.sleeps);
    let micros = elapsed.as_micros().max(1);
    let busy = u32::try_from(cpu.as_micros() * 1000 / micros).unwrap_or(u32::MAX);
    let per_second = u128::from(sleeps) * 1_000_000 / micros;
    let sleepy = per_second >= u128::from(SLEEPY)
        && cpu.as_micros() < SMALL_WAKE.as_micros() * u128::from(sleeps);
    Window { busy, sleepy }
}

/// The lane a sleepy reactor (lane `me`, holding `mine` connections)
/// hands over to: of `others` (`(lane, connections, busy)`), the one with
/// the most connections, more than `mine` (as many and a lower lane: an
/// even split is broken one way), and room.
fn choose(
    (me, mine): (usize, usize),
    others: impl Iterator<Item = (usize, usize, u32)>,
) -> Option<usize> {
    let rank = |lane: usize, connections: usize| (connections, Reverse(lane));
    others
        .filter(|&(lane, connections, busy)| {
            rank(lane, connections) > rank(me, mine) && busy < ROOM
        })
        .max_by_key(|&(lane, connections, _)| rank(lane, connections))
        .map(|(lane, _, _)| lane)
}

impl Reactor {
    /// This reactor's lane, if it has others to share with.
    fn lane_index(&self) -> Option<usize> {
        let index = self.worker?.checked_sub(1)?;
        (self.hub.lanes.len() > 1).then_some(index)
    }

    /// Once a window: publishes this reactor's load and picks where its
    /// resting connections go until the next.
    pub(super) fn weigh_load(&mut self, now: Instant) {
        let Some(me) = self.lane_index() else {
            return;
        };
        match self.share.mode {
            HandOver::Never => return,
            HandOver::Always => {
                self.share.target = Some((me + 1) % self.hub.lanes.len());
                return;
            }
            HandOver::Auto => {}
        }
        let elapsed = now.saturating_duration_since(self.share.window_began);
        if elapsed < WINDOW {
            return;
        }
        self.share.window_began = now;
        let lane = &self.hub.lanes[me];
        lane.connections
            .store(self.connections.len(), Ordering::Relaxed);
        let usage = thread_usage();
        let window = self
            .share
            .last
            .zip(usage)
            .map(|(a, b)| weigh(a, b, elapsed));
        self.share.last = usage;
        let Some(window) = window else {
            return;
        };
        lane.busy.store(window.busy, Ordering::Relaxed);
        let others = self.hub.lanes.iter().enumerate().filter(|&(i, _)| i != me);
        let target = window.sleepy.then(|| {
            let loads = others.map(|(i, lane)| {
                let connections = lane.connections.load(Ordering::Relaxed);
                (i, connections, lane.busy.load(Ordering::Relaxed))
            });
            choose((me, self.connections.len()), loads)
        });
        self.share.target = target.flatten();
    }

    /// Hands the connection at `key`, which has just come to rest, to
    /// the reactor this one hands over to now, if any and if it may move;
    /// whether it went.
    pub(super) fn pass_resting(&mut self, key: usize) -> bool {
        let Some(target) = self.share.target else {
            return false;
        };
        let hub = Arc::clone(&self.hub);
        let (Some(lane), false) = (hub.lanes.get(target), self.near_the_end(&hub)) else {
            return false;
        };
        if !self.connections.get(key).is_some_and(Connection::may_move) {
            return false;
        }
        let handed = lane.deliver(target, |arrivals| {
            let Some(conn) = self.connections.get_mut(key) else {
                return false;
            };
            if let Err(err) = self.poll.registry().deregister(conn.stream_mut()) {
                debug!("#{} deregister before a hand-over: {err}", conn.id());
                return false; // still registered: it stays
            }
            let conn = self.connections.remove(key);
            self.forget_idle(key);
            self.held_input = self.held_input.saturating_sub(conn.held_input());
            debug!("#{} handed to worker {}", conn.id(), target + 1);
            arrivals.connections.push(conn);
            true
        });
        if handed {
            self.metrics.handed_over.add(1);
        }
        handed
    }

    /// Passes `newcomer`, which this full reactor has no connection to
    /// make room for, to the next reactor (whose resting ones may), unless
    /// every other has had it or the server is shutting down; gives it
    /// back if it did not go.
    ///
    /// Why: where this reactor's connections are all at work, or were
    /// handed over, and another's rest, a newcomer would otherwise be
    /// refused while a connection that may give way stays open.
    pub(super) fn pass_newcomer(&mut self, mut newcomer: Newcomer) -> Result<(), Newcomer> {
        let Some(me) = self.lane_index() else {
            return Err(newcomer);
        };
        let lanes = self.hub.lanes.len();
        if newcomer.passed + 1 >= lanes || self.shutdown_asked() {
            return Err(newcomer);
        }
        let target = (me + 1) % lanes;
        newcomer.passed += 1;
        let mut held = Some(newcomer);
        self.hub.lanes[target].deliver(target, |arrivals| {
            arrivals.newcomers.extend(held.take());
            true
        });
        match held {
            Some(newcomer) => Err(newcomer), // that reactor has stopped
            None => {
                debug!("a newcomer passed to worker {} for room", target + 1);
                self.metrics.passed_for_room.add(1);
                Ok(())
            }
        }
    }

    /// Whether connections should stay where they are: the server is
    /// shutting down, or it is close to its connection cap, where a
    /// newcomer takes the place of a resting connection of the reactor
    /// that accepts it (`bare.rs`), which had better keep some.
    fn near_the_end(&self, hub: &Hub) -> bool {
        let open = hub.open.load(Ordering::Relaxed);
        self.shutdown_asked() || open >= hub.max_connections - hub.max_connections / 8
    }

    /// Whether a shutdown has begun here or been asked for (and not yet
    /// seen by this reactor's `shutdown_step`).
    fn shutdown_asked(&self) -> bool {
        self.shutdown_deadline.is_some() || self.hub.shutdown.requests() > 0
    }

    /// Takes what other reactors handed or passed to this one: settles
    /// the connections, admits the newcomers (or, once a shutdown is
    /// asked for, refuses them). Called after a turn's events, so none of
    /// them can meet an event for a key freed in that batch.
    pub(super) fn take_arrivals(&mut self) {
        let Some(lane) = self.lane_index().and_then(|me| self.hub.lanes.get(me)) else {
            return;
        };
        // A load first: every turn asks, and a swap would write the
        // line the senders write each time.
        if !lane.waiting.load(Ordering::Relaxed) || !lane.waiting.swap(false, Ordering::Acquire) {
            return;
        }
        let (connections, newcomers) = lane.lock().take_all();
        self.settle_all(connections);
        if self.shutdown_asked() {
            self.refuse_all(newcomers);
            return;
        }
        for newcomer in newcomers {
            self.admit(newcomer, self.turn_began);
        }
    }

    /// Closes this reactor's lane to hand-overs for good and takes what
    /// waits in it: the last turn of a shutdown, which closes the
    /// connections next and refuses the newcomers now.
    pub(super) fn seal_lane(&mut self) {
        let Some(lane) = self.lane_index().and_then(|me| self.hub.lanes.get(me)) else {
            return;
        };
        let (left, newcomers) = {
            let mut arrivals = lane.lock();
            arrivals.closed = true;
            arrivals.take_all()
        };
        self.settle_all(left);
        self.refuse_all(newcomers);
    }

    fn refuse_all(&mut self, newcomers: Vec<Newcomer>) {
        for newcomer in newcomers {
            self.refuse(newcomer, Busy::Server);
        }
    }

    /// Registers the connections handed to this reactor and settles each.
    fn settle_all(&mut self, arrivals: Vec<Connection>) {
        for mut conn in arrivals {
            let entry = self.connections.vacant_entry();
            let key = entry.key();
            let interest = conn.interest();
            self.held_input += conn.held_input();
            let registered = self
                .poll
                .registry()
                .register(conn.stream_mut(), Token(key), interest);
            entry.insert(conn);
            if let Err(err) = registered {
                error!("#{key} register after a hand-over: {err}");
                self.close(key);
                continue;
            }
            self.settle(key);
        }
    }

    /// At the end of a shutdown: closes this reactor's lane, unless
    /// connections or newcomers wait in it (taken next turn); whether it
    /// did.
    pub(super) fn close_lane(&mut self) -> bool {
        let Some(lane) = self.lane_index().and_then(|me| self.hub.lanes.get(me)) else {
            return true;
        };
        let mut arrivals = lane.lock();
        arrivals.closed = arrivals.connections.is_empty() && arrivals.newcomers.is_empty();
        arrivals.closed
    }

    /// Gives the resting connection at `key`, new to this slab, its
    /// deadline in this reactor's timers and its place in the resting
    /// queue.
    fn settle(&mut self, key: usize) {
        let Some(conn) = self.connections.get_mut(key) else {
            return;
        };
        let deadline = conn.deadline(&self.shared.config);
        let at = self.timers.push(deadline, key, conn.id());
        conn.set_scheduled(at);
        if self.shutdown_deadline.is_none() {
            self.note_resting(key);
        } else if conn.is_idle() {
            self.close(key); // as `begin_shutdown` closes the idle
        } else {
            conn.answer_is_last();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(millis: u64, sleeps: u64) -> Usage {
        Usage {
            cpu: Duration::from_millis(millis),
            sleeps,
        }
    }

    #[test]
    fn a_loop_waking_often_for_little_is_sleepy() {
        let start = usage(1000, 50);
        // 4 KiB GETs, the lighter of two loops: 43 ms of CPU and 1,500
        // sleeps in 100 ms (29 µs each).
        let light = weigh(start, usage(1043, 1550), WINDOW);
        assert_eq!(
            light,
            Window {
                busy: 430,
                sleepy: true
            }
        );
        // 1 MiB GETs: as much CPU, 40 sleeps (1 ms each).
        let large = weigh(start, usage(1043, 90), WINDOW);
        assert!(!large.sleepy);
        // An idle loop: rare wake-ups.
        assert!(!weigh(start, usage(1000, 60), WINDOW).sleepy);
        // Waking often but working hard each time.
        assert!(!weigh(start, usage(1090, 1050), WINDOW).sleepy);
    }

    #[test]
    fn connections_go_only_towards_more_connections_with_room() {
        // Towards the loop with more connections, if it has room.
        assert_eq!(choose((0, 35), [(1, 65, 560)].into_iter()), Some(1));
        // Never towards fewer: the other side of the pair never hands
        // them back.
        assert_eq!(choose((1, 65), [(0, 35, 430)].into_iter()), None);
        // An even split goes to the lower lane, never both ways.
        assert_eq!(choose((1, 50), [(0, 50, 430)].into_iter()), Some(0));
        assert_eq!(choose((0, 50), [(1, 50, 430)].into_iter()), None);
        // Never onto a loop that is the bottleneck already.
        assert_eq!(choose((0, 35), [(1, 65, 950)].into_iter()), None);
        // Of several, the one with the most.
        let three = [(0, 40, 500), (2, 70, 600), (3, 90, 900)];
        assert_eq!(choose((1, 10), three.into_iter()), Some(2));
    }
}
