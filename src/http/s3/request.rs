//! What an S3 request asks, as one of ferry's operations: its target
//! (bucket, key, query), the bucket and key as ferry names (the S3 codes
//! of those that cannot be: docs/s3.md), and each operation's terms (a
//! listing's page, a PUT's digests, a GET's range).

use super::super::message::{Head, Resume};
use super::body::check_body_hash;
use super::error::Code;
use super::target::{Target, bucket_name, key_refusal, param, unserved};
use super::xml::Listing;
use super::{Asked, Fields, Refusal, body, copy, delete, folder, meta, multipart, refusal, xml};
use crate::name::{Name, Prefix};
use crate::serve::ops;
use crate::serve::{Body, BodyLength, Folders, Making, Operation, Scope};

/// The operation a request asks for, its target read (or refused).
pub(super) fn request(
    head: &Head<'_>,
    target: Result<Target, Refusal>,
    resume: &Resume,
    fields: &Fields,
) -> Result<(Operation, Asked), Refusal> {
    let target = target?;
    let carries_body = resume.body != BodyLength::Fixed(0);
    let puts = matches!((&target, head.method), (Target::Object(..), "PUT"));
    if carries_body && !puts && head.body.is_empty() {
        return Err(refusal(Code::InvalidRequest, "this request takes no body"));
    }
    match (target, head.method) {
        // A CORS preflight without its Origin (those with one are the
        // CORS layer's), as S3 answers it.
        (_, "OPTIONS") => Err(refusal(
            Code::InvalidRequest,
            "Insufficient information. Origin request header needed.",
        )),
        (Target::Root(query), "GET") => Ok((list_buckets(&query)?, Asked::ListBuckets)),
        (Target::Bucket(bucket, query), method) => {
            bucket_request(method, &bucket, &query, head, fields)
        }
        (Target::Object(bucket, key, query), method) => {
            object_request(method, (&bucket, &key, &query), head, resume, fields)
        }
        (Target::Root(_), _) => Err(unserved(head.method)),
    }
}

/// Only these query parameters (listing's, the SDKs' own `x-id` and a
/// presigned URL's `X-Amz-*`) leave a request one that is served.
fn only_params(query: &[(String, String)], allowed: &[&str]) -> bool {
    query.iter().all(|(name, _)| {
        name == "x-id" || name.starts_with("X-Amz-") || allowed.contains(&name.as_str())
    })
}

/// ListBuckets: the root's folders, a page of `max-buckets` (1 to
/// 10,000) after a `continuation-token`, with a `prefix`, where asked.
///
/// # Errors
/// 400 `InvalidArgument` for another `max-buckets` or a token of
/// another server.
fn list_buckets(query: &[(String, String)]) -> Result<Operation, Refusal> {
    let max = match param(query, "max-buckets") {
        Some(text) => Some(
            text.parse::<usize>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| refusal(Code::InvalidArgument, "max-buckets is from 1 to 10000"))?,
        ),
        None => None,
    };
    let after = match param(query, "continuation-token") {
        Some(token) => Some(xml::after_token(token).ok_or_else(|| {
            refusal(
                Code::InvalidArgument,
                "a continuation token of another server",
            )
        })?),
        None => None,
    };
    let prefix = param(query, "prefix").unwrap_or_default().to_owned();
    let format = xml::Buckets::page(max, prefix, after);
    Ok(Operation::List(ops::List {
        prefix: Prefix::root(),
        scope: Scope::Directory,
        format: Box::new(format),
        body: true,
    }))
}

/// A request on a bucket.
fn bucket_request(
    method: &str,
    bucket: &str,
    query: &[(String, String)],
    head: &Head<'_>,
    fields: &Fields,
) -> Result<(Operation, Asked), Refusal> {
    let folder = bucket_name(bucket)?;
    const LISTING: &[&str] = &[
        "list-type",
        "prefix",
        "delimiter",
        "max-keys",
        "marker",
        "start-after",
        "continuation-token",
        "encoding-type",
        "fetch-owner",
    ];
    const VERSIONS: &[&str] = &[
        "versions",
        "prefix",
        "delimiter",
        "max-keys",
        "key-marker",
        "version-id-marker",
        "encoding-type",
    ];
    match method {
        "HEAD" if only_params(query, &[]) => Ok((folder::probe(folder), Asked::HeadBucket)),
        "GET"
            if only_params(query, &["location"])
                && !query.is_empty()
                && query.iter().any(|(n, _)| n == "location") =>
        {
            Ok((folder::probe(folder), Asked::Location))
        }
        "GET" if query.iter().any(|(n, _)| n == "uploads") => {
            super::multipart::list_uploads(bucket, query)
        }
        "GET" if query.iter().any(|(n, _)| n == "versions") && only_params(query, VERSIONS) => {
            super::listing::list_objects(bucket, query, Listing::Versions)
                .map(|op| (op, Asked::ListObjects))
        }
        "GET" if only_params(query, LISTING) => {
            let listing = match param(query, "list-type") == Some("2") {
                true => Listing::V2,
                false => Listing::V1,
            };
            super::listing::list_objects(bucket, query, listing).map(|op| (op, Asked::ListObjects))
        }
        "PUT" if only_params(query, &[]) => {
            check_bucket_name(bucket)?;
            check_body_hash(head.body, fields)?;
            let made = Operation::MakeFolder(ops::MakeFolder {
                name: folder,
                making: Making::Bucket,
                preconditions: None,
            });
            Ok((made, Asked::CreateBucket))
        }
        "DELETE" if only_params(query, &[]) => Ok((
            Operation::RemoveFolder(ops::RemoveFolder { name: folder }),
            Asked::DeleteBucket,
        )),
        "POST" if only_params(query, &["delete"]) && param(query, "delete").is_some() => {
            check_body_hash(head.body, fields)?;
            delete::delete_objects(bucket, head.body, fields)
        }
        _ => Err(unserved(method)),
    }
}

