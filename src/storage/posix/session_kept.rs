//! Uploads kept to go on with (FTP's resume): a `STOR` cut off keeps
//! what arrived as an upload session of its token and name, which
//! `REST` and `STOR`, or `APPE`, go on with and `SIZE` reports, on any
//! node of the root. A kept upload is a session like every other (the caps, the TTL,
//! the usage ledger, the commit), of a size still to come, found again
//! by an id keyed from whose it is and its name.
//!
//! Must never let one token's kept bytes be found by another's, keep
//! bytes past the caps a new session would pass, or touch a kept upload
//! that an APPEND streams into.

use std::fs::File;
use std::os::fd::OwnedFd;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::session_files::{self as files, Record, now_seconds};
use super::session_index::{BegunBy, Index};
use super::upload::Staged;
use super::usage::Change;
use super::{DIR, FileUpload, KEPT, KEPT_ONTO, Storage, StorageError, Upload};
use crate::access::quota::Quota;
use crate::model::SessionLimits;
use crate::model::{DEFERRED_SIZE, SessionInfo};
use crate::name::Name;

impl Storage {
    /// The upload of `name` kept for `owner` (a token's name; `None`
    /// without access control), if there is one.
    ///
    /// # Errors
    /// The sessions folder or the record cannot be read.
    pub fn kept_upload(
        &self,
        owner: Option<&str>,
        name: &Name,
    ) -> Result<Option<SessionInfo>, StorageError> {
        // Looked up where it would be, never made: a look must not write
        // (a read-only root has no sessions folder to make).
        let dir = match rustix::fs::openat(&self.root, files::SESSIONS_DIR, DIR, Mode::empty()) {
            Ok(dir) => dir,
            Err(Errno::NOENT) => return Ok(None),
            Err(errno) => return Err(errno.into()),
        };
        let id = self.kept_id(&dir, owner, name)?;
        self.kept_in(&dir, &id, (owner, name))
    }

    /// Keeps `upload`, cut off after `staged` (its length and CRC-32C), as
    /// the upload of `name` kept for `limits.owner`, in place of one kept
    /// before: its temp file becomes the session's data file.
    ///
    /// # Errors
    /// The caps of `limits` ([`StorageError::TooManySessions`]); the kept
    /// upload it would replace is being streamed into, or committed; the
    /// file system's (the temp file then goes as a dropped upload's does).
    pub fn keep_upload(
        &self,
        upload: Upload,
        name: &Name,
        staged: (u64, u32),
        limits: &SessionLimits,
    ) -> Result<String, StorageError> {
        let upload = upload.into_file()?;
        let (dir, mut index) = self.books_to_begin(limits.ttl)?;
        let id = self.kept_id(&dir, limits.owner.as_deref(), name)?;
        self.make_way(&dir, &mut index, &id, (limits.owner.as_deref(), name))?;
        super::session_begin::check_room(&index, limits)?;
        // Counted as staged before what the upload counted ahead as it was
        // written is given back (as it goes, below): another writer never
        // takes their room between, and a crash between leaves the ledger
        // high, never low.
        let owner = limits.owner.as_deref();
        self.count_kept((name, owner), Change::staged(staged.0, 1));
        let file = move_temp_file(upload, &dir, &files::data_name(&id));
        let record = kept_record(name, limits);
        let written = file.and_then(|file| {
            files::record_staged(&file, staged.0, staged.1);
            files::write_record(&dir, &id, &record, limits.durable)
        });
        if let Err(err) = written {
            files::remove(&dir, &id);
            self.count_kept((name, owner), Change::staged(staged.0, -1));
            return Err(err);
        }
        index.insert(&id, now_seconds(), record.begun_by, staged.0 == 0);
        Ok(id)
    }

