//! A client command against a TLS server whose certificate it cannot
//! accept says so in one line a person can act on: what was wrong (not
//! trusted, for another name, expired) and the way out (`--ca FILE`, a
//! name the certificate is for, a new certificate), never rustls's debug
//! dump (`UnsupportedSignatureAlgorithmForPublicKeyContext { ... }`,
//! `invalid peer certificate: UnknownIssuer`). Real servers on 127.0.0.1
//! with certificates made here, the real binary (issue 79).
#![cfg(all(feature = "client", any(feature = "tls-aws-lc", feature = "tls-ring")))]

use crate::binary;
use crate::support;

use std::path::Path;

use binary::{failure, ferry};
use ferry::tls::TlsFiles;
use support::TestServer;
use support::tls::self_signed;

/// A self-signed certificate for `hosts` written into `dir` as
/// `<stem>-cert.pem` and `<stem>-key.pem`, valid from January 1st of one
/// year to January 1st of another (`None`: rcgen's default, 1975 to 4096).
fn certificate(dir: &Path, stem: &str, hosts: &[&str], years: Option<(i32, i32)>) -> TlsFiles {
    let hosts = hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>();
    let mut params = rcgen::CertificateParams::new(hosts).unwrap();
    if let Some((from, until)) = years {
        params.not_before = rcgen::date_time_ymd(from, 1, 1);
        params.not_after = rcgen::date_time_ymd(until, 1, 1);
    }
    let (cert, key) = ferry::tls::self_signed(&params).unwrap();
    let files = TlsFiles {
        cert: dir.join(format!("{stem}-cert.pem")),
        key: dir.join(format!("{stem}-key.pem")),
    };
    std::fs::write(&files.cert, cert).unwrap();
    std::fs::write(&files.key, key).unwrap();
    files
}

/// Runs `ferry <trust...> ls --server 127.0.0.1:<port>` and returns its one
/// `ferry: ` line (exit 3, a connection failure), checked to carry no
/// Rust value's dump.
fn refused(work: &Path, server: &TestServer, trust: &[&str]) -> String {
    let output = ferry(work)
        .env_remove("FERRY_CA")
        .args(trust)
        .args(["ls", "--server", &server.addr.to_string()])
        .output()
        .unwrap();
    let line = failure(&output, 3);
    assert!(
        !line.contains(['{', '}']) && !line.contains("Context") && !line.contains("Issuer"),
        "a debug dump, not words: {line}"
    );
    assert!(
        line.contains("TLS handshake failed: the server's certificate"),
        "{line}"
    );
    line
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_certificate_not_trusted_names_ca_as_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let files = self_signed(dir.path(), "server");
    let other = self_signed(dir.path(), "other");
    let der = ferry::tls::read_certificates(&files.cert).unwrap();
    let fingerprint = ferry::tls::fingerprint(&der[0]);
    let server = TestServer::start_with(|c| c.serve_tls(files));

    // --tls: the system's authorities, which never signed a self-signed one.
    let line = refused(dir.path(), &server, &["--tls"]);
    // The certificate the server presented, by its fingerprint: what
    // `ferry cert` printed and the server logged, for a person to compare.
    assert!(
        line.contains(&format!("SHA-256 fingerprint {fingerprint}")),
        "{line}"
    );
    assert!(
        line.contains("not signed by an authority this system trusts"),
        "{line}"
    );
    assert!(
        line.contains("--ca FILE") && line.contains("--tls-cert"),
        "{line}"
    );

    // --ca with another certificate: that file is named, and --ca again.
    let line = refused(dir.path(), &server, &["--ca", path(&other.cert)]);
    assert!(
        line.contains(&format!(
            "not signed by any certificate in {}",
            path(&other.cert)
        )),
        "{line}"
    );
    assert!(
        line.contains("give --ca the server's own certificate"),
        "{line}"
    );
}

#[test]
fn a_certificate_for_another_name_names_it_and_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let files = certificate(dir.path(), "elsewhere", &["files.example"], None);
    let ca = files.cert.clone();
    let server = TestServer::start_with(|c| c.serve_tls(files));

    let line = refused(dir.path(), &server, &["--ca", path(&ca)]);
    assert!(
        line.contains("is for files.example, not for 127.0.0.1"),
        "{line}"
    );
    assert!(
        line.contains("--server NAME:PORT") && line.contains("ferry cert 127.0.0.1"),
        "{line}"
    );
}

#[test]
fn an_expired_certificate_says_when_and_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let files = certificate(dir.path(), "old", &["127.0.0.1"], Some((2020, 2021)));
    let ca = files.cert.clone();
    let server = TestServer::start_with(|c| c.serve_tls(files));

    let line = refused(dir.path(), &server, &["--ca", path(&ca)]);
    assert!(line.contains("expired on 2021-01-01"), "{line}");
    assert!(
        line.contains("needs a new one (ferry cert makes one)"),
        "{line}"
    );
}
