//! Beginning an upload session: [`Storage::begin_session`] finds the
//! session that already stages an upload (its id keyed from what it
//! uploads) or makes it (`find_or_begin`, asked not to make one, only
//! finds it),
//! [`Storage::begin_new_session`] makes one of its
//! own (tus's creation); both first hold the bookkeeping, load the index
//! and expire what is due, and refuse a session past the caps
//! ([`SessionLimits`]: the server's, the client address's, the owner's,
//! the share link's).
//!
//! Must never write a byte of an upload (APPENDs do) nor begin a session
//! whose name could not be committed.

use std::io;
use std::os::fd::OwnedFd;

use rustix::io::Errno;

use super::gate::Point;
use super::session_files::{self as files, Record, now_seconds, random_session_id, session_id};
use super::session_index::{BegunBy, Index};
use super::session_state::Books;
use super::sessions::touch;
use super::{Storage, StorageError};
use crate::model::fits_a_record;
use crate::model::{DEFERRED_SIZE, SessionInfo};
use crate::model::{SessionCap, SessionLimits, SessionTtl};
use crate::name::Name;

impl Storage {
    /// Starts the upload of `name` (`size` bytes with CRC-32C `crc`), or
    /// finds the session that already stages it for the same owner
    /// (`limits.owner`: another token's is its own). Also removes sessions
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
        self.find_or_begin((name, size, crc), limits, true)
    }

    /// [`Storage::begin_session`], or (`make` false) only the session it
    /// would find, never one begun nor one past use taken over
    /// ([`SessionStore::find_session`](crate::storage::SessionStore::find_session):
    /// [`StorageError::NoSuchUpload`] where none stages it).
    pub(super) fn find_or_begin(
        &self,
        (name, size, crc): (&Name, u64, u32),
        limits: &SessionLimits,
        make: bool,
    ) -> Result<SessionInfo, StorageError> {
        debug_assert!(size != DEFERRED_SIZE, "a size over any file's");
        let (dir, mut index) = self.books_to_begin(limits.ttl)?;
        let key = self.sessions.key(&dir)?;
        let owner = limits.owner.as_deref();
        // An id taken by another upload (one chance in 2^64) moves this one
        // to the next candidate. Every candidate is looked at, since the
        // one taken may have gone since. A token's session begun by a
        // version whose ids did not name their owner is found where that
        // version made it, never made there.
        let mut free = None;
        let mut found = None;
        let own =
            (0..ID_PROBES).map(|probe| (session_id(&key, (name, owner), size, crc, probe), true));
        let before_owners = (0..ID_PROBES)
            .filter(|_| owner.is_some())
            .map(|probe| (session_id(&key, (name, None), size, crc, probe), false));
        for (id, may_make) in own.chain(before_owners) {
            match files::read_record(&dir, &id) {
                Ok(Some(record)) if record.is_for((name, owner), size, crc) => {
                    found = Some(id);
                    break;
                }
                Ok(Some(_)) => {} // another upload's
                // Missing, or cut short by a process killed while writing
                // it: describes nothing, so the session can be made here.
                Ok(None) | Err(Errno::NOENT) if may_make => {
                    free.get_or_insert(id);
                }
                Ok(None) | Err(Errno::NOENT) => {}
                Err(errno) => return Err(errno.into()),
            }
        }
        if let Some(id) = found {
            if self.sessions.is_committing(&id) {
                return Err(StorageError::Committing);
            }
            match self.session_in(&dir, &id) {
                Ok(mut info) if info.received <= info.size => {
                    // An APPEND here may be streaming into it still.
                    let live = self.sessions.get(&id);
                    info.counted_ahead = live.map_or(0, |live| live.turn().left());
                    if info.received > 0 {
                        index.mark_staged(&id);
                    }
                    touch(&dir, &mut index, &id);
                    return Ok(info);
                }
                // What follows begins the upload anew in its place.
                Ok(_) | Err(StorageError::NoSuchUpload) if !make => {
                    return Err(StorageError::NoSuchUpload);
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
        if !make {
            return Err(StorageError::NoSuchUpload);
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
    pub(super) fn books_to_begin(
        &self,
        ttl: SessionTtl,
    ) -> Result<(OwnedFd, Books<'_>), StorageError> {
        self.pause(Point::Session);
        let dir = self.sessions_dir()?;
        let mut index = self.sessions.bookkeeping(&dir)?;
        self.load_index(&dir, &mut index);
        self.expire_sessions(&dir, &mut index, ttl);
        Ok((dir, index))
    }

    /// Makes session `id` for `(name, size, crc, meta)` within `limits`,
    /// in place of whatever was left under its id.
    pub(super) fn create_session(
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
                link: limits.link.as_ref().map(|(id, _)| id.clone()),
            },
            begun: Some(now_seconds()),
            meta: meta.map(str::to_owned),
            completed: None,
            opened: 0,
        };
        files::create(dir, id, &record, limits.durable)?;
        index.insert(id, now_seconds(), record.begun_by, true);
        let mut info = self.session_in(dir, id)?;
        info.expires = Some(limits.ttl.expires(now_seconds(), info.received));
        Ok(info)
    }
}

/// Candidate ids tried for one upload before giving up.
const ID_PROBES: u32 = 4;

/// Whether `limits` leave room for one more session: the server's cap,
/// the client address's, the owner's and the share link's (one home for
/// the rule).
pub(super) fn check_room(index: &Index, limits: &SessionLimits) -> Result<(), StorageError> {
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
    #[cfg(feature = "shares")]
    if let Some((link, cap)) = &limits.link
        && index.of_link(link) >= *cap
    {
        return Err(StorageError::TooManySessions(SessionCap::Link(*cap)));
    }
    Ok(())
}
