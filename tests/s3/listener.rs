//! The S3 listener over real sockets: each operation's answer and its
//! errors (the XML parsed), grants per operation, requests that are
//! unsigned, signed with a wrong secret or an unknown key, or whose body
//! is not the one signed (nothing stored), a big PUT cut mid-body
//! (nothing stored, the old object whole), and objects seen through
//! HTTP and the other way round.
#![cfg(feature = "s3")] // built with what it tests (Cargo.toml [features])

use crate::binary;
use crate::support;

use std::io::Write as _;
use std::net::TcpStream;

use md5::{Digest as _, Md5};
use support::http::{bearer, exchange};
use support::s3::{Payload, S3Server, Signer, code, texts};

const ALL: &[&str] = &["read:/", "write:/", "delete:/"];

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn owner() -> S3Server {
    S3Server::start(&[("owner", ALL)], &[])
}

#[test]
fn a_bucket_and_its_objects_from_creation_to_removal() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/photos", b"").status, 200);
    assert!(s.server.path("photos").is_dir());

    let body = b"2 KiB of something".repeat(100);
    let put = me.simple(s.s3, "PUT", "/photos/2026/a%20b.jpg", &body);
    assert_eq!(put.status, 200, "{}", put.head);
    assert_eq!(
        put.header("ETag"),
        Some(format!("\"{}\"", md5_hex(&body)).as_str())
    );
    assert_eq!(
        std::fs::read(s.server.path("photos/2026/a b.jpg")).unwrap(),
        body
    );

    let head = me.simple(s.s3, "HEAD", "/photos/2026/a%20b.jpg", b"");
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("Content-Length"),
        Some(body.len().to_string().as_str())
    );
    assert!(head.body.is_empty());
    let get = me.simple(s.s3, "GET", "/photos/2026/a%20b.jpg", b"");
    assert_eq!((get.status, get.body.as_slice()), (200, body.as_slice()));
    let range = me.send(
        s.s3,
        "GET",
        ("/photos/2026/a%20b.jpg", &[]),
        &[("Range", "bytes=2-5")],
        b"",
        Payload::Signed,
    );
    assert_eq!((range.status, range.body.as_slice()), (206, &body[2..6]));
    assert_eq!(range.header("Content-Range"), Some("bytes 2-5/1800"));

    let buckets = me.simple(s.s3, "GET", "/", b"");
    assert_eq!(texts(&buckets.body, "Name"), ["photos"]);
    let location = me.send(
        s.s3,
        "GET",
        ("/photos", &[("location", "")]),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!(location.status, 200);
    assert_eq!(texts(&location.body, "LocationConstraint"), [""]);
    assert_eq!(me.simple(s.s3, "HEAD", "/photos", b"").status, 200);

    let full = me.simple(s.s3, "DELETE", "/photos", b"");
    assert_eq!((full.status, code(&full)), (409, "BucketNotEmpty".into()));
    assert_eq!(
        me.simple(s.s3, "DELETE", "/photos/2026/a%20b.jpg", b"")
            .status,
        204
    );
    // Gone already: S3's DELETE answers 204 all the same.
    assert_eq!(
        me.simple(s.s3, "DELETE", "/photos/2026/a%20b.jpg", b"")
            .status,
        204
    );
    let missing = me.simple(s.s3, "GET", "/photos/2026/a%20b.jpg", b"");
    assert_eq!((missing.status, code(&missing)), (404, "NoSuchKey".into()));
}

#[test]
fn a_bucket_outlives_its_last_object_and_an_emptied_prefix_does_not() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/logs", b"").status, 200);
    assert_eq!(me.simple(s.s3, "PUT", "/logs/2026/11/a", b"a").status, 200);
    assert_eq!(
        me.simple(s.s3, "DELETE", "/logs/2026/11/a", b"").status,
        204
    );
    // The prefixes were the key's (S3 has no folders), the bucket its own.
    assert!(!s.server.path("logs/2026").exists());
    assert!(s.server.path("logs").is_dir());
    assert_eq!(me.simple(s.s3, "HEAD", "/logs", b"").status, 200);
    assert_eq!(me.simple(s.s3, "DELETE", "/logs", b"").status, 204);
}

/// A key limited to one bucket (grants on `bkt/` only) that calls
/// CreateBucket of it, as rclone does before every copy and `restic
/// init` on a fresh root, is told it is there (200), and makes it where
/// it is not (a grant on a folder makes the folder); a bucket it may not
/// write in stays 403, there or not (it learns nothing of which exist),
/// and DeleteBucket needs `delete` on the bucket's own name.
#[test]
fn create_bucket_is_200_to_a_key_that_may_write_in_it_and_makes_it_where_missing() {
    let s = S3Server::start(
        &[
            ("scoped", &["read:bkt/", "write:bkt/"]),
            ("reader", &["read:bkt/"]),
        ],
        &[],
    );
    std::fs::create_dir(s.server.path("other")).unwrap();
    let (scoped, reader) = (&s.signers[0], &s.signers[1]);
    let made = scoped.simple(s.s3, "PUT", "/bkt", b"");
    assert_eq!(made.status, 200, "{}", made.head);
    assert!(s.server.path("bkt").is_dir());
    let again = scoped.simple(s.s3, "PUT", "/bkt", b"");
    assert_eq!(again.status, 200, "{}", again.head);
    let removal = scoped.simple(s.s3, "DELETE", "/bkt", b"");
    assert_eq!(
        (removal.status, code(&removal)),
        (403, "AccessDenied".into())
    );
    for (who, bucket) in [(scoped, "/other"), (scoped, "/new"), (reader, "/bkt")] {
        let refused = who.simple(s.s3, "PUT", bucket, b"");
        assert_eq!(
            (refused.status, code(&refused)),
            (403, "AccessDenied".into())
        );
    }
    assert!(!s.server.path("new").exists());
}

