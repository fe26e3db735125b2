//! Copying and moving within the root (WebDAV's `COPY` and `MOVE`): a
//! file's bytes staged as an upload of the copy and committed with their
//! CRC-32C like any upload; a folder's tree walked (`tree.rs`, one
//! directory's names held per level), each folder made and each file the
//! caller's judge allows copied as it is found; a folder moved in one
//! rename. What could not be copied is told, never hidden. Blocks on the
//! disk: for the I/O pool.

use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, FileType};
use rustix::io::Errno;

use super::unflushed::with_ancestors;
use super::{CopyTree, Left};
use super::{FileUpload, Look, Opened, Storage, StorageError, check_regular};
use crate::model::Holder;
use crate::model::{Folders, Occupant};
use crate::name::{Name, Prefix};

/// The folders a durable copy made (`--fsync`): each with the folder
/// that holds its name, flushed together in batches of [`Made::BATCH`]
/// (group commit's, `flush.rs`) and at the end, so a copy costs a few
/// flushes rather than one per file, and holds few descriptors however
/// many folders it makes. The copied dead-property records' folders join
/// the same batches (one batch per record before). The files' bytes are
/// flushed one by one, as they are committed.
struct Made<'a> {
    storage: &'a Storage,
    durable: bool,
    dirs: Vec<OwnedFd>,
}

impl<'a> Made<'a> {
    const BATCH: usize = 64;

    fn new(storage: &'a Storage, durable: bool) -> Made<'a> {
        Made {
            storage,
            durable,
            dirs: Vec::new(),
        }
    }

    /// Folder `path`, just made in `parent`.
    fn add(&mut self, parent: OwnedFd, path: &str) -> Result<(), Errno> {
        if !self.durable {
            return Ok(());
        }
        let made = super::open_dir_at(&self.storage.root, path)?;
        self.owe([parent, made])
    }

    /// Folders a copied record changed (see `Storage::copy_record`), for
    /// the same batches.
    fn owe(&mut self, dirs: impl IntoIterator<Item = OwnedFd>) -> Result<(), Errno> {
        self.dirs.extend(dirs);
        if self.dirs.len() >= Self::BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Flushes the folders not flushed yet.
    fn flush(&mut self) -> Result<(), Errno> {
        match self.dirs.is_empty() {
            true => Ok(()),
            false => self.storage.flusher.flush(std::mem::take(&mut self.dirs)),
        }
    }
}

/// What a folder's copy does with one of its members, as the caller's
/// judge says from the member's name and its copy's (a folder's both
/// ending in `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// Copied (a folder: made, and walked into).
    Copy,
    /// Left out, and told in what the copy left.
    Tell,
    /// Left out without a word: the caller may not know it is there.
    Pass,
}

/// What a folder's copy left out (nothing, when all of it was copied):
/// the members the judge kept and those that failed, by source name.
pub type Copied = Left;

impl Storage {
    /// What has `name`, whose parent folder must exist (a copy or move
    /// makes none).
    ///
    /// # Errors
    /// [`StorageError::NotFound`] without the parent folder (or with a
    /// file in its place); [`StorageError::Symlink`] or
    /// [`StorageError::NotRegular`] for what ferry never touches.
    pub(super) fn occupant(&self, name: &Name) -> Result<Occupant, StorageError> {
        let (dirs, leaf) = name.split_parent();
        let dir = self.walk(dirs).map_err(|err| match err {
            StorageError::ParentNotDirectory => StorageError::NotFound,
            err => err,
        })?;
        match rustix::fs::statat(self.fd(&dir), leaf, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => Ok(Occupant::Nothing),
            Err(errno) => Err(errno.into()),
            Ok(stat) => match check_regular(&stat) {
                Ok(()) => Ok(Occupant::File),
                Err(StorageError::IsDirectory) => Ok(Occupant::Folder),
                Err(StorageError::NotFound) => Err(StorageError::NotRegular),
                Err(err) => Err(err),
            },
        }
    }

    /// Stages the bytes of file `from`, opened as `source` (to be read:
    /// [`Open::Read`](super::Open::Read)), as an upload to `to`, whose
    /// parent folder exists where `folders` is [`Folders::Explicit`]
    /// (WebDAV's; S3's keys make theirs): the upload, uncommitted, with its
    /// size and CRC-32C, computed as the bytes go and checked against the
    /// one recorded for `from`, if any, and `from`'s recorded MD5 tag and
    /// dead properties, to be recorded with the copy. Dropped, it leaves
    /// nothing. The caller judged `source`'s version before (a dialect's
    /// conditions on it: S3's `x-amz-copy-source-if-*`): the bytes copied
    /// are that version's.
    ///
    /// # Errors
    /// As [`Storage::begin_upload`] for `to`; [`StorageError::Io`] if
    /// `from` changed while it was read.
    pub(super) fn stage_copy(
        &self,
        (from, source): (&Name, &Opened),
        to: &Name,
        folders: Folders,
    ) -> Result<(FileUpload, u64, u32), StorageError> {
        let (staged, owed) = self.stage_copy_owing((from, source), to, folders)?;
        if !owed.is_empty() {
            self.flusher.flush(owed)?;
        }
        Ok(staged)
    }

