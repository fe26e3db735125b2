//! S3 listings and bucket-wide requests beyond the first slice, over real
//! sockets (the XML parsed): `<Owner>` in ListObjects (V1 always, V2 with
//! `fetch-owner=true`) named by the lister's token, delimiters other than
//! `/` refused as not served, and DeleteObjects on a bucket that is not
//! there (`NoSuchBucket`, nothing deleted elsewhere) or with a body over
//! its cap (`EntityTooLarge`).
#![cfg(feature = "s3")] // built with what it tests (Cargo.toml [features])

use crate::support;

use base64::Engine as _;
use md5::{Digest as _, Md5};
use support::http::Answer;
use support::s3::{Payload, S3Server, code, texts};

const ALL: &[&str] = &["read:/", "write:/", "delete:/"];

fn owner() -> S3Server {
    let s = S3Server::start(&[("alice", ALL)], &[]);
    let made = s.signers[0].simple(s.s3, "PUT", "/bkt", b"");
    assert_eq!(made.status, 200, "{}", made.head);
    s
}

fn list(s: &S3Server, query: &[(&str, &str)]) -> Answer {
    s.signers[0].send(s.s3, "GET", ("/bkt", query), &[], b"", Payload::Signed)
}

#[test]
fn listings_name_the_owner_where_asked() {
    let s = owner();
    let me = &s.signers[0];
    for key in ["a", "b/c"] {
        assert_eq!(
            me.simple(s.s3, "PUT", &format!("/bkt/{key}"), b"x").status,
            200
        );
    }
    let v2 = list(&s, &[("list-type", "2")]);
    assert_eq!(v2.status, 200, "{}", v2.head);
    assert!(
        texts(&v2.body, "Owner").is_empty(),
        "V2 without fetch-owner"
    );
    let fetched = list(&s, &[("list-type", "2"), ("fetch-owner", "true")]);
    assert_eq!(texts(&fetched.body, "ID"), ["alice", "alice"]);
    assert_eq!(texts(&fetched.body, "DisplayName"), ["alice", "alice"]);
    let v1 = list(&s, &[]);
    assert_eq!(texts(&v1.body, "DisplayName"), ["alice", "alice"]);
    assert_eq!(texts(&v1.body, "Key"), ["a", "b/c"]);
}

/// Listing edges as S3 answers them (ceph's s3-tests): `max-keys=0` is
/// an empty page, not truncated, however many keys there are; a V1 answer
/// states its `Marker`, empty where none was given; a prefix no key can
/// have (a control character) matches nothing: 200 and an empty page,
/// the prefix echoed, not a refusal.
#[test]
fn listing_edges_are_answered_as_s3_does() {
    let s = owner();
    let me = &s.signers[0];
    for key in ["a", "b/c"] {
        let put = me.simple(s.s3, "PUT", &format!("/bkt/{key}"), b"x");
        assert_eq!(put.status, 200);
    }
    for v2 in [&[("list-type", "2")][..], &[]] {
        let zero = list(&s, &[v2, &[("max-keys", "0")]].concat());
        assert_eq!(zero.status, 200, "{}", zero.head);
        assert!(texts(&zero.body, "Key").is_empty());
        assert_eq!(texts(&zero.body, "IsTruncated"), ["false"]);
        assert_eq!(texts(&zero.body, "MaxKeys"), ["0"]);
    }
    let v1 = list(&s, &[]);
    assert_eq!(texts(&v1.body, "Marker"), [""]);
    let marked = list(&s, &[("marker", "a")]);
    assert_eq!(texts(&marked.body, "Marker"), ["a"]);
    assert_eq!(texts(&marked.body, "Key"), ["b/c"]);
    assert!(texts(&list(&s, &[("list-type", "2")]).body, "Marker").is_empty());
    for query in [
        &[("prefix", "\n")][..],
        &[("prefix", "b//"), ("list-type", "2")],
    ] {
        let none = list(&s, query);
        assert_eq!(none.status, 200, "{}", none.head);
        assert!(texts(&none.body, "Key").is_empty());
        assert_eq!(texts(&none.body, "IsTruncated"), ["false"]);
        assert_eq!(texts(&none.body, "Prefix"), [query[0].1]);
    }
    // Of a bucket that is not there, still NoSuchBucket.
    let missing = me.send(
        s.s3,
        "GET",
        ("/none", &[("prefix", "\n")]),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!(
        (missing.status, code(&missing)),
        (404, "NoSuchBucket".into())
    );
}

#[test]
fn delimiters_other_than_slash_are_not_served() {
    let s = owner();
    let answer = list(&s, &[("list-type", "2"), ("delimiter", "-")]);
    assert_eq!(
        (answer.status, code(&answer)),
        (501, "NotImplemented".into())
    );
}

/// A DeleteObjects of `keys` in `bucket`, its body's MD5 stated.
fn delete_objects(s: &S3Server, bucket: &str, body: &[u8]) -> Answer {
    let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(body));
    let path = format!("/{bucket}");
    s.signers[0].send(
        s.s3,
        "POST",
        (&path, &[("delete", "")]),
        &[("Content-MD5", &md5)],
        body,
        Payload::Signed,
    )
}

#[test]
fn delete_objects_needs_its_bucket_and_a_body_within_the_cap() {
    let s = owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/k", b"x").status, 200);
    let body = b"<Delete><Object><Key>k</Key></Object></Delete>";
    let missing = delete_objects(&s, "nobucket", body);
    assert_eq!(
        (missing.status, code(&missing)),
        (404, "NoSuchBucket".into())
    );
    assert!(s.server.path("bkt/k").exists());

    let long_key = "k".repeat(1000);
    let mut big = String::from("<Delete>");
    for _ in 0..70 {
        big.push_str(&format!("<Object><Key>{long_key}</Key></Object>"));
    }
    big.push_str("</Delete>");
    let over = delete_objects(&s, "bkt", big.as_bytes());
    assert_eq!((over.status, code(&over)), (413, "EntityTooLarge".into()));

    let done = delete_objects(&s, "bkt", body);
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(texts(&done.body, "Key"), ["k"]);
    assert!(!s.server.path("bkt/k").exists());
}
