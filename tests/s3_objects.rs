//! S3 object operations beyond the first slice, over real sockets (the
//! XML parsed): ETags from the MD5 recorded with a file (GET, HEAD and
//! listings) and the version tag where there is none, conditional GETs
//! and HEADs with S3's precedence, and `versionId=null`.

#[path = "support/binary.rs"]
mod binary;
mod support;

use md5::{Digest as _, Md5};
use support::http::{Answer, bearer, exchange};
use support::s3::{Payload, S3Server, Signer, code, texts};

const ALL: &[&str] = &["read:/", "write:/", "delete:/"];

fn owner() -> S3Server {
    let s = S3Server::start(&[("owner", ALL)], &[]);
    let made = s.signers[0].simple(s.s3, "PUT", "/bkt", b"");
    assert_eq!(made.status, 200, "{}", made.head);
    s
}

fn quoted_md5(data: &[u8]) -> String {
    let hex: String = Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("\"{hex}\"")
}

/// A signed GET or HEAD of `path` with `fields`.
fn get(s: &S3Server, me: &Signer, method: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
    me.send(s.s3, method, (path, &[]), fields, b"", Payload::Signed)
}

/// The ETags of a V1 and a V2 listing of bucket `bkt`, in key order.
fn listed_etags(s: &S3Server, me: &Signer) -> (Vec<String>, Vec<String>) {
    let v1 = me.simple(s.s3, "GET", "/bkt", b"");
    assert_eq!(v1.status, 200, "{}", v1.head);
    let v2 = me.send(
        s.s3,
        "GET",
        ("/bkt", &[("list-type", "2"), ("fetch-owner", "true")]),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!(v2.status, 200, "{}", v2.head);
    (texts(&v1.body, "ETag"), texts(&v2.body, "ETag"))
}

#[test]
fn a_put_objects_etag_is_its_md5_on_get_head_and_listings() {
    let s = owner();
    let me = &s.signers[0];
    let body = b"the body of an object".repeat(50);
    let put = me.simple(s.s3, "PUT", "/bkt/dir/k", &body);
    assert_eq!(put.status, 200, "{}", put.head);
    let tag = quoted_md5(&body);
    assert_eq!(put.header("ETag"), Some(tag.as_str()));
    for method in ["GET", "HEAD"] {
        let answer = get(&s, me, method, "/bkt/dir/k", &[]);
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("ETag"), Some(tag.as_str()), "{method}");
    }
    // A range is answered with the whole object's tag.
    let range = get(&s, me, "GET", "/bkt/dir/k", &[("Range", "bytes=0-3")]);
    assert_eq!(range.status, 206);
    assert_eq!(range.header("ETag"), Some(tag.as_str()));
    let (v1, v2) = listed_etags(&s, me);
    assert_eq!(v1, [tag.clone()]);
    assert_eq!(v2, [tag]);
}

#[test]
fn a_file_from_another_protocol_or_changed_since_has_the_version_tag() {
    let s = owner();
    let me = &s.signers[0];
    let http = s.server.http.unwrap();
    let auth = format!("Host: localhost\r\n{}", bearer(&s.tokens[0]));
    let put = exchange(http, "PUT", "/bkt/from-http", &auth, b"via http");
    assert!(put.status < 300, "{}", put.head);
    let head = get(&s, me, "HEAD", "/bkt/from-http", &[]);
    let tag = head.header("ETag").unwrap().to_owned();
    assert_ne!(tag, quoted_md5(b"via http"), "HTTP PUTs record no MD5");
    assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");

    // An S3 object rewritten in place behind ferry's back: its record no
    // longer matches it, so its tag is the version's, not a stale MD5.
    let body = b"first".to_vec();
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/changed", &body).status, 200);
    std::fs::write(s.server.path("bkt/changed"), b"second, longer").unwrap();
    let head = get(&s, me, "HEAD", "/bkt/changed", &[]);
    let changed = head.header("ETag").unwrap();
    assert_ne!(changed, quoted_md5(&body));
    assert_ne!(changed, quoted_md5(b"second, longer"));
    let (v1, _) = listed_etags(&s, me);
    assert_eq!(v1, [changed.to_owned(), tag]);
}

