//! The storage seam: what serve/ asks of the engine that keeps the files
//! ([`Store`], [`SessionStore`]), the values crossing it, its errors
//! ([`StorageError`]) and the handles an upload, an APPEND and an S3 part
//! are written through. The engines stand beside it, each in its own
//! folder: the POSIX root ([`Storage`], `posix/`) and a store in memory
//! (`memory/`, the conformance tests' and the simulation's).
//!
//! This file is the folder's face: the module list and what the folder
//! exports, the POSIX engine's names as they were before it had a folder
//! of its own (`crate::storage::Storage`, `crate::storage::gate`). What
//! both engines keep alike sits here too, so that neither names the
//! other's files: a walk's pruning by prefix (`store.rs`), what a folder's
//! walk left (`left.rs`), a file counted in a `Usage` (`store_values.rs`),
//! the mark of a kept upload (`session_store.rs`) and the listings'
//! memory (`spool_room.rs`).

mod appender_handle;
pub mod engine;
mod error;
mod left;
#[cfg(feature = "shares")]
mod link_table;
mod lock_table;
pub mod memory;
mod part_handle;
pub mod posix;
mod session_store;
mod shared_hold;
mod spool_room;
mod store;
mod store_values;
mod unwritten;
mod upload_handle;

pub use appender_handle::{Appender, EngineAppender};
pub use engine::{Counters, Engine, Flushed};
pub use error::{NO_BUCKET, STORAGE_FAILURES, StorageError, storage_failures};
pub use left::{Left, MAX_NAMED};
#[cfg(feature = "shares")]
pub use link_table::{DecideLinks, LinkEdit, LinkTable};
pub use lock_table::{Decide, LockTable, Steady};
pub use part_handle::{EnginePart, PartUpload};
pub use posix::{
    Ahead, Appending, Claim, Committed, Copied, DEFAULT_MIN_FREE_CAP, DavLocks, Durable, Edit,
    FileAppender, FilePart, FileUpload, IdKey, LOCKS_DIR, Landed, Later, LaterCrc, LoneCommit,
    Look, MAX_RECORD, Member, MinFree, NODES_DIR, NoRoom, OpenFile, OverQuota, PROPS_DIR, Part,
    Recount, ReserveAsWritten, RootInUse, SESSIONS_DIR, SMALLEST_PART, Storage, SweepReport,
    USAGE_DIR, Unflushed, UsageSeen, ZipCrc, ZipCrcRecord, gate, new_token, over_quota,
    record_md5_tag, root_in_use, session_id,
};
pub use session_store::{Admit, Choose, Include, SessionStore, Visit, first_opener};
pub use spool_room::{DEFAULT_LISTING_MEMORY, Room};
pub use store::{Enter, Store, Take, Wanted};
pub use store_values::{
    CopyTree, Cursor, GoOn, Judge, Landable, Open, Opened, Parents, PropEdit, Removable, Spill,
};
pub use upload_handle::{Committing, EngineUpload, Upload};
