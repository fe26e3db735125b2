//! Accepting connections without ever taking the server down.
//!
//! Accepts are bounded per turn. Over `--max-connections` a newcomer
//! takes the place of the oldest connection that has sent nothing
//! (`bare.rs`), of this reactor or, passed on, of another (`share.rs`);
//! where there is none, or over `--max-connections-per-client` from its
//! address, it gets `ERR 503 busy` (a 503 on HTTP), and is closed.
//! When the process runs out of descriptors, the server closes a spare
//! descriptor it keeps for the purpose, accepts the waiting connection,
//! answers `ERR 503 busy`, closes it and takes the spare back (the
//! "reserve descriptor" technique): waiting clients get a clear answer
//! instead of hanging in the backlog, and the loop never spins on EMFILE.
//! The descriptor table is the process's, so the spare is too: one for all
//! workers, behind a lock every accept reads, so that no other worker's
//! accept takes the slot the spare has just given up.
//! If even that fails, accepting pauses until a connection closes or
//! [`ACCEPT_BACKOFF`] passes. Each episode is logged once.

use std::fs::File;
use std::io::{self, ErrorKind};
use std::net::{IpAddr, SocketAddr};
use std::sync::RwLock;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};
use rustls::server::UnbufferedServerConnection;

use super::Reactor;
use crate::connection::codec::Codec;
use crate::connection::{Begin, Connection};
use crate::ftp::{Terms, TlsOffer};
use crate::server::{Busy, listen, listener_token};
use crate::tls::ServerTls;
use crate::wire::Protocol;

/// Accepts per turn, so a connection storm cannot starve transfers.
const ACCEPTS_PER_TURN: usize = 256;
/// How long to stop accepting when even the spare descriptor cannot help.
pub(in crate::server) const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What happens to the connections at the head of the backlog.
#[derive(Debug, Default)]
pub(in crate::server) struct AcceptState {
    /// Accepting is paused until then.
    pub(in crate::server) paused_until: Option<Instant>,
    /// Connections refused in the current out-of-descriptors episode.
    shed: Option<u64>,
    /// A pause was logged in the current episode.
    paused_logged: bool,
}

/// The process's spare descriptor. An accept holds the lock shared for its
/// one system call; refusing a connection with the spare holds it alone, from
/// giving the spare up to taking it back.
#[derive(Debug)]
pub(in crate::server) struct Reserve(RwLock<Option<File>>);

/// What became of a connection refused with the spare descriptor.
enum Refusal {
    /// It was told `ERR 503 busy` and closed; the spare is back.
    Refused,
    /// None was waiting.
    NoneWaiting,
    /// Not possible now: no spare, or it could not be taken back.
    Impossible,
}

impl Reserve {
    pub(in crate::server) fn new() -> Reserve {
        let spare = open_spare()
            .map_err(|err| warn!("no spare descriptor for running out of descriptors: {err}"))
            .ok();
        Reserve(RwLock::new(spare))
    }

    /// Accepts the next connection waiting on `socket`.
    fn accept(&self, socket: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        let _shared = self.0.read().unwrap_or_else(|e| e.into_inner());
        socket.accept()
    }

    /// Takes the spare back if it had to be left closed.
    fn restore(&self) {
        let mut spare = self.0.write().unwrap_or_else(|e| e.into_inner());
        if spare.is_none() {
            *spare = open_spare().ok();
        }
    }

