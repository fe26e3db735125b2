//! The simulation (issue 77; FoundationDB's, TigerBeetle's VOPR): many
//! clients of the serve layer without a socket or a thread, on the memory
//! store and on a POSIX root, their every move chosen by one seeded
//! generator: when a client asks, when each piece of its bytes arrives,
//! and when each job the serve layer hands the I/O pool runs. Each
//! request goes through the server's own codec (FERRY/1, and WebDAV over
//! HTTP/1.1, tus) and serve layer (`sim_conn.rs`), so requests side by side
//! interleave at every point where a real server would let them: between
//! an APPEND's admission and its bytes, between a PUT's begin and its
//! commit. What each answer teaches the model, and what a client asks
//! next, is `sim_hear.rs`'s.
//!
//! Every other seed's memory store fails a write or a commit now and then
//! (no space, an I/O error: `MemoryStore::inject_faults`), as a disk
//! would. And now and then, in every seed, the server crashes and starts
//! again (`sim_crash.rs`), its clients reconnecting.
//!
//! Checked all along:
//!
//! - no account passes its quota in the ledger (each token's, the
//!   quota'd folder's), after every step;
//! - after every move the files are the model's, byte for byte (new
//!   requests wait until all in flight are answered every few steps,
//!   [`QUIET_EVERY`], so that some runs have many side by side, others
//!   few): the model changes only as answers say, so a refusal or a
//!   failure that changed something (an upload not acknowledged that left
//!   a trace), or a success that did something else, shows;
//! - at each quiet point, and after each restart, the ledger holds what
//!   the files and the sessions' staged bytes add up to, account by
//!   account;
//! - no answer is a server error but where the store failed during its
//!   request (507, a quota's or the disk's, is a refusal);
//! - every request is answered (but where a crash took it).
//!
//! A seed replays exactly on the memory store; on the POSIX root, where
//! caches trust what settled a second ago and the reserve is kept by the
//! clock, it may take another path.
//!
//! A failure names its seed and step, and the last moves: `FERRY_SIM_SEED`
//! runs that seed alone, `FERRY_SIM_STEPS` sets the steps per seed. What
//! it finds when a fix is undone, checked by hand: the WebDAV `MOVE
//! /g/sub/` onto `/g/` with `Overwrite: T` (`serve/invariants.rs`'s
//! ancestor rule off: the tree under `g/` is lost, answered 404), and
//! APPENDs side by side staging past a quota (the memory store's
//! `count_ahead` judging without counting: two APPENDs admitted against
//! the same usage). What it finds of a crash is in `sim_crash.rs`.
#![cfg(all(feature = "webdav", feature = "tus"))] // built with what it tests (Cargo.toml [features])

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use ferry::Config;
use ferry::access::AccessConfig;
use ferry::access::quota::{FolderQuota, Quota};
use ferry::access::tokens::TokensFile;
use ferry::config::PoolWrites;
use ferry::model::Account;
use ferry::serve::Job;
use ferry::storage::memory::MemoryStore;

use super::sim_asks::{Asked, Kind, Rng, dav_move, ferry_request, greeting, tus_create};
use super::sim_conn::{SimConn, files_of};
use super::sim_crash::{CRASH_POINTS, Crashes};
use super::sim_server::Server;
use crate::support;

/// Steps per seed by default (the POSIX root runs half as many).
const STEPS: u64 = 2_500;
/// Seeds run by default, each on each engine: 30,000 steps in all.
const SEEDS: u64 = 8;
/// New requests wait for a quiet point at most this often: seed `n`
/// every `QUIET_EVERY[n % 4]` steps (the fewer quiet points, the more
/// requests side by side).
const QUIET_EVERY: [u64; 4] = [12, 50, 150, 400];
/// The quota'd folder's bytes, and each writer's own.
const FOLDER_BYTES: u64 = 3_000;
const TOKEN_BYTES: u64 = 2_000;
/// The writers' token names: client `at` writes as `WRITERS[at % 2]`.
pub(super) const WRITERS: [&str; 2] = ["w0", "w1"];
/// With faults, one in so many writes and commits fails.
const FAULT_ONE_IN: u64 = 40;
/// FERRY/1 clients (tokens in turn), beside one WebDAV client.
const CLIENTS: usize = 5;

