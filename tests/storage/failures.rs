//! Storage failures are server errors (issue 31), over real sockets: when
//! the root's storage fails (an I/O error, or a network file system or
//! FUSE client that lost its server: ENOTCONN, ETIMEDOUT...), FERRY/1
//! answers `ERR 503 storage unavailable (...): try again` and HTTP `503`
//! with `Retry-After`, never a refusal; nothing is stored; the server
//! logs it as a warning and counts it by kind (`ferry_storage_failures_total`);
//! and the client takes it for what passes: it
//! tries again (`put` and `put --resume`, `--retries`) and, when it gives
//! up, exits 3 like any connection failure, not 1 like a refusal.

#[cfg(feature = "client")] // the client's tests
use crate::binary;
use crate::support;

use std::sync::Arc;

use ferry::storage::gate::{Gate, Point};
use rustix::io::Errno;
use support::TestServer;
use support::http::{exchange, metric};

fn failing(point: Point, errno: Errno) -> (TestServer, Arc<Gate>) {
    let gate = Arc::new(Gate::failing(point, errno));
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        c.gate = Some(gate.clone());
        // Bodies written on the pool, where the gate is, on tmpfs too.
        c.pool_writes = ferry::config::PoolWrites::Always;
    });
    (server, gate)
}

#[test]
fn a_failed_upload_is_a_503_to_try_again_on_both_protocols() {
    for errno in [
        Errno::IO,
        Errno::NOTCONN,
        Errno::TIMEDOUT,
        Errno::CONNREFUSED,
    ] {
        let (server, _gate) = failing(Point::Create, errno);
        std::fs::write(server.path("kept.txt"), b"old").unwrap();
        let mut raw = server.raw();
        raw.send("PUT kept.txt 5\nhello");
        let line = raw.line();
        let said = std::io::Error::from(errno).to_string();
        assert_eq!(
            line,
            format!("ERR 503 storage unavailable ({said}): try again"),
            "{errno:?}"
        );
        let answer = exchange(
            server.http.unwrap(),
            "PUT",
            "/kept.txt",
            "Host: localhost\r\n",
            b"hello",
        );
        assert_eq!(answer.status, 503, "{errno:?}: {}", answer.head);
        assert_eq!(answer.header("Retry-After"), Some("1"));
        assert_eq!(std::fs::read(server.path("kept.txt")).unwrap(), b"old");
        assert_eq!(server.settled_files_on_disk(), vec!["kept.txt"]);
    }
}

#[test]
fn a_failed_append_is_a_503_and_so_is_a_record_that_cannot_be_read() {
    let (server, _gate) = failing(Point::Write, Errno::IO);
    let mut raw = server.raw();
    let data = support::pattern(1000, 4);
    let (id, _) = support::upload(&mut raw, "in/f.bin", &data);
    let line = support::append(&mut raw, &id, 0, &data);
    assert!(line.starts_with("ERR 503 "), "{line}");
    assert!(line.contains("storage unavailable"), "{line}");

    let (server, _gate) = failing(Point::ReadSession, Errno::NOTCONN);
    let url = format!("/.ferry-uploads/{id}");
    let tus = "Host: localhost\r\nTus-Resumable: 1.0.0\r\n";
    let answer = exchange(server.http.unwrap(), "HEAD", &url, tus, b"");
    assert_eq!(answer.status, 503, "{}", answer.head);
    assert_eq!(answer.header("Retry-After"), Some("1"));
    // Not the storage's fault: as before.
    let mut raw = server.raw();
    raw.send("GET missing.txt\n");
    let line = raw.line();
    assert!(line.starts_with("ERR 404 "), "{line}");
}

#[cfg(feature = "client")] // runs the client commands
#[test]
fn the_client_tries_again_and_gives_up_as_on_a_lost_connection() {
    let (server, gate) = failing(Point::Write, Errno::NOTCONN);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.bin"), support::pattern(10_000, 3)).unwrap();
    let put = binary::run(
        dir.path(),
        server.addr,
        &[
            "put",
            "--resume",
            "--retries",
            "2",
            "--retry-delay",
            "0.01",
            "f.bin",
            "in/f.bin",
        ],
    );
    let err = binary::stderr(&put);
    assert_eq!(put.status.code(), Some(3), "{err}");
    assert!(err.contains("storage unavailable"), "{err}");
    // The first try and both retries each reached the storage.
    assert!(gate.arrivals() >= 3, "{} tries", gate.arrivals());
    assert!(!server.path("in/f.bin").exists());
}

#[cfg(feature = "client")] // runs the client commands
#[test]
fn a_plain_put_is_sent_again_whole() {
    let (server, gate) = failing(Point::Create, Errno::IO);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.bin"), support::pattern(10_000, 3)).unwrap();
    let put = binary::run(
        dir.path(),
        server.addr,
        &["put", "--retries", "2", "--retry-delay", "0.01", "f.bin"],
    );
    let err = binary::stderr(&put);
    assert_eq!(put.status.code(), Some(3), "{err}");
    assert!(err.contains("storage unavailable"), "{err}");
    assert_eq!(gate.arrivals(), 3, "the first try and two more");
    assert!(!server.path("f.bin").exists());
}

#[test]
fn storage_failures_are_counted_by_kind() {
    let (server, _gate) = failing(Point::Create, Errno::HOSTDOWN);
    let metrics = server.metrics.unwrap();
    let seen = || metric(metrics, "ferry_storage_failures_total{errno=\"EHOSTDOWN\"}");
    // The count is the process's (other tests here fail storage too).
    let before = seen();
    let mut raw = server.raw();
    raw.send("PUT f 1\nx");
    assert!(raw.line().starts_with("ERR 503 storage unavailable"));
    assert!(seen() > before);
    // Every kind is listed, seen or not (`metric` fails on a missing one).
    metric(metrics, "ferry_storage_failures_total{errno=\"EREMOTEIO\"}");
}

/// A root removed under the server (its storage gone) is the server's
/// failure, to be tried again elsewhere: 503, not the 404 a missing name
/// gets (issue 57: a node whose storage vanished told PUTs "not found",
/// and clients did not retry while its health check said 503).
#[test]
fn a_root_removed_under_the_server_answers_503_not_404() {
    let server = TestServer::start_http();
    let addr = server.http.unwrap();
    let put = support::http::exchange(addr, "PUT", "/a/x", "Host: localhost\r\n", b"x");
    assert_eq!(put.status, 201);
    assert_eq!(
        support::http::exchange(addr, "GET", "/nope", "Host: localhost\r\n", b"").status,
        404
    );
    std::fs::remove_dir_all(server.path("")).unwrap();
    for (method, target, body) in [
        ("PUT", "/a/y", "y"),
        ("PUT", "/b/z", "z"),
        ("GET", "/a/x", ""),
    ] {
        let answer =
            support::http::exchange(addr, method, target, "Host: localhost\r\n", body.as_bytes());
        assert_eq!(answer.status, 503, "{method} {target}: {}", answer.head);
        assert_eq!(answer.header("Retry-After"), Some("1"));
    }
    let mut raw = server.raw();
    raw.send("PUT c 1\nc");
    let line = raw.line();
    assert!(line.starts_with("ERR 503 "), "{line}");
}
