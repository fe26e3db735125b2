//! Where an arriving body goes (a PUT's temp file, an APPEND's session,
//! an S3 part)
//! and the writes the I/O pool makes behind the connection: the sink
//! travels to the pool with a buffer of bytes and comes back
//! ([`WriteBehind`]), with the body's digests (S3's MD5...), which take
//! the bytes as they are written, on the pool, so that hashing a body
//! runs beside the loop that reads it, never on it. The receive that
//! gathers those bytes is `receive.rs`'s.

use super::digest::Digesting;
use super::{ErrorKind, Failure};
use crate::name::Name;
use crate::storage::{Appender, PartUpload, StorageError, Upload};
use crate::wire::page_buf::PageBuf;

/// Body bytes gathered before the I/O pool writes them, where writes are
/// deferred; an uploading connection gathers into a second buffer of this
/// size while the pool writes the first.
pub const DEFERRED_WRITE: usize = 512 * 1024;

/// Where a body that is arriving goes.
pub enum Sink {
    /// A PUT's temp file.
    File(Upload),
    /// An upload session (APPEND).
    Session(Appender),
    /// A part of an S3 multipart upload.
    Part(PartUpload),
}

impl Sink {
    /// What to tell the client of `err`, a failed write of `name`'s body:
    /// a session out of space says how much it keeps staged and how to
    /// free it now, since those bytes stay until the session expires (the
    /// one home of that message).
    pub fn failure(&self, name: &Name, err: StorageError) -> Failure {
        match (&err, self) {
            (StorageError::NoSpace, Sink::Session(appender)) => Failure::new(
                ErrorKind::NoSpace,
                format!(
                    "disk full: {} bytes staged for {}; ferry sessions abort {} frees them",
                    appender.staged(),
                    name.encoded(),
                    appender.id()
                ),
            ),
            _ => err.into(),
        }
    }
}

/// A receive's sink, its digests and a buffer of its bytes, on their way
/// to the I/O pool to be hashed and written, and back.
pub struct WriteBehind {
    pub(super) sink: Sink,
    pub(super) digests: Option<Box<Digesting>>,
    pub(super) buffer: PageBuf,
    pub(super) result: Result<(), StorageError>,
}

impl WriteBehind {
    /// `buffer`'s bytes to be hashed into `digests` and written to `sink`.
    pub(super) fn new(sink: Sink, digests: Option<Box<Digesting>>, buffer: PageBuf) -> WriteBehind {
        WriteBehind {
            sink,
            digests,
            buffer,
            result: Ok(()),
        }
    }

    /// Hashes and writes the buffer (on the I/O pool: a large body's
    /// hashes go to a lane beside the writes, `hash_lane.rs`).
    pub fn run(mut self) -> WriteBehind {
        if let Some(digests) = &mut self.digests {
            digests.hash_beside_writes(DEFERRED_WRITE as u64);
        }
        self.result = hash_and_write(
            &mut self.sink,
            self.digests.as_deref_mut(),
            self.buffer.as_slice(),
        );
        self
    }

    /// Ends it for a receive that has gone (on the I/O pool): what was
    /// written of an APPEND stays staged; a PUT's temp file goes.
    pub fn settle(self) {
        drop(self.sink);
    }
}

/// Takes `data`, the body's next bytes, into its `digests` (if it has
/// them), then writes it to `sink`: the one place where bytes that are
/// gathered reach the file, so that the bytes hashed are those written, in
/// their order.
pub(super) fn hash_and_write(
    sink: &mut Sink,
    digests: Option<&mut Digesting>,
    data: &[u8],
) -> Result<(), StorageError> {
    if let Some(digests) = digests {
        digests.update(data);
    }
    write_to(sink, data)
}

/// Writes `data` to `sink`.
fn write_to(sink: &mut Sink, data: &[u8]) -> Result<(), StorageError> {
    if data.is_empty() {
        return Ok(());
    }
    match sink {
        Sink::File(upload) => upload.write(data),
        Sink::Session(appender) => appender.write(data),
        Sink::Part(part) => part.write(data),
    }
}
