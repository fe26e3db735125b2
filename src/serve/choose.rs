//! A codec's rule for which bytes of a file's version a GET sends
//! ([`Choose`]: what it is given, [`Version`], and what it picks,
//! [`Selection`]), and what else its answer tells (dead properties,
//! checksums, part sizes, whether the name is in a bucket), known before
//! the file is opened so that the serve layer reads what is recorded
//! with it on the pool (`get.rs`). Apart from `terms.rs`, which
//! re-exports them, so that each stays short.

use std::fmt;

pub use crate::model::Version;

/// What a GET gets once its file's version is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// `len` bytes from `start`.
    Bytes {
        /// First byte.
        start: u64,
        /// Bytes.
        len: u64,
        /// A part was asked for and is answered as one (HTTP's 206).
        part: bool,
        /// The bytes follow the answer (false: only their description).
        body: bool,
    },
    /// The client's copy is current.
    NotModified,
    /// A condition the request set does not hold (S3's `If-Match`,
    /// `If-Unmodified-Since`): nothing is sent.
    PreconditionFailed,
    /// Nothing of the file matches what was asked for.
    Unsatisfiable,
}

/// A codec's rule for which bytes of a file version to send.
pub trait Choose: fmt::Debug + Send {
    /// What to send of `version`.
    fn choose(&self, version: &Version) -> Selection;

    /// Whether the answer tells the file's dead properties (S3's object
    /// metadata): then the file is opened on the pool, where its record
    /// is read, never on the loop.
    fn wants_props(&self) -> bool {
        false
    }

    /// Amends the dead properties the answer is written from (S3's
    /// `response-*` fields, stated instead of those kept): the answer's
    /// alone, never the file's.
    fn amend(&self, _props: &mut Vec<crate::model::DeadProperty>) {}

    /// Whether the answer tells the additional checksum the file was
    /// uploaded with (S3's `x-amz-checksum-mode: ENABLED`): then too the
    /// file is opened on the pool, where its record is read.
    fn wants_checksum(&self) -> bool {
        false
    }

    /// The part of the file wanted, by number (S3's `partNumber`): a file
    /// uploaded in parts has those, any other one, itself (see
    /// `serve::files`). `None`: what [`Choose::choose`] selects.
    fn part(&self) -> Option<u32> {
        None
    }

    /// Whether the answer tells the sizes of the parts the file was
    /// uploaded in (S3's GetObjectAttributes): read on the pool too.
    fn wants_part_sizes(&self) -> bool {
        self.part().is_some()
    }

    /// Whether the name's first folder is a bucket (S3's), which only
    /// its own creation makes: a file not found where that folder is not
    /// there either is refused as no bucket (`NoSuchBucket`), a look at
    /// the folder made on the pool, on the not-found path only.
    fn in_bucket(&self) -> bool {
        false
    }
}
