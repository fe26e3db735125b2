//! A walk of the tree below a folder that stops between any two entries
//! and goes on later from where it stood: what a folder's `.tar` is sent
//! from, one member at a time, for as long as its reader takes.
//!
//! Between two steps the cursor holds no descriptor and no listing: for
//! each folder on the current path, its name, the kernel's position in it
//! (the `d_off` cookie of the last entry read, which `seekdir` returns to)
//! and at most [`BATCH`] entries read ahead. Its memory is therefore a few
//! KiB per level of depth whatever the size of the tree or of any one
//! folder, where a sorted walk (`tree.rs`) must hold a whole folder's names.
//! The price is the order: entries come in directory order (as `tar` and
//! `zip` archive by default), each folder before what is in it, and a
//! second cursor over an unchanged tree yields the same entries in the same
//! order.
//!
//! Like every walk here it follows no symlink and shows no reserved,
//! special or unnameable entry; a folder that vanishes or becomes a symlink
//! meanwhile is as if it had never been there.

use std::collections::VecDeque;

use rustix::fs::{AtFlags, Dir, FileType, Mode};
use rustix::io::Errno;

use super::gate::Point;
use super::{DIR, Storage, StorageError};
use crate::model::{FileInfo, Found};
use crate::name::{Name, Prefix, RESERVED_PREFIX};

/// Entries read ahead from one folder each time it is opened: one open and
/// one `getdents` per this many entries, and this many entries of memory
/// per level.
const BATCH: usize = 64;

/// A resumable depth-first walk; see the module's header.
#[derive(Debug)]
pub(super) struct TreeCursor {
    /// The folders on the current path, the one being read last.
    levels: Vec<Level>,
    /// Whether the starting folder has been read yet (it alone must exist).
    started: bool,
}

/// One folder on the cursor's path.
#[derive(Debug)]
struct Level {
    /// Its path beneath the root, without a trailing `/` ("" for the root).
    path: String,
    /// Where its next read starts (`None`: at the beginning).
    cookie: Option<i64>,
    /// Entries read but not yet returned.
    ahead: VecDeque<Entry>,
    /// Whether the kernel has said there is no more to read.
    exhausted: bool,
}

/// A directory entry read ahead.
#[derive(Debug)]
struct Entry {
    leaf: String,
    kind: FileType,
    info: FileInfo,
}

impl TreeCursor {
    /// A cursor at the start of folder `prefix` (the root when empty).
    pub(super) fn new(prefix: &Prefix) -> TreeCursor {
        let path = prefix.as_str().trim_end_matches('/').to_owned();
        TreeCursor {
            levels: vec![Level::new(path)],
            started: false,
        }
    }

    /// The next folder or file below the start, or `None` at the end. A
    /// folder is returned, and entered, only if `enter` says so when given
    /// its full name (ending in `/`): what it refuses is skipped whole.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if the starting folder is not there (the
    /// first call only); a folder on the way cannot be read (500, 503).
    pub(super) fn next(
        &mut self,
        storage: &Storage,
        mut enter: impl FnMut(&str) -> bool,
    ) -> Result<Option<Found>, StorageError> {
        loop {
            let Some(level) = self.levels.last_mut() else {
                return Ok(None);
            };
            if level.ahead.is_empty() && !level.exhausted {
                if !self.started {
                    storage.pause(Point::Walk);
                }
                match level.read_ahead(storage) {
                    Ok(()) => {}
                    // A folder gone since its parent was read: nothing in it.
                    Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) if self.started => {
                        level.exhausted = true;
                    }
                    Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => {
                        return Err(StorageError::NotFound);
                    }
                    Err(errno) => return Err(errno.into()),
                }
                self.started = true;
                continue;
            }
            let Some(entry) = level.ahead.pop_front() else {
                self.levels.pop();
                continue;
            };
            let name = match level.path.as_str() {
                "" => entry.leaf,
                dir => format!("{dir}/{}", entry.leaf),
            };
            if entry.kind == FileType::RegularFile {
                if Name::new(name.clone()).is_ok() {
                    return Ok(Some(Found::File {
                        name,
                        info: entry.info,
                    }));
                }
                continue;
            }
            let folder = format!("{name}/");
            // A folder no request could name (a control character, a path
            // too long) is left out with what is in it, as listings leave
            // such names out.
            if Prefix::new(folder.clone()).is_err() || !enter(&folder) {
                continue;
            }
            self.levels.push(Level::new(name));
            return Ok(Some(Found::Folder {
                name: folder,
                mtime: entry.info.mtime,
            }));
        }
    }
}

impl Level {
    fn new(path: String) -> Level {
        Level {
            path,
            cookie: None,
            ahead: VecDeque::new(),
            exhausted: false,
        }
    }

