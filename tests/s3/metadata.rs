//! S3 object metadata over real sockets: `x-amz-meta-*` and the fields an
//! object keeps (`Content-Type`, `Cache-Control`...) given with PutObject,
//! CreateMultipartUpload and CopyObject (`COPY` carries them and the
//! time, `REPLACE` replaces them), answered by GetObject and HeadObject,
//! gone with a new version, shown to WebDAV as dead properties in S3's
//! namespace; and the checksum kept, answered with
//! `x-amz-checksum-mode: ENABLED`. The XML is parsed.
#![cfg(feature = "s3")] // built with what it tests (Cargo.toml [features])

use crate::support;

use base64::Engine as _;
use support::http::{Answer, bearer, exchange, metric};
use support::s3::{ALL, Payload, S3Server, Signer, code, owner, texts};

const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// A signed request of `path` with `fields` and `body`.
fn ask(s: &S3Server, method: &str, path: &str, fields: &[(&str, &str)], body: &[u8]) -> Answer {
    let me: &Signer = &s.signers[0];
    me.send(s.s3, method, (path, &[]), fields, body, Payload::Signed)
}

/// The fields an object was given in the tests below.
const GIVEN: &[(&str, &str)] = &[
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Disposition", "attachment; filename=\"a b.txt\""),
    ("Cache-Control", "max-age=60"),
    ("Content-Language", "en-GB"),
    ("Expires", "Wed, 21 Oct 2037 07:28:00 GMT"),
    ("X-Amz-Meta-Colour", "blue & <green>"),
    ("x-amz-meta-two-words", "a b"),
];

/// Asserts `answer` states each of `fields`.
fn states(answer: &Answer, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        assert_eq!(
            answer.header(name),
            Some(*value),
            "{name} in {}",
            answer.head
        );
    }
}

#[test]
fn metadata_given_with_a_put_is_answered_by_get_and_head() {
    let s = owner();
    let put = ask(&s, "PUT", "/bkt/dir/k.bin", GIVEN, b"hello");
    assert_eq!(put.status, 200, "{}", put.head);
    for method in ["GET", "HEAD"] {
        let answer = ask(&s, method, "/bkt/dir/k.bin", &[], b"");
        assert_eq!(answer.status, 200, "{}", answer.head);
        states(&answer, GIVEN);
    }
    let range = ask(&s, "GET", "/bkt/dir/k.bin", &[("Range", "bytes=1-2")], b"");
    assert_eq!((range.status, range.body.as_slice()), (206, &b"el"[..]));
    states(&range, GIVEN);

    // A new version starts without them: the type is the default again.
    let again = ask(&s, "PUT", "/bkt/dir/k.bin", &[], b"hello again");
    assert_eq!(again.status, 200);
    let head = ask(&s, "HEAD", "/bkt/dir/k.bin", &[], b"");
    assert_eq!(
        head.header("Content-Type"),
        Some("application/octet-stream")
    );
    assert_eq!(head.header("x-amz-meta-colour"), None);
    assert_eq!(head.header("Cache-Control"), None);
}

/// The `x-amz-meta-*` fields `answer` states.
fn user_metadata(answer: &Answer) -> Vec<String> {
    let mut names: Vec<String> = answer
        .head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| format!("{}: {}", name.to_ascii_lowercase(), value.trim()))
        .filter(|line| line.starts_with("x-amz-meta-"))
        .collect();
    names.sort();
    names
}

