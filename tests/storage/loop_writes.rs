//! Upload bodies written on the reactor as they are read (`--pool-writes
//! never`, and the default on a memory root): after a large read is
//! written, the next read asks the socket at once instead of waiting for
//! its event (`Connection::after_burst_written`). Bodies sent in bursts
//! around that size, each followed by a pause that lets the socket run
//! dry, land whole: a read that finds nothing waits for the next event,
//! and none is lost, over FERRY/1, HTTP with a length and HTTP chunked.

use crate::support;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use ferry::config::PoolWrites;
use support::http::Conn;
use support::{TestServer, crc_hex, pattern};

/// Bursts around `connection/input.rs`'s `BURST_READ` (16 KiB) and larger
/// (in a chunked body each piece is framed, a few bytes more on the wire).
const BURSTS: [usize; 6] = [1, 16 * 1024 - 1, 16 * 1024, 64 * 1024 + 7, 300_000, 5];

/// A pause after a burst: long enough that the server usually finds the
/// socket empty when it asks again. The outcome must not depend on it.
const PAUSE: Duration = Duration::from_millis(20);

fn on_the_loop() -> TestServer {
    TestServer::start_with(|c| {
        c.pool_writes = PoolWrites::Never;
        support::listen_http(c);
    })
}

/// Sends `body` in [`BURSTS`]' pieces, one `write_all` each, a pause after
/// each; `frame` wraps each piece (a chunk's size line and CRLF).
fn send_in_bursts(stream: &mut TcpStream, body: &[u8], frame: impl Fn(&[u8]) -> Vec<u8>) {
    stream.set_nodelay(true).unwrap();
    let mut at = 0;
    for size in BURSTS {
        let piece = &body[at..at + size];
        stream.write_all(&frame(piece)).unwrap();
        at += size;
        std::thread::sleep(PAUSE);
    }
    assert_eq!(at, body.len(), "the bursts cover the body");
}

fn body() -> Vec<u8> {
    pattern(BURSTS.iter().sum(), 76)
}

#[test]
fn a_ferry_put_sent_in_bursts_lands_whole() {
    let server = on_the_loop();
    let data = body();
    let mut raw = server.raw();
    raw.send(format!("PUT bursts.bin {}\n", data.len()));
    send_in_bursts(&mut raw.stream, &data, <[u8]>::to_vec);
    assert_eq!(raw.line(), format!("OK {} {}", data.len(), crc_hex(&data)));
    assert!(std::fs::read(server.path("bursts.bin")).unwrap() == data);
}

#[test]
fn http_puts_sent_in_bursts_land_whole_with_a_length_and_chunked() {
    let server = on_the_loop();
    let data = body();
    let mut conn = Conn::open(server.http.unwrap());
    conn.send(format!(
        "PUT /length.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        data.len()
    ));
    send_in_bursts(&mut conn.stream, &data, <[u8]>::to_vec);
    assert_eq!(conn.reply().status, 201);
    conn.send("PUT /chunked.bin HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n");
    send_in_bursts(&mut conn.stream, &data, |piece| {
        let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
        chunk.extend_from_slice(piece);
        chunk.extend_from_slice(b"\r\n");
        chunk
    });
    conn.send("0\r\n\r\n");
    assert_eq!(conn.reply().status, 201);
    for name in ["length.bin", "chunked.bin"] {
        assert!(std::fs::read(server.path(name)).unwrap() == data, "{name}");
    }
}
