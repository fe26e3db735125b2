//! The PROXY header of a connection from a trusted load balancer
//! (`--trusted-proxy`): read off the socket before TLS or the codec sees a
//! byte, and the client it names made the connection's peer. Part of the
//! connection (see `mod.rs`); runs inside [`Connection::drive`] in the
//! connection's first state, `ProxyHeader`.
//!
//! The header is not read into a buffer of the connection's: what has
//! arrived is peeked at (`MSG_PEEK`) into the reactor-wide scratch buffer
//! and parsed there, and only once it holds a whole header are exactly its
//! bytes read off the socket. What follows it stays in the socket for TLS
//! or the codec, so no byte of theirs is ever held here. While the header
//! is incomplete the connection waits for readability: peeking took
//! nothing, so the edge-triggered poll reports the socket again only when
//! more arrives, which is when parsing again can tell more. A header that
//! never completes is cut by the request-line deadline; so is one after
//! which the balancer half-closes, since a peek sees the bytes there, not
//! the end of the stream behind them (a balancer's bug, bounded all the
//! same).
//!
//! Once the header names a client, the drive stops there and the
//! connection is [`Counted::Named`]: the server counts that client against
//! its connection cap (or refuses it `busy`) before serving it, as it
//! counts everyone else's address at accept.
//!
//! The connection stays the size it was: `ProxyHeader` is one more state
//! without data, and the client's address replaces the peer's in place.

use std::net::SocketAddr;

use log::{debug, warn};
use mio::Interest;

use super::{Connection, Counted, State, Step};
use crate::proxy::{self, ProxySource};
use crate::wire::socket::Outcome;

impl Connection {
    /// ProxyHeader: parses the header from what has arrived and takes it
    /// off the socket once whole. `Ok(bytes)` on progress; a malformed
    /// header or none at all closes the connection without an answer (the
    /// balancer is misconfigured, and its client would not understand).
    pub(super) fn read_proxy_header(&mut self, scratch: &mut [u8]) -> Result<usize, Step> {
        let want = proxy::header::MAX_HEADER.min(scratch.len());
        let peeked = match self.transport.peek_raw(&mut scratch[..want]) {
            Outcome::Done(n) => n,
            Outcome::WouldBlock => return Err(Step::Wait(Interest::READABLE)),
            Outcome::Eof => {
                warn!(
                    "#{} trusted proxy {} closed before a whole PROXY header",
                    self.id,
                    self.peer()
                );
                return Err(Step::Close);
            }
            other => return Err(self.socket_failed(other)),
        };
        let (source, len) = match proxy::parse(&scratch[..peeked]) {
            Ok(Some(header)) => header,
            Ok(None) => {
                // `parse` refuses anything longer than `MAX_HEADER`, so a
                // full peek never leaves it wanting more.
                debug_assert!(peeked < want, "a full peek that is still incomplete");
                return Err(Step::Wait(Interest::READABLE));
            }
            Err(err) => {
                warn!("#{} trusted proxy {}: {err}; closing", self.id, self.peer());
                return Err(Step::Close);
            }
        };
        self.discard(scratch, len)?;
        self.bytes_in += len as u64;
        let via = self.peer();
        match source {
            ProxySource::Client(client) => {
                debug!("#{} is {client} (via {via})", self.id);
                self.set_peer(client);
                self.state = State::AwaitHeader;
                // The server counts the client against its cap before a
                // byte of its requests is read.
                self.counted = Counted::Named;
                return Err(Step::Yield);
            }
            ProxySource::Proxy => debug!("#{} is the proxy {via} itself", self.id),
        }
        self.state = State::AwaitHeader;
        Ok(len)
    }

    /// Reads exactly `len` bytes off the socket, bytes a peek has shown
    /// are there.
    fn discard(&mut self, scratch: &mut [u8], len: usize) -> Result<(), Step> {
        let mut left = len;
        while left > 0 {
            match self.transport.read_raw(&mut scratch[..left]) {
                Outcome::Done(n) => left -= n,
                // Only a bug (or another reader of this socket) could take
                // bytes that were peeked at: say so and give up on it.
                Outcome::WouldBlock | Outcome::Eof => {
                    log::error!("#{} the PROXY header shrank while read", self.id);
                    return Err(Step::Close);
                }
                other => return Err(self.socket_failed(other)),
            }
        }
        Ok(())
    }

    /// The client is `client`, as the trusted proxy says.
    fn set_peer(&mut self, client: SocketAddr) {
        self.peer = super::mapped(client.ip());
    }
}
