//! The usage ledger: what each account holds, in bytes and files, where
//! an account is a token's uploads (`token.<name>`) or a folder with a
//! quota (`folder.<hex of its prefix>`). It lives in the root, so every
//! node on the root and every later run sees the same numbers, and each
//! write or removal changes it in O(1): a locked read and write of 16
//! bytes per account the file counts in, never a walk.
//!
//! ```text
//! .ferry-quota/
//!   token.<name>     <bytes: u64 LE><files: u64 LE>
//!   folder.<hex>     the same, for the folder <prefix> (folder.root: the root)
//!                    (each then the changes landed and the bytes reserved
//!                    per server run: `usage_record.rs`)
//!   name.<nn>        the locks of the names whose change is counted
//!   runs/<node>.<run>  one per server run that counts: whose reservations
//!                    a recount keeps while its node lives
//! ```
//!
//! A change that must see what a name holds and count it in one step (a
//! commit over a file, a delete, a move) holds that name's lock
//! (`name_locks.rs`) from its look to its count, so that what it takes
//! off is what it removed, whatever else runs beside it.
//!
//! A file's owner (the token whose upload stored it) is an extended
//! attribute of the file, `user.ferry.owner`, written with its other
//! records before the rename that publishes it: whoever removes or
//! replaces the file later, its bytes leave its owner's account. A move
//! keeps the owner; across a quota'd folder's edge it moves the bytes
//! between folder accounts.
//!
//! What the counts miss (a crash between a rename and its count, a file
//! changed behind ferry's back, a file system without extended
//! attributes, a move of a whole folder) the recount (`usage_recount.rs`)
//! heals. Counting is best effort: a count that fails is logged, never
//! the write's failure (the file is in place by then).

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, PoisonError};

use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::DIR;
use super::name_locks::NameLocks;
pub(super) use super::usage_record::Change;
use super::usage_record::{Record, run_tag};
use crate::access::quota::{FolderQuota, Quota};
use crate::model::{Account, Usage};

/// The ledger's folder in the root.
pub const USAGE_DIR: &str = ".ferry-quota";

/// The extended attribute naming the token that stored a file.
pub(super) const OWNER_ATTRIBUTE: &str = "user.ferry.owner";

impl Account<'_> {
    /// Its ledger file's name.
    /// Made by hand, not `format!`: every write asks for a key or two.
    pub(super) fn key(self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        match self {
            Account::Token(name) => {
                let mut key = String::with_capacity(6 + name.len());
                key.push_str("token.");
                key.push_str(name);
                key
            }
            Account::Folder("") => "folder.root".to_owned(),
            Account::Folder(prefix) => {
                let mut key = String::with_capacity(7 + 2 * prefix.len());
                key.push_str("folder.");
                for byte in prefix.bytes() {
                    key.push(char::from(HEX[usize::from(byte >> 4)]));
                    key.push(char::from(HEX[usize::from(byte & 15)]));
                }
                key
            }
        }
    }
}

/// The ledger: its folder, the accounts it keeps, the files it has open.
#[derive(Debug)]
pub(super) struct Ledger {
    pub(super) dir: OwnedFd,
    /// The folders with a quota, each ending in `/` (`""`: the root).
    pub(super) folders: Vec<String>,
    /// Their quotas, in the same order.
    pub(super) limits: Vec<Quota>,
    /// Whether tokens' uploads are counted (access control is on).
    pub(super) tokens: bool,
    /// The ledger files, opened once each, on a local file system. The
    /// lock also keeps this process's threads apart, which `flock` on one
    /// shared descriptor does not (it keeps processes apart: other nodes).
    files: Mutex<Accounts<Option<OwnedFd>>>,
    /// Whether each change opens its account's file afresh and closes it
    /// after: on a file system shared by hosts (JuiceFS, NFS, CephFS),
    /// whose promise is close-to-open, a descriptor kept open reads what
    /// its host cached and writes what only its close (or a sync) shows
    /// other hosts. A local file system has one page cache for every
    /// process, so a kept descriptor is exact there, and cheaper.
    reopen: bool,
    /// What each account held when this node last changed or recounted
    /// it, for the metrics: locked only to copy a value in or out, never
    /// across a call that may wait (a scrape reads it on an event loop).
    seen: Mutex<Accounts<Option<Usage>>>,
    /// Recounts done, and the bytes by which they found the ledger off.
    pub(super) recounts: AtomicU64,
    pub(super) drift: AtomicU64,
    /// The locks of names whose change is counted (`name_locks.rs`).
    pub(super) names: NameLocks,
    /// This run's tag in the records' reservations, and its name in
    /// `runs/` (`<node>.<run id>`).
    run: u64,
    pub(super) run_name: String,
}