    /// Gives up the spare to accept the next connection on `socket`, answers
    /// it `ERR 503 busy` (in plaintext only if `plain`), closes it and takes
    /// the spare back.
    fn refuse_one(&self, socket: &TcpListener, protocol: Protocol, plain: bool) -> Refusal {
        let mut spare = self.0.write().unwrap_or_else(|e| e.into_inner());
        let Some(file) = spare.take().or_else(|| open_spare().ok()) else {
            return Refusal::Impossible;
        };
        drop(file);
        let refusal = match socket.accept() {
            Ok((stream, _)) => {
                refuse_busy(&stream, protocol, plain);
                drop(stream); // before taking the spare back, which needs its slot
                Refusal::Refused
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => Refusal::NoneWaiting,
            Err(_) => Refusal::Impossible,
        };
        *spare = open_spare().ok();
        match refusal {
            Refusal::Refused if spare.is_none() => Refusal::Impossible,
            refusal => refusal,
        }
    }
}

fn open_spare() -> io::Result<File> {
    File::open("/dev/null")
}

/// A listening socket, the protocol its connections speak and whether
/// they begin with TLS.
#[derive(Debug)]
pub(in crate::server) struct Listener {
    pub(in crate::server) socket: TcpListener,
    pub(in crate::server) protocol: Protocol,
    pub(in crate::server) tls: bool,
    /// It may have connections waiting.
    pub(in crate::server) pending: bool,
}

/// A connection accepted and not yet admitted.
#[derive(Debug)]
pub(in crate::server) struct Newcomer {
    pub(in crate::server) stream: TcpStream,
    pub(in crate::server) peer: SocketAddr,
    /// What its listener serves, and whether over TLS.
    pub(in crate::server) protocol: Protocol,
    pub(in crate::server) tls: bool,
    /// How many reactors have passed it on for want of room (`share.rs`).
    #[cfg_attr(not(feature = "hand-over"), allow(dead_code))]
    pub(in crate::server) passed: usize,
}

impl Reactor {
    /// Accepts from every listener with connections waiting.
    pub(in crate::server) fn accept(&mut self, now: Instant) {
        self.accepting.paused_until = None;
        for index in 0..self.listeners.len() {
            if self.listeners[index].pending && !self.accept_from(index, now) {
                return;
            }
        }
    }

