//! What a durable change owes the disk before its next step
//! ([`Unflushed`]): the files whose bytes and the directories whose
//! entries must be flushed, opened and keyed where the change is made,
//! for the flusher's batches (`flush.rs`) to take without a system call.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;

use super::{StorageError, open_dir_beneath};

/// Directory `dir` (at `dir_path` beneath `root`, "" for the root) and
/// the directories above it up to the root, opened: what a durable change
/// in `dir` flushes, as its new directories' names may be unflushed.
/// Opened before the change, so that running out of descriptors fails it
/// before it happens, not after.
///
/// # Errors
/// A directory cannot be opened (or `dir` duplicated).
pub(super) fn with_ancestors(
    root: &OwnedFd,
    dir: impl AsFd,
    dir_path: &str,
) -> Result<Vec<OwnedFd>, StorageError> {
    let mut dirs = vec![rustix::io::fcntl_dupfd_cloexec(dir, 0)?];
    dirs.extend(between(root, dir_path)?);
    if !dir_path.is_empty() {
        dirs.push(rustix::io::fcntl_dupfd_cloexec(root, 0)?);
    }
    Ok(dirs)
}

/// The directories strictly between directory `dir_path` (beneath
/// `root`) and the root, opened, nearest first: those of
/// [`with_ancestors`] that are neither `dir` nor the root, which a caller
/// holding those two already need not duplicate.
///
/// # Errors
/// A directory cannot be opened.
pub(super) fn between(root: &OwnedFd, dir_path: &str) -> Result<Vec<OwnedFd>, StorageError> {
    let mut dirs = Vec::new();
    let mut path = dir_path;
    while let Some((parent, _)) = path.rsplit_once('/') {
        dirs.push(open_dir_beneath(root, parent)?);
        path = parent;
    }
    Ok(dirs)
}

/// Whether a descriptor owed to the disk is a file's, whose bytes are
/// flushed (`fdatasync`), or a directory's, whose entries are (`fsync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    File,
    Dir,
}

/// What a durable change still owes the disk before its next step: files
/// whose bytes must be flushed, and directories whose entries must be,
/// keyed for a batch (device and inode: two paths, or two descriptors, of
/// one file are one flush). Keyed where they are opened, on an I/O thread,
/// so that handing them to the flusher makes no system call.
#[derive(Debug, Default)]
pub struct Unflushed {
    pub(super) files: Vec<(Key, OwnedFd)>,
    pub(super) dirs: Vec<(Key, OwnedFd)>,
}

/// A file's or a directory's device and inode.
pub(super) type Key = (u64, u64);

fn keyed(fds: impl IntoIterator<Item = OwnedFd>) -> Result<Vec<(Key, OwnedFd)>, Errno> {
    fds.into_iter()
        .map(|fd| {
            let stat = rustix::fs::fstat(&fd)?;
            Ok(((stat.st_dev, stat.st_ino), fd))
        })
        .collect()
}

impl Unflushed {
    /// Adds a copy of `fd` (a duplicate of the descriptor, keyed), owed as
    /// `kind`: the caller keeps its own.
    ///
    /// # Errors
    /// `fd` cannot be duplicated or stat'ed.
    pub(super) fn push_copy(&mut self, kind: Kind, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        let copy = rustix::io::fcntl_dupfd_cloexec(fd, 0)?;
        let stat = rustix::fs::fstat(&copy)?;
        let keyed = ((stat.st_dev, stat.st_ino), copy);
        match kind {
            Kind::File => self.files.push(keyed),
            Kind::Dir => self.dirs.push(keyed),
        }
        Ok(())
    }

    /// Directories `dirs`, keyed.
    ///
    /// # Errors
    /// A directory cannot be stat'ed.
    pub(super) fn of(dirs: Vec<OwnedFd>) -> Result<Unflushed, Errno> {
        Ok(Unflushed {
            files: Vec::new(),
            dirs: keyed(dirs)?,
        })
    }

    /// The bytes of `file` (a descriptor of its own), and directories
    /// `dirs`, keyed.
    ///
    /// # Errors
    /// `file` cannot be duplicated, or it or a directory stat'ed.
    #[cfg(test)]
    pub(super) fn data_and(file: impl AsFd, dirs: Vec<OwnedFd>) -> Result<Unflushed, Errno> {
        Ok(Unflushed {
            files: keyed([rustix::io::fcntl_dupfd_cloexec(file, 0)?])?,
            dirs: keyed(dirs)?,
        })
    }
}
