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
//! the data file as an APPEND goes (every
//! [`RECORD_EVERY`](super::session_state::RECORD_EVERY) bytes, and when
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
//! Here: what a session is ([`SessionInfo`]) and what bounds the sessions
//! an `UPLOAD` may begin ([`SessionLimits`]), and the reads of one
//! session's record. Beginning one is `session_begin.rs`'s, an APPEND's
//! bytes `session_append.rs`'s, its commit or abort `session_commit.rs`'s,
//! the listing of them `session_list.rs`'s. Nothing here writes a
//! session's bytes or its record: a session is only marked used (`touch`)
//! or removed.

use std::io;
use std::os::fd::OwnedFd;

use rustix::fs::AtFlags;
use rustix::io::Errno;

use super::gate::Point;
use super::session_files::{self as files, Record, check_id, now_seconds};
use super::session_index::Index;
use super::{Storage, StorageError};
use crate::model::SessionInfo;
use crate::name::Name;

impl Storage {
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

    pub(super) fn session_in(&self, dir: &OwnedFd, id: &str) -> Result<SessionInfo, StorageError> {
        self.described(dir, id).map(|(info, _)| info)
    }

    /// A session's description and progress, with the record they come
    /// from.
    pub(super) fn described(
        &self,
        dir: &OwnedFd,
        id: &str,
    ) -> Result<(SessionInfo, Record), StorageError> {
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
            owner: record.begun_by.owner.clone(),
            link: record.begun_by.link.clone(),
            expires: None,
            stored: false,
            opener: record.opened,
            counted_ahead: 0,
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
                    owner: record.begun_by.owner.clone(),
                    link: record.begun_by.link.clone(),
                    expires: None,
                    stored: true,
                    opener: record.opened,
                    counted_ahead: 0,
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

    /// Removes session `id`, its staged bytes taken from the ledger.
    pub(super) fn remove_session(&self, dir: &OwnedFd, index: &mut Index, id: &str) {
        let unstaged = self.unstaged(dir, id);
        files::remove(dir, id);
        if let Some((count, change)) = unstaged {
            count.count(change);
        }
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

/// Marks a session as used now: its TTL counts from its last use.
pub(super) fn touch(dir: &OwnedFd, index: &mut Index, id: &str) {
    files::touch(dir, id);
    index.touch(id, now_seconds());
}
