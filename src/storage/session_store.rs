//! The upload sessions behind the seam: [`SessionStore`], the verbs by
//! which serve/ begins, looks at, streams into, commits and aborts a
//! resumable upload (FERRY/1's UPLOAD, APPEND and COMMIT, tus's), reached
//! through [`Store::sessions`](super::Store::sessions). What a session is
//! and what bounds it are model values ([`SessionInfo`],
//! [`SessionLimits`]); the bytes go through an [`Appender`], and a
//! complete session leaves as an [`Upload`] that
//! [`Store::commit`](super::Store::commit) puts in place.
//!
//! FTP's cut uploads are kept as sessions of their token and name, to go
//! on with (`kept_upload`, `keep_upload`, `resume_upload`), their records
//! marked alike by every engine ([`KEPT`], [`KEPT_ONTO`]).
//!
//! Every verb is the engine's bookkeeping, never a rule: who may write a
//! session is serve's judge, given to [`SessionStore::append`] to ask of
//! the session's record where the engine reads it (once, under the
//! session's hold).

use super::{Appender, Appending, Part, PartUpload, StorageError, Upload};
use crate::access::quota::Quota;
use crate::model::{ListedSession, SessionInfo, SessionLimits, SessionTtl};
use crate::name::Name;

/// What [`SessionStore::append`] asks of its caller about the session it
/// read: may this client write it? A refusal is answered with
/// [`StorageError::NotAdmitted`]; the caller keeps why. Asked with the
/// session held: it must not call the store.
pub type Admit<'a> = &'a mut dyn FnMut(&SessionInfo) -> bool;

/// Which sessions a listing takes, by the name each uploads. Asked with
/// the sessions held: it must not call the store.
pub type Include<'a> = &'a dyn Fn(&Name) -> bool;

/// What a listing gives each session it takes; `false` stops it.
pub type Visit<'a> = &'a mut dyn FnMut(ListedSession) -> bool;

/// What [`SessionStore::finish_multipart`] asks its caller: of the parts
/// staged (and the upload's metadata), those that make the object, in
/// order; `None` refuses, answered with [`StorageError::NotAdmitted`]
/// (the caller keeps why). Asked with the upload held for its completion
/// and no lock of the store's: it may ask the store for room.
pub type Choose<'a> = &'a mut dyn FnMut(Vec<Part>, Option<&str>) -> Option<Vec<Part>>;

