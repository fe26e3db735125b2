//! The client's connection as two halves, plain or under TLS, so that one
//! thread can write requests while another reads replies (see
//! [`super::pipeline`]).
//!
//! Under TLS both halves share one rustls session behind a mutex, which
//! is never held across a blocking socket call: the reader reads
//! ciphertext, then locks to decrypt; the writer locks to encrypt, then
//! sends. A second lock keeps records in the order they were sealed when
//! the reader has something to send too (an alert or a key update).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore};

/// Ciphertext read from the socket at once.
const READ_CHUNK: usize = 64 * 1024;

/// How a client checks the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The system's certificate authorities.
    System,
    /// Only the certificates in this PEM file (a private authority, or a
    /// self-signed certificate from `ferry cert`).
    Ca(std::path::PathBuf),
    /// Anything: encrypts, but cannot tell the server from an impostor.
    Insecure,
}

/// A client-side TLS set-up, cheap to clone.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    /// The `--ca` file trusted, if any: named when a handshake fails.
    ca: Option<Arc<Path>>,
    /// The certificate check, which keeps the fingerprint of what the
    /// server presented for a refusal to name (`None` with `--insecure`).
    presented: Option<Arc<super::presented::Presented>>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientTls")
    }
}

impl ClientTls {
    /// A set-up that trusts as `trust` says.
    ///
    /// # Errors
    /// The CA file cannot be read or holds no certificate, or the system
    /// has no certificate authorities.
    pub fn new(trust: &Trust) -> io::Result<ClientTls> {
        let provider = crate::tls::provider()?;
        let algorithms = provider.signature_verification_algorithms;
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?;
        let roots = match trust {
            Trust::Insecure => None,
            Trust::Ca(path) => Some(roots_from(path)?),
            Trust::System => Some(system_roots()?),
        };
        let presented = match roots {
            Some(roots) => Some(Arc::new(super::presented::Presented::new(roots, provider)?)),
            None => None,
        };
        let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = match &presented {
            Some(presented) => Arc::clone(presented) as _,
            None => Arc::new(insecure::AnyCertificate(algorithms)),
        };
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        let ca = match trust {
            Trust::Ca(path) => Some(Arc::from(path.as_path())),
            Trust::System | Trust::Insecure => None,
        };
        Ok(ClientTls {
            config: Arc::new(config),
            ca,
            presented,
        })
    }

    /// A session with the server at `addr` (`host:port`), whose
    /// certificate must be for `host`; nothing sent yet.
    ///
    /// # Errors
    /// `host` is not a valid name or address.
    pub(crate) fn session(&self, addr: &str) -> io::Result<ClientConnection> {
        let name = ServerName::try_from(host_of(addr))
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?
            .to_owned();
        ClientConnection::new(Arc::clone(&self.config), name).map_err(io::Error::other)
    }

    /// Runs the handshake over `tcp` with the server at `addr`
    /// (`host:port`).
    ///
    /// # Errors
    /// As [`ClientTls::session`]; the handshake fails (a bad certificate,
    /// a server that does not speak TLS...).
    pub(crate) fn handshake(&self, mut tcp: TcpStream, addr: &str) -> io::Result<Halves> {
        let mut session = self.session(addr)?;
        while session.is_handshaking() {
            session.complete_io(&mut tcp).map_err(|err| {
                let presented = self.presented.as_ref().and_then(|check| check.last());
                let trusted = (self.ca.as_deref(), presented.as_deref());
                super::tls_failure::handshake_failure(&err, host_of(addr), trusted)
            })?;
        }
        let shared = Arc::new(Shared {
            session: Mutex::new(session),
            sending: Mutex::new(()),
        });
        let reading = tcp.try_clone()?;
        Ok(Halves {
            read: ReadHalf::Tls {
                tcp: reading,
                shared: Arc::clone(&shared),
                ciphertext: Ciphertext::default(),
            },
            write: WriteHalf::Tls { tcp, shared },
        })
    }
}

/// The host of `addr` (`host:port`, `[v6]:port`), as the server's
/// certificate must name it.
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _port)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Both halves of one connection.
pub(crate) struct Halves {
    pub(crate) read: ReadHalf,
    pub(crate) write: WriteHalf,
}

impl Halves {
    /// A plain connection's halves.
    pub(crate) fn plain(tcp: TcpStream) -> io::Result<Halves> {
        Ok(Halves {
            read: ReadHalf::Plain(tcp.try_clone()?),
            write: WriteHalf::Plain(tcp),
        })
    }
}

pub(crate) struct Shared {
    session: Mutex<ClientConnection>,
    /// Held from sealing records until they are on the socket.
    sending: Mutex<()>,
}

