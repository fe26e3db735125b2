//! The I/O pool: threads that make the file-system calls that may block,
//! so that the reactor never waits on the disk.
//!
//! nginx met the same wall (one event loop, a slow disk) and answered it
//! with thread pools; this is ferry's. The serve layer hands the part of an
//! operation that touches the disk (open, create, rename, unlink, a
//! directory walk, session bookkeeping, fsync) to the pool as a [`Job`]
//! (a file's checksum goes to threads of its own, [`crate::pool::checksums`]);
//! the connection waits for it in its `Waiting` state while the reactor
//! serves everyone else. A worker runs the job and sends its
//! [`Outcome`] back to the reactor that asked (each reactor has an
//! [`Inbox`]: a channel and its `mio::Waker`; with `--workers N` one pool
//! serves N reactors); the reactor hands the outcome to the connection,
//! tagged by slab key and client id so that an answer for a connection that
//! has gone meanwhile is dropped (which drops what it holds: an open file,
//! an upload's temp file).
//!
//! The queue is bounded. When it is full, [`Pool::submit`] gives the job
//! back and the reactor keeps it until a worker is free (the pool wakes a
//! reactor it turned away as soon as a worker takes a task, since the room
//! may come from another reactor's job); a connection has
//! at most one job at a time (an upload: one write behind it) and reads
//! nothing while it waits, so a flood of requests holds back their own
//! connections, not the server's memory.
//!
//! Long jobs ([`Job::is_long`]: listings, which walk cached directories
//! on the CPU) have a queue and threads of their own
//! ([`Pool::long_threads`], at a lower priority): twenty clients listing a
//! tree of 200,000 files would otherwise keep sixteen threads busy on two
//! CPUs, hold up every other job, and the reactor would wait for a CPU for
//! tens of milliseconds at a time.
//!
//! Both lanes are crews (`crew.rs`): threads started as jobs queue up and
//! ended when idle. The short lane keeps [`IO_FLOOR`] thread and grows to
//! `--io-threads` (by default four per core, 4 to 16:
//! [`crate::config::default_io_threads`]): its threads wait on the disk,
//! and a network file system keeps that many calls in flight.
//! The long lane keeps none and grows to [`Pool::long_threads`], which is
//! sized by the cores, as its jobs compute.
//!
//! Nothing here knows an operation: a job is a closure over [`Ctx`].

pub mod checksums;
pub mod mailbox;

use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use log::warn;

pub use crate::pool::mailbox::{Finished, Inbox, Mailbox};
use crate::threads::crew::{self, Crew, Hire, Idle, Spec};

use crate::access::per_client::PerClient;
use crate::config::Config;
use crate::hooks::Hooks;
use crate::metrics::PoolMetrics;
use crate::serve::{Ctx, Handoff, Job, Served};
use crate::storage::{Engine, StorageError, Unflushed};
use crate::wire::Protocol;

/// I/O threads kept however idle: one, so that a request to an idle
/// server starts no thread; the rest start as jobs queue up.
pub const IO_FLOOR: usize = 1;

/// What the reactor and the workers share.
#[derive(Debug)]
pub struct Shared {
    /// Where the files are kept: the POSIX root the server opened.
    pub engine: Box<dyn Engine>,
    /// Limits and modes.
    pub config: Config,
    /// The upload hooks (run by their own threads, `hooks/runner.rs`).
    pub hooks: Hooks,
    /// The walks each client address has queued or running.
    pub walks: Arc<PerClient>,
}

impl Shared {
    /// What the serve layer is lent for a request.
    pub fn served(&self) -> Served<'_> {
        Served {
            store: &*self.engine,
            config: &self.config,
            hooks: &self.hooks,
            walks: &self.walks,
        }
    }
}

/// A job and the connection (slab key, client id) that waits for it.
pub struct Task {
    /// The reactor to answer.
    pub reply: Arc<Mailbox>,
    /// The connection's slab key.
    pub key: usize,
    /// Its client id: a key can be reused by a newer connection.
    pub id: u64,
    /// The client's address.
    pub peer: IpAddr,
    /// The protocol it speaks.
    pub protocol: Protocol,
    /// What to run.
    pub job: Job,
    /// When the reactor asked for it (for `ferry_io_job_seconds`): a job
    /// that waited in the reactor's backlog counts its wait there too.
    pub asked: Instant,
}

