//! Crews: the threads of one kind (the I/O pool's two lanes, the checksum
//! threads, the hook runner), started as work comes, up to a cap, and
//! ended when they have waited idle for a while, down to a floor.
//!
//! A server that idles should hold few threads: each holds its stack's
//! touched pages, its share of the allocator's arenas, and a line in
//! every `ps`; on a two-core host a fixed pool of sixteen I/O threads
//! was most of the process's private memory (docs/operating.md,
//! "Footprint"). But the I/O pool is there for blocking file-system calls,
//! not for CPU: on a slow disk or a network file system sixteen calls in
//! flight are worth sixteen threads whatever the cores. So a crew starts
//! one more thread when a task is queued and no thread of the crew is
//! free to take it (each queued task beyond the free threads gets one),
//! until the cap; a thread that found no work for [`LINGER`] ends, unless
//! the crew would fall below its floor. Under load a crew grows to what
//! the load keeps busy, as a fixed pool would be; idle, it shrinks back.
//!
//! The owner keeps a [`Crew`] under the lock of the queue it serves, so
//! that queueing, taking and starting or ending a thread are judged on one
//! state: no task is queued while the last thread ends unseen. The thread
//! is started once that lock is let go ([`Hire::start`]): a spawn takes
//! about 20 µs (measured on the 2-core machine, any stack size), paid on
//! the thread that queued (a reactor, for the I/O pool) at most once per
//! thread per [`LINGER`].
//!
//! ```text
//! queue a task:   queued > free threads and live < cap  -> hire one (free from the start)
//! a thread:       free -> takes a task (busy) -> runs it -> free again
//!                 free for LINGER, nothing queued, live > floor -> ends
//! owner dropped:  closed -> threads drain the queue and end -> waited for
//! ```

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use log::error;

/// How long a thread above its crew's floor waits for work before it
/// ends: long enough that a steady load does not start and end threads
/// (a start costs about 20 µs), short enough that a burst's threads are
/// gone soon after it.
pub const LINGER: Duration = Duration::from_secs(10);

/// The stack of every thread ferry starts beside its event loops (the I/O
/// pool's lanes, the checksum threads, the hook runner, group commit's
/// flusher, the sweeps, the access log's writer, the stderr relay): their
/// buffers are on the heap, and the most any used in a release build was
/// 8–12 KiB (docs/operating.md, "Footprint"). The reservation is address
/// space; only the pages touched are memory. It is kept this large because
/// a debug build, which the tests run, needs several times more:
/// `tests/server/threads.rs` runs the deepest work there is on these
/// threads in one, where an overflow hits the guard page and ends the test.
pub const STACK: usize = 256 * 1024;

/// The cores this process may run on: `available_parallelism`, which
/// respects the CPU affinity mask and a cgroup's CPU quota; 1 if it
/// cannot say.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What a crew is: its threads' name and stack, how many run at least and
/// at most.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Threads are named `<name>-<n>`.
    pub name: &'static str,
    /// Threads kept however idle: started with the crew.
    pub floor: usize,
    /// Most threads at once (at least one).
    pub cap: usize,
    /// Each thread's stack, in bytes.
    pub stack: usize,
}

/// A crew's threads, as the lock of the queue they serve holds them.
#[derive(Debug)]
pub struct Crew {
    spec: Spec,
    /// Threads started and not ending: what the cap and floor count.
    live: usize,
    /// Of them, those not running a task: waiting for one, or started and
    /// not yet at the queue.
    free: usize,
    /// Names are numbered from here on.
    serial: usize,
    /// Threads whose body has not returned yet, for [`Crew::roster`].
    roster: Arc<Roster>,
}

/// A thread to start, counted in its crew already: [`Hire::start`] it
/// once the queue's lock is let go.
#[must_use = "a hired thread must be started, or the crew counts one it has not"]
pub struct Hire {
    name: String,
    stack: usize,
    roster: Arc<Roster>,
}

/// Threads of a crew that have not finished, to wait for at shutdown.
#[derive(Debug, Default)]
pub struct Roster {
    present: Mutex<usize>,
    left: Condvar,
}

