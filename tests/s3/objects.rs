//! S3 object operations beyond the first slice, over real sockets (the
//! XML parsed): ETags from the MD5 recorded with a file (GET, HEAD and
//! listings) and the version tag where there is none, conditional GETs
//! and HEADs with S3's precedence, and `versionId=null`.
#![cfg(feature = "s3")] // built with what it tests (Cargo.toml [features])

use crate::support;

use md5::{Digest as _, Md5};
use support::http::{Answer, bearer, exchange, exchange_chunked};
use support::s3::{ALL, Payload, S3Server, Signer, code, owner, texts};

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
    assert_eq!(v1, std::slice::from_ref(&tag));
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

/// The modification time of `path`, in Unix seconds.
fn mtime_of(path: &std::path::Path) -> i64 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).unwrap().mtime()
}

#[test]
fn x_amz_meta_mtime_sets_the_files_time_and_is_answered() {
    let s = owner();
    let me = &s.signers[0];
    let put = me.send(
        s.s3,
        "PUT",
        ("/bkt/dated", &[]),
        &[("x-amz-meta-mtime", "1700000000.123456789")],
        b"abc",
        Payload::Signed,
    );
    assert_eq!(put.status, 200, "{}", put.head);
    // ferry keeps a file's time to the second, on every protocol.
    assert_eq!(mtime_of(&s.server.path("bkt/dated")), 1_700_000_000);
    let head = get(&s, me, "HEAD", "/bkt/dated", &[]);
    // Answered as stored: rclone finds the time it sent, to the nanosecond.
    assert_eq!(
        head.header("x-amz-meta-mtime"),
        Some("1700000000.123456789")
    );
    assert_eq!(
        head.header("Last-Modified"),
        Some("Tue, 14 Nov 2023 22:13:20 GMT")
    );
    // The time set with the file: the record of its MD5 names it.
    assert_eq!(head.header("ETag"), Some(quoted_md5(b"abc").as_str()));
}

/// Only CreateBucket makes a bucket: PutObject, CopyObject and
/// CreateMultipartUpload into one that is not there are 404
/// `NoSuchBucket`, and nothing is made (they used to make the bucket).
#[test]
fn writes_into_a_bucket_that_is_not_there_are_no_such_bucket() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/src", b"abc").status, 200);
    let put = me.simple(s.s3, "PUT", "/none/dir/k", b"abc");
    assert_eq!((put.status, code(&put)), (404, "NoSuchBucket".into()));
    let copied = copy(&s, me, "/none/k", "/bkt/src", &[]);
    assert_eq!((copied.status, code(&copied)), (404, "NoSuchBucket".into()));
    let begun = me.send(
        s.s3,
        "POST",
        ("/none/k", &[("uploads", "")]),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!((begun.status, code(&begun)), (404, "NoSuchBucket".into()));
    assert!(!s.server.path("none").exists());
    // A bucket made, the same requests succeed.
    assert_eq!(me.simple(s.s3, "PUT", "/none", b"").status, 200);
    assert_eq!(me.simple(s.s3, "PUT", "/none/dir/k", b"abc").status, 200);
}

#[test]
fn user_metadata_over_2_kib_is_refused_and_nothing_stored() {
    let s = owner();
    let me = &s.signers[0];
    let big = "v".repeat(2100);
    let put = me.send(
        s.s3,
        "PUT",
        ("/bkt/heavy", &[]),
        &[("x-amz-meta-note", &big)],
        b"abc",
        Payload::Signed,
    );
    assert_eq!((put.status, code(&put)), (400, "MetadataTooLarge".into()));
    assert!(!s.server.path("bkt/heavy").exists());
}

/// A signed CopyObject of `source` to `path` with `fields` besides.
fn copy(s: &S3Server, me: &Signer, path: &str, source: &str, fields: &[(&str, &str)]) -> Answer {
    let mut all = vec![("x-amz-copy-source", source)];
    all.extend_from_slice(fields);
    me.send(s.s3, "PUT", (path, &[]), &all, b"", Payload::Signed)
}

