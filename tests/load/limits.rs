//! Concurrency and limits: hundreds of clients at once, parallel large
//! streams, a reader that never reads, and the `--max-connections`,
//! `--max-connections-per-client`, `--idle-timeout`, `--max-file-size` and `--read-only` settings.

use crate::support;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::time::{Duration, Instant};

use support::{PATIENCE, Raw, TestServer, crc_hex, pattern};

#[test]
fn five_hundred_concurrent_clients_are_all_served() {
    // All from 127.0.0.1, over the per-address cap's default.
    let server = TestServer::start_with(|c| c.max_connections_per_client = 0);
    let mut conns: Vec<Raw> = (0..500).map(|_| server.raw()).collect();
    // Every connection has a request in flight before any answer is read.
    for (i, raw) in conns.iter_mut().enumerate() {
        let body = format!("payload of client {i}");
        raw.send(format!("PUT crowd/{i} {}\n{body}", body.len()));
    }
    for (i, raw) in conns.iter_mut().enumerate() {
        let body = format!("payload of client {i}");
        assert_eq!(
            raw.line(),
            format!("OK {} {}", body.len(), crc_hex(body.as_bytes()))
        );
        raw.send(format!("GET crowd/{i}\n"));
    }
    for (i, raw) in conns.iter_mut().enumerate() {
        let body = format!("payload of client {i}");
        let crc = crc_hex(body.as_bytes());
        assert_eq!(raw.get_line(), format!("OK {0} {0} {crc}", body.len()));
        assert_eq!(raw.bytes(body.len()), body.as_bytes());
    }
    assert_eq!(server.client().list("crowd/").unwrap().len(), 500);
}

