//! A file range going out (a GET's body, a listing's spool, an archive's
//! member): the serve layer opens it, the connection sends its bytes and
//! hands it back when they are out.

use std::fmt;
use std::fs::File;
use std::time::Instant;

use crate::name::{Name, Prefix};

/// A GET body or a listing going out.
pub struct Send {
    /// The file, read by offset.
    pub file: File,
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
    /// Its bytes are in memory (a memory file system): reading them
    /// cannot wait on the disk.
    pub in_memory: bool,
    /// Closing the file is a round trip (FUSE, NFS...): the I/O pool
    /// closes it.
    pub round_trips: bool,
    /// Bytes before this offset are in the page cache (read in by the I/O
    /// pool, or found there): sending them cannot wait on the disk.
    pub cached_until: u64,
}

/// Bytes of a body the I/O pool reads in at once, and that the reactor
/// checks are cached before it sends them: large enough that the checks
/// and the trips to the pool cost little per byte.
pub const READ_AHEAD_WINDOW: u64 = 2 * 1024 * 1024;

impl Send {
    /// Whether the bytes from `offset` up to `end` can be read without
    /// waiting on the disk, as far as is known.
    pub fn is_cached(&self, end: u64) -> bool {
        self.in_memory || end <= self.cached_until
    }

    /// `len` bytes of `file` from `offset`, starting now.
    pub fn new(
        file: File,
        source: Source,
        offset: u64,
        len: u64,
        (in_memory, round_trips): (bool, bool),
    ) -> Send {
        Send {
            file,
            source,
            offset,
            left: len,
            len,
            started: Instant::now(),
            in_memory,
            round_trips,
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
            Source::Archive(archive) => write!(f, "TAR {:?}", archive.prefix().as_str()),
        }
    }
}
