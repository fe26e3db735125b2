//! `ferry serve`: flags, logger set-up, and the server's lifetime.
//!
//! Why it is long: every flag of `ferry serve` is declared here, with the
//! help text clap shows for it, so the command line is read in one place.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use log::LevelFilter;

use super::{parse_min_free, parse_seconds, parse_size};
use crate::access::quota::FolderQuota;
use crate::access::{AccessConfig, Grant};
use crate::config::{Config, EMPTY_UPLOAD_TTL, HandOver, Listen, MinFree, PoolWrites};
use crate::hooks::{HookCommand, HookConfig};
use crate::http::origin::WebConfig;
use crate::proxy::TrustedProxy;
use crate::request_log::{Format, Settings};
use crate::server::Server;
use crate::threads::stderr_relay::StderrRelay;
use crate::tls::TlsFiles;
use crate::wire::Protocol;

/// Flags of `ferry serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve FERRY/1 on this address (port 0 picks a free port; without a
    /// port, 5010). Without --listen, FERRY/1 is served on 127.0.0.1:5010
    /// only where no --http, --s3, --ftp or --sftp is given: a server asked
    /// for HTTP, S3, FTP or SFTP alone serves only those.
    #[arg(long, value_parser = resolve_listen)]
    listen: Option<SocketAddr>,
    /// Serve HTTP/1.1 (ferry's HTTP, WebDAV, tus, the web page) on this
    /// address (off by default).
    #[arg(long, value_name = "ADDR", value_parser = resolve)]
    http: Option<SocketAddr>,
    /// Serve the S3 API on this address (path-style; over TLS with
    /// --tls-cert like the others; docs/s3.md). Repeatable.
    #[arg(long, value_name = "ADDR", value_parser = resolve)]
    s3: Vec<SocketAddr>,
    /// Serve FTP on this address (RFC 959; the password is a token;
    /// docs/ftp.md). Repeatable.
    #[arg(long, value_name = "ADDR", value_parser = resolve)]
    ftp: Vec<SocketAddr>,
    /// Serve SFTP over SSH on this address (sftp, scp, sshfs, rclone; the
    /// password is a token; docs/sftp.md). Repeatable.
    #[arg(long, value_name = "ADDR", value_parser = resolve)]
    sftp: Vec<SocketAddr>,
    /// The SSH host key (an OpenSSH ed25519 private key file, without a
    /// passphrase); default: one made on the first start and kept under
    /// the root (.ferry-ssh/).
    #[arg(long, value_name = "FILE")]
    ssh_host_key: Option<PathBuf>,
    /// Seconds an SSH connection may take to log in and start SFTP, from
    /// its opening (OpenSSH's LoginGraceTime; a person at the password
    /// prompt is inside it).
    #[arg(long, default_value = "120", value_parser = parse_seconds)]
    ssh_login_grace: Duration,
    /// Seconds a logged-in SFTP session may rest, nothing owed either way,
    /// before it is closed (in place of --idle-timeout: an sshfs mount or
    /// a file manager sits quiet for minutes).
    #[arg(long, default_value = "900", value_parser = parse_seconds)]
    ssh_idle_timeout: Duration,
    /// The longest a share link may last (seconds, or 12h, 7d...; links
    /// ask for less, docs/shares.md).
    #[arg(long, default_value = "30d", value_parser = crate::model::parse_span)]
    share_max_expiry: u64,
    /// The most live share links one token may have.
    #[arg(long, default_value = "100", value_name = "N")]
    share_max_links: usize,
    /// The most uploads open at once through one upload link (begun and
    /// not yet finished, cancelled or expired).
    #[cfg(feature = "shares")]
    #[arg(long, default_value = "64", value_name = "N")]
    share_max_uploads: usize,
    /// Where share links' addresses begin, as people reach this server's
    /// HTTP listener (https://files.example.com, behind a proxy or on
    /// every address); default: as each request names the server, and
    /// for `ferry share` the --http address (docs/serve.md).
    #[arg(long, value_name = "URL", value_parser = parse_public_url)]
    public_url: Option<String>,
    /// Also serve S3's virtual-host style on the --s3 listeners: a request
    /// to Host bucket.NAME[:port] is on that bucket (path style still
    /// works; docs/s3.md, "Virtual-host style").
    #[arg(long, value_name = "NAME", value_parser = crate::http::origin::parse_allowed_host)]
    s3_domain: Option<String>,
    /// Serve Prometheus metrics at GET /metrics on this address (off by
    /// default; no access control: keep it where only monitoring reaches).
    #[arg(long, value_name = "ADDR", value_parser = resolve)]
    metrics: Option<SocketAddr>,
    /// Directory that holds the files (created if missing).
    #[arg(long, default_value = "./ferry-data")]
    root: PathBuf,
    /// This server's name among servers sharing --root (e.g. on JuiceFS
    /// behind a load balancer): 1-32 of A-Z a-z 0-9 - _, part of every temp
    /// file's name. Each server on one root needs its own; a second with
    /// the same id there refuses to start. Default: the host name (made
    /// safe and cut to 32), else the start of /etc/machine-id, else `node`.
    #[arg(long, value_name = "ID", value_parser = crate::node::parse_node_id)]
    node_id: Option<String>,
    /// Connections the kernel may queue on each listener before ferry
    /// accepts them (a connection storm); the default is the kernel's
    /// most (net.core.somaxconn), which also caps a larger N.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65535))]
    backlog: Option<u32>,
    /// Most connections served at once; more get `ERR 503 busy`.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Most connections served at once from one client address (IPv6: one
    /// /64; behind a --trusted-proxy, the client its PROXY header names);
    /// more get `ERR 503 busy`. 0: no cap.
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_connections_per_client: usize,
    /// Most listings and folder archives one client address may have
    /// queued or running at once (an archive until its last byte is out);
    /// more get 503. 0: no cap.
    #[arg(long, value_name = "N", default_value_t = crate::access::per_client::DEFAULT_WALKS_PER_CLIENT)]
    max_walks_per_client: usize,
    /// Memory the server may hold listings' answers in while they are
    /// sent (PROPFIND, folder pages, LIST; all together, one listing an
    /// eighth of it), in bytes (suffixes K, M, G, T); what does not fit
    /// goes through a spool file on the root's file system. 0: every
    /// listing goes through its file.
    #[arg(long, value_name = "BYTES", default_value = "64M", value_parser = parse_size)]
    listing_memory: u64,
    /// Seconds without progress before a connection is closed.
    #[arg(long, default_value = "60", value_parser = parse_seconds)]
    idle_timeout: Duration,
    /// Seconds a new connection may send nothing before it is closed
    /// (the idle timeout if that is shorter). At --max-connections a
    /// newcomer takes the place of the oldest connection that has sent
    /// nothing for a second, whatever this is.
    #[arg(long, default_value = "60", value_parser = parse_seconds)]
    first_byte_timeout: Duration,
    /// Seconds a request line may take to arrive once it has begun.
    #[arg(long, default_value = "20", value_parser = parse_seconds)]
    header_timeout: Duration,
    /// Slowest a body may move, in bytes/s averaged over --rate-window
    /// (0 turns the check off).
    #[arg(long, default_value_t = 500)]
    min_rate: u64,
    /// Seconds over which --min-rate is measured.
    #[arg(long, default_value = "30", value_parser = parse_seconds)]
    rate_window: Duration,
    /// Largest accepted upload, in bytes (suffixes K, M, G, T allowed).
    #[arg(long, value_parser = parse_size)]
    max_file_size: Option<u64>,
    /// What every write leaves free on the root's file system: bytes
    /// (suffixes K, M, G, T) or a percentage of its size (5%); a write that
    /// would leave less is refused with 507 before its bytes are taken.
    /// Default: 1 % of the file system, at most 1 GiB; 0 turns it off.
    #[arg(long, value_parser = parse_min_free, value_name = "BYTES|PERCENT")]
    min_free: Option<MinFree>,
    /// What a folder and everything below it may hold, whoever stores
    /// there: FOLDER=BYTES[,files=N] (`sensors/=10G,files=100000`, `/=1T`
    /// for the root); a write past it is refused with 507. Repeatable.
    /// A token's own quota is set with `ferry token quota`.
    #[arg(long, value_parser = FolderQuota::parse, value_name = "FOLDER=QUOTA")]
    quota: Vec<FolderQuota>,
    /// Seconds an unfinished resumable upload is kept after its last use.
    #[arg(long, default_value = "86400", value_parser = parse_seconds)]
    upload_ttl: Duration,
    /// Most unfinished resumable uploads kept at once; an UPLOAD beyond
    /// gets 503 until some are committed, aborted or expired.
    #[arg(long, default_value_t = 16_384)]
    max_upload_sessions: usize,
    /// Most unfinished resumable uploads kept at once for one client
    /// address.
    #[arg(long, default_value_t = 1_024)]
    max_upload_sessions_per_client: usize,
    /// Most unfinished resumable uploads kept at once for one token (the
    /// clients without a token count as one token); with access control.
    #[arg(long, default_value_t = 1_024)]
    max_upload_sessions_per_token: usize,
    /// Refuse every change (uploads, deletes, moves, new folders, times
    /// set) over every protocol.
    #[arg(long)]
    read_only: bool,
    /// Durable acknowledgements, the default (kept for scripts): a PUT,
    /// COMMIT, MOVE or DEL is answered only once its data and directory
    /// entries are on stable storage, an APPEND once its bytes are (fsync
    /// on an I/O thread; concurrent commits share directory flushes).
    #[arg(long, overrides_with = "no_fsync")]
    fsync: bool,
    /// Answer as soon as an upload is renamed into place, without
    /// flushing: a power cut or kernel crash may then lose what was
    /// acknowledged in the last seconds. For roots on tmpfs, caches and
    /// scratch space; one connection's small uploads are many times faster.
    #[arg(long, overrides_with = "fsync")]
    no_fsync: bool,
    /// Event loops, each a thread with its own connections, taking new
    /// ones from the shared listeners as it is free to; the default is one
    /// per available core. 1 serves everything from one thread.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: Option<u16>,
    /// Most threads that make the file-system calls, so the event loop
    /// never waits on the disk. They mostly wait, not compute: more than
    /// the cores helps on slow or network file systems. The default is
    /// four per core, from 4 to 16.
    #[arg(long, default_value_t = crate::config::default_io_threads() as u16,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    io_threads: u16,
    /// Where upload bodies are written: `auto` has the I/O threads write
    /// them behind each upload wherever a write can wait (local disks,
    /// FUSE, NFS, SMB...) and the event loop on a memory file system
    /// (tmpfs), which saves a copy; `never` has the event loop write every
    /// body itself.
    #[arg(long, value_enum, default_value_t = PoolWrites::Auto)]
    pool_writes: PoolWrites,
    /// Whether a worker waking often for little hands its resting HTTP
    /// connections to a busier one (`auto`), or never (`always`: tests).
    #[arg(long, value_enum, default_value_t = HandOver::Auto)]
    hand_over: HandOver,
    /// Seconds in-flight transfers may take to finish after SIGTERM/SIGINT.
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    grace_period: Duration,
    /// Turn access control on: the tokens file (made with `ferry token
    /// add`); re-read on SIGHUP.
    #[arg(long, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// What clients without a token may do, as <perm>:<folder> (perm:
    /// read, write or delete; folder `/` for everything); repeatable. Needs
    /// --tokens.
    #[arg(long, value_name = "GRANT", value_parser = parse_grant)]
    anonymous: Vec<Grant>,
    /// Serve an address other hosts can reach without --tokens anyway
    /// (anyone who reaches it may read, write and delete every file).
    #[arg(long, conflicts_with = "tokens")]
    no_auth: bool,
    /// With access control off, also answer HTTP requests whose Host is
    /// this name (IP addresses and localhost always are; any other name a
    /// DNS rebinding could point here gets 403); repeatable.
    #[arg(long, value_name = "NAME", value_parser = crate::http::origin::parse_allowed_host)]
    allow_host: Vec<String>,
    /// Let browsers show every file in place as its type says (HTML and
    /// scripts included, without the sandbox): only for a public static
    /// site whose every writer is trusted (docs/security.md, "The web
    /// origin").
    #[arg(long)]
    inline_content: bool,
    /// Let pages of this origin (scheme://host[:port], or * for every
    /// one) use the HTTP listener from a browser: Uppy or tus-js-client on
    /// another site, say. Their requests still need a token where access
    /// control is on; with it off, * lets any site's page change files
    /// through a visitor's browser. Repeatable (docs/http.md, "CORS").
    #[arg(long, value_name = "ORIGIN", value_parser = crate::http::cors::parse_origin)]
    cors_origin: Vec<String>,
    /// Serve FERRY/1, HTTP and S3 over TLS, and offer FTPS (AUTH TLS) on
    /// the FTP listeners, with this certificate chain (PEM, leaf first;
    /// `ferry cert` makes one to try it out); re-read on SIGHUP. Needs
    /// --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The ports FTP's passive data connections are listened for on
    /// (LO-HI, e.g. 50000-50100: the range a firewall lets through);
    /// default: any the system picks.
    #[arg(long, value_name = "LO-HI", value_parser = crate::ftp::parse_port_range)]
    ftp_passive_ports: Option<std::ops::RangeInclusive<u16>>,
    /// The IPv4 address FTP's PASV tells clients to connect to, where
    /// they reach the server through NAT; default: the address each
    /// client reached it at.
    #[arg(long, value_name = "IP")]
    ftp_public_address: Option<std::net::Ipv4Addr>,
    /// Serve FTP's active mode (PORT, EPRT: the server connects to the
    /// client), for old devices that know nothing else; only to the
    /// client's own address and ports from 1024 (no FTP bounce).
    #[arg(long)]
    ftp_active: bool,
    /// Refuse FTP logins and transfers without TLS: AUTH TLS before USER,
    /// PROT P before a transfer (needs --tls-cert; docs/ftp.md, FTPS).
    #[arg(long, requires = "tls_cert")]
    ftp_require_tls: bool,
    /// Let FTPS data connections begin TLS sessions of their own: by
    /// default each must resume its control connection's (as vsftpd's
    /// require_ssl_reuse), which lftp and rclone do, curl 7.x for its
    /// first transfer alone and Python's ftplib never (docs/ftp.md, FTPS).
    #[arg(long, requires = "tls_cert")]
    ftp_tls_reuse_optional: bool,
    /// A load balancer (IP or IP/bits; repeatable) whose connections
    /// begin with a PROXY header (v1 or v2, e.g. HAProxy's send-proxy-v2):
    /// the client address in it counts for per-client limits, the AUTH
    /// throttle and the logs. Its connections without a valid header are
    /// closed; only ever name the balancers, as anyone listed can claim any
    /// address.
    #[arg(long, value_name = "IP[/BITS]")]
    trusted_proxy: Vec<TrustedProxy>,
    /// Run this command after every committed upload: a program and its
    /// arguments, split on whitespace (no shell). The upload's facts are in
    /// FERRY_* environment variables (docs/operating.md#upload-hooks).
    #[arg(long, value_name = "COMMAND", value_parser = HookCommand::parse)]
    on_upload: Option<HookCommand>,
    /// Run this command before an upload is put in place; if it exits
    /// non-zero (or times out), the upload is refused with 403 and nothing
    /// is stored. Same form and variables as --on-upload.
    #[arg(long, value_name = "COMMAND", value_parser = HookCommand::parse)]
    before_commit: Option<HookCommand>,
    /// Hooks run at once (both kinds together), each a child process. The
    /// default is two per core, from 2 to 4.
    #[arg(long, default_value_t = crate::hooks::default_concurrency() as u16,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    hook_concurrency: u16,
    /// Seconds a hook may run before it is killed (a before-commit hook
    /// killed so refuses its upload).
    #[arg(long, default_value = "30", value_parser = parse_seconds)]
    hook_timeout: Duration,
    /// Log level: error, warn, info, debug or trace (RUST_LOG overrides).
    #[arg(long, default_value = "info")]
    log_level: LevelFilter,
    /// The access log's format: one line per answered request.
    #[arg(long, value_enum, default_value = "text")]
    log_format: Format,
    /// Append the access log to this file (reopened on SIGHUP, for
    /// logrotate) instead of writing it to stderr.
    #[arg(long, value_name = "PATH")]
    log_file: Option<PathBuf>,
    /// Keep no access log (diagnostics still go to stderr).
    #[arg(long, conflicts_with_all = ["log_file", "log_format"])]
    no_access_log: bool,
    /// Log health checks (HEALTH, GET /.ferry-health) in the access log
    /// too; without it they are only counted in the metrics.
    #[arg(long, conflicts_with = "no_access_log")]
    log_health_checks: bool,
}

