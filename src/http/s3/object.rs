//! GetObject, HeadObject and GetObjectAttributes: the request's rule for
//! which bytes to send (`Ranged`: conditions, `Range` or `partNumber`,
//! `response-*` fields), and the answer's head: the object's type and the
//! metadata kept with it, its checksums where asked for, its time, ETag
//! and, for a part, its range and the count of parts.

use super::super::dialect::Message;
use super::super::range::selection;
use super::super::response;
use super::attributes::Attributes;
use super::conditions::{Conditions, Verdict};
use super::error::Code;
use super::target::param;
use super::{Asked, Fields, Reading, Refusal, error, meta, refusal, xml};
use crate::model::DeadProperty;
use crate::name::Name;
use crate::serve::Version;
use crate::serve::digest::{Algorithm, Checksum};
use crate::serve::ops;
use crate::serve::terms::Choose;
use crate::serve::{Operation, Reply, Selection, Want};

/// GetObject or HeadObject (`head`): the bytes its conditions, `Range`
/// or `partNumber` select, with the `response-*` fields it sets.
///
/// # Errors
/// A `partNumber` out of range or with a `Range`, `response-*` fields an
/// anonymous request sets or that would split a field (400).
pub(super) fn get_object(
    name: Name,
    head: bool,
    query: &[(String, String)],
    fields: &Fields,
) -> Result<(Operation, Asked), Refusal> {
    let part = part_number(query, fields)?;
    let range = fields.range.clone().filter(|_| !head);
    let conditions = fields.conditions.clone();
    let want = Want::Chosen(Box::new(Ranged {
        head,
        range,
        conditions,
        checksums: fields.checksum_mode,
        part,
        part_sizes: false,
        overrides: meta::Overrides::of(query, fields.signed)?,
    }));
    let reading = Reading {
        checksums: fields.checksum_mode,
        part: part.is_some(),
    };
    let asked = match head {
        true => Asked::HeadObject(reading),
        false => Asked::GetObject(reading),
    };
    Ok((Operation::Get(ops::Get { name, want }), asked))
}

/// GetObject's and HeadObject's `partNumber` (1 to 10,000), never with a
/// `Range`.
///
/// # Errors
/// 400 `InvalidArgument` for another number or with a `Range`.
fn part_number(query: &[(String, String)], fields: &Fields) -> Result<Option<u32>, Refusal> {
    let Some(text) = param(query, "partNumber") else {
        return Ok(None);
    };
    let number = text
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=10_000).contains(n));
    match (number, &fields.range) {
        (None, _) => Err(refusal(
            Code::InvalidArgument,
            "partNumber is from 1 to 10000",
        )),
        (Some(_), Some(_)) => Err(refusal(
            Code::InvalidArgument,
            "a request names a Range or a partNumber, not both",
        )),
        (Some(number), None) => Ok(Some(number)),
    }
}

/// GetObjectAttributes: a GetObject of no bytes that reads the object's
/// checksums and part sizes where they are asked for (`attributes.rs`).
pub(super) fn attributes(name: Name, fields: &Fields) -> Result<(Operation, Asked), Refusal> {
    let [named, max, marker] = &fields.object_attributes;
    let asked = Attributes::of(named.as_deref(), max.as_deref(), marker.as_deref())?;
    let want = Want::Chosen(Box::new(Ranged {
        head: true,
        range: None,
        conditions: fields.conditions.clone(),
        checksums: asked.checksums(),
        part: None,
        part_sizes: asked.parts(),
        overrides: None,
    }));
    Ok((
        Operation::Get(ops::Get { name, want }),
        Asked::ObjectAttributes(asked),
    ))
}

/// GetObject's and HeadObject's choice of bytes: their conditions
/// (`conditions.rs`), then a `Range` (GET only).
#[derive(Debug)]
struct Ranged {
    head: bool,
    range: Option<String>,
    conditions: Conditions,
    /// `x-amz-checksum-mode: ENABLED`: the checksums are answered.
    checksums: bool,
    /// `partNumber`: that part of the object.
    part: Option<u32>,
    /// The sizes of its parts are answered (GetObjectAttributes).
    part_sizes: bool,
    /// The `response-*` fields, stated instead of those kept.
    overrides: Option<meta::Overrides>,
}

impl Choose for Ranged {
    fn choose(&self, version: &Version) -> Selection {
        match self.conditions.judge(version) {
            Verdict::Failed => Selection::PreconditionFailed,
            Verdict::NotModified => Selection::NotModified,
            Verdict::Holds => selection(self.range.as_deref(), version.info.size, self.head),
        }
    }

