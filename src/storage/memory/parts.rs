//! A memory store's S3 multipart uploads, as the POSIX engine's
//! `posix/parts.rs` keeps them: a session of its own whose parts are staged
//! apart by number (a part sent again replaces the old one as it lands;
//! one cut short leaves the upload as it was), their bytes counted
//! before they arrive where their length is known, and a completion that
//! assembles the parts its caller chooses into an upload that takes the
//! session with it as it lands, leaving a mark of the list it was
//! completed from.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{MemoryStore, Tree, now};
use crate::access::quota::Quota;
use crate::model::{DEFERRED_SIZE, Folders, SessionInfo, SessionLimits};
use crate::name::Name;
use crate::storage::{Choose, EnginePart, Part, PartUpload, StorageError, Upload};

/// A part staged.
#[derive(Debug, Clone)]
pub(super) struct StagedPart {
    pub(super) bytes: Arc<[u8]>,
    md5: [u8; 16],
    crc: u32,
    checksum: Option<String>,
    modified: i64,
}

impl StagedPart {
    fn part(&self, number: u32) -> Part {
        Part {
            number,
            size: self.bytes.len() as u64,
            md5: self.md5,
            crc: self.crc,
            modified: self.modified,
            at: None,
            checksum: self.checksum.clone(),
        }
    }
}

/// A part of a memory store's multipart upload on its way.
#[derive(Debug)]
pub struct MemoryPart {
    tree: Arc<Mutex<Tree>>,
    id: String,
    number: u32,
    meta: Option<String>,
    bytes: Vec<u8>,
    /// Bytes counted before they arrived, given back as it ends
    /// (`None` once it has).
    reserved: Option<u64>,
}

impl Tree {
    /// Multipart upload `id`, if it is `name`'s.
    fn multipart_of(&mut self, id: &str, name: &Name) -> Result<SessionInfo, StorageError> {
        match self.sessions.get(id) {
            Some(session) if session.parts.is_some() && session.name == *name => {
                Ok(session.info(id))
            }
            _ => Err(StorageError::NoSuchUpload),
        }
    }
}

impl MemoryStore {
    /// As [`SessionStore::begin_multipart`](crate::storage::SessionStore::begin_multipart).
    pub(super) fn begin_multipart_of(
        &self,
        name: &Name,
        meta: Option<&str>,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        // One change of the tree: never a session of another kind between.
        let mut tree = self.tree();
        if let Some((bucket, _)) = name.as_str().split_once('/') {
            tree.check_bucket(bucket)?;
        }
        tree.expire(limits.ttl);
        let info = tree.create_session((name, DEFERRED_SIZE, None, meta), limits)?;
        tree.session_mut(&info.id)?.parts = Some(BTreeMap::new());
        Ok(info)
    }

    /// As [`SessionStore::multipart`](crate::storage::SessionStore::multipart).
    pub(super) fn multipart_of(&self, id: &str, name: &Name) -> Result<SessionInfo, StorageError> {
        self.tree().multipart_of(id, name)
    }

    /// As [`SessionStore::begin_part`](crate::storage::SessionStore::begin_part).
    pub(super) fn begin_part_of(
        &self,
        id: &str,
        name: &Name,
        (number, len, quota): (u32, Option<u64>, Quota),
    ) -> Result<PartUpload, StorageError> {
        let mut tree = self.tree();
        let info = tree.multipart_of(id, name)?;
        if tree.session_mut(id)?.committing {
            return Err(StorageError::Committing);
        }
        if let Some(len) = len {
            tree.count_ahead(id, len, quota)?;
        }
        let session = tree.session_mut(id)?;
        session.used = now().0;
        session.parts_arriving += 1;
        session.part_begun = true;
        let part = MemoryPart {
            tree: Arc::clone(&self.tree),
            id: id.to_owned(),
            number,
            meta: info.meta,
            bytes: Vec::new(),
            reserved: Some(len.unwrap_or(0)),
        };
        Ok(PartUpload::Other(Box::new(part)))
    }

    /// As [`SessionStore::parts`](crate::storage::SessionStore::parts).
    pub(super) fn parts_of(&self, id: &str, name: &Name) -> Result<Vec<Part>, StorageError> {
        let mut tree = self.tree();
        tree.multipart_of(id, name)?;
        let parts = tree.session_mut(id)?.parts.iter().flatten();
        Ok(parts.map(|(number, part)| part.part(*number)).collect())
    }

