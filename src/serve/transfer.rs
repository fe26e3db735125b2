//! What a request in progress carries between the serve layer and the
//! connection: a body arriving into its sink, a file range going out. The
//! serve layer makes them; the connection moves their bytes and hands them
//! back when they are done.

use std::fmt;
use std::fs::File;
use std::time::Instant;

use super::{ErrorKind, Failure, Trailer};
use crate::access::Owner;
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
///
/// Where writes may wait ([`Receive::deferred`]), its bytes are gathered
/// and the I/O pool writes them behind the connection, which reads on
/// meanwhile: `pending` fills while `ready` (a full buffer) waits for the
/// sink, and the sink is away ([`Receive::take_write`]) while the pool
/// writes one buffer. Only when both buffers are full, or the body is
/// complete, does the connection wait for the write to come back. At most
/// 2 × [`DEFERRED_WRITE`] per uploading connection.
pub struct Receive {
    /// Where its bytes go; `None` while the I/O pool writes to it.
    sink: Option<Sink>,
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
    /// Whose upload it is, for the hooks.
    pub user: Option<Owner>,
    /// For a chunked body: its decoder (`size` then counts up).
    pub chunked: Option<Box<ChunkDecoder>>,
    /// Body bytes gathered, newest, not yet written.
    pending: Vec<u8>,
    /// A full buffer of body bytes (older than `pending`) waiting for the
    /// sink to come back from the pool.
    ready: Vec<u8>,
    /// A write behind the connection failed: the upload is over.
    failed: Option<StorageError>,
    defer: bool,
    /// The body ends with a checksum trailer (counted in `size` and
    /// `left`), whose bytes are gathered here instead of written.
    trailer: Option<(Trailer, Vec<u8>)>,
}

/// Body bytes gathered before the I/O pool writes them, where writes are
/// deferred; an uploading connection gathers into a second buffer of this
/// size while the pool writes the first.
pub const DEFERRED_WRITE: usize = 512 * 1024;

/// A receive's sink and a buffer of its bytes, on their way to the I/O
/// pool to be written, and back.
pub struct WriteBehind {
    sink: Sink,
    buffer: Vec<u8>,
    result: Result<(), StorageError>,
}

impl WriteBehind {
    /// Writes the buffer (on the I/O pool).
    pub fn run(mut self) -> WriteBehind {
        self.result = write_to(&mut self.sink, &self.buffer);
        self
    }

