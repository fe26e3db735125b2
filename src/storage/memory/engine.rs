//! The memory store as a server's [`Engine`]: nothing of it outlives the
//! process, so there are no temp files of earlier runs or dead nodes to
//! sweep, no folders to flush and no checksums queued; its sessions
//! expire as the POSIX root's do, and its usage, counted under the
//! tree's one lock with every change, is never off, so a recount finds
//! nothing to set.

use super::MemoryStore;
use crate::model::SessionTtl;
use crate::storage::engine::{Counters, Engine, Flushed};
use crate::storage::{Later, LaterCrc, Recount, StorageError, SweepReport, Unflushed};

impl Engine for MemoryStore {
    fn probe_file_system(&self) -> Vec<String> {
        Vec::new()
    }

    fn remove_stale_temp_files(&self) -> SweepReport {
        SweepReport::default()
    }

    fn remove_gone_nodes_temp_files(&self) -> SweepReport {
        SweepReport::default()
    }

    fn expire_upload_sessions(&self, ttl: SessionTtl) -> usize {
        self.tree().expire(ttl)
    }

    fn recount_usage(&self) -> Result<Recount, StorageError> {
        Ok(Recount::default())
    }

    fn refresh_usage_seen(&self) -> Result<usize, StorageError> {
        Ok(0)
    }

    fn counters(&self) -> Counters {
        Counters {
            sessions: self.tree().open_sessions(),
            ..Counters::default()
        }
    }

    fn runs_brief_work_in_place(&self) -> bool {
        true
    }

    fn flush_then(&self, _: Unflushed, answer: Flushed) {
        // Its commits never owe a flush; whatever is asked is flushed.
        answer(Ok(()));
    }

    fn set_checksum_queue(&self, _: Later) {
        // It queues no checksum: each is computed from bytes in memory.
    }

    fn compute_later(&self, _: LaterCrc) {
        // Only the POSIX root makes these (a file to read).
    }

    fn stop_checksums(&self) {}
}
