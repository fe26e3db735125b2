//! The I/O pool: threads that make the file-system calls that may block,
//! so that the reactor never waits on the disk.
//!
//! nginx met the same wall (one event loop, a slow disk) and answered it
//! with thread pools; this is ferry's. The serve layer hands the part of an
//! operation that touches the disk (open, create, rename, unlink, a
//! directory walk, session bookkeeping, fsync) to the pool as a [`Job`]
//! (a file's checksum goes to threads of its own, [`crate::checksums`]);
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
//! Nothing here knows an operation: a job is a closure over [`Ctx`].

use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use log::{error, warn};
use mio::Waker;

use crate::access::per_client::PerClient;
use crate::config::Config;
use crate::hooks::Hooks;
use crate::metrics::PoolMetrics;
use crate::serve::{Ctx, Job, Outcome};
use crate::storage::Storage;
use crate::wire::Protocol;

/// Stack of a worker: jobs keep their buffers on the heap.
const WORKER_STACK: usize = 256 * 1024;

/// What the reactor and the workers share.
#[derive(Debug)]
pub struct Shared {
    /// The root directory.
    pub storage: Storage,
    /// Limits and modes.
    pub config: Config,
    /// The upload hooks (run by their own threads, `hooks/runner.rs`).
    pub hooks: Hooks,
    /// The walks each client address has queued or running.
    pub walks: Arc<PerClient>,
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
    pub fn run(self, shared: &Shared, done: impl FnOnce(Instant)) {
        let Task {
            reply,
            key,
            id,
            peer,
            protocol,
            job,
            asked,
        } = self;
        let ctx = Ctx {
            storage: &shared.storage,
            config: &shared.config,
            hooks: &shared.hooks,
            client: id,
            peer,
            protocol,
            walks: &shared.walks,
            abandoned: None,
        };
        let outcome = job.run(&ctx);
        done(asked);
        reply.deliver(Finished { key, id, outcome });
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

/// A finished job.
pub struct Finished {
    /// The connection's slab key.
    pub key: usize,
    /// Its client id.
    pub id: u64,
    /// What the job came to.
    pub outcome: Outcome,
}

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
}

/// The worker threads and their queue.
pub struct Pool {
    queue: Arc<Queue>,
    /// Queue depth, jobs run and their latency.
    metrics: Arc<PoolMetrics>,
    capacity: usize,
    threads: Vec<JoinHandle<()>>,
}

/// Where a reactor's finished jobs go, and how it is woken for them.
#[derive(Debug)]
pub struct Mailbox {
    outbox: Sender<Finished>,
    waker: Arc<Waker>,
    /// Set by a worker that woke the reactor; cleared by the reactor before
    /// it collects, so a burst of finished jobs costs one wake-up.
    woken: AtomicBool,
}

impl Mailbox {
    /// Hands `finished` to the reactor and wakes it if it is not woken
    /// already. A reactor that has gone (shut down) drops the outcome,
    /// which releases what it holds, here on the worker.
    pub(crate) fn deliver(&self, finished: Finished) {
        let sent = self.outbox.send(finished);
        if sent.is_ok() && !self.woken.swap(true, Ordering::SeqCst) {
            self.wake();
        }
    }

    fn wake(&self) {
        if let Err(err) = self.waker.wake() {
            error!("an I/O thread could not wake a reactor: {err}");
        }
    }
}

/// A reactor's end of the pool: its finished jobs.
pub struct Inbox {
    mailbox: Arc<Mailbox>,
    finished: Receiver<Finished>,
}

impl Inbox {
    /// An inbox for a reactor woken through `waker`.
    pub fn new(waker: Arc<Waker>) -> Inbox {
        let (outbox, finished) = mpsc::channel();
        Inbox {
            mailbox: Arc::new(Mailbox {
                outbox,
                waker,
                woken: AtomicBool::new(false),
            }),
            finished,
        }
    }

