//! Resumable uploads: upload sessions whose bytes are staged on disk, so an
//! interrupted large upload continues where it stopped, across dropped
//! connections and server restarts, instead of starting over.
//!
//! A session is identified by what it uploads: its id is keyed from the
//! target name, size and CRC-32C, so a client that starts the same upload
//! again gets the same session back and only needs to ask how far it got.
//! How a session is kept on disk (its data file and record in the reserved
//! `.ferry-uploads` directory) is `session_files.rs`'s; an index in memory
//! (`session_index.rs`) knows every session's age, client and owner (its
//! token), so expiry (`session_expiry.rs`) and the caps on live sessions
//! (in all, per client address, per token) cost no directory scan.
//!
//! The CRC-32C of the staged bytes is kept as they arrive and recorded on
//! the data file as an APPEND goes (every [`RECORD_EVERY`] bytes, and when
//! it ends), so an APPEND or COMMIT after a restart, even one that cut an
//! APPEND short, reads at most the bytes staged since the last record.
//!
//! Every transition leaves the session either still resumable or
//! committed, whenever the process dies: COMMIT verifies the staged bytes,
//! then renames the data file itself onto the target (flushed first with
//! `--fsync`), which is the commit; only then is the record removed. A
//! COMMIT that fails before the rename (out of descriptors, a full disk,
//! the name taken by a directory) leaves the session as it was.
//!
//! Several nodes may share the root (and so the sessions): what one node
//! keeps in memory about a session is then only a cache, and locks on the
//! shared file system (see `session_files.rs`) stand in for it across
//! nodes: bookkeeping steps take turns, a session streamed into or
//! committed by one node is `409` on the others, and expiry leaves alone
//! what another node is using or used recently. An APPEND's bytes are
//! flushed before it is answered where another node could otherwise not
//! see them yet (a network or FUSE file system, or with `--fsync`), so
//! the client resumes on any node at the offset it was told.
//!
//! Why it is long: the upload-session API the serve layer calls (begin,
//! append, commit, abort, list, expire); its files, index, memory and
//! expiry are already in files of their own.

use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::gate::Point;
use super::session_expiry::SessionTtl;
use super::session_files::{
    self as files, Record, check_id, now_seconds, random_session_id, session_id,
};
use super::session_index::{BegunBy, Index};
use super::session_state::{Appender, Books, Live, RECORD_EVERY, Staging};
use super::{Folders, Storage, StorageError, Upload};
use crate::name::Name;

/// What bounds the sessions an `UPLOAD` may begin.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// Sessions untouched for longer are removed.
    pub ttl: SessionTtl,
    /// Most sessions at once.
    pub total: usize,
    /// Most sessions begun by one client address.
    pub per_client: usize,
    /// Most sessions begun by one owner (a token, or the clients without
    /// one).
    pub per_owner: usize,
    /// The client asking.
    pub client: IpAddr,
    /// Whose share it counts against: `None` where there are no tokens.
    pub owner: Option<String>,
    /// `--fsync`: a new session's record and names are flushed before
    /// `UPLOAD` answers, so that the bytes its `APPEND`s acknowledge (each
    /// flushed) are still a session after a power cut.
    pub durable: bool,
}

/// Which cap a new session would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCap {
    /// The server's (`--max-upload-sessions`).
    Server,
    /// The client address's (`--max-upload-sessions-per-client`), which is this.
    Client(usize),
    /// The token's (`--max-upload-sessions-per-token`), which is this.
    Token(usize),
}

/// The size of a session begun without one (tus's
/// creation-defer-length), until an APPEND declares it ([`Appending`]).
pub const DEFERRED_SIZE: u64 = u64::MAX;

