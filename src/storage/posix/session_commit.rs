//! A session's end: [`Storage::finish_session`] verifies a complete
//! session and prepares its commit (an [`FileUpload`] that renames the staged
//! data file onto the target), [`Storage::abort_session`] removes it.
//!
//! Must never commit a session that is incomplete, busy, being committed
//! or whose bytes do not match its CRC-32C, nor touch a multipart upload's
//! data file (only its S3 completion, `parts.rs`, commits that).

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rustix::fs::{Mode, OFlags};

use super::gate::Point;
use super::session_append::staged_crc;
use super::session_files::{self as files, check_id};
use super::session_state::Live;
use super::staging::Staging;
use super::{Storage, StorageError, Upload};
use crate::model::Folders;
use crate::model::SessionInfo;

impl Storage {
    /// Verifies a complete session and prepares its commit: an [`FileUpload`]
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
    pub fn finish_session(
        &self,
        id: &str,
        opener: Option<u64>,
    ) -> Result<(Upload, SessionInfo, u32), StorageError> {
        self.pause(Point::Session);
        check_id(id)?;
        let dir = self.sessions_dir()?;
        let index = self.sessions.bookkeeping(&dir)?;
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
                .and_then(|info| info.opened_by(opener).map(|()| info))
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
        // The rest waits on the disk, not on other sessions: a session
        // written out of order has its CRC read from its bytes here, which
        // may take long, and `committing` keeps everyone else off it.
        drop(index);
        let staged = staged_crc(&staging.live, &file, info.size, u64::MAX, || {
            self.pause(Point::Checksum)
        })?
        .unwrap_or_else(|| unreachable!("no read is longer than u64::MAX bytes"));
        if let Some(expected) = info.crc
            && staged != expected
        {
            let mut index = self.sessions.bookkeeping(&staging.dir)?;
            self.remove_session(&staging.dir, &mut index, id);
            return Err(StorageError::ChecksumMismatch(staged, expected));
        }
        let session = (staging, &info, info.size);
        let upload = self.begin_commit((&info.name, Folders::Implicit), file, session)?;
        Ok((Upload::File(upload), info, staged))
    }

    /// Removes a session and its staged bytes; an APPEND still streaming
    /// into it is cut off (it no longer owns the session). Of a tus upload
    /// stored already, only the mark goes (the file stays).
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] if there is no such session,
    /// [`StorageError::Committing`] if it is being committed.
    pub fn abort_session(&self, id: &str, opener: Option<u64>) -> Result<(), StorageError> {
        self.pause(Point::Session);
        let dir = self.sessions_dir()?;
        let mut index = self.sessions.bookkeeping(&dir)?;
        check_id(id)?;
        let info = self.session_in(&dir, id)?;
        info.opened_by(opener)?;
        if info.stored {
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
        // A write of the APPEND cut off that is under way ends first (the
        // session's turn): what is taken off the counts below is then all
        // that APPEND counts as it ends, its later writes refused.
        let turn = live.turn();
        self.remove_session(&dir, &mut index, id);
        drop(turn);
        Ok(())
    }
}
