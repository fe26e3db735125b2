//! Server settings, with the defaults `ferry serve` documents.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::access::AccessConfig;
use crate::model::SessionTtl;
use crate::proxy::TrustedProxy;
use crate::storage::gate::Gate;
use crate::tls::TlsFiles;
use crate::wire::Protocol;

/// How long a connection must have sent nothing before a newcomer may
/// take its place at `--max-connections` (`Config::bare_grace`): far
/// longer than an honest client takes to send its first request once
/// connected (a round trip, or a TLS handshake's two), so only clients
/// that hold a connection without using it give way.
pub const BARE_GRACE: Duration = Duration::from_secs(1);

/// How long an answer that may begin early waits before it begins, and
/// between its fillers (`Config::early_answer`): well inside the 60 s
/// read timeout of botocore and the AWS CLI.
pub const EARLY_ANSWER: Duration = Duration::from_secs(5);

/// Everything [`crate::Server::bind`] needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// The addresses served and what each speaks, FERRY/1's first by
    /// convention (`--listen`, `--http`, or systemd's named sockets).
    /// A protocol on a port of its own is one more entry.
    pub listeners: Vec<Listen>,
    /// Address of the Prometheus metrics listener (`GET /metrics`);
    /// `None` for none.
    pub metrics_listen: Option<SocketAddr>,
    /// Connections the kernel queues on each listener before they are
    /// accepted; `None`: as many as it allows (`net.core.somaxconn`).
    pub backlog: Option<u32>,
    /// Directory that holds the files; created if missing.
    pub root: PathBuf,
    /// This server's name among the servers sharing `root` (see
    /// [`crate::node`]): in its temp files' names and its lock's. Each
    /// server on one root needs its own.
    pub node_id: String,
    /// Connections served at once; more get `ERR 503 busy`. The server
    /// lowers this if the open-files limit cannot back it.
    pub max_connections: usize,
    /// Connections served at once from one client address (IPv6: one
    /// /64); more get `ERR 503 busy`. 0: no cap. A trusted proxy's
    /// connections count by the client each PROXY header names.
    pub max_connections_per_client: usize,
    /// Listings and folder archives one client address may have queued or
    /// running at once; more get `503`. 0: no cap.
    pub max_walks_per_client: usize,
    /// Memory the server may hold listings' answers in (all of them
    /// together, a listing an eighth at most) while they are sent; what
    /// does not fit is written to a spool file first. 0: every listing
    /// goes through its file.
    pub listing_memory: usize,
    /// Time without progress (idle, half-sent header, stalled body) after
    /// which a connection is closed.
    pub idle_timeout: Duration,
    /// Longest a new connection may send nothing (the idle timeout if that
    /// is shorter).
    pub first_byte_timeout: Duration,
    /// How long a connection must have sent nothing before a newcomer may
    /// take its place when the server is full ([`BARE_GRACE`]).
    pub bare_grace: Duration,
    /// Longest a request line may take to arrive once it has begun.
    pub header_timeout: Duration,
    /// How long a request whose answer may begin early (S3's
    /// CompleteMultipartUpload) waits for its work before the answer
    /// begins (its status, fields and first bytes), and then between the
    /// bytes of filler that keep its client reading until the end comes.
    pub early_answer: Duration,
    /// Slowest a body may move, in bytes per second averaged over each
    /// `rate_window`; 0 turns the check off.
    pub min_rate: u64,
    /// Length of the windows the body rate is measured over.
    pub rate_window: Duration,
    /// Largest PUT accepted; `None` for no limit.
    pub max_file_size: Option<u64>,
    /// What every write leaves free on the root's file system
    /// (`--min-free`): room for logs, the system and crash recovery.
    pub min_free: MinFree,
    /// What folders may hold, whoever stores there (`--quota`); a token's
    /// own quota is in the tokens file.
    pub quotas: Vec<crate::access::quota::FolderQuota>,
    /// Make a PUT's `OK` mean "on stable storage": flush the file and its
    /// directory (on an I/O thread) before answering. On by default;
    /// `--no-fsync` turns it off.
    pub fsync: bool,
    /// How long an unfinished resumable upload is kept after last use.
    pub upload_ttl: Duration,
    /// How long one that never received a byte is kept after last use
    /// (no longer than `upload_ttl`); [`EMPTY_UPLOAD_TTL`] unless a test
    /// says otherwise.
    pub upload_empty_ttl: Duration,
    /// Most resumable uploads kept at once; an `UPLOAD` beyond gets `503`.
    pub max_upload_sessions: usize,
    /// Most resumable uploads kept at once that one client address began.
    pub max_upload_sessions_per_client: usize,
    /// Most resumable uploads kept at once that one token's holders began
    /// (the clients without a token count as one token); only with access
    /// control.
    pub max_upload_sessions_per_token: usize,
    /// Refuse PUT and DEL with `ERR 403`.
    pub read_only: bool,
    /// How long in-flight transfers may run on after a shutdown request.
    pub grace_period: Duration,
    /// How often, give or take a fifth, a node looks for nodes that died
    /// and removes their temp files ([`SWEEP_PERIOD`]; tests set it
    /// short).
    pub sweep_period: Duration,
    /// Event loops, each on a thread of its own with its own connections,
    /// taking new ones from the shared listeners when free (`EPOLLEXCLUSIVE`);
    /// 1 is a single loop on the thread that calls [`crate::Server::run`].
    pub workers: usize,
    /// Threads that make the file-system calls (see [`crate::pool`]),
    /// shared by every worker.
    pub io_threads: usize,
    /// Where upload bodies are written: on the event loop, or gathered and
    /// written by the I/O pool.
    pub pool_writes: PoolWrites,
    /// Whether resting HTTP connections move between event loops.
    pub hand_over: HandOver,
    /// Tokens, grants and what clients without a token may do.
    pub access: AccessConfig,
    /// What the HTTP listener lets a browser do: hosts answered without
    /// access control, whether user files may render in place.
    pub web: WebConfig,
    /// The certificate and key of the listeners marked [`Listen::tls`].
    pub tls: Option<TlsFiles>,
    /// Load balancers whose connections begin with a PROXY header (v1 or
    /// v2) naming the client; a connection from one without a valid header
    /// is closed. Everyone else is served as they are, no header expected.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// The access log (one line per answered request), or `None` for none.
    pub access_log: Option<crate::request_log::Settings>,
    /// Commands run before and after an upload is committed.
    pub hooks: crate::hooks::HookConfig,
    /// Holds chosen storage calls until a test lets them go (tests only).
    #[doc(hidden)]
    pub gate: Option<Arc<Gate>>,
    /// The FTP listeners' terms: passive ports, the address told to
    /// clients, whether FTPS is required (`docs/ftp.md`).
    pub ftp: FtpConfig,
    /// The SSH host key file (`--ssh-host-key`, an OpenSSH ed25519 private
    /// key); `None`: the root's own, made on the first start
    /// (`crate::ssh::host_key`).
    pub ssh_host_key: Option<PathBuf>,
    /// Longest an SSH connection may take from its opening to its SFTP
    /// subsystem, login included (`--ssh-login-grace`, OpenSSH's
    /// `LoginGraceTime`; `connection/deadline.rs`).
    pub ssh_login_grace: Duration,
    /// Longest a logged-in SFTP session may rest, nothing owed either way
    /// (`--ssh-idle-timeout`; `connection/deadline.rs`): in place of the
    /// idle timeout there, since a mount (sshfs) or a file manager's
    /// session sits quiet for minutes and a cut one is lost to its user.
    pub ssh_idle_timeout: Duration,
    /// How long an SSH connection rests between requests, quiet, before
    /// its session gives back its packet buffers' memory (`ssh/rest.rs`):
    /// [`SSH_REST`]. Not a flag: tests shorten it.
    #[doc(hidden)]
    pub ssh_rest: Duration,
    /// What share links may be (`--share-max-expiry`, `--share-max-links`,
    /// `--share-max-uploads`; docs/shares.md).
    pub shares: ShareTerms,
    /// Seconds added to the clock WebDAV locks expire by (tests only:
    /// a lock's timeout passes without waiting for it).
    #[doc(hidden)]
    pub lock_clock: Option<Arc<std::sync::atomic::AtomicI64>>,
}

