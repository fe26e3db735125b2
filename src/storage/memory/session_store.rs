//! The memory store's sessions as a [`SessionStore`]: each verb one call
//! of `sessions.rs` or `appender.rs`, under the store's one lock.

use super::MemoryStore;
use crate::access::quota::Quota;
use crate::model::{ListedSession, SessionInfo, SessionLimits, SessionTtl};
use crate::name::Name;
use crate::storage::{
    Admit, Appender, Appending, Choose, Include, Part, PartUpload, SessionStore, StorageError,
    Upload, Visit,
};

impl SessionStore for MemoryStore {
    fn begin_session(
        &self,
        name: &Name,
        size: u64,
        crc: u32,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        self.begin_session_of((name, size, crc), limits, true)
    }

    fn find_session(
        &self,
        name: &Name,
        size: u64,
        crc: u32,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        self.begin_session_of((name, size, crc), limits, false)
    }

    fn begin_new_session(
        &self,
        name: &Name,
        size: Option<u64>,
        meta: Option<&str>,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        self.begin_new_session_of((name, size, meta), limits)
    }

    fn session(&self, id: &str) -> Result<SessionInfo, StorageError> {
        self.session_of(id)
    }

    fn live_session(&self, id: &str, ttl: SessionTtl) -> Result<SessionInfo, StorageError> {
        self.live_session_of(id, ttl)
    }

    fn visit_sessions(
        &self,
        ttl: SessionTtl,
        include: Include<'_>,
        visit: Visit<'_>,
    ) -> Result<(), StorageError> {
        self.visit_sessions_of(ttl, include, visit)
    }

    fn list_sessions(
        &self,
        ttl: SessionTtl,
        limit: usize,
        include: Include<'_>,
    ) -> Result<Vec<ListedSession>, StorageError> {
        let mut listed = Vec::new();
        if limit > 0 {
            self.visit_sessions_of(ttl, include, &mut |session| {
                listed.push(session);
                listed.len() < limit
            })?;
        }
        Ok(listed)
    }

    fn is_multipart(&self, id: &str) -> bool {
        let tree = self.tree();
        tree.sessions.get(id).is_some_and(|s| s.parts.is_some())
    }

    fn append(
        &self,
        id: &str,
        asked: Appending,
        admit: Admit<'_>,
    ) -> Result<(Appender, SessionInfo), StorageError> {
        self.append_to(id, asked, admit)
    }

    fn declare_session_size(
        &self,
        id: &str,
        size: u64,
        opener: Option<u64>,
    ) -> Result<(), StorageError> {
        self.declare_size_of(id, size, opener)
    }

    fn finish_session(
        &self,
        id: &str,
        opener: Option<u64>,
    ) -> Result<(Upload, SessionInfo, u32), StorageError> {
        self.finish_session_of(id, opener)
    }

    fn abort_session(&self, id: &str, opener: Option<u64>) -> Result<(), StorageError> {
        self.abort_session_of(id, opener)
    }

    fn kept_upload(
        &self,
        owner: Option<&str>,
        name: &Name,
    ) -> Result<Option<SessionInfo>, StorageError> {
        Ok(self.kept_of(owner, name))
    }

    fn keep_upload(
        &self,
        upload: Upload,
        name: &Name,
        staged: (u64, u32),
        limits: &SessionLimits,
    ) -> Result<String, StorageError> {
        self.keep(upload, name, staged.0, limits)
    }

    fn resume_upload(
        &self,
        name: &Name,
        at: (Option<u64>, bool, Option<u64>, Quota),
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        self.resume(name, at, limits)
    }

    fn begin_multipart(
        &self,
        name: &Name,
        meta: Option<&str>,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        self.begin_multipart_of(name, meta, limits)
    }

    fn multipart(&self, id: &str, name: &Name) -> Result<SessionInfo, StorageError> {
        self.multipart_of(id, name)
    }

    fn begin_part(
        &self,
        id: &str,
        name: &Name,
        part: (u32, Option<u64>, Quota),
    ) -> Result<PartUpload, StorageError> {
        self.begin_part_of(id, name, part)
    }

    fn parts(&self, id: &str, name: &Name) -> Result<Vec<Part>, StorageError> {
        self.parts_of(id, name)
    }

    fn finish_multipart(
        &self,
        upload: (&str, &Name, &str),
        choose: Choose<'_>,
    ) -> Result<(Upload, u64, u32, Option<String>), StorageError> {
        self.finish_multipart_of(upload, choose)
    }

    fn completed_multipart(&self, id: &str, name: &Name, listed: &str) -> bool {
        self.completed_multipart_of(id, name, listed)
    }

    fn drop_kept_upload(&self, owner: Option<&str>, name: &Name) -> Result<bool, StorageError> {
        self.drop_kept(owner, name)
    }

    fn read_staged(
        &self,
        id: &str,
        opener: Option<u64>,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, StorageError> {
        let mut tree = self.tree();
        let session = tree.session_mut(id)?;
        session.info(id).opened_by(opener)?;
        let staged = &session.bytes;
        let from = usize::try_from(offset).map_or(staged.len(), |at| at.min(staged.len()));
        let len = buf.len().min(staged.len() - from);
        buf[..len].copy_from_slice(&staged[from..from + len]);
        Ok(len)
    }
}
