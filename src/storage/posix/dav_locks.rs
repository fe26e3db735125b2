//! WebDAV's locks (RFC 4918 6, 7) as the root keeps them: one record per
//! lock in `.ferry-dav/locks/` (a reserved name: never served or listed),
//! so every node on the root sees the same locks and a lock outlives a
//! restart until it times out. What a lock *means* for a request is the
//! serve layer's (`serve/locks.rs`); this file only keeps them.
//!
//! ```text
//! .ferry-dav/locks/<uuid>        one lock, written whole (temp + rename):
//!     ferry-dav-lock 1
//!     token opaquelocktoken:<uuid>
//!     root <name>                the locked name (a folder's without its /)
//!     depth 0|infinity
//!     scope exclusive|shared
//!     timeout <seconds asked>
//!     expires <unix seconds>
//!     holder <who took it>       a token's name, or addr <ip> without one
//!                                (counted against the caps; records
//!                                without the line count for nobody)
//!     owner
//!     <the owner's XML, as the client gave it, to the end of the file>
//! .ferry-dav/locks/tmp-<...>     a record being written
//! .ferry-dav/locks/.lock         empty: its flock is held by every change
//! ```
//!
//! The folder is made when a (writable) server opens the root, and held
//! open: a folder made later by the first LOCK would leave a root without
//! locks to look it up by name on every write, and the kernel cannot say
//! without possibly waiting that a name does not exist
//! (`RESOLVE_CACHED` answers `EAGAIN` for a negative dentry: measured).
//! The cost of a check (docs/webdav.md (d)): each node keeps the table in
//! memory with the change time of the folder it read it from. Every lock
//! change (any node's) renames or removes a record in that folder, which
//! moves its change time, so one `fstat` of a descriptor held open says
//! whether the table is current: no path walk, no read, and on a local
//! file system no wait ([`DavLocks::fresh`], fit for the reactor). A
//! change time too close to the moment it was read is not trusted (two
//! changes within one tick of the file system's clock would share it, as
//! git's "racy" index entries do): the table is read again on the pool
//! until its folder has been still for a second (`settled.rs`). Changes are made
//! under an exclusive `flock` of a regular file in the folder (`.lock`:
//! a shared file system forwards a file's lock to every mount, not
//! always a folder's), reading the records fresh, so two nodes never
//! both take a conflicting lock; a write that judges the lock rule and
//! then renames holds the same file's lock shared across both
//! ([`DavLocks::steady`]), so no node grants a lock in between. Expired records are
//! ignored, and removed when the table is read. Reading the table again
//! reads only the records this node has not read yet (by name and inode,
//! from the folder's entries: a refresh is a new inode), so a flood of
//! lock changes costs a folder read per check, never every record's bytes.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::flock::{Flock, open_lock_file};
use super::settled::{changed_at, is_settled, system_now};
use super::{DIR, Steady, Storage, StorageError, stored_file_mode};
use crate::model::DavLock;
use crate::storage::shared_hold::SharedHolds;

/// The folder of the records, in the root.
pub const LOCKS_DIR: &str = ".ferry-dav/locks";
/// The file whose `flock` every change of the records holds (a dot
/// name: never taken for a record).
const TABLE_LOCK: &str = ".lock";
/// The largest record read: a lock's owner is at most a LOCK body.
const MAX_RECORD: u64 = 128 * 1024;

impl DavLock {
    /// The record's file name: the token's uuid.
    fn file(&self) -> &str {
        self.token.rsplit(':').next().unwrap_or(&self.token)
    }

    fn encode(&self) -> String {
        format!(
            "ferry-dav-lock 1\ntoken {}\nroot {}\ndepth {}\nscope {}\ntimeout {}\nexpires {}\nholder {}\nowner\n{}",
            self.token,
            self.root,
            if self.deep { "infinity" } else { "0" },
            if self.shared { "shared" } else { "exclusive" },
            self.timeout,
            self.expires,
            self.holder.replace('\n', " "),
            self.owner,
        )
    }

