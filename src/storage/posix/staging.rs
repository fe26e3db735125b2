//! A complete upload session being committed (`Staging`): its data file
//! (or the object a multipart completion assembled apart) is what the
//! upload renames into place, the session intact and held until then; at
//! the end its record goes, or stays as the mark of the upload stored,
//! and a refused upload leaves neither record nor bytes. The in-memory
//! state it holds is `session_state.rs`'s.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::session_files::{self as files, now_seconds};
use super::session_state::{Live, Sessions};

/// A complete session being committed: its data file is what the
/// [`FileUpload`](super::FileUpload) renames into place. Until then the session is intact, and
/// nothing else may touch it; dropping this frees it again.
#[derive(Debug)]
pub(super) struct Staging {
    /// The sessions directory.
    pub dir: OwnedFd,
    pub id: String,
    pub(super) live: Arc<Live>,
    pub(super) sessions: Arc<Sessions>,
    /// Keep its record as the mark of the upload stored (a tus upload's,
    /// whose client may ask again for a lost answer).
    pub(super) keep_mark: bool,
    /// A multipart upload's: the digest of the parts it is completed
    /// from, kept in the mark it leaves (a completion sent again is
    /// answered from it: `parts.rs`).
    pub(super) completed: Option<String>,
    /// The file renamed into place where it is not the data file (a
    /// multipart upload's object assembled apart), relative to `dir`.
    pub(super) apart: Option<String>,
    /// A multipart upload's data file, locked against parts written into
    /// it until the commit ends (`part_slots.rs`).
    pub(super) slots: Option<super::flock::Flock<File>>,
}

impl Staging {
    /// The name, in [`Staging::dir`], of the file the commit renames into
    /// place: the data file, or the object a completion assembled apart.
    pub fn data_name(&self) -> String {
        match &self.apart {
            Some(apart) => apart.clone(),
            None => files::data_name(&self.id),
        }
    }

    /// The data file is in place: the session's record goes too, or stays
    /// as the mark of the upload stored (tus's, a multipart completion's).
    pub fn forget(&self) {
        self.end(true);
    }

    /// The upload was refused before its commit (a before-commit hook
    /// said no): its record and staged bytes go, and no mark stays that
    /// would tell a client asking again that it was stored. Returns
    /// whether they went (else an expiry takes them, and their count).
    pub fn discard(&self) -> bool {
        self.end(false)
    }

    fn end(&self, stored: bool) -> bool {
        // Without the lock the record stays, which a later UPLOAD of the
        // same file takes for a committed session (its data is gone).
        let Ok(mut index) = self.sessions.bookkeeping(&self.dir) else {
            let how = if stored { "committed" } else { "refused" };
            log::warn!("upload session {}: {how}; its record stays", self.id);
            return false;
        };
        match (stored, &self.completed, self.keep_mark) {
            (true, Some(digest), _) => {
                files::keep_as_completed(&self.dir, &self.id, digest);
                index.add_stored(&self.id, now_seconds());
            }
            (true, None, true) => {
                files::keep_as_stored(&self.dir, &self.id);
                index.add_stored(&self.id, now_seconds());
            }
            _ => files::remove(&self.dir, &self.id),
        }
        self.sessions.live().remove(&self.id);
        index.remove(&self.id);
        true
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let mut held = self.live.held();
        self.live.committing.store(false, Ordering::SeqCst);
        if !self.live.busy() {
            *held = None;
        }
    }
}
