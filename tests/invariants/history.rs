//! The history test (issue 75; STYLE.md item 19): many clients at once,
//! through FERRY/1 (PUT, UPLOAD + APPEND + COMMIT, DEL), HTTP (PUT with a
//! length and chunked, DELETE), tus (creation, PATCH, termination where
//! refused), S3 (PutObject, signed with each token's key), FTP (STOR),
//! SFTP (a file put whole: OPEN, WRITEs, CLOSE, over one `ssh -s sftp`
//! session per client and node, the token its password; FERRY/1's puts
//! instead where OpenSSH's `ssh` is missing)
//! and WebDAV (exclusive LOCK and UNLOCK), on one
//! node and on two nodes sharing one root, writing with
//! two tokens that each have a quota of their own beside the folder's,
//! every request and answer recorded; then a checker proves what the
//! shared state promises, whatever ran beside what:
//!
//! - no account (the quota'd folder's, each token's) ever passes its
//!   quota in the ledger (sampled all along through DF), and once
//!   everything has ended each equals its files on the disk (a token's:
//!   those whose owner it is) and the bytes of uploads kept for a
//!   `reput` (an SFTP put whose close was refused, by a lock say), bytes
//!   and files, through every node, with no other session or temp file
//!   left;
//! - every file left holds the bytes of an upload of its name that was
//!   acknowledged (SFTP's: its `CLOSE` answered `OK`): never a refused
//!   one's, never a mix;
//! - no two clients ever held an exclusive lock on one name at once (a
//!   grant's answer to the UNLOCK sent: a span the lock surely covered).
//!
//! `cargo test` runs a few seconds of it (`FERRY_HISTORY_OPS` per client
//! for a longer run, `FERRY_HISTORY_SEED` to replay one). The races it
//! finds stay as named tests in `tests/storage/races.rs`.
//!
//! On the cluster recipe (three nodes on JuiceFS, `deploy/cluster/
//! history.sh`, which `.ci/run` runs where JuiceFS installs) the same
//! clients run with faults injected along the way (`FERRY_HISTORY_FAULTS`:
//! nodes killed and started again, Redis paused). A request cut by a fault has an unknown outcome: its bytes
//! may be on the disk or not, never anything else. Once the faults are
//! healed (`FERRY_HISTORY_HEAL`: the cluster whole again, a node
//! restarted, which recounts), the same checks hold.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry::access::AccessConfig;
use ferry::access::quota::{FolderQuota, Quota};
use ferry::access::tokens::{S3Key, TokensFile};
use ferry::config::Config;
use support::http::{exchange, exchange_chunked};
#[cfg(feature = "s3")]
use support::s3::Signer;
use support::{Raw, TestServer, crc_hex, pattern};

/// The quota'd folder's limits.
const QUOTA_BYTES: u64 = 200_000;
const QUOTA_FILES: u64 = 6;
/// Each writing token's own limits (two of them: together past the
/// folder's).
const TOKEN_BYTES: u64 = 120_000;
const TOKEN_FILES: u64 = 4;
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
    /// Its FTP listener (the cluster recipe's nodes: on their own
    /// loopback address, their passive data through the balancer).
    ftp: Option<SocketAddr>,
    /// Its S3 listener.
    s3: Option<SocketAddr>,
    /// Its SFTP listener, where OpenSSH's `ssh` is here to use it.
    sftp: Option<SocketAddr>,
    /// Faults are injected: a request that fails in any way (a refused
    /// connection, a reset, a 5xx, a timeout) has an unknown outcome.
    faulty: bool,
}

/// Where a history runs: its nodes, the root they share (read directly
/// by the checker), the faults injected along the way and what heals
/// them once the clients have ended.
struct Target {
    nodes: Vec<Node>,
    root: PathBuf,
    tokens: Tokens,
    faults: Vec<String>,
    heal: Option<String>,
}

/// The tokens the clients hold: two writers, each with its own quota
/// (the folder's they share), and a watcher that only reads, whose DF of
/// the folder tells the folder's account (a writer's tells the tighter of
/// its own and the folder's).
#[derive(Clone)]
struct Tokens {
    /// Each writer's name and token.
    writers: Vec<(String, String)>,
    /// Each writer's S3 key, in the same order.
    keys: Vec<Signer>,
    watcher: String,
}

/// Writes the tokens file of [`Tokens`] into `dir`.
fn tokens_in(dir: &Path) -> (PathBuf, Tokens) {
    let write: &[&str] = &["read:/", "write:/", "delete:/"];
    let holders = [("t0", write), ("t1", write), ("watch", &["read:/"][..])];
    let (path, tokens) = support::tokens::tokens_in(dir, &holders);
    let mut file = TokensFile::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let limit = Quota::parse(&format!("{TOKEN_BYTES},files={TOKEN_FILES}")).unwrap();
    let mut keys = Vec::new();
    for writer in &mut file.entries[..2] {
        writer.quota = Some(limit);
        let key = S3Key::new().unwrap();
        keys.push(Signer::new(&key.id, &key.secret));
        writer.s3 = Some(key);
    }
    std::fs::write(&path, file.render()).unwrap();
    let writers = ["t0", "t1"].iter().zip(&tokens);
    let writers = writers.map(|(name, token)| (name.to_string(), token.clone()));
    let tokens = Tokens {
        writers: writers.collect(),
        keys,
        watcher: tokens[2].clone(),
    };
    (path, tokens)
}

