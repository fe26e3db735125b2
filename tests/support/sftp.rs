//! OpenSSH's own clients (`sftp`, `scp`, `ssh`) against a test server's
//! SFTP listener: host keys accepted and forgotten, no key of the machine's
//! tried, a password (a token) given through `SSH_ASKPASS` or keys made
//! for the test (`make_key`) offered in order, and each run bounded by
//! `timeout`, so a session that never ends fails its test.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::PATIENCE;

/// Whether OpenSSH's clients are here; says why not.
pub fn have_openssh() -> bool {
    super::tools::have("ssh", &["-V"], "apt-get install openssh-client")
        && super::tools::have("timeout", &["--version"], "coreutils")
}

/// How the clients log in to one server.
pub struct Login {
    addr: SocketAddr,
    /// The script that says the password, if one is given.
    askpass: Option<PathBuf>,
    /// Private keys offered, in this order (none: keys are not tried).
    keys: Vec<PathBuf>,
    /// The user name.
    user: String,
    _dir: tempfile::TempDir,
}

/// Makes an ed25519 key pair named `name` in `dir` (`ssh-keygen`, no
/// passphrase); the private key's path (the public one is beside it,
/// `.pub`).
pub fn make_key(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let output = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("ssh-keygen runs");
    assert!(output.status.success(), "{}", said(&output));
    path
}

/// The public key's line of the private key at `key` (its `.pub` file).
pub fn public_line(key: &Path) -> String {
    let mut public = key.as_os_str().to_owned();
    public.push(".pub");
    std::fs::read_to_string(public).unwrap().trim().to_owned()
}

impl Login {
    /// Logs in with no password (an open server lets anyone in).
    pub fn open(addr: SocketAddr) -> Login {
        Login {
            addr,
            askpass: None,
            keys: Vec::new(),
            user: "tester".into(),
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Logs in with the private keys `keys`, offered in this order (and
    /// no password).
    pub fn with_keys(addr: SocketAddr, keys: &[&Path]) -> Login {
        Login {
            keys: keys.iter().map(|key| key.to_path_buf()).collect(),
            ..Login::open(addr)
        }
    }

    /// The same login under the user name `user`.
    pub fn user(mut self, user: &str) -> Login {
        self.user = user.to_owned();
        self
    }

    /// Logs in with `password` (a token).
    pub fn with_password(addr: SocketAddr, password: &str) -> Login {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("askpass");
        std::fs::write(&script, format!("#!/bin/sh\necho '{password}'\n")).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        std::fs::set_permissions(&script, mode).unwrap();
        Login {
            addr,
            askpass: Some(script),
            keys: Vec::new(),
            user: "tester".into(),
            _dir: dir,
        }
    }

    /// `program` with the options every run takes.
    fn command(&self, program: &str, port_flag: &str) -> Command {
        let mut command = Command::new("timeout");
        command
            .arg(PATIENCE.as_secs().to_string())
            .arg(program)
            .args([port_flag, &self.addr.port().to_string()])
            .args(["-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null"])
            .args(["-o", "LogLevel=ERROR"])
            // Only the keys given, in their order; never an agent's.
            .args(["-o", "IdentitiesOnly=yes"])
            .env_remove("SSH_AUTH_SOCK")
            .args(["-o", "NumberOfPasswordPrompts=1"])
            .args(["-F", "/dev/null"])
            .stdin(Stdio::piped());
        match self.keys.is_empty() {
            true => command.args(["-o", "PubkeyAuthentication=no"]),
            false => command.args(["-o", "PubkeyAuthentication=yes"]),
        };
        for key in &self.keys {
            command.arg("-i").arg(key);
        }
        match &self.askpass {
            Some(script) => {
                command
                    .env("SSH_ASKPASS", script)
                    .env("SSH_ASKPASS_REQUIRE", "force")
                    .args(["-o", "BatchMode=no"]);
            }
            None => {
                command.args(["-o", "BatchMode=yes"]);
            }
        }
        command
    }

    /// Runs `sftp` with `commands` on its standard input (not `-b`, which
    /// would forbid a password); its output.
    pub fn sftp(&self, commands: &str) -> Output {
        let mut command = self.command("sftp", "-P");
        command.arg(format!("{}@{}", self.user, self.addr.ip()));
        run_with_input(command, commands)
    }

    /// Runs `sftp -b -` (stops at the first failed command, and fails).
    pub fn sftp_batch(&self, commands: &str) -> Output {
        let mut command = self.command("sftp", "-P");
        command
            .args(["-b", "-"])
            .arg(format!("{}@{}", self.user, self.addr.ip()));
        run_with_input(command, commands)
    }

    /// Runs `scp` (SFTP mode) from `remote` to `local`.
    pub fn scp_get(&self, remote: &str, local: &Path) -> Output {
        let mut command = self.command("scp", "-P");
        command
            .arg(format!("{}@{}:{remote}", self.user, self.addr.ip()))
            .arg(local);
        run_with_input(command, "")
    }

    /// Runs `ssh` with `args` (a command, say).
    pub fn ssh(&self, args: &[&str]) -> Output {
        let mut command = self.command("ssh", "-p");
        command
            .arg(format!("{}@{}", self.user, self.addr.ip()))
            .args(args);
        run_with_input(command, "")
    }
}

fn run_with_input(mut command: Command, input: &str) -> Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("the client runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(input.as_bytes());
    }
    let output = child.wait_with_output().expect("the client ends");
    assert_ne!(
        output.status.code(),
        Some(124),
        "the client hung: {output:?}"
    );
    output
}

/// `output`'s stdout and stderr, for messages.
pub fn said(output: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
