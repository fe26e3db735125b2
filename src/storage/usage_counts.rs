//! What the storage's writes and removals count in the usage ledger
//! (`usage.rs`), and the ledger's face to the rest of the server: usage
//! counted from start-up on, an account's usage asked, what the metrics
//! show. Blocks on the disk where it reads or changes an account: for the
//! I/O pool (the metrics' snapshot never does).

use std::io;
use std::sync::atomic::Ordering;

use rustix::fs::AtFlags;
use rustix::io::Errno;

use super::usage::{Account, Change, Ledger, Usage};
use super::{Storage, StorageError};

impl Storage {
    /// Counts usage from now on (see the module's header): by token where
    /// `tokens` (access control is on), and for each folder of `folders`
    /// (ending in `/`, `""` for the root). A read-only server counts
    /// nothing: it changes nothing.
    ///
    /// # Errors
    /// The ledger's folder cannot be made or opened.
    pub fn count_usage(&mut self, folders: Vec<String>, tokens: bool) -> io::Result<()> {
        if self.read_only || (folders.is_empty() && !tokens) {
            return Ok(());
        }
        self.usage = Some(std::sync::Arc::new(Ledger::open(
            &self.root, folders, tokens,
        )?));
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

    /// Whether usage is counted (there is something to count it for).
    pub fn counts_usage(&self) -> bool {
        self.usage.is_some()
    }

    /// What `account` holds, as every node counts it; nothing where usage
    /// is not counted. Blocks on the disk (a lock shared with other nodes).
    ///
    /// # Errors
    /// The ledger cannot be read (a storage failure).
    pub fn usage(&self, account: Account<'_>) -> Result<Usage, StorageError> {
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

/// What an upload's commit counts: the ledger, and whose upload it is.
#[derive(Debug)]
pub(super) struct Counted {
    pub(super) ledger: std::sync::Arc<Ledger>,
    pub(super) owner: Option<String>,
    /// The file's size, as its commit found it before the rename.
    pub(super) size: u64,
}

impl Counted {
    /// After that rename: the file's bytes at `leaf` of `dir` (its path
    /// from the root) are its owner's, and
    /// what it replaced went.
    pub(super) fn landed(
        &self,
        (dir, leaf): (&str, &str),
        replaced: Option<(u64, Option<String>)>,
    ) {
        let mut path = String::with_capacity(dir.len() + 1 + leaf.len());
        if !dir.is_empty() {
            path.push_str(dir);
            path.push('/');
        }
        path.push_str(leaf);
        let path = path.as_str();
        let new = Change::file(self.size, 1);
        match replaced {
            // The same owner's file replaced (the common case: a client
            // writing its file again): one change to each account.
            Some((old, owner)) if owner == self.owner => {
                let old = Change::file(old, -1);
                let net = Change {
                    bytes: new.bytes.saturating_add(old.bytes),
                    files: 0,
                };
                self.ledger.count(path, owner.as_deref(), net);
            }
            Some((old, owner)) => {
                self.ledger
                    .count(path, owner.as_deref(), Change::file(old, -1));
                self.ledger.count(path, self.owner.as_deref(), new);
            }
            None => self.ledger.count(path, self.owner.as_deref(), new),
        }
    }
}