/// A client: its connection, its token, and the request in flight.
pub(super) struct Client {
    pub(super) conn: SimConn,
    pub(super) kind: Kind,
    pub(super) token: String,
    pub(super) to_send: Vec<u8>,
    pub(super) asked: Option<Asked>,
    /// What it asks next, whatever comes (a session's APPENDs, COMMIT).
    pub(super) then: VecDeque<Asked>,
    /// Injected failures fired when it asked.
    pub(super) fired: u64,
    /// The resumable upload it goes on with, as far as acknowledged.
    pub(super) session: Option<Resumable>,
    /// Where the upload it resumes after a crash was acknowledged: the
    /// server must find it there or beyond.
    pub(super) resuming: Option<usize>,
}

/// A resumable upload (a FERRY/1 session, a tus upload) and how far the
/// server acknowledged it.
#[derive(Debug, Clone)]
pub(super) struct Resumable {
    /// Its session id (FERRY/1), or its URL (tus).
    pub(super) id: String,
    pub(super) name: String,
    pub(super) bytes: Vec<u8>,
    pub(super) acked: usize,
}

/// One run: the server, the clients, the model, the generator.
pub(super) struct Sim<'w> {
    pub(super) server: Server<'w>,
    pub(super) rng: Rng,
    pub(super) clients: Vec<Client>,
    pub(super) jobs: Vec<(usize, Job)>,
    /// The files as the answers say they are.
    pub(super) model: BTreeMap<String, Vec<u8>>,
    /// The last moves, for a failure's report.
    moves: VecDeque<String>,
    made: u64,
    label: String,
    /// The memory store that fails now and then, if it does: a server
    /// error is then an answer, where a failure fired during the request.
    pub(super) faults: Option<&'w MemoryStore>,
    /// Successes heard, by what was asked: each kind must have succeeded
    /// somewhere in a test long enough.
    pub(super) successes: BTreeMap<&'static str, u64>,
    /// Where crashes landed (`sim_crash.rs`): each point must have been
    /// crashed at somewhere in a test long enough.
    pub(super) crashes: Crashes,
    /// Connections made since the run began, for their ids.
    pub(super) connections: u64,
}

#[test]
fn clients_side_by_side_keep_the_quotas_and_the_tree_as_answered() {
    let steps = env("FERRY_SIM_STEPS", STEPS);
    let one_seed = std::env::var("FERRY_SIM_SEED").is_ok();
    let seeds: Vec<u64> = match std::env::var("FERRY_SIM_SEED") {
        Ok(seed) => vec![seed.parse().expect("FERRY_SIM_SEED is a number")],
        Err(_) => (0..SEEDS).collect(),
    };
    let dir = tempfile::tempdir().unwrap();
    let (config, tokens) = config_and_tokens(dir.path());
    let mut heard = BTreeSet::new();
    let mut crashed_at = BTreeSet::new();
    for seed in seeds {
        let memory = MemoryStore::new();
        memory.count_usage(&config.quotas, true);
        // Every other seed's disk fails now and then: no space, I/O.
        let faults = seed % 2 == 1;
        if faults {
            memory.inject_faults(seed, FAULT_ONE_IN);
        }
        let server = Server::memory(&memory, &config, dir.path());
        let mut sim = Sim::new(server, seed, &tokens, format!("memory, seed {seed}"));
        sim.faults = faults.then_some(&memory);
        let (successes, crashes) = sim.run(steps, seed);
        heard.extend(successes.into_keys());
        crashed_at.extend(crashes);

        let root = tempfile::tempdir().unwrap();
        let server = Server::posix(root.path(), &config);
        let sim = Sim::new(server, seed, &tokens, format!("posix, seed {seed}"));
        let (successes, crashes) = sim.run(steps / 2, seed);
        heard.extend(successes.into_keys());
        crashed_at.extend(crashes);
    }
    // Each kind of request succeeded somewhere, and (over the default
    // seeds: a few crashes a run do not reach them all) a crash landed at
    // each point, or the run proves little.
    let kinds = ["PUT", "DEL", "MOVE", "COMMIT", "WebDAV MOVE", "tus PATCH"];
    let missing: Vec<_> = kinds.iter().filter(|k| !heard.contains(*k)).collect();
    assert!(
        steps < 1_000 || missing.is_empty(),
        "never answered with success: {missing:?}"
    );
    let missing: Vec<_> = CRASH_POINTS
        .iter()
        .filter(|p| !crashed_at.contains(*p))
        .collect();
    assert!(
        steps < 1_000 || one_seed || missing.is_empty(),
        "no crash landed at: {missing:?}"
    );
}

