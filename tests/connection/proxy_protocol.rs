//! `--trusted-proxy`: a load balancer's connections begin with a PROXY
//! header (v1 or v2), and the client it names is the connection's client
//! for everything. Shown through the per-client upload-session cap (each
//! source address has its own), over FERRY/1, TLS and HTTP; from anyone
//! else a PROXY header is garbage, and a trusted peer without one is
//! closed.
//!
//! The "balancer" is a client bound to 127.0.0.2, the only trusted
//! address; plain clients connect from 127.0.0.1.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::process::Process;
#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
use support::tls::{self_signed, tls_over};
use support::{PATIENCE, Raw, TestServer, crc_hex, upload};

const BALANCER: &str = "127.0.0.2";

fn balancer() -> IpAddr {
    BALANCER.parse().unwrap()
}

/// A server that trusts the balancer, with one upload session per client.
fn server_with(adjust: impl FnOnce(&mut ferry::Config)) -> TestServer {
    TestServer::start_with(|config| {
        config.trusted_proxies = vec![BALANCER.parse().unwrap()];
        config.max_upload_sessions_per_client = 1;
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        adjust(config);
    })
}

fn v1(client: SocketAddr) -> Vec<u8> {
    let family = if client.is_ipv4() { "TCP4" } else { "TCP6" };
    let dst = if client.is_ipv4() { "127.0.0.1" } else { "::1" };
    format!(
        "PROXY {family} {} {dst} {} 5010\r\n",
        client.ip(),
        client.port()
    )
    .into_bytes()
}

/// A v2 PROXY header for `client`, with a TLV behind the addresses (which
/// the server must skip).
fn v2(client: SocketAddr) -> Vec<u8> {
    let (family, mut block) = match client.ip() {
        IpAddr::V4(ip) => (0x11, [ip.octets(), [127, 0, 0, 1]].concat()),
        IpAddr::V6(ip) => (0x21, [ip.octets(), [0; 16]].concat()),
    };
    block.extend_from_slice(&client.port().to_be_bytes());
    block.extend_from_slice(&5010u16.to_be_bytes());
    block.extend_from_slice(&[0x01, 0x00, 0x02, b'h', b'2']); // ALPN "h2"
    v2_raw(0x21, family, &block)
}

fn v2_raw(command: u8, family: u8, block: &[u8]) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend_from_slice(&[command, family]);
    header.extend_from_slice(&(block.len() as u16).to_be_bytes());
    header.extend_from_slice(block);
    header
}

/// A connection from the balancer that has sent `header` and read the
/// greeting.
fn via_balancer(server: &TestServer, header: &[u8]) -> Raw {
    let mut raw = Raw::connect_from(server.addr, balancer());
    raw.send(header);
    let greeting = raw.line();
    assert!(greeting.starts_with("OK FERRY/1 "), "{greeting:?}");
    raw
}

fn try_upload(raw: &mut Raw, name: &str) -> String {
    raw.send(format!("UPLOAD {name} 3 {}\n", crc_hex(b"abc")));
    raw.line()
}

const CAPPED: &str = "ERR 503 too many upload sessions from this address";

#[test]
fn v1_and_v2_clients_behind_the_balancer_count_as_themselves() {
    let server = server_with(|_| {});
    let mut one = via_balancer(&server, &v1("203.0.113.9:51234".parse().unwrap()));
    upload(&mut one, "a", b"abc");
    assert!(try_upload(&mut one, "b").starts_with(CAPPED));
    // Another client, through v2 and over IPv6: its own cap.
    let mut two = via_balancer(&server, &v2("[2001:db8::7]:4000".parse().unwrap()));
    upload(&mut two, "c", b"abc");
    assert!(try_upload(&mut two, "d").starts_with(CAPPED));
    // A third, through v2 over IPv4.
    let mut three = via_balancer(&server, &v2("198.51.100.4:1".parse().unwrap()));
    upload(&mut three, "e", b"abc");
    // The first client again, on a new connection in the other version
    // and from another port: the same client, already at its cap.
    let mut again = via_balancer(&server, &v2("203.0.113.9:60000".parse().unwrap()));
    assert!(try_upload(&mut again, "f").starts_with(CAPPED));
    // Nor is the balancer's own address charged for any of them: a health
    // check (v2 LOCAL) counts as the balancer, which has no session yet.
    let mut local = via_balancer(&server, &v2_raw(0x20, 0x00, &[]));
    upload(&mut local, "g", b"abc");
    // v1 UNKNOWN is the balancer too: its cap is now used.
    let mut unknown = via_balancer(&server, b"PROXY UNKNOWN\r\n");
    assert!(try_upload(&mut unknown, "h").starts_with(CAPPED));
    // A direct client is untouched by all this.
    let mut direct = server.raw();
    upload(&mut direct, "i", b"abc");
}

