//! The usage ledger's recount (`usage.rs`): a walk that counts what each
//! account holds afresh and sets the ledger to it, healing what the
//! counts of single writes missed (a crash between a rename and its
//! count, files changed behind ferry's back; upload sessions' staged
//! bytes are counted with them). Also the count of a whole
//! folder's move across a quota'd folder's edge, which a single rename
//! cannot tell file by file.
//!
//! A walk takes as long as the tree: for the sweep thread or the I/O
//! pool, never the reactor. Writes during a walk may leave the ledger off
//! by what they changed; the next recount heals that too.

use std::collections::HashMap;

use super::usage::{Account, Usage, owner_of};
use super::usage_counts::{staged_in, token_of};
use rustix::fs::FileType;
use rustix::io::Errno;

use super::{Storage, StorageError};
use crate::name::{Name, Prefix};

/// What a recount did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recount {
    /// Accounts set.
    pub accounts: usize,
    /// Bytes by which the ledger was off, summed over accounts (either
    /// way): what the counts of single writes had missed.
    pub drift: u64,
}

impl Storage {
    /// Counts every account afresh (see the module's header); nothing
    /// where usage is not counted.
    ///
    /// # Errors
    /// The root could not be walked or the ledger written.
    pub fn recount_usage(&self) -> Result<Recount, StorageError> {
        let Some(ledger) = &self.usage else {
            return Ok(Recount::default());
        };
        let mut folders: HashMap<&str, Usage> = HashMap::new();
        let mut tokens: HashMap<String, Usage> = HashMap::new();
        self.walk_usage(ledger.tokens, &Prefix::root(), |name, size, owner| {
            for prefix in ledger
                .folders
                .iter()
                .filter(|p| name.starts_with(p.as_str()))
            {
                folders.entry(prefix).or_default().add_file(size);
            }
            if let Some(owner) = owner {
                tokens.entry(owner).or_default().add_file(size);
            }
        })?;
        // Sessions' staged bytes: in the same accounts, as bytes only.
        self.walk_staged(|name, bytes, owner| {
            let staged = |usage: &mut Usage| usage.bytes = usage.bytes.saturating_add(bytes);
            for prefix in ledger
                .folders
                .iter()
                .filter(|p| name.starts_with(p.as_str()))
            {
                staged(folders.entry(prefix).or_default());
            }
            if let Some(owner) = owner.filter(|_| ledger.tokens) {
                staged(tokens.entry(owner).or_default());
            }
        })?;
        for name in ledger.token_accounts()? {
            tokens.entry(name).or_default();
        }
        let mut recount = Recount::default();
        let mut set = |account: Account<'_>, usage: Usage| -> Result<(), StorageError> {
            let was = ledger.set(account, usage)?;
            recount.accounts += 1;
            recount.drift += was.bytes.abs_diff(usage.bytes);
            Ok(())
        };
        for prefix in &ledger.folders {
            set(
                Account::Folder(prefix),
                folders.get(prefix.as_str()).copied().unwrap_or_default(),
            )?;
        }
        for (name, usage) in &tokens {
            set(Account::Token(name), *usage)?;
        }
        ledger
            .recounts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (ledger.drift).fetch_add(recount.drift, std::sync::atomic::Ordering::Relaxed);
        Ok(recount)
    }

    /// Counts folder `from`'s move to `to` (a rename of the whole folder)
    /// in the folder accounts it crosses: the moved tree is walked once
    /// where it now is; a quota'd folder inside either side is counted
    /// afresh. Its owners keep their files: token accounts do not change.
    pub(super) fn count_folder_move(&self, from: &Prefix, to: &Name) {
        let Some(ledger) = &self.usage else {
            return;
        };
        let to = format!("{}/", to.as_str());
        let mut moved = None;
        for prefix in &ledger.folders {
            let counted = if prefix.starts_with(from.as_str()) || prefix.starts_with(&to) {
                self.folder_usage(prefix)
                    .and_then(|usage| Ok(ledger.set(Account::Folder(prefix), usage)?))
                    .map(drop)
            } else {
                let sign = match (
                    from.as_str().starts_with(prefix.as_str()),
                    to.starts_with(prefix.as_str()),
                ) {
                    (true, false) => -1,
                    (false, true) => 1,
                    _ => continue,
                };
                let usage = match moved {
                    Some(usage) => Ok(usage),
                    None => self.folder_usage(&to),
                };
                usage.and_then(|usage| {
                    moved = Some(usage);
                    let change = super::usage::Change {
                        bytes: sign * i64::try_from(usage.bytes).unwrap_or(i64::MAX),
                        files: sign * i64::try_from(usage.files).unwrap_or(i64::MAX),
                    };
                    Ok(ledger.change(Account::Folder(prefix), change).map(drop)?)
                })
            };
            if let Err(err) = counted {
                log::warn!(
                    "could not count the move of {:?} in {prefix:?} (the recount will): {err}",
                    from.as_str()
                );
            }
        }
    }

    /// What folder `prefix` holds, walked: what its copy would add (a
    /// folder COPY is judged by it against the quotas before it begins).
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if it is not there; a folder in it
    /// could not be read.
    pub fn tree_usage(&self, prefix: &Prefix) -> Result<Usage, StorageError> {
        let mut usage = Usage::default();
        self.walk_usage(false, prefix, |_, size, _| usage.add_file(size))?;
        Ok(usage)
    }

    /// What folder `prefix` holds now, walked.
    fn folder_usage(&self, prefix: &str) -> Result<Usage, StorageError> {
        let prefix = Prefix::new(prefix.to_owned()).map_err(|_| StorageError::NotFound)?;
        match self.tree_usage(&prefix) {
            Err(StorageError::NotFound) => Ok(Usage::default()),
            walked => walked,
        }
    }

    /// Calls `each` with the name, staged bytes and owning token of every
    /// upload session (not the marks of those stored).
    fn walk_staged(
        &self,
        mut each: impl FnMut(&str, u64, Option<String>),
    ) -> Result<(), StorageError> {
        let dir = self.sessions_dir()?;
        for entry in rustix::fs::Dir::read_from(&dir)? {
            let entry = entry?;
            let file = entry.file_name().to_string_lossy();
            let Some(id) = file.strip_suffix(".meta") else {
                continue;
            };
            // Gone or half made meanwhile: not a session to count.
            if let Ok(session) = self.session_in(&dir, id)
                && !session.stored
            {
                let owner = token_of(session.owner.as_deref());
                each(session.name.as_str(), staged_in(&dir, id), owner);
            }
        }
        Ok(())
    }

    /// Calls `each` with the name, size and owner (where `owners` are
    /// asked for) of every file below `prefix` (ferry's own reserved files
    /// not among them).
    fn walk_usage(
        &self,
        owners: bool,
        prefix: &Prefix,
        mut each: impl FnMut(&str, u64, Option<String>),
    ) -> Result<(), StorageError> {
        let start = prefix.as_str().trim_end_matches('/');
        let walked = self.walk_tree(
            start,
            |path, _| !super::tree::is_reserved(path),
            |visit| match visit.kind {
                FileType::Directory => Ok(true),
                FileType::RegularFile => {
                    if let Some((info, _)) = visit.stat()? {
                        let owner = owners.then(|| owner_of(&*self.root, &visit.path));
                        each(&visit.path, info.size, owner.flatten());
                    }
                    Ok(false)
                }
                _ => Ok(false),
            },
            // A folder gone meanwhile holds nothing; any other failure
            // ends the recount (the ledger is left as it was).
            |_, errno| match errno {
                Errno::NOENT | Errno::NOTDIR => Ok(()),
                errno => Err(errno),
            },
        );
        Ok(walked?)
    }
}