/// A session as its record describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session id (16 hex digits).
    pub id: String,
    /// Where the file goes on commit.
    pub name: Name,
    /// Its full size ([`DEFERRED_SIZE`] until a client declares it).
    pub size: u64,
    /// Its CRC-32C, checked on commit; `None` where the client did not
    /// say (a tus upload), and the staged bytes' own is recorded.
    pub crc: Option<u32>,
    /// Bytes staged so far.
    pub received: u64,
    /// What its client said of it (tus's `Upload-Metadata`), as said.
    pub meta: Option<String>,
    /// When it expires unless used again, in seconds since the epoch;
    /// `None` where the answer was made without the TTL
    /// ([`Storage::live_session`] and a new session's say).
    pub expires: Option<i64>,
    /// It is stored already: what is left is the mark of a tus upload,
    /// kept a while for a client that lost the last answer.
    pub stored: bool,
}

impl SessionInfo {
    /// Its full size, `None` until a client declares it.
    pub fn known_size(&self) -> Option<u64> {
        (self.size != DEFERRED_SIZE).then_some(self.size)
    }
}

/// What an APPEND asks of its session ([`Storage::append`]).
#[derive(Debug, Clone, Copy)]
pub struct Appending {
    /// Where its bytes go: where the session stands.
    pub offset: u64,
    /// How many.
    pub len: u64,
    /// The sessions' TTL: an expired session takes none. `None` for a
    /// session's first bytes, sent as it is begun.
    pub ttl: Option<SessionTtl>,
    /// The upload's size, declared by this APPEND (tus's
    /// creation-defer-length).
    pub size: Option<u64>,
}

impl Storage {
    /// Starts the upload of `name` (`size` bytes with CRC-32C `crc`), or
    /// finds the session that already stages it. Also removes sessions
    /// untouched for longer than the TTL.
    ///
    /// # Errors
    /// [`StorageError::TooManySessions`] if a new session would exceed
    /// `limits`; a conflict if `name` cannot be a file (a directory, or
    /// beneath a file); no space, no descriptors or I/O if the session
    /// cannot be created.
    pub fn begin_session(
        &self,
        name: &Name,
        size: u64,
        crc: u32,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        debug_assert!(size != DEFERRED_SIZE, "a size over any file's");
        let (dir, mut index) = self.books_to_begin(limits.ttl)?;
        let key = self.sessions.key(&dir)?;
        // An id taken by another upload (one chance in 2^64) moves this one
        // to the next candidate. Every candidate is looked at, since the
        // one taken may have gone since.
        let mut free = None;
        let mut found = None;
        for probe in 0..ID_PROBES {
            let id = session_id(&key, name, size, crc, probe);
            match files::read_record(&dir, &id) {
                Ok(Some(record)) if record.is_for(name, size, crc) => {
                    found = Some(id);
                    break;
                }
                Ok(Some(_)) => {} // another upload's
                // Missing, or cut short by a process killed while writing
                // it: describes nothing, so the session can be made here.
                Ok(None) | Err(Errno::NOENT) => {
                    free.get_or_insert(id);
                }
                Err(errno) => return Err(errno.into()),
            }
        }
        if let Some(id) = found {
            if self.sessions.is_committing(&id) {
                return Err(StorageError::Committing);
            }
            match self.session_in(&dir, &id) {
                Ok(info) if info.received <= info.size => {
                    if info.received > 0 {
                        index.mark_staged(&id);
                    }
                    touch(&dir, &mut index, &id);
                    return Ok(info);
                }
                // More bytes than the upload has: written to by something
                // other than its APPENDs (two servers that did not lock
                // each other out, say). No COMMIT could ever pass: begin
                // anew, unless a node is using it.
                Ok(info) => {
                    if files::try_lock_session(&dir, &id)?.is_none() {
                        return Err(StorageError::InUseElsewhere);
                    }
                    log::warn!(
                        "upload session {id} holds {} bytes of a {}-byte upload; discarded",
                        info.received,
                        info.size
                    );
                    free = Some(id);
                }
                // Its data is gone: the record of a session committed by a
                // process that died before removing it (or by a node that
                // is removing it now: then it holds the session's lock).
                // Begin anew here.
                Err(StorageError::NoSuchUpload) => {
                    if files::try_lock_session(&dir, &id)?.is_none() {
                        return Err(StorageError::Committing);
                    }
                    free = Some(id);
                }
                Err(err) => return Err(err),
            }
        }
        let id = free.ok_or_else(|| StorageError::Io(io::Error::other("session id collision")))?;
        self.create_session(&dir, &mut index, &id, (name, size, Some(crc), None), limits)
    }

