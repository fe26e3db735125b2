//! Walking the tree beneath the root: LIST, and the startup sweep of temp
//! files left by a killed process. Neither follows a symlink.

use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Dir, FileType, Mode, Stat};
use rustix::io::Errno;

use super::gate::Point;
use super::{DIR, FileInfo, ListEntry, Storage, StorageError};
use crate::name::{Name, Prefix, RESERVED_PREFIX};

impl Storage {
    /// Every regular file whose name starts with `prefix`, sorted by name.
    /// Reserved, symlinked, special and unnameable entries are skipped.
    ///
    /// # Errors
    /// A directory on the way cannot be read (500, 503).
    pub fn list(&self, prefix: &Prefix) -> Result<Vec<ListEntry>, StorageError> {
        self.pause(Point::Walk);
        let start = prefix.dir_segments().collect::<Vec<_>>().join("/");
        let mut found = Vec::new();
        let walked = self.walk_tree(
            start.clone(),
            |_, path, stat| {
                let leaf = path.rsplit('/').next().unwrap_or(path);
                if leaf.starts_with(RESERVED_PREFIX) {
                    return Ok(false);
                }
                match FileType::from_raw_mode(stat.st_mode) {
                    FileType::Directory => return Ok(could_contain(path, prefix.as_str())),
                    FileType::RegularFile
                        if path.starts_with(prefix.as_str())
                            && Name::new(path.to_owned()).is_ok() =>
                    {
                        found.push(ListEntry {
                            name: path.to_owned(),
                            info: FileInfo::of(stat),
                        });
                    }
                    _ => {}
                }
                Ok(false)
            },
            |dir, errno| match errno {
                // Gone, or made a symlink, since it was seen: as if never there.
                Errno::NOENT | Errno::NOTDIR | Errno::LOOP if dir != start => Ok(()),
                errno => Err(errno),
            },
        );
        match walked {
            Ok(()) => {}
            // The prefix names a directory that is not there.
            Err(Errno::NOENT | Errno::NOTDIR) => return Ok(Vec::new()),
            Err(errno) => return Err(errno.into()),
        }
        found.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// Removes every `.ferry-` file beneath the root but this run's own
    /// temp files: temp files of uploads that a killed process never
    /// finished. Returns how many went. A directory or file that cannot be
    /// read or removed is logged and passed over: the rest of the tree is
    /// still swept. Safe while uploads are under way.
    pub fn remove_stale_temp_files(&self) -> usize {
        self.pause(Point::Sweep);
        let ours = self.temp_prefix();
        let mut removed = 0;
        let walked = self.walk_tree(
            String::new(),
            |dir, path, stat| {
                let leaf = path.rsplit('/').next().unwrap_or(path);
                match FileType::from_raw_mode(stat.st_mode) {
                    FileType::Directory => return Ok(true),
                    FileType::RegularFile
                        if leaf.starts_with(RESERVED_PREFIX) && !leaf.starts_with(&ours) =>
                    {
                        match rustix::fs::unlinkat(dir, leaf, AtFlags::empty()) {
                            Ok(()) => removed += 1,
                            Err(errno) => log::warn!("could not remove stale {path}: {errno}"),
                        }
                    }
                    _ => {}
                }
                Ok(false)
            },
            |dir, errno| {
                log::warn!("could not sweep {}/: {errno}", display(dir));
                Ok(())
            },
        );
        if let Err(errno) = walked {
            log::warn!("could not sweep stale temp files: {errno}");
        }
        removed
    }

    /// Walks the tree below directory `start` ("" for the root), depth
    /// first, holding one directory open at a time however wide the tree:
    /// the directories still to visit are kept as names, not descriptors.
    /// `visit` gets each entry's directory (open), its path from the root
    /// and its `lstat`, and says whether to descend into it; `unreadable`
    /// decides whether a directory that cannot be opened, read or looked
    /// into ends the walk. Symlinks are never followed, names that are not
    /// UTF-8 are passed over.
    fn walk_tree(
        &self,
        start: String,
        mut visit: impl FnMut(&OwnedFd, &str, &Stat) -> Result<bool, Errno>,
        mut unreadable: impl FnMut(&str, Errno) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        let mut pending = vec![start];
        while let Some(dir_path) = pending.pop() {
            let entries = match self.read_dir(&dir_path) {
                Ok(entries) => entries,
                Err(errno) => {
                    unreadable(&dir_path, errno)?;
                    continue;
                }
            };
            let (dir, names) = entries;
            for leaf in names {
                let stat = match rustix::fs::statat(&dir, leaf.as_str(), AtFlags::SYMLINK_NOFOLLOW)
                {
                    Ok(stat) => stat,
                    Err(Errno::NOENT) => continue, // removed while we looked
                    Err(errno) => {
                        unreadable(&dir_path, errno)?;
                        continue;
                    }
                };
                let path = if dir_path.is_empty() {
                    leaf
                } else {
                    format!("{dir_path}/{leaf}")
                };
                if visit(&dir, &path, &stat)?
                    && FileType::from_raw_mode(stat.st_mode) == FileType::Directory
                {
                    pending.push(path);
                }
            }
        }
        Ok(())
    }

    /// Opens directory `path` beneath the root ("" for the root) and reads
    /// the names in it (UTF-8 ones, without `.` and `..`).
    fn read_dir(&self, path: &str) -> Result<(OwnedFd, Vec<String>), Errno> {
        let dir = if path.is_empty() {
            rustix::fs::openat(&*self.root, ".", DIR, Mode::empty())?
        } else {
            super::open_dir_at(&self.root, path)?
        };
        let mut names = Vec::new();
        for entry in Dir::read_from(&dir)? {
            let entry = entry?;
            if let Ok(leaf) = entry.file_name().to_str()
                && leaf != "."
                && leaf != ".."
            {
                names.push(leaf.to_owned());
            }
        }
        Ok((dir, names))
    }
}

/// A directory path for messages: "." for the root.
fn display(dir: &str) -> &str {
    if dir.is_empty() { "." } else { dir }
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
