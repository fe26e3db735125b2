//! The machinery of `tests/crash/states.rs`: a commit path run once on a
//! recording mount ([`Run`], [`record`]), then each of its crash states
//! written out, a server started on it and the promises checked
//! ([`check_path`]). Included by that test with `#[path]`, not by the
//! simulator's module (the `powercut` example has no test support).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::powercut::Simulator;
use crate::powercut::record::Event;
use crate::powercut::states::{self, CrashState, Image};
use crate::support::{self, Raw, crc_hex};

/// The tus protocol's version field.
pub const TUS: &str = "Tus-Resumable: 1.0.0\r\n";

/// `PUT <name> <size>` and its body on a FERRY/1 connection: the answer.
pub fn ferry_put_on(ferry: &mut Raw, name: &str, data: &[u8]) -> String {
    ferry.send(format!("PUT {name} {} {}\n", data.len(), crc_hex(data)));
    ferry.send(data);
    ferry.line()
}

/// The visible files (name → bytes): what a client can see.
pub type Files = BTreeMap<String, Vec<u8>>;

/// What an acknowledgement promises from then on: these files, and what
/// the restarted server must still say (a session's bytes, a lock).
#[derive(Debug, Clone)]
pub struct Step {
    files: Files,
    probe: Option<Probe>,
    /// The operation that led here changes its files one at a time (a
    /// folder's COPY or DELETE: not atomic, RFC 4918 9.8.8, 9.6.1): until
    /// it is acknowledged, any mix of its files as before and as after
    /// is a state it may leave, each file whole.
    piecewise: bool,
}

/// What a restarted server is asked, beyond the files.
#[derive(Debug, Clone)]
pub enum Probe {
    /// FERRY/1 `UPLOAD` of `data` as `name` finds at least `at_least`
    /// bytes staged.
    Session {
        name: String,
        data: Vec<u8>,
        at_least: u64,
    },
    /// A tus upload's `HEAD` says at least `at_least` bytes arrived (or,
    /// where none were acknowledged, it may be gone).
    Tus { url: String, at_least: u64 },
    /// A WebDAV `PUT` to `target` without the lock's token is refused.
    Locked { target: String },
    /// An S3 multipart upload's ListParts (`url`) lists `count` parts
    /// (or, where none were acknowledged, the upload may be gone).
    Parts { url: String, count: usize },
}

/// A commit path: sets up what it replaces, calls [`Run::begin`], then
/// acts and says after each acknowledgement what holds from then on.
pub type CommitPath = fn(&mut Run);

/// One commit path being recorded: the server on the mount, and the
/// steps its client was told of.
pub struct Run<'a> {
    sim: &'a Simulator,
    server: support::process::Process,
    files: Files,
    initial: Option<Image>,
    /// Step 0 is the state when the recording began; step j + 1 holds
    /// from the event count `marks[j]` on.
    steps: Vec<Step>,
    marks: Vec<usize>,
}