impl Task {
    /// Runs the job in `shared`'s context (on an I/O or a hook thread),
    /// tells `done` when it was asked for, then sends its outcome to the
    /// reactor that asked (so what `done` counts is counted by the time
    /// the client has its answer).
    pub fn run(self, shared: &Arc<Shared>, done: impl FnOnce(Instant)) {
        self.run_flushed(shared, Ok(()), done);
    }

    /// As [`Task::run`], for a job that waited for a group-commit flush
    /// (`serve::Job::upload_after_flush`; on the flusher thread), given how it
    /// went. An outcome that only waits for another flush (a durable
    /// commit's next step) goes straight to the flusher
    /// ([`Task::after_flush`]): through the reactor it would cost two
    /// thread wake-ups more per step, a tenth of a 4 KiB durable PUT's
    /// time on one connection.
    pub fn run_flushed(
        self,
        shared: &Arc<Shared>,
        flushed: Result<(), StorageError>,
        done: impl FnOnce(Instant),
    ) {
        if let Some((reply, finished)) = self.finish(shared, flushed, done) {
            reply.deliver(finished);
        }
    }

    /// As [`Task::run`], on the reactor that asked (a brief job where no
    /// call waits on a device, `serve::Job::brief`): its outcome is handed
    /// back instead of mailed, unless it went on to the flusher.
    pub fn run_here(self, shared: &Arc<Shared>) -> Option<Finished> {
        self.finish(shared, Ok(()), |_| {})
            .map(|(_, finished)| finished)
    }

    /// Runs the job; its outcome for the reactor, with the reactor's
    /// mailbox, or `None` where it went on to the flusher.
    fn finish(
        self,
        shared: &Arc<Shared>,
        flushed: Result<(), StorageError>,
        done: impl FnOnce(Instant),
    ) -> Option<(Arc<Mailbox>, Finished)> {
        let ctx = Ctx::of(shared.served(), (self.id, self.peer), self.protocol);
        // Where it runs and, for an upload's or a send's, its step by name.
        log::trace!("#{} runs {:?}", self.id, self.job);
        let outcome = self.job.run_flushed(&ctx, flushed);
        done(self.asked);
        match outcome.handoff() {
            Handoff::Flusher(job, owed) => {
                let next = Task {
                    job,
                    asked: Instant::now(),
                    ..self
                };
                next.after_flush(shared, owed);
                None
            }
            Handoff::Reactor(outcome) => {
                let finished = Finished {
                    key: self.key,
                    id: self.id,
                    outcome,
                };
                Some((self.reply, finished))
            }
        }
    }

    /// Hands the task, whose job waits for `owed` to be flushed, to the
    /// group commit: no thread waits for the batch, the flusher runs the
    /// job once it is done ([`Task::run_flushed`]).
    pub fn after_flush(self, shared: &Arc<Shared>, owed: Unflushed) {
        let kept = Arc::clone(shared);
        let then = move |flushed| self.run_flushed(&kept, flushed, |_| {});
        shared.engine.flush_then(owed, Box::new(then));
    }

    /// A job that no connection waits for (the release of what a finished
    /// job brought back that nobody wants any more): its outcome is
    /// dropped, never taken for the answer a connection is waiting for.
    pub fn detached(job: Job, reply: Arc<Mailbox>) -> Task {
        Task {
            reply,
            key: usize::MAX,
            id: NOBODY,
            peer: IpAddr::from([0, 0, 0, 0]),
            protocol: Protocol::Ferry,
            job,
            asked: Instant::now(),
        }
    }
}

/// The client id of a detached task: client ids count up from 1.
const NOBODY: u64 = u64::MAX;

struct Queue {
    state: Mutex<Pending>,
    /// Signalled when a short task is queued or the pool closes.
    work: Condvar,
    /// Signalled when a long task is queued or the pool closes.
    long_work: Condvar,
}

/// Which tasks a worker takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lane {
    Short,
    Long,
}

