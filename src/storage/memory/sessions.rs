//! A memory store's upload sessions: each a [`Session`] in the tree's
//! table (under the store's one lock, so that a session's commit, which
//! turns its bytes into a file, is one change of both), with the POSIX
//! engine's answers: a session found again by what it uploads, the caps
//! per server, client, owner and share link, the TTLs (short for a session with no
//! bytes), a tus upload's mark kept after its commit for the short TTL, a
//! session busy or committing left alone. Its APPENDs are
//! `appender.rs`'s.
//!
//! Staged bytes, and those an APPEND counted before they arrive, count in
//! the usage of the session's owner and of the folders above its name, as
//! the POSIX engine's ledger counts them (no file until it commits).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::parts::StagedPart;
use super::{MemoryStore, Tree, now};
use crate::model::{DEFERRED_SIZE, ListedSession, SessionCap, SessionInfo, SessionLimits};
use crate::model::{Folders, SessionTtl, Usage, fits_a_record};
use crate::name::Name;
use crate::storage::unwritten::Unwritten;
use crate::storage::{Include, StorageError, Upload, Visit};

/// An upload session kept in memory.
#[derive(Debug)]
pub(super) struct Session {
    pub(super) name: Name,
    /// [`DEFERRED_SIZE`] until declared.
    pub(super) size: u64,
    crc: Option<u32>,
    pub(super) meta: Option<String>,
    pub(super) owner: Option<String>,
    /// The share link it was begun through, if any.
    link: Option<crate::model::LinkId>,
    client: std::net::IpAddr,
    begun: i64,
    pub(super) used: i64,
    pub(super) bytes: Vec<u8>,
    /// The ticket of the APPEND that owns it (0: none).
    pub(super) writer: u64,
    /// What the last APPEND to own it counted ahead and has not written,
    /// for a newer one to take on.
    pub(super) unwritten: Arc<Unwritten>,
    /// Bytes APPENDs counted before they arrived.
    pub(super) ahead: u64,
    pub(super) committing: bool,
    /// A tus upload's mark: its file landed (kept for the short TTL, for
    /// a client that lost the answer).
    pub(super) stored: bool,
    /// A multipart upload's parts, by number (`parts.rs`); `None` for
    /// every other session.
    pub(super) parts: Option<BTreeMap<u32, StagedPart>>,
    /// The digest of the parts list a multipart upload is completed
    /// from, kept in its mark once it lands.
    pub(super) completing: Option<String>,
    /// A multipart upload's parts on their way.
    pub(super) parts_arriving: u32,
    /// A part began: it holds bytes, as far as its TTL goes (as the
    /// POSIX engine marks it staged).
    pub(super) part_begun: bool,
    /// How many times it was opened for writing ([`SessionInfo::opener`]).
    pub(super) opener: u64,
}

impl Session {
    pub(super) fn info(&self, id: &str) -> SessionInfo {
        SessionInfo {
            id: id.to_owned(),
            name: self.name.clone(),
            size: self.size,
            crc: self.crc,
            received: match self.stored {
                true => self.size,
                false => self.staged(),
            },
            meta: self.meta.clone(),
            owner: self.owner.clone(),
            link: self.link.clone(),
            expires: None,
            stored: self.stored,
            opener: self.opener,
            counted_ahead: 0,
        }
    }

    pub(super) fn in_use(&self) -> bool {
        self.writer != 0 || self.committing || self.parts_arriving > 0
    }

    pub(super) fn has_expired(&self, ttl: SessionTtl) -> bool {
        !self.in_use() && ttl.has_expired(self.used, self.held())
    }

    /// What its TTL is judged by: the bytes it holds, or one for a
    /// multipart upload a part began in.
    fn held(&self) -> u64 {
        self.staged().max(u64::from(self.part_begun))
    }

    /// Bytes staged: its own, or its parts'.
    fn staged(&self) -> u64 {
        let parts = self.parts.iter().flat_map(BTreeMap::values);
        let in_parts: u64 = parts.map(|part| part.bytes.len() as u64).sum();
        self.bytes.len() as u64 + in_parts
    }

    /// What it counts in the usage of the accounts above it.
    fn counted(&self) -> u64 {
        match self.stored {
            true => 0,
            false => self.staged() + self.ahead,
        }
    }
}

