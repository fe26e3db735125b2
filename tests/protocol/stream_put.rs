//! `PUT <name> * -`: an upload of unknown length (PROTOCOL.md §6.1), over
//! real sockets: the chunked body and its `CRC` trailer byte at a time,
//! a wrong or malformed trailer, a malformed chunk size, a stream over
//! `--max-file-size` (413 as soon as the running total passes it, and the
//! connection closed), and a client that drops mid-stream: no file, no
//! temp file, whatever happens before the `OK`.

use crate::support;

use std::time::{Duration, Instant};

use support::{Raw, TestServer, crc_hex, temp_files};

/// The chunked body of `pieces`, its last chunk and a trailer with `crc`.
fn chunked(pieces: &[&[u8]], crc: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in pieces {
        out.extend(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend(*piece);
        out.extend(b"\r\n");
    }
    out.extend(format!("0\r\nCRC {crc}\r\n\r\n").as_bytes());
    out
}

/// Waits (up to 10 s) until `root` holds no temp file.
fn until_no_temp_files(server: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !temp_files(server.root.path()).is_empty() {
        assert!(Instant::now() < deadline, "temp files left behind");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_stream_sent_a_byte_at_a_time_is_stored_and_the_connection_goes_on() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mut request = b"PUT notes/s.txt * - mtime=1000000000\n".to_vec();
    request.extend(chunked(
        &[b"hello", b", ", b"world"],
        &crc_hex(b"hello, world"),
    ));
    for byte in request {
        raw.send([byte]);
    }
    assert_eq!(raw.line(), format!("OK 12 {}", crc_hex(b"hello, world")));
    assert_eq!(
        std::fs::read(server.path("notes/s.txt")).unwrap(),
        b"hello, world"
    );
    raw.send("STAT notes/s.txt\n");
    let stat = raw.line();
    assert!(stat.starts_with("OK 12 1000000000 "), "{stat}");
}

#[test]
fn an_empty_stream_is_an_empty_file() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send(b"PUT empty * -\n0\r\nCRC 00000000\r\n\r\n");
    assert_eq!(raw.line(), "OK 0 00000000");
    assert_eq!(std::fs::read(server.path("empty")).unwrap(), b"");
}

#[test]
fn a_wrong_or_malformed_trailer_stores_nothing_and_the_connection_goes_on() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send(b"PUT a * -\n");
    raw.send(chunked(&[b"hello"], "00000001"));
    assert!(raw.line().starts_with("ERR 422 "));
    raw.send(b"PUT b * -\n5\r\nhello\r\n0\r\nX-Other: 1\r\n\r\n");
    assert!(raw.line().starts_with("ERR 400 "));
    raw.send("QUIT\n");
    assert_eq!(raw.line(), "OK");
    assert!(!server.path("a").exists() && !server.path("b").exists());
    until_no_temp_files(&server);
}

#[test]
fn a_malformed_chunk_size_is_400_and_closes() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send(b"PUT a * -\n5\r\nhello\r\nzz\r\n");
    assert!(raw.line().starts_with("ERR 400 "));
    raw.expect_closed();
    assert!(!server.path("a").exists());
    until_no_temp_files(&server);
}

#[test]
fn a_stream_over_max_file_size_is_refused_as_soon_as_it_passes() {
    let server = TestServer::start_with(|c| c.max_file_size = Some(10));
    let mut raw = server.raw();
    // 8 bytes are fine; the next 8 pass the limit: refused there, without
    // waiting for an end that may never come.
    raw.send(b"PUT big * -\n8\r\n12345678\r\n8\r\n12345678\r\n");
    assert!(raw.line().starts_with("ERR 413 "));
    raw.expect_closed();
    assert!(!server.path("big").exists());
    until_no_temp_files(&server);
}

#[test]
fn a_client_that_drops_mid_stream_leaves_no_trace() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send(b"PUT dir/cut * -\n5\r\nhello\r\n3\r\nab");
    raw.finish_sending();
    drop(raw);
    until_no_temp_files(&server);
    assert!(!server.path("dir/cut").exists());
    // Its parent folder was made for it, and goes with it: removed just
    // after the temp file (the test once looked in between), so waited for.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.path("dir").exists() {
        assert!(Instant::now() < deadline, "the folder made for it is left");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_bad_name_closes_a_stream_it_cannot_skip() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send(b"PUT ../x * -\n5\r\nhello\r\n");
    assert!(raw.line().starts_with("ERR 400 "));
    raw.expect_closed();
    let mut raw = Raw::connect(server.addr);
    assert!(raw.line().starts_with("OK FERRY/1 "));
}