#[test]
fn copy_object_across_buckets_keeps_the_md5_and_makes_the_keys_folders() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/other", b"").status, 200);
    let body = b"copied bytes".to_vec();
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/a%20b/src", &body).status, 200);
    let copied = copy(&s, me, "/other/deep/er/dst", "/bkt/a%20b/src", &[]);
    assert_eq!(copied.status, 200, "{}", copied.head);
    let tag = quoted_md5(&body);
    assert_eq!(texts(&copied.body, "ETag"), std::slice::from_ref(&tag));
    assert_eq!(texts(&copied.body, "LastModified").len(), 1);
    assert_eq!(
        std::fs::read(s.server.path("other/deep/er/dst")).unwrap(),
        body
    );
    let head = get(&s, me, "HEAD", "/other/deep/er/dst", &[]);
    assert_eq!(head.header("ETag"), Some(tag.as_str()));
    // Without the leading slash, with versionId=null, over a file.
    let again = copy(
        &s,
        me,
        "/other/deep/er/dst",
        "bkt/a%20b/src?versionId=null",
        &[],
    );
    assert_eq!(again.status, 200, "{}", again.head);

    let missing = copy(&s, me, "/other/x", "/bkt/nothing", &[]);
    assert_eq!((missing.status, code(&missing)), (404, "NoSuchKey".into()));
    let bad = copy(&s, me, "/other/x", "/bkt", &[]);
    assert_eq!((bad.status, code(&bad)), (400, "InvalidArgument".into()));
    let directive = copy(
        &s,
        me,
        "/other/x",
        "/bkt/a%20b/src",
        &[("x-amz-metadata-directive", "MOVE")],
    );
    assert_eq!(
        (directive.status, code(&directive)),
        (400, "InvalidArgument".into())
    );
    // A key that is a folder on disk is not replaced.
    let onto_folder = copy(&s, me, "/other/deep", "/bkt/a%20b/src", &[]);
    assert_eq!(
        (onto_folder.status, code(&onto_folder)),
        (409, "XFerryKeyConflict".into())
    );
    assert!(s.server.path("other/deep/er/dst").is_file());
}

#[test]
fn copy_object_onto_itself_with_replace_sets_the_time_and_keeps_the_etag() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/k", b"abc").status, 200);
    let plain = copy(&s, me, "/bkt/k", "/bkt/k", &[]);
    assert_eq!((plain.status, code(&plain)), (400, "InvalidRequest".into()));
    let replace = [
        ("x-amz-metadata-directive", "REPLACE"),
        ("x-amz-meta-mtime", "1600000000.5"),
    ];
    let set = copy(&s, me, "/bkt/k", "/bkt/k", &replace);
    assert_eq!(set.status, 200, "{}", set.head);
    assert_eq!(texts(&set.body, "LastModified").len(), 1);
    assert_eq!(mtime_of(&s.server.path("bkt/k")), 1_600_000_000);
    let head = get(&s, me, "HEAD", "/bkt/k", &[]);
    assert_eq!(head.header("ETag"), Some(quoted_md5(b"abc").as_str()));
    assert_eq!(head.header("x-amz-meta-mtime"), Some("1600000000.5"));
    let (v1, _) = listed_etags(&s, me);
    assert_eq!(v1, [quoted_md5(b"abc")]);
    let gone = copy(&s, me, "/bkt/none", "/bkt/none", &replace);
    assert_eq!((gone.status, code(&gone)), (404, "NoSuchKey".into()));
}

