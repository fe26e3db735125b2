//! Health checks (issue 31): FERRY/1 `HEALTH` and HTTP `/.ferry-health`
//! say whether the server can serve files, without a token (a balancer
//! has none): ready while its storage answers a probe that writes,
//! flushes and removes a file of its own; `503` with the reason when the
//! storage fails, so the balancer takes the node out. Probes are cached
//! for a second and never run two at once, so checks cost no disk and a
//! storage gone silent holds no more than one I/O thread.

use crate::support;

use std::sync::Arc;

use ferry::storage::gate::{Gate, Point};
use rustix::io::Errno;
use support::TestServer;
use support::http::exchange;
use support::tokens::guarded_with;

const CHECK: &str = "Host: localhost\r\n";

#[test]
fn a_healthy_server_says_ready_on_both_protocols_without_a_token() {
    let (server, _tokens, _dir) = guarded_with(&[("writer", &["write:/"])], &[], |_| {});
    let mut raw = server.raw();
    raw.send("HEALTH\n");
    assert_eq!(raw.line(), "OK");
    let http = server.http.unwrap();
    let answer = exchange(http, "GET", "/.ferry-health", CHECK, b"");
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.body, b"ready\n");
    assert_eq!(answer.header("Cache-Control"), Some("no-store"));
    let head = exchange(http, "HEAD", "/.ferry-health", CHECK, b"");
    assert_eq!((head.status, head.body.len()), (200, 0), "{}", head.head);
    // Any other method there is no check, and the name is no file's.
    let put = exchange(http, "PUT", "/.ferry-health", CHECK, b"x");
    assert_eq!(put.status, 403, "{}", put.head);
    // The probe left nothing behind.
    assert_eq!(server.settled_files_on_disk(), Vec::<String>::new());
}

#[test]
fn a_failing_storage_is_a_503_with_its_reason_and_is_probed_once_a_second() {
    let gate = Arc::new(Gate::failing(Point::Health, Errno::NOTCONN));
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.gate = Some(gate.clone());
    });
    let mut raw = server.raw();
    raw.send("HEALTH\n");
    let line = raw.line();
    assert!(
        line.starts_with("ERR 503 not ready: storage unavailable ("),
        "{line}"
    );
    assert!(line.contains("not connected"), "{line}");
    let answer = exchange(server.http.unwrap(), "GET", "/.ferry-health", CHECK, b"");
    assert_eq!(answer.status, 503, "{}", answer.head);
    assert_eq!(answer.header("Retry-After"), Some("1"));
    // Both checks came within the second one probe's answer stands.
    assert_eq!(gate.arrivals(), 1);
    // The rest of the server is not the check's business.
    raw.send("GET missing\n");
    assert!(raw.line().starts_with("ERR 404 "));
}

#[test]
fn a_probe_that_hangs_is_not_joined_by_another() {
    let gate = Arc::new(Gate::new(Point::Health));
    let server = TestServer::start_with(|c| c.gate = Some(gate.clone()));
    let mut first = server.raw();
    first.send("HEALTH\n");
    gate.wait_for_arrivals(1);
    // The storage does not answer: checks meanwhile are answered at once,
    // and start no probe of their own.
    let mut second = server.raw();
    second.send("HEALTH\n");
    let line = second.line();
    assert!(line.starts_with("ERR 503 not ready: "), "{line}");
    assert!(line.contains("probe"), "{line}");
    assert_eq!(gate.arrivals(), 1);
    gate.open();
    assert_eq!(first.line(), "OK");
    second.send("HEALTH\n");
    assert_eq!(second.line(), "OK");
}
