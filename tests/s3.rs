//! The S3 listener over real sockets: each operation's answer and its
//! errors (the XML parsed), grants per operation, requests that are
//! unsigned, signed with a wrong secret or an unknown key, or whose body
//! is not the one signed (nothing stored), a big PUT cut mid-body
//! (nothing stored, the old object whole), and objects seen through
//! HTTP and the other way round.
#![cfg(feature = "s3")] // built with what it tests (Cargo.toml [features])

#[path = "support/binary.rs"]
mod binary;
mod support;

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
/// CreateBucket of it, as rclone does before every copy, is told it is
/// there (200) and makes nothing; a bucket it may not write in, or one
/// not there, stays 403 (it may not make one, nor learn which exist).
#[test]
fn create_bucket_of_an_existing_bucket_is_200_to_a_key_that_may_write_in_it() {
    let s = S3Server::start(
        &[
            ("scoped", &["read:bkt/", "write:bkt/"]),
            ("reader", &["read:bkt/"]),
        ],
        &[],
    );
    std::fs::create_dir(s.server.path("bkt")).unwrap();
    std::fs::create_dir(s.server.path("other")).unwrap();
    let (scoped, reader) = (&s.signers[0], &s.signers[1]);
    let made = scoped.simple(s.s3, "PUT", "/bkt", b"");
    assert_eq!(made.status, 200, "{}", made.head);
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
    // Served since (tests/s3_copy.rs): judged on a source that is not there.
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