/// How long an upload session that never received a byte is kept after
/// its last use: long enough for any client that means to send, short
/// enough that a flood of `UPLOAD`s sending nothing gives its slots back
/// soon.
pub const EMPTY_UPLOAD_TTL: Duration = Duration::from_secs(15 * 60);

/// How long an SSH connection rests, quiet, before its session gives back
/// its packet buffers' memory (`Config::ssh_rest`): a transfer's packets
/// come far more often, so it never pays for taking them again; a client
/// that pauses a second between requests takes a page or two back per
/// request (benches/sftp_idle.sh).
pub const SSH_REST: Duration = Duration::from_secs(1);

/// How often a node looks for dead nodes' temp files: a pass costs a
/// `flock` try per other node and a read of a dead one's journal, so it
/// may be frequent; a dead node's leftovers wait no longer than this.
pub const SWEEP_PERIOD: Duration = Duration::from_secs(30);

/// One listening address: what it speaks and whether over TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    /// Where (port 0 picks a free one; the server records the one bound).
    pub addr: SocketAddr,
    /// What its connections speak (for HTTP, the dialects it serves).
    pub protocol: Protocol,
    /// Its connections begin with a TLS handshake ([`Config::tls`]).
    pub tls: bool,
}

impl Listen {
    /// A listener for `protocol` on `addr`, without TLS.
    pub fn plain(protocol: Protocol, addr: SocketAddr) -> Listen {
        Listen {
            addr,
            protocol,
            tls: false,
        }
    }
}

