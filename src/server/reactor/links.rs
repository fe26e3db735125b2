//! Links between connections of one reactor (FTP's control connection and
//! its data connection): the passive listener a control connection asks
//! for (`PASV`), bound on this reactor so the data connection lands here
//! too and is paired by its slab key; the transfer the control connection
//! hands over, parked until its data connection is there; and what the
//! data connection reports back (`150`, `226`, `426`), queued on the
//! control connection.
//!
//! ```text
//! control: PASV -> Link::Listen -> bind <its local address>:0, register -> 227
//! client connects -> accepted after the event batch (link_arrival.rs), from the
//!                    control's address, or its balancer's naming it in a PROXY header
//! control: RETR -> Link::Hand(request) -> the data connection serves it
//! data: 150 as it begins, 226 / 426 / 550 as it ends -> the control
//! ```
//!
//! One data connection per `PASV`: the listener goes once it is taken.
//! A connection from another address is refused and the listener waits on
//! (no passive hijack); one through a trusted balancer that names another
//! client is closed and the transfer refused. Closing the control connection closes its link.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Instant;

use log::{debug, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};

use super::Reactor;
use crate::access::Principal;
use crate::ftp::passive::{MAX_TRIES, PortCycle};
use crate::serve::Request;
use crate::serve::decoded::{Connect, Link, Relay};
use crate::tls_login::{LoginTerms, LoginTls};

/// Tokens of the passive listeners: this plus the control connection's
/// slab key (below the scrapers' and the listeners' ranges).
const LINK_TOKENS: usize = usize::MAX / 4;

/// The links of this reactor, by their control connection's slab key.
pub(super) struct Links {
    pub(super) by_control: HashMap<usize, DataLink>,
    /// The TLS of each control connection under `AUTH TLS`, which its
    /// data connections' sessions are made with (`tls_login.rs`).
    pub(super) logins: HashMap<usize, LoginTls>,
    /// The control connections whose listener had an event this turn:
    /// accepted after the batch, without a look at every link.
    pub(super) pending: Vec<usize>,
    /// Where in `--ftp-passive-ports` the next listener is tried; `None`:
    /// the system picks a port.
    ports: Option<PortCycle>,
}

/// One control connection's data connection, to be or open.
pub(super) struct DataLink {
    /// The control connection's id (its slab key may be taken again).
    pub(super) control_id: u64,
    /// Whom the data connection must come from.
    pub(super) peer: IpAddr,
    /// Listening for it (until it comes).
    pub(super) listener: Option<TcpListener>,
    /// It is under TLS (`PROT P`).
    pub(super) private: bool,
    /// It came: `(slab key, id)`.
    pub(super) data: Option<(usize, u64)>,
    /// The data connection is known to be the control connection's
    /// client's: it came from its address, or through a trusted balancer
    /// whose PROXY header (read after it came) named that address.
    /// Nothing is handed to it before.
    pub(super) named: bool,
    /// Why its data connection was refused (named another client by its
    /// balancer, or its TLS did not resume): what a transfer asked later
    /// is told.
    pub(super) refused: Option<String>,
    /// A transfer handed over before it came, with the token to serve it
    /// with.
    pub(super) parked: Option<(Box<Request>, Option<Arc<Principal>>)>,
}

impl Links {
    /// No links yet; passive listeners on `ports` if given, the reactor
    /// numbered `index` starting its own stretch of them.
    pub(super) fn new(ports: Option<RangeInclusive<u16>>, index: usize) -> Links {
        Links {
            by_control: HashMap::new(),
            logins: HashMap::new(),
            pending: Vec::new(),
            ports: ports.map(|range| PortCycle::new(range, index * MAX_TRIES)),
        }
    }

    /// Whether `token` is a passive listener's.
    pub(super) fn owns(token: Token) -> bool {
        (LINK_TOKENS..usize::MAX / 2).contains(&token.0)
    }

    /// A passive listener has an event.
    pub(super) fn listener_event(&mut self, token: Token) {
        self.pending.push(token.0 - LINK_TOKENS);
    }

    /// Whether a listener waits to accept.
    pub(super) fn pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// A passive listener on `ip`: on the next free port of the range, or
    /// one the system picks.
    ///
    /// # Errors
    /// No port of those tried is free (`AddrInUse`), or the socket fails.
    fn bind(&mut self, ip: IpAddr) -> std::io::Result<TcpListener> {
        let Some(ports) = &mut self.ports else {
            return TcpListener::bind(SocketAddr::new(ip, 0));
        };
        for port in ports.candidates() {
            match TcpListener::bind(SocketAddr::new(ip, port)) {
                Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => continue,
                bound => return bound,
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "every passive port tried is taken",
        ))
    }
}

