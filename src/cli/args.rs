//! The client commands' arguments: where the server is and how much to
//! say (every client command, before or after its name), and what `put`
//! and `get` take.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::Failure;
use super::output::{Output, ProgressMode};
use super::serve::{DEFAULT_PORT, with_default_port};
use crate::client::retry::RetryPolicy;
use crate::client::{Client, ClientTls, Endpoint, RateLimit, Trust};

/// Where the server is and how to connect to it: every client command
/// takes these, and `ferry bench` too (flattened into both, so they are
/// defined and documented once).
#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Server address, host:port (the port defaults to 5010).
    #[arg(long, env = "FERRY_SERVER", default_value = "127.0.0.1:5010")]
    pub server: String,
    /// The token to authenticate with, where the server requires one
    /// (made with `ferry token add`). Prefer FERRY_TOKEN: a command line
    /// can be seen by other users of the machine.
    #[arg(long, env = "FERRY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Connect over TLS, trusting the system's certificate authorities.
    #[arg(long)]
    pub tls: bool,
    /// Connect over TLS, trusting only the certificates in this PEM file
    /// (a private authority, or `ferry cert`'s certificate).
    #[arg(long, env = "FERRY_CA", value_name = "PEM")]
    pub ca: Option<PathBuf>,
    /// Connect over TLS without checking the server's certificate: the
    /// connection is encrypted, but to whoever answers.
    #[arg(long, conflicts_with = "ca")]
    pub insecure: bool,
    /// Bytes per second for all transfers of the command together, sent
    /// and received (500K, 2M ...; powers of 1024, like curl).
    #[arg(long, value_parser = parse_rate, value_name = "RATE")]
    pub limit_rate: Option<u64>,
    /// Seconds each connection may take to be made and greeted.
    #[arg(long, value_parser = super::parse_seconds, value_name = "SECS")]
    pub connect_timeout: Option<Duration>,
    /// Seconds the whole command may take; then it stops (exit code 3),
    /// removing a partial download as any failed get does.
    #[arg(long, value_parser = super::parse_seconds, value_name = "SECS")]
    pub max_time: Option<Duration>,
    /// The endpoint, once made: every connection of a command shares its
    /// rate limit and its TLS set-up (the system's authorities are read
    /// once, not per connection).
    #[arg(skip)]
    made: std::sync::OnceLock<Endpoint>,
}

/// `--limit-rate`: a size a second, not zero (nothing would ever move).
fn parse_rate(text: &str) -> Result<u64, String> {
    match super::parse_size(text)? {
        0 => Err("a rate of 0 would never finish: give bytes per second, such as 500K".into()),
        rate => Ok(rate),
    }
}

impl ConnectionArgs {
    /// The server, how to reach it and the token to present to it.
    ///
    /// # Errors
    /// `--insecure` with `--ca` (or `FERRY_CA`), one of them before the
    /// command's name (clap sees only the pairs given on the same side of
    /// it, as for `-q` and `-v` in [`ClientArgs::output`]); the `--ca` file
    /// cannot be used, or (`--tls`) the system has no certificate
    /// authorities.
    pub fn endpoint(&self) -> Result<Endpoint, Failure> {
        if let Some(made) = self.made.get() {
            return Ok(made.clone());
        }
        let made = self.make_endpoint()?;
        Ok(self.made.get_or_init(|| made).clone())
    }

    fn make_endpoint(&self) -> Result<Endpoint, Failure> {
        if self.insecure && self.ca.is_some() {
            return Err(Failure::usage(
                "",
                "--insecure cannot be used with --ca (or FERRY_CA)",
            ));
        }
        let trust = match (&self.ca, self.insecure, self.tls) {
            (Some(ca), _, _) => Some(Trust::Ca(ca.clone())),
            (None, true, _) => Some(Trust::Insecure),
            (None, false, true) => Some(Trust::System),
            (None, false, false) => None,
        };
        let tls = trust
            .map(|trust| ClientTls::new(&trust))
            .transpose()
            .map_err(|err| Failure::new("TLS", err))?;
        Ok(Endpoint {
            addr: self.address()?,
            token: self.token.clone().filter(|token| !token.is_empty()),
            tls,
            connect_timeout: self.connect_timeout,
            limit: self.limit_rate.map(|rate| Arc::new(RateLimit::new(rate))),
        })
    }

