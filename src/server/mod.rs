//! The server: N reactors (`--workers`, one thread each, see `reactor.rs`)
//! over one root, one I/O pool and one set of shared limits.
//!
//! Each reactor is a single-threaded `mio` loop that polls every listening
//! socket (shared: the free reactor takes a new connection, see
//! `listen.rs`) and owns its slab, so reactors never
//! touch each other's connections and a connection's whole life is on one
//! thread. What they share is explicit and small, the [`Hub`] (`hub.rs`): the I/O pool
//! (each job answers the reactor that asked), access control and the TLS
//! certificate (both re-read on SIGHUP), the connection caps (an atomic
//! for the server's, a sharded table per client address, `access/per_client.rs`),
//! client ids (an atomic), and shutdown (one request reaches every
//! reactor). One worker is the single reactor of earlier versions, on the
//! calling thread.
//!
//! Signals are taken by the first reactor; the start-up sweep runs once, on
//! a thread of its own, which then looks for dead nodes' temp files every
//! period until the server stops (`sweeps.rs`).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};

use log::{error, info};
use mio::{Interest, Token};

use crate::access::per_client::PerClient;
use crate::access::{self, Access};
use crate::config::{Config, Listen};
use crate::hooks::{Hooks, Runner};
use crate::node_rules::{self, NodeRules};
use crate::pool::checksums::Checksums;
use crate::pool::{Pool, Shared};
use crate::request_log::RequestLog;
use crate::storage::{Claim, Storage};
use crate::tls::ServerTls;
use crate::wire::Protocol;
pub use hub::ShutdownHandle;
use hub::{Busy, Hub, ShutdownOnFailure, counted_client};
use listen::{adopt_groups, bind_groups};
use reactor::Reactor;
pub(crate) use reactor::accept::raise_fd_limit;
use reactor::accept::{Listener, Reserve};
use reactor::share::Lane;
pub use sweeps::StartupSweep;
use sweeps::Sweeps;

mod hub;
mod listen;
mod reactor;
mod sweeps;
mod systemd;

/// The log target of the line saying where the server serves: logged
/// whatever `--log-level` (the binary sees to it), since scripts and
/// tests that start a server on port 0 read its ports there.
pub const SERVING_TARGET: &str = "ferry::serving";

const WAKER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);
/// The metrics listener's token (`scrape.rs`).
const METRICS: Token = Token(usize::MAX - 4);
/// Listener `i` has token `FIRST_LISTENER - i`: far above any slab key and
/// below the tokens above and the metrics listener's.
const FIRST_LISTENER: usize = usize::MAX - 64;
/// Listeners one server may have (tokens `FIRST_LISTENER - i` for `i`
/// below this).
const MAX_LISTENERS: usize = 64;

/// The token of listener `index`.
fn listener_token(index: usize) -> Token {
    debug_assert!(index < MAX_LISTENERS, "listener {index} has no token");
    Token(FIRST_LISTENER - index)
}

/// The listener `token` stands for, if it is a listener's.
fn listener_index(token: Token) -> Option<usize> {
    let index = FIRST_LISTENER.checked_sub(token.0)?;
    (token.0 <= FIRST_LISTENER && index < MAX_LISTENERS).then_some(index)
}

/// Jobs queued per I/O thread before connections wait in the backlog.
const POOL_QUEUE_PER_THREAD: usize = 64;

/// Descriptors kept back from the connection cap for the files and
/// directories that transfers open: an eighth of the limit, at least 16.
fn reserved_fds(limit: u64) -> u64 {
    (limit / 8).max(16)
}

/// The open-files limit, raised as far as it goes, and the connections
/// that fit in it beside the descriptors the server keeps for itself
/// (capped by `max_connections`, at least one).
fn connection_cap(max_connections: usize) -> (u64, usize) {
    let fd_limit = raise_fd_limit();
    let fit =
        usize::try_from(fd_limit.saturating_sub(reserved_fds(fd_limit))).unwrap_or(usize::MAX);
    (fd_limit, max_connections.min(fit).max(1))
}

