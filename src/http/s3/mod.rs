//! The S3 API (path-style) as a dialect over ferry's operations, on a
//! listener of its own (`ferry serve --s3`): buckets are the root's
//! folders, an object `<bucket>/<key>` is the file of that name, so
//! every protocol sees the same files. Requests are signed with SigV4
//! (`sigv4.rs`) or SigV2 (`sigv2.rs`), checked by access control with the
//! key's secret, or anonymous (the `--anonymous` grants). Design: docs/s3.md.
//!
//! ```text
//! GET    /                                  ListBuckets       List of the root's folders
//! HEAD   /<bucket>                          HeadBucket        List (no body) of the folder
//! GET    /<bucket>?location                 GetBucketLocation the same; answers us-east-1
//! PUT    /<bucket>                          CreateBucket      MakeFolder (body ignored, <= 64 KiB)
//! DELETE /<bucket>                          DeleteBucket      RemoveFolder (empty only)
//! GET    /<bucket>[?list-type=2]&prefix=&delimiter=&max-keys=&marker=|start-after=|continuation-token=
//!                                           ListObjects V1/V2 List, one page (Scope::Keys)
//! GET    /<bucket>?versions&key-marker=...  ListObjectVersions the same, each key version "null"
//! HEAD   /<bucket>/<key>                    HeadObject        Get, no body
//! GET    /<bucket>/<key>  [Range]           GetObject         Get (or ?partNumber=N: that part)
//! GET    /<bucket>/<key>?attributes         GetObjectAttributes Get of no bytes (attributes.rs)
//! PUT    /<bucket>/<key>  [Content-MD5]     PutObject         Put, SHA-256 and MD5 checked as it streams;
//!                         [x-amz-checksum-*]                  a checksum too; an aws-chunked body decoded
//!                                                             (chunk signatures checked: aws_chunked.rs)
//! PUT    /<bucket>/<key>  x-amz-copy-source CopyObject        Copy, or (onto itself) PropPatch of its time
//! DELETE /<bucket>/<key>                    DeleteObject      Delete (absent: 204 all the same)
//! PUT|HEAD|GET|DELETE /<bucket>/<key>/      a folder marker   the folder (folder.rs)
//! POST   /<bucket>?delete  <Delete> XML      DeleteObjects     DeleteEach (each key's grant and locks)
//! .../<key>?uploads, ?uploadId=, GET /<bucket>?uploads
//!                                           multipart uploads (multipart.rs)
//! anything else                             501 NotImplemented
//! ```
//!
//! A request is signed in its `Authorization` field or, presigned, in its
//! query, with SigV4 or SigV2 (`auth.rs`).

mod attributes;
mod auth;
mod body;
mod conditions;
mod copy;
mod delete;
mod error;
mod fields;
mod folder;
mod listing;
mod meta;
mod multipart;
mod object;
mod presign;
mod request;
mod signing;
mod sigv2;
mod sigv4;
mod target;
mod xml;

use super::dialect::{Answer, Decision, Dialect, Early, Message};
use super::message::{Head, MAX_BODY_IN_HAND, Refused, Resume};
use super::origin::Site;
use super::response::{self, Framing};
use crate::model::Md5Tag;
use crate::serve::ops;
use crate::serve::{ErrorKind, Failure, Operation, Reply, Request};
pub use error::Code;
use fields::Fields;
use request::request;
use target::Target;

/// The dialect: every request on an S3 listener.
#[derive(Debug)]
pub struct S3;

/// The payload hash of a body the client did not sign.
const UNSIGNED: &str = "UNSIGNED-PAYLOAD";

