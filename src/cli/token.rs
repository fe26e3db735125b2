//! `ferry token add|quota|key|list|rm`: the tokens file, edited from the
//! command line. A new token is printed once, on stdout; the file keeps only its
//! digest (format: [`crate::access::tokens`]). With `--s3` it also makes
//! an S3 key pair, printed as `AWS_ACCESS_KEY_ID=...` and
//! `AWS_SECRET_ACCESS_KEY=...` lines (`eval "$(ferry token add ... --s3)"`
//! sets them), whose secret the file keeps whole (SigV4 needs it; see
//! docs/s3.md). `--ssh-key` (on `add`, and `token key add|rm` later)
//! registers SSH public keys that log in over SFTP as the token; `list`
//! shows their `SHA256:` fingerprints. The file is replaced whole
//! (written aside, then renamed), mode 0600, so a server re-reading it on
//! SIGHUP never sees half a file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::Failure;
use super::lines::{print_line, to_stderr};
use super::serve::parse_grant;
use super::token_file::{read, write};
use crate::access::quota::Quota;
use crate::access::tokens::{Entry, S3Key, TokensFile, check_token_name, digest, new_token};
use crate::access::{Grant, Grants};

/// `ferry token ...`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// What to do with the tokens file.
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Make a token: prints it once; the file keeps only its digest.
    Add {
        /// Who holds it (letters, digits, '.', '_', '-', '@'), for logs
        /// and `ferry token rm`.
        name: String,
        /// The tokens file (created if missing).
        #[arg(long, value_name = "FILE")]
        tokens: PathBuf,
        /// What it may do, as <perm>:<folder>: perm read, write or delete;
        /// folder such as `sensors/`, or `/` for everything. Repeatable.
        #[arg(long, value_name = "GRANT", required = true, value_parser = parse_grant)]
        grant: Vec<Grant>,
        /// Also make an S3 key pair (for `ferry serve --s3`), printed as
        /// shell assignments of AWS_ACCESS_KEY_ID and
        /// AWS_SECRET_ACCESS_KEY; the file keeps the secret (docs/s3.md).
        #[arg(long)]
        s3: bool,
        /// How much its uploads may hold, e.g. 10G (see `token quota`).
        #[command(flatten)]
        quota: QuotaArgs,
        /// An SSH public key that logs in as this token over SFTP: a .pub
        /// file, or its line (`ssh-ed25519 AAAA...`). ed25519 keys only.
        /// Repeatable; see `token key`.
        #[cfg(feature = "sftp")]
        #[arg(long, value_name = "KEY", value_parser = super::token_keys::parse_ssh_key)]
        ssh_key: Vec<crate::access::ssh_keys::SshKey>,
    },
    /// Add or remove the SSH public keys of an existing token.
    #[cfg(feature = "sftp")]
    Key {
        #[command(subcommand)]
        action: super::token_keys::KeyAction,
    },
    /// Set or lift the quota of an existing token: how many bytes and
    /// files its uploads may hold, counted by the server (docs/quotas.md).
    Quota {
        /// The token's name.
        name: String,
        /// The tokens file.
        #[arg(long, value_name = "FILE")]
        tokens: PathBuf,
        /// The limits; with neither, the token is no longer limited.
        #[command(flatten)]
        quota: QuotaArgs,
    },
    /// List the tokens by name, with their S3 access key ids, SSH keys'
    /// fingerprints and grants (never the tokens or the secrets).
    List {
        /// The tokens file.
        #[arg(long, value_name = "FILE")]
        tokens: PathBuf,
    },
    /// Remove a token; a server stops accepting it on its next SIGHUP.
    Rm {
        /// The token's name.
        name: String,
        /// The tokens file.
        #[arg(long, value_name = "FILE")]
        tokens: PathBuf,
    },
}

/// A token's quota as `token add` and `token quota` take it.
#[derive(Debug, Args)]
struct QuotaArgs {
    /// At most this many bytes of uploads (`512M`, `10G`, `1T`).
    #[arg(long, value_name = "BYTES", value_parser = super::parse_size)]
    quota_bytes: Option<u64>,
    /// At most this many files.
    #[arg(long, value_name = "N")]
    quota_files: Option<u64>,
}

impl QuotaArgs {
    /// The quota asked for; `None` for neither limit.
    fn quota(&self) -> Option<Quota> {
        let quota = Quota {
            bytes: self.quota_bytes,
            files: self.quota_files,
        };
        (quota.bytes.is_some() || quota.files.is_some()).then_some(quota)
    }
}