/// Resumable uploads, as the serve layer sees them; see the module's
/// header. Every call may block on the disk: on the I/O pool.
pub trait SessionStore: Send + Sync {
    /// Finds the session that stages `name` (`size` bytes, CRC-32C
    /// `crc`) for `limits.owner` (each token's upload is its own: its
    /// bytes count in its account), or begins it. Expires what is due
    /// first.
    ///
    /// # Errors
    /// [`StorageError::TooManySessions`] past `limits`' caps;
    /// [`StorageError::Committing`] while the session found commits;
    /// [`StorageError::IsDirectory`] and the like where `name` cannot be
    /// a file; the engine's.
    fn begin_session(
        &self,
        name: &Name,
        size: u64,
        crc: u32,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError>;

    /// The session [`SessionStore::begin_session`] would find for the
    /// same upload, never one begun: what an UPLOAD without room for the
    /// whole upload may still go on with, as it owes only the rest.
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] where none stages it; as
    /// [`SessionStore::begin_session`] otherwise.
    fn find_session(
        &self,
        name: &Name,
        size: u64,
        crc: u32,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError>;

    /// Begins a session of its own for `name` (`size` bytes, `None`
    /// until an APPEND declares it), `meta` kept with it (tus's
    /// creation), under an id that says nothing of it.
    ///
    /// # Errors
    /// As [`SessionStore::begin_session`]; `meta` is not one line.
    fn begin_new_session(
        &self,
        name: &Name,
        size: Option<u64>,
        meta: Option<&str>,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError>;

    /// Session `id` as it stands.
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] if there is none; its record cannot
    /// be read.
    fn session(&self, id: &str) -> Result<SessionInfo, StorageError>;

    /// Session `id` with when it expires, unless it outlived `ttl`
    /// already and nothing uses it: then it is removed.
    ///
    /// # Errors
    /// [`StorageError::Expired`] if it was removed; as
    /// [`SessionStore::session`].
    fn live_session(&self, id: &str, ttl: SessionTtl) -> Result<SessionInfo, StorageError>;

    /// The sessions `include` takes, most recently used first, each given
    /// to `visit` until it says no more. Expires what is due first;
    /// uploads stored already are not sessions.
    ///
    /// # Errors
    /// The sessions cannot be read.
    fn visit_sessions(
        &self,
        ttl: SessionTtl,
        include: Include<'_>,
        visit: Visit<'_>,
    ) -> Result<(), StorageError>;

    /// The sessions `include` takes, most recently used first, at most
    /// `limit` (`SESSIONS`).
    ///
    /// # Errors
    /// As [`SessionStore::visit_sessions`].
    fn list_sessions(
        &self,
        ttl: SessionTtl,
        limit: usize,
        include: Include<'_>,
    ) -> Result<Vec<ListedSession>, StorageError>;

    /// Whether session `id` is an S3 multipart upload's.
    fn is_multipart(&self, id: &str) -> bool;

    /// Opens session `id` for an APPEND's bytes (`asked`), if `admit`
    /// lets the client write it; an APPEND still streaming into it is
    /// cut off (its next write fails [`StorageError::Superseded`]).
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`], [`StorageError::Expired`] (it is
    /// removed), [`StorageError::NotAdmitted`],
    /// [`StorageError::WrongOffset`], [`StorageError::PastEnd`],
    /// [`StorageError::SizeDeclared`], [`StorageError::Stored`],
    /// [`StorageError::Committing`]; [`StorageError::OverQuota`] for
    /// bytes counted ahead; the engine's.
    fn append(
        &self,
        id: &str,
        asked: Appending,
        admit: Admit<'_>,
    ) -> Result<(Appender, SessionInfo), StorageError>;

    /// Declares the size of session `id`, begun without one.
    ///
    /// # Errors
    /// [`StorageError::SizeDeclared`] if it has another,
    /// [`StorageError::PastEnd`] if more is staged; as
    /// [`SessionStore::session`]; [`StorageError::Superseded`] if
    /// `opener` (the handle's, from [`SessionStore::resume_upload`]) is no
    /// longer the newest to open it (checked with the change, in one step).
    fn declare_session_size(
        &self,
        id: &str,
        size: u64,
        opener: Option<u64>,
    ) -> Result<(), StorageError>;

    /// Verifies complete session `id` and hands it over as the upload to
    /// commit, with its description and the CRC-32C of its bytes. Until
    /// that commit lands, and if the upload is dropped, the session
    /// stays.
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] (a multipart upload's too),
    /// [`StorageError::Stored`], [`StorageError::SessionBusy`],
    /// [`StorageError::Committing`], [`StorageError::Incomplete`];
    /// [`StorageError::ChecksumMismatch`] (the session is removed);
    /// [`StorageError::Superseded`] as for `declare_session_size`.
    fn finish_session(
        &self,
        id: &str,
        opener: Option<u64>,
    ) -> Result<(Upload, SessionInfo, u32), StorageError>;

    /// Removes session `id` and its bytes (of an upload stored already,
    /// only its mark); an APPEND streaming into it is cut off.
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`], [`StorageError::Committing`];
    /// [`StorageError::Superseded`] as for `declare_session_size`.
    fn abort_session(&self, id: &str, opener: Option<u64>) -> Result<(), StorageError>;

    /// The upload of `name` kept for `owner` (a token's name; `None`
    /// without access control) to go on with (FTP's resume), if any.
    ///
    /// # Errors
    /// The sessions cannot be read.
    fn kept_upload(
        &self,
        owner: Option<&str>,
        name: &Name,
    ) -> Result<Option<SessionInfo>, StorageError>;

    /// Keeps `upload` (this engine's), cut off after `staged` bytes (its
    /// length and CRC-32C), as the upload of `name` kept for
    /// `limits.owner`, in place of one kept before; its id.
    ///
    /// # Errors
    /// [`StorageError::TooManySessions`]; [`StorageError::SessionBusy`]
    /// while the one kept before is streamed into or committed; the
    /// engine's (the upload then goes as a dropped one does).
    fn keep_upload(
        &self,
        upload: Upload,
        name: &Name,
        staged: (u64, u32),
        limits: &SessionLimits,
    ) -> Result<String, StorageError>;