    /// The kept upload of `name` for `limits.owner`, to take bytes from
    /// `offset` (`None`: from its end, `APPE`): the one kept, cut back to
    /// `offset` if that is before its end; else a new one, holding the
    /// first `offset` bytes of the file `name` is now (a `STOR` whose end
    /// came early stored what came: the rest is appended to that). A
    /// client that may not `read` the file goes on from it only at its
    /// end (`APPE`): an offset into it would tell its size.
    ///
    /// # Errors
    /// [`StorageError::PastEnd`] if `offset` is past what is kept (or the
    /// file's end; for a client that may not read it, any offset but 0);
    /// the caps of `limits`; the kept upload is streamed into or
    /// committed; [`StorageError::OverQuota`] for a copy past `quota` (the
    /// writing token's) or a folder's, nothing copied; the file system's.
    pub fn resume_upload(
        &self,
        name: &Name,
        (offset, read, held, quota): (Option<u64>, bool, Option<u64>, Quota),
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        let (dir, mut index) = self.books_to_begin(limits.ttl)?;
        let whose = (limits.owner.as_deref(), name);
        let id = self.kept_id(&dir, whose.0, name)?;
        if let Some(mut kept) = self.kept_in(&dir, &id, whose)? {
            kept.opened_by(held)?;
            if !read && kept.holds_unread_bytes() && offset.is_some_and(|at| at > 0) {
                return Err(StorageError::PastEnd(0));
            }
            let at = offset.unwrap_or(kept.received);
            if at > kept.received {
                return Err(StorageError::PastEnd(kept.received));
            }
            self.check_quiet(&dir, &id)?;
            if at < kept.received {
                self.cut_back(&dir, &kept, at)?;
                kept.received = at;
            }
            super::sessions::touch(&dir, &mut index, &id);
            // This open takes it over: a handle that opened it before is
            // superseded (`SessionInfo::opened_by`), on every node.
            kept.opener += 1;
            files::mark_opened(&dir, &id, kept.opener)?;
            // A size an older close declared (its commit never came) is
            // not this open's: its own close says one.
            if kept.size != DEFERRED_SIZE {
                files::declare_size(&dir, &id, DEFERRED_SIZE)?;
                kept.size = DEFERRED_SIZE;
            }
            return Ok(kept);
        }
        if held.is_some() {
            // The handle's upload is gone (let go, committed, expired).
            return Err(StorageError::Superseded);
        }
        let current = match self.stat(name) {
            Ok(found) => found.info.size,
            Err(StorageError::NotFound) => 0,
            Err(err) => return Err(err),
        };
        let at = offset.unwrap_or(current);
        if !read && offset.is_some_and(|at| at > 0) {
            return Err(StorageError::PastEnd(0));
        }
        if at > current {
            return Err(StorageError::PastEnd(current));
        }
        let meta = if read || at == 0 { KEPT } else { KEPT_ONTO };
        let upload = (name, DEFERRED_SIZE, None, Some(meta));
        let mut info = self.create_session(&dir, &mut index, &id, upload, limits)?;
        if at > 0 {
            if let Err(err) = self.seed((&dir, &info), name, at, quota) {
                self.remove_session(&dir, &mut index, &id);
                return Err(err);
            }
            index.mark_staged(&id);
            info.received = at;
        }
        // Its first open.
        info.opener = crate::storage::first_opener();
        if let Err(err) = files::mark_opened(&dir, &id, info.opener) {
            self.remove_session(&dir, &mut index, &id);
            return Err(err);
        }
        Ok(info)
    }