#[test]
fn an_empty_bucket_is_removed_and_then_missing() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/empty", b"").status, 200);
    // Made again: us-east-1's 200 to its owner, as S3 answers there.
    let again = me.simple(s.s3, "PUT", "/empty", b"");
    assert_eq!(again.status, 200, "{}", again.head);
    assert_eq!(me.simple(s.s3, "DELETE", "/empty", b"").status, 204);
    assert!(!s.server.path("empty").exists());
    for (method, target) in [
        ("HEAD", "/empty"),
        ("GET", "/empty?list-type=2"),
        ("DELETE", "/empty"),
    ] {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query: Vec<(&str, &str)> = query
            .split('&')
            .filter(|q| !q.is_empty())
            .filter_map(|q| q.split_once('='))
            .collect();
        let answer = me.send(s.s3, method, (path, &query), &[], b"", Payload::Signed);
        assert_eq!(answer.status, 404, "{method} {target}");
        if method != "HEAD" {
            assert_eq!(code(&answer), "NoSuchBucket", "{method} {target}");
        }
    }
}

#[test]
fn keys_that_cannot_be_file_names_get_clear_codes_and_store_nothing() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    for (key, status, wanted) in [
        ("/bkt/a//c", 400, "XFerryInvalidKey"),
        ("/bkt/a/%2E%2E/c", 400, "XFerryInvalidKey"),
        ("/bkt/dir/", 400, "XFerryInvalidKey"),
        // A control character: no name a client means (S3's InvalidURI).
        ("/bkt/a%C2%8A-", 400, "InvalidURI"),
        ("/bkt/.ferry-tmp-x", 403, "AccessDenied"),
    ] {
        let answer = me.simple(s.s3, "PUT", key, b"data");
        assert_eq!(
            (answer.status, code(&answer)),
            (status, wanted.to_owned()),
            "{key}"
        );
    }
    // A key that is both a file and a folder prefix.
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/file", b"x").status, 200);
    let under = me.simple(s.s3, "PUT", "/bkt/file/inner", b"y");
    assert_eq!(
        (under.status, code(&under)),
        (409, "XFerryKeyConflict".into())
    );
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/dir/inner", b"y").status, 200);
    let over = me.simple(s.s3, "PUT", "/bkt/dir", b"z");
    assert_eq!(
        (over.status, code(&over)),
        (409, "XFerryKeyConflict".into())
    );
    let folder = me.simple(s.s3, "GET", "/bkt/dir", b"");
    assert_eq!((folder.status, code(&folder)), (404, "NoSuchKey".into()));
    assert_eq!(
        s.server.settled_files_on_disk(),
        ["bkt/dir/inner", "bkt/file"]
    );
}

#[test]
fn what_is_not_served_says_so_in_xml() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    for (method, path, query) in [
        ("PUT", "/bkt", &[("versioning", "")][..]),
        ("GET", "/bkt", &[("acl", "")][..]),
        ("POST", "/bkt/k", &[("restore", "")][..]),
        ("GET", "/bkt/k", &[("tagging", "")][..]),
    ] {
        let answer = me.send(s.s3, method, (path, query), &[], b"", Payload::Signed);
        assert_eq!(
            (answer.status, code(&answer)),
            (501, "NotImplemented".into()),
            "{method} {path}"
        );
    }
    let copy = me.send(
        s.s3,
        "PUT",
        ("/bkt/k", &[]),
        &[
            ("x-amz-copy-source", "/bkt/j"),
            ("x-amz-copy-source-if-match", "\"x\""),
        ],
        b"",
        Payload::Signed,
    );
    // Served since (tests/s3/copy.rs): judged on a source that is not there.
    assert_eq!(code(&copy), "NoSuchKey");
    let streaming = me.send(
        s.s3,
        "PUT",
        ("/bkt/k", &[]),
        &[],
        b"x",
        Payload::Stated("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"),
    );
    assert_eq!(code(&streaming), "NotImplemented");
    let range = me.send(s.s3, "GET", ("/bkt/k", &[]), &[], b"", Payload::Signed);
    assert_eq!(code(&range), "NoSuchKey");
    me.simple(s.s3, "PUT", "/bkt/k", b"four");
    let beyond = me.send(
        s.s3,
        "GET",
        ("/bkt/k", &[]),
        &[("Range", "bytes=9-")],
        b"",
        Payload::Signed,
    );
    assert_eq!((beyond.status, code(&beyond)), (416, "InvalidRange".into()));
    let name = me.simple(s.s3, "PUT", "/Bad_Name", b"");
    assert_eq!(
        (name.status, code(&name)),
        (400, "InvalidBucketName".into())
    );
}

