//! S3 listings and bucket-wide requests beyond the first slice, over real
//! sockets (the XML parsed): `<Owner>` in ListObjects (V1 always, V2 with
//! `fetch-owner=true`) named by the lister's token, any delimiter,
//! ListObjectVersions, and DeleteObjects on a bucket that is not
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

/// The keys and the common prefixes of a listing's answer.
fn keys_and_prefixes(answer: &Answer) -> (Vec<String>, Vec<String>) {
    assert_eq!(answer.status, 200, "{}", answer.head);
    // The first `<Prefix>` is the one asked for; the rest are common.
    let prefixes = texts(&answer.body, "Prefix").into_iter().skip(1).collect();
    (texts(&answer.body, "Key"), prefixes)
}

/// Any delimiter groups keys as S3 does (ceph's s3-tests'
/// `test_bucket_list_delimiter_alt` and kin): up to and including its
/// first occurrence after the prefix, each group once, in key order
/// among the keys; a folder whose name holds it is its group whole; a
/// page of groups continues after its last group (V1's `NextMarker`,
/// V2's token) without repeating it; several characters, and a newline,
/// are delimiters too.
#[test]
fn any_delimiter_groups_keys() {
    let s = owner();
    let me = &s.signers[0];
    for key in ["bar", "baz", "cab", "foo", "x_y/1", "x_y/2", "x_z", "w/q_r"] {
        let put = me.simple(s.s3, "PUT", &format!("/bkt/{key}"), b"x");
        assert_eq!(put.status, 200, "{key}: {}", put.head);
    }
    let alt = list(&s, &[("delimiter", "a")]);
    assert_eq!(texts(&alt.body, "Delimiter"), ["a"]);
    let (keys, prefixes) = keys_and_prefixes(&alt);
    assert_eq!(keys, ["foo", "w/q_r", "x_y/1", "x_y/2", "x_z"]);
    assert_eq!(prefixes, ["ba", "ca"]);
    let (keys, prefixes) = keys_and_prefixes(&list(&s, &[("delimiter", "_")]));
    assert_eq!(keys, ["bar", "baz", "cab", "foo"]);
    assert_eq!(prefixes, ["w/q_", "x_"]);
    let (keys, prefixes) = keys_and_prefixes(&list(&s, &[("delimiter", "_"), ("prefix", "x")]));
    assert!(keys.is_empty());
    assert_eq!(prefixes, ["x_"]);
    let (keys, prefixes) = keys_and_prefixes(&list(&s, &[("delimiter", "ba")]));
    assert_eq!(prefixes, ["ba"]);
    assert_eq!(keys.len(), 6);
    let (keys, prefixes) = keys_and_prefixes(&list(&s, &[("delimiter", "\n")]));
    assert_eq!((keys.len(), prefixes.len()), (8, 0));

    // Pages of one entry each: V1 by NextMarker, V2 by token.
    let mut seen = Vec::new();
    let mut marker = String::new();
    loop {
        let page = list(
            &s,
            &[("delimiter", "a"), ("max-keys", "1"), ("marker", &marker)],
        );
        let (keys, prefixes) = keys_and_prefixes(&page);
        seen.extend(keys.into_iter().chain(prefixes));
        match texts(&page.body, "NextMarker").pop() {
            Some(next) => marker = next,
            None => break,
        }
    }
    assert_eq!(seen, ["ba", "ca", "foo", "w/q_r", "x_y/1", "x_y/2", "x_z"]);
    let mut seen = Vec::new();
    let mut token = None::<String>;
    loop {
        let mut query = vec![("list-type", "2"), ("delimiter", "_"), ("max-keys", "1")];
        if let Some(token) = &token {
            query.push(("continuation-token", token));
        }
        let page = list(&s, &query);
        let (keys, prefixes) = keys_and_prefixes(&page);
        seen.extend(keys.into_iter().chain(prefixes));
        match texts(&page.body, "NextContinuationToken").pop() {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["bar", "baz", "cab", "foo", "w/q_", "x_"]);
}

/// A group shows only what the token may read: a folder it may not list
/// is no group, and a file it may not read adds none.
#[test]
fn delimiter_groups_show_only_what_the_token_may_read() {
    let s = S3Server::start(&[("alice", ALL), ("bob", &["read:bkt/x_y/"])], &[]);
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    for key in ["x_y/1", "secret_a", "hidden_dir/k"] {
        assert_eq!(
            me.simple(s.s3, "PUT", &format!("/bkt/{key}"), b"x").status,
            200
        );
    }
    let bob = &s.signers[1];
    let answer = bob.send(
        s.s3,
        "GET",
        ("/bkt", &[("delimiter", "_")]),
        &[],
        b"",
        Payload::Signed,
    );
    let (keys, prefixes) = keys_and_prefixes(&answer);
    assert!(keys.is_empty(), "{keys:?}");
    assert_eq!(prefixes, ["x_"]);
}

/// ListObjectVersions (the teardown of ceph's s3-tests, `aws s3api
/// list-object-versions`): each key its one version, `null`, the latest;
/// paged by `key-marker`, grouped by a delimiter like ListObjects.
#[test]
fn object_versions_are_each_key_once_as_null() {
    let s = owner();
    let me = &s.signers[0];
    for key in ["a", "b/c", "d"] {
        assert_eq!(
            me.simple(s.s3, "PUT", &format!("/bkt/{key}"), b"x").status,
            200
        );
    }
    let all = list(&s, &[("versions", "")]);
    assert_eq!(all.status, 200, "{}", all.head);
    let body = String::from_utf8_lossy(&all.body);
    assert!(body.contains("<ListVersionsResult"), "{body}");
    assert_eq!(texts(&all.body, "Key"), ["a", "b/c", "d"]);
    assert_eq!(texts(&all.body, "VersionId"), ["null", "null", "null"]);
    assert_eq!(texts(&all.body, "IsLatest"), ["true", "true", "true"]);
    assert_eq!(texts(&all.body, "KeyMarker"), [""]);
    let first = list(&s, &[("versions", ""), ("max-keys", "1")]);
    assert_eq!(texts(&first.body, "IsTruncated"), ["true"]);
    assert_eq!(texts(&first.body, "NextKeyMarker"), ["a"]);
    assert_eq!(texts(&first.body, "NextVersionIdMarker"), ["null"]);
    let rest = list(
        &s,
        &[
            ("versions", ""),
            ("key-marker", "a"),
            ("version-id-marker", "null"),
            ("delimiter", "/"),
        ],
    );
    let (keys, prefixes) = keys_and_prefixes(&rest);
    assert_eq!(
        (keys, prefixes),
        (vec!["d".to_owned()], vec!["b/".to_owned()])
    );
    assert_eq!(texts(&rest.body, "IsTruncated"), ["false"]);
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

/// ListBuckets by pages (`max-buckets`, `continuation-token`, as the AWS
/// SDKs page it since 2024; ceph's `test_list_buckets_paginated`): in
/// name order, a token only where more follow; a `prefix` keeps those
/// that begin so; a page size out of range is 400.
#[test]
fn buckets_are_listed_by_pages() {
    let s = S3Server::start(&[("alice", ALL)], &[]);
    let me = &s.signers[0];
    for bucket in ["ccc", "aaa", "bbb"] {
        assert_eq!(
            me.simple(s.s3, "PUT", &format!("/{bucket}"), b"").status,
            200
        );
    }
    let root =
        |query: &[(&str, &str)]| me.send(s.s3, "GET", ("/", query), &[], b"", Payload::Signed);
    let all = root(&[]);
    assert_eq!(texts(&all.body, "Name"), ["aaa", "bbb", "ccc"]);
    assert!(texts(&all.body, "ContinuationToken").is_empty());
    let mut seen = Vec::new();
    let mut token = None::<String>;
    loop {
        let mut query = vec![("max-buckets", "2")];
        if let Some(token) = &token {
            query.push(("continuation-token", token));
        }
        let page = root(&query);
        assert_eq!(page.status, 200, "{}", page.head);
        seen.extend(texts(&page.body, "Name"));
        match texts(&page.body, "ContinuationToken").pop() {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["aaa", "bbb", "ccc"]);
    let exact = root(&[("max-buckets", "3")]);
    assert!(texts(&exact.body, "ContinuationToken").is_empty());
    assert_eq!(texts(&root(&[("prefix", "bb")]).body, "Name"), ["bbb"]);
    assert_eq!(root(&[("max-buckets", "0")]).status, 400);
}

/// What a token's cut FTP upload kept of a name counts
/// against its quota until something ends it; a DeleteObjects of the name
/// by the same token (its S3 key) ends it, as FTP's `DELE` and a plain
/// DELETE do, so every protocol can free the bytes. Before, only the
/// single-name delete dropped them: the batch left the token locked out
/// of its quota until the kept upload expired (`--upload-ttl`, a day).
#[test]
fn delete_objects_frees_what_a_cut_ftp_upload_kept_of_the_name() {
    use support::ftp::{connect, cut_after, log_in};
    let s = S3Server::start_with(&[("cam", &["write:/", "read:/", "delete:/"])], &[], |c| {
        support::listen_ftp(c);
        support::tokens::set_quota(c, 0, "10M");
    });
    let used = || support::tokens::used_by(&s.server, &s.tokens[0]);
    let cams = s.server.root.path().join("cams");
    std::fs::create_dir(&cams).unwrap();
    let mut cam = connect(&s.server);
    log_in(&mut cam, "cam", &s.tokens[0]);
    cut_after(
        &mut cam,
        "STOR cams/big.bin",
        &[7u8; 1 << 20],
        (&cams, 4096),
    );
    assert!(used() >= 4096, "the cut STOR keeps what arrived");

    let body = b"<Delete><Object><Key>big.bin</Key></Object></Delete>";
    let answer = delete_objects(&s, "cams", body);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(texts(&answer.body, "Key"), ["big.bin"]);
    assert_eq!(used(), 0, "the kept bytes went with the name");
}
