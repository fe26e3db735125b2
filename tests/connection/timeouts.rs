//! Deadlines against slow peers: a connection must send something within
//! `first_byte_timeout`, a request line must complete within
//! `header_timeout` (slowloris), a body must keep `min_rate` (slow POST,
//! slow reads), and neither touches an honest connection resting between
//! requests.

use crate::support;

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use support::{PATIENCE, Raw, TestServer, crc_hex, pattern};

/// Sends `chunk` every `every` until the server closes the connection;
/// returns how long that took. Each send counts as progress, so only a
/// deadline other than the idle timeout can end this.
fn trickle_until_closed(raw: &mut Raw, chunk: &[u8], every: Duration) -> Duration {
    let started = Instant::now();
    raw.stream.set_read_timeout(Some(every)).unwrap();
    let mut buf = [0; 256];
    loop {
        assert!(
            started.elapsed() < PATIENCE,
            "the server never closed the connection"
        );
        let _ = std::io::Write::write_all(&mut raw.stream, chunk);
        match raw.stream.read(&mut buf) {
            Ok(0) => return started.elapsed(),
            Ok(_) => continue, // an error line before the close
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return started.elapsed(), // reset
        }
    }
}

/// Dribbles `chunk` every 20 ms and asserts that the header deadline, not
/// anything sooner, closed the connection.
fn trickle_past_the_header_deadline(raw: &mut Raw, chunk: &[u8], header_timeout: Duration) {
    let took = trickle_until_closed(raw, chunk, Duration::from_millis(20));
    assert!(
        took >= header_timeout - Duration::from_millis(50),
        "{took:?}"
    );
}

#[test]
fn a_request_line_dribbled_byte_by_byte_hits_the_header_deadline() {
    let header_timeout = Duration::from_millis(300);
    let server = TestServer::start_with(|c| c.header_timeout = header_timeout);
    let mut raw = server.raw();
    raw.send("GET slow");
    trickle_past_the_header_deadline(&mut raw, b"o", header_timeout);
}

#[test]
fn a_blank_line_does_not_exempt_the_request_behind_it() {
    let header_timeout = Duration::from_millis(300);
    let server = TestServer::start_with(|c| c.header_timeout = header_timeout);
    let mut raw = server.raw();
    raw.send("\r\nGET slow");
    trickle_past_the_header_deadline(&mut raw, b"o", header_timeout);
}

#[test]
fn http_headers_dribbled_after_the_request_line_hit_the_header_deadline() {
    let header_timeout = Duration::from_millis(300);
    let server = TestServer::start_with(|c| {
        c.header_timeout = header_timeout;
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    });
    let mut raw = Raw::connect(server.http.unwrap());
    // The request line is whole; the head is not until its empty line.
    raw.send("GET /x HTTP/1.1\r\nHost: h\r\nX-Slow: ");
    trickle_past_the_header_deadline(&mut raw, b"a", header_timeout);
}

#[test]
fn a_body_under_the_minimum_rate_is_cut_off_and_leaves_nothing() {
    let server = TestServer::start_with(|c| {
        c.min_rate = 10_000;
        c.rate_window = Duration::from_millis(300);
    });
    let mut raw = server.raw();
    raw.send("PUT slow-post 1000000\n");
    // 10 bytes every 20 ms: 500 bytes/s, far under 10,000.
    trickle_until_closed(&mut raw, &[b'x'; 10], Duration::from_millis(20));
    assert_eq!(server.settled_files_on_disk(), Vec::<String>::new());
}

#[test]
fn a_reader_under_the_minimum_rate_is_cut_off() {
    // One connection slot: a newcomer is served only once the server has
    // dropped the slow reader (whose socket still holds megabytes of the
    // file, so the reader itself would take ages to see the close).
    let server = TestServer::start_with(|c| {
        c.min_rate = 10_000;
        c.rate_window = Duration::from_millis(300);
        c.max_connections = 1;
    });
    let mut client = server.client();
    client.put_bytes("big", &pattern(32 << 20, 1)).unwrap();
    client.quit().unwrap();
    let mut slow = Raw::connect(server.addr);
    loop {
        // The uploader's slot may not be free yet.
        if slow.line().starts_with("OK FERRY/1") {
            break;
        }
        slow = Raw::connect(server.addr);
    }
    slow.send("GET big\n");
    assert!(slow.line().starts_with(&format!("OK {0} {0} ", 32 << 20)));
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < PATIENCE, "slow reader never cut off");
        let mut newcomer = Raw::connect(server.addr);
        if newcomer.line().starts_with("OK FERRY/1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_silent_connection_is_cut_at_the_first_byte_deadline_and_a_spoken_one_is_not() {
    let idle_timeout = Duration::from_secs(4);
    let server = TestServer::start_with(|c| {
        c.first_byte_timeout = Duration::from_millis(300);
        c.idle_timeout = idle_timeout;
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    });
    let started = Instant::now();
    // Opened first, and idle from its first request on.
    let mut spoken = server.raw();
    spoken.send("ECHO 2\nok");
    assert_eq!(spoken.line(), "OK 2");
    assert_eq!(spoken.bytes(2), b"ok");
    let mut one_byte = Raw::connect(server.http.unwrap());
    one_byte.send("G");
    let mut silent = server.raw();
    let mut silent_http = Raw::connect(server.http.unwrap());
    silent.expect_closed();
    silent_http.expect_closed();
    // Well before the idle timeout could have closed them (generously).
    assert!(
        started.elapsed() < idle_timeout,
        "closed after {:?}: the idle timeout, not the first-byte deadline",
        started.elapsed()
    );
    // The ones that spoke are still open, though older than the silent
    // ones: they are under the ordinary deadlines.
    for raw in [&spoken, &one_byte] {
        raw.stream.set_nonblocking(true).unwrap();
        let err = (&raw.stream).read(&mut [0; 1]).expect_err("closed already");
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        raw.stream.set_nonblocking(false).unwrap();
    }
    // And the idle timeout ends the resting one.
    spoken.expect_closed();
    assert!(started.elapsed() >= idle_timeout);
}

#[test]
fn fast_transfers_and_resting_connections_are_left_alone() {
    let server = TestServer::start_with(|c| {
        c.header_timeout = Duration::from_millis(200);
        c.min_rate = 10_000;
        c.rate_window = Duration::from_millis(200);
    });
    let mut raw = server.raw();
    let body = pattern(4 << 20, 2);
    raw.send(format!("PUT fast {}\n", body.len()));
    raw.send(&body);
    assert_eq!(raw.line(), format!("OK {} {}", body.len(), crc_hex(&body)));
    // Resting between requests is governed by the idle timeout alone.
    std::thread::sleep(Duration::from_millis(600));
    raw.send("ECHO 2\nok");
    assert_eq!(raw.line(), "OK 2");
    assert_eq!(raw.bytes(2), b"ok");
}