#[test]
fn clients_behind_the_balancer_are_capped_as_themselves_and_the_balancer_is_not() {
    let server = server_with(|c| c.max_connections_per_client = 1);
    let client = |i| v1(format!("203.0.113.{i}:4000").parse().unwrap());
    // Three clients through the balancer: its own address is not capped.
    let mut served: Vec<Raw> = (0..3).map(|i| via_balancer(&server, &client(i))).collect();
    for raw in &mut served {
        raw.send("ECHO 2\nok");
        assert_eq!(raw.line(), "OK 2");
        assert_eq!(raw.bytes(2), b"ok");
    }
    // The first client again, in the same write as a request that must
    // not be answered: that client has its cap.
    let mut again = via_balancer(&server, &[client(0), b"ECHO 2\nok".to_vec()].concat());
    assert_eq!(again.line(), "ERR 503 busy");
    again.expect_closed();
    // Over HTTP too, where the refusal is HTTP's.
    let mut http = Raw::connect_from(server.http.unwrap(), balancer());
    http.send(client(1));
    assert_eq!(http.line(), "HTTP/1.1 503 Service Unavailable\r");
    // The balancer's own health checks name no client and count for none.
    let checks: Vec<Raw> = (0..3)
        .map(|_| via_balancer(&server, &v2_raw(0x20, 0x00, &[])))
        .collect();
    // A client's place frees when its connection closes.
    let mut first = served.remove(0);
    first.finish_sending();
    first.expect_closed();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut raw = via_balancer(&server, &[client(0), b"ECHO 2\nok".to_vec()].concat());
        let line = raw.line();
        if line == "OK 2" {
            break;
        }
        // Counted out just after its FIN: another try, on the server's
        // answer, not a sleep.
        assert_eq!(line, "ERR 503 busy");
        assert!(Instant::now() < deadline, "the client's place never freed");
    }
    // Addresses that connect directly are capped as ever.
    let mut direct = Raw::connect_from(server.addr, "127.0.0.3".parse().unwrap());
    assert!(direct.line().starts_with("OK FERRY/1 "));
    let mut second = Raw::connect_from(server.addr, "127.0.0.3".parse().unwrap());
    assert_eq!(second.line(), "ERR 503 busy");
    drop((served, checks));
}

#[test]
fn a_header_arriving_a_byte_at_a_time_is_waited_for() {
    let server = server_with(|_| {});
    for (n, header) in [
        v1("203.0.113.20:1".parse().unwrap()),
        v2("[2001:db8::20]:2".parse().unwrap()),
    ]
    .into_iter()
    .enumerate()
    {
        let mut raw = Raw::connect_from(server.addr, balancer());
        raw.stream.set_nodelay(true).unwrap();
        // The greeting goes out at once, before the header.
        assert!(raw.line().starts_with("OK FERRY/1 "));
        for byte in &header {
            raw.send([*byte]);
            std::thread::sleep(Duration::from_millis(2));
        }
        // The first request right behind the header's last byte.
        upload(&mut raw, &format!("x{n}"), b"abc");
        let answer = try_upload(&mut raw, &format!("y{n}"));
        assert!(answer.starts_with(CAPPED), "{answer:?}");
    }
}

#[test]
fn a_header_and_requests_in_one_write_are_all_served() {
    let server = server_with(|_| {});
    let mut raw = Raw::connect_from(server.addr, balancer());
    let mut bytes = v2("203.0.113.30:5".parse().unwrap());
    bytes.extend_from_slice(format!("UPLOAD a 3 {}\nQUIT\n", crc_hex(b"abc")).as_bytes());
    raw.send(&bytes);
    assert!(raw.line().starts_with("OK FERRY/1 "));
    assert!(raw.line().starts_with("OK "));
    assert_eq!(raw.line(), "OK");
    raw.expect_closed();
}

