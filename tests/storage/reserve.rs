//! The disk reserve (`--min-free`): a write that would leave the root's
//! file system with less free is refused with 507 before its bytes are
//! taken, through every protocol's write, and nothing of it is stored;
//! reads and deletes go on; a resumable upload refused for room goes on
//! once there is room. (S3's writes: `tests/s3/objects.rs`. Where exactly
//! the line falls: the unit tests of `serve::fits_above`.)

use crate::support;

use ferry::config::{Config, MinFree};
use support::http::exchange;
use support::{TestServer, crc_hex, listen_http, pattern};

/// More than any disk: every write is into the reserve.
const ALL_OF_IT: MinFree = MinFree::Bytes(u64::MAX / 2);

fn reserving(config: &mut Config) {
    listen_http(config);
    config.min_free = ALL_OF_IT;
}

#[test]
fn every_protocols_write_into_the_reserve_is_refused_and_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("kept"), b"kept bytes").unwrap();
    let server = TestServer::start_in(root, reserving);
    let http = server.http.unwrap();

    let mut raw = server.raw();
    raw.send("PUT new 5\nhello");
    let refused = raw.line();
    assert!(refused.starts_with("ERR 507 no room"), "{refused}");
    // The small body was skipped: the connection goes on.
    raw.send("STAT kept\n");
    assert!(raw.line().starts_with("OK 10 "));
    raw.send(format!("UPLOAD big 5 {}\n", crc_hex(b"hello")));
    assert!(raw.line().starts_with("ERR 507 "));
    raw.send("SESSIONS\n");
    assert_eq!(raw.line(), "OK 0", "a refused UPLOAD leaves no session");

    let host = format!("Host: {http}\r\n");
    let put = exchange(http, "PUT", "/new", &host, b"hello");
    assert_eq!(put.status, 507, "{}", put.head);
    let copy = exchange(
        http,
        "COPY",
        "/kept",
        &format!("{host}Destination: /copy\r\n"),
        b"",
    );
    assert_eq!(copy.status, 507, "{}", copy.head);
    let tus = exchange(
        http,
        "POST",
        "/",
        // The filename `x`, in base64.
        &format!(
            "{host}Tus-Resumable: 1.0.0\r\nUpload-Length: 5\r\nUpload-Metadata: filename eA==\r\n"
        ),
        b"",
    );
    assert_eq!(tus.status, 507, "{}", tus.head);
    assert_eq!(server.settled_files_on_disk(), ["kept"]);

    // Reads and deletes need no room.
    let got = exchange(http, "GET", "/kept", &host, b"");
    assert_eq!((got.status, got.body.as_slice()), (200, &b"kept bytes"[..]));
    raw.send("DEL kept\n");
    assert_eq!(raw.line(), "OK");
    assert!(server.settled_files_on_disk().is_empty());
}

#[test]
fn a_streamed_put_of_a_length_to_come_is_refused_before_its_body() {
    let server = TestServer::start_with(reserving);
    let mut raw = server.raw();
    raw.send("PUT new * -\n");
    assert!(raw.line().starts_with("ERR 507 "));
    let http = server.http.unwrap();
    let chunked = exchange(
        http,
        "PUT",
        "/new",
        &format!("Host: {http}\r\nTransfer-Encoding: chunked\r\n"),
        b"",
    );
    assert_eq!(chunked.status, 507, "{}", chunked.head);
    assert!(server.settled_files_on_disk().is_empty());
}

/// Stops `server` and starts another on its root with `min_free`.
fn restart(mut server: TestServer, min_free: MinFree) -> TestServer {
    server.handle().shutdown();
    server.wait_for_exit().unwrap();
    let root = std::mem::replace(&mut server.root, tempfile::tempdir().unwrap());
    TestServer::start_in(root, |c| c.min_free = min_free)
}

#[test]
fn a_resumable_upload_refused_for_room_goes_on_once_there_is_room() {
    let data = pattern(64 << 10, 5);
    let crc = crc_hex(&data);
    let half = data.len() / 2;
    let server = TestServer::start_with(|c| c.min_free = MinFree::Bytes(0));
    let (id, _) = support::upload(&mut server.raw(), "big", &data);
    let staged = support::append(&mut server.raw(), &id, 0, &data[..half]);
    assert_eq!(staged, format!("OK {half}"));

    // The disk is "full" now: the session is neither lost nor grown.
    let server = restart(server, ALL_OF_IT);
    let mut raw = server.raw();
    let refused = support::append(&mut raw, &id, half, &data[half..]);
    assert!(refused.starts_with("ERR 507 "), "{refused}");
    raw.send(format!("UPLOAD big {} {crc}\n", data.len()));
    assert!(raw.line().starts_with("ERR 507 "));
    raw.send("SESSIONS\n");
    let listed = raw.line();
    let len: usize = listed.strip_prefix("OK ").unwrap().parse().unwrap();
    let sessions = String::from_utf8(raw.bytes(len)).unwrap();
    assert_eq!(
        sessions.lines().count(),
        1,
        "the session with bytes in it stays"
    );
    assert!(sessions.starts_with(&id), "{sessions}");

    // Room again: it goes on where it stood.
    let server = restart(server, MinFree::Bytes(0));
    let mut raw = server.raw();
    raw.send(format!("UPLOAD big {} {crc}\n", data.len()));
    assert_eq!(raw.line(), format!("OK {id} {half}"));
    let staged = support::append(&mut raw, &id, half, &data[half..]);
    assert_eq!(staged, format!("OK {}", data.len()));
    raw.send(format!("COMMIT {id}\n"));
    assert_eq!(raw.line(), format!("OK {} {crc}", data.len()));
    assert_eq!(std::fs::read(server.path("big")).unwrap(), data);
}
