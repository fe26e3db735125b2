//! A `flock` held as a value: taken on a descriptor, let go *explicitly*
//! when the value is dropped.
//!
//! Closing the descriptor is not enough. A `flock` belongs to the open
//! file description, and lives while any descriptor of it does; a child
//! process being spawned (a hook, or a test's client beside an in-process
//! server) holds a copy of every descriptor from its fork until its exec,
//! `CLOEXEC` or not. A lock let go by `close` alone stays held by that
//! copy for as long as the exec takes, so a thread that tries it at that
//! moment finds it taken: an upload's next write was refused as "in use
//! by another node" on a one-node server (the flaky SFTP tests). An
//! explicit unlock releases it whatever copies exist.

use std::fs::File;
use std::ops::Deref;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;

/// Descriptor `F` with a `flock` on it, released when this is dropped.
#[derive(Debug)]
pub(super) struct Flock<F: AsFd = OwnedFd>(F);

impl<F: AsFd> Flock<F> {
    /// Takes lock `how` on `fd`: `Ok(None)` if a non-blocking one is held
    /// elsewhere; a blocking one waits for it.
    ///
    /// # Errors
    /// The file system cannot lock.
    pub(super) fn take(fd: F, how: FlockOperation) -> Result<Option<Self>, Errno> {
        match rustix::fs::flock(&fd, how) {
            Ok(()) => Ok(Some(Flock(fd))),
            Err(Errno::WOULDBLOCK) => Ok(None),
            Err(errno) => Err(errno),
        }
    }

    /// `fd`, which its caller has just locked (and may have had to look
    /// at while it could not).
    pub(super) fn locked(fd: F) -> Self {
        Flock(fd)
    }

    /// Waits for the exclusive lock on `fd`.
    ///
    /// # Errors
    /// The file system cannot lock.
    pub(super) fn exclusive(fd: F) -> Result<Self, Errno> {
        rustix::fs::flock(&fd, FlockOperation::LockExclusive)?;
        Ok(Flock(fd))
    }
}

impl Flock {
    /// Waits for the exclusive lock of lock file `name` in `dir`, opened
    /// (made if need be) anew for this hold: a regular file's `flock` is
    /// what a shared file system forwards to its other hosts.
    ///
    /// # Errors
    /// The file cannot be opened or made, or the file system cannot lock.
    pub(super) fn exclusive_at(dir: impl AsFd, name: &str) -> Result<Self, Errno> {
        Flock::exclusive(open_lock_file(dir, name)?)
    }
}

/// Opens lock file `name` in `dir`, making it (empty, owner-only) if it
/// is not there; a symbolic link is refused.
///
/// # Errors
/// The file cannot be opened or made.
pub(super) fn open_lock_file(dir: impl AsFd, name: &str) -> Result<OwnedFd, Errno> {
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o600))
}

impl Flock<File> {
    /// Another descriptor of the locked file (the same open file
    /// description): for reading and writing while this holds the lock.
    ///
    /// # Errors
    /// Out of descriptors.
    pub(super) fn another(&self) -> std::io::Result<File> {
        self.0.try_clone()
    }
}

impl<F: AsFd> Deref for Flock<F> {
    type Target = F;

    fn deref(&self) -> &F {
        &self.0
    }
}

impl<F: AsFd> Drop for Flock<F> {
    fn drop(&mut self) {
        let _ = rustix::fs::flock(&self.0, FlockOperation::Unlock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{Mode, OFlags};

    fn open(dir: &std::path::Path) -> OwnedFd {
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC;
        rustix::fs::open(dir.join("lock"), flags, Mode::from_raw_mode(0o600)).unwrap()
    }

    #[test]
    fn a_lock_is_let_go_when_dropped_whatever_copies_of_its_descriptor_live() {
        let dir = tempfile::tempdir().unwrap();
        let how = FlockOperation::NonBlockingLockExclusive;
        let held = Flock::take(open(dir.path()), how).unwrap().unwrap();
        // What a child being spawned holds until its exec.
        let copy = rustix::io::fcntl_dupfd_cloexec(&*held, 0).unwrap();
        assert!(Flock::take(open(dir.path()), how).unwrap().is_none());
        drop(held);
        let again = Flock::take(open(dir.path()), how).unwrap();
        assert!(again.is_some(), "still held through the copy");
        drop(copy);
    }
}
