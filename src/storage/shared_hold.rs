//! One node's shared hold of a lock table's file (`LockTable::steady`),
//! taken by many threads at once through one descriptor: the first holder
//! takes the file's shared `flock`, the last lets it go. A hold so costs no
//! `open` or `close`, and no system call at all while another thread holds
//! already (an `open`, `flock` and `close` of its own each time cost a
//! 4 KiB PUT an eighth of its rate: 3.0 µs against 0.75 µs here).
//!
//! A change takes the file's exclusive lock through a descriptor of its
//! own, on this node as on any other, so it waits for the holds under way.
//! `flock` lets new shared holds in while it waits, so uploads that
//! overlap without a pause keep a LOCK waiting for a gap between them;
//! each hold lasts a rename's moment (never a flush), or a folder
//! removal's stretch (`lock_table.rs`'s `Stretches`). With 40 durable
//! 4 KiB PUTs at once on a disk, a LOCK's median was 18–47 ms, 4–19 ms
//! before the holds. Keeping this node's new holds out while a change
//! waits brought it back to 5–21 ms, but was not kept: a change waiting
//! on another node's holds would then stop this node's writes too, a
//! stream of changes could starve them, and an upload committed on the
//! loop (a root in memory) could wait out a walk's stretch.

use std::os::fd::OwnedFd;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustix::fs::FlockOperation;

use super::StorageError;

/// How a table's lock file is opened (made if need be).
pub(super) type Open<'a> = &'a dyn Fn() -> Result<OwnedFd, StorageError>;

/// This node's holds of one lock file; see the module's header.
#[derive(Debug, Default)]
pub(super) struct SharedHolds {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The lock file, opened at the first hold and kept.
    file: Option<OwnedFd>,
    /// Threads holding it now.
    holders: usize,
}

/// A thread's share of the hold, let go when dropped.
#[derive(Debug)]
pub(super) struct SharedHold<'a>(&'a SharedHolds);

impl SharedHolds {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `file`, the lock file opened already (made at start-up), for
    /// the first hold, which then opens nothing.
    pub(super) fn keep(&self, file: OwnedFd) {
        self.state().file.get_or_insert(file);
    }

    /// A share of the hold; the first share opens the file (`open`, once)
    /// and waits for its shared lock (a change under way ends first).
    ///
    /// # Errors
    /// The file cannot be opened or locked.
    pub(super) fn hold(&self, open: Open<'_>) -> Result<SharedHold<'_>, StorageError> {
        let mut state = self.state();
        if state.holders == 0 {
            let file = match state.file.take() {
                Some(file) => file,
                None => open()?,
            };
            let locked = rustix::fs::flock(&file, FlockOperation::LockShared);
            state.file = Some(file);
            locked?;
        }
        state.holders += 1;
        Ok(SharedHold(self))
    }
}

impl Drop for SharedHold<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.holders -= 1;
        if state.holders == 0
            && let Some(file) = &state.file
        {
            // Let go explicitly: a child being spawned holds a copy of
            // the descriptor until its exec (`posix/flock.rs`).
            let _ = rustix::fs::flock(file, FlockOperation::Unlock);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_at(path: &str) -> Result<OwnedFd, StorageError> {
        let flags = rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CREATE;
        Ok(rustix::fs::open(
            path,
            flags,
            rustix::fs::Mode::from_raw_mode(0o600),
        )?)
    }

    /// Whether the file's exclusive lock is free, tried from a descriptor
    /// of its own (as a change takes it).
    fn free(path: &str) -> bool {
        let file = open_at(path).unwrap();
        let how = FlockOperation::NonBlockingLockExclusive;
        let taken = rustix::fs::flock(&file, how).is_ok();
        let _ = rustix::fs::flock(&file, FlockOperation::Unlock);
        taken
    }

    #[test]
    fn the_file_is_held_while_any_share_lives_and_let_go_with_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock").to_string_lossy().into_owned();
        let holds = SharedHolds::default();
        let first = holds.hold(&|| open_at(&path)).unwrap();
        let second = holds.hold(&|| unreachable!("opened once")).unwrap();
        assert!(!free(&path));
        drop(first);
        assert!(!free(&path));
        drop(second);
        assert!(free(&path));
        // Held again through the same descriptor.
        let again = holds.hold(&|| unreachable!("kept")).unwrap();
        assert!(!free(&path));
        drop(again);
        assert!(free(&path));
    }

    #[test]
    fn a_file_kept_at_start_up_serves_the_first_hold() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock").to_string_lossy().into_owned();
        let holds = SharedHolds::default();
        holds.keep(open_at(&path).unwrap());
        let first = holds.hold(&|| unreachable!("kept at start-up")).unwrap();
        assert!(!free(&path));
        drop(first);
        assert!(free(&path));
    }
}