    fn decode(text: &str) -> Option<DavLock> {
        let (fields, owner) = text.split_once("\nowner\n")?;
        let mut lines = fields.lines();
        if lines.next()? != "ferry-dav-lock 1" {
            return None;
        }
        let mut field = |key: &str| {
            let line = lines.next()?;
            line.strip_prefix(key)?.strip_prefix(' ').map(str::to_owned)
        };
        Some(DavLock {
            token: field("token")?,
            root: field("root")?,
            deep: field("depth")? == "infinity",
            shared: field("scope")? == "shared",
            timeout: field("timeout")?.parse().ok()?,
            expires: field("expires")?.parse().ok()?,
            // Records of earlier versions have none.
            holder: field("holder").unwrap_or_default(),
            owner: owner.into(),
        })
    }
}

/// What a change does to the records.
#[derive(Debug, Default)]
pub struct Edit {
    /// Records written (new, or replacing the one of the same token).
    pub write: Vec<DavLock>,
    /// Records removed, by token.
    pub remove: Vec<String>,
}

/// The locks of a root, with this node's copy of them.
#[derive(Debug)]
pub struct DavLocks {
    /// The root.
    root: Arc<OwnedFd>,
    /// `.ferry-dav/locks`, held open once it exists.
    dir: OnceLock<OwnedFd>,
    /// Locks may be taken (not a read-only server).
    writable: bool,
    cache: Mutex<Cache>,
    /// The records read so far, by file name, with their inodes: only
    /// new ones are read again.
    records: Mutex<HashMap<String, (u64, DavLock)>>,
    /// Seconds added to the system's time (tests advance it).
    offset: Arc<AtomicI64>,
    /// Names this node's temp records apart.
    temp_prefix: String,
    serial: AtomicU64,
    /// `--fsync`: a change is on the disk before it is answered.
    durable: AtomicBool,
    /// This node's holds of the table's lock file ([`DavLocks::steady`]).
    holds: SharedHolds,
}

#[derive(Debug, Default)]
struct Cache {
    /// The change time of the folder when the table was read.
    seen: Option<(i64, i64)>,
    /// That time was old enough to be trusted (see the module's header).
    trusted: bool,
    locks: Arc<[DavLock]>,
}

impl DavLocks {
    /// The locks of `root`: their folder made (unless `read_only`) and
    /// opened; nothing read yet.
    pub(super) fn new(root: Arc<OwnedFd>, read_only: bool, temp_prefix: String) -> DavLocks {
        let locks = DavLocks {
            root,
            dir: OnceLock::new(),
            writable: !read_only,
            cache: Mutex::default(),
            records: Mutex::default(),
            offset: Arc::default(),
            temp_prefix,
            serial: AtomicU64::new(0),
            durable: AtomicBool::new(false),
            holds: SharedHolds::default(),
        };
        // The lock file is made now too (and kept for the first hold):
        // made by the first commit, it would change the folder and
        // unsettle this node's copy of the table (read again for a
        // second) just as uploads begin.
        let opened = match read_only {
            true => locks.dir().map(|_| ()),
            false => locks
                .made_dir()
                .and_then(|dir| Ok(open_lock_file(dir, TABLE_LOCK)?))
                .map(|file| locks.holds.keep(file)),
        };
        if let Err(err) = opened {
            // Writes are then judged on the pool, which tries again.
            log::warn!("cannot open {LOCKS_DIR}: {err}");
        }
        locks
    }

    /// Makes changes wait for stable storage (`--fsync`): a record is
    /// flushed before its rename, the folder after a change. Without it a
    /// power cut could take a lock already granted (or leave its record
    /// empty), and a client holding the token would find its file
    /// unlocked (found by `tests/crash/states.rs`, "WebDAV LOCK").
    pub(super) fn set_durable(&self, durable: bool) {
        self.durable.store(durable, Ordering::Relaxed);
    }

    /// The records' folder if it exists (opened once, then held).
    fn dir(&self) -> Result<Option<&OwnedFd>, StorageError> {
        if let Some(dir) = self.dir.get() {
            return Ok(Some(dir));
        }
        match rustix::fs::openat(&*self.root, LOCKS_DIR, DIR, Mode::empty()) {
            Ok(fd) => Ok(Some(self.dir.get_or_init(|| fd))),
            Err(Errno::NOENT) => Ok(None),
            Err(errno) => Err(errno.into()),
        }
    }