/// A grant given on the command line.
pub(super) fn parse_grant(text: &str) -> Result<Grant, String> {
    Grant::parse(text)
}

/// A test hook for tests that can only use a whole process (to kill it at
/// a chosen instant): `FERRY_TEST_GATE=<point>` holds every storage call
/// that reaches that point until the process ends. Nothing else sets it.
fn test_gate() -> Option<std::sync::Arc<crate::storage::gate::Gate>> {
    use crate::storage::gate::{Gate, Point};
    let point = match std::env::var("FERRY_TEST_GATE").ok()?.as_str() {
        "commit" => Point::Commit,
        "forget" => Point::Forget,
        other => {
            log::warn!("FERRY_TEST_GATE={other} names no point; ignored");
            return None;
        }
    };
    log::warn!("test gate: storage calls at {point:?} are held until the process ends");
    Some(std::sync::Arc::new(Gate::new(point)))
}

/// `--listen`: as [`resolve`], the client's default port added where none
/// is given (`--listen 0.0.0.0`, `--listen ::`), as `--server` adds it.
fn resolve_listen(text: &str) -> Result<SocketAddr, String> {
    resolve(&with_server_port(text))
}

/// The port a server listens on unless told otherwise.
pub(super) const DEFAULT_PORT: u16 = 5010;