impl Tree {
    /// Session `id`.
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] if there is none.
    pub(super) fn session_mut(&mut self, id: &str) -> Result<&mut Session, StorageError> {
        self.sessions.get_mut(id).ok_or(StorageError::NoSuchUpload)
    }

    /// Removes the sessions `ttl` lets go, and the marks of stored
    /// uploads older than its short TTL; how many sessions went (marks
    /// not counted).
    pub(super) fn expire(&mut self, ttl: SessionTtl) -> usize {
        let now = now().0;
        let short = i64::try_from(ttl.empty.as_secs()).unwrap_or(i64::MAX);
        let mut expired = 0;
        self.sessions.retain(|id, session| {
            let gone = match session.stored {
                true => now > session.used.saturating_add(short),
                false => session.has_expired(ttl),
            };
            if gone && !session.stored {
                log::info!("upload session {id} expired");
                expired += 1;
            }
            !gone
        });
        expired
    }

    /// Upload sessions open (stored uploads' marks not counted).
    pub(super) fn open_sessions(&self) -> u64 {
        let open = self.sessions.values().filter(|session| !session.stored);
        open.count() as u64
    }

    /// Begins session `id` for `(name, size, crc, meta)` within `limits`.
    pub(super) fn create_session(
        &mut self,
        (name, size, crc, meta): (&Name, u64, Option<u32>, Option<&str>),
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        if meta.is_some_and(|meta| !fits_a_record(meta.as_bytes())) {
            let err = std::io::Error::other("session metadata is not one line");
            return Err(StorageError::Io(err));
        }
        self.check_caps(limits)?;
        // Refuse now what the commit would refuse later.
        self.can_be_file(name.as_str())?;
        self.next_session += 1;
        let id = self.session_id();
        let (now, _) = now();
        let session = Session {
            name: name.clone(),
            size,
            crc,
            meta: meta.map(str::to_owned),
            owner: limits.owner.clone(),
            link: limits.link.as_ref().map(|(id, _)| id.clone()),
            client: limits.client,
            begun: now,
            used: now,
            bytes: Vec::new(),
            writer: 0,
            unwritten: Arc::default(),
            ahead: 0,
            committing: false,
            stored: false,
            parts: None,
            completing: None,
            parts_arriving: 0,
            part_begun: false,
            opener: 0,
        };
        let mut info = session.info(&id);
        info.expires = Some(limits.ttl.expires(now, 0));
        self.sessions.insert(id, session);
        Ok(info)
    }

    /// A new session's id: the count of sessions begun, mixed with the
    /// store's key (SplitMix64's finalizer), so that it says nothing of
    /// the upload nor of the ids before it.
    fn session_id(&self) -> String {
        let mut z = (self.next_session ^ self.id_key).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        format!("{:016x}", z ^ (z >> 31))
    }

    /// Whether `limits` leave room for one more session.
    pub(super) fn check_caps(&self, limits: &SessionLimits) -> Result<(), StorageError> {
        let live = || self.sessions.values().filter(|session| !session.stored);
        if live().count() >= limits.total {
            return Err(StorageError::TooManySessions(SessionCap::Server));
        }
        let cap = limits.per_client;
        if live().filter(|s| s.client == limits.client).count() >= cap {
            return Err(StorageError::TooManySessions(SessionCap::Client(cap)));
        }
        if let Some(owner) = &limits.owner {
            let cap = limits.per_owner;
            if live().filter(|s| s.owner.as_ref() == Some(owner)).count() >= cap {
                return Err(StorageError::TooManySessions(SessionCap::Token(cap)));
            }
        }
        #[cfg(feature = "shares")]
        if let Some((link, cap)) = &limits.link
            && live().filter(|s| s.link.as_ref() == Some(link)).count() >= *cap
        {
            return Err(StorageError::TooManySessions(SessionCap::Link(*cap)));
        }
        Ok(())
    }

    /// Whether a file could be committed at `name`: no folder has it, no
    /// file is on its way.
    pub(super) fn can_be_file(&self, name: &str) -> Result<(), StorageError> {
        let ends = name.match_indices('/').map(|(at, _)| at);
        if ends
            .into_iter()
            .any(|end| self.file(&name[..end]).is_some())
        {
            return Err(StorageError::ParentNotDirectory);
        }
        self.replaceable(name).map(drop)
    }

    /// What the sessions of names starting with `prefix` (of `owner`'s
    /// only, if given) count in usage.
    pub(super) fn staged_below(&self, prefix: &str, owner: Option<&str>) -> Usage {
        let mut usage = Usage::default();
        let sessions = self.sessions.values().filter(|session| {
            session.name.as_str().starts_with(prefix)
                && owner.is_none_or(|owner| session.owner.as_deref() == Some(owner))
        });
        for session in sessions {
            usage.bytes = usage.bytes.saturating_add(session.counted());
        }
        usage
    }

    /// Session `id`'s file landed: it goes, or stays as the mark of a
    /// stored upload (a tus upload's, whose client did not give a CRC).
    pub(super) fn session_landed(&mut self, id: &str) {
        let Some(session) = self.sessions.get_mut(id) else {
            return;
        };
        match session.crc {
            Some(_) => {
                self.sessions.remove(id);
            }
            None => {
                session.stored = true;
                session.committing = false;
                session.bytes = Vec::new();
                session.parts = None;
                session.used = now().0;
            }
        }
    }
}

