//! Upload hooks (`--on-upload`, `--before-commit`), over real sockets: what
//! a hook is told (FERRY_* variables, for FERRY/1 and HTTP PUTs, a chunked
//! one and a resumable upload's COMMIT), that a name full of shell
//! metacharacters reaches it as it is, that a refusal stores nothing, that
//! a hook that hangs is killed, that the server serves on while a hook
//! runs, and what the log says about a hook that fails.
//!
//! The hooks are shell scripts run as `/bin/sh <script>` (a script that is
//! executed itself can meet ETXTBSY while another test thread forks). They
//! write what they see into files that the tests wait for, within
//! `support::PATIENCE`; nothing here sleeps to let something happen.
#![cfg(feature = "hooks")] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferry::Config;
use ferry::access::{AccessConfig, Grant};
use ferry::hooks::{HookCommand, HookConfig};
use support::http::send_raw;
use support::process::Process;
use support::{PATIENCE, Raw, TestServer, append, crc_hex, pattern, upload};
use tempfile::TempDir;

/// A folder for a hook script and what it writes: `seen/` gets one file
/// per run, moved there once complete.
struct HookDir {
    dir: TempDir,
}

impl HookDir {
    fn new() -> HookDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("seen")).unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        HookDir { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `body` as script `name` (`@DIR@` stands for this folder) and
    /// returns the command that runs it.
    fn script(&self, name: &str, body: &str) -> HookCommand {
        let path = self.path(name);
        let body = body.replace("@DIR@", &self.dir.path().display().to_string());
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        HookCommand::parse(&format!("/bin/sh {}", path.display())).unwrap()
    }

    /// A script that records its FERRY_* variables and the targets of its
    /// open descriptors (`FD=...`), one file per run in `seen/`.
    fn recorder(&self) -> HookCommand {
        self.script("record.sh", RECORD)
    }

    /// Waits until `n` runs are recorded; returns each run's variables
    /// (the descriptors' targets under "FD", one per line).
    fn runs(&self, n: usize) -> Vec<HashMap<String, String>> {
        let seen = self.path("seen");
        let files = wait_for(|| {
            let files: Vec<PathBuf> = std::fs::read_dir(&seen)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            (files.len() >= n).then_some(files)
        });
        assert_eq!(files.len(), n, "more hook runs than expected: {files:?}");
        files.iter().map(|f| parse_run(f)).collect()
    }

    /// The recorded runs, by FERRY_NAME.
    fn runs_by_name(&self, n: usize) -> HashMap<String, HashMap<String, String>> {
        self.runs(n)
            .into_iter()
            .map(|run| (run["FERRY_NAME"].clone(), run))
            .collect()
    }
}

