//! The `ferry` command line: argument definitions and dispatch.
//!
//! `main.rs` parses a [`Cli`] and calls [`run`]; each subcommand lives in its
//! own file. Exit codes: 0 success, 1 the server refused (an `ERR` reply),
//! 2 usage error (clap's own), 3 connection or local I/O failure.

mod bench;
mod remote;
mod serve;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::client::{Client, ClientError};

/// Command-line interface of the `ferry` binary.
#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version,
    about = "A single-threaded file-transfer server and its client"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Measure a running server: many connections, one repeated request.
    Bench(bench::BenchArgs),
    /// Upload a local file.
    Put {
        /// Local file to upload.
        local: PathBuf,
        /// Remote name (default: the local file's name).
        remote: Option<String>,
        /// Where the server is.
        #[command(flatten)]
        server: ServerArg,
    },
    /// Download a remote file.
    Get {
        /// Remote name.
        remote: String,
        /// Local path, or `-` for standard output (default: the remote
        /// name's last segment, in the current directory).
        local: Option<PathBuf>,
        /// Where the server is.
        #[command(flatten)]
        server: ServerArg,
    },
    /// List remote files whose names start with a prefix.
    Ls {
        /// Name prefix (default: everything).
        prefix: Option<String>,
        /// Where the server is.
        #[command(flatten)]
        server: ServerArg,
    },
    /// Show a remote file's size and modification time.
    Stat {
        /// Remote name.
        name: String,
        /// Where the server is.
        #[command(flatten)]
        server: ServerArg,
    },
    /// Remove a remote file.
    Rm {
        /// Remote name.
        name: String,
        /// Where the server is.
        #[command(flatten)]
        server: ServerArg,
    },
}

/// The `--server` option every client subcommand takes.
#[derive(Debug, Args)]
pub struct ServerArg {
    /// Server address.
    #[arg(long, env = "FERRY_SERVER", default_value = "127.0.0.1:5010")]
    pub server: String,
}

impl ServerArg {
    fn connect(&self) -> Result<Client, Failure> {
        Client::connect(self.server.as_str())
            .map_err(|err| Failure::new(format!("cannot connect to {}", self.server), err))
    }
}

/// A failed client command: what was being done, and why it failed.
#[derive(Debug)]
pub struct Failure {
    context: String,
    error: ClientError,
}

impl Failure {
    fn new(context: impl Into<String>, error: impl Into<ClientError>) -> Failure {
        Failure {
            context: context.into(),
            error: error.into(),
        }
    }

    fn exit_code(&self) -> u8 {
        match self.error {
            ClientError::Remote { .. } => 1,
            ClientError::Io(_) | ClientError::Protocol(_) | ClientError::Checksum { .. } => 3,
        }
    }
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve(args) => return serve::run(args),
        Command::Bench(args) => return bench::run(args),
        Command::Put {
            local,
            remote,
            server,
        } => transfer::put(&server, &local, remote.as_deref()),
        Command::Get {
            remote,
            local,
            server,
        } => transfer::get(&server, &remote, local.as_deref()),
        Command::Ls { prefix, server } => remote::list(&server, prefix.as_deref().unwrap_or("")),
        Command::Stat { name, server } => remote::stat(&server, &name),
        Command::Rm { name, server } => remote::remove(&server, &name),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let reason = match &failure.error {
                ClientError::Remote { message, .. } => message.clone(),
                other => other.to_string(),
            };
            eprintln!("ferry: {}: {reason}", failure.context);
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Parses a positive number of seconds, fractions allowed.
pub(crate) fn parse_seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("expected a positive number of seconds, got {text:?}"))
}

/// Parses `1048576`, `512K`, `10M`, `2G`, `1T` (powers of 1024).
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("expected a size such as 1048576, 512K, 10M or 2G, got {text:?}");
    let (digits, shift) = match text.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => {
            let shift = match unit.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(bad()),
            };
            (&text[..at], shift)
        }
        _ => (text, 0),
    };
    let value: u64 = digits.parse().map_err(|_| bad())?;
    value.checked_mul(1 << shift).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("2K"), Ok(2048));
        assert_eq!(parse_size("3m"), Ok(3 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("1X").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("soon").is_err());
    }
}