impl Config {
    /// Serves `protocol` on `addr`: replaces the listener of that protocol
    /// if there is one, else adds one (over TLS if every listener so far
    /// is: a certificate given before applies to it too).
    pub fn listen(&mut self, protocol: Protocol, addr: SocketAddr) {
        match self.listeners.iter_mut().find(|l| l.protocol == protocol) {
            Some(listener) => listener.addr = addr,
            None => {
                let tls = self.tls.is_some()
                    && protocol.tls_from_the_start()
                    && self
                        .listeners
                        .iter()
                        .all(|l| l.tls || !l.protocol.tls_from_the_start());
                self.listeners.push(Listen {
                    addr,
                    protocol,
                    tls,
                });
            }
        }
    }

    /// Serves every listener over TLS with `files`.
    pub fn serve_tls(&mut self, files: TlsFiles) {
        self.tls = Some(files);
        for listener in &mut self.listeners {
            listener.tls = listener.protocol.tls_from_the_start();
        }
    }

    /// The address of the first listener for `protocol`.
    pub fn address_of(&self, protocol: Protocol) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| l.protocol == protocol)
            .map(|l| l.addr)
    }

    /// How long unfinished resumable uploads are kept after last use.
    pub fn session_ttl(&self) -> SessionTtl {
        SessionTtl::new(self.upload_ttl, self.upload_empty_ttl)
    }

    /// What this configuration asks of a feature the build left out, as
    /// the error that says how to rebuild: refused at start (a flag of a
    /// missing feature never vanishes silently; docs/operating.md,
    /// "Builds"). TLS without a provider is refused where it is set up
    /// ([`crate::tls::provider`]).
    pub fn unbuilt(&self) -> Option<&'static str> {
        let s3 = self.listeners.iter().any(|l| l.protocol == Protocol::S3);
        let sftp = self.listeners.iter().any(|l| l.protocol == Protocol::Sftp);
        let hooks = self.hooks.on_upload.is_some() || self.hooks.before_commit.is_some();
        [
            (
                s3 && !cfg!(feature = "s3"),
                "built without S3: rebuild with --features s3",
            ),
            (
                sftp && !cfg!(feature = "sftp"),
                "built without SFTP: rebuild with --features sftp",
            ),
            (
                self.metrics_listen.is_some() && !cfg!(feature = "metrics"),
                "built without metrics: rebuild with --features metrics",
            ),
            (
                hooks && !cfg!(feature = "hooks"),
                "built without hooks: rebuild with --features hooks",
            ),
            (
                self.hand_over == HandOver::Always && !cfg!(feature = "hand-over"),
                "built without hand-overs: rebuild with --features hand-over",
            ),
            (
                self.shares != ShareTerms::default() && !cfg!(feature = "shares"),
                "built without share links: rebuild with --features shares",
            ),
        ]
        .into_iter()
        .find_map(|(missing, why)| missing.then_some(why))
    }

    /// Whether a connection from `peer` must begin with a PROXY header.
    pub fn is_trusted_proxy(&self, peer: std::net::IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|proxy| proxy.contains(peer))
    }
}