impl Run<'_> {
    /// A FERRY/1 connection, its greeting read.
    pub fn ferry(&self) -> Raw {
        let mut raw = Raw::connect(self.server.addr);
        assert!(raw.line().starts_with("OK FERRY/1 "));
        raw
    }

    /// An HTTP request with a body: the status.
    pub fn http(&self, method: &str, target: &str, body: &[u8]) -> u16 {
        self.exchange(method, target, "Host: localhost\r\n", body)
            .status
    }

    /// An unsigned S3 request: the answer.
    pub fn s3(&self, method: &str, target: &str, body: &[u8]) -> support::http::Answer {
        self.s3_with(method, target, "", body)
    }

    /// As [`Run::s3`], with more header lines (each ending in CRLF).
    pub fn s3_with(
        &self,
        method: &str,
        target: &str,
        headers: &str,
        body: &[u8],
    ) -> support::http::Answer {
        let headers = format!("Host: localhost\r\n{headers}");
        support::http::exchange(self.server.s3_addr(), method, target, &headers, body)
    }

    /// An HTTP request with these header lines and body: the answer.
    pub fn exchange(
        &self,
        method: &str,
        target: &str,
        headers: &str,
        body: &[u8],
    ) -> support::http::Answer {
        let addr = self.server.http_addr();
        support::http::exchange(addr, method, target, headers, body)
    }

    /// Before [`Run::begin`]: stores a file the path starts from.
    pub fn put(&mut self, name: &str, data: &[u8]) {
        assert!(self.initial.is_none(), "put before begin");
        assert!(ferry_put_on(&mut self.ferry(), name, data).starts_with("OK "));
        self.files.insert(name.to_owned(), data.to_vec());
    }

    /// The path begins: what is stored now counts as durable (as after a
    /// `sync`), and every call from now on is recorded.
    pub fn begin(&mut self) {
        self.initial = Some(self.sim.record().expect("record the backing folder"));
        self.steps.push(Step {
            files: self.files.clone(),
            probe: None,
            piecewise: false,
        });
    }

    /// An operation on `name` was acknowledged: it now holds `data`, or
    /// nothing.
    pub fn acked(&mut self, name: &str, data: Option<Vec<u8>>) {
        self.changed(&[(name, data)]);
    }

    /// An operation was acknowledged that changed these names.
    pub fn changed(&mut self, changes: &[(&str, Option<Vec<u8>>)]) {
        for (name, data) in changes {
            match data {
                Some(data) => self.files.insert((*name).to_owned(), data.clone()),
                None => self.files.remove(*name),
            };
        }
        self.step(None);
    }

    /// As [`Run::changed`], for an operation that changes its files one
    /// at a time (see [`Step`]'s `piecewise`).
    pub fn changed_piecewise(&mut self, changes: &[(&str, Option<Vec<u8>>)]) {
        self.changed(changes);
        if let Some(step) = self.steps.last_mut() {
            step.piecewise = true;
        }
    }

    /// A session step was acknowledged: the session of `data` for `name`
    /// holds at least `at_least` bytes.
    pub fn acked_session(&mut self, name: &str, data: &[u8], at_least: u64) {
        self.step(Some(Probe::Session {
            name: name.to_owned(),
            data: data.to_vec(),
            at_least,
        }));
    }

    /// Something was acknowledged that `probe` must find after a restart
    /// (the files unchanged).
    pub fn acked_probe(&mut self, probe: Probe) {
        self.step(Some(probe));
    }

    fn step(&mut self, probe: Option<Probe>) {
        assert!(self.initial.is_some(), "acknowledged before begin");
        self.marks.push(self.sim.mark());
        self.steps.push(Step {
            files: self.files.clone(),
            probe,
            piecewise: false,
        });
    }
}

/// A commit path as recorded: where it began, what it did, what it
/// promised.
pub struct Recorded {
    initial: Image,
    events: Vec<Event>,
    steps: Vec<Step>,
    marks: Vec<usize>,
}

/// Runs `path` once on a fresh recording mount with `--fsync`.
pub fn record(path: CommitPath) -> Recorded {
    let dir = tempfile::tempdir().unwrap();
    let (mount, backing) = (dir.path().join("mount"), dir.path().join("backing"));
    std::fs::create_dir(&mount).unwrap();
    std::fs::create_dir(&backing).unwrap();
    let sim = Simulator::mount(&mount, &backing, None).expect("mount the simulator");
    let args = server_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = support::process::Process::start(&mount.join("root"), &args);
    server.wait_for_log("start-up sweep done");
    let mut run = Run {
        sim: &sim,
        server,
        files: Files::new(),
        initial: None,
        steps: Vec::new(),
        marks: Vec::new(),
    };
    path(&mut run);
    let events = sim.events();
    let Run {
        mut server,
        initial,
        steps,
        marks,
        ..
    } = run;
    server.signal(rustix::process::Signal::KILL);
    server.wait();
    sim.stop().unwrap();
    Recorded {
        initial: initial.expect("the path called begin"),
        events,
        steps,
        marks,
    }
}

/// The server's options but `--listen` and `--root`: every listener,
/// `--fsync`, and anonymous access to everything (an empty tokens file in
/// `dir`, as S3 needs access control to serve at all).
pub fn server_args(dir: &Path) -> Vec<String> {
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, "").expect("write the tokens file");
    let mut args: Vec<String> = ["--http", "127.0.0.1:0", "--s3", "127.0.0.1:0", "--fsync"]
        .map(String::from)
        .into();
    args.extend(["--tokens".into(), tokens.display().to_string()]);
    for grant in ["read:/", "write:/", "delete:/"] {
        args.extend(["--anonymous".into(), grant.into()]);
    }
    args
}