/// The folder in the ledger's of the runs that count.
pub(super) const RUNS_DIR: &str = "runs";

/// An account as the ledger finds it: a quota'd folder by its place in
/// [`Ledger::folders`], a token by name. A write names its accounts so,
/// found once, and no folder's prefix is compared again under the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot<'a> {
    Folder(usize),
    Token(&'a str),
}

/// Something kept per account: per quota'd folder by its place in
/// [`Ledger::folders`] (no hashing: every write asks), per token by name.
#[derive(Debug, Default)]
struct Accounts<T> {
    folders: Vec<T>,
    tokens: HashMap<String, T>,
}

impl<T: Default> Accounts<T> {
    fn new(folders: usize) -> Accounts<T> {
        Accounts {
            folders: (0..folders).map(|_| T::default()).collect(),
            tokens: HashMap::new(),
        }
    }

    /// `slot`'s value (inlined: a folder's is an index into a vector).
    #[inline]
    fn slot(&mut self, slot: Slot<'_>) -> Option<&mut T> {
        match slot {
            Slot::Folder(at) => self.folders.get_mut(at),
            Slot::Token(name) => self.token(name),
        }
    }

    /// Token `name`'s value, made for a token first met.
    fn token(&mut self, name: &str) -> Option<&mut T> {
        if !self.tokens.contains_key(name) {
            self.tokens.insert(name.to_owned(), T::default());
        }
        self.tokens.get_mut(name)
    }
}

