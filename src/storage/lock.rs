//! One server per root, enforced: the root lock.
//!
//! A server holds an exclusive `flock` on its root directory from before it
//! touches anything there (the start-up sweep removes temp files it takes
//! for a dead run's; the session index is loaded once) until its process
//! ends. The kernel drops the lock when the process dies, however it dies,
//! so a lock is never stale, and nothing is added to the root for it. A
//! second server finds it held, looks up the holder's pid in `/proc/locks`
//! and exits naming it, having deleted nothing.
//!
//! When several nodes come to share a root on purpose, each will lock a
//! file of its own (`.ferry-lock-<node>`) and take over a dead node's temp
//! files only once that node's lock can be had.

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, Mode};
use rustix::io::Errno;

/// An exclusive hold on a root, released when dropped (or when the
/// process ends).
#[derive(Debug)]
pub struct RootLock {
    _dir: OwnedFd,
}

/// The root is locked by another server.
#[derive(Debug)]
pub struct RootInUse {
    /// The root.
    pub root: PathBuf,
    /// The holder's pid, if `/proc/locks` tells it.
    pub pid: Option<u32>,
}

impl fmt::Display for RootInUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is in use by another ferry server",
            self.root.display()
        )?;
        match self.pid {
            Some(pid) => write!(f, " (pid {pid})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for RootInUse {}

impl RootLock {
    /// Locks the root open as `root_fd` (found at `root`), or says who holds
    /// it.
    ///
    /// # Errors
    /// [`RootInUse`] (inside an `io::Error` of kind `WouldBlock`, see
    /// [`root_in_use`]) if another server holds it; an I/O error if the
    /// file system cannot lock it (then ferry would not know whether
    /// another server is there).
    pub fn acquire(root_fd: &OwnedFd, root: &Path) -> std::io::Result<RootLock> {
        // An open file description of its own: the lock lives exactly as
        // long as this descriptor.
        let dir = rustix::fs::openat(root_fd, ".", super::DIR, Mode::empty())?;
        match rustix::fs::flock(&dir, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(RootLock { _dir: dir }),
            Err(Errno::WOULDBLOCK) => {
                let in_use = RootInUse {
                    root: root.to_path_buf(),
                    pid: holder(dir.as_fd()),
                };
                Err(std::io::Error::new(std::io::ErrorKind::WouldBlock, in_use))
            }
            Err(errno) => Err(std::io::Error::other(format!(
                "cannot lock {} against a second server: {errno}",
                root.display()
            ))),
        }
    }
}

/// The pid that holds a `flock` on `dir`, from `/proc/locks`, whose lines
/// read `1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF` (the file as
/// major:minor:inode, the device numbers in hex).
fn holder(dir: std::os::fd::BorrowedFd<'_>) -> Option<u32> {
    let stat = rustix::fs::fstat(dir).ok()?;
    let file = format!(
        "{:02x}:{:02x}:{}",
        rustix::fs::major(stat.st_dev),
        rustix::fs::minor(stat.st_dev),
        stat.st_ino
    );
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let at = fields.iter().position(|f| *f == "FLOCK")?;
        match (fields.get(at + 3), fields.get(at + 4)) {
            (Some(pid), Some(held)) if *held == file => pid.parse().ok(),
            _ => None,
        }
    })
}

/// The [`RootInUse`] inside `err`, if that is what it is.
pub fn root_in_use(err: &std::io::Error) -> Option<&RootInUse> {
    err.get_ref()?.downcast_ref::<RootInUse>()
}
