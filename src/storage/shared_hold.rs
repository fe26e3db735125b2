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
//! overlap without a pause kept a LOCK waiting for a gap between them
//! (40 durable 4 KiB PUTs at once on a disk: median LOCKs 18–47 ms, 4–19
//! ms before the holds). A change of this node's says so first
//! ([`SharedHolds::change_turn`]): no new hold of this node's begins
//! until it is made, and those under way each last a rename's moment, or
//! a folder removal's stretch (`lock_table.rs`'s `Stretches`). Another
//! node's change still waits for a gap: each hold is short.

use std::os::fd::OwnedFd;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use rustix::fs::FlockOperation;

use super::StorageError;

/// How a table's lock file is opened (made if need be).
pub(super) type Open<'a> = &'a dyn Fn() -> Result<OwnedFd, StorageError>;

/// This node's holds of one lock file; see the module's header.
#[derive(Debug, Default)]
pub(super) struct SharedHolds {
    state: Mutex<State>,
    /// Told when this node's last waiting change is made.
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// The lock file, opened at the first hold and kept.
    file: Option<OwnedFd>,
    /// Threads holding it now.
    holders: usize,
    /// This node's changes waiting for the file's exclusive lock, or
    /// holding it: no new hold begins meanwhile.
    changes: usize,
}

/// A thread's share of the hold, let go when dropped.
#[derive(Debug)]
pub(super) struct SharedHold<'a>(&'a SharedHolds);

/// A change's turn ([`SharedHolds::change_turn`]), over when dropped.
#[derive(Debug)]
pub(super) struct ChangeTurn<'a>(&'a SharedHolds);

impl SharedHolds {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `file`, the lock file opened already (made at start-up), for
    /// the first hold, which then opens nothing.
    pub(super) fn keep(&self, file: OwnedFd) {
        self.state().file.get_or_insert(file);
    }

    /// A share of the hold, once no change of this node's takes its turn;
    /// the first share opens the file (`open`, once) and waits for its
    /// shared lock (a change under way ends first).
    ///
    /// # Errors
    /// The file cannot be opened or locked.
    pub(super) fn hold(&self, open: Open<'_>) -> Result<SharedHold<'_>, StorageError> {
        let state = self.state();
        let changing = |state: &mut State| state.changes > 0;
        let waited = self.changed.wait_while(state, changing);
        let mut state = waited.unwrap_or_else(PoisonError::into_inner);
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

    /// A change's turn, taken before it waits for the file's exclusive
    /// lock and kept until it lets it go: this node's holds under way
    /// end, and no new one begins, so the change is not kept waiting by
    /// holds that overlap. Never taken by a thread that holds.
    pub(super) fn change_turn(&self) -> ChangeTurn<'_> {
        self.state().changes += 1;
        ChangeTurn(self)
    }
}

impl Drop for ChangeTurn<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.changes -= 1;
        if state.changes == 0 {
            self.0.changed.notify_all();
        }
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
    fn a_changes_turn_keeps_new_holds_out_until_it_is_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock").to_string_lossy().into_owned();
        let holds = SharedHolds::default();
        let under_way = holds.hold(&|| open_at(&path)).unwrap();
        let turn = holds.change_turn();
        let (held, told) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let hold = holds.hold(&|| unreachable!("kept")).unwrap();
                held.send(()).unwrap();
                drop(hold);
            });
            // The hold under way ends; the new one has not begun (were it
            // let in, it would be told within the wait).
            drop(under_way);
            assert!(free(&path), "the change could take the file now");
            let wait = std::time::Duration::from_millis(200);
            assert!(
                told.recv_timeout(wait).is_err(),
                "a hold began in a change's turn"
            );
            drop(turn);
            told.recv().unwrap();
        });
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