    /// Accepts from one listener until it is empty or this turn's share is
    /// used; false if accepting had to pause.
    fn accept_from(&mut self, index: usize, now: Instant) -> bool {
        let mut accepted = false;
        for _ in 0..ACCEPTS_PER_TURN {
            let listener = &mut self.listeners[index];
            let (protocol, tls) = (listener.protocol, listener.tls);
            match self.hub.reserve.accept(&listener.socket) {
                Ok((stream, peer)) => {
                    self.end_shedding();
                    let newcomer = Newcomer {
                        stream,
                        peer,
                        protocol,
                        tls,
                        passed: 0,
                    };
                    self.admit(newcomer, now);
                    accepted = true;
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => {
                    listener.pending = false;
                    if accepted {
                        self.give_way(index);
                    }
                    return true;
                }
                Err(err) if is_out_of_descriptors(&err) => match self.shed_one(index) {
                    Refusal::Refused => {}
                    Refusal::NoneWaiting => {
                        self.listeners[index].pending = false;
                        return true;
                    }
                    Refusal::Impossible => return self.pause(&err, now),
                },
                Err(err) if is_low_memory(&err) => return self.pause(&err, now),
                Err(err) => debug!("accept: {err}"),
            }
        }
        true
    }

    /// Having taken connections from listener `index`, lets the other
    /// reactors be woken first for the next ones (`listen::requeue`), so
    /// that connections opened one after another, which an idle reactor
    /// would all take, are spread over the idle ones.
    fn give_way(&mut self, index: usize) {
        if self.shared.config.workers < 2 {
            return;
        }
        let socket = &self.listeners[index].socket;
        let token = listener_token(index);
        if let Err(err) = listen::requeue(self.poll.registry(), socket, token) {
            error!("listener {index} could not be polled again: {err}");
        }
    }

    /// Neither accepting nor refusing is possible: waits for a connection to
    /// close, or a moment, instead of spinning. Returns false.
    fn pause(&mut self, err: &io::Error, now: Instant) -> bool {
        if self.accepting.paused_logged {
            debug!("accept: {err}; paused");
        } else {
            warn!(
                "accept: {err}; pausing accepts for {}ms",
                ACCEPT_BACKOFF.as_millis()
            );
            self.accepting.paused_logged = true;
        }
        self.accepting.paused_until = Some(now + ACCEPT_BACKOFF);
        false
    }

    /// Out of descriptors: refuses the next waiting connection with the
    /// process's spare descriptor.
    fn shed_one(&mut self, index: usize) -> Refusal {
        if self.accepting.shed.is_none() {
            // The descriptor table is the process's: one line for all
            // workers, whichever met it first.
            if !self.hub.out_of_descriptors.swap(true, Ordering::SeqCst) {
                warn!("out of file descriptors: refusing new connections until some close");
            }
            self.accepting.shed = Some(0);
        }
        let listener = &self.listeners[index];
        let refusal =
            self.hub
                .reserve
                .refuse_one(&listener.socket, listener.protocol, !listener.tls);
        if let Refusal::Refused = refusal {
            self.metrics.refused_descriptors.add(1);
            *self.accepting.shed.get_or_insert(0) += 1;
        }
        refusal
    }

    fn end_shedding(&mut self) {
        self.accepting.paused_logged = false;
        if let Some(shed) = self.accepting.shed.take() {
            self.hub.out_of_descriptors.store(false, Ordering::SeqCst);
            info!("descriptors available again; refused {shed} connections meanwhile");
            self.hub.reserve.restore();
        }
    }

    /// Takes in a connection just accepted (or passed on by another
    /// reactor), or refuses it.
    pub(super) fn admit(&mut self, newcomer: Newcomer, now: Instant) {
        // A trusted balancer's connections count by the client its PROXY
        // header names, once it has (see `Hub::admit`).
        let proxied = self.shared.config.is_trusted_proxy(newcomer.peer.ip());
        let client = (!proxied).then_some(newcomer.peer.ip());
        match self.count_in(client, now) {
            Ok(()) => self.open(newcomer, (client, proxied), now),
            // None of this reactor's connections may give way: another
            // reactor's may (`share.rs`).
            Err(Busy::Server) => {
                if let Err(newcomer) = self.pass_newcomer(newcomer) {
                    self.refuse(newcomer, Busy::Server);
                }
            }
            Err(busy) => self.refuse(newcomer, busy),
        }
    }

    /// Counts a newcomer from `client` in. A full server makes room by
    /// closing this reactor's oldest bare connection, else its HTTP
    /// connection that has rested longest.
    fn count_in(&mut self, client: Option<IpAddr>, now: Instant) -> Result<(), Busy> {
        let admitted = self.hub.admit(client);
        if let Err(Busy::Server) = admitted
            && self.displace_idle(now)
        {
            return self.hub.admit(client);
        }
        admitted
    }

    /// Tells `newcomer` the server is `busy` and closes it.
    pub(super) fn refuse(&mut self, newcomer: Newcomer, busy: Busy) {
        let peer = newcomer.peer;
        self.metrics.refused_busy.add(1);
        refuse_busy(&newcomer.stream, newcomer.protocol, !newcomer.tls);
        match busy {
            Busy::Server => debug!(
                "refused {peer}: {} connections open",
                self.hub.max_connections
            ),
            Busy::Client => debug!(
                "refused {peer}: {} connections open from its address",
                self.hub.per_client.cap()
            ),
        }
    }

    /// Makes an admitted newcomer a connection, counted under `client`.
    fn open(
        &mut self,
        Newcomer {
            stream,
            peer,
            protocol,
            tls,
            ..
        }: Newcomer,
        (client, proxied): (Option<IpAddr>, bool),
        now: Instant,
    ) {
        let id = self.hub.client_id();
        let certificate = self.hub.tls.as_ref().filter(|_| tls);
        let tls = match certificate.map(ServerTls::session).transpose() {
            Ok(tls) => tls,
            Err(err) => {
                warn!("#{id} TLS session for {peer}: {err}");
                self.hub.release(client);
                return;
            }
        };
        let http_port = self
            .shared
            .config
            .address_of(Protocol::Http)
            .map(|a| a.port());
        let ftp_tls = match (&self.hub.tls, self.shared.config.ftp.require_tls) {
            (None, _) => TlsOffer::Off,
            (Some(_), false) => TlsOffer::Offered,
            (Some(_), true) => TlsOffer::Required,
        };
        let terms = Terms {
            tls: ftp_tls,
            active: self.shared.config.ftp.active,
            client: peer.ip(),
        };
        let codec = Codec::new(protocol, http_port, terms);
        let conn = (stream, self.begin(tls, protocol, peer.ip()), codec);
        if let Some(key) = self.insert(conn, (peer, client, proxied), id, now) {
            self.note_bare(key);
            self.drive(key, None);
        }
    }

    /// The session a connection of `protocol` from `peer` begins with:
    /// `tls` where its listener serves TLS, SSH on an SFTP listener.
    fn begin(
        &self,
        tls: Option<UnbufferedServerConnection>,
        protocol: Protocol,
        peer: IpAddr,
    ) -> Begin {
        #[cfg(feature = "sftp")]
        if let (Protocol::Sftp, Some(terms)) = (protocol, &self.hub.ssh) {
            let session = crate::ssh::SshSession::new(std::sync::Arc::clone(terms), peer);
            return Begin::Ssh(Box::new(session));
        }
        let _ = (protocol, peer);
        match tls {
            Some(tls) => Begin::Tls(tls),
            None => Begin::Plain,
        }
    }

    /// Makes an accepted stream a connection of the slab (counted already
    /// under `client`), registered and timed; its slab key.
    pub(super) fn insert(
        &mut self,
        (stream, begin, codec): (TcpStream, Begin, Codec),
        (peer, client, proxied): (SocketAddr, Option<IpAddr>, bool),
        id: u64,
        now: Instant,
    ) -> Option<usize> {
        if let Err(err) = stream.set_nodelay(true) {
            debug!("set_nodelay for {peer}: {err}");
        }
        let protocol = codec.protocol();
        if protocol.urgent_inline()
            && let Err(err) = rustix::net::sockopt::set_socket_oobinline(&stream, true)
        {
            debug!("SO_OOBINLINE for {peer}: {err}");
        }
        let login = self.hub.access.login();
        let entry = self.connections.vacant_entry();
        let key = entry.key();
        let mut conn = Connection::new(stream, begin, peer.ip(), id, codec, now, login);
        if proxied {
            // Its client is named in the header it must begin with.
            conn.expect_proxy_header();
        }
        if let Err(err) =
            self.poll
                .registry()
                .register(conn.stream_mut(), Token(key), Interest::READABLE)
        {
            warn!("register {peer}: {err}");
            self.hub.release(client);
            return None;
        }
        let deadline = self
            .timers
            .push(conn.deadline(&self.shared.config), key, id);
        conn.set_scheduled(deadline);
        entry.insert(conn);
        self.metrics.accepted[protocol.index()].add(1);
        match self.worker {
            Some(worker) => debug!("#{id} connected from {peer} (worker {worker})"),
            None => debug!("#{id} connected from {peer}"),
        }
        Some(key)
    }
}

/// Tells a connection over the cap why it is being closed. Best effort: a
/// fresh socket's send buffer has room for one short answer. A TLS client
/// (not `plain`) could not read a plaintext one: it is only closed.
fn refuse_busy(stream: &TcpStream, protocol: Protocol, plain: bool) {
    if !plain {
        return;
    }
    let mut answer = Vec::new();
    Codec::new(protocol, None, Terms::default()).busy(&mut answer);
    let _ = crate::wire::socket::write(stream, &answer, false);
}

fn is_out_of_descriptors(err: &io::Error) -> bool {
    use rustix::io::Errno;
    let errno = err.raw_os_error().map(Errno::from_raw_os_error);
    matches!(errno, Some(Errno::MFILE | Errno::NFILE))
}

fn is_low_memory(err: &io::Error) -> bool {
    use rustix::io::Errno;
    let errno = err.raw_os_error().map(Errno::from_raw_os_error);
    matches!(errno, Some(Errno::NOBUFS | Errno::NOMEM))
}

/// Raises the open-files soft limit to the hard limit; returns the limit
/// now in force.
pub(crate) fn raise_fd_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if limit.maximum != limit.current {
        let wanted = limit.maximum;
        limit.current = wanted;
        if let Err(err) = setrlimit(Resource::Nofile, limit) {
            warn!("could not raise the open-files limit: {err}");
            return current;
        }
        return wanted.unwrap_or(u64::MAX);
    }
    current
}