/// What an S3 request asked, as its answer needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// ListBuckets.
    ListBuckets,
    /// HeadBucket.
    HeadBucket,
    /// GetBucketLocation.
    Location,
    /// CreateBucket.
    CreateBucket,
    /// DeleteBucket.
    DeleteBucket,
    /// ListObjects, V1 or V2.
    ListObjects,
    /// HeadObject.
    HeadObject(Reading),
    /// GetObject.
    GetObject(Reading),
    /// GetObjectAttributes.
    ObjectAttributes(attributes::Attributes),
    /// PutObject.
    PutObject,
    /// CopyObject.
    CopyObject,
    /// DeleteObject.
    DeleteObject,
    /// PutObject, HeadObject or GetObject, DeleteObject of a folder
    /// marker (a key ending in `/`, `folder.rs`).
    PutFolder,
    #[allow(missing_docs)]
    HeadFolder,
    #[allow(missing_docs)]
    DeleteFolder,
    /// DeleteObjects, quiet or not.
    DeleteObjects(delete::Quiet),
    /// CreateMultipartUpload.
    CreateMultipart,
    /// UploadPart.
    UploadPart,
    /// UploadPartCopy.
    UploadPartCopy,
    /// CompleteMultipartUpload of this many parts.
    CompleteMultipart(u16),
    /// AbortMultipartUpload.
    AbortMultipart,
    /// ListParts.
    ListParts,
    /// ListMultipartUploads.
    ListUploads,
    /// Refused before it was served.
    Refused(Code),
    /// Refused by the message layer before it was read (a body in hand
    /// over 64 KiB): its code follows the status.
    Unread,
}

/// How an S3 request is answered: what it asked (four bytes; what a
/// listing needs travels with its format, GetObject's `response-*`
/// fields with its rule, `Ranged`).
#[derive(Debug)]
pub struct S3Answer {
    asked: Asked,
}

/// How a GetObject or HeadObject reads its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reading {
    /// `x-amz-checksum-mode: ENABLED`: the answer states the checksums
    /// kept, where they are known.
    pub checksums: bool,
    /// `partNumber`: one part, whose answer states how many there are.
    pub part: bool,
}

impl Asked {
    /// Whether it is a multipart upload's request (whose "not found" is
    /// the upload's).
    fn is_multipart(self) -> bool {
        matches!(
            self,
            Asked::UploadPart
                | Asked::UploadPartCopy
                | Asked::CompleteMultipart(_)
                | Asked::AbortMultipart
                | Asked::ListParts
        )
    }
}

impl S3Answer {
    fn answering(asked: Asked) -> S3Answer {
        S3Answer { asked }
    }
}

/// A request refused with an S3 code.
type Refusal = (Code, String);

fn refusal(code: Code, message: impl Into<String>) -> Refusal {
    (code, message.into())
}

impl Dialect for S3 {
    type Answer = S3Answer;

    fn claims(&self, _head: &Head<'_>) -> bool {
        true
    }

    /// CreateBucket's configuration (a region, ignored), DeleteObjects'
    /// keys and CompleteMultipartUpload's parts: small bodies in hand,
    /// taken so that they are never read as a request.
    fn body_in_hand(&self, head: &Head<'_>, site: Site<'_>) -> Option<u64> {
        // Only these methods: no other request's target is read here.
        if !matches!(head.method, "PUT" | "POST") {
            return None;
        }
        match (head.method, Target::read(head, site)) {
            ("PUT" | "POST", Ok(Target::Bucket(..))) => Some(MAX_BODY_IN_HAND),
            // A folder marker's aws-chunked body, to see that it is empty
            // (`folder.rs`); any other body on it is refused unread.
            ("PUT", Ok(Target::Object(_, key, _)))
                if key.ends_with('/') && has_field(head, "x-amz-decoded-content-length") =>
            {
                Some(MAX_BODY_IN_HAND)
            }
            ("POST", Ok(target @ Target::Object(..))) if has_param(&target, "uploadId") => {
                Some(multipart::MAX_COMPLETION_BODY)
            }
            _ => None,
        }
    }