#[test]
fn copy_object_needs_read_on_the_source_and_write_on_the_copy() {
    let s = S3Server::start(
        &[
            ("owner", ALL),
            ("reader", &["read:bkt/"]),
            ("writer", &["write:bkt/"]),
        ],
        &[],
    );
    let owner = &s.signers[0];
    assert_eq!(owner.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    assert_eq!(owner.simple(s.s3, "PUT", "/bkt/k", b"abc").status, 200);
    for me in &s.signers[1..] {
        let denied = copy(&s, me, "/bkt/copy", "/bkt/k", &[]);
        assert_eq!((denied.status, code(&denied)), (403, "AccessDenied".into()));
    }
    assert!(!s.server.path("bkt/copy").exists());
}

/// A DeleteObjects body naming `keys`.
fn delete_body(keys: &[&str], quiet: bool) -> String {
    let objects: String = keys
        .iter()
        .map(|k| format!("<Object><Key>{k}</Key></Object>"))
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>{quiet}</Quiet>{objects}</Delete>"
    )
}

fn content_md5(body: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(body))
}

/// POST /bkt?delete with `body` and `fields`.
fn delete_objects(s: &S3Server, me: &Signer, body: &str, fields: &[(&str, &str)]) -> Answer {
    me.send(
        s.s3,
        "POST",
        ("/bkt", &[("delete", "")]),
        fields,
        body.as_bytes(),
        Payload::Signed,
    )
}

#[test]
fn delete_objects_tells_each_key_and_quiet_only_the_failures() {
    let s = S3Server::start(&[("owner", ALL), ("some", &["delete:bkt/mine/"])], &[]);
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    for key in ["a", "d/b", "mine/c", "mine/d"] {
        let path = format!("/bkt/{key}");
        assert_eq!(me.simple(s.s3, "PUT", &path, b"x").status, 200);
    }
    let body = delete_body(&["a", "d/b", "gone", "a&amp;b"], false);
    let md5 = content_md5(body.as_bytes());
    let answer = delete_objects(&s, me, &body, &[("Content-MD5", &md5)]);
    assert_eq!(answer.status, 200, "{}", answer.head);
    // A key already gone is deleted, as DeleteObject says.
    assert_eq!(texts(&answer.body, "Key"), ["a", "d/b", "gone", "a&b"]);
    assert_eq!(texts(&answer.body, "Code"), Vec::<String>::new());
    assert!(!s.server.path("bkt/a").exists());
    assert!(!s.server.path("bkt/d").exists(), "the emptied prefix goes");
    assert!(s.server.path("bkt").is_dir());

    // Grants per key: `some` may delete under mine/ alone.
    let other = &s.signers[1];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/a", b"x").status, 200);
    let body = delete_body(&["mine/c", "a", "mine/d"], true);
    let checksum = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body.as_bytes()))
    };
    let answer = delete_objects(&s, other, &body, &[("x-amz-checksum-sha256", &checksum)]);
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(texts(&answer.body, "Key"), ["a"], "quiet: the failures");
    assert_eq!(texts(&answer.body, "Code"), ["AccessDenied"]);
    assert!(s.server.path("bkt/a").exists());
    assert!(!s.server.path("bkt/mine/c").exists());
    assert!(!s.server.path("bkt/mine/d").exists());
}

/// A DeleteObjects body streamed in several chunks (Go's net/http, in
/// rclone and minio-go, frames a body of unknown length so) is read
/// whole, and its Content-MD5 and signed hash are the joined payload's.
#[test]
fn delete_objects_takes_a_body_in_several_chunks() {
    let s = owner();
    let me = &s.signers[0];
    for path in ["/bkt/a", "/bkt/b"] {
        assert_eq!(me.simple(s.s3, "PUT", path, b"x").status, 200);
    }
    let body = delete_body(&["a", "b"], false);
    let md5 = content_md5(body.as_bytes());
    let fields = [("Content-MD5", md5.as_str())];
    let asked = ("/bkt", &[("delete", "")][..]);
    let (target, lines) = me.signed("POST", asked, &fields, body.as_bytes(), Payload::Signed);
    let answer = exchange_chunked(s.s3, ("POST", &target), &lines, body.as_bytes(), 40);
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(texts(&answer.body, "Key"), ["a", "b"]);
    assert!(!s.server.path("bkt/a").exists());
    assert!(!s.server.path("bkt/b").exists());
}

