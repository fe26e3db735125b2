//! Listing upload sessions (`SESSIONS`, S3's ListMultipartUploads): the
//! sessions a caller's filter accepts, most recently used first, each
//! with its age and the time it has left; what is due expires first, so
//! nothing listed is gone already.
//!
//! Reads only: must never change a session (but for expiring it), and
//! holds in memory no more than the caller keeps.

use std::sync::atomic::Ordering;

use super::gate::Point;
use super::session_files::now_seconds;
use super::{Storage, StorageError};
use crate::model::ListedSession;
use crate::model::SessionTtl;
use crate::name::Name;

impl Storage {
    /// The sessions `include` accepts by name, most recently used first,
    /// at most `limit` of them (`SESSIONS`). Expires what is due first, so
    /// nothing listed is already gone. A multipart upload's bytes received
    /// are its staged parts' (its data file's length is not).
    ///
    /// # Errors
    /// The sessions directory or its lock cannot be opened; a session
    /// that cannot be read is left out.
    pub fn list_sessions(
        &self,
        ttl: SessionTtl,
        limit: usize,
        include: &dyn Fn(&Name) -> bool,
    ) -> Result<Vec<ListedSession>, StorageError> {
        let mut listed = Vec::new();
        if limit > 0 {
            self.visit_sessions(ttl, include, &mut |session| {
                listed.push(session);
                listed.len() < limit
            })?;
        }
        // A multipart upload's data file holds its parts in their slots
        // (`part_slots.rs`): its length is where the furthest ends (part 3
        // alone makes it three parts long), not what is staged. Every
        // part's record is read: for this listing, not for every request.
        if let Ok(dir) = self.sessions_dir() {
            for session in listed.iter_mut() {
                // Only a multipart upload has a parts folder to read.
                if let Some(staged) = super::parts_folder::parts_staged(&dir, &session.info.id) {
                    session.info.received = staged;
                }
            }
        }
        Ok(listed)
    }

    /// The sessions `include` accepts by name, most recently used first,
    /// each handed to `visit` until it says to stop (`false`): a caller
    /// that keeps a bounded page of them sees every session in bounded
    /// memory (ListMultipartUploads). Expires what is due first.
    ///
    /// # Errors
    /// As [`Storage::list_sessions`].
    pub fn visit_sessions(
        &self,
        ttl: SessionTtl,
        include: &dyn Fn(&Name) -> bool,
        visit: &mut dyn FnMut(ListedSession) -> bool,
    ) -> Result<(), StorageError> {
        self.pause(Point::Session);
        let dir = self.sessions_dir()?;
        let mut index = self.sessions.bookkeeping(&dir)?;
        self.load_index(&dir, &mut index);
        self.take_in_others_sessions(&dir, &mut index);
        self.expire_sessions(&dir, &mut index, ttl);
        let now = now_seconds();
        for (id, used) in index.newest_first() {
            // A half a crash left is no session: not listed.
            let Ok((info, record)) = self.described(&dir, id) else {
                continue;
            };
            // Stored already (a tus upload's mark, kept for a client that
            // lost the last answer): no session to list. The node that
            // committed it forgot it; another may have indexed it open.
            if info.stored || !include(&info.name) {
                continue;
            }
            // A multipart upload's parts may all be staged apart from its
            // data file (`part_slots.rs`): it holds bytes all the same, and
            // expires as a session with bytes does.
            let empty = info.received == 0 && !super::parts_folder::holds_parts(&dir, id);
            let short = empty || self.is_out_of_space(id);
            let kept = match short {
                true => ttl.empty,
                false => ttl.staged,
            };
            let idle = u64::try_from(now - used).unwrap_or(0);
            let session = ListedSession {
                age: record
                    .begun
                    .map_or(idle, |begun| u64::try_from(now - begun).unwrap_or(0)),
                expires_in: kept.as_secs().saturating_sub(idle),
                info,
            };
            if !visit(session) {
                break;
            }
        }
        Ok(())
    }

    /// Whether session `id`'s last APPEND ran out of space here (it then
    /// expires as soon as an empty one does, see `docs/reliability.md`).
    fn is_out_of_space(&self, id: &str) -> bool {
        self.sessions
            .get(id)
            .is_some_and(|live| live.out_of_space.load(Ordering::Relaxed))
    }
}
