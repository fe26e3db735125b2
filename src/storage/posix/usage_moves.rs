//! What a move (a file's or a folder's rename) counts in the usage ledger
//! (`usage.rs`), around the rename, in the quota'd folders it crosses:
//!
//! ```text
//! crossed  the quota'd folders it enters or leaves, and which part of
//!          what moves crosses each: all of it for a folder above the
//!          target (or the source) alone; for a folder move, what lies
//!          at the same path below the source for a quota'd folder below
//!          the target, which the moved tree fills
//! admit    before the rename: each folder it enters judged by what it
//!          adds (net of a file it replaces) and counted, under that
//!          folder's lock; refused, nothing counted, nothing renamed
//! rename   failed: what was admitted is taken back
//! left     after it: the folders it left lose what left them
//! ```
//!
//! Moves and writes side by side, on this node or another, cannot
//! together pass a folder's quota. Owners keep their files through a
//! move: no token's count changes.

use crate::model::Usage;

use super::usage::{Change, Ledger, Slot};
use super::usage_limit::over_quota;
use super::{Storage, StorageError};
use crate::model::Account;
use crate::name::{Name, Prefix};

/// One quota'd folder a move crosses, and what of the move crosses it.
pub(super) struct Crossing {
    /// The folder's place in the ledger.
    place: usize,
    /// Whether the move enters it (else it leaves it).
    enters: bool,
    /// Where what crosses it lies before the move: a folder below the
    /// moved one (`None`: all that moves).
    below: Option<String>,
    /// What crosses it: a file's size and one file, or a walked tree's.
    pub(super) share: Usage,
}

impl Crossing {
    /// Whether a file of `path` (before the move) crosses this folder.
    pub(super) fn holds(&self, path: &str) -> bool {
        self.below
            .as_ref()
            .is_none_or(|below| path.starts_with(below.as_str()))
    }
}

impl Ledger {
    /// The quota'd folders a move from `from` to `to` (file names, or
    /// folders ending in `/`) enters or leaves, their shares still to be
    /// told (empty where it crosses none: no walk then).
    pub(super) fn crossed(&self, (from, to): (&str, &str)) -> Vec<Crossing> {
        let mut crossed = Vec::new();
        for (place, prefix) in self.folders.iter().enumerate() {
            let (above_from, above_to) = (
                from.starts_with(prefix.as_str()),
                to.starts_with(prefix.as_str()),
            );
            let (enters, below) = if above_from != above_to {
                (above_to, None)
            } else if let Some(rest) = below_folder(prefix, to) {
                (true, Some(format!("{from}{rest}")))
            } else if below_folder(prefix, from).is_some() {
                (false, Some(prefix.clone()))
            } else {
                continue;
            };
            let share = Usage::default();
            crossed.push(Crossing {
                place,
                enters,
                below,
                share,
            });
        }
        crossed
    }

    /// Judges and counts a move's shares in the folders it enters
    /// (`crossed`, with their shares told), each by what it adds (net of
    /// `replaced`, the size of a file it replaces there, counted gone
    /// after the rename) under that folder's lock. The folders it leaves
    /// are counted after the rename ([`Ledger::count_left`]); a rename
    /// that fails takes this back ([`Ledger::take_back_entered`]).
    ///
    /// # Errors
    /// [`StorageError::OverQuota`] (nothing counted); the ledger cannot
    /// be read or written.
    pub(super) fn admit_move(
        &self,
        crossed: &[Crossing],
        replaced: Option<u64>,
    ) -> Result<(), StorageError> {
        for (admitted, crossing) in crossed.iter().filter(|c| c.enters).enumerate() {
            let moved = crossing.share;
            let more = Usage {
                bytes: moved.bytes.saturating_sub(replaced.unwrap_or(0)),
                files: moved.files - u64::from(replaced.is_some()).min(moved.files),
            };
            let (place, prefix) = (crossing.place, self.folders[crossing.place].as_str());
            let (account, quota) = (Account::Folder(prefix), self.limits[place]);
            let judged = self.change_within(Slot::Folder(place), Change::came(moved), |used| {
                over_quota(quota, used, more, account)
            });
            if let Err(refused) = super::usage_commit::refusal(judged) {
                self.take_back_entered(crossed, admitted);
                return Err(refused);
            }
        }
        Ok(())
    }

