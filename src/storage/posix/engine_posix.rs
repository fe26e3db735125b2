//! The POSIX root ([`Storage`]) as the server's [`Engine`]: each verb is
//! the call of `Storage` that does it, found by concern in the files
//! beside this one (sweeps in `sweep.rs`, recounts in `usage_recount.rs`,
//! flushes in `durability.rs`, checksums in `read.rs`).

use super::{Later, LaterCrc, Recount, Storage, StorageError, SweepReport, Unflushed};
use crate::model::SessionTtl;
use crate::storage::engine::{Counters, Engine, Flushed};

impl Engine for Storage {
    fn probe_file_system(&self) -> Vec<String> {
        Storage::probe_file_system(self)
    }

    fn remove_stale_temp_files(&self) -> SweepReport {
        Storage::remove_stale_temp_files(self)
    }

    fn remove_gone_nodes_temp_files(&self) -> SweepReport {
        Storage::remove_gone_nodes_temp_files(self)
    }

    fn expire_upload_sessions(&self, ttl: SessionTtl) -> usize {
        Storage::expire_upload_sessions(self, ttl)
    }

    fn recount_usage(&self) -> Result<Recount, StorageError> {
        Storage::recount_usage(self)
    }

    fn refresh_usage_seen(&self) -> Result<usize, StorageError> {
        Storage::refresh_usage_seen(self)
    }

    fn counters(&self) -> Counters {
        Counters {
            sessions: self.upload_sessions(),
            walked: self.walked_entries(),
            checksums: self.checksums_computed(),
            flushes: (self.flush_batches(), self.flush_waits(), self.dir_flushes()),
            usage: self.usage_seen(),
        }
    }

    fn runs_brief_work_in_place(&self) -> bool {
        Storage::runs_brief_work_in_place(self)
    }

    fn flush_then(&self, owed: Unflushed, answer: Flushed) {
        Storage::flush_then(self, owed, answer);
    }

    fn set_checksum_queue(&self, later: Later) {
        Storage::set_checksum_queue(self, later);
    }

    fn compute_later(&self, later: LaterCrc) {
        Storage::compute_later(self, later);
    }

    fn stop_checksums(&self) {
        Storage::stop_checksums(self);
    }
}
