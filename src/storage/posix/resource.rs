//! A file or folder as WebDAV's properties see it, whatever it is: what
//! has a name (and its inode, which dead properties are recorded for:
//! `dead_props.rs`), its modification time set (`PROPPATCH` of
//! `getlastmodified`), and the space of the root's file system (RFC
//! 4331's quota properties). Blocks on the disk: for the I/O pool.

use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, FileType};

use super::checksum::Kept;
use super::{Storage, StorageError, open_dir_beneath};
use crate::model::{FileInfo, Resource, Space, Stamp};

impl Storage {
    /// What `path` is (a file, a folder, or a folder asked for with its
    /// `/`, `folder`), with its time and inode.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if nothing of that kind has the name;
    /// [`StorageError::Symlink`] and [`StorageError::NotRegular`] for what
    /// ferry never serves.
    pub fn resource(&self, path: &str, folder: bool) -> Result<Resource, StorageError> {
        let stat = match path.rsplit_once('/').unwrap_or(("", path)) {
            (_, "") => rustix::fs::fstat(&*self.root)?,
            ("", leaf) => rustix::fs::statat(&*self.root, leaf, AtFlags::SYMLINK_NOFOLLOW)?,
            (dir, leaf) => {
                let dir = open_dir_beneath(&self.root, dir)?;
                rustix::fs::statat(&dir, leaf, AtFlags::SYMLINK_NOFOLLOW)?
            }
        };
        let folder_found = match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => true,
            FileType::RegularFile if !folder => false,
            FileType::RegularFile => return Err(StorageError::NotFound),
            FileType::Symlink => return Err(StorageError::Symlink),
            _ => return Err(StorageError::NotRegular),
        };
        Ok(Resource {
            folder: folder_found,
            info: FileInfo::of(&stat),
            stamp: Stamp::of(&stat),
        })
    }

    /// Sets the modification time of `path` (a file or folder, "" the
    /// root) to `mtime` (Unix seconds), leaving its access time.
    ///
    /// # Errors
    /// As [`Storage::resource`]; the time cannot be set.
    pub(super) fn set_mtime(&self, path: &str, mtime: i64) -> Result<(), StorageError> {
        // A file's records name its time: kept across the change.
        let kept = (!path.is_empty())
            .then(|| super::open_beneath(&self.root, path, super::READ_FILE).ok())
            .flatten()
            .map(std::fs::File::from)
            .and_then(|file| {
                let stat = rustix::fs::fstat(&file).ok()?;
                super::check_regular(&stat).ok()?;
                let kept = Kept::of(&file, &stat);
                Some((file, kept))
            });
        self.set_mtime_of(path, mtime)?;
        if let Some((file, kept)) = kept {
            kept.record_again(&file);
        }
        Ok(())
    }

    fn set_mtime_of(&self, path: &str, mtime: i64) -> Result<(), StorageError> {
        let times = super::mtime_only(mtime);
        match path.rsplit_once('/').unwrap_or(("", path)) {
            (_, "") => Ok(rustix::fs::futimens(&*self.root, &times)?),
            ("", leaf) => Ok(rustix::fs::utimensat(
                &*self.root,
                leaf,
                &times,
                AtFlags::SYMLINK_NOFOLLOW,
            )?),
            (dir, leaf) => {
                let dir = open_dir_beneath(&self.root, dir)?;
                Ok(rustix::fs::utimensat(
                    &dir,
                    leaf,
                    &times,
                    AtFlags::SYMLINK_NOFOLLOW,
                )?)
            }
        }
    }

    /// The root's file system's space: bytes and files free for ferry and
    /// in use (RFC 4331's quota properties), and its size (what a reserve
    /// in percent is of).
    ///
    /// # Errors
    /// `fstatvfs` failed.
    pub(super) fn space(&self) -> Result<Space, StorageError> {
        space_of(&self.root)
    }
}

/// The space of the file system of `root` (see [`Storage::space`]).
///
/// # Errors
/// `fstatvfs` failed.
pub(super) fn space_of(root: &OwnedFd) -> Result<Space, StorageError> {
    let fs = rustix::fs::fstatvfs(root)?;
    Ok(Space {
        available: fs.f_bavail.saturating_mul(fs.f_frsize),
        used: fs
            .f_blocks
            .saturating_sub(fs.f_bfree)
            .saturating_mul(fs.f_frsize),
        size: fs.f_blocks.saturating_mul(fs.f_frsize),
        files_available: fs.f_favail,
        files_used: fs.f_files.saturating_sub(fs.f_ffree),
    })
}