    /// The address tasks of this reactor carry.
    pub fn mailbox(&self) -> &Arc<Mailbox> {
        &self.mailbox
    }

    /// Jobs finished since the last call.
    pub fn finished(&self) -> impl Iterator<Item = Finished> + '_ {
        // Cleared before collecting: a job finishing after this wakes the
        // reactor again.
        self.mailbox.woken.store(false, Ordering::SeqCst);
        self.finished.try_iter()
    }
}

impl Pool {
    /// Starts `threads` workers (at least one) with a queue of `capacity`
    /// tasks; each answers the reactor its task names.
    ///
    /// # Errors
    /// A thread cannot be started.
    pub fn start(threads: usize, capacity: usize, shared: Arc<Shared>) -> io::Result<Pool> {
        let queue = Arc::new(Queue {
            state: Mutex::new(Pending {
                tasks: VecDeque::new(),
                long_tasks: VecDeque::new(),
                turned_away: Vec::new(),
                closed: false,
            }),
            work: Condvar::new(),
            long_work: Condvar::new(),
        });
        let mut pool = Pool {
            queue,
            metrics: Arc::default(),
            capacity: capacity.max(1),
            threads: Vec::new(),
        };
        let short = (0..threads.max(1)).map(|n| (Lane::Short, format!("ferry-io-{n}")));
        let long = (0..Pool::long_threads()).map(|n| (Lane::Long, format!("ferry-long-{n}")));
        for (lane, name) in short.chain(long) {
            let worker = Worker {
                lane,
                queue: Arc::clone(&pool.queue),
                metrics: Arc::clone(&pool.metrics),
                shared: Arc::clone(&shared),
            };
            let thread = std::thread::Builder::new()
                .name(name)
                .stack_size(WORKER_STACK)
                .spawn(move || worker.run())?;
            pool.threads.push(thread);
        }
        Ok(pool)
    }

    /// How many long jobs run at once, each on a thread of its own: half
    /// the host's CPUs, at least one, so that the reactor always finds a
    /// CPU free of them.
    pub fn long_threads() -> usize {
        std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
    }

    /// The pool's counters.
    pub fn metrics(&self) -> &PoolMetrics {
        &self.metrics
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
        let wake = if task.job.is_long() {
            pending.long_tasks.push_back(task);
            &self.queue.long_work
        } else {
            pending.tasks.push_back(task);
            &self.queue.work
        };
        // Under the queue's lock, as the take that lowers it.
        self.metrics.queued.fetch_add(1, Ordering::Relaxed);
        drop(pending);
        wake.notify_one();
        Ok(())
    }
}

impl Drop for Pool {
    /// Runs the queued jobs (a commit among them must not be lost), then
    /// joins the workers.
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        self.queue.work.notify_all();
        self.queue.long_work.notify_all();
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                error!("an I/O thread panicked");
            }
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
    fn run(self) {
        if self.lane == Lane::Long {
            yield_to_the_reactor();
        }
        while let Some(task) = self.next() {
            task.run(&self.shared, |asked| {
                self.metrics.jobs.add_shared(1);
                self.metrics.job_seconds.observe_shared(asked.elapsed());
            });
        }
    }

    /// The next task; `None` once the pool is closed and drained. Taking
    /// one makes room in the queue: reactors turned away are woken.
    fn next(&self) -> Option<Task> {
        let mut pending = self.queue.lock();
        loop {
            if let Some(task) = pending.take(self.lane) {
                self.metrics.queued.fetch_sub(1, Ordering::Relaxed);
                let turned_away = std::mem::take(&mut pending.turned_away);
                drop(pending);
                for mailbox in turned_away {
                    mailbox.wake();
                }
                return Some(task);
            }
            if pending.closed {
                return None;
            }
            let signal = match self.lane {
                Lane::Short => &self.queue.work,
                Lane::Long => &self.queue.long_work,
            };
            pending = signal.wait(pending).unwrap_or_else(|e| e.into_inner());
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