    /// The upload of `name` kept for `limits.owner`, to take bytes from
    /// `offset` (`None`: its end, `APPE`): cut back to `offset` where
    /// that is before its end; else a new one holding the first `offset`
    /// bytes of file `name` (its end for `None`). A client that may not
    /// `read` the file goes on only from the end of bytes of its own.
    /// Each call is an open that takes the upload over: its
    /// [`SessionInfo::opener`] counts up, and a handle of an earlier one
    /// is refused from then on ([`SessionInfo::opened_by`]). With a third
    /// element, the opener of a handle that cuts its own upload
    /// (SFTP's `FSETSTAT` size), which must still be the newest. The
    /// fourth, the writing token's quota: a new upload's copy of the
    /// file's bytes is counted before it is made, judged against it and
    /// the folders' in the same step, so opens side by side cannot
    /// together copy past a quota.
    ///
    /// # Errors
    /// [`StorageError::PastEnd`] past what is kept (or the file's end;
    /// for a client that may not read it, any offset but 0);
    /// [`StorageError::OverQuota`], nothing copied; the caps;
    /// [`StorageError::SessionBusy`]; [`StorageError::Superseded`] (that
    /// handle's open is not the newest, or nothing is kept); the engine's.
    fn resume_upload(
        &self,
        name: &Name,
        at: (Option<u64>, bool, Option<u64>, Quota),
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError>;

    /// Begins an S3 multipart upload of `name` (`meta` kept with it): a
    /// session of its own, without a size, whose parts are staged apart.
    ///
    /// # Errors
    /// [`StorageError::NoBucket`]; as [`SessionStore::begin_new_session`].
    fn begin_multipart(
        &self,
        name: &Name,
        meta: Option<&str>,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError>;

    /// Multipart upload `id`, which must be for `name`.
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] if there is none (or it is another
    /// name's, or not a multipart upload).
    fn multipart(&self, id: &str, name: &Name) -> Result<SessionInfo, StorageError>;

    /// Begins part `number` of multipart upload `id` of `name`, of `len`
    /// bytes where known: then counted before they arrive against
    /// `quota` (the writer's) and the folders' above.
    ///
    /// # Errors
    /// As [`SessionStore::multipart`]; [`StorageError::Committing`];
    /// [`StorageError::OverQuota`]; the engine's.
    fn begin_part(
        &self,
        id: &str,
        name: &Name,
        part: (u32, Option<u64>, Quota),
    ) -> Result<PartUpload, StorageError>;

    /// The staged parts of multipart upload `id` of `name`, by number.
    ///
    /// # Errors
    /// As [`SessionStore::multipart`]; the parts cannot be read.
    fn parts(&self, id: &str, name: &Name) -> Result<Vec<Part>, StorageError>;

    /// Completes multipart upload `id` of `name` from the parts `choose`
    /// picks, the list they were named by digested as `listed` (kept in
    /// the mark the upload leaves: [`SessionStore::completed_multipart`]):
    /// the upload to commit, its size, CRC-32C and the session's
    /// metadata. Until that commit lands, and if the upload is dropped,
    /// the session stays.
    ///
    /// # Errors
    /// As [`SessionStore::multipart`]; [`StorageError::SessionBusy`],
    /// [`StorageError::Committing`], [`StorageError::NotAdmitted`]; the
    /// engine's.
    fn finish_multipart(
        &self,
        upload: (&str, &Name, &str),
        choose: Choose<'_>,
    ) -> Result<(Upload, u64, u32, Option<String>), StorageError>;

    /// Whether multipart upload `id` of `name` was completed lately from
    /// the parts `listed` named (its mark is kept for the short TTL).
    fn completed_multipart(&self, id: &str, name: &Name, listed: &str) -> bool;

    /// Reads the bytes staged in session `id` from `offset` into `buf` (a
    /// file open for writing read back: SFTP's `O_RDWR`); how many, 0 at
    /// or past what it holds.
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`]; [`StorageError::Superseded`] as
    /// for `declare_session_size`; the engine's.
    fn read_staged(
        &self,
        id: &str,
        opener: Option<u64>,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, StorageError>;

    /// Drops the upload of `name` kept for `owner`; whether there was one.
    ///
    /// # Errors
    /// [`StorageError::SessionBusy`] while it is streamed into or
    /// committed; the engine's.
    fn drop_kept_upload(&self, owner: Option<&str>, name: &Name) -> Result<bool, StorageError>;
}

/// What a kept upload's record says of it (where a tus upload keeps its
/// client's metadata): no client sends it, so no other session is
/// taken for one.
pub(super) const KEPT: &str = "ferry-kept";

/// The same, for one begun from the bytes of a file its token may not
/// read (an `APPE` onto it): its size would tell that file's
/// ([`SessionInfo::holds_unread_bytes`]).
pub(super) const KEPT_ONTO: &str = "ferry-kept-onto";

impl SessionInfo {
    /// It is an upload kept for a token that began it from the bytes of a
    /// file that token may not read (`APPE` onto it): how many bytes it
    /// holds is told to clients that may read the file, not to its owner
    /// (who goes on from its end, never from an offset into it).
    pub fn holds_unread_bytes(&self) -> bool {
        self.meta.as_deref() == Some(KEPT_ONTO)
    }

    /// Whether the handle that opened it as `opener` (`None`: a caller
    /// that did not open it so: FERRY/1, tus, FTP) may still touch it.
    ///
    /// # Errors
    /// [`StorageError::Superseded`] once a newer open took it over.
    pub fn opened_by(&self, opener: Option<u64>) -> Result<(), StorageError> {
        match opener {
            Some(opener) if opener != self.opener => Err(StorageError::Superseded),
            _ => Ok(()),
        }
    }
}

/// The number of the first open of an upload kept anew
/// ([`SessionInfo::opener`]): the time in nanoseconds, not 1, because its
/// id is its token's and name's every time it is kept again: a handle of
/// the one before (committed, let go) must not count as its opener.
pub fn first_opener() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(1, |t| {
        u64::try_from(t.as_nanos()).unwrap_or(u64::MAX).max(1)
    })
}
