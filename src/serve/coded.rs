//! An upload body's `aws-chunked` coding (S3's streaming uploads),
//! between its framing and everything else a receive does with it: the
//! decoder (`aws_chunked.rs`) turns framed bytes into payload, which
//! alone is checksummed and written, and its refusals into failures.

use super::digest::INCOMPLETE_BODY;
use super::{BAD_SIGNATURE, ErrorKind, Failure};
use crate::formats::aws_chunked::{AwsChunkError, AwsChunked, Coding};
use crate::storage::StorageError;

/// An `aws-chunked` body's end: its payload's size and its trailer's
/// fields.
pub type CodedEnd = (u64, Vec<(String, String)>);

/// The decoding of one body.
#[derive(Debug)]
pub struct Coded(Box<AwsChunked>);

impl Coded {
    /// The decoding of a body coded as `coding` says.
    pub fn new(coding: Coding) -> Coded {
        Coded(Box::new(AwsChunked::new(coding)))
    }

    /// Decodes `data` and passes its payload to `payload`, piece by piece.
    /// A refused body's failure is the inner error; the rest of `data`
    /// is then left unread.
    ///
    /// # Errors
    /// What `payload` fails with (a write).
    pub fn decode(
        &mut self,
        mut data: &[u8],
        mut payload: impl FnMut(&[u8]) -> Result<(), StorageError>,
    ) -> Result<Result<(), Failure>, StorageError> {
        while !data.is_empty() {
            match self.0.decode(data) {
                Ok((used, decoded)) => {
                    data = &data[used..];
                    payload(decoded)?;
                }
                Err(err) => return Ok(Err(failure(err))),
            }
        }
        Ok(Ok(()))
    }

    /// The body's payload size and trailer fields, once it is whole.
    ///
    /// # Errors
    /// The body ended before its coding did.
    pub fn end(&self) -> Result<CodedEnd, Failure> {
        match self.0.is_done() {
            true => Ok((self.0.decoded(), self.0.trailers().to_vec())),
            false => Err(Failure::new(ErrorKind::BadRequest, INCOMPLETE_BODY)),
        }
    }
}

/// What the client is told of a body its coding refused.
fn failure(err: AwsChunkError) -> Failure {
    match err {
        AwsChunkError::Malformed(why) => Failure::new(ErrorKind::BadRequest, why),
        AwsChunkError::Signature => Failure::new(ErrorKind::Unauthorized, BAD_SIGNATURE),
        AwsChunkError::Length => Failure::new(ErrorKind::BadRequest, INCOMPLETE_BODY),
    }
}
