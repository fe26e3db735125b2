//! The client's certificate check (the web PKI's, with the roots it
//! trusts) that also keeps the fingerprint of the certificate a server
//! last presented, so that a refusal can name it: a person compares it
//! with what `ferry cert` printed or the server logged at its start, and
//! trusts that file with `--ca`. It changes no decision: every call is
//! the web PKI verifier's.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore};

/// The web PKI's verifier, and the fingerprint of the last certificate
/// presented to it (one server per client: the last is the one refused).
#[derive(Debug)]
pub(super) struct Presented {
    inner: Arc<WebPkiServerVerifier>,
    last: Mutex<Option<String>>,
}

impl Presented {
    /// A verifier trusting `roots`, with `provider`'s algorithms.
    ///
    /// # Errors
    /// `roots` holds no usable certificate.
    pub(super) fn new(
        roots: RootCertStore,
        provider: Arc<CryptoProvider>,
    ) -> io::Result<Presented> {
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(io::Error::other)?;
        Ok(Presented {
            inner,
            last: Mutex::new(None),
        })
    }

    /// The SHA-256 fingerprint of the certificate a server last presented.
    pub(super) fn last(&self) -> Option<String> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ServerCertVerifier for Presented {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = crate::tls::fingerprint(end_entity);
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(seen);
        (self.inner).verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
