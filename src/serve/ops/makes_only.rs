//! A session's commit that may only make its file (an upload through a
//! share link, SFTP's `EXCL`): what becomes of it where the rename finds
//! its name taken. Beside `serve/commit.rs`, which carries it to the
//! answer, and `session_commit.rs`, which makes it.

use log::warn;

use crate::serve::Ctx;
use crate::storage::StorageError;

/// A session's commit that may only make its file (an upload through a
/// share link, SFTP's `EXCL`): where its name is found taken, the commit
/// is refused as a name there already (`409`) and the session goes with
/// its bytes, so that a client asking how far it got (tus's `HEAD`) never
/// finds it whole and takes it for stored. (S3's `If-None-Match: *`
/// completion keeps its parts, as S3 does: `published::TAKEN`.)
pub(in crate::serve) struct MakesOnly {
    /// The session.
    id: String,
    /// The open it is committed for (SFTP's handle), as
    /// `finish_session` was given it.
    opener: Option<u64>,
    /// Whether the rename found the name taken.
    taken: bool,
}

impl MakesOnly {
    /// Of session `id`, committed for `opener`.
    pub(in crate::serve) fn new(id: &str, opener: Option<u64>) -> MakesOnly {
        MakesOnly {
            id: id.to_owned(),
            opener,
            taken: false,
        }
    }

    /// Whether `err`, the commit's failure, is its name found taken (a
    /// folder there too: the memory engine tells it so, POSIX's rename
    /// finds it as any name taken); if so, the session is to end.
    pub(in crate::serve) fn taken(&mut self, err: &StorageError) -> bool {
        self.taken |= matches!(err, StorageError::Exists | StorageError::IsDirectory);
        self.taken
    }

    /// [`MakesOnly::end`] where its name was found taken.
    pub(in crate::serve) fn end_if_taken(&self, ctx: &Ctx<'_>) {
        if self.taken {
            self.end(ctx);
        }
    }

    /// The session goes: its name was found taken. Once its upload is
    /// let go (dropped, the session kept), which the commit holds till
    /// then. One that went already (an expiry, an ABORT) is no matter.
    pub(in crate::serve) fn end(&self, ctx: &Ctx<'_>) {
        match ctx.store.sessions().abort_session(&self.id, self.opener) {
            Ok(()) | Err(StorageError::NoSuchUpload) => {}
            // Its expiry takes it then; a client asking finds it whole
            // meanwhile.
            Err(err) => warn!("#{} session {}: not ended: {err}", ctx.client, self.id),
        }
    }
}
