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
//! ```
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
use std::fmt::Write as _;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::{DIR, Storage, StorageError};

/// The ledger's folder in the root.
pub const USAGE_DIR: &str = ".ferry-quota";

/// The extended attribute naming the token that stored a file.
pub(super) const OWNER_ATTRIBUTE: &str = "user.ferry.owner";

/// What an account holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of its files.
    pub bytes: u64,
    /// Its files.
    pub files: u64,
}

impl Usage {
    /// One more file of `size` bytes.
    pub(super) fn add_file(&mut self, size: u64) {
        self.bytes = self.bytes.saturating_add(size);
        self.files = self.files.saturating_add(1);
    }
}

/// Whose usage: a token's uploads, or a folder's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account<'a> {
    /// The files token `name` stored.
    Token(&'a str),
    /// Everything below the folder `prefix` (ending in `/`; `""` for the
    /// root).
    Folder(&'a str),
}

impl Account<'_> {
    /// Its ledger file's name.
    pub(super) fn key(self) -> String {
        match self {
            Account::Token(name) => format!("token.{name}"),
            Account::Folder("") => "folder.root".to_owned(),
            Account::Folder(prefix) => {
                let mut key = String::from("folder.");
                for byte in prefix.bytes() {
                    let _ = write!(key, "{byte:02x}");
                }
                key
            }
        }
    }
}

/// A change to an account: bytes and files added (or, negative, taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Change {
    pub(super) bytes: i64,
    pub(super) files: i64,
}

impl Change {
    /// A file of `size` bytes came (`sign` 1) or went (`sign` -1).
    fn file(size: u64, sign: i64) -> Change {
        Change {
            bytes: sign * i64::try_from(size).unwrap_or(i64::MAX),
            files: sign,
        }
    }
}

/// The ledger: its folder, the accounts it keeps, the files it has open.
#[derive(Debug)]
pub(super) struct Ledger {
    dir: OwnedFd,
    /// The folders with a quota, each ending in `/` (`""`: the root).
    pub(super) folders: Vec<String>,
    /// Whether tokens' uploads are counted (access control is on).
    pub(super) tokens: bool,
    /// Ledger files by key, opened once. The lock also keeps this
    /// process's threads apart, which `flock` on one shared descriptor
    /// does not (it keeps processes apart: other nodes).
    open: Mutex<HashMap<String, OwnedFd>>,
    /// What each account held when this node last read or changed it, by
    /// key, for the metrics: locked only to copy a value in or out, never
    /// across a call that may wait (a scrape reads it on an event loop).
    seen: Mutex<HashMap<String, Usage>>,
    /// Recounts done, and the bytes by which they found the ledger off.
    pub(super) recounts: AtomicU64,
    pub(super) drift: AtomicU64,
}

impl Ledger {
    /// Opens (making it if missing) the ledger of the root `root`.
    fn open(root: &OwnedFd, folders: Vec<String>, tokens: bool) -> io::Result<Ledger> {
        match rustix::fs::mkdirat(root, USAGE_DIR, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(errno) => return Err(errno.into()),
        }
        let dir = rustix::fs::openat(root, USAGE_DIR, DIR | OFlags::NOFOLLOW, Mode::empty())?;
        Ok(Ledger {
            dir,
            folders,
            tokens,
            open: Mutex::default(),
            seen: Mutex::default(),
            recounts: AtomicU64::new(0),
            drift: AtomicU64::new(0),
        })
    }

    /// What `account` holds (nothing if it was never counted).
    pub(super) fn read(&self, account: Account<'_>) -> io::Result<Usage> {
        self.with_file(&account.key(), |fd| read_usage(fd).map(|now| (now, now)))
    }