struct Pending {
    tasks: VecDeque<Task>,
    /// Long jobs, for the long-job workers only.
    long_tasks: VecDeque<Task>,
    /// Reactors turned away by a full queue, to wake when there is room.
    turned_away: Vec<Arc<Mailbox>>,
    closed: bool,
    /// Each lane's threads.
    short: Crew,
    long: Crew,
}

impl Pending {
    fn len(&self) -> usize {
        self.tasks.len() + self.long_tasks.len()
    }

    /// The next task for a worker of `lane`.
    fn take(&mut self, lane: Lane) -> Option<Task> {
        match lane {
            Lane::Short => self.tasks.pop_front(),
            Lane::Long => self.long_tasks.pop_front(),
        }
    }

    /// The threads of `lane`.
    fn crew(&mut self, lane: Lane) -> &mut Crew {
        match lane {
            Lane::Short => &mut self.short,
            Lane::Long => &mut self.long,
        }
    }
}

/// The worker threads and their queue.
pub struct Pool {
    queue: Arc<Queue>,
    /// Queue depth, jobs run and their latency.
    metrics: Arc<PoolMetrics>,
    capacity: usize,
    /// What new workers get.
    shared: Arc<Shared>,
}

impl Pool {
    /// Starts a pool of at most `threads` short-job workers (at least
    /// one; [`IO_FLOOR`] of them now, the others as jobs queue up) and
    /// [`Pool::long_threads`] long-job ones (as long jobs queue up), with a
    /// queue of `capacity` tasks; each answers the reactor its task names.
    ///
    /// # Errors
    /// A thread cannot be started.
    pub fn start(threads: usize, capacity: usize, shared: Arc<Shared>) -> io::Result<Pool> {
        let spec = |name, floor, cap| Spec {
            name,
            floor,
            cap,
            stack: crew::STACK,
        };
        let mut short = Crew::new(spec("ferry-io", IO_FLOOR, threads));
        let long = Crew::new(spec("ferry-long", 0, Pool::long_threads()));
        let floor = short.floor();
        let queue = Arc::new(Queue {
            state: Mutex::new(Pending {
                tasks: VecDeque::new(),
                long_tasks: VecDeque::new(),
                turned_away: Vec::new(),
                closed: false,
                short,
                long,
            }),
            work: Condvar::new(),
            long_work: Condvar::new(),
        });
        let pool = Pool {
            queue,
            metrics: Arc::default(),
            capacity: capacity.max(1),
            shared,
        };
        for hire in floor {
            hire.start(pool.worker(Lane::Short))?;
        }
        Ok(pool)
    }

    /// A worker of `lane`'s life, for a thread to run.
    fn worker(&self, lane: Lane) -> impl FnOnce() + Send + 'static {
        let worker = Worker {
            lane,
            queue: Arc::clone(&self.queue),
            metrics: Arc::clone(&self.metrics),
            shared: Arc::clone(&self.shared),
        };
        move || worker.run()
    }

    /// Starts the worker `hire` stands for (a failure is logged: the job
    /// waits for a thread of its lane that is running, or the next one).
    fn start_worker(&self, lane: Lane, hire: Hire) {
        hire.start_in(self.worker(lane), &self.queue.state, |p| p.crew(lane));
    }

    /// How many long jobs run at once, each on a thread of its own: half
    /// the host's CPUs, at least one, so that the reactor always finds a
    /// CPU free of them.
    pub fn long_threads() -> usize {
        (crew::cores() / 2).max(1)
    }

    /// The pool's counters.
    pub fn metrics(&self) -> &PoolMetrics {
        &self.metrics
    }

    /// The threads each lane holds now (for `ferry_io_threads`).
    pub fn threads(&self) -> crate::metrics::PoolThreads {
        let pending = self.queue.lock();
        crate::metrics::PoolThreads {
            short: pending.short.live(),
            long: pending.long.live(),
        }
    }

    /// Queues `task`, or gives it back if the queue is full.
    ///
    /// # Errors
    /// The queue is full: keep the task and submit it again once the
    /// task's reactor is woken (a worker wakes it when it takes a task).
    pub fn submit(&self, task: Task) -> Result<(), Task> {
        let mut pending = self.queue.lock();
        if pending.len() >= self.capacity {
            if !pending
                .turned_away
                .iter()
                .any(|m| Arc::ptr_eq(m, &task.reply))
            {
                pending.turned_away.push(Arc::clone(&task.reply));
            }
            return Err(task);
        }
        let lane = match task.job.is_long() {
            true => Lane::Long,
            false => Lane::Short,
        };
        let queued = match lane {
            Lane::Long => {
                pending.long_tasks.push_back(task);
                pending.long_tasks.len()
            }
            Lane::Short => {
                pending.tasks.push_back(task);
                pending.tasks.len()
            }
        };
        let hire = pending.crew(lane).wanted(queued);
        // Under the queue's lock, as the take that lowers it.
        self.metrics.queued.up();
        drop(pending);
        match lane {
            Lane::Long => self.queue.long_work.notify_one(),
            Lane::Short => self.queue.work.notify_one(),
        }
        if let Some(hire) = hire {
            self.start_worker(lane, hire);
        }
        Ok(())
    }
}

