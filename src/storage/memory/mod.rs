//! A [`Store`](super::Store) kept in memory: the second engine behind the
//! seam, for the conformance test that holds both engines to one
//! contract and for the socketless simulation that drives the serve layer
//! without a file system.
//!
//! Everything is one tree under one lock ([`Tree`]): a map from each name
//! to what it is, folders keyed with their `/` so that the map's order is
//! the order of full names a listing answers in (`a.txt` < `a/` < `a/b`),
//! which is the order the POSIX engine's sorted walks produce. Inodes are
//! counted up and never reused, so dead properties keyed by inode never
//! reach a later file of the same name. What the POSIX engine keeps in
//! extended attributes (checksums, tags, owners) is a field here.
//!
//! Each verb is the POSIX engine's, as `tests/storage/conformance.rs`
//! checks them side by side: `walks.rs` lists and walks, `namespace.rs`
//! removes, renames, copies and makes, `locks.rs` is the lock table, `links.rs` the share links,
//! `upload.rs` takes uploads and commits them, `sessions.rs` keeps upload
//! sessions, `appender.rs` their APPENDs and `kept.rs` FTP's uploads kept
//! to go on with, `parts.rs` S3's multipart uploads, `faults.rs` the
//! failures a test asks for (a disk's, and a crash's restart), `store.rs`
//! is the trait's face.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use super::spool_room::SpoolRoom;
use super::{DEFAULT_LISTING_MEMORY, OverQuota, StorageError, over_quota};
use crate::access::quota::{FolderQuota, Quota, covers};
use crate::model::{Account, DeadProperty, FileInfo, Md5Tag, Stamp, Usage, Version};
use crate::name::Name;

mod appender;
mod engine;
mod faults;
mod kept;
#[cfg(feature = "shares")]
mod links;
mod locks;
mod namespace;
mod parts;
mod session_store;
mod sessions;
mod store;
mod upload;
mod walks;

pub use appender::MemoryAppender;
#[cfg(feature = "shares")]
use links::MemoryLinks;
use locks::MemoryLocks;
pub use parts::MemoryPart;
use sessions::Session;
pub use upload::MemoryUpload;

/// The size a memory store says its file system has.
const CAPACITY: u64 = 1 << 40;

/// Files and folders kept in memory; see the module's header.
#[derive(Debug)]
pub struct MemoryStore {
    tree: Arc<Mutex<Tree>>,
    locks: MemoryLocks,
    /// The share links.
    #[cfg(feature = "shares")]
    links: MemoryLinks,
    /// The room its listings may hold in memory, as the server's.
    spool_room: Arc<SpoolRoom>,
}

/// The tree, its records and the usage it counts, under the store's lock.
#[derive(Debug)]
pub(super) struct Tree {
    /// Every file (`a/b`) and folder (`a/b/`) by its full name; the root
    /// is [`Tree::root`].
    entries: BTreeMap<String, Entry>,
    root: Folder,
    /// Dead properties, by the inode of what holds them.
    props: HashMap<u64, Vec<DeadProperty>>,
    next_inode: u64,
    /// The quota'd folders where usage is counted ([`MemoryStore::count_usage`]).
    counting: Option<Vec<FolderQuota>>,
    /// Upload sessions, by id (`sessions.rs`).
    sessions: BTreeMap<String, Session>,
    /// The last session id and APPEND ticket given.
    next_session: u64,
    tickets: u64,
    /// What session ids are mixed with (drawn for each store).
    id_key: u64,
    /// Failures a test asked for (`faults.rs`).
    faults: Option<faults::Faults>,
}

/// What has a name.
#[derive(Debug, Clone)]
enum Entry {
    Folder(Folder),
    File(Stored),
}

/// A folder's facts.
#[derive(Debug, Clone, Copy)]
struct Folder {
    mtime: i64,
    inode: u64,
}