#[test]
fn unsigned_unknown_and_wrongly_signed_requests_store_nothing() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    let unsigned = s.anonymous("PUT", "/bkt/k", b"data");
    assert_eq!(
        (unsigned.status, code(&unsigned)),
        (403, "AccessDenied".into())
    );
    let unknown = Signer::new("FERRYNOSUCHKEY000000", "secret");
    let answer = unknown.simple(s.s3, "PUT", "/bkt/k", b"data");
    assert_eq!(
        (answer.status, code(&answer)),
        (403, "InvalidAccessKeyId".into())
    );
    let wrong = Signer::new(&me.id, "not-the-secret");
    let answer = wrong.simple(s.s3, "PUT", "/bkt/k", b"data");
    assert_eq!(
        (answer.status, code(&answer)),
        (403, "SignatureDoesNotMatch".into())
    );
    let mut late = me.clone();
    late.skew = -16 * 60;
    let answer = late.simple(s.s3, "PUT", "/bkt/k", b"data");
    assert_eq!(
        (answer.status, code(&answer)),
        (403, "RequestTimeTooSkewed".into())
    );
    let mut ahead = me.clone();
    ahead.skew = 16 * 60;
    let answer = ahead.simple(s.s3, "PUT", "/bkt/k", b"data");
    assert_eq!(
        (answer.status, code(&answer)),
        (403, "RequestTimeTooSkewed".into()),
        "a clock ahead too"
    );
    let mut early = me.clone();
    early.skew = 14 * 60;
    assert_eq!(
        early.simple(s.s3, "GET", "/", b"").status,
        200,
        "within 15 minutes"
    );
    assert_eq!(s.server.settled_files_on_disk(), Vec::<String>::new());
    assert!(s.server.path("bkt").is_dir());
}

#[test]
fn a_body_that_is_not_the_one_signed_or_its_md5_stores_nothing() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    let other = md5_hex(b"x").repeat(2);
    let answer = me.send(
        s.s3,
        "PUT",
        ("/bkt/k", &[]),
        &[],
        b"data",
        Payload::Stated(&other),
    );
    assert_eq!(
        (answer.status, code(&answer)),
        (400, "XAmzContentSHA256Mismatch".into())
    );
    use base64::Engine as _;
    let wrong_md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(b"other"));
    for payload in [Payload::Signed, Payload::Unsigned] {
        let answer = me.send(
            s.s3,
            "PUT",
            ("/bkt/k", &[]),
            &[("Content-MD5", &wrong_md5)],
            b"data",
            payload,
        );
        assert_eq!((answer.status, code(&answer)), (400, "BadDigest".into()));
    }
    assert_eq!(s.server.settled_files_on_disk(), Vec::<String>::new());
    let right_md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(b"data"));
    let answer = me.send(
        s.s3,
        "PUT",
        ("/bkt/k", &[]),
        &[("Content-MD5", &right_md5)],
        b"data",
        Payload::Unsigned,
    );
    assert_eq!(answer.status, 200);
    assert_eq!(s.server.settled_files_on_disk(), ["bkt/k"]);
}

/// A body's digests are taken where its bytes are written: by the I/O
/// pool behind the connection (`--pool-writes auto`, the default for a
/// hashed body, or `always`; from the second buffer on, on a lane beside
/// the writes, `serve/hash_lane.rs`), or by the loop (`never`). Either way a body
/// over several gathering buffers (512 KiB) is hashed whole and in order,
/// the answer waits for the hash, and one byte off at the end stores
/// nothing.
#[test]
fn a_body_is_hashed_whole_where_it_is_written_and_checked_before_the_answer() {
    use base64::Engine as _;
    use ferry::config::PoolWrites;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let body = support::pattern(3 * 512 * 1024 + 7, 29);
    let mut altered = body.clone();
    *altered.last_mut().unwrap() ^= 1;
    let md5 = b64(&Md5::digest(&body));
    let crc32 = b64(&crc32fast::hash(&body).to_be_bytes());
    for writes in [PoolWrites::Auto, PoolWrites::Always, PoolWrites::Never] {
        let s = S3Server::start_with(&[("owner", ALL)], &[], |c| c.pool_writes = writes);
        let me = &s.signers[0];
        assert_eq!(me.simple(s.s3, "PUT", "/bkt", b"").status, 200);
        let stated = [
            ("Content-MD5", md5.as_str()),
            ("x-amz-checksum-crc32", crc32.as_str()),
        ];
        for (field, value) in stated {
            let put = |data: &[u8]| {
                me.send(
                    s.s3,
                    "PUT",
                    ("/bkt/k", &[]),
                    &[(field, value)],
                    data,
                    Payload::Unsigned,
                )
            };
            let answer = put(&altered);
            assert_eq!(
                (answer.status, code(&answer)),
                (400, "BadDigest".into()),
                "{writes:?} {field}"
            );
            assert_eq!(s.server.settled_files_on_disk(), Vec::<String>::new());
            let answer = put(&body);
            assert_eq!(answer.status, 200, "{writes:?} {field}");
            let etag = format!("\"{}\"", md5_hex(&body));
            assert_eq!(answer.header("ETag"), Some(etag.as_str()));
            assert!(std::fs::read(s.server.path("bkt/k")).unwrap() == body);
            std::fs::remove_file(s.server.path("bkt/k")).unwrap();
        }
        // The signed payload's SHA-256, which is checked first.
        let answer = me.send(s.s3, "PUT", ("/bkt/k", &[]), &[], &body, Payload::Signed);
        assert_eq!(answer.status, 200, "{writes:?} signed");
        let signed = sha2::Sha256::digest(&altered);
        let hex: String = signed.iter().map(|b| format!("{b:02x}")).collect();
        let answer = me.send(
            s.s3,
            "PUT",
            ("/bkt/j", &[]),
            &[],
            &body,
            Payload::Stated(&hex),
        );
        assert_eq!(
            (answer.status, code(&answer)),
            (400, "XAmzContentSHA256Mismatch".into())
        );
        assert_eq!(s.server.settled_files_on_disk(), ["bkt/k"]);
    }
}

