//! OpenSSH's own clients (`sftp`, `scp`, `ssh`) against a test server's
//! SFTP listener: host keys accepted and forgotten, no key of the machine's
//! tried, a password (a token) given through `SSH_ASKPASS`, and each run
//! bounded by `timeout`, so a session that never ends fails its test.

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
    _dir: tempfile::TempDir,
}

impl Login {
    /// Logs in with no password (an open server lets anyone in).
    pub fn open(addr: SocketAddr) -> Login {
        Login {
            addr,
            askpass: None,
            _dir: tempfile::tempdir().unwrap(),
        }
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
            .args(["-o", "PubkeyAuthentication=no"])
            .args(["-o", "NumberOfPasswordPrompts=1"])
            .args(["-F", "/dev/null"])
            .stdin(Stdio::piped());
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
        command.arg(format!("tester@{}", self.addr.ip()));
        run_with_input(command, commands)
    }

    /// Runs `sftp -b -` (stops at the first failed command, and fails).
    pub fn sftp_batch(&self, commands: &str) -> Output {
        let mut command = self.command("sftp", "-P");
        command
            .args(["-b", "-"])
            .arg(format!("tester@{}", self.addr.ip()));
        run_with_input(command, commands)
    }

    /// Runs `scp` (SFTP mode) from `remote` to `local`.
    pub fn scp_get(&self, remote: &str, local: &Path) -> Output {
        let mut command = self.command("scp", "-P");
        command
            .arg(format!("tester@{}:{remote}", self.addr.ip()))
            .arg(local);
        run_with_input(command, "")
    }

    /// Runs `ssh` with `args` (a command, say).
    pub fn ssh(&self, args: &[&str]) -> Output {
        let mut command = self.command("ssh", "-p");
        command.arg(format!("tester@{}", self.addr.ip())).args(args);
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
