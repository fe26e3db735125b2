//! What a power cut keeps: the durable image, recorded as an undo log over
//! the backing folder (which always holds the *current* state, written
//! through), and the restore that rolls the backing folder back to it.
//!
//! The rules (docs/reliability.md, "Power cuts", gives their sources):
//!
//! ```text
//! file data, size, mode, mtime, xattrs   durable as of the file's last fsync/fdatasync
//!                                        (empty if it was created since the mount and
//!                                        never synced); with partial writeback, plus a
//!                                        seeded-random prefix of the writes since, in order
//! a directory's entries                  durable as of the directory's last fsync: a
//!                                        create, link, unlink, mkdir, rmdir or rename
//!                                        (either side) since is undone; fsync of a file
//!                                        never makes its name durable
//! at mount                               everything in the backing folder is durable
//! ```
//!
//! Nothing is copied until something changes: a directory's entries are
//! listed at its first change after a flush, a file is copied at its first
//! change after a flush (`base`), and a flush drops that record. Inodes
//! the current state no longer names are kept in the store's graveyard
//! (`<store>/g<inode>`), never deleted, because the durable image may still
//! name them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{DirEntryExt, FileExt};
use std::path::{Path, PathBuf};

/// The store's name in the backing folder: hidden from the mount.
pub const STORE: &str = ".powercut";

/// A change to a file's bytes since its last flush, kept for partial
/// writeback.
#[derive(Debug)]
pub enum Op {
    Write { at: u64, data: Vec<u8> },
    Truncate(u64),
}

/// A file changed since its last flush.
#[derive(Debug, Default)]
pub struct Unsynced {
    /// A copy (in the store) of the file as last flushed; `None`: created
    /// since the mount and never flushed, so durably empty.
    pub base: Option<PathBuf>,
    /// What was done to it since, in order.
    pub ops: Vec<Op>,
}

/// The durable image, as the differences from the current state.
#[derive(Debug)]
pub struct Durable {
    /// The store: copies and the graveyard.
    pub store: PathBuf,
    /// Directories (by backing inode) changed since their last flush, with
    /// their entries as of then: name → backing inode.
    pub dirs: HashMap<u64, BTreeMap<OsString, u64>>,
    /// Files (by backing inode) changed since their last flush.
    pub files: HashMap<u64, Unsynced>,
    /// Keep the bytes of unflushed writes (for partial writeback).
    pub log_writes: bool,
    copies: u64,
}

impl Durable {
    /// Bookkeeping for the backing folder `backing`, all of it durable:
    /// the store is made empty.
    pub fn new(backing: &Path, log_writes: bool) -> io::Result<Durable> {
        let store = backing.join(STORE);
        if store.exists() {
            fs::remove_dir_all(&store)?;
        }
        fs::create_dir(&store)?;
        Ok(Durable {
            store,
            dirs: HashMap::new(),
            files: HashMap::new(),
            log_writes,
            copies: 0,
        })
    }

    /// An empty record over the same store, to take this one's place once
    /// it is being restored.
    pub fn detached(&self) -> Durable {
        Durable {
            store: self.store.clone(),
            dirs: HashMap::new(),
            files: HashMap::new(),
            log_writes: false,
            copies: 0,
        }
    }

    /// Where an inode no longer named in the current state lives.
    pub fn grave(&self, ino: u64) -> PathBuf {
        self.store.join(format!("g{ino}"))
    }

    /// Records directory `ino` (at `path`) as it is, before its first
    /// change since its last flush.
    pub fn before_dir_change(&mut self, ino: u64, path: &Path) -> io::Result<()> {
        if self.dirs.contains_key(&ino) {
            return Ok(());
        }
        let entries = entries(path)?;
        self.dirs.insert(ino, entries);
        Ok(())
    }

    /// Records a file created since the mount: durably empty until flushed.
    pub fn created_file(&mut self, ino: u64) {
        self.files.insert(ino, Unsynced::default());
    }

    /// Records file `ino` (at `path`) as it is, before its first change
    /// since its last flush.
    pub fn before_file_change(&mut self, ino: u64, path: &Path) -> io::Result<&mut Unsynced> {
        if !self.files.contains_key(&ino) {
            self.copies += 1;
            let copy = self.store.join(format!("c{}", self.copies));
            copy_file(path, &copy)?;
            self.files.insert(
                ino,
                Unsynced {
                    base: Some(copy),
                    ops: Vec::new(),
                },
            );
        }
        Ok(self.files.get_mut(&ino).expect("just inserted"))
    }

