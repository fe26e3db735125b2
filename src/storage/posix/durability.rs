//! What `--fsync` asks of the storage: [`Storage::set_durable`], and
//! the storage's face of group commit (`flush.rs`): a durable commit's
//! owed flushes handed to the flusher's next batch, the hold under which a
//! lone commit flushes its own, and the flusher's counts for the metrics.
//!
//! These only hand work to the flusher or read its counters: none of them
//! may flush or wait for a batch on the calling thread (the reactor calls
//! [`Storage::flush_then`]).

use super::{LoneCommit, Storage, StorageError, Unflushed};

impl Storage {
    /// Makes acknowledgements wait for stable storage (`--fsync`). Here
    /// that means: each directory's line in this run's journal is flushed
    /// before its first temp file is made (once per directory per run), so
    /// the start-up sweep after a power cut finds every temp file the cut
    /// left; a file's delete and rename flush their directories before they
    /// return; a WebDAV lock's record and folder are flushed before its
    /// change is answered. Commits flush in the steps of
    /// [`FileUpload::commit_durably`](super::FileUpload::commit_durably).
    pub fn set_durable(&mut self, durable: bool) {
        self.durable = durable;
        self.dav_locks.set_durable(durable);
    }

    /// Flushes `dirs` (what a step of a [`Durable`](super::Durable) commit left owed) in
    /// the next group-commit batch, then calls `answer` with how it went, on
    /// the flusher thread (it must be short: it hands the answer on).
    /// Never blocks on the disk: the reactor calls it, and no thread waits
    /// for the batch but the flusher (see `flush.rs`).
    pub fn flush_then(
        &self,
        dirs: Unflushed,
        answer: impl FnOnce(Result<(), StorageError>) + Send + 'static,
    ) {
        self.flusher.then(
            dirs,
            Box::new(move |result| answer(result.map_err(StorageError::from))),
        );
    }

    /// A hold under which a durable commit flushes its steps itself, on
    /// this I/O thread, when no other durable change is being flushed or
    /// waits for a batch; `None` then: it joins the batches
    /// ([`Storage::flush_then`]). See `flush.rs`. On a memory root always
    /// one, shared: a commit there owes no flush (`durable_commit.rs`;
    /// a disk mounted beneath flushes its own), so joining a batch would
    /// only hand nothing to the flusher thread and back.
    pub fn lone_commit(&self) -> Option<LoneCommit<'_>> {
        match self.is_in_memory() {
            true => Some(self.flusher.beside_others()),
            false => self.flusher.alone(),
        }
    }

    /// Directory flushes durable commits have made since the start (group
    /// commit shares them: see `flush.rs`).
    pub fn dir_flushes(&self) -> u64 {
        self.flusher.flushes()
    }

    /// Batches of directory flushes made since the start: the waits
    /// durable changes paid.
    pub fn flush_batches(&self) -> u64 {
        self.flusher.batches()
    }

    /// Waits for those batches since the start (each durable change waits
    /// for one or more): per batch, how many changes shared it.
    pub fn flush_waits(&self) -> u64 {
        self.flusher.asks()
    }
}
