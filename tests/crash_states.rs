//! Crash-state enumeration (issue 30, ALICE-style): each commit path runs
//! once with `--fsync` on a recording mount of the power-cut simulator
//! (`tests/support/powercut/record.rs`), then every state a power cut
//! could have left at any point of it (`states.rs`; the model, the bound
//! and the counts in docs/reliability.md, "Crash states") is written out
//! as a folder, the real binary is started on it, and the promises are
//! checked:
//!
//! - the server starts (and finishes its start-up sweep);
//! - no temp file is left;
//! - the visible files are those of an acknowledged step at or after the
//!   last one acknowledged before the crash: an acknowledged operation is
//!   whole, an unacknowledged one absent or whole (old or new version),
//!   never partial under its name;
//! - a session resumes at or past the bytes its `APPEND`s acknowledged
//!   (unless its `COMMIT` landed).
//!
//! **Every new commit path must be added to [`PATHS`]**: one line, and a
//! function that sets up what it replaces, calls [`Run::begin`], and says
//! after each acknowledgement what the files are now.
//!
//! Needs `/dev/fuse` and root (as CI has); elsewhere it says "skipping" on
//! stderr and passes. `FERRY_CRASH_LOG=1` prints each path's log (the
//! events a failing state's line numbers).

#[path = "support/powercut/mod.rs"]
mod powercut;
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use powercut::Simulator;
use powercut::record::Event;
use powercut::states::{self, CrashState, Image};
use support::{Raw, crc_hex, pattern};

/// The commit paths, in the order the issue names them: each runs once
/// on a recording mount, then every crash state of it is checked.
const PATHS: &[(&str, fn(&mut Run))] = &[
    ("FERRY/1 PUT", ferry_put),
    ("HTTP PUT", http_put),
    ("FERRY/1 UPLOAD+APPEND+COMMIT", ferry_session),
    ("FERRY/1 MOVE", ferry_move),
    ("FERRY/1 DEL", ferry_del),
    ("tus creation+PATCH", tus_finish),
    ("WebDAV MOVE+COPY", dav_move_copy),
    ("WebDAV LOCK", dav_lock),
    ("S3 PutObject", s3_put),
    ("S3 multipart completion", s3_multipart),
];

/// A new file in a new folder, then a new version over an old one.
fn ferry_put(run: &mut Run) {
    run.put("kept", &pattern(3_000, 1));
    run.put("d/old", &pattern(5_000, 2));
    run.begin();
    let mut ferry = run.ferry();
    let new = pattern(6_000, 3);
    assert!(ferry_put_on(&mut ferry, "e/new", &new).starts_with("OK "));
    run.acked("e/new", Some(new));
    let version = pattern(7_000, 4);
    assert!(ferry_put_on(&mut ferry, "d/old", &version).starts_with("OK "));
    run.acked("d/old", Some(version));
}

/// The same over HTTP: a new file, then a new version.
fn http_put(run: &mut Run) {
    run.put("d/old", &pattern(5_000, 5));
    run.begin();
    let new = pattern(6_000, 6);
    assert_eq!(run.http("PUT", "/e/new", &new), 201);
    run.acked("e/new", Some(new));
    let version = pattern(7_000, 7);
    let status = run.http("PUT", "/d/old", &version);
    assert!((200..300).contains(&status), "{status}");
    run.acked("d/old", Some(version));
}

/// Sessions: one into a new folder, then one in two APPENDs over an old
/// version.
fn ferry_session(run: &mut Run) {
    run.put("s/f", &pattern(2_000, 8));
    run.begin();
    let mut ferry = run.ferry();
    session(run, &mut ferry, "t/new", &pattern(3_000, 15), &[3_000]);
    session(run, &mut ferry, "s/f", &pattern(9_000, 9), &[5_000, 9_000]);
}

