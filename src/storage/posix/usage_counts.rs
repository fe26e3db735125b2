//! What the storage's writes and removals count in the usage ledger
//! (`usage.rs`), and the ledger's face to the rest of the server: usage
//! counted from start-up on, an account's usage asked, what the metrics
//! show. Blocks on the disk where it reads or changes an account: for the
//! I/O pool (the metrics' snapshot never does).
//!
//! An upload session's staged bytes (an APPEND's, a tus PATCH's, an S3
//! part's) count as they are staged (an APPEND's before they arrive:
//! [`Storage::count_staged_ahead`]), in the accounts its file will count
//! in (the token that began it, the quota'd folders above its name), as
//! bytes but not yet as a file ([`StagedCount`]); its commit turns them
//! into the file (one more file, the same bytes: [`Counted::landed`]),
//! its removal (abort, expiry, a checksum that does not match) takes them
//! off. So a session cannot stage past a quota, nor several at once.

use std::io;
use std::sync::atomic::Ordering;

use rustix::fs::AtFlags;
use rustix::io::Errno;

use std::os::fd::OwnedFd;
use std::sync::Arc;

use super::parts_folder::parts_staged;
use super::session_files as files;
use super::usage::{Change, Ledger, Slot};
use super::{Storage, StorageError};
use crate::access::quota::{FolderQuota, Quota};
use crate::model::SessionInfo;
use crate::model::{Account, Usage};

impl Storage {
    /// Counts usage from now on (see the module's header): by token where
    /// `tokens` (access control is on), and for each folder of `folders`
    /// (ending in `/`, `""` for the root). A read-only server counts
    /// nothing: it changes nothing.
    ///
    /// # Errors
    /// The ledger's folder cannot be made or opened.
    pub fn count_usage(&mut self, folders: &[FolderQuota], tokens: bool) -> io::Result<()> {
        if self.read_only || (folders.is_empty() && !tokens) {
            return Ok(());
        }
        // Where hosts share the root, each change opens its file afresh.
        let run = format!("{}.{}", self.node, self.run);
        let ledger = Ledger::open(&self.root, folders, tokens, (self.round_trips, &run))?;
        self.usage = Some(Arc::new(ledger));
        Ok(())
    }

    /// What each account held when this node last saw it, by kind
    /// (`token` or `folder`) and name, and the recounts' count and drift
    /// in bytes: for the metrics. Never waits for the disk.
    pub fn usage_seen(&self) -> UsageSeen {
        let Some(ledger) = &self.usage else {
            return UsageSeen::default();
        };
        UsageSeen {
            accounts: ledger.seen(),
            recounts: ledger.recounts.load(Ordering::Relaxed),
            drift: ledger.drift.load(Ordering::Relaxed),
        }
    }

    /// Reads every account of the ledger afresh into what this node's
    /// metrics show, so that every node's show what any node counted (a
    /// write there, a recount there) within a sweep period. Nothing where
    /// usage is not counted. Blocks on the disk: the sweep thread's.
    ///
    /// # Errors
    /// The ledger cannot be read.
    pub fn refresh_usage_seen(&self) -> Result<usize, StorageError> {
        match &self.usage {
            Some(ledger) => Ok(ledger.refresh_seen()?),
            None => Ok(0),
        }
    }

    /// Whether usage is counted (there is something to count it for).
    pub fn counts_usage(&self) -> bool {
        self.usage.is_some()
    }

    /// What `account` holds, as every node counts it; nothing where usage
    /// is not counted. Blocks on the disk (a lock shared with other nodes).
    ///
    /// # Errors
    /// The ledger cannot be read (a storage failure).
    pub(super) fn usage(&self, account: Account<'_>) -> Result<Usage, StorageError> {
        match &self.usage {
            Some(ledger) => Ok(ledger.read(account)?),
            None => Ok(Usage::default()),
        }
    }

    /// Unlinks the file `leaf` of directory `dir` ("" for the root), full
    /// name `path`, a member of a folder being removed, and takes it from
    /// the ledger.
    pub(super) fn unlink_counted(&self, dir: &str, leaf: &str, path: &str) -> Result<(), Errno> {
        let Some(ledger) = &self.usage else {
            return self.unlink_file(dir, leaf);
        };
        let _name = ledger.names.hold((dir, leaf)).map_err(lock_errno)?;
        let dir = super::dir_at(&self.root, dir)?;
        let stat = rustix::fs::statat(&dir, leaf, AtFlags::SYMLINK_NOFOLLOW)?;
        let (size, owner) = ledger.going(&dir, leaf, &stat);
        rustix::fs::unlinkat(&dir, leaf, AtFlags::empty())?;
        ledger.count(path, owner.as_deref(), Change::file(size, -1));
        Ok(())
    }

    /// Takes the file `path` of `size` bytes, owned by `owner`, from the
    /// ledger (it was removed or replaced).
    pub(super) fn count_gone(&self, path: &str, (size, owner): (u64, Option<String>)) {
        if let Some(ledger) = &self.usage {
            ledger.count(path, owner.as_deref(), Change::file(size, -1));
        }
    }

    /// Where `session`'s staged bytes count; `None` where usage is not
    /// counted.
    pub(super) fn staged_count(&self, session: &SessionInfo) -> Option<StagedCount> {
        Some(StagedCount {
            ledger: Arc::clone(self.usage.as_ref()?),
            owner: token_of(session.owner.as_deref()),
            path: session.name.as_str().to_owned(),
        })
    }