#[test]
fn an_untrusted_peer_sending_a_proxy_header_gets_the_protocols_error() {
    let server = server_with(|_| {});
    let mut raw = server.raw();
    raw.send(v1("203.0.113.9:51234".parse().unwrap()));
    let answer = raw.line();
    assert!(answer.starts_with("ERR 400 "), "{answer:?}");

    let mut http = TcpStream::connect(server.http.unwrap()).unwrap();
    http.set_read_timeout(Some(PATIENCE)).unwrap();
    http.write_all(&v1("203.0.113.9:51234".parse().unwrap()))
        .unwrap();
    let mut answer = String::new();
    BufReader::new(http).read_line(&mut answer).unwrap();
    // (A request line whose version is "51234 5010\r\n".)
    assert!(answer.starts_with("HTTP/1.1 505 "), "{answer:?}");
}

#[test]
fn a_trusted_peer_without_a_valid_header_is_closed_without_an_answer() {
    let server = server_with(|config| config.header_timeout = Duration::from_secs(1));
    // A request where the header should be.
    let mut raw = Raw::connect_from(server.addr, balancer());
    assert!(raw.line().starts_with("OK FERRY/1 "));
    raw.send("STAT a\n");
    raw.expect_closed();
    // A malformed header.
    let mut raw = Raw::connect_from(server.addr, balancer());
    assert!(raw.line().starts_with("OK FERRY/1 "));
    raw.send("PROXY TCP4 203.0.113.9 127.0.0.1 51234\r\n");
    raw.expect_closed();
    // Part of a header, then nothing: cut by the header deadline.
    let mut raw = Raw::connect_from(server.addr, balancer());
    assert!(raw.line().starts_with("OK FERRY/1 "));
    raw.send("PROXY TCP4 203.0.113.9");
    let started = Instant::now();
    raw.expect_closed();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    // Meanwhile the server serves on.
    let mut raw = via_balancer(&server, &v1("203.0.113.9:1".parse().unwrap()));
    upload(&mut raw, "a", b"abc");
}

