//! GetObjectAttributes: an object's ETag, checksums, parts, storage
//! class and size, as XML, without its bytes.
//!
//! ```text
//! GET /<bucket>/<key>?attributes  x-amz-object-attributes: ETag,Checksum,ObjectParts,StorageClass,ObjectSize
//!                                 [x-amz-max-parts: N] [x-amz-part-number-marker: N]
//! ```
//!
//! It is a GetObject of no bytes ([`super::request`]'s `Ranged`, which
//! asks the serve layer for the checksum and the part sizes kept with the
//! file); this file reads the field and writes the answer.

use std::fmt::Write as _;

use super::super::dialect::Message;
use super::error;
use super::error::Code;
use super::xml::{DECLARATION, NS};
use super::{Refusal, refusal};
use crate::serve::digest::{Algorithm, Checksum};
use crate::serve::{Reply, Version};

/// Parts listed at most, as S3's default and cap.
const MAX_PARTS: u16 = 1000;
/// The attributes, as S3 names them, each a bit of [`Attributes`].
const NAMES: [&str; 5] = [
    "ETag",
    "Checksum",
    "ObjectParts",
    "StorageClass",
    "ObjectSize",
];
const ETAG: u8 = 1;
const CHECKSUM: u8 = 2;
const PARTS: u8 = 4;
const STORAGE_CLASS: u8 = 8;
const SIZE: u8 = 16;

/// What a GetObjectAttributes asked for: small, as every request's
/// [`super::Asked`] is kept with its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attributes {
    /// The attributes asked for, a bit each ([`NAMES`]' order).
    named: u8,
    /// Parts listed at most.
    max_parts: u16,
    /// Parts listed only after this number (an object has at most
    /// 10,000).
    after: u16,
}

impl Attributes {
    /// The attributes `x-amz-object-attributes` names, with the parts'
    /// page (`x-amz-max-parts`, `x-amz-part-number-marker`).
    ///
    /// # Errors
    /// 400 `InvalidArgument` for a name S3 does not know, none at all, or
    /// a page that is not a number.
    pub fn of(
        named: Option<&str>,
        max: Option<&str>,
        marker: Option<&str>,
    ) -> Result<Attributes, Refusal> {
        let mut asked = Attributes::default();
        for name in named.unwrap_or_default().split(',').map(str::trim) {
            let Some(at) = NAMES.iter().position(|known| *known == name) else {
                let why = format!("x-amz-object-attributes: {name:?} is not an attribute");
                return Err(refusal(Code::InvalidArgument, why));
            };
            asked.named |= 1 << at;
        }
        let number = |value: Option<&str>, default: u32| {
            value.map_or(Ok(default), |v| {
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| refusal(Code::InvalidArgument, "a part count is a number"))
            })
        };
        let max = number(max, u32::from(MAX_PARTS))?.min(u32::from(MAX_PARTS));
        asked.max_parts = u16::try_from(max).unwrap_or(MAX_PARTS);
        asked.after = u16::try_from(number(marker, 0)?).unwrap_or(u16::MAX);
        Ok(asked)
    }

    fn has(&self, bit: u8) -> bool {
        self.named & bit != 0
    }

    /// Whether the checksums are asked for (read on the pool).
    pub fn checksums(&self) -> bool {
        self.has(CHECKSUM)
    }

    /// Whether the parts are asked for (their sizes read on the pool).
    pub fn parts(&self) -> bool {
        self.has(PARTS)
    }
}

/// What an object is, for the answer.
pub struct Described<'a> {
    /// Its version: size, time, tags.
    pub version: &'a Version,
    /// The checksum it was uploaded with (`<algorithm>:<base64>`).
    pub stated: Option<&'a str>,
    /// The sizes of the parts it was uploaded in.
    pub part_sizes: Option<&'a [u64]>,
    /// Their checksums (`<algorithm>:<base64>` each), where its upload
    /// had one.
    pub part_checksums: Option<&'a [String]>,
}

/// GetObjectAttributes' answer, `asked` of the file `file` (a
/// [`Reply::File`]) found.
pub(super) fn answer_file(asked: &Attributes, file: &Reply, message: Message, out: &mut Vec<u8>) {
    let Reply::File {
        version,
        checksum,
        parts,
        ..
    } = file
    else {
        debug_assert!(false, "an object's attributes from {file:?}");
        return;
    };
    let parts = parts.as_deref();
    let object = Described {
        version,
        stated: checksum.as_deref(),
        part_sizes: parts.and_then(|parts| parts.sizes.as_deref()),
        part_checksums: parts.and_then(|parts| parts.checksums.as_deref()),
    };
    answer(asked, &object, message, out);
}