    /// The records' folder, made if missing.
    fn made_dir(&self) -> Result<&OwnedFd, StorageError> {
        if !self.writable {
            return Err(StorageError::from(Errno::ROFS));
        }
        for dir in [".ferry-dav", LOCKS_DIR] {
            match rustix::fs::mkdirat(&*self.root, dir, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(errno) => return Err(errno.into()),
            }
        }
        self.dir()?.ok_or(StorageError::NotFound)
    }

    /// Lets a test move this table's clock (seconds added to the system's).
    pub(super) fn set_clock(&mut self, offset: Arc<AtomicI64>) {
        self.offset = offset;
    }

    /// Now, in Unix seconds, as lock expiry counts it.
    pub fn now(&self) -> i64 {
        system_now().0 + self.offset.load(Ordering::Relaxed)
    }

    /// The table, if this node's copy is known to be current: one `fstat`
    /// of a descriptor, no wait on a local file system (callable on the
    /// reactor). `None`: read it on the pool ([`DavLocks::current`]),
    /// also where the folder is not open yet.
    pub fn fresh(&self) -> Option<Arc<[DavLock]>> {
        let dir = self.dir.get()?;
        let changed = changed_at(dir).ok()?;
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        (cache.trusted && cache.seen == Some(changed)).then(|| Arc::clone(&cache.locks))
    }

    /// The table, read again from the records if this node's copy may be
    /// stale (on the pool: it reads a folder).
    ///
    /// # Errors
    /// The folder cannot be read.
    pub fn current(&self) -> Result<Arc<[DavLock]>, StorageError> {
        if let Some(locks) = self.fresh() {
            return Ok(locks);
        }
        let Some(dir) = self.dir()? else {
            return Ok(Arc::from([]));
        };
        let wall = (system_now().0, 0);
        let changed = changed_at(dir)?;
        let locks: Arc<[DavLock]> = self.read_all(dir, false)?.into();
        let settled = is_settled(changed, wall);
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        *cache = Cache {
            seen: Some(changed),
            trusted: settled,
            locks: Arc::clone(&locks),
        };
        Ok(locks)
    }

    /// The table, held still until the hold is dropped: a shared `flock`
    /// of the file every change holds exclusively, so no node changes it
    /// while a write judges the lock rule and renames (see
    /// `LockTable::steady`), shared by this node's holds at once
    /// (`storage/shared_hold.rs`).
    ///
    /// # Errors
    /// The lock file cannot be opened or locked, or the folder read.
    pub fn steady(&self) -> Result<(Steady<'_>, Arc<[DavLock]>), StorageError> {
        // A read-only server writes nothing to hold still for (and may
        // not make the file); another node's changes are not its to stop.
        // The file is opened at the first hold, then kept.
        let open = || Ok(open_lock_file(self.made_dir()?, TABLE_LOCK)?);
        let held = match self.writable {
            true => Some(self.holds.hold(&open)?),
            false => None,
        };
        let locks = self.current()?;
        Ok((Steady::by_file(held), locks))
    }

    /// Changes the records under an exclusive `flock` of their folder:
    /// `decide` is given the live locks, read fresh, and the time, and
    /// says what to write and remove (or refuses).
    ///
    /// # Errors
    /// `decide`'s refusal, or the records cannot be read or written (on
    /// a read-only server, never).
    pub fn change<T, E: From<StorageError>>(
        &self,
        decide: impl FnOnce(&[DavLock], i64) -> Result<(T, Edit), E>,
    ) -> Result<T, E> {
        let dir = self.made_dir()?;
        // A regular file's `flock`, opened anew for each change: JuiceFS
        // forwards a file's to its metadata service, never a folder's
        // (which held on one mount only: nodes granted two exclusive
        // locks on one name, issue 75), and NFS a file's as a POSIX lock.
        let held = Flock::exclusive_at(dir, TABLE_LOCK).map_err(StorageError::from)?;
        let locks = self.read_all(dir, self.writable)?;
        let (answer, edit) = decide(&locks, self.now())?;
        for lock in &edit.write {
            self.write(dir, lock)?;
        }
        for token in &edit.remove {
            let file = token.rsplit(':').next().unwrap_or(token);
            match rustix::fs::unlinkat(dir, file, AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(errno) => return Err(StorageError::from(errno).into()),
            }
        }
        let changed = !(edit.write.is_empty() && edit.remove.is_empty());
        if changed && self.durable.load(Ordering::Relaxed) {
            rustix::fs::fsync(dir).map_err(StorageError::from)?;
        }
        // This node's copy is read again at the next check.
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .seen = None;
        drop(held);
        Ok(answer)
    }

