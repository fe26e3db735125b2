//! S3 copies' sources over real sockets (the XML parsed): CopyObject's
//! `x-amz-copy-source-if-*` conditions with S3's precedence (412, nothing
//! copied), and UploadPartCopy (a part staged from a source object, whole
//! or a range of it, under the same conditions and grants), completed as
//! an uploaded part is.

#[path = "support/binary.rs"]
mod binary;
mod support;

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
