//! Failures a test has a memory store make ([`MemoryStore::inject_faults`]):
//! a write or a commit fails, one in so many, as a disk's would (no
//! space, or an I/O error), chosen by a seeded generator, so that a
//! simulation's run with faults replays exactly. A failure comes before
//! any change: what fails leaves the tree as it was.

use super::{MemoryStore, Tree};
use crate::storage::StorageError;

/// A seeded rate of failures.
#[derive(Debug, Clone, Copy)]
pub(super) struct Faults {
    state: u64,
    one_in: u64,
}

impl MemoryStore {
    /// From now on, about one in `one_in` writes and commits fails, as
    /// generator `seed` chooses (alternately no space and an I/O error).
    pub fn inject_faults(&self, seed: u64, one_in: u64) {
        self.tree().faults = Some(Faults {
            state: seed | 1,
            one_in: one_in.max(1),
        });
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
        match faults.state % faults.one_in {
            0 if faults.state & (1 << 40) == 0 => Err(StorageError::NoSpace),
            0 => Err(StorageError::Io(std::io::Error::other(
                "an injected failure",
            ))),
            _ => Ok(()),
        }
    }
}
