//! Threads beneath every layer: crews of one kind started on demand up
//! to a cap and ended when idle, the relay that keeps standard error
//! writable, the one reader that re-reads a file on SIGHUP, and [`lock`]
//! for the small tables threads share. (The I/O pool and its threads are
//! `pool/`.)

use std::sync::{Mutex, MutexGuard, PoisonError};

pub mod crew;
pub mod reload;
pub mod stderr_relay;

/// `mutex`'s guard, poisoned or not. For tables whose every change under
/// the lock is whole (a push, a removal, an assignment): a panic elsewhere
/// cannot leave them half-changed, so a poisoned lock holds nothing worse.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
