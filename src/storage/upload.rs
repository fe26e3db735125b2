//! An upload in progress: its hidden temp file beside the target, and the
//! atomic commit (plain or durable). Dropping an [`Upload`] uncommitted
//! removes the temp file and any directories that leaves empty.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use rustix::fs::{AtFlags, Mode, OFlags};

use super::gate::{Gate, Point};
use super::{StorageError, checksum, open_dir_beneath, prune_empty_dirs};

/// An upload in progress: a temp file beside its target.
///
/// Dropping it without [`Upload::commit`] removes the temp file and the
/// directories left empty by that (as DEL does).
#[derive(Debug)]
pub struct Upload {
    pub(super) dir: OwnedFd,
    pub(super) temp: String,
    pub(super) leaf: String,
    pub(super) file: File,
    pub(super) committed: bool,
    /// The root, and the target's directory relative to it ("" for the
    /// root), for pruning empty directories and flushing new ones.
    pub(super) root: Arc<OwnedFd>,
    pub(super) dir_path: String,
    /// A file of that name existed when the upload began.
    pub(super) replaces: bool,
    /// A test's hold on commits (see [`super::gate`]).
    pub(super) gate: Option<Arc<Gate>>,
}

impl Upload {
    /// Appends body bytes to the temp file.
    ///
    /// # Errors
    /// [`StorageError::NoSpace`] on a full disk, [`StorageError::Io`] on
    /// other I/O errors.
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        self.pause(Point::Write);
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
        self.pause(Point::Commit);
        checksum::record(&self.file, crc);
        rustix::fs::renameat(&self.dir, self.temp.as_str(), &self.dir, self.leaf.as_str())?;
        self.committed = true;
        Ok(())
    }

    /// As [`Upload::commit`], and on stable storage when it returns: the
    /// data is flushed before the rename, then the directory entry and those
    /// of its ancestors (directories this upload may have created). Blocks
    /// for as long as the disk takes: call it off the reactor thread.
    ///
    /// # Errors
    /// As [`Upload::commit`], plus any error flushing (507, 500).
    pub fn commit_durably(mut self, crc: u32) -> Result<(), StorageError> {
        self.pause(Point::Commit);
        checksum::record(&self.file, crc);
        self.file.sync_all()?;
        rustix::fs::renameat(&self.dir, self.temp.as_str(), &self.dir, self.leaf.as_str())?;
        self.committed = true;
        rustix::fs::fsync(&self.dir)?;
        let mut path = self.dir_path.as_str();
        while !path.is_empty() {
            path = path.rsplit_once('/').map_or("", |(parent, _)| parent);
            if path.is_empty() {
                rustix::fs::fsync(&*self.root)?;
            } else {
                rustix::fs::fsync(open_dir_beneath(&self.root, path)?)?;
            }
        }
        Ok(())
    }
}

impl Upload {
    fn pause(&self, point: Point) {
        if let Some(gate) = &self.gate {
            gate.pass(point);
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        self.pause(Point::Discard);
        if let Err(errno) = rustix::fs::unlinkat(&self.dir, self.temp.as_str(), AtFlags::empty()) {
            log::error!("could not remove temp file {}: {errno}", self.temp);
        }
        prune_empty_dirs(&self.root, &self.dir_path);
    }
}