/// Writes the answer: 200 and the XML of what was asked.
pub fn answer(asked: &Attributes, object: &Described<'_>, message: Message, out: &mut Vec<u8>) {
    let version = object.version;
    let mut xml = format!("{DECLARATION}<GetObjectAttributesResponse xmlns=\"{NS}\">");
    if asked.has(ETAG) {
        let etag = super::xml::etag(version);
        let _ = write!(xml, "<ETag>{}</ETag>", etag.trim_matches('"'));
    }
    if asked.has(CHECKSUM) {
        checksums(object, &mut xml);
    }
    if asked.has(PARTS) {
        parts(asked, object, &mut xml);
    }
    if asked.has(STORAGE_CLASS) {
        xml.push_str("<StorageClass>STANDARD</StorageClass>");
    }
    if asked.has(SIZE) {
        let _ = write!(xml, "<ObjectSize>{}</ObjectSize>", version.info.size);
    }
    xml.push_str("</GetObjectAttributesResponse>\n");
    error::head(out, 200)
        .header("Content-Type", "application/xml")
        .header(
            "Last-Modified",
            super::super::response::http_date(version.info.mtime),
        )
        .finish(xml.len() as u64, message.persistence);
    if !message.head {
        out.extend_from_slice(xml.as_bytes());
    }
}

/// `<Checksum>`: the CRC-32C every object has where it is known, and the
/// one it was uploaded with; a multipart upload's composite one alone.
fn checksums(object: &Described<'_>, xml: &mut String) {
    let composite = object
        .stated
        .and_then(Checksum::of_record)
        .filter(|stated| stated.parts.is_some());
    if let Some(composite) = composite {
        let element = element_of(composite.algorithm.field());
        let _ = write!(
            xml,
            "<Checksum><{element}>{}</{element}><ChecksumType>COMPOSITE</ChecksumType></Checksum>",
            composite.base64()
        );
        return;
    }
    let crc = object
        .version
        .crc
        .map(|crc| Checksum::full(Algorithm::Crc32c, crc.to_be_bytes().to_vec()));
    let stated = object.stated.and_then(Checksum::field_of_record);
    if crc.is_none() && stated.is_none() {
        return;
    }
    xml.push_str("<Checksum>");
    let mut put = |field: &str, base64: &str| {
        let element = element_of(field);
        let _ = write!(xml, "<{element}>{base64}</{element}>");
    };
    if let Some(crc) = &crc {
        put(crc.algorithm.field(), &crc.base64());
    }
    if let Some((field, base64)) = stated.filter(|(f, _)| *f != Algorithm::Crc32c.field()) {
        put(field, base64);
    }
    xml.push_str("<ChecksumType>FULL_OBJECT</ChecksumType></Checksum>");
}

/// The element of a checksum field: `x-amz-checksum-sha256` is
/// `ChecksumSHA256`.
pub(super) fn element_of(field: &str) -> String {
    let name = field
        .trim_start_matches("x-amz-checksum-")
        .to_ascii_uppercase();
    format!("Checksum{name}")
}

/// A part's checksum (`<algorithm>:<base64>`) as S3's XML states it.
pub(super) fn part_checksum_element(record: &str) -> String {
    match Checksum::field_of_record(record) {
        Some((field, base64)) => {
            let element = element_of(field);
            format!("<{element}>{base64}</{element}>")
        }
        None => String::new(),
    }
}

/// `<ObjectParts>`: only for an object uploaded in parts, as S3; the
/// page after the marker, where their sizes are kept. The count's element
/// is `PartsCount`, as S3 and botocore's model name it (its docs say
/// `TotalPartsCount`).
fn parts(asked: &Attributes, object: &Described<'_>, xml: &mut String) {
    let Some(count) = object.version.md5.and_then(|tag| tag.parts) else {
        return;
    };
    let _ = write!(
        xml,
        "<ObjectParts><PartsCount>{count}</PartsCount><PartNumberMarker>{}</PartNumberMarker><MaxParts>{}</MaxParts>",
        asked.after, asked.max_parts
    );
    let sizes = object.part_sizes.unwrap_or_default();
    let page = sizes
        .iter()
        .enumerate()
        .map(|(at, size)| (at as u32 + 1, size))
        .skip_while(|(number, _)| *number <= u32::from(asked.after));
    let checksums = object.part_checksums.filter(|all| all.len() == sizes.len());
    let mut last = None;
    for (number, size) in page.clone().take(asked.max_parts as usize) {
        let checksum = checksums
            .and_then(|all| all.get(number as usize - 1))
            .map(|record| part_checksum_element(record))
            .unwrap_or_default();
        let _ = write!(
            xml,
            "<Part><PartNumber>{number}</PartNumber><Size>{size}</Size>{checksum}</Part>"
        );
        last = Some(number);
    }
    let truncated = page.count() > asked.max_parts as usize;
    if let (true, Some(last)) = (truncated, last) {
        let _ = write!(xml, "<NextPartNumberMarker>{last}</NextPartNumberMarker>");
    }
    let _ = write!(xml, "<IsTruncated>{truncated}</IsTruncated></ObjectParts>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_named_by_s3_names() {
        let all = Attributes::of(Some("ETag, ObjectParts"), Some("2"), None).unwrap();
        assert!(all.has(ETAG) && all.parts() && !all.has(SIZE));
        assert_eq!((all.max_parts, all.after), (2, 0));
        assert!(Attributes::of(Some("Colour"), None, None).is_err());
        assert!(Attributes::of(Some("ETag"), Some("x"), None).is_err());
        assert_eq!(element_of("x-amz-checksum-sha256"), "ChecksumSHA256");
    }
}