#[test]
fn delete_objects_refuses_bodies_it_cannot_trust_and_deletes_nothing() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/a", b"x").status, 200);
    let body = delete_body(&["a"], false);
    let refused = |answer: Answer, want: (u16, &str)| {
        assert_eq!(
            (answer.status, code(&answer).as_str()),
            want,
            "{}",
            answer.head
        );
        assert!(s.server.path("bkt/a").exists());
    };
    refused(delete_objects(&s, me, &body, &[]), (400, "InvalidRequest"));
    let wrong = content_md5(b"another body");
    refused(
        delete_objects(&s, me, &body, &[("Content-MD5", &wrong)]),
        (400, "BadDigest"),
    );
    let wrong_crc = [("x-amz-checksum-crc32", "AAAAAA==")];
    refused(
        delete_objects(&s, me, &body, &wrong_crc),
        (400, "BadDigest"),
    );
    let dtd = "<!DOCTYPE d [<!ENTITY k \"a\">]><Delete><Object><Key>&k;</Key></Object></Delete>";
    let md5 = content_md5(dtd.as_bytes());
    refused(
        delete_objects(&s, me, dtd, &[("Content-MD5", &md5)]),
        (400, "MalformedXML"),
    );
    let keys: Vec<String> = (0..1001).map(|i| i.to_string()).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let many = delete_body(&keys, true);
    let md5 = content_md5(many.as_bytes());
    refused(
        delete_objects(&s, me, &many, &[("Content-MD5", &md5)]),
        (400, "MalformedXML"),
    );
    let bad_key = delete_body(&["x//y"], false);
    let md5 = content_md5(bad_key.as_bytes());
    refused(
        delete_objects(&s, me, &bad_key, &[("Content-MD5", &md5)]),
        (400, "XFerryInvalidKey"),
    );
    // A CRC-32 that is the body's: the zip one, big-endian, base64.
    let crc = {
        use base64::Engine as _;
        let crc = crc32(body.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
    };
    let done = delete_objects(&s, me, &body, &[("x-amz-checksum-crc32", &crc)]);
    assert_eq!(done.status, 200, "{}", done.head);
    assert!(!s.server.path("bkt/a").exists());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// Every error answer names a request id in `x-amz-request-id` and in
/// its body's `<RequestId>` alike (issue 50; ceph/s3-tests'
/// `test_object_requestid_matches_header_on_error`; botocore reports the
/// field's): a failure of the serve layer, a refusal before it, one of
/// the message layer; each request its own id; a HEAD's in the field.
#[test]
fn error_answers_name_their_request_id_in_the_field_and_the_body() {
    let s = owner();
    let me = &s.signers[0];
    let missing = me.simple(s.s3, "GET", "/bkt/none", b"");
    let unsigned = s.anonymous("PUT", "/bkt/k", b"data");
    let too_big = me.send(
        s.s3,
        "POST",
        ("/bkt", &[("delete", "")]),
        &[],
        &vec![b'x'; 70_000],
        Payload::Signed,
    );
    let again = me.simple(s.s3, "GET", "/bkt/none", b"");
    let mut ids = Vec::new();
    for answer in [&missing, &unsigned, &too_big, &again] {
        assert!(answer.status >= 400, "{}", answer.head);
        let field = answer
            .header("x-amz-request-id")
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            texts(&answer.body, "RequestId"),
            vec![field.clone()],
            "{}",
            answer.head
        );
        assert_eq!(field.len(), 16, "{field}");
        ids.push(field);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "{ids:?}");
    let head = me.simple(s.s3, "HEAD", "/bkt/none", b"");
    assert_eq!(head.status, 404);
    assert!(head.header("x-amz-request-id").is_some(), "{}", head.head);
}