    /// Reads up to [`BATCH`] more folders and regular files from where the
    /// last read stopped, `lstat`ing each; closes the folder again.
    fn read_ahead(&mut self, storage: &Storage) -> Result<(), Errno> {
        let fd = match self.path.as_str() {
            "" => rustix::fs::openat(&*storage.root, ".", DIR, Mode::empty())?,
            path => super::open_dir_at(&storage.root, path)?,
        };
        // Back to where the last read stopped: the folder's offset set
        // before reading (getdents64 goes on from it, as `seekdir` does;
        // rustix's `Dir::seek` is on 64-bit targets only).
        if let Some(cookie) = self.cookie {
            rustix::fs::seek(&fd, rustix::fs::SeekFrom::Start(cookie.cast_unsigned()))?;
        }
        let mut dir = Dir::new(fd)?;
        let mut read = 0;
        while self.ahead.len() < BATCH {
            let Some(entry) = dir.read() else {
                self.exhausted = true;
                break;
            };
            let entry = entry?;
            read += 1;
            self.cookie = Some(entry.offset());
            let Ok(leaf) = entry.file_name().to_str() else {
                continue;
            };
            if leaf == "." || leaf == ".." || leaf.starts_with(RESERVED_PREFIX) {
                continue;
            }
            let stat = match rustix::fs::statat(dir.fd()?, leaf, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => stat,
                Err(Errno::NOENT) => continue, // removed while we looked
                Err(errno) => return Err(errno),
            };
            let kind = FileType::from_raw_mode(stat.st_mode);
            if matches!(kind, FileType::Directory | FileType::RegularFile) {
                self.ahead.push_back(Entry {
                    leaf: leaf.to_owned(),
                    kind,
                    info: FileInfo::of(&stat),
                });
            }
        }
        storage
            .walked
            .fetch_add(read, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry a cursor yields below `prefix`, entering every folder
    /// but those named in `skip`.
    fn walk(storage: &Storage, prefix: &str, skip: &[&str]) -> Vec<Found> {
        let mut cursor = TreeCursor::new(&Prefix::new(prefix.to_owned()).unwrap());
        let mut found = Vec::new();
        while let Some(entry) = cursor
            .next(storage, |folder| !skip.contains(&folder))
            .unwrap()
        {
            found.push(entry);
        }
        found
    }

    fn names(found: &[Found]) -> Vec<&str> {
        found
            .iter()
            .map(|entry| match entry {
                Found::Folder { name, .. } | Found::File { name, .. } => name.as_str(),
            })
            .collect()
    }

    #[test]
    fn yields_every_entry_once_folders_first_across_many_batches() {
        let root = tempfile::tempdir().unwrap();
        for dir in ["a", "a/deep", "b", "hidden"] {
            std::fs::create_dir(root.path().join(dir)).unwrap();
        }
        // Five batches' worth in one folder, a deeper folder in the middle.
        for n in 0..(5 * BATCH) {
            std::fs::write(root.path().join(format!("a/{n:03}")), b"x").unwrap();
        }
        std::fs::write(root.path().join("a/deep/z"), b"zz").unwrap();
        std::fs::write(root.path().join("hidden/h"), b"").unwrap();
        std::fs::write(root.path().join(".ferry-tmp-x"), b"").unwrap();
        std::os::unix::fs::symlink("/etc", root.path().join("b/link")).unwrap();
        let storage = Storage::open(root.path(), "test", false).unwrap();

        let found = walk(&storage, "", &["hidden/"]);
        let mut seen = names(&found);
        let position = |name: &str| seen.iter().position(|n| *n == name).unwrap();
        assert!(position("a/") < position("a/000"));
        assert!(position("a/deep/") < position("a/deep/z"));
        let deep_size = found.iter().find_map(|entry| match entry {
            Found::File { name, info } if name == "a/deep/z" => Some(info.size),
            _ => None,
        });
        assert_eq!(deep_size, Some(2));
        seen.sort_unstable();
        let mut expected = vec!["a/", "a/deep/", "a/deep/z", "b/"];
        let files: Vec<String> = (0..5 * BATCH).map(|n| format!("a/{n:03}")).collect();
        expected.extend(files.iter().map(String::as_str));
        expected.sort_unstable();
        assert_eq!(seen, expected);

        // A second cursor over the same tree: the same entries in the same
        // order, which is what lets an archive be measured, then sent.
        assert_eq!(walk(&storage, "", &["hidden/"]), found);
        // From a folder below the root; a missing start is NotFound.
        assert_eq!(names(&walk(&storage, "a/deep/", &[])), vec!["a/deep/z"]);
        let mut missing = TreeCursor::new(&Prefix::new("none/".into()).unwrap());
        assert!(matches!(
            missing.next(&storage, |_| true),
            Err(StorageError::NotFound)
        ));
    }

    #[test]
    fn a_folder_removed_while_the_cursor_is_inside_ends_quietly() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("d/gone")).unwrap();
        for n in 0..(2 * BATCH) {
            std::fs::write(root.path().join(format!("d/gone/{n:03}")), b"").unwrap();
        }
        let storage = Storage::open(root.path(), "test", false).unwrap();
        let mut cursor = TreeCursor::new(&Prefix::new(String::new()).unwrap());
        let mut seen = 0;
        while cursor.next(&storage, |_| true).unwrap().is_some() {
            seen += 1;
            if seen == 3 {
                std::fs::remove_dir_all(root.path().join("d/gone")).unwrap();
            }
        }
        // d/, d/gone/, one file, then what was read ahead of the removal.
        assert!((3..=2 + BATCH).contains(&seen), "{seen}");
    }
}
