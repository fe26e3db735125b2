//! Upload sessions (FERRY/1's resumable uploads, tus, S3's multipart) as
//! every layer sees them: what a session uploads and how far it got, and
//! how `SESSIONS` lists one. Their records are storage's.

use crate::name::Name;

/// The size of a session begun without one (tus's
/// creation-defer-length), until an APPEND declares it
/// (storage's `Appending`).
pub const DEFERRED_SIZE: u64 = u64::MAX;

/// A session as its record describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session id (16 hex digits).
    pub id: String,
    /// Where the file goes on commit.
    pub name: Name,
    /// Its full size ([`DEFERRED_SIZE`] until a client declares it).
    pub size: u64,
    /// Its CRC-32C, checked on commit; `None` where the client did not
    /// say (a tus upload), and the staged bytes' own is recorded.
    pub crc: Option<u32>,
    /// Bytes staged so far.
    pub received: u64,
    /// What its client said of it (tus's `Upload-Metadata`), as said.
    pub meta: Option<String>,
    /// Who began it: a token's name, `(anonymous)` for a client without
    /// one; `None` without access control (or begun by an older version).
    pub owner: Option<String>,
    /// The share link it was made through (its id), if any.
    pub link: Option<crate::model::LinkId>,
    /// When it expires unless used again, in seconds since the epoch;
    /// `None` where the answer was made without the TTL
    /// (`Storage::live_session`'s and a new session's say).
    pub expires: Option<i64>,
    /// It is stored already: what is left is the mark of a tus upload,
    /// kept a while for a client that lost the last answer.
    pub stored: bool,
    /// How many times it was opened for writing (SFTP's `OPEN` of a kept
    /// upload, `SessionStore::resume_upload`): the newest opener's number.
    /// A handle that opened it earlier is superseded.
    pub opener: u64,
    /// Bytes an APPEND under way counted in the usage counts before they
    /// arrived and has not written: a client going on with the session
    /// owes no room for them again (`SessionStore::begin_session`'s
    /// answer for a session it found says; 0 elsewhere).
    pub counted_ahead: u64,
}

impl SessionInfo {
    /// Its full size, `None` until a client declares it.
    pub fn known_size(&self) -> Option<u64> {
        (self.size != DEFERRED_SIZE).then_some(self.size)
    }
}

/// A session as `SESSIONS` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSession {
    /// What it uploads and how far it got.
    pub info: SessionInfo,
    /// Seconds since it began (since it was last used, for sessions of
    /// older versions, which do not say).
    pub age: u64,
    /// Seconds until it expires unless used before then.
    pub expires_in: u64,
}

/// Whether `meta` (what a client says of its upload, tus's
/// `Upload-Metadata`) may be kept in a session's record: one line of
/// printable ASCII (a line break would forge the record's other lines).
pub fn fits_a_record(meta: &[u8]) -> bool {
    meta.iter().all(|&b| b == b' ' || b.is_ascii_graphic())
}
