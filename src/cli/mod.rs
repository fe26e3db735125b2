//! The `ferry` command line: argument definitions, dispatch, and how a
//! failure becomes one line on stderr and an exit code.
//!
//! `main.rs` parses a [`Cli`] and calls [`run`]; each subcommand lives in its
//! own file. Exit codes: 0 success, 1 the server refused (an `ERR` reply),
//! 2 usage error, 3 connection or local I/O failure (a checksum mismatch
//! included). When several files of a folder fail, 3 if any failure was of
//! the connection or local kind, else 1.

mod args;
mod bench;
mod caution;
mod cert;
mod interrupt;
mod ls;
mod mv;
mod output;
mod remote;
mod serve;
mod sessions;
mod sync;
mod token;
mod transfer;
mod tree;

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};

use crate::client::ClientError;

/// Command-line interface of the `ferry` binary.
#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version,
    about = "A file-transfer server (an event loop per core) and its client",
    after_help = "The client commands' --server, --token, --tls, --ca, --insecure, \
                  -v/--verbose and -q/--quiet may also come before the command: \
                  ferry -v --ca cert.pem put a.txt"
)]
pub struct Cli {
    /// Client options given before the command's name.
    #[command(flatten)]
    pub leading: args::LeadingClientArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    // Boxed: its many flags would make every command as large.
    Serve(Box<serve::ServeArgs>),
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
    /// Make, list and remove access tokens (see `serve --tokens`).
    Token(token::TokenArgs),
    /// Write a self-signed certificate and key, to try TLS out (see
    /// `serve --tls-cert`).
    Cert(cert::CertArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

/// A failed client command: what was being done, and why it failed.
#[derive(Debug)]
pub struct Failure {
    context: String,
    cause: Cause,
}

#[derive(Debug)]
enum Cause {
    Client(ClientError),
    /// The command line asks for something that cannot be done.
    Usage(String),
    /// A message already composed, with its exit code (several files
    /// failed, say, each reported on its own line before).
    Explained {
        code: u8,
        message: String,
    },
}

impl Failure {
    fn new(context: impl Into<String>, error: impl Into<ClientError>) -> Failure {
        Failure {
            context: context.into(),
            cause: Cause::Client(error.into()),
        }
    }

    /// A local file failed.
    fn local(path: &std::path::Path, err: io::Error) -> Failure {
        Failure::new(path.display().to_string(), ClientError::Local(err))
    }

    fn usage(context: impl Into<String>, message: impl Into<String>) -> Failure {
        Failure {
            context: context.into(),
            cause: Cause::Usage(message.into()),
        }
    }

    /// What failed for the remote `name`: the server's `409` (the name
    /// is a folder, where the command wants a file) is the usage error it
    /// is, told with `hint`; anything else as it came.
    fn remote(name: &str, err: ClientError, hint: &str) -> Failure {
        match err {
            ClientError::Remote { code: 409, .. } => Failure::usage(name, hint),
            err => Failure::new(name, err),
        }
    }

    fn explained(context: impl Into<String>, code: u8, message: impl Into<String>) -> Failure {
        Failure {
            context: context.into(),
            cause: Cause::Explained {
                code,
                message: message.into(),
            },
        }
    }

    fn exit_code(&self) -> u8 {
        match &self.cause {
            Cause::Client(err) => exit_code(err),
            Cause::Usage(_) => 2,
            Cause::Explained { code, .. } => *code,
        }
    }

    /// The line to print after `ferry: `.
    fn line(&self) -> String {
        let reason = match &self.cause {
            Cause::Client(err) => reason(err),
            Cause::Usage(message) | Cause::Explained { message, .. } => message.clone(),
        };
        if self.context.is_empty() {
            reason
        } else {
            format!("{}: {reason}", self.context)
        }
    }
}

/// The exit code for a client error: 1 for a refusal, else 3 (a `503`,
/// busy or its storage failed, is no refusal: it may pass, as a lost
/// connection may).
fn exit_code(err: &ClientError) -> u8 {
    match err {
        ClientError::Remote { .. } if err.is_transient() => 3,
        ClientError::Remote { .. } => 1,
        ClientError::Io(_)
        | ClientError::Local(_)
        | ClientError::Protocol(_)
        | ClientError::Changed
        | ClientError::WrongPort(_)
        | ClientError::Checksum { .. } => 3,
    }
}

/// A client error as the end of a one-line message.
fn reason(err: &ClientError) -> String {
    match err {
        ClientError::Remote { message, .. } => message.clone(),
        ClientError::Local(err) => err.to_string(),
        other => other.to_string(),
    }
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    if let Some(failure) = misplaced_client_option(&cli) {
        return report(Err(failure));
    }
    start_max_time(&cli.command);
    let result = match cli.command {
        Command::Serve(args) => return serve::run(*args),
        Command::Bench(args) => return bench::run(args),
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "ferry", &mut output::Stdout);
            return ExitCode::SUCCESS;
        }
        Command::Token(args) => token::run(args),
        Command::Cert(args) => cert::run(&args),
        Command::Put(args) if args.effort.recursive => tree::put(&args),
        Command::Put(args) => transfer::put(&args),
        Command::Get(args) if args.effort.recursive => tree::get(&args),
        Command::Get(args) => transfer::get(&args),
        Command::Ls(args) => ls::list(&args),
        Command::Stat(args) => remote::stat(&args),
        Command::Rm(args) if args.recursive => tree::remove(&args),
        Command::Rm(args) => remote::remove(&args),
        Command::Mv(args) => mv::run(&args),
        Command::Sync(args) => sync::run(&args),
        Command::Sessions(args) => sessions::run(&args),
    };
    report(result)
}

