//! Failures a test has a memory store make ([`MemoryStore::inject_faults`]):
//! a write or a commit fails, one in so many, as a disk's would (no
//! space, or an I/O error), chosen by a seeded generator, so that a
//! simulation's run with faults replays exactly. A failure comes before
//! any change: what fails leaves the tree as it was.
//!
//! And a crash ([`MemoryStore::restart`]): the store as a server started
//! again after its process was killed finds it.

use super::{MemoryStore, Tree};
use crate::storage::StorageError;

/// A seeded rate of failures.
#[derive(Debug, Clone, Copy)]
pub(super) struct Faults {
    state: u64,
    one_in: u64,
    /// How many failed so far.
    fired: u64,
}

impl MemoryStore {
    /// From now on, about one in `one_in` writes and commits fails, as
    /// generator `seed` chooses (alternately no space and an I/O error).
    pub fn inject_faults(&self, seed: u64, one_in: u64) {
        // Mixed (SplitMix64's finalizer): a small seed is no small state.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        self.tree().faults = Some(Faults {
            state: (z ^ (z >> 31)).max(1),
            one_in: one_in.max(1),
            fired: 0,
        });
    }

    /// How many injected failures fired so far.
    pub fn faults_fired(&self) -> u64 {
        self.tree().faults.map_or(0, |faults| faults.fired)
    }

    /// The store as a server restarted after a crash finds it (the
    /// simulation's, issue 77): what the disk held stays, what only the
    /// killed process held goes. Files stay, and so do upload sessions
    /// with their staged bytes and the WebDAV locks (the POSIX engine
    /// keeps them all on disk). An upload never committed leaves nothing:
    /// its bytes were its handle's, which the caller forgets as the
    /// process's memory went, no destructor run (the folders its begin
    /// made stay, empty, where the POSIX engine's start-up sweep prunes
    /// them). Each session is free again, as the kernel lets go of a dead
    /// process's locks: no APPEND owns it, no commit or part runs; and
    /// what APPENDs and parts counted before their bytes arrived counts no
    /// more, as the POSIX engine's start-up recount drops a dead run's
    /// reservations. Nothing committed is lost: a commit is in place at
    /// once ([`Committing::Done`](crate::storage::Committing::Done)), so
    /// this store holds nothing unflushed for a crash to take.
    pub fn restart(&self) {
        let mut tree = self.tree();
        for session in tree.sessions.values_mut() {
            session.writer = 0;
            session.unwritten = std::sync::Arc::default();
            session.committing = false;
            session.parts_arriving = 0;
            session.ahead = 0;
        }
    }
}

impl Tree {
    /// The failure due now, if one is.
    ///
    /// # Errors
    /// [`StorageError::NoSpace`] or [`StorageError::Io`], as chosen.
    pub(super) fn fault(&mut self) -> Result<(), StorageError> {
        let Some(faults) = &mut self.faults else {
            return Ok(());
        };
        faults.state ^= faults.state << 13;
        faults.state ^= faults.state >> 7;
        faults.state ^= faults.state << 17;
        if faults.state % faults.one_in != 0 {
            return Ok(());
        }
        faults.fired += 1;
        match faults.state & (1 << 40) {
            0 => Err(StorageError::NoSpace),
            _ => Err(StorageError::Io(std::io::Error::other(
                "an injected failure",
            ))),
        }
    }
}
