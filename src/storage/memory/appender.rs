//! A memory store's APPENDs: [`MemoryStore::append_to`] judges the
//! session as the POSIX engine's `append` does (admitted, unexpired, at
//! its offset, within its size, declared first where asked; its bytes
//! counted against the quotas before they arrive) and takes it over from
//! an APPEND still streaming; [`MemoryAppender`] stages the bytes while
//! it owns the session.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::sessions::{Session, declare_size};
use super::{MemoryStore, Tree, now};
use crate::access::quota::Quota;
use crate::model::SessionInfo;
use crate::storage::unwritten::Unwritten;
use crate::storage::{Admit, Appender, Appending, EngineAppender, ReserveAsWritten, StorageError};

/// An APPEND streaming into a memory store's session.
#[derive(Debug)]
pub struct MemoryAppender {
    tree: Arc<Mutex<Tree>>,
    id: String,
    /// Which APPEND this is: it writes only while the session is its.
    ticket: u64,
    /// Bytes staged when it began.
    start: u64,
    /// Where its next bytes go, written anywhere (`Appending::anywhere`);
    /// `None`: at the end.
    at: Option<u64>,
    written: u64,
    /// Bytes counted ahead and not arrived yet, shared with the session
    /// while it owns it.
    unwritten: Arc<Unwritten>,
    /// A length to come counts each write against this quota first.
    quota: Option<Quota>,
}

impl MemoryStore {
    /// As [`SessionStore::append`](crate::storage::SessionStore::append).
    pub(super) fn append_to(
        &self,
        id: &str,
        asked: Appending,
        admit: Admit<'_>,
    ) -> Result<(Appender, SessionInfo), StorageError> {
        let mut tree = self.tree();
        let session = tree.session_mut(id)?;
        if session.committing {
            return Err(StorageError::Committing);
        }
        let info = session.info(id);
        if !admit(&info) {
            return Err(StorageError::NotAdmitted);
        }
        if info.stored {
            return Err(StorageError::Stored(info.size));
        }
        // A multipart upload's bytes are its parts.
        if session.parts.is_some() {
            return Err(StorageError::NoSuchUpload);
        }
        if asked.ttl.is_some_and(|ttl| session.has_expired(ttl)) {
            log::info!("upload session {id} expired");
            tree.sessions.remove(id);
            return Err(StorageError::Expired);
        }
        let info = appendable(tree.session_mut(id)?, info, asked)?;
        let growth = match asked.anywhere {
            true => (asked.offset.saturating_add(asked.len)).saturating_sub(info.received),
            false => asked.len,
        };
        // What an older APPEND counted and will never write now is
        // this one's to take on.
        let taken_on = tree.session_mut(id)?.unwritten.left().min(growth);
        if let Some(quota) = asked.ahead {
            tree.count_ahead(id, growth - taken_on, quota)?;
        }
        tree.tickets += 1;
        let ticket = tree.tickets;
        let session = tree.session_mut(id)?;
        let reserved = match asked.ahead {
            Some(_) => growth - taken_on + session.unwritten.hand_on(taken_on),
            None => 0,
        };
        let unwritten = Arc::new(Unwritten::new(reserved));
        session.unwritten = Arc::clone(&unwritten);
        if session.writer != 0 {
            log::info!("upload session {id}: a new APPEND takes over from one still open");
        }
        session.writer = ticket;
        session.used = now().0;
        let appender = MemoryAppender {
            tree: Arc::clone(&self.tree),
            id: id.to_owned(),
            ticket,
            start: info.received,
            at: asked.anywhere.then_some(asked.offset),
            written: 0,
            unwritten,
            quota: None,
        };
        Ok((Appender::Other(Box::new(appender)), info))
    }
}

/// `info`, session `session` as read, if it takes the bytes `asked`: at
/// its offset, within its size (declared first where the APPEND declares
/// it).
fn appendable(
    session: &mut Session,
    mut info: SessionInfo,
    asked: Appending,
) -> Result<SessionInfo, StorageError> {
    if let Some(size) = asked.size {
        declare_size(session, size)?;
        info.size = size;
    }
    if asked.offset != info.received && !asked.anywhere {
        return Err(StorageError::WrongOffset(info.received));
    }
    let end = asked.offset.checked_add(asked.len);
    if end.is_none_or(|end| end > info.size) {
        return Err(StorageError::PastEnd(info.size));
    }
    Ok(info)
}

