//! TLS on both listeners (issue 12): round trips with the ferry client,
//! the binary, curl and Python's `ssl` module; a plaintext client on a TLS
//! port and a TLS client on a plaintext port each fail cleanly, the
//! plaintext `ferry` is told at once that the port speaks TLS (it asks on
//! a connection of its own), and hints at TLS within seconds (unless `-q`)
//! while still waiting for a greeting that is only slow; a stalled
//! handshake is cut by the header deadline while others are served; the
//! certificate is re-read on SIGHUP. curl and python3 are skipped, saying
//! so, where they are not installed.
#![cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))] // built with what it tests (Cargo.toml [features])

use crate::binary;
use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rustix::process::Signal;
use support::process::Process;
use support::tls::{endpoint, self_signed};
use support::{PATIENCE, TestServer, pattern};

/// A server with both listeners over TLS, its certificate in `dir`.
fn tls_server(dir: &Path) -> TestServer {
    let files = self_signed(dir, "server");
    TestServer::start_with(|config| {
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        config.serve_tls(files);
        config.header_timeout = Duration::from_secs(1);
    })
}

fn cert(dir: &Path) -> std::path::PathBuf {
    dir.join("server-cert.pem")
}

fn installed(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

#[test]
fn the_ferry_client_round_trips_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    let endpoint = endpoint(
        &format!("localhost:{}", server.addr.port()),
        &cert(dir.path()),
    );
    let mut client = endpoint.connect().expect("TLS connect");
    // Larger than the TLS buffer and many records: the file-read path
    // (no sendfile under TLS) and partial writes both run.
    for (name, len) in [("small.txt", 5), ("big.bin", 3 << 20)] {
        let data = pattern(len, len as u64);
        client.put_bytes(name, &data).expect("put");
        assert_eq!(client.get_bytes(name).expect("get"), data);
        assert!(std::fs::read(server.path(name)).unwrap() == data);
    }
    let listed = client.list("").expect("list");
    assert_eq!(listed.len(), 2);
}

#[cfg(feature = "client")] // runs the client commands
#[test]
fn the_binary_puts_and_gets_folders_over_tls_with_ca_and_refuses_an_unknown_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("up");
    std::fs::create_dir(&folder).unwrap();
    for i in 0..20 {
        std::fs::write(folder.join(format!("f{i}")), pattern(100_000 + i, i as u64)).unwrap();
    }
    let ca = cert(dir.path());
    let ca = ca.to_str().unwrap();
    let addr = format!("localhost:{}", server.addr.port());
    let ferry = |args: &[&str]| {
        binary::ferry(work.path())
            .args(args)
            .args(["--server", &addr])
            .output()
            .unwrap()
    };
    binary::success(&ferry(&["put", "-q", "-r", "up", "--ca", ca]));
    binary::success(&ferry(&["get", "-q", "-r", "up/", "down", "--ca", ca]));
    for i in 0..20 {
        let name = format!("f{i}");
        assert!(
            std::fs::read(work.path().join("down").join(&name)).unwrap()
                == std::fs::read(folder.join(&name)).unwrap()
        );
    }
    // Another certificate than the server's: refused before any request.
    let other = self_signed(work.path(), "other");
    let line = binary::failure(&ferry(&["ls", "--ca", other.cert.to_str().unwrap()]), 3);
    assert!(line.contains("certificate"), "{line}");
    // The system's authorities do not know a self-signed certificate.
    let line = binary::failure(&ferry(&["ls", "--tls"]), 3);
    assert!(line.contains("certificate"), "{line}");
    // --insecure encrypts without checking.
    let listed = binary::success(&ferry(&["ls", "-R", "--insecure"]));
    assert_eq!(listed.lines().count(), 20, "{listed}");
}