impl<'w> Sim<'w> {
    pub(super) fn new(server: Server<'w>, seed: u64, tokens: &[String], label: String) -> Sim<'w> {
        assert_eq!(tokens.len(), WRITERS.len(), "a token per writer");
        let kinds = [Kind::Ferry; CLIENTS]
            .into_iter()
            .chain([Kind::Dav, Kind::Tus]);
        let clients = kinds.enumerate().map(|(at, kind)| Client {
            conn: SimConn::new(at as u64, kind.protocol()),
            kind,
            token: tokens[at % tokens.len()].clone(),
            to_send: Vec::new(),
            asked: None,
            then: greeting(kind),
            fired: 0,
            session: None,
            resuming: None,
        });
        Sim {
            server,
            rng: Rng::new(seed),
            clients: clients.collect(),
            jobs: Vec::new(),
            model: BTreeMap::new(),
            moves: VecDeque::new(),
            made: 0,
            label,
            faults: None,
            successes: BTreeMap::new(),
            crashes: Crashes::default(),
            connections: 0,
        }
    }

    /// Runs `steps` steps of seed `seed`'s schedule; the successes heard,
    /// by kind of request, and the points crashes landed at.
    pub(super) fn run(
        mut self,
        steps: u64,
        seed: u64,
    ) -> (BTreeMap<&'static str, u64>, BTreeSet<&'static str>) {
        let every = QUIET_EVERY[(seed % 4) as usize];
        let every = env("FERRY_SIM_QUIET_EVERY", every);
        for step in 0..steps {
            let quiet = step % every == every - 1;
            if quiet {
                self.settle(step);
                self.check_ledger(step);
            } else {
                self.one_move(step, true);
            }
            self.check_quotas(step);
            self.check_tree(step);
        }
        self.settle(steps);
        if let Some(at) = self.clients.iter().position(|c| c.asked.is_some()) {
            self.fail(steps, &format!("client {at} was never answered"));
        }
        if self.faults.is_some_and(|store| store.faults_fired() == 0) {
            self.fail(steps, "faults were asked for, and none was injected");
        }
        (self.successes, self.crashes.landed_at)
    }

    /// Runs what is in flight to its end, asking nothing new.
    fn settle(&mut self, step: u64) {
        for _ in 0..100_000 {
            if !self.one_move(step, false) {
                return;
            }
            self.check_quotas(step);
            self.check_tree(step);
        }
        self.fail(step, "requests in flight never end");
    }

    /// One move, chosen among those possible; `false` if none was
    /// (`ask`: a client may begin a request).
    fn one_move(&mut self, step: u64, ask: bool) -> bool {
        let mut choices = Vec::new();
        for (at, client) in self.clients.iter().enumerate() {
            if !client.to_send.is_empty() {
                choices.push(Move::Send(at));
            } else if client.asked.is_none() && client.conn.is_idle() && ask {
                choices.push(Move::Ask(at));
            }
        }
        choices.extend((0..self.jobs.len()).map(Move::Run));
        if choices.is_empty() {
            return false;
        }
        let chosen = *self.rng.pick(&choices);
        self.make(chosen, step);
        true
    }

    /// Makes move `chosen`; then the server may crash (before its client
    /// hears what the move answered), else the client hears.
    fn make(&mut self, chosen: Move, step: u64) {
        let at = match chosen {
            Move::Ask(at) => {
                self.ask(at);
                at
            }
            Move::Send(at) => {
                let left = self.clients[at].to_send.len() as u64;
                let take = 1 + self.rng.below(left.min(300)) as usize;
                let take = if self.rng.below(3) == 0 {
                    left as usize
                } else {
                    take
                };
                let world = self.server.world();
                let client = &mut self.clients[at];
                client.conn.input.extend(client.to_send.drain(..take));
                client.conn.advance(&world);
                self.note(format!("{at} sends {take} bytes"));
                at
            }
            Move::Run(job) => {
                let (at, job) = self.jobs.swap_remove(job);
                self.note(format!("{at}'s job runs"));
                let world = self.server.world();
                self.clients[at].conn.run(job, &world);
                at
            }
        };
        if let Some(job) = self.clients[at].conn.take_job() {
            self.jobs.push((at, job));
        }
        if self.crash_due(at) {
            self.crash(step, at);
        } else {
            self.hear(at, step);
        }
    }

    /// Client `at` begins its next request.
    fn ask(&mut self, at: usize) {
        let asked = match self.clients[at].then.pop_front() {
            Some(next) => next,
            None => {
                self.made += 1;
                let made = (at, self.made);
                match self.clients[at].kind {
                    Kind::Ferry => ferry_request(&mut self.rng, made),
                    Kind::Dav => dav_move(&mut self.rng),
                    Kind::Tus => tus_create(&mut self.rng, made),
                }
            }
        };
        let bytes = asked.bytes(&self.clients[at].token);
        self.note(format!("{at} asks {}", asked.describe()));
        let fired = self.faults.map_or(0, MemoryStore::faults_fired);
        let client = &mut self.clients[at];
        client.to_send = bytes;
        client.asked = Some(asked);
        client.fired = fired;
    }

    /// Client `at` hears its answer, if it is whole: the model changes as
    /// it says, and what the client asks next follows from it.
    fn hear(&mut self, at: usize, step: u64) {
        let client = &mut self.clients[at];
        let done = client.conn.is_done();
        if client.asked.is_none() || !client.to_send.is_empty() || !(client.conn.is_idle() || done)
        {
            return;
        }
        if client.conn.output.is_empty() {
            return; // still waiting for its job
        }
        let answer = String::from_utf8_lossy(&client.conn.output).into_owned();
        client.conn.output.clear();
        let asked = client.asked.take().unwrap_or(Asked::Auth);
        if done {
            client.conn = SimConn::new(at as u64 + 100 * step, client.kind.protocol());
            client.then = greeting(client.kind);
        }
        let line = answer.lines().next().unwrap_or("").to_owned();
        self.note(format!("{at} hears {line}"));
        self.answered(at, asked, (&line, &answer), step);
    }

    fn check_quotas(&self, step: u64) {
        let store = self.server.store();
        let folder = store.usage(Account::Folder("q/")).unwrap();
        if folder.bytes > FOLDER_BYTES {
            self.fail(
                step,
                &format!("q/ holds {} bytes, past its quota", folder.bytes),
            );
        }
        for token in WRITERS {
            let usage = store.usage(Account::Token(token)).unwrap();
            if usage.bytes > TOKEN_BYTES {
                let past = format!("{token} holds {} bytes, past its quota", usage.bytes);
                self.fail(step, &past);
            }
        }
    }

    /// The files are the model's, byte for byte.
    fn check_tree(&self, step: u64) {
        let stored = files_of(self.server.store());
        if stored != self.model {
            let differ = format!(
                "the files are not as answered: stored {:?}, answered {:?}",
                names(&stored),
                names(&self.model)
            );
            self.fail(step, &differ);
        }
    }

    pub(super) fn note(&mut self, line: String) {
        if self.moves.len() as u64 == env("FERRY_SIM_MOVES", 40) {
            self.moves.pop_front();
        }
        self.moves.push_back(line);
    }

    pub(super) fn fail(&self, step: u64, what: &str) -> ! {
        let moves: Vec<_> = self.moves.iter().map(String::as_str).collect();
        panic!(
            "{} (FERRY_SIM_SEED), step {step}: {what}\nlast moves:\n  {}",
            self.label,
            moves.join("\n  ")
        );
    }
}

/// The names of `files`, for a failure's report.
pub(super) fn names(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    files.keys().cloned().collect()
}

/// A move of the schedule.
#[derive(Debug, Clone, Copy)]
enum Move {
    /// Client `at` begins a request.
    Ask(usize),
    /// Some of client `at`'s bytes arrive.
    Send(usize),
    /// A job the serve layer handed the pool runs.
    Run(usize),
}

/// Two writers with quotas of their own, in a tokens file in `dir`.
/// The simulation's server settings (the tokens file written in `dir`),
/// and the writers' tokens.
pub(super) fn config_and_tokens(dir: &Path) -> (Config, Vec<String>) {
    let (tokens_path, tokens) = tokens_in(dir);
    let config = Config {
        quotas: vec![FolderQuota::parse(&format!("q/={FOLDER_BYTES}")).unwrap()],
        // The bodies are written as they arrive: the simulation's jobs are
        // the serve layer's own.
        pool_writes: PoolWrites::Never,
        // No group commit: a commit's answer is the job that made it.
        fsync: false,
        access: AccessConfig {
            tokens: Some(tokens_path),
            anonymous: Vec::new(),
            no_auth: false,
        },
        ..Config::default()
    };
    (config, tokens)
}

fn tokens_in(dir: &Path) -> (std::path::PathBuf, Vec<String>) {
    let write: &[&str] = &["read:/", "write:/", "delete:/"];
    let holders = WRITERS.map(|name| (name, write));
    let (path, tokens) = support::tokens::tokens_in(dir, &holders);
    let mut file = TokensFile::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for writer in &mut file.entries {
        writer.quota = Some(Quota {
            bytes: Some(TOKEN_BYTES),
            files: None,
        });
    }
    std::fs::write(&path, file.render()).unwrap();
    (path, tokens)
}

pub(super) fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