/// A file: its bytes and what is recorded with them.
#[derive(Debug, Clone)]
struct Stored {
    bytes: Arc<[u8]>,
    mtime: i64,
    nanos: u32,
    inode: u64,
    crc: Option<u32>,
    md5: Option<Md5Tag>,
    /// The checksum it was uploaded with (S3's `x-amz-checksum-*`).
    stated: Option<String>,
    /// The token its bytes count for.
    owner: Option<String>,
}

impl Stored {
    fn info(&self) -> FileInfo {
        FileInfo {
            size: self.bytes.len() as u64,
            mtime: self.mtime,
        }
    }

    fn stamp(&self) -> Stamp {
        Stamp {
            inode: self.inode,
            nanos: self.nanos,
        }
    }

    fn version(&self) -> Version {
        Version {
            info: self.info(),
            stamp: self.stamp(),
            crc: self.crc,
            md5: self.md5,
        }
    }
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store: a root folder and nothing in it.
    pub fn new() -> MemoryStore {
        let (mtime, _) = now();
        MemoryStore {
            tree: Arc::new(Mutex::new(Tree {
                entries: BTreeMap::new(),
                root: Folder { mtime, inode: 1 },
                props: HashMap::new(),
                next_inode: 2,
                counting: None,
                sessions: BTreeMap::new(),
                next_session: 0,
                tickets: 0,
                id_key: random_key(),
                faults: None,
            })),
            locks: MemoryLocks::default(),
            #[cfg(feature = "shares")]
            links: MemoryLinks::default(),
            spool_room: Arc::new(SpoolRoom::new(DEFAULT_LISTING_MEMORY)),
        }
    }

    /// Counts usage from now on, by token and for each of `folders`, as
    /// [`Storage::count_usage`](super::Storage::count_usage) does.
    pub fn count_usage(&self, folders: &[FolderQuota], tokens: bool) {
        if !folders.is_empty() || tokens {
            self.tree().counting = Some(folders.to_vec());
        }
    }

    /// Puts file `name` with `bytes` (token `owner`'s) in place, making
    /// the folders on the way and replacing a file there: how a test or
    /// the simulation lays out the tree it starts from.
    ///
    /// # Errors
    /// A folder has the name, or a file is on the way.
    pub fn put_file(
        &self,
        name: &Name,
        bytes: &[u8],
        owner: Option<&str>,
    ) -> Result<(), StorageError> {
        let mut tree = self.tree();
        tree.make_parents(dir_of(name.as_str()), 0)?;
        if tree.folder(name.as_str()).is_some() {
            return Err(StorageError::IsDirectory);
        }
        let (mtime, nanos) = now();
        let inode = tree.inode();
        let stored = Stored {
            bytes: bytes.into(),
            mtime,
            nanos,
            inode,
            crc: None,
            md5: None,
            stated: None,
            owner: owner.map(str::to_owned),
        };
        tree.entries
            .insert(name.as_str().to_owned(), Entry::File(stored));
        Ok(())
    }

