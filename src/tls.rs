//! TLS for both listeners: the certificate and key (read at start-up and
//! again on SIGHUP, off the loop), the rustls configuration built from
//! them, and the choice of crypto provider.
//!
//! The loop never reads a file here: a reload runs on a short-lived thread
//! and swaps the certificate in behind a lock that each handshake takes
//! for a moment (rustls asks `Certificates::resolve` once per
//! ClientHello). A certificate that fails to load on reload leaves the old
//! one in force, with an error in the log.
//!
//! The provider is aws-lc-rs (feature `tls-aws-lc`, the default; ring
//! with `tls-ring`, for size; neither: no TLS, and its flags are
//! refused with [`WITHOUT_TLS`]): measured against ring on this project's
//! machine it does a server handshake in 57 µs against 82 µs and AES-GCM
//! 8-9% faster, and it builds with the C compiler alone (no cmake, nasm or
//! bindgen on x86-64 Linux); the price is a longer first build and 2 MB
//! more binary (docs/security.md has the figures). What the
//! connection does with a session lives in `connection/tls_session.rs`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use log::{error, info};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::UnbufferedServerConnection;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::threads::reload::Serial;
use crate::tls_login::{LoginTerms, LoginTls, Logins};

/// Ciphertext (and early plaintext) one TLS connection may hold unsent:
/// four full records. Beyond it the connection waits for the socket, as a
/// plain one waits with a full send buffer.
pub const SEND_BUFFER_LIMIT: usize = 64 * 1024;

/// Where the server's certificate chain and private key are (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The crypto provider every TLS configuration of ferry uses: the one
/// the build chose (aws-lc-rs if both features are on).
///
/// # Errors
/// Built without TLS (neither `tls-aws-lc` nor `tls-ring`): the error
/// says how to rebuild.
pub fn provider() -> io::Result<Arc<CryptoProvider>> {
    built_in()
        .map(Arc::new)
        .ok_or_else(|| io::Error::other(WITHOUT_TLS))
}

/// What a TLS flag or command answers in a build without TLS.
pub const WITHOUT_TLS: &str =
    "built without TLS: rebuild with --features tls-ring (or tls-aws-lc, the default)";

#[cfg(feature = "tls-aws-lc")]
fn built_in() -> Option<CryptoProvider> {
    Some(rustls::crypto::aws_lc_rs::default_provider())
}

#[cfg(all(feature = "tls-ring", not(feature = "tls-aws-lc")))]
fn built_in() -> Option<CryptoProvider> {
    Some(rustls::crypto::ring::default_provider())
}

#[cfg(not(any(feature = "tls-aws-lc", feature = "tls-ring")))]
fn built_in() -> Option<CryptoProvider> {
    None
}

/// A self-signed certificate of `params` and its new key, as PEM
/// (certificate, key), made by the build's provider (`ferry cert`).
///
/// # Errors
/// Built without TLS, or the provider failed.
pub fn self_signed(params: &rcgen::CertificateParams) -> io::Result<(String, String)> {
    #[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
    return rcgen::KeyPair::generate()
        .and_then(|key| Ok((params.self_signed(&key)?.pem(), key.serialize_pem())))
        .map_err(io::Error::other);
    #[cfg(not(any(feature = "tls-aws-lc", feature = "tls-ring")))]
    {
        let _ = params;
        Err(io::Error::other(WITHOUT_TLS))
    }
}

/// The server's TLS set-up: makes a session for each accepted connection.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    /// `config` for FTP's data connections: no session tickets (each
    /// login's copy keeps its own sessions).
    data_config: Arc<ServerConfig>,
    certificates: Arc<Certificates>,
    /// The FTPS logins, whose sessions their data connections resume.
    logins: Arc<Logins>,
    /// Reloads under way and asked for.
    reloads: Arc<Serial>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("files", &self.certificates.files)
            .finish()
    }
}

