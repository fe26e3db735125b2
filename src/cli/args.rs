//! The client commands' arguments: where the server is and how much to
//! say (every client command), and what `put` and `get` take.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::Failure;
use super::output::{Output, ProgressMode};
use crate::client::Client;
use crate::client::retry::RetryPolicy;

/// Options every client command takes.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Server address, host:port.
    #[arg(long, env = "FERRY_SERVER", default_value = "127.0.0.1:5010")]
    pub server: String,
    /// Log every request and answer on stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

impl ClientArgs {
    /// Connects, naming the server in the error.
    pub fn connect(&self) -> Result<Client, Failure> {
        Client::connect(self.server.as_str()).map_err(|err| self.unreachable(err))
    }

    /// A failure to reach the server.
    pub fn unreachable(&self, err: crate::client::ClientError) -> Failure {
        Failure::new(format!("cannot connect to {}", self.server), err)
    }
}

/// How `put` and `get` report progress.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Print only errors: no progress bars, no summary.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// When to draw progress bars (default: when stderr is a terminal).
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto, hide = true)]
    pub progress: ProgressMode,
}

impl ShowArgs {
    /// The command's output, with the client log installed.
    pub fn output(&self, client: &ClientArgs) -> Output {
        let output = Output::new(self.progress, self.quiet);
        output.install_log(client.verbose);
        output
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
    /// With --resume or -r: how many connection failures in a row, without
    /// progress between them, to reconnect after (waiting 0.25 s, 0.5 s,
    /// 1 s ... up to 8 s).
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
    /// Local file, or folder with -r.
    pub local: PathBuf,
    /// Remote name (default: the local file's name). With -r, the prefix
    /// the folder's files go under (default: the folder's name; "" for the
    /// top of the server).
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
    pub show: ShowArgs,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `ferry get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Remote name. With -r, a name prefix: every file whose name starts
    /// with it (use a trailing / for a folder's contents only).
    pub remote: String,
    /// Local path, or `-` for standard output (default: the remote name's
    /// last segment). With -r, the folder to copy into (default: .).
    pub local: Option<PathBuf>,
    /// Continue a partial download (kept when an interrupted --resume
    /// download fails) and reconnect after failures; the whole file is
    /// verified.
    #[arg(long, conflicts_with = "recursive")]
    pub resume: bool,
    #[command(flatten)]
    pub effort: EffortArgs,
    #[command(flatten)]
    pub show: ShowArgs,
    #[command(flatten)]
    pub client: ClientArgs,
}
