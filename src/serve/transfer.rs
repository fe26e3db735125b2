//! What a request in progress carries between the serve layer and the
//! connection: a body arriving into its sink, a file range going out. The
//! serve layer makes them; the connection moves their bytes and hands them
//! back when they are done.

use std::fmt;
use std::fs::File;
use std::time::Instant;

use crate::http::ChunkDecoder;
use crate::name::{Name, Prefix};
use crate::storage::{Appender, StorageError, Upload};

/// Where a body that is arriving goes.
pub enum Sink {
    /// A PUT's temp file.
    File(Upload),
    /// An upload session (APPEND).
    Session(Appender),
}

/// A PUT or APPEND whose body is arriving.
pub struct Receive {
    /// Where its bytes go.
    pub sink: Sink,
    /// The file it is for.
    pub name: Name,
    /// Its declared length, or for a chunked body the bytes so far.
    pub size: u64,
    /// Bytes still to come of a fixed-length body.
    pub left: u64,
    /// CRC-32C of the bytes so far.
    pub crc: u32,
    /// The CRC-32C the client declared, checked at the end.
    pub expected_crc: Option<u32>,
    /// When the request began.
    pub started: Instant,
    /// For a chunked body: its decoder (`size` then counts up).
    pub chunked: Option<Box<ChunkDecoder>>,
}

impl Receive {
    /// A body of `size` bytes (or chunked) for `name`, going to `sink`.
    pub fn new(
        sink: Sink,
        name: Name,
        size: Option<u64>,
        expected_crc: Option<u32>,
    ) -> Box<Receive> {
        Box::new(Receive {
            sink,
            name,
            size: size.unwrap_or(0),
            left: size.unwrap_or(0),
            crc: 0,
            expected_crc,
            started: Instant::now(),
            chunked: match size {
                Some(_) => None,
                None => Some(Box::default()),
            },
        })
    }

    /// Passes body bytes to where they go.
    ///
    /// # Errors
    /// The sink could not take them (disk full, upload taken over...).
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        let written = match &mut self.sink {
            Sink::File(upload) => upload.write(data),
            Sink::Session(appender) => appender.write(data),
        };
        self.crc = crc32c::crc32c_append(self.crc, data);
        written
    }

    /// Whether the whole body has arrived.
    pub fn is_complete(&self) -> bool {
        match &self.chunked {
            Some(decoder) => decoder.is_done(),
            None => self.left == 0,
        }
    }
}

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
    pub fn new(file: File, source: Source, offset: u64, len: u64, in_memory: bool) -> Send {
        Send {
            file,
            source,
            offset,
            left: len,
            len,
            started: Instant::now(),
            in_memory,
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
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(name) => write!(f, "GET {name}"),
            Source::Listing(prefix) => write!(f, "LIST {:?}", prefix.as_str()),
        }
    }
}