    /// The object's metadata is answered (`meta.rs`).
    fn wants_props(&self) -> bool {
        true
    }

    /// The checksum it was uploaded with, where checksums are asked for.
    fn wants_checksum(&self) -> bool {
        self.checksums
    }

    fn part(&self) -> Option<u32> {
        self.part
    }

    fn amend(&self, props: &mut Vec<crate::model::DeadProperty>) {
        if let Some(overrides) = &self.overrides {
            overrides.apply(props);
        }
    }

    fn wants_part_sizes(&self) -> bool {
        self.part_sizes || self.part.is_some()
    }

    /// A key's first folder is its bucket.
    fn in_bucket(&self) -> bool {
        true
    }
}

/// What GetObject and HeadObject describe: the version, its dead
/// properties (the metadata kept: `meta.rs`) and the CRC-32C to state.
pub(super) struct Object<'a> {
    pub(super) version: &'a Version,
    pub(super) props: &'a [DeadProperty],
    /// Its CRC-32C, where checksums are asked for.
    pub(super) checksum: Option<u32>,
    /// The checksum it was uploaded with (`<algorithm>:<base64>[-N]`),
    /// where checksums are asked for and it is recorded.
    pub(super) stated: Option<&'a str>,
    /// The checksum of the part asked for by number (`<algorithm>:<base64>`),
    /// where checksums are asked for and it is recorded.
    pub(super) part_checksum: Option<&'a str>,
    /// How many parts it was uploaded in, where one part was asked for.
    pub(super) parts: Option<u32>,
}

/// GetObject's and HeadObject's fields: `start`, `len` and whether it is
/// a part of the object. Its type is the one kept with it, else
/// `application/octet-stream`; a range's checksum is not the object's, so
/// only a whole object's or a part's (by number) is stated (as S3 does).
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
    for (field, value) in checksums(object, part) {
        head = head.header(field, value);
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

/// The checksum fields of an object's answer (`part`: of some of it). A
/// part asked for by number: its checksum, where its upload kept one,
/// and the object's type. A whole object: ferry's CRC-32C (the whole
/// object's, a multipart one's too) and the one it was uploaded with (a
/// SHA-256, say, as S3 answers the algorithm its client chose); a
/// multipart upload's composite one alone, as it is no checksum of the
/// bytes. A range: none.
fn checksums(object: &Object<'_>, part: bool) -> Vec<(&'static str, String)> {
    let stated = object.stated.and_then(Checksum::of_record);
    let kind = stated.as_ref().map_or("FULL_OBJECT", Checksum::kind);
    let mut fields = Vec::new();
    if part {
        if let Some(checksum) = object.part_checksum.and_then(Checksum::of_record) {
            fields.push((checksum.algorithm.field(), checksum.base64()));
            fields.push(("x-amz-checksum-type", kind.to_owned()));
        }
        return fields;
    }
    let crc = object
        .checksum
        .map(|crc| Checksum::full(Algorithm::Crc32c, crc.to_be_bytes().to_vec()));
    let crc = crc.filter(|_| stated.as_ref().is_none_or(|s| s.parts.is_none()));
    if let Some(crc) = &crc {
        fields.push((crc.algorithm.field(), crc.base64()));
    }
    if let Some(stated) = stated.filter(|s| crc.is_none() || s.algorithm != Algorithm::Crc32c) {
        fields.push((stated.algorithm.field(), stated.base64()));
    }
    if !fields.is_empty() {
        fields.push(("x-amz-checksum-type", kind.to_owned()));
    }
    fields
}

/// The answer head of a GetObject or HeadObject (`reading` what it asked
/// to read) for the file `file` (a [`Reply::File`]) found.
pub(super) fn answer_file(reading: Reading, file: &Reply, message: Message, out: &mut Vec<u8>) {
    let Reply::File {
        version,
        start,
        len,
        part,
        props,
        checksum: stated,
        parts,
        ..
    } = file
    else {
        debug_assert!(false, "an object's answer from {file:?}");
        return;
    };
    let checksum = version.crc.filter(|_| reading.checksums);
    let object = Object {
        version,
        props,
        checksum,
        stated: stated.as_deref(),
        part_checksum: parts
            .as_deref()
            .and_then(|parts| parts.checksums.as_deref())
            .and_then(<[String]>::first)
            .filter(|_| reading.checksums && reading.part)
            .map(String::as_str),
        // S3 states the count where one part was asked for.
        parts: version
            .md5
            .and_then(|tag| tag.parts)
            .filter(|_| reading.part),
    };
    object_head(&object, (*start, *len, *part), message, out);
}