    /// Starts a new upload of `name` (`size` bytes, `None` until an APPEND
    /// declares it; CRC-32C not known):
    /// a session of its own each time, with an id that says nothing of it
    /// (tus's creation: two clients that upload the same name and size
    /// must not share one). Also removes sessions untouched for longer
    /// than the TTL.
    ///
    /// # Errors
    /// As [`Storage::begin_session`].
    pub fn begin_new_session(
        &self,
        name: &Name,
        size: Option<u64>,
        meta: Option<&str>,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        // The record's mark of a size to come; no size that reaches here can
        // be it (serve's check_size refuses sizes over any file's).
        debug_assert!(size != Some(DEFERRED_SIZE), "a size over any file's");
        let size = size.unwrap_or(DEFERRED_SIZE);
        if meta.is_some_and(|m| !fits_a_record(m.as_bytes())) {
            return Err(StorageError::Io(io::Error::other(
                "session metadata is not one line",
            )));
        }
        let (dir, mut index) = self.books_to_begin(limits.ttl)?;
        for _ in 0..ID_PROBES {
            let id = random_session_id()?;
            match files::read_record(&dir, &id) {
                // Free (or a record cut short: describes nothing).
                Ok(None) | Err(Errno::NOENT) => {
                    let upload = (name, size, None, meta);
                    return self.create_session(&dir, &mut index, &id, upload, limits);
                }
                Ok(Some(_)) => {} // one chance in 2^64: draw again
                Err(errno) => return Err(errno.into()),
            }
        }
        Err(StorageError::Io(io::Error::other("session id collision")))
    }

    /// The sessions directory and its bookkeeping, held, the index loaded
    /// and expired sessions removed: where a session is begun.
    fn books_to_begin(&self, ttl: SessionTtl) -> Result<(OwnedFd, Books<'_>), StorageError> {
        self.pause(Point::Session);
        let dir = self.sessions_dir()?;
        let mut index = self.sessions.bookkeeping(&dir)?;
        self.load_index(&dir, &mut index);
        self.expire_sessions(&dir, &mut index, ttl);
        Ok((dir, index))
    }

    /// Makes session `id` for `(name, size, crc, meta)` within `limits`,
    /// in place of whatever was left under its id.
    fn create_session(
        &self,
        dir: &OwnedFd,
        index: &mut Index,
        id: &str,
        (name, size, crc, meta): (&Name, u64, Option<u32>, Option<&str>),
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        check_room(index, limits)?;
        // Refuse now what a commit would refuse later.
        self.check_can_be_file(name)?;
        self.remove_session(dir, index, id);
        let record = Record {
            name: name.clone(),
            size,
            crc,
            begun_by: BegunBy {
                client: Some(limits.client),
                owner: limits.owner.clone(),
            },
            begun: Some(now_seconds()),
            meta: meta.map(str::to_owned),
            completed: None,
        };
        files::create(dir, id, &record, limits.durable)?;
        index.insert(id, now_seconds(), record.begun_by, true);
        let mut info = self.session_in(dir, id)?;
        info.expires = Some(limits.ttl.expires(now_seconds(), info.received));
        Ok(info)
    }

