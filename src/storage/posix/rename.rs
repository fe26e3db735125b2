//! A file's rename (MOVE), atomic as an upload's landing: one
//! `renameat`, without replacing where the client asked so, carrying the
//! file's dead properties along and pruning the folders it leaves where
//! the protocol's folders are implicit. With `--fsync` both names (and
//! the folders pruned, and its record's move) are flushed before the
//! answer, and, for a move
//! into another folder, the folders above the new name before the rename.

use std::os::fd::AsFd;

use rustix::fs::{AtFlags, RenameFlags};
use rustix::io::Errno;

use super::gate::Point;
use super::unflushed::with_ancestors;
use super::{Storage, StorageError, check_regular, prune_empty_dirs};
use crate::model::Folders;
use crate::model::Holder;
use crate::name::Name;

impl Storage {
    /// Renames file `from` to `to` in one `renameat`, as an upload lands:
    /// missing parents of `to` are created where `folders` are made, a
    /// file there is replaced (unless not `overwrite`: then it is
    /// [`StorageError::Exists`]), a directory, symlink or special file
    /// there is refused. Then, where `folders` are pruned, removes the
    /// directories `from` left empty, as DEL does. Returns whether a file
    /// was replaced; `from` renamed to itself changes nothing.
    ///
    /// # Errors
    /// `from`: 404 if absent, 409 for a directory, 403 for a symlink (as
    /// DEL). `to`: as [`Storage::begin_upload`] (409 a directory or a
    /// parent that is a file, 403 a symlink).
    pub(super) fn rename(
        &self,
        from: &Name,
        to: &Name,
        overwrite: bool,
        folders: Folders,
    ) -> Result<bool, StorageError> {
        self.pause(Point::Commit);
        let (dirs, leaf) = from.split_parent();
        let source = self.walk(dirs)?;
        // Counted: both names held from their looks to their counts
        // (`name_locks.rs`), so that the size moved and the size replaced
        // are those the rename moved and replaced.
        let names_held = match &self.usage {
            Some(ledger) => Some(ledger.names.hold_two(from.as_str(), to.as_str())?),
            None => None,
        };
        let stat = rustix::fs::statat(self.fd(&source), leaf, AtFlags::SYMLINK_NOFOLLOW)?;
        check_regular(&stat)?;
        if from == to {
            return Ok(true);
        }
        let size = u64::try_from(stat.st_size).unwrap_or(0);
        let crossed = self.crossings((from.as_str(), to.as_str()), Some(size))?;
        let mut flush = None;
        let replaced = self.with_target(to, folders, |mut target| {
            let replaces = target.look()?;
            // `--fsync`: the new name's directories, opened before the
            // rename (see `unflushed::with_ancestors`).
            if self.durable {
                let mut dirs = with_ancestors(&self.root, &target.dir, &target.dir_path)?;
                // Into another folder, the folders above the new name
                // first (see `flush_above`); within one, nothing new is
                // reached.
                if target.dir_path != super::dir_of(from) {
                    self.flusher.flush_above(&mut dirs)?;
                }
                flush = Some(dirs);
            }
            let (dir, new) = (&target.dir, target.leaf.as_str());
            if !overwrite && replaces {
                return Err(StorageError::Exists);
            }
            let replaced = match overwrite {
                true => self.usage.as_ref().and_then(|l| l.replacing(dir, new)),
                false => None,
            };
            if let Some(ledger) = &self.usage {
                ledger.admit_move(&crossed, replaced.as_ref().map(|(size, _)| *size))?;
            }
            let renamed = match overwrite {
                true => rustix::fs::renameat(self.fd(&source), leaf, dir, new)
                    .map_err(StorageError::from),
                // Never replacing a file made since the look above.
                false => rename_no_replace((self.fd(&source), leaf), (dir, new)),
            };
            let renamed = renamed.and_then(|()| self.injected_fault(Point::Renamed));
            match (&renamed, &self.usage, replaced) {
                (Ok(()), _, Some(going)) => self.count_gone(to.as_str(), going),
                (Err(_), Some(ledger), _) if still_at(self.fd(&source), leaf) => {
                    ledger.take_back_entered(&crossed, usize::MAX)
                }
                _ => {}
            }
            renamed.map(|()| overwrite && replaces)
        })?;
        if let Some(ledger) = &self.usage {
            ledger.count_left(&crossed);
        }
        // Counted: the flushes below keep no other change of the names
        // waiting.
        drop(names_held);
        if let Some(dirs) = &mut flush {
            // The new name first, then the old one's removal: a power cut
            // in between leaves the file under both names (where each
            // directory is flushed on its own), never under neither.
            self.flusher.flush(std::mem::take(dirs))?;
        }
        // Its record's move is flushed with the old name's removal.
        let records = self.move_records(Holder::File(from.as_str()), Holder::File(to.as_str()));
        let pruned = folders
            .pruned_below()
            .and_then(|floor| prune_empty_dirs(&self.root, super::dir_of(from), floor));
        if flush.is_some() {
            // The old name's removal, or where its folder went with the
            // folders that left empty (as DEL, `Storage::delete`).
            let dir = match pruned {
                Some(above) => above,
                None => rustix::io::fcntl_dupfd_cloexec(self.fd(&source), 0)?,
            };
            self.flusher
                .flush(records.into_iter().chain([dir]).collect())?;
        }
        Ok(replaced)
    }
}

/// Renames `old` (in its folder) onto `new` (in its) unless something has
/// that name: atomically (`RENAME_NOREPLACE`) where the file system can;
/// where it cannot (some network and FUSE file systems), after a look,
/// with a moment between the two in which another writer could take the
/// name. The one home of that rule, for a file's MOVE, a folder's copy
/// landing and a create-only upload's commit.
///
/// # Errors
/// [`StorageError::Exists`] if something has the name (a folder that is
/// not empty included); what the rename fails with.
pub(super) fn rename_no_replace(
    (old_dir, old): (impl AsFd, &str),
    (new_dir, new): (impl AsFd, &str),
) -> Result<(), StorageError> {
    match rustix::fs::renameat_with(&old_dir, old, &new_dir, new, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(Errno::EXIST | Errno::NOTEMPTY) => Err(StorageError::Exists),
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
            match rustix::fs::statat(&new_dir, new, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(_) => Err(StorageError::Exists),
                Err(Errno::NOENT) => Ok(rustix::fs::renameat(&old_dir, old, &new_dir, new)?),
                Err(errno) => Err(errno.into()),
            }
        }
        Err(errno) => Err(errno.into()),
    }
}

/// Whether `name` is still in `dir`, after a rename of it failed: then
/// the rename surely did not happen, and what was counted for it is
/// taken back. A rename can fail and still have happened (a network or
/// FUSE file system's client killed before it answered); where the name
/// is gone, or the file system cannot say, the count stays: the ledger
/// high until a recount, never low (`usage_commit.rs`).
pub(super) fn still_at(dir: impl AsFd, name: &str) -> bool {
    let there = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok();
    if !there {
        log::warn!("{name}: a rename failed and may have happened: its count stays");
    }
    there
}
