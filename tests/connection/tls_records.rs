//! TLS records as a hostile or clumsy network delivers them: a client
//! that sends every byte of its handshake and requests in a write of its
//! own, requests pipelined into one record, a body spread over many
//! records and one record split across many reads, a clean `close_notify`
//! in the middle of a session, and garbage after a handshake record
//! header, answered with an alert. The server keeps a partial record
//! between reads and nothing else (`connection/tls_session.rs`), so these
//! are the cases that exercise what it keeps.
#![cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use support::tls::self_signed;
use support::{PATIENCE, TestServer, crc_hex, pattern};

/// A FERRY/1 and HTTP server over TLS, its certificate in `dir`.
fn tls_server(dir: &Path) -> TestServer {
    let files = self_signed(dir, "server");
    TestServer::start_with(|config| {
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        config.serve_tls(files);
    })
}

fn client_config(dir: &Path) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    let cert = CertificateDer::from_pem_file(dir.join("server-cert.pem")).unwrap();
    roots.add(cert).unwrap();
    let config =
        ClientConfig::builder_with_provider(ferry::tls::provider().expect("built with TLS"))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    Arc::new(config)
}

/// A socket that writes at most `step` bytes per system call (with
/// Nagle off, so each goes out as a segment of its own).
struct Trickle {
    stream: TcpStream,
    step: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.step);
        self.stream.write(&buf[..n])
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

type Tls = BufReader<StreamOwned<ClientConnection, Trickle>>;

/// A TLS connection to `addr` whose every write carries at most `step`
/// bytes.
fn connect(addr: std::net::SocketAddr, dir: &Path, step: usize) -> Tls {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let session = ClientConnection::new(client_config(dir), name).unwrap();
    BufReader::new(StreamOwned::new(session, Trickle { stream, step }))
}

fn line(tls: &mut Tls) -> String {
    let mut line = String::new();
    tls.read_line(&mut line).unwrap();
    line
}

fn send(tls: &mut Tls, bytes: &[u8]) {
    let stream = tls.get_mut();
    stream.write_all(bytes).unwrap();
    stream.flush().unwrap();
}

#[test]
fn a_client_sending_a_byte_per_write_is_served_over_both_protocols() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    let data = pattern(40_000, 7);
    let crc = crc_hex(&data);

    let mut ferry = connect(server.addr, dir.path(), 1);
    // The greeting was handed over before the handshake allowed it to be
    // sealed: it is sent once the handshake ends.
    assert!(line(&mut ferry).starts_with("OK FERRY/1"));
    send(
        &mut ferry,
        format!("PUT trickled.bin {} {crc}\n", data.len()).as_bytes(),
    );
    send(&mut ferry, &data);
    assert_eq!(line(&mut ferry), format!("OK {} {crc}\n", data.len()));
    send(&mut ferry, b"GET trickled.bin\n");
    let head = line(&mut ferry);
    assert!(
        head.starts_with(&format!("OK {} {} {crc} ", data.len(), data.len())),
        "{head:?}"
    );
    let mut back = vec![0; data.len()];
    ferry.read_exact(&mut back).unwrap();
    assert!(back == data);

    let mut http = connect(server.http.unwrap(), dir.path(), 1);
    send(
        &mut http,
        b"GET /trickled.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    let mut answer = Vec::new();
    http.read_to_end(&mut answer).unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200 "));
    assert!(answer.ends_with(&data));
}

#[test]
fn pipelined_requests_and_bodies_over_many_records_keep_in_step() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    let mut tls = connect(server.addr, dir.path(), usize::MAX);
    assert!(line(&mut tls).starts_with("OK FERRY/1"));
    // Many small requests in one write (one record), then a body of many
    // records with a request behind it in the same write.
    let mut batch = Vec::new();
    for i in 0..200 {
        batch.extend_from_slice(format!("PUT small/{i} 1\n{}", i % 10).as_bytes());
    }
    let big = pattern(5 << 20, 3);
    batch.extend_from_slice(format!("PUT big.bin {}\n", big.len()).as_bytes());
    batch.extend_from_slice(&big);
    batch.extend_from_slice(b"STAT small/199\n");
    send(&mut tls, &batch);
    for _ in 0..200 {
        assert!(line(&mut tls).starts_with("OK 1 "));
    }
    assert!(line(&mut tls).starts_with(&format!("OK {} ", big.len())));
    assert!(line(&mut tls).starts_with("OK 1 "));
    assert!(std::fs::read(server.path("big.bin")).unwrap() == big);
    assert_eq!(std::fs::read(server.path("small/7")).unwrap(), b"7");
}

#[test]
fn close_notify_ends_the_session_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    let mut tls = connect(server.addr, dir.path(), usize::MAX);
    assert!(line(&mut tls).starts_with("OK FERRY/1"));
    send(&mut tls, b"PUT note 2\nhi");
    assert!(line(&mut tls).starts_with("OK 2 "));
    tls.get_mut().conn.send_close_notify();
    tls.get_mut().flush().unwrap();
    // The server answers with its own close_notify: a clean end of
    // stream, not a truncation.
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    // And it is none the worse.
    let mut again = connect(server.addr, dir.path(), usize::MAX);
    assert!(line(&mut again).starts_with("OK FERRY/1"));
}

#[test]
fn garbage_after_a_handshake_record_header_gets_an_alert_and_a_close() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_server(dir.path());
    let mut raw = TcpStream::connect(server.addr).unwrap();
    raw.set_read_timeout(Some(PATIENCE)).unwrap();
    // A handshake record of 8 bytes that are no handshake message.
    raw.write_all(&[0x16, 0x03, 0x01, 0x00, 0x08, 0xff, 0, 0, 4, 1, 2, 3, 4])
        .unwrap();
    let mut answer = Vec::new();
    raw.read_to_end(&mut answer).unwrap();
    // An alert record (content type 21), then the end of the connection.
    assert_eq!(answer.first(), Some(&0x15), "{answer:?}");
    assert_eq!(answer.len(), 7, "one plaintext alert record: {answer:?}");
    // Others are served meanwhile and after.
    let mut tls = connect(server.addr, dir.path(), usize::MAX);
    assert!(line(&mut tls).starts_with("OK FERRY/1"));
}