    /// `fsync`/`fdatasync` of file `ino`: what it holds now is durable.
    pub fn flushed_file(&mut self, ino: u64) {
        if let Some(Unsynced {
            base: Some(copy), ..
        }) = self.files.remove(&ino)
        {
            let _ = fs::remove_file(copy);
        }
    }

    /// `fsync` of directory `ino`: its entries now are durable.
    pub fn flushed_dir(&mut self, ino: u64) {
        self.dirs.remove(&ino);
    }
}

/// A directory's entries: name → inode (the store excluded).
fn entries(path: &Path) -> io::Result<BTreeMap<OsString, u64>> {
    let mut found = BTreeMap::new();
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_name() != STORE {
            found.insert(entry.file_name(), entry.ino());
        }
    }
    Ok(found)
}

/// Copies a file's bytes, mode, modification time and extended attributes.
fn copy_file(from: &Path, to: &Path) -> io::Result<()> {
    fs::copy(from, to)?;
    copy_metadata(from, to)
}

/// Gives `to` the mode, modification time and extended attributes of
/// `from` (and only those attributes).
fn copy_metadata(from: &Path, to: &Path) -> io::Result<()> {
    let meta = fs::metadata(from)?;
    fs::set_permissions(to, meta.permissions())?;
    File::options()
        .write(true)
        .open(to)?
        .set_modified(meta.modified()?)?;
    for name in xattr_names(to)? {
        rustix::fs::removexattr(to, name.as_os_str())?;
    }
    for name in xattr_names(from)? {
        let value = xattr_value(from, &name)?;
        rustix::fs::setxattr(
            to,
            name.as_os_str(),
            &value,
            rustix::fs::XattrFlags::empty(),
        )?;
    }
    Ok(())
}

/// The extended attributes' names of a file.
pub fn xattr_names(path: &Path) -> io::Result<Vec<OsString>> {
    let mut buf = vec![0u8; 64 * 1024];
    let len = rustix::fs::listxattr(path, &mut buf)?;
    use std::os::unix::ffi::OsStrExt;
    Ok(buf[..len]
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| OsStr::from_bytes(n).to_owned())
        .collect())
}

fn xattr_value(path: &Path, name: &OsStr) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 64 * 1024];
    let len = rustix::fs::getxattr(path, name, &mut buf)?;
    buf.truncate(len);
    Ok(buf)
}

/// A small seeded generator (xorshift): partial writeback is reproducible.
pub struct Dice(pub u64);

impl Dice {
    /// A number in `0..=n`.
    pub fn upto(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % (n as u64 + 1)) as usize
    }
}

/// What a restore did, for the tool's report.
#[derive(Debug, Default)]
pub struct Restored {
    /// Files whose unflushed bytes were dropped (wholly or in part).
    pub files: usize,
    /// Writes kept by partial writeback, of all the unflushed ones.
    pub writes_kept: usize,
    pub writes: usize,
    /// Directories whose unflushed entries were undone.
    pub dirs: usize,
}

impl Durable {
    /// Rolls the backing folder back to the durable image (the mount must
    /// be gone): first every changed file in place, then every changed
    /// directory's entries, then the store goes. `locate` says where a
    /// backing inode is now; `dice`, if given, keeps a random prefix of
    /// each file's unflushed writes.
    pub fn restore(
        &mut self,
        locate: impl Fn(u64) -> PathBuf,
        mut dice: Option<Dice>,
    ) -> io::Result<Restored> {
        let mut report = Restored::default();
        let mut files: Vec<_> = self.files.drain().collect();
        files.sort_by_key(|(ino, _)| *ino); // the dice see a fixed order
        for (ino, unsynced) in files {
            let keep = match &mut dice {
                Some(dice) => dice.upto(unsynced.ops.len()),
                None => 0,
            };
            report.files += 1;
            report.writes += unsynced.ops.len();
            report.writes_kept += keep;
            restore_file(&locate(ino), &unsynced, keep)?;
        }
        report.dirs = self.dirs.len();
        self.restore_dirs(&locate)?;
        fs::remove_dir_all(&self.store)?;
        Ok(report)
    }

