//! The memory store's WebDAV lock table: the live locks under one mutex,
//! each change one check-and-change under it, as the POSIX engine's under
//! its `flock` (`posix/dav_locks.rs`), and held still by a write
//! between its judgement and its change by holding that mutex (for a
//! rename in memory: a moment; reads of the table wait for it too).

use std::sync::{Arc, Mutex, PoisonError};

use super::now;
use crate::model::DavLock;
use crate::storage::StorageError;
use crate::storage::lock_table::{Decide, LockTable, Steady};

/// The locks, expired ones dropped as they are read.
#[derive(Debug, Default)]
pub(super) struct MemoryLocks {
    table: Mutex<Arc<[DavLock]>>,
}

impl MemoryLocks {
    /// The live locks now, with the time they were judged by.
    fn live(table: &[DavLock]) -> (Arc<[DavLock]>, i64) {
        let now = now().0;
        let live: Arc<[DavLock]> = table.iter().filter(|l| l.expires > now).cloned().collect();
        (live, now)
    }
}

impl LockTable for MemoryLocks {
    fn now(&self) -> i64 {
        now().0
    }

    fn fresh(&self) -> Option<Arc<[DavLock]>> {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        Some(MemoryLocks::live(&table).0)
    }

    fn current(&self) -> Result<Arc<[DavLock]>, StorageError> {
        Ok(self.fresh().unwrap_or_else(|| Arc::from([])))
    }

    fn steady(&self) -> Result<(Steady<'_>, Arc<[DavLock]>), StorageError> {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let live = MemoryLocks::live(&table).0;
        Ok((Steady::in_memory(table), live))
    }

    fn edit(&self, decide: Decide<'_>) -> Result<(), StorageError> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let (live, now) = MemoryLocks::live(&table);
        let Some(edit) = decide(&live, now) else {
            return Ok(());
        };
        let mut locks: Vec<DavLock> = live.iter().cloned().collect();
        locks.retain(|lock| !edit.remove.contains(&lock.token));
        for lock in edit.write {
            locks.retain(|old| old.token != lock.token);
            locks.push(lock);
        }
        *table = locks.into();
        Ok(())
    }
}