    /// Whether a move's shares fit in the folders it enters (`crossed`,
    /// with their shares told), judged as [`Ledger::admit_move`] judges
    /// them, nothing counted.
    ///
    /// # Errors
    /// [`StorageError::OverQuota`]; the ledger cannot be read.
    pub(super) fn judge_entered(&self, crossed: &[Crossing]) -> Result<(), StorageError> {
        for crossing in crossed.iter().filter(|c| c.enters) {
            let place = crossing.place;
            let account = Account::Folder(self.folders[place].as_str());
            let used = self.read_at(Slot::Folder(place))?;
            let over = over_quota(self.limits[place], used, crossing.share, account);
            super::usage_commit::refusal(Ok(over))?;
        }
        Ok(())
    }

    /// Takes a move's count back from the first `admitted` folders it
    /// entered ([`Ledger::admit_move`]).
    pub(super) fn take_back_entered(&self, crossed: &[Crossing], admitted: usize) {
        for crossing in crossed.iter().filter(|c| c.enters).take(admitted) {
            let change = Change::came(crossing.share).negated();
            self.count_in(Slot::Folder(crossing.place), change);
        }
    }

    /// Counts a move, after its rename, in the folders it left: they lose
    /// what left them (those it entered counted it before).
    pub(super) fn count_left(&self, crossed: &[Crossing]) {
        for crossing in crossed.iter().filter(|c| !c.enters) {
            let change = Change::came(crossing.share).negated();
            self.count_in(Slot::Folder(crossing.place), change);
        }
    }
}

/// Where folder `prefix` lies strictly below folder `folder` (ending in
/// `/`): the rest of its path. `None` for a file's name.
fn below_folder<'a>(prefix: &'a str, folder: &str) -> Option<&'a str> {
    let rest = prefix
        .strip_prefix(folder)
        .filter(|_| folder.ends_with('/'))?;
    (!rest.is_empty()).then_some(rest)
}

impl Storage {
    /// [`Store::judge_folder_move`](crate::storage::Store::judge_folder_move):
    /// folder `from` moved to `to`, judged in the quota'd folders it
    /// fills, nothing counted.
    ///
    /// # Errors
    /// [`StorageError::OverQuota`]; a folder in `from` cannot be read.
    pub(super) fn judge_folder_move(&self, from: &Prefix, to: &Name) -> Result<(), StorageError> {
        let Some(ledger) = &self.usage else {
            return Ok(());
        };
        let into = format!("{}/", to.as_str());
        // Walked only where it enters one: folders it only leaves are
        // not judged, and the rename walks the tree again (under its
        // names' locks) in any case.
        let crossed = ledger.crossed((from.as_str(), &into));
        if !crossed.iter().any(|crossing| crossing.enters) {
            return Ok(());
        }
        ledger.judge_entered(&self.crossings((from.as_str(), &into), None)?)
    }

    /// The quota'd folders a move from `from` to `to` crosses, each with
    /// its share told: a file of `size` bytes, or (`None`) what folder
    /// `from` holds, walked once and only where the move crosses one.
    ///
    /// # Errors
    /// A folder in the moved one could not be read.
    pub(super) fn crossings(
        &self,
        (from, to): (&str, &str),
        size: Option<u64>,
    ) -> Result<Vec<Crossing>, StorageError> {
        let Some(ledger) = &self.usage else {
            return Ok(Vec::new());
        };
        let mut crossed = ledger.crossed((from, to));
        match size {
            Some(size) => crossed
                .iter_mut()
                .for_each(|crossing| crossing.share = Usage::one_file(size)),
            None if !crossed.is_empty() => {
                let folder = Prefix::new(from.to_owned()).map_err(|_| StorageError::NotFound)?;
                self.walk_usage(false, &folder, |path, size, _| {
                    let crossing = crossed.iter_mut().filter(|c| c.holds(path));
                    crossing.for_each(|crossing| crossing.share.add_file(size));
                })?;
            }
            None => {}
        }
        Ok(crossed)
    }
}