/// A server started on a crash state, until dropped.
pub struct Server {
    child: Child,
    ferry: SocketAddr,
    http: SocketAddr,
    s3: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long a server may take to start and sweep (a bound on a hang,
/// not a measure of speed).
pub const START_PATIENCE: Duration = Duration::from_secs(30);

/// Starts `ferry serve --fsync` on `root` and waits for its start-up
/// sweep; `Err` with its log if it exits or hangs first.
pub fn start(root: &Path) -> Result<Server, String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    let dir = root.parent().unwrap_or(root);
    let mut args = vec!["--listen".to_owned(), "127.0.0.1:0".to_owned()];
    args.extend(server_args(dir));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    support::process::serve_args(&mut command, root, &args);
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let stderr = child.stderr.take().expect("piped");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
    let mut server = Server {
        child,
        ferry: unknown,
        http: unknown,
        s3: unknown,
    };
    let (mut log, mut swept) = (Vec::new(), false);
    let deadline = Instant::now() + START_PATIENCE;
    while server.ferry.port() == 0 || !swept {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines.recv_timeout(left) else {
            return Err(format!("the server did not start: {}", log.join(" | ")));
        };
        if let Some(rest) = line.split(" on 127.0.0.1:").nth(1) {
            let port = rest.split([',', ' ']).next().unwrap_or_default();
            server.ferry = format!("127.0.0.1:{port}")
                .parse()
                .map_err(|_| line.clone())?;
            let after = |what: &str| -> Result<SocketAddr, String> {
                let addr = line.split(what).nth(1).and_then(|r| r.split(')').next());
                addr.and_then(|a| a.parse().ok())
                    .ok_or_else(|| line.clone())
            };
            server.http = after("(HTTP on ")?;
            server.s3 = after("(S3 on ")?;
        }
        swept |= line.contains("start-up sweep done");
        log.push(line);
    }
    Ok(server)
}

/// Every visible file under `root`: names beginning `.ferry` (the
/// server's own folders, temp files) left out.
pub fn visible(root: &Path) -> Files {
    let mut files = Files::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for entry in entries.map_while(Result::ok) {
            let name = dir.join(entry.file_name());
            if entry.file_name().to_string_lossy().starts_with(".ferry") {
                continue;
            }
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => dirs.push(name),
                _ => {
                    let data = std::fs::read(root.join(&name)).unwrap_or_default();
                    files.insert(name.to_string_lossy().into_owned(), data);
                }
            }
        }
    }
    files
}

/// The files in a few words: each name with its length and CRC.
pub fn summary(files: &Files) -> String {
    let named: Vec<String> = files
        .iter()
        .map(|(name, data)| format!("{name} ({} bytes, {})", data.len(), crc_hex(data)))
        .collect();
    format!("[{}]", named.join(", "))
}

impl Probe {
    /// Asks the restarted server: `Err` says what it answered instead.
    fn ask(&self, server: &Server) -> Result<(), String> {
        match self {
            Probe::Session {
                name,
                data,
                at_least,
            } => {
                let mut raw = Raw::connect(server.ferry);
                raw.line();
                raw.send(format!("UPLOAD {name} {} {}\n", data.len(), crc_hex(data)));
                let line = raw.line();
                let at: Option<u64> = line
                    .strip_prefix("OK ")
                    .and_then(|l| l.split(' ').nth(1))
                    .and_then(|n| n.parse().ok());
                match at {
                    Some(at) if at >= *at_least => Ok(()),
                    _ => Err(format!(
                        "the session of {name} answers {line:?}, acknowledged {at_least} bytes"
                    )),
                }
            }
            Probe::Tus { url, at_least } => {
                let headers = format!("Host: localhost\r\n{TUS}");
                let answer = support::http::exchange(server.http, "HEAD", url, &headers, b"");
                let at: Option<u64> = answer.header("Upload-Offset").and_then(|n| n.parse().ok());
                match (answer.status, at) {
                    (200, Some(at)) if at >= *at_least => Ok(()),
                    (404, _) if *at_least == 0 => Ok(()),
                    _ => Err(format!(
                        "tus upload {url} answers {} at {at:?}, acknowledged {at_least} bytes",
                        answer.status
                    )),
                }
            }
            Probe::Parts { url, count } => {
                let headers = "Host: localhost\r\n";
                let answer = support::http::exchange(server.s3, "GET", url, headers, b"");
                let listed = answer.text().matches("<PartNumber>").count();
                match answer.status {
                    200 if listed >= *count => Ok(()),
                    404 if *count == 0 => Ok(()),
                    status => Err(format!(
                        "ListParts {url} answers {status} with {listed} parts, acknowledged {count}"
                    )),
                }
            }
            Probe::Locked { target } => {
                let headers = "Host: localhost\r\n";
                let status =
                    support::http::exchange(server.http, "PUT", target, headers, b"x").status;
                match status {
                    423 => Ok(()),
                    status => Err(format!("{target} is no longer locked: a PUT got {status}")),
                }
            }
        }
    }
}

