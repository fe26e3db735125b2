//! A tus request's fields, as read from its head: the protocol's own
//! (`Tus-Resumable`, `Upload-Length`, `Upload-Offset`, `Upload-Metadata`,
//! `Upload-Checksum`...), the token and where the request came from.

use base64::Engine;

use crate::access::Secret;
use crate::http::message::{Head, Refused};
use crate::http::origin::Provenance;
use crate::model::fits_a_record;
use crate::serve::piece::{self, PieceChecksum};

/// An `Upload-Checksum` value: `<algorithm> <base64 digest>`.
///
/// # Errors
/// An algorithm not served, or a digest that is not one of it: 400.
fn upload_checksum(value: &[u8]) -> Result<PieceChecksum, Refused> {
    let text = String::from_utf8_lossy(value.trim_ascii()).into_owned();
    let (algorithm, digest) = text.split_once(' ').unwrap_or((&text, ""));
    base64::engine::general_purpose::STANDARD
        .decode(digest.trim())
        .ok()
        .and_then(|digest| PieceChecksum::new(algorithm, &digest))
        .ok_or_else(|| {
            let served = piece::ALGORITHMS;
            (
                400,
                format!(
                    "Upload-Checksum: {algorithm:?} with a base64 digest of it, one of {served}"
                ),
            )
        })
}

/// The fields a tus request is read by.
#[derive(Debug, Default)]
pub(super) struct Fields {
    /// `Tus-Resumable`: the version the client speaks.
    pub(super) resumable: Option<String>,
    /// `Upload-Length`.
    pub(super) length: Option<u64>,
    /// `Upload-Defer-Length: 1`: the length comes later.
    pub(super) defer_length: bool,
    /// `Upload-Offset`.
    pub(super) offset: Option<u64>,
    /// `Upload-Metadata`, as given (one line of printable ASCII).
    pub(super) metadata: Option<String>,
    /// `Content-Type`.
    pub(super) content_type: Option<String>,
    /// `Upload-Checksum`, decoded.
    pub(super) checksum: Option<PieceChecksum>,
    /// The token of `Authorization`.
    pub(super) token: Option<Secret>,
    /// Where the request came from (`Origin`, `Sec-Fetch-Site`...).
    pub(super) provenance: Provenance,
}

impl Fields {
    /// Reads them from `head`.
    ///
    /// # Errors
    /// A number that is not one, or metadata that is not one line of
    /// printable ASCII: 400.
    pub(super) fn read(head: &Head<'_>) -> Result<Fields, Refused> {
        let mut fields = Fields::default();
        for (name, value) in head.fields() {
            if fields.provenance.read(name, value) {
                continue;
            }
            let is = |field: &str| name.eq_ignore_ascii_case(field);
            let text = || String::from_utf8_lossy(value.trim_ascii()).into_owned();
            let number = || {
                crate::http::message::decimal(value.trim_ascii())
                    .ok_or_else(|| (400, format!("{name} must be a decimal number")))
            };
            if is("tus-resumable") {
                fields.resumable = Some(text());
            } else if is("upload-length") {
                fields.length = Some(number()?);
            } else if is("upload-defer-length") {
                if value.trim_ascii() != b"1" {
                    return Err((400, "Upload-Defer-Length is 1 or absent".into()));
                }
                fields.defer_length = true;
            } else if is("upload-offset") {
                fields.offset = Some(number()?);
            } else if is("upload-metadata") {
                let meta = value.trim_ascii();
                if !fits_a_record(meta) {
                    return Err((400, "Upload-Metadata must be printable ASCII".into()));
                }
                fields.metadata = Some(text());
            } else if is("upload-checksum") {
                fields.checksum = Some(upload_checksum(value)?);
            } else if is("content-type") {
                fields.content_type = Some(text());
            } else if is("authorization") {
                fields.token = Some(crate::http::auth::token(value));
            }
        }
        Ok(fields)
    }
}
