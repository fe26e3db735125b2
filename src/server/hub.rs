//! What every reactor of a server shares ([`Hub`]) and how a server is
//! asked to stop ([`ShutdownHandle`]): the I/O pool, the hook runner and
//! the checksum threads, access control and the certificate, the
//! connection caps (the server's and each client address's) and client
//! ids. Reactors hold it behind an `Arc`; nothing in it is a reactor's own.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use log::error;
use mio::Waker;

use super::reactor::accept::Reserve;
use super::reactor::share::Lane;
use super::systemd;
use crate::access::Access;
use crate::access::per_client::PerClient;
use crate::connection::{Connection, Counted};
use crate::hooks::Runner;
use crate::metrics::ReactorMetrics;
use crate::pool::Pool;
use crate::pool::checksums::Checksums;
use crate::request_log::RequestLog;
use crate::tls::ServerTls;

/// Asks a running server to shut down; cheap to clone, usable from any
/// thread. The first request drains in-flight transfers for the grace
/// period; a second one closes everything at once.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    pub(super) requests: Arc<AtomicUsize>,
    /// Every reactor's waker.
    pub(super) wakers: Arc<Mutex<Vec<Arc<Waker>>>>,
}

impl ShutdownHandle {
    /// Requests a shutdown (of every reactor).
    pub fn shutdown(&self) {
        if self.requests.fetch_add(1, Ordering::SeqCst) == 0 {
            systemd::notify("STOPPING=1");
        }
        for waker in self.wakers.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if let Err(err) = waker.wake() {
                error!("could not wake a reactor: {err}");
            }
        }
    }

    /// Shutdown requests so far.
    pub(super) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// What every reactor of a server shares.
pub(crate) struct Hub {
    /// The threads that compute checksums. Stopped first (fields drop in
    /// order): a computation under way gives up rather than hold the stop.
    pub(super) checksums: Checksums,
    /// The threads that do the file-system work.
    pub(super) pool: Pool,
    /// The threads that run the upload hooks. Stopped after the pool
    /// (fields drop in order): the pool's last commits may queue hooks.
    pub(super) hook_runner: Runner,
    /// Tokens and grants (re-read on SIGHUP).
    pub(super) access: Arc<Access>,
    /// The certificate both listeners serve TLS with (re-read on SIGHUP).
    pub(super) tls: Option<ServerTls>,
    /// Most connections open at once, over all reactors.
    pub(super) max_connections: usize,
    /// Connections open now, over all reactors.
    pub(super) open: AtomicUsize,
    /// Connections open now per client address, over all reactors.
    pub(super) per_client: PerClient,
    /// The next client id (ids are unique across reactors).
    pub(super) next_client_id: AtomicU64,
    /// A reactor has found the process out of descriptors (logged once).
    pub(super) out_of_descriptors: AtomicBool,
    /// At a shutdown: how many reactors have counted their transfers in
    /// flight, and how many those are, so that the last one logs the
    /// server's total in one line (one per reactor said contradicting
    /// numbers).
    pub(super) draining: Mutex<(usize, usize)>,
    /// The spare descriptor for refusing connections when there are none.
    pub(super) reserve: Reserve,
    /// Each reactor's counters, summed by a scrape (`--metrics`).
    pub(super) metrics: Vec<Arc<ReactorMetrics>>,
    /// Each reactor's load and the connections handed to it
    /// (`reactor/share.rs`).
    pub(super) lanes: Vec<Lane>,
    /// The access log, if one is kept (reopened on SIGHUP).
    pub(super) request_log: Option<Arc<RequestLog>>,
    pub(super) shutdown: ShutdownHandle,
    /// What SSH sessions share (host key, access), where SFTP is served.
    #[cfg(feature = "sftp")]
    pub(super) ssh: Option<Arc<crate::ssh::SshTerms>>,
}

impl Hub {
    /// `hub` with `ssh`, set before any reactor holds the hub.
    #[cfg(feature = "sftp")]
    pub(super) fn with_ssh(mut hub: Arc<Hub>, ssh: Option<Arc<crate::ssh::SshTerms>>) -> Arc<Hub> {
        debug_assert!(
            Arc::get_mut(&mut hub).is_some(),
            "the hub is shared already"
        );
        if let Some(only) = Arc::get_mut(&mut hub) {
            only.ssh = ssh;
        }
        hub
    }

    /// Counts a new connection in, unless the server has its cap
    /// (`--max-connections`) or its client address (`client`) has its own
    /// (`--max-connections-per-client`). `client` is `None` for a trusted
    /// load balancer's: counting the balancer would cap all its clients
    /// together; each is counted once its PROXY header names it
    /// ([`Hub::admit_named`]).
    ///
    /// # Errors
    /// Whose cap refused it.
    pub(super) fn admit(&self, client: Option<IpAddr>) -> Result<(), Busy> {
        // The client's cap first: a client over its own is refused as
        // such, never let displace another's connection (`bare.rs`).
        if let Some(addr) = client
            && !self.per_client.admit(addr)
        {
            return Err(Busy::Client);
        }
        let open = self.open.fetch_add(1, Ordering::SeqCst);
        if open >= self.max_connections {
            self.open.fetch_sub(1, Ordering::SeqCst);
            if let Some(addr) = client {
                self.per_client.release(addr);
            }
            return Err(Busy::Server);
        }
        Ok(())
    }

    /// Counts the client a PROXY header has named in, on a connection
    /// already counted in the server's cap; false if the client has its
    /// cap.
    pub(super) fn admit_named(&self, client: IpAddr) -> bool {
        self.per_client.admit(client)
    }

    /// Counts a closed connection out; `client` as it was admitted with.
    pub(super) fn release(&self, client: Option<IpAddr>) {
        if let Some(addr) = client {
            self.per_client.release(addr);
        }
        self.open.fetch_sub(1, Ordering::SeqCst);
    }

    pub(super) fn client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// Whose connection cap refused a newcomer (it is told `busy` either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Busy {
    /// `--max-connections`, over all clients.
    Server,
    /// `--max-connections-per-client`, its address's.
    Client,
}

/// The address `conn` counts under in the per-client cap, if it is
/// counted (see [`Counted`]).
pub(super) fn counted_client(conn: &Connection) -> Option<IpAddr> {
    (conn.counted() == Counted::Peer).then(|| conn.peer())
}

/// Shuts the whole server down if a worker's thread panics: better a
/// clean exit (and a restart by the service manager) than a server that
/// silently serves on with one event loop fewer.
pub(super) struct ShutdownOnFailure(pub(super) ShutdownHandle);

impl Drop for ShutdownOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            error!("a worker's event loop failed; shutting down");
            self.0.shutdown();
        }
    }
}
