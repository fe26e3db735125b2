//! An upload in progress, and its atomic commit (plain or durable): the
//! bytes are staged in a hidden temp file beside the target (a PUT), or in
//! a complete upload session's data file (a COMMIT), and one rename puts
//! them in place. Dropping an [`Upload`] uncommitted removes a PUT's temp
//! file (a session keeps its data) and any directories left empty.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use rustix::fs::AtFlags;

use super::gate::{Gate, Point};
use super::sessions::Staging;
use super::{StorageError, checksum, open_dir_beneath, prune_empty_dirs};

/// Where an upload's bytes wait for the commit.
#[derive(Debug)]
pub(super) enum Staged {
    /// This upload's own temp file of this name, in the target's
    /// directory: removed if the upload is not committed.
    Temp(String),
    /// A complete upload session's data file: the session keeps it if the
    /// upload is not committed, and forgets it once it is.
    Session(Staging),
}

/// An upload in progress: bytes staged for a target.
///
/// Dropping it without [`Upload::commit`] removes a temp file and the
/// directories left empty by that (as DEL does).
#[derive(Debug)]
pub struct Upload {
    /// The target's directory, and its name there.
    pub(super) dir: OwnedFd,
    pub(super) leaf: String,
    pub(super) staged: Staged,
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

    /// Records the upload's CRC-32C with it and renames the staged bytes
    /// over the target: the upload becomes visible, in one step, to every
    /// later reader.
    ///
    /// # Errors
    /// 409 if the target became a directory meanwhile, 500 otherwise; a
    /// temp file is removed either way, a session stays.
    pub fn commit(mut self, crc: u32) -> Result<(), StorageError> {
        self.pause(Point::Commit);
        checksum::record(&self.file, crc);
        self.rename_into_place()?;
        self.forget_session();
        Ok(())
    }

    /// As [`Upload::commit`], and on stable storage when it returns: the
    /// data is flushed before the rename, then the directory entry and those
    /// of its ancestors (directories this upload may have created). Blocks
    /// for as long as the disk takes: call it off the reactor thread.
    ///
    /// # Errors
    /// As [`Upload::commit`], plus any error flushing (507, 500); a flush
    /// that fails after the rename still leaves the file in place.
    pub fn commit_durably(mut self, crc: u32) -> Result<(), StorageError> {
        self.pause(Point::Commit);
        checksum::record(&self.file, crc);
        self.file.sync_all()?;
        // Opened before the rename: running out of descriptors must fail
        // the commit before it happens, not after.
        let ancestors = self.ancestors()?;
        self.rename_into_place()?;
        let flushed = (|| {
            rustix::fs::fsync(&self.dir)?;
            for dir in &ancestors {
                rustix::fs::fsync(dir)?;
            }
            Ok(())
        })();
        // Only once the file is durably in place does the session go: a
        // crash before leaves it, and its bytes, where they were.
        self.forget_session();
        flushed
    }

    /// The one step that commits.
    fn rename_into_place(&mut self) -> Result<(), StorageError> {
        let (from_dir, from) = match &self.staged {
            Staged::Temp(temp) => (&self.dir, temp.clone()),
            Staged::Session(staging) => (&staging.dir, staging.data_name()),
        };
        rustix::fs::renameat(from_dir, from.as_str(), &self.dir, self.leaf.as_str())?;
        self.committed = true;
        Ok(())
    }

    fn forget_session(&self) {
        if let Staged::Session(staging) = &self.staged {
            self.pause(Point::Forget);
            staging.forget();
        }
    }

    /// The directories above the target's, up to the root, for flushing
    /// the entries of directories this upload may have created.
    fn ancestors(&self) -> Result<Vec<OwnedFd>, StorageError> {
        let mut ancestors = Vec::new();
        let mut path = self.dir_path.as_str();
        while !path.is_empty() {
            path = path.rsplit_once('/').map_or("", |(parent, _)| parent);
            ancestors.push(match path {
                "" => rustix::io::dup(&*self.root)?,
                path => open_dir_beneath(&self.root, path)?,
            });
        }
        Ok(ancestors)
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
        if let Staged::Temp(temp) = &self.staged {
            self.pause(Point::Discard);
            if let Err(errno) = rustix::fs::unlinkat(&self.dir, temp.as_str(), AtFlags::empty()) {
                log::error!("could not remove temp file {temp}: {errno}");
            }
        }
        prune_empty_dirs(&self.root, &self.dir_path);
    }
}
