//! The part of an S3 multipart upload serve holds while its bytes arrive
//! ([`PartUpload`]), begun by
//! [`SessionStore::begin_part`](super::SessionStore::begin_part): the
//! POSIX root's held as it is, another engine's a box of [`EnginePart`]
//! (as [`Upload`](super::Upload) and [`Appender`](super::Appender) are).
//! A part copied from an object (UploadPartCopy) is read here, from the
//! object's body as the store opened it, whatever the engine.

use std::fmt;
use std::io;

use super::{FilePart, StorageError};
use crate::wire::content::Content;

/// The buffer a part copied from an object is read through.
const COPY_BUFFER: usize = 256 * 1024;

/// A part being received; dropped before its commit, the upload is as
/// it was.
#[derive(Debug)]
pub enum PartUpload {
    /// A POSIX root's: a slot in the upload's data file, or a temp file.
    File(FilePart),
    /// Another engine's (the memory store's).
    Other(Box<dyn EnginePart>),
}

/// What an engine's part does besides the POSIX root's: the handle's
/// verbs (see [`PartUpload`]).
pub trait EnginePart: Send {
    /// As [`PartUpload::upload_meta`].
    fn upload_meta(&self) -> Option<&str>;
    /// As [`PartUpload::write`].
    ///
    /// # Errors
    /// The engine's.
    fn write(&mut self, data: &[u8]) -> Result<(), StorageError>;
    /// As [`PartUpload::commit`].
    ///
    /// # Errors
    /// As [`PartUpload::commit`].
    fn commit(
        self: Box<Self>,
        digests: ([u8; 16], u32, Option<&str>),
        durable: bool,
    ) -> Result<(), StorageError>;
}

/// An engine's part shows as its kind alone.
impl fmt::Debug for dyn EnginePart + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnginePart")
    }
}

impl PartUpload {
    /// The metadata of the upload it is a part of (what its parts must
    /// state: S3's checksum algorithm).
    pub fn upload_meta(&self) -> Option<&str> {
        match self {
            PartUpload::File(part) => part.upload_meta(),
            PartUpload::Other(part) => part.upload_meta(),
        }
    }

    /// Appends body bytes.
    ///
    /// # Errors
    /// No space, I/O; more bytes than the part's stated length.
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        match self {
            PartUpload::File(part) => part.write(data),
            PartUpload::Other(part) => part.write(data),
        }
    }

    /// Appends `len` bytes of `source` (an object's body, as the store
    /// opened it) from `start`, each read handed to `seen` as it is
    /// written (for its digests).
    ///
    /// # Errors
    /// No space, I/O; [`StorageError::Io`] if `source` ends before them
    /// (it was cut while it was read).
    pub fn copy_from(
        &mut self,
        source: &Content,
        (start, len): (u64, u64),
        mut seen: impl FnMut(&[u8]),
    ) -> Result<(), StorageError> {
        let mut buf = vec![0; COPY_BUFFER.min(usize::try_from(len).unwrap_or(COPY_BUFFER))];
        let mut done = 0u64;
        while done < len {
            let want = usize::try_from(len - done).map_or(buf.len(), |left| left.min(buf.len()));
            let n = match source.read_at(&mut buf[..want], start + done) {
                Ok(0) => {
                    let cut = io::Error::other("the source was cut while it was copied");
                    return Err(StorageError::Io(cut));
                }
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err.into()),
            };
            seen(&buf[..n]);
            self.write(&buf[..n])?;
            done += n as u64;
        }
        Ok(())
    }

    /// Stages the part with its digests (its MD5, CRC-32C and the
    /// checksum it was verified against, `<algorithm>:<base64>`, if any)
    /// in place of any part of its number (on stable storage first where
    /// `durable`).
    ///
    /// # Errors
    /// No space, I/O, the upload gone: the part is then not staged.
    pub fn commit(
        self,
        digests: ([u8; 16], u32, Option<&str>),
        durable: bool,
    ) -> Result<(), StorageError> {
        match self {
            PartUpload::File(part) => part.commit(digests, durable),
            PartUpload::Other(part) => part.commit(digests, durable),
        }
    }
}
