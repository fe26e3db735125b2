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

use rustix::fs::{AtFlags, Dir, FileType, MemfdFlags, Mode, OFlags};
use rustix::io::Errno;

use super::gate::Point;
use super::{DIR, FileInfo, ListEntry, Stamp, Storage, StorageError};
use crate::name::{Name, Prefix, RESERVED_PREFIX};

/// One level of a directory, as [`Storage::list_directory`] returns it.
#[derive(Debug, Default)]
pub struct DirectoryListing {
    /// Subdirectories, by full name ending in `/`, in name order, with
    /// their modification times (Unix seconds) and inodes.
    pub dirs: Vec<(String, i64, u64)>,
    /// Files directly in it, in name order.
    pub files: Vec<ListEntry>,
}

/// An entry of a directory being walked.
struct Seen {
    leaf: String,
    kind: FileType,
    info: FileInfo,
    stamp: Stamp,
}

impl Seen {
    /// Name order of the full paths: a directory's contents all start with
    /// `leaf/`, so it sorts as `leaf/` among its siblings (`a.txt` before
    /// `a/`, since `.` < `/`), which makes a depth-first walk in this order
    /// visit the whole tree in the order of its full names.
    fn order(&self, other: &Seen) -> Ordering {
        self.key().cmp(other.key())
    }

    fn key(&self) -> impl Iterator<Item = u8> + '_ {
        let slash: &[u8] = if self.kind == FileType::Directory {
            b"/"
        } else {
            b""
        };
        self.leaf.bytes().chain(slash.iter().copied())
    }
}