pub use crate::storage::{DEFAULT_MIN_FREE_CAP, MinFree};

/// Whether upload bodies are written by the I/O pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PoolWrites {
    /// Wherever a write can wait (disks, FUSE, NFS...): the I/O pool writes
    /// behind each upload while it reads on. On tmpfs the event loop writes
    /// (~0.1–0.2 s of CPU per GiB less), unless the body is hashed whole
    /// (S3's MD5): the pool hashes it as it writes, beside the loop.
    #[default]
    Auto,
    /// Always, on a memory file system too.
    Always,
    /// Never: the event loop writes each body (and waits on a slow disk).
    Never,
}

impl PoolWrites {
    /// Whether to write through the pool on `store`, for a body that is
    /// `hashed` whole as it is written (S3's: `serve/digest.rs`) or not.
    pub fn on(self, store: &dyn crate::storage::Store, hashed: bool) -> bool {
        match self {
            PoolWrites::Auto => hashed || !store.writes_never_wait(),
            PoolWrites::Always => true,
            PoolWrites::Never => false,
        }
    }
}

/// Whether event loops hand resting HTTP connections to one another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum HandOver {
    /// A loop that wakes often for little hands them to a busier one.
    #[default]
    Auto,
    /// Never: each stays on the loop that accepted it.
    Never,
    /// At every rest, to the next loop (for tests of the moves).
    Always,
}

/// The default number of workers (event loops): one per core this process
/// may run on, as nginx's `worker_processes auto`.
pub fn default_workers() -> usize {
    crate::threads::crew::cores()
}

/// The most I/O threads a default configuration allows, however many
/// cores (`--io-threads` sets any other cap).
pub const IO_THREADS_CAP: usize = 16;

/// The default cap on I/O threads (`--io-threads`): four per core, at
/// least four, at most [`IO_THREADS_CAP`] (8 on two cores, 16 from four).
/// They mostly wait on the disk, not the CPU, so there are more of them
/// than cores: enough to keep a network file system's round trips
/// overlapped; a small host, whose disk is an SD card or one SSD, gains
/// nothing from more calls in flight than that. They start as jobs queue
/// up and end when idle (`crew.rs`), so the cap is what a burst may hold.
pub fn default_io_threads() -> usize {
    (4 * crate::threads::crew::cores()).clamp(4, IO_THREADS_CAP)
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listeners: vec![Listen::plain(
                Protocol::Ferry,
                SocketAddr::from(([127, 0, 0, 1], 5010)),
            )],
            metrics_listen: None,
            backlog: None,
            root: PathBuf::from("./ferry-data"),
            node_id: crate::node::default_node_id(),
            max_connections: 10_000,
            max_connections_per_client: 256,
            max_walks_per_client: crate::access::per_client::DEFAULT_WALKS_PER_CLIENT,
            listing_memory: crate::storage::DEFAULT_LISTING_MEMORY,
            idle_timeout: Duration::from_secs(60),
            first_byte_timeout: Duration::from_secs(60),
            bare_grace: BARE_GRACE,
            header_timeout: Duration::from_secs(20),
            early_answer: EARLY_ANSWER,
            min_rate: 500,
            rate_window: Duration::from_secs(30),
            max_file_size: None,
            min_free: MinFree::Default,
            quotas: Vec::new(),
            fsync: true,
            upload_ttl: Duration::from_secs(24 * 3600),
            upload_empty_ttl: EMPTY_UPLOAD_TTL,
            max_upload_sessions: 16_384,
            max_upload_sessions_per_client: 1_024,
            max_upload_sessions_per_token: 1_024,
            read_only: false,
            grace_period: Duration::from_secs(10),
            sweep_period: SWEEP_PERIOD,
            workers: default_workers(),
            io_threads: default_io_threads(),
            pool_writes: PoolWrites::Auto,
            hand_over: HandOver::Auto,
            access: AccessConfig::default(),
            web: WebConfig::default(),
            tls: None,
            trusted_proxies: Vec::new(),
            access_log: None,
            hooks: crate::hooks::HookConfig::default(),
            gate: None,
            lock_clock: None,
            ftp: FtpConfig::default(),
            ssh_host_key: None,
            ssh_login_grace: Duration::from_secs(120),
            ssh_idle_timeout: Duration::from_secs(15 * 60),
            ssh_rest: SSH_REST,
            shares: ShareTerms::default(),
        }
    }
}