    /// Every error on an S3 listener is S3's XML, the message layer's too.
    fn refusals(&self) -> Option<S3Answer> {
        Some(S3Answer::answering(Asked::Unread))
    }

    fn decode(
        &self,
        head: &Head<'_>,
        resume: &Resume,
        site: Site<'_>,
    ) -> Result<Decision<S3Answer>, Refused> {
        let refuse = |(code, message): Refusal| {
            Ok(Decision::Refuse(
                code.status(),
                message,
                S3Answer::answering(Asked::Refused(code)),
            ))
        };
        let mut fields = Fields::read(head);
        // Read once, for the credential and the operation.
        let mut target = Target::read(head, site);
        let token = match auth::credential(head, target.as_mut().ok(), &mut fields) {
            Ok(token) => token,
            Err(refused) => return refuse(refused),
        };
        fields.signed = token.is_some();
        let (operation, asked) = match request(head, target, resume, &fields) {
            Ok(decided) => decided,
            Err(refused) => return refuse(refused),
        };
        let conditions = match (&operation, asked) {
            (Operation::Put(ops::Put { name, .. }), Asked::PutObject)
            | (
                Operation::CompleteParts(ops::CompleteParts { name, .. }),
                Asked::CompleteMultipart(_),
            ) => fields.conditions.on_write(name),
            _ => Ok(None),
        };
        match conditions {
            Ok(conditions) => Ok(Decision::Serve(
                Request {
                    conditions,
                    ..Request::new(operation, token)
                },
                S3Answer::answering(asked),
            )),
            Err(refused) => refuse(refused),
        }
    }
}

