//! What an S3 request signs under Signature Version 2 (S3's own, before
//! SigV4; boto3's `generate_presigned_url` still makes it by default
//! with a custom endpoint): its string to sign, made from the request
//! head alone, so that access control can check the HMAC-SHA1 with the
//! key's secret (`access/sigv2.rs`) without knowing HTTP. Also the
//! request's time: within 15 minutes of the server's (a header's
//! signature), or not past its `Expires` (a presigned URL's).
//!
//! ```text
//! Authorization: AWS <key id>:<base64 signature>
//! /<bucket>/<key>?AWSAccessKeyId=<key id>&Expires=<Unix seconds>&Signature=<base64>
//! string to sign = method \n Content-MD5 \n Content-Type \n date \n amz headers resource
//!   date:     Date, or "" with x-amz-date (an amz header), or the URL's Expires
//!   amz headers: each x-amz-* field, lower-case, sorted, values trimmed and
//!             joined by , : "name:value\n"
//!   resource: ["/" bucket, from Host] path as sent ["?" sub-resources, sorted,
//!             values decoded: acl, uploadId, partNumber, response-content-type ...]
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;

use super::super::message::Head;
use super::error::Code;
use super::signing::{MAX_SKEW, decoded, parse_date};
use super::{Refusal, refusal};
use crate::access::sigv2::SignedV2;

/// What an `Authorization` value of SigV2 begins with.
pub const SCHEME: &str = "AWS ";

/// The longest a presigned URL may be valid from now: 7 days, as SigV4's
/// (AWS sets none for SigV2; a URL that never ends cannot be taken back
/// but by removing its key).
const MAX_AHEAD: i64 = 7 * 24 * 3600;

/// The query parameters that name a sub-resource and so are signed (S3's
/// list, and botocore's, which signs the same): in byte order.
const SUB_RESOURCES: [&str; 35] = [
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// The credential of a request signed in its `Authorization` field
/// (`value`, `AWS <key id>:<signature>`), at `now`; `bucket` is the one
/// `Host` named (virtual-host style), which its resource begins with.
///
/// # Errors
/// A value that is not SigV2's (`InvalidArgument`), no date or one that
/// is not an HTTP date (`AccessDenied`), a date more than 15 minutes from
/// `now` (`RequestTimeTooSkewed`).
pub(super) fn header(
    head: &Head<'_>,
    value: &str,
    bucket: Option<&str>,
    now: OffsetDateTime,
) -> Result<SignedV2, Refusal> {
    let (key_id, signature) = value
        .strip_prefix(SCHEME)
        .and_then(|rest| rest.trim().split_once(':'))
        .filter(|(key_id, _)| !key_id.is_empty())
        .ok_or_else(|| {
            let why = "AWS authorization header is invalid: expected AWS <key id>:<signature>";
            refusal(Code::InvalidArgument, why)
        })?;
    let (date_line, at) = date(head)?;
    if (at - now.unix_timestamp()).abs() > MAX_SKEW {
        let why = "the request's time is more than 15 minutes from the server's";
        return Err(refusal(Code::RequestTimeTooSkewed, why));
    }
    Ok(signed(
        head,
        (key_id.to_owned(), signature),
        &date_line,
        bucket,
    ))
}

/// The credential of a presigned request (`AWSAccessKeyId`, `Expires`,
/// `Signature` in its query), at `now`; `bucket` as for [`header`].
///
/// # Errors
/// A parameter missing, an `Expires` that is not Unix seconds or more
/// than 7 days ahead (`AuthorizationQueryParametersError`), a URL past its
/// `Expires` (`AccessDenied`).
pub(super) fn presigned(
    head: &Head<'_>,
    bucket: Option<&str>,
    now: OffsetDateTime,
) -> Result<SignedV2, Refusal> {
    let (_, query) = head.target.split_once('?').unwrap_or((head.target, ""));
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .map(decoded)
            .ok_or_else(|| {
                let why = "a presigned URL needs AWSAccessKeyId, Expires and Signature";
                refusal(Code::AccessDenied, why)
            })
    };
    let (key_id, expires_text, signature) = (
        param("AWSAccessKeyId")?,
        param("Expires")?,
        param("Signature")?,
    );
    let now = now.unix_timestamp();
    let expires = expires_text
        .parse::<i64>()
        .ok()
        .filter(|at| *at <= now.saturating_add(MAX_AHEAD))
        .ok_or_else(|| {
            let why = "Expires must be Unix seconds, at most 7 days ahead";
            refusal(Code::AuthorizationQueryParametersError, why)
        })?;
    if now > expires {
        return Err(refusal(Code::AccessDenied, "Request has expired"));
    }
    Ok(signed(head, (key_id, &signature), &expires_text, bucket))
}