    /// Every live record, records that do not parse skipped; expired ones
    /// are removed on the way where `sweep` (only under the table's lock:
    /// a record read as expired may be renamed over by another node's
    /// refresh, which an unlink without it would take away).
    /// Only records not read before (by name and inode) are opened, and
    /// those again that look expired: a refresh renames a new file over
    /// the name, which ext4 and XFS may give the inode the old one freed.
    fn read_all(&self, dir: &OwnedFd, sweep: bool) -> Result<Vec<DavLock>, StorageError> {
        let now = self.now();
        let mut known = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let mut seen = HashMap::with_capacity(known.len());
        let mut locks = Vec::new();
        for entry in rustix::fs::Dir::read_from(dir)? {
            let entry = entry?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with('.') || file.starts_with("tmp-") {
                continue;
            }
            let inode = entry.ino();
            let lock = match known.remove(&file) {
                Some((read, lock)) if read == inode && lock.expires > now => lock,
                _ => match read_record(dir, &file) {
                    Ok(Some(lock)) => lock,
                    Ok(None) => {
                        log::warn!("{LOCKS_DIR}/{file}: not a lock record, ignored");
                        continue;
                    }
                    Err(Errno::NOENT) => continue,
                    Err(errno) => return Err(errno.into()),
                },
            };
            if lock.expires > now {
                locks.push(lock.clone());
                seen.insert(file, (inode, lock));
            } else if sweep {
                let _ = rustix::fs::unlinkat(dir, file.as_str(), AtFlags::empty());
            }
        }
        // Records gone from the folder are forgotten with the rest.
        *known = seen;
        Ok(locks)
    }

    /// Writes `lock`'s record whole: a temp file renamed over its name.
    fn write(&self, dir: &OwnedFd, lock: &DavLock) -> Result<(), StorageError> {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let temp = format!("tmp-{}{serial}", self.temp_prefix);
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(dir, temp.as_str(), flags, stored_file_mode())?;
        let mut file = std::fs::File::from(fd);
        let written = file.write_all(lock.encode().as_bytes()).and_then(|()| {
            match self.durable.load(Ordering::Relaxed) {
                true => file.sync_data(),
                false => Ok(()),
            }
        });
        let renamed = written
            .map_err(StorageError::from)
            .and_then(|()| Ok(rustix::fs::renameat(dir, temp.as_str(), dir, lock.file())?));
        if renamed.is_err() {
            let _ = rustix::fs::unlinkat(dir, temp.as_str(), AtFlags::empty());
        }
        renamed
    }
}

/// A record, or `None` if it is not one.
fn read_record(dir: &OwnedFd, file: &str) -> Result<Option<DavLock>, Errno> {
    Ok(read_small(dir, file, MAX_RECORD)?.and_then(|text| DavLock::decode(&text)))
}

/// The text of `file` in `dir` (never through a symlink), if it is at
/// most `max` bytes of UTF-8 as far as read (`None` for what is not): a
/// record of a table kept in a folder (locks, share links).
pub(super) fn read_small(dir: &OwnedFd, file: &str, max: u64) -> Result<Option<String>, Errno> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, file, flags, Mode::empty())?;
    let mut text = String::new();
    let read = std::fs::File::from(fd).take(max).read_to_string(&mut text);
    Ok(read.ok().map(|_| text))
}

