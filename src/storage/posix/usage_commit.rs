//! What an upload's commit counts in the usage ledger (`usage.rs`), in
//! two halves around the rename that publishes it:
//!
//! ```text
//! admit    before the rename: the writer's accounts (the quota'd folders
//!          above the file, its token's) each judged against its quota
//!          and changed under the account's lock; refused, nothing counted
//!          and nothing renamed (507, or S3's QuotaExceeded)
//! rename   failed, its bytes still staged: what was admitted is taken
//!          back (undo); failed, perhaps made (a network file system's
//!          client killed before it answered): kept, high until a recount
//! settle   after it: the other owners' tokens (a session's begun by
//!          another token) lose their bytes, and the replaced file
//!          leaves its folders and its owner's token
//! ```
//!
//! What the file replaces is taken off only once the rename has replaced
//! it: a crash between the two leaves the ledger counting both files
//! (high, healed by a recount), never the new file alone while the old
//! one is still there (low: a quota passed). The judgement already asks
//! room for both.
//!
//! Judged and counted in one step per account, commits side by side, on
//! this node or another, cannot together pass a quota; a write is judged
//! by what it adds (its bytes, less those its session counted as they
//! were staged, and one file), before what it replaces is taken off.

use std::sync::Arc;

use crate::model::{Account, Usage};

use super::usage::{Change, Ledger, Slot};
use super::usage_limit::{OverQuota, over_quota};
use super::{FileUpload, StorageError};
use crate::access::quota::Quota;

/// An upload's part in the ledger.
impl FileUpload {
    /// Makes the file token `owner`'s when it is committed: its bytes
    /// count in that token's usage until it goes (see `usage.rs`), and
    /// its commit is judged against the token's `quota`. Nothing where
    /// usage is not counted.
    pub fn set_owner(&mut self, owner: Option<&str>, quota: Option<Quota>) {
        if let Some(counted) = &mut self.counted {
            counted.writer = owner.map(|owner| {
                let owner = owner.to_owned();
                Box::new(Writer { owner, quota })
            });
        }
    }

    /// Makes an upload of a length to come count each write in the usage
    /// ledger before it makes it, as token `owner`'s, judged against its
    /// `quota` and the quotas of the folders above its name: it is
    /// refused ([`StorageError::OverQuota`]) at the write that would pass
    /// one, not only at its commit. Its commit nets what was counted so;
    /// an upload that ends without one gives it back. Nothing where usage
    /// is not counted.
    pub fn count_as_written(&mut self, owner: Option<&str>, quota: Option<Quota>) {
        self.set_owner(owner, quota);
        self.counts_ahead = self.counted.is_some();
    }

    /// Counts `len` bytes about to be written (see
    /// [`FileUpload::count_as_written`]).
    pub(super) fn count_ahead(&mut self, len: u64) -> Result<(), StorageError> {
        let Some(counted) = &self.counted else {
            return Ok(());
        };
        let writer = counted
            .writer
            .as_deref()
            .map(|writer| (writer.owner.as_str(), writer.quota.unwrap_or_default()));
        let at = (self.dir_path.as_str(), self.leaf.as_str());
        counted.ledger.count_ahead(at, writer, len)?;
        self.ahead += len;
        Ok(())
    }

    /// Gives back what was counted ahead and not netted by a commit (the
    /// upload was refused, cut off, or kept as a session, which counts
    /// its bytes anew). Best effort, as every count after the fact.
    pub(super) fn give_back_ahead(&mut self) {
        let (ahead, Some(counted)) = (std::mem::take(&mut self.ahead), &self.counted) else {
            return;
        };
        if ahead == 0 {
            return;
        }
        let path = match self.dir_path.as_str() {
            "" => self.leaf.clone(),
            dir => format!("{dir}/{}", self.leaf),
        };
        let owner = counted.owner();
        counted
            .ledger
            .count(&path, owner, Change::reserved(ahead, -1));
    }

    /// The bytes of it counted in the ledger already: a session's, as
    /// they were staged.
    pub fn counted_already(&self) -> u64 {
        self.counted
            .as_ref()
            .and_then(|counted| counted.unstaged.as_deref())
            .map_or(0, |(_, staged)| *staged)
    }
}

/// What an upload's commit counts: the ledger, and whose upload it is.
/// Kept in the upload itself, not boxed (every write of a server that
/// counts has one: a box was an allocation and a free a write); what
/// only some writes have is boxed in it.
#[derive(Debug)]
pub(super) struct Counted {
    pub(super) ledger: Arc<Ledger>,
    /// The file's size, as its commit found it before the rename.
    pub(super) size: u64,
    /// The token whose upload it is, where a token writes.
    pub(super) writer: Option<Box<Writer>>,
    /// A session's commit: the token that began it and the bytes it had
    /// staged (counted already: they leave the session's count as the
    /// file's come in).
    pub(super) unstaged: Option<Box<(Option<String>, u64)>>,
}