    /// Reads a session's description and progress.
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] if there is no such session; any
    /// other error if its record cannot be read.
    pub fn session(&self, id: &str) -> Result<SessionInfo, StorageError> {
        check_id(id)?;
        self.session_in_checked(&self.sessions_dir()?, id)
    }

    /// [`Storage::session`] in the sessions directory `dir`, already open.
    pub(super) fn session_in_checked(
        &self,
        dir: &OwnedFd,
        id: &str,
    ) -> Result<SessionInfo, StorageError> {
        check_id(id)?;
        self.injected_fault(Point::ReadSession)?;
        self.session_in(dir, id)
    }

    fn session_in(&self, dir: &OwnedFd, id: &str) -> Result<SessionInfo, StorageError> {
        self.described(dir, id).map(|(info, _)| info)
    }

    /// A session's description and progress, with the record they come
    /// from.
    fn described(&self, dir: &OwnedFd, id: &str) -> Result<(SessionInfo, Record), StorageError> {
        // Every read of a record passes here: a test's gate counts them.
        self.pause(Point::ReadSession);
        let record = match files::read_record(dir, id) {
            Ok(Some(record)) => record,
            Ok(None) => {
                let malformed = format!("malformed session {id}");
                return Err(StorageError::Io(io::Error::other(malformed)));
            }
            Err(Errno::NOENT) => return self.stored_mark(dir, id),
            Err(errno) => return Err(errno.into()),
        };
        let data = match rustix::fs::statat(dir, files::data_name(id), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(data) => data,
            Err(Errno::NOENT) => return Err(StorageError::NoSuchUpload),
            Err(errno) => return Err(errno.into()),
        };
        // Planted: its size is not bytes received, and it is never opened.
        match rustix::fs::FileType::from_raw_mode(data.st_mode) {
            rustix::fs::FileType::RegularFile => {}
            rustix::fs::FileType::Symlink => return Err(StorageError::Symlink),
            _ => return Err(StorageError::NotRegular),
        }
        let info = SessionInfo {
            id: id.to_owned(),
            name: record.name.clone(),
            size: record.size,
            crc: record.crc,
            received: u64::try_from(data.st_size).unwrap_or(0),
            meta: record.meta.clone(),
            expires: None,
            stored: false,
        };
        Ok((info, record))
    }

    /// What the mark of stored upload `id` says of it: all its bytes
    /// received (a session of no other kind leaves one).
    fn stored_mark(&self, dir: &OwnedFd, id: &str) -> Result<(SessionInfo, Record), StorageError> {
        match files::read_stored(dir, id) {
            Ok(Some(record)) => {
                let info = SessionInfo {
                    id: id.to_owned(),
                    name: record.name.clone(),
                    size: record.size,
                    crc: record.crc,
                    received: record.size,
                    meta: record.meta.clone(),
                    expires: None,
                    stored: true,
                };
                Ok((info, record))
            }
            Ok(None) | Err(Errno::NOENT) => Err(StorageError::NoSuchUpload),
            Err(errno) => Err(errno.into()),
        }
    }

    /// Whether multipart upload `id` of `name` was completed lately from
    /// the parts `listed` names (the digest [`Storage::finish_multipart`] (`parts.rs`)
    /// was given): its mark is kept for the short TTL after the commit, as
    /// a tus upload's is (`session_expiry.rs` sweeps both). Whether the
    /// object is still the one it made is the caller's to judge.
    pub fn completed_multipart(&self, id: &str, name: &Name, listed: &str) -> bool {
        let Ok(dir) = check_id(id).and_then(|()| self.sessions_dir()) else {
            return false;
        };
        matches!(
            files::read_stored(&dir, id),
            Ok(Some(mark)) if mark.name == *name && mark.completed.as_deref() == Some(listed)
        )
    }

    /// Opens session `id` for an APPEND's bytes (`asked`). An APPEND
    /// still streaming into the session is cut off: its next write fails.
    /// The session's record is read once, with the session held, and all
    /// that is judged by it is judged there: whether the client may write
    /// it (`admit`: the caller's rule), whether it has expired (it is then
    /// removed), the size the APPEND declares, and where the bytes go.
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] for an unknown session,
    /// [`StorageError::Expired`] for one untouched past its TTL,
    /// [`StorageError::WrongOffset`] if `offset` is not where the session
    /// stands, [`StorageError::PastEnd`] if the bytes would run past the
    /// declared size, [`StorageError::Committing`] while it is committed;
    /// [`declare_size`]'s; and whatever `admit` refuses.
    pub fn append<E: From<StorageError>>(
        &self,
        id: &str,
        asked: Appending,
        admit: impl FnOnce(&SessionInfo) -> Result<(), E>,
    ) -> Result<(Appender, SessionInfo), E> {
        self.pause(Point::Session);
        check_id(id)?;
        let dir = self.sessions_dir()?;
        let mut index = self.sessions.bookkeeping(&dir)?;
        let live = self.sessions.get_or_new(id);
        let Appending { offset, .. } = asked;
        let (ticket, took_over, info) = {
            let mut held = live.held();
            if live.is_committing() {
                return Err(StorageError::Committing.into());
            }
            Live::hold(&mut held, &dir, id)?;
            // Read only once the session is this node's: another node's
            // APPEND that just ended flushed its bytes before it let go,
            // so the offset checked here is where the bytes will land.
            let mut expired = false;
            let checked = self
                .session_in_checked(&dir, id)
                .map_err(E::from)
                .and_then(|info| admit(&info).map(|()| info))
                .and_then(|info| {
                    let appendable = self.appendable(&dir, &live, info, asked);
                    expired = matches!(appendable, Err(StorageError::Expired));
                    Ok(appendable?)
                });
            match checked {
                Ok(info) => {
                    self.sessions.keep(id, &live);
                    let (ticket, took_over) = live.take_over();
                    (ticket, took_over, info)
                }
                Err(err) => {
                    if expired {
                        // Its lock and the books held: nobody else uses it.
                        self.remove_session(&dir, &mut index, id);
                    }
                    if !live.busy() {
                        *held = None;
                    }
                    return Err(err);
                }
            }
        };
        if took_over {
            log::info!("upload session {id}: a new APPEND takes over from one still open");
        }
        if info.received > 0 {
            index.mark_staged(id);
        }
        touch(&dir, &mut index, id);
        let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let opened = rustix::fs::openat(&dir, files::data_name(id), flags, Mode::empty());
        let file = match opened {
            Ok(fd) => File::from(fd),
            Err(errno) => {
                live.release(ticket);
                return Err(StorageError::from(errno).into());
            }
        };
        // Reading back what a crash left unrecorded is worth it only if
        // that is little; otherwise the COMMIT computes the CRC once.
        let crc = staged_crc(&live, &file, offset, RECORD_EVERY, || {})
            .ok()
            .flatten();
        let appender = Appender {
            id: id.to_owned(),
            file,
            live,
            ticket,
            start: offset,
            start_crc: crc,
            crc,
            written: 0,
            recorded: offset,
            shared: self.round_trips,
            gate: self.gate.clone(),
        };
        Ok((appender, info))
    }

    /// Verifies a complete session and prepares its commit: an [`Upload`]
    /// that renames the staged data file onto the target, with the
    /// session's size and CRC-32C (the staged bytes', checked against the
    /// one the client gave, if it gave one). Until that rename, and if the
    /// upload is dropped uncommitted, the session stays as it was.
    ///
    /// # Errors
    /// Unknown (as is a multipart upload, which only its S3 completion
    /// commits), incomplete, busy or being committed;
    /// [`StorageError::ChecksumMismatch`] if the staged bytes do not match
    /// the CRC-32C (the session is then removed); [`StorageError::IsDirectory`]
    /// if the name became one; out of descriptors or I/O errors (the
    /// session stays).
    pub fn finish_session(&self, id: &str) -> Result<(Upload, SessionInfo, u32), StorageError> {
        self.pause(Point::Session);
        check_id(id)?;
        let dir = self.sessions_dir()?;
        let mut index = self.sessions.bookkeeping(&dir)?;
        let live = self.sessions.get_or_new(id);
        let info = {
            let mut held = live.held();
            if live.busy() {
                return Err(StorageError::SessionBusy);
            }
            if live.is_committing() {
                return Err(StorageError::Committing);
            }
            Live::hold(&mut held, &dir, id)?;
            // As in `append`: read once the session is this node's.
            let checked = self
                .session_in(&dir, id)
                .and_then(|info| match info.received {
                    _ if info.stored => Err(StorageError::Stored(info.size)),
                    // A multipart upload's data file holds its parts in
                    // their places, gaps and all: only its S3 completion
                    // (`parts.rs`) makes it an object.
                    _ if super::parts_folder::has_parts(&dir, id) => {
                        Err(StorageError::NoSuchUpload)
                    }
                    received if received == info.size => Ok(info),
                    received => Err(StorageError::Incomplete(received, info.size)),
                });
            if checked.is_err() {
                *held = None;
            }
            let info = checked?;
            self.sessions.keep(id, &live);
            live.committing.store(true, Ordering::SeqCst);
            info
        };
        // From here until the commit ends, or whatever stops it, nothing
        // else may touch the session, here or on another node: dropping
        // `staging` frees it.
        let staging = Staging {
            dir,
            id: id.to_owned(),
            live,
            sessions: Arc::clone(&self.sessions),
            keep_mark: info.crc.is_none(),
            completed: None,
            apart: None,
            slots: None,
        };
        let file = File::from(rustix::fs::openat(
            &staging.dir,
            files::data_name(id),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?);
        let staged = staged_crc(&staging.live, &file, info.size, u64::MAX, || {
            self.pause(Point::Checksum)
        })?
        .unwrap_or_else(|| unreachable!("no read is longer than u64::MAX bytes"));
        if let Some(expected) = info.crc
            && staged != expected
        {
            self.remove_session(&staging.dir, &mut index, id);
            return Err(StorageError::ChecksumMismatch(staged, expected));
        }

        // The rest waits on the disk, not on other sessions.
        drop(index);
        let upload = self.begin_commit((&info.name, Folders::Implicit), file, staging)?;
        Ok((upload, info, staged))
    }

    /// Whether `info`, a session as read under its lock, takes the bytes
    /// `asked`: not stored, unexpired (else the caller removes it), at
    /// their offset, within its size (declared first, where the APPEND
    /// declares it).
    fn appendable(
        &self,
        dir: &OwnedFd,
        live: &Live,
        mut info: SessionInfo,
        asked: Appending,
    ) -> Result<SessionInfo, StorageError> {
        let Appending {
            offset,
            len,
            ttl,
            size,
        } = asked;
        if info.stored {
            return Err(StorageError::Stored(info.size));
        }
        // A multipart upload's data file holds its parts in their places
        // (`part_slots.rs`): no APPEND writes there.
        if super::parts_folder::has_parts(dir, &info.id) {
            return Err(StorageError::NoSuchUpload);
        }
        let used = files::last_used(dir, &info.id).unwrap_or_else(now_seconds);
        // A session streamed into is in use, whatever its age.
        if !live.busy() && ttl.is_some_and(|ttl| ttl.has_expired(used, info.received)) {
            log::info!("upload session {} expired", info.id);
            return Err(StorageError::Expired);
        }
        if let Some(size) = size {
            declare_size(dir, &mut info, size)?;
        }
        if offset != info.received {
            return Err(StorageError::WrongOffset(info.received));
        }
        if offset.checked_add(len).is_none_or(|end| end > info.size) {
            return Err(StorageError::PastEnd(info.size));
        }
        Ok(info)
    }

    /// Removes a session and its staged bytes; an APPEND still streaming
    /// into it is cut off (it no longer owns the session). Of a tus upload
    /// stored already, only the mark goes (the file stays).
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] if there is no such session,
    /// [`StorageError::Committing`] if it is being committed.
    pub fn abort_session(&self, id: &str) -> Result<(), StorageError> {
        self.pause(Point::Session);
        let dir = self.sessions_dir()?;
        let mut index = self.sessions.bookkeeping(&dir)?;
        check_id(id)?;
        if self.session_in(&dir, id)?.stored {
            // The upload is over, its file a file: only its mark goes.
            files::remove(&dir, id);
            return Ok(());
        }
        let live = self.sessions.get_or_new(id);
        let mut held = live.held();
        if live.is_committing() {
            return Err(StorageError::Committing);
        }
        // An APPEND of this node is cut off; another node's is not (it
        // holds the lock: 409).
        Live::hold(&mut held, &dir, id)?;
        live.take_over();
        self.remove_session(&dir, &mut index, id);
        Ok(())
    }

    /// The sessions `include` accepts by name, most recently used first,
    /// at most `limit` of them (`SESSIONS`). Expires what is due first, so
    /// nothing listed is already gone. A multipart upload's bytes received
    /// are its staged parts' (its data file's length is not).
    ///
    /// # Errors
    /// The sessions directory or its lock cannot be opened; a session
    /// that cannot be read is left out.
    pub fn list_sessions(
        &self,
        ttl: SessionTtl,
        limit: usize,
        include: &dyn Fn(&Name) -> bool,
    ) -> Result<Vec<ListedSession>, StorageError> {
        let mut listed = Vec::new();
        if limit > 0 {
            self.visit_sessions(ttl, include, &mut |session| {
                listed.push(session);
                listed.len() < limit
            })?;
        }
        // A multipart upload's data file holds its parts in their slots
        // (`part_slots.rs`): its length is where the furthest ends (part 3
        // alone makes it three parts long), not what is staged. Every
        // part's record is read: for this listing, not for every request.
        if let Ok(dir) = self.sessions_dir() {
            for session in listed.iter_mut() {
                // Only a multipart upload has a parts folder to read.
                if let Ok(parts) = super::parts_folder::staged_parts(&dir, &session.info.id) {
                    session.info.received = parts.iter().map(|part| part.size).sum();
                }
            }
        }
        Ok(listed)
    }

    /// The sessions `include` accepts by name, most recently used first,
    /// each handed to `visit` until it says to stop (`false`): a caller
    /// that keeps a bounded page of them sees every session in bounded
    /// memory (ListMultipartUploads). Expires what is due first.
    ///
    /// # Errors
    /// As [`Storage::list_sessions`].
    pub fn visit_sessions(
        &self,
        ttl: SessionTtl,
        include: &dyn Fn(&Name) -> bool,
        visit: &mut dyn FnMut(ListedSession) -> bool,
    ) -> Result<(), StorageError> {
        self.pause(Point::Session);
        let dir = self.sessions_dir()?;
        let mut index = self.sessions.bookkeeping(&dir)?;
        self.load_index(&dir, &mut index);
        self.expire_sessions(&dir, &mut index, ttl);
        let now = now_seconds();
        for (id, used) in index.newest_first() {
            // A half a crash left is no session: not listed.
            let Ok((info, record)) = self.described(&dir, id) else {
                continue;
            };
            if !include(&info.name) {
                continue;
            }
            // A multipart upload's parts may all be staged apart from its
            // data file (`part_slots.rs`): it holds bytes all the same, and
            // expires as a session with bytes does.
            let empty = info.received == 0 && !super::parts_folder::holds_parts(&dir, id);
            let short = empty || self.is_out_of_space(id);
            let kept = match short {
                true => ttl.empty,
                false => ttl.staged,
            };
            let idle = u64::try_from(now - used).unwrap_or(0);
            let session = ListedSession {
                age: record
                    .begun
                    .map_or(idle, |begun| u64::try_from(now - begun).unwrap_or(0)),
                expires_in: kept.as_secs().saturating_sub(idle),
                info,
            };
            if !visit(session) {
                break;
            }
        }
        Ok(())
    }

    /// Whether session `id`'s last APPEND ran out of space here (it then
    /// expires as soon as an empty one does, see `docs/reliability.md`).
    fn is_out_of_space(&self, id: &str) -> bool {
        self.sessions
            .get(id)
            .is_some_and(|live| live.out_of_space.load(Ordering::Relaxed))
    }

    pub(super) fn remove_session(&self, dir: &OwnedFd, index: &mut Index, id: &str) {
        files::remove(dir, id);
        self.sessions.live().remove(id);
        index.remove(id);
    }

    /// Upload sessions open now, as far as this node knows (its own, and
    /// the others' it has seen in the shared directory); for the metrics,
    /// without waiting for a bookkeeping step.
    pub fn upload_sessions(&self) -> u64 {
        self.sessions.known()
    }

    /// The sessions directory, created on first use.
    pub(super) fn sessions_dir(&self) -> Result<OwnedFd, StorageError> {
        files::open_dir(&self.root)
    }
}

