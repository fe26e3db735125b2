//! Group commit: the directory flushes of concurrent durable commits
//! (`--fsync`), shared. A durable commit flushes its own file (one
//! `fdatasync` per file cannot be shared), renames it into place, then asks
//! for its directory and that directory's ancestors to be flushed. Here
//! those asks meet: one committer at a time (the leader) flushes every
//! directory asked for since the last batch, once each, while the others
//! wait; when it is done, all of them are answered together, and the next
//! waiting committer leads the batch that gathered meanwhile.
//!
//! This is PostgreSQL's and InnoDB's leader/follower group commit without
//! a timer: a batch closes when the leader takes it, so a commit alone
//! (one upload in flight) is flushed at once, as before, and under load
//! a batch holds whatever arrived while the previous one was on the disk.
//! Fifty uploads into one directory then cost a few directory flushes
//! instead of fifty (each of which, on ext4 and XFS, is a journal commit).
//!
//! ```text
//! commit A: fdatasync(file) rename ask{d,root} --lead--> fsync d, fsync root --> answer A
//! commit B:      fdatasync(file) rename ask{d,root} ..wait......................  (batch 2)
//! commit C:        fdatasync(file) rename ask{d,root} ..wait..................... (batch 2)
//!                                          B leads batch 2: fsync d, fsync root --> answer B, C
//! ```
//!
//! A flush that fails fails every commit of its batch (500, or 507): each
//! was renamed into place, but none is known to be on the disk.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use rustix::io::Errno;

use super::{StorageError, open_dir_beneath};

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

/// The directory flushes of durable commits, shared (see the module).
#[derive(Debug, Default)]
pub(super) struct DirFlusher {
    state: Mutex<State>,
    /// Woken when a batch is done.
    done: Condvar,
    /// Directory flushes made: what `--fsync` costs, per commit.
    flushes: AtomicU64,
    /// Batches flushed: the waits a commit pays (tests count them, to see
    /// that a change shares its commit's batch).
    batches: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    /// The batch now gathering: the directories asked for (each once, by
    /// device and inode: two paths, or two descriptors, of one directory
    /// are one flush).
    gathering: HashMap<(u64, u64), OwnedFd>,
    /// Its number; batches are flushed in order.
    next: u64,
    /// The commits waiting for it.
    members: usize,
    /// A leader is flushing a batch.
    flushing: bool,
    /// The batches done.
    done: u64,
    /// Batches whose flush failed: the error, and how many of their
    /// commits have yet to see it.
    failed: HashMap<u64, (Errno, usize)>,
}

impl DirFlusher {
    /// Flushes directories `dirs` (a commit's directory and its
    /// ancestors), in a batch with whatever other commits ask meanwhile.
    /// Returns once all of them are on stable storage. Blocks: called on
    /// an I/O thread.
    ///
    /// # Errors
    /// A flush of this batch failed (any of its directories).
    pub(super) fn flush(&self, dirs: Vec<OwnedFd>) -> Result<(), Errno> {
        let mut state = self.lock();
        for dir in dirs {
            let stat = rustix::fs::fstat(&dir)?;
            state
                .gathering
                .entry((stat.st_dev, stat.st_ino))
                .or_insert(dir);
        }
        let mine = state.next;
        state.members += 1;
        loop {
            if state.done > mine {
                return state.outcome(mine);
            }
            if !state.flushing {
                state = self.lead(state);
                continue;
            }
            state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
        }
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

    /// Takes the gathering batch, flushes it with the lock let go (others
    /// gather the next meanwhile), and tells its waiters.
    fn lead<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        let batch = state.next;
        let dirs = std::mem::take(&mut state.gathering);
        let members = std::mem::take(&mut state.members);
        state.next += 1;
        state.flushing = true;
        drop(state);
        let mut failure = None;
        self.batches.fetch_add(1, Ordering::Relaxed);
        for dir in dirs.values() {
            self.flushes.fetch_add(1, Ordering::Relaxed);
            if let Err(errno) = rustix::fs::fsync(dir) {
                failure.get_or_insert(errno);
            }
        }
        let mut state = self.lock();
        if let Some(errno) = failure {
            state.failed.insert(batch, (errno, members));
        }
        state.done = batch + 1;
        state.flushing = false;
        self.done.notify_all();
        state
    }

    /// Directory flushes made since the start.
    pub(super) fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    /// Batches flushed since the start.
    pub(super) fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// How batch `batch` (done) went, for one of its commits.
    fn outcome(&mut self, batch: u64) -> Result<(), Errno> {
        let Some((errno, left)) = self.failed.get_mut(&batch) else {
            return Ok(());
        };
        let errno = *errno;
        *left -= 1;
        if *left == 0 {
            self.failed.remove(&batch);
        }
        Err(errno)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
}
