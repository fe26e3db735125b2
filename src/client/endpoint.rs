//! Where a server is and how to present oneself to it ([`Endpoint`]):
//! what every connection, and every reconnection, of a command starts
//! from.

use std::sync::Arc;
use std::time::Duration;

use super::{Client, ClientTls, RateLimit, Result, TIMEOUT, probe, tcp_connect, wire};

/// Where a server is and how to present oneself to it: what every
/// connection, and every reconnection, of a command starts from.
#[derive(Clone, Default)]
pub struct Endpoint {
    /// `host:port`.
    pub addr: String,
    /// The token to authenticate with (`AUTH`) on each connection.
    pub token: Option<String>,
    /// Speak TLS, trusting certificates as this set-up says.
    pub tls: Option<ClientTls>,
    /// How long each connection may take to be made and greeted (curl's
    /// `--connect-timeout`); `None`: the client's usual 60 s.
    pub connect_timeout: Option<Duration>,
    /// Shared by every connection made from this endpoint: their bodies
    /// together move no faster (`--limit-rate`).
    pub limit: Option<Arc<RateLimit>>,
}

impl std::fmt::Debug for Endpoint {
    /// The address only: the token stays out of every log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Endpoint {
    /// The server at `addr`, without a token.
    pub fn new(addr: impl Into<String>) -> Endpoint {
        Endpoint {
            addr: addr.into(),
            ..Endpoint::default()
        }
    }

    /// Connects, reads the greeting and, with a token, authenticates.
    ///
    /// # Errors
    /// As for [`Client::connect`]; `ERR 401`/`429` for the token.
    pub fn connect(&self) -> Result<Client> {
        let within = self.connect_timeout.unwrap_or(TIMEOUT);
        let mut client = match &self.tls {
            Some(tls) => {
                let tcp = tcp_connect(self.addr.as_str(), within)?;
                let server = tcp.peer_addr()?;
                let (requests, mut replies) = wire::halves(tls.handshake(tcp, &self.addr)?);
                let ask = |patience| probe::refuse_https(server, &self.addr, tls, patience);
                Client::name_a_silent_port(&mut replies, within, ask, None)?;
                Client::greeted(requests, replies, within)?
            }
            None => Client::connect_within(self.addr.as_str(), within)?,
        };
        client.requests.set_limit(self.limit.clone());
        client.replies.set_limit(self.limit.clone());
        // A server without access control needs no token: it is not sent
        // (nor exposed on the way) to one that would refuse it.
        if let Some(token) = self.token.as_ref().filter(|_| client.server_requires_auth) {
            client.auth(token)?;
        }
        Ok(client)
    }
}
