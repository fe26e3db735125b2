//! Walking the tree beneath the root: LIST, and the startup sweep of temp
//! files left by a killed process. Neither follows a symlink.

use std::io;
use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Dir, FileType, Mode};
use rustix::io::Errno;

use super::{DIR, FileInfo, ListEntry, Storage, StorageError};
use crate::name::{Name, Prefix, RESERVED_PREFIX};

impl Storage {
    /// Every regular file whose name starts with `prefix`, sorted by name.
    /// Reserved, symlinked, special and unnameable entries are skipped.
    ///
    /// # Errors
    /// A directory on the way cannot be read (500, 503).
    pub fn list(&self, prefix: &Prefix) -> Result<Vec<ListEntry>, StorageError> {
        let mut base = String::new();
        let mut start: Option<OwnedFd> = None;
        for segment in prefix.dir_segments() {
            let parent = self.fd(&start);
            match rustix::fs::openat(parent, segment, DIR, Mode::empty()) {
                Ok(fd) => start = Some(fd),
                Err(Errno::NOENT | Errno::NOTDIR) => return Ok(Vec::new()),
                Err(errno) => return Err(errno.into()),
            }
            base.push_str(segment);
            base.push('/');
        }
        let mut found = Vec::new();
        let mut pending = vec![(
            rustix::fs::openat(self.fd(&start), ".", DIR, Mode::empty())?,
            base,
        )];
        while let Some((dir, base)) = pending.pop() {
            for entry in Dir::new(dir.try_clone()?)? {
                let entry = entry?;
                let Ok(leaf) = entry.file_name().to_str() else {
                    continue;
                };
                if leaf == "." || leaf == ".." || leaf.starts_with(RESERVED_PREFIX) {
                    continue;
                }
                let full = format!("{base}{leaf}");
                let stat = match rustix::fs::statat(&dir, leaf, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) => stat,
                    Err(Errno::NOENT) => continue, // removed while we looked
                    Err(errno) => return Err(errno.into()),
                };
                match FileType::from_raw_mode(stat.st_mode) {
                    FileType::Directory if could_contain(&full, prefix.as_str()) => {
                        let sub = rustix::fs::openat(&dir, leaf, DIR, Mode::empty())?;
                        pending.push((sub, full + "/"));
                    }
                    FileType::RegularFile
                        if full.starts_with(prefix.as_str()) && Name::new(full.clone()).is_ok() =>
                    {
                        found.push(ListEntry {
                            name: full,
                            info: FileInfo::of(&stat),
                        });
                    }
                    _ => {}
                }
            }
        }
        found.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// Removes every `.ferry-` file beneath the root: temp files of uploads
    /// that a killed process never finished. Returns how many went.
    ///
    /// # Errors
    /// The tree cannot be read.
    pub fn remove_stale_temp_files(&self) -> io::Result<usize> {
        let mut removed = 0;
        let mut pending = vec![rustix::fs::openat(&self.root, ".", DIR, Mode::empty())?];
        while let Some(dir) = pending.pop() {
            for entry in Dir::new(dir.try_clone()?)? {
                let entry = entry?;
                let leaf = entry.file_name();
                if leaf == c"." || leaf == c".." {
                    continue;
                }
                let stat = match rustix::fs::statat(&dir, leaf, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) => stat,
                    Err(_) => continue,
                };
                let is_temp = leaf.to_bytes().starts_with(RESERVED_PREFIX.as_bytes());
                match FileType::from_raw_mode(stat.st_mode) {
                    FileType::Directory => {
                        pending.push(rustix::fs::openat(&dir, leaf, DIR, Mode::empty())?);
                    }
                    FileType::RegularFile if is_temp => {
                        rustix::fs::unlinkat(&dir, leaf, AtFlags::empty())?;
                        removed += 1;
                    }
                    _ => {}
                }
            }
        }
        Ok(removed)
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