#[test]
fn http_behind_the_header_is_served() {
    let server = server_with(|_| {});
    for (n, header) in [
        v1("203.0.113.40:1".parse().unwrap()),
        v2("203.0.113.41:1".parse().unwrap()),
    ]
    .into_iter()
    .enumerate()
    {
        let mut raw = Raw::connect_from(server.http.unwrap(), balancer());
        let mut bytes = header.clone();
        let requests = format!(
            "PUT /h{n}.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi\
             GET /h{n}.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        );
        bytes.extend_from_slice(requests.as_bytes());
        raw.send(&bytes);
        let mut answer = Vec::new();
        raw.stream.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 201 "), "{answer}");
        assert!(answer.ends_with("\r\n\r\nhi"), "{answer}");
    }
    // And a trusted peer whose HTTP request comes without the header.
    let mut raw = Raw::connect_from(server.http.unwrap(), balancer());
    raw.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    raw.expect_closed();
}

#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))] // needs a TLS provider
#[test]
fn tls_behind_the_header_is_served_as_the_headers_client() {
    let dir = tempfile::tempdir().unwrap();
    let files = self_signed(dir.path(), "server");
    let ca = files.cert.clone();
    let server = server_with(|config| config.serve_tls(files));
    let session = |header: Vec<u8>| {
        let raw = Raw::connect_from(server.addr, balancer());
        let mut tcp = raw.stream;
        tcp.write_all(&header).unwrap();
        let mut tls = BufReader::new(tls_over(tcp, &ca));
        let mut line = String::new();
        tls.read_line(&mut line).unwrap();
        assert!(line.starts_with("OK FERRY/1 "), "{line:?}");
        tls
    };
    let ask = |tls: &mut BufReader<_>, request: String| {
        let stream: &mut rustls::StreamOwned<_, _> = tls.get_mut();
        stream.write_all(request.as_bytes()).unwrap();
        let mut line = String::new();
        tls.read_line(&mut line).unwrap();
        line
    };
    let upload_line = |name: &str| format!("UPLOAD {name} 3 {}\n", crc_hex(b"abc"));
    let mut one = session(v1("203.0.113.50:1".parse().unwrap()));
    assert!(ask(&mut one, upload_line("a")).starts_with("OK "));
    assert!(ask(&mut one, upload_line("b")).starts_with(CAPPED));
    let mut two = session(v2("203.0.113.51:1".parse().unwrap()));
    assert!(ask(&mut two, upload_line("c")).starts_with("OK "));
}

#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))] // needs a TLS provider
#[test]
fn a_tls_client_behind_the_balancer_over_its_cap_is_closed_unanswered() {
    let dir = tempfile::tempdir().unwrap();
    let files = self_signed(dir.path(), "server");
    let ca = files.cert.clone();
    let server = server_with(|config| {
        config.serve_tls(files);
        config.max_connections_per_client = 1;
    });
    // The greeting's line, or what ended the connection before it.
    let greeting = |client: &str| {
        let mut tcp = Raw::connect_from(server.addr, balancer()).stream;
        tcp.write_all(&v1(client.parse().unwrap())).unwrap();
        let mut tls = BufReader::new(tls_over(tcp, &ca));
        let mut line = String::new();
        let read = tls.read_line(&mut line);
        (tls, read.map(|_| line))
    };
    let (_first, line) = greeting("203.0.113.60:1");
    assert!(line.unwrap().starts_with("OK FERRY/1 "));
    // No plaintext answer a TLS client could not read: closed before the
    // handshake.
    let (_second, ended) = greeting("203.0.113.60:2");
    assert!(ended.as_ref().map_or(true, String::is_empty), "{ended:?}");
    let (_other, line) = greeting("203.0.113.61:1");
    assert!(line.unwrap().starts_with("OK FERRY/1 "));
}

#[test]
fn the_log_names_the_client_and_the_balancer() {
    let root = tempfile::tempdir().unwrap();
    let server = Process::start(
        root.path(),
        &["--trusted-proxy", "127.0.0.0/30", "--log-level", "debug"],
    );
    let mut raw = Raw::connect_from(server.addr, balancer());
    raw.send(v2("203.0.113.9:51234".parse().unwrap()));
    assert!(raw.line().starts_with("OK FERRY/1 "));
    server.wait_for_log(" is 203.0.113.9:51234 (via 127.0.0.2)");
    // The access log names the client, not the balancer.
    raw.send("STAT nothing\n");
    assert!(raw.line().starts_with("ERR 404 "));
    server.wait_for_log(" 203.0.113.9 #1 - ferry stat \"nothing\" 404 ");
    // A peer outside the network is served as before, no header expected.
    let mut direct = Raw::connect_from(server.addr, "127.0.0.5".parse().unwrap());
    assert!(direct.line().starts_with("OK FERRY/1 "));
    direct.send("QUIT\n");
    assert_eq!(direct.line(), "OK");
}

#[test]
fn a_request_sent_through_the_balancer_before_shutdown_is_answered() {
    let server = server_with(|config| config.grace_period = 30 * PATIENCE);
    let mut idle = Raw::connect_from(server.addr, "127.0.0.5".parse().unwrap());
    assert!(idle.line().starts_with("OK FERRY/1 "));
    // A balancer writes the header and the request at once; whether the
    // server has read them when the shutdown comes or not, the request
    // that has begun is served.
    let mut late = Raw::connect_from(server.addr, balancer());
    late.send(
        [
            v1("203.0.113.9:51234".parse().unwrap()),
            b"PUT late 5".to_vec(),
        ]
        .concat(),
    );
    // Accepted before the shutdown (its greeting says so): a connection
    // still in the listen queue when the listener closes is reset by the
    // kernel, which a loaded machine made happen once.
    assert!(late.line().starts_with("OK FERRY/1 "));
    server.handle().shutdown();
    idle.expect_closed(); // the server has seen the shutdown
    late.send("\nhello");
    assert_eq!(late.line(), format!("OK 5 {}", crc_hex(b"hello")));
    late.expect_closed();
    assert_eq!(std::fs::read(server.path("late")).unwrap(), b"hello");
    server.join().unwrap();
}