impl ServerTls {
    /// Loads the certificate and key and builds the configuration: TLS 1.3
    /// and 1.2, the provider's default suites, no client certificates.
    ///
    /// # Errors
    /// A file cannot be read, holds no certificate or key, or the key does
    /// not belong to the certificate.
    pub fn load(files: &TlsFiles) -> io::Result<ServerTls> {
        let provider = provider()?;
        let key = read_certified_key(files, &provider)?;
        let certificates = Arc::new(Certificates {
            files: files.clone(),
            current: RwLock::new(Arc::new(key)),
            provider: Arc::clone(&provider),
        });
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&certificates) as Arc<dyn ResolvesServerCert>);
        // FTP's data connections resume the sessions their control
        // connection began (`tls_login.rs`) but issue no tickets: an
        // uploading client never reads them, and a socket closed with them
        // unread is reset, which drops what it had not sent yet (lftp
        // 4.9.2's STORs were cut at 160 KiB, measured with one ticket).
        let mut data_config = config.clone();
        data_config.send_tls13_tickets = 0;
        Ok(ServerTls {
            config: Arc::new(config),
            data_config: Arc::new(data_config),
            certificates,
            logins: Arc::default(),
            reloads: Arc::default(),
        })
    }

    /// A server session for a new connection.
    ///
    /// # Errors
    /// Only if rustls cannot set up a session (out of memory, in effect).
    pub fn session(&self) -> Result<UnbufferedServerConnection, rustls::Error> {
        UnbufferedServerConnection::new(Arc::clone(&self.config))
    }

    /// The session of an FTP control connection (`AUTH TLS`) of a login
    /// on `terms` and the terms its data connections' sessions are made
    /// on: they resume the control connection's session, or a sibling
    /// login's under the same token, and no other (`tls_login.rs`).
    ///
    /// # Errors
    /// As [`Self::session`].
    pub fn login(
        &self,
        terms: LoginTerms,
    ) -> Result<(UnbufferedServerConnection, LoginTls), rustls::Error> {
        let configs = (&*self.config, &*self.data_config);
        LoginTls::begin(configs, &self.logins, terms)
    }

    /// Re-reads the certificate and key on a thread of its own; the old
    /// pair stays in force if that fails.
    pub fn reload_in_background(&self) {
        let certificates = Arc::clone(&self.certificates);
        // One reader at a time, so the pair in force is the one read last.
        Serial::request(&self.reloads, "ferry-tls-reload", move || {
            certificates.reload();
        });
    }
}

/// The certificate in force, swapped whole on reload.
struct Certificates {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for Certificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificates")
            .field("files", &self.files)
            .finish()
    }
}

impl Certificates {
    fn reload(&self) {
        match read_certified_key(&self.files, &self.provider) {
            Ok(key) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
                info!("certificate reloaded from {}", self.files.cert.display());
            }
            Err(err) => error!("certificate not reloaded, the old one stays in force: {err}"),
        }
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

fn read_certified_key(files: &TlsFiles, provider: &CryptoProvider) -> io::Result<CertifiedKey> {
    let chain = read_certificates(&files.cert)?;
    info!(
        "TLS certificate {}: SHA-256 fingerprint {}",
        files.cert.display(),
        fingerprint(&chain[0])
    );
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|err| pem_error(&files.key, "a private key", err))?;
    CertifiedKey::from_der(chain, key, provider).map_err(|err| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} and {}: {err}",
                files.cert.display(),
                files.key.display()
            ),
        )
    })
}

/// A certificate's SHA-256 fingerprint as `openssl x509 -fingerprint
/// -sha256` shows it (`AB:CD:...`): what `ferry cert` prints, the server
/// logs at its start, and a client names when it does not trust the
/// certificate a server presented, so that a person can compare them.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(der);
    let hex: Vec<String> = digest.iter().map(|byte| format!("{byte:02X}")).collect();
    hex.join(":")
}

/// Every certificate in the PEM file at `path`, in order.
///
/// # Errors
/// The file cannot be read or holds no certificate.
pub fn read_certificates(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|err| pem_error(path, "certificates", err))?;
    if chain.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: no certificate in it", path.display()),
        ));
    }
    Ok(chain)
}

fn pem_error(path: &Path, what: &str, err: rustls::pki_types::pem::Error) -> io::Error {
    match err {
        rustls::pki_types::pem::Error::Io(err) => {
            io::Error::new(err.kind(), format!("{}: {err}", path.display()))
        }
        other => io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: no {what} in it ({other})", path.display()),
        ),
    }
}
