//! The checksum threads: where files' CRC-32Cs are computed from their
//! bytes, apart from the I/O pool.
//!
//! A file placed in the root by other means has no recorded CRC-32C, and
//! computing one reads the whole file: seconds for a large one. On the I/O
//! pool, a handful of first downloads of large files would take every
//! thread that opens, STATs and listings wait on. So those computations
//! have [`THREADS`] threads of their own, shared by every reactor as the
//! pool is, and two queues, the first served first:
//!
//! - [`Task`]s of the pool's kind whose job is a [`crate::serve::Job::checksum`]:
//!   an answer that states a checksum (a whole GET, a FERRY/1 GET or STAT)
//!   waits for it; the outcome goes back to its reactor's inbox, as an I/O
//!   job's does. Each waiting connection has at most one, so the connection
//!   cap bounds them.
//! - files whose checksum nobody waits for (a range of them was served):
//!   at most [`LATER_QUEUE`] wait; beyond, one is dropped (the next whole
//!   download computes it), so ranged requests cannot grow the queue.
//!
//! Two requests for one version of a file share one computation
//! (`storage/checksum.rs`): the second waits for the first's result, and a
//! file queued for later is queued once.
//!
//! At shutdown, computations under way give up at their next read
//! ([`crate::storage::Storage::stop_checksums`]) and queued ones are
//! dropped: their clients have gone with the reactors.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use log::{debug, error, warn};

use crate::pool::{Shared, Task};
use crate::storage::Later;

/// Checksum threads: two, so that one large file's computation does not
/// hold up every other, and few, so that computations (disk-bound reads of
/// whole files) cannot crowd out the I/O pool's reads.
pub const THREADS: usize = 2;

/// Most files waiting for a computation nobody waits for.
pub const LATER_QUEUE: usize = 64;

/// Stack of a checksum thread: its read buffer is on the heap.
const STACK: usize = 256 * 1024;

#[derive(Default)]
struct Pending {
    waited_for: VecDeque<Task>,
    later: VecDeque<File>,
    closed: bool,
}

struct Queue {
    pending: Mutex<Pending>,
    /// Signalled when work is queued or the threads stop.
    work: Condvar,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `file` for a computation nobody waits for, unless the queue
    /// is full or closed.
    fn queue_later(&self, file: File) -> bool {
        let mut pending = self.lock();
        if pending.closed || pending.later.len() >= LATER_QUEUE {
            debug!("checksum queue full: a computation is left for later");
            return false;
        }
        pending.later.push_back(file);
        drop(pending);
        self.work.notify_one();
        true
    }
}

/// What a checksum thread does next.
enum Work {
    WaitedFor(Task),
    Later(File),
}

/// The checksum threads; dropping them stops them.
pub struct Checksums {
    queue: Arc<Queue>,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl Checksums {
    /// Starts the threads, and has `shared`'s storage queue its later
    /// computations with them.
    ///
    /// # Errors
    /// A thread cannot be started.
    pub fn start(shared: &Arc<Shared>) -> io::Result<Checksums> {
        let queue = Arc::new(Queue {
            pending: Mutex::default(),
            work: Condvar::new(),
        });
        let mut checksums = Checksums {
            queue: Arc::clone(&queue),
            shared: Arc::clone(shared),
            threads: Vec::with_capacity(THREADS),
        };
        for n in 0..THREADS {
            let (queue, shared) = (Arc::clone(&queue), Arc::clone(shared));
            let thread = std::thread::Builder::new()
                .name(format!("ferry-crc-{n}"))
                .stack_size(STACK)
                .spawn(move || work(&queue, &shared))?;
            checksums.threads.push(thread);
        }
        let later = Arc::clone(&queue);
        shared
            .storage
            .set_checksum_queue(Later::new(move |file| later.queue_later(file)));
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
        drop(pending);
        self.queue.work.notify_one();
    }
}

impl Drop for Checksums {
    fn drop(&mut self) {
        let dropped = {
            let mut pending = self.queue.lock();
            pending.closed = true;
            let waited_for = std::mem::take(&mut pending.waited_for);
            (waited_for, std::mem::take(&mut pending.later))
        };
        self.shared.storage.stop_checksums();
        self.queue.work.notify_all();
        drop(dropped);
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                error!("a checksum thread panicked");
            }
        }
    }
}

/// A checksum thread's life: waited-for computations first, then later
/// ones, until the threads stop.
fn work(queue: &Queue, shared: &Shared) {
    while let Some(next) = take(queue) {
        match next {
            Work::WaitedFor(task) => task.run(shared, |_| {}),
            Work::Later(file) => {
                if let Err(err) = shared.storage.checksum(&file) {
                    warn!("a checksum computed after a range failed: {err}");
                }
            }
        }
    }
}

/// The next piece of work; `None` once the threads stop.
fn take(queue: &Queue) -> Option<Work> {
    let mut pending = queue.lock();
    loop {
        if pending.closed {
            return None;
        }
        if let Some(task) = pending.waited_for.pop_front() {
            return Some(Work::WaitedFor(task));
        }
        if let Some(file) = pending.later.pop_front() {
            return Some(Work::Later(file));
        }
        pending = queue.work.wait(pending).unwrap_or_else(|e| e.into_inner());
    }
}