    fn tree(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Tree {
    /// The folder `path` (without its `/`; `""` the root), if one has it.
    fn folder(&self, path: &str) -> Option<Folder> {
        if path.is_empty() {
            return Some(self.root);
        }
        match self.entries.get(&format!("{path}/")) {
            Some(Entry::Folder(folder)) => Some(*folder),
            _ => None,
        }
    }

    /// Whether bucket `bucket` (a first segment) is there.
    ///
    /// # Errors
    /// [`StorageError::NoBucket`] if nothing has its name.
    fn check_bucket(&self, bucket: &str) -> Result<(), StorageError> {
        match self.folder(bucket).is_some() || self.file(bucket).is_some() {
            true => Ok(()),
            false => Err(StorageError::NoBucket),
        }
    }

    /// The file `name`, if one has it.
    fn file(&self, name: &str) -> Option<&Stored> {
        match self.entries.get(name) {
            Some(Entry::File(file)) => Some(file),
            _ => None,
        }
    }

    /// The folder `dir` a name lies in, which must be there: as the POSIX
    /// engine's walk to it fails, a file on the way included.
    fn walk(&self, dir: &str) -> Result<Folder, StorageError> {
        self.folder(dir).ok_or(StorageError::NotFound)
    }

    /// The entries below folder `dir` (`""` the root), in name order.
    fn below<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        let from = Bound::Excluded(dir);
        self.entries
            .range::<str, _>((from, Bound::Unbounded))
            .take_while(move |(key, _)| key.starts_with(dir))
    }

    /// Whether folder `path` holds anything.
    fn holds_anything(&self, path: &str) -> bool {
        let dir = folder_key(path);
        self.below(&dir).next().is_some()
    }

    fn inode(&mut self) -> u64 {
        self.next_inode += 1;
        self.next_inode
    }

    /// Makes the missing folders of `dir` but its first `kept` (S3's
    /// buckets, which must be there).
    ///
    /// # Errors
    /// [`StorageError::NoBucket`] for a missing one of the first `kept`;
    /// [`StorageError::ParentNotDirectory`] for a file on the way.
    fn make_parents(&mut self, dir: &str, kept: usize) -> Result<(), StorageError> {
        if dir.is_empty() {
            return Ok(());
        }
        let ends = dir.match_indices('/').map(|(at, _)| at).chain([dir.len()]);
        for (depth, end) in ends.enumerate() {
            let path = &dir[..end];
            if self.folder(path).is_some() {
                continue;
            }
            if self.file(path).is_some() {
                return Err(StorageError::ParentNotDirectory);
            }
            if depth < kept {
                return Err(StorageError::NoBucket);
            }
            self.add_folder(path);
        }
        Ok(())
    }

    /// Adds folder `path` (its parent there), now.
    fn add_folder(&mut self, path: &str) -> Folder {
        let folder = Folder {
            mtime: now().0,
            inode: self.inode(),
        };
        self.entries.insert(folder_key(path), Entry::Folder(folder));
        folder
    }

    /// Removes folder `dir` and those above it while they hold nothing,
    /// keeping the first `floor` segments, as the POSIX engine's pruning.
    fn prune(&mut self, mut dir: &str, floor: usize) {
        while !dir.is_empty() && dir.split('/').count() > floor && !self.holds_anything(dir) {
            if let Some(Entry::Folder(folder)) = self.entries.remove(&folder_key(dir)) {
                self.props.remove(&folder.inode);
            }
            dir = dir_of(dir);
        }
    }

    /// Records `crc` as the CRC-32C of the file of `inode`, if it is
    /// still there.
    fn record_crc(&mut self, inode: u64, crc: u32) {
        let files = self.entries.values_mut().filter_map(|entry| match entry {
            Entry::File(file) if file.inode == inode => Some(file),
            _ => None,
        });
        for file in files {
            file.crc = Some(crc);
        }
    }

    /// What the files whose names start with `prefix` add up to.
    fn usage_below(&self, prefix: &str, owner: Option<&str>) -> Usage {
        let mut usage = Usage::default();
        for (key, entry) in &self.entries {
            let Entry::File(file) = entry else {
                continue;
            };
            if key.starts_with(prefix) && owner.is_none_or(|o| file.owner.as_deref() == Some(o)) {
                usage.add_file(file.bytes.len() as u64);
            }
        }
        usage
    }

    /// What `account` holds, where usage is counted.
    fn usage(&self, account: Account<'_>) -> Usage {
        match (&self.counting, account) {
            (None, _) => Usage::default(),
            (Some(_), Account::Token(token)) => self.counted_below("", Some(token)),
            (Some(_), Account::Folder(prefix)) => self.counted_below(prefix, None),
        }
    }

    /// What the ledger counts below `prefix` (of `owner`'s only, if
    /// given): the files, and the sessions' bytes staged or counted
    /// before they arrive (no walk of the files finds those).
    fn counted_below(&self, prefix: &str, owner: Option<&str>) -> Usage {
        let mut usage = self.usage_below(prefix, owner);
        let staged = self.staged_below(prefix, owner);
        usage.bytes = usage.bytes.saturating_add(staged.bytes);
        usage
    }

    /// Refuses a file of `size` bytes at `name` for `owner` (whose quota
    /// is `quota`) where it would pass a quota counted: judged by what it
    /// adds before what it replaces is taken off, as the POSIX engine's
    /// ledger judges it (docs/quotas.md: at the edge, a replacement needs
    /// room for both for a moment). The one home of that judgement here.
    fn admits(
        &self,
        (owner, quota): (Option<&str>, Option<Quota>),
        name: &str,
        size: u64,
    ) -> Result<(), StorageError> {
        match self.refusal((owner, quota), name, Usage::one_file(size)) {
            Some(over) => Err(StorageError::OverQuota(Box::new(over))),
            None => Ok(()),
        }
    }

    /// What refuses `more` at `name` for `owner` (whose quota is `quota`):
    /// the token's quota first, then the quota'd folders above it.
    fn refusal(
        &self,
        (owner, quota): (Option<&str>, Option<Quota>),
        name: &str,
        more: Usage,
    ) -> Option<OverQuota> {
        self.counting.as_ref()?;
        if let (Some(owner), Some(quota)) = (owner, quota) {
            let account = Account::Token(owner);
            if let Some(over) = over_quota(quota, self.usage(account), more, account) {
                return Some(over);
            }
        }
        self.quotas_over(name).into_iter().find_map(|folder| {
            let account = Account::Folder(&folder.prefix);
            over_quota(folder.limit, self.usage(account), more, account)
        })
    }

    /// Refuses a move past the quota of a folder it enters, judged by
    /// what lands there (net of `replaced`, the size of a file it
    /// replaces), as the POSIX engine's ledger does (`usage_moves.rs`):
    /// `moved` tells each file that moves, its name before and after and
    /// its size (asked once, only where usage is counted).
    fn judge_move<'a>(
        &self,
        moved: impl FnOnce() -> Vec<(&'a str, String, u64)>,
        replaced: Option<u64>,
    ) -> Result<(), StorageError> {
        let Some(folders) = &self.counting else {
            return Ok(());
        };
        let moved = moved();
        for folder in folders {
            let mut more = Usage::default();
            for (from, to, size) in &moved {
                if covers(&folder.prefix, to) && !covers(&folder.prefix, from) {
                    more.add_file(*size);
                }
            }
            if more.files == 0 {
                continue;
            }
            if let Some(replaced) = replaced {
                more.bytes = more.bytes.saturating_sub(replaced);
                more.files -= 1;
            }
            let account = Account::Folder(&folder.prefix);
            if let Some(over) = over_quota(folder.limit, self.usage(account), more, account) {
                return Err(StorageError::OverQuota(Box::new(over)));
            }
        }
        Ok(())
    }

    /// The quota'd folders that hold `name`.
    fn quotas_over(&self, name: &str) -> Vec<FolderQuota> {
        let folders = self.counting.iter().flatten();
        folders
            .filter(|f| covers(&f.prefix, name))
            .cloned()
            .collect()
    }
}

/// The folder that holds `name` (`""` the root).
fn dir_of(name: &str) -> &str {
    name.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Folder `path`'s key: its name with its `/` (`""` the root's).
fn folder_key(path: &str) -> String {
    match path {
        "" => String::new(),
        path => format!("{path}/"),
    }
}

/// Now, in Unix seconds and nanoseconds.
fn now() -> (i64, u32) {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
    (secs, since.subsec_nanos())
}

/// A key drawn from the system's randomness (a fixed one where it has
/// none to give).
fn random_key() -> u64 {
    let mut bytes = [0u8; 8];
    let drawn = rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty());
    match drawn {
        Ok(8) => u64::from_le_bytes(bytes),
        _ => 0x5eed,
    }
}
