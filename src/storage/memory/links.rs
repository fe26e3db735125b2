//! The memory store's share links: every link under one mutex, each
//! change one check-and-change under it, as the POSIX engine's under its
//! `flock` (`posix/share_links.rs`).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use super::now;
use crate::model::ShareLink;
use crate::storage::{DecideLinks, LinkTable, StorageError};

/// The links, by id.
#[derive(Debug, Default)]
pub(super) struct MemoryLinks {
    table: Mutex<BTreeMap<String, ShareLink>>,
}

impl LinkTable for MemoryLinks {
    fn now(&self) -> i64 {
        now().0
    }

    fn link(&self, id: &str) -> Result<Option<ShareLink>, StorageError> {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(table.get(id).cloned())
    }

    fn all(&self) -> Result<Vec<ShareLink>, StorageError> {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(table.values().cloned().collect())
    }

    fn edit(&self, decide: DecideLinks<'_>) -> Result<(), StorageError> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let links: Vec<ShareLink> = table.values().cloned().collect();
        let Some(edit) = decide(&links, now().0) else {
            return Ok(());
        };
        edit.check()?;
        for id in &edit.remove {
            table.remove(id);
        }
        for link in edit.write {
            table.insert(link.id.clone(), link);
        }
        Ok(())
    }
}
