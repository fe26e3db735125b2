//! S3's virtual-host style (`--s3-domain`, docs/s3.md "Virtual-host
//! style") over real sockets: with the domain `s3.localhost`, a request
//! whose `Host` is `<bucket>.s3.localhost[:port]` is on that bucket and
//! its path is the key; `Host` the domain alone, or any other name, is
//! path style as before. Signatures are checked as sent (the `Host` and
//! path signed). Then boto3 and the AWS CLI, unmodified, in virtual-host
//! style (`tests/clients/s3_virtual_host.py`).
#![cfg(feature = "s3")] // built with what it tests (Cargo.toml [features])

use crate::support;

use support::http::Answer;
use support::s3::{Payload, S3Server, code, texts};
use support::tools::{check, have};

const ALL: &[&str] = &["read:/", "write:/", "delete:/"];
const DOMAIN: &str = "s3.localhost";

fn server() -> S3Server {
    S3Server::start_with(&[("owner", ALL)], &[], |c| {
        c.web.s3_domain = Some(DOMAIN.into());
    })
}

/// A request signed by the owner, sent with `Host: host`.
fn on(s: &S3Server, host: &str, method: &str, path: &str, body: &[u8]) -> Answer {
    let query: Vec<(&str, &str)> = Vec::new();
    on_query(s, host, method, (path, &query), body)
}

fn on_query(
    s: &S3Server,
    host: &str,
    method: &str,
    (path, query): (&str, &[(&str, &str)]),
    body: &[u8],
) -> Answer {
    let extra = [("host", host)];
    s.signers[0].send(s.s3, method, (path, query), &extra, body, Payload::Signed)
}

#[test]
fn the_bucket_comes_from_the_host_and_the_path_is_the_key() {
    let s = server();
    let host = format!("bkt.{DOMAIN}:{}", s.s3.port());
    // CreateBucket: `PUT /` on the bucket's host (its body in hand).
    let made = on(&s, &host, "PUT", "/", b"<CreateBucketConfiguration/>");
    assert_eq!(made.status, 200, "{}", made.head);
    assert!(s.server.path("bkt").is_dir());
    let put = on(&s, &host, "PUT", "/dir/a%20b.txt", b"hello");
    assert_eq!(put.status, 200, "{}", put.head);
    assert_eq!(
        std::fs::read(s.server.path("bkt/dir/a b.txt")).unwrap(),
        b"hello"
    );
    let got = on(&s, &host, "GET", "/dir/a%20b.txt", b"");
    assert_eq!((got.status, got.body.as_slice()), (200, &b"hello"[..]));
    // Any case, no port: the same bucket.
    let got = on(&s, "BKT.S3.Localhost", "HEAD", "/dir/a%20b.txt", b"");
    assert_eq!(got.status, 200, "{}", got.head);
    let listed = on_query(&s, &host, "GET", ("/", &[("list-type", "2")]), b"");
    assert_eq!(listed.status, 200, "{}", listed.head);
    assert_eq!(texts(&listed.body, "Key"), ["dir/a b.txt"]);
    assert_eq!(texts(&listed.body, "Name"), ["bkt"]);
    // A bucket with dots in its name.
    let dotted = format!("my.bkt.{DOMAIN}");
    assert_eq!(on(&s, &dotted, "PUT", "/", b"").status, 200);
    assert!(s.server.path("my.bkt").is_dir());
    // DeleteObjects: `POST /?delete` (its body in hand), on the host.
    let delete = b"<Delete><Object><Key>dir/a b.txt</Key></Object></Delete>";
    let md5 = {
        use base64::Engine as _;
        use md5::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(delete))
    };
    let query = [("delete", "")];
    let extra = [("host", host.as_str()), ("content-md5", md5.as_str())];
    let deleted = s.signers[0].send(s.s3, "POST", ("/", &query), &extra, delete, Payload::Signed);
    assert_eq!(deleted.status, 200, "{}", deleted.head);
    assert!(!s.server.path("bkt/dir/a b.txt").exists());
}

#[test]
fn the_domain_alone_or_another_host_is_path_style() {
    let s = server();
    // ListBuckets: `GET /` on the domain itself.
    assert_eq!(on(&s, "localhost", "PUT", "/one", b"").status, 200);
    let listed = on(&s, &format!("{DOMAIN}:{}", s.s3.port()), "GET", "/", b"");
    assert_eq!(listed.status, 200, "{}", listed.head);
    assert_eq!(texts(&listed.body, "Name"), ["one"]);
    // Path style on the domain, and on a name outside it.
    for host in [
        DOMAIN,
        "127.0.0.1",
        "files.example",
        "bkt.s3.localhost.example",
    ] {
        let put = on(&s, host, "PUT", "/one/k", host.as_bytes());
        assert_eq!(put.status, 200, "{host}: {}", put.head);
        assert_eq!(
            std::fs::read(s.server.path("one/k")).unwrap(),
            host.as_bytes()
        );
    }
    // A bucket's name is checked wherever it comes from.
    let bad = on(&s, &format!(".ferry-x.{DOMAIN}"), "GET", "/", b"");
    assert!(bad.status >= 400, "{}", bad.head);
}

#[test]
fn a_signature_made_for_another_host_does_not_verify() {
    let s = server();
    let host = format!("bkt.{DOMAIN}");
    assert_eq!(on(&s, &host, "PUT", "/", b"").status, 200);
    // Signed for bkt.s3.localhost, sent to other.s3.localhost: the Host is
    // part of what is signed, so the bucket cannot be swapped.
    let (target, lines) = s.signers[0].signed(
        "PUT",
        ("/k", &[]),
        &[("host", &host)],
        b"x",
        Payload::Signed,
    );
    let lines = lines.replace(&format!("host: {host}"), &format!("host: other.{DOMAIN}"));
    let answer = support::http::exchange(s.s3, "PUT", &target, &lines, b"x");
    assert_eq!(
        (answer.status, code(&answer)),
        (403, "SignatureDoesNotMatch".to_owned())
    );
    assert!(!s.server.path("other").exists() && !s.server.path("bkt/k").exists());
}

#[test]
fn boto3_and_the_aws_cli_work_in_virtual_host_style() {
    if !have(
        "python3",
        &["-c", "import boto3, awscli"],
        "pip install boto3 awscli",
    ) {
        return;
    }
    let s = server();
    let output = s.boto3("s3_virtual_host.py", "http").output().unwrap();
    let out = check(&output, "s3_virtual_host.py");
    assert!(out.ends_with("ok\n"), "{out}");
    assert_eq!(
        std::fs::read(s.server.path("vbkt/cli.txt")).unwrap(),
        b"from the cli\n"
    );
}