/// Successful answers name their request too, each its own id: a
/// listing, a PutObject, a GetObject, a HeadBucket, a DeleteObject.
#[test]
fn successful_answers_name_their_request_id() {
    let s = owner();
    let me = &s.signers[0];
    let answers = [
        me.simple(s.s3, "PUT", "/bkt/k", b"data"),
        me.simple(s.s3, "GET", "/bkt/k", b""),
        me.simple(s.s3, "HEAD", "/bkt", b""),
        me.simple(s.s3, "GET", "/bkt", b""),
        me.simple(s.s3, "DELETE", "/bkt/k", b""),
    ];
    let mut ids = Vec::new();
    for answer in &answers {
        assert!(answer.status < 300, "{}", answer.head);
        let id = answer.header("x-amz-request-id").unwrap_or_default();
        assert_eq!(id.len(), 16, "{}", answer.head);
        ids.push(id.to_owned());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), answers.len(), "{ids:?}");
}

/// An object put whole is its one part: `partNumber=1` is all of it, a
/// higher one 400 `InvalidPart` (ceph's `test_non_multipart_get_part`);
/// GetObjectAttributes names its ETag, size, class and checksums, no parts;
/// an attribute S3 does not know is 400.
#[test]
fn an_object_put_whole_is_its_one_part() {
    let s = owner();
    let me = &s.signers[0];
    let put = me.simple(s.s3, "PUT", "/bkt/k", b"body");
    let etag = put.header("ETag").unwrap().to_owned();
    let get = |number: &str| {
        me.send(
            s.s3,
            "GET",
            ("/bkt/k", &[("partNumber", number)]),
            &[],
            b"",
            Payload::Signed,
        )
    };
    let first = get("1");
    assert_eq!(
        (first.status, first.body.as_slice()),
        (206, &b"body"[..]),
        "{}",
        first.head
    );
    assert_eq!(first.header("ETag"), Some(etag.as_str()));
    let second = get("2");
    assert_eq!((second.status, code(&second)), (400, "InvalidPart".into()));
    assert_eq!(get("0").status, 400);
    let attributes = |named: &str| {
        let fields = [("x-amz-object-attributes", named)];
        me.send(
            s.s3,
            "GET",
            ("/bkt/k", &[("attributes", "")]),
            &fields,
            b"",
            Payload::Signed,
        )
    };
    let all = attributes("ETag,Checksum,ObjectParts,StorageClass,ObjectSize");
    assert_eq!(all.status, 200, "{}", String::from_utf8_lossy(&all.body));
    assert_eq!(texts(&all.body, "ETag"), [etag.trim_matches('"')]);
    assert_eq!(texts(&all.body, "ObjectSize"), ["4"]);
    assert_eq!(texts(&all.body, "StorageClass"), ["STANDARD"]);
    assert!(texts(&all.body, "PartsCount").is_empty());
    let unknown = attributes("Colour");
    assert_eq!(
        (unknown.status, code(&unknown)),
        (400, "InvalidArgument".into())
    );
    let none = me.send(
        s.s3,
        "GET",
        ("/bkt/none", &[("attributes", "")]),
        &[("x-amz-object-attributes", "ETag")],
        b"",
        Payload::Signed,
    );
    assert_eq!((none.status, code(&none)), (404, "NoSuchKey".into()));
}

/// OPTIONS without `Origin` (no CORS preflight) is 400, as S3 answers it
/// (ceph's `test_object_raw_get_x_amz_expires_not_expired`), not 501.
#[test]
fn options_without_an_origin_is_a_bad_request() {
    let s = owner();
    let answer = s.anonymous("OPTIONS", "/bkt/k", b"");
    assert_eq!(
        (answer.status, code(&answer)),
        (400, "InvalidRequest".into())
    );
}
