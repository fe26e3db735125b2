//! Walking the tree beneath the root: LIST (every file below a prefix, in
//! name order, streamed), a directory listing (one level), and the walk
//! the start-up sweep falls back on (`sweep.rs`). None follows a symlink.
//!
//! The walk holds no directory open while it descends: each directory is
//! read, its entries `lstat`ed and sorted, and closed again, so a deep tree
//! costs no descriptors and a wide one costs the names of one directory at
//! each level of the current path, never the whole tree.

use std::cmp::Ordering;
use std::fs::File;
use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Dir, FileType, MemfdFlags, Mode, OFlags};
use rustix::io::Errno;

use super::gate::Point;
use super::{DIR, Storage, StorageError, could_contain};
use crate::model::{DirectoryListing, FileInfo, ListEntry, Stamp};
use crate::name::{Name, Prefix, RESERVED_PREFIX};

/// An entry of a directory being walked: its kind as `getdents` told it
/// (`d_type`; from an `lstat` only where the file system does not say),
/// its size and time only once the walk's caller asks ([`Visit::stat`]).
struct Seen {
    /// Its path from the root, made once as its directory is read and
    /// handed on whole (one allocation per entry, not three).
    path: String,
    /// Where its last segment begins in `path`.
    leaf_at: usize,
    kind: FileType,
    /// The `lstat` made to learn the kind, kept for [`Visit::stat`].
    stat: Option<(FileInfo, Stamp)>,
}

impl Seen {
    /// Name order of the full paths: a directory's contents all start with
    /// `leaf/`, so it sorts as `leaf/` among its siblings (`a.txt` before
    /// `a/`, since `.` < `/`), which makes a depth-first walk in this order
    /// visit the whole tree in the order of its full names.
    fn order(&self, other: &Seen) -> Ordering {
        // The leaves' common length compared at once (one `memcmp`, not a
        // byte at a time), then what follows it, `/` included.
        let (a, b) = (self.leaf().as_bytes(), other.leaf().as_bytes());
        let common = a.len().min(b.len());
        match a[..common].cmp(&b[..common]) {
            Ordering::Equal => self.key().skip(common).cmp(other.key().skip(common)),
            unequal => unequal,
        }
    }

    fn key(&self) -> impl Iterator<Item = u8> + '_ {
        let slash: &[u8] = if self.kind == FileType::Directory {
            b"/"
        } else {
            b""
        };
        self.leaf().bytes().chain(slash.iter().copied())
    }

    fn leaf(&self) -> &str {
        &self.path[self.leaf_at..]
    }
}

/// A directory on the walk's current path.
struct Level {
    /// Its path beneath the root ("" for the root).
    path: String,
    /// Its entries not yet visited, in name order.
    entries: std::vec::IntoIter<Seen>,
    /// It, open while the walk is at this level (closed when the walk
    /// descends, reopened if an entry after is `lstat`ed).
    dir: Option<OwnedFd>,
}

/// An entry the walk visits ([`Storage::walk_tree`]).
pub(super) struct Visit<'a> {
    /// Its path from the root. A visitor may take it (once it has asked
    /// for [`Visit::stat`]) where it does not descend into it.
    pub path: String,
    leaf_at: usize,
    /// Its kind as its directory told it.
    pub kind: FileType,
    seen: Seen,
    level: &'a mut Level,
    root: &'a OwnedFd,
}

impl Visit<'_> {
    /// Its size and time, from an `lstat` made now (or when its kind had to
    /// be asked): only what a caller shows costs one. `None` if it has gone
    /// since its directory was read, or is no longer of the kind it was.
    ///
    /// # Errors
    /// Its directory cannot be reopened or looked into (500, 503).
    pub(super) fn stat(&mut self) -> Result<Option<(FileInfo, Stamp)>, Errno> {
        if let Some(stat) = self.seen.stat {
            return Ok(Some(stat));
        }
        let dir = match &self.level.dir {
            Some(dir) => dir,
            None => match open_walked(self.root, &self.level.path) {
                Ok(dir) => self.level.dir.insert(dir),
                Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => return Ok(None),
                Err(errno) => return Err(errno),
            },
        };
        match lstat(dir, &self.path[self.leaf_at..]) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == self.kind => {
                let found = (FileInfo::of(&stat), Stamp::of(&stat));
                self.seen.stat = Some(found);
                Ok(Some(found))
            }
            Ok(_) | Err(Errno::NOENT) => Ok(None),
            Err(errno) => Err(errno),
        }
    }
}