/// The bounds of share links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareTerms {
    /// The longest a link may last, in seconds.
    pub max_expiry: u64,
    /// The most live links one token may have.
    pub max_links: usize,
    /// The most uploads open at once through one upload link: what a
    /// stranger holding it may take of its creator's sessions.
    pub max_uploads: usize,
    /// Where links' addresses begin, `scheme://host[:port][/path]`
    /// without a trailing `/` (`--public-url`: a proxy in front, a
    /// listener on every address); `None`: as each request names the
    /// server (`serve/ops/links.rs`, `LinkBase`).
    pub public_url: Option<String>,
}

impl Default for ShareTerms {
    /// 30 days (SFTPGo's and Nextcloud's enforced maximum is a setting
    /// too), 100 links a token, 64 uploads open through a link (a
    /// browser's drop zone or Uppy keeps about 5 open; a cancelled batch
    /// lingers until the upload TTL).
    fn default() -> ShareTerms {
        ShareTerms {
            max_expiry: 30 * 24 * 60 * 60,
            max_links: 100,
            max_uploads: 64,
            public_url: None,
        }
    }
}

/// What the FTP listeners serve beyond their addresses (`--ftp-*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FtpConfig {
    /// The ports passive data connections are listened for on
    /// (`--ftp-passive-ports LO-HI`); `None`: any the system picks.
    pub passive_ports: Option<std::ops::RangeInclusive<u16>>,
    /// The address `PASV` tells clients to connect to
    /// (`--ftp-public-address`, behind NAT); `None`: the one the client
    /// reached the server at.
    pub public_address: Option<std::net::Ipv4Addr>,
    /// Active mode (`PORT`, `EPRT`: the server connects to the client)
    /// is served (`--ftp-active`), to the control connection's own
    /// address and ports from 1024 only (no FTP bounce, RFC 2577).
    pub active: bool,
    /// No login, and no transfer, without TLS (`--ftp-require-tls`:
    /// `AUTH TLS` before `USER`, `PROT P` before a transfer).
    pub require_tls: bool,
    /// FTPS data connections may begin TLS sessions of their own
    /// (`--ftp-tls-reuse-optional`); by default each must resume its
    /// control connection's, as vsftpd's `require_ssl_reuse`
    /// (`tls_login.rs`).
    pub tls_reuse_optional: bool,
}

/// What the HTTP listener lets a browser do (`http/origin.rs` applies it).
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Host names answered while access control is off, beside IP literals
    /// and `localhost` (`--allow-host`), lower-case, without a port.
    pub allow_hosts: Vec<String>,
    /// Send every user file inline, of its own type and without the
    /// sandbox (`--inline-content`): for a public static site whose writers
    /// are all trusted.
    pub inline_content: bool,
    /// Origins whose pages may use the listener across sites
    /// (`--cors-origin`): `scheme://host[:port]` in lower case, or `*`
    /// (`http/cors.rs`). At most 255 are told apart.
    pub cors_origins: Vec<String>,
    /// The S3 listeners' domain for virtual-host style (`--s3-domain`):
    /// a request whose `Host` is `<bucket>.<domain>[:port]` names its
    /// bucket there (`http/s3/request.rs`); lower-case, without a port.
    pub s3_domain: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_not_built_is_refused_with_how_to_rebuild() {
        let mut config = Config::default();
        assert_eq!(config.unbuilt(), None);
        config.listen(Protocol::S3, "127.0.0.1:0".parse().unwrap());
        let refused = config.unbuilt();
        assert_eq!(refused.is_some(), !cfg!(feature = "s3"));
        assert!(refused.is_none_or(|why| why.contains("--features s3")));
        let config = Config {
            metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
            ..Config::default()
        };
        assert_eq!(config.unbuilt().is_some(), !cfg!(feature = "metrics"));
        let mut config = Config::default();
        config.hooks.on_upload = crate::hooks::HookCommand::parse("true").ok();
        assert_eq!(config.unbuilt().is_some(), !cfg!(feature = "hooks"));
    }
}
