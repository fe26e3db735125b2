//! The `ferry` command line: argument definitions and dispatch.
//!
//! `main.rs` parses a [`Cli`] and calls [`run`]; each subcommand lives in its
//! own file. Exit codes: 0 success, 1 the server refused (an `ERR` reply),
//! 2 usage error (clap's own), 3 connection or local I/O failure.

mod remote;
mod serve;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;

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
            ClientError::Io(_) | ClientError::Protocol(_) => 3,
        }
    }
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve(args) => return serve::run(args),
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