/// What the history recorded.
#[derive(Default)]
struct History {
    /// Per name, the CRC-32Cs of the uploads acknowledged.
    acknowledged: BTreeMap<String, BTreeSet<String>>,
    /// Per name, the CRC-32Cs of uploads a fault cut: on the disk or not.
    unknown: BTreeMap<String, BTreeSet<String>>,
    /// Per locked name, the spans its exclusive locks surely covered.
    held: BTreeMap<String, Vec<(Instant, Instant, u64)>>,
    /// Requests answered, by what they came to.
    answers: BTreeMap<String, u64>,
    /// Per token and name, the uploads being made and how many have
    /// begun: whether an SFTP put ran beside another upload of the name by
    /// its token (see [`Sftp::put`]).
    writing: BTreeMap<(String, String), (u64, u64)>,
}

/// A little generator: the same seed, the same history of requests.
struct Rng(u64);

impl Rng {
    /// Client `client`'s generator for the run `seed`: the two mixed
    /// (SplitMix64's finalizer), so that every bit of the seed tells (an
    /// odd number made of `seed` alone made seeds 2 and 3 one history),
    /// and never 0, where xorshift would stay.
    fn of_client(seed: u64, client: u64) -> Rng {
        let mut mixed = seed ^ (client + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((mixed ^ (mixed >> 31)).max(1))
    }

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

/// The folder's quota, and access control by the tokens file `tokens`.
fn quota(config: &mut Config, tokens: &Path) {
    support::listen_http(config);
    support::listen_ftp(config);
    config.listen(ferry::wire::Protocol::S3, "127.0.0.1:0".parse().unwrap());
    #[cfg(feature = "sftp")]
    support::listen_sftp(config);
    let limit = format!("q/={QUOTA_BYTES},files={QUOTA_FILES}");
    config.quotas = vec![FolderQuota::parse(&limit).unwrap()];
    config.access = AccessConfig {
        tokens: Some(tokens.to_path_buf()),
        anonymous: Vec::new(),
        no_auth: false,
    };
}

/// `server`'s addresses (its SFTP listener's where `ssh` is here).
fn node(server: &TestServer, ssh: bool) -> Node {
    Node {
        ferry: server.addr,
        http: server.http.unwrap(),
        ftp: server.ftp,
        s3: server.s3,
        sftp: server.sftp.filter(|_| ssh),
        faulty: false,
    }
}

/// Test servers of this process on `first`'s root.
fn servers(first: &TestServer, nodes: &[&TestServer], tokens: Tokens) -> Target {
    // Without OpenSSH's `ssh` (said), the SFTP puts are FERRY/1's.
    let ssh = support::sftp::have_openssh();
    Target {
        nodes: nodes.iter().map(|server| node(server, ssh)).collect(),
        root: first.root.path().to_path_buf(),
        tokens,
        faults: Vec::new(),
        heal: None,
    }
}

#[test]
fn a_concurrent_history_on_one_node_keeps_every_promise() {
    let dir = tempfile::tempdir().unwrap();
    let (file, tokens) = tokens_in(dir.path());
    let server = TestServer::start_with(|config| quota(config, &file));
    run(&servers(&server, &[&server], tokens));
}

#[test]
fn a_concurrent_history_on_two_nodes_of_one_root_keeps_every_promise() {
    let dir = tempfile::tempdir().unwrap();
    let (file, tokens) = tokens_in(dir.path());
    let first = TestServer::start_with(|config| quota(config, &file));
    let root = first.root.path().to_path_buf();
    let second = TestServer::start_with(|config| {
        quota(config, &file);
        config.root = root;
        config.node_id = "second".to_owned();
    });
    run(&servers(&first, &[&first, &second], tokens));
}

/// The cluster recipe's nodes, with faults or without (see the module's
/// header): `FERRY_HISTORY_CLUSTER` names its state folder (`cluster.sh`'s
/// `FERRY_CLUSTER_DIR`), whose nodes serve with the quota of [`quota`]
/// and the tokens of [`Tokens`] (`FERRY_HISTORY_TOKENS`: t0's, t1's and
/// the watcher's, in that order).
#[test]
fn a_concurrent_history_on_the_cluster_keeps_every_promise() {
    let Some(state) = std::env::var_os("FERRY_HISTORY_CLUSTER") else {
        eprintln!(
            "skipped: no cluster (deploy/cluster/history.sh runs this test on three nodes of the cluster recipe, with faults)"
        );
        return;
    };
    // A request a fault cut panics in its client: a line, not a trace.
    std::panic::set_hook(Box::new(|panic| {
        let message = panic.payload_as_str().unwrap_or("");
        let at = panic.location().map(|at| at.line()).unwrap_or(0);
        eprintln!("history: failed at line {at}: {message}");
    }));
    run(&cluster(Path::new(&state)));
}

/// The nodes `<state>/cluster.env` lists, on node 1's mount of the root.
fn cluster(state: &Path) -> Target {
    let env = std::fs::read_to_string(state.join("cluster.env")).unwrap();
    let value = |key: &str| {
        env.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key} in cluster.env"))
            .to_owned()
    };
    let port = |key: &str| SocketAddr::from(([127, 0, 0, 1], value(key).parse().unwrap()));
    let ftp = |k: u64| {
        let ip: std::net::IpAddr = value(&format!("NODE{k}_IP")).parse().unwrap();
        SocketAddr::new(ip, value(&format!("NODE{k}_FTP")).parse().unwrap())
    };
    let nodes: u64 = value("NODES").parse().unwrap();
    let lines = |name: &str| {
        let text = std::env::var(name).unwrap_or_default();
        let lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
        lines.map(str::to_owned).collect::<Vec<_>>()
    };
    let faults = lines("FERRY_HISTORY_FAULTS");
    let tokens = std::env::var("FERRY_HISTORY_TOKENS").expect("FERRY_HISTORY_TOKENS");
    let tokens: Vec<&str> = tokens.split_whitespace().collect();
    let [t0, t1, watcher] = tokens[..] else {
        panic!("FERRY_HISTORY_TOKENS: three tokens, not {tokens:?}");
    };
    // The writers' S3 keys, `ID:SECRET` each, in the same order.
    let keys = std::env::var("FERRY_HISTORY_S3_KEYS").expect("FERRY_HISTORY_S3_KEYS");
    let keys = keys.split_whitespace().map(|key| {
        let (id, secret) = key
            .split_once(':')
            .expect("FERRY_HISTORY_S3_KEYS: ID:SECRET");
        Signer::new(id, secret)
    });
    Target {
        nodes: (1..=nodes)
            .map(|k| Node {
                ferry: port(&format!("NODE{k}_PORT")),
                http: port(&format!("NODE{k}_HTTP")),
                ftp: Some(ftp(k)),
                s3: Some(port(&format!("NODE{k}_S3"))),
                // The cluster recipe serves no SFTP.
                sftp: None,
                faulty: !faults.is_empty(),
            })
            .collect(),
        root: state.join("mnt/node1/data"),
        tokens: Tokens {
            writers: vec![("t0".into(), t0.into()), ("t1".into(), t1.into())],
            keys: keys.collect(),
            watcher: watcher.into(),
        },
        faults,
        heal: lines("FERRY_HISTORY_HEAL").pop(),
    }
}

/// Runs a shell command of the cluster's (a fault, a heal); it must work.
fn shell(command: &str) {
    eprintln!("history: {command}");
    let status = std::process::Command::new("sh")
        .args(["-c", command])
        .status()
        .unwrap();
    assert!(status.success(), "{command}: {status}");
}

/// Runs the clients against the target's nodes, then checks.
fn run(target: &Target) {
    let nodes = &target.nodes;
    let writers = &target.tokens.writers;
    // A file nobody deletes keeps the folder there for DF (a FERRY/1
    // DEL of the last file would prune it); what a run before left (on
    // the cluster) is deleted through the server, so that it counts.
    let first = (nodes[0].ferry, writers[0].1.as_str());
    let left = std::fs::read_dir(target.root.join("q"))
        .into_iter()
        .flatten();
    for name in left.map(|entry| entry.unwrap().file_name()) {
        let name = name.to_string_lossy();
        if name != "keep" {
            let mut raw = greeted(first);
            raw.send(format!("DEL q/{name}\n"));
            assert_eq!(raw.line(), "OK");
        }
    }
    assert!(ferry_put(first, "q/keep", b"k"));
    std::fs::create_dir_all(target.root.join("l")).unwrap();
    for name in LOCKED {
        std::fs::write(target.root.join(name), b"locked").unwrap();
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
        let (done, node, tokens) = (Arc::clone(&done), nodes[0], target.tokens.clone());
        std::thread::spawn(move || watch_ledger(&done, node, &tokens))
    };
    let faults = Faults::inject(&target.faults, CLIENTS * ops);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (history, nodes) = (Arc::clone(&history), nodes.to_vec());
            let faults = Arc::clone(&faults);
            // Half the clients write with each token.
            let token = writers[(client % 2) as usize].1.clone();
            let key = target.tokens.keys[(client % 2) as usize].clone();
            std::thread::spawn(move || {
                let mut rng = Rng::of_client(seed, client);
                // Its SFTP session with each node, begun at its first put.
                let mut sftp: Vec<Option<Sftp>> = nodes
                    .iter()
                    .map(|node| node.sftp.map(|addr| Sftp::at(addr, &token)))
                    .collect();
                // Until the client's requests are made and every fault
                // has been injected among requests.
                let mut op = 0;
                while op < ops || !faults.injected() {
                    let k = rng.below(nodes.len() as u64) as usize;
                    let (at, sftp) = (nodes[k], sftp[k].as_mut());
                    step(&mut rng, (at, &token, &key, sftp), (client, op), &history);
                    faults.made.fetch_add(1, Ordering::Relaxed);
                    op += 1;
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
    if let Some(heal) = &target.heal {
        abort_sessions_left((nodes[0].ferry, &writers[0].1), &history);
        ledger_covers_the_disk(target);
        shell(heal);
    }
    check(target, &history);
}

/// Faults injected among the clients' requests: each command once a
/// further share of the requests has been made, one after another.
struct Faults {
    /// Requests made so far, by all clients.
    made: AtomicU64,
    left: AtomicU64,
}

impl Faults {
    fn inject(commands: &[String], requests: u64) -> Arc<Faults> {
        let faults = Arc::new(Faults {
            made: AtomicU64::new(0),
            left: AtomicU64::new(commands.len() as u64),
        });
        let (injector, commands) = (Arc::clone(&faults), commands.to_vec());
        let every = requests / (commands.len() as u64 + 1);
        std::thread::spawn(move || {
            for (k, command) in (1..).zip(&commands) {
                // Paced by the clients' progress, a poll a few ms.
                while injector.made.load(Ordering::Relaxed) < k * every {
                    std::thread::sleep(Duration::from_millis(5));
                }
                shell(command);
                injector.left.fetch_sub(1, Ordering::Relaxed);
            }
        });
        faults
    }

    fn injected(&self) -> bool {
        self.left.load(Ordering::Relaxed) == 0
    }
}

/// One request, chosen by `rng`, by `client` with `token` through
/// `node`, recorded.
fn step(
    rng: &mut Rng,
    (node, token, key, sftp): (Node, &str, &Signer, Option<&mut Sftp>),
    (client, op): (u64, u64),
    history: &Mutex<History>,
) {
    let head = format!("{HOST}Authorization: Bearer {token}\r\n");
    let name = format!("q/n{}", rng.below(NAMES as u64));
    let body = pattern(1 + rng.below(60_000) as usize, client * 10_000 + op);
    let choice = rng.below(12);
    let locked = LOCKED[rng.below(LOCKED.len() as u64) as usize];
    // A lock is held a while, as a client's is (an editor's, davfs2's
    // upload): a second grant of it through another node then overlaps
    // the first, where one an instant long would seldom be seen.
    let hold = Duration::from_millis(5 + rng.below(46));
    let past_quota = rng.below(4) == 0;
    let at = (node.ferry, token);
    let request = || match (choice, node.ftp, sftp) {
        (0 | 1, _, _) | (5, None, _) | (8, _, None) => {
            Some(("ferry put", Ok(ferry_put(at, &name, &body))))
        }
        (2, _, _) => Some(("ferry session", Ok(ferry_session(at, &name, &body)))),
        (3, _, _) => {
            let put = exchange(node.http, "PUT", &format!("/{name}"), &head, &body);
            Some(("http put", Ok(acknowledged(put.status, &put.head))))
        }
        (4, _, _) if past_quota => {
            let refused = chunked_past_quota((node.http, &head), &name, client * 10_000 + op);
            Some(("http chunked put past its quota", Ok(refused)))
        }
        (4, _, _) => {
            let target = format!("/{name}");
            let put = exchange_chunked(node.http, ("PUT", &target), &head, &body, 16 << 10);
            Some(("http chunked put", Ok(acknowledged(put.status, &put.head))))
        }
        (5, Some(ftp), _) => Some(("ftp stor", Ok(ftp_stor((ftp, token), &name, &body)))),
        (6, _, _) => Some(("tus", Ok(tus_upload((node.http, &head), &name, &body)))),
        (7, _, _) => Some(("s3 put", Ok(s3_put((node.s3, key), &name, &body)))),
        (8, _, Some(sftp)) => Some(("sftp put", sftp.put(&name, &body))),
        (9, _, _) => {
            let mut raw = greeted(at);
            raw.send(format!("DEL {name}\n"));
            let answer = raw.line();
            record(
                history,
                "ferry del",
                if answer == "OK" { "ok" } else { "refused" },
            );
            None
        }
        _ => {
            lock_and_unlock((node.http, &head), (locked, hold), client, history);
            None
        }
    };
    let key = (token.to_owned(), name.clone());
    let begun = {
        let mut history = history.lock().unwrap();
        let writing = history.writing.entry(key.clone()).or_default();
        *writing = (writing.0 + 1, writing.1 + 1);
        *writing
    };
    let outcome = match node.faulty {
        // Whatever failed, a fault may have cut it: its outcome is unknown.
        true => catch_unwind(AssertUnwindSafe(request)).map_err(|_| choice),
        false => Ok(request()),
    };
    let beside = {
        let mut history = history.lock().unwrap();
        let writing = history.writing.get_mut(&key).unwrap();
        writing.0 -= 1;
        begun.0 > 1 || writing.1 != begun.1
    };
    // An SFTP put refused otherwise than for the quota: only where it
    // ran beside another upload of the name by its token.
    let outcome = outcome.map(|answer| match answer {
        Some(("sftp put", Err(put))) => {
            assert!(beside, "an SFTP put of {name} refused, alone: {put:?}");
            Some(("sftp put in a race", Ok(false)))
        }
        answer => answer,
    });
    let outcome = outcome.map(|answer| answer.map(|(kind, stored)| (kind, stored.unwrap())));
    let (kind, stored) = match outcome {
        Ok(Some((kind, stored))) => (kind, Some(stored)),
        Ok(None) => return,
        Err(2) => ("ferry session", None),
        Err(0..=8) => ("upload", None),
        Err(9) => ("ferry del", None),
        Err(_) => ("lock", None),
    };
    let mut history = history.lock().unwrap();
    *history
        .answers
        .entry(format!("{kind} {}", said(stored)))
        .or_default() += 1;
    let seen = match stored {
        Some(true) => &mut history.acknowledged,
        Some(false) => return,
        None if choice <= 8 => &mut history.unknown,
        None => return,
    };
    seen.entry(name).or_default().insert(crc_hex(&body));
}

/// An outcome as the history counts it.
fn said(stored: Option<bool>) -> &'static str {
    match stored {
        Some(true) => "ok",
        Some(false) => "refused",
        None => "unknown",
    }
}

fn record(history: &Mutex<History>, kind: &str, outcome: &str) {
    let outcome = format!("{kind} {outcome}");
    *history.lock().unwrap().answers.entry(outcome).or_default() += 1;
}

/// Whether an HTTP upload was acknowledged (else refused for the quota:
/// anything else fails the test).
fn acknowledged(status: u16, head: &str) -> bool {
    assert!(matches!(status, 201 | 204 | 507), "{head}");
    status != 507
}

/// A FERRY/1 PUT: whether it was acknowledged (else a refusal for the
/// quota: anything else fails the test).
fn ferry_put(at: (SocketAddr, &str), name: &str, body: &[u8]) -> bool {
    let mut raw = greeted(at);
    raw.send(format!("PUT {name} {}\n", body.len()));
    raw.send(body);
    judged(&raw.line(), "PUT")
}

/// An UPLOAD, its bytes in one APPEND, a COMMIT; aborted where refused.
fn ferry_session(at: (SocketAddr, &str), name: &str, body: &[u8]) -> bool {
    let mut raw = greeted(at);
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

/// A FERRY/1 connection to `addr`, its greeting read, authenticated by
/// `token`.
fn greeted((addr, token): (SocketAddr, &str)) -> Raw {
    let mut raw = Raw::connect(addr);
    let greeting = raw.line();
    assert!(greeting.starts_with("OK FERRY/1 "), "{greeting}");
    raw.send(format!("AUTH {token}\n"));
    let authed = raw.line();
    assert!(authed.starts_with("OK"), "{authed}");
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

/// An FTP STOR, the token its password.
fn ftp_stor((addr, token): (SocketAddr, &str), name: &str, body: &[u8]) -> bool {
    let mut raw = support::ftp::connect_to(addr);
    support::ftp::log_in(&mut raw, "me", token);
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

/// A client's SFTP session with one node, begun at its first put.
struct Sftp {
    login: support::sftp::Login,
    client: Option<support::sftp::Client>,
}

impl Sftp {
    fn at(addr: SocketAddr, token: &str) -> Sftp {
        Sftp {
            login: support::sftp::Login::with_password(addr, token),
            client: None,
        }
    }

    /// Puts `name` whole (`OPEN` with `TRUNCATE`, `WRITE`s, `CLOSE`):
    /// whether its `CLOSE` acknowledged it (a refusal for the quota:
    /// `false`); any other refusal, for the caller to judge. An SFTP
    /// upload is the token's and the name's, one at a time (docs/sftp.md):
    /// beside another upload of the name by the token, a put may find it
    /// taken over, committed and gone, or being committed, and be refused
    /// (the checks after the run hold either way).
    fn put(&mut self, name: &str, body: &[u8]) -> Result<bool, support::sftp::Put> {
        let client = self.client.get_or_insert_with(|| self.login.client());
        let put = client.put(&format!("/{name}"), body);
        let Some(refusal) = put.first_refusal() else {
            assert!(put.stored(), "{put:?}");
            return Ok(true);
        };
        let quota =
            refusal.code == support::sftp::status::FAILURE && refusal.message.starts_with("quota");
        if quota { Ok(false) } else { Err(put) }
    }
}

/// A tus upload of `name`: created with its length, its bytes in one
/// `PATCH`; terminated where refused (a refusal must be the quota's).
fn tus_upload((http, head): (SocketAddr, &str), name: &str, body: &[u8]) -> bool {
    use base64::Engine as _;
    let (folder, leaf) = name.rsplit_once('/').unwrap();
    let meta = base64::engine::general_purpose::STANDARD.encode(leaf);
    let tus = format!("{head}Tus-Resumable: 1.0.0\r\n");
    let creation = format!(
        "{tus}Upload-Length: {}\r\nUpload-Metadata: filename {meta}\r\n",
        body.len()
    );
    let created = exchange(http, "POST", &format!("/{folder}/"), &creation, b"");
    if created.status == 507 {
        return false;
    }
    assert_eq!(created.status, 201, "{}", created.head);
    let location = created.header("Location").unwrap();
    let upload = match location.find("/.ferry-uploads/") {
        Some(at) => location[at..].to_owned(),
        None => panic!("Location {location}"),
    };
    let patch =
        format!("{tus}Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n");
    let patched = exchange(http, "PATCH", &upload, &patch, body);
    if patched.status == 204 {
        return true;
    }
    assert_eq!(patched.status, 507, "{}", patched.head);
    let gone = exchange(http, "DELETE", &upload, &tus, b"");
    assert_eq!(gone.status, 204, "{}", gone.head);
    false
}

/// Without S3 built in (`--no-default-features`, which compiles this
/// test but runs it not): a key never used.
#[cfg(not(feature = "s3"))]
#[derive(Clone)]
struct Signer;

#[cfg(not(feature = "s3"))]
impl Signer {
    fn new(_id: &str, _secret: &str) -> Signer {
        Signer
    }
}

#[cfg(not(feature = "s3"))]
fn s3_put(_: (Option<SocketAddr>, &Signer), _: &str, _: &[u8]) -> bool {
    unreachable!("the history test runs with S3 built in")
}

/// An S3 PutObject of `name` (its first folder the bucket), signed with
/// `key`: whether it was acknowledged (a refusal must be a quota's).
#[cfg(feature = "s3")]
fn s3_put((s3, key): (Option<SocketAddr>, &Signer), name: &str, body: &[u8]) -> bool {
    let answer = key.simple(
        s3.expect("an S3 listener"),
        "PUT",
        &format!("/{name}"),
        body,
    );
    if answer.status == 200 {
        return true;
    }
    // A quota's refusal is S3's `QuotaExceeded` (403, as MinIO's); the
    // reserve's would be a 507.
    let code = support::s3::code(&answer);
    assert_eq!(
        (answer.status, code.as_str()),
        (403, "QuotaExceeded"),
        "{}",
        answer.head
    );
    false
}

/// A chunked PUT of `name` bigger than a writer's quota (and than the
/// buffer a PUT's bytes gather in before a write), its end held back: it
/// is refused (507) as its bytes are written, each counted before it is
/// made, and never acknowledged (its answer is `false`). Without that
/// count nothing answers it until its end.
fn chunked_past_quota((http, head): (SocketAddr, &str), name: &str, seed: u64) -> bool {
    use std::io::Write;
    let body = pattern(700_000, seed);
    let stream = std::net::TcpStream::connect(http).unwrap();
    let head = format!("PUT /{name} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n{head}\r\n");
    let mut request = head.into_bytes();
    for piece in body.chunks(64 << 10) {
        request.extend(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend(piece);
        request.extend(b"\r\n");
    }
    let mut sending = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = sending.write_all(&request);
    });
    let mut waiting = [rustix::event::PollFd::new(
        &stream,
        rustix::event::PollFlags::IN,
    )];
    let patience = rustix::event::Timespec::try_from(support::PATIENCE).unwrap();
    let ready = rustix::event::poll(&mut waiting, Some(&patience)).unwrap();
    assert_eq!(
        ready, 1,
        "a chunked PUT past its quota, its end held back, was not answered: its bytes must be counted (and refused) as they are written"
    );
    let answer = support::http::Conn::on(stream.try_clone().unwrap()).reply();
    let _ = stream.shutdown(std::net::Shutdown::Both);
    sender.join().unwrap();
    assert_eq!(
        answer.status, 507,
        "a chunked PUT past its quota, its end held back, must be refused as it is written: {}",
        answer.head
    );
    false
}

/// An exclusive LOCK of `name`; if granted, its span, then its UNLOCK.
fn lock_and_unlock(
    (http, head): (SocketAddr, &str),
    (name, hold): (&str, Duration),
    client: u64,
    history: &Mutex<History>,
) {
    let body = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>";
    let target = format!("/{name}");
    let headers = format!("{head}Timeout: Second-60\r\n");
    let granted = exchange(http, "LOCK", &target, &headers, body.as_bytes());
    if granted.status != 201 && granted.status != 200 {
        assert_eq!(granted.status, 423, "{}", granted.head);
        record(history, "lock", "refused");
        return;
    }
    let from = Instant::now();
    let token = granted.header("Lock-Token").unwrap().to_owned();
    std::thread::sleep(hold);
    let to = Instant::now();
    let headers = format!("{head}Lock-Token: {token}\r\n");
    let unlock = exchange(http, "UNLOCK", &target, &headers, b"");
    assert_eq!(unlock.status, 204, "{}", unlock.head);
    record(history, "lock", "ok");
    let mut history = history.lock().unwrap();
    let spans = history.held.entry(name.to_owned()).or_default();
    spans.push((from, to, client));
}

/// An account the history checks: the folder's (asked by the watcher)
/// or a writer's (asked by itself), and its limits.
struct Watched<'a> {
    token: &'a str,
    /// What DF asks: the folder, or the root (a writer's own account).
    folder: &'static str,
    /// Whose files it counts (a writer's), or all the folder's.
    owner: Option<&'a str>,
    limits: (u64, u64),
}

impl Watched<'_> {
    fn all(tokens: &Tokens) -> Vec<Watched<'_>> {
        let folder = Watched {
            token: &tokens.watcher,
            folder: "q",
            owner: None,
            limits: (QUOTA_BYTES, QUOTA_FILES),
        };
        let writers = tokens.writers.iter().map(|(name, token)| Watched {
            token,
            folder: "",
            owner: Some(name),
            limits: (TOKEN_BYTES, TOKEN_FILES),
        });
        std::iter::once(folder).chain(writers).collect()
    }

    fn name(&self) -> String {
        self.owner
            .map_or("folder q/".into(), |owner| format!("token {owner}"))
    }

    /// The bytes of the upload sessions left in `root` that it counts:
    /// its owner's, or those of names in its folder.
    fn staged(&self, root: &Path) -> u64 {
        let counts = |record: &str| {
            let mut lines = record.split(" | ");
            let name = lines.next().unwrap_or("").split(' ').next().unwrap_or("");
            match self.owner {
                Some(owner) => lines.any(|line| line == format!("owner {owner}")),
                None => name.starts_with(&format!("{}/", self.folder)),
            }
        };
        let left = sessions_left(root);
        left.iter()
            .filter(|(record, _)| counts(record))
            .map(|(_, bytes)| bytes)
            .sum()
    }

    /// What the ledger says through `node`: bytes and files.
    fn ledger(&self, raw: &mut Raw) -> (u64, u64) {
        match self.folder {
            "" => raw.send("DF\n"),
            folder => raw.send(format!("DF {folder}\n")),
        }
        let line = raw.line();
        let fields = line.strip_prefix("OK ").unwrap_or_else(|| panic!("{line}"));
        let numbers: Vec<u64> = fields
            .split(' ')
            .map(|n| n.parse().unwrap_or_else(|_| panic!("{line}")))
            .collect();
        (numbers[1], numbers[3])
    }

    /// What its files on the shared disk hold: bytes and files.
    fn on_disk(&self, root: &Path) -> (u64, u64) {
        let mut held = (0, 0);
        for entry in std::fs::read_dir(root.join("q")).unwrap() {
            let path = entry.unwrap().path();
            let mut owner = [0u8; 64];
            let len = rustix::fs::getxattr(&path, "user.ferry.owner", &mut owner).unwrap_or(0);
            if self
                .owner
                .is_none_or(|name| name.as_bytes() == &owner[..len])
            {
                held.0 += std::fs::metadata(&path).unwrap().len();
                held.1 += 1;
            }
        }
        held
    }
}

/// Samples the ledger's accounts (DF) until `done`: none ever holds more
/// than its quota. Returns how many samples were taken. Under faults a
/// sample that fails is skipped, on a new connection.
fn watch_ledger(done: &AtomicBool, node: Node, tokens: &Tokens) -> u64 {
    let watched = Watched::all(tokens);
    let mut raws: Vec<Option<Raw>> = watched.iter().map(|_| None).collect();
    let mut samples = 0;
    while !done.load(Ordering::Relaxed) {
        for (account, raw) in watched.iter().zip(&mut raws) {
            let mut sample =
                || account.ledger(raw.get_or_insert_with(|| greeted((node.ferry, account.token))));
            let sampled = match node.faulty {
                true => catch_unwind(AssertUnwindSafe(sample)).ok(),
                false => Some(sample()),
            };
            let Some((used, files)) = sampled else {
                *raw = None;
                continue;
            };
            let (bytes, most) = account.limits;
            let name = account.name();
            assert!(used <= bytes, "the ledger holds {used} bytes for {name}");
            assert!(files <= most, "the ledger holds {files} files for {name}");
            samples += 1;
        }
        // Paced, not synchronised: a round a millisecond is plenty.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    samples
}

/// Aborts the sessions faults left (resumable, as they should be: a
/// client would resume or abort them), at most one per session cut.
fn abort_sessions_left(at: (SocketAddr, &str), history: &History) {
    let mut raw = greeted(at);
    let lines = sessions(&mut raw);
    let ids: Vec<_> = lines
        .lines()
        .filter_map(|line| line.split(' ').next())
        .collect();
    let cut = history
        .answers
        .get("ferry session unknown")
        .copied()
        .unwrap_or(0);
    assert!(
        ids.len() as u64 <= cut,
        "{} sessions left by {cut} cut",
        ids.len()
    );
    for id in ids {
        raw.send(format!("ABORT {id}\n"));
        assert_eq!(raw.line(), "OK");
    }
}

/// The `SESSIONS` listing's lines.
fn sessions(raw: &mut Raw) -> String {
    raw.send("SESSIONS\n");
    let answer = raw.line();
    let listed = answer
        .strip_prefix("OK ")
        .unwrap_or_else(|| panic!("{answer}"));
    String::from_utf8(raw.bytes(listed.parse().unwrap())).unwrap()
}

/// Before faults are healed by a recount: each account counts at least
/// what the disk holds. A fault may leave it high (bytes counted before
/// they landed, for an upload that died), never low: a ledger that
/// counts less than the disk lets a quota be passed.
fn ledger_covers_the_disk(target: &Target) {
    for account in Watched::all(&target.tokens) {
        let (bytes, files) = account.on_disk(&target.root);
        let at = (target.nodes[0].ferry, account.token);
        let (used, counted) = account.ledger(&mut greeted(at));
        let name = account.name();
        eprintln!(
            "history: before the recount, {name}: the ledger {used} bytes in {counted} files, the disk {bytes} in {files}"
        );
        assert!(
            used >= bytes && counted >= files,
            "{name}: the ledger ({used} bytes, {counted} files) counts less than the disk ({bytes}, {files})"
        );
    }
}

/// The upload sessions left in `root`: each record's lines and its
/// staged bytes (what a ledger that differs from the disk may count).
fn sessions_left(root: &Path) -> Vec<(String, u64)> {
    let Ok(entries) = std::fs::read_dir(root.join(".ferry-uploads")) else {
        return Vec::new();
    };
    let mut left = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "meta") {
            let record = std::fs::read_to_string(&path).unwrap_or_default();
            let staged = std::fs::metadata(path.with_extension("data")).map_or(0, |m| m.len());
            left.push((record.replace('\n', " | "), staged));
        }
    }
    left
}

/// The checks once everything has ended (see the module's header).
fn check(target: &Target, history: &History) {
    for entry in std::fs::read_dir(target.root.join("q")).unwrap() {
        let entry = entry.unwrap();
        let name = format!("q/{}", entry.file_name().to_string_lossy());
        let crc = crc_hex(&std::fs::read(entry.path()).unwrap());
        let sent = |seen: &BTreeMap<String, BTreeSet<String>>| {
            seen.get(&name).is_some_and(|crcs| crcs.contains(&crc))
        };
        assert!(
            sent(&history.acknowledged) || sent(&history.unknown),
            "{name} holds bytes no acknowledged (or cut) upload sent"
        );
    }
    for account in Watched::all(&target.tokens) {
        let (bytes, files) = account.on_disk(&target.root);
        let name = account.name();
        assert!(
            bytes <= account.limits.0 && files <= account.limits.1,
            "{name} past its quota"
        );
        // Every node tells the same usage: the shared ledger's, which
        // counts the bytes of uploads kept (an SFTP put whose close was
        // refused, say by a lock, keeps its bytes for a `reput`).
        let staged = account.staged(&target.root);
        for node in &target.nodes {
            let counted = account.ledger(&mut greeted((node.ferry, account.token)));
            assert_eq!(
                counted,
                (bytes + staged, files),
                "{name}: the ledger through {} against the disk; sessions left: {:?}",
                node.ferry,
                sessions_left(&target.root)
            );
        }
    }
    assert_eq!(support::temp_files(&target.root), Vec::<String>::new());
    let writer = &target.tokens.writers[0].1;
    // No session is left but the uploads kept for a `reput` (an SFTP
    // put whose close was refused keeps its bytes by design).
    let left = sessions(&mut greeted((target.nodes[0].ferry, writer)));
    let records = sessions_left(&target.root);
    let kept: Vec<&str> = records
        .iter()
        .filter(|(record, _)| record.contains(" | meta ferry-kept"))
        .filter_map(|(record, _)| record.split(' ').next())
        .collect();
    for listed in left.lines() {
        let name = listed.rsplit(' ').next().unwrap_or_default();
        assert!(
            kept.contains(&name),
            "session left: {listed}; kept: {records:?}"
        );
    }
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