/// A signature's bytes from its base64; none if it is not base64 (it then
/// matches nothing, and fails as a wrong signature does, counted).
fn signature_bytes(text: &str) -> Vec<u8> {
    STANDARD.decode(text.trim()).unwrap_or_default()
}

/// The date line of a header-signed request and its time: `Date`'s, or
/// empty where `x-amz-date` is there (whose time it is: S3's rule).
fn date(head: &Head<'_>) -> Result<(String, i64), Refusal> {
    let missing = || {
        let why = "AWS authentication requires a valid Date or x-amz-date header";
        refusal(Code::AccessDenied, why)
    };
    let (line, text) = match (field(head, "x-amz-date"), field(head, "date")) {
        (Some(amz), _) => (String::new(), amz),
        (None, Some(date)) => (date.clone(), date),
        (None, None) => return Err(missing()),
    };
    // A time before 1970 is no request's: not valid, rather than skewed.
    let at = parse_date(&text)
        .filter(|at| *at >= 0)
        .ok_or_else(missing)?;
    Ok((line, at))
}

/// The first value of field `name`, trimmed.
fn field(head: &Head<'_>, name: &str) -> Option<String> {
    head.fields()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| String::from_utf8_lossy(value).trim().to_owned())
}

/// The string to sign of `head`, whose date line is `date_line`.
pub(super) fn string_to_sign(head: &Head<'_>, date_line: &str, bucket: Option<&str>) -> String {
    string_to_sign_as(head, date_line, (bucket, true))
}

/// The request signed as its signer made it: `key_id`, the signature,
/// and the string to sign (with the literal form of a path-style
/// bucket's resource besides, where that differs: `/bucket` as AWS's
/// documentation spells it, where botocore and s3cmd sign `/bucket/`).
fn signed(
    head: &Head<'_>,
    (key_id, signature): (String, &str),
    date_line: &str,
    bucket: Option<&str>,
) -> SignedV2 {
    let string_to_sign = string_to_sign(head, date_line, bucket);
    let path = head.target.split('?').next().unwrap_or_default();
    SignedV2 {
        key_id,
        or_else: names_bucket_alone(path, bucket)
            .then(|| string_to_sign_as(head, date_line, (bucket, false))),
        string_to_sign,
        signature: signature_bytes(signature),
    }
}

/// Whether `path` names a bucket alone, path style (`/bucket`), whose
/// resource signers spell two ways.
fn names_bucket_alone(path: &str, bucket: Option<&str>) -> bool {
    bucket.is_none() && path.len() > 1 && !path[1..].contains('/')
}

/// [`string_to_sign`], a path-style bucket's resource with its `/`
/// where `bucket_slash`.
fn string_to_sign_as(
    head: &Head<'_>,
    date_line: &str,
    (bucket, bucket_slash): (Option<&str>, bool),
) -> String {
    let mut text = String::with_capacity(128);
    for part in [
        head.method,
        "\n",
        &field(head, "content-md5").unwrap_or_default(),
        "\n",
        &field(head, "content-type").unwrap_or_default(),
        "\n",
        date_line,
        "\n",
    ] {
        text.push_str(part);
    }
    amz_headers_into(&mut text, head);
    resource_into(&mut text, head.target, (bucket, bucket_slash));
    text
}

/// Each `x-amz-*` field, `name:value\n`, names lower-case and sorted, the
/// values of one name joined by `,` in their order.
fn amz_headers_into(text: &mut String, head: &Head<'_>) {
    let mut fields: Vec<(String, String)> = head
        .fields()
        .filter(|(name, _)| {
            name.get(..6)
                .is_some_and(|p| p.eq_ignore_ascii_case("x-amz-"))
        })
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value);
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    // Stable: one name's values keep the order they came in.
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let mut previous: Option<&str> = None;
    for (name, value) in &fields {
        if previous == Some(name.as_str()) {
            text.push(',');
        } else {
            if previous.is_some() {
                text.push('\n');
            }
            text.push_str(name);
            text.push(':');
        }
        text.push_str(value);
        previous = Some(name);
    }
    if previous.is_some() {
        text.push('\n');
    }
}

