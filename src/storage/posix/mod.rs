//! The POSIX engine, the root directory jail: every file operation the
//! server performs on a root on disk, behind the seam of `storage/`
//! ([`Store`], [`SessionStore`]).
//!
//! Names reach this module already validated ([`Name`](crate::name::Name)), and every path is
//! walked one segment at a time with `openat(O_NOFOLLOW)` from a descriptor
//! of the root, so no name and no symlink planted inside the root can lead
//! outside it. Symlinks are never followed: a symlinked file reads as
//! forbidden, a symlinked directory as absent, and LIST skips both.
//!
//! Uploads are atomic: bytes go to a hidden temp file (`.ferry-tmp-*`) in the
//! target's directory, which is renamed over the target only once complete
//! and verified. Readers see the old file or the new one, never a mix. A
//! [`FileUpload`] that is dropped without [`FileUpload::commit`] removes its temp
//! file, so every abort path (reset, timeout, shutdown) cleans up; temp files
//! left by a killed process are removed by [`Storage::remove_stale_temp_files`]
//! at startup, and those of a node that dies while others run by
//! [`Storage::remove_gone_nodes_temp_files`] on a live node every period.
//!
//! Several servers (nodes) may share one root, each under its own node id
//! (`nodes.rs`, `lock.rs`): a temp file's name says which node and which run
//! made it, and no node removes a live node's.
//!
//! All calls here block the calling thread on the disk, never on a peer, so
//! the reactor makes them through the I/O pool ([`crate::pool`]); the only
//! ones it makes itself are those that promise not to wait
//! ([`Storage::open_read_cached`], [`Storage::surely_unrecorded`]). A file's CRC-32C is looked up where it
//! is opened but computed only by [`Storage::checksum`], on the server's
//! checksum threads (`crate::pool::checksums`). `Storage` is shared by the reactor and
//! the pool's threads: every method takes `&self`.
//!
//! This file is the folder's face: the [`Storage`] struct, its opening,
//! the module list and what the folder exports. Its calls live by concern
//! in the files beside it (docs/architecture.md's module map): the jail's
//! lookups in `jail.rs`, reads in `read.rs`, uploads in `upload.rs`,
//! folders in `folders.rs`, removals in `remove.rs`, WebDAV's state in
//! `dav_locks.rs` and `dead_props.rs`, `--fsync` in `durability.rs`,
//! sessions in `sessions.rs` and its `session_*.rs`; it must not grow
//! calls of its own again. The seam's names (`StorageError`, `Upload`,
//! the store's values) it takes from `storage/` for the files beside it,
//! which name them as they name each other's.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use rustix::fs::Mode;
use rustix::io::Errno;

use crate::name::RESERVED_PREFIX;
use resource::space_of;

mod checksum;
mod copy;
mod cursor;
mod dav_locks;
mod dead_props;
mod durability;
mod durable_commit;
mod engine_posix;
mod file_info;
mod flock;
mod flush;
mod folders;
pub mod gate;
mod headroom;
mod health;
mod inode_map;
mod jail;
mod lock;
mod lock_scope;
mod name_locks;
mod nodes;
mod part_footer;
mod part_sizes;
mod part_slots;
mod parts;
mod parts_folder;
mod probe;
mod prop_moves;
mod read;
mod remove;
mod rename;
mod reserve;
mod resource;
mod rules_file;
mod session_append;
mod session_begin;
mod session_commit;
mod session_expiry;
mod session_files;
mod session_index;
mod session_kept;
mod session_list;
mod session_state;
mod sessions;
mod settled;
#[cfg(feature = "shares")]
mod share_links;
mod shared_files;
mod spool_room;
mod staging;
mod store_posix;
mod store_posix_sessions;
mod sweep;
mod tree;
mod unflushed;
mod unrecorded;
mod upload;
mod upload_landing;
mod upload_target;
mod usage;
mod usage_commit;
mod usage_counts;
mod usage_limit;
mod usage_moves;
mod usage_record;
mod usage_recount;
mod version_record;
mod volume_sync;
mod zip_crc;

