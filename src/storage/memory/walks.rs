//! The memory store's listings and walks: a sorted walk with the POSIX
//! engine's pruning (`posix/tree.rs`), one folder's level, and a cursor that
//! stops between any two steps, each over the tree's one ordered map.

use std::ops::Bound;

use super::{Entry, Tree, folder_key};
use crate::model::{DirectoryListing, FileInfo, Found, ListEntry};
use crate::name::Prefix;
use crate::storage::StorageError;
use crate::storage::store::could_contain;
use crate::storage::store::{Enter, Take, Wanted};

/// Where a memory store's cursor stands (inside a [`crate::storage::Cursor`]).
#[derive(Debug)]
pub(super) struct Walk {
    /// The folder walked (without its `/`).
    start: String,
    /// Where the next step looks from; `None` before the first.
    from: Option<Bound<String>>,
}

impl Walk {
    pub(super) fn new(prefix: &Prefix) -> Walk {
        Walk {
            start: prefix.as_str().trim_end_matches('/').to_owned(),
            from: None,
        }
    }
}

impl Tree {
    /// The sorted walk of [`crate::storage::Store::list`].
    pub(super) fn list(
        &self,
        prefix: &Prefix,
        wanted: Wanted<'_>,
        enter: Enter<'_>,
        take: Take<'_>,
    ) -> Result<(), StorageError> {
        let start = prefix.dir_segments().collect::<Vec<_>>().join("/");
        if self.folder(&start).is_none() {
            return Ok(()); // nothing in what is not there
        }
        let dir = folder_key(&start);
        // The folder refused last: what is in it is skipped.
        let mut skipped: Option<&str> = None;
        for (key, entry) in self.below(&dir) {
            if skipped.is_some_and(|folder| key.starts_with(folder)) {
                continue;
            }
            match entry {
                Entry::Folder(folder) => {
                    let path = &key[..key.len() - 1];
                    let info = FileInfo {
                        size: 0,
                        mtime: folder.mtime,
                    };
                    let shown = could_contain(path, prefix.as_str()) && wanted(key);
                    if !shown || !enter(key, &info).map_err(StorageError::from)? {
                        skipped = Some(key);
                    }
                }
                Entry::File(file) if key.starts_with(prefix.as_str()) && wanted(key) => {
                    let entry = ListEntry {
                        name: key.clone(),
                        info: file.info(),
                        stamp: file.stamp(),
                    };
                    take(&entry).map_err(StorageError::from)?;
                }
                Entry::File(_) => {}
            }
        }
        Ok(())
    }

    /// One level of folder `prefix`, as [`crate::storage::Store::list_directory`].
    pub(super) fn list_directory(
        &self,
        prefix: &Prefix,
        files: bool,
    ) -> Result<DirectoryListing, StorageError> {
        let start = prefix.dir_segments().collect::<Vec<_>>().join("/");
        self.walk(&start)?;
        let dir = folder_key(&start);
        let mut listing = DirectoryListing::default();
        for (key, entry) in self.below(&dir) {
            let rest = &key[dir.len()..];
            match entry {
                Entry::Folder(folder) if rest.find('/') == Some(rest.len() - 1) => {
                    listing.dirs.push((key.clone(), folder.mtime, folder.inode));
                }
                Entry::File(file) if files && !rest.contains('/') => {
                    listing.files.push(ListEntry {
                        name: key.clone(),
                        info: file.info(),
                        stamp: file.stamp(),
                    });
                }
                _ => {}
            }
        }
        Ok(listing)
    }

    /// The next step of `walk`, as [`crate::storage::Store::walk_on`].
    pub(super) fn walk_on(
        &self,
        walk: &mut Walk,
        enter: Wanted<'_>,
    ) -> Result<Option<Found>, StorageError> {
        let dir = folder_key(&walk.start);
        let mut from = match walk.from.take() {
            Some(from) => from,
            None => {
                self.walk(&walk.start)?;
                Bound::Excluded(dir.clone())
            }
        };
        loop {
            let next = self
                .entries
                .range::<String, _>((from.clone(), Bound::Unbounded))
                .next()
                .filter(|(key, _)| key.starts_with(&dir));
            let Some((key, entry)) = next else {
                walk.from = Some(from);
                return Ok(None);
            };
            match entry {
                Entry::Folder(_) if !enter(key) => {
                    // Past everything in it: `a/` + anything < `a0`.
                    from = Bound::Included(format!("{}0", &key[..key.len() - 1]));
                }
                Entry::Folder(folder) => {
                    walk.from = Some(Bound::Excluded(key.clone()));
                    let (name, mtime) = (key.clone(), folder.mtime);
                    return Ok(Some(Found::Folder { name, mtime }));
                }
                Entry::File(file) => {
                    walk.from = Some(Bound::Excluded(key.clone()));
                    let (name, info) = (key.clone(), file.info());
                    return Ok(Some(Found::File { name, info }));
                }
            }
        }
    }
}
