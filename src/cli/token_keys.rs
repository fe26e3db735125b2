//! `ferry token key add|rm` and `ferry token add --ssh-key`: the SSH
//! public keys that log in as a token over SFTP, in the tokens file (the
//! `sftp` feature: a build without SFTP has no use for them, and keeps
//! the keys a file holds as it found them).

use std::fs;
use std::path::PathBuf;

use clap::Subcommand;

use super::Failure;
use super::lines::to_stderr;
use super::token_file::{read, write};
use crate::access::ssh_keys::SshKey;
use crate::access::tokens::TokensFile;

/// `ferry token key ...`.
#[derive(Debug, Subcommand)]
pub(super) enum KeyAction {
    /// Let SSH public keys log in as the token over SFTP.
    Add {
        /// The token's name.
        name: String,
        /// A .pub file, or its line (`ssh-ed25519 AAAA...`); ed25519 only.
        #[arg(required = true, value_name = "KEY", value_parser = parse_ssh_key)]
        keys: Vec<SshKey>,
        /// The tokens file.
        #[arg(long, value_name = "FILE")]
        tokens: PathBuf,
    },
    /// Stop an SSH key logging in as the token.
    #[command(alias = "remove")]
    Rm {
        /// The token's name.
        name: String,
        /// The key: its fingerprint (`SHA256:...`, as `token list` shows
        /// it), its line, or its .pub file.
        key: String,
        /// The tokens file.
        #[arg(long, value_name = "FILE")]
        tokens: PathBuf,
    },
}

/// `KEY` as `--ssh-key` and `token key add` take it: an OpenSSH public
/// key's line, or a file holding one (a `.pub` file; its first line that
/// is not a comment).
///
/// # Errors
/// The file cannot be read, or what it holds is not a key ferry takes
/// (said why: `SshKey::parse_line`).
pub(super) fn parse_ssh_key(arg: &str) -> Result<SshKey, String> {
    if arg.trim_start().starts_with("ssh-") || arg.contains(char::is_whitespace) {
        return SshKey::parse_line(arg);
    }
    let text = fs::read_to_string(arg)
        .map_err(|err| format!("{arg}: not a key line, nor a key file that can be read: {err}"))?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .unwrap_or_default();
    SshKey::parse_line(line).map_err(|err| format!("{arg}: {err}"))
}

/// Refuses keys already on a token (`keys` may name one twice: that is
/// the same key, kept once): a key logs in as one token.
pub(super) fn check_keys_free(
    file: &TokensFile,
    keys: &[SshKey],
    command: &str,
) -> Result<(), Failure> {
    for key in keys {
        if let Some(holder) = file.entries.iter().find(|e| e.ssh_keys.contains(key)) {
            return Err(Failure::usage(
                command,
                format!(
                    "the SSH key {} is on {} already (a key logs in as one token)",
                    key.fingerprint(),
                    holder.name
                ),
            ));
        }
    }
    Ok(())
}

/// Runs `ferry token key add|rm`.
pub(super) fn keys(action: KeyAction) -> Result<(), Failure> {
    let (name, path) = match &action {
        KeyAction::Add { name, tokens, .. } | KeyAction::Rm { name, tokens, .. } => (name, tokens),
    };
    let mut file = read(path)?;
    let unknown = || {
        Failure::explained(
            path.display().to_string(),
            1,
            format!("no token named {name}"),
        )
    };
    if !file.entries.iter().any(|entry| &entry.name == name) {
        return Err(unknown());
    }
    let said = match &action {
        KeyAction::Add { keys, .. } => {
            let new: Vec<SshKey> = keys
                .iter()
                .filter(|key| {
                    !file
                        .entries
                        .iter()
                        .any(|e| &e.name == name && e.ssh_keys.contains(key))
                })
                .copied()
                .collect();
            check_keys_free(&file, &new, "token key add")?;
            let entry = file
                .entries
                .iter_mut()
                .find(|e| &e.name == name)
                .ok_or_else(unknown)?;
            for key in new {
                if !entry.ssh_keys.contains(&key) {
                    entry.ssh_keys.push(key);
                }
            }
            format!("{name} has {} SSH keys", entry.ssh_keys.len())
        }
        KeyAction::Rm { key, .. } => {
            let entry = file
                .entries
                .iter_mut()
                .find(|e| &e.name == name)
                .ok_or_else(unknown)?;
            let from_file = parse_ssh_key(key).ok();
            let before = entry.ssh_keys.len();
            entry
                .ssh_keys
                .retain(|k| !k.is_named_by(key) && Some(*k) != from_file);
            if entry.ssh_keys.len() == before {
                return Err(Failure::explained(
                    path.display().to_string(),
                    1,
                    format!(
                        "{name} has no SSH key {key} (`ferry token list` shows their fingerprints)"
                    ),
                ));
            }
            format!("removed the key from {name}")
        }
    };
    write(path, &file)?;
    to_stderr(&format!("{said}; send the server SIGHUP to apply"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOFO5Ym6DSh30pR1+RUa5Umh4n2+yU/ruLRop0x/yv+d alice@laptop";

    #[test]
    fn a_key_is_its_line_or_a_file_that_holds_it_and_garbage_is_told() {
        let key = parse_ssh_key(LINE).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("id_ed25519.pub");
        fs::write(&file, format!("# mine\n\n{LINE}\n")).unwrap();
        assert_eq!(parse_ssh_key(file.to_str().unwrap()).unwrap(), key);

        let private = dir.path().join("id_ed25519");
        fs::write(&private, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n").unwrap();
        let err = parse_ssh_key(private.to_str().unwrap()).unwrap_err();
        assert!(err.contains("private key"), "{err}");
        let missing = dir.path().join("missing.pub");
        let err = parse_ssh_key(missing.to_str().unwrap()).unwrap_err();
        assert!(err.contains("nor a key file"), "{err}");
        let err = parse_ssh_key("ssh-rsa AAAAB3NzaC1yc2E= bob").unwrap_err();
        assert!(err.contains("ed25519"), "{err}");
        let err = parse_ssh_key("ssh-ed25519 garbage!").unwrap_err();
        assert!(err.contains("not base64"), "{err}");
    }
}
