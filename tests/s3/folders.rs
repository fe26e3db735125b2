//! S3's folder markers (a key ending in `/`) and listings of wide
//! folders, over real sockets (the XML parsed), then with boto3
//! (`tests/clients/s3_boto3_folders.py`) and rclone: `PUT dir/` with an
//! empty body makes the folder and those above it, a body is refused with
//! nothing stored, HEAD and GET answer an empty object where a folder is,
//! DELETE removes an empty folder and leaves one that holds keys, and a
//! listing shows an empty folder as its key `dir/` (docs/s3.md, "Folder
//! markers"). A wide folder pages through in key order.
#![cfg(feature = "s3")] // built with what it tests (Cargo.toml [features])

use crate::support;

use support::http::Answer;
use support::s3::{ALL, Payload, S3Server, Streaming, code, owner, texts};
use support::tools::{check, have};

const EMPTY_ETAG: &str = "\"d41d8cd98f00b204e9800998ecf8427e\"";

fn send(s: &S3Server, method: &str, path: &str, body: &[u8]) -> Answer {
    s.signers[0].simple(s.s3, method, path, body)
}

/// The keys and common prefixes of ListObjectsV2 of the bucket.
fn list(s: &S3Server, query: &[(&str, &str)]) -> (Vec<String>, Vec<String>) {
    let mut query = query.to_vec();
    query.push(("list-type", "2"));
    let answer = s.signers[0].send(s.s3, "GET", ("/bkt", &query), &[], b"", Payload::Signed);
    assert_eq!(answer.status, 200, "{}", answer.head);
    // The first `Prefix` is the request's, echoed.
    let prefixes = texts(&answer.body, "Prefix").split_off(1);
    (texts(&answer.body, "Key"), prefixes)
}

#[test]
fn a_folder_marker_makes_the_folder_and_lists_while_it_is_empty() {
    let s = owner();
    let bkt = s.server.root.path().join("bkt");
    let made = send(&s, "PUT", "/bkt/a/b/", b"");
    assert_eq!(made.status, 200, "{}", made.head);
    assert_eq!(made.header("ETag"), Some(EMPTY_ETAG));
    assert!(bkt.join("a/b").is_dir());
    // Again: it is there, which is what was asked.
    assert_eq!(send(&s, "PUT", "/bkt/a/b/", b"").status, 200);

    // HEAD and GET: an empty object where a folder is; none elsewhere.
    for method in ["HEAD", "GET"] {
        let seen = send(&s, method, "/bkt/a/b/", b"");
        assert_eq!(seen.status, 200, "{method}: {}", seen.head);
        assert_eq!(seen.header("ETag"), Some(EMPTY_ETAG));
        assert_eq!(seen.header("Content-Length"), Some("0"));
        assert!(seen.body.is_empty());
        assert_eq!(send(&s, method, "/bkt/none/", b"").status, 404);
    }

    // An empty folder lists as its key; under a delimiter, as a prefix.
    assert_eq!(list(&s, &[]), (vec!["a/b/".to_owned()], vec![]));
    let (keys, prefixes) = list(&s, &[("delimiter", "/")]);
    assert_eq!((keys, prefixes), (vec![], vec!["a/".to_owned()]));
    // The prefix naming it lists it too, first, as S3 lists a marker
    // whose key is the prefix, with a delimiter or without.
    let marker = (vec!["a/b/".to_owned()], vec![]);
    assert_eq!(list(&s, &[("prefix", "a/b/")]), marker);
    assert_eq!(list(&s, &[("prefix", "a/b/"), ("delimiter", "/")]), marker);
    assert_eq!(
        list(&s, &[("prefix", "a/b/"), ("start-after", "a/b/")]).0,
        [""; 0]
    );
    // One that holds keys lists them only.
    assert_eq!(send(&s, "PUT", "/bkt/a/b/f", b"x").status, 200);
    assert_eq!(list(&s, &[]).0, ["a/b/f"]);
    assert_eq!(list(&s, &[("prefix", "a/b/")]).0, ["a/b/f"]);
    // Its marker's DELETE leaves the folder and its keys, as in S3.
    assert_eq!(send(&s, "DELETE", "/bkt/a/b/", b"").status, 204);
    assert_eq!(send(&s, "GET", "/bkt/a/b/f", b"").body, b"x");
    // An empty one goes (and a missing one is deleted all the same).
    assert_eq!(send(&s, "PUT", "/bkt/e/", b"").status, 200);
    assert_eq!(send(&s, "DELETE", "/bkt/e/", b"").status, 204);
    assert!(!bkt.join("e").exists());
    assert_eq!(send(&s, "DELETE", "/bkt/e/", b"").status, 204);
}

