//! A file range going out (a GET's body, a listing's spool, an archive's
//! member): the serve layer opens it, the connection sends its bytes and
//! hands it back when they are out.
//!
//! The page-cache policy of sending lives here, once: the reactor sends
//! only bytes it has found in the page cache (a probe at each end of a
//! window, [`Content::is_cached_window`], or the pool's read ahead of that
//! window), so it never waits on the disk; what is not cached is read in
//! by the I/O pool first ([`read_ahead`]), as nginx's `aio threads` does.
//! Bytes a store holds in memory never wait.

use std::fmt;
use std::time::Instant;

use log::warn;

use super::{Ctx, Job, Next, Outcome, Reply, SendStep};
use crate::name::{Name, Prefix};
use crate::wire::content::Content;

/// A GET body or a listing going out.
pub struct Send {
    /// The bytes, read by offset (a file, or bytes in memory).
    pub body: Content,
    /// What it is, for the log.
    pub source: Source,
    /// Next byte to send.
    pub offset: u64,
    /// Bytes still to send.
    pub left: u64,
    /// Bytes in all.
    pub len: u64,
    /// When the request began.
    pub started: Instant,
    /// Bytes before this offset are in the page cache (read in by the I/O
    /// pool, or found there): sending them cannot wait on the disk.
    cached_until: u64,
}

/// Bytes of a body the I/O pool reads in at once, and that the reactor
/// checks are cached before it sends them: large enough that the checks
/// and the trips to the pool cost little per byte. 8 MiB, not the 2 MiB of
/// a `sendfile` (connection/mod.rs's `SEND_CHUNK`): a cold GiB sent to a
/// reader at 0.6 GB/s cost 10-35 ms less of server CPU with the larger
/// window (benches/notes/ftp.md, issue 53); a pool trip then holds its
/// thread for one 8 MiB read at most.
const READ_AHEAD_WINDOW: u64 = 8 * 1024 * 1024;

impl Send {
    /// Whether the bytes from `offset` up to `end` can be read without
    /// waiting on the disk, as far as is known.
    fn is_cached(&self, end: u64) -> bool {
        self.body.never_waits() || end <= self.cached_until
    }

    /// How many of the next bytes can be sent without waiting on the disk
    /// (probing the next window if nothing is known to be cached); `None`:
    /// none can, [`read_ahead`] them first.
    pub fn cached_ahead(&mut self) -> Option<u64> {
        if self.body.never_waits() {
            return Some(self.left);
        }
        if !self.is_cached(self.offset + 1) {
            let window = self.left.min(READ_AHEAD_WINDOW);
            if !self.body.is_cached_window(self.offset, window) {
                return None;
            }
            self.cached_until = self.offset + window;
        }
        Some(self.cached_until - self.offset)
    }

    /// `n` more bytes went out.
    pub fn advance(&mut self, n: u64) {
        self.offset += n;
        self.left -= n;
    }

    /// Reads the whole range into `buf` (its length) if that cannot wait
    /// on the disk: `Ok(false)` if it could, so [`read_ahead`] it first.
    ///
    /// # Errors
    /// The read failed.
    pub fn read_cached(&self, buf: &mut [u8]) -> std::io::Result<bool> {
        if self.is_cached(self.offset + self.len) {
            self.body.read_exact_at(buf, self.offset)?;
            return Ok(true);
        }
        self.body.read_if_cached(buf, self.offset)
    }

    /// `len` bytes of `body` from `offset`, starting now.
    pub fn new(body: Content, source: Source, offset: u64, len: u64) -> Send {
        Send {
            body,
            source,
            offset,
            left: len,
            len,
            started: Instant::now(),
            cached_until: 0,
        }
    }
}

/// What a [`Send`] sends, for the log.
pub enum Source {
    /// (Part of) the file of this name.
    File(Name),
    /// The listing of this prefix (from its spool file).
    Listing(Prefix),
    /// A file inside a folder's archive, which goes on once it is sent.
    Archive(Box<super::Archive>),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(name) => write!(f, "GET {name}"),
            Source::Listing(prefix) => write!(f, "LIST {:?}", prefix.as_str()),
            Source::Archive(archive) => {
                write!(f, "{} {:?}", archive.verb(), archive.prefix().as_str())
            }
        }
    }
}

/// The next bytes of a body going out are not in the page cache: the pool
/// reads in up to [`READ_AHEAD_WINDOW`] of them (so the reactor's read or
/// `sendfile` finds them there), then the body goes on, or is cut where
/// they could not be read ([`SendStep::ReadAhead`]).
pub fn read_ahead(send: Send) -> Next {
    Next::Pool(Job::send(SendStep::ReadAhead(send)))
}

/// Where a body that goes no further is closed: on the pool where closing
/// it is a round trip (a file on a network file system), so that the
/// reactor never waits on it, whether it went out whole or its client
/// went; `None` where it closes at once (dropped here).
pub fn closing_job(send: Send) -> Option<Job> {
    send.body
        .closes_slowly()
        .then(|| Job::send(SendStep::Close(send)))
}

/// [`SendStep::ReadAhead`] (on the pool): the next window read in, then
/// the body goes on; where it cannot be read (the file shrank, the disk
/// failed), the body is cut ([`Next::Cut`]).
pub(super) fn read_in(ctx: &Ctx<'_>, mut send: Send) -> Outcome {
    let window = send.left.min(READ_AHEAD_WINDOW);
    if let Err(err) = ctx.store.read_ahead(&send.body, send.offset, window) {
        // Not sent anyway: the reactor's read of the same bytes would wait
        // through the disk's retries again, holding every connection of
        // its loop. The body is dropped here, on the pool.
        warn!("#{} {}: read ahead: {err}", ctx.client, send.source);
        // (An archive's whole is not known here: its line counts as
        // stated, as `connection/note.rs` counts one under way.)
        let unsent = match send.source {
            Source::Archive(_) => 0,
            _ => send.left,
        };
        return Outcome::new(Reply::Nothing, Next::Cut { unsent });
    }
    send.cached_until = send.offset + window;
    Outcome::new(Reply::Nothing, Next::Send(send))
}
