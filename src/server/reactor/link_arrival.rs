//! FTP data connections arriving on a passive listener (`links.rs` makes
//! the listeners): taken from the control connection's client's address
//! only, or from a trusted balancer (`--trusted-proxy`) whose PROXY
//! header, read after the accept, must name that client; then counted,
//! put under TLS where the link says, and handed the transfer parked for
//! them. A connection from anyone else is refused (no passive hijack),
//! and so is one a balancer names for another client.

use std::net::SocketAddr;
use std::time::Instant;

use log::{debug, warn};
use mio::net::TcpStream;

use super::Reactor;
use crate::connection::Begin;
use crate::connection::codec::Codec;
use crate::serve::decoded::Relay;

impl Reactor {
    /// Accepts the data connections waiting on passive listeners (after
    /// the event batch, as every accept).
    pub(super) fn accept_links(&mut self, now: Instant) {
        for key in std::mem::take(&mut self.links.pending) {
            self.accept_link(key, now);
        }
    }

    fn accept_link(&mut self, key: usize, now: Instant) {
        // A link made again since its event has a listener with no
        // connection waiting: its accept finds none.
        let Some(link) = self.links.by_control.get_mut(&key) else {
            return;
        };
        let Some(listener) = &link.listener else {
            return;
        };
        let trusted = |from: SocketAddr| self.shared.config.is_trusted_proxy(from.ip());
        let (stream, from, proxied) = loop {
            match listener.accept() {
                Ok((stream, from)) if from.ip() == link.peer => break (stream, from, false),
                // A balancer's: its PROXY header names the client, checked
                // once read (`data_named`).
                Ok((stream, from)) if trusted(from) => break (stream, from, true),
                Ok((_, from)) => {
                    warn!(
                        "a data connection from {from}, not the control connection's {}: refused",
                        link.peer
                    );
                }
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(err) => {
                    debug!("passive accept: {err}");
                    return;
                }
            }
        };
        // One data connection per PASV.
        if let Some(mut listener) = link.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.open_data(key, (stream, from, proxied), now);
    }

    /// Makes `stream`, a data connection with the client at `from` (or
    /// through a trusted balancer at `from`, if `proxied`), the link of the
    /// control connection at `key` (under TLS where the link says), and
    /// hands it the transfer parked for it: a proxied one once its PROXY
    /// header has named the control connection's client (`data_named`).
    pub(super) fn open_data(
        &mut self,
        key: usize,
        (stream, from, proxied): (TcpStream, SocketAddr, bool),
        now: Instant,
    ) {
        let Some(link) = self.links.by_control.get(&key) else {
            return;
        };
        let (control, private) = ((key, link.control_id), link.private);
        // A balancer's connection counts by the client it names (`drive`).
        let client = (!proxied).then_some(from.ip());
        if self.hub.admit(client).is_err() {
            self.metrics.refused_busy.add(1);
            return self.relay_to(key, None, Relay::Refused("too many connections".into()));
        }
        let id = self.hub.client_id();
        let tls = match (private, self.links.logins.get(&key)) {
            (false, _) => Ok((None, None)),
            (true, Some(login)) => login.data_session().map(|(tls, from)| (Some(tls), from)),
            // `PROT P` follows `AUTH TLS` alone, which made the login's.
            (true, None) => Err(rustls::Error::General("the login has no TLS".into())),
        };
        let (tls, resumed_from) = match tls {
            Ok(tls) => tls,
            Err(err) => {
                warn!("#{id} TLS session for a data connection: {err}");
                self.hub.release(client);
                let why = "the data connection's TLS failed".into();
                return self.relay_to(key, None, Relay::Refused(why));
            }
        };
        let begin = match tls {
            Some(tls) => Begin::Tls(tls),
            None => Begin::Plain,
        };
        let conn = (stream, begin, Codec::ftp_data(control));
        let Some(data) = self.insert(conn, (from, client, proxied), id, now) else {
            return self.relay_to(
                key,
                None,
                Relay::Refused("the data connection failed".into()),
            );
        };
        if let Some(from) = resumed_from
            && let Some(conn) = self.connections.get_mut(data)
        {
            conn.require_tls_resumption(from);
        }
        let parked = self.links.by_control.get_mut(&key).and_then(|link| {
            link.data = Some((data, id));
            link.named = !proxied;
            // A balancer's waits for its header (`data_named`).
            if proxied { None } else { link.parked.take() }
        });
        if let Some((request, held)) = parked
            && let Some(conn) = self.connections.get_mut(data)
        {
            conn.hand(request, held);
        }
        self.drive(data, Some(id));
    }

    /// The data connection at `key`, accepted from a trusted balancer, has
    /// read its PROXY header: if it names the control connection's client,
    /// it is handed the transfer parked for it; if another client, it is
    /// closed (as one from another address would have been refused) and
    /// the control connection told. True unless it was closed; a
    /// connection that is no data connection passes.
    pub(super) fn data_named(&mut self, key: usize) -> bool {
        let Some(conn) = self.connections.get(key) else {
            return false;
        };
        let (id, peer) = (conn.id(), conn.peer());
        let Some((control, control_id)) = conn.linked_to() else {
            return true;
        };
        let Some(link) = self
            .links
            .by_control
            .get_mut(&control)
            .filter(|link| link.control_id == control_id && link.data == Some((key, id)))
        else {
            return true;
        };
        if peer != link.peer {
            warn!(
                "#{id} a data connection for {peer} (PROXY header), not the control connection's {}: refused",
                link.peer
            );
            // Its transfer, if asked, is refused here (one asked later
            // finds the link gone): the connection reports nothing.
            let why = "the data connection came from another address";
            (link.data, link.refused) = (None, Some(why.into()));
            let asked = link.parked.take().is_some();
            if let Some(conn) = self.connections.get_mut(key) {
                conn.let_go();
            }
            self.close(key);
            if asked {
                let why = "the data connection came from another address".into();
                self.relay_to(control, Some(control_id), Relay::Refused(why));
            }
            return false;
        }
        link.named = true;
        if let Some((request, held)) = link.parked.take()
            && let Some(conn) = self.connections.get_mut(key)
        {
            conn.hand(request, held);
            self.wake(key);
        }
        true
    }
}
