//! The client commands and `ferry bench` (feature `client`): their place
//! among the subcommands, their dispatch, the `--max-time` clock, and the
//! client options given to a command that takes none.

use std::process::ExitCode;

use clap::Subcommand;

use super::lines::one_line;
use super::{
    Cli, Command, Failure, args, bench, df, ls, mv, remote, sessions, share, sync, transfer, tree,
};
use crate::client::ClientError;

/// The client's subcommands, flattened into [`Command`].
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Measure a running server: many connections, one repeated request.
    Bench(bench::BenchArgs),
    /// Upload a local file, or a folder with -r.
    Put(args::PutArgs),
    /// Download a remote file, or many with -r.
    Get(args::GetArgs),
    /// List one level of a remote folder (-R: every file below it).
    Ls(ls::LsArgs),
    /// Show a remote file's size, modification time and CRC-32C.
    Stat(remote::StatArgs),
    /// Remove remote files, or a folder with -r.
    Rm(remote::RmArgs),
    /// Rename a remote file or folder (on the server: no bytes travel).
    Mv(mv::MvArgs),
    /// Mirror a local folder to a remote one, or back: only what differs.
    Sync(sync::SyncArgs),
    /// List or cancel unfinished resumable uploads (`put --resume`).
    Sessions(sessions::SessionsArgs),
    /// Show the room there is to write on the server, as df does.
    Df(df::DfArgs),
    /// Make a share link for people without a token; list or revoke them.
    Share(share::ShareArgs),
}

/// Runs a client command; the process exit code.
pub(super) fn run(command: ClientCommand) -> ExitCode {
    start_max_time(&command);
    let result = match command {
        ClientCommand::Bench(args) => return bench::run(args),
        ClientCommand::Put(args) if args.effort.recursive => tree::put(&args),
        ClientCommand::Put(args) => transfer::put(&args),
        ClientCommand::Get(args) if args.effort.recursive => tree::get(&args),
        ClientCommand::Get(args) => transfer::get(&args),
        ClientCommand::Ls(args) => ls::list(&args),
        ClientCommand::Stat(args) => remote::stat(&args),
        ClientCommand::Rm(args) if args.recursive => tree::remove(&args),
        ClientCommand::Rm(args) => remote::remove(&args),
        ClientCommand::Mv(args) => mv::run(&args),
        ClientCommand::Sync(args) => sync::run(&args),
        ClientCommand::Sessions(args) => sessions::run(&args),
        ClientCommand::Df(args) => df::run(&args),
        ClientCommand::Share(args) => share::run(&args),
    };
    super::report(result)
}

impl Failure {
    /// What failed for the remote `name`: the server's `409` (the name
    /// is a folder, where the command wants a file) is the usage error it
    /// is, told with `hint`; anything else as it came.
    pub(super) fn remote(name: &str, err: ClientError, hint: &str) -> Failure {
        match err {
            ClientError::Remote { code: 409, .. } => Failure::usage(name, hint),
            err => Failure::new(name, err),
        }
    }
}

/// Starts the `--max-time` clock of a client command, if it has one,
/// naming what the command works on in the message it ends with.
fn start_max_time(command: &ClientCommand) {
    let (limit, what) = match command {
        ClientCommand::Put(args) => (
            args.client.connection.max_time,
            format!("put {}", args.local.display()),
        ),
        ClientCommand::Get(args) => (
            args.client.connection.max_time,
            format!("get {}", args.remote),
        ),
        ClientCommand::Ls(args) => (args.client.connection.max_time, "ls".into()),
        ClientCommand::Stat(args) => (
            args.client.connection.max_time,
            format!("stat {}", args.name),
        ),
        ClientCommand::Rm(args) => (args.client.connection.max_time, "rm".into()),
        ClientCommand::Mv(args) => (args.client.connection.max_time, format!("mv {}", args.from)),
        ClientCommand::Sync(args) => (
            args.client.connection.max_time,
            format!("sync {}", args.source),
        ),
        ClientCommand::Sessions(args) => (args.client().connection.max_time, "sessions".into()),
        ClientCommand::Df(args) => (args.client.connection.max_time, "df".into()),
        ClientCommand::Share(args) => (args.client().connection.max_time, "share".into()),
        // No --max-time of its own.
        ClientCommand::Bench(_) => (None, String::new()),
    };
    if let Some(limit) = limit {
        super::interrupt::give_up_after(limit, one_line(&what).into_owned());
    }
}

/// A client option (global, so clap takes it anywhere) given to a command
/// that has no use for it: `ferry serve --server ...` must not quietly
/// listen elsewhere than the user meant.
pub(super) fn misplaced_client_option(cli: &Cli) -> Option<Failure> {
    let (command, connects) = match cli.command {
        Command::Serve(_) => ("serve", false),
        Command::Client(ClientCommand::Bench(_)) => ("bench", true),
        Command::Completions { .. } => ("completions", false),
        Command::Token(_) => ("token", false),
        Command::Cert(_) => ("cert", false),
        _ => return None,
    };
    let option = cli.leading.misplaced(connects)?;
    let hint = match (command, option) {
        ("serve", "--server") => "; serve listens on --listen",
        ("serve", "--token") => "; serve reads its tokens from --tokens",
        ("serve", "--tls" | "--ca" | "--insecure") => {
            "; serve's certificate is given with --tls-cert and --tls-key"
        }
        ("serve", _) => "; serve's own log is set with --log-level",
        ("token", "--token") => "; token names its file with --tokens",
        _ => "",
    };
    Some(Failure::usage(
        command,
        format!(
            "{option} is an option of the client commands (put, get, ls, stat, rm, mv, sync){hint}"
        ),
    ))
}
