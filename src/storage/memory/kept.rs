//! A memory store's uploads kept to go on with (FTP's resume), as the
//! POSIX engine's `posix/session_kept.rs` keeps them: a `STOR` cut off keeps
//! what arrived as a session of its token and name (one per token and
//! name, of a size to come), which `REST` + `STOR` or `APPE` go on with,
//! cut back to where they go on from, or begun from the file's bytes.

use super::sessions::Session;
use super::upload::MemoryUpload;
use super::{MemoryStore, Tree, now};
use crate::access::quota::Quota;
use crate::model::{DEFERRED_SIZE, SessionInfo, SessionLimits};
use crate::name::Name;
use crate::storage::session_store::{KEPT, KEPT_ONTO};
use crate::storage::upload_handle::another_engine;
use crate::storage::{StorageError, Upload};

impl Tree {
    /// The id of the upload of `name` kept for `owner`.
    fn kept_id(&self, owner: Option<&str>, name: &Name) -> Option<String> {
        let kept = self
            .sessions
            .iter()
            .find(|(_, session)| session.is_kept(owner, name));
        kept.map(|(id, _)| id.clone())
    }

    /// Removes the upload of `name` kept for `owner`, unless it is in use;
    /// whether there was one.
    fn make_way(&mut self, owner: Option<&str>, name: &Name) -> Result<bool, StorageError> {
        let Some(id) = self.kept_id(owner, name) else {
            return Ok(false);
        };
        if self.session_mut(&id)?.in_use() {
            return Err(StorageError::SessionBusy);
        }
        self.sessions.remove(&id);
        Ok(true)
    }

    /// A new kept upload of `name` within `limits`, holding `bytes`.
    fn begin_kept(
        &mut self,
        name: &Name,
        (meta, bytes): (&str, Vec<u8>),
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        let mut info = self.create_session((name, DEFERRED_SIZE, None, Some(meta)), limits)?;
        info.received = bytes.len() as u64;
        self.session_mut(&info.id)?.bytes = bytes;
        Ok(info)
    }
}

impl Session {
    /// Whether it is the upload of `name` kept for `owner`.
    fn is_kept(&self, owner: Option<&str>, name: &Name) -> bool {
        !self.stored
            && matches!(self.meta.as_deref(), Some(KEPT | KEPT_ONTO))
            && self.owner.as_deref() == owner
            && self.name == *name
    }
}

impl MemoryStore {
    /// As [`SessionStore::kept_upload`](crate::storage::SessionStore::kept_upload).
    pub(super) fn kept_of(&self, owner: Option<&str>, name: &Name) -> Option<SessionInfo> {
        let tree = self.tree();
        let id = tree.kept_id(owner, name)?;
        tree.sessions.get(&id).map(|session| session.info(&id))
    }

    /// As [`SessionStore::keep_upload`](crate::storage::SessionStore::keep_upload).
    pub(super) fn keep(
        &self,
        upload: Upload,
        name: &Name,
        staged: u64,
        limits: &SessionLimits,
    ) -> Result<String, StorageError> {
        let Upload::Other(upload) = upload else {
            return Err(another_engine());
        };
        // Dropped after the tree's lock (its drop takes it) where it
        // cannot be kept: it goes as any upload cut off does.
        let mut upload = upload.into_any().downcast::<MemoryUpload>();
        let upload = upload.as_mut().map_err(|_| another_engine())?;
        let mut tree = self.tree();
        tree.expire(limits.ttl);
        tree.make_way(limits.owner.as_deref(), name)?;
        tree.check_caps(limits)?;
        tree.can_be_file(name.as_str())?;
        let bytes = upload.take_kept(staged);
        Ok(tree.begin_kept(name, (KEPT, bytes), limits)?.id)
    }

    /// As [`SessionStore::resume_upload`](crate::storage::SessionStore::resume_upload).
    pub(super) fn resume(
        &self,
        name: &Name,
        (offset, read, held, quota): (Option<u64>, bool, Option<u64>, Quota),
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        let mut tree = self.tree();
        tree.expire(limits.ttl);
        if let Some(id) = tree.kept_id(limits.owner.as_deref(), name) {
            let session = tree.session_mut(&id)?;
            let mut kept = session.info(&id);
            kept.opened_by(held)?;
            if !read && kept.holds_unread_bytes() && offset.is_some_and(|at| at > 0) {
                return Err(StorageError::PastEnd(0));
            }
            let at = offset.unwrap_or(kept.received);
            if at > kept.received {
                return Err(StorageError::PastEnd(kept.received));
            }
            // An open takes over only a quiet upload: never one with a
            // write half-landed or its commit under way.
            if session.in_use() {
                return Err(StorageError::SessionBusy);
            }
            if at < kept.received {
                session
                    .bytes
                    .truncate(usize::try_from(at).unwrap_or(usize::MAX));
                kept.received = at;
            }
            session.used = now().0;
            // This open takes it over: a handle that opened it before is
            // superseded (`SessionInfo::opened_by`).
            session.opener += 1;
            kept.opener = session.opener;
            // A size an older close declared (its commit never came) is
            // not this open's: its own close says one.
            (session.size, kept.size) = (DEFERRED_SIZE, DEFERRED_SIZE);
            return Ok(kept);
        }
        if held.is_some() {
            // The handle's upload is gone (let go, committed, expired).
            return Err(StorageError::Superseded);
        }
        let current = match tree.file(name.as_str()) {
            Some(file) => file.bytes.len() as u64,
            None if tree.folder(name.as_str()).is_some() => return Err(StorageError::IsDirectory),
            None => 0,
        };
        let at = offset.unwrap_or(current);
        if !read && offset.is_some_and(|at| at > 0) {
            return Err(StorageError::PastEnd(0));
        }
        if at > current {
            return Err(StorageError::PastEnd(current));
        }
        let meta = if read || at == 0 { KEPT } else { KEPT_ONTO };
        let seed = tree.file(name.as_str()).map_or_else(Vec::new, |file| {
            file.bytes[..usize::try_from(at).unwrap_or(usize::MAX)].to_vec()
        });
        let mut info = tree.begin_kept(name, (meta, Vec::new()), limits)?;
        // Its copy counted before it is made, judged in the same step.
        if let Err(err) = tree.count_ahead(&info.id, at, quota) {
            tree.sessions.remove(&info.id);
            return Err(err);
        }
        let session = tree.session_mut(&info.id)?;
        // (Nothing was counted ahead where usage is not counted.)
        (session.bytes, session.ahead) = (seed, session.ahead.saturating_sub(at));
        info.received = at;
        // Its first open.
        info.opener = crate::storage::first_opener();
        tree.session_mut(&info.id)?.opener = info.opener;
        Ok(info)
    }

    /// As [`SessionStore::drop_kept_upload`](crate::storage::SessionStore::drop_kept_upload).
    pub(super) fn drop_kept(&self, owner: Option<&str>, name: &Name) -> Result<bool, StorageError> {
        self.tree().make_way(owner, name)
    }
}