pub use checksum::{Ahead, Later, LaterCrc, record_md5_tag};
pub use copy::{Copied, Member};
pub use dav_locks::{DavLocks, Edit, LOCKS_DIR, new_token};
pub use dead_props::{MAX_RECORD, PROPS_DIR};
pub use durable_commit::Durable;
pub use flush::LoneCommit;
pub use lock::{Claim, RootInUse, root_in_use};
pub use nodes::NODES_DIR;
pub use part_slots::SMALLEST_PART;
pub use parts::{FilePart, Part};
pub use read::OpenFile;
pub use reserve::{DEFAULT_MIN_FREE_CAP, MinFree, NoRoom, ReserveAsWritten};
pub use session_append::Appending;
pub use session_files::{IdKey, SESSIONS_DIR, session_id};
pub use session_state::FileAppender;
#[cfg(feature = "shares")]
pub use share_links::{SHARES_DIR, ShareLinks, decode_record, encode_record};
pub use sweep::SweepReport;
pub use unflushed::Unflushed;
pub use upload::{Committed, FileUpload, Landed};
pub use upload_target::Look;
pub use usage::USAGE_DIR;
pub use usage_counts::UsageSeen;
pub use usage_limit::{OverQuota, over_quota};
pub use usage_recount::Recount;
pub use zip_crc::{ZipCrc, ZipCrcRecord};

// What the files here share through this face: the jail's lookups, which
// every one of them opens through, and a stored file's mode and times.
use file_info::{mtime_only, stored_file_mode};
use folders::prune_empty_dirs;
use gate::Gate;
use jail::{
    BENEATH, DIR, READ_FILE, check_regular, dir_at, dir_of, looks_replaceable, open_beneath,
    open_dir_at, open_dir_beneath,
};
use lock::NodeLock;

// The seam's names, taken from `storage/` for the files here.
use super::left::Removal;
use super::session_store::{KEPT, KEPT_ONTO};
use super::spool_room::SpoolRoom;
use super::store::could_contain;
use super::{
    Admit, Appender, Choose, Committing, CopyTree, Cursor, Decide, Enter, GoOn, Include, Judge,
    Left, LockTable, Open, Opened, Parents, PartUpload, PropEdit, Room, SessionStore, Spill,
    Steady, StorageError, Store, Take, Upload, Visit, Wanted,
};

/// The root directory and everything done beneath it.
#[derive(Debug)]
pub struct Storage {
    /// This server's hold on its node id in the root: one server per node.
    _lock: NodeLock,
    /// Shared with uploads in flight, which prune directories on abort.
    root: Arc<OwnedFd>,
    /// This server's node id: in its temp files' names, its lock's, its
    /// journal's.
    node: String,
    /// Names this process's temp files apart from those of earlier runs,
    /// which the start-up sweep removes while new uploads are under way.
    run: String,
    /// The prefix of this process's temp files (see `nodes.rs`), made
    /// once: `.ferry-tmp-<node>-<run>-`, a serial after it.
    temp_prefix: String,
    temp_serial: AtomicU64,
    /// `.ferry-nodes`, and this run's journal of directories with temp
    /// files; `None` for a read-only server, which makes none.
    nodes: Option<OwnedFd>,
    journal: Option<nodes::Journal>,
    /// This start made `.ferry-nodes`: a ferry from before node ids may
    /// have left temp files that only a walk finds.
    first_node_start: bool,
    sessions: Arc<session_state::Sessions>,
    checksums: checksum::Cache,
    /// Stored files open for reading, one descriptor each however many
    /// read them (`shared_files.rs`).
    shared_files: shared_files::SharedFiles,
    /// Where computations nobody waits for go (the checksum threads, once
    /// the server has started them).
    later: OnceLock<Later>,
    /// A test's hold on chosen calls (see [`gate`]).
    gate: Option<Arc<Gate>>,
    /// Acknowledgements wait for stable storage (`--fsync`): what a power
    /// cut must not take is flushed first (see [`Storage::set_durable`]).
    durable: bool,
    /// Durable commits' directory flushes, shared (group commit).
    flusher: Arc<flush::DirFlusher>,
    /// Nothing may be written, not even a checksum record.
    read_only: bool,
    /// The root's device, where it is on a memory file system (tmpfs,
    /// ramfs): its files' bytes are read without asking whether they are
    /// cached (tmpfs cannot say), and a file on that device owes no flush
    /// (`FileUpload::land`). A file system mounted beneath the root is taken
    /// to be alike for the first, not the second.
    memory_dev: Option<u64>,
    /// The root is on a file system where each call is a round trip
    /// (FUSE, NFS...).
    round_trips: bool,
    /// Folders above a commit's target whose entries are durable already
    /// (`settled.rs`); `None` where the root's file system is not one
    /// whose change times the kernel keeps itself, or is in memory.
    settled: Option<Arc<settled::SettledDirs>>,
    /// Directory entries read by walks (listings, archives, sweeps): what
    /// listing costs, for `ferry_walk_entries_total`.
    walked: AtomicU64,
    /// What the last probe of the storage said (`health.rs`).
    health: health::Health,
    /// The disk reserve, and the room above it a recent look found
    /// (`reserve.rs`).
    reserve: Arc<reserve::Reserve>,
    /// WebDAV's locks (`dav_locks.rs`).
    dav_locks: DavLocks,
    /// Share links (`share_links.rs`).
    #[cfg(feature = "shares")]
    share_links: ShareLinks,
    /// Files known to have no dead-property record (`unrecorded.rs`).
    unrecorded: unrecorded::Absences,
    /// The usage ledger, where usage is counted (`usage.rs`).
    usage: Option<Arc<usage::Ledger>>,
    /// The memory listings' answers may be held in (`spool_room.rs`).
    spool_room: Arc<SpoolRoom>,
}