// Small enough to sit in every upload of a server that counts nothing.
const _: () = assert!(std::mem::size_of::<Option<Counted>>() <= 32);

/// The token writing an upload, and its quota (judged at the commit).
#[derive(Debug)]
pub(super) struct Writer {
    owner: String,
    quota: Option<Quota>,
}

/// A file replaced by a commit: its size and owner.
pub(super) type Replaced = Option<(u64, Option<String>)>;

impl Counted {
    /// The token whose upload it is.
    pub(super) fn owner(&self) -> Option<&str> {
        self.writer.as_deref().map(|writer| writer.owner.as_str())
    }

    /// Before the rename of the file `leaf` of folder `dir` (replacing
    /// `replaced`): counts it in the writer's accounts, each judged
    /// against its quota first (see the module's header). Returns the
    /// commit's changes, for [`Counted::settle`] or [`Counted::undo`].
    ///
    /// # Errors
    /// [`StorageError::OverQuota`] (nothing counted); the ledger cannot
    /// be read or written.
    pub(super) fn admit<'a>(
        &'a self,
        at: (&str, &str),
        replaced: &'a Replaced,
        ahead: u64,
    ) -> Result<Changes<'a>, StorageError> {
        let mut changes = self.changes(replaced);
        if ahead > 0 {
            // Counted as its bytes were written: netted now.
            let mine = self.owner();
            changes.add(mine, mine, Change::reserved(ahead, -1));
        }
        let counted = self.unstaged.as_ref().map_or(0, |s| s.1) + ahead;
        let more = Usage {
            bytes: self.size.saturating_sub(counted),
            files: 1,
        };
        let writer = self.writer.as_deref().map(|writer| {
            let quota = writer.quota.unwrap_or_default();
            (writer.owner.as_str(), quota, changes.writer)
        });
        self.ledger.admit(at, (changes.sum(), writer), more)?;
        Ok(changes)
    }

    /// The rename failed: what [`Counted::admit`] counted is taken back.
    pub(super) fn undo(&self, at: (&str, &str), changes: &Changes<'_>) {
        self.ledger.take_back(at, changes.sum(), usize::MAX);
        if let Some(token) = self.owner() {
            self.count_token(token, changes.writer.negated());
        }
    }

    /// After the rename of the file `leaf` of folder `dir` (`at`): the
    /// other owners' tokens (a session's begun by another) lose their
    /// bytes, and the file it replaced leaves its accounts.
    pub(super) fn settle(&self, at: (&str, &str), changes: &Changes<'_>) {
        for (owner, change) in changes.others.iter().flatten() {
            if let Some(token) = owner {
                self.count_token(token, *change);
            }
        }
        if let Some((owner, change)) = changes.replaced {
            let path = match at {
                ("", leaf) => leaf.to_owned(),
                (dir, leaf) => format!("{dir}/{leaf}"),
            };
            self.ledger
                .count(&path, owner.filter(|_| self.ledger.tokens), change);
        }
    }

    fn count_token(&self, token: &str, change: Change) {
        if self.ledger.tokens {
            self.ledger.count_in(Slot::Token(token), change);
        }
    }

    /// The commit's changes (the new file, what its session had staged;
    /// what it replaced, for after the rename), the writer's apart from
    /// other owners'.
    fn changes<'a>(&'a self, replaced: &'a Replaced) -> Changes<'a> {
        let mine = self.owner();
        let mut changes = Changes {
            writer: Change::file(self.size, 1),
            others: [None, None],
            replaced: replaced
                .as_ref()
                .map(|(old, owner)| (owner.as_deref(), Change::file(*old, -1))),
        };
        if let Some((owner, staged)) = self.unstaged.as_deref() {
            changes.add(mine, owner.as_deref(), Change::staged(*staged, -1));
        }
        changes
    }
}

/// A write's part in the ledger, judged: the one home of "checked and
/// counted in one step per account" (a commit's, an APPEND's staged bytes
/// counted before they arrive).
impl Ledger {
    /// Counts a write of the file `leaf` of folder `dir` (`at`): `change`
    /// in every quota'd folder above it and, where tokens are counted,
    /// the writer's change in its token's account, each judged first
    /// against its quota by what the write adds (`more`), under that
    /// account's lock: writes side by side, on this node or another,
    /// cannot together pass a quota.
    ///
    /// # Errors
    /// [`StorageError::OverQuota`] (what was counted taken back: nothing
    /// counted); the ledger cannot be read or written.
    pub(super) fn admit(
        &self,
        at: (&str, &str),
        (change, writer): (Change, Option<(&str, Quota, Change)>),
        more: Usage,
    ) -> Result<(), StorageError> {
        let mut admitted = 0;
        for (place, prefix) in self.folders.iter().enumerate() {
            if !joined_starts_with(at, prefix) {
                continue;
            }
            let (account, quota) = (Account::Folder(prefix), self.limits[place]);
            let judged = self.change_within(Slot::Folder(place), change, |used| {
                over_quota(quota, used, more, account)
            });
            if let Err(refused) = refusal(judged) {
                self.take_back(at, change, admitted);
                return Err(refused);
            }
            admitted += 1;
        }
        if let Some((token, quota, mine)) = writer.filter(|_| self.tokens) {
            let account = Account::Token(token);
            let judged = self.change_within(Slot::Token(token), mine, |used| {
                over_quota(quota, used, more, account)
            });
            if let Err(refused) = refusal(judged) {
                self.take_back(at, change, admitted);
                return Err(refused);
            }
        }
        Ok(())
    }

