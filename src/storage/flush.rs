//! Group commit: the directory flushes of concurrent durable commits
//! (`--fsync`), shared. A durable commit flushes its own file (one
//! `fdatasync` per file cannot be shared), renames it into place, then asks
//! for its directory and that directory's ancestors to be flushed. Here
//! those asks meet: a flusher thread of its own takes every directory asked
//! for since its last batch, flushes each once, then answers every ask of
//! the batch; what arrived meanwhile is the next batch.
//!
//! This is PostgreSQL's and InnoDB's group commit without a timer: a batch
//! closes when the flusher takes it, so a commit alone (one upload in
//! flight) is flushed at once, and under load a batch holds whatever
//! arrived while the previous one was on the disk. Fifty uploads into one
//! directory then cost a few directory flushes instead of fifty (each of
//! which, on ext4 and XFS, is a journal commit).
//!
//! An ask is answered by a callback ([`DirFlusher::then`]), so nothing
//! waits for a batch but the flusher: a PUT's commit hands its ask over
//! and frees its I/O thread, and its connection waits in its `Waiting`
//! state until the callback delivers the answer to its reactor (see
//! `serve::Job::after_flush`). A batch is therefore bounded by the
//! connections, not by `--io-threads`. Changes that are not on that path
//! (MOVE, DELETE, a copy's folders) wait on their I/O thread for the same
//! batches ([`DirFlusher::flush`]).
//!
//! ```text
//! commit A: fdatasync(file) rename ask{d,root} ---> flusher: fsync d, fsync root --> answer A
//! commit B:      fdatasync(file) rename ask{d,root} .........   (batch 2)
//! commit C:        fdatasync(file) rename ask{d,root} ........  (batch 2)
//!                                                   flusher: fsync d, fsync root --> answer B, C
//! ```
//!
//! A flush that fails fails every commit of its batch (500, or 507): each
//! was renamed into place, but none is known to be on the disk.
//!
//! The flusher thread starts at the first ask and ends when idle for
//! [`FLUSHER_IDLE`], so an idle server, or a test's storage, keeps none.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use rustix::io::Errno;

use super::{StorageError, open_dir_beneath};

/// How long the flusher thread waits for an ask before it ends.
const FLUSHER_IDLE: Duration = Duration::from_secs(5);

/// Directory `dir` (at `dir_path` beneath `root`, "" for the root) and
/// the directories above it up to the root, opened: what a durable change
/// in `dir` flushes, as its new directories' names may be unflushed.
/// Opened before the change, so that running out of descriptors fails it
/// before it happens, not after.
///
/// # Errors
/// A directory cannot be opened (or `dir` duplicated).
pub(super) fn with_ancestors(
    root: &OwnedFd,
    dir: impl AsFd,
    dir_path: &str,
) -> Result<Vec<OwnedFd>, StorageError> {
    let mut dirs = vec![rustix::io::fcntl_dupfd_cloexec(dir, 0)?];
    let mut path = dir_path;
    while !path.is_empty() {
        path = path.rsplit_once('/').map_or("", |(parent, _)| parent);
        dirs.push(match path {
            "" => rustix::io::fcntl_dupfd_cloexec(root, 0)?,
            path => open_dir_beneath(root, path)?,
        });
    }
    Ok(dirs)
}

/// Directories a durable change still owes a flush, keyed for a batch
/// (device and inode: two paths, or two descriptors, of one directory
/// are one flush). Keyed where they are opened, on an I/O thread, so that
/// handing them to the flusher makes no system call.
#[derive(Debug, Default)]
pub struct Unflushed(Vec<((u64, u64), OwnedFd)>);

impl Unflushed {
    /// `dirs`, keyed.
    ///
    /// # Errors
    /// A directory cannot be stat'ed.
    pub(super) fn of(dirs: Vec<OwnedFd>) -> Result<Unflushed, Errno> {
        dirs.into_iter()
            .map(|dir| {
                let stat = rustix::fs::fstat(&dir)?;
                Ok(((stat.st_dev, stat.st_ino), dir))
            })
            .collect::<Result<_, Errno>>()
            .map(Unflushed)
    }
}

/// What an ask is answered with, once its batch is on the disk.
type Answer = Box<dyn FnOnce(Result<(), Errno>) + Send>;

/// The directory flushes of durable commits, shared (see the module).
#[derive(Debug, Default)]
pub(super) struct DirFlusher {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    /// Woken when an ask arrives.
    asked: Condvar,
    /// Directory flushes made: what `--fsync` costs, per commit.
    flushes: AtomicU64,
    /// Batches flushed: the waits a commit pays (tests count them, to see
    /// that a change shares its commit's batch).
    batches: AtomicU64,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("flushes", &self.flushes)
            .field("batches", &self.batches)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// The batch now gathering: the directories asked for, each once.
    gathering: HashMap<(u64, u64), OwnedFd>,
    /// The asks waiting for it.
    answers: Vec<Answer>,
    /// The flusher thread is running.
    running: bool,
}