#[test]
fn ferry_cert_makes_a_pair_the_server_serves_and_the_client_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let made = binary::ferry(dir.path())
        .args(["cert", "localhost", "127.0.0.1"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let (cert, key) = (
        dir.path().join("ferry-cert.pem"),
        dir.path().join("ferry-key.pem"),
    );
    // Its fingerprint is told, as the server logs it and a client names
    // it when it does not trust it: a person compares the three.
    let der = ferry::tls::read_certificates(&cert).unwrap();
    let fingerprint = ferry::tls::fingerprint(&der[0]);
    assert_eq!(fingerprint.len(), 32 * 3 - 1, "{fingerprint}");
    let told = String::from_utf8_lossy(&made.stderr);
    assert!(
        told.contains(&format!("SHA-256 fingerprint is {fingerprint}")),
        "{told}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the key is its owner's only");
    // A second run would replace the key a server uses: refused.
    let again = binary::ferry(dir.path())
        .args(["cert", "localhost"])
        .output()
        .unwrap();
    assert!(binary::failure(&again, 2).contains("--force"));

    let root = tempfile::tempdir().unwrap();
    let server = Process::start(
        root.path(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let logged = server.wait_for_log("TLS certificate");
    assert!(logged.contains(&fingerprint), "{logged}");
    for host in ["localhost", "127.0.0.1"] {
        let mut client = endpoint(&format!("{host}:{}", server.addr.port()), &cert)
            .connect()
            .expect("trusted for both names");
        client.put_bytes(host, b"x").unwrap();
    }
}

#[test]
fn a_tls_connection_over_the_cap_is_closed_without_a_plaintext_answer() {
    let dir = tempfile::tempdir().unwrap();
    let files = self_signed(dir.path(), "server");
    let server = TestServer::start_with(|config| {
        config.serve_tls(files);
        config.max_connections = 1;
    });
    let endpoint = endpoint(
        &format!("localhost:{}", server.addr.port()),
        &cert(dir.path()),
    );
    let _first = endpoint.connect().expect("the one allowed");
    let mut over = TcpStream::connect(server.addr).unwrap();
    over.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut said = Vec::new();
    if let Err(err) = over.read_to_end(&mut said) {
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    }
    assert_eq!(
        said, b"",
        "a TLS client could not read ERR 503 in plaintext"
    );
}

#[test]
fn curl_round_trips_over_https_and_fails_cleanly_on_plain_http() {
    if !installed("curl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    let url = format!(
        "https://localhost:{}/c/data.bin",
        server.http.unwrap().port()
    );
    let data = pattern(1 << 20, 7);
    let local = dir.path().join("data.bin");
    std::fs::write(&local, &data).unwrap();
    let ca = cert(dir.path());
    let curl = |args: &[&str]| {
        Command::new("curl")
            .args(["-sS", "--fail", "--max-time", "20", "--cacert"])
            .arg(&ca)
            .args(args)
            .output()
            .unwrap()
    };
    let put = curl(&["-T", local.to_str().unwrap(), &url]);
    assert!(put.status.success(), "{put:?}");
    let got = curl(&[&url]);
    assert!(got.status.success(), "{got:?}");
    assert!(got.stdout == data);

    // curl speaking TLS to a plain HTTP listener gets a handshake error.
    let plain = TestServer::start_with(|config| {
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    });
    let https_to_plain = curl(&[&format!(
        "https://localhost:{}/",
        plain.http.unwrap().port()
    )]);
    assert!(!https_to_plain.status.success());
    assert_eq!(https_to_plain.status.code(), Some(35), "{https_to_plain:?}");
}

#[test]
fn python_ssl_round_trips_with_the_python_client() {
    if !installed("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python/ferry_client.py");
    let data = pattern(500_000, 9);
    std::fs::write(dir.path().join("p.bin"), &data).unwrap();
    let python = |args: &[&str]| {
        Command::new("python3")
            .arg(&script)
            .args(["--server", &format!("localhost:{}", server.addr.port())])
            .args(args)
            .current_dir(dir.path())
            .env_remove("FERRY_TOKEN")
            .env_remove("FERRY_SERVER")
            .output()
            .unwrap()
    };
    let ca = cert(dir.path());
    let ca = ca.to_str().unwrap();
    let put = python(&["--ca", ca, "put", "p.bin", "py/p.bin"]);
    assert!(put.status.success(), "{put:?}");
    assert!(std::fs::read(server.path("py/p.bin")).unwrap() == data);
    let get = python(&["--ca", ca, "get", "py/p.bin", "back.bin"]);
    assert!(get.status.success(), "{get:?}");
    assert!(std::fs::read(dir.path().join("back.bin")).unwrap() == data);
    // The system's authorities do not know a self-signed certificate.
    let refused = python(&["--tls", "ls"]);
    assert_eq!(refused.status.code(), Some(3), "{refused:?}");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("CERTIFICATE_VERIFY_FAILED"), "{said}");
}

#[test]
fn a_plaintext_client_on_a_tls_port_is_told_or_let_go() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    // HTTP speaks first: it is answered in plaintext, as nginx does.
    let mut http = TcpStream::connect(server.http.unwrap()).unwrap();
    http.set_read_timeout(Some(PATIENCE)).unwrap();
    http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    http.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("TLS port"), "{answer}");
    // So is a FERRY/1 request line.
    let mut ferry = TcpStream::connect(server.addr).unwrap();
    ferry.set_read_timeout(Some(PATIENCE)).unwrap();
    ferry.write_all(b"STAT x\n").unwrap();
    let mut answer = String::new();
    ferry.read_to_string(&mut answer).unwrap();
    assert_eq!(
        answer,
        "ERR 400 this port speaks TLS: connect with TLS (ferry --tls)\n"
    );
    // A FERRY/1 client waits for a greeting that a TLS port cannot send
    // in plaintext; the header deadline lets it go, with a hint.
    // (The client asks on a connection of its own what a silent port
    // speaks, and is told at once.)
    let err = ferry::Client::connect(server.addr).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{} speaks TLS: connect with --tls or --ca", server.addr)
    );
}