#[test]
fn a_folder_marker_with_bytes_on_a_file_or_in_no_bucket_is_refused() {
    let s = owner();
    let bkt = s.server.root.path().join("bkt");
    let refused = send(&s, "PUT", "/bkt/x/", b"hello");
    assert_eq!(
        (refused.status, code(&refused)),
        (400, "XFerryInvalidKey".into())
    );
    assert!(!bkt.join("x").exists(), "nothing stored");
    assert_eq!(send(&s, "PUT", "/bkt/f", b"x").status, 200);
    let refused = send(&s, "PUT", "/bkt/f/", b"");
    assert_eq!(
        (refused.status, code(&refused)),
        (409, "XFerryKeyConflict".into())
    );
    assert_eq!(send(&s, "GET", "/bkt/f", b"").body, b"x");
    assert_eq!(send(&s, "HEAD", "/bkt/f/", b"").status, 404);
    let refused = send(&s, "PUT", "/bkt/a//", b"");
    assert_eq!(
        (refused.status, code(&refused)),
        (400, "XFerryInvalidKey".into())
    );
    // Only CreateBucket makes a bucket: a marker in none is NoSuchBucket.
    let refused = send(&s, "PUT", "/nobucket/dir/", b"");
    assert_eq!(
        (refused.status, code(&refused)),
        (404, "NoSuchBucket".into())
    );
    assert!(!s.server.root.path().join("nobucket").exists());
}

/// boto3 and the AWS CLI code an empty body as aws-chunked too (over
/// HTTPS, with a CRC trailer): one that decodes to nothing makes the
/// folder; one with bytes, or whose trailer's checksum is not the empty
/// body's, is refused with nothing made.
#[test]
fn a_folder_marker_with_an_empty_aws_chunked_body_makes_the_folder() {
    let s = owner();
    let bkt = s.server.root.path().join("bkt");
    let signer = &s.signers[0];
    let put = |path: &str, data: &[u8], mode, checksum| {
        signer.put_streaming(s.s3, path, (data, 64), mode, checksum, |_| {})
    };
    let crc = ("x-amz-checksum-crc32", "AAAAAA==");
    let made = put("/bkt/coded/", b"", Streaming::UnsignedTrailer, Some(crc));
    assert_eq!(made.status, 200, "{}", made.head);
    assert_eq!(made.header("ETag"), Some(EMPTY_ETAG));
    assert!(bkt.join("coded").is_dir());
    let made = put("/bkt/bare/", b"", Streaming::UnsignedTrailer, None);
    assert_eq!(made.status, 200, "{}", made.head);
    assert!(bkt.join("bare").is_dir());

    let wrong = ("x-amz-checksum-crc32", "AAAAAQ==");
    let refused = put("/bkt/w/", b"", Streaming::UnsignedTrailer, Some(wrong));
    assert_eq!((refused.status, code(&refused)), (400, "BadDigest".into()));
    let refused = put("/bkt/x/", b"bytes", Streaming::UnsignedTrailer, Some(crc));
    assert_eq!(
        (refused.status, code(&refused)),
        (400, "XFerryInvalidKey".into())
    );
    // Signed chunks chain from a key access control sets only after the
    // request is read: not taken on a marker.
    let refused = put("/bkt/s/", b"", Streaming::Signed, None);
    assert_eq!(
        (refused.status, code(&refused)),
        (501, "NotImplemented".into())
    );
    for dir in ["w", "x", "s"] {
        assert!(!bkt.join(dir).exists(), "{dir}: nothing made");
    }
    // The connection went on past each body: the next request is served.
    assert_eq!(send(&s, "HEAD", "/bkt/coded/", b"").status, 200);
}