    /// As [`Storage::stage_copy`], the copy's record's folders (`--fsync`)
    /// returned for the caller to flush rather than flushed.
    #[allow(clippy::type_complexity)] // the public tuple and the folders owed
    fn stage_copy_owing(
        &self,
        (from, source): (&Name, &Opened),
        to: &Name,
        folders: Folders,
    ) -> Result<((FileUpload, u64, u32), Vec<OwnedFd>), StorageError> {
        let found = &source.version;
        let mut upload = self.begin_upload(to, folders, Look::AtBegin)?;
        let mut buf = vec![0; 256 * 1024];
        let (mut size, mut crc) = (0u64, 0u32);
        loop {
            let n = match source.body.read_at(&mut buf, size) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(StorageError::from(err)),
            };
            crc = crate::formats::castagnoli::append(crc, &buf[..n]);
            upload.write(&buf[..n])?;
            size += n as u64;
        }
        if found.crc.is_some_and(|recorded| recorded != crc) || size != found.info.size {
            let changed = std::io::Error::other("the source changed while it was copied");
            return Err(StorageError::Io(changed));
        }
        // Read with the CRC, which matched: the same bytes.
        upload.md5 = found.md5;
        // The staged file keeps its inode when committed: the copy's
        // record is written for it now (one failed lookup without one).
        let copy_inode = || Ok(rustix::fs::fstat(&upload.file)?.st_ino);
        let owed = self.copy_record(
            (Holder::File(from.as_str()), found.stamp.inode),
            Holder::File(to.as_str()),
            copy_inode,
        );
        Ok(((upload, size, crc), owed))
    }

