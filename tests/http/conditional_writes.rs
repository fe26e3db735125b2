//! Conditional writes over real sockets: `If-None-Match: *` (create,
//! never replace) and `If-Match` on an HTTP (and so WebDAV) `PUT` and
//! `DELETE`, and S3's conditional PutObject. A condition that does not
//! hold is `412` and leaves the file as it was; one that held before the
//! body but not at its end (another upload took the name meanwhile) is
//! `412` too, and the other upload's file stays.

use crate::support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use ferry::storage::gate::{Gate, Point};

use support::TestServer;
use support::http::{Answer, exchange};
#[cfg(feature = "s3")]
use support::s3::{Payload, code};

const HOST: &str = "Host: localhost\r\n";

fn put(server: &TestServer, path: &str, extra: &str, body: &[u8]) -> Answer {
    exchange(
        server.http.unwrap(),
        "PUT",
        path,
        &format!("{HOST}{extra}"),
        body,
    )
}

/// `DELETE path` with the header line `condition`: its status.
fn delete(server: &TestServer, path: &str, condition: &str) -> u16 {
    let head = format!("{HOST}{condition}\r\n");
    exchange(server.http.unwrap(), "DELETE", path, &head, b"").status
}

/// File `path` stored, its tag read, then stored again by somebody else:
/// the tag, now stale.
fn superseded(server: &TestServer, path: &str) -> String {
    put(server, path, "", b"one");
    let seen = etag(server, path);
    put(server, path, "", b"two");
    seen
}

/// The file's entity tag, from a `HEAD`.
fn etag(server: &TestServer, path: &str) -> String {
    let head = exchange(server.http.unwrap(), "HEAD", path, HOST, b"");
    assert_eq!(head.status, 200, "{}", head.head);
    head.header("ETag").unwrap().to_owned()
}

#[test]
fn if_none_match_star_creates_and_never_replaces() {
    let server = TestServer::start_http();
    let made = put(&server, "/lock", "If-None-Match: *\r\n", b"mine");
    assert!(made.status == 201 || made.status == 204, "{}", made.head);
    let again = put(&server, "/lock", "If-None-Match: *\r\n", b"yours");
    assert_eq!(again.status, 412, "{}", again.head);
    assert_eq!(std::fs::read(server.path("lock")).unwrap(), b"mine");
    // Without the condition the same PUT replaces, as before.
    assert_eq!(put(&server, "/lock", "", b"plain").status, 204);
    assert_eq!(std::fs::read(server.path("lock")).unwrap(), b"plain");
}

#[test]
fn if_match_writes_only_over_the_version_named() {
    let server = TestServer::start_http();
    let seen = superseded(&server, "/doc");
    let stale = put(&server, "/doc", &format!("If-Match: {seen}\r\n"), b"three");
    assert_eq!(stale.status, 412, "{}", stale.head);
    assert_eq!(std::fs::read(server.path("doc")).unwrap(), b"two");
    let current = etag(&server, "/doc");
    let fresh = put(
        &server,
        "/doc",
        &format!("If-Match: \"other\", {current}\r\n"),
        b"three",
    );
    assert_eq!(fresh.status, 204, "{}", fresh.head);
    assert_eq!(std::fs::read(server.path("doc")).unwrap(), b"three");
    // Compared strongly: a weak tag never matches.
    let now = etag(&server, "/doc");
    let weak = put(&server, "/doc", &format!("If-Match: W/{now}\r\n"), b"four");
    assert_eq!(weak.status, 412, "{}", weak.head);
    // `*`: only over a file that exists.
    let absent = put(&server, "/new", "If-Match: *\r\n", b"x");
    assert_eq!(absent.status, 412, "{}", absent.head);
    assert!(!server.path("new").exists());
    assert_eq!(put(&server, "/doc", "If-Match: *\r\n", b"five").status, 204);
}

/// A PUT answers the new version's `ETag`, the one a `HEAD` then gives,
/// so a client writing with `If-Match` chains its writes on it (a `HEAD`
/// after the `PUT` could see another writer's version instead).
#[test]
fn a_put_answers_the_tag_of_the_version_it_stored() {
    let server = TestServer::start_http();
    for (path, extra) in [("/a", ""), ("/b", "X-Ferry-Mtime: 1700000000\r\n")] {
        let made = put(&server, path, extra, b"one");
        let tag = made.header("ETag").unwrap().to_owned();
        assert_eq!(tag, etag(&server, path), "{path}");
        let next = put(&server, path, &format!("If-Match: {tag}\r\n"), b"two");
        assert_eq!(next.status, 204, "{}", next.head);
        let newer = next.header("ETag").unwrap().to_owned();
        assert_ne!(newer, tag);
        assert_eq!(newer, etag(&server, path), "{path}");
    }
}

