//! Removing: a file ([`Storage::delete`], with the folders it leaves
//! empty where its protocol prunes them), and a folder with everything in
//! it (WebDAV's `DELETE` of a collection, the web page's folder delete): a walk of the tree below it
//! (`tree.rs`, one directory's names held per level), each file unlinked
//! as it is found if the caller's judge allows it, then the emptied
//! folders removed deepest first. What could not go stays, and is told,
//! so nothing is left half-done beyond what was removed. Blocks on the
//! disk: for the I/O pool.

use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, FileType};
use rustix::io::Errno;

use super::gate::Point;
use super::{Removal, Storage, StorageError, check_regular, dir_of, prune_empty_dirs};
use crate::model::{Folders, Holder};
use crate::name::{Name, Prefix};

impl Storage {
    /// Removes `name`, then, if `folders` are pruned, any parent
    /// directories this left empty.
    ///
    /// # Errors
    /// 404 if absent, 409 for a directory, 403 for a symlink: only regular
    /// files are removed.
    pub(super) fn delete(&self, name: &Name, folders: Folders) -> Result<(), StorageError> {
        self.pause(Point::Delete);
        let (dirs, leaf) = name.split_parent();
        let dir = self.walk(dirs)?;
        let parent = self.fd(&dir);
        // Counted: what it takes off is what it removes, no commit over
        // the name between the look and the count (`name_locks.rs`).
        let name_held = match &self.usage {
            Some(ledger) => Some(ledger.names.hold((dir_of(name), leaf))?),
            None => None,
        };
        let stat = rustix::fs::statat(parent, leaf, AtFlags::SYMLINK_NOFOLLOW)?;
        check_regular(&stat)?;
        // Its dead properties first: a crash between the two leaves a
        // file without them, never a record without its file.
        let records = self.remove_records(Holder::File(name.as_str()));
        let going = self
            .usage
            .as_ref()
            .map(|ledger| ledger.going(parent, leaf, &stat));
        rustix::fs::unlinkat(parent, leaf, AtFlags::empty())?;
        if let Some(going) = going {
            self.count_gone(name.as_str(), going);
        }
        // Counted: the flushes below need no other delete or commit of
        // the name kept waiting.
        drop(name_held);
        self.checksums.forget(&stat);
        let pruned = folders
            .pruned_below()
            .and_then(|floor| prune_empty_dirs(&self.root, dir_of(name), floor));
        if self.durable {
            // `--fsync`: gone for good before the answer, and so are the
            // folders it emptied (else they come back, empty, after a
            // power cut): where its folder went, the one that held the
            // topmost folder pruned is the one flush needed, in a batch
            // with its record's removal.
            let dir = match pruned {
                Some(above) => above,
                None => rustix::io::fcntl_dupfd_cloexec(parent, 0)?,
            };
            self.flusher
                .flush(records.into_iter().chain([dir]).collect())?;
        }
        Ok(())
    }