impl Storage {
    /// Directory entries read by walks since the server started.
    pub fn walked_entries(&self) -> u64 {
        self.walked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Calls `found` with every regular file whose name starts with
    /// `prefix`, in name order, as the walk finds them. `wanted` is asked
    /// first of each name (a directory's ending in `/`), from the name
    /// alone: what it refuses is never `lstat`ed, entered or given to the
    /// other two (a page's start: a page of a wide folder costs its
    /// folder's names, not an `lstat` of each). A directory below the start
    /// is read only if `enter` says so when given its name (ending in `/`):
    /// the caller prunes what it would not show (and stops the walk with an
    /// error). Reserved, symlinked, special and unnameable entries are
    /// skipped; a directory that vanishes or turns into a symlink meanwhile
    /// is as if never there.
    ///
    /// # Errors
    /// A directory on the way cannot be read (500, 503), or `enter` or
    /// `found` failed (its error, as [`StorageError::Io`]).
    pub(super) fn list(
        &self,
        prefix: &Prefix,
        mut wanted: impl FnMut(&str) -> bool,
        mut enter: impl FnMut(&str, &FileInfo) -> std::io::Result<bool>,
        mut found: impl FnMut(&ListEntry) -> std::io::Result<()>,
    ) -> Result<(), StorageError> {
        self.pause(Point::Walk);
        let start = prefix.dir_segments().collect::<Vec<_>>().join("/");
        let mut failed = None;
        let mut stop = |err| {
            failed = Some(err);
            Err(Errno::CANCELED)
        };
        let walked = self.walk_tree(
            &start,
            |path, kind| match kind {
                _ if is_reserved(path) => false,
                FileType::Directory => {
                    could_contain(path, prefix.as_str()) && wanted(&format!("{path}/"))
                }
                FileType::RegularFile => {
                    path.starts_with(prefix.as_str()) && wanted(path) && Name::check(path).is_ok()
                }
                _ => false,
            },
            |visit| {
                let Some((info, stamp)) = visit.stat()? else {
                    return Ok(false); // gone, or changed, since read
                };
                if visit.kind == FileType::Directory {
                    return enter(&format!("{}/", visit.path), &info).or_else(&mut stop);
                }
                let entry = ListEntry {
                    name: std::mem::take(&mut visit.path),
                    info,
                    stamp,
                };
                found(&entry).map(|()| false).or_else(&mut stop)
            },
            |dir, errno| vanished_or(dir != start, errno),
        );
        match (walked, failed) {
            (_, Some(err)) => Err(err.into()),
            (Ok(()), None) => Ok(()),
            // The prefix names a directory that is not there: nothing in it.
            (Err(Errno::NOENT | Errno::NOTDIR), None) => Ok(()),
            (Err(errno), None) => Err(errno.into()),
        }
    }

    /// The files and subdirectories directly in directory `prefix` (empty
    /// for the root, else ending in `/`), each in name order; nothing below
    /// them is read. A subdirectory is shown whatever it holds. Without
    /// `files`, only the subdirectories: files are skipped by their entry's
    /// type, never `lstat`ed.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if `prefix` is not a directory (a file, a
    /// symlink, nothing); 500 or 503 if it cannot be read.
    pub(super) fn list_directory(
        &self,
        prefix: &Prefix,
        files: bool,
    ) -> Result<DirectoryListing, StorageError> {
        self.pause(Point::Walk);
        let start = prefix.dir_segments().collect::<Vec<_>>().join("/");
        let mut listing = DirectoryListing::default();
        // The folder's name is a name already: each entry's leaf is checked.
        let leaf_at = if start.is_empty() { 0 } else { start.len() + 1 };
        let walked = self.walk_tree(
            &start,
            |path, kind| match kind {
                _ if is_reserved(path) => false,
                FileType::Directory => true,
                FileType::RegularFile => files && Name::check_leaf(path, leaf_at).is_ok(),
                _ => false,
            },
            |visit| {
                let Some((info, stamp)) = visit.stat()? else {
                    return Ok(false);
                };
                let name = std::mem::take(&mut visit.path);
                match visit.kind {
                    FileType::Directory => listing.dirs.push((name + "/", info.mtime, stamp.inode)),
                    _ => listing.files.push(ListEntry { name, info, stamp }),
                }
                Ok(false)
            },
            |_, errno| Err(errno),
        );
        match walked {
            Ok(()) => Ok(listing),
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => Err(StorageError::NotFound),
            Err(errno) => Err(errno.into()),
        }
    }

    /// Folder `dir`'s (its name from the root, ending in `/`) size (0)
    /// and time if it shows nothing (no entry but ferry's own), `None` if
    /// it shows something. Reads its first entries only.
    ///
    /// # Errors
    /// It cannot be opened or read (gone: [`StorageError::NotFound`]).
    pub(super) fn empty_folder(&self, dir: &str) -> Result<Option<FileInfo>, StorageError> {
        let dir = super::open_dir_beneath(&self.root, dir.trim_end_matches('/'))?;
        for entry in Dir::read_from(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." && !name.starts_with(RESERVED_PREFIX.as_bytes()) {
                return Ok(None);
            }
        }
        let stat = rustix::fs::fstat(&dir)?;
        Ok(Some(FileInfo {
            size: 0,
            mtime: stat.st_mtime,
        }))
    }

