//! What a multipart request asks of a part (S3's UploadPart,
//! UploadPartCopy and the parts a CompleteMultipartUpload lists), as the
//! operations carry it (`multipart/`, which serves them).

use super::digest::BodyDigests;
use super::terms::{Body, Choose};

/// A part a completion lists: its number and the MD5 its ETag names
/// (`None`: an ETag that names none, which no part has; judged once the
/// upload is found, so that an unknown upload is "not found" first).
pub type ListedPart = (u32, Option<[u8; 16]>);

/// What a part is: its upload, its number, its body and what that must
/// hash to.
#[derive(Debug)]
pub struct PartAsk {
    /// The upload.
    pub id: String,
    /// Its number (1..=[`MAX_PART_NUMBER`](super::ops::multipart::MAX_PART_NUMBER)).
    pub number: u32,
    /// Its body (of a known length).
    pub body: Body,
    /// What the body must hash to.
    pub digests: BodyDigests,
}

/// What a part copied from an object is: its upload, its number, and
/// what of the source it takes (a dialect's conditions and range).
#[derive(Debug)]
pub struct CopyPartAsk {
    /// The upload.
    pub id: String,
    /// Its number (1..=[`MAX_PART_NUMBER`](super::ops::multipart::MAX_PART_NUMBER)).
    pub number: u32,
    /// The source's conditions and range, judged on the version opened.
    pub source: Box<dyn Choose>,
}