/// UPLOAD of `data` as `name`, an APPEND up to each of `ends`, COMMIT.
fn session(run: &mut Run, ferry: &mut Raw, name: &str, data: &[u8], ends: &[usize]) {
    let (id, at) = support::upload(ferry, name, data);
    assert_eq!(at, 0);
    run.acked_session(name, data, 0);
    let mut from = 0;
    for &end in ends {
        let answer = support::append(ferry, &id, from, &data[from..end]);
        assert_eq!(answer, format!("OK {end}"));
        run.acked_session(name, data, end as u64);
        from = end;
    }
    ferry.send(format!("COMMIT {id}\n"));
    assert!(ferry.line().starts_with(&format!("OK {} ", data.len())));
    run.acked(name, Some(data.to_vec()));
}

/// A move into a new folder, then over an existing file.
fn ferry_move(run: &mut Run) {
    let (a, b) = (pattern(4_000, 10), pattern(3_000, 11));
    run.put("m/a", &a);
    run.put("m/b", &b);
    run.begin();
    let mut ferry = run.ferry();
    ferry.send("MOVE m/a n/a\n");
    assert_eq!(ferry.line(), "OK");
    run.changed(&[("m/a", None), ("n/a", Some(a.clone()))]);
    ferry.send("MOVE n/a m/b\n");
    assert_eq!(ferry.line(), "OK");
    run.changed(&[("n/a", None), ("m/b", Some(a))]);
}

/// A delete that empties its folder, then one beside a file that stays.
fn ferry_del(run: &mut Run) {
    run.put("x/only", &pattern(1_000, 12));
    run.put("y/one", &pattern(1_500, 13));
    run.put("y/two", &pattern(2_500, 14));
    run.begin();
    let mut ferry = run.ferry();
    for name in ["x/only", "y/one"] {
        ferry.send(format!("DEL {name}\n"));
        assert_eq!(ferry.line(), "OK");
        run.acked(name, None);
    }
}

/// The tus protocol's version field.
const TUS: &str = "Tus-Resumable: 1.0.0\r\n";

/// A tus upload in two PATCHes into a new folder: the last one stores it.
fn tus_finish(run: &mut Run) {
    run.begin();
    let data = pattern(8_000, 16);
    let filename = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "f");
    let headers = format!(
        "Host: localhost\r\n{TUS}Upload-Length: {}\r\nUpload-Metadata: filename {filename}\r\n",
        data.len()
    );
    let created = run.exchange("POST", "/u/", &headers, b"");
    assert_eq!(created.status, 201, "{}", created.head);
    let url = created.header("Location").expect("a Location").to_owned();
    run.acked_probe(Probe::Tus {
        url: url.clone(),
        at_least: 0,
    });
    for (from, to) in [(0, 5_000), (5_000, data.len())] {
        let headers = format!(
            "Host: localhost\r\n{TUS}Content-Type: application/offset+octet-stream\r\nUpload-Offset: {from}\r\n"
        );
        let patched = run.exchange("PATCH", &url, &headers, &data[from..to]);
        assert_eq!(patched.status, 204, "{}", patched.head);
        if to < data.len() {
            let at_least = to as u64;
            let url = url.clone();
            run.acked_probe(Probe::Tus { url, at_least });
        }
    }
    run.acked("u/f", Some(data));
}

/// WebDAV: a MOVE into another folder, then a COPY over an old version.
fn dav_move_copy(run: &mut Run) {
    let (a, b) = (pattern(4_000, 17), pattern(5_000, 18));
    run.put("w/a", &a);
    run.put("w/b", &b);
    run.put("v/old", &pattern(1_000, 19));
    run.begin();
    let host = "Host: localhost\r\n";
    let moved = run.exchange("MOVE", "/w/a", &format!("{host}Destination: /v/a\r\n"), b"");
    assert_eq!(moved.status, 201, "{}", moved.head);
    run.changed(&[("w/a", None), ("v/a", Some(a))]);
    let copied = run.exchange(
        "COPY",
        "/w/b",
        &format!("{host}Destination: /v/old\r\n"),
        b"",
    );
    assert_eq!(copied.status, 204, "{}", copied.head);
    run.acked("v/old", Some(b));
}

/// WebDAV: a LOCK on an existing file; the lock must outlive the cut.
fn dav_lock(run: &mut Run) {
    run.put("l/f", &pattern(1_000, 20));
    run.begin();
    let body = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:tester</D:href></D:owner></D:lockinfo>";
    let headers = "Host: localhost\r\nTimeout: Second-3600\r\n";
    let locked = run.exchange("LOCK", "/l/f", headers, body.as_bytes());
    assert_eq!(locked.status, 200, "{}", locked.head);
    run.acked_probe(Probe::Locked {
        target: "/l/f".into(),
    });
}

