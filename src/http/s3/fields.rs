//! The fields an S3 request is read by: its signature's, its body's
//! (digests, aws-chunked coding), GetObject's conditions and range,
//! CopyObject's source and directive, user metadata.

use super::super::message::Head;
use super::{conditions, copy, meta};
use crate::access::sigv4::Chain;

/// The fields an S3 request is read by.
#[derive(Debug, Default)]
pub(super) struct Fields {
    pub(super) authorization: Option<String>,
    pub(super) amz_date: Option<String>,
    pub(super) content_sha256: Option<String>,
    pub(super) content_md5: Option<String>,
    pub(super) range: Option<String>,
    /// GetObject's and HeadObject's conditions.
    pub(super) conditions: conditions::Conditions,
    /// CopyObject's source, as sent.
    pub(super) copy_source: Option<String>,
    /// CopyObject's `x-amz-metadata-directive`.
    pub(super) metadata_directive: Option<String>,
    /// CopyObject's and UploadPartCopy's conditions on their source
    /// (`x-amz-copy-source-if-*`).
    pub(super) copy_conditions: conditions::Conditions,
    /// UploadPartCopy's `x-amz-copy-source-range`, as sent.
    pub(super) copy_range: Option<String>,
    /// `x-amz-meta-mtime`.
    pub(super) meta_mtime: Option<String>,
    /// Bytes of user metadata, names (without the prefix) and values.
    pub(super) meta_bytes: usize,
    /// The fields an object keeps (`meta.rs`), as sent.
    pub(super) kept: Vec<(String, String)>,
    /// `x-amz-checksum-mode: ENABLED`: GetObject and HeadObject answer
    /// the checksum kept.
    pub(super) checksum_mode: bool,
    /// The request carries a signature (in its head or, presigned, its
    /// query): it may set GetObject's `response-*` fields.
    pub(super) signed: bool,
    /// GetObjectAttributes' `x-amz-object-attributes`, `x-amz-max-parts`
    /// and `x-amz-part-number-marker`, as sent.
    pub(super) object_attributes: [Option<String>; 3],
    /// `x-amz-decoded-content-length`: an aws-chunked body's payload.
    pub(super) decoded_length: Option<String>,
    /// `x-amz-trailer`: the checksum field an aws-chunked body's trailer
    /// holds.
    pub(super) trailer: Option<String>,
    /// An `x-amz-checksum-<algorithm>` field: its name (lower-case) and
    /// value.
    pub(super) checksum: Option<(String, String)>,
    /// CreateMultipartUpload's `x-amz-checksum-algorithm` and
    /// `x-amz-checksum-type`, as sent.
    pub(super) upload_checksum: [Option<String>; 2],
    /// The chain a signed aws-chunked body's chunk signatures continue.
    pub(super) chain: Option<Chain>,
}

impl Fields {
    pub(super) fn read(head: &Head<'_>) -> Fields {
        let mut fields = Fields::default();
        for (name, value) in head.fields() {
            let text = || Some(text_of(value));
            let is = |field: &str| name.eq_ignore_ascii_case(field);
            if is("authorization") {
                fields.authorization = text();
            } else if is("x-amz-date") {
                fields.amz_date = text();
            } else if is("x-amz-content-sha256") {
                fields.content_sha256 = text();
            } else if is("content-md5") {
                fields.content_md5 = text();
            } else if is("range") {
                fields.range = text();
            } else if name.len() > 3 && is_if(name) {
                // The text is made only for the fields that keep it.
                fields
                    .conditions
                    .take("", name, &text().unwrap_or_default());
            } else if is(copy::SOURCE) {
                fields.copy_source = text();
            } else if is("x-amz-metadata-directive") {
                fields.metadata_directive = text();
            } else if has_prefix(name, copy::IF_PREFIX) {
                let value = text().unwrap_or_default();
                fields
                    .copy_conditions
                    .take(copy::CONDITION_PREFIX, name, &value);
            } else if is(copy::RANGE) {
                fields.copy_range = text();
            } else if is("x-amz-decoded-content-length") {
                fields.decoded_length = text();
            } else if is("x-amz-trailer") {
                fields.trailer = text().map(|t| t.to_ascii_lowercase());
            } else if is("x-amz-object-attributes") {
                fields.object_attributes[0] = text();
            } else if is("x-amz-max-parts") {
                fields.object_attributes[1] = text();
            } else if is("x-amz-part-number-marker") {
                fields.object_attributes[2] = text();
            } else if is("x-amz-checksum-mode") {
                fields.checksum_mode = text().is_some_and(|t| t.eq_ignore_ascii_case("enabled"));
            } else if is("x-amz-checksum-algorithm") {
                fields.upload_checksum[0] = text();
            } else if is("x-amz-checksum-type") {
                fields.upload_checksum[1] = text();
            } else if has_prefix(name, "x-amz-checksum-") {
                fields.checksum = text().map(|t| (name.to_ascii_lowercase(), t));
            } else if has_prefix(name, meta::PREFIX) {
                fields.meta_bytes += name.len() - meta::PREFIX.len() + value.len();
                if is(meta::MTIME) {
                    fields.meta_mtime = text();
                }
            }
            if meta::is_kept(name) {
                fields.kept.push((name.to_owned(), text_of(value)));
            }
        }
        fields
    }
}

/// A field's value as text, trimmed: checked as UTF-8 in one pass (the
/// usual case, no copy made to check it), else read lossily.
fn text_of(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(text) => text.trim().to_owned(),
        Err(_) => String::from_utf8_lossy(value).trim().to_owned(),
    }
}

/// Whether field `name` starts with `If-` (a condition's).
fn is_if(name: &str) -> bool {
    has_prefix(name, "if-")
}

/// Whether field `name` starts with `prefix` (lower case), in any case.
fn has_prefix(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}
