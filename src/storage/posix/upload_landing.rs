//! An upload's landing: the one rename that puts it in place, checked
//! (its folder still at its name, what it replaces still replaceable)
//! and counted in the usage ledger around it where usage is counted
//! (`usage_commit.rs`). What comes before (its time, records, flush) is
//! `upload.rs`'s; the flushes after, `durable_commit.rs`'s.

use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Mode};
use rustix::io::Errno;

use super::StorageError;
use super::gate::Point;
use super::upload::{FileUpload, Staged};
use crate::model::Holder;

impl FileUpload {
    /// The one step that commits, counted in the usage ledger around it
    /// where usage is counted (`usage_commit.rs`): refused there where it
    /// would pass a quota. `durable`: a record it removes is flushed, and
    /// a folder walked to again made durable. A flush that fails after
    /// the rename fails the commit's answer, never its count: the file is
    /// in place (`committed`), counted as it is. So does a rename that
    /// fails with its bytes no longer where they were staged: it may have
    /// happened.
    pub(super) fn rename_into_place(&mut self, durable: bool) -> Result<(), StorageError> {
        let mut kept_counted = false;
        let renamed = match &self.counted {
            None => self.still_here().and_then(|walked| {
                let made_anew = walked.is_some();
                if let Some(walked) = walked {
                    self.dir = walked;
                }
                Ok((self.rename_staged(durable)?, made_anew))
            }),
            Some(counted) => {
                let at = (self.dir_path.as_str(), self.leaf.as_str());
                // What it replaces is what the rename replaces: no other
                // commit or delete of the name between the look and the
                // count (`name_locks.rs`); nor a folder's move, which
                // holds every name's lock.
                let _name = counted.ledger.names.hold(at)?;
                let walked = self.still_here()?;
                let made_anew = walked.is_some();
                if let Some(walked) = walked {
                    self.dir = walked;
                }
                let replaced = counted.ledger.replacing(&self.dir, &self.leaf);
                counted
                    .admit(at, &replaced, self.ahead)
                    .and_then(|changes| {
                        self.pause(Point::Rename);
                        let renamed = self.rename_staged(durable).and_then(|renamed| {
                            self.injected_fault(Point::Renamed).map(|()| renamed)
                        });
                        match &renamed {
                            Ok(_) => counted.settle(at, &changes),
                            // Surely not renamed: its bytes are where they were staged.
                            Err(_) if self.still_staged() => counted.undo(at, &changes),
                            // Perhaps renamed: counted as landed, what it
                            // replaced too (`rename::still_at`).
                            Err(_) => kept_counted = true,
                        }
                        renamed
                    })
                    .map(|renamed| (renamed, made_anew))
            }
        };
        if kept_counted {
            // Netted by the commit's count, which stays.
            self.ahead = 0;
        }
        let (renamed, made_anew) = renamed?;
        // Netted by the commit's count.
        self.ahead = 0;
        self.committed = true;
        self.replaces = Some(renamed);
        self.flush_walked(made_anew && durable)
    }

    /// [`FileUpload::still_named`], for an upload whose bytes wait in its
    /// folder. A session's wait in its staging instead, so a folder
    /// pruned or moved between the commit's walk and its rename took
    /// nothing along: the folder is walked to (made) again at its name,
    /// where the file was asked to land, and returned to land in. Before,
    /// a DEL that emptied the folder a COMMIT had just made failed the
    /// COMMIT (`409`).
    fn still_here(&self) -> Result<Option<OwnedFd>, StorageError> {
        /// Walks before giving up: each is undone only by another
        /// prune in the microseconds before its rename.
        const WALKS: usize = 3;
        let (mut walked, mut walks) = (None, 0);
        loop {
            let dir = walked.as_ref().unwrap_or(&self.dir);
            match self.still_named(dir) {
                Err(StorageError::FolderMoved)
                    if matches!(self.staged, Staged::Session(_)) && walks < WALKS =>
                {
                    walks += 1;
                    walked = Some(self.walk_again()?);
                }
                named => return named.map(|()| walked),
            }
        }
    }

    /// Walks from the root to the upload's folder again, making what is
    /// missing but the first `floor` segments: a session's commit walks
    /// with folders implicit (none kept) or as S3's keys (the bucket
    /// kept), where `floor` is what the walk keeps (for other uploads it
    /// counts the folders found, and none is walked again).
    fn walk_again(&self) -> Result<OwnedFd, StorageError> {
        debug_assert!(
            matches!(self.staged, Staged::Session(_)) && self.floor <= 1,
            "only a session's commit, whose folders are implicit or keys, walks again"
        );
        let dirs = self.dir_path.split('/').filter(|dir| !dir.is_empty());
        match super::jail::walk_creating(&self.root, dirs, self.floor)? {
            (Some(dir), _) => Ok(dir),
            (None, _) => Ok(rustix::io::fcntl_dupfd_cloexec(&*self.root, 0)?),
        }
    }