impl Reactor {
    /// After the connection at `key` was driven: the link it asked for is
    /// made, what it reports goes to the connection it serves for.
    pub(super) fn links_after_drive(&mut self, key: usize) {
        let Some(conn) = self.connections.get_mut(key) else {
            return;
        };
        if !self.links.logins.is_empty()
            && self.shared.config.access.tokens.is_some()
            && let Some(login) = self.links.logins.get(&key)
        {
            // Its data connections may resume its siblings' sessions.
            let holder = conn.held_token();
            login.held_by(holder.as_ref().map(|held| held.entry.name.as_str()));
        }
        let link = conn.take_link();
        let report = conn.linked_to().zip(conn.take_relay());
        if let Some(link) = link {
            self.make_link(key, link);
        }
        if let Some((control, relay)) = report {
            self.report(control, relay);
        }
    }

    /// After the connection at `key` closed: what it reported as it closed
    /// goes to the connection it served for; a link it had goes.
    pub(super) fn links_after_close(&mut self, key: usize, report: Option<((usize, u64), Relay)>) {
        if let Some((control, relay)) = report {
            self.report(control, relay);
        }
        self.links.logins.remove(&key);
        self.drop_link(key);
    }

    /// Makes the link the control connection at `key` asked for.
    pub(super) fn make_link(&mut self, key: usize, link: Link) {
        match link {
            Link::Listen { private } => {
                let relay = match self.listen_for_data(key, private) {
                    Ok(addr) => Relay::Listening(addr),
                    Err(err) => {
                        warn!("passive listener: {err}");
                        Relay::Refused("no data connection can be listened for now".into())
                    }
                };
                self.relay_to(key, None, relay);
            }
            Link::Hand(request) => self.hand_over(key, request),
            Link::Connect(connect) => self.connect_for_data(key, *connect),
            Link::Tls => {
                let config = &self.shared.config;
                let terms = self.connections.get(key).map(|conn| LoginTerms {
                    address: conn.peer(),
                    open: config.access.tokens.is_none(),
                    must_resume: !config.ftp.tls_reuse_optional,
                });
                let session =
                    (self.hub.tls.as_ref().zip(terms)).map(|(tls, terms)| tls.login(terms));
                match (session, self.connections.get_mut(key)) {
                    (Some(Ok((session, login))), Some(conn)) => {
                        conn.secure(session);
                        self.links.logins.insert(key, login);
                        self.wake(key);
                    }
                    (Some(Err(err)), _) => {
                        warn!("TLS session for FTP's AUTH TLS: {err}");
                        self.relay_to(key, None, Relay::Refused(err.to_string()));
                    }
                    (None, _) => {
                        let why = "the server has no certificate".into();
                        self.relay_to(key, None, Relay::Refused(why));
                    }
                    (_, None) => {}
                }
            }
            Link::Interrupt => self.interrupt_transfer(key),
            Link::Abandon => {
                self.drop_link(key);
                let secs = self.shared.config.header_timeout.as_secs_f64();
                let why = format!("no data connection came in {secs:.0} s");
                self.relay_to(key, None, Relay::Refused(why));
            }
        }
    }

    /// The control connection at `key` stops its transfer (`ABOR`): its
    /// data connection is cut as if its client had reset it, which
    /// reports how it ended (`426`; a `STOR`'s bytes kept first:
    /// `cuts.rs`); with none open (a transfer waiting for it), the link
    /// goes with the transfer parked on it, and the control connection
    /// hears the cut at once.
    fn interrupt_transfer(&mut self, key: usize) {
        let control_id = self.connections.get(key).map(|conn| conn.id());
        let data = self
            .links
            .by_control
            .get(&key)
            .filter(|link| Some(link.control_id) == control_id)
            .and_then(|link| link.data);
        match data {
            Some((data_key, data_id))
                if self
                    .connections
                    .get(data_key)
                    .is_some_and(|conn| conn.id() == data_id) =>
            {
                debug!("#{data_id} cut: its client sent ABOR");
                self.close(data_key);
            }
            _ => {
                self.drop_link(key);
                self.relay_to(key, None, Relay::Cut);
            }
        }
    }

    /// A new passive listener for the control connection at `key`, on the
    /// address the client reached it at; the old link goes.
    fn listen_for_data(&mut self, key: usize, private: bool) -> std::io::Result<SocketAddr> {
        self.drop_link(key);
        let Some(control) = self.connections.get(key) else {
            return Err(std::io::Error::other("the control connection is gone"));
        };
        let (control_id, peer) = (control.id(), control.peer());
        let local = control.local_addr()?;
        let mut listener = self.links.bind(local.ip())?;
        self.poll.registry().register(
            &mut listener,
            Token(LINK_TOKENS + key),
            Interest::READABLE,
        )?;
        let mut addr = listener.local_addr()?;
        if let Some(public) = self.shared.config.ftp.public_address {
            // Behind NAT: where clients reach it (PASV's answer; EPSV's
            // names the port alone).
            addr.set_ip(IpAddr::V4(public));
        }
        let link = DataLink {
            control_id,
            peer,
            listener: Some(listener),
            private,
            data: None,
            named: false,
            refused: None,
            parked: None,
        };
        self.links.by_control.insert(key, link);
        Ok(addr)
    }