/// One reactor per socket of each group (`groups[a][r]`: address `a`,
/// reactor `r`), the first also with the metrics listener; each reactor's
/// waker goes to the shutdown handle.
fn start_reactors(
    mut groups: listen::Groups,
    mut metrics_listener: Option<mio::net::TcpListener>,
    shared: &Arc<Shared>,
    hub: &Arc<Hub>,
) -> io::Result<Vec<Reactor>> {
    let workers = groups.first().map_or(1, |(_, group)| group.len());
    let mut reactors = Vec::with_capacity(workers);
    for index in 0..workers {
        let listeners = groups
            .iter_mut()
            .map(|(listen, group)| Listener {
                socket: group.remove(0),
                protocol: listen.protocol,
                tls: listen.tls,
                pending: true,
            })
            .collect();
        let worker = (workers > 1).then_some(index + 1);
        let (mut reactor, waker) =
            Reactor::new(worker, listeners, Arc::clone(shared), Arc::clone(hub))?;
        if let Some(listener) = metrics_listener.take() {
            reactor.serve_scrapes(listener)?;
        }
        hub.shutdown
            .wakers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(waker);
        reactors.push(reactor);
    }
    Ok(reactors)
}

/// Refuses listeners the server cannot serve: none at all, more than
/// there are tokens for, or TLS without a certificate.
///
/// # Errors
/// `InvalidInput`, saying which.
fn check_listeners(config: &Config) -> io::Result<()> {
    let invalid = |why: String| Err(io::Error::new(io::ErrorKind::InvalidInput, why));
    if config.listeners.is_empty() {
        return invalid("no address to listen on".into());
    }
    if let Some(why) = config.unbuilt() {
        return invalid(why.into());
    }
    if config.listeners.len() > MAX_LISTENERS {
        return invalid(format!("more than {MAX_LISTENERS} listeners"));
    }
    if let Some(listen) = config.listeners.iter().find(|l| l.tls)
        && config.tls.is_none()
    {
        return invalid(format!(
            "{} on {} is to serve TLS, but no certificate is given",
            listen.protocol.name(),
            listen.addr
        ));
    }
    Ok(())
}

/// Where it serves, for the line that says it serves: the first
/// listener's address (with its protocol unless it is FERRY/1's: `" (HTTP)"`),
/// then the others' (`" (HTTP on 127.0.0.1:8080)"`), each with `" (TLS)"`
/// if it is but not all are, and `", over TLS"` if all are.
fn listening(listeners: &[Listen]) -> (SocketAddr, String, &'static str) {
    let all_tls = listeners.iter().all(|l| l.tls);
    let mark = |l: &Listen| if l.tls && !all_tls { " (TLS)" } else { "" };
    let first = listeners[0];
    let mut others = match first.protocol {
        Protocol::Ferry => String::new(),
        protocol => format!(" ({})", protocol.name().to_uppercase()),
    };
    others.push_str(mark(&first));
    for listen in &listeners[1..] {
        let name = listen.protocol.name().to_uppercase();
        others.push_str(&format!(" ({name} on {}{})", listen.addr, mark(listen)));
    }
    (first.addr, others, if all_tls { ", over TLS" } else { "" })
}

/// A bound FERRY/1 server, ready to [`Server::run`].
pub struct Server {
    /// The first serves on the calling thread and takes the signals.
    reactors: Vec<Reactor>,
    hub: Arc<Hub>,
    shared: Arc<Shared>,
    metrics_addr: Option<SocketAddr>,
    /// The start-up sweep, then the periodic one; stopped with the server.
    sweeps: Sweeps,
}