impl Storage {
    /// Opens `root`, creating it (and its parents) if missing, and locks
    /// node `node`'s place in it (see [`lock`]): nothing in it is touched
    /// before. Then moves the node's journal aside for the start-up sweep
    /// and starts this run's. A `read_only` server takes no node lock and
    /// writes nothing (not even a checksum record).
    ///
    /// # Errors
    /// The directory cannot be created or opened; another server holds it
    /// or this node id in it ([`RootInUse`], see [`root_in_use`]); the file
    /// system has no working `flock`; the journal cannot be started.
    pub fn open(root: &Path, node: &str, read_only: bool) -> io::Result<Storage> {
        Storage::open_claimed(Claim::take(root, node, read_only)?)
    }

    /// [`Storage::open`] with the locks `claim` took (before the server
    /// bound its ports) and whatever they did not cover yet.
    ///
    /// # Errors
    /// As [`Storage::open`].
    pub fn open_claimed(claim: Claim) -> io::Result<Storage> {
        let (root, lock, nodes, first_node_start) = match claim.held {
            Some(held) => (held.root, held.lock, held.nodes, false),
            None => {
                let made = Storage::create_and_lock(&claim.path, &claim.node, claim.read_only)?;
                if let (Some(dir), Some(rules)) = (&made.2, &claim.rules) {
                    rules_file::write_rules(dir, &claim.node, rules)?;
                }
                made
            }
        };
        let (path, node, read_only) = (claim.path.as_path(), claim.node.as_str(), claim.read_only);
        let journal = nodes
            .as_ref()
            .map(|dir| nodes::start_journal(dir, node))
            .transpose()?;
        session_files::check_sessions_dir(&root, path)?;
        let kind = rustix::fs::fstatfs(&root).map_or(0, |fs| fs.f_type as u64);
        if ROUND_TRIP_FILE_SYSTEMS.contains(&kind) {
            lock_scope::check(&root, path);
        }
        // Now, while descriptors are plenty (see `read::dev_null`).
        read::dev_null();
        let run = run_id();
        let root = Arc::new(root);
        let dav_locks = DavLocks::new(Arc::clone(&root), read_only, format!("{node}-{run}-"));
        #[cfg(feature = "shares")]
        let share_links = ShareLinks::new(Arc::clone(&root), read_only, format!("{node}-{run}-"));
        let reserve = Arc::new(reserve::Reserve::new(MinFree::Default, Arc::clone(&root)));
        Ok(Storage {
            dav_locks,
            #[cfg(feature = "shares")]
            share_links,
            _lock: lock,
            memory_dev: MEMORY_FILE_SYSTEMS
                .contains(&kind)
                .then(|| rustix::fs::fstat(&*root).ok().map(|stat| stat.st_dev))
                .flatten(),
            round_trips: ROUND_TRIP_FILE_SYSTEMS.contains(&kind),
            settled: SETTLED_FILE_SYSTEMS.contains(&kind).then(Arc::default),
            root,
            node: node.to_owned(),
            temp_prefix: format!("{RESERVED_PREFIX}tmp-{node}-{run}-"),
            run,
            temp_serial: AtomicU64::new(0),
            walked: AtomicU64::new(0),
            health: health::Health::default(),
            nodes,
            journal,
            first_node_start,
            sessions: Arc::default(),
            checksums: checksum::Cache::default(),
            shared_files: shared_files::SharedFiles::default(),
            later: OnceLock::new(),
            gate: None,
            durable: false,
            flusher: Arc::new(flush::DirFlusher::by_volume(
                volume_sync::syncfs_reports_errors(),
            )),
            read_only,
            unrecorded: unrecorded::Absences::default(),
            reserve,
            usage: None,
            spool_room: Arc::default(),
        })
    }