#[test]
fn concurrent_large_streams_arrive_intact() {
    let server = TestServer::start();
    let addr = server.addr;
    let workers: Vec<_> = (0..4u64)
        .map(|i| {
            std::thread::spawn(move || {
                let body = pattern(24 * 1024 * 1024 + i as usize, i);
                let mut client = ferry::Client::connect(addr).unwrap();
                client.put_bytes(&format!("large/{i}"), &body).unwrap();
                let back = client.get_bytes(&format!("large/{i}")).unwrap();
                assert!(back == body, "stream {i} corrupted");
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
}

#[test]
fn a_reader_that_never_reads_does_not_hold_up_others() {
    let server = TestServer::start();
    let big = pattern(64 * 1024 * 1024, 7);
    server.client().put_bytes("huge", &big).unwrap();

    let mut stuck = server.raw();
    stuck.send("GET huge\n"); // and never read the body
    // Others are served while the stuck one's socket buffers are full.
    let mut client = server.client();
    for i in 0..20 {
        let name = format!("small/{i}");
        client.put_bytes(&name, name.as_bytes()).unwrap();
        assert_eq!(client.get_bytes(&name).unwrap(), name.as_bytes());
    }
    // The stuck reader can still catch up and gets every byte.
    assert_eq!(
        stuck.get_line(),
        format!("OK {0} {0} {1}", big.len(), crc_hex(&big))
    );
    assert!(stuck.bytes(big.len()) == big);
}

#[test]
fn beyond_max_connections_clients_get_503_until_a_slot_frees() {
    let server = TestServer::start_with(|c| {
        c.max_connections = 3;
        c.bare_grace = Duration::from_secs(3600);
    });
    let mut held: Vec<Raw> = (0..3).map(|_| server.raw()).collect();
    // Two have spoken; the third is bare, but has not been for the grace
    // period: none gives way.
    for raw in &mut held[..2] {
        raw.send("ECHO 2\nok");
        assert_eq!(raw.line(), "OK 2");
        assert_eq!(raw.bytes(2), b"ok");
    }
    let mut extra = Raw::connect(server.addr);
    assert_eq!(extra.line(), "ERR 503 busy");
    extra.expect_closed();

    drop(held);
    // The server notices the closes asynchronously; a new connection is
    // either still refused or served, and must be served before long.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut raw = Raw::connect(server.addr);
        let line = raw.line();
        if line.starts_with("OK FERRY/1 ") {
            raw.send("ECHO 2\nok");
            assert_eq!(raw.line(), "OK 2");
            break;
        }
        assert_eq!(line, "ERR 503 busy");
        assert!(Instant::now() < deadline, "slots never freed");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn at_max_connections_a_newcomer_takes_the_place_of_the_oldest_bare_connection() {
    let server = TestServer::start_with(|c| {
        c.max_connections = 3;
        c.bare_grace = Duration::ZERO;
        // A reactor displaces only its own connections: with workers the
        // newcomer may go to one that holds none (docs/security.md).
        c.workers = 1;
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    });
    let echo = |raw: &mut Raw| {
        raw.send("ECHO 2\nok");
        assert_eq!(raw.line(), "OK 2");
        assert_eq!(raw.bytes(2), b"ok");
    };
    let mut spoken = server.raw();
    echo(&mut spoken);
    let mut oldest_bare = server.raw();
    let mut younger_bare = server.raw();
    // Full: the newcomer is greeted and served in the place of the oldest
    // connection that has sent nothing.
    let mut newcomer = server.raw();
    echo(&mut newcomer);
    oldest_bare.expect_closed();
    // The one that spoke, though older, and the younger bare one are left.
    echo(&mut spoken);
    echo(&mut younger_bare);
    // Every place is now held by a client that has spoken: refused.
    let mut extra = Raw::connect(server.addr);
    assert_eq!(extra.line(), "ERR 503 busy");
    extra.expect_closed();
    if cfg!(feature = "metrics") {
        let addr = server.metrics.expect("a metrics listener");
        let scrape = support::http::send_raw(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(
            scrape.contains("\nferry_connections_displaced_total 1\n"),
            "{scrape}"
        );
    }
}

/// A TLS connection waits bare from the end of its handshake: one passed
/// over while its handshake was under way (not bare: it was speaking) is
/// displaced once the handshake is through and it sends nothing more,
/// instead of keeping its place until its deadline.
#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
#[test]
fn a_tls_connection_waits_bare_from_the_end_of_its_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let files = support::tls::self_signed(dir.path(), "server");
    let server = TestServer::start_with(|c| {
        c.max_connections = 2;
        c.bare_grace = Duration::ZERO;
        c.workers = 1;
        c.tls = Some(files);
        support::listen_http(c);
        c.listeners.last_mut().unwrap().tls = true;
    });
    let ca = dir.path().join("server-cert.pem");
    // TLS 1.3: its server sends session tickets once the handshake is in.
    let config = support::tls::client_config(&ca, &[&rustls::version::TLS13]);
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = rustls::ClientConnection::new(config, name.to_owned()).unwrap();
    let mut tcp = std::net::TcpStream::connect(server.http.unwrap()).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    // Half a handshake: the client's hello out, the server's answer read,
    // the client's Finished held back.
    tls.write_tls(&mut tcp).unwrap();
    while tls.is_handshaking() {
        assert!(tls.read_tls(&mut tcp).unwrap() > 0, "closed mid-handshake");
        tls.process_new_packets().unwrap();
    }
    let mut bare = server.raw();
    // Full: the newcomer passes over the one mid-handshake and takes the
    // place of the one that has sent nothing.
    let mut spoken = server.raw();
    bare.expect_closed();
    spoken.send("ECHO 2\nok");
    assert_eq!(spoken.line(), "OK 2");
    assert_eq!(spoken.bytes(2), b"ok");
    // The handshake ends; the server's session tickets say it has read
    // the Finished. Then nothing more is sent.
    while tls.wants_write() {
        tls.write_tls(&mut tcp).unwrap();
    }
    assert!(tls.read_tls(&mut tcp).unwrap() > 0, "no session ticket");
    // Full again: the newcomer takes its place, not a 503.
    let _newcomer = server.raw();
    let mut rest = Vec::new();
    let ended = tcp.read_to_end(&mut rest);
    assert!(ended.is_ok() || ended.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset));
}

/// Full of HTTP keep-alive connections that rest between requests, the
/// server serves a newcomer in the place of the one that has rested
/// longest (HTTP/1.1 lets a server close an idle connection; its client
/// opens another), as nginx does; a request the resting ones send later
/// is served. Before, the newcomer was refused 503 until one timed out.
#[test]
fn at_max_connections_a_newcomer_takes_the_place_of_the_longest_resting_http_connection() {
    use support::http::Conn;
    let server = full_http_server(3);
    let http = server.http.unwrap();
    let served = |conn: &mut Conn| assert_eq!(conn.ask("GET", "/", "", b"").status, 200);
    let mut rested: Vec<Conn> = (0..3).map(|_| Conn::open(http)).collect();
    for conn in &mut rested {
        served(conn);
    }
    let mut newcomer = Conn::open(http);
    served(&mut newcomer);
    rested[0].expect_closed();
    served(&mut rested[1]);
    served(&mut rested[2]);
    served(&mut newcomer);
    // Each request starts its rest anew: the next newcomer takes the place
    // of the one asked longest ago.
    let mut next = Conn::open(http);
    served(&mut next);
    rested[1].expect_closed();
    served(&mut rested[2]);
    served(&mut newcomer);
}

/// A request answered at once (no file-system work: an `OPTIONS`, or one
/// refused with the connection kept) begins a new rest too: the newcomer
/// takes the place of the connection that has rested longest since its
/// last answer, not of the one that first rested.
#[test]
fn a_request_answered_at_once_begins_a_new_rest() {
    // OPTIONS is answered 204, an unknown method refused 405, each within
    // the drive that reads it.
    answered_at_once_the_newcomer_takes_the_other("OPTIONS", 200..300);
    answered_at_once_the_newcomer_takes_the_other("BREW", 400..500);
}

fn answered_at_once_the_newcomer_takes_the_other(method: &str, answered: Range<u16>) {
    use support::http::Conn;
    let server = full_http_server(2);
    let http = server.http.unwrap();
    let at_once = |conn: &mut Conn| {
        let status = conn.ask(method, "/", "", b"").status;
        assert!(answered.contains(&status), "{method}: {status}");
    };
    let mut first = Conn::open(http);
    assert_eq!(first.ask("GET", "/", "", b"").status, 200);
    let mut second = Conn::open(http);
    assert_eq!(second.ask("GET", "/", "", b"").status, 200);
    at_once(&mut first);
    let mut newcomer = Conn::open(http);
    assert_eq!(newcomer.ask("GET", "/", "", b"").status, 200);
    // The one asked last is left; the one resting longest was closed.
    at_once(&mut first);
    second.expect_closed();
}

/// An HTTP server on one loop that holds `max_connections`, where a
/// newcomer may take an idle connection's place at once (no grace).
fn full_http_server(max_connections: usize) -> TestServer {
    TestServer::start_with(|c| {
        c.max_connections = max_connections;
        c.bare_grace = Duration::ZERO;
        c.workers = 1;
        support::listen_http(c);
    })
}

/// Connects from `source` and reads the first line: the greeting, or the
/// refusal.
fn first_line_from(addr: SocketAddr, source: IpAddr) -> (Raw, String) {
    let mut raw = Raw::connect_from(addr, source);
    let line = raw.line();
    (raw, line)
}

#[test]
fn one_address_over_its_cap_gets_503_while_another_is_served() {
    const CAP: usize = 3;
    // Two workers: the count is the server's, whichever worker the kernel
    // hands each connection to.
    let server = TestServer::start_with(|c| {
        c.max_connections_per_client = CAP;
        c.workers = 2;
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    });
    let greedy: IpAddr = "127.0.0.2".parse().unwrap();
    let other: IpAddr = "127.0.0.3".parse().unwrap();
    // A greeting means the connection has been counted in.
    let mut held: Vec<Raw> = (0..CAP)
        .map(|_| {
            let (raw, line) = first_line_from(server.addr, greedy);
            assert!(line.starts_with("OK FERRY/1 "), "{line}");
            raw
        })
        .collect();
    let (mut refused, line) = first_line_from(server.addr, greedy);
    assert_eq!(line, "ERR 503 busy");
    refused.expect_closed();
    // The HTTP listener counts the same connections, and says it in HTTP.
    let (refused, line) = first_line_from(server.http.unwrap(), greedy);
    assert_eq!(line, "HTTP/1.1 503 Service Unavailable\r");

    let (mut served, line) = first_line_from(server.addr, other);
    assert!(line.starts_with("OK FERRY/1 "), "{line}");
    served.send("ECHO 2\nok");
    assert_eq!(served.line(), "OK 2");
    assert_eq!(served.bytes(2), b"ok");
    drop(refused);

    // One of the address's connections closes: once the server has closed
    // it, the address is served again. The server counts a connection out
    // just after sending its FIN, so a newcomer that another worker
    // accepts in that moment may still be refused: each try waits on the
    // server's answer, and a few suffice.
    let mut closing = held.pop().unwrap();
    closing.finish_sending();
    closing.expect_closed();
    let deadline = Instant::now() + PATIENCE;
    let mut again = loop {
        let (raw, line) = first_line_from(server.addr, greedy);
        if line.starts_with("OK FERRY/1 ") {
            break raw;
        }
        assert_eq!(line, "ERR 503 busy");
        assert!(
            Instant::now() < deadline,
            "the closed connection's place never freed"
        );
    };
    again.send("ECHO 2\nok");
    assert_eq!(again.line(), "OK 2");
    // And it is at its cap again.
    let (_, line) = first_line_from(server.addr, greedy);
    assert_eq!(line, "ERR 503 busy");
    drop(held);
}

/// A newcomer over its own address's cap on a full server is refused as
/// such: it never takes another client's place. Before, the server's cap
/// was asked first, the oldest bare connection (another client's) was
/// closed to make room, and the newcomer was refused all the same.
#[test]
fn a_client_over_its_cap_never_displaces_another_client() {
    let server = TestServer::start_with(|c| {
        c.max_connections = 2;
        c.max_connections_per_client = 1;
        c.bare_grace = Duration::ZERO;
        c.workers = 1;
    });
    let greedy: IpAddr = "127.0.0.2".parse().unwrap();
    let other: IpAddr = "127.0.0.3".parse().unwrap();
    // Both bare: the other's has waited longest.
    let (mut waiting, line) = first_line_from(server.addr, other);
    assert!(line.starts_with("OK FERRY/1 "), "{line}");
    let (_held, line) = first_line_from(server.addr, greedy);
    assert!(line.starts_with("OK FERRY/1 "), "{line}");
    let (mut refused, line) = first_line_from(server.addr, greedy);
    assert_eq!(line, "ERR 503 busy");
    refused.expect_closed();
    waiting.send("ECHO 2\nok");
    assert_eq!(waiting.line(), "OK 2");
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let timeout = Duration::from_millis(300);
    let server = TestServer::start_with(|c| c.idle_timeout = timeout);
    let started = Instant::now();
    let mut silent = server.raw();
    let mut half_header = server.raw();
    half_header.send("GET some");
    let mut stalled_body = server.raw();
    stalled_body.send("PUT stalled 100\nonly a part");

    silent.expect_closed();
    half_header.expect_closed();
    stalled_body.expect_closed();
    assert!(started.elapsed() >= timeout);
    assert_eq!(server.settled_files_on_disk(), Vec::<String>::new());
}

#[test]
fn steady_progress_keeps_a_connection_alive_past_the_idle_timeout() {
    let timeout = Duration::from_secs(1);
    let server = TestServer::start_with(|c| c.idle_timeout = timeout);
    let mut raw = server.raw();
    let body = pattern(50, 8);
    raw.send(format!("PUT trickle {}\n", body.len()));
    let started = Instant::now();
    // 50 bytes, 50 ms apart: 2.5 s in all, never 1 s without progress.
    for byte in &body {
        raw.send([*byte]);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(started.elapsed() > timeout);
    assert_eq!(raw.line(), format!("OK 50 {}", crc_hex(&body)));
}

#[test]
fn uploads_over_max_file_size_get_413_and_close() {
    let server = TestServer::start_with(|c| c.max_file_size = Some(1000));
    let mut client = server.client();
    client.put_bytes("fits", &pattern(1000, 9)).unwrap();

    let mut raw = server.raw();
    raw.send("PUT too-big 1001\n");
    assert!(raw.line().starts_with("ERR 413 "));
    raw.expect_closed();
    assert_eq!(server.files_on_disk(), ["fits"]);
}

#[test]
fn a_client_still_sending_an_oversized_body_reads_the_413() {
    // The server answers 413 mid-body, then discards what still arrives
    // before closing, so the answer is not lost to a connection reset.
    let server = TestServer::start_with(|c| c.max_file_size = Some(1 << 20));
    let mut client = server.client();
    let err = client
        .put_bytes("too-big", &pattern(8 << 20, 11))
        .unwrap_err();
    assert!(
        matches!(err, ferry::client::ClientError::Remote { code: 413, .. }),
        "{err:?}"
    );
    assert!(server.files_on_disk().is_empty());
}

#[test]
fn refused_puts_over_the_size_limit_are_not_drained() {
    let server = TestServer::start_with(|c| {
        c.max_file_size = Some(1000);
        c.read_only = true;
    });
    let mut raw = server.raw();
    raw.send("PUT small 3\nabcECHO 1\n!");
    assert!(raw.line().starts_with("ERR 403 "));
    assert_eq!(raw.line(), "OK 1", "a small refused body is skipped");
    raw.bytes(1);
    raw.send("PUT huge 1000000000000\n");
    assert!(raw.line().starts_with("ERR 403 "));
    raw.expect_closed();
}

#[test]
fn read_only_refuses_put_and_del_but_serves_reads() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("kept"), b"original").unwrap();
    let server = TestServer::start_in(root, |c| c.read_only = true);
    let mut raw = server.raw();
    raw.send("PUT kept 7\nchanged");
    assert!(raw.line().starts_with("ERR 403 "));
    raw.send("DEL kept\n");
    assert!(raw.line().starts_with("ERR 403 "));
    // Placed by other means: its CRC-32C is not known yet.
    raw.send("GET kept\n");
    assert_eq!(raw.get_line(), "OK 8 8 -");
    assert_eq!(raw.bytes(8), b"original");
    assert_eq!(server.files_on_disk(), ["kept"]);
}

#[test]
fn graceful_shutdown_finishes_transfers_in_flight() {
    let server = TestServer::start_with(|c| c.grace_period = PATIENCE);
    let mut idle = server.raw();
    let mut uploading = server.raw();
    let body = pattern(100_000, 10);
    uploading.send(format!("PUT in-flight {}\n", body.len()));
    uploading.send(&body[..50_000]);
    // Make sure the server has taken the request before shutting down.
    let mut probe = server.raw();
    probe.send("ECHO 1\n.");
    assert_eq!(probe.line(), "OK 1");
    uploading.stream.flush().unwrap();

    server.handle().shutdown();
    idle.expect_closed();
    uploading.send(&body[50_000..]);
    assert_eq!(uploading.line(), format!("OK 100000 {}", crc_hex(&body)));
    uploading.expect_closed();
    assert_eq!(std::fs::read(server.path("in-flight")).unwrap(), body);
    server.join().unwrap();
}

#[test]
fn a_second_shutdown_request_closes_everything_and_leaves_no_temp_files() {
    let mut server = TestServer::start_with(|c| c.grace_period = PATIENCE);
    let mut uploading = server.raw();
    uploading.send("PUT never-finished 1000\npartial");
    let mut probe = server.raw();
    probe.send("ECHO 1\n.");
    assert_eq!(probe.line(), "OK 1");

    server.handle().shutdown();
    server.handle().shutdown();
    let mut rest = Vec::new();
    let _ = uploading.stream.read_to_end(&mut rest);
    // The upload is dropped (its temp file removed, on the I/O pool) before
    // the server exits.
    server.wait_for_exit().unwrap();
    assert_eq!(server.files_on_disk(), Vec::<String>::new());
}