    /// Removes folder `prefix` (not the root) and what it holds: each
    /// file for which `may_delete` says yes, then every folder left
    /// empty that `may_delete` allows by its name (ending in `/`), the
    /// folder itself last; a folder it keeps is told. Symlinks and special files are
    /// never removed (they are told as failures). `go_on` is asked before
    /// each directory is read: a `false` stops the walk (its client has
    /// gone), leaving what was not reached yet. With `--fsync`, what went
    /// is gone from stable storage before it returns.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if `prefix` names no folder; the walk
    /// stopped by `go_on`; a flush failed. Failures of members are in the [`Removal`].
    pub(super) fn delete_folder(
        &self,
        prefix: &Prefix,
        mut may_delete: impl FnMut(&str) -> bool,
        mut go_on: impl FnMut() -> bool,
    ) -> Result<Removal, StorageError> {
        self.pause(super::gate::Point::Delete);
        let start = prefix.as_str().trim_end_matches('/');
        debug_assert!(!start.is_empty(), "the root is never removed");
        drop(super::open_dir_beneath(&self.root, start)?);
        let mut removal = Removal::default();
        // Visited in name order, parents first: removed in reverse.
        let mut dirs = vec![start.to_owned()];
        let mut unreadable = Vec::new();
        let walked = self.walk_tree(
            start,
            |_, _| true,
            |visit| {
                let (path, kind) = (visit.path.as_str(), visit.kind);
                match kind {
                    // Ferry's own (temp files, records): never the
                    // client's to remove; their folder stays.
                    _ if super::tree::is_reserved(path) => {}
                    FileType::Directory => {
                        if !go_on() {
                            return Err(Errno::CANCELED);
                        }
                        dirs.push(path.to_owned());
                        return Ok(true);
                    }
                    FileType::RegularFile if !may_delete(path) => removal.keep(path),
                    FileType::RegularFile => {
                        let (dir, leaf) = path.rsplit_once('/').unwrap_or(("", path));
                        match self.unlink_counted(dir, leaf, path) {
                            Ok(()) | Err(Errno::NOENT) => {}
                            Err(errno) => removal.fail(path.to_owned(), errno.into()),
                        }
                    }
                    FileType::Symlink => removal.fail(path.to_owned(), StorageError::Symlink),
                    _ => removal.fail(path.to_owned(), StorageError::NotRegular),
                }
                Ok(false)
            },
            |dir, errno| {
                if errno != Errno::NOENT {
                    unreadable.push((format!("{dir}/"), errno.into()));
                }
                Ok(())
            },
        );
        walked?;
        for (dir, err) in unreadable {
            removal.fail(dir, err);
        }
        // `--fsync`: the folder's parent, and the folders that stay (what
        // went from them), flushed before the answer.
        let mut stayed = self.remove_folders(&dirs, &mut may_delete, &mut removal)?;
        // What went took its records with it; what stayed keeps them
        // (a removed member's record is stale by its inode: harmless).
        // Their removal is flushed in the batch below.
        if removal.left.is_complete() {
            stayed.extend(self.remove_records(Holder::Folder(start)));
        }
        if self.durable {
            let parent = start.rsplit_once('/').map_or("", |(parent, _)| parent);
            stayed.push(super::dir_at(&self.root, parent)?);
            self.flusher.flush(stayed)?;
        }
        Ok(removal)
    }
    /// Removes the folders `dirs` of a folder's removal, deepest first,
    /// those the judge lets go and that are empty by now; says in
    /// `removal` which stay and why. The folders that stay, open, where
    /// uploads are durable (what went from them is flushed with them).
    fn remove_folders(
        &self,
        dirs: &[String],
        may_delete: &mut impl FnMut(&str) -> bool,
        removal: &mut Removal,
    ) -> Result<Vec<OwnedFd>, StorageError> {
        let mut stayed = Vec::new();
        for dir in dirs.iter().rev() {
            let folder = format!("{dir}/");
            if !may_delete(&folder) {
                // Kept by the judge, as its files would be: told unless
                // something in it was told already.
                if !removal.holding.contains(&folder) {
                    removal.keep(&folder);
                    removal.holding.insert(folder);
                }
                continue;
            }
            let (parent, leaf) = dir.rsplit_once('/').unwrap_or(("", dir));
            let removed = match parent {
                "" => rustix::fs::unlinkat(&*self.root, leaf, AtFlags::REMOVEDIR),
                parent => super::open_dir_at(&self.root, parent)
                    .and_then(|fd| rustix::fs::unlinkat(&fd, leaf, AtFlags::REMOVEDIR)),
            };
            if self.durable && removed.is_err() {
                stayed.extend(super::open_dir_at(&self.root, dir).ok());
                // A few descriptors at a time, however many folders stay.
                if stayed.len() >= 64 {
                    self.flusher.flush(std::mem::take(&mut stayed))?;
                }
            }
            match removed {
                Ok(()) | Err(Errno::NOENT) => {}
                // What is left in it was told of; or it holds what no walk
                // shows (a reserved name: an upload under way).
                Err(_) if removal.holding.contains(&folder) => {}
                Err(Errno::NOTEMPTY | Errno::EXIST) => {
                    let busy = std::io::Error::other("it holds an upload under way");
                    removal.fail(folder, StorageError::Io(busy));
                }
                Err(errno) => removal.fail(folder, errno.into()),
            }
        }
        Ok(stayed)
    }
}