/// `server` with [`DEFAULT_PORT`] added if it has no port of its own:
/// `serve --listen`'s rule, one default port for both sides.
fn with_server_port(server: &str) -> String {
    with_default_port(server, DEFAULT_PORT)
}

/// `server` with `port` added if it has no port of its own.
pub(super) fn with_default_port(server: &str, port: u16) -> String {
    if server.parse::<std::net::SocketAddr>().is_ok() {
        return server.to_owned();
    }
    if let Ok(ip) = server.parse::<std::net::IpAddr>() {
        // A bare IPv6 address: its colons are not a port.
        return std::net::SocketAddr::new(ip, port).to_string();
    }
    let bracketed = server.starts_with('[') && server.ends_with(']');
    if bracketed || !server.contains(':') {
        return format!("{server}:{port}");
    }
    server.to_owned()
}

/// `host:port` as the address to listen on: an IP address as it is, a host
/// name (`localhost:0`) resolved once, at start, to its first address.
fn resolve(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    use std::net::ToSocketAddrs;
    let mut found = text
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve {text:?} (expected host:port): {err}"))?;
    found
        .next()
        .ok_or_else(|| format!("{text:?} resolves to no address"))
}

/// `--public-url`: `http://` or `https://`, a host, perhaps a port and
/// a path; kept without a trailing `/` (a link's address follows it).
/// Printable ASCII only: FERRY/1 tells it in a reply's field.
fn parse_public_url(text: &str) -> Result<String, String> {
    let bad = |why: &str| format!("--public-url {text:?}: {why} (e.g. https://files.example.com)");
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| bad("begins with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad("names no host"));
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) || text.contains(['?', '#']) {
        return Err(bad(
            "an address without spaces, query or fragment, percent-encoded",
        ));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// Runs the server until it is shut down by a signal.
pub fn run(args: ServeArgs) -> ExitCode {
    // Before anything logs: a closed or failing stderr must not end the
    // server (see stderr_relay).
    let relay = StderrRelay::install()
        .inspect_err(|err| eprintln!("ferry: warning: stderr is not relayed: {err}"))
        .ok();
    let code = serve(args);
    if let Some(relay) = relay {
        relay.finish();
    }
    code
}

/// What `--listen`, `--http`, `--s3`, `--ftp` and `--sftp` ask to serve, and
/// nothing else: each listener named, all over TLS if a certificate is
/// (`--tls-cert`; FTP's TLS begins when its client asks); FERRY/1 on its
/// default address where none is named at all (`ferry serve` alone),
/// never beside a listener it was not asked for (which would fail where
/// another server holds 5010).
fn listeners(
    ferry: Option<SocketAddr>,
    http: Option<SocketAddr>,
    (s3, ftp, sftp): (&[SocketAddr], &[SocketAddr], &[SocketAddr]),
    tls: bool,
) -> Vec<Listen> {
    let default = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT));
    let none_named = http.is_none() && s3.is_empty() && ftp.is_empty() && sftp.is_empty();
    let ferry = ferry.or(none_named.then_some(default));
    let wanted = [(Protocol::Ferry, ferry), (Protocol::Http, http)];
    let s3 = s3.iter().map(|addr| (Protocol::S3, Some(*addr)));
    let ftp = ftp.iter().map(|addr| (Protocol::Ftp, Some(*addr)));
    let sftp = sftp.iter().map(|addr| (Protocol::Sftp, Some(*addr)));
    wanted
        .into_iter()
        .chain(s3)
        .chain(ftp)
        .chain(sftp)
        .filter_map(|(protocol, addr)| {
            addr.map(|addr| Listen {
                addr,
                protocol,
                tls: tls && protocol.tls_from_the_start(),
            })
        })
        .collect()
}