/// Declares `info`'s size, begun with [`DEFERRED_SIZE`] (tus's
/// creation-defer-length); declaring the size it has already is no
/// change. Under the bookkeeping lock: two declarations at once, the
/// second sees the first.
///
/// # Errors
/// [`StorageError::SizeDeclared`] if it has another size already,
/// [`StorageError::PastEnd`] if more bytes are staged than `size`; the
/// record cannot be written.
fn declare_size(dir: &OwnedFd, info: &mut SessionInfo, size: u64) -> Result<(), StorageError> {
    match info.size {
        known if known == size => return Ok(()),
        DEFERRED_SIZE => {}
        known => return Err(StorageError::SizeDeclared(known)),
    }
    if info.received > size {
        return Err(StorageError::PastEnd(size));
    }
    files::declare_size(dir, &info.id, size)?;
    info.size = size;
    Ok(())
}

/// Whether `meta` may be kept in a session's record: one line of
/// printable ASCII (a line break would forge the record's other lines).
pub fn fits_a_record(meta: &[u8]) -> bool {
    meta.iter().all(|&b| b == b' ' || b.is_ascii_graphic())
}

/// A session as `SESSIONS` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSession {
    /// What it uploads and how far it got.
    pub info: SessionInfo,
    /// Seconds since it began (since it was last used, for sessions of
    /// older versions, which do not say).
    pub age: u64,
    /// Seconds until it expires unless used before then.
    pub expires_in: u64,
}