#[test]
fn a_50_mib_put_cut_mid_body_leaves_nothing_and_the_old_object_whole() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/old", b"kept").status, 200);
    let body = support::pattern(50 << 20, 4);
    for (key, payload) in [("new", Payload::Signed), ("old", Payload::Unsigned)] {
        let path = format!("/bkt/{key}");
        let (target, lines) = me.signed("PUT", (&path, &[]), &[], &body, payload);
        let mut stream = TcpStream::connect(s.s3).unwrap();
        write!(
            stream,
            "PUT {target} HTTP/1.1\r\nContent-Length: {}\r\n{lines}\r\n",
            body.len()
        )
        .unwrap();
        // 20 MiB of the 50: far more than the connection buffers, so the
        // body is on its way to a temp file when the connection goes.
        stream.write_all(&body[..20 << 20]).unwrap();
        assert!(!support::temp_files(s.server.root.path()).is_empty());
        drop(stream);
        assert_eq!(s.server.settled_files_on_disk(), ["bkt/old"], "{key}");
    }
    let old = me.simple(s.s3, "GET", "/bkt/old", b"");
    assert_eq!((old.status, old.body.as_slice()), (200, &b"kept"[..]));
    assert_eq!(
        old.header("ETag"),
        Some(format!("\"{}\"", md5_hex(b"kept")).as_str())
    );
}

#[test]
fn grants_apply_per_operation_as_on_every_protocol() {
    let s = S3Server::start(
        &[
            ("owner", ALL),
            ("reader", &["read:pub/"]),
            ("writer", &["write:drop/", "read:drop/"]),
        ],
        &["read:public/"],
    );
    let (owner, reader, writer) = (&s.signers[0], &s.signers[1], &s.signers[2]);
    for bucket in ["/pub", "/drop", "/public", "/private"] {
        assert_eq!(owner.simple(s.s3, "PUT", bucket, b"").status, 200);
        owner.simple(s.s3, "PUT", &format!("{bucket}/k"), b"v");
    }
    let denied = |answer: support::http::Answer| {
        assert_eq!(
            (answer.status, code(&answer)),
            (403, "AccessDenied".into()),
            "{}",
            answer.head
        );
    };
    assert_eq!(reader.simple(s.s3, "GET", "/pub/k", b"").body, b"v");
    denied(reader.simple(s.s3, "GET", "/private/k", b""));
    denied(reader.simple(s.s3, "PUT", "/pub/k2", b"x"));
    denied(reader.simple(s.s3, "DELETE", "/pub/k", b""));
    denied(reader.simple(s.s3, "PUT", "/newbucket", b""));
    denied(owner.clone().simple(s.s3, "PUT", "/pub/.ferry-x", b""));
    let listed = reader.simple(s.s3, "GET", "/", b"");
    assert_eq!(texts(&listed.body, "Name"), ["pub"]);
    denied(reader.send(
        s.s3,
        "GET",
        ("/private", &[("list-type", "2")]),
        &[],
        b"",
        Payload::Signed,
    ));
    assert_eq!(writer.simple(s.s3, "PUT", "/drop/new", b"x").status, 200);
    denied(writer.simple(s.s3, "DELETE", "/drop/new", b""));
    denied(writer.simple(s.s3, "DELETE", "/drop", b""));
    // Unsigned: only what --anonymous grants.
    assert_eq!(s.anonymous("GET", "/public/k", b"").body, b"v");
    denied(s.anonymous("GET", "/pub/k", b""));
    denied(s.anonymous("PUT", "/public/k", b"w"));
    assert_eq!(std::fs::read(s.server.path("public/k")).unwrap(), b"v");
}