impl Server {
    /// Raises the open-files limit, binds the listeners (one socket per
    /// address, shared by the workers), then creates, opens and
    /// locks the root and starts the I/O pool and the reactors; stale temp
    /// files and expired upload sessions are swept in the background.
    ///
    /// # Errors
    /// The address cannot be bound, the root cannot be opened or another
    /// server holds it ([`crate::storage::root_in_use`]), or a thread cannot
    /// be started.
    pub fn bind(mut config: Config) -> io::Result<Server> {
        let inherited = systemd::inherited_listeners()?;
        // Checked before anything is bound: a refused server holds no port.
        let addrs: Vec<SocketAddr> = if inherited.is_empty() {
            config.listeners.iter().map(|l| l.addr).collect()
        } else {
            inherited
                .iter()
                .map(|l| l.socket.local_addr())
                .collect::<io::Result<_>>()?
        };
        access::check_exposure(&addrs, &config.access)?;
        check_listeners(&config)?;
        // Before any port is bound: a server refused for a root in use
        // never holds a connection unanswered. It creates nothing yet.
        let mut claim = Claim::take(&config.root, &config.node_id, config.read_only)?;
        let rules = NodeRules::of(&config);
        node_rules::check(&rules, &claim.agree(&rules.to_text())?).map_err(io::Error::other)?;
        let workers = config.workers.max(1);
        // One socket per reactor for each address: `groups[a].1[r]`.
        listen::Backlog::check(config.backlog);
        let groups = if inherited.is_empty() {
            bind_groups(&config, workers)?
        } else {
            adopt_groups(inherited, workers, (config.tls.is_some(), config.backlog))?
        };
        // The addresses really served (port 0 bound, or sockets handed
        // over): for `Server::address_of`, and for a FERRY/1 client that
        // speaks HTTP to the wrong port.
        config.listeners = groups.iter().map(|(listen, _)| *listen).collect();
        // One socket, on the first reactor: a scrape is rare and cheap.
        // Bound here even under socket activation, and not in the exposure
        // check: it serves no file, and who may read the counters is the
        // operator's choice, as for any exporter.
        let metrics_listener = config
            .metrics_listen
            .map(|addr| bind_metrics(addr, config.backlog))
            .transpose()?;
        let metrics_addr = metrics_listener
            .as_ref()
            .map(mio::net::TcpListener::local_addr)
            .transpose()?;
        let access = Arc::new(Access::new(&config.access)?);
        let tls = config.tls.as_ref().map(ServerTls::load).transpose()?;
        // Before any tree walk: a wide tree must not meet a low soft limit.
        let (fd_limit, max_connections) = connection_cap(config.max_connections);
        // Only now that the addresses are ours: the root is created (and
        // locked, if it was not yet) and the journal moved aside for the
        // sweep, so a server that cannot listen leaves no root behind and
        // the journal where its sweep will find it.
        let mut storage = Storage::open_claimed(claim)?;
        storage.set_gate(config.gate.clone());
        storage.set_durable(config.fsync);
        storage.keep_reserve(config.min_free);
        storage.set_listing_memory(config.listing_memory);
        storage.count_usage(&config.quotas, config.access.tokens.is_some())?;
        if let Some(offset) = &config.lock_clock {
            storage.set_lock_clock(Arc::clone(offset));
        }
        let hooks = Hooks::new(config.hooks.clone(), &config.root);
        let walks = Arc::new(PerClient::new(config.max_walks_per_client));
        let shared = Arc::new(Shared {
            engine: Box::new(storage),
            config,
            hooks,
            walks,
        });
        #[cfg(feature = "sftp")]
        let ssh = crate::ssh::SshTerms::serving(&shared.config, &access)?;
        let hub = start_hub(&shared, access, tls, max_connections, workers)?;
        #[cfg(feature = "sftp")]
        let hub = Hub::with_ssh(hub, ssh);
        let reactors = start_reactors(groups, metrics_listener, &shared, &hub)?;
        let sweeps = Sweeps::start(Arc::clone(&shared))?;
        info!("open-files limit {fd_limit}");
        Ok(Server {
            reactors,
            hub,
            shared,
            metrics_addr,
            sweeps,
        })
    }

