//! What an APPEND counted in the usage ledger before its bytes arrived
//! and has not written yet ([`Unwritten`]), shared by the APPEND and its
//! session while it owns the session, so that a newer APPEND taking the
//! session over takes that count on instead of counting its bytes a
//! second time. Kept alike by every engine (the POSIX root's
//! `posix/session_append.rs`, the memory store's `memory/appender.rs`).
//!
//! Why: a client whose connection dropped without a word reconnects and
//! goes on at once; its old APPEND, cut off but not yet timed out, would
//! otherwise hold its count-ahead until then, and near a quota's edge the
//! new APPEND would be refused (507) for bytes counted twice.
//!
//! Must never hand on more than the older APPEND has left, nor let both
//! give the same bytes back: the engine serializes every change (the
//! session's turn, the memory store's lock).

use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes an APPEND counted ahead and has neither written nor handed on.
#[derive(Debug, Default)]
pub(crate) struct Unwritten(AtomicU64);

impl Unwritten {
    pub(crate) fn new(left: u64) -> Self {
        Self(AtomicU64::new(left))
    }

    /// What is left now.
    pub(crate) fn left(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Says what is left, by its APPEND as it writes.
    pub(crate) fn set(&self, left: u64) {
        self.0.store(left, Ordering::SeqCst);
    }

    /// Hands up to `wanted` on to a newer APPEND; how much that is.
    pub(crate) fn hand_on(&self, wanted: u64) -> u64 {
        let taken = self.left().min(wanted);
        self.0.fetch_sub(taken, Ordering::SeqCst);
        taken
    }

    /// Takes what is left back, by its APPEND as it ends: none of it can
    /// be handed on after.
    pub(crate) fn take_rest(&self) -> u64 {
        self.0.swap(0, Ordering::SeqCst)
    }
}
