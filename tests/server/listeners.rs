//! Listeners as a list (issue 26): a protocol on a port of its own is one
//! more entry in `Config::listeners`, each entry plain or over TLS, and a
//! list the server cannot serve is refused before any port is bound.

use std::net::SocketAddr;

use ferry::config::Listen;
use ferry::wire::Protocol;
use ferry::{Config, Server};
// The one test that serves: it needs TLS.
#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
use {
    crate::support::http::exchange,
    crate::support::tls::{endpoint, self_signed, tls_over},
    crate::support::{PATIENCE, pattern},
    std::io::{Read, Write},
    std::net::TcpStream,
};

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn over_tls(protocol: Protocol) -> Listen {
    Listen {
        tls: true,
        ..Listen::plain(protocol, any_port())
    }
}

/// A server on `root` with exactly `listeners`, running on a thread of its
/// own; returns the listeners as bound and a way to stop it.
#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))] // only the TLS test starts one
fn start(
    root: &std::path::Path,
    listeners: Vec<Listen>,
    tls: Option<ferry::tls::TlsFiles>,
) -> Running {
    let config = Config {
        listeners,
        tls,
        root: root.to_path_buf(),
        ..Config::default()
    };
    let server = Server::bind(config).expect("bind");
    server.startup_sweep().wait();
    let bound = server.listeners().to_vec();
    let handle = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run());
    Running {
        bound,
        handle,
        thread: Some(thread),
    }
}

#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
struct Running {
    bound: Vec<Listen>,
    handle: ferry::ShutdownHandle,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))] // needs a TLS provider
#[test]
fn each_listener_serves_its_protocol_plain_or_over_tls() {
    let root = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    let files = self_signed(certs.path(), "server");
    let ca = files.cert.clone();
    let data = pattern(70_000, 7);
    std::fs::write(root.path().join("f.bin"), &data).unwrap();
    let server = start(
        root.path(),
        vec![
            Listen::plain(Protocol::Ferry, any_port()),
            Listen::plain(Protocol::Http, any_port()),
            over_tls(Protocol::Http),
            over_tls(Protocol::Ferry),
        ],
        Some(files),
    );
    let [ferry, http, https, ferry_tls] = server.bound[..] else {
        panic!("four listeners bound: {:?}", server.bound);
    };
    assert!(server.bound.iter().all(|l| l.addr.port() != 0));
    // Plain FERRY/1 and plain HTTP on their ports.
    let mut plain = ferry::Client::connect(ferry.addr).expect("connect");
    assert_eq!(plain.get_bytes("f.bin").expect("get"), data);
    let answer = exchange(http.addr, "GET", "/f.bin", "Host: localhost\r\n", b"");
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.body, data);
    // The same protocols over TLS on the others.
    let mut secure = endpoint(&format!("localhost:{}", ferry_tls.addr.port()), &ca)
        .connect()
        .expect("TLS connect");
    assert_eq!(secure.get_bytes("f.bin").expect("get over TLS"), data);
    let tcp = TcpStream::connect(https.addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut tls = tls_over(tcp, &ca);
    tls.write_all(b"GET /f.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    let _ = tls.read_to_end(&mut all);
    assert!(
        all.starts_with(b"HTTP/1.1 200 "),
        "{:?}",
        String::from_utf8_lossy(&all[..all.len().min(200)])
    );
    assert!(all.ends_with(&data));
    // A plaintext HTTP client on the TLS port is not served the file.
    let refused = exchange(https.addr, "GET", "/f.bin", "Host: localhost\r\n", b"");
    assert_ne!(refused.status, 200);
}

#[test]
fn tls_without_a_certificate_is_refused_and_nothing_is_made() {
    let root = tempfile::tempdir().unwrap();
    let config = Config {
        listeners: vec![
            Listen::plain(Protocol::Ferry, any_port()),
            over_tls(Protocol::Http),
        ],
        root: root.path().join("never-made"),
        ..Config::default()
    };
    let err = Server::bind(config).err().expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("no certificate"), "{err}");
    assert!(!root.path().join("never-made").exists());
}

#[test]
fn a_server_without_listeners_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let config = Config {
        listeners: Vec::new(),
        root: root.path().to_path_buf(),
        ..Config::default()
    };
    let err = Server::bind(config).err().expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("no address"), "{err}");
}

#[test]
fn config_listen_replaces_a_protocols_address_and_adds_a_new_one() {
    let mut config = Config::default();
    let ferry_addr: SocketAddr = "127.0.0.1:7001".parse().unwrap();
    let http_addr: SocketAddr = "127.0.0.1:7002".parse().unwrap();
    config.listen(Protocol::Ferry, ferry_addr);
    config.listen(Protocol::Http, http_addr);
    assert_eq!(
        config.listeners,
        vec![
            Listen::plain(Protocol::Ferry, ferry_addr),
            Listen::plain(Protocol::Http, http_addr)
        ]
    );
    assert_eq!(config.address_of(Protocol::Http), Some(http_addr));
}

/// `ferry serve --http ADDR` alone serves HTTP only (issue 57): it used to
/// add FERRY/1 on 127.0.0.1:5010 as well, and failed to start wherever
/// another server held that port. The port is held here while it starts
/// (or is held by someone else already: the same for the test).
#[test]
fn http_alone_is_served_alone_while_5010_is_taken() {
    use std::io::{BufRead, BufReader};
    let _held = std::net::TcpListener::bind("127.0.0.1:5010");
    let root = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["serve", "--no-fsync", "--http", "127.0.0.1:0", "--root"])
        .arg(root.path())
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let serving = lines
        .find_map(|line| line.ok().filter(|l| l.contains("serving ")))
        .expect("the server exited before serving");
    let _ = child.kill();
    let _ = child.wait();
    // "serving <root> on 127.0.0.1:PORT (HTTP), ...": HTTP first, and no
    // other listener.
    let addr = serving
        .split(" on ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(serving.contains(&format!("on {addr} (HTTP),")), "{serving}");
    assert!(!serving.contains(" on 127.0.0.1:5010"), "{serving}");
}