#[test]
fn pages_of_a_wide_folder_and_of_empty_folders_come_in_key_order() {
    let s = owner();
    let wide = s.server.root.path().join("bkt/wide");
    std::fs::create_dir_all(&wide).unwrap();
    for n in 0..2500 {
        std::fs::write(wide.join(format!("k{n:04}")), b"x").unwrap();
    }
    for dir in ["m1", "m2", "wide/k1000x"] {
        assert_eq!(send(&s, "PUT", &format!("/bkt/{dir}/"), b"").status, 200);
    }
    let mut keys = Vec::new();
    let mut after = String::new();
    loop {
        let mut query = vec![("max-keys", "700")];
        if !after.is_empty() {
            query.push(("start-after", after.as_str()));
        }
        let (page, _) = list(&s, &query);
        let Some(last) = page.last() else { break };
        after = last.clone();
        keys.extend(page);
    }
    let mut expected: Vec<String> = vec!["m1/".into(), "m2/".into()];
    expected.extend((0..2500).map(|n| format!("wide/k{n:04}")));
    expected.push("wide/k1000x/".into());
    expected.sort();
    assert_eq!(keys, expected);
}

#[test]
fn boto3_makes_lists_and_deletes_folder_markers() {
    if !have("python3", &["-c", "import boto3"], "pip install boto3") {
        return;
    }
    let s = owner();
    let output = s.boto3("s3_boto3_folders.py", "http").output().unwrap();
    assert_eq!(check(&output, "boto3"), "ok\n");
}

/// Over HTTPS boto3 sends every body, a marker's empty one too, as
/// aws-chunked with a CRC trailer.
#[test]
fn boto3_over_https_makes_folder_markers_with_aws_chunked_bodies() {
    if !have("python3", &["-c", "import boto3"], "pip install boto3") {
        return;
    }
    let s = S3Server::start_tls(&[("owner", ALL)]);
    // A bucket is a folder (the plain requests here speak no TLS).
    std::fs::create_dir(s.server.root.path().join("bkt")).unwrap();
    let mut command = s.boto3("s3_boto3_folders.py", "https");
    let output = command.arg(s.ca()).output().unwrap();
    assert_eq!(check(&output, "boto3"), "ok\n");
}

#[test]
fn rclone_sees_an_empty_folder_and_copies_around_it() {
    if !have("rclone", &["version"], "apt-get install rclone") {
        return;
    }
    let s = owner();
    assert_eq!(send(&s, "PUT", "/bkt/empty/", b"").status, 200);
    assert_eq!(send(&s, "PUT", "/bkt/full/f", b"abc").status, 200);
    // rclone 1.60 makes no marker for `mkdir` below a bucket (S3 has no
    // folders): the command succeeds and nothing is made.
    check(&s.rclone(&["mkdir", "x:bkt/made"]), "rclone mkdir");
    let lsf = |args: &[&str]| {
        let listed = check(&s.rclone(args), "rclone lsf");
        let mut lines: Vec<String> = listed.lines().map(str::to_owned).collect();
        lines.sort_unstable();
        lines
    };
    // One level (a delimiter): the empty folder is a directory.
    assert_eq!(lsf(&["lsf", "x:bkt"]), ["empty/", "full/"]);
    // Recursive (no delimiter): rclone passes over the marker key
    // `empty/`, as it does on S3.
    assert_eq!(lsf(&["lsf", "-R", "x:bkt"]), ["full/", "full/f"]);
    // Inside it: its own marker (listed by `prefix=empty/`) is no entry.
    assert_eq!(lsf(&["lsf", "x:bkt/empty"]), [""; 0]);
    // The marker is not a file to copy: only the folder's keys come.
    let local = tempfile::tempdir().unwrap();
    let to = local.path().to_str().unwrap();
    check(&s.rclone(&["copy", "x:bkt", to]), "rclone copy");
    assert_eq!(std::fs::read(local.path().join("full/f")).unwrap(), b"abc");
    assert!(!local.path().join("empty").is_file());
}
