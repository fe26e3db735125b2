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

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `-o` options every OpenSSH run takes (also what sshfs passes
    /// on to the `ssh` it starts); no spaces in them, so a client that
    /// takes an ssh command as one line (restic's `sftp.command`) can
    /// have them joined.
    pub fn ssh_options(&self) -> Vec<String> {
        let batch = match self.askpass {
            Some(_) => "BatchMode=no",
            None => "BatchMode=yes",
        };
        let keys = match self.keys.is_empty() {
            true => "PubkeyAuthentication=no",
            false => "PubkeyAuthentication=yes",
        };
        let options = [
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "LogLevel=ERROR",
            // Only the keys given, in their order; never an agent's.
            "IdentitiesOnly=yes",
            keys,
            "NumberOfPasswordPrompts=1",
            batch,
        ];
        let options = options
            .iter()
            .flat_map(|option| ["-o".to_owned(), (*option).to_owned()]);
        let keys = self
            .keys
            .iter()
            .flat_map(|key| ["-o".to_owned(), format!("IdentityFile={}", key.display())]);
        options.chain(keys).collect()
    }

    /// Gives `command` (or the `ssh` it starts) the password, if any,
    /// and no agent's keys.
    pub fn give_password(&self, command: &mut Command) {
        command.env_remove("SSH_AUTH_SOCK");
        if let Some(script) = &self.askpass {
            command
                .env("SSH_ASKPASS", script)
                .env("SSH_ASKPASS_REQUIRE", "force");
        }
    }

    /// The `ssh` command line that starts the SFTP subsystem, as a
    /// client that runs its own `ssh` takes it (restic's `sftp.command`).
    pub fn sftp_command_line(&self) -> String {
        format!(
            "ssh -F /dev/null -p {} {} {}@{} -s sftp",
            self.addr.port(),
            self.ssh_options().join(" "),
            self.user,
            self.addr.ip()
        )
    }

    /// `program` with the options every run takes.
    fn command(&self, program: &str, port_flag: &str) -> Command {
        let mut command = Command::new("timeout");
        command
            .arg(PATIENCE.as_secs().to_string())
            .arg(program)
            .args([port_flag, &self.addr.port().to_string()])
            .args(self.ssh_options())
            .args(["-F", "/dev/null"])
            .stdin(Stdio::piped());
        self.give_password(&mut command);
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

    /// Runs `scp` (SFTP mode unless `args` say `-O`) from `remote` to
    /// `local`, with `args` before them.
    pub fn scp_get(&self, args: &[&str], remote: &str, local: &Path) -> Output {
        let mut command = self.command("scp", "-P");
        command
            .args(args)
            .arg(format!("{}@{}:{remote}", self.user, self.addr.ip()))
            .arg(local);
        run_with_input(command, "")
    }

    /// Runs `scp` (SFTP mode unless `args` say `-O`) from `local` to
    /// `remote`, with `args` before them.
    pub fn scp_put(&self, args: &[&str], local: &Path, remote: &str) -> Output {
        let mut command = self.command("scp", "-P");
        command
            .args(args)
            .arg(local)
            .arg(format!("{}@{}:{remote}", self.user, self.addr.ip()));
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

    /// An SFTP session spoken raw through `ssh -s sftp`, after its `INIT`.
    pub fn sftp_raw(&self) -> RawSftp {
        let mut raw = self.sftp_begun();
        raw.version();
        raw
    }

    /// `ssh -s sftp` started and its `INIT` sent, its `VERSION` not read
    /// yet (several begun side by side log in side by side).
    fn sftp_begun(&self) -> RawSftp {
        let mut command = self.command("ssh", "-p");
        command
            .arg(format!("{}@{}", self.user, self.addr.ip()))
            .args(["-s", "sftp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("ssh runs");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let mut raw = RawSftp {
            child,
            stdin,
            stdout,
        };
        raw.send(&[0, 0, 0, 5, 1, 0, 0, 0, 3]);
        raw
    }
}

/// The SFTP stream itself through `ssh -s sftp` (bounded by `timeout`,
/// as every run), for a test that writes packets no client would.
pub struct RawSftp {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::process::ChildStdout,
}

impl RawSftp {
    /// Reads the `VERSION` that answers the `INIT`.
    fn version(&mut self) {
        let version = self.packet();
        assert_eq!(version.first(), Some(&2), "VERSION: {version:?}");
    }

    /// Writes `bytes` to the stream (ignoring a stream already cut).
    pub fn send(&mut self, bytes: &[u8]) {
        use std::io::Write;
        if let Some(stdin) = &mut self.stdin {
            let _ = stdin.write_all(bytes).and_then(|()| stdin.flush());
        }
    }

    /// The next packet's type and fields (its length taken off).
    pub fn packet(&mut self) -> Vec<u8> {
        use std::io::Read;
        let mut len = [0; 4];
        self.stdout.read_exact(&mut len).expect("a packet's length");
        let mut packet = vec![0; u32::from_be_bytes(len) as usize];
        self.stdout.read_exact(&mut packet).expect("a packet");
        packet
    }

    /// `STAT path`: the answer's type (105 `ATTRS`, 101 `STATUS`).
    pub fn stat(&mut self, path: &str) -> u8 {
        let mut packet = vec![17, 0, 0, 0, 9];
        packet.extend_from_slice(&(path.len() as u32).to_be_bytes());
        packet.extend_from_slice(path.as_bytes());
        let mut framed = (packet.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&packet);
        self.send(&framed);
        let answer = self.packet();
        assert_eq!(answer.get(1..5), Some(&[0, 0, 0, 9][..]), "{answer:?}");
        answer[0]
    }

    /// Waits for `ssh` to end, its standard input still open (`close`
    /// false: the server must end it), or after closing it; its output,
    /// after asserting that `timeout` did not have to stop it.
    pub fn end(mut self, close: bool) -> Output {
        if close {
            self.stdin = None;
        }
        let output = self.child.wait_with_output().expect("ssh ends");
        assert_ne!(output.status.code(), Some(124), "ssh hung: {output:?}");
        output
    }
}

/// SFTP's status codes (`SSH_FX_*`) a test names.
pub mod status {
    pub const OK: u32 = 0;
    pub const EOF: u32 = 1;
    pub const NO_SUCH_FILE: u32 = 2;
    pub const PERMISSION_DENIED: u32 = 3;
    pub const FAILURE: u32 = 4;
    pub const BAD_MESSAGE: u32 = 5;
    pub const OP_UNSUPPORTED: u32 = 8;
}

/// A `STATUS` answer: its code ([`status`]) and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: u32,
    pub message: String,
}

impl Status {
    pub fn ok(&self) -> bool {
        self.code == status::OK
    }
}

/// What a [`Client::put`] was answered: the `OPEN`'s status, each
/// `WRITE`'s and the `CLOSE`'s (none where the `OPEN` was refused).
#[derive(Debug, Clone)]
pub struct Put {
    pub open: Status,
    pub writes: Vec<Status>,
    pub close: Option<Status>,
}

impl Put {
    /// Whether the file was stored: every answer `OK`, the `CLOSE`'s too.
    pub fn stored(&self) -> bool {
        self.first_refusal().is_none() && self.close.is_some()
    }

    /// The first answer that was not `OK`, if any.
    pub fn first_refusal(&self) -> Option<&Status> {
        std::iter::once(&self.open)
            .chain(&self.writes)
            .chain(&self.close)
            .find(|status| !status.ok())
    }
}

/// A name's facts as `STAT` answers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub size: Option<u64>,
    pub folder: bool,
}

/// An SFTP client for tests over one `ssh -s sftp` session (bounded by
/// `timeout`, as every run: a session lives at most [`PATIENCE`]), with
/// the operations typed: each answers its `STATUS` (or its data), one
/// request at a time. Dropped, it closes the stream and waits for `ssh`.
pub struct Client {
    raw: Option<RawSftp>,
    next: u32,
    /// The `VERSION` is read (at the first request).
    versioned: bool,
}

/// `READ`s and `WRITE`s this long (OpenSSH's).
const CHUNK: usize = 32 << 10;

impl Login {
    /// A [`Client`] logging in as this login says: `ssh` started and the
    /// `INIT` sent, the `VERSION` read at its first request (so that a
    /// test's clients begun together log in side by side: a login costs
    /// `ssh`'s start and a key exchange, a request far less).
    pub fn client(&self) -> Client {
        Client {
            raw: Some(self.sftp_begun()),
            next: 0,
            versioned: false,
        }
    }
}

impl Client {
    /// Stores `bytes` as `path` whole: `OPEN` (`WRITE | CREAT | TRUNC`),
    /// its `WRITE`s, `CLOSE`, each one's answer (the `CLOSE` sent also
    /// after a refused `WRITE`, as a client would, to let the handle go).
    pub fn put(&mut self, path: &str, bytes: &[u8]) -> Put {
        const FLAGS: u32 = 0x02 | 0x08 | 0x10;
        let (open, handle) = self.open(path, FLAGS);
        let Some(handle) = handle else {
            return Put {
                open,
                writes: Vec::new(),
                close: None,
            };
        };
        let mut writes = Vec::new();
        for (k, piece) in bytes.chunks(CHUNK).enumerate() {
            let mut fields = string(&handle);
            fields.extend_from_slice(&((k * CHUNK) as u64).to_be_bytes());
            fields.extend(string(piece));
            let (kind, answer) = self.ask(6, &fields);
            let written = status_of((kind, &answer));
            let refused = !written.ok();
            writes.push(written);
            if refused {
                break;
            }
        }
        let close = Some(self.close(&handle));
        Put {
            open,
            writes,
            close,
        }
    }

    /// Reads `path` whole: `OPEN` (`READ`), `READ`s to its end, `CLOSE`;
    /// its bytes, or the first answer that was not `OK` (an `EOF` is the
    /// end).
    pub fn get(&mut self, path: &str) -> Result<Vec<u8>, Status> {
        let (open, handle) = self.open(path, 0x01);
        let handle = handle.ok_or(open)?;
        let mut bytes = Vec::new();
        let read = loop {
            let mut fields = string(&handle);
            fields.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            fields.extend_from_slice(&(CHUNK as u32).to_be_bytes());
            let (kind, answer) = self.ask(5, &fields);
            match kind {
                103 => bytes.extend_from_slice(&Fields(&answer).string()),
                _ => break status_of((kind, &answer)),
            }
        };
        let closed = self.close(&handle);
        match (read.code, closed.ok()) {
            (status::EOF, true) => Ok(bytes),
            (status::EOF, false) => Err(closed),
            _ => Err(read),
        }
    }

    /// `REMOVE path`.
    pub fn remove(&mut self, path: &str) -> Status {
        self.status(13, &string(path.as_bytes()))
    }

    /// `RENAME from to` (refused onto a name taken).
    pub fn rename(&mut self, from: &str, to: &str) -> Status {
        let mut fields = string(from.as_bytes());
        fields.extend(string(to.as_bytes()));
        self.status(18, &fields)
    }

    /// `posix-rename@openssh.com from to` (replaces a file there).
    pub fn posix_rename(&mut self, from: &str, to: &str) -> Status {
        let mut fields = string(b"posix-rename@openssh.com");
        fields.extend(string(from.as_bytes()));
        fields.extend(string(to.as_bytes()));
        self.status(200, &fields)
    }

    /// `MKDIR path`, no attributes.
    pub fn mkdir(&mut self, path: &str) -> Status {
        let mut fields = string(path.as_bytes());
        fields.extend_from_slice(&0u32.to_be_bytes());
        self.status(14, &fields)
    }

    /// `RMDIR path`.
    pub fn rmdir(&mut self, path: &str) -> Status {
        self.status(15, &string(path.as_bytes()))
    }

    /// `STAT path`: its size and kind, or the answer's status.
    pub fn stat(&mut self, path: &str) -> Result<Stat, Status> {
        let (kind, answer) = self.ask(17, &string(path.as_bytes()));
        match kind {
            105 => Ok(Fields(&answer).attrs()),
            _ => Err(status_of((kind, &answer))),
        }
    }

    /// The names in folder `path` (`OPENDIR`, `READDIR`s to the end,
    /// `CLOSE`), each with its facts, but `.` and `..`.
    pub fn list(&mut self, path: &str) -> Result<Vec<(String, Stat)>, Status> {
        let (kind, answer) = self.ask(11, &string(path.as_bytes()));
        if kind != 102 {
            return Err(status_of((kind, &answer)));
        }
        let handle = Fields(&answer).string();
        let mut names = Vec::new();
        let read = loop {
            let (kind, answer) = self.ask(12, &string(&handle));
            if kind != 104 {
                break status_of((kind, &answer));
            }
            let mut fields = Fields(&answer);
            for _ in 0..fields.u32() {
                let name = String::from_utf8(fields.string()).unwrap();
                let _long = fields.string();
                let stat = fields.attrs();
                if name != "." && name != ".." {
                    names.push((name, stat));
                }
            }
        };
        let closed = self.close(&handle);
        match (read.code, closed.ok()) {
            (status::EOF, true) => Ok(names),
            (status::EOF, false) => Err(closed),
            _ => Err(read),
        }
    }

    /// `OPEN path` with `flags` (no attributes): its status (`OK` for a
    /// handle) and the handle.
    fn open(&mut self, path: &str, flags: u32) -> (Status, Option<Vec<u8>>) {
        let mut fields = string(path.as_bytes());
        fields.extend_from_slice(&flags.to_be_bytes());
        fields.extend_from_slice(&0u32.to_be_bytes());
        let (kind, answer) = self.ask(3, &fields);
        match kind {
            102 => {
                let ok = Status {
                    code: status::OK,
                    message: String::new(),
                };
                (ok, Some(Fields(&answer).string()))
            }
            _ => (status_of((kind, &answer)), None),
        }
    }

    fn close(&mut self, handle: &[u8]) -> Status {
        self.status(4, &string(handle))
    }

    /// A request answered by a `STATUS`.
    fn status(&mut self, kind: u8, fields: &[u8]) -> Status {
        let (answered, answer) = self.ask(kind, fields);
        status_of((answered, &answer))
    }

    /// Sends request `kind` with `fields` after a new id; the answer's
    /// type and its fields after the id (which must be the request's).
    fn ask(&mut self, kind: u8, fields: &[u8]) -> (u8, Vec<u8>) {
        self.next = self.next.wrapping_add(1);
        let id = self.next;
        let len = 1 + 4 + fields.len();
        let mut packet = (len as u32).to_be_bytes().to_vec();
        packet.push(kind);
        packet.extend_from_slice(&id.to_be_bytes());
        packet.extend_from_slice(fields);
        let raw = self.raw.as_mut().unwrap();
        if !std::mem::replace(&mut self.versioned, true) {
            raw.version();
        }
        raw.send(&packet);
        let answer = raw.packet();
        assert!(answer.len() >= 5, "an answer: {answer:?}");
        assert_eq!(
            answer[1..5],
            id.to_be_bytes(),
            "the answer's id: {answer:?}"
        );
        (answer[0], answer[5..].to_vec())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            // Not `end`'s assertions: a drop in a failing test's unwind
            // must not panic again.
            drop(raw.stdin);
            let mut child = raw.child;
            let _ = child.wait();
        }
    }
}

