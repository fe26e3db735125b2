//! Locks by name, for the changes that must see what a name holds and
//! change it in one step where usage is counted: an upload's commit over a
//! file (what it replaces is taken off its owner's account), a delete, a
//! file's move. Without one, two commits over one name each took the same
//! old file off the ledger, or a delete took a size a commit had already
//! replaced: the counts drifted (issue 75: 12 PUTs side by side over one
//! name left `0` counted for a 100 KiB file).
//!
//! ```text
//! .ferry-quota/
//!   name.<00..3f>    empty files; a name's lock is the flock of one of
//!                    them, chosen by an FNV-1a hash of its path
//! ```
//!
//! A lock holds across threads (a mutex per file: `flock` on one shared
//! descriptor does not keep this process's threads apart) and across
//! nodes on a shared root (`flock` on a regular file, which JuiceFS and
//! NFS forward: docs/scaling.md). Names share 64 locks: two names that
//! hash alike wait for each other for the few system calls a commit
//! takes under it, which is cheaper than a file per name. Taken before
//! any account's lock (`usage.rs`), never while one is held; a move takes
//! its two names' locks in the order of their files.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustix::fs::FlockOperation;

use super::flock::open_lock_file;

/// How many lock files the names share.
const LOCKS: usize = 64;

/// The name locks of one root's ledger.
#[derive(Debug)]
pub(super) struct NameLocks {
    /// The ledger's folder, where the lock files are.
    dir: OwnedFd,
    /// Each lock file, opened when first needed.
    files: Vec<Mutex<Option<OwnedFd>>>,
}

/// A name's lock, held until dropped.
#[derive(Debug)]
pub(super) struct NameHold<'a> {
    file: MutexGuard<'a, Option<OwnedFd>>,
}

impl Drop for NameHold<'_> {
    fn drop(&mut self) {
        if let Some(fd) = self.file.as_ref() {
            let _ = rustix::fs::flock(fd, FlockOperation::Unlock);
        }
    }
}

impl NameLocks {
    /// The name locks kept in the ledger's folder `dir`.
    pub(super) fn new(dir: OwnedFd) -> NameLocks {
        NameLocks {
            dir,
            files: (0..LOCKS).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Holds the lock of the file `leaf` of folder `dir` (`""`: the
    /// root): of the path `dir/leaf`, without the path made.
    ///
    /// # Errors
    /// The lock file cannot be opened or locked.
    pub(super) fn hold(&self, (dir, leaf): (&str, &str)) -> io::Result<NameHold<'_>> {
        self.hold_at(which(dir, leaf))
    }

    /// Holds the locks of the paths `one` and `other` (a move's), in the
    /// order of their files, the same file once.
    ///
    /// # Errors
    /// As [`NameLocks::hold`]; nothing is held then.
    pub(super) fn hold_two(
        &self,
        one: &str,
        other: &str,
    ) -> io::Result<(NameHold<'_>, Option<NameHold<'_>>)> {
        let (one, other) = (which_path(one), which_path(other));
        if one == other {
            return Ok((self.hold_at(one)?, None));
        }
        let first = self.hold_at(one.min(other))?;
        let second = self.hold_at(one.max(other))?;
        Ok((first, Some(second)))
    }

    /// Holds every name's lock, in order: a folder's move, which changes
    /// the names of everything below it, excludes every commit, delete and
    /// move of a name from its rename to its count.
    ///
    /// # Errors
    /// As [`NameLocks::hold`]; nothing is held then.
    pub(super) fn hold_all(&self) -> io::Result<Vec<NameHold<'_>>> {
        (0..LOCKS).map(|at| self.hold_at(at)).collect()
    }

    /// Waits out every change that holds a name's lock now: each lock
    /// taken and let go in turn. A recount's, once it has read what had
    /// landed: a commit counted before that has renamed its file by the
    /// time its name's lock is free, so the walk after sees it.
    pub(super) fn barrier(&self) -> io::Result<()> {
        for at in 0..LOCKS {
            drop(self.hold_at(at)?);
        }
        Ok(())
    }

    fn hold_at(&self, at: usize) -> io::Result<NameHold<'_>> {
        let Some(slot) = self.files.get(at) else {
            unreachable!("a lock's number is taken modulo their count");
        };
        let mut file = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if file.is_none() {
            *file = Some(self.open(at)?);
        }
        if let Some(fd) = file.as_ref() {
            rustix::fs::flock(fd, FlockOperation::LockExclusive)?;
        }
        Ok(NameHold { file })
    }

    /// Opens (making it) lock file `at`: once per run.
    #[cold]
    fn open(&self, at: usize) -> io::Result<OwnedFd> {
        Ok(open_lock_file(&self.dir, &format!("name.{at:02x}"))?)
    }
}

/// The lock of the path `dir/leaf` (`leaf` alone in the root).
fn which(dir: &str, leaf: &str) -> usize {
    let mut hash = Fnv::default();
    if !dir.is_empty() {
        hash.add(dir.as_bytes());
        hash.add(b"/");
    }
    hash.add(leaf.as_bytes());
    hash.lock()
}

/// The lock of `path`.
fn which_path(path: &str) -> usize {
    let mut hash = Fnv::default();
    hash.add(path.as_bytes());
    hash.lock()
}

/// FNV-1a, 64 bits: the same on every node and every build, so that two
/// nodes take the same lock for one name (std's hasher promises neither).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn lock(&self) -> usize {
        (self.0 % LOCKS as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{Mode, OFlags};

    #[test]
    fn a_path_takes_the_same_lock_whole_or_split() {
        for (dir, leaf) in [("", "a"), ("box", "a"), ("box/in", "file.csv")] {
            let path = match dir {
                "" => leaf.to_owned(),
                dir => format!("{dir}/{leaf}"),
            };
            assert_eq!(which(dir, leaf), which_path(&path), "{path}");
        }
        // Pinned: nodes of other builds must agree.
        assert_eq!(which_path("box/a"), 18);
        let spread: std::collections::HashSet<usize> =
            (0..1000).map(|n| which_path(&format!("f{n}"))).collect();
        assert_eq!(spread.len(), LOCKS);
    }

    #[test]
    fn a_lock_keeps_threads_apart_and_two_names_take_theirs_in_order() {
        let root = tempfile::tempdir().unwrap();
        let dir = rustix::fs::open(root.path(), OFlags::DIRECTORY, Mode::empty()).unwrap();
        let locks = std::sync::Arc::new(NameLocks::new(dir));
        let held = locks.hold(("box", "a")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let other = std::sync::Arc::clone(&locks);
        let waiter = std::thread::spawn(move || {
            let _second = other.hold_two("box/a", "box/b").unwrap();
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(50))
                .is_err()
        );
        drop(held);
        rx.recv().unwrap();
        waiter.join().unwrap();
        // One file for both when they hash alike.
        let (_one, none) = locks.hold_two("box/a", "box/a").unwrap();
        assert!(none.is_none());
    }
}
