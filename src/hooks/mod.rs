//! Upload hooks: commands the operator names that run when an upload
//! lands (`--on-upload`) or just before it would (`--before-commit`, which
//! may refuse it).
//!
//! This module owns what a hook is told and how it runs: the command (a
//! program and its arguments, split on whitespace when the flag is read;
//! never a shell string), the facts about the upload, passed only in
//! `FERRY_*` environment variables (see [`Facts::vars`]; a file's name is
//! never part of a command line), and the runner's threads
//! (`runner.rs`), which spawn and wait for the children (`child.rs`) so
//! that neither the event loop nor the I/O pool ever waits for a hook.
//!
//! The serve layer decides *when* a hook runs (one place: the commit,
//! `serve/ops/files.rs`): a before-commit hook is a [`crate::serve::Job`] for
//! the runner ([`crate::serve::UploadStep::BeforeCommit`]) with the connection waiting; an
//! on-upload hook is queued after the commit and nobody waits for it.
//!
//! Built with the `hooks` feature (Cargo.toml). Without it the runner and
//! the children are not built: `absent.rs` stands in for `runner.rs`, a
//! [`Hooks`] that has none (so the commit's hook branches compile to
//! nothing) and a [`Runner`] with no thread; what a hook would be told
//! stays, as the flags do, which the server refuses at start
//! ([`crate::config::Config::unbuilt`]).

#[cfg(feature = "hooks")]
mod child;
#[cfg(feature = "hooks")]
mod runner;
#[cfg(not(feature = "hooks"))]
#[path = "absent.rs"]
mod runner;

use std::borrow::Cow;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

#[cfg(feature = "hooks")]
pub use child::{Ran, STDERR_KEPT};
pub use runner::{Hooks, Runner, ShareFull, Slot};
#[cfg(feature = "hooks")]
pub use runner::{ON_UPLOAD_QUEUE, share_of};

use crate::wire::Protocol;

/// The hooks a server runs, and how.
#[derive(Debug, Clone)]
pub struct HookConfig {
    /// Runs after every committed upload; nobody waits for it.
    pub on_upload: Option<HookCommand>,
    /// Runs before an upload is committed; a failure refuses the upload.
    pub before_commit: Option<HookCommand>,
    /// Hooks running at once (both kinds together).
    pub concurrency: usize,
    /// Longest a hook may run before it is killed.
    pub timeout: Duration,
}

/// Hooks running at once unless `--hook-concurrency` says otherwise: two
/// per core, from 2 to 4. A hook's thread only waits for its child, but
/// the child computes (a scan): on a one-core host four at once would
/// take the event loop's CPU, and two still give each token a share (its
/// share is half).
pub fn default_concurrency() -> usize {
    (2 * crate::threads::crew::cores()).clamp(2, 4)
}

/// A hook's time limit unless `--hook-timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for HookConfig {
    fn default() -> HookConfig {
        HookConfig {
            on_upload: None,
            before_commit: None,
            concurrency: default_concurrency(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl HookConfig {
    /// Whether any hook is configured (else no runner thread is started).
    pub fn any(&self) -> bool {
        self.on_upload.is_some() || self.before_commit.is_some()
    }
}

/// A hook's command: a program and its arguments. Parsed from the flag's
/// text by splitting on whitespace, with no shell and no quoting: what
/// needs a shell can name `/bin/sh` and a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookCommand {
    /// The program (a path, or a name looked up in `PATH`).
    pub program: PathBuf,
    /// Its arguments, as given.
    pub args: Vec<String>,
}

impl HookCommand {
    /// The command in `text`.
    ///
    /// # Errors
    /// `text` has no program (empty or only whitespace).
    pub fn parse(text: &str) -> Result<HookCommand, String> {
        let mut words = text.split_whitespace();
        let program = words
            .next()
            .ok_or_else(|| "a hook needs a program to run".to_owned())?;
        Ok(HookCommand {
            program: PathBuf::from(program),
            args: words.map(str::to_owned).collect(),
        })
    }
}

/// Which hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// `--before-commit`: the upload is complete but not yet in place.
    BeforeCommit,
    /// `--on-upload`: the upload is in place.
    Uploaded,
}

impl Event {
    /// `FERRY_EVENT`'s value, and the hook's name in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::BeforeCommit => "before-commit",
            Event::Uploaded => "on-upload",
        }
    }
}