#[test]
fn a_tls_client_on_a_plaintext_port_fails_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    self_signed(dir.path(), "server");
    let plain = TestServer::start();
    let endpoint = endpoint(
        &format!("localhost:{}", plain.addr.port()),
        &cert(dir.path()),
    );
    let err = endpoint.connect().unwrap_err().to_string();
    assert!(err.contains("TLS handshake failed"), "{err}");
    assert!(err.contains("plaintext"), "{err}");
    // The server is none the worse.
    plain.client().put_bytes("after", b"ok").unwrap();
}

#[test]
fn a_stalled_handshake_is_cut_by_the_header_deadline_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    // A record header that promises 512 bytes of ClientHello, and 4 of them.
    let mut stalled = TcpStream::connect(server.addr).unwrap();
    stalled.set_read_timeout(Some(PATIENCE)).unwrap();
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01])
        .unwrap();
    // One that never says anything at all.
    let mut silent = TcpStream::connect(server.addr).unwrap();
    silent.set_read_timeout(Some(PATIENCE)).unwrap();
    let endpoint = endpoint(
        &format!("localhost:{}", server.addr.port()),
        &cert(dir.path()),
    );
    let mut other = endpoint.connect().expect("served meanwhile");
    other.put_bytes("meanwhile", b"served").unwrap();
    for peer in [&mut stalled, &mut silent] {
        let mut rest = Vec::new();
        // EOF (or a reset) well before PATIENCE: the 1 s header deadline,
        // not the 60 s idle timeout.
        if let Err(err) = peer.read_to_end(&mut rest) {
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
        }
        assert!(
            rest.is_empty() || rest[0] == 0x15,
            "only an alert, if anything"
        );
    }
    // The connection that finished its handshake is not bound by it.
    assert_eq!(other.get_bytes("meanwhile").unwrap(), b"served");
}

