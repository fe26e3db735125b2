//! The checksum threads: where files' CRC-32Cs are computed from their
//! bytes, apart from the I/O pool.
//!
//! A file placed in the root by other means has no recorded CRC-32C, and
//! computing one reads the whole file: seconds for a large one. On the I/O
//! pool, a handful of first downloads of large files would take every
//! thread that opens, STATs and listings wait on. So those computations
//! have threads of their own (a crew, `crew.rs`: none while none is asked
//! for, at most [`threads`]), shared by every reactor as the pool is, and
//! three queues, served in this order:
//!
//! - [`Task`]s of the pool's kind whose job is a [`crate::serve::Job::checksum`]:
//!   an answer that states a checksum (a whole GET, a FERRY/1 GET or STAT)
//!   waits for it; the outcome goes back to its reactor's inbox, as an I/O
//!   job's does. Each waiting connection has at most one, so the connection
//!   cap bounds them.
//! - [`Ahead`] work: an archive's next member read from the disk while
//!   the one before it is sent, for a zip's CRC-32 (its connection takes
//!   the result when the member's send ends) or only into the page cache
//!   (a tar's). At most [`AHEAD_QUEUE`] wait; beyond, the work is dropped
//!   and the connection computes the CRC itself at the end of the send,
//!   or its send reads the file in, as if nothing had been started.
//! - files whose checksum nobody waits for (a range of them was served):
//!   at most [`LATER_QUEUE`] wait; beyond, one is dropped (the next whole
//!   download computes it), so ranged requests cannot grow the queue. At
//!   most [`LATER_THREADS`] of them run at once, and the crew has one
//!   thread more than [`threads`] for the rest: a STAT or a small GET that
//!   waits for its checksum never queues behind computations of large
//!   files nobody waits for (eight 1-byte reads of cold 2 GiB files held
//!   a STAT 2-10 s when they took every thread; issue 49).
//!
//! Two requests for one version of a file share one computation
//! (`storage/posix/checksum.rs`): the second waits for the first's result, and a
//! file queued for later is queued once.
//!
//! At shutdown, computations under way give up at their next read
//! ([`crate::storage::Engine::stop_checksums`]) and queued ones are
//! dropped: their clients have gone with the reactors.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Instant;

use log::debug;

use crate::pool::{Shared, Task};
use crate::storage::{Ahead, Later, LaterCrc};
use crate::threads::crew::{self, Crew, Hire, Idle, Spec};

/// Most checksum threads: two, so that one large file's computation does
/// not hold up every other, and few, so that computations (disk-bound
/// reads of whole files, CPU-bound where the file is cached) cannot crowd
/// out the I/O pool's reads; one on a one-core host, where a second would
/// only take the reactor's CPU.
pub fn threads() -> usize {
    crew::cores().clamp(1, 2)
}

/// Most files waiting for a computation nobody waits for.
pub const LATER_QUEUE: usize = 64;

/// Most computations nobody waits for running at once: their share of
/// the threads, whatever the queue holds.
pub const LATER_THREADS: usize = 1;

/// Most [`Ahead`] computations waiting for a thread. Each holds a
/// descriptor (a copy of the one being sent), so they are capped as the
/// later queue is; an archive's member whose CRC did not start in time is
/// computed by its connection's own job instead.
pub const AHEAD_QUEUE: usize = 64;

struct Pending {
    waited_for: VecDeque<Task>,
    ahead: VecDeque<Ahead>,
    later: VecDeque<LaterCrc>,
    /// Computations waited for or wanted soon that are running now, and
    /// how many may ([`threads`], read once: it asks the system).
    soon_running: usize,
    soon_share: usize,
    /// Computations nobody waits for that are running now (at most
    /// [`LATER_THREADS`]).
    later_running: usize,
    closed: bool,
    threads: Crew,
}

impl Pending {
    /// The work free threads could take now: each kind within its share,
    /// so that no thread is hired for what must wait anyway.
    fn queued(&self) -> usize {
        let soon = self.waited_for.len() + self.ahead.len();
        let soon = soon.min(self.soon_share.saturating_sub(self.soon_running));
        let later = self
            .later
            .len()
            .min(LATER_THREADS.saturating_sub(self.later_running));
        soon + later
    }

    /// The next piece of work, in the order of the module's header, each
    /// kind within its share of the threads.
    fn next(&mut self) -> Option<Work> {
        if self.soon_running < self.soon_share {
            let soon = match self.waited_for.pop_front() {
                Some(task) => Some(Work::WaitedFor(task)),
                None => self.ahead.pop_front().map(Work::Ahead),
            };
            if soon.is_some() {
                self.soon_running += 1;
                return soon;
            }
        }
        if self.later_running >= LATER_THREADS {
            return None;
        }
        let later = self.later.pop_front()?;
        self.later_running += 1;
        Some(Work::Later(later))
    }

    /// A piece of work taken by [`Pending::next`] has run.
    fn ran(&mut self, later: bool) {
        match later {
            true => self.later_running -= 1,
            false => self.soon_running -= 1,
        }
    }
}

struct Queue {
    pending: Mutex<Pending>,
    /// Signalled when work is queued or the threads stop.
    work: Condvar,
    /// What threads started later get: weak, since the storage in it
    /// holds this queue (for computations nobody waits for).
    shared: Weak<Shared>,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `later`, a computation nobody waits for, unless the queue
    /// is full or closed.
    fn queue_later(self: &Arc<Queue>, later: LaterCrc) -> bool {
        let queued = self.push(|pending| {
            let room = pending.later.len() < LATER_QUEUE;
            if room {
                pending.later.push_back(later);
            }
            room
        });
        if !queued {
            debug!("checksum queue full: a computation is left for later");
        }
        queued
    }

