//! The history test (issue 75; STYLE.md item 19): many clients at once,
//! through FERRY/1 (PUT, UPLOAD + APPEND + COMMIT, DEL), HTTP (PUT with a
//! length and chunked, DELETE), FTP (STOR) and WebDAV (exclusive LOCK and
//! UNLOCK), on one node and on two nodes sharing one root, every request
//! and answer recorded; then a checker proves what the shared state
//! promises, whatever ran beside what:
//!
//! - the quota'd folder's ledger never passes its quota (sampled all
//!   along through DF), and once everything has ended it equals the files
//!   on the disk, bytes and files, with no session or temp file left;
//! - every file left holds the bytes of an upload of its name that was
//!   acknowledged: never a refused one's, never a mix;
//! - no two clients ever held an exclusive lock on one name at once (a
//!   grant's answer to the UNLOCK sent: a span the lock surely covered).
//!
//! `cargo test` runs a few seconds of it (`FERRY_HISTORY_OPS` per client
//! for a longer run, `FERRY_HISTORY_SEED` to replay one). The races it
//! finds stay as named tests in `tests/storage/races.rs`.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ferry::access::quota::FolderQuota;
use ferry::config::Config;
use support::http::{exchange, exchange_chunked};
use support::{Raw, TestServer, crc_hex, pattern};

/// The quota'd folder's limits.
const QUOTA_BYTES: u64 = 200_000;
const QUOTA_FILES: u64 = 6;
/// The names uploads and deletes take (more than the file limit).
const NAMES: usize = 4;
/// Names locked exclusively.
const LOCKED: &[&str] = &["l/a", "l/b"];
const CLIENTS: u64 = 8;
const HOST: &str = "Host: localhost\r\n";

/// One node's addresses.
#[derive(Clone, Copy)]
struct Node {
    ferry: SocketAddr,
    http: SocketAddr,
    ftp: SocketAddr,
}

/// What the history recorded.
#[derive(Default)]
struct History {
    /// Per name, the CRC-32Cs of the uploads acknowledged.
    acknowledged: BTreeMap<String, BTreeSet<String>>,
    /// Per locked name, the spans its exclusive locks surely covered.
    held: BTreeMap<String, Vec<(Instant, Instant, u64)>>,
    /// Requests answered, by what they came to.
    answers: BTreeMap<String, u64>,
}

/// A little generator: the same seed, the same history of requests.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn quota(config: &mut Config) {
    support::listen_http(config);
    support::listen_ftp(config);
    let limit = format!("q/={QUOTA_BYTES},files={QUOTA_FILES}");
    config.quotas = vec![FolderQuota::parse(&limit).unwrap()];
}

fn node(server: &TestServer) -> Node {
    Node {
        ferry: server.addr,
        http: server.http.unwrap(),
        ftp: server.ftp.unwrap(),
    }
}

#[test]
fn a_concurrent_history_on_one_node_keeps_every_promise() {
    let server = TestServer::start_with(quota);
    run(&server, &[node(&server)]);
}

#[test]
fn a_concurrent_history_on_two_nodes_of_one_root_keeps_every_promise() {
    let first = TestServer::start_with(quota);
    let root = first.root.path().to_path_buf();
    let second = TestServer::start_with(move |config| {
        quota(config);
        config.root = root;
        config.node_id = "second".to_owned();
    });
    run(&first, &[node(&first), node(&second)]);
}