/// The keys of a listing answer.
fn keys(answer: &support::http::Answer) -> Vec<String> {
    texts(&answer.body, "Key")
}

#[test]
fn listings_page_in_key_order_with_prefixes_and_delimiters() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    for key in ["a-c", "a/b", "a/c/d", "b", "c.txt"] {
        assert_eq!(
            me.simple(s.s3, "PUT", &format!("/bkt/{key}"), b"x").status,
            200
        );
    }
    let list =
        |query: &[(&str, &str)]| me.send(s.s3, "GET", ("/bkt", query), &[], b"", Payload::Signed);
    let all = list(&[("list-type", "2")]);
    assert_eq!(
        keys(&all),
        ["a-c", "a/b", "a/c/d", "b", "c.txt"],
        "S3's byte order"
    );
    assert_eq!(texts(&all.body, "KeyCount"), ["5"]);
    assert_eq!(texts(&all.body, "IsTruncated"), ["false"]);

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut query = vec![("list-type", "2"), ("max-keys", "2")];
        if let Some(token) = &token {
            query.push(("continuation-token", token));
        }
        let page = list(&query);
        assert!(keys(&page).len() <= 2);
        seen.extend(keys(&page));
        token = texts(&page.body, "NextContinuationToken")
            .into_iter()
            .next();
        if texts(&page.body, "IsTruncated") == ["false"] {
            assert!(token.is_none());
            break;
        }
    }
    assert_eq!(seen, keys(&all));

    let delimited = list(&[("list-type", "2"), ("delimiter", "/")]);
    assert_eq!(keys(&delimited), ["a-c", "b", "c.txt"]);
    assert_eq!(texts(&delimited.body, "Prefix")[1..], ["a/"]);
    let inside = list(&[("list-type", "2"), ("delimiter", "/"), ("prefix", "a/")]);
    assert_eq!(keys(&inside), ["a/b"]);
    assert_eq!(texts(&inside.body, "Prefix")[1..], ["a/c/"]);
    let after = list(&[("list-type", "2"), ("start-after", "a/b")]);
    assert_eq!(keys(&after), ["a/c/d", "b", "c.txt"]);
    let v1 = list(&[("marker", "a/c/d"), ("max-keys", "1")]);
    assert_eq!(keys(&v1), ["b"]);
    assert_eq!(texts(&v1.body, "NextMarker"), ["b"]);
    let encoded = list(&[
        ("list-type", "2"),
        ("prefix", "c"),
        ("encoding-type", "url"),
    ]);
    assert_eq!(keys(&encoded), ["c.txt"]);
    let bad = list(&[("list-type", "2"), ("max-keys", "many")]);
    assert_eq!(code(&bad), "InvalidArgument");
}

#[test]
fn objects_are_files_for_http_and_files_are_objects_for_s3() {
    let s = owner();
    let me = &s.signers[0];
    let http = s.server.http.unwrap();
    me.simple(s.s3, "PUT", "/shared", b"");
    assert_eq!(
        me.simple(s.s3, "PUT", "/shared/from-s3.txt", b"via s3")
            .status,
        200
    );
    let auth = format!("Host: localhost\r\n{}", bearer(&s.tokens[0]));
    let got = exchange(http, "GET", "/shared/from-s3.txt", &auth, b"");
    assert_eq!((got.status, got.body.as_slice()), (200, &b"via s3"[..]));
    let put = exchange(
        http,
        "PUT",
        "/shared/deep/from-http.txt",
        &auth,
        b"via http",
    );
    assert!(put.status == 201 || put.status == 204, "{}", put.head);
    let got = me.simple(s.s3, "GET", "/shared/deep/from-http.txt", b"");
    assert_eq!((got.status, got.body.as_slice()), (200, &b"via http"[..]));
    let listed = me.send(
        s.s3,
        "GET",
        ("/shared", &[("list-type", "2")]),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!(keys(&listed), ["deep/from-http.txt", "from-s3.txt"]);
}

#[test]
fn token_add_s3_prints_a_key_pair_that_signs() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    let output = binary::ferry(dir.path())
        .args(["token", "add", "backup", "--tokens"])
        .arg(&tokens)
        .args(["--grant", "read:/", "--grant", "write:/", "--s3"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", binary::stderr(&output));
    let stdout = binary::stdout(&output);
    let value = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {stdout:?}"))
            .to_owned()
    };
    let (id, secret) = (value("AWS_ACCESS_KEY_ID"), value("AWS_SECRET_ACCESS_KEY"));
    assert!(value("FERRY_TOKEN").starts_with("ferry_"));
    assert!(id.starts_with("FERRY") && id.len() == 20, "{id}");
    assert_eq!(
        stdout.lines().count(),
        3,
        "shell assignments only: {stdout:?}"
    );
    let mode = std::fs::metadata(&tokens).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let server = support::TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::S3, "127.0.0.1:0".parse().unwrap());
        c.access.tokens = Some(tokens.clone());
    });
    let signer = Signer::new(&id, &secret);
    let answer = signer.simple(server.s3.unwrap(), "PUT", "/made-by-cli", b"");
    assert_eq!(answer.status, 200, "{}", answer.head);
}

