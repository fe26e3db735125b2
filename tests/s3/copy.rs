//! S3 copies' sources over real sockets (the XML parsed): CopyObject's
//! `x-amz-copy-source-if-*` conditions with S3's precedence (412, nothing
//! copied), and UploadPartCopy (a part staged from a source object, whole
//! or a range of it, under the same conditions and grants), completed as
//! an uploaded part is.
#![cfg(feature = "s3")] // built with what it tests (Cargo.toml [features])

use crate::support;

use md5::{Digest as _, Md5};
use support::http::Answer;
use support::s3::{Payload, S3Server, Signer, code, texts};

const ALL: &[&str] = &["read:/", "write:/", "delete:/"];
const BEFORE: &str = "Sat, 08 Sep 2001 00:00:00 GMT";
const AFTER: &str = "Fri, 01 Jan 2100 00:00:00 GMT";

fn quoted_md5(data: &[u8]) -> String {
    let hex: String = Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("\"{hex}\"")
}

/// A server with bucket `bkt` holding `bkt/src`; the source's ETag.
fn with_source(body: &[u8]) -> (S3Server, String) {
    let s = S3Server::start(&[("owner", ALL)], &[]);
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    let put = me.simple(s.s3, "PUT", "/bkt/src", body);
    assert_eq!(put.status, 200, "{}", put.head);
    (s, quoted_md5(body))
}

/// A signed PUT of `path` (with `query`) copying `source`, with `fields`.
fn copy(
    s: &S3Server,
    me: &Signer,
    (path, query): (&str, &[(&str, &str)]),
    source: &str,
    fields: &[(&str, &str)],
) -> Answer {
    let mut all = vec![("x-amz-copy-source", source)];
    all.extend_from_slice(fields);
    me.send(s.s3, "PUT", (path, query), &all, b"", Payload::Signed)
}

#[test]
fn copy_object_source_conditions_follow_s3s_precedence() {
    let body = b"the source object".to_vec();
    let (s, tag) = with_source(&body);
    let me = &s.signers[0];
    let object = |fields: &[(&str, &str)]| copy(&s, me, ("/bkt/dst", &[]), "/bkt/src", fields);
    let held: &[&[(&str, &str)]] = &[
        &[("x-amz-copy-source-if-match", &tag)],
        &[("x-amz-copy-source-if-none-match", "\"other\"")],
        &[("x-amz-copy-source-if-modified-since", BEFORE)],
        &[("x-amz-copy-source-if-unmodified-since", AFTER)],
        // If-Match true wins over If-Unmodified-Since false.
        &[
            ("x-amz-copy-source-if-match", &tag),
            ("x-amz-copy-source-if-unmodified-since", BEFORE),
        ],
        // A date that does not parse is no condition.
        &[("x-amz-copy-source-if-modified-since", "yesterday")],
    ];
    for fields in held {
        let _ = std::fs::remove_file(s.server.path("bkt/dst"));
        let copied = object(fields);
        assert_eq!(copied.status, 200, "{fields:?}: {}", copied.head);
        assert_eq!(texts(&copied.body, "ETag"), std::slice::from_ref(&tag));
        assert_eq!(std::fs::read(s.server.path("bkt/dst")).unwrap(), body);
    }
    let failed: &[&[(&str, &str)]] = &[
        &[("x-amz-copy-source-if-match", "\"other\"")],
        &[("x-amz-copy-source-if-none-match", &tag)],
        &[("x-amz-copy-source-if-none-match", "*")],
        &[("x-amz-copy-source-if-modified-since", AFTER)],
        &[("x-amz-copy-source-if-unmodified-since", BEFORE)],
        // If-None-Match false wins over If-Modified-Since true: 412.
        &[
            ("x-amz-copy-source-if-none-match", &tag),
            ("x-amz-copy-source-if-modified-since", BEFORE),
        ],
    ];
    std::fs::remove_file(s.server.path("bkt/dst")).unwrap();
    for fields in failed {
        let refused = object(fields);
        assert_eq!(
            (refused.status, code(&refused)),
            (412, "PreconditionFailed".into()),
            "{fields:?}"
        );
        assert!(!s.server.path("bkt/dst").exists(), "{fields:?}");
    }
    // The object's own conditions are not the copy's: a GET's If-Match
    // on a CopyObject names nothing of the source.
    let plain = object(&[("If-Match", "\"other\"")]);
    assert_eq!(plain.status, 200, "{}", plain.head);
}

const MIB: usize = 1 << 20;

/// A multipart upload of `bkt/<key>`; its UploadId.
fn begin(s: &S3Server, me: &Signer, key: &str) -> String {
    let path = format!("/bkt/{key}");
    let query: &[(&str, &str)] = &[("uploads", "")];
    let made = me.send(s.s3, "POST", (&path, query), &[], b"", Payload::Signed);
    assert_eq!(made.status, 200, "{}", String::from_utf8_lossy(&made.body));
    texts(&made.body, "UploadId").remove(0)
}

/// UploadPartCopy of part `n` of upload `id` of `bkt/dst` from `source`.
fn copy_part(s: &S3Server, me: &Signer, (id, n): (&str, &str), fields: &[(&str, &str)]) -> Answer {
    let query: &[(&str, &str)] = &[("partNumber", n), ("uploadId", id)];
    copy(s, me, ("/bkt/dst", query), "/bkt/src", fields)
}