/// A new lock token: `opaquelocktoken:` and a random (version 4) uuid.
///
/// # Errors
/// The system has no randomness to give.
pub fn new_token() -> Result<String, StorageError> {
    let mut bytes = [0u8; 16];
    let mut filled = 0;
    while filled < bytes.len() {
        filled +=
            rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty())?;
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "opaquelocktoken:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

impl Storage {
    /// The root's WebDAV locks.
    pub(super) fn dav_locks(&self) -> &DavLocks {
        &self.dav_locks
    }

    /// Lets a test move the locks' clock (seconds added to the system's).
    #[doc(hidden)]
    pub fn set_lock_clock(&mut self, offset: Arc<AtomicI64>) {
        self.dav_locks.set_clock(offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::FlockOperation;

    fn lock(root: &str, deep: bool) -> DavLock {
        DavLock {
            token: "opaquelocktoken:1234".into(),
            root: root.into(),
            deep,
            shared: false,
            owner: "<D:href>me\nand you</D:href>".into(),
            timeout: 60,
            expires: 100,
            holder: "t".into(),
        }
    }

    /// Every change holds the flock of `.lock`, a regular file (what a
    /// shared file system forwards to its other mounts): while another
    /// process (here, another descriptor) holds it, no change is made.
    #[test]
    fn a_change_waits_for_the_table_files_lock() {
        let root = tempfile::tempdir().unwrap();
        let fd = Arc::new(rustix::fs::open(root.path(), DIR, Mode::empty()).unwrap());
        let locks = Arc::new(DavLocks::new(fd, false, "t-".into()));
        let file = root.path().join(LOCKS_DIR).join(TABLE_LOCK);
        let held = std::fs::File::create(&file).unwrap();
        rustix::fs::flock(&held, FlockOperation::LockExclusive).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let changer = std::thread::spawn({
            let locks = Arc::clone(&locks);
            move || {
                let made = locks.change(|_, _| {
                    let edit = Edit {
                        write: vec![lock("x", false)],
                        remove: vec![],
                    };
                    Ok::<_, StorageError>(((), edit))
                });
                tx.send(made.is_ok()).unwrap();
            }
        });
        let waited = rx.recv_timeout(std::time::Duration::from_millis(200));
        assert!(waited.is_err(), "changed while the table's lock was held");
        rustix::fs::flock(&held, FlockOperation::Unlock).unwrap();
        assert!(rx.recv().unwrap());
        changer.join().unwrap();
    }

    /// A record read before is trusted by its name and inode only while
    /// it is live: the record of a lock refreshed elsewhere may have the
    /// inode of the one it replaced, and is read again, not taken as gone.
    #[test]
    fn a_record_that_looks_expired_is_read_again_before_it_counts_as_gone() {
        let root = tempfile::tempdir().unwrap();
        let fd = Arc::new(rustix::fs::open(root.path(), DIR, Mode::empty()).unwrap());
        let mut locks = DavLocks::new(fd, false, "t-".into());
        let clock = Arc::new(AtomicI64::new(0));
        locks.set_clock(Arc::clone(&clock));
        let mut held = lock("x", false);
        held.expires = locks.now() + 60;
        let write = |lock: &DavLock| Edit {
            write: vec![lock.clone()],
            remove: vec![],
        };
        let live = |locks: &DavLocks| {
            let read = locks.change(|live, _| Ok::<_, StorageError>((live.len(), Edit::default())));
            read.unwrap()
        };
        locks
            .change(|_, _| Ok::<_, StorageError>(((), write(&held))))
            .unwrap();
        assert_eq!(live(&locks), 1);
        // Refreshed by another node into the same inode (here in place).
        let record = root.path().join(LOCKS_DIR).join(held.file());
        held.expires += 600;
        std::fs::write(&record, held.encode()).unwrap();
        clock.store(120, Ordering::Relaxed);
        assert_eq!(live(&locks), 1, "the refreshed lock is live");
        assert!(record.exists(), "and its record kept");
    }

    #[test]
    fn records_read_back_as_written() {
        let lock = lock("a b/c", true);
        assert_eq!(DavLock::decode(&lock.encode()), Some(lock.clone()));
        // A record of an earlier version (no holder) reads as nobody's.
        let old = lock.encode().replace("holder t\n", "");
        let read = DavLock::decode(&old).unwrap();
        assert_eq!((read.holder.as_str(), read.owner), ("", lock.owner.clone()));
        assert_eq!(DavLock::decode("ferry-dav-lock 2\nowner\n"), None);
        assert_eq!(DavLock::decode("garbage"), None);
    }

    #[test]
    fn deep_locks_cover_what_is_below() {
        assert!(lock("a", false).covers("a"));
        assert!(!lock("a", false).covers("a/b"));
        assert!(lock("a", true).covers("a/b/c"));
        assert!(!lock("a", true).covers("ab"));
        assert!(lock("", true).covers("x"));
    }

    #[test]
    fn tokens_are_uuids() {
        let token = new_token().unwrap();
        let uuid = token.strip_prefix("opaquelocktoken:").unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert_ne!(token, new_token().unwrap());
    }
}