    /// Counts the `len` bytes an APPEND is about to stage in `session`
    /// before they arrive, judged against the quotas of the accounts they
    /// count in (`quota`: the writing token's) under each account's lock:
    /// APPENDs side by side, here or on other nodes, cannot together stage
    /// past a quota (issue 75: 8 of 90 KB staged 540 KB against 100 KB).
    /// Returns what was counted ahead (nothing where usage is not
    /// counted), for the APPEND's end to net against what it staged.
    ///
    /// # Errors
    /// [`StorageError::OverQuota`], nothing counted; the ledger cannot be
    /// read or written.
    pub(super) fn count_staged_ahead(
        &self,
        session: &SessionInfo,
        len: u64,
        quota: Quota,
    ) -> Result<u64, StorageError> {
        match self.staged_count(session) {
            Some(count) => count.count_ahead(len, quota).map(|()| len),
            None => Ok(0),
        }
    }

    /// What taking session `id` of the sessions directory `dir` away
    /// takes from the ledger (what it staged), asked before it is removed
    /// and counted after ([`StagedCount::count`]): a recount's walk never
    /// finds its bytes on the disk and off the ledger (they would be
    /// counted twice once it goes), and a crash between leaves the
    /// ledger high, never low.
    pub(super) fn unstaged(&self, dir: &OwnedFd, id: &str) -> Option<(StagedCount, Change)> {
        self.usage.as_ref()?;
        let session = self.session_in(dir, id).ok().filter(|s| !s.stored)?;
        let count = self.staged_count(&session)?;
        Some((count, Change::staged(staged_in(dir, id), -1)))
    }
}

/// What a single write or removal counts, by the file's path: in its
/// owner's account and the quota'd folders above it.
impl Ledger {
    /// The accounts a file at `path`, stored by `owner`, counts in.
    fn accounts<'a>(
        &'a self,
        path: &'a str,
        owner: Option<&'a str>,
    ) -> impl Iterator<Item = Slot<'a>> + 'a {
        let folders = self.folders.iter().enumerate();
        let folders = folders.filter(move |(_, prefix)| path.starts_with(prefix.as_str()));
        let token = owner.filter(|_| self.tokens).map(Slot::Token);
        folders.map(|(at, _)| Slot::Folder(at)).chain(token)
    }

    /// Counts `change` for the file at `path` stored by `owner`: in its
    /// owner's account and every quota'd folder above it.
    pub(super) fn count(&self, path: &str, owner: Option<&str>, change: Change) {
        for slot in self.accounts(path, owner) {
            if let Err(err) = self.change_at(slot, change) {
                let account = self.account(slot);
                log::warn!(
                    "could not count {change:?} for {path:?} in {account:?} (the recount will): {err}"
                );
            }
        }
    }
}

/// A name's lock that could not be taken, as the errno of the unlink it
/// was for.
fn lock_errno(err: io::Error) -> Errno {
    err.raw_os_error()
        .map_or(Errno::IO, Errno::from_raw_os_error)
}

/// The token a session's recorded owner names: none for a client without
/// one (`(anonymous)`, a name no token can have).
pub(super) fn token_of(owner: Option<&str>) -> Option<String> {
    owner
        .filter(|owner| !owner.starts_with('('))
        .map(str::to_owned)
}

/// What session `id` of the sessions directory `dir` has staged: its
/// parts' bytes (a multipart upload), else its data file's.
pub(super) fn staged_in(dir: &OwnedFd, id: &str) -> u64 {
    parts_staged(dir, id).unwrap_or_else(|| files::staged_bytes(dir, id).unwrap_or(0))
}

/// Where an upload session's staged bytes count (see the module's
/// header): the accounts its file will count in.
#[derive(Debug, Clone)]
pub(super) struct StagedCount {
    ledger: Arc<Ledger>,
    /// The token that began it.
    owner: Option<String>,
    /// Its file's name.
    path: String,
}

impl StagedCount {
    /// Counts `change`: bytes staged (or no longer).
    pub(super) fn count(&self, change: Change) {
        if !change.is_nothing() {
            self.ledger.count(&self.path, self.owner.as_deref(), change);
        }
    }

    /// Counts `len` bytes before they are staged, judged against the
    /// quotas of the accounts they count in (`quota`: the writing
    /// token's) in the same step ([`Ledger::count_ahead`]).
    ///
    /// # Errors
    /// [`StorageError::OverQuota`], nothing counted; the ledger cannot be
    /// read or written.
    pub(super) fn count_ahead(&self, len: u64, quota: Quota) -> Result<(), StorageError> {
        let at = self.path.rsplit_once('/').unwrap_or(("", &self.path));
        let writer = self.owner.as_deref().map(|owner| (owner, quota));
        self.ledger.count_ahead(at, writer, len)
    }

    /// Counts `now` bytes staged where `was` were (a part sent again),
    /// netting the `ahead` counted before they arrived.
    pub(super) fn count_replaced(&self, was: u64, now: u64, ahead: u64) {
        let staged = Change::staged(now, 1).plus(Change::staged(was, -1));
        self.count(staged.plus(Change::reserved(ahead, -1)));
    }
}

/// The usage the metrics show (see [`Storage::usage_seen`]).
#[derive(Debug, Clone, Default)]
pub struct UsageSeen {
    /// `((kind, name), usage)`: `("token", "cam")`, `("folder", "box/")`.
    pub accounts: Vec<((&'static str, String), Usage)>,
    /// Recounts done by this node.
    pub recounts: u64,
    /// Bytes by which its recounts found the ledger off, summed.
    pub drift: u64,
}