    /// As [`SessionStore::finish_multipart`](crate::storage::SessionStore::finish_multipart):
    /// `choose` is asked without the tree's lock (it may ask for room).
    pub(super) fn finish_multipart_of(
        &self,
        (id, name, listed): (&str, &Name, &str),
        choose: Choose<'_>,
    ) -> Result<(Upload, u64, u32, Option<String>), StorageError> {
        let (info, staged) = {
            let mut tree = self.tree();
            let info = tree.multipart_of(id, name)?;
            let session = tree.session_mut(id)?;
            // As the POSIX engine holds a part's slot: a part on its way
            // is not left out of (nor lost by) a completion.
            if session.parts_arriving > 0 {
                return Err(StorageError::SessionBusy);
            }
            if session.committing {
                return Err(StorageError::Committing);
            }
            session.committing = true;
            let staged = session.parts.clone().unwrap_or_default();
            (info, staged)
        };
        let parts = staged.iter().map(|(number, part)| part.part(*number));
        let Some(chosen) = choose(parts.collect(), info.meta.as_deref()) else {
            self.stop_committing(id);
            return Err(StorageError::NotAdmitted);
        };
        let mut bytes = Vec::new();
        for part in &chosen {
            match staged.get(&part.number) {
                Some(staged) => bytes.extend_from_slice(&staged.bytes),
                None => {
                    self.stop_committing(id);
                    return Err(StorageError::NoSuchUpload);
                }
            }
        }
        let (size, crc) = (
            bytes.len() as u64,
            crate::formats::castagnoli::checksum(&bytes),
        );
        let upload = self.begin_session_commit((name, Folders::Keys), (id, bytes));
        let upload = upload.inspect_err(|_| self.stop_committing(id))?;
        if let Ok(session) = self.tree().session_mut(id) {
            session.completing = Some(listed.to_owned());
        }
        Ok((Upload::Other(Box::new(upload)), size, crc, info.meta))
    }

    /// As [`SessionStore::completed_multipart`](crate::storage::SessionStore::completed_multipart).
    pub(super) fn completed_multipart_of(&self, id: &str, name: &Name, listed: &str) -> bool {
        let tree = self.tree();
        tree.sessions.get(id).is_some_and(|mark| {
            mark.stored && mark.name == *name && mark.completing.as_deref() == Some(listed)
        })
    }
}

impl MemoryPart {
    /// Ends it (once): gives back what was counted ahead and never
    /// staged, and it is on its way no more.
    fn end(&mut self, tree: &mut Tree) {
        let Some(reserved) = self.reserved.take() else {
            return;
        };
        if let Ok(session) = tree.session_mut(&self.id) {
            session.ahead = session.ahead.saturating_sub(reserved);
            session.parts_arriving = session.parts_arriving.saturating_sub(1);
        }
    }
}

impl EnginePart for MemoryPart {
    fn upload_meta(&self) -> Option<&str> {
        self.meta.as_deref()
    }

    fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        self.tree
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fault()?;
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    /// Stages it in place of any part of its number, as one change.
    fn commit(
        mut self: Box<Self>,
        (md5, crc, checksum): ([u8; 16], u32, Option<&str>),
        _durable: bool,
    ) -> Result<(), StorageError> {
        let tree = Arc::clone(&self.tree);
        let mut tree = tree.lock().unwrap_or_else(PoisonError::into_inner);
        self.end(&mut tree);
        let session = tree.session_mut(&self.id)?;
        if session.committing {
            return Err(StorageError::Committing);
        }
        let Some(parts) = session.parts.as_mut() else {
            return Err(StorageError::NoSuchUpload);
        };
        let part = StagedPart {
            bytes: std::mem::take(&mut self.bytes).into(),
            md5,
            crc,
            checksum: checksum.map(str::to_owned),
            modified: now().0,
        };
        parts.insert(self.number, part);
        session.used = now().0;
        Ok(())
    }
}

impl Drop for MemoryPart {
    fn drop(&mut self) {
        if self.reserved.is_some() {
            let tree = Arc::clone(&self.tree);
            let mut tree = tree.lock().unwrap_or_else(PoisonError::into_inner);
            self.end(&mut tree);
        }
    }
}
