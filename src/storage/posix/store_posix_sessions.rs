//! The POSIX root's upload sessions as a [`SessionStore`]: each verb the
//! call of `Storage` that does it (`session_*.rs`), its APPEND's data
//! file held as it is.

use super::{
    Admit, Appender, Appending, Choose, Include, Part, PartUpload, SessionStore, Storage,
    StorageError, Upload, Visit,
};
use crate::access::quota::Quota;
use crate::model::{ListedSession, SessionInfo, SessionLimits, SessionTtl};
use crate::name::Name;

impl SessionStore for Storage {
    fn begin_session(
        &self,
        name: &Name,
        size: u64,
        crc: u32,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        Storage::begin_session(self, name, size, crc, limits)
    }

    fn find_session(
        &self,
        name: &Name,
        size: u64,
        crc: u32,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        self.find_or_begin((name, size, crc), limits, false)
    }

    fn begin_new_session(
        &self,
        name: &Name,
        size: Option<u64>,
        meta: Option<&str>,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        Storage::begin_new_session(self, name, size, meta, limits)
    }

    fn session(&self, id: &str) -> Result<SessionInfo, StorageError> {
        Storage::session(self, id)
    }

    fn live_session(&self, id: &str, ttl: SessionTtl) -> Result<SessionInfo, StorageError> {
        Storage::live_session(self, id, ttl)
    }

    fn visit_sessions(
        &self,
        ttl: SessionTtl,
        include: Include<'_>,
        visit: Visit<'_>,
    ) -> Result<(), StorageError> {
        Storage::visit_sessions(self, ttl, include, visit)
    }

    fn list_sessions(
        &self,
        ttl: SessionTtl,
        limit: usize,
        include: Include<'_>,
    ) -> Result<Vec<ListedSession>, StorageError> {
        Storage::list_sessions(self, ttl, limit, include)
    }

    fn is_multipart(&self, id: &str) -> bool {
        Storage::is_multipart(self, id)
    }

    fn append(
        &self,
        id: &str,
        asked: Appending,
        admit: Admit<'_>,
    ) -> Result<(Appender, SessionInfo), StorageError> {
        let judged = |info: &SessionInfo| match admit(info) {
            true => Ok(()),
            false => Err(StorageError::NotAdmitted),
        };
        let (appender, info) = Storage::append(self, id, asked, judged)?;
        Ok((Appender::File(appender), info))
    }

    fn declare_session_size(
        &self,
        id: &str,
        size: u64,
        opener: Option<u64>,
    ) -> Result<(), StorageError> {
        Storage::declare_session_size(self, id, size, opener)
    }

    fn finish_session(
        &self,
        id: &str,
        opener: Option<u64>,
    ) -> Result<(Upload, SessionInfo, u32), StorageError> {
        Storage::finish_session(self, id, opener)
    }

    fn abort_session(&self, id: &str, opener: Option<u64>) -> Result<(), StorageError> {
        Storage::abort_session(self, id, opener)
    }

    fn kept_upload(
        &self,
        owner: Option<&str>,
        name: &Name,
    ) -> Result<Option<SessionInfo>, StorageError> {
        Storage::kept_upload(self, owner, name)
    }

    fn keep_upload(
        &self,
        upload: Upload,
        name: &Name,
        staged: (u64, u32),
        limits: &SessionLimits,
    ) -> Result<String, StorageError> {
        Storage::keep_upload(self, upload, name, staged, limits)
    }

    fn resume_upload(
        &self,
        name: &Name,
        at: (Option<u64>, bool, Option<u64>, Quota),
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        Storage::resume_upload(self, name, at, limits)
    }

    fn begin_multipart(
        &self,
        name: &Name,
        meta: Option<&str>,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        Storage::begin_multipart(self, name, meta, limits)
    }

    fn multipart(&self, id: &str, name: &Name) -> Result<SessionInfo, StorageError> {
        Storage::multipart(self, id, name)
    }

    fn begin_part(
        &self,
        id: &str,
        name: &Name,
        part: (u32, Option<u64>, Quota),
    ) -> Result<PartUpload, StorageError> {
        Storage::begin_part(self, id, name, part).map(PartUpload::File)
    }

    fn parts(&self, id: &str, name: &Name) -> Result<Vec<Part>, StorageError> {
        Storage::parts(self, id, name)
    }

    fn finish_multipart(
        &self,
        upload: (&str, &Name, &str),
        choose: Choose<'_>,
    ) -> Result<(Upload, u64, u32, Option<String>), StorageError> {
        Storage::finish_multipart(self, upload, |staged, meta| {
            choose(staged, meta).ok_or(StorageError::NotAdmitted)
        })
    }

    fn completed_multipart(&self, id: &str, name: &Name, listed: &str) -> bool {
        Storage::completed_multipart(self, id, name, listed)
    }

    fn drop_kept_upload(&self, owner: Option<&str>, name: &Name) -> Result<bool, StorageError> {
        Storage::drop_kept_upload(self, owner, name)
    }

    fn read_staged(
        &self,
        id: &str,
        opener: Option<u64>,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, StorageError> {
        Storage::read_staged(self, (id, opener), offset, buf)
    }
}
