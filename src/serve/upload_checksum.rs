//! A multipart upload's checksum (S3's): the algorithm and type its
//! CreateMultipartUpload names, kept with its session; each part's
//! checksum of that algorithm, verified as it arrives and kept with the
//! part (`storage/posix/parts.rs`); at completion, the parts' checksums made
//! the object's, with no byte read again:
//!
//! ```text
//! COMPOSITE    the checksum of the parts' checksums (their bytes, in
//!              order), answered <base64>-<parts>: CRC-32, CRC-32C,
//!              SHA-1, SHA-256 (the default but for CRC-64/NVME)
//! FULL_OBJECT  the CRC of the whole object, combined from the parts'
//!              CRCs and lengths (zlib's crc32_combine): CRC-32, CRC-32C,
//!              CRC-64/NVME (its only type)
//! ```
//!
//! The completion may state each part's checksum (a mismatch is an
//! invalid part) and the object's (a mismatch is a bad digest).

use super::digest::{Algorithm, Checksum};
use super::{ErrorKind, Failure};
use crate::formats::crc_combine::{self, Reflected};
use crate::storage::Part;

/// A completion names a part that is not staged, or not with its ETag
/// or checksum (`multipart.rs` re-exports it).
pub const INVALID_PART: &str = "a part listed is not staged, or not with the ETag given";

/// S3's `x-amz-checksum-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The checksum of the parts' checksums.
    Composite,
    /// The checksum of the whole object's bytes.
    FullObject,
}

impl Kind {
    /// Its S3 name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Composite => "COMPOSITE",
            Kind::FullObject => "FULL_OBJECT",
        }
    }
}

/// The checksum a multipart upload's object is to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadChecksum {
    /// Every part states one of it.
    pub algorithm: Algorithm,
    /// How the parts' make the object's.
    pub kind: Kind,
}

impl UploadChecksum {
    /// The checksum CreateMultipartUpload's `x-amz-checksum-algorithm`
    /// and `x-amz-checksum-type` name (any case); without a type,
    /// CRC-64/NVME's only one, else `COMPOSITE` (as S3).
    ///
    /// # Errors
    /// An algorithm or type S3 does not know, or a type the algorithm
    /// cannot make (a composite CRC-64/NVME, a full-object SHA): what is
    /// wrong, for a 400.
    pub fn of_names(algorithm: &str, kind: Option<&str>) -> Result<UploadChecksum, String> {
        let algorithm = Algorithm::of_name(algorithm)
            .ok_or_else(|| format!("x-amz-checksum-algorithm: no such algorithm: {algorithm}"))?;
        let kind = match kind {
            None if algorithm == Algorithm::Crc64Nvme => Kind::FullObject,
            None => Kind::Composite,
            Some(k) if k.eq_ignore_ascii_case("COMPOSITE") => Kind::Composite,
            Some(k) if k.eq_ignore_ascii_case("FULL_OBJECT") => Kind::FullObject,
            Some(k) => return Err(format!("x-amz-checksum-type: no such type: {k}")),
        };
        let fits = match kind {
            Kind::FullObject => algorithm.is_crc(),
            Kind::Composite => algorithm != Algorithm::Crc64Nvme,
        };
        match fits {
            true => Ok(UploadChecksum { algorithm, kind }),
            false => Err(format!(
                "{} checksums are not of type {}",
                algorithm.record_name(),
                kind.name()
            )),
        }
    }

    /// How a session keeps it (`upload_metadata::with_checksum`):
    /// `<algorithm> <type>`, `sha256 COMPOSITE`.
    pub fn spelled(&self) -> String {
        format!("{} {}", self.algorithm.record_name(), self.kind.name())
    }

    /// The checksum [`UploadChecksum::spelled`] spells.
    pub fn of_spelled(text: &str) -> Option<UploadChecksum> {
        let (algorithm, kind) = text.split_once(' ')?;
        UploadChecksum::of_names(algorithm, Some(kind)).ok()
    }