    /// A session's folder walked to again and made anew (`made_anew`,
    /// with `--fsync`): its entries, the file's among them, and those of
    /// the folders above it, flushed here before the commit is answered.
    /// Rare (a race with a prune), and the durable commit's own steps
    /// name the folder found at its begin, not this one.
    fn flush_walked(&self, made_anew: bool) -> Result<(), StorageError> {
        if !made_anew || self.memory_dev.is_some() {
            return Ok(());
        }
        if let Some(errno) = self.gate.as_ref().and_then(|g| g.fault(Point::FlushWalked)) {
            return Err(errno.into());
        }
        rustix::fs::fsync(&self.dir)?;
        let mut path = self.dir_path.as_str();
        while let Some((above, _)) = path.rsplit_once('/') {
            let dir = rustix::fs::openat(&*self.root, above, super::DIR, Mode::empty())?;
            rustix::fs::fsync(&dir)?;
            path = above;
        }
        rustix::fs::fsync(&*self.root)?;
        Ok(())
    }

    /// Whether the upload's folder (`dir`) is still at its name: one moved
    /// or removed while the upload arrived took the open folder along, and
    /// the rename would land the file under another name than the one
    /// asked and acknowledged ([`StorageError::FolderMoved`]; a session's
    /// commit walks to its folder again instead: [`FileUpload::still_here`]). Where usage
    /// is counted it is asked under the name's lock, which a folder's move
    /// holds too (`copy.rs`), so no move comes between it and the rename;
    /// elsewhere a move in the microseconds between is not excluded.
    fn still_named(&self, dir: &OwnedFd) -> Result<(), StorageError> {
        let here = rustix::fs::fstat(dir)?;
        let named = match self.dir_path.as_str() {
            "" => rustix::fs::fstat(&*self.root),
            path => rustix::fs::statat(&*self.root, path, AtFlags::SYMLINK_NOFOLLOW),
        };
        match named {
            Ok(named) if (named.st_dev, named.st_ino) == (here.st_dev, here.st_ino) => Ok(()),
            Ok(_) | Err(Errno::NOENT | Errno::NOTDIR) => Err(StorageError::FolderMoved),
            Err(errno) => Err(errno.into()),
        }
    }

    /// The rename itself. Returns whether it replaced a file: as looked at
    /// the begin, or for an upload that has not looked, as the rename
    /// finds (`RENAME_NOREPLACE` first: a new file, the most of them,
    /// takes no look at all).
    fn rename_staged(&self, durable: bool) -> Result<bool, StorageError> {
        let to = self.leaf.as_str();
        match &self.staged {
            Staged::Temp(temp) if self.create_only || self.replaces.is_none() => {
                match super::rename::rename_no_replace((&self.dir, temp.as_str()), (&self.dir, to))
                {
                    Ok(()) => Ok(false),
                    Err(StorageError::Exists) if !self.create_only => {
                        self.replace_found(temp, durable)
                    }
                    Err(err) => Err(self.vanished_or(err)),
                }
            }
            Staged::Temp(temp) => {
                rustix::fs::renameat(&self.dir, temp.as_str(), &self.dir, to)
                    .map_err(|errno| self.vanished_or(errno.into()))?;
                Ok(self.replaces_existing())
            }
            Staged::Session(staging) if self.create_only => {
                let from = (&staging.dir, staging.data_name());
                super::rename::rename_no_replace((from.0, from.1.as_str()), (&self.dir, to))?;
                Ok(false)
            }
            Staged::Session(staging) => {
                rustix::fs::renameat(&staging.dir, staging.data_name(), &self.dir, to)?;
                Ok(self.replaces_existing())
            }
        }
    }

    /// Whether the staged bytes are still at their name, after a rename
    /// that failed ([`super::rename::still_at`]).
    fn still_staged(&self) -> bool {
        match &self.staged {
            Staged::Temp(temp) => super::rename::still_at(&self.dir, temp),
            Staged::Session(staging) => super::rename::still_at(&staging.dir, &staging.data_name()),
        }
    }

    /// The rename of an upload that had not looked, its name found taken:
    /// what has it is judged as a begin's look judges it (a folder, symlink
    /// or special file refused), a file's dead-property record goes as
    /// [`Storage::record_props`](super::Storage::record_props) removes it
    /// for an upload that looked, then the rename replaces it.
    fn replace_found(&self, temp: &str, durable: bool) -> Result<bool, StorageError> {
        let replaces = super::looks_replaceable(&self.dir, &self.leaf)?;
        if replaces {
            self.forget_replaced_record(durable)?;
        }
        rustix::fs::renameat(&self.dir, temp, &self.dir, self.leaf.as_str())
            .map_err(|errno| self.vanished_or(errno.into()))?;
        Ok(replaces)
    }

    /// Removes the record of the file the commit replaces, before the
    /// rename, and where the commit is `durable` flushes its folder then
    /// (here, on this I/O thread: a record to remove is rare, and its
    /// removal must be on the disk before the inode it names is freed).
    fn forget_replaced_record(&self, durable: bool) -> Result<(), StorageError> {
        let name = self.name();
        let (dir, _, leaf) = Holder::File(&name).record();
        match super::dead_props::unlink_record_at(&self.root, &dir, &leaf) {
            Ok(mirror) if durable && self.memory_dev.is_none() => rustix::fs::fsync(&mirror)?,
            Ok(_) | Err(Errno::NOENT | Errno::NOTDIR) => {}
            Err(errno) => log::warn!("the dead properties of {name} stay: {errno}"),
        }
        Ok(())
    }
}