    /// Queues `work` wanted soon, unless the queue is full or closed.
    fn queue_ahead(self: &Arc<Queue>, work: Ahead) -> bool {
        self.push(|pending| {
            let room = pending.ahead.len() < AHEAD_QUEUE;
            if room {
                pending.ahead.push_back(work);
            }
            room
        })
    }

    /// Runs `enqueue` under the lock unless the queue is closed, and if it
    /// queued something, wakes a thread and hires one if that is wanted.
    fn push(self: &Arc<Queue>, enqueue: impl FnOnce(&mut Pending) -> bool) -> bool {
        let mut pending = self.lock();
        if pending.closed || !enqueue(&mut pending) {
            return false;
        }
        let queued = pending.queued();
        let hire = pending.threads.wanted(queued);
        drop(pending);
        self.work.notify_one();
        self.start(hire);
        true
    }

    /// Starts the thread `hire` stands for, if any (unless the server has
    /// gone meanwhile).
    fn start(self: &Arc<Queue>, hire: Option<Hire>) {
        let Some(hire) = hire else {
            return;
        };
        let Some(shared) = self.shared.upgrade() else {
            self.lock().threads.not_started();
            return;
        };
        let queue = Arc::clone(self);
        hire.start_in(
            move || work(&queue, &shared),
            &self.pending,
            |p| &mut p.threads,
        );
    }
}

/// What a checksum thread does next.
enum Work {
    WaitedFor(Task),
    Ahead(Ahead),
    Later(LaterCrc),
}

/// The checksum threads; dropping them stops them.
pub struct Checksums {
    queue: Arc<Queue>,
    shared: Arc<Shared>,
}

impl Checksums {
    /// Makes the threads' queue (they start as computations are asked
    /// for), and has `shared`'s storage queue its later computations
    /// with them.
    ///
    /// # Errors
    /// None now that threads start on demand; kept for the caller's `?`.
    pub fn start(shared: &Arc<Shared>) -> io::Result<Checksums> {
        let threads = Crew::new(Spec {
            name: "ferry-crc",
            floor: 0,
            // The computations waited for (or wanted soon) have
            // `threads()`, the later ones theirs beside them.
            cap: threads() + LATER_THREADS,
            stack: crew::STACK,
        });
        let queue = Arc::new(Queue {
            pending: Mutex::new(Pending {
                waited_for: VecDeque::new(),
                ahead: VecDeque::new(),
                later: VecDeque::new(),
                soon_running: 0,
                soon_share: self::threads(),
                later_running: 0,
                closed: false,
                threads,
            }),
            work: Condvar::new(),
            shared: Arc::downgrade(shared),
        });
        let checksums = Checksums {
            queue: Arc::clone(&queue),
            shared: Arc::clone(shared),
        };
        let (later, ahead) = (Arc::clone(&queue), Arc::clone(&queue));
        shared.engine.set_checksum_queue(Later::new(
            move |crc| later.queue_later(crc),
            move |work| ahead.queue_ahead(work),
        ));
        Ok(checksums)
    }

    /// Queues `task` (a connection waits for its checksum); its outcome
    /// goes to the task's reactor. After shutdown it is dropped, which
    /// drops its outcome's client as a closed reactor would.
    pub fn submit(&self, task: Task) {
        let mut pending = self.queue.lock();
        if pending.closed {
            return;
        }
        pending.waited_for.push_back(task);
        let queued = pending.queued();
        let hire = pending.threads.wanted(queued);
        drop(pending);
        self.queue.work.notify_one();
        self.queue.start(hire);
    }
}

impl Drop for Checksums {
    fn drop(&mut self) {
        let (dropped, roster) = {
            let mut pending = self.queue.lock();
            pending.closed = true;
            let waited_for = std::mem::take(&mut pending.waited_for);
            let ahead = std::mem::take(&mut pending.ahead);
            let later = std::mem::take(&mut pending.later);
            ((waited_for, ahead, later), pending.threads.roster())
        };
        self.shared.engine.stop_checksums();
        self.queue.work.notify_all();
        drop(dropped);
        roster.wait_for_all();
    }
}

/// A checksum thread's life: waited-for computations first, then those
/// wanted soon, then later ones, until the threads stop or none came for a while.
fn work(queue: &Queue, shared: &Arc<Shared>) {
    let mut ran = None;
    while let Some(next) = take(queue, ran) {
        ran = Some(matches!(next, Work::Later(_)));
        match next {
            Work::WaitedFor(task) => task.run(shared, |_| {}),
            Work::Ahead(work) => work(),
            Work::Later(later) => shared.engine.compute_later(later),
        }
    }
}

/// The next piece of work (the thread is free again if it `ran` one:
/// `Some(later)`, whether it was a later one); `None` once the threads
/// stop, or this one leaves the crew idle.
fn take(queue: &Queue, ran: Option<bool>) -> Option<Work> {
    let mut pending = queue.lock();
    if let Some(later) = ran {
        pending.threads.free();
        pending.ran(later);
        // Its share has room again: a thread waiting may take what the
        // share held back.
        queue.work.notify_one();
    }
    let idle_since = Instant::now();
    loop {
        if pending.closed {
            pending.threads.leave();
            return None;
        }
        let next = pending.next();
        if next.is_some() {
            pending.threads.busy();
            return next;
        }
        if pending.threads.after_wait(idle_since, 0) == Idle::Leave {
            return None;
        }
        pending = crew::wait(&queue.work, pending);
    }
}