/// The resource: `/<bucket>` where `Host` named it, the path as sent (a
/// bucket's own ending in `/`), and
/// the sub-resources of the query, sorted by name, their values decoded.
fn resource_into(text: &mut String, target: &str, (bucket, bucket_slash): (Option<&str>, bool)) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if let Some(bucket) = bucket {
        text.push('/');
        text.push_str(bucket);
    }
    text.push_str(path);
    // A bucket named by the path alone (`PUT /bucket`, path style) is
    // signed as `/bucket/` by botocore and s3cmd (their resource is the
    // bucket and the key, which is `/` for the bucket itself), as `/bucket`
    // by a signer that follows AWS's page to the letter: both are taken
    // (`signed`).
    if bucket_slash && names_bucket_alone(path, bucket) {
        text.push('/');
    }
    let mut subs: Vec<(&str, Option<String>)> = query
        .split('&')
        .filter_map(|pair| {
            let (name, value) = match pair.split_once('=') {
                Some((name, value)) => (name, Some(decoded(value))),
                None => (pair, None),
            };
            SUB_RESOURCES.contains(&name).then_some((name, value))
        })
        .collect();
    subs.sort_by(|a, b| a.0.cmp(b.0));
    for (at, (name, value)) in subs.iter().enumerate() {
        text.push(if at == 0 { '?' } else { '&' });
        text.push_str(name);
        if let Some(value) = value {
            text.push('=');
            text.push_str(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::message;
    use super::*;
    use crate::access::sigv2;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    /// The string to sign of `request` (its head, `\n`-separated) for a
    /// virtual host of bucket `bucket`, with `date_line`.
    fn made(request: &str, date_line: Option<&str>, bucket: Option<&str>) -> String {
        let raw = format!("{}\r\n\r\n", request.replace('\n', "\r\n"));
        let mut text = String::new();
        let parsed = message::parse(
            raw.as_bytes(),
            |_| false,
            |head, _| {
                let line = match date_line {
                    Some(line) => line.to_owned(),
                    None => date(head).map_err(|(_, m)| (400, m))?.0,
                };
                text = string_to_sign(head, &line, bucket);
                Ok(())
            },
        );
        assert!(
            matches!(parsed, Ok(message::Parsed::Whole(..))),
            "{parsed:?}"
        );
        text
    }

    /// The examples of S3's "Signing and authenticating REST requests"
    /// (bucket awsexamplebucket1, virtual-host style): each string to sign
    /// as the page gives it, and its signature under the page's secret.
    #[test]
    fn the_documented_examples() {
        let host = "Host: awsexamplebucket1.us-west-1.s3.amazonaws.com";
        let bucket = Some("awsexamplebucket1");
        let examples = [
            (
                format!(
                    "GET /photos/puppy.jpg HTTP/1.1\n{host}\nDate: Tue, 27 Mar 2007 19:36:42 +0000"
                ),
                "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg",
                "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=",
            ),
            (
                format!(
                    "PUT /photos/puppy.jpg HTTP/1.1\nContent-Type: image/jpeg\nContent-Length: 94328\n\
                     {host}\nDate: Tue, 27 Mar 2007 21:15:45 +0000"
                ),
                "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/awsexamplebucket1/photos/puppy.jpg",
                "iqRzw+ileNPu1fhspnRs8nOjjIA=",
            ),
            (
                format!(
                    "GET /?prefix=photos&max-keys=50&marker=puppy HTTP/1.1\nUser-Agent: Mozilla/5.0\n\
                     {host}\nDate: Tue, 27 Mar 2007 19:42:41 +0000"
                ),
                "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/awsexamplebucket1/",
                "m0WP8eCtspQl5Ahe6L1SozdX9YA=",
            ),
            (
                format!("GET /?acl HTTP/1.1\n{host}\nDate: Tue, 27 Mar 2007 19:44:46 +0000"),
                "GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/awsexamplebucket1/?acl",
                "82ZHiFIjc+WbcwFKGUVEQspPn+0=",
            ),
        ];
        for (request, expected, signature) in examples {
            let text = made(&request, None, bucket);
            assert_eq!(text, expected);
            let signed = STANDARD.encode(sigv2::sign(SECRET, &text));
            assert_eq!(signed, signature, "{expected}");
        }
    }

    /// The page's upload example: `x-amz-*` fields lower-case, sorted, one
    /// name's values joined, `Content-MD5` and `Content-Type` in place;
    /// and path style, whose path names the bucket.
    #[test]
    fn amz_fields_and_path_style() {
        let request = "PUT /static.example.com/db-backup.dat.gz HTTP/1.1\n\
            User-Agent: curl/7.15.5\nHost: static.example.com:8080\n\
            Date: Tue, 27 Mar 2007 21:06:08 +0000\nx-amz-acl: public-read\n\
            content-type: application/x-download\nContent-MD5: 4gJE4saaMU4BqNR0kLY+lw==\n\
            X-Amz-Meta-ReviewedBy: joe@example.com\nX-Amz-Meta-ReviewedBy: jane@example.com\n\
            X-Amz-Meta-FileChecksum: 0x02661779\nX-Amz-Meta-ChecksumAlgorithm: crc32\n\
            Content-Length: 5913339";
        let expected = "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\n\
            Tue, 27 Mar 2007 21:06:08 +0000\nx-amz-acl:public-read\n\
            x-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\n\
            x-amz-meta-reviewedby:joe@example.com,jane@example.com\n\
            /static.example.com/db-backup.dat.gz";
        let text = made(request, None, None);
        assert_eq!(text, expected);
        assert_eq!(
            STANDARD.encode(sigv2::sign(SECRET, &text)),
            "jtBQa0Aq+DkULFI8qrpwIjGEx0E="
        );
    }

    /// A bucket named by the path alone is signed as `/bucket/`, as
    /// botocore and s3cmd sign CreateBucket, ListObjects...; the root, a
    /// key and a virtual host's bucket as they are.
    #[test]
    fn a_path_style_bucket_is_signed_with_its_slash() {
        let date = "Date: Tue, 27 Mar 2007 21:20:27 +0000";
        let ends = |request: &str, bucket| {
            let text = made(
                &format!("{request} HTTP/1.1\nHost: h\n{date}"),
                None,
                bucket,
            );
            text.rsplit('\n').next().unwrap_or_default().to_owned()
        };
        assert_eq!(ends("PUT /bkt", None), "/bkt/");
        assert_eq!(ends("GET /bkt?acl", None), "/bkt/?acl");
        assert_eq!(ends("GET /bkt/", None), "/bkt/");
        assert_eq!(ends("GET /", None), "/");
        assert_eq!(ends("GET /bkt/k", None), "/bkt/k");
        assert_eq!(ends("GET /", Some("vh")), "/vh/");
    }

    /// `x-amz-date` takes `Date`'s place: the date line is empty; a
    /// presigned URL's is its `Expires`; sub-resources sorted, decoded.
    #[test]
    fn dates_expiry_and_sub_resources() {
        let request = "DELETE /b/k HTTP/1.1\nHost: h\nDate: Tue, 27 Mar 2007 21:20:27 +0000\n\
                       x-amz-date: Tue, 27 Mar 2007 21:20:26 +0000";
        let expected = "DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/b/k";
        assert_eq!(made(request, None, None), expected);
        let request = "GET /b/k?versionId=null&AWSAccessKeyId=A&response-content-type=text%2Fplain&Expires=9&acl HTTP/1.1\nHost: h";
        let expected = "GET\n\n\n9\n/b/k?acl&response-content-type=text/plain&versionId=null";
        assert_eq!(made(request, Some("9"), None), expected);
    }

    #[test]
    fn dates_in_either_form() {
        assert_eq!(
            parse_date("Tue, 27 Mar 2007 19:36:42 +0000"),
            Some(1_175_024_202)
        );
        assert_eq!(
            parse_date("Tue, 27 Mar 2007 19:36:42 GMT"),
            Some(1_175_024_202)
        );
        assert_eq!(
            parse_date("Tue, 27 Mar 2007 19:36:42 -0000"),
            Some(1_175_024_202)
        );
        assert_eq!(parse_date("20070327T193642Z"), None);
    }

    /// A date before 1970 is not valid (`AccessDenied`), not skewed.
    #[test]
    fn a_date_before_1970_is_no_date() {
        let raw =
            "PUT /b/k HTTP/1.1\r\nHost: h\r\nx-amz-date: Tue, 07 Jul 1950 21:53:04 GMT\r\n\r\n";
        let mut code = None;
        let _ = message::parse(
            raw.as_bytes(),
            |_| false,
            |head, _| {
                code = date(head).err().map(|(code, _)| code);
                Ok(())
            },
        );
        assert_eq!(code, Some(Code::AccessDenied));
    }
}
