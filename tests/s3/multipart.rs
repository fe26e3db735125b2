//! S3 multipart uploads over real sockets: every operation's answer and
//! its errors (the XML parsed), grants, `--max-file-size` on the object,
//! a restart between parts, and a part cut mid-body (the upload stays as
//! it was); parts written in their places (in any order, at once, sent
//! again) and completed without a copy, or assembled apart where their
//! places do not make the object (storage/posix/part_slots.rs). The real clients' multipart uploads are in
//! tests/clients/s3.rs.
#![cfg(feature = "s3")] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use ferry::storage::gate::{Gate, Point};

use md5::{Digest as _, Md5};
use support::s3::{Payload, S3Server, Signer, code, texts};

const ALL: &[&str] = &["read:/", "write:/", "delete:/"];
const MIB: usize = 1 << 20;

fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn quoted(data: &[u8]) -> String {
    format!("\"{}\"", hex(&md5(data)))
}

fn owner() -> S3Server {
    S3Server::start(&[("owner", ALL)], &[])
}

/// A bucket `bkt` and a multipart upload of `bkt/<key>`; its UploadId.
fn begin(s: &S3Server, me: &Signer, key: &str) -> String {
    if !s.server.path("bkt").exists() {
        assert_eq!(me.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    }
    let path = format!("/bkt/{key}");
    let made = me.send(
        s.s3,
        "POST",
        (&path, &[("uploads", "")]),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!(made.status, 200, "{}", String::from_utf8_lossy(&made.body));
    assert_eq!(texts(&made.body, "Bucket"), ["bkt"]);
    assert_eq!(texts(&made.body, "Key"), [key]);
    texts(&made.body, "UploadId").remove(0)
}

fn put_part(s: &S3Server, me: &Signer, key: &str, id: &str, n: u32, data: &[u8]) -> String {
    let answer = part_answer(s, me, key, id, n, data, &[]);
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.header("ETag").unwrap().to_owned()
}

fn part_answer(
    s: &S3Server,
    me: &Signer,
    key: &str,
    id: &str,
    n: u32,
    data: &[u8],
    extra: &[(&str, &str)],
) -> support::http::Answer {
    let n = n.to_string();
    let query = [("partNumber", n.as_str()), ("uploadId", id)];
    let path = format!("/bkt/{key}");
    me.send(s.s3, "PUT", (&path, &query), extra, data, Payload::Signed)
}

fn completion(parts: &[(u32, &str)]) -> Vec<u8> {
    let mut xml =
        String::from("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (n, etag) in parts {
        xml.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
        ));
    }
    (xml + "</CompleteMultipartUpload>").into_bytes()
}

fn complete(s: &S3Server, me: &Signer, key: &str, id: &str, body: &[u8]) -> support::http::Answer {
    complete_if(s, (me, key, id), body, &[])
}

/// Completes `key`'s upload `id` with `body`, checks that it succeeded
/// and that the key now holds `whole`; the answer.
fn completes(
    s: &S3Server,
    (me, key, id): (&Signer, &str, &str),
    body: &[u8],
    whole: &[u8],
) -> support::http::Answer {
    let done = complete(s, me, key, id, body);
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    let stored = std::fs::read(s.server.path(&format!("bkt/{key}"))).unwrap();
    assert!(stored == whole, "{key}: not what was sent");
    done
}

/// CompleteMultipartUpload of `key`'s upload `id` with `extra` fields
/// (its conditions).
fn complete_if(
    s: &S3Server,
    (me, key, id): (&Signer, &str, &str),
    body: &[u8],
    extra: &[(&str, &str)],
) -> support::http::Answer {
    let path = format!("/bkt/{key}");
    let query = [("uploadId", id)];
    me.send(s.s3, "POST", (&path, &query), extra, body, Payload::Signed)
}

fn list_parts(s: &S3Server, me: &Signer, key: &str, id: &str) -> support::http::Answer {
    let path = format!("/bkt/{key}");
    me.send(
        s.s3,
        "GET",
        (&path, &[("uploadId", id)]),
        &[],
        b"",
        Payload::Signed,
    )
}

/// What is staged for uploads, but the sessions' bookkeeping lock and
/// the marks completed uploads leave (`<id>.stored`: no bytes, kept a
/// while for a completion sent again).
fn staged(s: &S3Server) -> Vec<String> {
    let mut found = support::entries(&s.server.path(".ferry-uploads"));
    found.retain(|name| name != "lock" && !name.ends_with(".stored"));
    found
}