#[test]
fn a_delete_with_a_stale_tag_removes_nothing() {
    let server = TestServer::start_http();
    let seen = superseded(&server, "/doc");
    assert_eq!(delete(&server, "/doc", &format!("If-Match: {seen}")), 412);
    assert!(server.path("doc").exists());
    let current = etag(&server, "/doc");
    assert_eq!(
        delete(&server, "/doc", &format!("If-Match: {current}")),
        204
    );
    assert!(!server.path("doc").exists());
    // A folder is something that has the name, for `*` on both fields.
    put(&server, "/dir/f", "", b"f");
    assert_eq!(delete(&server, "/dir/", "If-None-Match: *"), 412);
    assert!(server.path("dir/f").exists());
    assert_eq!(delete(&server, "/dir/", "If-Match: *"), 204);
    assert!(!server.path("dir").exists());
}

#[test]
fn malformed_preconditions_are_refused_and_a_get_keeps_its_own() {
    let server = TestServer::start_http();
    let bad = put(&server, "/f", "If-Match: abc\r\n", b"x");
    assert_eq!(bad.status, 400, "{}", bad.head);
    assert!(!server.path("f").exists());
    put(&server, "/f", "", b"x");
    // On a GET, If-None-Match is a cache's question: 304, not 412.
    let tag = etag(&server, "/f");
    let cached = exchange(
        server.http.unwrap(),
        "GET",
        "/f",
        &format!("{HOST}If-None-Match: {tag}\r\n"),
        b"",
    );
    assert_eq!(cached.status, 304, "{}", cached.head);
}

/// A server whose uploads are held where their temp file is made: after
/// their conditions were judged the first time.
fn held(durable: bool) -> (TestServer, Arc<Gate>) {
    let gate = Arc::new(Gate::new(Point::Create));
    let server = TestServer::start_with(|config| {
        support::listen_http(config);
        config.fsync = durable;
        config.gate = Some(Arc::clone(&gate));
    });
    (server, gate)
}

/// A PUT of `path` with the header line `condition` whose 8-byte body has
/// come halfway.
fn half_sent(server: &TestServer, path: &str, condition: &str) -> TcpStream {
    let mut slow = TcpStream::connect(server.http.unwrap()).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!("PUT {path} HTTP/1.1\r\n{HOST}{condition}\r\nContent-Length: 8\r\n\r\n");
    slow.write_all(format!("{head}slow").as_bytes()).unwrap();
    slow
}

/// The rest of [`half_sent`]'s body, and its answer's status line start.
fn finish(mut slow: TcpStream) -> String {
    slow.write_all(b"body").unwrap();
    status_of(slow)
}