impl DirFlusher {
    /// Flushes `dirs` in the next batch, then calls `answer` with how it
    /// went (on the flusher thread: it must be short). Never blocks on the
    /// disk: the reactor may call it.
    pub(super) fn then(&self, dirs: Unflushed, answer: Answer) {
        let mut state = self.inner.lock();
        for (key, dir) in dirs.0 {
            state.gathering.entry(key).or_insert(dir);
        }
        state.answers.push(answer);
        if state.running {
            self.inner.asked.notify_one();
            return;
        }
        let inner = Arc::clone(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("ferry-flush".into())
            .stack_size(crate::crew::STACK)
            .spawn(move || inner.serve());
        match spawned {
            Ok(_) => state.running = true,
            Err(err) => {
                // No thread, so no flush: every ask waiting fails (500)
                // rather than waits for ever.
                log::error!("could not start the flusher thread: {err}");
                let answers = std::mem::take(&mut state.answers);
                state.gathering.clear();
                drop(state);
                answers
                    .into_iter()
                    .for_each(|answer| answer(Err(Errno::AGAIN)));
            }
        }
    }

    /// Flushes directories `dirs` (a commit's directory and its
    /// ancestors), in a batch with whatever other commits ask meanwhile.
    /// Returns once all of them are on stable storage. Blocks: called on
    /// an I/O thread.
    ///
    /// # Errors
    /// A flush of this batch failed (any of its directories).
    pub(super) fn flush(&self, dirs: Vec<OwnedFd>) -> Result<(), Errno> {
        let (done, outcome) = std::sync::mpsc::sync_channel(1);
        self.then(
            Unflushed::of(dirs)?,
            Box::new(move |result| {
                // The receiver waits below: it cannot have gone.
                let _ = done.send(result);
            }),
        );
        outcome.recv().unwrap_or(Err(Errno::IO))
    }

    /// Before a rename into `dirs[0]` from another directory (`dirs` as
    /// [`with_ancestors`] opened them): flushes the directories above it,
    /// and leaves `dirs` holding that one alone, for the flush after the
    /// rename. Where each directory persists on its own, a rename into a
    /// folder whose own name is not yet on the disk (one just made, by
    /// this change or one still in flight) can be kept while the folder is
    /// lost: the file would be under neither name (found by
    /// `tests/crash_states.rs`). The same number of flushes, one more
    /// batch.
    ///
    /// # Errors
    /// As [`DirFlusher::flush`].
    pub(super) fn flush_above(&self, dirs: &mut Vec<OwnedFd>) -> Result<(), Errno> {
        let above = dirs.split_off(1.min(dirs.len()));
        match above.is_empty() {
            true => Ok(()),
            false => self.flush(above),
        }
    }

    /// Directory flushes made since the start.
    pub(super) fn flushes(&self) -> u64 {
        self.inner.flushes.load(Ordering::Relaxed)
    }

    /// Batches flushed since the start.
    pub(super) fn batches(&self) -> u64 {
        self.inner.batches.load(Ordering::Relaxed)
    }
}

impl Inner {
    /// The flusher thread: takes each batch as it gathers, flushes it with
    /// the lock let go (the next gathers meanwhile) and answers its asks;
    /// ends when idle.
    fn serve(&self) {
        let mut state = self.lock();
        loop {
            if state.answers.is_empty() {
                let (next, waited) = self
                    .asked
                    .wait_timeout(state, FLUSHER_IDLE)
                    .unwrap_or_else(|e| e.into_inner());
                state = next;
                if waited.timed_out() && state.answers.is_empty() {
                    state.running = false;
                    return;
                }
                continue;
            }
            let dirs = std::mem::take(&mut state.gathering);
            let answers = std::mem::take(&mut state.answers);
            drop(state);
            let result = self.flush_batch(&dirs);
            drop(dirs);
            answers.into_iter().for_each(|answer| answer(result));
            state = self.lock();
        }
    }

    /// Flushes every directory of a batch, each once; the first failure.
    fn flush_batch(&self, dirs: &HashMap<(u64, u64), OwnedFd>) -> Result<(), Errno> {
        self.batches.fetch_add(1, Ordering::Relaxed);
        let mut failure = None;
        for dir in dirs.values() {
            self.flushes.fetch_add(1, Ordering::Relaxed);
            if let Err(errno) = rustix::fs::fsync(dir) {
                failure.get_or_insert(errno);
            }
        }
        failure.map_or(Ok(()), Err)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &std::path::Path) -> OwnedFd {
        rustix::fs::open(path, super::super::DIR, rustix::fs::Mode::empty()).unwrap()
    }

    #[test]
    fn a_commit_alone_flushes_each_of_its_directories_once() {
        let dir = tempfile::tempdir().unwrap();
        let flusher = DirFlusher::default();
        flusher
            .flush(vec![open(dir.path()), open(dir.path())])
            .unwrap();
        assert_eq!(flusher.flushes(), 1);
    }

    #[test]
    fn concurrent_commits_share_flushes_and_all_return() {
        let dir = tempfile::tempdir().unwrap();
        let flusher = Arc::new(DirFlusher::default());
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (flusher, path) = (Arc::clone(&flusher), dir.path().to_owned());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        flusher.flush(vec![open(&path)]).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        // Every commit was answered; never more flushes than commits.
        assert!(flusher.flushes() <= 16 * 20);
    }

    #[test]
    fn asks_made_while_a_batch_flushes_share_the_next_without_a_thread_each() {
        // Hundreds of asks from one thread that never waits: each is
        // answered once, in batches (not one flush per ask), which a
        // blocking commit per I/O thread could never gather.
        let dir = tempfile::tempdir().unwrap();
        let flusher = DirFlusher::default();
        let (done, answers) = std::sync::mpsc::channel();
        for _ in 0..500 {
            let done = done.clone();
            let dirs = Unflushed::of(vec![open(dir.path())]).unwrap();
            flusher.then(dirs, Box::new(move |result| done.send(result).unwrap()));
        }
        drop(done);
        let results: Vec<_> = answers.iter().collect();
        assert_eq!(results.len(), 500);
        assert!(results.iter().all(Result::is_ok));
        assert!(flusher.batches() < 500, "{} batches", flusher.batches());
        assert_eq!(flusher.flushes(), flusher.batches());
    }
}
