//! A multipart upload's checksum as S3 keeps it, over real sockets: the
//! algorithm and type CreateMultipartUpload names, every part stating
//! one of it (checked, kept, listed), the completion's composite or
//! full-object checksum (checked against what it states, answered, and
//! answered again by a completion sent again), and the object's and each
//! part's answered by HEAD, GET by part number and GetObjectAttributes;
//! CRC-64/NVME for a PutObject; a GET in a bucket that is gone.
#![cfg(feature = "s3")] // built with what it tests (Cargo.toml [features])

use crate::support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};
use sha2::Sha256;
use support::http::Answer;
use support::s3::{Payload, S3Server, Signer, code, texts};

const MIB: usize = 1 << 20;

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

fn crc64(data: &[u8]) -> Vec<u8> {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, data)
        .to_be_bytes()
        .to_vec()
}

fn etag(data: &[u8]) -> String {
    let md5: [u8; 16] = Md5::digest(data).into();
    let hex: String = md5.iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn send(
    s: &S3Server,
    (method, path): (&str, &str),
    query: &[(&str, &str)],
    fields: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    s.signers[0].send(s.s3, method, (path, query), fields, body, Payload::Signed)
}

/// Bucket `bkt` and an upload of `bkt/<key>` with checksum `fields`.
fn begin(s: &S3Server, key: &str, fields: &[(&str, &str)]) -> (Answer, String) {
    let me: &Signer = &s.signers[0];
    if !s.server.path("bkt").exists() {
        assert_eq!(me.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    }
    let made = send(
        s,
        ("POST", &format!("/bkt/{key}")),
        &[("uploads", "")],
        fields,
        b"",
    );
    assert_eq!(made.status, 200, "{}", String::from_utf8_lossy(&made.body));
    let id = texts(&made.body, "UploadId").remove(0);
    (made, id)
}

fn part(
    s: &S3Server,
    (key, id, n): (&str, &str, u32),
    fields: &[(&str, &str)],
    data: &[u8],
) -> Answer {
    let n = n.to_string();
    let query = [("partNumber", n.as_str()), ("uploadId", id)];
    send(s, ("PUT", &format!("/bkt/{key}")), &query, fields, data)
}

/// A part a completion lists: its number, ETag and the checksum it states
/// (element, value).
type Listed<'a> = (u32, String, Option<(&'a str, String)>);

/// A completion's XML of `parts`.
fn completion(parts: &[Listed<'_>]) -> Vec<u8> {
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (n, etag, checksum) in parts {
        let checksum = checksum
            .as_ref()
            .map(|(element, value)| format!("<{element}>{value}</{element}>"))
            .unwrap_or_default();
        xml.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag>{checksum}</Part>"
        ));
    }
    (xml + "</CompleteMultipartUpload>").into_bytes()
}

fn complete(s: &S3Server, (key, id): (&str, &str), fields: &[(&str, &str)], body: &[u8]) -> Answer {
    send(
        s,
        ("POST", &format!("/bkt/{key}")),
        &[("uploadId", id)],
        fields,
        body,
    )
}

const MODE: (&str, &str) = ("x-amz-checksum-mode", "ENABLED");

