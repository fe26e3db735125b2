//! The `ferry` command line: argument definitions, dispatch, and how a
//! failure becomes one line on stderr and an exit code.
//!
//! `main.rs` parses a [`Cli`] and calls [`run`]; each subcommand lives in its
//! own file. Exit codes: 0 success, 1 the server refused (an `ERR` reply),
//! 2 usage error, 3 connection or local I/O failure (a checksum mismatch
//! included). When several files of a folder fail, 3 if any failure was of
//! the connection or local kind, else 1.

mod cert;
mod lines;
mod serve;
mod token;
mod token_file;
#[cfg(feature = "sftp")]
mod token_keys;

// The client commands, `ferry bench` and shell completions: only with the
// feature `client` (docs/operating.md, "Builds"), which the default build
// has; a server-only build leaves them, their progress bars and their
// crates out.
#[cfg(feature = "client")]
mod args;
#[cfg(feature = "client")]
mod bench;
#[cfg(feature = "client")]
mod caution;
#[cfg(feature = "client")]
mod commands;
#[cfg(feature = "client")]
mod df;
#[cfg(feature = "client")]
mod interrupt;
#[cfg(feature = "client")]
mod landing;
#[cfg(feature = "client")]
mod ls;
#[cfg(feature = "client")]
mod mv;
#[cfg(feature = "client")]
mod output;
#[cfg(feature = "client")]
mod remote;
#[cfg(feature = "client")]
mod remote_name;
#[cfg(feature = "client")]
mod sessions;
#[cfg(feature = "client")]
mod share;
#[cfg(feature = "client")]
mod sync;
#[cfg(feature = "client")]
mod transfer;
#[cfg(feature = "client")]
mod tree;

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::client::ClientError;
use crate::config::MinFree;

/// Command-line interface of the `ferry` binary.
#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version,
    about = "A file-transfer server (an event loop per core)"
)]
#[cfg_attr(
    feature = "client",
    command(
        about = "A file-transfer server (an event loop per core) and its client",
        after_help = "The client commands' --server, --token, --tls, --ca, --insecure, \
                      -v/--verbose and -q/--quiet may also come before the command: \
                      ferry -v --ca cert.pem put a.txt"
    )
)]
pub struct Cli {
    /// Client options given before the command's name.
    #[cfg(feature = "client")]
    #[command(flatten)]
    pub leading: args::LeadingClientArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
// One value per process: its size does not matter (the client commands'
// flags, flattened in, make it as large as the largest of them).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    // Boxed: its many flags would make every command as large.
    Serve(Box<serve::ServeArgs>),
    /// The client commands and `bench` (listed here, in `--help`, after
    /// `serve`).
    #[cfg(feature = "client")]
    #[command(flatten)]
    Client(commands::ClientCommand),
    /// Make, list and remove access tokens (see `serve --tokens`).
    Token(token::TokenArgs),
    /// Write a self-signed certificate and key, to try TLS out (see
    /// `serve --tls-cert`).
    Cert(cert::CertArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[cfg(feature = "client")]
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
    #[cfg(feature = "client")]
    if let Some(failure) = commands::misplaced_client_option(&cli) {
        return report(Err(failure));
    }
    let result = match cli.command {
        Command::Serve(args) => return serve::run(*args),
        #[cfg(feature = "client")]
        Command::Client(command) => return commands::run(command),
        #[cfg(feature = "client")]
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "ferry", &mut lines::Stdout);
            return ExitCode::SUCCESS;
        }
        Command::Token(args) => token::run(args),
        Command::Cert(args) => cert::run(&args),
    };
    report(result)
}

/// Prints a failure's line on stderr; the exit code.
fn report(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            lines::to_stderr(&format!("ferry: {}", lines::one_line(&failure.line())));
            ExitCode::from(failure.exit_code())
        }
    }
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
const MAX_SECONDS: u64 = 1_000_000_000;

/// Parses a positive number of seconds, fractions allowed (`0.25`, `.5`,
/// `1e3`), up to [`MAX_SECONDS`], to the nanosecond.
pub(crate) fn parse_seconds(text: &str) -> Result<Duration, String> {
    decimal_seconds(text)
        .filter(|s| !s.is_zero() && *s <= Duration::from_secs(MAX_SECONDS))
        .ok_or_else(|| {
            format!("expected a positive number of seconds up to {MAX_SECONDS}, got {text:?}")
        })
}

/// `[+]digits[.digits][e[+-]digits]` as a duration, in decimal throughout:
/// no float parsing, whose tables weigh some 20 KB in the small host's
/// build, for a handful of settings. `None` for anything else, or past
/// what a `u128` of nanoseconds holds.
fn decimal_seconds(text: &str) -> Option<Duration> {
    let text = text.strip_prefix('+').unwrap_or(text);
    let (number, exponent) = match text.split_once(['e', 'E']) {
        Some((number, exponent)) => (number, exponent.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = || whole.bytes().chain(fraction.bytes());
    if whole.len() + fraction.len() == 0 || !digits().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = digits().try_fold(0u128, |n, b| {
        n.checked_mul(10)?.checked_add(u128::from(b - b'0'))
    })?;
    // Nanoseconds: the digits, the point moved by the exponent and by 9.
    let shift = i64::from(exponent) + 9 - i64::try_from(fraction.len()).ok()?;
    let ten = |power: i64| 10u128.checked_pow(u32::try_from(power).ok()?);
    let nanos = match shift {
        0.. => value.checked_mul(ten(shift)?)?,
        ..0 => ten(-shift).map_or(0, |ten| value / ten),
    };
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

pub(crate) use crate::access::quota::parse_size;

/// Reads `--min-free`'s value: a size (`1048576`, `512M`, `2G`) or a
/// percentage of the file system's size (`5%`, below 100).
///
/// # Errors
/// Neither.
pub(crate) fn parse_min_free(text: &str) -> Result<MinFree, String> {
    match text.strip_suffix('%') {
        Some(digits) => match digits.parse::<u8>() {
            Ok(percent) if percent < 100 => Ok(MinFree::Percent(percent)),
            _ => Err(format!(
                "expected a percentage below 100 such as 5%, got {text:?}"
            )),
        },
        None => parse_size(text).map(MinFree::Bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserves() {
        assert_eq!(parse_min_free("0"), Ok(MinFree::Bytes(0)));
        assert_eq!(parse_min_free("2G"), Ok(MinFree::Bytes(2 << 30)));
        assert_eq!(parse_min_free("5%"), Ok(MinFree::Percent(5)));
        for bad in ["100%", "-1%", "%", "x", "5 %", "1.5%"] {
            assert!(parse_min_free(bad).is_err(), "{bad}");
        }
        assert_eq!(MinFree::Default.bytes(32_000_000_000), 320_000_000);
        assert_eq!(MinFree::Default.bytes(1 << 40), 1 << 30);
        assert_eq!(MinFree::Percent(5).bytes(1000), 50);
    }

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
        assert_eq!(parse_seconds(".5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_seconds("+2."), Ok(Duration::from_secs(2)));
        assert_eq!(parse_seconds("2.5E-3"), Ok(Duration::from_micros(2500)));
        assert_eq!(parse_seconds("120"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_seconds("0.000000001"), Ok(Duration::from_nanos(1)));
        for bad in [
            "-1",
            "inf",
            "NaN",
            "1e19",
            "1e20",
            "",
            ".",
            "1.2.3",
            "1e",
            "1e99999999999",
            "0.0",
            "1e-10",
            "5 ",
            "0x10",
        ] {
            assert!(parse_seconds(bad).is_err(), "{bad:?}");
        }
    }
}