impl Drop for Pool {
    /// Runs the queued jobs (a commit among them must not be lost), then
    /// waits for the workers to end.
    fn drop(&mut self) {
        let rosters = {
            let mut pending = self.queue.lock();
            pending.closed = true;
            [pending.short.roster(), pending.long.roster()]
        };
        self.queue.work.notify_all();
        self.queue.long_work.notify_all();
        for roster in rosters {
            roster.wait_for_all();
        }
    }
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Worker {
    lane: Lane,
    queue: Arc<Queue>,
    metrics: Arc<PoolMetrics>,
    shared: Arc<Shared>,
}

impl Worker {
    /// Takes tasks until the pool closes, or until no task came for a
    /// while and the lane has threads to spare.
    fn run(self) {
        if self.lane == Lane::Long {
            yield_to_the_reactor();
        }
        let mut ran = false;
        while let Some(task) = self.next(ran) {
            task.run(&self.shared, |asked| {
                self.metrics.jobs.add_shared(1);
                self.metrics.job_seconds.observe_shared(asked.elapsed());
            });
            ran = true;
        }
    }

    /// The next task (the worker is free again if it `ran` one); `None`
    /// once the pool is closed and drained, or the worker leaves its lane
    /// idle. Taking one makes room in the queue: reactors turned away are
    /// woken.
    fn next(&self, ran: bool) -> Option<Task> {
        let mut pending = self.queue.lock();
        if ran {
            pending.crew(self.lane).free();
        }
        let idle_since = Instant::now();
        loop {
            if let Some(task) = pending.take(self.lane) {
                pending.crew(self.lane).busy();
                self.metrics.queued.down();
                let turned_away = std::mem::take(&mut pending.turned_away);
                drop(pending);
                for mailbox in turned_away {
                    mailbox.wake();
                }
                return Some(task);
            }
            if pending.closed {
                pending.crew(self.lane).leave();
                return None;
            }
            if pending.crew(self.lane).after_wait(idle_since, 0) == Idle::Leave {
                return None;
            }
            let signal = match self.lane {
                Lane::Short => &self.queue.work,
                Lane::Long => &self.queue.long_work,
            };
            pending = crew::wait(signal, pending);
        }
    }
}

/// How much lower than the reactor's a long-job thread's priority is (in
/// nice steps): when a listing and the reactor both want the one free CPU,
/// the reactor gets it. Only lowered, never raised again, so it needs no
/// privilege; and a long-job thread holds no lock that the reactor waits
/// for while it works, so nothing waits on it the other way round.
const LONG_JOB_NICENESS: i32 = 10;

/// Lowers the calling thread's priority by [`LONG_JOB_NICENESS`] (Linux's
/// nice value is per thread).
fn yield_to_the_reactor() {
    let lowered = rustix::process::getpriority_process(None).and_then(|nice| {
        rustix::process::setpriority_process(None, (nice + LONG_JOB_NICENESS).min(19))
    });
    if let Err(err) = lowered {
        warn!("a long-job thread keeps its priority: {err}");
    }
}