/// S3's rules for a new bucket's name: 3 to 63 lower-case letters,
/// digits, `.` and `-`, beginning and ending with a letter or digit.
fn check_bucket_name(bucket: &str) -> Result<(), Refusal> {
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    match (3..=63).contains(&bucket.len())
        && bucket.chars().all(allowed)
        && ends(bucket.chars().next())
        && ends(bucket.chars().last())
    {
        true => Ok(()),
        false => Err(refusal(
            Code::InvalidBucketName,
            "a bucket is named by 3 to 63 lower-case letters, digits, '.' and '-'",
        )),
    }
}

/// A request on an object.
fn object_request(
    method: &str,
    (bucket, key, query): (&str, &str, &[(String, String)]),
    head: &Head<'_>,
    resume: &Resume,
    fields: &Fields,
) -> Result<(Operation, Asked), Refusal> {
    // rclone names the one version there is: `versionId=null`.
    let null_version = query
        .iter()
        .all(|(name, value)| name != "versionId" || value == "null");
    bucket_name(bucket)?;
    if let Some(dir) = key.strip_suffix('/') {
        let copies = fields.copy_source.is_some();
        if !only_params(query, &["versionId"]) || !null_version || copies {
            return Err(refusal(
                Code::XFerryInvalidKey,
                format!(
                    "{key:?} ends in '/': it is a folder, which has no versions, parts or copies"
                ),
            ));
        }
        return super::folder::request(method, (bucket, dir), (head.body, resume, fields));
    }
    let name = Name::new(format!("{bucket}/{key}")).map_err(|err| key_refusal(err, key))?;
    if multipart::asks(query) {
        return multipart::object_request(method, name, query, (head, resume, fields));
    }
    let reads = matches!(method, "GET" | "HEAD");
    let allowed: &[&str] = match reads {
        true => &[
            "versionId",
            "partNumber",
            "attributes",
            "response-cache-control",
            "response-content-disposition",
            "response-content-encoding",
            "response-content-language",
            "response-content-type",
            "response-expires",
        ],
        false => &["versionId"],
    };
    if !only_params(query, allowed) || !null_version {
        return Err(unserved(method));
    }
    Ok(match method {
        "GET" if param(query, "attributes").is_some() => super::object::attributes(name, fields)?,
        "GET" | "HEAD" => super::object::get_object(name, method == "HEAD", query, fields)?,
        "PUT" => {
            let given = meta::given(fields)?;
            match fields.copy_source.is_some() {
                true if resume.body != BodyLength::Fixed(0) => {
                    return Err(refusal(Code::InvalidRequest, "CopyObject takes no body"));
                }
                true => (copy::copy_object(name, fields, given)?, Asked::CopyObject),
                false => (put_object(name, resume, fields, given)?, Asked::PutObject),
            }
        }
        "DELETE" => (
            Operation::Delete(ops::Delete {
                name,
                folders: Folders::Keys,
                folder_whole: true,
                preconditions: None,
            }),
            Asked::DeleteObject,
        ),
        _ => return Err(unserved(method)),
    })
}

/// PutObject: its body is checked against the SHA-256 it signed, its
/// `Content-MD5` and its `x-amz-checksum-*` as it streams (an aws-chunked
/// body decoded first); its MD5 is the answer's `ETag`.
fn put_object(
    name: Name,
    resume: &Resume,
    fields: &Fields,
    (mtime, props): meta::Given,
) -> Result<Operation, Refusal> {
    let (length, digests) = body::body_digests(resume, fields)?;
    Ok(Operation::Put(ops::Put {
        name,
        body: Body {
            length,
            awaits_go_ahead: resume.expect_continue,
        },
        crc: None,
        mtime,
        trailer: None,
        digests: Some(Box::new(digests)),
        folders: Folders::Keys,
        props,
        preconditions: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules_when_made() {
        for good in ["abc", "my-bucket.2"] {
            assert!(check_bucket_name(good).is_ok(), "{good}");
        }
        for bad in ["ab", "Abc", "-abc", "abc-", "a_b", &"a".repeat(64)] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }
}