#[test]
fn a_composite_checksum_is_the_parts_checksums_and_answered_everywhere() {
    let s = support::s3::owner();
    let fields = [("x-amz-checksum-algorithm", "SHA256")];
    let (made, id) = begin(&s, "k", &fields);
    assert_eq!(made.header("x-amz-checksum-algorithm"), Some("SHA256"));
    assert_eq!(made.header("x-amz-checksum-type"), Some("COMPOSITE"));
    let (one, two) = (support::pattern(5 * MIB, 3), b"the last part".to_vec());
    let (sum1, sum2) = (b64(&sha256(&one)), b64(&sha256(&two)));
    // A part states the upload's algorithm, or none (computed as it
    // arrives, as S3 does); another is refused.
    let none = part(&s, ("k", &id, 1), &[], &one);
    assert_eq!(none.status, 200, "{}", String::from_utf8_lossy(&none.body));
    let listed = send(&s, ("GET", "/bkt/k"), &[("uploadId", &id)], &[], b"");
    assert_eq!(texts(&listed.body, "ChecksumSHA256"), [sum1.as_str()]);
    let crc32 = b64(&crc32fast::hash(&one).to_be_bytes());
    let other = part(&s, ("k", &id, 1), &[("x-amz-checksum-crc32", &crc32)], &one);
    assert_eq!((other.status, code(&other)), (400, "InvalidRequest".into()));
    let wrong = part(&s, ("k", &id, 1), &[("x-amz-checksum-sha256", &sum2)], &one);
    assert_eq!((wrong.status, code(&wrong)), (400, "BadDigest".into()));
    let put1 = part(&s, ("k", &id, 1), &[("x-amz-checksum-sha256", &sum1)], &one);
    assert_eq!(put1.header("x-amz-checksum-sha256"), Some(sum1.as_str()));
    let put2 = part(&s, ("k", &id, 2), &[("x-amz-checksum-sha256", &sum2)], &two);
    assert_eq!(put2.status, 200);
    let listed = send(&s, ("GET", "/bkt/k"), &[("uploadId", &id)], &[], b"");
    assert_eq!(
        texts(&listed.body, "ChecksumSHA256"),
        [sum1.clone(), sum2.clone()]
    );

    let composite = format!("{}-2", b64(&sha256(&[sha256(&one), sha256(&two)].concat())));
    let body = completion(&[
        (1, etag(&one), Some(("ChecksumSHA256", sum1.clone()))),
        (2, etag(&two), None),
    ]);
    // The object's stated otherwise: nothing is made.
    let bad = complete(&s, ("k", &id), &[("x-amz-checksum-sha256", "bad")], &body);
    assert_eq!((bad.status, code(&bad)), (400, "BadDigest".into()));
    // A part's stated otherwise: no such part.
    let swapped = completion(&[(1, etag(&one), Some(("ChecksumSHA256", sum2.clone())))]);
    let invalid = complete(&s, ("k", &id), &[], &swapped);
    assert_eq!(
        (invalid.status, code(&invalid)),
        (400, "InvalidPart".into())
    );
    assert!(!s.server.path("bkt/k").exists());

    let done = complete(
        &s,
        ("k", &id),
        &[("x-amz-checksum-sha256", &composite)],
        &body,
    );
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(texts(&done.body, "ChecksumSHA256"), [composite.as_str()]);
    assert_eq!(texts(&done.body, "ChecksumType"), ["COMPOSITE"]);
    // Sent again (a lost answer): the same ETag and checksum.
    let again = complete(
        &s,
        ("k", &id),
        &[("x-amz-checksum-sha256", &composite)],
        &body,
    );
    assert_eq!(
        again.status,
        200,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    assert_eq!(texts(&again.body, "ETag"), texts(&done.body, "ETag"));
    assert_eq!(texts(&again.body, "ChecksumSHA256"), [composite.as_str()]);

    let plain = send(&s, ("HEAD", "/bkt/k"), &[], &[], b"");
    assert_eq!(plain.header("x-amz-checksum-sha256"), None);
    let head = send(&s, ("HEAD", "/bkt/k"), &[], &[MODE], b"");
    assert_eq!(
        head.header("x-amz-checksum-sha256"),
        Some(composite.as_str())
    );
    assert_eq!(head.header("x-amz-checksum-type"), Some("COMPOSITE"));
    // ferry's CRC-32C is no composite: not answered beside it.
    assert_eq!(head.header("x-amz-checksum-crc32c"), None);
    for (n, sum, data) in [("1", &sum1, &one), ("2", &sum2, &two)] {
        let got = send(&s, ("GET", "/bkt/k"), &[("partNumber", n)], &[MODE], b"");
        assert_eq!(got.status, 206);
        assert_eq!(&got.body, data);
        assert_eq!(got.header("x-amz-checksum-sha256"), Some(sum.as_str()));
        assert_eq!(got.header("x-amz-checksum-type"), Some("COMPOSITE"));
    }
    let asked = [("x-amz-object-attributes", "Checksum,ObjectParts")];
    let attributes = send(&s, ("GET", "/bkt/k"), &[("attributes", "")], &asked, b"");
    assert_eq!(
        texts(&attributes.body, "ChecksumSHA256"),
        [composite, sum1, sum2]
    );
    assert_eq!(texts(&attributes.body, "ChecksumType"), ["COMPOSITE"]);
}

#[test]
fn a_full_object_crc64nvme_is_combined_from_the_parts_crcs() {
    let s = support::s3::owner();
    let (made, id) = begin(&s, "f", &[("x-amz-checksum-algorithm", "crc64nvme")]);
    assert_eq!(made.header("x-amz-checksum-type"), Some("FULL_OBJECT"));
    let (one, two) = (support::pattern(5 * MIB, 7), support::pattern(MIB + 3, 11));
    let (sum1, sum2) = (b64(&crc64(&one)), b64(&crc64(&two)));
    let whole = b64(&crc64(&[one.clone(), two.clone()].concat()));
    let stated = [("x-amz-checksum-crc64nvme", sum1.as_str())];
    assert_eq!(part(&s, ("f", &id, 1), &stated, &one).status, 200);
    // Sent as UploadPartCopy: its checksum computed as it is copied.
    assert_eq!(
        s.signers[0].simple(s.s3, "PUT", "/bkt/src", &two).status,
        200
    );
    let copied = part(&s, ("f", &id, 2), &[("x-amz-copy-source", "/bkt/src")], b"");
    assert_eq!(
        copied.status,
        200,
        "{}",
        String::from_utf8_lossy(&copied.body)
    );
    let body = completion(&[
        (1, etag(&one), None),
        (2, etag(&two), Some(("ChecksumCRC64NVME", sum2.clone()))),
    ]);
    let bad = complete(
        &s,
        ("f", &id),
        &[("x-amz-checksum-crc64nvme", &sum1)],
        &body,
    );
    assert_eq!((bad.status, code(&bad)), (400, "BadDigest".into()));
    let done = complete(
        &s,
        ("f", &id),
        &[("x-amz-checksum-crc64nvme", &whole)],
        &body,
    );
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(texts(&done.body, "ChecksumCRC64NVME"), [whole.as_str()]);
    assert_eq!(texts(&done.body, "ChecksumType"), ["FULL_OBJECT"]);
    let head = send(&s, ("HEAD", "/bkt/f"), &[], &[MODE], b"");
    assert_eq!(
        head.header("x-amz-checksum-crc64nvme"),
        Some(whole.as_str())
    );
    assert_eq!(head.header("x-amz-checksum-type"), Some("FULL_OBJECT"));
    let got = send(&s, ("GET", "/bkt/f"), &[("partNumber", "2")], &[MODE], b"");
    assert_eq!(got.header("x-amz-checksum-crc64nvme"), Some(sum2.as_str()));
    assert_eq!(got.header("x-amz-checksum-type"), Some("FULL_OBJECT"));

    // A PutObject's CRC-64/NVME, checked and kept as the others are.
    let value = b64(&crc64(b"hello"));
    let put = send(
        &s,
        ("PUT", "/bkt/one"),
        &[],
        &[("x-amz-checksum-crc64nvme", &value)],
        b"hello",
    );
    assert_eq!(put.header("x-amz-checksum-crc64nvme"), Some(value.as_str()));
    let head = send(&s, ("HEAD", "/bkt/one"), &[], &[MODE], b"");
    assert_eq!(
        head.header("x-amz-checksum-crc64nvme"),
        Some(value.as_str())
    );
}

#[test]
fn types_an_algorithm_cannot_make_are_refused() {
    let s = support::s3::owner();
    assert_eq!(s.signers[0].simple(s.s3, "PUT", "/bkt", b"").status, 200);
    for fields in [
        &[
            ("x-amz-checksum-algorithm", "CRC64NVME"),
            ("x-amz-checksum-type", "COMPOSITE"),
        ][..],
        &[
            ("x-amz-checksum-algorithm", "SHA1"),
            ("x-amz-checksum-type", "FULL_OBJECT"),
        ],
        &[("x-amz-checksum-algorithm", "MD5")],
        &[("x-amz-checksum-type", "COMPOSITE")],
    ] {
        let made = send(&s, ("POST", "/bkt/x"), &[("uploads", "")], fields, b"");
        assert_eq!(
            (made.status, code(&made)),
            (400, "InvalidRequest".into()),
            "{fields:?}"
        );
    }
    // Without one, no part's checksum makes the object's.
    let (made, id) = begin(&s, "n", &[]);
    assert_eq!(made.header("x-amz-checksum-algorithm"), None);
    let crc32 = b64(&crc32fast::hash(b"abc").to_be_bytes());
    let put = part(
        &s,
        ("n", &id, 1),
        &[("x-amz-checksum-crc32", &crc32)],
        b"abc",
    );
    assert_eq!(put.status, 200);
    let done = complete(&s, ("n", &id), &[], &completion(&[(1, etag(b"abc"), None)]));
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    assert!(texts(&done.body, "ChecksumType").is_empty());
}

#[test]
fn a_get_in_a_bucket_that_is_gone_is_no_such_bucket() {
    let s = support::s3::owner();
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/gone", b"").status, 200);
    assert_eq!(me.simple(s.s3, "PUT", "/gone/k", b"x").status, 200);
    let missing = me.simple(s.s3, "GET", "/gone/other", b"");
    assert_eq!((missing.status, code(&missing)), (404, "NoSuchKey".into()));
    assert_eq!(me.simple(s.s3, "DELETE", "/gone/k", b"").status, 204);
    assert_eq!(me.simple(s.s3, "DELETE", "/gone", b"").status, 204);
    for _ in 0..2 {
        // The second may find the name's lookup cached on the loop.
        let got = me.simple(s.s3, "GET", "/gone/k", b"");
        assert_eq!((got.status, code(&got)), (404, "NoSuchBucket".into()));
    }
    assert_eq!(me.simple(s.s3, "HEAD", "/gone/k", b"").status, 404);
}