#[test]
fn upload_part_copy_stages_a_part_from_an_object_that_completes_as_any() {
    let body: Vec<u8> = (0..6 * MIB).map(|i| (i % 251) as u8).collect();
    let (s, tag) = with_source(&body);
    let me = &s.signers[0];
    let id = begin(&s, me, "dst");
    let first_range = format!("bytes=0-{}", 5 * MIB - 1);
    let first = copy_part(
        &s,
        me,
        (&id, "1"),
        &[("x-amz-copy-source-range", &first_range)],
    );
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let first_tag = quoted_md5(&body[..5 * MIB]);
    assert_eq!(texts(&first.body, "ETag"), std::slice::from_ref(&first_tag));
    assert_eq!(texts(&first.body, "LastModified").len(), 1);
    // The whole source, under a condition that holds.
    let second = copy_part(&s, me, (&id, "2"), &[("x-amz-copy-source-if-match", &tag)]);
    assert_eq!(
        second.status,
        200,
        "{}",
        String::from_utf8_lossy(&second.body)
    );
    assert_eq!(texts(&second.body, "ETag"), std::slice::from_ref(&tag));
    // ListParts tells them as uploaded parts.
    let query: &[(&str, &str)] = &[("uploadId", &id)];
    let listed = me.send(s.s3, "GET", ("/bkt/dst", query), &[], b"", Payload::Signed);
    assert_eq!(
        texts(&listed.body, "Size"),
        [(5 * MIB).to_string(), body.len().to_string()]
    );
    let complete = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{first_tag}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>{tag}</ETag></Part></CompleteMultipartUpload>"
    );
    let done = me.send(
        s.s3,
        "POST",
        ("/bkt/dst", query),
        &[],
        complete.as_bytes(),
        Payload::Signed,
    );
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    let mut whole = body[..5 * MIB].to_vec();
    whole.extend_from_slice(&body);
    assert!(std::fs::read(s.server.path("bkt/dst")).unwrap() == whole);
}

#[test]
fn upload_part_copy_refuses_what_cannot_be_copied_and_stages_nothing() {
    let body = b"0123456789".to_vec();
    let (s, tag) = with_source(&body);
    let me = &s.signers[0];
    let id = begin(&s, me, "dst");
    let refused = |fields: &[(&str, &str)]| {
        let answer = copy_part(&s, me, (&id, "1"), fields);
        (answer.status, code(&answer))
    };
    let failed = (412, "PreconditionFailed".to_owned());
    assert_eq!(
        refused(&[("x-amz-copy-source-if-none-match", &tag)]),
        failed
    );
    assert_eq!(
        refused(&[("x-amz-copy-source-if-modified-since", AFTER)]),
        failed
    );
    // Beyond the source: S3's InvalidRange (416); not bytes=first-last
    // (ceph's improper ranges): InvalidArgument.
    assert_eq!(
        refused(&[("x-amz-copy-source-range", "bytes=5-10")]),
        (416, "InvalidRange".to_owned())
    );
    let invalid = (400, "InvalidArgument".to_owned());
    assert_eq!(refused(&[("x-amz-copy-source-range", "bytes=5-")]), invalid);
    assert_eq!(
        refused(&[("x-amz-copy-source-range", "bytes=6-5")]),
        invalid
    );
    let query: &[(&str, &str)] = &[("uploadId", &id)];
    let listed = me.send(s.s3, "GET", ("/bkt/dst", query), &[], b"", Payload::Signed);
    assert!(
        texts(&listed.body, "PartNumber").is_empty(),
        "nothing staged"
    );
    let missing = copy(
        &s,
        me,
        ("/bkt/dst", &[("partNumber", "1"), ("uploadId", &id)]),
        "/bkt/none",
        &[],
    );
    assert_eq!((missing.status, code(&missing)), (404, "NoSuchKey".into()));
    let no_upload = copy_part(&s, me, ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "1"), &[]);
    assert_eq!(
        (no_upload.status, code(&no_upload)),
        (404, "NoSuchUpload".into())
    );
    // A range within: the bytes named, their MD5 the ETag.
    let ranged = copy_part(
        &s,
        me,
        (&id, "1"),
        &[("x-amz-copy-source-range", "bytes=2-4")],
    );
    assert_eq!(
        ranged.status,
        200,
        "{}",
        String::from_utf8_lossy(&ranged.body)
    );
    assert_eq!(texts(&ranged.body, "ETag"), [quoted_md5(b"234")]);
}

#[test]
fn upload_part_copy_needs_read_on_the_source_and_write_on_the_upload() {
    let writer: &[&str] = &["write:/"];
    let s = S3Server::start(&[("owner", ALL), ("writer", writer)], &[]);
    let (owner, writer) = (&s.signers[0], &s.signers[1]);
    assert_eq!(owner.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    assert_eq!(owner.simple(s.s3, "PUT", "/bkt/src", b"secret").status, 200);
    let id = begin(&s, writer, "dst");
    let denied = copy_part(&s, writer, (&id, "1"), &[]);
    assert_eq!((denied.status, code(&denied)), (403, "AccessDenied".into()));
    let query: &[(&str, &str)] = &[("uploadId", &id)];
    let listed = writer.send(s.s3, "GET", ("/bkt/dst", query), &[], b"", Payload::Signed);
    assert!(
        texts(&listed.body, "PartNumber").is_empty(),
        "nothing staged"
    );
}