#[test]
fn an_upload_from_creation_to_completion() {
    let s = owner();
    let me = &s.signers[0];
    let id = begin(&s, me, "dir/big.bin");
    let first = support::pattern(5 * MIB, 1);
    let last = support::pattern(1000, 2);
    // Any order; a part sent again replaces the one before.
    assert_eq!(
        put_part(&s, me, "dir/big.bin", &id, 2, &last),
        quoted(&last)
    );
    let stale = support::pattern(5 * MIB, 3);
    assert_eq!(
        put_part(&s, me, "dir/big.bin", &id, 1, &stale),
        quoted(&stale)
    );
    assert_eq!(
        put_part(&s, me, "dir/big.bin", &id, 1, &first),
        quoted(&first)
    );
    // A part is no file yet.
    assert!(!s.server.path("bkt/dir/big.bin").exists());

    let listed = list_parts(&s, me, "dir/big.bin", &id);
    assert_eq!(listed.status, 200);
    assert_eq!(texts(&listed.body, "PartNumber"), ["1", "2"]);
    assert_eq!(texts(&listed.body, "ETag"), [quoted(&first), quoted(&last)]);
    assert_eq!(
        texts(&listed.body, "Size"),
        [(5 * MIB).to_string(), "1000".into()]
    );
    assert_eq!(texts(&listed.body, "IsTruncated"), ["false"]);
    let path = "/bkt/dir/big.bin";
    let page = me.send(
        s.s3,
        "GET",
        (path, &[("uploadId", &id), ("max-parts", "1")]),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!(texts(&page.body, "PartNumber"), ["1"]);
    assert_eq!(texts(&page.body, "IsTruncated"), ["true"]);
    assert_eq!(texts(&page.body, "NextPartNumberMarker"), ["1"]);

    let uploads = me.send(
        s.s3,
        "GET",
        ("/bkt", &[("uploads", "")]),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!(uploads.status, 200);
    assert_eq!(texts(&uploads.body, "Bucket"), ["bkt"]);
    assert_eq!(texts(&uploads.body, "Key"), ["dir/big.bin"]);
    assert_eq!(texts(&uploads.body, "UploadId"), std::slice::from_ref(&id));

    let body = completion(&[(1, &quoted(&first)), (2, &quoted(&last))]);
    let done = complete(&s, me, "dir/big.bin", &id, &body);
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    let mut md5s = md5(&first).to_vec();
    md5s.extend(md5(&last));
    let etag = format!("\"{}-2\"", hex(&md5(&md5s)));
    assert_eq!(texts(&done.body, "ETag"), std::slice::from_ref(&etag));
    let stored = std::fs::read(s.server.path("bkt/dir/big.bin")).unwrap();
    assert!(stored == [first, last].concat());
    // The ETag is recorded with the file, as a single PUT's MD5 is.
    let file = std::fs::File::open(s.server.path("bkt/dir/big.bin")).unwrap();
    let mut buf = [0u8; 128];
    if let Ok(len) = rustix::fs::fgetxattr(&file, "user.ferry.md5", &mut buf) {
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        assert!(text.ends_with(&etag[1..etag.len() - 1]), "{text}");
    }
    // Nothing of the upload is left.
    assert_eq!(staged(&s), Vec::<String>::new());
    assert_eq!(
        code(&list_parts(&s, me, "dir/big.bin", &id)),
        "NoSuchUpload"
    );
    let uploads = me.send(
        s.s3,
        "GET",
        ("/bkt", &[("uploads", "")]),
        &[],
        b"",
        Payload::Signed,
    );
    assert!(texts(&uploads.body, "UploadId").is_empty());
}

/// A completion sent again after the first succeeded (an SDK retrying
/// after a lost answer) is answered 200 with the same ETag, as S3 does,
/// from the mark the upload leaves (its parts gone); another list, or the
/// key since replaced, is NoSuchUpload: the object there is not what that
/// completion made.
#[test]
fn a_completion_sent_again_is_answered_as_the_first() {
    let s = owner();
    let me = &s.signers[0].clone();
    let id = begin(&s, me, "again");
    let (first, last) = (support::pattern(5 * MIB, 3), b"tail".to_vec());
    let one = put_part(&s, me, "again", &id, 1, &first);
    let two = put_part(&s, me, "again", &id, 2, &last);
    let body = completion(&[(1, &one), (2, &two)]);
    let done = completes(&s, (me, "again", &id), &body, &[first, last].concat());
    let etag = texts(&done.body, "ETag");
    let again = complete(&s, me, "again", &id, &body);
    assert_eq!(
        again.status,
        200,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    assert_eq!(texts(&again.body, "ETag"), etag);
    // Nothing of the upload is left but its mark.
    let marks = support::entries(&s.server.path(".ferry-uploads"));
    assert_eq!(marks, [format!("{id}.stored"), "lock".to_owned()]);
    assert_eq!(code(&list_parts(&s, me, "again", &id)), "NoSuchUpload");
    // Another list: not the completion that succeeded.
    let other = complete(&s, me, "again", &id, &completion(&[(1, &one)]));
    assert_eq!((other.status, code(&other)), (404, "NoSuchUpload".into()));
    // Another key: the mark names its own.
    let elsewhere = complete(&s, me, "elsewhere", &id, &body);
    assert_eq!(code(&elsewhere), "NoSuchUpload");
    // The key replaced since: its object is not the upload's.
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/again", b"new").status, 200);
    let replaced = complete(&s, me, "again", &id, &body);
    assert_eq!(
        (replaced.status, code(&replaced)),
        (404, "NoSuchUpload".into())
    );
}

/// A bucket removed while an upload into it went on (its parts are not
/// in it, so it was empty) is not made again by the completion:
/// `NoSuchBucket`, and the upload stays.
#[test]
fn a_completion_into_a_bucket_removed_meanwhile_is_no_such_bucket() {
    let s = owner();
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    let etag = put_part(&s, me, "k", &id, 1, b"part");
    assert_eq!(me.simple(s.s3, "DELETE", "/bkt", b"").status, 204);
    let done = complete(&s, me, "k", &id, &completion(&[(1, &etag)]));
    assert_eq!((done.status, code(&done)), (404, "NoSuchBucket".into()));
    assert!(!s.server.path("bkt").exists());
    assert_eq!(texts(&list_parts(&s, me, "k", &id).body, "ETag"), [etag]);
}

#[test]
fn a_completion_that_does_not_match_the_parts_changes_nothing() {
    let s = owner();
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    let (one, two) = (support::pattern(5 * MIB, 1), support::pattern(10, 2));
    let (e1, e2) = (
        put_part(&s, me, "k", &id, 1, &one),
        put_part(&s, me, "k", &id, 2, &two),
    );
    let refused = |body: &[u8]| {
        let answer = complete(&s, me, "k", &id, body);
        assert_eq!(
            answer.status,
            400,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        code(&answer)
    };
    assert_eq!(
        refused(&completion(&[(2, &e2), (1, &e1)])),
        "InvalidPartOrder"
    );
    assert_eq!(
        refused(&completion(&[(1, &e1), (1, &e1)])),
        "InvalidPartOrder"
    );
    assert_eq!(refused(&completion(&[(1, &e2), (2, &e2)])), "InvalidPart");
    assert_eq!(refused(&completion(&[(1, &e1), (3, &e2)])), "InvalidPart");
    assert_eq!(refused(&completion(&[(1, "\"nope\"")])), "InvalidPart");
    assert_eq!(refused(&completion(&[(2, &e2), (3, &e2)])), "InvalidPart");
    assert_eq!(refused(b"<CompleteMultipartUpload>"), "MalformedXML");
    assert_eq!(refused(b"<CompleteMultipartUpload/>"), "MalformedXML");
    let dtd = b"<!DOCTYPE x [<!ENTITY e \"1\">]><CompleteMultipartUpload/>";
    assert_eq!(refused(dtd), "MalformedXML");
    // A small part that is not the last.
    let small = support::pattern(10, 4);
    let e3 = put_part(&s, me, "k", &id, 3, &small);
    assert_eq!(
        refused(&completion(&[(2, &e2), (3, &e3)])),
        "EntityTooSmall"
    );
    assert!(!s.server.path("bkt/k").exists());
    // The upload is as it was: it completes.
    completes(
        &s,
        (me, "k", &id),
        &completion(&[(1, &e1), (2, &e2)]),
        &[one, two].concat(),
    );
}

#[test]
fn parts_not_as_stated_and_unknown_uploads_are_refused() {
    let s = owner();
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    let data = support::pattern(100, 1);
    let e1 = put_part(&s, me, "k", &id, 1, &data);
    for n in [0, 10_001] {
        let answer = part_answer(&s, me, "k", &id, n, &data, &[]);
        assert_eq!(
            (answer.status, code(&answer)),
            (400, "InvalidArgument".into())
        );
    }
    // Content-MD5 of other bytes: BadDigest, the part as it was.
    let other = base64_md5(b"other");
    let answer = part_answer(&s, me, "k", &id, 1, &[7; 100], &[("Content-MD5", &other)]);
    assert_eq!((answer.status, code(&answer)), (400, "BadDigest".into()));
    // A body that is not the one signed.
    let n = "1";
    let query = [("partNumber", n), ("uploadId", id.as_str())];
    let signed = hex(&sha2::Sha256::digest(b"something else"));
    let answer = me.send(
        s.s3,
        "PUT",
        ("/bkt/k", &query),
        &[],
        &data,
        Payload::Stated(&signed),
    );
    assert_eq!(code(&answer), "XAmzContentSHA256Mismatch");
    assert_eq!(
        texts(&list_parts(&s, me, "k", &id).body, "ETag"),
        std::slice::from_ref(&e1)
    );

    // An upload that is not there, or is another key's.
    let unknown = "00000000000000000000000000000000";
    for (key, id) in [("k", unknown), ("other", id.as_str()), ("k", "../x")] {
        let answer = part_answer(&s, me, key, id, 1, &data, &[]);
        assert_eq!((answer.status, code(&answer)), (404, "NoSuchUpload".into()));
        assert_eq!(code(&list_parts(&s, me, key, id)), "NoSuchUpload");
        let body = completion(&[(1, &e1)]);
        assert_eq!(code(&complete(&s, me, key, id, &body)), "NoSuchUpload");
        // An ETag that names no MD5 too: the upload is looked for first
        // (ceph's `test_multipart_upload_complete_without_create`).
        let body = completion(&[(1, "1234")]);
        let answer = complete(&s, me, key, id, &body);
        assert_eq!((answer.status, code(&answer)), (404, "NoSuchUpload".into()));
    }
    // Of the upload that is there, such an ETag is no part's.
    let answer = complete(&s, me, "k", &id, &completion(&[(1, "1234")]));
    assert_eq!((answer.status, code(&answer)), (400, "InvalidPart".into()));

    // Abort: 204, and the upload is gone with its parts.
    let path = "/bkt/k";
    let abort = |id: &str| {
        me.send(
            s.s3,
            "DELETE",
            (path, &[("uploadId", id)]),
            &[],
            b"",
            Payload::Signed,
        )
    };
    assert_eq!(abort(&id).status, 204);
    assert_eq!(staged(&s), Vec::<String>::new());
    let again = abort(&id);
    assert_eq!((again.status, code(&again)), (404, "NoSuchUpload".into()));
    assert_eq!(
        code(&part_answer(&s, me, "k", &id, 1, &data, &[])),
        "NoSuchUpload"
    );
}

fn base64_md5(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(md5(data))
}

#[test]
fn grants_and_the_size_limit_apply_to_the_object() {
    let s = S3Server::start_with(
        &[
            ("owner", ALL),
            ("reader", &["read:/"]),
            ("writer", &["write:bkt/w/"]),
        ],
        &[],
        |c| c.max_file_size = Some(6 * MIB as u64),
    );
    let (me, reader, writer) = (&s.signers[0], &s.signers[1], &s.signers[2]);
    let id = begin(&s, me, "k");
    // Reading is not writing: no upload, no part, no completion.
    let made = reader.send(
        s.s3,
        "POST",
        ("/bkt/k", &[("uploads", "")]),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!((made.status, code(&made)), (403, "AccessDenied".into()));
    let part = part_answer(&s, reader, "k", &id, 1, b"x", &[]);
    assert_eq!(code(&part), "AccessDenied");
    // Writing in bkt/w/ is not listing bkt's uploads.
    let writes = begin(&s, writer, "w/mine");
    let list = writer.send(
        s.s3,
        "GET",
        ("/bkt", &[("uploads", "")]),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!(code(&list), "AccessDenied");
    assert_eq!(
        put_part(&s, writer, "w/mine", &writes, 1, b"mine"),
        quoted(b"mine")
    );
    // Reading (listing) bkt is.
    let list = reader.send(
        s.s3,
        "GET",
        ("/bkt", &[("uploads", "")]),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!(texts(&list.body, "Key"), ["k", "w/mine"]);

    // --max-file-size: a part over it at once, and an object over it on
    // completion.
    let over = part_answer(&s, me, "k", &id, 1, &vec![0; 7 * MIB], &[]);
    assert_eq!(code(&over), "EntityTooLarge");
    let (one, two) = (support::pattern(5 * MIB, 1), support::pattern(2 * MIB, 2));
    let e1 = put_part(&s, me, "k", &id, 1, &one);
    let e2 = put_part(&s, me, "k", &id, 2, &two);
    let done = complete(&s, me, "k", &id, &completion(&[(1, &e1), (2, &e2)]));
    assert_eq!((done.status, code(&done)), (400, "EntityTooLarge".into()));
    assert!(!s.server.path("bkt/k").exists());
    let done = complete(&s, me, "k", &id, &completion(&[(1, &e1)]));
    assert_eq!(done.status, 200);
}

#[test]
fn an_upload_goes_on_after_a_restart() {
    let mut s = owner();
    let id = begin(&s, &s.signers[0].clone(), "k");
    let one = support::pattern(5 * MIB, 1);
    let e1 = put_part(&s, &s.signers[0].clone(), "k", &id, 1, &one);
    s.restart();
    let me = &s.signers[0];
    let two = support::pattern(300, 2);
    let e2 = put_part(&s, me, "k", &id, 2, &two);
    assert_eq!(
        texts(&list_parts(&s, me, "k", &id).body, "PartNumber"),
        ["1", "2"]
    );
    let inode = data_inode(&s, &id);
    completes(
        &s,
        (me, "k", &id),
        &completion(&[(1, &e1), (2, &e2)]),
        &[one, two].concat(),
    );
    // The parts' places were kept across the restart: nothing copied.
    assert!(is_data_file(&s, "k", inode));
}

#[test]
fn a_part_cut_mid_body_leaves_the_upload_as_it_was() {
    let s = owner();
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    let one = support::pattern(5 * MIB, 1);
    let e1 = put_part(&s, me, "k", &id, 1, &one);
    // Part 1 again, cut after a megabyte of its five.
    let again = support::pattern(5 * MIB, 9);
    let query = [("partNumber", "1"), ("uploadId", id.as_str())];
    let (target, lines) = me.signed("PUT", ("/bkt/k", &query), &[], &again, Payload::Unsigned);
    let mut stream = TcpStream::connect(s.s3).unwrap();
    write!(
        stream,
        "PUT {target} HTTP/1.1\r\nContent-Length: {}\r\n{lines}\r\n",
        again.len()
    )
    .unwrap();
    stream.write_all(&again[..MIB]).unwrap();
    drop(stream);
    // Still part 1 as it was, and the upload completes with it.
    assert_eq!(
        texts(&list_parts(&s, me, "k", &id).body, "ETag"),
        std::slice::from_ref(&e1)
    );
    completes(&s, (me, "k", &id), &completion(&[(1, &e1)]), &one);
    assert_eq!(staged(&s), Vec::<String>::new());
}

#[test]
fn abandoned_uploads_expire_as_sessions_do() {
    let mut s = owner();
    let me = s.signers[0].clone();
    let empty = begin(&s, &me, "empty");
    let staged = begin(&s, &me, "staged");
    let old = begin(&s, &me, "old");
    put_part(&s, &me, "staged", &staged, 1, b"kept");
    put_part(&s, &me, "old", &old, 1, b"gone");
    // All last used 20 minutes ago, "old" 25 hours ago: past the empty
    // TTL (15 minutes), and for "old" past --upload-ttl's 24 hours.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let now = now.unwrap().as_secs();
    s.restart_after(|root| {
        for (id, ago) in [(&empty, 20 * 60), (&staged, 20 * 60), (&old, 25 * 3600)] {
            let record = root.join(format!(".ferry-uploads/{id}.meta"));
            support::set_mtime(&record, now - ago);
        }
    });
    let me = &s.signers[0];
    assert_eq!(code(&list_parts(&s, me, "empty", &empty)), "NoSuchUpload");
    assert_eq!(code(&list_parts(&s, me, "old", &old)), "NoSuchUpload");
    let kept = list_parts(&s, me, "staged", &staged);
    assert_eq!(texts(&kept.body, "ETag"), [quoted(b"kept")]);
    // Their parts went with them.
    let left = staged_of(&s);
    assert_eq!(
        left,
        [
            format!("{staged}.data"),
            format!("{staged}.meta"),
            format!("{staged}.parts")
        ]
    );
}

/// `SESSIONS` (FERRY/1, and so `ferry sessions`) lists a multipart upload
/// with the bytes its parts hold: not its data file's length, which is
/// where the furthest part in its slot ends (part 3 alone makes it three
/// parts long), nor 0 when its parts are all staged apart. An upload with
/// parts keeps the TTL of a session with bytes (24 h), as its expiry does.
#[test]
fn sessions_list_a_multipart_upload_with_the_bytes_of_its_parts() {
    let s = owner();
    let me = &s.signers[0];
    let slotted = begin(&s, me, "slotted");
    let part = support::pattern(5 * MIB, 3);
    put_part(&s, me, "slotted", &slotted, 1, &part);
    put_part(&s, me, "slotted", &slotted, 3, &part);
    let data = s.server.path(&format!(".ferry-uploads/{slotted}.data"));
    assert_eq!(std::fs::metadata(data).unwrap().len(), 15 * MIB as u64);
    let apart = begin(&s, me, "apart");
    // No stride is set yet: part 2's place is unknown, so it is staged
    // apart and the data file stays empty.
    put_part(&s, me, "apart", &apart, 2, b"four");
    let data = s.server.path(&format!(".ferry-uploads/{apart}.data"));
    assert_eq!(std::fs::metadata(data).unwrap().len(), 0);

    let mut raw = s.server.raw();
    raw.send(format!("AUTH {}\n", s.tokens[0]));
    assert!(raw.line().starts_with("OK"));
    raw.send("SESSIONS\n");
    let head = raw.line();
    let len: usize = head.strip_prefix("OK ").unwrap().parse().unwrap();
    let body = String::from_utf8(raw.bytes(len)).unwrap();
    let field = |id: &str, at: usize| -> String {
        let line = body.lines().find(|line| line.starts_with(id)).unwrap();
        line.split(' ').nth(at).unwrap().to_owned()
    };
    assert_eq!(field(&slotted, 1), (10 * MIB).to_string(), "{body}");
    assert_eq!(field(&apart, 1), "4", "{body}");
    let expires: u64 = field(&apart, 4).parse().unwrap();
    assert!(expires > 23 * 3600, "{body}");
}

/// [`staged`], sorted.
fn staged_of(s: &S3Server) -> Vec<String> {
    let mut found = staged(s);
    found.sort();
    found
}

/// A completion's list of 10,000 parts (some 1 MiB of XML, over the
/// message layer's usual 64 KiB) is read whole and judged: here part 2 is
/// not staged, so it is refused as S3 would (staging 10,000 parts of
/// 5 MiB is 50 GB), after the whole list was parsed. A list padded past
/// 1 MiB completes; one over the 2 MiB cap is refused before it is read.
#[test]
fn a_completion_of_ten_thousand_parts_is_read_whole() {
    let s = owner();
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    let (one, last) = (support::pattern(5 * MIB, 1), support::pattern(10, 2));
    let e1 = put_part(&s, me, "k", &id, 1, &one);
    let e_last = put_part(&s, me, "k", &id, 10_000, &last);
    let mut xml =
        String::from("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for n in 1..=10_000u32 {
        let etag = match n {
            1 => e1.clone(),
            10_000 => e_last.clone(),
            n => quoted(&n.to_be_bytes()),
        };
        xml.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>"
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    assert!(xml.len() > MIB, "{} bytes", xml.len());
    let refused = complete(&s, me, "k", &id, xml.as_bytes());
    assert_eq!(
        refused.status,
        400,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert_eq!(code(&refused), "InvalidPart");
    // Over the cap: refused from its Content-Length, nothing read.
    let over = vec![b' '; 2 * MIB + 1];
    let too_big = complete(&s, me, "k", &id, &over);
    assert_eq!(too_big.status, 413);
    assert_eq!(code(&too_big), "EntityTooLarge");
    assert!(!s.server.path("bkt/k").exists());
    // The upload is as it was: a list padded to 1.5 MiB completes it.
    let padding = format!("<!-- {} -->", "x".repeat(MIB + MIB / 2));
    let mut padded = completion(&[(1, &e1), (10_000, &e_last)]);
    let at = padded.len() - "</CompleteMultipartUpload>".len();
    padded.splice(at..at, padding.into_bytes());
    let done = completes(&s, (me, "k", &id), &padded, &[one, last].concat());
    assert!(texts(&done.body, "ETag")[0].ends_with("-2\""));
}

/// A server whose multipart completions are held before they assemble
/// (the slow disk, made certain by a test gate), and whose answers that
/// may begin early do so after `early`.
fn held_assembly(early: Duration) -> (S3Server, Arc<Gate>) {
    let gate = Arc::new(Gate::new(Point::Assemble));
    let held = Arc::clone(&gate);
    let s = S3Server::start_with(&[("owner", ALL)], &[], move |config| {
        config.gate = Some(held);
        config.early_answer = early;
    });
    (s, gate)
}

/// Sends CompleteMultipartUpload of `k` (with `extra` fields) on a
/// connection of its own.
fn send_completion(s: &S3Server, id: &str, body: &[u8], extra: &[(&str, &str)]) -> TcpStream {
    let me = &s.signers[0];
    let query = [("uploadId", id)];
    let (target, lines) = me.signed("POST", ("/bkt/k", &query), extra, body, Payload::Signed);
    let mut stream = TcpStream::connect(s.s3).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "POST {target} HTTP/1.1\r\nContent-Length: {}\r\n{lines}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    stream
}

/// Reads from `stream` onto `got` until it holds `until`.
fn read_until(stream: &mut TcpStream, got: &mut Vec<u8>, until: &[u8]) {
    let mut buf = [0u8; 4096];
    while !got.windows(until.len()).any(|w| w == until) {
        let n = stream.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed before {until:?}: {}",
            String::from_utf8_lossy(got)
        );
        got.extend_from_slice(&buf[..n]);
    }
}

/// The body of a chunked answer (all of it in `answer`).
fn dechunked(answer: &[u8]) -> Vec<u8> {
    let at = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let (mut rest, mut body) = (&answer[at..], Vec::new());
    loop {
        let line = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line]).unwrap(), 16).unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&rest[line + 2..line + 2 + size]);
        rest = &rest[line + 2 + size + 2..];
    }
}

/// A completion whose assembly is slow answers `200` before it ends,
/// then a space now and then (each the loop's timer, not a thread), then
/// the result: the client's read timeout never passes while it waits.
#[test]
fn a_slow_completion_answers_200_at_once_and_spaces_until_its_result() {
    let (s, gate) = held_assembly(Duration::from_millis(100));
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    let (one, two) = (support::pattern(5 * MIB, 1), support::pattern(10, 2));
    let e1 = put_part(&s, me, "k", &id, 1, &one);
    let e2 = put_part(&s, me, "k", &id, 2, &two);
    let mut stream = send_completion(&s, &id, &completion(&[(1, &e1), (2, &e2)]), &[]);
    gate.wait_for_arrivals(1);
    let mut got = Vec::new();
    // The head and the declaration, then two fillers, all while held.
    read_until(&mut stream, &mut got, b"\r\n1\r\n \r\n1\r\n \r\n");
    assert_eq!(gate.held(), 1, "the assembly went on meanwhile");
    let head = String::from_utf8_lossy(&got).into_owned();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
    gate.open();
    read_until(&mut stream, &mut got, b"\r\n0\r\n\r\n");
    let body = String::from_utf8(dechunked(&got)).unwrap();
    assert!(
        body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n  "),
        "{body}"
    );
    assert_eq!(body.matches("<?xml").count(), 1, "{body}");
    let etag = texts(body.as_bytes(), "ETag").remove(0);
    assert!(etag.ends_with("-2\""), "{etag}");
    assert!(std::fs::read(s.server.path("bkt/k")).unwrap() == [one, two].concat());
    // The connection goes on: the next request on it is served.
    let (target, lines) = me.signed("GET", ("/bkt/k", &[]), &[], b"", Payload::Signed);
    write!(stream, "HEAD {target} HTTP/1.1\r\n{lines}\r\n").unwrap();
    let mut next = Vec::new();
    read_until(&mut stream, &mut next, b"\r\n\r\n");
    assert!(
        next.starts_with(b"HTTP/1.1 "),
        "{}",
        String::from_utf8_lossy(&next)
    );
}

/// A completion that fails once its `200` went out says so in the body,
/// an `<Error>` document (S3's way, which clients read as the error), and
/// the upload is as it was.
#[test]
fn a_completion_that_fails_after_its_200_ends_with_an_error_document() {
    let (s, gate) = held_assembly(Duration::from_millis(100));
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    let part = support::pattern(10, 1);
    let e1 = put_part(&s, me, "k", &id, 1, &part);
    let mut stream = send_completion(&s, &id, &completion(&[(1, &e1)]), &[]);
    gate.wait_for_arrivals(1);
    let mut got = Vec::new();
    read_until(&mut stream, &mut got, b"\r\n1\r\n \r\n");
    // Meanwhile a folder took the key's name: the commit cannot replace it.
    std::fs::create_dir_all(s.server.path("bkt/k/in")).unwrap();
    gate.open();
    read_until(&mut stream, &mut got, b"\r\n0\r\n\r\n");
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    let body = dechunked(&got);
    assert_eq!(
        texts(&body, "Code"),
        ["XFerryKeyConflict"],
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(s.server.path("bkt/k/in").is_dir());
    let parts = list_parts(&s, me, "k", &id);
    assert_eq!(parts.status, 200, "the upload is still there");
}

/// CompleteMultipartUpload takes S3's conditional writes, as PutObject
/// does: `If-None-Match: *` completes only a key that does not exist,
/// `If-Match` only over the version it names; a completion refused leaves
/// the object and the upload as they were, to be completed again.
#[test]
fn a_completion_is_conditional_as_s3_makes_it() {
    let s = owner();
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    let old = me.simple(s.s3, "PUT", "/bkt/k", b"old");
    assert_eq!(old.status, 200);
    let tag = old.header("ETag").unwrap().to_owned();
    let part = support::pattern(10, 1);
    let e1 = put_part(&s, me, "k", &id, 1, &part);
    let body = completion(&[(1, &e1)]);
    let refused = |extra: &[(&str, &str)]| {
        let answer = complete_if(&s, (me, "k", &id), &body, extra);
        (answer.status, code(&answer))
    };
    let failed = (412, "PreconditionFailed".to_owned());
    assert_eq!(refused(&[("If-None-Match", "*")]), failed);
    let stale = format!("\"{}\"", "0".repeat(32));
    assert_eq!(refused(&[("If-Match", &stale)]), failed);
    // A tag in If-None-Match, as RGW takes it: the object's is refused.
    assert_eq!(refused(&[("If-None-Match", &tag)]), failed);
    assert_eq!(std::fs::read(s.server.path("bkt/k")).unwrap(), b"old");
    assert_eq!(
        list_parts(&s, me, "k", &id).status,
        200,
        "the upload is kept"
    );
    let done = complete_if(&s, (me, "k", &id), &body, &[("If-Match", &tag)]);
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(std::fs::read(s.server.path("bkt/k")).unwrap(), part);
}

/// A key stored while a completion with `If-None-Match: *` assembles its
/// parts wins: judged again at the commit, the completion ends its early
/// `200` with a PreconditionFailed document, and its upload stays.
#[test]
fn a_key_stored_while_a_create_only_completion_assembles_wins() {
    let (s, gate) = held_assembly(Duration::from_millis(100));
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    let e1 = put_part(&s, me, "k", &id, 1, &support::pattern(10, 1));
    let create_only = [("If-None-Match", "*")];
    let mut stream = send_completion(&s, &id, &completion(&[(1, &e1)]), &create_only);
    gate.wait_for_arrivals(1);
    let mut got = Vec::new();
    read_until(&mut stream, &mut got, b"\r\n1\r\n \r\n");
    std::fs::write(s.server.path("bkt/k"), b"theirs").unwrap();
    gate.open();
    read_until(&mut stream, &mut got, b"\r\n0\r\n\r\n");
    let body = dechunked(&got);
    let text = String::from_utf8_lossy(&body);
    assert_eq!(texts(&body, "Code"), ["PreconditionFailed"], "{text}");
    assert_eq!(std::fs::read(s.server.path("bkt/k")).unwrap(), b"theirs");
    assert_eq!(
        list_parts(&s, me, "k", &id).status,
        200,
        "the upload is kept"
    );
}

/// ListMultipartUploads sees every upload of the bucket (not only the
/// 1024 sessions used most recently), page by page with `key-marker` and
/// `upload-id-marker`, the uploads of one key apart by their ids.
#[test]
fn every_upload_of_a_bucket_is_listed_page_by_page() {
    let s = S3Server::start_with(&[("owner", ALL)], &[], |config| {
        config.max_upload_sessions_per_client = 4096;
        config.max_upload_sessions_per_token = 4096;
        config.fsync = false;
    });
    let me = &s.signers[0];
    let mut made: Vec<(String, String)> = (0..1030)
        .map(|n| {
            let key = format!("k{:04}", n / 2);
            let id = begin(&s, me, &key);
            (key, id)
        })
        .collect();
    made.sort();
    let (mut listed, mut markers) = (Vec::new(), (String::new(), String::new()));
    loop {
        let query = [
            ("uploads", ""),
            ("max-uploads", "400"),
            ("key-marker", markers.0.as_str()),
            ("upload-id-marker", markers.1.as_str()),
        ];
        let page = me.send(s.s3, "GET", ("/bkt", &query), &[], b"", Payload::Signed);
        assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
        let (keys, ids) = (texts(&page.body, "Key"), texts(&page.body, "UploadId"));
        assert!(keys.len() <= 400);
        listed.extend(keys.into_iter().zip(ids));
        if texts(&page.body, "IsTruncated") == ["false"] {
            break;
        }
        markers = (
            texts(&page.body, "NextKeyMarker").remove(0),
            texts(&page.body, "NextUploadIdMarker").remove(0),
        );
    }
    assert_eq!(listed.len(), made.len());
    assert!(listed == made, "not every upload, or not in order");
}

/// The inode of upload `id`'s data file, where parts of the upload's
/// usual length are written in place (storage/posix/part_slots.rs).
fn data_inode(s: &S3Server, id: &str) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let data = s.server.path(&format!(".ferry-uploads/{id}.data"));
    std::fs::metadata(data).unwrap().ino()
}

/// Whether object `key` of `bkt` is the upload's data file itself: its
/// parts were found in place and nothing was copied but those staged
/// apart.
fn is_data_file(s: &S3Server, key: &str, inode: u64) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(s.server.path(&format!("bkt/{key}")))
        .unwrap()
        .ino()
        == inode
}

/// Parts of one length (the stride) and a shorter last one, sent in any
/// order: each written at its place in the upload's data file, so the
/// completion renames that file onto the object (the short last part,
/// which came first and so could not be placed, copied in).
#[test]
fn parts_in_any_order_complete_in_place() {
    let s = owner();
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    let data: Vec<Vec<u8>> = (1..=3).map(|n| support::pattern(5 * MIB, n)).collect();
    let last = support::pattern(1234, 4);
    let e4 = put_part(&s, me, "k", &id, 4, &last);
    let e2 = put_part(&s, me, "k", &id, 2, &data[1]);
    let e3 = put_part(&s, me, "k", &id, 3, &data[2]);
    let e1 = put_part(&s, me, "k", &id, 1, &data[0]);
    // Parts in place are records, not copies.
    let record = std::fs::metadata(s.server.path(&format!(".ferry-uploads/{id}.parts/2")));
    assert_eq!(record.unwrap().len(), 40);
    let listed = list_parts(&s, me, "k", &id);
    assert_eq!(texts(&listed.body, "PartNumber"), ["1", "2", "3", "4"]);
    assert_eq!(
        texts(&listed.body, "ETag"),
        [e1.as_str(), e2.as_str(), e3.as_str(), e4.as_str()]
    );
    let sizes = texts(&listed.body, "Size");
    assert_eq!(
        sizes,
        [
            (5 * MIB).to_string(),
            (5 * MIB).to_string(),
            (5 * MIB).to_string(),
            "1234".into()
        ]
    );
    let inode = data_inode(&s, &id);
    let body = completion(&[(1, &e1), (2, &e2), (3, &e3), (4, &e4)]);
    completes(&s, (me, "k", &id), &body, &[data.concat(), last].concat());
    assert!(is_data_file(&s, "k", inode), "the parts were copied");
    assert_eq!(staged(&s), Vec::<String>::new());
}

/// Parts sent at once, on connections of their own, land in their places.
#[test]
fn concurrent_parts_complete_in_place() {
    let s = owner();
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    let data: Vec<Vec<u8>> = (1..=6)
        .map(|n| support::pattern(if n == 6 { 777 } else { 5 * MIB }, n))
        .collect();
    // Part 1 first, so that the stride is known when the others race.
    let mut etags = vec![put_part(&s, me, "k", &id, 1, &data[0])];
    let (addr, id_ref) = (s.s3, id.as_str());
    let sent: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (2..=6u32)
            .map(|n| {
                let (me, part) = (me.clone(), &data[n as usize - 1]);
                scope.spawn(move || {
                    let number = n.to_string();
                    let query = [("partNumber", number.as_str()), ("uploadId", id_ref)];
                    let answer =
                        me.send(addr, "PUT", ("/bkt/k", &query), &[], part, Payload::Signed);
                    assert_eq!(answer.status, 200);
                    answer.header("ETag").unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    etags.extend(sent);
    let listed: Vec<(u32, &str)> = (1..=6).zip(etags.iter().map(String::as_str)).collect();
    let inode = data_inode(&s, &id);
    completes(&s, (me, "k", &id), &completion(&listed), &data.concat());
    assert!(is_data_file(&s, "k", inode), "the parts were copied");
}

/// A part sent again while its place holds an acknowledged part is staged
/// apart (the old one stays whole until the new one is), and copied into
/// its place by the completion; its old ETag no longer completes.
#[test]
fn a_part_sent_again_with_other_bytes_replaces_the_one_in_place() {
    let s = owner();
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    let (one, two) = (support::pattern(5 * MIB, 1), support::pattern(99, 2));
    let old = put_part(&s, me, "k", &id, 1, &one);
    let e2 = put_part(&s, me, "k", &id, 2, &two);
    let again = support::pattern(5 * MIB, 3);
    let e1 = put_part(&s, me, "k", &id, 1, &again);
    assert_ne!(old, e1);
    let listed = list_parts(&s, me, "k", &id);
    assert_eq!(texts(&listed.body, "ETag"), [e1.as_str(), e2.as_str()]);
    let stale = complete(&s, me, "k", &id, &completion(&[(1, &old), (2, &e2)]));
    assert_eq!(code(&stale), "InvalidPart");
    let inode = data_inode(&s, &id);
    completes(
        &s,
        (me, "k", &id),
        &completion(&[(1, &e1), (2, &e2)]),
        &[again, two].concat(),
    );
    assert!(
        is_data_file(&s, "k", inode),
        "copied more than the part sent again"
    );
}

/// Parts whose places do not make the object (a middle part shorter than
/// the first, one longer, or a gap in the numbers) are assembled into a
/// new file, as before; the object is right either way.
#[test]
fn parts_out_of_their_places_are_assembled_apart() {
    let s = owner();
    let me = &s.signers[0];
    // A middle part shorter than the stride, then one longer.
    for (key, sizes) in [
        ("short", [6 * MIB, 5 * MIB, 6 * MIB]),
        ("long", [5 * MIB, 6 * MIB, 10]),
    ] {
        let id = begin(&s, me, key);
        let data: Vec<Vec<u8>> = (0..3)
            .map(|n| support::pattern(sizes[n], n as u64 + 1))
            .collect();
        let etags: Vec<String> = (0..3)
            .map(|n| put_part(&s, me, key, &id, n as u32 + 1, &data[n]))
            .collect();
        let inode = data_inode(&s, &id);
        let listed = [
            (1, etags[0].as_str()),
            (2, etags[1].as_str()),
            (3, etags[2].as_str()),
        ];
        completes(&s, (me, key, &id), &completion(&listed), &data.concat());
        assert!(!is_data_file(&s, key, inode), "{key}: in place?");
    }
    assert_eq!(staged(&s), Vec::<String>::new());
}

/// A completion with some of the parts: with a gap it is assembled
/// apart; without one, a part in place beyond the object's end would be
/// cut off by completing in place (and lost, were the completion to fail
/// after), so that too is assembled apart. Unlisted parts go with the
/// upload either way.
#[test]
fn a_completion_with_some_of_the_parts() {
    let s = owner();
    let me = &s.signers[0];
    for (key, chosen) in [("gap", [1u32, 3]), ("first", [1, 2])] {
        let id = begin(&s, me, key);
        let data: Vec<Vec<u8>> = (1..=3).map(|n| support::pattern(5 * MIB, n)).collect();
        let etags: Vec<String> = (1..=3)
            .map(|n| put_part(&s, me, key, &id, n, &data[n as usize - 1]))
            .collect();
        let listed: Vec<(u32, &str)> = chosen
            .iter()
            .map(|&n| (n, etags[n as usize - 1].as_str()))
            .collect();
        let whole: Vec<u8> = chosen
            .iter()
            .flat_map(|&n| data[n as usize - 1].clone())
            .collect();
        completes(&s, (me, key, &id), &completion(&listed), &whole);
    }
    assert_eq!(staged(&s), Vec::<String>::new());
}

/// Aborting an upload whose parts are in place removes them all.
#[test]
fn an_abort_removes_the_parts_in_place() {
    let s = owner();
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    put_part(&s, me, "k", &id, 2, &support::pattern(5 * MIB, 2));
    put_part(&s, me, "k", &id, 1, &support::pattern(5 * MIB, 1));
    let query = [("uploadId", id.as_str())];
    let aborted = me.send(
        s.s3,
        "DELETE",
        ("/bkt/k", &query),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!(aborted.status, 204);
    assert_eq!(staged(&s), Vec::<String>::new());
    assert!(!s.server.path("bkt/k").exists());
}

#[test]
fn ferry_session_verbs_cannot_append_to_or_commit_a_multipart_upload() {
    let s = owner();
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    let one = support::pattern(5 * MIB, 4);
    let e1 = put_part(&s, me, "k", &id, 1, &one);
    // The same id through FERRY/1, by a holder who may write `bkt/k`: its
    // data file holds parts in their places, which only the S3 completion
    // makes an object; to the session verbs it is no upload of theirs.
    let mut raw = s.server.raw();
    raw.send(format!("AUTH {}\n", s.tokens[0]));
    assert_eq!(raw.line(), "OK owner");
    raw.send(format!("COMMIT {id}\n"));
    assert_eq!(raw.line(), "ERR 404 no such upload");
    raw.send(format!("APPEND {id} 0 3\nabc"));
    assert_eq!(raw.line(), "ERR 404 no such upload");
    assert!(!s.server.path("bkt/k").exists(), "nothing published");
    // The upload is untouched: it completes with its part.
    completes(&s, (me, "k", &id), &completion(&[(1, &e1)]), &one);
}

/// A GetObject or HeadObject of one part (`partNumber`, as the AWS SDKs'
/// multipart downloads ask): that part's bytes, 206 with its range, and
/// the count of parts; a number beyond them 400 `InvalidPart`; a Range
/// with it 400. GetObjectAttributes lists the parts by page, with the
/// ETag and size (ceph's `test_multipart_get_part`,
/// `test_get_paginated_multipart_object_attributes`).
#[test]
fn an_object_made_of_parts_is_read_and_described_part_by_part() {
    let s = owner();
    let me = &s.signers[0];
    let id = begin(&s, me, "k");
    let sizes = [5 * MIB, 5 * MIB, 5 * MIB, MIB];
    let data: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, size)| support::pattern(*size, i as u64 + 7))
        .collect();
    let etags: Vec<String> = (1..=4)
        .map(|n| put_part(&s, me, "k", &id, n, &data[n as usize - 1]))
        .collect();
    let listed: Vec<(u32, &str)> = (1..=4)
        .map(|n| (n, etags[n as usize - 1].as_str()))
        .collect();
    let done = complete(&s, me, "k", &id, &completion(&listed));
    assert_eq!(done.status, 200);
    let etag = texts(&done.body, "ETag").pop().unwrap();
    let get = |number: &str, extra: &[(&str, &str)]| {
        me.send(
            s.s3,
            "GET",
            ("/bkt/k", &[("partNumber", number)]),
            extra,
            b"",
            Payload::Signed,
        )
    };
    let mut start = 0;
    for (n, part) in data.iter().enumerate() {
        let answer = get(&(n + 1).to_string(), &[]);
        assert_eq!(answer.status, 206, "{}", answer.head);
        assert_eq!(answer.body, *part, "part {}", n + 1);
        assert_eq!(answer.header("x-amz-mp-parts-count"), Some("4"));
        assert_eq!(answer.header("ETag"), Some(etag.as_str()));
        let range = format!("bytes {start}-{}/{}", start + part.len() - 1, 16 * MIB);
        assert_eq!(answer.header("Content-Range"), Some(range.as_str()));
        start += part.len();
    }
    let head = me.send(
        s.s3,
        "HEAD",
        ("/bkt/k", &[("partNumber", "4")]),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!(
        head.header("Content-Length"),
        Some(MIB.to_string().as_str())
    );
    let beyond = get("5", &[]);
    assert_eq!((beyond.status, code(&beyond)), (400, "InvalidPart".into()));
    let both = get("1", &[("Range", "bytes=0-1")]);
    assert_eq!(both.status, 400, "{}", both.head);
    let plain = me.simple(s.s3, "GET", "/bkt/k", b"");
    assert_eq!(plain.header("x-amz-mp-parts-count"), None);

    let attributes = |extra: &[(&str, &str)]| {
        let fields = [
            &[(
                "x-amz-object-attributes",
                "ETag,ObjectParts,StorageClass,ObjectSize",
            )][..],
            extra,
        ]
        .concat();
        me.send(
            s.s3,
            "GET",
            ("/bkt/k", &[("attributes", "")]),
            &fields,
            b"",
            Payload::Signed,
        )
    };
    let all = attributes(&[]);
    assert_eq!(all.status, 200, "{}", String::from_utf8_lossy(&all.body));
    assert_eq!(texts(&all.body, "ETag"), [etag.trim_matches('"')]);
    assert_eq!(texts(&all.body, "ObjectSize"), [(16 * MIB).to_string()]);
    assert_eq!(texts(&all.body, "PartsCount"), ["4"]);
    assert_eq!(texts(&all.body, "PartNumber"), ["1", "2", "3", "4"]);
    assert_eq!(texts(&all.body, "IsTruncated"), ["false"]);
    let page = attributes(&[("x-amz-max-parts", "1"), ("x-amz-part-number-marker", "2")]);
    assert_eq!(texts(&page.body, "PartNumber"), ["3"]);
    assert_eq!(texts(&page.body, "Size"), [(5 * MIB).to_string()]);
    assert_eq!(texts(&page.body, "NextPartNumberMarker"), ["3"]);
    assert_eq!(texts(&page.body, "IsTruncated"), ["true"]);
}

/// The disk reserve (`--min-free`; every protocol's in
/// tests/storage/reserve.rs) through S3: an UploadPart or a PutObject
/// that would eat into it is `507 InsufficientStorage` (a retryable
/// server error to S3's clients) and stores nothing; the upload stays,
/// to go on once room is made.
#[test]
fn writes_into_the_disk_reserve_are_insufficient_storage() {
    let s = S3Server::start_with(&[("owner", support::s3::ALL)], &[], |c| {
        c.min_free = ferry::config::MinFree::Bytes(u64::MAX / 2);
    });
    let me = &s.signers[0];
    // A bucket and an upload hold no bytes: they are made.
    let id = begin(&s, me, "big");
    let part = part_answer(&s, me, "big", &id, 1, b"part", &[]);
    assert_eq!(part.status, 507, "{}", part.head);
    assert_eq!(code(&part), "InsufficientStorage");
    let put = me.simple(s.s3, "PUT", "/bkt/obj", b"hello");
    assert_eq!(put.status, 507, "{}", put.head);
    assert_eq!(code(&put), "InsufficientStorage");
    let listed = me.send(
        s.s3,
        "GET",
        ("/bkt/big", &[("uploadId", &id)]),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!(listed.status, 200, "{}", listed.head);
    assert!(texts(&listed.body, "PartNumber").is_empty());
    assert!(!s.server.path("bkt/obj").exists());
}

/// Quotas (tests/storage/quotas.rs for every protocol) through S3: a
/// PutObject past the bucket folder's quota is `403 QuotaExceeded` (final:
/// SDKs do not retry it) and stores nothing; parts count as they are
/// staged (a part sent again in place of the old one's bytes); a
/// completion past the quota is refused too, and the upload stays, to
/// complete once room is made; an aborted upload's parts free their room.
#[test]
fn writes_past_a_quota_are_quota_exceeded_and_a_completion_waits_for_room() {
    let s = S3Server::start_with(&[("owner", support::s3::ALL)], &[], |c| {
        c.quotas = vec![ferry::access::quota::FolderQuota::parse("bkt/=20,files=2").unwrap()];
    });
    let me = &s.signers[0];
    let id = begin(&s, me, "big");
    put_part(&s, me, "big", &id, 1, b"8 bytes!");
    let etag = put_part(&s, me, "big", &id, 1, b"8 bytes!");
    let over = me.simple(s.s3, "PUT", "/bkt/obj", b"thirteen byte");
    assert_eq!(over.status, 403, "{}", over.head);
    assert_eq!(code(&over), "QuotaExceeded");
    assert!(!s.server.path("bkt/obj").exists());
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/small", b"five!").status, 200);
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/one", b"1").status, 200);
    // Its bytes are in (staged); the file it makes is one too many.
    let body = completion(&[(1, &etag)]);
    let refused = complete(&s, me, "big", &id, &body);
    assert_eq!(refused.status, 403, "{}", refused.head);
    assert_eq!(code(&refused), "QuotaExceeded");
    assert!(!s.server.path("bkt/big").exists());
    for key in ["/bkt/small", "/bkt/one"] {
        assert_eq!(me.simple(s.s3, "DELETE", key, b"").status, 204);
    }
    completes(&s, (me, "big", &id), &body, b"8 bytes!");

    let id = begin(&s, me, "other");
    put_part(&s, me, "other", &id, 1, b"twelve bytes");
    let over = me.simple(s.s3, "PUT", "/bkt/obj", b"1");
    assert_eq!(code(&over), "QuotaExceeded");
    let query = [("uploadId", id.as_str())];
    let abort = me.send(
        s.s3,
        "DELETE",
        ("/bkt/other", &query),
        &[],
        b"",
        Payload::Signed,
    );
    assert_eq!(abort.status, 204);
    let room = me.simple(s.s3, "PUT", "/bkt/obj", b"twelve bytes");
    assert_eq!(room.status, 200, "{}", room.head);
}

/// A completion from fewer parts than were staged frees the rest: the
/// parts left out go with the upload, and their bytes with them.
#[test]
fn a_completion_from_fewer_parts_frees_the_rest_of_the_quota() {
    let s = S3Server::start_with(&[("owner", support::s3::ALL)], &[], |c| {
        c.quotas = vec![ferry::access::quota::FolderQuota::parse("bkt/=20").unwrap()];
    });
    let me = &s.signers[0];
    let id = begin(&s, me, "big");
    let first = put_part(&s, me, "big", &id, 1, b"8 bytes!");
    put_part(&s, me, "big", &id, 2, b"twelve bytes");
    // Staged, both count: the quota is full.
    let over = me.simple(s.s3, "PUT", "/bkt/obj", b"1");
    assert_eq!(code(&over), "QuotaExceeded");
    completes(
        &s,
        (me, "big", &id),
        &completion(&[(1, &first)]),
        b"8 bytes!",
    );
    let room = me.simple(s.s3, "PUT", "/bkt/obj", b"twelve bytes");
    assert_eq!(room.status, 200, "{}", room.head);
    let over = me.simple(s.s3, "PUT", "/bkt/more", b"1");
    assert_eq!(code(&over), "QuotaExceeded", "counted once: 8 + 12");
}

/// Parts of two uploads sent side by side, each within the quota alone:
/// the second is refused while the first is on its way, its bytes
/// counted before they arrive (issue 75: each was judged by what was
/// staged before it began, and both were staged, past the quota).
#[test]
fn parts_side_by_side_cannot_together_stage_past_a_quota() {
    let s = S3Server::start_with(&[("owner", support::s3::ALL)], &[], |c| {
        c.quotas = vec![ferry::access::quota::FolderQuota::parse("bkt/=20").unwrap()];
    });
    let me = &s.signers[0];
    let (first, second) = (begin(&s, me, "one"), begin(&s, me, "two"));
    let body = b"twelve bytes";
    let query = [("partNumber", "1"), ("uploadId", first.as_str())];
    let (target, lines) = me.signed("PUT", ("/bkt/one", &query), &[], body, Payload::Signed);
    let mut on_its_way = TcpStream::connect(s.s3).unwrap();
    let head = format!(
        "PUT {target} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n{lines}\r\n",
        body.len()
    );
    on_its_way.write_all(head.as_bytes()).unwrap();
    on_its_way.write_all(&body[..1]).unwrap();
    // Its 12 bytes counted before they arrive (DF tells the ledger).
    let mut raw = s.server.raw();
    raw.send(format!("AUTH {}\n", s.tokens[0]));
    assert!(raw.line().starts_with("OK"));
    let deadline = std::time::Instant::now() + support::PATIENCE;
    loop {
        raw.send("DF bkt\n");
        if raw.line().split(' ').nth(2) == Some("12") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never counted ahead");
        std::thread::sleep(Duration::from_millis(2));
    }
    let refused = part_answer(&s, me, "two", &second, 1, body, &[]);
    assert_eq!(refused.status, 403, "{}", refused.head);
    assert_eq!(code(&refused), "QuotaExceeded");
    on_its_way.write_all(&body[1..]).unwrap();
    let answer = support::http::read_answer(&mut on_its_way);
    assert_eq!(answer.status, 200, "{}", answer.head);
    let over = me.simple(s.s3, "PUT", "/bkt/obj", b"nine byte");
    assert_eq!(code(&over), "QuotaExceeded", "12 staged: 8 left");
}

/// A multipart upload is the token's that began it: another token that may
/// write the key stages no part of it and completes it not (its parts
/// count in the first token's account, judged against that token's
/// quota); the first token goes on with it.
#[test]
fn another_token_neither_stages_parts_of_an_upload_nor_completes_it() {
    let s = S3Server::start(&[("owner", ALL), ("other", &["read:/", "write:/"])], &[]);
    let (me, other) = (&s.signers[0], &s.signers[1]);
    let id = begin(&s, me, "obj");
    let first = put_part(&s, me, "obj", &id, 1, b"first part");
    let refused = part_answer(&s, other, "obj", &id, 2, b"theirs", &[]);
    assert_eq!(refused.status, 403, "{}", refused.head);
    assert_eq!(code(&refused), "AccessDenied");
    let refused = complete(&s, other, "obj", &id, &completion(&[(1, &first)]));
    assert_eq!(refused.status, 403, "{}", refused.head);
    assert!(!s.server.path("bkt/obj").exists());
    completes(
        &s,
        (me, "obj", &id),
        &completion(&[(1, &first)]),
        b"first part",
    );
}