/// What a free thread does after a wait with nothing to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idle {
    /// Waits on.
    Stay,
    /// Ends: it was idle for [`LINGER`] and the crew is above its floor
    /// (no longer counted).
    Leave,
}

impl Crew {
    /// A crew of `spec` with no thread yet; [`Crew::floor`] hires its floor.
    pub fn new(spec: Spec) -> Crew {
        let cap = spec.cap.max(1);
        Crew {
            spec: Spec {
                cap,
                floor: spec.floor.min(cap),
                ..spec
            },
            live: 0,
            free: 0,
            serial: 0,
            roster: Arc::default(),
        }
    }

    /// The threads to start with: the floor.
    pub fn floor(&mut self) -> Vec<Hire> {
        (self.live..self.spec.floor).map(|_| self.hire()).collect()
    }

    /// Called under the queue's lock once `queued` tasks wait: one more
    /// thread, if they are more than the free threads and the cap allows.
    pub fn wanted(&mut self, queued: usize) -> Option<Hire> {
        (queued > self.free && self.live < self.spec.cap).then(|| self.hire())
    }

    fn hire(&mut self) -> Hire {
        self.live += 1;
        self.free += 1;
        let name = format!("{}-{}", self.spec.name, self.serial);
        self.serial += 1;
        Hire {
            name,
            stack: self.spec.stack,
            roster: Arc::clone(&self.roster),
        }
    }

    /// A hired thread could not be started: it is counted no more.
    pub fn not_started(&mut self) {
        self.live -= 1;
        self.free -= 1;
    }

    /// A free thread takes a task.
    pub fn busy(&mut self) {
        debug_assert!(self.free > 0, "a thread took a task it was not free for");
        self.free -= 1;
    }

    /// A thread has run its task and is free again.
    pub fn free(&mut self) {
        self.free += 1;
    }

    /// A free thread ends (the crew is closed): it is counted no more.
    pub fn leave(&mut self) {
        self.live -= 1;
        self.free -= 1;
    }

    /// A free thread found nothing it may take after waiting since
    /// `since`, with `queued` tasks in the queue (which it may not take
    /// yet, as a hook whose token's share is full): whether it stays or
    /// leaves (then it is counted no more). It stays while anything is
    /// queued: a task it could not take may be takeable later, with no
    /// queueing to hire a thread for it then.
    pub fn after_wait(&mut self, since: Instant, queued: usize) -> Idle {
        if queued > 0 || since.elapsed() < LINGER || self.live <= self.spec.floor {
            return Idle::Stay;
        }
        self.leave();
        Idle::Leave
    }

    /// Threads started and not ending.
    pub fn live(&self) -> usize {
        self.live
    }

    /// The crew's threads that have not finished, to wait for.
    pub fn roster(&self) -> Arc<Roster> {
        Arc::clone(&self.roster)
    }
}

/// Waits on `signal` for at most [`LINGER`] (a free thread's wait: it
/// then asks [`Crew::after_wait`] whether to stay).
pub fn wait<'a, T>(signal: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    signal
        .wait_timeout(guard, LINGER)
        .unwrap_or_else(|e| e.into_inner())
        .0
}

impl Hire {
    /// Starts the thread, which runs `body`; the roster counts it until
    /// `body` has returned and dropped what it holds.
    ///
    /// # Errors
    /// The thread cannot be started: call [`Crew::not_started`].
    pub fn start(self, body: impl FnOnce() + Send + 'static) -> io::Result<()> {
        let Hire {
            name,
            stack,
            roster,
        } = self;
        *roster.lock() += 1;
        let leaving = Leaving(Arc::clone(&roster));
        // Not started, the closure is dropped unrun, and `leaving` in it
        // gives its place up at once.
        std::thread::Builder::new()
            .name(name)
            .stack_size(stack)
            .spawn(move || {
                // Dropped last, after `body` and all it owned.
                let _leaving = leaving;
                body();
            })
            .map(drop)
    }