impl Storage {
    /// Directory entries read by walks since the server started.
    pub fn walked_entries(&self) -> u64 {
        self.walked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Calls `found` with every regular file whose name starts with
    /// `prefix`, in name order, as the walk finds them. A directory below
    /// the start is read only if `enter` says so when given its name
    /// (ending in `/`): the caller prunes what it would not show (and stops
    /// the walk with an error). Reserved, symlinked, special and
    /// unnameable entries are skipped; a directory that vanishes or turns
    /// into a symlink meanwhile is as if never there.
    ///
    /// # Errors
    /// A directory on the way cannot be read (500, 503), or `enter` or
    /// `found` failed (its error, as [`StorageError::Io`]).
    pub fn list(
        &self,
        prefix: &Prefix,
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
            |path, kind, (info, stamp)| match kind {
                _ if is_reserved(path) => Ok(false),
                FileType::Directory if !could_contain(path, prefix.as_str()) => Ok(false),
                FileType::Directory => match enter(&format!("{path}/"), &info) {
                    Ok(descend) => Ok(descend),
                    Err(err) => stop(err),
                },
                FileType::RegularFile
                    if path.starts_with(prefix.as_str()) && Name::new(path.to_owned()).is_ok() =>
                {
                    let entry = ListEntry {
                        name: path.to_owned(),
                        info,
                        stamp,
                    };
                    match found(&entry) {
                        Ok(()) => Ok(false),
                        Err(err) => stop(err),
                    }
                }
                _ => Ok(false),
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
    /// them is read. A subdirectory is shown whatever it holds.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if `prefix` is not a directory (a file, a
    /// symlink, nothing); 500 or 503 if it cannot be read.
    pub fn list_directory(&self, prefix: &Prefix) -> Result<DirectoryListing, StorageError> {
        self.pause(Point::Walk);
        let start = prefix.dir_segments().collect::<Vec<_>>().join("/");
        let mut listing = DirectoryListing::default();
        let walked = self.walk_tree(
            &start,
            |path, kind, (info, stamp)| {
                match kind {
                    _ if is_reserved(path) => {}
                    FileType::Directory => {
                        listing
                            .dirs
                            .push((format!("{path}/"), info.mtime, stamp.inode));
                    }
                    FileType::RegularFile if Name::new(path.to_owned()).is_ok() => {
                        listing.files.push(ListEntry {
                            name: path.to_owned(),
                            info,
                            stamp,
                        });
                    }
                    _ => {}
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

    /// A file to write a listing into before it is sent: unnamed, so it
    /// vanishes when closed, even if the process is killed. Made with
    /// `O_TMPFILE` beside the files (on disk, not in memory); where the
    /// root's file system cannot (read-only, full) or where each read of it
    /// would be a round trip (FUSE, NFS...), in memory.
    ///
    /// # Errors
    /// Neither could be made (out of descriptors: 503).
    pub fn listing_spool(&self) -> Result<File, StorageError> {
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
    /// first in name order (see [`Seen::order`]). `visit` gets each entry's
    /// path from the root, its type and its size and time (from `lstat`),
    /// and says whether to descend into it (a directory); `unreadable`
    /// decides whether a directory that cannot be opened, read or looked
    /// into ends the walk. Symlinks are never followed, names that are not
    /// UTF-8 are passed over.
    pub(super) fn walk_tree(
        &self,
        start: &str,
        mut visit: impl FnMut(&str, FileType, (FileInfo, Stamp)) -> Result<bool, Errno>,
        mut unreadable: impl FnMut(&str, Errno) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        let mut levels = Vec::new();
        let mut next = Some(start.to_owned());
        loop {
            if let Some(dir_path) = next.take() {
                match self.read_dir(&dir_path) {
                    Ok(seen) => levels.push((dir_path, seen.into_iter())),
                    Err(errno) => unreadable(&dir_path, errno)?,
                }
            }
            let Some((dir_path, entries)) = levels.last_mut() else {
                return Ok(());
            };
            let Some(seen) = entries.next() else {
                levels.pop();
                continue;
            };
            let path = if dir_path.is_empty() {
                seen.leaf
            } else {
                format!("{dir_path}/{}", seen.leaf)
            };
            if visit(&path, seen.kind, (seen.info, seen.stamp))? && seen.kind == FileType::Directory
            {
                next = Some(path);
            }
        }
    }

    /// Reads directory `path` beneath the root ("" for the root): its
    /// entries (UTF-8 names, without `.` and `..`, not gone meanwhile) with
    /// their `lstat`, sorted in name order.
    fn read_dir(&self, path: &str) -> Result<Vec<Seen>, Errno> {
        let dir = if path.is_empty() {
            rustix::fs::openat(&*self.root, ".", DIR, Mode::empty())?
        } else {
            super::open_dir_at(&self.root, path)?
        };
        let mut seen = Vec::new();
        let mut read = 0;
        for entry in Dir::read_from(&dir)? {
            let entry = entry?;
            read += 1;
            let Ok(leaf) = entry.file_name().to_str() else {
                continue;
            };
            if leaf == "." || leaf == ".." {
                continue;
            }
            let stat = match rustix::fs::statat(&dir, leaf, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => stat,
                Err(Errno::NOENT) => continue, // removed while we looked
                Err(errno) => return Err(errno),
            };
            seen.push(Seen {
                leaf: leaf.to_owned(),
                kind: FileType::from_raw_mode(stat.st_mode),
                info: FileInfo::of(&stat),
                stamp: Stamp::of(&stat),
            });
        }
        // Counted once per directory, not per entry: one atomic add.
        self.walked
            .fetch_add(read, std::sync::atomic::Ordering::Relaxed);
        seen.sort_unstable_by(Seen::order);
        Ok(seen)
    }
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

/// Whether names under directory `dir` can start with `prefix`.
fn could_contain(dir: &str, prefix: &str) -> bool {
    let dir_len = dir.len() + 1;
    if prefix.len() >= dir_len {
        prefix.starts_with(dir) && prefix.as_bytes()[dir.len()] == b'/'
    } else {
        dir.starts_with(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_pruning() {
        assert!(could_contain("logs", ""));
        assert!(could_contain("logs", "lo"));
        assert!(could_contain("logs", "logs/2026"));
        assert!(!could_contain("logs", "logsx"));
        assert!(!could_contain("other", "logs/"));
        assert!(could_contain("logs/a", "logs/"));
    }
}
