//! When upload sessions expire: a session untouched for `--upload-ttl`
//! goes, one that never received a byte (or whose last APPEND ran out of
//! space) sooner, found in the index (`session_index.rs`) without a scan
//! of the directory; nothing another node sharing the root is using, or
//! used since, goes.

use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, Mode};

use super::session_files as files;
use super::session_files::now_seconds;
use super::session_index::Index;
use super::{Storage, StorageError};
use crate::model::{SessionInfo, SessionTtl};

impl Storage {
    /// Reads the sessions directory into the index, then removes
    /// sessions untouched for longer than `ttl`; returns how many went.
    /// Run at startup and every sweep period (off the loop, see
    /// `server/sweeps.rs`); every `UPLOAD` expires from the index too. The
    /// directory is read whole once; later sweeps read it again only for
    /// sessions other nodes began since that have outlived `ttl` (a dead
    /// node's), so that they go without any node restarting.
    pub fn expire_upload_sessions(&self, ttl: SessionTtl) -> usize {
        let Ok(dir) =
            rustix::fs::openat(&*self.root, files::SESSIONS_DIR, super::DIR, Mode::empty())
        else {
            return 0;
        };
        match self.sessions.bookkeeping(&dir) {
            Ok(mut index) => {
                match index.is_loaded() {
                    true => adopt_expired(&dir, &mut index, ttl),
                    false => self.load_index(&dir, &mut index),
                }
                self.expire_sessions(&dir, &mut index, ttl)
            }
            Err(err) => {
                log::warn!("upload sessions not expired: {err}");
                0
            }
        }
    }

    /// Reads session `id`, with when it expires, unless it has outlived
    /// `ttl` already: then it is removed, as the next sweep would remove
    /// it, so that no client resumes an upload the server may drop at any
    /// moment. A session in use here, or locked by another node, is not.
    ///
    /// # Errors
    /// [`StorageError::Expired`] if it was removed;
    /// [`StorageError::NoSuchUpload`] and the rest as [`Storage::session`].
    pub fn live_session(&self, id: &str, ttl: SessionTtl) -> Result<SessionInfo, StorageError> {
        super::session_files::check_id(id)?;
        let dir = self.sessions_dir()?;
        let mut info = self.session_in_checked(&dir, id)?;
        if info.stored {
            return Ok(info); // nothing left to expire but a mark, swept apart
        }
        let used = files::last_used(&dir, id).unwrap_or_else(now_seconds);
        info.expires = Some(ttl.expires(used, info.received));
        if !ttl.has_expired(used, info.received) {
            return Ok(info);
        }
        let mut index = self.sessions.bookkeeping(&dir)?;
        self.load_index(&dir, &mut index);
        let in_use = self
            .sessions
            .get(id)
            .is_some_and(|live| live.busy() || live.committing.load(Ordering::SeqCst));
        // Used since by another node (read again under the lock)?
        let used = files::last_used(&dir, id).unwrap_or(used);
        if in_use || !ttl.has_expired(used, info.received) {
            return Ok(info);
        }
        match files::try_lock_session(&dir, id) {
            Ok(Some(_lock)) => {
                log::info!("upload session {id} expired");
                self.remove_session(&dir, &mut index, id);
                Err(StorageError::Expired)
            }
            Ok(None) | Err(_) => Ok(info),
        }
    }

    /// Reads every session of directory `dir` into `index`, once, with
    /// the halves of sessions a crash left, so that they expire too.
    pub(super) fn load_index(&self, dir: &OwnedFd, index: &mut Index) {
        if index.is_loaded() {
            return;
        }
        index.set_loaded();
        for found in files::scan(dir) {
            match found.stored {
                true => index.add_stored(&found.id, found.used),
                false => index.insert(&found.id, found.used, found.begun_by, found.empty),
            }
        }
    }

    /// Adds to the index the sessions other nodes began since it was
    /// loaded (a listing through any node shows every session), where
    /// other nodes share the root: a scan of the sessions directory.
    pub(super) fn take_in_others_sessions(&self, dir: &OwnedFd, index: &mut Index) {
        let shared = self.nodes.as_ref().is_some_and(|nodes| {
            super::nodes::other_nodes(nodes, &self.node).is_ok_and(|others| !others.is_empty())
        });
        if !shared {
            return;
        }
        for found in files::scan(dir) {
            if !found.stored && index.used(&found.id).is_none() {
                index.insert(&found.id, found.used, found.begun_by, found.empty);
            }
        }
    }