const RECORD: &str = r#"set -e
t=$(mktemp "@DIR@/tmp/run.XXXXXX")
env | grep '^FERRY_' > "$t"
for fd in /proc/$$/fd/*; do echo "FD=$(readlink "$fd")"; done >> "$t"
mv "$t" "@DIR@/seen/"
"#;

fn parse_run(path: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut run = HashMap::new();
    let mut fds = Vec::new();
    for line in text.lines() {
        let (key, value) = line.split_once('=').unwrap();
        match key {
            "FD" => fds.push(value.to_owned()),
            key => {
                run.insert(key.to_owned(), value.to_owned());
            }
        }
    }
    run.insert("FD".into(), fds.join("\n"));
    run
}

/// Polls `check` until it gives a value, for at most [`PATIENCE`].
fn wait_for<T>(mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "waited in vain");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn hooks(adjust: impl FnOnce(&mut HookConfig)) -> impl FnOnce(&mut Config) {
    move |config| {
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        adjust(&mut config.hooks);
    }
}

/// Every byte percent-encoded but letters and digits: a name as FERRY/1
/// and HTTP both take it.
fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'/' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// An HTTP/1.1 request on a connection of its own; returns the status.
fn http(addr: SocketAddr, head: &str, body: &[u8]) -> u16 {
    let head = format!("{head}Host: localhost\r\nConnection: close\r\n\r\n");
    let answer = send_raw(addr, &[head.as_bytes(), body].concat());
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

fn http_put(addr: SocketAddr, name: &str, body: &[u8]) -> u16 {
    let head = format!(
        "PUT /{} HTTP/1.1\r\nContent-Length: {}\r\n",
        encode(name),
        body.len()
    );
    http(addr, &head, body)
}

fn ferry_put(raw: &mut Raw, name: &str, body: &[u8]) -> String {
    raw.send(format!(
        "PUT {} {} {}\n",
        encode(name),
        body.len(),
        crc_hex(body)
    ));
    raw.send(body);
    raw.line()
}

fn commit(raw: &mut Raw, name: &str, data: &[u8]) -> String {
    let (id, _) = upload(raw, &encode(name), data);
    assert_eq!(append(raw, &id, 0, data), format!("OK {}", data.len()));
    raw.send(format!("COMMIT {id}\n"));
    raw.line()
}

#[test]
fn on_upload_hooks_see_each_upload_in_ferry_variables() {
    let hook = HookDir::new();
    let command = hook.recorder();
    let server = TestServer::start_with(hooks(|h| h.on_upload = Some(command)));
    let http_addr = server.http.unwrap();
    let mut raw = server.raw();
    // An upload under way to the top of the root holds a descriptor of the
    // root meanwhile: no hook may inherit it.
    let mut pending = server.raw();
    pending.send("PUT pending.bin 100\n0123456789");
    wait_for(|| (!support::temp_files(server.root.path()).is_empty()).then_some(()));

    assert_eq!(
        ferry_put(&mut raw, "sub/one.txt", b"hello"),
        format!("OK 5 {}", crc_hex(b"hello"))
    );
    assert_eq!(http_put(http_addr, "two.txt", b"world!"), 201);
    let chunked = "PUT /three.txt HTTP/1.1\r\nTransfer-Encoding: chunked\r\n";
    assert_eq!(
        http(http_addr, chunked, b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"),
        201
    );
    let data = pattern(100_000, 4);
    assert!(commit(&mut raw, "four.bin", &data).starts_with("OK 100000 "));

    let runs = hook.runs_by_name(4);
    let expect = [
        ("sub/one.txt", &b"hello"[..], "ferry"),
        ("two.txt", b"world!", "http"),
        ("three.txt", b"abcdefg", "http"),
        ("four.bin", &data, "ferry"),
    ];
    for (name, bytes, protocol) in expect {
        let run = &runs[name];
        let path = server.path(name).display().to_string();
        assert_eq!(run["FERRY_EVENT"], "on-upload", "{run:?}");
        assert_eq!(run["FERRY_SIZE"], bytes.len().to_string(), "{run:?}");
        assert_eq!(run["FERRY_CRC32C"], crc_hex(bytes), "{run:?}");
        assert_eq!(run["FERRY_PATH"], path, "{run:?}");
        assert_eq!(run["FERRY_FINAL_PATH"], path, "{run:?}");
        assert_eq!(run["FERRY_USER"], "", "no access control: {run:?}");
        assert_eq!(run["FERRY_PEER"], "127.0.0.1", "{run:?}");
        assert_eq!(run["FERRY_PROTOCOL"], protocol, "{run:?}");
        assert!(run["FERRY_CLIENT"].parse::<u64>().is_ok(), "{run:?}");
        // No socket of the server's (nor of this test process) leaks in,
        // nor the root's descriptor.
        assert!(!run["FD"].contains("socket:"), "{}", run["FD"]);
        let root = server.root.path().display().to_string();
        assert!(!run["FD"].lines().any(|fd| fd == root), "{}", run["FD"]);
        assert_eq!(run.len(), 11, "only the documented variables: {run:?}");
    }
    // One connection, one client id.
    assert_eq!(
        runs["sub/one.txt"]["FERRY_CLIENT"],
        runs["four.bin"]["FERRY_CLIENT"]
    );
}

/// A tus upload's metadata reaches the hooks as `FERRY_META_<KEY>`, and
/// its `mtime` becomes the file's modification time.
#[test]
fn a_tus_uploads_metadata_reaches_the_hooks_and_its_mtime_the_file() {
    let hook = HookDir::new();
    let command = hook.recorder();
    let server = TestServer::start_with(hooks(|h| h.on_upload = Some(command)));
    let b64 = |text: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(text)
    };
    let meta = format!(
        "filename {},mtime {},file-type {},relativePath {},empty",
        b64("tus.txt"),
        b64("1700000000"),
        b64("text/plain"),
        b64("a b/$(x)")
    );
    let head = format!(
        "POST /in/ HTTP/1.1\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 5\r\n\
         Upload-Metadata: {meta}\r\nContent-Type: application/offset+octet-stream\r\n\
         Content-Length: 5\r\n"
    );
    assert_eq!(http(server.http.unwrap(), &head, b"hello"), 201);

    let run = &hook.runs_by_name(1)["in/tus.txt"];
    assert_eq!(run["FERRY_CRC32C"], crc_hex(b"hello"), "{run:?}");
    assert_eq!(run["FERRY_META_FILENAME"], "tus.txt", "{run:?}");
    assert_eq!(run["FERRY_META_MTIME"], "1700000000", "{run:?}");
    assert_eq!(run["FERRY_META_FILE_TYPE"], "text/plain", "{run:?}");
    assert_eq!(run["FERRY_META_RELATIVEPATH"], "a b/$(x)", "{run:?}");
    assert_eq!(run["FERRY_META_EMPTY"], "", "{run:?}");
    let modified = std::fs::metadata(server.path("in/tus.txt"))
        .unwrap()
        .modified()
        .unwrap();
    let since = modified.duration_since(std::time::UNIX_EPOCH).unwrap();
    assert_eq!(since.as_secs(), 1_700_000_000);
}

#[test]
fn hooks_are_told_the_authenticated_name() {
    let hook = HookDir::new();
    let command = hook.recorder();
    let tokens_dir = tempfile::tempdir().unwrap();
    let (path, tokens) = support::tokens::tokens_in(tokens_dir.path(), &[("alice", &["write:/"])]);
    let server = TestServer::start_with(|c| {
        c.access = AccessConfig {
            tokens: Some(path),
            anonymous: vec![Grant::parse("write:/open").unwrap()],
            no_auth: false,
        };
        c.hooks.on_upload = Some(command);
    });
    let mut anonymous = server.raw();
    assert!(ferry_put(&mut anonymous, "open/anon.txt", b"a").starts_with("OK "));
    let mut raw = server.raw();
    raw.send(format!("AUTH {}\n", tokens[0]));
    assert!(raw.line().starts_with("OK"));
    assert!(ferry_put(&mut raw, "mine.txt", b"b").starts_with("OK "));
    let data = pattern(1000, 2);
    assert!(commit(&mut raw, "staged.bin", &data).starts_with("OK "));

    let runs = hook.runs_by_name(3);
    assert_eq!(runs["open/anon.txt"]["FERRY_USER"], "");
    assert_eq!(runs["mine.txt"]["FERRY_USER"], "alice");
    assert_eq!(runs["staged.bin"]["FERRY_USER"], "alice");
}

#[test]
fn a_name_full_of_shell_metacharacters_reaches_the_hook_unharmed() {
    let hook = HookDir::new();
    let command = hook.recorder();
    let server = TestServer::start_with(hooks(|h| h.on_upload = Some(command)));
    let name = "a;$(touch pwned) 'b'\"c`touch pwned2` $HOME & | > x.txt";
    let other = "there %41 *? ~ ! # {a,b} \\n.txt";
    let mut raw = server.raw();
    assert!(ferry_put(&mut raw, name, b"one").starts_with("OK "));
    assert_eq!(http_put(server.http.unwrap(), other, b"two"), 201);

    let runs = hook.runs_by_name(2);
    for (name, body) in [(name, &b"one"[..]), (other, b"two")] {
        let run = &runs[name];
        assert_eq!(run["FERRY_NAME"], name);
        assert_eq!(run["FERRY_PATH"], server.path(name).display().to_string());
        assert_eq!(std::fs::read(server.path(name)).unwrap(), body);
    }
    // Nothing in the name was run: not in the server's directory, the
    // root or the hook's.
    for dir in [
        std::env::current_dir().unwrap(),
        server.root.path().to_path_buf(),
        hook.dir.path().to_path_buf(),
    ] {
        assert!(!dir.join("pwned").exists(), "{}", dir.display());
        assert!(!dir.join("pwned2").exists(), "{}", dir.display());
    }
}

/// Refuses every upload but those whose name begins with `ok`, which it
/// copies (to show it sees the whole upload before it is in place).
const VETO: &str = r#"case "$FERRY_NAME" in
  ok*)
    [ -e "$FERRY_FINAL_PATH" ] && echo "already there" >&2 && exit 1
    cp "$FERRY_PATH" "@DIR@/seen/$FERRY_CRC32C"
    exit 0 ;;
esac
echo "no: $FERRY_NAME" >&2
exit 1
"#;

#[test]
fn a_refusing_before_commit_hook_stores_nothing_on_either_protocol() {
    let hook = HookDir::new();
    let command = hook.script("veto.sh", VETO);
    let server = TestServer::start_with(hooks(|h| h.before_commit = Some(command)));
    std::fs::write(server.path("keep.txt"), "old").unwrap();
    let mut raw = server.raw();

    // FERRY/1 PUT: refused, and the earlier file stays as it was.
    assert_eq!(
        ferry_put(&mut raw, "keep.txt", b"new!"),
        "ERR 403 refused by the before-commit hook"
    );
    assert_eq!(std::fs::read(server.path("keep.txt")).unwrap(), b"old");
    assert_eq!(
        ferry_put(&mut raw, "dir/no.txt", b"x"),
        "ERR 403 refused by the before-commit hook"
    );
    // HTTP, fixed length and chunked.
    assert_eq!(http_put(server.http.unwrap(), "no.txt", b"nope"), 403);
    let chunked = "PUT /no2.txt HTTP/1.1\r\nTransfer-Encoding: chunked\r\n";
    assert_eq!(
        http(server.http.unwrap(), chunked, b"2\r\nno\r\n0\r\n\r\n"),
        403
    );
    // A resumable upload: refused, and the session is gone with its bytes.
    let data = pattern(50_000, 7);
    let (id, _) = upload(&mut raw, "no.bin", &data);
    assert_eq!(append(&mut raw, &id, 0, &data), "OK 50000");
    raw.send(format!("COMMIT {id}\n"));
    assert_eq!(raw.line(), "ERR 403 refused by the before-commit hook");
    raw.send(format!("COMMIT {id}\n"));
    assert!(raw.line().starts_with("ERR 404 "));
    let (fresh, received) = upload(&mut raw, "no.bin", &data);
    assert_eq!(received, 0, "a fresh session");
    raw.send(format!("ABORT {fresh}\n"));
    assert_eq!(raw.line(), "OK");
    // tus: refused, and its address then names no upload (no mark of one
    // stored, which a client whose answer was lost would take for one).
    let tus = "Tus-Resumable: 1.0.0\r\n";
    let created = send_raw(
        server.http.unwrap(),
        format!("POST / HTTP/1.1\r\nHost: localhost\r\n{tus}Upload-Length: 4\r\nUpload-Metadata: filename bm8udHVz\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let location = created
        .lines()
        .find_map(|l| l.strip_prefix("Location: "))
        .unwrap_or_else(|| panic!("{created}"))
        .trim()
        .to_owned();
    let location = location
        .split_once("localhost")
        .map_or(location.as_str(), |(_, p)| p)
        .to_owned();
    let patch = format!(
        "PATCH {location} HTTP/1.1\r\n{tus}Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: 4\r\n"
    );
    assert_eq!(http(server.http.unwrap(), &patch, b"nope"), 403);
    let head = format!("HEAD {location} HTTP/1.1\r\n{tus}");
    assert_eq!(http(server.http.unwrap(), &head, b""), 404);

    // What the hook accepts goes through, and it saw the whole upload.
    assert!(ferry_put(&mut raw, "ok.txt", b"fine").starts_with("OK 4 "));
    assert_eq!(
        http_put(server.http.unwrap(), "ok-http.txt", b"fine too"),
        201
    );
    assert!(commit(&mut raw, "ok.bin", &data).starts_with("OK 50000 "));
    let copy = |bytes: &[u8]| std::fs::read(hook.path("seen").join(crc_hex(bytes))).unwrap();
    assert_eq!(copy(b"fine"), b"fine");
    assert_eq!(copy(&data), data);

    assert_eq!(
        server.files_on_disk(),
        ["keep.txt", "ok-http.txt", "ok.bin", "ok.txt"],
        "nothing refused is stored, no temp file or session is left"
    );
}

#[test]
fn a_before_commit_hook_that_hangs_is_killed_and_the_upload_refused() {
    let hook = HookDir::new();
    let command = hook.script(
        "hang.sh",
        "sleep 1000 &\necho $! > @DIR@/tmp/sleeper\nmv @DIR@/tmp/sleeper @DIR@/sleeper\nwait\n",
    );
    let server = TestServer::start_with(hooks(|h| {
        h.before_commit = Some(command);
        h.timeout = Duration::from_secs(3);
    }));
    let mut raw = server.raw();
    assert_eq!(
        ferry_put(&mut raw, "slow.txt", b"data"),
        "ERR 403 before-commit hook timed out"
    );
    assert_eq!(server.files_on_disk(), Vec::<String>::new());
    // The kill reached what the hook started too (its process group).
    let sleeper = std::fs::read_to_string(hook.path("sleeper")).unwrap();
    let stat = format!("/proc/{}/stat", sleeper.trim());
    wait_for(|| match std::fs::read_to_string(&stat) {
        Err(_) => Some(()),
        // A zombie until whoever adopted it reaps it: dead all the same.
        Ok(stat) => stat
            .rsplit(')')
            .next()?
            .trim_start()
            .starts_with('Z')
            .then_some(()),
    });
    // The server goes on: the next upload's hook is run (and killed) too.
    assert_eq!(http_put(server.http.unwrap(), "slow2.txt", b"x"), 403);
}

#[test]
fn the_server_serves_others_while_a_before_commit_hook_runs() {
    let hook = HookDir::new();
    let command = hook.script(
        "wait.sh",
        "touch @DIR@/started\nwhile [ ! -e @DIR@/go ]; do sleep 0.01; done\n",
    );
    // One I/O thread: a hook waited for on the pool would take it, and
    // nothing below would be served.
    let server = TestServer::start_with(|c| {
        hooks(|h| h.before_commit = Some(command))(c);
        c.io_threads = 1;
    });
    std::fs::write(server.path("there.txt"), "here").unwrap();

    let mut waiting = server.raw();
    waiting.send(format!("PUT held.txt 4 {}\nheld", crc_hex(b"held")));
    wait_for(|| hook.path("started").exists().then_some(()));

    // Meanwhile others are served, through the I/O pool too, and the held
    // upload is not yet in place.
    let mut other = server.raw();
    other.send("GET there.txt\n");
    // Placed by other means: its CRC-32C is not known yet.
    assert_eq!(other.get_line(), "OK 4 4 -");
    assert_eq!(other.bytes(4), b"here");
    other.send("STAT held.txt\n");
    assert!(other.line().starts_with("ERR 404 "));
    other.send("ECHO 4\nping");
    assert_eq!(other.line(), "OK 4");
    assert_eq!(other.bytes(4), b"ping");
    let get = "GET /there.txt HTTP/1.1\r\n";
    assert_eq!(http(server.http.unwrap(), get, b""), 200);

    std::fs::write(hook.path("go"), "").unwrap();
    assert_eq!(waiting.line(), format!("OK 4 {}", crc_hex(b"held")));
    assert_eq!(std::fs::read(server.path("held.txt")).unwrap(), b"held");
}

/// Fails loudly for most names; for `loud*` writes 10,000 bytes to stderr
/// and succeeds; for `hang*` never ends.
const FAILING: &str = r#"case "$FERRY_NAME" in
  loud*) head -c 10000 /dev/zero | tr '\0' x >&2; exit 0 ;;
  hang*) exec sleep 1000 ;;
esac
echo "scan failed for $FERRY_NAME" >&2
exit 3
"#;

#[test]
fn hook_failures_timeouts_and_their_stderr_are_logged() {
    let hook = HookDir::new();
    let script = hook.path("failing.sh");
    hook.script("failing.sh", FAILING);
    let root = tempfile::tempdir().unwrap();
    let command = format!("/bin/sh {}", script.display());
    let server = Process::start(
        root.path(),
        &[
            "--on-upload",
            &command,
            "--hook-timeout",
            "2",
            "--workers",
            "2",
        ],
    );
    let mut raw = Raw::connect(server.addr);
    assert!(raw.line().starts_with("OK FERRY/1 "));

    assert!(ferry_put(&mut raw, "bad.txt", b"x").starts_with("OK "));
    let line = server.wait_for_log("on-upload hook for \"bad.txt\"");
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("exited 3"), "{line}");
    assert!(line.contains("scan failed for bad.txt"), "{line}");

    assert!(ferry_put(&mut raw, "loud.txt", b"x").starts_with("OK "));
    let line = server.wait_for_log("on-upload hook for \"loud.txt\"");
    assert!(line.contains("exited 0"), "{line}");
    let (_, kept) = line.split_once("stderr (first 4 KiB): \"").unwrap();
    assert_eq!(kept, format!("{}\"", "x".repeat(4096)), "{line}");

    assert!(ferry_put(&mut raw, "hang.txt", b"x").starts_with("OK "));
    let line = server.wait_for_log("on-upload hook for \"hang.txt\"");
    assert!(line.contains("killed after the 2s time limit"), "{line}");
}

#[test]
fn a_full_on_upload_queue_is_logged_not_grown() {
    let hook = HookDir::new();
    let script = hook.path("block.sh");
    // Bounded, should the test fail before it lets the hook go.
    let wait = "i=0\nwhile [ ! -e @DIR@/go ] && [ $i -lt 1000 ]; do sleep 0.05; i=$((i+1)); done\n";
    hook.script("block.sh", wait);
    let root = tempfile::tempdir().unwrap();
    let command = format!("/bin/sh {}", script.display());
    let server = Process::start(
        root.path(),
        &["--on-upload", &command, "--hook-concurrency", "1"],
    );
    let mut raw = Raw::connect(server.addr);
    assert!(raw.line().starts_with("OK FERRY/1 "));
    // One running, ON_UPLOAD_QUEUE waiting, and more.
    let count = ferry::hooks::ON_UPLOAD_QUEUE + 3;
    let mut batch = Vec::new();
    for i in 0..count {
        batch.extend_from_slice(format!("PUT f{i} 1\nx").as_bytes());
    }
    raw.send(&batch);
    for _ in 0..count {
        assert!(raw.line().starts_with("OK 1 "));
    }
    let line = server.wait_for_log("hooks already wait");
    assert!(line.contains("WARN"), "{line}");
    std::fs::write(hook.path("go"), "").unwrap();
}

/// Kills, when dropped (at the end of a test, or as it fails), the hooks
/// that recorded their process id as `started-<pid>` in a folder.
struct KillHooks(PathBuf);

impl KillHooks {
    /// The process ids recorded so far.
    fn pids(&self) -> Vec<String> {
        let entries = std::fs::read_dir(&self.0).unwrap();
        entries
            .filter_map(|e| e.unwrap().file_name().into_string().ok())
            .filter_map(|name| name.strip_prefix("started-").map(str::to_owned))
            .collect()
    }

    fn kill_all(&self) {
        for pid in self.pids() {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid])
                .status();
        }
    }
}

impl Drop for KillHooks {
    fn drop(&mut self) {
        self.kill_all();
    }
}

#[test]
fn a_token_whose_hooks_hang_holds_only_its_share_and_others_commit_meanwhile() {
    let hook = HookDir::new();
    // Token a's hooks hang (until killed); b's let the upload through.
    let command = hook.script(
        "share.sh",
        r#"[ "$FERRY_USER" = b ] && exit 0
touch "@DIR@/started-$$"
exec sleep 1000
"#,
    );
    let (server, tokens, _dir) =
        support::tokens::guarded_with(&[("a", &["write:/"]), ("b", &["write:/"])], &[], |c| {
            c.hooks.before_commit = Some(command);
            // Two threads: each token's share is one.
            c.hooks.concurrency = 2;
            c.hooks.timeout = Duration::from_secs(3600);
        });
    let hanging = KillHooks(hook.path(""));
    let holder = |token: &str| {
        let mut raw = server.raw();
        raw.send(format!("AUTH {token}\n"));
        assert!(raw.line().starts_with("OK"));
        raw
    };
    let put = |raw: &mut Raw, name: &str| {
        raw.send(format!("PUT {name} 4 {}\ndata", crc_hex(b"data")));
    };
    let mut first = holder(&tokens[0]);
    put(&mut first, "a1.txt");
    wait_for(|| (hanging.pids().len() == 1).then_some(()));
    // Token a's share is full: its next upload would take the last thread.
    let mut second = holder(&tokens[0]);
    put(&mut second, "a2.txt");
    let mut other = holder(&tokens[1]);
    put(&mut other, "b.txt");
    assert_eq!(other.line(), format!("OK 4 {}", crc_hex(b"data")));
    assert_eq!(std::fs::read(server.path("b.txt")).unwrap(), b"data");

    let refused = second.line();
    assert!(
        refused.starts_with("ERR 503 hooks of this token are busy"),
        "{refused}"
    );
    assert!(!server.path("a2.txt").exists());
    assert!(
        support::temp_files(server.root.path()).len() == 1,
        "the refused upload's temp file is gone (the hanging one's stays)"
    );
    // a's first hook was still hanging all along: no answer yet.
    assert_eq!(hanging.pids().len(), 1, "a's second hook never ran");
    first.stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let peeked = first.stream.peek(&mut byte);
    assert_eq!(
        peeked.map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::WouldBlock),
        "a's first upload was answered before b's"
    );
    first.stream.set_nonblocking(false).unwrap();
    hanging.kill_all();
    assert!(first.line().starts_with("ERR 403 "));
}

/// A resumable upload the before-commit hook refuses goes with its staged
/// bytes, and so do they from the quotas' counts: a folder refused no
/// further write for bytes no longer there. Before, they stayed counted
/// until a recount (`DF` told 50,000 bytes used of an empty folder).
#[test]
fn a_refused_sessions_bytes_leave_the_quotas_counts() {
    let hook = HookDir::new();
    let command = hook.script("veto.sh", VETO);
    let server = TestServer::start_with(|config| {
        hooks(|h| h.before_commit = Some(command))(config);
        config.quotas = vec![ferry::access::quota::FolderQuota::parse("box/=60000").unwrap()];
    });
    // A folder kept (FERRY/1's folders go once empty), of no bytes.
    std::fs::create_dir(server.path("box")).unwrap();
    std::fs::write(server.path("box/keep"), b"").unwrap();
    let mut raw = server.raw();
    let data = pattern(50_000, 8);
    let (id, _) = upload(&mut raw, "box/no.bin", &data);
    assert_eq!(append(&mut raw, &id, 0, &data), "OK 50000");
    raw.send(format!("COMMIT {id}\n"));
    assert_eq!(raw.line(), "ERR 403 refused by the before-commit hook");
    raw.send("DF box\n");
    let told = raw.line();
    assert!(told.starts_with("OK 60000 0 "), "{told}");
    // Room for another as big.
    raw.send(format!("UPLOAD box/again.bin 50000 {}\n", crc_hex(&data)));
    let begun = raw.line();
    assert!(begun.starts_with("OK "), "{begun}");
}