    /// Creates the root if missing, and its nodes' directory (saying
    /// whether this call made it: a first node start), and locks them.
    fn create_and_lock(
        root: &Path,
        node: &str,
        read_only: bool,
    ) -> io::Result<(OwnedFd, NodeLock, Option<OwnedFd>, bool)> {
        create_durably(root)?;
        let path = root;
        let root = rustix::fs::open(root, DIR, Mode::empty())?;
        let nodes_dir = match read_only {
            true => None,
            false => match nodes::open_dir(&root, path) {
                Ok(opened) => Some(opened),
                // Nothing can be written there, temp files included, so
                // there is nothing of this node's to protect: serve reads
                // (writes answer 500) as a read-only server would.
                Err(err) if err.raw_os_error() == Some(Errno::ROFS.raw_os_error()) => {
                    log::warn!(
                        "{} is on a read-only file system: serving without a node lock",
                        path.display()
                    );
                    None
                }
                Err(err) => return Err(err),
            },
        };
        let (lock, nodes, first_node_start) = match nodes_dir {
            None => (NodeLock::acquire(&root, path, None)?, None, false),
            Some((dir, created)) => {
                let lock = NodeLock::acquire(&root, path, Some((&dir, node)))?;
                (lock, Some(dir), created)
            }
        };
        Ok((root, lock, nodes, first_node_start))
    }

    /// Whether every call is a round trip to another process or host
    /// (FUSE and network file systems).
    pub(super) fn writes_are_round_trips(&self) -> bool {
        self.round_trips
    }

    /// Whether the root is on a memory file system (tmpfs, ramfs): writing
    /// there never waits on a device.
    pub fn is_in_memory(&self) -> bool {
        self.memory_dev.is_some()
    }

    /// Whether brief file-system work may run in place, on the reactor
    /// (`serve::Job::brief`): on a memory file system, unless a test holds
    /// calls at a gate (which would then hold the reactor).
    pub fn runs_brief_work_in_place(&self) -> bool {
        self.is_in_memory() && self.gate.is_none()
    }

    /// Whether the root directory was removed under the server (its
    /// directory has no links left): then a "not found" is the storage's
    /// failure, not the name's. One `fstat` of the held root.
    pub(super) fn root_is_gone(&self) -> bool {
        rustix::fs::fstat(&*self.root).is_ok_and(|stat| stat.st_nlink == 0)
    }

    /// The prefix of this process's temp files (see `nodes.rs`).
    fn temp_prefix(&self) -> &str {
        &self.temp_prefix
    }
}

/// Creates directory `path` and its missing parents, each flushed into its
/// parent: a root made at start-up must not vanish in a power cut with
/// every upload flushed into it since (the power-cut suite found that).
/// Costs a flush only for a directory it makes.
fn create_durably(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent {
        create_durably(parent)?;
    }
    match std::fs::create_dir(path) {
        Ok(()) => File::open(parent.unwrap_or(Path::new(".")))?.sync_all(),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(err) => Err(err),
    }
}

/// `statfs` magic numbers of file systems that live in memory: tmpfs,
/// ramfs.
const MEMORY_FILE_SYSTEMS: [u64; 2] = [0x0102_1994, 0x8584_58f6];

/// `statfs` magic numbers of file systems where every write is a round
/// trip to another process or host: FUSE (JuiceFS, sshfs, bindfs...), NFS,
/// SMB (two), 9p, Ceph, AFS, Coda.
const ROUND_TRIP_FILE_SYSTEMS: [u64; 8] = [
    0x6573_5546,
    0x6969,
    0xfe53_4d42,
    0xff53_4d42,
    0x0102_1997,
    0x00c3_6400,
    0x5346_414f,
    0x7375_7245,
];

/// `statfs` magic numbers of local file systems whose change times the
/// kernel keeps itself, so that a folder's tells of every name changed in
/// it (`settled.rs`): ext4 (and ext2/3), XFS, btrfs, f2fs.
const SETTLED_FILE_SYSTEMS: [u64; 4] = [0xef53, 0x5846_5342, 0x9123_683e, 0xf2f5_2010];

/// An id for this run of the server: the process id alone repeats (a
/// server in a container is always process 1), so the start time joins it.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod no_openat2;
