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
    /// Body bytes received but not yet written: where a write may wait
    /// (see [`Receive::deferred`]), they are gathered here and written by
    /// the I/O pool.
    pending: Vec<u8>,
    defer: bool,
}

/// Body bytes gathered before the I/O pool writes them, where writes are
/// deferred: at most this much (plus one read) per uploading connection.
pub const DEFERRED_WRITE: usize = 128 * 1024;

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
            pending: Vec::new(),
            defer: false,
        })
    }

    /// Writes go through the I/O pool: bytes are gathered (up to
    /// [`DEFERRED_WRITE`]) and written there, for a file system where a
    /// write can wait (see [`crate::storage::Storage::writes_may_wait`]).
    pub fn deferred(mut self: Box<Self>, defer: bool) -> Box<Receive> {
        self.defer = defer;
        self
    }

    /// How many more body bytes this receive takes now: all of them when
    /// writing directly, else what the gathering buffer has room for.
    pub fn room(&self) -> usize {
        match self.defer {
            true => DEFERRED_WRITE.saturating_sub(self.pending.len()),
            false => usize::MAX,
        }
    }

    /// Whether bytes are gathered that are not written yet.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether gathered bytes wait for the I/O pool to write them before
    /// more can be taken.
    pub fn wants_flush(&self) -> bool {
        self.defer && self.pending.len() >= DEFERRED_WRITE
    }

    /// Writes the gathered bytes (on the I/O pool).
    ///
    /// # Errors
    /// As for [`Receive::write`].
    pub fn flush(&mut self) -> Result<(), StorageError> {
        let pending = std::mem::take(&mut self.pending);
        let written = self.write_now(&pending);
        self.pending = pending;
        self.pending.clear();
        written
    }

    /// Ends a receive that will not complete, on the I/O pool: an APPEND
    /// keeps what arrived (its gathered bytes are written); a PUT's temp
    /// file goes.
    pub fn settle(mut self: Box<Self>) {
        if matches!(self.sink, Sink::Session(_)) {
            let _ = self.flush();
        }
    }

    /// Passes body bytes to where they go (or gathers them, if deferred).
    ///
    /// # Errors
    /// The sink could not take them (disk full, upload taken over...).
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        self.crc = crc32c::crc32c_append(self.crc, data);
        if self.defer {
            self.pending.extend_from_slice(data);
            return Ok(());
        }
        self.write_now(data)
    }

    fn write_now(&mut self, data: &[u8]) -> Result<(), StorageError> {
        if data.is_empty() {
            return Ok(());
        }
        match &mut self.sink {
            Sink::File(upload) => upload.write(data),
            Sink::Session(appender) => appender.write(data),
        }
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
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(name) => write!(f, "GET {name}"),
            Source::Listing(prefix) => write!(f, "LIST {:?}", prefix.as_str()),
        }
    }
}