#[test]
fn metadata_round_trips_exactly_and_a_time_is_answered_only_where_stored() {
    let s = owner();
    let put = ask(&s, "PUT", "/bkt/a", &[("x-amz-meta-a", "1")], b"x");
    assert_eq!(put.status, 200, "{}", put.head);
    let head = ask(&s, "HEAD", "/bkt/a", &[], b"");
    assert_eq!(user_metadata(&head), ["x-amz-meta-a: 1"], "{}", head.head);
    // Stored as sent, its fraction too (rclone compares to the nanosecond).
    let dated = [("x-amz-meta-mtime", "1600000000.123456789")];
    assert_eq!(ask(&s, "PUT", "/bkt/t", &dated, b"x").status, 200);
    let head = ask(&s, "HEAD", "/bkt/t", &[], b"");
    assert_eq!(
        user_metadata(&head),
        ["x-amz-meta-mtime: 1600000000.123456789"]
    );
    // REPLACE keeps only the request's metadata: no time but one given.
    let replace = [
        ("x-amz-copy-source", "/bkt/t"),
        ("x-amz-metadata-directive", "REPLACE"),
        ("x-amz-meta-b", "2"),
    ];
    assert_eq!(ask(&s, "PUT", "/bkt/c", &replace, b"").status, 200);
    let head = ask(&s, "HEAD", "/bkt/c", &[], b"");
    assert_eq!(user_metadata(&head), ["x-amz-meta-b: 2"], "{}", head.head);
    // The file's time changed since (any protocol may): the stored value
    // is stale, the file's time is answered.
    let file = std::fs::File::options()
        .write(true)
        .open(s.server.path("bkt/t"))
        .unwrap();
    let later = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    file.set_modified(later).unwrap();
    let head = ask(&s, "HEAD", "/bkt/t", &[], b"");
    assert_eq!(user_metadata(&head), ["x-amz-meta-mtime: 1700000000"]);
}