    /// The address of the HTTP listener, if there is one.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.address_of(Protocol::Http)
    }

    /// The address of the (first) listener for `protocol`, if there is one
    /// (with port 0, the port that was chosen).
    pub fn address_of(&self, protocol: Protocol) -> Option<SocketAddr> {
        self.shared.config.address_of(protocol)
    }

    /// Every listener, as bound.
    pub fn listeners(&self) -> &[Listen] {
        &self.shared.config.listeners
    }

    /// The address of the metrics listener (`--metrics`), if there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The address the FERRY/1 listener is bound to (useful with port 0);
    /// the first listener's if none serves FERRY/1.
    pub fn local_addr(&self) -> SocketAddr {
        let listeners = &self.shared.config.listeners;
        self.address_of(Protocol::Ferry)
            .or_else(|| listeners.first().map(|l| l.addr))
            .unwrap_or_else(|| unreachable!("bind refuses a server without listeners"))
    }

    /// The start-up sweep, which runs while the server serves.
    pub fn startup_sweep(&self) -> StartupSweep {
        self.sweeps.startup()
    }

    /// A handle that can stop the server from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.hub.shutdown.clone()
    }

    /// Treats SIGINT and SIGTERM as shutdown requests, and SIGHUP as the
    /// request to re-read the tokens file and the certificate (for the
    /// binary; tests that run the server in-process use
    /// [`ShutdownHandle`]). The first reactor takes them for all.
    ///
    /// # Errors
    /// The handlers cannot be installed.
    pub fn handle_signals(&mut self) -> io::Result<()> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook_mio::v1_0::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let first = &mut self.reactors[0];
        first
            .poll
            .registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        first.signals = Some(signals);
        Ok(())
    }

    /// Serves until shut down: the first reactor on this thread, the others
    /// on threads of their own. Returns once every connection is closed.
    ///
    /// # Errors
    /// Only if polling itself fails; peer and disk errors are handled. A
    /// reactor that fails asks the others to shut down.
    pub fn run(self) -> io::Result<()> {
        let workers = self.reactors.len();
        let mut reactors = self.reactors.into_iter();
        let first = reactors.next();
        let mut threads = Vec::new();
        for (index, reactor) in reactors.enumerate() {
            let shutdown = ShutdownOnFailure(self.hub.shutdown.clone());
            let thread = std::thread::Builder::new()
                .name(format!("ferry-worker-{}", index + 2))
                .spawn(move || {
                    let result = reactor.run();
                    if result.is_err() {
                        shutdown.0.shutdown();
                    }
                    result
                });
            match thread {
                Ok(thread) => threads.push(thread),
                Err(err) => {
                    self.hub.shutdown.shutdown();
                    error!("cannot start a reactor thread: {err}");
                }
            }
        }
        // Logged only now that signal handlers (if any) are in place and every
        // worker's thread runs: tests and scripts wait for this line.
        let metrics = self
            .metrics_addr
            .map(|addr| format!(" (metrics on http://{addr}/metrics)"))
            .unwrap_or_default();
        let proxies = &self.shared.config.trusted_proxies;
        if !proxies.is_empty() {
            let list: Vec<String> = proxies.iter().map(ToString::to_string).collect();
            info!(
                "connections from {} must begin with a PROXY header",
                list.join(", ")
            );
        }
        let (first_addr, others, tls) = listening(&self.shared.config.listeners);
        #[cfg(feature = "sftp")]
        let ssh = match &self.hub.ssh {
            Some(terms) => format!(" (SSH host key {})", terms.host_key.fingerprint),
            None => String::new(),
        };
        #[cfg(not(feature = "sftp"))]
        let ssh = "";
        info!(
            target: SERVING_TARGET,
            "serving {} on {first_addr}{others}{metrics}{tls}{ssh}, at most {} connections, up to {} I/O threads, {workers} {}",
            self.shared.config.root.display(),
            self.hub.max_connections,
            self.shared.config.io_threads.max(1),
            if workers == 1 { "worker" } else { "workers" },
        );
        systemd::notify(&format!("READY=1\nSTATUS=serving on {first_addr}{others}"));
        let mut result = match first {
            Some(reactor) => reactor.run(),
            None => Ok(()),
        };
        if result.is_err() {
            self.hub.shutdown.shutdown();
        }
        for thread in threads {
            match thread.join() {
                Ok(Err(err)) if result.is_ok() => result = Err(err),
                Ok(_) => {}
                Err(_) => result = Err(io::Error::other("a worker's event loop panicked")),
            }
        }
        // No pass begins once the server has stopped serving.
        drop(self.sweeps);
        // No hook starts for a client that can no longer be answered.
        self.hub.hook_runner.close();
        // Every line of every answered request, before the last word.
        if let Some(log) = &self.hub.request_log {
            log.close();
        }
        info!("server stopped");
        result
    }
}