/// Starts the `--max-time` clock of a client command, if it has one,
/// naming what the command works on in the message it ends with.
fn start_max_time(command: &Command) {
    let (limit, what) = match command {
        Command::Put(args) => (
            args.client.connection.max_time,
            format!("put {}", args.local.display()),
        ),
        Command::Get(args) => (
            args.client.connection.max_time,
            format!("get {}", args.remote),
        ),
        Command::Ls(args) => (args.client.connection.max_time, "ls".into()),
        Command::Stat(args) => (
            args.client.connection.max_time,
            format!("stat {}", args.name),
        ),
        Command::Rm(args) => (args.client.connection.max_time, "rm".into()),
        Command::Mv(args) => (args.client.connection.max_time, format!("mv {}", args.from)),
        Command::Sync(args) => (
            args.client.connection.max_time,
            format!("sync {}", args.source),
        ),
        Command::Sessions(args) => (args.client().connection.max_time, "sessions".into()),
        // Not client commands: --max-time is refused for them above.
        Command::Serve(_)
        | Command::Bench(_)
        | Command::Completions { .. }
        | Command::Token(_)
        | Command::Cert(_) => (None, String::new()),
    };
    if let Some(limit) = limit {
        interrupt::give_up_after(limit, output::one_line(&what).into_owned());
    }
}

/// A client option (global, so clap takes it anywhere) given to a command
/// that has no use for it: `ferry serve --server ...` must not quietly
/// listen elsewhere than the user meant.
fn misplaced_client_option(cli: &Cli) -> Option<Failure> {
    let (command, connects) = match cli.command {
        Command::Serve(_) => ("serve", false),
        Command::Bench(_) => ("bench", true),
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

/// Prints a failure's line on stderr; the exit code.
fn report(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            output::to_stderr(&format!("ferry: {}", output::one_line(&failure.line())));
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Refuses an empty remote name before anything is sent: the server would
/// answer with its parser's view of the request line, which means nothing
/// to someone who typed `ferry put a.txt ""`.
fn check_remote_name(name: &str) -> Result<(), Failure> {
    if name.is_empty() {
        return Err(Failure::usage("", "the remote name is empty"));
    }
    Ok(())
}

/// Replaces the file at `path` with `contents`, readable by its owner only
/// (mode 0600): written aside, flushed, renamed over, so that a server
/// re-reading it on SIGHUP never sees half a file.
pub(crate) fn replace_private_file(path: &std::path::Path, contents: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let aside = path.with_file_name(format!(
        ".{}.ferry-new",
        path.file_name()
            .map_or("file".into(), |n| n.to_string_lossy())
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&aside)
        .and_then(|mut out| {
            keep_owner_and_mode(path, &out)?;
            out.write_all(contents)?;
            out.sync_all()
        })
        .and_then(|()| std::fs::rename(&aside, path));
    written.map_err(|err| {
        let _ = std::fs::remove_file(&aside);
        Failure::local(path, err)
    })
}

/// Gives the file replacing `path` the owner, group and mode of the one
/// it replaces, as an editor does: a tokens file root keeps readable by a
/// service's group (0640 root:ferry) stays so after `ferry token add`.
/// Nothing to keep for a new file (0600, the caller's).
fn keep_owner_and_mode(path: &std::path::Path, new: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(old) = std::fs::metadata(path) else {
        return Ok(());
    };
    if (old.uid(), old.gid())
        != (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        )
    {
        std::os::unix::fs::fchown(new, Some(old.uid()), Some(old.gid()))?;
    }
    new.set_permissions(std::fs::Permissions::from_mode(old.mode() & 0o7777))
}

/// Longest duration any setting takes, in seconds (about 31 years): far
/// beyond any sensible timeout, and safe to add to any `Instant`.
const MAX_SECONDS: f64 = 1e9;

/// Parses a positive number of seconds, fractions allowed, up to
/// [`MAX_SECONDS`].
pub(crate) fn parse_seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= MAX_SECONDS)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            format!("expected a positive number of seconds up to {MAX_SECONDS:.0}, got {text:?}")
        })
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
        // Bounded, so no deadline can overflow the clock.
        assert_eq!(parse_seconds("1e9"), Ok(Duration::from_secs(1_000_000_000)));
        for bad in ["-1", "inf", "NaN", "1e19", "1e20"] {
            assert!(parse_seconds(bad).is_err(), "{bad:?}");
        }
    }
}