/// `bytes` as an SFTP string (its length first).
fn string(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// An answer's fields, read in order (an answer too short fails the
/// test).
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        assert!(self.0.len() >= n, "a field of {n} bytes in {:?}", self.0);
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take(4).try_into().unwrap())
    }

    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take(8).try_into().unwrap())
    }

    fn string(&mut self) -> Vec<u8> {
        let len = self.u32() as usize;
        self.take(len).to_vec()
    }

    /// An `ATTRS` block: its size and whether it is a folder's
    /// (`S_IFDIR` in its permissions).
    fn attrs(&mut self) -> Stat {
        let flags = self.u32();
        let size = (flags & 0x1 != 0).then(|| self.u64());
        if flags & 0x2 != 0 {
            self.take(8);
        }
        let mode = if flags & 0x4 != 0 { self.u32() } else { 0 };
        if flags & 0x8 != 0 {
            self.take(8);
        }
        if flags & 0x8000_0000 != 0 {
            for _ in 0..self.u32() {
                self.string();
                self.string();
            }
        }
        Stat {
            size,
            folder: mode & 0o170_000 == 0o040_000,
        }
    }
}

/// The status of a `STATUS` answer (its type, its fields after its id).
fn status_of((kind, fields): (u8, &[u8])) -> Status {
    assert_eq!(kind, 101, "a STATUS: {fields:?}");
    let mut fields = Fields(fields);
    let code = fields.u32();
    let message = String::from_utf8_lossy(&fields.string()).into_owned();
    Status { code, message }
}