impl MemoryStore {
    /// As [`SessionStore::begin_session`](crate::storage::SessionStore::begin_session),
    /// or (`make` false) [`SessionStore::find_session`](crate::storage::SessionStore::find_session).
    pub(super) fn begin_session_of(
        &self,
        (name, size, crc): (&Name, u64, u32),
        limits: &SessionLimits,
        make: bool,
    ) -> Result<SessionInfo, StorageError> {
        let mut tree = self.tree();
        tree.expire(limits.ttl);
        let found = tree.sessions.iter_mut().find(|(_, session)| {
            !session.stored
                && session.name == *name
                && session.size == size
                && session.crc == Some(crc)
                && session.owner == limits.owner
        });
        if let Some((id, session)) = found {
            if session.committing {
                return Err(StorageError::Committing);
            }
            session.used = now().0;
            let info = session.info(id);
            let counted_ahead = session.unwritten.left();
            return Ok(SessionInfo {
                counted_ahead,
                ..info
            });
        }
        if !make {
            return Err(StorageError::NoSuchUpload);
        }
        tree.create_session((name, size, Some(crc), None), limits)
    }

    /// As [`SessionStore::begin_new_session`](crate::storage::SessionStore::begin_new_session).
    pub(super) fn begin_new_session_of(
        &self,
        (name, size, meta): (&Name, Option<u64>, Option<&str>),
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        let mut tree = self.tree();
        tree.expire(limits.ttl);
        tree.create_session((name, size.unwrap_or(DEFERRED_SIZE), None, meta), limits)
    }

    /// As [`SessionStore::session`](crate::storage::SessionStore::session).
    pub(super) fn session_of(&self, id: &str) -> Result<SessionInfo, StorageError> {
        Ok(self.tree().session_mut(id)?.info(id))
    }

    /// As [`SessionStore::live_session`](crate::storage::SessionStore::live_session).
    pub(super) fn live_session_of(
        &self,
        id: &str,
        ttl: SessionTtl,
    ) -> Result<SessionInfo, StorageError> {
        let mut tree = self.tree();
        let session = tree.session_mut(id)?;
        let mut info = session.info(id);
        if session.stored {
            return Ok(info);
        }
        if session.has_expired(ttl) {
            log::info!("upload session {id} expired");
            tree.sessions.remove(id);
            return Err(StorageError::Expired);
        }
        info.expires = Some(ttl.expires(session.used, info.received));
        Ok(info)
    }

    /// As [`SessionStore::visit_sessions`](crate::storage::SessionStore::visit_sessions).
    pub(super) fn visit_sessions_of(
        &self,
        ttl: SessionTtl,
        include: Include<'_>,
        visit: Visit<'_>,
    ) -> Result<(), StorageError> {
        let listed = {
            let mut tree = self.tree();
            tree.expire(ttl);
            let now = now().0;
            let mut listed: Vec<(i64, ListedSession)> = tree
                .sessions
                .iter()
                .filter(|(_, session)| !session.stored && include(&session.name))
                .map(|(id, session)| (session.used, listed(id, session, ttl, now)))
                .collect();
            // Newest first, ties by id (the POSIX engine's index order).
            listed.sort_by(|a, b| (b.0, &b.1.info.id).cmp(&(a.0, &a.1.info.id)));
            listed
        };
        // Visited without the lock: a visitor may ask the store again.
        for (_, session) in listed {
            if !visit(session) {
                break;
            }
        }
        Ok(())
    }

