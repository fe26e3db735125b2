//! An upload in progress: its hidden temp file beside the target, the
//! directories created for it, and the atomic commit (plain or durable).
//! Dropping an [`Upload`] uncommitted removes all of it.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Mode, OFlags};

use super::{StorageError, checksum};

/// Directories an upload created, each as (descriptor of its parent, its
/// name), outermost first. Dropped armed, it removes those still empty,
/// innermost first, so a failed upload leaves no empty directories behind.
#[derive(Debug)]
pub(super) struct CreatedDirs(pub(super) Vec<(OwnedFd, String)>);

impl Drop for CreatedDirs {
    fn drop(&mut self) {
        while let Some((parent, name)) = self.0.pop() {
            if rustix::fs::unlinkat(&parent, name.as_str(), AtFlags::REMOVEDIR).is_err() {
                break; // not empty: someone else's upload is using it
            }
        }
    }
}

/// An upload in progress: a temp file beside its target.
///
/// Dropping it without [`Upload::commit`] removes the temp file and the
/// directories created for it.
#[derive(Debug)]
pub struct Upload {
    pub(super) dir: OwnedFd,
    pub(super) temp: String,
    pub(super) leaf: String,
    pub(super) file: File,
    pub(super) committed: bool,
    /// Dropped after `Drop::drop` has removed the temp file.
    pub(super) created: CreatedDirs,
    /// A file of that name existed when the upload began.
    pub(super) replaces: bool,
}

impl Upload {
    /// Appends body bytes to the temp file.
    ///
    /// # Errors
    /// 507 on a full disk, 500 on other I/O errors.
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        self.file.write_all(data).map_err(StorageError::from)
    }

    /// Whether a file of the target's name existed when the upload began.
    pub fn replaces_existing(&self) -> bool {
        self.replaces
    }

    /// Replaces the (empty) temp file with the file `name` in `dir`: how a
    /// completed upload session becomes an upload ready to commit.
    pub(super) fn adopt(&mut self, dir: &OwnedFd, name: &str) -> Result<(), StorageError> {
        rustix::fs::renameat(dir, name, &self.dir, self.temp.as_str())?;
        let flags = OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        self.file = File::from(rustix::fs::openat(
            &self.dir,
            self.temp.as_str(),
            flags,
            Mode::empty(),
        )?);
        Ok(())
    }

    /// Records the upload's CRC-32C with it and renames the temp file over
    /// the target: the upload becomes visible, in one step, to every later
    /// reader.
    ///
    /// # Errors
    /// 409 if the target became a directory meanwhile, 500 otherwise; the
    /// temp file is removed either way.
    pub fn commit(mut self, crc: u32) -> Result<(), StorageError> {
        checksum::record(&self.file, crc);
        rustix::fs::renameat(&self.dir, self.temp.as_str(), &self.dir, self.leaf.as_str())?;
        self.committed = true;
        self.created.0.clear(); // they hold the file now: keep them
        Ok(())
    }

    /// As [`Upload::commit`], and on stable storage when it returns: the
    /// data is flushed before the rename, then the directory entry (and the
    /// entries of any directories this upload created) after it. Blocks
    /// for as long as the disk takes: call it off the reactor thread.
    ///
    /// # Errors
    /// As [`Upload::commit`], plus any error flushing (507, 500).
    pub fn commit_durably(mut self, crc: u32) -> Result<(), StorageError> {
        checksum::record(&self.file, crc);
        self.file.sync_all()?;
        rustix::fs::renameat(&self.dir, self.temp.as_str(), &self.dir, self.leaf.as_str())?;
        self.committed = true;
        rustix::fs::fsync(&self.dir)?;
        for (parent, _) in self.created.0.drain(..) {
            rustix::fs::fsync(&parent)?;
        }
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Err(errno) = rustix::fs::unlinkat(&self.dir, self.temp.as_str(), AtFlags::empty()) {
            log::error!("could not remove temp file {}: {errno}", self.temp);
        }
    }
}