impl Ledger {
    /// Opens (making it if missing) the ledger of the root `root`.
    /// `reopen`: see [`Ledger::reopen`]; `run`: this server run's name
    /// (`<node>.<run id>`), registered in `runs/` before it reserves.
    pub(super) fn open(
        root: &OwnedFd,
        quotas: &[FolderQuota],
        tokens: bool,
        (reopen, run): (bool, &str),
    ) -> io::Result<Ledger> {
        let folders: Vec<String> = quotas.iter().map(|quota| quota.prefix.clone()).collect();
        // Two quotas of one folder would share its account: each file
        // counted twice. The operator meant one of them.
        if let Some(twice) = folders
            .iter()
            .enumerate()
            .find(|(at, f)| folders[..*at].contains(f))
        {
            let shown = if twice.1.is_empty() {
                "/"
            } else {
                twice.1.as_str()
            };
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("two quotas name the folder {shown}: give each folder one"),
            ));
        }
        match rustix::fs::mkdirat(root, USAGE_DIR, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(errno) => return Err(errno.into()),
        }
        let dir = rustix::fs::openat(root, USAGE_DIR, DIR | OFlags::NOFOLLOW, Mode::empty())?;
        register_run(&dir, run)?;
        Ok(Ledger {
            run: run_tag(run),
            run_name: run.to_owned(),
            names: NameLocks::new(rustix::io::fcntl_dupfd_cloexec(&dir, 0)?),
            dir,
            files: Mutex::new(Accounts::new(folders.len())),
            reopen,
            seen: Mutex::new(Accounts::new(folders.len())),
            folders,
            limits: quotas.iter().map(|quota| quota.limit).collect(),
            tokens,
            recounts: AtomicU64::new(0),
            drift: AtomicU64::new(0),
        })
    }

    /// Where `account` is kept; an error for a folder without a quota,
    /// which has no account.
    pub(super) fn find<'a>(&self, account: Account<'a>) -> io::Result<Slot<'a>> {
        match account {
            Account::Token(name) => Ok(Slot::Token(name)),
            Account::Folder(prefix) => self
                .folders
                .iter()
                .position(|name| name == prefix)
                .map(Slot::Folder)
                .ok_or_else(|| io::Error::other(format!("{account:?} has no quota to count for"))),
        }
    }

    /// The account kept at `slot`.
    pub(super) fn account<'a>(&'a self, slot: Slot<'a>) -> Account<'a> {
        match slot {
            Slot::Folder(at) => Account::Folder(self.folders.get(at).map_or("", String::as_str)),
            Slot::Token(name) => Account::Token(name),
        }
    }

    /// What `account` holds (nothing if it was never counted).
    pub(super) fn read(&self, account: Account<'_>) -> io::Result<Usage> {
        self.read_at(self.find(account)?)
    }

    /// What the account at `slot` holds (inlined: a write's check before
    /// its body asks it of each account).
    #[inline]
    pub(super) fn read_at(&self, slot: Slot<'_>) -> io::Result<Usage> {
        self.with_file(slot, |fd| Record::read(fd).map(|now| (now.usage, None)))
    }

    /// Adds `change` to the account at `slot`.
    pub(super) fn change_at(&self, slot: Slot<'_>, change: Change) -> io::Result<Usage> {
        self.with_file(slot, |fd| {
            let mut record = Record::read(fd)?;
            record.apply(change, self.run);
            record
                .write(fd)
                .map(|()| (record.usage, Some(record.usage)))
        })
    }

    /// Adds `change` to the account at `slot` unless `refuse` refuses it
    /// by what the account holds (a quota: `usage_limit.rs`): judged and
    /// changed under one lock, so that writes side by side, here or on
    /// other nodes, cannot together pass it. Returns the refusal.
    pub(super) fn change_within<T>(
        &self,
        slot: Slot<'_>,
        change: Change,
        refuse: impl FnOnce(Usage) -> Option<T>,
    ) -> io::Result<Option<T>> {
        self.with_file(slot, |fd| {
            let mut record = Record::read(fd)?;
            if let Some(refused) = refuse(record.usage) {
                return Ok((Some(refused), None));
            }
            if change.is_nothing() {
                return Ok((None, None));
            }
            record.apply(change, self.run);
            record.write(fd).map(|()| (None, Some(record.usage)))
        })
    }

    /// Reads every account afresh into what the metrics show
    /// ([`Ledger::seen`]): what other nodes counted since (their writes, a
    /// recount run there) shows here too. Returns how many were read.
    pub(super) fn refresh_seen(&self) -> io::Result<usize> {
        let tokens = match self.tokens {
            true => self.token_accounts()?,
            false => Vec::new(),
        };
        let folders = (0..self.folders.len()).map(Slot::Folder);
        let slots = folders.chain(tokens.iter().map(|token| Slot::Token(token)));
        let mut read = 0;
        for slot in slots {
            self.with_file(slot, |fd| Record::read(fd).map(|now| ((), Some(now.usage))))?;
            read += 1;
        }
        Ok(read)
    }

    /// The tokens with an account, by name (for the recount to zero those
    /// that hold nothing any more).
    pub(super) fn token_accounts(&self) -> io::Result<Vec<String>> {
        let dir = rustix::fs::openat(&self.dir, ".", DIR, Mode::empty())?;
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy();
            if let Some(token) = name.strip_prefix("token.") {
                names.push(token.to_owned());
            }
        }
        Ok(names)
    }

    /// What each account held when this node last changed or recounted
    /// it, by kind (`token` or `folder`) and name. Never waits for the
    /// disk.
    pub(super) fn seen(&self) -> Vec<((&'static str, String), Usage)> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let folders = self.folders.iter().zip(&seen.folders);
        let folders =
            folders.filter_map(|(name, usage)| Some((("folder", name.clone()), (*usage)?)));
        let tokens = seen.tokens.iter();
        let tokens = tokens.filter_map(|(name, usage)| Some((("token", name.clone()), (*usage)?)));
        folders.chain(tokens).collect()
    }

    /// Runs `body` on the ledger file of the account at `slot`, holding
    /// the file's `flock` (and, on a kept descriptor, this process's
    /// lock); `body` returns its
    /// answer and, where it changed the account, what it holds now (for
    /// [`Ledger::seen`]).
    pub(super) fn with_file<T>(
        &self,
        slot: Slot<'_>,
        body: impl FnOnce(&OwnedFd) -> io::Result<(T, Option<Usage>)>,
    ) -> io::Result<T> {
        let (answer, now) = match self.reopen {
            true => self.with_fresh_file(slot, body)?,
            false => self.with_kept_file(slot, body)?,
        };
        if let Some(now) = now {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(usage) = seen.slot(slot) {
                *usage = Some(now);
            }
        }
        Ok(answer)
    }

    /// [`Ledger::with_file`] on a descriptor kept from the first change.
    fn with_kept_file<T>(
        &self,
        slot: Slot<'_>,
        body: impl FnOnce(&OwnedFd) -> io::Result<T>,
    ) -> io::Result<T> {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let no_account = || io::Error::other(format!("{slot:?} has no account"));
        let file = files.slot(slot).ok_or_else(no_account)?;
        if file.is_none() {
            *file = Some(self.open_file(slot)?);
        }
        let Some(fd) = file.as_ref() else {
            unreachable!("opened just above");
        };
        rustix::fs::flock(fd, FlockOperation::LockExclusive)?;
        let done = body(fd);
        let _ = rustix::fs::flock(fd, FlockOperation::Unlock);
        done
    }

    /// [`Ledger::with_file`] on the file opened afresh: its `flock` keeps
    /// this process's threads apart too (each opening is its own), and
    /// its close publishes what was written before it lets the lock go
    /// (a close flushes, then releases: never an unlock before it).
    fn with_fresh_file<T>(
        &self,
        slot: Slot<'_>,
        body: impl FnOnce(&OwnedFd) -> io::Result<T>,
    ) -> io::Result<T> {
        let fd = self.open_file(slot)?;
        rustix::fs::flock(&fd, FlockOperation::LockExclusive)?;
        let done = body(&fd);
        drop(fd);
        done
    }

    /// Opens (making it) the ledger file of the account at `slot`: once
    /// per account and run where it is kept, for each change where not.
    fn open_file(&self, slot: Slot<'_>) -> io::Result<OwnedFd> {
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let key = self.account(slot).key();
        let mode = Mode::from_raw_mode(0o600);
        Ok(rustix::fs::openat(&self.dir, key.as_str(), flags, mode)?)
    }

    /// What a removal of the file `leaf` of `dir` (as `stat` found it)
    /// takes from the ledger: its size, and its owner where tokens are
    /// counted, asked before it goes. Always inlined: every commit over a
    /// file asks it (through [`Ledger::replacing`]), and a call costs more
    /// than its two lines where tokens are not counted.
    #[inline(always)]
    pub(super) fn going(&self, dir: impl AsFd, leaf: &str, stat: &Stat) -> (u64, Option<String>) {
        let owner = self.tokens.then(|| owner_of(dir, leaf)).flatten();
        (u64::try_from(stat.st_size).unwrap_or(0), owner)
    }

    /// Before a rename over `leaf` of `dir`: what it replaces there (size
    /// and owner, as [`Ledger::going`]), if a file is there. Inlined
    /// into the commit, its one caller.
    #[inline]
    pub(super) fn replacing(&self, dir: impl AsFd, leaf: &str) -> Option<(u64, Option<String>)> {
        let dir = dir.as_fd();
        let stat = rustix::fs::statat(dir, leaf, AtFlags::SYMLINK_NOFOLLOW).ok()?;
        (rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::RegularFile)
            .then(|| self.going(dir, leaf, &stat))
    }
}