    /// The one a session's metadata keeps, if any.
    pub fn of_meta(meta: Option<&str>) -> Option<UploadChecksum> {
        UploadChecksum::of_spelled(&crate::formats::upload_metadata::checksum(meta?)?)
    }

    /// The object's checksum, made of its `parts`' (each its length and
    /// checksum, of this algorithm, in order).
    pub fn combine(&self, parts: &[(u64, &Checksum)]) -> Checksum {
        match self.kind {
            Kind::Composite => {
                let joined: Vec<u8> = parts
                    .iter()
                    .flat_map(|(_, checksum)| checksum.value.iter().copied())
                    .collect();
                Checksum {
                    algorithm: self.algorithm,
                    value: self.algorithm.of_bytes(&joined),
                    parts: Some(u32::try_from(parts.len()).unwrap_or(u32::MAX)),
                }
            }
            Kind::FullObject => {
                let crc = crc_of(self.algorithm);
                let whole = parts.iter().fold(None, |whole, (len, checksum)| {
                    let part = value_of(&checksum.value);
                    Some(match whole {
                        None => part,
                        Some(before) => crc.combine(before, part, *len),
                    })
                });
                // No part: the CRC of nothing, 0 for each of these (a
                // completion lists one part at least).
                let whole = whole.unwrap_or(0);
                // CRC-32s are 4 bytes, CRC-64/NVME's 8, big-endian as S3 states them.
                let width = match self.algorithm {
                    Algorithm::Crc64Nvme => 8,
                    _ => 4,
                };
                let bytes = whole.to_be_bytes();
                Checksum::full(self.algorithm, bytes[bytes.len() - width..].to_vec())
            }
        }
    }
}

/// What a completion states of checksums: each part's (by number, in
/// its `<Part>`) and the object's (`x-amz-checksum-<algorithm>`, as sent).
#[derive(Debug, Default)]
pub struct Stated {
    /// Parts' checksums, by number.
    pub parts: Vec<(u32, Checksum)>,
    /// The object's, as its field's text.
    pub object: Option<(Algorithm, String)>,
}

/// Why a part of an upload with a checksum is refused: it states another
/// (S3's `InvalidRequest`). One that states none has it computed as it
/// arrives, as S3 does (`digest::BodyDigests::computed`).
pub fn check_part(
    upload: Option<UploadChecksum>,
    stated: Option<Algorithm>,
) -> Result<(), Failure> {
    match (upload, stated) {
        (Some(upload), Some(stated)) if stated != upload.algorithm => Err(Failure::new(
            ErrorKind::BadRequest,
            format!(
                "the upload was created with checksum algorithm {}: a part states its {} or none",
                upload.algorithm.record_name().to_ascii_uppercase(),
                upload.algorithm.field()
            ),
        )),
        _ => Ok(()),
    }
}

/// The object's checksum that the `chosen` parts make, where the upload
/// has one (`upload`), checked against what the completion `stated`.
///
/// # Errors
/// A part stated with another checksum than it has (`InvalidPart`); a
/// part without one of the upload's algorithm, or an object's checksum
/// stated for an upload without one (400); the object's stated with
/// another value (`BadDigest`).
pub fn of_completion(
    upload: Option<UploadChecksum>,
    chosen: &[Part],
    stated: &Stated,
) -> Result<Option<Checksum>, Failure> {
    let kept = |part: &Part| part.checksum.as_deref().and_then(Checksum::of_record);
    for (number, checksum) in &stated.parts {
        let part = chosen.iter().find(|part| part.number == *number);
        if part.and_then(kept).as_ref() != Some(checksum) {
            return Err(Failure::new(ErrorKind::BadRequest, INVALID_PART));
        }
    }
    let bad = |message: String| Failure::new(ErrorKind::BadRequest, message);
    let Some(upload) = upload else {
        return match &stated.object {
            Some((algorithm, _)) => Err(bad(format!(
                "{}: the upload was created without a checksum algorithm",
                algorithm.field()
            ))),
            None => Ok(None),
        };
    };
    let mut sums = Vec::with_capacity(chosen.len());
    for part in chosen {
        match kept(part).filter(|sum| sum.algorithm == upload.algorithm) {
            Some(sum) => sums.push((part.size, sum)),
            None => {
                return Err(bad(format!(
                    "part {} has no {}",
                    part.number,
                    upload.algorithm.field()
                )));
            }
        }
    }
    let parts: Vec<(u64, &Checksum)> = sums.iter().map(|(size, sum)| (*size, sum)).collect();
    let object = upload.combine(&parts);
    if let Some((algorithm, text)) = &stated.object {
        let answered = object.base64();
        // A composite one stated with or without its count.
        let same = *algorithm == object.algorithm
            && (*text == answered || answered.split('-').next() == Some(text.as_str()));
        if !same {
            return Err(Failure::new(
                ErrorKind::ChecksumMismatch,
                format!("the object's {} is not the one stated", algorithm.field()),
            ));
        }
    }
    Ok(Some(object))
}

