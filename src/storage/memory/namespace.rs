//! The memory store's namespace: files and folders removed, renamed,
//! copied and made, each with the POSIX engine's answers (`posix/`'s
//! `remove.rs`, `rename.rs`, `copy.rs`, `folders.rs`), what a folder's
//! removal or copy leaves told in the same [`Left`].

use rustix::io::Errno;

use super::{Entry, Tree, dir_of, folder_key};
use crate::model::Folders;
use crate::name::{Name, Prefix};
use crate::storage::left::Removal;
use crate::storage::{CopyTree, GoOn, Judge, Parents, Wanted};
use crate::storage::{Left, Member, StorageError};

impl Tree {
    /// As [`crate::storage::Store::remove`].
    pub(super) fn remove(&mut self, name: &Name, folders: Folders) -> Result<(), StorageError> {
        let dir = dir_of(name.as_str());
        self.walk(dir)?;
        let gone = match self.entries.remove(name.as_str()) {
            Some(Entry::File(file)) => file,
            Some(folder) => {
                self.entries.insert(name.as_str().to_owned(), folder);
                return Err(StorageError::IsDirectory);
            }
            None if self.folder(name.as_str()).is_some() => return Err(StorageError::IsDirectory),
            None => return Err(StorageError::NotFound),
        };
        self.props.remove(&gone.inode);
        if let Some(floor) = folders.pruned_below() {
            self.prune(dir, floor);
        }
        Ok(())
    }

    /// As [`crate::storage::Store::remove_tree`]: files first, then the
    /// folders emptied, deepest first.
    pub(super) fn remove_tree(
        &mut self,
        prefix: &Prefix,
        may_remove: Wanted<'_>,
        go_on: GoOn<'_>,
    ) -> Result<Left, StorageError> {
        let start = prefix.as_str().trim_end_matches('/');
        self.walk(start)?;
        let below: Vec<String> = self
            .below(&folder_key(start))
            .map(|(k, _)| k.clone())
            .collect();
        let mut removal = Removal::default();
        let mut dirs = vec![start.to_owned()];
        for key in below {
            if let Some(dir) = key.strip_suffix('/') {
                if !go_on() {
                    return Err(Errno::CANCELED.into());
                }
                dirs.push(dir.to_owned());
            } else if !may_remove(&key) {
                removal.keep(&key);
            } else if let Some(Entry::File(file)) = self.entries.remove(&key) {
                self.props.remove(&file.inode);
            }
        }
        for dir in dirs.iter().rev() {
            let folder = format!("{dir}/");
            if !may_remove(&folder) {
                // Kept by the judge: told unless something in it was.
                if !removal.holding.contains(&folder) {
                    removal.keep(&folder);
                    removal.holding.insert(folder);
                }
                continue;
            }
            if self.holds_anything(dir) {
                if !removal.holding.contains(&folder) {
                    let busy = std::io::Error::other("it holds an upload under way");
                    removal.fail(folder, StorageError::Io(busy));
                }
                continue;
            }
            if let Some(Entry::Folder(gone)) = self.entries.remove(&folder) {
                self.props.remove(&gone.inode);
            }
        }
        Ok(removal.left)
    }

    /// As [`crate::storage::Store::remove_folder`].
    pub(super) fn remove_folder(&mut self, name: &Name) -> Result<(), StorageError> {
        self.walk(dir_of(name.as_str()))?;
        let Some(folder) = self.folder(name.as_str()) else {
            return Err(StorageError::NotFound);
        };
        if self.holds_anything(name.as_str()) {
            return Err(StorageError::NotEmpty);
        }
        self.entries.remove(&folder_key(name.as_str()));
        self.props.remove(&folder.inode);
        Ok(())
    }

    /// As [`crate::storage::Store::rename`].
    pub(super) fn rename(
        &mut self,
        (from, to): (&Name, &Name),
        overwrite: bool,
        folders: Folders,
    ) -> Result<bool, StorageError> {
        self.walk(dir_of(from.as_str()))?;
        if self.file(from.as_str()).is_none() {
            return Err(match self.folder(from.as_str()) {
                Some(_) => StorageError::IsDirectory,
                None => StorageError::NotFound,
            });
        }
        if from == to {
            return Ok(true);
        }
        match folders.made() {
            true => self.make_parents(dir_of(to.as_str()), 0)?,
            false => drop(self.walk(dir_of(to.as_str()))?),
        }
        if self.folder(to.as_str()).is_some() {
            return Err(StorageError::IsDirectory);
        }
        let replaced = self.file(to.as_str()).map(|file| file.bytes.len() as u64);
        if replaced.is_some() && !overwrite {
            return Err(StorageError::Exists);
        }
        let size = self
            .file(from.as_str())
            .map_or(0, |file| file.bytes.len() as u64);
        let moved = || vec![(from.as_str(), to.as_str().to_owned(), size)];
        self.judge_move(moved, replaced)?;
        if let Some(Entry::File(moved)) = self.entries.remove(from.as_str()) {
            let old = self
                .entries
                .insert(to.as_str().to_owned(), Entry::File(moved));
            if let Some(Entry::File(old)) = old {
                self.props.remove(&old.inode);
            }
        }
        if let Some(floor) = folders.pruned_below() {
            self.prune(dir_of(from.as_str()), floor);
        }
        Ok(replaced.is_some())
    }

