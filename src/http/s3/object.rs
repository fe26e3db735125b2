//! GetObject's and HeadObject's answer head: the object's type and the
//! metadata kept with it, its checksums where asked for, its time, ETag
//! and, for a part, its range and the count of parts.

use super::super::dialect::Message;
use super::super::response;
use super::{error, meta, xml};
use crate::serve::Version;
use crate::serve::digest::{Algorithm, Checksum};
use crate::storage::DeadProperty;

/// What GetObject and HeadObject describe: the version, its dead
/// properties (the metadata kept: `meta.rs`) and the CRC-32C to state.
pub(super) struct Object<'a> {
    pub(super) version: &'a Version,
    pub(super) props: &'a [DeadProperty],
    /// Its CRC-32C, where checksums are asked for.
    pub(super) checksum: Option<u32>,
    /// The checksum it was uploaded with (`<algorithm>:<base64>`), where
    /// checksums are asked for and it is recorded.
    pub(super) stated: Option<&'a str>,
    /// How many parts it was uploaded in, where one part was asked for.
    pub(super) parts: Option<u32>,
}

/// GetObject's and HeadObject's fields: `start`, `len` and whether it is
/// a part of the object. Its type is the one kept with it, else
/// `application/octet-stream`; a part's checksum is not the object's, so
/// only a whole object's is stated (as S3 does).
pub(super) fn object_head(
    object: &Object<'_>,
    (start, len, part): (u64, u64, bool),
    message: Message,
    out: &mut Vec<u8>,
) {
    let version = object.version;
    let info = &version.info;
    let kept = meta::fields(object.props, (info.mtime, version.stamp.nanos));
    let content_type = kept
        .iter()
        .find(|(name, _)| *name == "content-type")
        .map_or(meta::DEFAULT_TYPE, |(_, value)| value.as_str());
    let mut head =
        error::head(out, if part { 206 } else { 200 }).header("Content-Type", content_type);
    for (name, value) in kept.iter().filter(|(name, _)| *name != "content-type") {
        head = head.header(name, value);
    }
    if let Some(crc) = object.checksum.filter(|_| !part) {
        // ferry's CRC-32C is the whole object's, a multipart one's too.
        let checksum = Checksum {
            algorithm: Algorithm::Crc32c,
            value: crc.to_be_bytes().to_vec(),
        };
        head = head
            .header(checksum.algorithm.field(), checksum.base64())
            .header("x-amz-checksum-type", "FULL_OBJECT");
        // The one it was uploaded with too (a SHA-256, say), as S3
        // answers the algorithm its client chose.
        let stated = object.stated.and_then(Checksum::field_of_record);
        if let Some((field, base64)) = stated.filter(|(f, _)| *f != checksum.algorithm.field()) {
            head = head.header(field, base64);
        }
    }
    if let Some(parts) = object.parts {
        head = head.header("x-amz-mp-parts-count", parts);
    }
    head = head
        .header("Last-Modified", response::http_date(info.mtime))
        .header("ETag", xml::etag(version))
        .header("Accept-Ranges", "bytes");
    if part {
        let end = start + len - 1;
        head = head.header(
            "Content-Range",
            format!("bytes {start}-{end}/{}", info.size),
        );
    }
    head.finish(len, message.persistence);
}