/// The start of the status line `slow` is answered.
fn status_of(mut slow: TcpStream) -> String {
    let mut answer = [0u8; 12];
    slow.read_exact(&mut answer).unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// A durable `If-Match` upload is judged once more after its bytes are
/// flushed, just before its rename: a version stored while it landed (a
/// flush is long enough for another writer) wins, 412.
#[test]
fn a_version_replaced_while_a_durable_put_lands_fails_its_if_match() {
    let gate = Arc::new(Gate::new(Point::Commit));
    let server = TestServer::start_with(|config| {
        support::listen_http(config);
        config.fsync = true;
        config.gate = Some(Arc::clone(&gate));
    });
    gate.let_one_go();
    assert_eq!(put(&server, "/doc", "", b"one").status, 201);
    let seen = etag(&server, "/doc");
    let mut slow = half_sent(&server, "/doc", &format!("If-Match: {seen}"));
    slow.write_all(b"body").unwrap();
    // Judged, then held where it lands (before its bytes' flush).
    gate.wait_for_arrivals(2);
    let other = server.path("other");
    std::fs::write(&other, b"two").unwrap();
    std::fs::rename(&other, server.path("doc")).unwrap();
    gate.open();
    assert_eq!(status_of(slow), "HTTP/1.1 412");
    assert_eq!(std::fs::read(server.path("doc")).unwrap(), b"two");
    assert_eq!(support::entries(&server.path("")), ["doc"]);
}

/// The condition held when the body began; by its end another upload had
/// stored the name. The rename never replaces: 412, and the other file
/// stays. With durable acknowledgements too (the group commit's rename).
#[test]
fn a_file_stored_while_the_body_arrived_wins_over_a_create_only_put() {
    for durable in [false, true] {
        let (server, gate) = held(durable);
        let slow = half_sent(&server, "/lock", "If-None-Match: *");
        gate.wait_for_arrivals(1);
        gate.open();
        assert_eq!(put(&server, "/lock", "", b"fast").status, 201);
        assert_eq!(finish(slow), "HTTP/1.1 412", "durable {durable}");
        assert_eq!(std::fs::read(server.path("lock")).unwrap(), b"fast");
        // The refused upload's temp file went with it.
        let left = support::entries(&server.path(""));
        assert_eq!(left, ["lock"], "durable {durable}");
    }
}

/// An `If-Match` upload whose version was replaced while its body arrived
/// is judged again before its rename: 412, and the new version stays.
#[test]
fn a_version_replaced_while_the_body_arrived_fails_an_if_match_put() {
    let (server, gate) = held(false);
    gate.let_one_go();
    assert_eq!(put(&server, "/doc", "", b"one").status, 201);
    let seen = etag(&server, "/doc");
    let slow = half_sent(&server, "/doc", &format!("If-Match: {seen}"));
    gate.wait_for_arrivals(2);
    gate.open();
    assert_eq!(put(&server, "/doc", "", b"two").status, 204);
    assert_eq!(finish(slow), "HTTP/1.1 412");
    assert_eq!(std::fs::read(server.path("doc")).unwrap(), b"two");
}

#[cfg(feature = "s3")]
#[test]
fn s3_put_object_is_conditional_as_s3_makes_it() {
    let s = support::s3::owner();
    let me = &s.signers[0];
    let put = |key: &str, extra: &[(&str, &str)], body: &[u8]| {
        me.send(s.s3, "PUT", (key, &[]), extra, body, Payload::Signed)
    };
    let made = put("/bkt/state.lock", &[("If-None-Match", "*")], b"held");
    assert_eq!(made.status, 200, "{}", String::from_utf8_lossy(&made.body));
    let taken = put("/bkt/state.lock", &[("If-None-Match", "*")], b"mine too");
    assert_eq!(taken.status, 412);
    assert_eq!(code(&taken), "PreconditionFailed");
    assert_eq!(
        std::fs::read(s.server.path("bkt/state.lock")).unwrap(),
        b"held"
    );
    // If-Match against the object's ETag (its MD5).
    let tag = made.header("ETag").unwrap().to_owned();
    let over = put("/bkt/state.lock", &[("If-Match", &tag)], b"next");
    assert_eq!(over.status, 200, "{}", String::from_utf8_lossy(&over.body));
    let stale = put("/bkt/state.lock", &[("If-Match", &tag)], b"late");
    assert_eq!(code(&stale), "PreconditionFailed");
    assert_eq!(
        std::fs::read(s.server.path("bkt/state.lock")).unwrap(),
        b"next"
    );
    // If-None-Match with a tag, as RGW takes it (ceph's
    // `test_put_object_if_match`): refused where the object has it,
    // written where it has another; a tag may come without quotes.
    let next_tag = over.header("ETag").unwrap().to_owned();
    let same = put("/bkt/state.lock", &[("If-None-Match", &next_tag)], b"x");
    assert_eq!(
        (same.status, code(&same)),
        (412, "PreconditionFailed".into())
    );
    let other = put("/bkt/state.lock", &[("If-None-Match", "badetag")], b"y");
    assert_eq!(other.status, 200, "{}", other.head);
    let bare = other.header("ETag").unwrap().trim_matches('"').to_owned();
    assert_eq!(
        put("/bkt/state.lock", &[("If-Match", &bare)], b"z").status,
        200
    );
    // If-Match on a key nothing has: 404 NoSuchKey, as S3, nothing made.
    for tag in ["*", "\"abc\""] {
        let absent = put("/bkt/none", &[("If-Match", tag)], b"x");
        assert_eq!((absent.status, code(&absent)), (404, "NoSuchKey".into()));
    }
    assert!(!s.server.path("bkt/none").exists());
}