impl Shared {
    fn session(&self) -> MutexGuard<'_, ClientConnection> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends what the session holds; `session` is released before the
    /// socket call, `sending` only after it.
    fn send_held(
        &self,
        mut session: MutexGuard<'_, ClientConnection>,
        tcp: &TcpStream,
    ) -> io::Result<()> {
        let mut sealed = Vec::new();
        while session.wants_write() {
            session.write_tls(&mut sealed)?;
        }
        if sealed.is_empty() {
            return Ok(());
        }
        let _sending = self.sending.lock().unwrap_or_else(PoisonError::into_inner);
        drop(session);
        (&mut &*tcp).write_all(&sealed)
    }
}

/// The reading half.
pub(crate) enum ReadHalf {
    Plain(TcpStream),
    Tls {
        tcp: TcpStream,
        shared: Arc<Shared>,
        ciphertext: Ciphertext,
    },
}

/// Ciphertext read from the socket and not yet taken by the session (it
/// takes no more while it holds a record's worth of plaintext unread).
#[derive(Default)]
pub(crate) struct Ciphertext {
    buf: Vec<u8>,
    start: usize,
}

impl std::fmt::Debug for ReadHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReadHalf::Plain(_) => "ReadHalf::Plain",
            ReadHalf::Tls { .. } => "ReadHalf::Tls",
        })
    }
}

impl ReadHalf {
    /// How long a read may wait (the socket's; both halves share it).
    pub(crate) fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        match self {
            ReadHalf::Plain(tcp) | ReadHalf::Tls { tcp, .. } => tcp.set_read_timeout(timeout),
        }
    }

    /// Closes both directions, so that a thread blocked on the other half
    /// wakes up with an error.
    pub(crate) fn shut_down(&self) {
        let tcp = match self {
            ReadHalf::Plain(tcp) | ReadHalf::Tls { tcp, .. } => tcp,
        };
        let _ = tcp.shutdown(Shutdown::Both);
    }
}

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (tcp, shared, ciphertext) = match self {
            ReadHalf::Plain(tcp) => return tcp.read(buf),
            ReadHalf::Tls {
                tcp,
                shared,
                ciphertext,
            } => (tcp, shared, ciphertext),
        };
        loop {
            let mut session = shared.session();
            match session.reader().read(buf) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
            if ciphertext.start == ciphertext.buf.len() {
                drop(session); // no lock held while waiting for the server
                ciphertext.buf.resize(READ_CHUNK, 0);
                let n = tcp.read(&mut ciphertext.buf)?;
                ciphertext.buf.truncate(n);
                ciphertext.start = 0;
                session = shared.session();
            }
            let mut fresh = &ciphertext.buf[ciphertext.start..];
            let before = fresh.len();
            session.read_tls(&mut fresh)?;
            ciphertext.start += before - fresh.len();
            session
                .process_new_packets()
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
            shared.send_held(session, tcp)?;
        }
    }
}

/// The writing half.
pub(crate) enum WriteHalf {
    Plain(TcpStream),
    Tls { tcp: TcpStream, shared: Arc<Shared> },
}

impl std::fmt::Debug for WriteHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WriteHalf::Plain(_) => "WriteHalf::Plain",
            WriteHalf::Tls { .. } => "WriteHalf::Tls",
        })
    }
}

impl Write for WriteHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (tcp, shared) = match self {
            WriteHalf::Plain(tcp) => return tcp.write(buf),
            WriteHalf::Tls { tcp, shared } => (tcp, shared),
        };
        // The session takes at most its buffer's worth, all sent below.
        let mut session = shared.session();
        let taken = session.writer().write(buf)?;
        shared.send_held(session, tcp)?;
        if taken == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "TLS session took nothing",
            ));
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            WriteHalf::Plain(tcp) => tcp.flush(),
            WriteHalf::Tls { .. } => Ok(()),
        }
    }
}

fn roots_from(path: &Path) -> io::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in crate::tls::read_certificates(path)? {
        roots.add(cert).map_err(|err| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {err}", path.display()),
            )
        })?;
    }
    Ok(roots)
}

fn system_roots() -> io::Result<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no certificate authorities found on this system (give --ca)",
        ));
    }
    Ok(roots)
}

/// The verifier behind `--insecure`: checks signatures of the handshake
/// (so the session is still encrypted to whoever answered) but accepts any
/// certificate.
mod insecure {
    use rustls::DigitallySignedStruct;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{
        WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
    };
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    /// Checks signatures with the provider's algorithms.
    #[derive(Debug)]
    pub(super) struct AnyCertificate(pub(super) WebPkiSupportedAlgorithms);

    impl ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(message, cert, dss, &self.0)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(message, cert, dss, &self.0)
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.supported_schemes()
        }
    }
}