/// A CRC algorithm, as combining needs it.
fn crc_of(algorithm: Algorithm) -> Reflected {
    match algorithm {
        Algorithm::Crc32 => crc_combine::CRC32,
        Algorithm::Crc32c => crc_combine::CRC32C,
        _ => crc_combine::CRC64_NVME,
    }
}

/// A CRC's big-endian bytes (4 or 8) as a number.
fn value_of(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0, |value, byte| value << 8 | u64::from(*byte))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    /// ceph/s3-tests' three parts of 5 MiB of 'A', 'B' and 'C', and the
    /// object's checksum it expects of each algorithm.
    #[test]
    fn parts_make_the_objects_checksum_as_s3_does() {
        let size = 5 * 1024 * 1024;
        let bodies: Vec<Vec<u8>> = [b'A', b'B', b'C'].map(|b| vec![b; size]).to_vec();
        let cases = [
            (
                "SHA256",
                None,
                "uWBwpe1dxI4Vw8Gf0X9ynOdw/SS6VBzfWm9giiv1sf4=-3",
            ),
            ("SHA1", None, "sizjvY4eud3MrcHdZM3cQ/ol39o=-3"),
            ("CRC32", Some("FULL_OBJECT"), "WgDhBQ=="),
            ("CRC32C", Some("FULL_OBJECT"), "xU+Krw=="),
            ("CRC64NVME", None, "i+6LR0y3eFo="),
        ];
        for (algorithm, kind, expected) in cases {
            let upload = UploadChecksum::of_names(algorithm, kind).unwrap();
            let sums: Vec<Checksum> = bodies
                .iter()
                .map(|body| Checksum::full(upload.algorithm, upload.algorithm.of_bytes(body)))
                .collect();
            let parts: Vec<(u64, &Checksum)> = sums.iter().map(|c| (size as u64, c)).collect();
            assert_eq!(upload.combine(&parts).base64(), expected, "{algorithm}");
            assert_eq!(UploadChecksum::of_spelled(&upload.spelled()), Some(upload));
        }
        let part1 = Algorithm::Crc64Nvme.of_bytes(&bodies[0]);
        assert_eq!(STANDARD.encode(part1), "L/E4WYn8v98=");
    }

    #[test]
    fn types_are_those_the_algorithm_can_make() {
        let kind = |a, k| UploadChecksum::of_names(a, k).map(|u| u.kind);
        assert_eq!(kind("crc64nvme", None), Ok(Kind::FullObject));
        assert_eq!(kind("CRC32", None), Ok(Kind::Composite));
        assert!(kind("CRC64NVME", Some("COMPOSITE")).is_err());
        assert!(kind("SHA256", Some("FULL_OBJECT")).is_err());
        assert!(kind("MD5", None).is_err());
        assert!(kind("CRC32", Some("WHOLE")).is_err());
    }
}
