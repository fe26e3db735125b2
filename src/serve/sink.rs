//! Where an arriving body goes (a PUT's temp file, an APPEND's session,
//! an S3 part)
//! and the writes the I/O pool makes behind the connection: the sink
//! travels to the pool with a buffer of bytes and comes back
//! ([`WriteBehind`]). The receive that gathers those bytes is
//! `receive.rs`'s.

use super::{ErrorKind, Failure};
use crate::name::Name;
use crate::storage::{Appender, PartUpload, StorageError, Upload};

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

/// A receive's sink and a buffer of its bytes, on their way to the I/O
/// pool to be written, and back.
pub struct WriteBehind {
    pub(super) sink: Sink,
    pub(super) buffer: Vec<u8>,
    pub(super) result: Result<(), StorageError>,
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

/// Writes `data` to `sink`.
pub(super) fn write_to(sink: &mut Sink, data: &[u8]) -> Result<(), StorageError> {
    if data.is_empty() {
        return Ok(());
    }
    match sink {
        Sink::File(upload) => upload.write(data),
        Sink::Session(appender) => appender.write(data),
        Sink::Part(part) => part.write(data),
    }
}