/// Whether every name in `files` is as in `before` or as in `after`
/// (present and whole, or absent), name by name.
fn mixes(before: &Files, after: &Files, files: &Files) -> bool {
    let names = before.keys().chain(after.keys()).chain(files.keys());
    names
        .into_iter()
        .all(|name| files.get(name) == before.get(name) || files.get(name) == after.get(name))
}

/// Checks one crash state of `recorded`: `Err` says which promise broke.
pub fn check(recorded: &Recorded, state: &CrashState) -> Result<(), String> {
    let dir = tempfile::tempdir_in(scratch()).map_err(|e| e.to_string())?;
    let backing = dir.path().join("backing");
    state.materialise(&backing).map_err(|e| e.to_string())?;
    let root = backing.join("root");
    let server = start(&root)?;
    let temps = support::temp_files(&root);
    if !temps.is_empty() {
        return Err(format!(
            "temp files left after the start-up sweep: {temps:?}"
        ));
    }
    let files = visible(&root);
    // Acknowledged before the crash: every step whose mark it passed.
    let acked = recorded.marks.iter().filter(|m| **m <= state.point).count();
    let steps = &recorded.steps[acked..];
    let candidates: Vec<&Step> = steps
        .iter()
        .enumerate()
        .filter(|(i, step)| {
            step.files == files
                || steps
                    .get(i + 1)
                    .is_some_and(|next| next.piecewise && mixes(&step.files, &next.files, &files))
        })
        .map(|(_, step)| step)
        .collect();
    if candidates.is_empty() {
        return Err(format!(
            "files {} are no step at or after the last acknowledged ({}: {})",
            summary(&files),
            acked,
            summary(&recorded.steps[acked].files)
        ));
    }
    // The state is a step whose probe (if any) the server passes; the
    // earliest first, as it promises the least.
    let mut refusals = Vec::new();
    for step in candidates {
        match step
            .probe
            .as_ref()
            .map_or(Ok(()), |probe| probe.ask(&server))
        {
            Ok(()) => return Ok(()),
            Err(why) => refusals.push(why),
        }
    }
    Err(refusals.join("; "))
}

/// Where crash states are written out: a memory file system where there
/// is one (each state is written once and read once; the disk adds
/// nothing the check needs).
pub fn scratch() -> PathBuf {
    let shm = Path::new("/dev/shm");
    match shm.is_dir() {
        true => shm.to_path_buf(),
        false => std::env::temp_dir(),
    }
}

/// What checking one path found.
pub struct Outcome {
    pub events: usize,
    pub crash_points: usize,
    pub combinations: u64,
    pub states: usize,
    pub broken: Vec<String>,
    pub took: Duration,
}

/// Records `path`, enumerates its crash states and checks each, two at a
/// time.
pub fn check_path(name: &str, path: CommitPath) -> Outcome {
    let began = Instant::now();
    let recorded = record(path);
    let names = states::names(&recorded.initial, &recorded.events);
    if std::env::var_os("FERRY_CRASH_LOG").is_some() {
        for (i, event) in recorded.events.iter().enumerate() {
            eprintln!("{name} #{}: {}", i + 1, states::brief(event, &names));
        }
        eprintln!("{name}: acknowledged after events {:?}", recorded.marks);
    }
    let found = states::enumerate(&recorded.initial, &recorded.events);
    let next = AtomicUsize::new(0);
    let broken = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some(state) = found.states.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Err(why) = check(&recorded, state) {
                        let what = state.describe(&recorded.events, &names);
                        broken
                            .lock()
                            .unwrap()
                            .push(format!("{name}: {what}: {why}"));
                    }
                }
            });
        }
    });
    Outcome {
        events: recorded.events.len(),
        crash_points: found.crash_points,
        combinations: found.combinations,
        states: found.states.len(),
        broken: broken.into_inner().unwrap(),
        took: began.elapsed(),
    }
}