    /// A transfer for the control connection at `key`'s data connection:
    /// handed to it, or parked until it comes.
    fn hand_over(&mut self, key: usize, request: Box<Request>) {
        let held = self.connections.get(key).and_then(|c| c.held_token());
        let Some(link) = self.links.by_control.get_mut(&key) else {
            let refused = Relay::Refused("PASV or EPSV first".into());
            return self.relay_to(key, None, refused);
        };
        match link.data {
            // Its PROXY header still to be read: the transfer waits.
            Some(_) if !link.named => link.parked = Some((request, held)),
            // Its data connection is still to come: the transfer waits, and
            // the control connection looks at once at what its client sent
            // behind it (an `ABOR` ends the wait).
            None if link.listener.is_some() => {
                link.parked = Some((request, held));
                self.wake(key);
            }
            Some((data, id)) => {
                let handed = self
                    .connections
                    .get_mut(data)
                    .filter(|conn| conn.id() == id)
                    .is_some_and(|conn| conn.hand(request, held));
                match handed {
                    true => self.drive(data, Some(id)),
                    false => self.relay_to(
                        key,
                        None,
                        Relay::Refused("the data connection is used".into()),
                    ),
                }
            }
            // It came and went (or was refused): nothing to hand it to.
            None => {
                let why = match &link.refused {
                    Some(refused) => format!("{refused}: PASV again"),
                    None => "the data connection is gone: PASV again".into(),
                };
                self.relay_to(key, None, Relay::Refused(why));
            }
        }
    }

    /// Active mode: connects to the client where the control connection
    /// at `key` said (`PORT`, checked there: its own address, a port from
    /// 1024) and serves the transfer on that data connection.
    fn connect_for_data(&mut self, key: usize, connect: Connect) {
        self.drop_link(key);
        let Some(control) = self.connections.get(key) else {
            return;
        };
        let held = control.held_token();
        let link = DataLink {
            control_id: control.id(),
            peer: control.peer(),
            listener: None,
            private: connect.private,
            data: None,
            named: false,
            refused: None,
            parked: Some((Box::new(connect.request), held)),
        };
        self.links.by_control.insert(key, link);
        match TcpStream::connect(connect.to) {
            Ok(stream) => self.open_data(key, (stream, connect.to, false), Instant::now()),
            Err(err) => {
                debug!("active mode: connecting to {}: {err}", connect.to);
                self.drop_link(key);
                let why = format!("could not connect to {}", connect.to);
                self.relay_to(key, None, Relay::Refused(why));
            }
        }
    }

    /// Queues `relay` on the control connection at `key` (if it is still
    /// the one with `id`) and gives it a turn.
    pub(super) fn relay_to(&mut self, key: usize, id: Option<u64>, relay: Relay) {
        let Some(conn) = self.connections.get_mut(key) else {
            return;
        };
        if id.is_some_and(|id| id != conn.id()) {
            return;
        }
        conn.relayed(relay);
        self.wake(key);
    }

    /// Gives the connection at `key` a turn (what it was told goes out).
    pub(super) fn wake(&mut self, key: usize) {
        if let Some(conn) = self.connections.get_mut(key)
            && !conn.is_queued()
        {
            conn.set_queued(true);
            self.ready.push_back((key, conn.id()));
        }
    }

    /// `relay`, from a data connection, for its control connection
    /// (`(slab key, id)`).
    pub(super) fn report(&mut self, control: (usize, u64), relay: Relay) {
        if let Some(link) = self.links.by_control.get_mut(&control.0)
            && link.control_id == control.1
        {
            match &relay {
                Relay::Ended(_) | Relay::Cut => link.data = None,
                // Refused before a transfer came to it (its client began
                // TLS first): the transfer asked next is told why.
                Relay::Refused(why) => (link.data, link.refused) = (None, Some(why.clone())),
                _ => {}
            }
        }
        self.relay_to(control.0, Some(control.1), relay);
    }

    /// The control connection at `key` lets its link go (it goes, asks
    /// for another, or none came): the listener and the data connection
    /// with it. That data connection reports nothing: its control
    /// connection waits for something else (a new `PASV`'s `227`: it
    /// reads no command but `ABOR` during a transfer), or is gone (cut:
    /// a transfer it leaves is cut as any, a `STOR`'s bytes kept by
    /// `cuts.rs`; an orderly end waits for the transfer's).
    fn drop_link(&mut self, key: usize) {
        let Some(mut link) = self.links.by_control.remove(&key) else {
            return;
        };
        if let Some(listener) = &mut link.listener {
            let _ = self.poll.registry().deregister(listener);
        }
        if let Some((data, id)) = link.data
            && let Some(conn) = self.connections.get_mut(data)
            && conn.id() == id
        {
            conn.let_go();
            self.close(data);
        }
    }
}