    /// Connects (and authenticates), naming the server in the error.
    ///
    /// # Errors
    /// As [`ConnectionArgs::endpoint`]; the server cannot be reached, or
    /// refuses the token.
    pub fn connect(&self) -> Result<Client, Failure> {
        let endpoint = self.endpoint()?;
        endpoint.connect().map_err(|err| match err {
            // Each says all there is to say, the address included.
            crate::client::ClientError::Remote { .. }
            | crate::client::ClientError::WrongPort(_) => Failure::new("", err),
            err => Failure::new(format!("cannot connect to {}", endpoint.addr), err),
        })
    }

    /// `--server` as `host:port`, the default port added where none is
    /// given (`--server 127.0.0.1`, `--server ::1`, `--server files.lan`).
    ///
    /// # Errors
    /// A port that is not a number from 1 to 65535: a usage error, as no
    /// connection could ever be made.
    pub fn address(&self) -> Result<String, Failure> {
        let address = with_default_port(&self.server, default_port());
        match address
            .rsplit_once(':')
            .map(|(_, port)| port.parse::<u16>())
        {
            Some(Ok(port)) if port > 0 => Ok(address),
            _ => Err(Failure::usage(
                format!("--server {}", self.server),
                "the port must be a number from 1 to 65535",
            )),
        }
    }
}

/// For tests only, not for users (so not in `--help`): a default port
/// other than [`DEFAULT_PORT`], so that the test of `--server host`
/// (no port) can run the client against a server it started on a port it
/// controls, whatever else listens on 5010 on the machine (the README's
/// Quick-start server, say).
const TEST_DEFAULT_PORT_VARIABLE: &str = "FERRY_TEST_DEFAULT_PORT";

/// [`DEFAULT_PORT`], unless a test set [`TEST_DEFAULT_PORT_VARIABLE`].
fn default_port() -> u16 {
    std::env::var(TEST_DEFAULT_PORT_VARIABLE)
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(DEFAULT_PORT)
}

/// Options every client command takes. They may also come before the
/// command's name: see [`LeadingClientArgs`].
#[derive(Debug, Args)]
pub struct ClientArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Log every request and answer on stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print only errors: no progress bars, no warnings, no result lines
    /// such as `stored ...` or `removed ...`.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
}

impl ClientArgs {
    /// The command's output, with the client log installed.
    ///
    /// # Errors
    /// `-q` and `-v` both given, one of them before the command's name
    /// (clap sees only the pairs given on the same side of it).
    pub fn output(&self, progress: ProgressMode) -> Result<Output, Failure> {
        if self.quiet && self.verbose {
            return Err(Failure::usage(
                "",
                "-q/--quiet cannot be used with -v/--verbose",
            ));
        }
        let output = Output::new(progress, self.quiet);
        output.install_log(self.verbose);
        Ok(output)
    }
}

/// The client options written before the command's name (`ferry -v put
/// a.txt`, `ferry --server host:5010 --ca cert.pem ls`).
///
/// They are global, so clap accepts them there and hands their values on
/// by id to the command's own [`ClientArgs`], which define and document
/// them. Given on both sides, the one after the name wins; given before
/// the name, it beats the command's variable (`FERRY_TOKEN`, `FERRY_CA`),
/// as clap ranks a value from the command line above one from the
/// environment. `bench` takes the [`ConnectionArgs`] among them; `serve`,
/// `token`, `cert` and `completions` receive them too, which is why they
/// are hidden and [`LeadingClientArgs::misplaced`] refuses what a command
/// does not take.
///
/// No defaults and no variables here: for commands without the option of
/// their own, each is `Some` or `true` only when given.
#[derive(Debug, Args)]
pub struct LeadingClientArgs {
    #[arg(long, global = true, hide = true)]
    server: Option<String>,
    #[arg(long, global = true, hide = true)]
    token: Option<String>,
    #[arg(long, global = true, hide = true)]
    tls: bool,
    #[arg(long, global = true, hide = true)]
    ca: Option<PathBuf>,
    #[arg(long, global = true, hide = true, conflicts_with = "ca")]
    insecure: bool,
    #[arg(short, long, global = true, hide = true)]
    verbose: bool,
    #[arg(short, long, global = true, hide = true, conflicts_with = "verbose")]
    quiet: bool,
}