    /// Starts the thread; if it cannot be, says so and has the crew kept
    /// in `state` (found there by `crew`) count it no more: the tasks
    /// queued wait for another of its threads, or the next one hired.
    pub fn start_in<T>(
        self,
        body: impl FnOnce() + Send + 'static,
        state: &Mutex<T>,
        crew: impl FnOnce(&mut T) -> &mut Crew,
    ) {
        let name = self.name.clone();
        if let Err(err) = self.start(body) {
            error!("cannot start thread {name}: {err}");
            crew(&mut state.lock().unwrap_or_else(|e| e.into_inner())).not_started();
        }
    }
}

impl Roster {
    fn lock(&self) -> MutexGuard<'_, usize> {
        self.present.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until every thread of the crew has finished.
    pub fn wait_for_all(&self) {
        let mut present = self.lock();
        while *present > 0 {
            present = self.left.wait(present).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A thread's place on its roster, given up when the thread's body has
/// returned (or unwound).
struct Leaving(Arc<Roster>);

impl Drop for Leaving {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let name = std::thread::current().name().unwrap_or("?").to_owned();
            error!("thread {name} panicked");
        }
        *self.0.lock() -= 1;
        self.0.left.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crew(floor: usize, cap: usize) -> Crew {
        Crew::new(Spec {
            name: "test",
            floor,
            cap,
            stack: 64 * 1024,
        })
    }

    /// A time long enough ago that a thread free since then may leave.
    fn long_ago() -> Instant {
        Instant::now() - LINGER - Duration::from_millis(1)
    }

    #[test]
    fn a_thread_is_hired_for_each_task_no_free_thread_takes_up_to_the_cap() {
        let mut crew = crew(1, 3);
        assert_eq!(crew.floor().len(), 1);
        // The floor's thread is free: one task needs no other.
        assert!(crew.wanted(1).is_none());
        assert!(crew.wanted(2).is_some());
        // Both free until they take: a third task wants a third.
        assert!(crew.wanted(2).is_none());
        assert!(crew.wanted(3).is_some());
        assert!(crew.wanted(9).is_none(), "past the cap");
        assert_eq!(crew.live(), 3);
        crew.busy();
        crew.busy();
        crew.busy();
        assert!(crew.wanted(1).is_none(), "at the cap, the task waits");
    }

    #[test]
    fn an_idle_thread_leaves_only_after_lingering_with_nothing_queued_above_the_floor() {
        let mut crew = crew(1, 4);
        let _floor = crew.floor();
        let _hired = crew.wanted(2);
        assert_eq!(crew.after_wait(Instant::now(), 0), Idle::Stay);
        assert_eq!(crew.after_wait(long_ago(), 1), Idle::Stay, "work queued");
        assert_eq!(crew.after_wait(long_ago(), 0), Idle::Leave);
        assert_eq!(crew.live(), 1);
        assert_eq!(crew.after_wait(long_ago(), 0), Idle::Stay, "the floor");
        // Gone, it is hired again when needed.
        assert!(crew.wanted(2).is_some());
    }

    #[test]
    fn a_crew_without_a_floor_starts_empty_and_a_thread_not_started_is_not_counted() {
        let mut crew = crew(0, 2);
        assert!(crew.floor().is_empty());
        let hire = crew.wanted(1);
        assert!(hire.is_some());
        crew.not_started();
        assert_eq!(crew.live(), 0);
        assert!(crew.wanted(1).is_some());
    }

    #[test]
    fn the_roster_waits_for_every_thread_to_end() {
        let mut crew = crew(0, 2);
        let (tell, told) = std::sync::mpsc::channel();
        let done = Arc::new(Mutex::new(0));
        for _ in 0..2 {
            let hire = crew.wanted(crew.live() + 1).unwrap();
            let (done, tell) = (Arc::clone(&done), tell.clone());
            hire.start(move || {
                tell.send(()).unwrap();
                *done.lock().unwrap() += 1;
            })
            .unwrap();
        }
        told.recv().unwrap();
        crew.roster().wait_for_all();
        assert_eq!(*done.lock().unwrap(), 2);
    }
}