impl ServeArgs {
    /// Whether acknowledgements wait for stable storage: unless
    /// `--no-fsync` came after any `--fsync` (`overrides_with` clears
    /// whichever came first).
    fn durable(&self) -> bool {
        self.fsync || !self.no_fsync
    }
}

/// What rustls logs at `level`: its errors, and all it says when
/// debugging (its warnings are each client's quirks, a line a connection).
fn rustls_level(level: LevelFilter) -> LevelFilter {
    match level >= LevelFilter::Debug {
        true => level,
        false => level.min(LevelFilter::Error),
    }
}

/// Sets up the logger, then serves until shut down by a signal.
fn serve(args: ServeArgs) -> ExitCode {
    init_logger(args.log_level);
    let config = config_of(args);
    // Said plainly here: creating it would fail with "File exists".
    if config.root.exists() && !config.root.is_dir() {
        eprintln!("ferry: {} is not a directory", config.root.display());
        return ExitCode::from(1);
    }
    let started = Server::bind(config.clone()).and_then(|mut server| {
        server.handle_signals()?;
        Ok(server)
    });
    let server = match started {
        Ok(server) => server,
        Err(err) => {
            match crate::storage::root_in_use(&err) {
                Some(in_use) => eprintln!("ferry: {in_use}"),
                None => eprintln!("ferry: cannot serve {}: {err}", config.root.display()),
            }
            return ExitCode::from(1);
        }
    };
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ferry: server failed: {err}");
            ExitCode::from(1)
        }
    }
}

