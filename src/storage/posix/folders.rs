//! Folders: the calls that make one, find one, or remove one that holds
//! nothing, as what folders are to each protocol says
//! ([`Folders`](crate::model::Folders): made for a file or by their own
//! request, pruned when emptied or kept); the pruning of the folders a
//! removal leaves empty.
//!
//! A folder here is only ever made or removed beneath the root, through
//! the jail's walks; these calls must never remove a folder that holds
//! anything (a folder with what it holds is `remove.rs`'s), nor prune the
//! root or a folder below the floor its protocol keeps.

use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, FileType, Mode};
use rustix::io::Errno;

use super::gate::Point;
use super::{Storage, StorageError, dir_at, open_dir_beneath};
use crate::name::Name;

/// Removes directory `path` and then its ancestors while they are empty
/// (never the root), where folders are implicit
/// ([`Folders::Implicit`](crate::model::Folders::Implicit)):
/// removing the last file (DEL, or a failed upload's temp file) removes
/// the directories it leaves empty. `floor`: how many leading segments of
/// `path` stay whatever happens (the folders an upload found rather than
/// made, where folders are kept once made; 0 to go up to the root).
/// Returns the directory that held the topmost folder removed, if any:
/// the one to flush for the removals to be durable (the folders below
/// went with it).
pub(super) fn prune_empty_dirs(root: &OwnedFd, path: &str, floor: usize) -> Option<OwnedFd> {
    let mut path = path;
    let mut above = None;
    while !path.is_empty() && path.split('/').count() > floor {
        let (parent, leaf) = path.rsplit_once('/').unwrap_or(("", path));
        let Ok(dir) = dir_at(root, parent) else {
            break;
        };
        if rustix::fs::unlinkat(&dir, leaf, AtFlags::REMOVEDIR).is_err() {
            break; // not empty, or gone already
        }
        above = Some(dir);
        path = parent;
    }
    above
}

impl Storage {
    /// Makes the folder `name` (WebDAV's `MKCOL`); its parent folder must
    /// exist already: nothing is made on the way.
    ///
    /// # Errors
    /// [`StorageError::Exists`] if something has the name,
    /// [`StorageError::NotFound`] if its parent folder is missing (or is a
    /// file).
    /// With `--fsync`, its name is on stable storage before it returns.
    pub(super) fn make_folder(&self, name: &Name) -> Result<(), StorageError> {
        let parent = self.make_folder_unflushed(name)?;
        if self.durable {
            self.flusher.flush(vec![parent])?;
        }
        Ok(())
    }

    /// Makes the folder `name` and the missing folders above it but its
    /// first `kept` (S3's bucket, which only CreateBucket makes); one
    /// already there is no error (S3's folder marker, `PUT key/`).
    ///
    /// # Errors
    /// [`StorageError::Exists`] if a file has the name,
    /// [`StorageError::ParentNotDirectory`] if one is on the way,
    /// [`StorageError::NoBucket`] if one of the first `kept` is not there.
    /// With `--fsync`, its name is on stable storage before it returns.
    pub(super) fn make_folders(&self, name: &Name, kept: usize) -> Result<(), StorageError> {
        self.pause(Point::Delete);
        let (dirs, leaf) = name.split_parent();
        let (parent, _) = self.walk_creating(dirs, kept)?;
        let parent = self.fd(&parent);
        match rustix::fs::mkdirat(parent, leaf, Mode::from_raw_mode(0o755)) {
            Err(Errno::EXIST) => {
                let stat = rustix::fs::statat(parent, leaf, AtFlags::SYMLINK_NOFOLLOW)?;
                match FileType::from_raw_mode(stat.st_mode) {
                    FileType::Directory => Ok(()),
                    _ => Err(StorageError::Exists),
                }
            }
            made => {
                made?;
                if self.durable {
                    let parent = rustix::io::fcntl_dupfd_cloexec(parent, 0)?;
                    self.flusher.flush(vec![parent])?;
                }
                Ok(())
            }
        }
    }

    /// As [`Storage::make_folder`], never flushed: returns the parent
    /// folder, whose flush would make the new name durable (a folder's
    /// copy flushes all it made at once).
    pub(super) fn make_folder_unflushed(&self, name: &Name) -> Result<OwnedFd, StorageError> {
        self.pause(Point::Delete);
        let (dirs, leaf) = name.split_parent();
        let dir = self.walk(dirs)?;
        match rustix::fs::mkdirat(self.fd(&dir), leaf, Mode::from_raw_mode(0o755)) {
            Err(Errno::EXIST) => Err(StorageError::Exists),
            made => {
                made?;
                Ok(rustix::io::fcntl_dupfd_cloexec(self.fd(&dir), 0)?)
            }
        }
    }

    /// Removes the folder `name` if it holds nothing (S3's
    /// `DeleteBucket`): not even an upload under way, whose temp file is
    /// in it.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if no folder has the name (a file is not
    /// one), [`StorageError::NotEmpty`] if it holds anything, 403 for a
    /// symlink.
    pub(super) fn remove_empty_folder(&self, name: &Name) -> Result<(), StorageError> {
        self.pause(Point::Delete);
        let (dirs, leaf) = name.split_parent();
        let dir = self.walk(dirs)?;
        let parent = self.fd(&dir);
        let stat = rustix::fs::statat(parent, leaf, AtFlags::SYMLINK_NOFOLLOW)?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => {}
            FileType::Symlink => return Err(StorageError::Symlink),
            _ => return Err(StorageError::NotFound),
        }
        match rustix::fs::unlinkat(parent, leaf, AtFlags::REMOVEDIR) {
            Err(Errno::NOTEMPTY | Errno::EXIST) => Err(StorageError::NotEmpty),
            removed => Ok(removed?),
        }
    }

    /// Checks that the folder `name` is there (S3's bucket, before a
    /// listing of its keys that would otherwise be empty).
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if no folder has the name; 500 or 503 if
    /// it cannot be looked up.
    pub(super) fn find_folder(&self, name: &Name) -> Result<(), StorageError> {
        self.pause(Point::Walk);
        open_dir_beneath(&self.root, name.as_str()).map(drop)
    }
}