    /// A file to write a listing into before it is sent: unnamed, so it
    /// vanishes when closed, even if the process is killed. Made with
    /// `O_TMPFILE` beside the files (on disk, not in memory); where the
    /// root's file system cannot (read-only, full) or where each read of it
    /// would be a round trip (FUSE, NFS...), in memory.
    ///
    /// # Errors
    /// Neither could be made (out of descriptors: 503).
    pub(super) fn listing_spool(&self) -> Result<File, StorageError> {
        let flags = OFlags::RDWR | OFlags::TMPFILE | OFlags::CLOEXEC;
        let in_root = match self.round_trips {
            // Sending from it would make the loop wait on every read.
            true => Err(Errno::OPNOTSUPP),
            false => rustix::fs::openat(&*self.root, ".", flags, Mode::from_raw_mode(0o600)),
        };
        let fd = match in_root {
            Ok(fd) => fd,
            Err(errno @ (Errno::MFILE | Errno::NFILE)) => return Err(errno.into()),
            Err(_) => rustix::fs::memfd_create("ferry-listing", MemfdFlags::CLOEXEC)?,
        };
        Ok(File::from(fd))
    }

    /// Unlinks file `leaf` of directory `dir` ("" for the root).
    pub(super) fn unlink_file(&self, dir: &str, leaf: &str) -> Result<(), Errno> {
        if dir.is_empty() {
            rustix::fs::unlinkat(&*self.root, leaf, AtFlags::empty())
        } else {
            let dir = super::open_dir_at(&self.root, dir)?;
            rustix::fs::unlinkat(&dir, leaf, AtFlags::empty())
        }
    }