    /// Removes sessions last used before `ttl` ago, found in the index:
    /// those with staged bytes after `ttl.staged`, those without after
    /// `ttl.empty`; returns how many. Busy sessions are left alone. The
    /// caller holds the bookkeeping lock.
    pub(super) fn expire_sessions(
        &self,
        dir: &OwnedFd,
        index: &mut Index,
        ttl: SessionTtl,
    ) -> usize {
        let (staged, empty) = (seconds_ago(ttl.staged), seconds_ago(ttl.empty));
        let in_use = |id: &&str| {
            self.sessions
                .get(id)
                .is_some_and(|live| live.busy() || live.committing.load(Ordering::SeqCst))
        };
        // Every session older than the long TTL, then the empty ones
        // between the two (the index may think empty what another node
        // has written to since: looked at below), then those whose last
        // APPEND ran out of space here and that nobody touched since.
        let out_of_space: Vec<String> = self
            .sessions
            .live()
            .iter()
            .filter(|(_, live)| live.out_of_space.load(Ordering::Relaxed))
            .map(|(id, _)| id.clone())
            .collect();
        let candidates: Vec<(String, Expiry)> = index
            .used_before(staged)
            .filter(|id| !in_use(id))
            .map(|id| (id.to_owned(), Expiry::Any(staged)))
            .chain(
                index
                    .empty_used_between(staged, empty)
                    .filter(|id| !in_use(id))
                    .map(|id| (id.to_owned(), Expiry::IfEmpty(empty))),
            )
            .chain(
                out_of_space
                    .iter()
                    .map(String::as_str)
                    .filter(|id| {
                        index
                            .used(id)
                            .is_some_and(|used| (staged..empty).contains(&used))
                    })
                    .filter(|id| !in_use(id))
                    .map(|id| (id.to_owned(), Expiry::Any(empty))),
            )
            .collect();
        // The marks of stored uploads go after the short TTL: long enough
        // for a client to ask again after a lost answer.
        for id in index.take_stored_before(empty) {
            let _ = rustix::fs::unlinkat(dir, files::stored_name(&id), AtFlags::empty());
        }
        let mut expired = 0;
        for (id, expiry) in &candidates {
            let (Expiry::Any(cutoff) | Expiry::IfEmpty(cutoff)) = *expiry;
            let id = id.as_str();
            if let Expiry::IfEmpty(_) = expiry
                && files::staged_bytes(dir, id).is_some_and(|bytes| bytes > 0)
            {
                index.mark_staged(id);
                continue;
            }
            // Another node sharing the root may have used it since this
            // one last did (its record's time says), or be using it now
            // (it holds its lock); a half a crash left has no record.
            if let Some(used) = files::last_used(dir, id).filter(|used| *used >= cutoff) {
                index.touch(id, used);
                continue;
            }
            let _lock = match files::try_lock_session(dir, id) {
                Ok(Some(lock)) => Some(lock),
                Ok(None) => continue,
                Err(_) => None,
            };
            log::info!("upload session {id} expired");
            self.remove_session(dir, index, id);
            expired += 1;
        }
        expired
    }
}

/// Puts into `index` the sessions of `dir` it does not know (begun by
/// other nodes since it was read) that have outlived `ttl` already, so
/// that the expiry after removes them. Only those: a live one of another
/// node's would count in this node's caps on sessions per client.
fn adopt_expired(dir: &OwnedFd, index: &mut Index, ttl: SessionTtl) {
    let (staged, empty) = (seconds_ago(ttl.staged), seconds_ago(ttl.empty));
    for found in files::scan(dir) {
        let outlived = found.used < staged || (found.empty && found.used < empty);
        if !found.stored && outlived && index.used(&found.id).is_none() {
            index.insert(&found.id, found.used, found.begun_by, found.empty);
        }
    }
}

/// Why a session is a candidate for expiry: untouched since before the
/// cutoff (seconds since the epoch), whatever it holds, or only if it still
/// holds no byte.
#[derive(Debug, Clone, Copy)]
enum Expiry {
    Any(i64),
    IfEmpty(i64),
}

/// The time `ago` before now, in seconds since the epoch (0 for a time
/// before it): what was used before it has outlived `ago`. A TTL of
/// nothing keeps nothing, whatever the second, as
/// [`SessionTtl::has_expired`] judges: after every second.
fn seconds_ago(ago: Duration) -> i64 {
    if ago.is_zero() {
        return i64::MAX;
    }
    SystemTime::now()
        .checked_sub(ago)
        .and_then(|then| then.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}