#[test]
fn metadata_follows_no_protocol_but_s3_and_webdav_shows_it() {
    let s = owner();
    let put = ask(&s, "PUT", "/bkt/page.txt", GIVEN, b"<b>hi</b>");
    assert_eq!(put.status, 200, "{}", put.head);
    let http = s.server.http.unwrap();
    let auth = format!("Host: localhost\r\n{}", bearer(&s.tokens[0]));
    // ferry's HTTP keeps presenting a file by its name: the web origin's
    // rules decide on that type, not on one an S3 client chose.
    let got = exchange(http, "GET", "/bkt/page.txt", &auth, b"");
    assert_eq!(got.status, 200);
    assert_eq!(
        got.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(got.header("x-amz-meta-colour"), None);
    // WebDAV lists them as dead properties in S3's namespace.
    let found = exchange(
        http,
        "PROPFIND",
        "/bkt/page.txt",
        &format!("{auth}Depth: 0\r\n"),
        b"",
    );
    assert_eq!(found.status, 207, "{}", found.head);
    assert_eq!(
        texts(&found.body, "s3:x-amz-meta-colour"),
        ["blue & <green>"]
    );
    assert_eq!(texts(&found.body, "s3:cache-control"), ["max-age=60"]);
    let text = String::from_utf8_lossy(&found.body);
    assert!(text.contains(&format!("xmlns:s3=\"{NS}\"")), "{text}");
}

#[test]
fn copy_object_copies_metadata_and_time_or_replaces_them() {
    let s = owner();
    let mut given = GIVEN.to_vec();
    given.push(("x-amz-meta-mtime", "1500000000"));
    assert_eq!(ask(&s, "PUT", "/bkt/src", &given, b"bytes").status, 200);

    let copied = ask(
        &s,
        "PUT",
        "/bkt/copy",
        &[("x-amz-copy-source", "/bkt/src")],
        b"",
    );
    assert_eq!(copied.status, 200, "{}", copied.head);
    let head = ask(&s, "HEAD", "/bkt/copy", &[], b"");
    states(&head, GIVEN);
    assert_eq!(head.header("x-amz-meta-mtime"), Some("1500000000"));

    let replace = [
        ("x-amz-copy-source", "/bkt/src"),
        ("x-amz-metadata-directive", "REPLACE"),
        ("Content-Type", "image/png"),
        ("x-amz-meta-new", "1"),
    ];
    let replaced = ask(&s, "PUT", "/bkt/other", &replace, b"");
    assert_eq!(replaced.status, 200, "{}", replaced.head);
    let head = ask(&s, "HEAD", "/bkt/other", &[], b"");
    states(
        &head,
        &[("Content-Type", "image/png"), ("x-amz-meta-new", "1")],
    );
    assert_eq!(head.header("x-amz-meta-colour"), None);
    assert_eq!(head.header("x-amz-meta-mtime"), None);

    // Onto itself with REPLACE: the metadata alone changes, the ETag stays.
    let etag = head.header("ETag").unwrap().to_owned();
    let onto = [
        ("x-amz-copy-source", "/bkt/other"),
        ("x-amz-metadata-directive", "REPLACE"),
        ("Cache-Control", "no-store"),
        ("x-amz-meta-mtime", "1400000000"),
    ];
    let set = ask(&s, "PUT", "/bkt/other", &onto, b"");
    assert_eq!(set.status, 200, "{}", set.head);
    let head = ask(&s, "HEAD", "/bkt/other", &[], b"");
    states(
        &head,
        &[
            ("Cache-Control", "no-store"),
            ("Content-Type", "application/octet-stream"),
            ("x-amz-meta-mtime", "1400000000"),
            ("ETag", &etag),
        ],
    );
    assert_eq!(head.header("x-amz-meta-new"), None);
}

#[test]
fn a_multipart_upload_gets_the_metadata_given_when_it_began() {
    let s = owner();
    let me = &s.signers[0];
    // Near S3's 2 KiB: the session's record holds it all.
    let note = "n".repeat(1900);
    let mut given = GIVEN.to_vec();
    given.push(("x-amz-meta-note", &note));
    let begun = me.send(
        s.s3,
        "POST",
        ("/bkt/big", &[("uploads", "")]),
        &given,
        b"",
        Payload::Signed,
    );
    assert_eq!(begun.status, 200, "{}", begun.head);
    let id = texts(&begun.body, "UploadId").remove(0);
    let query = [("partNumber", "1"), ("uploadId", id.as_str())];
    let part = me.send(
        s.s3,
        "PUT",
        ("/bkt/big", &query),
        &[],
        b"one part",
        Payload::Signed,
    );
    assert_eq!(part.status, 200, "{}", part.head);
    let etag = part.header("ETag").unwrap();
    let list = format!(
        "<CompleteMultipartUpload xmlns=\"{NS}\"><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    let query = [("uploadId", id.as_str())];
    let done = me.send(
        s.s3,
        "POST",
        ("/bkt/big", &query),
        &[],
        list.as_bytes(),
        Payload::Signed,
    );
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    let head = ask(&s, "HEAD", "/bkt/big", &[], b"");
    states(&head, &given);

    let big = "v".repeat(2100);
    let refused = me.send(
        s.s3,
        "POST",
        ("/bkt/heavy", &[("uploads", "")]),
        &[("x-amz-meta-note", &big)],
        b"",
        Payload::Signed,
    );
    assert_eq!(
        (refused.status, code(&refused)),
        (400, "MetadataTooLarge".into())
    );
}

#[test]
fn metadata_that_cannot_be_kept_is_refused_and_nothing_stored() {
    let s = owner();
    let put = ask(&s, "PUT", "/bkt/odd", &[("x-amz-meta-a+b", "1")], b"abc");
    assert_eq!((put.status, code(&put)), (400, "InvalidArgument".into()));
    assert!(!s.server.path("bkt/odd").exists());
}

#[test]
fn the_crc32c_kept_is_answered_when_checksums_are_asked_for() {
    let s = owner();
    let body = b"checksummed bytes".repeat(100);
    assert_eq!(ask(&s, "PUT", "/bkt/c", &[], &body).status, 200);
    let expected =
        base64::engine::general_purpose::STANDARD.encode(crc32c::crc32c(&body).to_be_bytes());
    let mode = [("x-amz-checksum-mode", "ENABLED")];
    for method in ["GET", "HEAD"] {
        let answer = ask(&s, method, "/bkt/c", &mode, b"");
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.header("x-amz-checksum-crc32c"),
            Some(expected.as_str()),
            "{method}"
        );
        assert_eq!(answer.header("x-amz-checksum-type"), Some("FULL_OBJECT"));
        let plain = ask(&s, method, "/bkt/c", &[], b"");
        assert_eq!(plain.header("x-amz-checksum-crc32c"), None, "{method}");
    }
    // A part's checksum would not be the object's: none.
    let range = ask(&s, "GET", "/bkt/c", &[("Range", "bytes=0-9"), mode[0]], b"");
    assert_eq!(range.status, 206);
    assert_eq!(range.header("x-amz-checksum-crc32c"), None);
}

/// The checksum an object was put with (here a SHA-256) is kept with it
/// and answered, beside the CRC-32C, when checksums are asked for (ceph's
/// `test_object_checksum_sha256`); not otherwise, not for a part, and not
/// once the file changed since (its record names the version).
#[test]
fn the_checksum_an_object_was_put_with_is_answered_when_asked_for() {
    use sha2::Digest as _;
    let s = owner();
    let body = b"sha-256 checksummed".repeat(64);
    let sha256 = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&body));
    let stated = [("x-amz-checksum-sha256", sha256.as_str())];
    let put = ask(&s, "PUT", "/bkt/s", &stated, &body);
    assert_eq!(put.status, 200, "{}", put.head);
    assert_eq!(put.header("x-amz-checksum-sha256"), Some(sha256.as_str()));
    let mode = [("x-amz-checksum-mode", "ENABLED")];
    for method in ["GET", "HEAD"] {
        let answer = ask(&s, method, "/bkt/s", &mode, b"");
        assert_eq!(answer.status, 200);
        let field = answer.header("x-amz-checksum-sha256");
        assert_eq!(field, Some(sha256.as_str()), "{method}: {}", answer.head);
        assert!(answer.header("x-amz-checksum-crc32c").is_some());
        let plain = ask(&s, method, "/bkt/s", &[], b"");
        assert_eq!(plain.header("x-amz-checksum-sha256"), None, "{method}");
    }
    let range = ask(&s, "GET", "/bkt/s", &[("Range", "bytes=0-9"), mode[0]], b"");
    assert_eq!(range.header("x-amz-checksum-sha256"), None);
    // A wrong one stores nothing and keeps the old.
    let wrong = [(
        "x-amz-checksum-sha256",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    )];
    let refused = ask(&s, "PUT", "/bkt/s", &wrong, b"other");
    assert_eq!((refused.status, code(&refused)), (400, "BadDigest".into()));
    let head = ask(&s, "HEAD", "/bkt/s", &mode, b"");
    assert_eq!(head.header("x-amz-checksum-sha256"), Some(sha256.as_str()));
    // Changed behind S3's back: the record no longer names this version.
    let file = std::fs::File::options()
        .write(true)
        .open(s.server.path("bkt/s"))
        .unwrap();
    file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000))
        .unwrap();
    let head = ask(&s, "HEAD", "/bkt/s", &mode, b"");
    assert_eq!(head.header("x-amz-checksum-sha256"), None, "{}", head.head);
}