fn run_with_input(command: Command, input: &str) -> Output {
    run_with_bytes(command, input.as_bytes())
}

/// Runs `command` with `input` on its standard input; its output, after
/// asserting that `timeout` did not have to stop it.
pub fn run_with_bytes(mut command: Command, input: &[u8]) -> Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("the client runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(input);
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

/// Whether sshfs can mount here (the program, FUSE's `/dev/fuse`); says
/// why not.
pub fn have_sshfs() -> bool {
    if !super::tools::have("sshfs", &["--version"], "apt-get install sshfs") {
        return false;
    }
    let fuse = Path::new("/dev/fuse").exists();
    if !fuse {
        eprintln!("skipped: sshfs needs FUSE (/dev/fuse)");
    }
    fuse
}

/// An sshfs mount of a test server, unmounted when dropped, also when
/// its test panics: a mount left behind would trip the next run's
/// temporary folders.
pub struct Sshfs {
    point: tempfile::TempDir,
}

impl Sshfs {
    /// Mounts the root `login` reaches, with sshfs's defaults (its
    /// threads, its caches) as a user mounts it, and `extra` options.
    pub fn mount(login: &Login, extra: &[&str]) -> Sshfs {
        let point = tempfile::tempdir().unwrap();
        let mut command = Command::new("timeout");
        command
            .arg(PATIENCE.as_secs().to_string())
            .arg("sshfs")
            .args(["-p", &login.addr.port().to_string(), "-F", "/dev/null"])
            .args(login.ssh_options())
            .args(extra)
            .arg(format!("{}@{}:/", login.user, login.addr.ip()))
            .arg(point.path())
            .stdin(Stdio::null());
        login.give_password(&mut command);
        let output = command.output().expect("sshfs runs");
        assert!(output.status.success(), "sshfs: {}", said(&output));
        Sshfs { point }
    }

    /// `name` inside the mount.
    pub fn path(&self, name: &str) -> PathBuf {
        self.point.path().join(name)
    }

    /// Runs `program` with `args` inside the mount (its working folder),
    /// bounded; its output.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new("timeout")
            .arg(PATIENCE.as_secs().to_string())
            .arg(program)
            .args(args)
            .current_dir(self.point.path())
            .output()
            .expect("timeout runs")
    }
}

impl Drop for Sshfs {
    fn drop(&mut self) {
        let unmount = |args: &[&str]| {
            Command::new("fusermount")
                .args(args)
                .arg(self.point.path())
                .status()
                .is_ok_and(|status| status.success())
        };
        // A mount still busy (a test failed inside it) is let go lazily.
        if !unmount(&["-u"]) && !unmount(&["-uz"]) {
            eprintln!("could not unmount {}", self.point.path().display());
        }
    }
}