/// Logs at `level` to stderr, UTC-stamped (`RUST_LOG` may say more).
fn init_logger(level: LevelFilter) {
    // Only fails if a logger is already set, which nothing here does.
    let _ = simple_logger::SimpleLogger::new()
        .with_level(level)
        // Where it serves is said at any level: scripts read their ports
        // from that line.
        .with_module_level(crate::server::SERVING_TARGET, level.max(LevelFilter::Info))
        // rustls warns of each client's quirks (lftp names an IP address
        // in SNI): one line a connection, telling the operator nothing.
        .with_module_level("rustls", rustls_level(level))
        .with_utc_timestamps()
        .env()
        .init();
}

/// The server's configuration, as the flags say.
fn config_of(args: ServeArgs) -> Config {
    let durable = args.durable();
    let tls = args
        .tls_cert
        .zip(args.tls_key)
        .map(|(cert, key)| TlsFiles { cert, key });
    Config {
        listeners: listeners(
            args.listen,
            args.http,
            (&args.s3, &args.ftp, &args.sftp),
            tls.is_some(),
        ),
        metrics_listen: args.metrics,
        backlog: args.backlog,
        root: args.root,
        node_id: args.node_id.unwrap_or_else(crate::node::default_node_id),
        max_connections: args.max_connections,
        max_connections_per_client: args.max_connections_per_client,
        max_walks_per_client: args.max_walks_per_client,
        listing_memory: usize::try_from(args.listing_memory).unwrap_or(usize::MAX),
        idle_timeout: args.idle_timeout,
        first_byte_timeout: args.first_byte_timeout,
        bare_grace: crate::config::BARE_GRACE,
        header_timeout: args.header_timeout,
        early_answer: crate::config::EARLY_ANSWER,
        min_rate: args.min_rate,
        rate_window: args.rate_window,
        max_file_size: args.max_file_size,
        min_free: args.min_free.unwrap_or_default(),
        quotas: args.quota,
        read_only: args.read_only,
        fsync: durable,
        upload_ttl: args.upload_ttl,
        upload_empty_ttl: EMPTY_UPLOAD_TTL,
        max_upload_sessions: args.max_upload_sessions,
        max_upload_sessions_per_client: args.max_upload_sessions_per_client,
        max_upload_sessions_per_token: args.max_upload_sessions_per_token,
        grace_period: args.grace_period,
        sweep_period: crate::config::SWEEP_PERIOD,
        workers: args
            .workers
            .map_or_else(crate::config::default_workers, usize::from),
        io_threads: usize::from(args.io_threads),
        pool_writes: args.pool_writes,
        hand_over: args.hand_over,
        access: AccessConfig {
            tokens: args.tokens,
            anonymous: args.anonymous,
            no_auth: args.no_auth,
        },
        web: WebConfig {
            allow_hosts: args.allow_host,
            inline_content: args.inline_content,
            cors_origins: args.cors_origin,
            s3_domain: args.s3_domain,
        },
        tls,
        trusted_proxies: args.trusted_proxy,
        access_log: (!args.no_access_log).then_some(Settings {
            format: args.log_format,
            file: args.log_file,
            health_checks: args.log_health_checks,
        }),
        hooks: HookConfig {
            on_upload: args.on_upload,
            before_commit: args.before_commit,
            concurrency: usize::from(args.hook_concurrency),
            timeout: args.hook_timeout,
        },
        gate: test_gate(),
        lock_clock: None,
        ftp: crate::config::FtpConfig {
            passive_ports: args.ftp_passive_ports,
            public_address: args.ftp_public_address,
            require_tls: args.ftp_require_tls,
            tls_reuse_optional: args.ftp_tls_reuse_optional,
            active: args.ftp_active,
        },
        ssh_host_key: args.ssh_host_key,
        ssh_login_grace: args.ssh_login_grace,
        ssh_idle_timeout: args.ssh_idle_timeout,
        ssh_rest: crate::config::SSH_REST,
        shares: crate::config::ShareTerms {
            max_expiry: args.share_max_expiry,
            max_links: args.share_max_links,
            #[cfg(feature = "shares")]
            max_uploads: args.share_max_uploads,
            // No links, no uploads through them: the flag is left out of
            // the build without links (the embedded one's size).
            #[cfg(not(feature = "shares"))]
            max_uploads: crate::config::ShareTerms::default().max_uploads,
            public_url: args.public_url,
        },
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{DEFAULT_PORT, parse_public_url, with_default_port};
    use crate::cli::{Cli, Command};

    #[test]
    fn a_public_url_is_an_http_address_kept_without_its_last_slash() {
        assert_eq!(
            parse_public_url("https://files.example.com/").unwrap(),
            "https://files.example.com"
        );
        assert_eq!(
            parse_public_url("http://10.0.0.5:8080/ferry").unwrap(),
            "http://10.0.0.5:8080/ferry"
        );
        for bad in [
            "files.example.com",
            "ftp://x",
            "https://",
            "https:///x",
            "http://a b",
            "http://x/?q",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_server_without_a_port_gets_the_default_one() {
        for (given, meant) in [
            ("127.0.0.1", "127.0.0.1:5010"),
            ("127.0.0.1:7000", "127.0.0.1:7000"),
            ("::1", "[::1]:5010"),
            ("[::1]", "[::1]:5010"),
            ("[::1]:7000", "[::1]:7000"),
            ("files.lan", "files.lan:5010"),
            ("files.lan:7000", "files.lan:7000"),
        ] {
            assert_eq!(with_default_port(given, DEFAULT_PORT), meant, "{given}");
        }
    }

    #[test]
    fn listen_without_a_port_means_the_default_port() {
        for (given, meant) in [
            ("127.0.0.1", "127.0.0.1:5010"),
            ("::1", "[::1]:5010"),
            ("[::1]", "[::1]:5010"),
            ("127.0.0.1:0", "127.0.0.1:0"),
        ] {
            let cli = Cli::try_parse_from(["ferry", "serve", "--listen", given]).unwrap();
            let Command::Serve(args) = cli.command else {
                panic!("not serve");
            };
            assert_eq!(
                args.listen.map(|a| a.to_string()),
                Some(meant.to_owned()),
                "{given}"
            );
        }
    }

    #[test]
    fn only_the_listeners_named_are_served() {
        let served = |given: &[&str]| {
            let cli = Cli::try_parse_from([&["ferry", "serve"][..], given].concat()).unwrap();
            let Command::Serve(args) = cli.command else {
                panic!("not serve");
            };
            super::listeners(
                args.listen,
                args.http,
                (&args.s3, &args.ftp, &args.sftp),
                false,
            )
            .iter()
            .map(|l| format!("{} {}", l.protocol.name(), l.addr))
            .collect::<Vec<_>>()
        };
        assert_eq!(served(&[]), ["ferry 127.0.0.1:5010"]);
        assert_eq!(
            served(&["--http", "127.0.0.1:8080"]),
            ["http 127.0.0.1:8080"]
        );
        assert_eq!(served(&["--s3", "127.0.0.1:9000"]), ["s3 127.0.0.1:9000"]);
        assert_eq!(
            served(&["--ftp", "127.0.0.1:2121", "--ftp", "[::1]:2121"]),
            ["ftp 127.0.0.1:2121", "ftp [::1]:2121"]
        );
        assert_eq!(
            served(&["--listen", "127.0.0.1:0", "--http", "127.0.0.1:8080"]),
            ["ferry 127.0.0.1:0", "http 127.0.0.1:8080"]
        );
    }

    /// `--listing-memory` takes a size, 64 MiB when not given, the
    /// server-wide room `storage::DEFAULT_LISTING_MEMORY` names.
    #[test]
    fn listing_memory_is_a_size_defaulting_to_the_storage_room() {
        for (given, bytes) in [
            (&[][..], crate::storage::DEFAULT_LISTING_MEMORY as u64),
            (&["--listing-memory", "0"][..], 0),
            (&["--listing-memory", "8M"][..], 8 << 20),
        ] {
            let cli = Cli::try_parse_from([&["ferry", "serve"][..], given].concat()).unwrap();
            let Command::Serve(args) = cli.command else {
                panic!("not serve");
            };
            assert_eq!(args.listing_memory, bytes, "{given:?}");
        }
        assert!(Cli::try_parse_from(["ferry", "serve", "--listing-memory", "lots"]).is_err());
    }

    #[test]
    fn durable_unless_no_fsync_comes_last() {
        for (given, durable) in [
            (&[][..], true),
            (&["--fsync"][..], true),
            (&["--no-fsync"][..], false),
            (&["--fsync", "--no-fsync"][..], false),
            (&["--no-fsync", "--fsync"][..], true),
        ] {
            let cli = Cli::try_parse_from([&["ferry", "serve"][..], given].concat()).unwrap();
            let Command::Serve(args) = cli.command else {
                panic!("not serve");
            };
            assert_eq!(args.durable(), durable, "{given:?}");
        }
    }
}