impl Tree {
    /// Counts `len` bytes of session `id` before they arrive, if the
    /// quotas of its owner (judged by `quota`, the writer's) and of the
    /// folders above it have room for them, as the POSIX engine's
    /// ledger judges a staged count (one file more, for a file quota).
    pub(super) fn count_ahead(
        &mut self,
        id: &str,
        len: u64,
        quota: Quota,
    ) -> Result<(), StorageError> {
        if self.counting.is_some() {
            let session = self.session_mut(id)?;
            let (name, owner) = (session.name.clone(), session.owner.clone());
            self.admits((owner.as_deref(), Some(quota)), name.as_str(), len)?;
        }
        self.session_mut(id)?.ahead += len;
        Ok(())
    }
}

impl MemoryAppender {
    fn tree(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives back what was counted ahead and never arrived, and frees the
    /// session unless a newer APPEND owns it.
    fn end(&mut self) {
        let mut tree = self.tree();
        let reserved = self.unwritten.take_rest();
        if let Ok(session) = tree.session_mut(&self.id) {
            session.ahead = session.ahead.saturating_sub(reserved);
            if session.writer == self.ticket {
                session.writer = 0;
            }
        }
    }
}

impl EngineAppender for MemoryAppender {
    fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        let len = data.len() as u64;
        let (quota, id, ticket) = (self.quota, self.id.clone(), self.ticket);
        let mut tree = self.tree.lock().unwrap_or_else(PoisonError::into_inner);
        match tree.sessions.get(&id) {
            Some(session) if session.writer == ticket => {}
            _ => return Err(StorageError::Superseded),
        }
        tree.fault()?;
        let mut reserved = self.unwritten.left();
        let from_reserved = len.min(reserved);
        if let Some(quota) = quota
            && len > from_reserved
        {
            tree.count_ahead(&id, len - from_reserved, quota)?;
            reserved += len - from_reserved;
            self.unwritten.set(reserved);
        }
        let session = tree.session_mut(&id)?;
        let grows = match self.at {
            Some(at) => (at + len).saturating_sub(session.bytes.len() as u64),
            None => len,
        };
        let counted = grows.min(reserved);
        session.ahead = session.ahead.saturating_sub(counted);
        self.unwritten.set(reserved - counted);
        match self.at {
            Some(at) => {
                // Written anywhere: a hole before it reads as zeros.
                let (from, end) = (usize::try_from(at), usize::try_from(at + len));
                let (Ok(from), Ok(end)) = (from, end) else {
                    return Err(StorageError::PastEnd(u64::MAX));
                };
                if session.bytes.len() < end {
                    session.bytes.resize(end, 0);
                }
                session.bytes[from..end].copy_from_slice(data);
                self.at = Some(at + len);
                self.written = self.written.max((at + len).saturating_sub(self.start));
            }
            None => {
                session.bytes.extend_from_slice(data);
                self.written += len;
            }
        }
        session.used = now().0;
        Ok(())
    }

    /// Nothing: a memory store has no disk reserve.
    fn reserve_as_written(&mut self, _reserve: ReserveAsWritten) {}

    fn count_as_written(&mut self, quota: Quota) {
        self.quota = Some(quota);
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn staged(&self) -> u64 {
        let tree = self.tree();
        let staged = tree.sessions.get(&self.id).map(|s| s.bytes.len() as u64);
        staged.unwrap_or(self.start + self.written)
    }

    fn received(&self) -> u64 {
        self.start + self.written
    }

    fn discard(mut self: Box<Self>) -> Result<(), StorageError> {
        {
            let mut tree = self.tree();
            // Gone (aborted) or another's now: not its bytes to take.
            let session = match tree.sessions.get_mut(&self.id) {
                Some(session) if session.writer == self.ticket => session,
                _ => return Err(StorageError::Superseded),
            };
            session
                .bytes
                .truncate(usize::try_from(self.start).unwrap_or(usize::MAX));
        }
        self.written = 0;
        Ok(())
    }

    fn finish(mut self: Box<Self>, _durable: bool) -> Result<u64, StorageError> {
        self.end();
        Ok(self.received())
    }
}

impl Drop for MemoryAppender {
    /// What arrived stays staged; the session is free again.
    fn drop(&mut self) {
        self.end();
    }
}
