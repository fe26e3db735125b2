//! S3's signed streams over real sockets: `aws-chunked` bodies (each
//! chunk's signature chained and checked, trailers with a checksum,
//! signed or not), additional checksums (`x-amz-checksum-*`) in the head
//! or the trailer, and presigned URLs. A body refused stores nothing.
#![cfg(feature = "s3")] // built with what it tests (Cargo.toml [features])

use crate::support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};
use support::http::exchange;
use support::s3::{Payload, S3Server, Streaming, code};

const ALL: &[&str] = &["read:/", "write:/", "delete:/"];

/// A server with bucket `bkt` and the signer of its owner.
fn bucket() -> S3Server {
    let s = S3Server::start(&[("owner", ALL)], &[]);
    assert_eq!(s.signers[0].simple(s.s3, "PUT", "/bkt", b"").status, 200);
    s
}

/// Bytes that are not all alike: a shifted chunk would show.
fn data(len: usize) -> Vec<u8> {
    (0..len).map(|n| (n % 251) as u8).collect()
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// What bucket `bkt` holds: nothing was stored, temp files included.
fn stored(s: &S3Server) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(s.server.path("bkt"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn signed_chunks_are_checked_and_only_the_payload_is_stored() {
    let s = bucket();
    let me = &s.signers[0];
    let body = data(200_000);
    for (chunk, name) in [(65_536, "big"), (8192, "small"), (1, "bytes")] {
        let body = &body[..if chunk == 1 { 300 } else { body.len() }];
        let path = format!("/bkt/{name}");
        let put = me.put_streaming(s.s3, &path, (body, chunk), Streaming::Signed, None, |_| {});
        assert_eq!(put.status, 200, "{chunk}: {}", put.head);
        let md5: String = md5::Md5::digest(body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(put.header("ETag"), Some(format!("\"{md5}\"").as_str()));
        assert_eq!(
            std::fs::read(s.server.path(&format!("bkt/{name}"))).unwrap(),
            body
        );
    }
}

/// A change made to a body after it was signed.
type Alteration = Box<dyn FnOnce(&mut Vec<u8>)>;

#[test]
fn an_altered_or_unsigned_chunk_stops_the_upload_and_stores_nothing() {
    let s = bucket();
    let me = &s.signers[0];
    let body = data(150_000);
    let alterations: [(&str, Alteration); 4] = [
        // A byte of the second chunk's data.
        ("data", Box::new(|b: &mut Vec<u8>| b[70_000] ^= 1)),
        // The first chunk's signature.
        (
            "signature",
            Box::new(|b: &mut Vec<u8>| {
                let at = b.iter().position(|&c| c == b'=').unwrap() + 1;
                b[at] = if b[at] == b'0' { b'1' } else { b'0' };
            }),
        ),
        // The first chunk's signature left out (its length kept).
        (
            "missing",
            Box::new(|b: &mut Vec<u8>| {
                let at = b.iter().position(|&c| c == b';').unwrap();
                b[at..at + 17].copy_from_slice(b";chunk-signaturX=");
            }),
        ),
        // Two chunks swapped in place: same bytes, another order.
        (
            "order",
            Box::new(|b: &mut Vec<u8>| {
                let header = b.iter().position(|&c| c == b'\n').unwrap() + 1;
                let (first, second) = (header, header + 65_536 + 2 + header);
                let one = b[first..first + 100].to_vec();
                let two = b[second..second + 100].to_vec();
                b[first..first + 100].copy_from_slice(&two);
                b[second..second + 100].copy_from_slice(&one);
            }),
        ),
    ];
    for (what, alter) in alterations {
        let put = me.put_streaming(
            s.s3,
            "/bkt/k",
            (&body, 65_536),
            Streaming::Signed,
            None,
            alter,
        );
        assert_eq!(
            (put.status, code(&put)),
            (403, "SignatureDoesNotMatch".into()),
            "{what}"
        );
        assert!(stored(&s).is_empty(), "{what}: {:?}", stored(&s));
    }
}

/// A chunk whose signature does not chain is a failed authentication,
/// as a bad header signature is: a guesser cannot try signatures chunk by
/// chunk for free. Past the free failures the address must wait (the
/// spacing doubles with each failure, so however slow this machine, an
/// attempt soon comes too early), and then a request signed right is
/// refused too, its signature unread.
#[test]
fn altered_chunk_signatures_count_against_the_address() {
    let s = bucket();
    let me = &s.signers[0];
    let body = data(10_000);
    let alter = |b: &mut Vec<u8>| {
        let at = b.iter().position(|&c| c == b'=').unwrap() + 1;
        b[at] = if b[at] == b'0' { b'1' } else { b'0' };
    };
    let free = ferry::access::throttle::FREE_FAILURES as usize;
    let mut refused = Vec::new();
    for _ in 0..free + 4 {
        let put = me.put_streaming(
            s.s3,
            "/bkt/k",
            (&body, 4096),
            Streaming::Signed,
            None,
            alter,
        );
        refused.push((put.status, code(&put)));
        if code(&put) == "SlowDown" {
            break;
        }
    }
    let bad = (403, "SignatureDoesNotMatch".to_owned());
    assert!(refused[..free].iter().all(|r| *r == bad), "{refused:?}");
    assert_eq!(
        refused.last().map(|r| r.1.as_str()),
        Some("SlowDown"),
        "{refused:?}"
    );
    let right = me.simple(s.s3, "PUT", "/bkt/k", b"fine");
    assert_eq!(code(&right), "SlowDown", "{}", right.head);
    assert!(stored(&s).is_empty(), "{:?}", stored(&s));
}

#[test]
fn trailers_carry_a_checksum_signed_or_not() {
    let s = bucket();
    let me = &s.signers[0];
    let body = data(100_000);
    let crc32 = b64(&crc32fast::hash(&body).to_be_bytes());
    let crc32c = b64(&crc32c::crc32c(&body).to_be_bytes());
    let sha256 = b64(&Sha256::digest(&body));
    for (mode, field, value) in [
        (Streaming::SignedTrailer, "x-amz-checksum-crc32", &crc32),
        (Streaming::UnsignedTrailer, "x-amz-checksum-crc32c", &crc32c),
        (Streaming::UnsignedTrailer, "x-amz-checksum-sha256", &sha256),
    ] {
        let trailer = Some((field, value.as_str()));
        let put = me.put_streaming(s.s3, "/bkt/t", (&body, 16_384), mode, trailer, |_| {});
        assert_eq!(put.status, 200, "{field}: {}", put.head);
        assert_eq!(put.header(field), Some(value.as_str()), "{field}");
        assert_eq!(std::fs::read(s.server.path("bkt/t")).unwrap(), body);
    }
    std::fs::remove_file(s.server.path("bkt/t")).unwrap();
    // A checksum that is not the body's: BadDigest.
    let wrong = b64(&(crc32fast::hash(&body) ^ 1).to_be_bytes());
    let trailer = Some(("x-amz-checksum-crc32", wrong.as_str()));
    let put = me.put_streaming(
        s.s3,
        "/bkt/t",
        (&body, 16_384),
        Streaming::UnsignedTrailer,
        trailer,
        |_| {},
    );
    assert_eq!((put.status, code(&put)), (400, "BadDigest".into()));
    // A signed trailer changed after signing: its signature fails.
    let trailer = Some(("x-amz-checksum-crc32", crc32.as_str()));
    let put = me.put_streaming(
        s.s3,
        "/bkt/t",
        (&body, 16_384),
        Streaming::SignedTrailer,
        trailer,
        |b| {
            let at = b.len() - 100;
            let colon = at + b[at..].iter().position(|&c| c == b':').unwrap();
            b[colon - 1] = b'X';
        },
    );
    assert_eq!(
        (put.status, code(&put)),
        (403, "SignatureDoesNotMatch".into())
    );
    assert!(stored(&s).is_empty(), "{:?}", stored(&s));
}

#[test]
fn a_payload_not_as_long_as_declared_is_an_incomplete_body() {
    let s = bucket();
    let me = &s.signers[0];
    let body = data(1000);
    // The last chunk's data cut by 10 bytes, the framing kept whole.
    let put = me.put_streaming(s.s3, "/bkt/k", (&body, 600), Streaming::Signed, None, |b| {
        let at = b.windows(6).position(|w| w == b"\r\n190;").unwrap() + 2;
        b.splice(at..at + 3, b"186".iter().copied());
        let data_at = b[at..].iter().position(|&c| c == b'\n').unwrap() + at + 1;
        b.drain(data_at..data_at + 10);
    });
    assert_eq!(put.status / 100, 4, "{}", put.head);
    assert!(
        ["IncompleteBody", "SignatureDoesNotMatch"].contains(&code(&put).as_str()),
        "{}",
        code(&put)
    );
    // A declared length that is not the body's.
    let head = me.send(
        s.s3,
        "PUT",
        ("/bkt/k", &[]),
        &[("x-amz-decoded-content-length", "5")],
        b"3\r\nabc\r\n0\r\n\r\n",
        Payload::Stated("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
    );
    assert_eq!((head.status, code(&head)), (400, "IncompleteBody".into()));
    let missing = me.send(
        s.s3,
        "PUT",
        ("/bkt/k", &[]),
        &[],
        b"3\r\nabc\r\n0\r\n\r\n",
        Payload::Stated("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
    );
    assert_eq!(
        (missing.status, code(&missing)),
        (411, "MissingContentLength".into())
    );
    assert!(stored(&s).is_empty(), "{:?}", stored(&s));
}

#[test]
fn checksums_in_the_head_are_verified_and_answered() {
    let s = bucket();
    let me = &s.signers[0];
    let body = b"hello checksums".to_vec();
    let sha256 = b64(&Sha256::digest(&body));
    let crc32c = b64(&crc32c::crc32c(&body).to_be_bytes());
    for (field, value) in [
        ("x-amz-checksum-sha256", &sha256),
        ("x-amz-checksum-crc32c", &crc32c),
    ] {
        let put = me.send(
            s.s3,
            "PUT",
            ("/bkt/h", &[]),
            &[(field, value)],
            &body,
            Payload::Signed,
        );
        assert_eq!(put.status, 200, "{}", put.head);
        assert_eq!(put.header(field), Some(value.as_str()));
    }
    std::fs::remove_file(s.server.path("bkt/h")).unwrap();
    let wrong = me.send(
        s.s3,
        "PUT",
        ("/bkt/h", &[]),
        &[("x-amz-checksum-crc32", "AAAAAA==")],
        &body,
        Payload::Signed,
    );
    assert_eq!((wrong.status, code(&wrong)), (400, "BadDigest".into()));
    let nvme = me.send(
        s.s3,
        "PUT",
        ("/bkt/h", &[]),
        &[("x-amz-checksum-crc64nvme", "AAAAAAAAAAA=")],
        &body,
        Payload::Signed,
    );
    // CRC-64/NVME is checked as the others are.
    assert_eq!((nvme.status, code(&nvme)), (400, "BadDigest".into()));
    assert!(stored(&s).is_empty(), "{:?}", stored(&s));
}

#[test]
fn presigned_urls_get_and_put_until_they_expire() {
    let s = bucket();
    let me = &s.signers[0];
    let put = me.presign("PUT", "/bkt/p.txt", 0, 60);
    let answer = exchange(s.s3, "PUT", &put, "Host: localhost\r\n", b"presigned");
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(
        std::fs::read(s.server.path("bkt/p.txt")).unwrap(),
        b"presigned"
    );
    let get = me.presign("GET", "/bkt/p.txt", 0, 60);
    let answer = exchange(s.s3, "GET", &get, "Host: localhost\r\n", b"");
    assert_eq!(
        (answer.status, answer.body.as_slice()),
        (200, &b"presigned"[..])
    );
    // Signed two hours ago for an hour; another key's URL; another method.
    let expired = me.presign("GET", "/bkt/p.txt", 7200, 3600);
    let answer = exchange(s.s3, "GET", &expired, "Host: localhost\r\n", b"");
    assert_eq!((answer.status, code(&answer)), (403, "AccessDenied".into()));
    assert!(String::from_utf8_lossy(&answer.body).contains("Request has expired"));
    let answer = exchange(s.s3, "DELETE", &get, "Host: localhost\r\n", b"");
    assert_eq!(
        (answer.status, code(&answer)),
        (403, "SignatureDoesNotMatch".into())
    );
    let week = me.presign("GET", "/bkt/p.txt", 0, 7 * 86_400 + 1);
    let answer = exchange(s.s3, "GET", &week, "Host: localhost\r\n", b"");
    assert_eq!(
        (answer.status, code(&answer)),
        (400, "AuthorizationQueryParametersError".into())
    );
    assert!(s.server.path("bkt/p.txt").exists());
}
