//! S3's multipart uploads as ferry operations (`serve/multipart.rs`;
//! the parts are staged on disk beside a ferry upload session, whose id
//! is the UploadId): the requests, CompleteMultipartUpload's XML (read
//! with no DTD, at most [`MAX_COMPLETION_BODY`] bytes, at most
//! [`MAX_PART_NUMBER`] parts) and the XML answers.
//!
//! ```text
//! POST   /<bucket>/<key>?uploads                     CreateMultipartUpload  BeginParts
//! PUT    /<bucket>/<key>?partNumber=N&uploadId=ID    UploadPart             PutPart (ETag = MD5)
//!        + x-amz-copy-source[-range, -if-*]          UploadPartCopy         CopyPart (CopyPartResult)
//! POST   /<bucket>/<key>?uploadId=ID   <XML>         CompleteMultipartUpload CompleteParts
//! DELETE /<bucket>/<key>?uploadId=ID                 AbortMultipartUpload   AbortParts (204)
//! GET    /<bucket>/<key>?uploadId=ID[&part-number-marker=&max-parts=]  ListParts
//! GET    /<bucket>?uploads[&prefix=&key-marker=&upload-id-marker=&max-uploads=]
//!                                                    ListMultipartUploads   ListUploads
//! ```

use crate::serve::ops;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::super::dialect::Early;
use super::super::message::{Head, Resume};
use super::error::Code;
use super::target::param;
use super::xml::{DECLARATION, NS, iso};
use super::{Asked, Fields, Refusal, refusal, sigv4};
use crate::model::Md5Tag;
use crate::name::{Name, Prefix};
use crate::serve::digest::{Algorithm, Checksum};
use crate::serve::multipart::{
    CopyPartAsk, ListedPart, MAX_PAGE, MAX_PART_NUMBER, PartAsk, PartsPage,
};
use crate::serve::upload_checksum::{Stated, UploadChecksum};
use crate::serve::{Body, BodyLength, Operation, Reply, UploadsPage};

/// The largest CompleteMultipartUpload body taken: its list of 10,000
/// parts, each with its number, ETag and a checksum, is some 1.5 MiB.
/// Held in hand while it arrives (the message layer holds one over
/// 64 KiB only while the server has room for it: docs/s3.md).
pub(super) const MAX_COMPLETION_BODY: u64 = 2 * 1024 * 1024;

/// Whether an object request's query makes it a multipart upload's.
pub(super) fn asks(query: &[(String, String)]) -> bool {
    query
        .iter()
        .any(|(name, _)| name == "uploads" || name == "uploadId")
}

/// A number in the query, `default` where it is not given.
fn number<T: std::str::FromStr>(
    query: &[(String, String)],
    name: &str,
    default: T,
) -> Result<T, Refusal> {
    match param(query, name) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| refusal(Code::InvalidArgument, format!("{name} must be a number"))),
    }
}

