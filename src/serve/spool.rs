//! The spool a listing is written into (LIST, an HTTP or WebDAV listing,
//! a search, an S3 listing page): the codec's [`ListingFormat`] puts each
//! piece into a bounded buffer that goes to an unlinked file of the
//! storage's, so a listing of any size costs a descriptor, not memory, and
//! its length is known before the body is sent.

use std::fs::File;
use std::io::Write;

use super::{Ctx, ListingFormat, Piece};
use crate::name::Prefix;
use crate::storage::StorageError;

/// Listing bytes gathered before each write to the spool file.
const SPOOL_BUFFER: usize = 64 * 1024;

/// A listing being written into its spool file, through a bounded buffer.
pub(super) struct Spool<'a> {
    file: File,
    /// The folder listed, as the listing's names are relative to it.
    pub(super) prefix: &'a str,
    pub(super) format: ListingFormat,
    buffer: Vec<u8>,
    len: u64,
}

impl<'a> Spool<'a> {
    pub(super) fn new(
        ctx: &Ctx<'_>,
        prefix: &'a Prefix,
        format: ListingFormat,
    ) -> Result<Self, StorageError> {
        Ok(Spool {
            file: ctx.storage.listing_spool()?,
            prefix: prefix.as_str(),
            format,
            buffer: Vec::with_capacity(SPOOL_BUFFER),
            len: 0,
        })
    }

    /// Writes `piece`; the buffer goes to the file once it is full.
    pub(super) fn put(&mut self, piece: Piece<'_>) -> std::io::Result<()> {
        self.format.put(self.prefix, piece, &mut self.buffer);
        if self.buffer.len() >= SPOOL_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.write_all(&self.buffer)?;
        self.len += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// The spool file and the listing's length, with `files` for the log.
    pub(super) fn finish(mut self, files: u64) -> Result<(File, u64, u64), StorageError> {
        self.flush()?;
        Ok((self.file, self.len, files))
    }
}