/// Runs `ferry token ...`.
///
/// # Errors
/// The file cannot be read or written, is malformed, or the name is taken
/// (add) or unknown (rm).
pub fn run(args: TokenArgs) -> Result<(), Failure> {
    match args.action {
        Action::Add {
            name,
            tokens,
            grant,
            s3,
            quota,
            #[cfg(feature = "sftp")]
            ssh_key,
        } => {
            let entry = Entry {
                name,
                digest: [0; 32],
                s3: None,
                quota: quota.quota(),
                #[cfg(feature = "sftp")]
                ssh_keys: ssh_key,
                #[cfg(not(feature = "sftp"))]
                ssh_keys: Vec::new(),
                grants: Grants::new(grant),
            };
            add(&tokens, entry, s3)
        }
        #[cfg(feature = "sftp")]
        Action::Key { action } => super::token_keys::keys(action),
        Action::Quota {
            name,
            tokens,
            quota,
        } => set_quota(&tokens, &name, quota.quota()),
        Action::List { tokens } => {
            let file = read(&tokens)?;
            for entry in &file.entries {
                let grants: Vec<String> = entry.grants.iter().map(Grant::to_string).collect();
                // An S3 key by its access key id, never its secret.
                let key = entry.s3.as_ref().map(|key| format!(" s3:{}", key.id));
                let key = key.unwrap_or_default();
                let quota = entry.quota.map(|quota| format!(" quota:{quota}"));
                let quota = quota.unwrap_or_default();
                let ssh: String = entry
                    .ssh_keys
                    .iter()
                    .map(|key| format!(" ssh:{}", key.fingerprint()))
                    .collect();
                let line = format!("{}{key}{quota}{ssh} {}", entry.name, grants.join(" "));
                print_line(&line);
            }
            Ok(())
        }
        Action::Rm { name, tokens } => {
            let mut file = read(&tokens)?;
            let before = file.entries.len();
            file.entries.retain(|entry| entry.name != name);
            if file.entries.len() == before {
                return Err(Failure::explained(
                    tokens.display().to_string(),
                    1,
                    format!("no token named {name}"),
                ));
            }
            write(&tokens, &file)?;
            to_stderr(&format!("removed {name}; send the server SIGHUP to apply"));
            Ok(())
        }
    }
}

/// Adds `entry` (its digest and S3 key made here) to the file.
fn add(path: &Path, mut entry: Entry, s3: bool) -> Result<(), Failure> {
    let name = entry.name.clone();
    check_token_name(&name).map_err(|err| Failure::usage("token add", err))?;
    let mut file = match fs::metadata(path) {
        Ok(_) => read(path)?,
        Err(err) if err.kind() == io::ErrorKind::NotFound => TokensFile::default(),
        Err(err) => return Err(Failure::local(path, err)),
    };
    if file.entries.iter().any(|entry| entry.name == name) {
        return Err(Failure::usage(
            "token add",
            format!("{name} exists already (ferry token rm {name} first)"),
        ));
    }
    #[cfg(feature = "sftp")]
    super::token_keys::check_keys_free(&file, &entry.ssh_keys, "token add")?;
    let token = new_token().map_err(|err| Failure::local(path, err))?;
    let key = match s3 {
        true => Some(S3Key::new().map_err(|err| Failure::local(path, err))?),
        false => None,
    };
    entry.digest = digest(&token);
    entry.s3 = key.clone();
    entry.ssh_keys.dedup();
    file.entries.push(entry);
    write(path, &file)?;
    // Shell assignments, one shape with an S3 key or without, so that
    // `eval "$(ferry token add ...)"` works either way: FERRY_TOKEN is
    // what the client reads.
    print_line(&format!("FERRY_TOKEN={token}"));
    let Some(key) = key else {
        to_stderr(&format!(
            "added {name}: its token is above, shown only now; \
             send the server SIGHUP to apply"
        ));
        return Ok(());
    };
    print_line(&format!("AWS_ACCESS_KEY_ID={}", key.id));
    print_line(&format!("AWS_SECRET_ACCESS_KEY={}", key.secret));
    to_stderr(&format!(
        "added {name}: its token and S3 key are above; the token is shown \
         only now, the S3 secret is kept in {} (SigV4 needs it); send the \
         server SIGHUP to apply",
        path.display()
    ));
    Ok(())
}

/// Sets (or with `None` lifts) token `name`'s quota.
fn set_quota(path: &Path, name: &str, quota: Option<Quota>) -> Result<(), Failure> {
    let mut file = read(path)?;
    let Some(entry) = file.entries.iter_mut().find(|entry| entry.name == name) else {
        return Err(Failure::explained(
            path.display().to_string(),
            1,
            format!("no token named {name}"),
        ));
    };
    entry.quota = quota;
    write(path, &file)?;
    let now = quota.map_or_else(|| "no quota".to_owned(), |quota| format!("quota {quota}"));
    to_stderr(&format!(
        "{name} has {now}; send the server SIGHUP to apply"
    ));
    Ok(())
}