    /// Adds `change` to `account`, at once for every process on the root.
    pub(super) fn change(&self, account: Account<'_>, change: Change) -> io::Result<Usage> {
        self.with_file(&account.key(), |fd| {
            let now = read_usage(fd)?;
            let now = Usage {
                bytes: now.bytes.saturating_add_signed(change.bytes),
                files: now.files.saturating_add_signed(change.files),
            };
            write_usage(fd, now).map(|()| (now, now))
        })
    }

    /// Sets `account` to `usage` (a recount's); returns what it held.
    pub(super) fn set(&self, account: Account<'_>, usage: Usage) -> io::Result<Usage> {
        self.with_file(&account.key(), |fd| {
            let was = read_usage(fd)?;
            write_usage(fd, usage).map(|()| (was, usage))
        })
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

    /// What each account held when this node last saw it: `(key, usage)`
    /// (see [`Account::key`]). Never waits for the disk.
    pub(super) fn seen(&self) -> Vec<(String, Usage)> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.iter()
            .map(|(key, usage)| (key.clone(), *usage))
            .collect()
    }

    /// Runs `body` on the ledger file `key`, holding this process's lock
    /// and the file's `flock`; `body` returns its answer and what the
    /// account holds now.
    fn with_file<T>(
        &self,
        key: &str,
        body: impl FnOnce(&OwnedFd) -> io::Result<(T, Usage)>,
    ) -> io::Result<T> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if !open.contains_key(key) {
            let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = rustix::fs::openat(&self.dir, key, flags, Mode::from_raw_mode(0o600))?;
            open.insert(key.to_owned(), fd);
        }
        let Some(fd) = open.get(key) else {
            unreachable!("opened just above");
        };
        rustix::fs::flock(fd, FlockOperation::LockExclusive)?;
        let done = body(fd);
        let _ = rustix::fs::flock(fd, FlockOperation::Unlock);
        drop(open);
        let (answer, now) = done?;
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        match seen.get_mut(key) {
            Some(usage) => *usage = now,
            None => drop(seen.insert(key.to_owned(), now)),
        }
        Ok(answer)
    }

    /// The accounts a file at `path`, stored by `owner`, counts in.
    fn accounts<'a>(
        &'a self,
        path: &'a str,
        owner: Option<&'a str>,
    ) -> impl Iterator<Item = Account<'a>> + 'a {
        let folders = self
            .folders
            .iter()
            .filter(move |prefix| path.starts_with(prefix.as_str()));
        let token = owner.filter(|_| self.tokens).map(Account::Token);
        folders.map(|prefix| Account::Folder(prefix)).chain(token)
    }

    /// Counts `change` for the file at `path` stored by `owner`: in its
    /// owner's account and every quota'd folder above it.
    pub(super) fn count(&self, path: &str, owner: Option<&str>, change: Change) {
        for account in self.accounts(path, owner) {
            if let Err(err) = self.change(account, change) {
                log::warn!(
                    "could not count {change:?} for {path:?} in {account:?} (the recount will): {err}"
                );
            }
        }
    }

    /// Counts a file of `size` bytes moved from `from` to `to`: its owner
    /// keeps it; the folders it left lose it and those it entered gain it.
    pub(super) fn count_move(&self, from: &str, to: &str, size: u64) {
        for prefix in &self.folders {
            let change = match (
                from.starts_with(prefix.as_str()),
                to.starts_with(prefix.as_str()),
            ) {
                (true, false) => Change::file(size, -1),
                (false, true) => Change::file(size, 1),
                _ => continue,
            };
            if let Err(err) = self.change(Account::Folder(prefix), change) {
                log::warn!(
                    "could not count the move of {from:?} in {prefix:?} (the recount will): {err}"
                );
            }
        }
    }
}