    /// Walks the tree below directory `start` ("" for the root), depth
    /// first in name order (see [`Seen::order`]). `keep` is asked first,
    /// with each entry's path from the root and its kind, whether the walk
    /// sees it at all: what it refuses costs no `lstat`, no memory and no
    /// sort (a page's start, a prefix). `visit` gets each kept entry (its
    /// size and time on demand, [`Visit::stat`]) and says whether to
    /// descend into it (a directory); `unreadable` decides whether a
    /// directory that cannot be opened or read ends the walk. Symlinks are
    /// never followed, names that are not UTF-8 are passed over.
    pub(super) fn walk_tree(
        &self,
        start: &str,
        mut keep: impl FnMut(&str, FileType) -> bool,
        mut visit: impl FnMut(&mut Visit<'_>) -> Result<bool, Errno>,
        mut unreadable: impl FnMut(&str, Errno) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        let mut levels: Vec<Level> = Vec::new();
        let mut next = Some(start.to_owned());
        loop {
            if let Some(path) = next.take() {
                // No descriptor per level: a deep tree costs none.
                if let Some(parent) = levels.last_mut() {
                    parent.dir = None;
                }
                match self.read_dir(&path, &mut keep) {
                    Ok((dir, seen)) => levels.push(Level {
                        path,
                        entries: seen.into_iter(),
                        dir: Some(dir),
                    }),
                    Err(errno) => unreadable(&path, errno)?,
                }
            }
            let Some(level) = levels.last_mut() else {
                return Ok(());
            };
            let Some(mut seen) = level.entries.next() else {
                levels.pop();
                continue;
            };
            let kind = seen.kind;
            let mut visiting = Visit {
                path: std::mem::take(&mut seen.path),
                leaf_at: seen.leaf_at,
                kind,
                seen,
                level,
                root: &self.root,
            };
            let descend = visit(&mut visiting)?;
            if descend && kind == FileType::Directory {
                debug_assert!(
                    !visiting.path.is_empty(),
                    "a path taken is not descended into"
                );
                next = Some(visiting.path);
            }
        }
    }

    /// Reads directory `path` beneath the root ("" for the root): the
    /// entries `keep` keeps (UTF-8 names, without `.` and `..`), sorted in
    /// name order, and the directory, open. An entry is `lstat`ed here only
    /// where `getdents` does not tell its kind.
    fn read_dir(
        &self,
        path: &str,
        keep: &mut impl FnMut(&str, FileType) -> bool,
    ) -> Result<(OwnedFd, Vec<Seen>), Errno> {
        let dir = open_walked(&self.root, path)?;
        let mut seen = Vec::new();
        let mut read = 0;
        // Each entry's path from the root, built in one buffer.
        let mut full = path.to_owned();
        if !full.is_empty() {
            full.push('/');
        }
        let base = full.len();
        for entry in Dir::read_from(&dir)? {
            let entry = entry?;
            read += 1;
            let Ok(leaf) = entry.file_name().to_str() else {
                continue;
            };
            if leaf == "." || leaf == ".." {
                continue;
            }
            let (kind, stat) = match entry.file_type() {
                FileType::Unknown => match lstat(&dir, leaf) {
                    Ok(stat) => (
                        FileType::from_raw_mode(stat.st_mode),
                        Some((FileInfo::of(&stat), Stamp::of(&stat))),
                    ),
                    Err(Errno::NOENT) => continue, // removed while we looked
                    Err(errno) => return Err(errno),
                },
                kind => (kind, None),
            };
            full.truncate(base);
            full.push_str(leaf);
            if keep(&full, kind) {
                seen.push(Seen {
                    path: full.clone(),
                    leaf_at: base,
                    kind,
                    stat,
                });
            }
        }
        // Counted once per directory, not per entry: one atomic add.
        self.walked
            .fetch_add(read, std::sync::atomic::Ordering::Relaxed);
        seen.sort_unstable_by(Seen::order);
        Ok((dir, seen))
    }
}

/// Opens directory `path` beneath the root ("" for the root) to walk it.
fn open_walked(root: &OwnedFd, path: &str) -> Result<OwnedFd, Errno> {
    match path {
        "" => rustix::fs::openat(root, ".", DIR, Mode::empty()),
        path => super::open_dir_at(root, path),
    }
}

#[cfg(test)]
thread_local! {
    /// The `lstat`s the walks of this thread made (the tests count them).
    static LSTATS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// `lstat` of entry `leaf` of `dir`, as the walk makes it.
fn lstat(dir: &OwnedFd, leaf: &str) -> Result<rustix::fs::Stat, Errno> {
    #[cfg(test)]
    LSTATS.with(|count| count.set(count.get() + 1));
    rustix::fs::statat(dir, leaf, AtFlags::SYMLINK_NOFOLLOW)
}

/// Whether the entry at `path` is reserved (its last segment is; reserved
/// directories are never entered, so no earlier one is).
pub(super) fn is_reserved(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|leaf| leaf.starts_with(RESERVED_PREFIX))
}

/// For LIST: a directory below the start that vanished or became a symlink
/// since it was seen is as if never there; any other failure ends the walk.
fn vanished_or(below_start: bool, errno: Errno) -> Result<(), Errno> {
    match errno {
        Errno::NOENT | Errno::NOTDIR | Errno::LOOP if below_start => Ok(()),
        errno => Err(errno),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quick order is the order of the keys, a leaf and its `/`.
    #[test]
    fn entries_sort_as_their_keys() {
        let leaves = ["a", "a.txt", "a0", "a/", "ab", "b", "é", "a b", "a-", ""];
        let seen = |leaf: &str, kind| Seen {
            path: format!("dir/{leaf}"),
            leaf_at: 4,
            kind,
            stat: None,
        };
        for x in leaves {
            for y in leaves {
                for (kx, ky) in [
                    (FileType::RegularFile, FileType::Directory),
                    (FileType::Directory, FileType::RegularFile),
                    (FileType::Directory, FileType::Directory),
                    (FileType::RegularFile, FileType::RegularFile),
                ] {
                    let (a, b) = (seen(x, kx), seen(y, ky));
                    assert_eq!(a.order(&b), a.key().cmp(b.key()), "{x:?} {y:?}");
                }
            }
        }
    }

    fn lstats() -> u64 {
        LSTATS.with(std::cell::Cell::get)
    }

    /// A page of a wide folder: the names before its start are skipped by
    /// name, and only what the page shows is `lstat`ed, so paging through
    /// a folder costs its names per page, not an `lstat` of each entry.
    #[test]
    fn a_page_of_a_wide_folder_lstats_only_what_it_shows() {
        let root = tempfile::tempdir().unwrap();
        let wide = root.path().join("b");
        std::fs::create_dir_all(wide.join("sub")).unwrap();
        for n in 0..2000 {
            std::fs::write(wide.join(format!("k{n:04}")), b"xy").unwrap();
        }
        std::fs::write(wide.join("sub/in"), b"xy").unwrap();
        std::os::unix::fs::symlink("/etc", wide.join("k1500-link")).unwrap();
        let storage = Storage::open(root.path(), "test", false).unwrap();
        let prefix = Prefix::new("b/".to_owned()).unwrap();
        let page = |after: &str, max: usize| {
            let before = lstats();
            let mut names = Vec::new();
            let walked = storage.list(
                &prefix,
                |name| match name.ends_with('/') {
                    true => name > after || after.starts_with(name),
                    false => name > after,
                },
                |_, _| Ok(true),
                |entry| {
                    assert_eq!(entry.info.size, 2, "{}", entry.name);
                    names.push(entry.name.clone());
                    match names.len() < max {
                        true => Ok(()),
                        false => Err(std::io::Error::other("the page is full")),
                    }
                },
            );
            assert_eq!(walked.is_err(), names.len() == max);
            (names, lstats() - before)
        };
        let (names, stated) = page("b/k1499", 3);
        assert_eq!(names, ["b/k1500", "b/k1501", "b/k1502"]);
        // On file systems without `d_type` each kept entry is `lstat`ed
        // when read: still only those after the start.
        assert!(stated == 3 || (500..=503).contains(&stated), "{stated}");
        // The last page: the symlink left out unstated where the kind is
        // known, the folder entered after the files (`sub/` > `k…`).
        let (names, _) = page("b/k1997", 10);
        assert_eq!(names, ["b/k1998", "b/k1999", "b/sub/in"]);
    }

    /// A one-level listing of folders only (S3's ListBuckets) skips the
    /// files by their entries: the root's 2,000 files cost no `lstat`.
    #[test]
    fn a_listing_of_folders_only_lstats_no_file() {
        let root = tempfile::tempdir().unwrap();
        for n in 0..2000 {
            std::fs::write(root.path().join(format!("k{n:04}")), b"xy").unwrap();
        }
        std::fs::create_dir_all(root.path().join("bucket/inner")).unwrap();
        let storage = Storage::open(root.path(), "test", false).unwrap();
        let before = lstats();
        let listing = storage.list_directory(&Prefix::root(), false).unwrap();
        let stated = lstats() - before;
        assert!(listing.files.is_empty());
        let dirs: Vec<_> = listing
            .dirs
            .iter()
            .map(|(name, ..)| name.as_str())
            .collect();
        assert_eq!(dirs, ["bucket/"]);
        // On file systems without `d_type` each entry is `lstat`ed to
        // learn its kind.
        assert!(stated == 1 || stated > 2000, "{stated}");
        let all = storage.list_directory(&Prefix::root(), true).unwrap();
        assert_eq!(all.files.len(), 2000);
    }
}
