//! The APPEND serve holds while a session's bytes arrive ([`Appender`]):
//! one engine's way into a session, begun by
//! [`SessionStore::append`](super::SessionStore::append), which only that
//! engine reads inside.
//!
//! The POSIX root's is held as it is, so an APPEND allocates nothing more
//! for it; another engine's is a box of [`EngineAppender`], so that a
//! build that never makes one (the server's: the memory store serves the
//! tests) carries none of its code, as with [`Upload`](super::Upload).

use std::fmt;

use super::{FileAppender, ReserveAsWritten, StorageError};
use crate::access::quota::Quota;

/// An APPEND streaming into a session. Dropped, what it staged stays
/// staged and the session is free for the next APPEND.
#[derive(Debug)]
// The large variant is the one every APPEND on a POSIX root holds.
#[allow(clippy::large_enum_variant)]
pub enum Appender {
    /// A POSIX root's: the session's data file, open for appending.
    File(FileAppender),
    /// Another engine's (the memory store's).
    Other(Box<dyn EngineAppender>),
}

/// What an engine's APPEND does besides the POSIX root's: the handle's
/// verbs (see [`Appender`]).
pub trait EngineAppender: Send {
    /// As [`Appender::write`].
    ///
    /// # Errors
    /// The engine's.
    fn write(&mut self, data: &[u8]) -> Result<(), StorageError>;
    /// As [`Appender::reserve_as_written`].
    fn reserve_as_written(&mut self, reserve: ReserveAsWritten);
    /// As [`Appender::count_as_written`].
    fn count_as_written(&mut self, quota: Quota);
    /// As [`Appender::id`].
    fn id(&self) -> &str;
    /// As [`Appender::staged`].
    fn staged(&self) -> u64;
    /// As [`Appender::received`].
    fn received(&self) -> u64;
    /// As [`Appender::discard`].
    ///
    /// # Errors
    /// As [`Appender::discard`].
    fn discard(self: Box<Self>) -> Result<(), StorageError>;
    /// As [`Appender::finish`].
    ///
    /// # Errors
    /// As [`Appender::finish`].
    fn finish(self: Box<Self>, durable: bool) -> Result<u64, StorageError>;
}

/// An engine's APPEND shows as its kind alone (no derived `Debug` of
/// every engine's fields in the binary).
impl fmt::Debug for dyn EngineAppender + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EngineAppender")
    }
}

/// Runs `$body` with `$each` bound to whichever engine's APPEND it is.
macro_rules! each {
    ($appender:expr, $each:ident => $body:expr) => {
        match $appender {
            Appender::File($each) => $body,
            Appender::Other($each) => $body,
        }
    };
}

impl Appender {
    /// Stages body bytes at the session's end.
    ///
    /// # Errors
    /// [`StorageError::Superseded`] once a newer APPEND (or an ABORT) took
    /// the session; no room, over a quota counted as written, a full disk,
    /// I/O.
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        each!(self, appender => appender.write(data))
    }

    /// Makes an APPEND of a length to come (a resumed `STOR`) take room
    /// from the disk reserve for each write before it makes it.
    pub fn reserve_as_written(&mut self, reserve: ReserveAsWritten) {
        each!(self, appender => appender.reserve_as_written(reserve));
    }

    /// Makes an APPEND of a length to come count each write against the
    /// quotas (`quota`: the writing token's, and the folders' above)
    /// before it makes it, keeping nothing past them.
    pub fn count_as_written(&mut self, quota: Quota) {
        each!(self, appender => appender.count_as_written(quota));
    }

    /// The id of the session it stages into.
    pub fn id(&self) -> &str {
        each!(self, appender => appender.id())
    }

    /// Bytes staged in the session now, a failed write's part included.
    pub fn staged(&self) -> u64 {
        each!(self, appender => appender.staged())
    }

    /// Bytes staged in the session now, as this APPEND counts them.
    pub fn received(&self) -> u64 {
        each!(self, appender => appender.received())
    }

    /// Takes back what this APPEND staged (its bytes did not match the
    /// checksum its client stated): the session stands where it stood
    /// when the APPEND began.
    ///
    /// # Errors
    /// [`StorageError::Superseded`] if a newer APPEND owns the session;
    /// the staged bytes cannot be cut back.
    pub fn discard(self) -> Result<(), StorageError> {
        match self {
            Appender::File(appender) => appender.discard(),
            Appender::Other(appender) => appender.discard(),
        }
    }

    /// Ends a complete APPEND: its bytes staged (with `durable`, on
    /// stable storage); what the session holds now.
    ///
    /// # Errors
    /// The bytes could not be flushed (they stay staged).
    pub fn finish(self, durable: bool) -> Result<u64, StorageError> {
        match self {
            Appender::File(appender) => appender.finish(durable),
            Appender::Other(appender) => appender.finish(durable),
        }
    }
}