/// A GetObject of an object without metadata is answered on the loop once
/// the folder where its record would be has not changed for a second
/// (storage/posix/unrecorded.rs: the record's absence noted with that folder's
/// stamp), no I/O job run; metadata added afterwards, by CopyObject onto
/// itself or by WebDAV's PROPPATCH on the HTTP listener, shows in the very
/// next answer, and so does its removal.
#[test]
fn metadata_added_to_an_object_read_without_any_shows_at_once() {
    let s = S3Server::start_with(&[("owner", ALL)], &[], |c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    });
    assert_eq!(ask(&s, "PUT", "/bkt", &[], b"").status, 200);
    let jobs = || metric(s.server.metrics.unwrap(), "ferry_io_jobs_total");
    // A sibling with metadata in each folder: the records' folders exist,
    // and a record written in one leaves the other's stamp as it was.
    let kept = [("x-amz-meta-colour", "blue")];
    for key in ["/bkt/with", "/bkt/d/with", "/bkt/plain", "/bkt/d/dav"] {
        let given: &[(&str, &str)] = if key.ends_with("with") { &kept } else { &[] };
        assert_eq!(ask(&s, "PUT", key, given, b"bytes").status, 200);
    }
    // Time to pass, not an event to await: the stamps must be settled.
    std::thread::sleep(std::time::Duration::from_millis(1300));
    for key in ["/bkt/plain", "/bkt/d/dav"] {
        // The first GET reads on the pool and notes the absence.
        let got = ask(&s, "GET", key, &[], b"");
        assert_eq!((got.status, got.header("x-amz-meta-colour")), (200, None));
        let before = jobs();
        for method in ["GET", "HEAD"] {
            let got = ask(&s, method, key, &[], b"");
            assert_eq!((got.status, got.header("x-amz-meta-colour")), (200, None));
        }
        assert_eq!(jobs(), before, "{key} answered on the loop");
    }
    let onto = [
        ("x-amz-copy-source", "/bkt/plain"),
        ("x-amz-metadata-directive", "REPLACE"),
        ("x-amz-meta-colour", "red"),
    ];
    assert_eq!(ask(&s, "PUT", "/bkt/plain", &onto, b"").status, 200);
    let got = ask(&s, "GET", "/bkt/plain", &[], b"");
    assert_eq!(got.header("x-amz-meta-colour"), Some("red"), "{}", got.head);

    // /bkt/d's stamp was not moved by /bkt's record: still on the loop.
    let before = jobs();
    assert_eq!(ask(&s, "HEAD", "/bkt/d/dav", &[], b"").status, 200);
    assert_eq!(jobs(), before);
    let http = s.server.http.unwrap();
    let auth = format!("Host: localhost\r\n{}", bearer(&s.tokens[0]));
    let patch = |verb: &str, value: &str| {
        let body = format!(
            "<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\"><D:{verb}><D:prop>\
             <s3:x-amz-meta-colour xmlns:s3=\"{NS}\">{value}</s3:x-amz-meta-colour>\
             </D:prop></D:{verb}></D:propertyupdate>"
        );
        let patched = exchange(http, "PROPPATCH", "/bkt/d/dav", &auth, body.as_bytes());
        assert_eq!(patched.status, 207, "{}", patched.head);
    };
    patch("set", "green");
    let got = ask(&s, "GET", "/bkt/d/dav", &[], b"");
    assert_eq!(
        got.header("x-amz-meta-colour"),
        Some("green"),
        "{}",
        got.head
    );
    patch("remove", "");
    let got = ask(&s, "HEAD", "/bkt/d/dav", &[], b"");
    assert_eq!(got.header("x-amz-meta-colour"), None, "{}", got.head);
}