/// Candidate ids tried for one upload before giving up.
const ID_PROBES: u32 = 4;

/// Whether `limits` leave room for one more session: the server's cap,
/// the client address's and the owner's (one home for the rule).
fn check_room(index: &Index, limits: &SessionLimits) -> Result<(), StorageError> {
    if index.len() >= limits.total {
        return Err(StorageError::TooManySessions(SessionCap::Server));
    }
    if index.of_client(limits.client) >= limits.per_client {
        return Err(StorageError::TooManySessions(SessionCap::Client(
            limits.per_client,
        )));
    }
    if let Some(owner) = &limits.owner
        && index.of_owner(owner) >= limits.per_owner
    {
        return Err(StorageError::TooManySessions(SessionCap::Token(
            limits.per_owner,
        )));
    }
    Ok(())
}

/// Marks a session as used now: its TTL counts from its last use.
pub(super) fn touch(dir: &OwnedFd, index: &mut Index, id: &str) {
    files::touch(dir, id);
    index.touch(id, now_seconds());
}

/// The CRC-32C of the first `len` staged bytes of a session: kept by the
/// APPENDs of this process, or else from the data file (see
/// [`files::staged_crc`], which reads at most `limit` bytes: `Ok(None)` if
/// it would have to read more).
fn staged_crc(
    live: &Live,
    file: &File,
    len: u64,
    limit: u64,
    before_reading: impl FnOnce(),
) -> io::Result<Option<u32>> {
    let kept = *live.progress.lock().unwrap_or_else(|e| e.into_inner());
    match kept {
        Some((at, crc)) if at == len => Ok(Some(crc)),
        _ => files::staged_crc(file, len, limit, before_reading),
    }
}
