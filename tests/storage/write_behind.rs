//! Upload bodies written by the I/O pool behind the connection
//! (`--pool-writes always`): the connection gathers bytes into one buffer
//! while the pool writes the other. Every byte lands once and in order at
//! every buffer boundary, over both protocols and chunked, and a write
//! that fails behind the connection is answered like any failed write.
//! A plain body is read straight into the gathering buffer (over TLS
//! too); one with a CRC trailer keeps the connection's buffer; a reset
//! in the middle leaves nothing behind.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use ferry::config::PoolWrites;
use ferry::storage::gate::{Gate, Point};
use support::{Raw, TestServer, crc_hex, pattern, upload};

/// The gathering buffer's size (`serve::DEFERRED_WRITE`).
const BUFFER: usize = 512 * 1024;

fn pooled() -> TestServer {
    TestServer::start_with(|c| {
        c.pool_writes = PoolWrites::Always;
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    })
}

/// A server writing through the pool whose writes wait at a gate.
fn writes_held() -> (TestServer, Arc<Gate>) {
    let gate = Arc::new(Gate::new(Point::Write));
    let server = TestServer::start_with(|c| {
        c.pool_writes = PoolWrites::Always;
        c.gate = Some(Arc::clone(&gate));
    });
    (server, gate)
}

#[test]
fn pipelined_puts_at_every_buffer_boundary_arrive_whole() {
    let server = pooled();
    let sizes = [
        0,
        1,
        BUFFER - 1,
        BUFFER,
        BUFFER + 1,
        2 * BUFFER,
        2 * BUFFER + 1,
        3 * BUFFER - 1,
        1_000_003,
    ];
    let bodies: Vec<Vec<u8>> = (0..sizes.len())
        .map(|i| pattern(sizes[i], i as u64 + 1))
        .collect();
    let mut raw = server.raw();
    // All at once: each body is gathered behind the one before it.
    let mut wire = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        wire.extend_from_slice(format!("PUT sizes/{i} {}\n", body.len()).as_bytes());
        wire.extend_from_slice(body);
    }
    let writer = {
        let mut stream = raw.stream.try_clone().unwrap();
        std::thread::spawn(move || stream.write_all(&wire).unwrap())
    };
    for body in &bodies {
        assert_eq!(raw.line(), format!("OK {} {}", body.len(), crc_hex(body)));
    }
    writer.join().unwrap();
    for (i, body) in bodies.iter().enumerate() {
        let stored = std::fs::read(server.path(&format!("sizes/{i}"))).unwrap();
        assert!(stored == *body, "sizes/{i} differs");
    }
}

#[test]
fn a_chunked_http_put_of_small_and_large_chunks_arrives_whole() {
    let server = pooled();
    let data = pattern(900_000, 7);
    let mut wire = b"PUT /chunked.bin HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    let mut at = 0;
    let mut n = 0;
    while at < data.len() {
        // Runs of tiny chunks (gathered) between large ones (written from
        // where they lie).
        let len = match n % 50 {
            0 => 70_000,
            _ => 97,
        }
        .min(data.len() - at);
        wire.extend_from_slice(format!("{len:x}\r\n").as_bytes());
        wire.extend_from_slice(&data[at..at + len]);
        wire.extend_from_slice(b"\r\n");
        at += len;
        n += 1;
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    let mut stream = TcpStream::connect(server.http.unwrap()).unwrap();
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        std::thread::spawn(move || stream.write_all(&wire).unwrap())
    };
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    writer.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 201 "), "{answer}");
    assert_eq!(std::fs::read(server.path("chunked.bin")).unwrap(), data);
}

#[test]
fn a_write_that_fails_behind_the_connection_is_answered_and_the_connection_goes_on() {
    // Writes are held until both APPENDs are under way; the first one's
    // write then finds the session taken over.
    let (server, gate) = writes_held();
    let data = pattern(3 * BUFFER + 5, 3);
    let mut first = server.raw();
    first.send(format!("UPLOAD behind {} {}\n", data.len(), crc_hex(&data)));
    let line = first.line();
    let id = line.split(' ').nth(1).unwrap().to_owned();
    first.send(format!("APPEND {id} 0 {}\n", data.len()));
    first.send(&data);
    gate.wait_for_arrivals(1);
    let mut second = server.raw();
    second.send(format!("APPEND {id} 0 {}\n", data.len()));
    second.send(&data);
    gate.wait_for_arrivals(2);
    gate.open();
    let answer = first.line();
    assert!(answer.starts_with("ERR 409 "), "{answer}");
    // The rest of its body was skipped: the connection is in step.
    first.send("ECHO 2\nok");
    assert_eq!(first.line(), "OK 2");
    assert_eq!(first.bytes(2), b"ok");
    assert_eq!(second.line(), format!("OK {}", data.len()));
    second.send(format!("COMMIT {id}\n"));
    assert_eq!(
        second.line(),
        format!("OK {} {}", data.len(), crc_hex(&data))
    );
    assert_eq!(std::fs::read(server.path("behind")).unwrap(), data);
}