    /// As [`SessionStore::declare_session_size`](crate::storage::SessionStore::declare_session_size).
    pub(super) fn declare_size_of(
        &self,
        id: &str,
        size: u64,
        opener: Option<u64>,
    ) -> Result<(), StorageError> {
        let mut tree = self.tree();
        let session = tree.session_mut(id)?;
        session.info(id).opened_by(opener)?;
        declare_size(session, size)
    }

    /// As [`SessionStore::finish_session`](crate::storage::SessionStore::finish_session).
    pub(super) fn finish_session_of(
        &self,
        id: &str,
        opener: Option<u64>,
    ) -> Result<(Upload, SessionInfo, u32), StorageError> {
        let (info, bytes) = {
            let mut tree = self.tree();
            let session = tree.session_mut(id)?;
            let info = session.info(id);
            info.opened_by(opener)?;
            if session.writer != 0 {
                return Err(StorageError::SessionBusy);
            }
            if session.committing {
                return Err(StorageError::Committing);
            }
            if session.stored {
                return Err(StorageError::Stored(info.size));
            }
            // Only its S3 completion commits a multipart upload.
            if session.parts.is_some() {
                return Err(StorageError::NoSuchUpload);
            }
            if info.received != info.size {
                return Err(StorageError::Incomplete(info.received, info.size));
            }
            let crc = crate::formats::castagnoli::checksum(&session.bytes);
            if let Some(expected) = info.crc.filter(|expected| *expected != crc) {
                tree.sessions.remove(id);
                return Err(StorageError::ChecksumMismatch(crc, expected));
            }
            session.committing = true;
            (info, (session.bytes.clone(), crc))
        };
        let (bytes, crc) = bytes;
        let upload = self.begin_session_commit((&info.name, Folders::Implicit), (id, bytes));
        let upload = upload.inspect_err(|_| self.stop_committing(id))?;
        Ok((Upload::Other(Box::new(upload)), info, crc))
    }

    /// Session `id`'s commit did not land: it is as it was.
    pub(super) fn stop_committing(&self, id: &str) {
        if let Ok(session) = self.tree().session_mut(id) {
            session.committing = false;
        }
    }

    /// As [`SessionStore::abort_session`](crate::storage::SessionStore::abort_session).
    pub(super) fn abort_session_of(
        &self,
        id: &str,
        opener: Option<u64>,
    ) -> Result<(), StorageError> {
        let mut tree = self.tree();
        let session = tree.session_mut(id)?;
        session.info(id).opened_by(opener)?;
        if session.committing {
            return Err(StorageError::Committing);
        }
        // An APPEND streaming into it finds it gone: cut off.
        tree.sessions.remove(id);
        Ok(())
    }
}

/// `session` (`id`) as a listing shows it at second `now`.
fn listed(id: &str, session: &Session, ttl: SessionTtl, now: i64) -> ListedSession {
    let kept = match session.held() == 0 {
        true => ttl.empty,
        false => ttl.staged,
    };
    let idle = u64::try_from(now - session.used).unwrap_or(0);
    ListedSession {
        info: session.info(id),
        age: u64::try_from(now - session.begun).unwrap_or(0),
        expires_in: kept.as_secs().saturating_sub(idle),
    }
}

/// Declares `session`'s size, begun without one; its own again is no
/// change.
///
/// # Errors
/// [`StorageError::SizeDeclared`] if it has another,
/// [`StorageError::PastEnd`] if more is staged.
pub(super) fn declare_size(session: &mut Session, size: u64) -> Result<(), StorageError> {
    match session.size {
        known if known == size => return Ok(()),
        DEFERRED_SIZE => {}
        known => return Err(StorageError::SizeDeclared(known)),
    }
    if session.bytes.len() as u64 > size {
        return Err(StorageError::PastEnd(size));
    }
    session.size = size;
    Ok(())
}