/// The `--metrics` listener, bound on the first reactor: a scrape is
/// rare and cheap.
fn bind_metrics(addr: SocketAddr, backlog: Option<u32>) -> io::Result<mio::net::TcpListener> {
    let backlog = listen::Backlog::configured(backlog);
    listen::bind_one(addr, backlog).map_err(|err| listen::cannot_listen(addr, &err))
}

/// What the reactors share, its threads started: the I/O pool, the access
/// log's writer, the hooks' runner and the checksums' thread.
fn start_hub(
    shared: &Arc<Shared>,
    access: Arc<Access>,
    tls: Option<ServerTls>,
    max_connections: usize,
    workers: usize,
) -> io::Result<Arc<Hub>> {
    let threads = shared.config.io_threads;
    let pool = Pool::start(threads, threads * POOL_QUEUE_PER_THREAD, Arc::clone(shared))?;
    let request_log = match &shared.config.access_log {
        Some(settings) => Some(RequestLog::start(settings, &shared.config.node_id)?),
        None => None,
    };
    let hook_runner = Runner::start(&shared.hooks)?;
    let checksums = Checksums::start(shared)?;
    let shutdown = ShutdownHandle {
        requests: Arc::new(AtomicUsize::new(0)),
        wakers: Arc::default(),
    };
    Ok(Arc::new(Hub {
        checksums,
        pool,
        hook_runner,
        access,
        tls,
        max_connections,
        open: AtomicUsize::new(0),
        per_client: PerClient::new(shared.config.max_connections_per_client),
        next_client_id: AtomicU64::new(1),
        out_of_descriptors: AtomicBool::new(false),
        draining: std::sync::Mutex::default(),
        reserve: Reserve::new(),
        metrics: (0..workers).map(|_| Arc::default()).collect(),
        lanes: (0..workers).map(|_| Lane::default()).collect(),
        request_log,
        shutdown,
        #[cfg(feature = "sftp")]
        ssh: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_tokens_map_back_and_stay_clear_of_the_others() {
        for index in 0..MAX_LISTENERS {
            assert_eq!(listener_index(listener_token(index)), Some(index));
        }
        for token in [WAKER, SIGNALS, METRICS, Token(0), Token(1 << 30)] {
            assert_eq!(listener_index(token), None, "{token:?}");
        }
        assert_eq!(listener_index(Token(FIRST_LISTENER - MAX_LISTENERS)), None);
    }

    #[test]
    fn the_serving_line_names_each_listener_and_tls() {
        let at = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let ferry = Listen::plain(Protocol::Ferry, at(5010));
        let http = Listen::plain(Protocol::Http, at(8080));
        let (first, others, tls) = listening(&[ferry, http]);
        assert_eq!(
            (first, others.as_str(), tls),
            (at(5010), " (HTTP on 127.0.0.1:8080)", "")
        );
        let secure = |l: Listen| Listen { tls: true, ..l };
        let (_, others, tls) = listening(&[secure(ferry), secure(http)]);
        assert_eq!(
            (others.as_str(), tls),
            (" (HTTP on 127.0.0.1:8080)", ", over TLS")
        );
        let (_, others, tls) = listening(&[ferry, secure(http)]);
        assert_eq!(
            (others.as_str(), tls),
            (" (HTTP on 127.0.0.1:8080 (TLS))", "")
        );
    }
}