#[test]
fn an_upload_cut_off_while_its_bytes_are_written_leaves_no_trace() {
    let (server, gate) = writes_held();
    let data = pattern(2 * BUFFER + 10, 9);
    let mut raw: Raw = server.raw();
    raw.send(format!("PUT gone.bin {}\n", data.len() + 1000));
    raw.send(&data);
    gate.wait_for_arrivals(1);
    drop(raw);
    // The write comes back to a connection that has gone: its temp file
    // is removed (on the pool).
    let mut other = server.raw();
    other.send("ECHO 1\nz");
    assert_eq!(other.line(), "OK 1");
    gate.open();
    assert_eq!(server.settled_files_on_disk(), Vec::<String>::new());
}

#[test]
fn a_body_cut_short_while_its_bytes_are_written_is_answered() {
    let (server, gate) = writes_held();
    // A full buffer and more: a PUT's bytes go to the pool a buffer at a
    // time, and the first must be away when the end is seen.
    let data = pattern(BUFFER + 100_000, 5);
    let mut raw = server.raw();
    raw.send(format!("PUT short.bin {}\n", data.len() + 1));
    raw.send(&data);
    gate.wait_for_arrivals(1);
    raw.stream.shutdown(std::net::Shutdown::Write).unwrap();
    // The end of the body is seen while its first bytes are being written.
    let mut other = server.raw();
    other.send("ECHO 1\nz");
    assert_eq!(other.line(), "OK 1");
    gate.open();
    let answer = raw.line();
    assert!(answer.starts_with("ERR 400 "), "{answer}");
    // The answer waited for the write to come back: the temp file had
    // gone before it was queued.
    assert_eq!(server.files_on_disk(), Vec::<String>::new());
}

#[test]
fn a_sessions_bytes_are_written_without_waiting_for_a_full_buffer() {
    // A PUT's bytes go to the pool a full buffer at a time; a session's
    // as soon as they are read: others see them staged, and they stay if
    // the link goes silent.
    let (server, gate) = writes_held();
    let data = pattern(BUFFER, 11);
    let mut raw = server.raw();
    let (id, _) = upload(&mut raw, "staged.bin", &data);
    raw.send(format!("APPEND {id} 0 {}\n", data.len()));
    raw.send(&data[..1000]);
    // The write of 1,000 bytes reaches the (held) disk with the rest of
    // the body still to come.
    gate.wait_for_arrivals(1);
    gate.open();
    raw.send(&data[1000..]);
    assert_eq!(raw.line(), format!("OK {}", data.len()));
}

#[test]
fn a_peer_that_resets_mid_body_leaves_no_trace_and_others_are_served() {
    // The body is read straight into the gathering buffer; a reset in the
    // middle of it (after one full buffer went to the pool) ends the
    // upload like a close does.
    let (server, gate) = writes_held();
    let data = pattern(BUFFER + 70_000, 13);
    let mut raw = server.raw();
    raw.send(format!("PUT reset.bin {}\n", data.len() + 1000));
    raw.send(&data);
    gate.wait_for_arrivals(1);
    rustix::net::sockopt::set_socket_linger(&raw.stream, Some(std::time::Duration::ZERO)).unwrap();
    drop(raw);
    let mut other = server.raw();
    other.send("ECHO 1\nz");
    assert_eq!(other.line(), "OK 1");
    gate.open();
    assert_eq!(server.settled_files_on_disk(), Vec::<String>::new());
}

#[test]
fn a_body_with_a_crc_trailer_keeps_its_own_path_and_is_checked() {
    // Only a plain fixed-length body is read in place; one followed by a
    // CRC trailer is taken through the connection's buffer as before, at
    // a buffer boundary and past it, and a wrong CRC still discards it.
    let server = pooled();
    let mut raw = server.raw();
    for (i, len) in [BUFFER, 2 * BUFFER + 3].into_iter().enumerate() {
        let data = pattern(len, 20 + i as u64);
        let crc = crc_hex(&data);
        raw.send(format!("PUT trailed-{i} {len} -\n"));
        raw.send(&data);
        raw.send(format!("CRC {crc}\n"));
        assert_eq!(raw.line(), format!("OK {len} {crc}"));
        assert!(std::fs::read(server.path(&format!("trailed-{i}"))).unwrap() == data);
    }
    let data = pattern(BUFFER + 1, 30);
    raw.send(format!("PUT wrong {} -\n", data.len()));
    raw.send(&data);
    raw.send("CRC 00000000\n");
    assert!(raw.line().starts_with("ERR 422 "));
    assert!(!server.path("wrong").exists());
}

#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
#[test]
fn a_put_over_tls_is_decrypted_into_its_gathering_buffer_whole() {
    let dir = tempfile::tempdir().unwrap();
    let files = support::tls::self_signed(dir.path(), "server");
    let server = TestServer::start_with(|c| {
        c.pool_writes = PoolWrites::Always;
        c.serve_tls(files);
    });
    let endpoint = support::tls::endpoint(
        &format!("localhost:{}", server.addr.port()),
        &dir.path().join("server-cert.pem"),
    );
    let mut client = endpoint.connect().expect("TLS connect");
    for (name, len) in [
        ("tls-a.bin", BUFFER - 1),
        ("tls-b.bin", 2 * BUFFER + 12_345),
    ] {
        let data = pattern(len, len as u64);
        client.put_bytes(name, &data).expect("put");
        assert!(std::fs::read(server.path(name)).unwrap() == data, "{name}");
    }
}