    /// Every changed directory's entries as of its last flush: all its
    /// current entries go to the graveyard, then each durable one comes
    /// back from there (a file named twice is hard-linked).
    fn restore_dirs(&self, locate: &impl Fn(u64) -> PathBuf) -> io::Result<()> {
        // Opened first: moving entries moves the paths of directories
        // beneath, but not what an open descriptor refers to.
        let mut dirs: Vec<_> = self.dirs.iter().collect();
        dirs.sort_by_key(|(ino, _)| **ino);
        let opened = dirs
            .iter()
            .map(|(ino, _)| open_dir(&locate(**ino)))
            .collect::<io::Result<Vec<_>>>()?;
        let grave = open_dir(&self.store)?;
        self.gather_elsewhere(&opened, locate)?;
        for dir in &opened {
            for (name, ino) in entries_at(dir)? {
                let to = format!("g{ino}");
                match rustix::fs::statat(&grave, to.as_str(), rustix::fs::AtFlags::empty()) {
                    // Another name of a file already there.
                    Ok(_) => rustix::fs::unlinkat(dir, &name, rustix::fs::AtFlags::empty())?,
                    Err(_) => rustix::fs::renameat(dir, &name, &grave, to.as_str())?,
                }
            }
        }
        let mut placed_dirs = BTreeSet::new();
        for ((_, durable), dir) in dirs.iter().zip(&opened) {
            for (name, ino) in durable.iter() {
                let from = format!("g{ino}");
                let stat = match rustix::fs::statat(
                    &grave,
                    from.as_str(),
                    rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                ) {
                    Ok(stat) => stat,
                    Err(errno) => {
                        eprintln!("powercut: {name:?} (inode {ino}) is nowhere: {errno}");
                        continue;
                    }
                };
                if rustix::fs::FileType::from_raw_mode(stat.st_mode)
                    == rustix::fs::FileType::Directory
                {
                    if placed_dirs.insert(*ino) {
                        rustix::fs::renameat(&grave, from.as_str(), dir, name.as_os_str())?;
                    }
                } else {
                    rustix::fs::linkat(
                        &grave,
                        from.as_str(),
                        dir,
                        name.as_os_str(),
                        rustix::fs::AtFlags::empty(),
                    )?;
                }
            }
        }
        Ok(())
    }
}

impl Durable {
    /// Links into the graveyard the files the durable image names that are
    /// neither there nor in a changed directory: moved since into a
    /// directory flushed since, they are found where they are now. (A
    /// directory in that case is left where it is: it cannot have two
    /// names.)
    fn gather_elsewhere(
        &self,
        opened: &[std::os::fd::OwnedFd],
        locate: &impl Fn(u64) -> PathBuf,
    ) -> io::Result<()> {
        let mut current = BTreeSet::new();
        for dir in opened {
            current.extend(entries_at(dir)?.into_iter().map(|(_, ino)| ino));
        }
        let named: BTreeSet<u64> = self
            .dirs
            .values()
            .flat_map(|d| d.values().copied())
            .collect();
        for ino in named.difference(&current) {
            let (from, to) = (locate(*ino), self.grave(*ino));
            if !to.exists() && fs::symlink_metadata(&from).is_ok_and(|m| m.is_file()) {
                fs::hard_link(&from, &to)?;
            }
        }
        Ok(())
    }
}

fn open_dir(path: &Path) -> io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// The entries of an open directory: name → inode.
fn entries_at(dir: &std::os::fd::OwnedFd) -> io::Result<Vec<(OsString, u64)>> {
    use std::os::unix::ffi::OsStrExt;
    let mut found = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." && name != STORE.as_bytes() {
            found.push((OsStr::from_bytes(name).to_owned(), entry.ino()));
        }
    }
    Ok(found)
}

/// Rewrites file `path` in place (other names of it see the same) as
/// last flushed, plus the first `keep` of the writes since.
fn restore_file(path: &Path, unsynced: &Unsynced, keep: usize) -> io::Result<()> {
    let file = File::options().write(true).open(path)?;
    file.set_len(0)?;
    if let Some(base) = &unsynced.base {
        let bytes = fs::read(base)?;
        file.write_all_at(&bytes, 0)?;
    }
    for op in &unsynced.ops[..keep] {
        match op {
            Op::Write { at, data } => file.write_all_at(data, *at)?,
            Op::Truncate(len) => file.set_len(*len)?,
        }
    }
    drop(file);
    match &unsynced.base {
        Some(base) => copy_metadata(base, path),
        None => {
            for name in xattr_names(path)? {
                rustix::fs::removexattr(path, name.as_os_str())?;
            }
            Ok(())
        }
    }
}