    /// Counts `len` bytes before they are written or staged at `at` (the
    /// file `leaf` of folder `dir`), in `writer`'s token (with its quota)
    /// and the quota'd folders above, each judged first: the one home of
    /// bytes counted ahead (an APPEND's, a length to come's writes).
    /// Judged as the file they will become (a file limit reached refuses
    /// them now, not at the commit), counted as bytes alone.
    ///
    /// # Errors
    /// As [`Ledger::admit`]: nothing counted then.
    pub(super) fn count_ahead(
        &self,
        at: (&str, &str),
        writer: Option<(&str, Quota)>,
        len: u64,
    ) -> Result<(), StorageError> {
        let change = Change::reserved(len, 1);
        let writer = writer.map(|(owner, quota)| (owner, quota, change));
        let more = Usage {
            bytes: len,
            files: 1,
        };
        self.admit(at, (change, writer), more)
    }

    /// Takes `change` back from the first `admitted` folders above `at`.
    pub(super) fn take_back(&self, at: (&str, &str), change: Change, admitted: usize) {
        let folders = self.folders.iter().enumerate();
        let above = folders.filter(|(_, prefix)| joined_starts_with(at, prefix));
        for (place, _) in above.take(admitted) {
            self.count_in(Slot::Folder(place), change.negated());
        }
    }

    /// Best effort, as every count after the fact: the recount heals.
    pub(super) fn count_in(&self, slot: Slot<'_>, change: Change) {
        if change.is_nothing() {
            return;
        }
        if let Err(err) = self.change_at(slot, change) {
            let account = self.account(slot);
            log::warn!("could not count {change:?} in {account:?} (the recount will): {err}");
        }
    }
}

/// The changes of one commit: the writer's (in the common cases, a
/// client writing its file again or committing its own session, the only
/// ones), and those of up to two other owners (the replaced file's, the
/// session's).
pub(super) struct Changes<'a> {
    writer: Change,
    others: [Option<(Option<&'a str>, Change)>; 2],
    /// The file it replaces, whose owner's: counted after the rename.
    replaced: Option<(Option<&'a str>, Change)>,
}

impl<'a> Changes<'a> {
    fn add(&mut self, mine: Option<&str>, owner: Option<&'a str>, change: Change) {
        if owner == mine {
            self.writer = self.writer.plus(change);
        } else if let Some(free) = self.others.iter_mut().find(|slot| slot.is_none()) {
            *free = Some((owner, change));
        }
    }

    /// Everyone's: what the folders above the file count.
    fn sum(&self) -> Change {
        let others = self.others.iter().flatten();
        others.fold(self.writer, |sum, (_, change)| sum.plus(*change))
    }
}

/// Whether the path of file `leaf` of folder `dir` (`""`: the root),
/// `dir/leaf`, begins with `prefix`: asked without the path made.
fn joined_starts_with((dir, leaf): (&str, &str), prefix: &str) -> bool {
    if dir.is_empty() {
        return leaf.starts_with(prefix);
    }
    if prefix.len() <= dir.len() {
        return dir.starts_with(prefix);
    }
    // Longer than the folder: the folder, a `/`, then the leaf's start
    // (nothing of it, mostly: a file right in the quota'd folder).
    match prefix
        .strip_prefix(dir)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some("") => true,
        Some(rest) => leaf.starts_with(rest),
        None => false,
    }
}

/// What a judged change came to: the refusal, or an error of the ledger.
pub(super) fn refusal(judged: std::io::Result<Option<OverQuota>>) -> Result<(), StorageError> {
    match judged {
        Ok(None) => Ok(()),
        Ok(Some(over)) => Err(StorageError::OverQuota(Box::new(over))),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::joined_starts_with;

    #[test]
    fn a_joined_path_begins_with_a_prefix_as_the_path_would() {
        for (dir, leaf) in [("", "a"), ("box", "a"), ("box/in", "file"), ("boxes", "x")] {
            let path = match dir {
                "" => leaf.to_owned(),
                dir => format!("{dir}/{leaf}"),
            };
            for prefix in [
                "",
                "box/",
                "box",
                "box/in/",
                "box/in/fi",
                "boxes/x",
                "a",
                "b",
            ] {
                assert_eq!(
                    joined_starts_with((dir, leaf), prefix),
                    path.starts_with(prefix),
                    "{path} {prefix}"
                );
            }
        }
    }
}