/// A version put without metadata has none, however the versions before
/// it were given theirs: the record of a replaced version goes with it,
/// so the inode it leaves free (a file system hands it to a later temp
/// file) does not bring its metadata back (ceph's
/// `test_object_content_encoding_aws_chunked`).
#[test]
fn metadata_of_a_replaced_version_never_comes_back() {
    let s = owner();
    for round in 0..8 {
        let given = [("x-amz-meta-round", "given"), ("Content-Encoding", "gzip")];
        let put = ask(&s, "PUT", "/bkt/k", &given, b"x");
        assert_eq!(put.status, 200, "{}", put.head);
        for _ in 0..2 {
            let bare = [("Content-Encoding", "aws-chunked")];
            assert_eq!(
                ask(&s, "PUT", "/bkt/k", &bare[..round % 2], b"y").status,
                200
            );
            let head = ask(&s, "HEAD", "/bkt/k", &[], b"");
            assert!(
                user_metadata(&head).is_empty(),
                "round {round}: {}",
                head.head
            );
            assert_eq!(head.header("Content-Encoding"), None, "round {round}");
        }
    }
}

/// GetObject's `response-*` parameters set the answer's fields instead
/// of those kept (a link that downloads under another name or type;
/// ceph's `test_object_raw_response_headers`), on that answer only; an
/// anonymous request may not (400), nor a value that would split a
/// field.
#[test]
fn response_parameters_set_the_answers_fields_for_signed_requests_only() {
    let s = S3Server::start(&[("alice", ALL)], &["read:/"]);
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    let given = [
        ("Content-Type", "text/plain"),
        ("Cache-Control", "max-age=60"),
    ];
    assert_eq!(ask(&s, "PUT", "/bkt/f", &given, b"x").status, 200);
    let asked = [
        ("response-content-type", "foo/bar"),
        (
            "response-content-disposition",
            "attachment; filename=\"r.txt\"",
        ),
        ("response-content-language", "esperanto"),
        ("response-content-encoding", "aaa"),
        ("response-cache-control", "no-cache"),
        ("response-expires", "123"),
    ];
    let got = me.send(s.s3, "GET", ("/bkt/f", &asked), &[], b"", Payload::Signed);
    assert_eq!(got.status, 200, "{}", got.head);
    for (param, value) in asked {
        let field = param.trim_start_matches("response-");
        assert_eq!(got.header(field), Some(value), "{field}: {}", got.head);
    }
    let plain = ask(&s, "GET", "/bkt/f", &[], b"");
    states(&plain, &given);
    let anonymous = s.anonymous("GET", "/bkt/f?response-content-type=text%2Fhtml", b"");
    assert_eq!(
        (anonymous.status, code(&anonymous)),
        (400, "InvalidRequest".into())
    );
    let split = [("response-content-type", "text/plain\r\nX-Evil: 1")];
    let refused = me.send(s.s3, "GET", ("/bkt/f", &split), &[], b"", Payload::Signed);
    assert_eq!(refused.status, 400, "{}", refused.head);
    assert_eq!(refused.header("X-Evil"), None);
}