#[test]
fn sighup_reloads_the_certificate_and_a_broken_one_keeps_the_old() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = self_signed(dir.path(), "first");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::copy(&first.cert, &cert).unwrap();
    std::fs::copy(&first.key, &key).unwrap();
    let server = Process::start(
        root.path(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let addr = format!("localhost:{}", server.addr.port());
    endpoint(&addr, &first.cert).connect().expect("first");

    let second = self_signed(dir.path(), "second");
    std::fs::copy(&second.cert, &cert).unwrap();
    std::fs::copy(&second.key, &key).unwrap();
    server.signal(Signal::HUP);
    server.wait_for_log("certificate reloaded");
    endpoint(&addr, &second.cert).connect().expect("second");
    assert!(endpoint(&addr, &first.cert).connect().is_err());

    // A key that is not the certificate's: the second pair stays.
    std::fs::copy(&first.key, &key).unwrap();
    server.signal(Signal::HUP);
    server.wait_for_log("certificate not reloaded");
    endpoint(&addr, &second.cert)
        .connect()
        .expect("still second");
}

/// Running the `ferry` client as a process, for the client commands' tests.
#[cfg(feature = "client")]
mod spawned {
    use std::io::{BufRead, BufReader};
    use std::path::Path;
    use std::process::Stdio;
    use std::sync::mpsc;

    /// Reads `child`'s stderr on a thread, one line per message.
    pub fn stderr_lines(child: &mut std::process::Child) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        rx
    }

    /// `ferry <args>` in `dir`, its stderr piped.
    pub fn spawn_ferry(dir: &Path, args: &[&str]) -> std::process::Child {
        super::binary::ferry(dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}
#[cfg(feature = "client")]
use spawned::{spawn_ferry, stderr_lines};

#[cfg(feature = "client")] // runs the client commands
#[test]
fn a_plaintext_ferry_client_on_a_tls_port_is_told_long_before_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let files = self_signed(dir.path(), "server");
    let (cert, key) = (files.cert.to_str().unwrap(), files.key.to_str().unwrap());
    // A deadline so long that only the client's own question can explain
    // an answer within PATIENCE.
    let server = Process::start(
        &dir.path().join("root"),
        &[
            "--tls-cert",
            cert,
            "--tls-key",
            key,
            "--header-timeout",
            "30",
        ],
    );
    let addr = server.addr.to_string();
    // -q too: this is an error, not a hint.
    for args in [&["ls"][..], &["-q", "ls"]] {
        let mut child = spawn_ferry(dir.path(), &[args, &["--server", &addr]].concat());
        let line = stderr_lines(&mut child)
            .recv_timeout(PATIENCE)
            .expect("an answer on stderr before the header deadline");
        assert_eq!(
            line,
            format!("ferry: {addr} speaks TLS: connect with --tls or --ca")
        );
        assert_eq!(child.wait().unwrap().code(), Some(3));
    }
}

#[cfg(feature = "client")] // runs the client commands
#[test]
fn a_slow_greeting_gets_the_hint_and_is_still_waited_for() {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    // A stand-in server that greets only once the test has seen the hint.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (greet, greet_now) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut out = &stream;
        if greet_now.recv().is_err() {
            return;
        }
        out.write_all(b"OK FERRY/1 1\n").unwrap();
        for line in BufReader::new(&stream).lines().map_while(Result::ok) {
            let answer: &[u8] = if line.starts_with("LIST") || line.starts_with("DIR") {
                b"OK 0\n"
            } else {
                b"OK\n"
            };
            if out.write_all(answer).is_err() {
                return;
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_ferry(dir.path(), &["ls", "--server", &addr]);
    let lines = stderr_lines(&mut child);
    let line = lines.recv_timeout(PATIENCE).expect("a hint");
    assert!(line.contains("no greeting from"), "{line}");
    greet.send(()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(lines.recv().is_err(), "nothing more on stderr");
}

#[cfg(feature = "client")] // runs the client commands
#[test]
fn a_tls_client_pointed_at_an_https_port_says_so_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    let https = server.http.unwrap();
    let ca = cert(dir.path());
    let work = tempfile::tempdir().unwrap();
    // --connect-timeout only bounds the test: before, the client waited
    // for the server's first-byte deadline and then blamed TLS, which it
    // was already speaking.
    let output = binary::ferry(work.path())
        .args(["ls", "--connect-timeout", "30", "--ca"])
        .arg(&ca)
        .arg("--server")
        .arg(format!("localhost:{}", https.port()))
        .output()
        .unwrap();
    assert_eq!(
        binary::failure(&output, 3),
        format!(
            "ferry: 127.0.0.1:{} speaks HTTP over TLS, not FERRY/1: use --server with the FERRY/1 port",
            https.port()
        )
    );
}