#[test]
fn a_multipart_tag_recorded_with_the_file_is_answered() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/parts", b"abc").status, 200);
    // What a completed multipart upload records: `<hex>-N`.
    let path = s.server.path("bkt/parts");
    let meta = std::fs::metadata(&path).unwrap();
    use std::os::unix::fs::MetadataExt as _;
    let record = format!(
        "{} {}.{} 0123456789abcdef0123456789abcdef-3",
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec()
    );
    let file = std::fs::File::open(&path).unwrap();
    rustix::fs::fsetxattr(
        &file,
        "user.ferry.md5",
        record.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let want = "\"0123456789abcdef0123456789abcdef-3\"";
    let (v1, _) = listed_etags(&s, me);
    assert_eq!(v1, [want]);
    let head = get(&s, me, "HEAD", "/bkt/parts", &[]);
    assert_eq!(head.header("ETag"), Some(want));
}

#[test]
fn conditional_gets_follow_s3s_precedence() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/k", b"abc").status, 200);
    let tag = quoted_md5(b"abc");
    let head = get(&s, me, "HEAD", "/bkt/k", &[]);
    let modified = head.header("Last-Modified").unwrap().to_owned();
    let long_ago = "Mon, 01 Jan 2001 00:00:00 GMT";
    let later = "Fri, 01 Jan 2100 00:00:00 GMT";

    for method in ["GET", "HEAD"] {
        let status = |fields: &[(&str, &str)]| get(&s, me, method, "/bkt/k", fields).status;
        assert_eq!(status(&[("If-Match", &tag)]), 200);
        assert_eq!(status(&[("If-Match", "\"other\"")]), 412);
        assert_eq!(status(&[("If-None-Match", &tag)]), 304);
        assert_eq!(status(&[("If-None-Match", "\"other\"")]), 200);
        assert_eq!(status(&[("If-Modified-Since", &modified)]), 304);
        assert_eq!(status(&[("If-Modified-Since", long_ago)]), 200);
        assert_eq!(status(&[("If-Unmodified-Since", long_ago)]), 412);
        assert_eq!(status(&[("If-Unmodified-Since", later)]), 200);
        // If-Match true wins over If-Unmodified-Since false, and
        // If-None-Match true over If-Modified-Since false.
        let both = [
            ("If-Match", tag.as_str()),
            ("If-Unmodified-Since", long_ago),
        ];
        assert_eq!(status(&both), 200);
        let both = [("If-None-Match", "\"other\""), ("If-Modified-Since", later)];
        assert_eq!(status(&both), 200);
    }
    let failed = get(&s, me, "GET", "/bkt/k", &[("If-Match", "\"other\"")]);
    assert_eq!(code(&failed), "PreconditionFailed");
    let current = get(&s, me, "GET", "/bkt/k", &[("If-None-Match", &tag)]);
    assert_eq!(current.header("ETag"), Some(tag.as_str()));
    assert!(current.body.is_empty());
    // Conditions apply to a range too.
    let ranged = [("Range", "bytes=0-0"), ("If-Match", tag.as_str())];
    let part = get(&s, me, "GET", "/bkt/k", &ranged);
    assert_eq!((part.status, part.body.as_slice()), (206, &b"a"[..]));
}

#[test]
fn version_id_null_names_the_one_version() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/k", b"abc").status, 200);
    let query = |version: &'static str| [("versionId", version)];
    for method in ["GET", "HEAD"] {
        let answer = me.send(
            s.s3,
            method,
            ("/bkt/k", &query("null")),
            &[],
            b"",
            Payload::Signed,
        );
        assert_eq!(answer.status, 200, "{method}");
    }
    let other = me.send(
        s.s3,
        "GET",
        ("/bkt/k", &query("3HL4kqtJlcpXroDTDmJ")),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!((other.status, code(&other)), (501, "NotImplemented".into()));
    let deleted = me.send(
        s.s3,
        "DELETE",
        ("/bkt/k", &query("null")),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!(deleted.status, 204);
    assert!(!s.server.path("bkt/k").exists());
}