/// What `signer` signs for `method path` with `body`, sent with `unsigned`
/// header lines its signature does not cover.
fn with_unsigned(
    s: &S3Server,
    signer: &Signer,
    (method, path): (&str, &str),
    unsigned: &str,
) -> support::http::Answer {
    let body: &[u8] = if method == "PUT" { b"mine" } else { b"" };
    let (target, lines) = signer.signed(method, (path, &[]), &[], body, Payload::Signed);
    exchange(s.s3, method, &target, &format!("{lines}{unsigned}"), body)
}

/// An `x-amz-*` field the signature does not cover is refused before
/// anything is read or stored, in a header's signature and a presigned
/// URL's alike (issue 50): an unsigned `x-amz-copy-source` would turn the
/// PUT its signer meant into a copy of what its holder may not read, an
/// unsigned `x-amz-meta-*` would be stored. `Content-Type` and
/// `Content-MD5` need not be signed (as AWS; minio-go never signs the
/// type, and a browser adds one to a presigned PUT).
#[test]
fn an_unsigned_amz_field_is_refused_and_nothing_is_stored() {
    let s = support::s3::owner();
    let me = &s.signers[0];
    let secret = me.simple(s.s3, "PUT", "/bkt/secret.txt", b"the secret");
    assert_eq!(secret.status, 200, "{}", secret.head);
    for unsigned in [
        "x-amz-copy-source: /bkt/secret.txt\r\n",
        "X-Amz-Meta-A: 1\r\n",
        "x-amz-metadata-directive: REPLACE\r\n",
    ] {
        let name = unsigned.split(':').next().unwrap().to_ascii_lowercase();
        let header = with_unsigned(&s, me, ("PUT", "/bkt/t.txt"), unsigned);
        let presigned = exchange(
            s.s3,
            "PUT",
            &me.presign("PUT", "/bkt/t.txt", 0, 60),
            &format!("Host: localhost\r\n{unsigned}"),
            b"mine",
        );
        for answer in [header, presigned] {
            assert_eq!(
                (answer.status, code(&answer)),
                (403, "AccessDenied".into()),
                "{unsigned}"
            );
            let message = texts(&answer.body, "Message").concat();
            assert!(message.contains(&name), "{message}");
            assert!(!s.server.path("bkt/t.txt").exists(), "{unsigned}");
        }
    }
    // A GET is refused alike (an unsigned field changes what it asks).
    let get = with_unsigned(
        &s,
        me,
        ("GET", "/bkt/secret.txt"),
        "x-amz-checksum-mode: ENABLED\r\n",
    );
    assert_eq!((get.status, code(&get)), (403, "AccessDenied".into()));
    // Signed, the same fields are served; x-amz-content-sha256 is the
    // payload hash itself; an unsigned type and MD5 are taken.
    let meta = me.send(
        s.s3,
        "PUT",
        ("/bkt/m.txt", &[]),
        &[("x-amz-meta-a", "1")],
        b"m",
        Payload::Signed,
    );
    assert_eq!(meta.status, 200, "{}", meta.head);
    let typed = with_unsigned(
        &s,
        me,
        ("PUT", "/bkt/typed.txt"),
        "Content-Type: text/plain\r\nContent-MD5: kYuB216R0DFUi5Y8k4ReWw==\r\n",
    );
    assert_eq!(typed.status, 200, "{}", typed.head);
    let presigned = exchange(
        s.s3,
        "PUT",
        &me.presign("PUT", "/bkt/p.txt", 0, 60),
        "Host: localhost\r\nContent-Type: text/plain\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n",
        b"mine",
    );
    assert_eq!(presigned.status, 200, "{}", presigned.head);
}

/// A credential scope must name service `s3`: a signature made for IAM,
/// EC2 or STS is refused as AWS refuses it (400, its malformed-credential
/// code), its key never looked up.
#[test]
fn a_scope_naming_another_service_is_refused() {
    let s = support::s3::owner();
    for service in ["iam", "ec2", "sts"] {
        let mut other = s.signers[0].clone();
        other.service = service;
        let header = other.simple(s.s3, "PUT", "/bkt/k", b"data");
        assert_eq!(
            (header.status, code(&header)),
            (400, "AuthorizationHeaderMalformed".into()),
            "{service}: {}",
            header.head
        );
        let url = other.presign("GET", "/bkt", 0, 60);
        let presigned = exchange(s.s3, "GET", &url, "Host: localhost\r\n", b"");
        assert_eq!(
            (presigned.status, code(&presigned)),
            (400, "AuthorizationQueryParametersError".into()),
            "{service}"
        );
    }
    assert!(!s.server.path("bkt/k").exists());
}