    /// Ends it for a receive that has gone (on the I/O pool): what was
    /// written of an APPEND stays staged; a PUT's temp file goes.
    pub fn settle(self) {
        drop(self.sink);
    }
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
            sink: Some(sink),
            name,
            size: size.unwrap_or(0),
            left: size.unwrap_or(0),
            crc: 0,
            expected_crc,
            started: Instant::now(),
            user: None,
            chunked: match size {
                Some(_) => None,
                None => Some(Box::default()),
            },
            pending: Vec::new(),
            ready: Vec::new(),
            failed: None,
            defer: false,
            trailer: None,
        })
    }

    /// Sent by `user` (for the hooks).
    pub fn by(mut self: Box<Self>, user: Option<Owner>) -> Box<Receive> {
        self.user = user;
        self
    }

    /// The body is followed by `trailer` (if any): its bytes are taken
    /// after the body's and held back from the sink. A chunked body's
    /// trailer is its chunked trailer section (kept by the decoder).
    pub fn with_trailer(mut self: Box<Self>, trailer: Option<Trailer>) -> Box<Receive> {
        if let Some(trailer) = trailer {
            debug_assert!(
                self.chunked.is_none() || trailer.len == 0,
                "a chunked body's trailer is in its framing"
            );
            self.size = self.size.saturating_add(trailer.len);
            self.left = self.size;
            let held = Vec::with_capacity(usize::try_from(trailer.len).unwrap_or(0));
            self.trailer = Some((trailer, held));
        }
        self
    }

    /// The trailer and its bytes, once the body is complete.
    pub fn take_trailer(&mut self) -> Option<(Trailer, Vec<u8>)> {
        let (trailer, held) = self.trailer.take()?;
        Some(match &self.chunked {
            Some(decoder) => (trailer, decoder.trailer_section().to_vec()),
            None => (trailer, held),
        })
    }

    /// Writes go through the I/O pool: bytes are gathered (up to
    /// [`DEFERRED_WRITE`]) and written there, behind the connection, for a
    /// file system where a write can wait (see [`crate::config::PoolWrites`]).
    pub fn deferred(mut self: Box<Self>, defer: bool) -> Box<Receive> {
        self.defer = defer;
        self
    }

    /// How many more body bytes this receive takes now: all of them when
    /// writing directly, else what the gathering buffers have room for.
    pub fn room(&self) -> usize {
        match self.defer {
            true => DEFERRED_WRITE.saturating_sub(self.pending.len()),
            false => usize::MAX,
        }
    }

    /// Whether it takes no more bytes until a write behind it comes back.
    pub fn is_full(&self) -> bool {
        self.room() == 0
    }

    /// Whether the I/O pool is writing behind it (its sink is away).
    pub fn is_writing(&self) -> bool {
        self.sink.is_none()
    }

    /// Whether the connection has to wait for a write behind it: its
    /// buffers are full (the next write starts as soon as the sink is
    /// home), or the body is complete and the sink is away.
    pub fn waits_for_write(&self) -> bool {
        self.is_full() || (self.is_writing() && self.is_complete())
    }

    /// The gathered bytes (oldest first) and the sink, to be written by the
    /// I/O pool behind the connection; `None` if the sink is already away
    /// or nothing is gathered.
    pub fn take_write(&mut self) -> Option<WriteBehind> {
        if !self.defer || self.failed.is_some() {
            return None;
        }
        let sink = self.sink.take()?;
        let buffer = match (self.ready.is_empty(), self.pending.is_empty()) {
            (false, _) => std::mem::take(&mut self.ready),
            (true, false) => std::mem::take(&mut self.pending),
            (true, true) => {
                self.sink = Some(sink);
                return None;
            }
        };
        Some(WriteBehind {
            sink,
            buffer,
            result: Ok(()),
        })
    }

    /// A write behind came back: the sink is home again, its buffer is
    /// reused, and a failure ends the upload ([`Receive::take_failure`]).
    pub fn wrote(&mut self, back: WriteBehind) {
        let WriteBehind {
            sink,
            mut buffer,
            result,
        } = back;
        self.sink = Some(sink);
        if let Err(err) = result {
            self.failed = Some(err);
        }
        buffer.clear();
        if self.pending.capacity() == 0 {
            self.pending = buffer;
        } else if self.ready.capacity() == 0 {
            self.ready = buffer;
        }
        self.move_full_pending();
    }

    /// The failure of a write behind, once.
    pub fn take_failure(&mut self) -> Option<StorageError> {
        self.failed.take()
    }

    /// A full `pending` becomes `ready` (if that is free), so that bytes
    /// can be gathered again while it waits to be written.
    fn move_full_pending(&mut self) {
        if self.ready.is_empty() && self.pending.len() >= DEFERRED_WRITE {
            std::mem::swap(&mut self.pending, &mut self.ready);
        }
    }

    /// Writes the gathered bytes (on the I/O pool), oldest first.
    ///
    /// # Errors
    /// As for [`Receive::write`]; a write behind that failed, or a sink
    /// still away (a broken invariant: the connection waits for it).
    pub fn flush(&mut self) -> Result<(), StorageError> {
        if let Some(err) = self.failed.take() {
            return Err(err);
        }
        let Some(sink) = &mut self.sink else {
            log::error!("{}: flushed while a write behind was away", self.name);
            return Err(StorageError::Io(std::io::Error::other(
                "write still in progress",
            )));
        };
        let written = write_to(sink, &self.ready).and_then(|()| write_to(sink, &self.pending));
        self.ready.clear();
        self.pending.clear();
        written
    }

    /// The sink, for a receive that is complete and flushed.
    pub fn take_sink(&mut self) -> Option<Sink> {
        self.sink.take()
    }

    /// Ends a receive that will not complete, on the I/O pool: an APPEND
    /// keeps what arrived (its gathered bytes are written, unless a write
    /// behind is still away: they would land after a gap); a PUT's temp
    /// file goes.
    pub fn settle(mut self: Box<Self>) {
        if matches!(self.sink, Some(Sink::Session(_))) {
            let _ = self.flush();
        }
    }

    /// What to tell the client of `err`, a failed write: a session out of
    /// space says how much it keeps staged and how to free it now, since
    /// those bytes stay until the session expires (the one home of that
    /// message).
    pub fn failure(&self, err: StorageError) -> Failure {
        match (&err, &self.sink) {
            (StorageError::NoSpace, Some(Sink::Session(appender))) => Failure::new(
                ErrorKind::NoSpace,
                format!(
                    "disk full: {} bytes staged for {}; ferry sessions abort {} frees them",
                    appender.staged(),
                    self.name.encoded(),
                    appender.id()
                ),
            ),
            _ => err.into(),
        }
    }

    /// Passes body bytes to where they go (or gathers them, if deferred).
    ///
    /// # Errors
    /// The sink could not take them (disk full, upload taken over...).
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        let data = match &mut self.trailer {
            // `left` already excludes `data`: the trailer is the last
            // `len` bytes of what was left before it.
            Some((trailer, held)) => {
                let before = self.left + data.len() as u64;
                let body = before.saturating_sub(trailer.len);
                let body = usize::try_from(body).map_or(data.len(), |b| b.min(data.len()));
                held.extend_from_slice(&data[body..]);
                &data[..body]
            }
            None => data,
        };
        self.crc = crc32c::crc32c_append(self.crc, data);
        if self.defer {
            if self.pending.capacity() == 0 {
                // No more than the body still needs (a chunked body's
                // buffer grows as it fills).
                let body = usize::try_from(self.left).unwrap_or(usize::MAX);
                self.pending
                    .reserve_exact(DEFERRED_WRITE.min(data.len().saturating_add(body)));
            }
            self.pending.extend_from_slice(data);
            self.move_full_pending();
            return Ok(());
        }
        match &mut self.sink {
            Some(sink) => write_to(sink, data),
            None => unreachable!("the sink leaves only for deferred writes"),
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

/// Writes `data` to `sink`.
fn write_to(sink: &mut Sink, data: &[u8]) -> Result<(), StorageError> {
    if data.is_empty() {
        return Ok(());
    }
    match sink {
        Sink::File(upload) => upload.write(data),
        Sink::Session(appender) => appender.write(data),
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