    /// Copies folder `from` (not the root) to the free name `to`, whose
    /// parent exists: makes `to`, then, if `deep`, each folder below and
    /// each file as `judge(source, copy)` says ([`Member`]; staged and
    /// committed as [`Storage::stage_copy`] does; on stable storage before
    /// the answer if `durable`, as `--fsync` asks of every upload), the
    /// copies token `owner`'s (see `usage.rs`), each taking its room from
    /// the reserve before its bytes and judged against the token's
    /// `quota` at its commit (a member refused so is told among the
    /// failures, the copy going on). Symlinks and special
    /// files are never copied (told as failures), ferry's reserved names
    /// never seen. `go_on` is asked before each folder: `false` stops the
    /// walk (its client has gone).
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if `from` names no folder; as
    /// [`Storage::make_folder`] for `to`; the walk stopped by `go_on`.
    /// Failures of members are in the [`Copied`].
    pub(super) fn copy_folder(
        &self,
        from: &Prefix,
        to: &Name,
        how: CopyTree<'_>,
        mut judge: impl FnMut(&str, &str) -> Member,
        mut go_on: impl FnMut() -> bool,
    ) -> Result<Copied, StorageError> {
        let start = from.as_str().trim_end_matches('/');
        debug_assert!(!start.is_empty(), "the root is never copied");
        drop(super::open_dir_beneath(&self.root, start)?);
        let parent = self.make_folder_unflushed(to)?;
        let owed = self.copy_folder_record(start, to.as_str());
        let mut made = Made::new(self, how.durable);
        made.add(parent, to.as_str())?;
        made.owe(owed)?;
        let mut copied = Copied::default();
        if !how.deep {
            made.flush()?;
            return Ok(copied);
        }
        let mut unreadable = Vec::new();
        let walked = self.walk_tree(
            start,
            |_, _| true,
            |visit| {
                let (path, kind) = (visit.path.as_str(), visit.kind);
                let copy = format!("{}{}", to.as_str(), &path[start.len()..]);
                match kind {
                    _ if super::tree::is_reserved(path) => {}
                    FileType::Directory if !go_on() => return Err(Errno::CANCELED),
                    FileType::Directory => match judge(&format!("{path}/"), &format!("{copy}/")) {
                        Member::Copy => match self.copy_folder_member(path, &copy, &mut made) {
                            Ok(()) => return Ok(true),
                            Err(err) => copied.fail(format!("{path}/"), err),
                        },
                        Member::Tell => copied.keep(&format!("{path}/")),
                        Member::Pass => {}
                    },
                    FileType::RegularFile => match judge(path, &copy) {
                        Member::Copy => {
                            let member = (path, copy.as_str());
                            if let Err(err) = self.copy_file_member(member, how, &mut made) {
                                copied.fail(path.to_owned(), err);
                            }
                        }
                        Member::Tell => copied.keep(path),
                        Member::Pass => {}
                    },
                    FileType::Symlink => copied.fail(path.to_owned(), StorageError::Symlink),
                    _ => copied.fail(path.to_owned(), StorageError::NotRegular),
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
        made.flush()?;
        for (dir, err) in unreadable {
            copied.fail(dir, err);
        }
        Ok(copied)
    }

    /// Makes `copy`, the copy of folder `path` in a folder's copy, with
    /// its dead-property record's copy.
    fn copy_folder_member(
        &self,
        path: &str,
        copy: &str,
        made: &mut Made,
    ) -> Result<(), StorageError> {
        let name = Name::new(copy.to_owned()).map_err(|_| StorageError::NotRegular)?;
        let parent = self.make_folder_unflushed(&name)?;
        let owed = self.copy_folder_record(path, name.as_str());
        made.add(parent, name.as_str())?;
        made.owe(owed)?;
        Ok(())
    }

    /// Copies file `path` to `copy` in a folder's copy, made token
    /// `how.owner`'s: its room taken from the reserve, then staged and
    /// committed as any copy, judged against `how.quota` (on stable
    /// storage with the others' batch where `made` is durable).
    fn copy_file_member(
        &self,
        (path, copy): (&str, &str),
        how: CopyTree<'_>,
        made: &mut Made,
    ) -> Result<(), StorageError> {
        let (Ok(source), Ok(copy)) = (Name::new(path.to_owned()), Name::new(copy.to_owned()))
        else {
            return Err(StorageError::NotRegular);
        };
        let opened = self.open_read(&source)?.into_opened();
        self.take_room(opened.version.info.size)?;
        let ((mut upload, _, crc), owed) =
            self.stage_copy_owing((&source, &opened), &copy, Folders::Explicit)?;
        upload.set_owner(how.owner, how.quota);
        // Its folder and its record's are flushed with the others.
        made.owe(owed)?;
        match made.durable {
            true => upload.commit_unflushed_name(crc),
            false => upload.commit(crc).map(drop),
        }
    }

    /// Moves folder `from` (not the root) to the free name `to`, whose
    /// parent exists, in one rename: atomic, everything in it at once;
    /// with `--fsync`, both names flushed before it returns.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if `from` names no folder or `to` has no
    /// parent; [`StorageError::Exists`] if something took `to` meanwhile.
    pub(super) fn rename_folder(&self, from: &Prefix, to: &Name) -> Result<(), StorageError> {
        self.pause(super::gate::Point::Commit);
        let source = Name::new(from.as_str().trim_end_matches('/').to_owned())
            .map_err(|_| StorageError::NotFound)?;
        let (dirs, leaf) = source.split_parent();
        let source_dir = self.walk(dirs)?;
        let stat = rustix::fs::statat(self.fd(&source_dir), leaf, AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
            return Err(StorageError::NotFound);
        }
        let (dirs, new) = to.split_parent();
        let target_dir = self.walk(dirs)?;
        let (old_fd, new_fd) = (self.fd(&source_dir), self.fd(&target_dir));
        // Counted: no commit, delete or move of a name below it between
        // the rename and the count (a commit into it after would count
        // under its old name what the count moved under the new one),
        // and each commit under way finds its folder gone from its name
        // (`FileUpload::still_named`).
        let names_held = match &self.usage {
            Some(ledger) => Some(ledger.names.hold_all()?),
            None => None,
        };
        // `--fsync`: opened before the rename, as a file's move does.
        let flush = match self.durable {
            true => Some(with_ancestors(&self.root, new_fd, super::dir_of(to))?),
            false => None,
        };
        // An upload under way below it keeps its temp file through the
        // move: the folder's new path is journaled first (`nodes.rs`).
        if let Some(Err(err)) = self
            .journal
            .as_ref()
            .map(|j| j.note_moved(source.as_str(), to.as_str(), self.durable))
        {
            log::warn!(
                "could not journal {to}/ (a temp file moved there by a crash would stay): {err}"
            );
        }
        // Judged and counted in the quota'd folders it enters (above its
        // new name, or below it where its tree fills them) before the
        // rename, as a file's move is (`usage_moves.rs`), its tree walked
        // where it is (every name held: nothing below it changes).
        let crossed = self.crossings((from.as_str(), &format!("{}/", to.as_str())), None)?;
        if let Some(ledger) = &self.usage {
            ledger.admit_move(&crossed, None)?;
        }
        let renamed = super::rename::rename_no_replace((old_fd, leaf), (new_fd, new))
            .and_then(|()| self.injected_fault(super::gate::Point::Renamed));
        if let Some(ledger) = &self.usage {
            match &renamed {
                Ok(()) => ledger.count_left(&crossed),
                Err(_) if super::rename::still_at(old_fd, leaf) => {
                    ledger.take_back_entered(&crossed, usize::MAX)
                }
                Err(_) => {}
            }
        }
        renamed?;
        drop(names_held);
        // Its members' records are in its mirror: one more rename.
        let records =
            self.move_records(Holder::Folder(source.as_str()), Holder::Folder(to.as_str()));
        if let Some(dirs) = flush {
            // The new name first, then the old one's removal (and the
            // records' move), as for a file (`rename.rs`).
            self.flusher.flush(dirs)?;
            let old = rustix::io::fcntl_dupfd_cloexec(old_fd, 0)?;
            self.flusher
                .flush(records.into_iter().chain([old]).collect())?;
        }
        Ok(())
    }
}