/// Runs the clients against `nodes` (on `server`'s root), then checks.
fn run(server: &TestServer, nodes: &[Node]) {
    // A file nobody deletes keeps the folder there for DF (a FERRY/1
    // DEL of the last file would prune it).
    assert!(ferry_put(nodes[0].ferry, "q/keep", b"k"));
    std::fs::create_dir_all(server.path("l")).unwrap();
    for name in LOCKED {
        std::fs::write(server.path(name), b"locked").unwrap();
    }
    let seed = env("FERRY_HISTORY_SEED", 0x5eed_f00d);
    let ops = env("FERRY_HISTORY_OPS", 60);
    eprintln!("history: seed {seed:#x}, {CLIENTS} clients x {ops} requests");
    let mut begun = History::default();
    begun
        .acknowledged
        .insert("q/keep".into(), [crc_hex(b"k")].into());
    let history = Arc::new(Mutex::new(begun));
    let done = Arc::new(AtomicBool::new(false));
    let monitor = {
        let (done, ferry) = (Arc::clone(&done), nodes[0].ferry);
        std::thread::spawn(move || watch_ledger(&done, ferry))
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (history, nodes) = (Arc::clone(&history), nodes.to_vec());
            let seed = seed ^ (client + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            std::thread::spawn(move || {
                let mut rng = Rng(seed | 1);
                for op in 0..ops {
                    let at = nodes[rng.below(nodes.len() as u64) as usize];
                    step(&mut rng, at, (client, op), &history);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let samples = monitor.join().unwrap();
    let history = history.lock().unwrap();
    eprintln!("history: {:?}; {samples} ledger samples", history.answers);
    check(server, &history);
}

/// One request, chosen by `rng`, by `client` through `node`, recorded.
fn step(rng: &mut Rng, node: Node, (client, op): (u64, u64), history: &Mutex<History>) {
    let name = format!("q/n{}", rng.below(NAMES as u64));
    let body = pattern(1 + rng.below(60_000) as usize, client * 10_000 + op);
    let (kind, stored) = match rng.below(9) {
        0 | 1 => ("ferry put", ferry_put(node.ferry, &name, &body)),
        2 => ("ferry session", ferry_session(node.ferry, &name, &body)),
        3 => {
            let put = exchange(node.http, "PUT", &format!("/{name}"), HOST, &body);
            ("http put", matches!(put.status, 201 | 204))
        }
        4 => {
            let target = format!("/{name}");
            let put = exchange_chunked(node.http, ("PUT", &target), HOST, &body, 16 << 10);
            ("http chunked put", matches!(put.status, 201 | 204))
        }
        5 => ("ftp stor", ftp_stor(node.ftp, &name, &body)),
        6 => {
            let mut raw = greeted(node.ferry);
            raw.send(format!("DEL {name}\n"));
            let answer = raw.line();
            record(history, "ferry del", answer == "OK");
            return;
        }
        _ => {
            let locked = LOCKED[rng.below(LOCKED.len() as u64) as usize];
            lock_and_unlock(node.http, locked, client, history);
            return;
        }
    };
    record(history, kind, stored);
    if stored {
        let mut history = history.lock().unwrap();
        let crcs = history.acknowledged.entry(name).or_default();
        crcs.insert(crc_hex(&body));
    }
}

fn record(history: &Mutex<History>, kind: &str, ok: bool) {
    let outcome = format!("{kind} {}", if ok { "ok" } else { "refused" });
    *history.lock().unwrap().answers.entry(outcome).or_default() += 1;
}

/// A FERRY/1 PUT: whether it was acknowledged (else a refusal for the
/// quota: anything else fails the test).
fn ferry_put(addr: SocketAddr, name: &str, body: &[u8]) -> bool {
    let mut raw = greeted(addr);
    raw.send(format!("PUT {name} {}\n", body.len()));
    raw.send(body);
    judged(&raw.line(), "PUT")
}

/// An UPLOAD, its bytes in one APPEND, a COMMIT; aborted where refused.
fn ferry_session(addr: SocketAddr, name: &str, body: &[u8]) -> bool {
    let mut raw = greeted(addr);
    raw.send(format!("UPLOAD {name} {} {}\n", body.len(), crc_hex(body)));
    let begun = raw.line();
    let Some(id) = begun
        .strip_prefix("OK ")
        .and_then(|rest| rest.split(' ').next())
    else {
        return judged(&begun, "UPLOAD");
    };
    let id = id.to_owned();
    let appended = support::append(&mut raw, &id, 0, body);
    if !judged(&appended, "APPEND") {
        raw.send(format!("ABORT {id}\n"));
        assert_eq!(raw.line(), "OK");
        return false;
    }
    raw.send(format!("COMMIT {id}\n"));
    let committed = raw.line();
    if !judged(&committed, "COMMIT") {
        // Refused at its commit, it stays resumable: this client gives up.
        raw.send(format!("ABORT {id}\n"));
        assert_eq!(raw.line(), "OK");
        return false;
    }
    true
}

/// A FERRY/1 connection to `addr`, its greeting read.
fn greeted(addr: SocketAddr) -> Raw {
    let mut raw = Raw::connect(addr);
    let greeting = raw.line();
    assert!(greeting.starts_with("OK FERRY/1 "), "{greeting}");
    raw
}

/// Whether a FERRY/1 answer acknowledged; a refusal must be the quota's.
fn judged(answer: &str, asked: &str) -> bool {
    if answer.starts_with("OK") {
        return true;
    }
    assert!(answer.starts_with("ERR 507 quota"), "{asked}: {answer}");
    false
}

/// An FTP STOR (no access control: any password).
fn ftp_stor(addr: SocketAddr, name: &str, body: &[u8]) -> bool {
    let mut raw = support::ftp::connect_to(addr);
    support::ftp::log_in(&mut raw, "me", "x");
    let (began, ended) = support::ftp::store(&mut raw, name, body);
    let answer = if began.starts_with("150 ") {
        ended
    } else {
        began
    };
    if answer.starts_with("226 ") {
        return true;
    }
    assert!(answer.starts_with("552 quota"), "{answer}");
    false
}

/// An exclusive LOCK of `name`; if granted, its span, then its UNLOCK.
fn lock_and_unlock(http: SocketAddr, name: &str, client: u64, history: &Mutex<History>) {
    let body = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>";
    let target = format!("/{name}");
    let headers = format!("{HOST}Timeout: Second-60\r\n");
    let granted = exchange(http, "LOCK", &target, &headers, body.as_bytes());
    if granted.status != 201 && granted.status != 200 {
        assert_eq!(granted.status, 423, "{}", granted.head);
        record(history, "lock", false);
        return;
    }
    let from = Instant::now();
    let token = granted.header("Lock-Token").unwrap().to_owned();
    let to = Instant::now();
    let headers = format!("{HOST}Lock-Token: {token}\r\n");
    let unlock = exchange(http, "UNLOCK", &target, &headers, b"");
    assert_eq!(unlock.status, 204, "{}", unlock.head);
    record(history, "lock", true);
    let mut history = history.lock().unwrap();
    let spans = history.held.entry(name.to_owned()).or_default();
    spans.push((from, to, client));
}

/// Samples the quota'd folder's ledger (DF) until `done`: it never holds
/// more than the quota. Returns how many samples were taken.
fn watch_ledger(done: &AtomicBool, ferry: SocketAddr) -> u64 {
    let mut raw = greeted(ferry);
    let mut samples = 0;
    while !done.load(Ordering::Relaxed) {
        let [_, used, _, files] = df(&mut raw);
        assert!(used <= QUOTA_BYTES, "the ledger holds {used} bytes");
        assert!(files <= QUOTA_FILES, "the ledger holds {files} files");
        samples += 1;
        // Paced, not synchronised: a sample a millisecond is plenty.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    samples
}

fn df(raw: &mut Raw) -> [u64; 4] {
    raw.send("DF q\n");
    let line = raw.line();
    let fields = line.strip_prefix("OK ").unwrap_or_else(|| panic!("{line}"));
    let numbers = fields
        .split(' ')
        .map(|n| n.parse().unwrap_or_else(|_| panic!("{line}")));
    numbers.collect::<Vec<u64>>().try_into().unwrap()
}

/// The checks once everything has ended (see the module's header).
fn check(server: &TestServer, history: &History) {
    let mut bytes = 0;
    let mut files = 0;
    for entry in std::fs::read_dir(server.path("q")).unwrap() {
        let entry = entry.unwrap();
        let name = format!("q/{}", entry.file_name().to_string_lossy());
        let data = std::fs::read(entry.path()).unwrap();
        let acknowledged = history.acknowledged.get(&name);
        assert!(
            acknowledged.is_some_and(|crcs| crcs.contains(&crc_hex(&data))),
            "{name} holds bytes no acknowledged upload sent"
        );
        bytes += data.len() as u64;
        files += 1;
    }
    assert!(bytes <= QUOTA_BYTES && files <= QUOTA_FILES);
    let [_, used, _, counted] = df(&mut server.raw());
    assert_eq!(
        (used, counted),
        (bytes, files),
        "the ledger against the disk"
    );
    assert!(support::temp_files(server.root.path()).is_empty());
    let mut raw = server.raw();
    raw.send("SESSIONS\n");
    assert_eq!(raw.line(), "OK 0", "sessions left");
    for (name, spans) in &history.held {
        let mut spans = spans.clone();
        spans.sort();
        for pair in spans.windows(2) {
            let ((_, ended, one), (began, _, other)) = (pair[0], pair[1]);
            assert!(
                began >= ended,
                "clients {one} and {other} held exclusive locks on {name} at once"
            );
        }
    }
}