/// S3 PutObject (unsigned: anonymous grants): a new object, then a new
/// version of one.
fn s3_put(run: &mut Run) {
    run.put("bkt/old", &pattern(5_000, 21));
    run.begin();
    let new = pattern(6_000, 22);
    assert_eq!(run.s3("PUT", "/bkt/new", &new).status, 200);
    run.acked("bkt/new", Some(new));
    let version = pattern(7_000, 23);
    assert_eq!(run.s3("PUT", "/bkt/old", &version).status, 200);
    run.acked("bkt/old", Some(version));
}

/// S3 multipart: create, one part (the last may be small; two would need
/// a 5 MiB first part, 1,280 pages of crash points), complete.
fn s3_multipart(run: &mut Run) {
    run.put("bkt/keep", &pattern(1_000, 24));
    run.begin();
    let made = run.s3("POST", "/bkt/m?uploads", b"");
    assert_eq!(made.status, 200, "{}", made.text());
    let text = made.text();
    let id = text
        .split("<UploadId>")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .expect("an UploadId")
        .to_owned();
    let parts = format!("/bkt/m?uploadId={id}");
    run.acked_probe(Probe::Parts {
        url: parts.clone(),
        count: 0,
    });
    let data = pattern(6_000, 25);
    let part = run.s3("PUT", &format!("/bkt/m?partNumber=1&uploadId={id}"), &data);
    assert_eq!(part.status, 200, "{}", part.text());
    let etag = part.header("ETag").expect("an ETag").to_owned();
    run.acked_probe(Probe::Parts {
        url: parts.clone(),
        count: 1,
    });
    let body = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    let done = run.s3("POST", &parts, body.as_bytes());
    assert_eq!(done.status, 200, "{}", done.text());
    assert!(
        done.text().contains("CompleteMultipartUploadResult"),
        "{}",
        done.text()
    );
    run.acked("bkt/m", Some(data));
}

/// `PUT <name> <size>` and its body on a FERRY/1 connection: the answer.
fn ferry_put_on(ferry: &mut Raw, name: &str, data: &[u8]) -> String {
    ferry.send(format!("PUT {name} {} {}\n", data.len(), crc_hex(data)));
    ferry.send(data);
    ferry.line()
}

/// The visible files (name → bytes): what a client can see.
type Files = BTreeMap<String, Vec<u8>>;

/// What an acknowledgement promises from then on: these files, and what
/// the restarted server must still say (a session's bytes, a lock).
#[derive(Debug, Clone)]
struct Step {
    files: Files,
    probe: Option<Probe>,
}

/// What a restarted server is asked, beyond the files.
#[derive(Debug, Clone)]
enum Probe {
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

/// One commit path being recorded: the server on the mount, and the
/// steps its client was told of.
struct Run<'a> {
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
    fn ferry(&self) -> Raw {
        let mut raw = Raw::connect(self.server.addr);
        assert!(raw.line().starts_with("OK FERRY/1 "));
        raw
    }

    /// An HTTP request with a body: the status.
    fn http(&self, method: &str, target: &str, body: &[u8]) -> u16 {
        self.exchange(method, target, "Host: localhost\r\n", body)
            .status
    }

    /// An unsigned S3 request: the answer.
    fn s3(&self, method: &str, target: &str, body: &[u8]) -> support::http::Answer {
        let addr = self.server.wait_for_log("(S3 on ");
        let addr = addr
            .split("(S3 on ")
            .nth(1)
            .and_then(|r| r.split(')').next());
        let addr: SocketAddr = addr.and_then(|a| a.parse().ok()).expect("the S3 address");
        support::http::exchange(addr, method, target, "Host: localhost\r\n", body)
    }

