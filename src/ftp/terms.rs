//! What a control connection is offered (FTPS, active mode) and where
//! its TLS stands: the state `security.rs`'s and `active.rs`'s commands
//! read and change, apart from them so the control connection's codec can
//! hold it without importing them.

use std::net::IpAddr;

/// What a control connection is offered, from the server's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    /// What it is offered of TLS.
    pub tls: TlsOffer,
    /// Active mode (`PORT`, `EPRT`) is served (`--ftp-active`).
    pub active: bool,
    /// Its client's address: the only one active mode connects to.
    pub client: IpAddr,
}

impl Default for Terms {
    fn default() -> Terms {
        Terms {
            tls: TlsOffer::Off,
            active: false,
            client: IpAddr::from([0, 0, 0, 0]),
        }
    }
}

/// What a control connection is offered of TLS.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum TlsOffer {
    /// No certificate: `AUTH` is refused.
    #[default]
    Off,
    /// `AUTH TLS` may be asked for.
    Offered,
    /// `--ftp-require-tls`: no login before `AUTH TLS`, no transfer
    /// before `PROT P`.
    Required,
}

/// A control connection's TLS: offered, begun, and for its data
/// connections.
#[derive(Debug, Default)]
pub(super) struct Security {
    pub(super) offer: TlsOffer,
    /// `AUTH TLS` was asked for; the reactor's answer is awaited.
    pub(super) securing: bool,
    /// The control connection is under TLS.
    pub(super) secured: bool,
    /// `PROT P`: data connections are under TLS.
    pub(super) private: bool,
}

impl Security {
    /// A control connection's, before any `AUTH`: `offer` of TLS.
    pub(super) fn offered(offer: TlsOffer) -> Security {
        Security {
            offer,
            ..Security::default()
        }
    }
}

/// What `FEAT` adds where TLS is offered.
pub(super) const TLS_FEATURES: &str = " AUTH TLS\r\n PBSZ\r\n PROT\r\n";