/// Registers server run `run` in the ledger's `runs/` (made if missing):
/// a recount on any node keeps its reservations while its node lives.
fn register_run(dir: &OwnedFd, run: &str) -> io::Result<()> {
    match rustix::fs::mkdirat(dir, RUNS_DIR, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(errno) => return Err(errno.into()),
    }
    let runs = rustix::fs::openat(dir, RUNS_DIR, DIR | OFlags::NOFOLLOW, Mode::empty())?;
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(&runs, run, flags, Mode::from_raw_mode(0o600))?;
    Ok(())
}

/// The token that stored the file `leaf` of directory `dir`, read without
/// opening it (through `/proc`, so its access time stays); `None` for a
/// file no token stored, or where it cannot be told.
pub(super) fn owner_of(dir: impl AsFd, leaf: &str) -> Option<String> {
    use std::os::fd::AsRawFd;
    let path = format!("/proc/self/fd/{}/{leaf}", dir.as_fd().as_raw_fd());
    let mut buf = [0u8; 80];
    let len = rustix::fs::lgetxattr(path.as_str(), OWNER_ATTRIBUTE, &mut buf).ok()?;
    String::from_utf8(buf[..len].to_vec()).ok()
}

/// Writes `owner` as the owner of the staged `file`. Best effort, as the
/// other records: without it, the recount cannot give the file to its
/// token.
pub(super) fn record_owner(file: impl AsFd, owner: &str) {
    let _ = rustix::fs::fsetxattr(
        file,
        OWNER_ATTRIBUTE,
        owner.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_kept_apart_and_add_up() {
        // Descriptors kept (a local file system), or opened per change.
        for reopen in [false, true] {
            accounts_add_up(reopen);
        }
    }

    fn accounts_add_up(reopen: bool) {
        let root = tempfile::tempdir().unwrap();
        let fd = rustix::fs::open(root.path(), DIR, Mode::empty()).unwrap();
        let quotas = ["a/=1T", "/=1T"].map(|q| FolderQuota::parse(q).unwrap());
        let ledger = Ledger::open(&fd, &quotas, true, (reopen, "n.1")).unwrap();
        ledger.count("a/x", Some("t1"), Change::file(100, 1));
        ledger.count("b/y", Some("t2"), Change::file(7, 1));
        ledger.count("a/x", Some("t1"), Change::file(40, -1));
        let usage = |account| ledger.read(account).unwrap();
        assert_eq!(
            usage(Account::Token("t1")),
            Usage {
                bytes: 60,
                files: 0
            }
        );
        assert_eq!(usage(Account::Token("t2")), Usage { bytes: 7, files: 1 });
        assert_eq!(
            usage(Account::Folder("a/")),
            Usage {
                bytes: 60,
                files: 0
            }
        );
        assert_eq!(
            usage(Account::Folder("")),
            Usage {
                bytes: 67,
                files: 1
            }
        );
        let mut crossed = ledger.crossed(("a/x", "b/x"));
        crossed
            .iter_mut()
            .for_each(|c| c.share = Usage::one_file(60));
        ledger.count_left(&crossed);
        assert_eq!(usage(Account::Folder("a/")), Usage::default());
        assert_eq!(usage(Account::Folder("")).bytes, 67);
        // Never below nothing: drift is the recount's to heal.
        ledger.count("a/z", None, Change::file(5, -1));
        assert_eq!(usage(Account::Folder("a/")), Usage::default());
        // Another opening (another node) sees the same.
        let again = Ledger::open(&fd, &[], true, (reopen, "n.2")).unwrap();
        assert_eq!(again.read(Account::Token("t2")).unwrap().bytes, 7);
        let mut tokens = again.token_accounts().unwrap();
        tokens.sort();
        assert_eq!(tokens, ["t1", "t2"]);
    }

    #[test]
    fn two_quotas_of_one_folder_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let fd = rustix::fs::open(root.path(), DIR, Mode::empty()).unwrap();
        let quotas = ["a/=1T", "b/=1T", "a/=2T"].map(|q| FolderQuota::parse(q).unwrap());
        let refused = Ledger::open(&fd, &quotas, false, (false, "n.1")).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::InvalidInput);
        assert!(refused.to_string().contains("folder a/"), "{refused}");
    }

    #[test]
    fn folder_keys_tell_folders_apart() {
        assert_eq!(Account::Folder("").key(), "folder.root");
        assert_eq!(Account::Folder("a/").key(), "folder.612f");
        assert_ne!(Account::Folder("ab/").key(), Account::Folder("a/b").key());
    }
}
