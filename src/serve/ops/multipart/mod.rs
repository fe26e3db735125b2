//! Serving multipart uploads (S3's): begin one, stage a part, list the
//! parts, complete or abort one (the uploads' listing: `uploads.rs`).
//! The upload is a ferry upload session and its parts are staged beside
//! it on disk (`storage/posix/parts.rs`), so what it costs in memory does not
//! grow with its size, it survives a restart, and another node of a
//! shared root can go on with it; it expires as every session does. A
//! part's body streams like a PUT's (its MD5 and the digests it states
//! computed as it comes), or is copied from an object under CopyObject's
//! rules (UploadPartCopy): `parts.rs`. The completion checks the parts
//! asked for against those staged, assembles them on the pool and commits
//! the object as every upload is committed (hooks, `--fsync`, one rename),
//! with the checksum its parts make where it has one
//! (`upload_checksum.rs`): `complete.rs`. Grants, read-only, locks and
//! `--max-file-size` are the serve layer's, on the object's name, as for a
//! PUT of it. This file holds the limits both keep.

mod complete;
mod parts;

use crate::access::Who;
use crate::name::Name;
use crate::serve::access::authorize_own_session;
use crate::serve::{Ctx, Failure};
use crate::storage::StorageError;

pub use crate::serve::part_asks::{CopyPartAsk, ListedPart, PartAsk};
pub use crate::serve::upload_checksum::INVALID_PART;
#[cfg(feature = "s3")]
pub(in crate::serve) use complete::complete;
pub use complete::{CompleteParts, Completing};
pub(in crate::serve) use parts::finish_part;
pub use parts::{
    AbortParts, BeginParts, CopyPart, ListParts, NO_SUCH_SOURCE, PartLengths, PartsPage, PutPart,
};
#[cfg(feature = "s3")]
pub(in crate::serve) use parts::{abort_parts, begin_parts, copy_part, list_parts, put_part};

/// Whether `who` may stage parts of multipart upload `id` of `name`, or
/// complete it: its token began it ([`authorize_own_session`]: a part
/// counts in the account of the token that began the upload, judged
/// against that token's quota, and the completion judges only the room
/// the object needs). The record is read only where access control is on;
/// whose an upload is never changes, so no hold is needed. An upload not
/// there is left for the operation to answer (a completion sent again
/// after the first succeeded is answered as the first was).
///
/// # Errors
/// The refusal; [`SessionStore::multipart`](crate::storage::SessionStore::multipart)'s.
fn began_by(ctx: &Ctx<'_>, who: &Who, (id, name): (&str, &Name)) -> Result<(), Failure> {
    if who.is_everyone() {
        return Ok(());
    }
    match ctx.store.sessions().multipart(id, name) {
        Ok(upload) => authorize_own_session(who, &upload),
        Err(StorageError::NoSuchUpload) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Part numbers run from 1 to this.
pub const MAX_PART_NUMBER: u32 = 10_000;
/// Every part of an upload but its last is at least this large (storage
/// places parts by it: `storage/posix/part_slots.rs`).
pub const MIN_PART_SIZE: u64 = crate::storage::SMALLEST_PART;
/// Most parts or uploads on a page of a listing.
pub const MAX_PAGE: usize = 1000;

/// A completion lists parts out of order.
pub const PART_ORDER: &str = "the parts must be listed in ascending order of their numbers";
/// A part other than the last is too small.
pub const PART_TOO_SMALL: &str = "every part but the last must be at least 5 MiB";