impl LeadingClientArgs {
    /// The first client option given to a command that does not take it,
    /// as written in messages; `connects`: the command has the
    /// [`ConnectionArgs`] of its own.
    pub fn misplaced(&self, connects: bool) -> Option<&'static str> {
        let connection = [
            (self.server.is_some(), "--server"),
            (self.token.is_some(), "--token"),
            (self.tls, "--tls"),
            (self.ca.is_some(), "--ca"),
            (self.insecure, "--insecure"),
        ];
        let misplaced = connection
            .into_iter()
            .find(|(given, _)| *given && !connects);
        if let Some((_, option)) = misplaced {
            Some(option)
        } else if self.verbose {
            Some("-v/--verbose")
        } else if self.quiet {
            Some("-q/--quiet")
        } else {
            None
        }
    }
}

/// How `put` and `get` report progress.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// When to draw progress bars (default: when stderr is a terminal).
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto, hide = true)]
    pub progress: ProgressMode,
}

impl ShowArgs {
    /// The command's output, with the client log installed.
    ///
    /// # Errors
    /// As [`ClientArgs::output`].
    pub fn output(&self, client: &ClientArgs) -> Result<Output, Failure> {
        client.output(self.progress)
    }
}

/// How hard `put` and `get` try.
#[derive(Debug, Args)]
pub struct EffortArgs {
    /// Copy a folder: everything below it.
    #[arg(short, long)]
    pub recursive: bool,
    /// With -r: connections side by side (each with many requests in flight).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub parallel: u16,
    /// Skip files whose copy already has the same size and CRC-32C.
    #[arg(long)]
    pub skip_existing: bool,
    /// With put, --resume or -r: how many failures that may pass (a lost
    /// connection, a busy server, its storage failing: 503) in a row,
    /// without progress between them, to try again after (waiting 0.25 s,
    /// 0.5 s, 1 s ... up to 8 s). A plain put sends the whole file again.
    #[arg(long, default_value_t = 5)]
    pub retries: u32,
    /// Seconds to wait after the first connection failure (doubling after
    /// each further one); for tests.
    #[arg(long, value_parser = super::parse_seconds, default_value = "0.25", hide = true)]
    pub retry_delay: Duration,
}

impl EffortArgs {
    /// The retry policy `--retries` asks for.
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            retries: self.retries,
            first_delay: self.retry_delay,
            ..RetryPolicy::default()
        }
    }
}

/// `ferry put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// Local file, or folder with -r, or `-` for standard input (then
    /// the remote name is needed).
    pub local: PathBuf,
    /// Remote name (default: the local file's name; ending in /, a remote
    /// folder to put it in). With -r, the prefix the folder's files go
    /// under (default: the folder's name; "" for the top of the server;
    /// ending in /, a remote folder to put the folder in).
    #[arg(value_parser = super::remote_name::parse_name)]
    pub remote: Option<String>,
    /// Upload through a resumable session: continue where an interrupted
    /// upload of the same file stopped, reconnecting after failures.
    #[arg(long, conflicts_with = "recursive")]
    pub resume: bool,
    /// With --resume: bytes per APPEND, the most a dropped connection costs
    /// (512K, 8M ...).
    #[arg(long, value_parser = super::parse_size, default_value = "8M")]
    pub chunk_size: u64,
    #[command(flatten)]
    pub effort: EffortArgs,
    #[command(flatten)]
    pub caution: CautionArgs,
    #[command(flatten)]
    pub filter: super::tree::filter::FilterArgs,
    #[command(flatten)]
    pub show: ShowArgs,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `ferry get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Remote name. With -r, a remote folder: its files, kept under the
    /// folder's name (with a trailing /, its contents only).
    #[arg(value_parser = super::remote_name::parse_name)]
    pub remote: String,
    /// Local path, or `-` for standard output (default: the remote name's
    /// last segment; a folder, or a path ending in / (made if missing):
    /// that segment in there). With -r, the folder to copy into
    /// (default: .).
    pub local: Option<PathBuf>,
    /// Continue a partial download (kept when an interrupted --resume
    /// download fails) and reconnect after failures; the whole file is
    /// verified.
    #[arg(long, conflicts_with = "recursive")]
    pub resume: bool,
    #[command(flatten)]
    pub effort: EffortArgs,
    #[command(flatten)]
    pub caution: CautionArgs,
    #[command(flatten)]
    pub filter: super::tree::filter::FilterArgs,
    #[command(flatten)]
    pub show: ShowArgs,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `--dry-run` and `--no-clobber`, flattened into `put` and `get`
/// (what they do: `caution.rs`).
#[derive(Debug, Args)]
pub struct CautionArgs {
    /// With -r: print what would be transferred, transfer nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Never overwrite an existing destination file: skip it, and say so.
    #[arg(short = 'n', long)]
    pub no_clobber: bool,
}