/// A presigned URL valid for no time has expired from the start: 403
/// `AccessDenied`, as AWS answers (ceph/s3-tests' `x_amz_expires_out_range_zero`).
#[test]
fn a_presigned_url_valid_for_no_time_has_expired() {
    let s = support::s3::owner();
    let me = &s.signers[0];
    let url = me.presign("PUT", "/bkt/k", 0, 0);
    let answer = exchange(s.s3, "PUT", &url, "Host: localhost\r\n", b"data");
    assert_eq!(
        (answer.status, code(&answer)),
        (403, "AccessDenied".into()),
        "{}",
        answer.head
    );
    assert!(texts(&answer.body, "Message").concat().contains("expired"));
    assert!(!s.server.path("bkt/k").exists());
}

/// SigV2 as S3's "Signing and authenticating REST requests" describes
/// it, written here apart from the server's code: the string to sign
/// (method, Content-MD5, Content-Type, the date or Expires, the `x-amz-*`
/// fields lower-case and sorted, the resource) and its HMAC-SHA1.
mod v2 {
    use base64::Engine as _;
    use hmac::{Hmac, KeyInit, Mac};

    /// `base64(HMAC-SHA1(secret, text))`.
    pub fn sign(secret: &str, text: &str) -> String {
        let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(text.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    /// The string to sign of `method resource` with `fields` (name,
    /// value) and date line `date`.
    pub fn text(method: &str, fields: &[(&str, &str)], date: &str, resource: &str) -> String {
        let value = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map_or("", |(_, v)| *v)
        };
        let mut amz: Vec<(String, &str)> = fields
            .iter()
            .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-amz-"))
            .map(|(n, v)| (n.to_ascii_lowercase(), *v))
            .collect();
        amz.sort();
        let amz: String = amz.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
        let (md5, kind) = (value("content-md5"), value("content-type"));
        format!("{method}\n{md5}\n{kind}\n{date}\n{amz}{resource}")
    }

    /// `now` + `skew` seconds as the S3 documentation writes dates
    /// (`Tue, 27 Mar 2007 19:36:42 +0000`).
    pub fn date(skew: i64) -> String {
        let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(skew);
        at.format(&time::format_description::well_known::Rfc2822)
            .unwrap()
    }

    /// The head lines of `method resource` signed in `Authorization` by
    /// `(id, secret)`, dated `skew` seconds from now, with `fields`.
    pub fn header(
        key: (&str, &str),
        method: &str,
        resource: &str,
        fields: &[(&str, &str)],
        skew: i64,
    ) -> String {
        let date = date(skew);
        let signature = sign(key.1, &text(method, fields, &date, resource));
        let mut lines = format!(
            "Host: localhost\r\nDate: {date}\r\nAuthorization: AWS {}:{signature}\r\n",
            key.0
        );
        for (name, value) in fields {
            lines.push_str(&format!("{name}: {value}\r\n"));
        }
        lines
    }

    /// A presigned target for `method path` valid until `expires`.
    pub fn presign(key: (&str, &str), method: &str, path: &str, expires: i64) -> String {
        let signature = sign(key.1, &text(method, &[], &expires.to_string(), path));
        let encoded = super::support::s3::encode(&signature, true);
        format!(
            "{path}?AWSAccessKeyId={}&Expires={expires}&Signature={encoded}",
            key.0
        )
    }
}

/// SigV2 in `Authorization` (issue 50): PUT with a type, metadata and an
/// MD5, GET, a sub-resource, `x-amz-date` in `Date`'s place; what it
/// signs changed, another secret, an unknown key, a stale date refused
/// with nothing stored.
#[test]
fn sigv2_signed_requests_are_served_and_checked() {
    let s = support::s3::owner();
    let key = (s.signers[0].id.as_str(), s.signers[0].secret());
    let fields = [
        ("Content-Type", "text/plain"),
        ("Content-MD5", "kYuB216R0DFUi5Y8k4ReWw=="),
        ("X-Amz-Meta-Colour", "blue"),
    ];
    let put = exchange(
        s.s3,
        "PUT",
        "/bkt/v2.txt",
        &v2::header(key, "PUT", "/bkt/v2.txt", &fields, 0),
        b"mine",
    );
    assert_eq!(put.status, 200, "{}", put.head);
    assert_eq!(std::fs::read(s.server.path("bkt/v2.txt")).unwrap(), b"mine");
    let get = exchange(
        s.s3,
        "GET",
        "/bkt/v2.txt",
        &v2::header(key, "GET", "/bkt/v2.txt", &[], 0),
        b"",
    );
    assert_eq!((get.status, get.body.as_slice()), (200, &b"mine"[..]));
    assert_eq!(get.header("x-amz-meta-colour"), Some("blue"));
    let location = v2::header(key, "GET", "/bkt?location", &[], 0);
    assert_eq!(
        exchange(s.s3, "GET", "/bkt?location", &location, b"").status,
        200
    );
    // x-amz-date (an amz field) stands for the date: Date's line is empty.
    let amz_date = v2::date(0);
    let text = v2::text("GET", &[("x-amz-date", &amz_date)], "", "/bkt/v2.txt");
    let lines = format!(
        "Host: localhost\r\nx-amz-date: {amz_date}\r\nAuthorization: AWS {}:{}\r\n",
        key.0,
        v2::sign(key.1, &text)
    );
    assert_eq!(
        exchange(s.s3, "GET", "/bkt/v2.txt", &lines, b"").status,
        200
    );

    let refused = |lines: String, target: &str| {
        let answer = exchange(s.s3, "PUT", target, &lines, b"evil");
        (answer.status, code(&answer))
    };
    let signed_type = v2::header(
        key,
        "PUT",
        "/bkt/w.txt",
        &[("Content-Type", "text/plain")],
        0,
    );
    let bad = (403, "SignatureDoesNotMatch".to_owned());
    assert_eq!(
        refused(signed_type.replace("text/plain", "text/html"), "/bkt/w.txt"),
        bad
    );
    assert_eq!(
        refused(v2::header(key, "PUT", "/bkt/w.txt", &[], 0), "/bkt/x.txt"),
        bad
    );
    let added = format!(
        "{}x-amz-meta-a: 1\r\n",
        v2::header(key, "PUT", "/bkt/w.txt", &[], 0)
    );
    assert_eq!(
        refused(added, "/bkt/w.txt"),
        bad,
        "an amz field is signed, always"
    );
    assert_eq!(
        refused(
            v2::header((key.0, "not-it"), "PUT", "/bkt/w.txt", &[], 0),
            "/bkt/w.txt"
        ),
        bad
    );
    let unknown = v2::header(("FERRYNOSUCHKEY000000", key.1), "PUT", "/bkt/w.txt", &[], 0);
    assert_eq!(
        refused(unknown, "/bkt/w.txt"),
        (403, "InvalidAccessKeyId".into())
    );
    let stale = v2::header(key, "PUT", "/bkt/w.txt", &[], -16 * 60);
    assert_eq!(
        refused(stale, "/bkt/w.txt"),
        (403, "RequestTimeTooSkewed".into())
    );
    let malformed = "Host: localhost\r\nDate: x\r\nAuthorization: AWS nocolon\r\n".to_owned();
    assert_eq!(
        refused(malformed, "/bkt/w.txt"),
        (400, "InvalidArgument".into())
    );
    for name in ["bkt/w.txt", "bkt/x.txt"] {
        assert!(!s.server.path(name).exists(), "{name}");
    }
}

/// SigV2 presigned URLs (`AWSAccessKeyId`, `Expires`, `Signature`), as
/// boto3 makes by default: GET and PUT until they expire, then 403.
#[test]
fn sigv2_presigned_urls_get_and_put_until_they_expire() {
    let s = support::s3::owner();
    let key = (s.signers[0].id.as_str(), s.signers[0].secret());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let put = v2::presign(key, "PUT", "/bkt/p.txt", now + 60);
    let answer = exchange(s.s3, "PUT", &put, "Host: localhost\r\n", b"presigned");
    assert_eq!(answer.status, 200, "{}", answer.head);
    let get = v2::presign(key, "GET", "/bkt/p.txt", now + 60);
    let answer = exchange(s.s3, "GET", &get, "Host: localhost\r\n", b"");
    assert_eq!(
        (answer.status, answer.body.as_slice()),
        (200, &b"presigned"[..])
    );
    let expired = v2::presign(key, "GET", "/bkt/p.txt", now - 1);
    let answer = exchange(s.s3, "GET", &expired, "Host: localhost\r\n", b"");
    assert_eq!((answer.status, code(&answer)), (403, "AccessDenied".into()));
    assert!(texts(&answer.body, "Message").concat().contains("expired"));
    let elsewhere = put.replace("/bkt/p.txt", "/bkt/q.txt");
    let answer = exchange(s.s3, "PUT", &elsewhere, "Host: localhost\r\n", b"x");
    assert_eq!(
        (answer.status, code(&answer)),
        (403, "SignatureDoesNotMatch".into())
    );
    assert!(!s.server.path("bkt/q.txt").exists());
}

/// A SigV2 signature that fails counts in the per-address throttle as a
/// SigV4 one does: past the free failures the address waits, and a
/// request signed right (SigV4) is refused too.
#[test]
fn sigv2_failures_are_throttled_as_sigv4_failures_are() {
    let s = support::s3::owner();
    let me = &s.signers[0];
    let wrong = (me.id.as_str(), "not-the-secret");
    let free = ferry::access::throttle::FREE_FAILURES as usize;
    let mut codes = Vec::new();
    for _ in 0..free + 4 {
        let lines = v2::header(wrong, "GET", "/bkt", &[], 0);
        let answer = exchange(s.s3, "GET", "/bkt", &lines, b"");
        codes.push(code(&answer));
        if codes.last().is_some_and(|c| c == "SlowDown") {
            break;
        }
    }
    assert!(
        codes[..free].iter().all(|c| c == "SignatureDoesNotMatch"),
        "{codes:?}"
    );
    assert_eq!(
        codes.last().map(String::as_str),
        Some("SlowDown"),
        "{codes:?}"
    );
    assert_eq!(code(&me.simple(s.s3, "GET", "/bkt", b"")), "SlowDown");
}