    /// An HTTP request with these header lines and body: the answer.
    fn exchange(
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
    fn put(&mut self, name: &str, data: &[u8]) {
        assert!(self.initial.is_none(), "put before begin");
        assert!(ferry_put_on(&mut self.ferry(), name, data).starts_with("OK "));
        self.files.insert(name.to_owned(), data.to_vec());
    }

    /// The path begins: what is stored now counts as durable (as after a
    /// `sync`), and every call from now on is recorded.
    fn begin(&mut self) {
        self.initial = Some(self.sim.record().expect("record the backing folder"));
        self.steps.push(Step {
            files: self.files.clone(),
            probe: None,
        });
    }

    /// An operation on `name` was acknowledged: it now holds `data`, or
    /// nothing.
    fn acked(&mut self, name: &str, data: Option<Vec<u8>>) {
        self.changed(&[(name, data)]);
    }

    /// An operation was acknowledged that changed these names.
    fn changed(&mut self, changes: &[(&str, Option<Vec<u8>>)]) {
        for (name, data) in changes {
            match data {
                Some(data) => self.files.insert((*name).to_owned(), data.clone()),
                None => self.files.remove(*name),
            };
        }
        self.step(None);
    }

    /// A session step was acknowledged: the session of `data` for `name`
    /// holds at least `at_least` bytes.
    fn acked_session(&mut self, name: &str, data: &[u8], at_least: u64) {
        self.step(Some(Probe::Session {
            name: name.to_owned(),
            data: data.to_vec(),
            at_least,
        }));
    }

    /// Something was acknowledged that `probe` must find after a restart
    /// (the files unchanged).
    fn acked_probe(&mut self, probe: Probe) {
        self.step(Some(probe));
    }

    fn step(&mut self, probe: Option<Probe>) {
        assert!(self.initial.is_some(), "acknowledged before begin");
        self.marks.push(self.sim.mark());
        self.steps.push(Step {
            files: self.files.clone(),
            probe,
        });
    }
}

/// A commit path as recorded: where it began, what it did, what it
/// promised.
struct Recorded {
    initial: Image,
    events: Vec<Event>,
    steps: Vec<Step>,
    marks: Vec<usize>,
}

/// Runs `path` once on a fresh recording mount with `--fsync`.
fn record(path: fn(&mut Run)) -> Recorded {
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
fn server_args(dir: &Path) -> Vec<String> {
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
struct Server {
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
const START_PATIENCE: Duration = Duration::from_secs(30);

/// Starts `ferry serve --fsync` on `root` and waits for its start-up
/// sweep; `Err` with its log if it exits or hangs first.
fn start(root: &Path) -> Result<Server, String> {
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
fn visible(root: &Path) -> Files {
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
fn summary(files: &Files) -> String {
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

/// Checks one crash state of `recorded`: `Err` says which promise broke.
fn check(recorded: &Recorded, state: &CrashState) -> Result<(), String> {
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
    let candidates: Vec<&Step> = recorded.steps[acked..]
        .iter()
        .filter(|step| step.files == files)
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
fn scratch() -> PathBuf {
    let shm = Path::new("/dev/shm");
    match shm.is_dir() {
        true => shm.to_path_buf(),
        false => std::env::temp_dir(),
    }
}

/// What checking one path found.
struct Outcome {
    events: usize,
    crash_points: usize,
    combinations: u64,
    states: usize,
    broken: Vec<String>,
    took: Duration,
}

/// Records `path`, enumerates its crash states and checks each, two at a
/// time.
fn check_path(name: &str, path: fn(&mut Run)) -> Outcome {
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

#[test]
fn every_crash_state_of_every_commit_path_keeps_the_promises() {
    if let Some(why) = powercut::unavailable() {
        eprintln!("skipping: the power-cut simulator cannot run here ({why})");
        return;
    }
    let mut broken = Vec::new();
    for (name, path) in PATHS {
        let outcome = check_path(name, *path);
        eprintln!(
            "{name}: {} events, {} crash points, {} combinations, {} distinct states, {} broken, {:.1} s",
            outcome.events,
            outcome.crash_points,
            outcome.combinations,
            outcome.states,
            outcome.broken.len(),
            outcome.took.as_secs_f64()
        );
        broken.extend(outcome.broken);
    }
    for line in &broken {
        eprintln!("{line}");
    }
    assert!(
        broken.is_empty(),
        "{} crash states broke a promise",
        broken.len()
    );
}