    /// Reads the bytes staged in session `id` from `offset` into `buf`; how
    /// many (a file open for writing read back: SFTP's `O_RDWR`).
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`]; the file system's.
    pub fn read_staged(
        &self,
        (id, opener): (&str, Option<u64>),
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, StorageError> {
        files::check_id(id)?;
        let dir = self.sessions_dir()?;
        // Read while no newer open can cut it back.
        let _books = self.sessions.bookkeeping(&dir)?;
        self.session_in(&dir, id)?.opened_by(opener)?;
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let file = match rustix::fs::openat(&dir, files::data_name(id), flags, Mode::empty()) {
            Ok(fd) => File::from(fd),
            Err(Errno::NOENT) => return Err(StorageError::NoSuchUpload),
            Err(errno) => return Err(errno.into()),
        };
        let mut read = 0;
        while read < buf.len() {
            let at = offset.saturating_add(read as u64);
            match std::os::unix::fs::FileExt::read_at(&file, &mut buf[read..], at)? {
                0 => break,
                n => read += n,
            }
        }
        Ok(read)
    }

    /// Drops the upload of `name` kept for `owner`, if there is one (a
    /// fresh `STOR` starts over; a delete of the name frees its bytes).
    /// Returns whether there was one.
    ///
    /// # Errors
    /// It is streamed into or committed; the file system's.
    pub fn drop_kept_upload(&self, owner: Option<&str>, name: &Name) -> Result<bool, StorageError> {
        if self.kept_upload(owner, name)?.is_none() {
            return Ok(false);
        }
        let dir = self.sessions_dir()?;
        let mut index = self.sessions.bookkeeping(&dir)?;
        self.load_index(&dir, &mut index);
        let id = self.kept_id(&dir, owner, name)?;
        self.make_way(&dir, &mut index, &id, (owner, name))?;
        Ok(true)
    }

    /// The id of the upload of `name` kept for `owner`: one per token and
    /// name, keyed as every session id is (see `session_files.rs`).
    fn kept_id(
        &self,
        dir: &OwnedFd,
        owner: Option<&str>,
        name: &Name,
    ) -> Result<String, StorageError> {
        let key = self.sessions.key(dir)?;
        let (owner, name) = (owner.unwrap_or("").as_bytes(), name.as_str().as_bytes());
        let parts: [&[u8]; 6] = [KEPT.as_bytes(), &[0], owner, &[0], name, &[0]];
        Ok(files::keyed_id(&key, &parts))
    }

    /// Session `id`, if it is the upload of `name` kept for `owner`.
    fn kept_in(
        &self,
        dir: &OwnedFd,
        id: &str,
        (owner, name): (Option<&str>, &Name),
    ) -> Result<Option<SessionInfo>, StorageError> {
        // No record: nothing kept (the common answer, one failed open; the
        // description would look for a stored upload's mark too).
        if matches!(files::read_record(dir, id), Err(Errno::NOENT)) {
            return Ok(None);
        }
        match self.session_in(dir, id) {
            Ok(info)
                if !info.stored
                    && matches!(info.meta.as_deref(), Some(KEPT | KEPT_ONTO))
                    && info.owner.as_deref() == owner
                    && info.name == *name =>
            {
                Ok(Some(info))
            }
            Ok(_) | Err(StorageError::NoSuchUpload) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Removes what has id `id` for a kept upload to take its place: the
    /// one kept before, unless an APPEND streams into it or it is being
    /// committed (here or on another node); never another upload's
    /// session (an id taken by it: one chance in 2^64).
    fn make_way(
        &self,
        dir: &OwnedFd,
        index: &mut Index,
        id: &str,
        whose: (Option<&str>, &Name),
    ) -> Result<(), StorageError> {
        if self.sessions.get(id).is_some_and(|live| live.busy()) || self.sessions.is_committing(id)
        {
            return Err(StorageError::SessionBusy);
        }
        if self.kept_in(dir, id, whose)?.is_none() {
            return match files::read_record(dir, id) {
                Ok(Some(_)) => Err(StorageError::SessionBusy),
                // A leftover half, or nothing.
                _ => {
                    self.remove_session(dir, index, id);
                    Ok(())
                }
            };
        }
        match files::try_lock_session(dir, id) {
            Ok(Some(_held)) => {
                self.remove_session(dir, index, id);
                Ok(())
            }
            Ok(None) => Err(StorageError::InUseElsewhere),
            Err(err) => Err(err),
        }
    }

    /// Cuts kept upload `kept` back to its first `at` bytes (`REST` to
    /// before its end): what was recorded of its CRC goes with them.
    /// Refuses while kept upload `id` is written into or committed, here
    /// or on another node (its lock): an open takes over only a quiet
    /// upload, never one with a write half-landed or its commit under way.
    /// The caller holds the sessions' books, so none begins meanwhile.
    fn check_quiet(&self, dir: &OwnedFd, id: &str) -> Result<(), StorageError> {
        let live = self.sessions.get_or_new(id);
        let mut held = live.held();
        if live.busy() || live.is_committing() {
            return Err(StorageError::SessionBusy);
        }
        super::session_state::Live::hold(&mut held, dir, id)?;
        *held = None;
        Ok(())
    }

    fn cut_back(&self, dir: &OwnedFd, kept: &SessionInfo, at: u64) -> Result<(), StorageError> {
        let id = kept.id.as_str();
        let live = self.sessions.get_or_new(id);
        let mut held = live.held();
        if live.busy() || live.is_committing() {
            return Err(StorageError::SessionBusy);
        }
        super::session_state::Live::hold(&mut held, dir, id)?;
        let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let opened = rustix::fs::openat(dir, files::data_name(id), flags, Mode::empty());
        let cut = opened.map_err(StorageError::from).and_then(|fd| {
            let file = File::from(fd);
            file.set_len(at)?;
            Ok(file)
        });
        *held = None;
        let file = cut?;
        // What was recorded of its CRC stood for bytes cut off: it now
        // stands for none (the CRC of nothing), so none is trusted.
        files::record_staged(&file, 0, 0);
        *live.progress.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if let Some(count) = self.staged_count(kept) {
            count.count_replaced(kept.received, at, 0);
        }
        Ok(())
    }

    /// Copies the first `at` bytes of file `name` into new kept upload
    /// `session` of the sessions directory `dir`, counted before they are
    /// copied, judged against `quota` (the writing token's) and the
    /// folders' in the same step ([`Storage::count_staged_ahead`]).
    ///
    /// # Errors
    /// [`StorageError::OverQuota`], nothing copied; as [`Storage::copy_seed`].
    fn seed(
        &self,
        (dir, session): (&OwnedFd, &SessionInfo),
        name: &Name,
        at: u64,
        quota: Quota,
    ) -> Result<(), StorageError> {
        let ahead = self.count_staged_ahead(session, at, quota)?;
        let copied = self.copy_seed(dir, &session.id, name, at);
        if let Some(count) = self.staged_count(session) {
            // What a failed copy left is counted too: the session's going
            // takes back what its data file holds.
            let staged = match copied {
                Ok(()) => at,
                Err(_) => super::usage_counts::staged_in(dir, &session.id),
            };
            count.count_replaced(0, staged, ahead);
        }
        copied
    }

    /// Copies the first `at` bytes of file `name` into kept upload `id`
    /// (the kernel copies them where it can: `copy_file_range`).
    fn copy_seed(&self, dir: &OwnedFd, id: &str, name: &Name, at: u64) -> Result<(), StorageError> {
        let found = self.open_read_unchecked(name)?;
        let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let data = File::from(rustix::fs::openat(
            dir,
            files::data_name(id),
            flags,
            Mode::empty(),
        )?);
        // By offset: the descriptor may be shared with downloads.
        let copied = super::part_slots::copy_range((&found.file, 0), (&data, 0), at)?;
        if copied < at {
            // Shorter since it was looked at.
            return Err(StorageError::PastEnd(copied));
        }
        Ok(())
    }

    /// Counts `change` of the bytes staged by the upload of `name` kept
    /// for `owner`, where its session's bytes count (as
    /// [`Storage::staged_count`]'s).
    fn count_kept(&self, (name, owner): (&Name, Option<&str>), change: Change) {
        if let Some(ledger) = &self.usage {
            let owner = super::usage_counts::token_of(owner);
            ledger.count(name.as_str(), owner.as_deref(), change);
        }
    }
}

/// Moves `upload`'s temp file to `name` in `dir` instead of committing
/// it: the upload is over, its file now the caller's.
///
/// # Errors
/// It is not a temp file, or the rename failed (the temp file then
/// goes, as a dropped upload's does).
fn move_temp_file(mut upload: FileUpload, dir: &OwnedFd, name: &str) -> Result<File, StorageError> {
    let Staged::Temp(temp) = &upload.staged else {
        return Err(StorageError::Io(std::io::Error::other(
            "only a temp file moves",
        )));
    };
    rustix::fs::renameat(&upload.dir, temp.as_str(), dir, name)?;
    upload.committed = true;
    Ok(upload.file.try_clone()?)
}

/// The record of an upload of `name` kept within `limits`.
fn kept_record(name: &Name, limits: &SessionLimits) -> Record {
    Record {
        name: name.clone(),
        size: DEFERRED_SIZE,
        crc: None,
        begun_by: BegunBy {
            client: Some(limits.client),
            owner: limits.owner.clone(),
            link: limits.link.as_ref().map(|(id, _)| id.clone()),
        },
        begun: Some(now_seconds()),
        meta: Some(KEPT.to_owned()),
        completed: None,
        opened: 0,
    }
}