fn read_usage(fd: &OwnedFd) -> io::Result<Usage> {
    let mut buf = [0u8; 16];
    let mut got = 0;
    while got < buf.len() {
        match rustix::io::pread(fd, &mut buf[got..], got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    // A file never written (or cut short) holds nothing yet.
    if got < buf.len() {
        return Ok(Usage::default());
    }
    let (bytes, files) = buf.split_at(8);
    let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or_default());
    Ok(Usage {
        bytes: word(bytes),
        files: word(files),
    })
}

fn write_usage(fd: &OwnedFd, usage: Usage) -> io::Result<()> {
    let mut buf = [0u8; 16];
    buf[..8].copy_from_slice(&usage.bytes.to_le_bytes());
    buf[8..].copy_from_slice(&usage.files.to_le_bytes());
    let mut put = 0;
    while put < buf.len() {
        put += rustix::io::pwrite(fd, &buf[put..], put as u64)?;
    }
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

/// What a removal of the file `leaf` of `dir` takes from the ledger: its
/// size and owner, asked before it goes.
pub(super) fn going(dir: impl AsFd, leaf: &str, stat: &Stat) -> (u64, Option<String>) {
    (
        u64::try_from(stat.st_size).unwrap_or(0),
        owner_of(dir, leaf),
    )
}

impl Storage {
    /// Counts usage from now on (see the module's header): by token where
    /// `tokens` (access control is on), and for each folder of `folders`
    /// (ending in `/`, `""` for the root). A read-only server counts
    /// nothing: it changes nothing.
    ///
    /// # Errors
    /// The ledger's folder cannot be made or opened.
    pub fn count_usage(&mut self, folders: Vec<String>, tokens: bool) -> io::Result<()> {
        if self.read_only || (folders.is_empty() && !tokens) {
            return Ok(());
        }
        self.usage = Some(std::sync::Arc::new(Ledger::open(
            &self.root, folders, tokens,
        )?));
        Ok(())
    }

    /// What each account held when this node last saw it, by kind
    /// (`token` or `folder`) and name, and the recounts' count and drift
    /// in bytes: for the metrics. Never waits for the disk.
    pub fn usage_seen(&self) -> UsageSeen {
        let Some(ledger) = &self.usage else {
            return UsageSeen::default();
        };
        let accounts = ledger.seen().into_iter();
        UsageSeen {
            accounts: accounts
                .filter_map(|(key, usage)| Some((label_of(&key)?, usage)))
                .collect(),
            recounts: ledger.recounts.load(Ordering::Relaxed),
            drift: ledger.drift.load(Ordering::Relaxed),
        }
    }

    /// Whether usage is counted (there is something to count it for).
    pub fn counts_usage(&self) -> bool {
        self.usage.is_some()
    }

    /// What `account` holds, as every node counts it; nothing where usage
    /// is not counted. Blocks on the disk (a lock shared with other nodes).
    ///
    /// # Errors
    /// The ledger cannot be read (a storage failure).
    pub fn usage(&self, account: Account<'_>) -> Result<Usage, StorageError> {
        match &self.usage {
            Some(ledger) => Ok(ledger.read(account)?),
            None => Ok(Usage::default()),
        }
    }

    /// Unlinks the file `leaf` of directory `dir` ("" for the root), full
    /// name `path`, a member of a folder being removed, and takes it from
    /// the ledger.
    pub(super) fn unlink_counted(&self, dir: &str, leaf: &str, path: &str) -> Result<(), Errno> {
        let Some(ledger) = &self.usage else {
            return self.unlink_file(dir, leaf);
        };
        let dir = super::dir_at(&self.root, dir)?;
        let stat = rustix::fs::statat(&dir, leaf, AtFlags::SYMLINK_NOFOLLOW)?;
        let (size, owner) = going(&dir, leaf, &stat);
        rustix::fs::unlinkat(&dir, leaf, AtFlags::empty())?;
        ledger.count(path, owner.as_deref(), Change::file(size, -1));
        Ok(())
    }

    /// Takes the file `path` of `size` bytes, owned by `owner`, from the
    /// ledger (it was removed or replaced).
    pub(super) fn count_gone(&self, path: &str, (size, owner): (u64, Option<String>)) {
        if let Some(ledger) = &self.usage {
            ledger.count(path, owner.as_deref(), Change::file(size, -1));
        }
    }
}

/// The usage the metrics show (see [`Storage::usage_seen`]).
#[derive(Debug, Clone, Default)]
pub struct UsageSeen {
    /// `((kind, name), usage)`: `("token", "cam")`, `("folder", "box/")`.
    pub accounts: Vec<((&'static str, String), Usage)>,
    /// Recounts done by this node.
    pub recounts: u64,
    /// Bytes by which its recounts found the ledger off, summed.
    pub drift: u64,
}

/// The kind and name of the account of ledger key `key`.
fn label_of(key: &str) -> Option<(&'static str, String)> {
    if let Some(token) = key.strip_prefix("token.") {
        return Some(("token", token.to_owned()));
    }
    let hex = key.strip_prefix("folder.")?;
    if hex == "root" {
        return Some(("folder", String::new()));
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect();
    Some(("folder", String::from_utf8(bytes?).ok()?))
}

/// What an upload's commit counts: the ledger, and whose upload it is.
#[derive(Debug)]
pub(super) struct Counted {
    pub(super) ledger: std::sync::Arc<Ledger>,
    pub(super) owner: Option<String>,
}

impl Counted {
    /// Before the rename that publishes `file` as `leaf` of `dir`: what
    /// it replaces there (size and owner), if anything.
    pub(super) fn replacing(dir: impl AsFd, leaf: &str) -> Option<(u64, Option<String>)> {
        let dir = dir.as_fd();
        let stat = rustix::fs::statat(dir, leaf, AtFlags::SYMLINK_NOFOLLOW).ok()?;
        (rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::RegularFile)
            .then(|| going(dir, leaf, &stat))
    }

    /// After that rename: `size` bytes at `path` are its owner's, and
    /// what it replaced went.
    pub(super) fn landed(&self, path: &str, size: u64, replaced: Option<(u64, Option<String>)>) {
        if let Some((old, owner)) = replaced {
            self.ledger
                .count(path, owner.as_deref(), Change::file(old, -1));
        }
        self.ledger
            .count(path, self.owner.as_deref(), Change::file(size, 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_kept_apart_and_add_up() {
        let root = tempfile::tempdir().unwrap();
        let fd = rustix::fs::open(root.path(), DIR, Mode::empty()).unwrap();
        let ledger = Ledger::open(&fd, vec!["a/".into(), String::new()], true).unwrap();
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
        ledger.count_move("a/x", "b/x", 60);
        assert_eq!(usage(Account::Folder("a/")), Usage::default());
        assert_eq!(usage(Account::Folder("")).bytes, 67);
        // Never below nothing: drift is the recount's to heal.
        ledger.count("a/z", None, Change::file(5, -1));
        assert_eq!(usage(Account::Folder("a/")), Usage::default());
        // Another opening (another node) sees the same.
        let again = Ledger::open(&fd, vec![], true).unwrap();
        assert_eq!(again.read(Account::Token("t2")).unwrap().bytes, 7);
        let mut tokens = again.token_accounts().unwrap();
        tokens.sort();
        assert_eq!(tokens, ["t1", "t2"]);
    }

    #[test]
    fn keys_read_back_as_the_accounts_they_name() {
        for (account, label) in [
            (Account::Token("cam"), ("token", "cam")),
            (Account::Folder(""), ("folder", "")),
            (Account::Folder("a b/ç/"), ("folder", "a b/ç/")),
        ] {
            let (kind, name) = label_of(&account.key()).unwrap();
            assert_eq!((kind, name.as_str()), label);
        }
    }

    #[test]
    fn folder_keys_tell_folders_apart() {
        assert_eq!(Account::Folder("").key(), "folder.root");
        assert_eq!(Account::Folder("a/").key(), "folder.612f");
        assert_ne!(Account::Folder("ab/").key(), Account::Folder("a/b").key());
    }
}
