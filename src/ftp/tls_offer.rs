//! What a control connection is offered of FTPS and where its TLS stands
//! (the state `security.rs`'s commands change; apart from them so the
//! control connection's codec can hold it without importing them).

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
