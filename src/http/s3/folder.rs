//! S3's folder markers: a key ending in `/` (what the S3 console, s3fs
//! and rclone's `--s3-directory-markers` make to show a folder) names the
//! folder of that name, since a ferry folder is what such a key stands
//! for. Design and what listings show: docs/s3.md, "Folder markers".
//!
//! ```text
//! PUT    /<bucket>/<dir>/  empty body   MakeFolder with the folders above it (one there: 200);
//!                          an aws-chunked body of nothing (held whole) is empty too
//! PUT    /<bucket>/<dir>/  a body       400 XFerryInvalidKey, nothing stored: a folder holds no bytes
//! HEAD   /<bucket>/<dir>/               List, one entry, no body: 200, an empty object, if a folder
//! GET    /<bucket>/<dir>/               the same, with its empty body
//! DELETE /<bucket>/<dir>/               RemoveFolder: gone if empty; 204 all the same
//! ```

use super::super::message::Resume;
use super::super::response::Persistence;
use super::error::Code;
use super::target::key_refusal;
use super::{Asked, Fields, Refusal, refusal, xml};
use crate::model::Md5Tag;
use crate::name::{Name, Prefix};
use crate::serve::ops;
use crate::serve::{BodyLength, ErrorKind, Failure, Making, Operation, Page, Scope};

/// A request on `<bucket>/<dir>/` (`dir` without its `/`), whose query
/// holds only what any object request may carry.
pub(super) fn request(
    method: &str,
    (bucket, dir): (&str, &str),
    (body, resume, fields): (&[u8], &Resume, &Fields),
) -> Result<(Operation, Asked), Refusal> {
    let key = format!("{dir}/");
    let name = Name::new(format!("{bucket}/{dir}")).map_err(|err| key_refusal(err, &key))?;
    // An aws-chunked empty body is held whole (`S3::body_in_hand`).
    let bodiless = resume.body == BodyLength::Fixed(0)
        && (body.is_empty() || super::body::is_empty_coded(body, fields)?);
    Ok(match method {
        "PUT" if !bodiless => {
            return Err(refusal(
                Code::XFerryInvalidKey,
                format!(
                    "{key:?} ends in '/': it is a folder, which holds no bytes (only an empty body makes it)"
                ),
            ));
        }
        "PUT" => {
            let made = Operation::MakeFolder(ops::MakeFolder {
                name,
                making: Making::WithParents,
                preconditions: None,
            });
            (made, Asked::PutFolder)
        }
        "GET" | "HEAD" => (probe(name), Asked::HeadFolder),
        "DELETE" => (
            Operation::RemoveFolder(ops::RemoveFolder { name }),
            Asked::DeleteFolder,
        ),
        _ => return Err(super::target::unserved(method)),
    })
}

/// Whether folder `name` is there (a marker's HEAD, HeadBucket,
/// GetBucketLocation): a listing of it, no body, whose page of none stops
/// at its first entry, so that a bucket of any size costs one `lstat` at
/// most, not one per key.
pub(super) fn probe(name: Name) -> Operation {
    let page = Page {
        delimiter: Some("/".to_owned()),
        after: None,
        max: 0,
        within: Some(name.clone()),
    };
    Operation::List(ops::List {
        prefix: Prefix::of_folder(&name),
        scope: Scope::Keys(Box::new(page)),
        format: Box::new(xml::Buckets::default()),
        body: false,
    })
}

/// The answer to a folder marker's PUT (200) or HEAD and GET (200, an
/// empty object): the ETag of no bytes.
pub(super) fn answer(asked: Asked, persistence: Persistence, out: &mut Vec<u8>) {
    let head = super::error::head(out, 200).header("ETag", Md5Tag::EMPTY.quoted());
    match asked {
        Asked::HeadFolder => head.header("Content-Type", "application/x-directory"),
        _ => head,
    }
    .finish(0, persistence);
}

/// Whether a folder marker's DELETE that failed so is done: the folder
/// was not there, or holds keys, which stay (as S3's keys stay when their
/// marker goes).
pub(super) fn deleted(asked: Asked, failure: &Failure) -> bool {
    asked == Asked::DeleteFolder
        && matches!(failure.kind, ErrorKind::NotFound | ErrorKind::Conflict)
}
