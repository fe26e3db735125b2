//! Certificates for TLS tests: a self-signed pair written to a directory,
//! and client set-ups that trust it.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry::client::{ClientTls, Endpoint, Trust};
use ferry::tls::TlsFiles;

/// Writes a self-signed certificate for `localhost` and 127.0.0.1 and its
/// key into `dir` as `<stem>-cert.pem` and `<stem>-key.pem`.
pub fn self_signed(dir: &Path, stem: &str) -> TlsFiles {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("certificate");
    let cert = dir.join(format!("{stem}-cert.pem"));
    let key = dir.join(format!("{stem}-key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    TlsFiles { cert, key }
}

/// A client that trusts only `ca`.
pub fn trusting(ca: &Path) -> ClientTls {
    ClientTls::new(&Trust::Ca(PathBuf::from(ca))).expect("client TLS")
}

/// The server at `addr` (as `host:port`), over TLS trusting only `ca`.
pub fn endpoint(addr: &str, ca: &Path) -> Endpoint {
    Endpoint {
        tls: Some(trusting(ca)),
        ..Endpoint::new(addr)
    }
}

/// A TLS client over `tcp`, trusting only the test certificate.
pub fn tls_over(
    tcp: TcpStream,
    ca: &std::path::Path,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    tls_with(tcp, &client_config(ca, rustls::DEFAULT_VERSIONS))
}

/// A TLS client set-up trusting only `ca` and offering `versions`. Its
/// connections share a session cache: those after the first resume its
/// session (an FTPS login's data connections, as curl and lftp do).
pub fn client_config(
    ca: &Path,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(
        ferry::tls::provider().expect("built with TLS"),
    )
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(config)
}

/// A TLS client over `tcp` on `config`'s terms, for 127.0.0.1.
pub fn tls_with(
    tcp: TcpStream,
    config: &Arc<rustls::ClientConfig>,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1")
        .unwrap()
        .to_owned();
    let session = rustls::ClientConnection::new(Arc::clone(config), name).unwrap();
    rustls::StreamOwned::new(session, tcp)
}
