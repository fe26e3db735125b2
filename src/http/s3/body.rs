//! An upload's body as S3 states it (PutObject's, UploadPart's): its
//! length (an aws-chunked body's decoded one), the digests it must match
//! (the SHA-256 it signed, `Content-MD5`, `x-amz-checksum-*` in a field
//! or its trailer) and its aws-chunked coding, checked as it streams by
//! `serve/digest.rs` and `serve/coded.rs`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::super::message::Resume;
use super::error::Code;
use super::{Fields, Refusal, refusal, sigv4};
use crate::formats::aws_chunked::{AwsChunked, Coding};
use crate::serve::BodyLength;
use crate::serve::digest::{Algorithm, BodyDigests, Stated};

/// An upload's body (PutObject's, UploadPart's): its length, which must
/// be given (an aws-chunked body's, decoded, whatever its framing), and
/// the digests it must match (the SHA-256 it signed, its `Content-MD5`,
/// its `x-amz-checksum-*`) and its coding.
pub(super) fn body_digests(
    resume: &Resume,
    fields: &Fields,
) -> Result<(BodyLength, BodyDigests), Refusal> {
    let coding = coding(fields)?;
    // The decoded length of an aws-chunked body is known whatever its
    // framing (the AWS CLI sends it chunked).
    if resume.body == BodyLength::Chunked && coding.is_none() {
        return Err(refusal(
            Code::MissingContentLength,
            "an upload needs a Content-Length",
        ));
    }
    let checksum = checksum(fields, coding.is_some())?;
    let sha256 = fields
        .content_sha256
        .as_deref()
        .filter(|_| fields.authorization.is_some())
        .and_then(sigv4::hex)
        .and_then(|hash| hash.try_into().ok());
    let md5 = match &fields.content_md5 {
        None => None,
        Some(text) => Some(
            STANDARD
                .decode(text)
                .ok()
                .and_then(|md5| md5.try_into().ok())
                .ok_or_else(|| {
                    refusal(Code::InvalidDigest, "Content-MD5 is the base64 of 16 bytes")
                })?,
        ),
    };
    Ok((
        resume.body,
        BodyDigests {
            sha256,
            md5,
            checksum,
            coding,
            computed: None,
        },
    ))
}

/// Whether `body`, a folder marker's PUT's held whole, is an aws-chunked
/// one that decodes to nothing (boto3 and the AWS CLI code an empty body
/// too, over HTTPS): its framing whole, its declared and decoded lengths
/// 0, and the checksum its trailer states the empty body's.
///
/// # Errors
/// A coding that is not served, or a signed one (its chunks' signatures
/// chain from a key that access control sets only after the request is
/// read: such an empty body must come as `Content-Length: 0`).
pub(super) fn is_empty_coded(body: &[u8], fields: &Fields) -> Result<bool, Refusal> {
    let Some(coding) = coding(fields)? else {
        return Ok(false);
    };
    if coding.chain.is_some() {
        let why = "a folder marker's body with signed chunks is not served: send Content-Length: 0";
        return Err(refusal(Code::NotImplemented, why));
    }
    if coding.declared != 0 {
        return Ok(false);
    }
    let mut decoder = AwsChunked::new(*coding);
    let whole = matches!(decoder.decode(body), Ok((used, _)) if used == body.len());
    if !whole || !decoder.is_done() || decoder.decoded() != 0 {
        return Ok(false);
    }
    // A checksum stated of nothing must be nothing's.
    for (name, value) in decoder.trailers() {
        let Some(algorithm) = Algorithm::of_field(name) else {
            continue;
        };
        if STANDARD.decode(value).ok() != Some(algorithm.of_bytes(b"")) {
            let why = format!("{name} is not the checksum of an empty body");
            return Err(refusal(Code::BadDigest, why));
        }
    }
    Ok(true)
}

/// The aws-chunked coding a PutObject's `x-amz-content-sha256` states,
/// if it states one.
fn coding(fields: &Fields) -> Result<Option<Box<Coding>>, Refusal> {
    let Some(mode) = fields.content_sha256.as_deref() else {
        return Ok(None);
    };
    let (signed, trailer) = match mode {
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => (true, false),
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => (true, true),
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => (false, true),
        streaming if streaming.starts_with("STREAMING-") => {
            return Err(refusal(
                Code::NotImplemented,
                "this aws-chunked signing is not served",
            ));
        }
        _ => return Ok(None),
    };
    let declared = fields
        .decoded_length
        .as_deref()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| {
            refusal(
                Code::MissingContentLength,
                "an aws-chunked body needs x-amz-decoded-content-length",
            )
        })?;
    let chain = match (signed, &fields.chain) {
        (false, _) => None,
        (true, Some(chain)) => Some(chain.clone()),
        (true, None) => {
            let why = "signed chunks need a request signed in its Authorization field";
            return Err(refusal(Code::AccessDenied, why));
        }
    };
    Ok(Some(Box::new(Coding {
        declared,
        chain,
        signed_trailer: signed && trailer,
    })))
}

/// The additional checksum a PutObject states: an `x-amz-checksum-*`
/// field, or the one its aws-chunked body's trailer will hold
/// (`x-amz-trailer`).
fn checksum(fields: &Fields, coded: bool) -> Result<Option<Stated>, Refusal> {
    let algorithm = |name: &str| match Algorithm::of_field(name) {
        Some(algorithm) => Ok(algorithm),
        None => Err(refusal(
            Code::InvalidArgument,
            format!("{name}: no such checksum"),
        )),
    };
    if let Some((name, value)) = &fields.checksum {
        let value = STANDARD
            .decode(value)
            // No body has it: the digest is not the body's, as one of
            // another value would be (ceph's `test_object_checksum_sha256`).
            .map_err(|_| {
                refusal(
                    Code::BadDigest,
                    format!("{name} is not base64: not the body's"),
                )
            })?;
        return Ok(Some(Stated {
            algorithm: algorithm(name)?,
            value: Some(value),
        }));
    }
    match &fields.trailer {
        None => Ok(None),
        Some(_) if !coded => Err(refusal(
            Code::InvalidRequest,
            "x-amz-trailer needs an aws-chunked body",
        )),
        Some(name) => Ok(Some(Stated {
            algorithm: algorithm(name)?,
            value: None,
        })),
    }
}

/// A body in hand must be the one signed.
pub(super) fn check_body_hash(body: &[u8], fields: &Fields) -> Result<(), Refusal> {
    use sha2::Digest as _;
    let stated = fields.content_sha256.as_deref().and_then(sigv4::hex);
    match stated {
        Some(stated) if stated[..] != sha2::Sha256::digest(body)[..] => Err(refusal(
            Code::XAmzContentSHA256Mismatch,
            crate::serve::digest::SHA256_MISMATCH,
        )),
        _ => Ok(()),
    }
}
