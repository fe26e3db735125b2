//! What the server asks of the engine it serves from beyond the requests'
//! verbs ([`Engine`]): the upkeep its sweeps thread runs (temp files of
//! dead runs, expired sessions, quota recounts), the hand-overs of its
//! own threads (the group commit's flushes, the checksum threads' queue)
//! and the counters a metrics scrape reads. The requests' verbs are
//! [`Store`]'s: serve/ is lent the engine as a `&dyn Store` and never
//! sees these.
//!
//! Each verb is the engine's to answer as it keeps its files: the POSIX
//! root walks its directories and flushes its folders; a store with
//! nothing to sweep or flush answers at once that there was nothing.

use std::fmt;

use super::{Later, LaterCrc, Recount, StorageError, Store, SweepReport, Unflushed, UsageSeen};
use crate::model::SessionTtl;

/// How a flush asked of [`Engine::flush_then`] went, told on the thread
/// that flushed (it must be short: it hands the answer on).
pub type Flushed = Box<dyn FnOnce(Result<(), StorageError>) + Send>;

/// What an engine has counted since the start, for a metrics scrape.
#[derive(Debug, Default)]
pub struct Counters {
    /// Upload sessions open.
    pub sessions: u64,
    /// Directory entries read by walks.
    pub walked: u64,
    /// CRC-32Cs computed from files' bytes.
    pub checksums: u64,
    /// Durable changes' flush batches, the waits they answered, and the
    /// folders they flushed.
    pub flushes: (u64, u64, u64),
    /// Quota accounts' usage as this node last saw it, and the recounts.
    pub usage: UsageSeen,
}

/// The engine a server runs on; see the module's header. Every verb but
/// [`Engine::runs_brief_work_in_place`], [`Engine::flush_then`] and
/// [`Engine::counters`] may block on the disk: the sweeps' and the
/// checksum threads call them, never a reactor.
pub trait Engine: Store {
    /// Problems of the file system under the engine worth a warning at
    /// start-up (one line each).
    fn probe_file_system(&self) -> Vec<String>;

    /// Removes the temp files this node's earlier runs left.
    fn remove_stale_temp_files(&self) -> SweepReport;

    /// Removes the temp files of nodes that have died since they wrote.
    fn remove_gone_nodes_temp_files(&self) -> SweepReport;

    /// Removes the upload sessions `ttl` lets go; how many.
    fn expire_upload_sessions(&self, ttl: SessionTtl) -> usize;

    /// Counts quota usage afresh, setting the accounts nobody changed
    /// meanwhile.
    ///
    /// # Errors
    /// The engine's: the accounts stay as counted.
    fn recount_usage(&self) -> Result<Recount, StorageError>;

    /// Reads afresh what every node counted, for the metrics; the
    /// accounts read.
    ///
    /// # Errors
    /// The engine's: the metrics show what was seen before.
    fn refresh_usage_seen(&self) -> Result<usize, StorageError>;

    /// What the engine has counted, read without waiting on a device.
    fn counters(&self) -> Counters;

    /// Whether brief work (`serve::Job::brief`) may run on the reactor:
    /// where no call of it waits on a device.
    fn runs_brief_work_in_place(&self) -> bool;

    /// Flushes `owed` (what a durable commit's step left) with others,
    /// then tells `answer` how it went. Never blocks: the reactor calls
    /// it.
    fn flush_then(&self, owed: Unflushed, answer: Flushed);

    /// Where the engine queues checksum work nobody waits for yet (the
    /// server's checksum threads), given once.
    fn set_checksum_queue(&self, later: Later);

    /// Computes a checksum queued by the engine (on a checksum thread).
    fn compute_later(&self, later: LaterCrc);

    /// Makes checksum computations under way give up and later ones fail:
    /// the server is stopping.
    fn stop_checksums(&self);
}

/// An engine shows as its kind alone (see `dyn Store`'s).
impl fmt::Debug for dyn Engine + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Engine")
    }
}