/// A multipart request on object `name`.
pub(super) fn object_request(
    method: &str,
    name: Name,
    query: &[(String, String)],
    (head, resume, fields): (&Head<'_>, &Resume, &Fields),
) -> Result<(Operation, Asked), Refusal> {
    let id = param(query, "uploadId").map(str::to_owned);
    let creates = param(query, "uploads").is_some();
    match (method, id) {
        ("POST", None) if creates => {
            let (mtime, props) = super::meta::given(fields)?;
            let checksum = upload_checksum(fields)?;
            Ok((
                Operation::BeginParts(ops::BeginParts {
                    name,
                    mtime,
                    props,
                    checksum,
                }),
                Asked::CreateMultipart,
            ))
        }
        ("PUT", Some(id)) => {
            let number = number(query, "partNumber", 0u32)?;
            if !(1..=MAX_PART_NUMBER).contains(&number) {
                return Err(refusal(
                    Code::InvalidArgument,
                    format!("partNumber is from 1 to {MAX_PART_NUMBER}"),
                ));
            }
            if fields.copy_source.is_some() {
                return copy_part(name, (id, number), resume, fields);
            }
            let (length, digests) = super::body::body_digests(resume, fields)?;
            let ask = PartAsk {
                id,
                number,
                body: Body {
                    length,
                    awaits_go_ahead: resume.expect_continue,
                },
                digests,
            };
            let ask = Box::new(ask);
            Ok((
                Operation::PutPart(ops::PutPart { name, ask }),
                Asked::UploadPart,
            ))
        }
        ("POST", Some(id)) => {
            super::body::check_body_hash(head.body, fields)?;
            let (parts, stated) = complete_request(head.body)?;
            let count = u16::try_from(parts.len()).unwrap_or(u16::MAX);
            let stated = completion_checksums(stated, fields)?;
            Ok((
                Operation::CompleteParts(ops::CompleteParts {
                    name,
                    id,
                    parts,
                    stated,
                    preconditions: None,
                }),
                Asked::CompleteMultipart(count),
            ))
        }
        ("DELETE", Some(id)) => Ok((
            Operation::AbortParts(ops::AbortParts { name, id }),
            Asked::AbortMultipart,
        )),
        ("GET", Some(id)) => {
            let after = number(query, "part-number-marker", 0u32)?;
            let max = number(query, "max-parts", MAX_PAGE)?;
            let op = Operation::ListParts(ops::ListParts {
                name,
                id,
                after,
                max,
            });
            Ok((op, Asked::ListParts))
        }
        _ => Err(refusal(
            Code::NotImplemented,
            format!("{method} of a multipart upload is not served"),
        )),
    }
}

/// CreateMultipartUpload's checksum: `x-amz-checksum-algorithm` and
/// `x-amz-checksum-type` (`serve/upload_checksum.rs`), if it names one.
///
/// # Errors
/// 400 `InvalidRequest`: an unknown algorithm or type, a type the
/// algorithm cannot make, a type without an algorithm.
fn upload_checksum(fields: &Fields) -> Result<Option<UploadChecksum>, Refusal> {
    match &fields.upload_checksum {
        [None, None] => Ok(None),
        [None, Some(_)] => Err(refusal(
            Code::InvalidRequest,
            "x-amz-checksum-type needs an x-amz-checksum-algorithm",
        )),
        [Some(algorithm), kind] => UploadChecksum::of_names(algorithm, kind.as_deref())
            .map(Some)
            .map_err(|why| refusal(Code::InvalidRequest, why)),
    }
}

/// What a completion states of checksums: its parts' (in its XML) and
/// the object's (`x-amz-checksum-<algorithm>`, compared as sent).
///
/// # Errors
/// 400 `InvalidRequest`: a checksum field of no algorithm S3 knows.
fn completion_checksums(
    parts: Vec<(u32, Checksum)>,
    fields: &Fields,
) -> Result<Option<Box<Stated>>, Refusal> {
    let object = match &fields.checksum {
        None => None,
        Some((name, value)) => match Algorithm::of_field(name) {
            Some(algorithm) => Some((algorithm, value.clone())),
            None => {
                return Err(refusal(
                    Code::InvalidRequest,
                    format!("{name}: no such checksum"),
                ));
            }
        },
    };
    if parts.is_empty() && object.is_none() {
        return Ok(None);
    }
    Ok(Some(Box::new(Stated { parts, object })))
}

/// UploadPartCopy: part `number` of upload `id` of `name` copied from
/// the source `fields` name (`copy.rs`: CopyObject's source, conditions,
/// and here its range).
fn copy_part(
    name: Name,
    (id, number): (String, u32),
    resume: &Resume,
    fields: &Fields,
) -> Result<(Operation, Asked), Refusal> {
    if resume.body != BodyLength::Fixed(0) {
        return Err(refusal(
            Code::InvalidRequest,
            "UploadPartCopy takes no body",
        ));
    }
    let (from, source) = super::copy::source(fields, true)?;
    let ask = Box::new(CopyPartAsk { id, number, source });
    Ok((
        Operation::CopyPart(ops::CopyPart { name, from, ask }),
        Asked::UploadPartCopy,
    ))
}

/// How the answer to `asked` may begin early: CompleteMultipartUpload's,
/// as S3's does, a `200` once assembling the object takes a while, then
/// spaces until the result, or an `<Error>` document, ends the body
/// (clients read a `200` whose body is an error as that error: botocore,
/// the AWS CLI).
pub(super) fn early(asked: Asked) -> Option<Early> {
    matches!(asked, Asked::CompleteMultipart(_)).then_some(Early {
        content_type: "application/xml",
        opening: DECLARATION,
    })
}

/// ListMultipartUploads of `bucket`: one page.
pub(super) fn list_uploads(
    bucket: &str,
    query: &[(String, String)],
) -> Result<(Operation, Asked), Refusal> {
    let key_prefix = param(query, "prefix").unwrap_or_default();
    let prefix = Prefix::new(format!("{bucket}/{key_prefix}"))
        .map_err(|err| refusal(Code::InvalidArgument, format!("prefix: {err}")))?;
    let after = param(query, "key-marker")
        .filter(|key| !key.is_empty())
        .map(|key| {
            let id = param(query, "upload-id-marker").unwrap_or_default();
            (format!("{bucket}/{key}"), id.to_owned())
        });
    let max = number(query, "max-uploads", MAX_PAGE)?;
    let op = Operation::ListUploads(ops::ListUploads { prefix, after, max });
    Ok((op, Asked::ListUploads))
}

/// A completion's parts: each listed (number and ETag, in its order),
/// and the checksums stated of them (by number).
type Listed = (Vec<ListedPart>, Vec<(u32, Checksum)>);

/// The parts CompleteMultipartUpload lists (number and ETag, in its
/// order), and the checksum it states of each, if any.
///
/// ```text
/// <CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
///   <Part><PartNumber>1</PartNumber><ETag>"<md5 hex>"</ETag>[<ChecksumSHA256>...</ChecksumSHA256>]</Part>...
/// </CompleteMultipartUpload>
/// ```
///
/// # Errors
/// `MalformedXML`: not well-formed, a DTD, a part without its number or
/// ETag, more than [`MAX_PART_NUMBER`] parts; `InvalidPart`: a checksum
/// that is no base64 (no part has it).
fn complete_request(body: &[u8]) -> Result<Listed, Refusal> {
    let malformed = |why: &str| refusal(Code::MalformedXML, why.to_owned());
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(true);
    let mut path: Vec<Vec<u8>> = Vec::new();
    let (mut parts, mut checksums) = (Vec::new(), Vec::new());
    let (mut number, mut etag) = (None, String::new());
    let mut checksum: Option<(Algorithm, String)> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|err| malformed(&format!("malformed XML: {err}")))?;
        match event {
            Event::DocType(_) => return Err(malformed("a DTD is not accepted")),
            Event::Start(start) => path.push(start.local_name().as_ref().to_vec()),
            Event::End(_) => {
                let ended = path.pop();
                if ended.as_deref() != Some(b"Part".as_slice()) {
                    continue;
                }
                let number = number
                    .take()
                    .ok_or_else(|| malformed("a part needs its number"))?;
                parts.push((number, etag_md5(&std::mem::take(&mut etag))));
                if let Some((algorithm, base64)) = checksum.take() {
                    let value = STANDARD.decode(base64.trim()).map_err(|_| {
                        refusal(Code::InvalidPart, "a part's checksum is not base64")
                    })?;
                    checksums.push((number, Checksum::full(algorithm, value)));
                }
                if parts.len() > MAX_PART_NUMBER as usize {
                    return Err(malformed("too many parts"));
                }
            }
            Event::Text(text) => {
                let text = String::from_utf8_lossy(&text).into_owned();
                match path.last().map(Vec::as_slice) {
                    Some(b"PartNumber") => {
                        number = Some(text.trim().parse().map_err(|_| malformed("PartNumber"))?);
                    }
                    Some(b"ETag") => etag.push_str(&text),
                    Some(element) if element.starts_with(b"Checksum") => {
                        let name = String::from_utf8_lossy(&element[b"Checksum".len()..]);
                        if let Some(algorithm) = Algorithm::of_name(&name) {
                            checksum = Some((algorithm, text));
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof if !path.is_empty() => return Err(malformed("the body ends in an element")),
            Event::Eof => break,
            // `&quot;` around an ETag, comments, the declaration.
            _ => {}
        }
    }
    if parts.is_empty() {
        return Err(malformed("no parts listed"));
    }
    Ok((parts, checksums))
}

/// The MD5 an ETag names (quoted or not); `None` for one that names none,
/// which no part has: judged once the upload is found (an unknown
/// upload is `NoSuchUpload` first, as S3 answers).
fn etag_md5(etag: &str) -> Option<[u8; 16]> {
    let hex = etag.trim().trim_matches('"');
    sigv4::hex(hex).and_then(|bytes| bytes.try_into().ok())
}

/// The bucket and key of name `b/k`.
fn bucket_and_key(name: &str) -> (&str, &str) {
    name.split_once('/').unwrap_or((name, ""))
}

fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// The XML answer to a multipart request, if `reply` is one.
pub(super) fn answer(asked: Asked, reply: &Reply) -> Option<String> {
    let body = match (asked, reply) {
        (Asked::CreateMultipart, Reply::Session(session)) => {
            let (bucket, key) = bucket_and_key(session.name.as_str());
            format!(
                "<InitiateMultipartUploadResult xmlns=\"{NS}\"><Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId></InitiateMultipartUploadResult>",
                escape(bucket),
                escape(key),
                session.id
            )
        }
        (
            Asked::CompleteMultipart(_),
            Reply::Stored {
                md5: Some(tag),
                checksum,
                ..
            },
        ) => {
            let etag = tag.quoted();
            let checksum = checksum
                .as_deref()
                .map(checksum_elements)
                .unwrap_or_default();
            format!(
                "<CompleteMultipartUploadResult xmlns=\"{NS}\"><ETag>{etag}</ETag>{checksum}</CompleteMultipartUploadResult>"
            )
        }
        (Asked::UploadPartCopy, Reply::Stored { md5: Some(tag), .. }) => {
            // The part was staged as this answer is written.
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            format!(
                "<CopyPartResult xmlns=\"{NS}\"><LastModified>{}</LastModified><ETag>{}</ETag></CopyPartResult>",
                iso(now),
                escape(&tag.quoted())
            )
        }
        (Asked::ListParts, Reply::Parts(page)) => list_parts(page),
        (Asked::ListUploads, Reply::Uploads(page)) => list_uploads_answer(page),
        _ => return None,
    };
    Some(format!("{DECLARATION}{body}\n"))
}

/// The fields CreateMultipartUpload's answer has besides its XML: the
/// checksum its parts state (`x-amz-checksum-algorithm`, `-type`).
pub(super) fn fields(asked: Asked, reply: &Reply) -> Vec<(&'static str, String)> {
    let (Asked::CreateMultipart, Reply::Session(session)) = (asked, reply) else {
        return Vec::new();
    };
    match UploadChecksum::of_meta(session.meta.as_deref()) {
        Some(checksum) => vec![
            (
                "x-amz-checksum-algorithm",
                checksum.algorithm.record_name().to_ascii_uppercase(),
            ),
            ("x-amz-checksum-type", checksum.kind.name().to_owned()),
        ],
        None => Vec::new(),
    }
}

/// A checksum as S3's XML states it, and its type:
/// `<ChecksumSHA256>…-3</ChecksumSHA256><ChecksumType>COMPOSITE</ChecksumType>`.
fn checksum_elements(checksum: &Checksum) -> String {
    let element = super::attributes::element_of(checksum.algorithm.field());
    format!(
        "<{element}>{}</{element}><ChecksumType>{}</ChecksumType>",
        checksum.base64(),
        checksum.kind()
    )
}

fn list_parts(page: &PartsPage) -> String {
    let (bucket, key) = bucket_and_key(page.name.as_str());
    let next = page.parts.last().map_or(page.after, |part| part.number);
    let mut out = format!(
        "<ListPartsResult xmlns=\"{NS}\"><Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId><PartNumberMarker>{}</PartNumberMarker><NextPartNumberMarker>{next}</NextPartNumberMarker><MaxParts>{}</MaxParts><IsTruncated>{}</IsTruncated><StorageClass>STANDARD</StorageClass>",
        escape(bucket),
        escape(key),
        page.id,
        page.after,
        page.max,
        page.truncated
    );
    for part in &page.parts {
        out.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size>{}</Part>",
            part.number,
            iso(part.modified),
            escape(&Md5Tag { md5: part.md5, parts: None }.quoted()),
            part.size,
            part.checksum.as_deref().map(super::attributes::part_checksum_element).unwrap_or_default()
        ));
    }
    out + "</ListPartsResult>"
}

fn list_uploads_answer(page: &UploadsPage) -> String {
    let (bucket, prefix) = bucket_and_key(page.prefix.as_str());
    let (next_key, next_id) = match page.uploads.last().filter(|_| page.truncated) {
        Some(last) => (
            bucket_and_key(last.info.name.as_str()).1,
            last.info.id.as_str(),
        ),
        None => ("", ""),
    };
    let mut out = format!(
        "<ListMultipartUploadsResult xmlns=\"{NS}\"><Bucket>{}</Bucket><Prefix>{}</Prefix><NextKeyMarker>{}</NextKeyMarker><NextUploadIdMarker>{next_id}</NextUploadIdMarker><MaxUploads>{}</MaxUploads><IsTruncated>{}</IsTruncated>",
        escape(bucket),
        escape(prefix),
        escape(next_key),
        page.max,
        page.truncated
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for upload in &page.uploads {
        let key = bucket_and_key(upload.info.name.as_str()).1;
        let begun = now - i64::try_from(upload.age).unwrap_or(0);
        out.push_str(&format!(
            "<Upload><Key>{}</Key><UploadId>{}</UploadId><Initiated>{}</Initiated><StorageClass>STANDARD</StorageClass></Upload>",
            escape(key),
            upload.info.id,
            iso(begun)
        ));
    }
    out + "</ListMultipartUploadsResult>"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_list_parts_in_their_order() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
 <Part><ETag>&quot;00112233445566778899aabbccddeeff&quot;</ETag><PartNumber>2</PartNumber></Part>
 <Part><PartNumber>1</PartNumber><ETag>"ffeeddccbbaa99887766554433221100"</ETag><ChecksumCRC32>NSRBwg==</ChecksumCRC32></Part>
</CompleteMultipartUpload>"#;
        let (parts, checksums) = complete_request(body).unwrap();
        let crc32 = Checksum::full(Algorithm::Crc32, Algorithm::Crc32.of_bytes(b"abc"));
        assert_eq!(checksums, vec![(1, crc32)]);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].0, 2);
        let md5 = parts[0].1.unwrap_or_default();
        assert_eq!((md5[0], md5[15]), (0x00, 0xff));
        assert_eq!(parts[1].0, 1);
        // An ETag that names no MD5 is kept as none, judged later.
        let odd =
            complete_request(b"<C><Part><PartNumber>1</PartNumber><ETag>1234</ETag></Part></C>");
        assert_eq!(odd.map(|(parts, _)| parts[0].1), Ok(None));
        // A part's checksum that is no base64 is no part's.
        let bad = complete_request(
            b"<C><Part><PartNumber>1</PartNumber><ETag>1234</ETag><ChecksumSHA1>?</ChecksumSHA1></Part></C>",
        );
        assert_eq!(bad.unwrap_err().0, Code::InvalidPart);
    }

    #[test]
    fn bad_completions_are_refused() {
        let code = |body: &[u8]| complete_request(body).unwrap_err().0;
        assert_eq!(
            code(b"<!DOCTYPE x [<!ENTITY a \"b\">]><CompleteMultipartUpload/>"),
            Code::MalformedXML
        );
        assert_eq!(code(b"<CompleteMultipartUpload>"), Code::MalformedXML);
        assert_eq!(code(b"<CompleteMultipartUpload/>"), Code::MalformedXML);
        assert_eq!(
            code(b"<C><Part><ETag>\"ab\"</ETag></Part></C>"),
            Code::MalformedXML
        );
    }
}