/// What a hook is told about an upload.
#[derive(Debug, Clone)]
pub struct Facts {
    /// Which hook this is for.
    pub event: Event,
    /// The file's name under the root, as the protocol spells it decoded.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its CRC-32C.
    pub crc: u32,
    /// Where its bytes are now (absolute): the temp file before the
    /// commit, the file itself after.
    pub path: PathBuf,
    /// Where the file is (or will be) once committed (absolute).
    pub final_path: PathBuf,
    /// The authenticated name of the uploader; `None` without access
    /// control or without a token.
    pub user: Option<String>,
    /// The connection's client id (as in the log: `#<id>`).
    pub client: u64,
    /// The client's address.
    pub peer: IpAddr,
    /// The protocol it came by.
    pub protocol: Protocol,
    /// What its client said of it (tus's `Upload-Metadata`), as
    /// `FERRY_META_<KEY>` variables.
    pub meta: Vec<(String, OsString)>,
}

impl Facts {
    /// The environment variables a hook gets, all named `FERRY_*`:
    ///
    /// ```text
    /// FERRY_EVENT       before-commit | on-upload
    /// FERRY_NAME        the file's name under the root (decoded UTF-8)
    /// FERRY_SIZE        its size in bytes (decimal)
    /// FERRY_CRC32C      its CRC-32C, 8 lowercase hex digits
    /// FERRY_PATH        where its bytes are now (absolute; the temp file
    ///                   before the commit)
    /// FERRY_FINAL_PATH  where the file is once committed (absolute)
    /// FERRY_USER        the token's name; empty without one
    /// FERRY_CLIENT      the client id, as the log's #<id>
    /// FERRY_PEER        the client's IP address
    /// FERRY_PROTOCOL    ferry | http
    /// FERRY_META_<KEY>  each key of the upload's metadata (a tus upload's
    ///                   Upload-Metadata), decoded; see upload_metadata.rs
    /// ```
    pub fn vars(&self) -> Vec<(Cow<'static, str>, OsString)> {
        let protocol = self.protocol.name();
        let own: [(&'static str, OsString); 10] = [
            ("FERRY_EVENT", self.event.as_str().into()),
            ("FERRY_NAME", self.name.clone().into()),
            ("FERRY_SIZE", self.size.to_string().into()),
            ("FERRY_CRC32C", format!("{:08x}", self.crc).into()),
            ("FERRY_PATH", self.path.clone().into_os_string()),
            ("FERRY_FINAL_PATH", self.final_path.clone().into_os_string()),
            ("FERRY_USER", self.user.clone().unwrap_or_default().into()),
            ("FERRY_CLIENT", self.client.to_string().into()),
            ("FERRY_PEER", self.peer.to_string().into()),
            ("FERRY_PROTOCOL", protocol.into()),
        ];
        let own = own
            .into_iter()
            .map(|(key, value)| (Cow::Borrowed(key), value));
        let meta = self
            .meta
            .iter()
            .map(|(key, value)| (Cow::Owned(key.clone()), value.clone()));
        own.chain(meta).collect()
    }
}

/// What a before-commit hook said.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It exited 0: commit.
    Accept,
    /// It exited non-zero, was killed by a signal or timed out: refuse.
    Refuse(String),
    /// It could not be started: refuse (the server is misconfigured).
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upload's facts, for the tests here and in `child.rs`.
    pub(super) fn facts() -> Facts {
        Facts {
            event: Event::BeforeCommit,
            name: "a b/$(x).txt".into(),
            size: 7,
            crc: 0xab,
            path: "/r/.ferry-tmp-1".into(),
            final_path: "/r/a b/$(x).txt".into(),
            user: None,
            client: 3,
            peer: IpAddr::from([127, 0, 0, 1]),
            protocol: Protocol::Http,
            meta: vec![("FERRY_META_FILETYPE".into(), "image/png".into())],
        }
    }

    #[test]
    fn a_command_is_split_on_whitespace_and_never_empty() {
        let command = HookCommand::parse("  /usr/bin/scan --quiet\t-x  ").unwrap();
        assert_eq!(command.program, PathBuf::from("/usr/bin/scan"));
        assert_eq!(command.args, ["--quiet", "-x"]);
        assert!(HookCommand::parse(" \t ").is_err());
    }

    #[test]
    fn the_variables_are_the_documented_ones() {
        let vars = facts().vars();
        let get = |key: &str| {
            vars.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
                .unwrap()
        };
        assert_eq!(get("FERRY_CRC32C"), "000000ab");
        assert_eq!(get("FERRY_NAME"), "a b/$(x).txt");
        assert_eq!(get("FERRY_USER"), "");
        assert_eq!(get("FERRY_PROTOCOL"), "http");
        assert_eq!(get("FERRY_EVENT"), "before-commit");
        assert_eq!(get("FERRY_META_FILETYPE"), "image/png");
        assert_eq!(vars.len(), 11);
        assert!(vars.iter().all(|(k, _)| k.starts_with("FERRY_")));
    }
}