/// Whether the head has field `name`.
fn has_field(head: &Head<'_>, name: &str) -> bool {
    head.fields().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// Whether the target's query has `name`.
fn has_param(target: &Target, name: &str) -> bool {
    match target {
        Target::Root(query) | Target::Bucket(_, query) | Target::Object(_, _, query) => {
            query.iter().any(|(n, _)| n == name)
        }
    }
}

impl Answer for S3Answer {
    fn encode(&self, reply: &Reply, message: Message, out: &mut Vec<u8>) {
        let persistence = message.persistence;
        match (self.asked, reply) {
            (Asked::ListBuckets | Asked::ListObjects, Reply::Listing { len }) => {
                error::head(out, 200)
                    .header("Content-Type", "application/xml")
                    .finish(*len, persistence);
            }
            (Asked::HeadBucket, Reply::Listing { .. }) => error::head(out, 200)
                .header("x-amz-bucket-region", "us-east-1")
                .finish(0, persistence),
            (Asked::Location, Reply::Listing { .. }) => {
                xml_answer(200, &xml::location(), message, out);
            }
            (Asked::CreateBucket, Reply::Done) => error::head(out, 200).finish(0, persistence),
            (asked, reply) if let Some(body) = multipart::answer(asked, reply) => {
                let fields = multipart::fields(asked, reply);
                xml_answer_with(200, (&fields, &body), message, out);
            }
            (Asked::PutFolder, Reply::Done) | (Asked::HeadFolder, Reply::Listing { .. }) => {
                folder::answer(self.asked, persistence, out);
            }
            (Asked::DeleteBucket | Asked::DeleteObject | Asked::AbortMultipart, Reply::Done)
            | (Asked::DeleteFolder, Reply::Done) => error::head(out, 204).finish(0, persistence),
            (Asked::DeleteObjects(quiet), Reply::Each(each)) => {
                xml_answer(200, &delete::result(each, quiet), message, out);
            }
            (Asked::CopyObject, Reply::Stored { md5, .. }) => {
                let etag = md5.as_ref().map(Md5Tag::quoted);
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                xml_answer(200, &copy::result(now, etag), message, out);
            }
            (Asked::CopyObject, Reply::Patched(patched)) => {
                copy::copied_onto_itself(patched, message, out);
            }
            (Asked::PutObject | Asked::UploadPart, Reply::Stored { md5, checksum, .. }) => {
                let etag = md5.as_ref().map(Md5Tag::quoted);
                let mut head = error::head(out, 200).header("ETag", etag.unwrap_or_default());
                if let Some(checksum) = checksum {
                    head = head.header(checksum.algorithm.field(), checksum.base64());
                }
                head.finish(0, persistence);
            }
            (Asked::ObjectAttributes(asked), file @ Reply::File { .. }) => {
                attributes::answer_file(&asked, file, message, out);
            }
            (Asked::HeadObject(reading) | Asked::GetObject(reading), file @ Reply::File { .. }) => {
                object::answer_file(reading, file, message, out);
            }
            (Asked::HeadObject(_) | Asked::GetObject(_), Reply::NotModified { version }) => {
                error::head(out, 304)
                    .header("Last-Modified", response::http_date(version.info.mtime))
                    .header("ETag", xml::etag(version))
                    .finish(0, persistence);
            }
            (_, Reply::Unsatisfiable { size }) => {
                let why = format!("the object has {size} bytes");
                error::write(out, (416, Code::InvalidRange), &why, message);
            }
            // A folder has the key's name: no object.
            (_, Reply::Directory { .. }) => {
                error::write(out, (404, Code::NoSuchKey), "no such key", message);
            }
            (_, other) => {
                debug_assert!(false, "no S3 request leads to {other:?}");
                error::write(
                    out,
                    (500, Code::InternalError),
                    "unexpected answer",
                    message,
                );
            }
        }
    }

    fn allow(&self) -> &'static str {
        "GET, HEAD, PUT, POST, DELETE"
    }

    fn early(&self) -> Option<Early> {
        multipart::early(self.asked)
    }

    fn failed(&self, failure: &Failure, framing: Framing, out: &mut Vec<u8>) {
        // DeleteObject is idempotent in S3: a key already gone is deleted.
        let gone = self.asked == Asked::DeleteObject && failure.kind == ErrorKind::NotFound;
        if gone || folder::deleted(self.asked, failure) {
            return error::head(out, 204).finish(0, framing.persistence);
        }
        let code = error::code_of(self.asked, failure);
        write_error((code.status(), code), &failure.message, framing, out);
    }

    fn error(&self, status: u16, message: &str, framing: Framing, out: &mut Vec<u8>) {
        let code = match self.asked {
            Asked::Refused(code) => code,
            // The message layer's refusals (413, 417...), by status,
            // which they keep (S3 says 400 for an object too large, but
            // this is a request too large to read).
            _ => match status {
                413 => Code::EntityTooLarge,
                // No room for a large body in hand now: try again.
                503 => Code::SlowDown,
                s if s >= 500 => Code::InternalError,
                _ => Code::InvalidRequest,
            },
        };
        let status = match self.asked {
            Asked::Refused(code) => code.status(),
            _ => status,
        };
        write_error((status, code), message, framing, out);
    }
}

/// The answer to an error: its status and XML body (none for HEAD).
fn write_error(status: (u16, Code), message: &str, framing: Framing, out: &mut Vec<u8>) {
    let answer = Message {
        persistence: framing.persistence,
        head: framing.head_only,
    };
    error::write(out, status, message, answer);
}

/// A small XML answer held whole.
pub(super) fn xml_answer(status: u16, body: &str, message: Message, out: &mut Vec<u8>) {
    xml_answer_with(status, (&[], body), message, out);
}

/// A small XML answer held whole, with these fields too.
fn xml_answer_with(
    status: u16,
    (fields, body): (&[(&'static str, String)], &str),
    message: Message,
    out: &mut Vec<u8>,
) {
    let mut head = error::head(out, status).header("Content-Type", "application/xml");
    for (name, value) in fields {
        head = head.header(name, value);
    }
    head.finish(body.len() as u64, message.persistence);
    if !message.head {
        out.extend_from_slice(body.as_bytes());
    }
}