    /// As [`crate::storage::Store::rename_folder`]: everything in it at once.
    pub(super) fn rename_folder(&mut self, from: &Prefix, to: &Name) -> Result<(), StorageError> {
        let source = from.as_str().trim_end_matches('/');
        if source.is_empty() || self.folder(source).is_none() {
            return Err(StorageError::NotFound);
        }
        self.walk(dir_of(to.as_str()))?;
        let into_itself = to.as_str().strip_prefix(source);
        if into_itself.is_some_and(|rest| rest.is_empty() || rest.starts_with('/')) {
            // What rename(2) says of a folder moved into itself.
            return Err(Errno::INVAL.into());
        }
        if self.file(to.as_str()).is_some() || self.folder(to.as_str()).is_some() {
            return Err(StorageError::Exists);
        }
        let (old, new) = (folder_key(source), folder_key(to.as_str()));
        self.judge_move(|| self.files_moved(&old, &new), None)?;
        let moving: Vec<String> = (self.entries.range(old.clone()..))
            .take_while(|(key, _)| key.starts_with(&old))
            .map(|(key, _)| key.clone())
            .collect();
        for key in moving {
            if let Some(entry) = self.entries.remove(&key) {
                self.entries
                    .insert(format!("{new}{}", &key[old.len()..]), entry);
            }
        }
        Ok(())
    }

    /// As [`crate::storage::Store::judge_folder_move`].
    pub(super) fn judge_folder_move(&self, from: &Prefix, to: &Name) -> Result<(), StorageError> {
        let old = folder_key(from.as_str().trim_end_matches('/'));
        self.judge_move(|| self.files_moved(&old, &folder_key(to.as_str())), None)
    }

    /// Each file below folder key `old` (ending in `/`), its key and the
    /// one it takes below `new`, and its size.
    fn files_moved<'a>(&'a self, old: &str, new: &str) -> Vec<(&'a str, String, u64)> {
        let below = self.entries.range(old.to_owned()..);
        let below = below.take_while(|(key, _)| key.starts_with(old));
        let files = below.filter_map(|(key, entry)| match entry {
            Entry::File(file) => Some((key.as_str(), file.bytes.len() as u64)),
            _ => None,
        });
        let to = |key: &str| format!("{new}{}", &key[old.len()..]);
        files.map(|(key, size)| (key, to(key), size)).collect()
    }

    /// As [`crate::storage::Store::make_folder`].
    pub(super) fn make_folder(
        &mut self,
        name: &Name,
        parents: Parents,
    ) -> Result<(), StorageError> {
        let path = name.as_str();
        match parents {
            Parents::No => drop(self.walk(dir_of(path))?),
            Parents::Made { kept } => self.make_parents(dir_of(path), kept)?,
        }
        match (self.folder(path), self.file(path)) {
            (Some(_), _) if parents != Parents::No => Ok(()),
            (Some(_), _) | (_, Some(_)) => Err(StorageError::Exists),
            (None, None) => {
                self.add_folder(path);
                Ok(())
            }
        }
    }

    /// As [`crate::storage::Store::copy_tree`].
    pub(super) fn copy_tree(
        &mut self,
        (from, to): (&Prefix, &Name),
        how: CopyTree<'_>,
        judge: Judge<'_>,
        go_on: GoOn<'_>,
    ) -> Result<Left, StorageError> {
        let start = from.as_str().trim_end_matches('/');
        let source = self.walk(start)?;
        self.make_folder(to, Parents::No)?;
        self.add_props_of(source.inode, to.as_str());
        let mut left = Left::default();
        if !how.deep {
            return Ok(left);
        }
        let below: Vec<String> = self
            .below(&folder_key(start))
            .map(|(k, _)| k.clone())
            .collect();
        let mut skipped: Option<String> = None;
        for key in below {
            if skipped
                .as_ref()
                .is_some_and(|folder| key.starts_with(folder.as_str()))
            {
                continue;
            }
            let copy = format!("{}{}", to.as_str(), &key[start.len()..]);
            let folder = key.ends_with('/');
            if folder && !go_on() {
                return Err(Errno::CANCELED.into());
            }
            match judge(&key, &copy) {
                Member::Copy => {
                    if let Err(err) = self.copy_member(&key, &copy, how) {
                        left.fail(key.clone(), err);
                        skipped = folder.then_some(key);
                    }
                }
                Member::Tell => {
                    left.keep(&key);
                    skipped = folder.then_some(key);
                }
                Member::Pass => skipped = folder.then_some(key),
            }
        }
        Ok(left)
    }

    /// Copies one member of a folder's copy: a folder made, a file's
    /// bytes and records under a new inode, `how.owner`'s, judged against
    /// the quotas as the POSIX engine's commit of it is.
    fn copy_member(
        &mut self,
        key: &str,
        copy: &str,
        how: CopyTree<'_>,
    ) -> Result<(), StorageError> {
        let path = copy.trim_end_matches('/');
        let name = Name::new(path.to_owned()).map_err(|_| StorageError::NotRegular)?;
        match self.entries.get(key).cloned() {
            Some(Entry::Folder(folder)) => {
                self.make_folder(&name, Parents::No)?;
                self.add_props_of(folder.inode, path);
            }
            Some(Entry::File(mut file)) => {
                self.admits((how.owner, how.quota), path, file.bytes.len() as u64)?;
                let inode = self.inode();
                let props = self.props.get(&file.inode).cloned();
                file.inode = inode;
                file.owner = how.owner.map(str::to_owned);
                if let Some(props) = props {
                    self.props.insert(inode, props);
                }
                self.entries.insert(path.to_owned(), Entry::File(file));
            }
            None => return Err(StorageError::NotFound),
        }
        Ok(())
    }

    /// Gives folder `path` a copy of the dead properties of `inode`.
    fn add_props_of(&mut self, inode: u64, path: &str) {
        let props = self.props.get(&inode).cloned();
        if let (Some(folder), Some(props)) = (self.folder(path), props) {
            self.props.insert(folder.inode, props);
        }
    }
}
