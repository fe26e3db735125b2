//! The simulation (issue 77; FoundationDB's, TigerBeetle's VOPR): many
//! clients of the serve layer without a socket or a thread, on the memory
//! store and on a POSIX root, their every move chosen by one seeded
//! generator: when a client asks, when each piece of its bytes arrives,
//! and when each job the serve layer hands the I/O pool runs. Each
//! request goes through the server's own codec (FERRY/1, and WebDAV over
//! HTTP/1.1, tus) and serve layer (`sim_conn.rs`), so requests side by side
//! interleave at every point where a real server would let them: between
//! an APPEND's admission and its bytes, between a PUT's begin and its
//! commit.
//!
//! Every other seed's memory store fails a write or a commit now and then
//! (no space, an I/O error: `MemoryStore::inject_faults`), as a disk
//! would.
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
//! - no answer is a server error but where the store failed during its
//!   request (507, a quota's or the disk's, is a refusal);
//! - every request is answered.
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
//! the same usage).
#![cfg(all(feature = "webdav", feature = "tus"))] // built with what it tests (Cargo.toml [features])

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::Arc;

use ferry::Config;
use ferry::access::per_client::PerClient;
use ferry::access::quota::{FolderQuota, Quota};
use ferry::access::tokens::TokensFile;
use ferry::access::{Access, AccessConfig};
use ferry::config::PoolWrites;
use ferry::hooks::Hooks;
use ferry::model::Account;
use ferry::serve::{Job, Served};
use ferry::storage::Storage;
use ferry::storage::memory::MemoryStore;

use super::sim_asks::{
    Asked, Kind, Rng, dav_move, ferry_request, greeting, header, session_plan, tus_create, tus_plan,
};
use super::sim_conn::{SimConn, World, files_of};
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
/// With faults, one in so many writes and commits fails.
const FAULT_ONE_IN: u64 = 40;
/// FERRY/1 clients (tokens in turn), beside one WebDAV client.
const CLIENTS: usize = 5;
/// A client: its connection, its token, and the request in flight.
struct Client {
    conn: SimConn,
    kind: Kind,
    token: String,
    to_send: Vec<u8>,
    asked: Option<Asked>,
    /// What it asks next, whatever comes (a session's APPENDs, COMMIT).
    then: VecDeque<Asked>,
    /// Injected failures fired when it asked.
    fired: u64,
}

/// One run: the world, the clients, the model, the generator.
struct Sim<'w> {
    world: &'w World<'w>,
    rng: Rng,
    clients: Vec<Client>,
    jobs: Vec<(usize, Job)>,
    /// The files as the answers say they are.
    model: BTreeMap<String, Vec<u8>>,
    /// The last moves, for a failure's report.
    moves: VecDeque<String>,
    made: u64,
    label: String,
    /// The memory store that fails now and then, if it does: a server
    /// error is then an answer, where a failure fired during the request.
    faults: Option<&'w MemoryStore>,
    /// Successes heard, by what was asked: each kind must have succeeded
    /// somewhere in a test long enough.
    successes: BTreeMap<&'static str, u64>,
}

#[test]
fn clients_side_by_side_keep_the_quotas_and_the_tree_as_answered() {
    let steps = env("FERRY_SIM_STEPS", STEPS);
    let seeds: Vec<u64> = match std::env::var("FERRY_SIM_SEED") {
        Ok(seed) => vec![seed.parse().expect("FERRY_SIM_SEED is a number")],
        Err(_) => (0..SEEDS).collect(),
    };
    let dir = tempfile::tempdir().unwrap();
    let (tokens_path, tokens) = tokens_in(dir.path());
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
    let access = Access::new(&config.access).unwrap();
    let walks = Arc::new(PerClient::new(0));
    let mut heard = std::collections::BTreeSet::new();
    for seed in seeds {
        let memory = MemoryStore::new();
        memory.count_usage(&config.quotas, true);
        // Every other seed's disk fails now and then: no space, I/O.
        let faults = seed % 2 == 1;
        if faults {
            memory.inject_faults(seed, FAULT_ONE_IN);
        }
        let hooks = Hooks::new(config.hooks.clone(), dir.path());
        let world = World {
            served: Served {
                store: &memory,
                config: &config,
                hooks: &hooks,
                walks: &walks,
            },
            access: &access,
        };
        let label = format!("memory, seed {seed}");
        let mut sim = Sim::new(&world, seed, &tokens, label);
        sim.faults = faults.then_some(&memory);
        heard.extend(sim.run(steps, seed).into_keys());

        let root = tempfile::tempdir().unwrap();
        let mut posix = Storage::open(root.path(), "sim", false).unwrap();
        posix.count_usage(&config.quotas, true).unwrap();
        let hooks = Hooks::new(config.hooks.clone(), root.path());
        let world = World {
            served: Served {
                store: &posix,
                config: &config,
                hooks: &hooks,
                walks: &walks,
            },
            access: &access,
        };
        let sim = Sim::new(&world, seed, &tokens, format!("posix, seed {seed}"));
        heard.extend(sim.run(steps / 2, seed).into_keys());
    }
    // Each kind of request succeeded somewhere, or the run proves little.
    let kinds = ["PUT", "DEL", "MOVE", "COMMIT", "WebDAV MOVE", "tus PATCH"];
    let missing: Vec<_> = kinds.iter().filter(|k| !heard.contains(*k)).collect();
    assert!(
        steps < 1_000 || missing.is_empty(),
        "never answered with success: {missing:?}"
    );
}

impl<'w> Sim<'w> {
    fn new(world: &'w World<'w>, seed: u64, tokens: &[String], label: String) -> Sim<'w> {
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
        });
        Sim {
            world,
            rng: Rng::new(seed),
            clients: clients.collect(),
            jobs: Vec::new(),
            model: BTreeMap::new(),
            moves: VecDeque::new(),
            made: 0,
            label,
            faults: None,
            successes: BTreeMap::new(),
        }
    }

    /// Runs `steps` steps of seed `seed`'s schedule; the successes heard,
    /// by kind of request.
    fn run(mut self, steps: u64, seed: u64) -> BTreeMap<&'static str, u64> {
        let every = QUIET_EVERY[(seed % 4) as usize];
        let every = env("FERRY_SIM_QUIET_EVERY", every);
        for step in 0..steps {
            let quiet = step % every == every - 1;
            if quiet {
                self.settle(step);
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
        self.successes
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

    fn make(&mut self, chosen: Move, step: u64) {
        let world = self.world;
        let at = match chosen {
            Move::Ask(at) => {
                self.ask(at);
                at
            }
            Move::Send(at) => {
                let client = &mut self.clients[at];
                let left = client.to_send.len() as u64;
                let take = 1 + self.rng.below(left.min(300)) as usize;
                let take = if self.rng.below(3) == 0 {
                    left as usize
                } else {
                    take
                };
                client.conn.input.extend(client.to_send.drain(..take));
                client.conn.advance(world);
                self.note(format!("{at} sends {take} bytes"));
                at
            }
            Move::Run(job) => {
                let (at, job) = self.jobs.swap_remove(job);
                self.note(format!("{at}'s job runs"));
                self.clients[at].conn.run(job, world);
                at
            }
        };
        if let Some(job) = self.clients[at].conn.take_job() {
            self.jobs.push((at, job));
        }
        self.hear(at, step);
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

    /// Client `at`'s `asked` was answered (its first `line`, the whole
    /// `answer`).
    fn answered(&mut self, at: usize, asked: Asked, (line, answer): (&str, &str), step: u64) {
        let ok = line.starts_with("OK") || line.starts_with("HTTP/1.1 2");
        if !ok {
            self.dropped(at, &asked);
            let server_error = line.starts_with("ERR 5") || line.starts_with("HTTP/1.1 5");
            // 507: a quota or the disk's room, a refusal like any other.
            let fired = self.faults.map(MemoryStore::faults_fired);
            let injected = fired > Some(self.clients[at].fired);
            if server_error && !line.contains(" 507") && !injected {
                self.fail(step, &format!("a server error: {line}"));
            }
            return;
        }
        *self.successes.entry(asked.kind_name()).or_default() += 1;
        match asked {
            Asked::Auth | Asked::Append(..) | Asked::Abort(_) => {}
            Asked::Put(name, bytes) | Asked::Commit(_, name, bytes) => {
                self.model.insert(name, bytes);
            }
            Asked::Del(name) => {
                self.model.remove(&name);
            }
            Asked::Move(from, to) => {
                if let Some(bytes) = self.model.remove(&from) {
                    self.model.insert(to, bytes);
                }
            }
            Asked::Upload(name, bytes) => {
                let plan = session_plan(&mut self.rng, line, name, bytes);
                self.clients[at].then.extend(plan);
            }
            Asked::TusCreate(name, bytes) => match header(answer, "Location") {
                Some(location) => {
                    let plan = tus_plan(&mut self.rng, location, name, bytes);
                    self.clients[at].then.extend(plan);
                }
                None => self.fail(step, &format!("a creation without its Location: {line}")),
            },
            // The last PATCH makes the upload whole: it is committed.
            Asked::TusPatch(_, name, bytes, _, to) if to == bytes.len() => {
                self.model.insert(name, bytes);
            }
            Asked::TusPatch(..) => {}
            // The destination could not be cleared whole (RFC 4918's
            // 207, the members left named): nothing moved, and what is
            // left of the destination is some of what it held.
            Asked::DavMove(_, to, _) if line.starts_with("HTTP/1.1 207") => {
                let to = format!("{to}/");
                let stored = files_of(self.world.served.store);
                let kept = |name: &String, bytes: &Vec<u8>| stored.get(name) == Some(bytes);
                self.model
                    .retain(|name, bytes| !name.starts_with(&to) || kept(name, bytes));
            }
            Asked::DavMove(from, to, _) => {
                let (from, to) = (format!("{from}/"), format!("{to}/"));
                self.model.retain(|name, _| !name.starts_with(&to));
                let moved: Vec<_> = self
                    .model
                    .keys()
                    .filter(|n| n.starts_with(&from))
                    .cloned()
                    .collect();
                for name in moved {
                    let bytes = self.model.remove(&name).unwrap_or_default();
                    self.model
                        .insert(format!("{to}{}", &name[from.len()..]), bytes);
                }
            }
        }
    }

    /// Client `at`'s `asked` was refused: what it planned after goes,
    /// and a session it staged into is aborted (its bytes would count
    /// against the quotas until it expired).
    fn dropped(&mut self, at: usize, asked: &Asked) {
        let then = &mut self.clients[at].then;
        match asked {
            Asked::Append(_, id, ..) | Asked::Commit(id, ..) => {
                then.clear();
                then.push_back(Asked::Abort(id.clone()));
            }
            Asked::TusPatch(..) => then.clear(),
            _ => {}
        }
    }

    fn check_quotas(&self, step: u64) {
        let store = self.world.served.store;
        let folder = store.usage(Account::Folder("q/")).unwrap();
        if folder.bytes > FOLDER_BYTES {
            self.fail(
                step,
                &format!("q/ holds {} bytes, past its quota", folder.bytes),
            );
        }
        for token in ["w0", "w1"] {
            let usage = store.usage(Account::Token(token)).unwrap();
            if usage.bytes > TOKEN_BYTES {
                let past = format!("{token} holds {} bytes, past its quota", usage.bytes);
                self.fail(step, &past);
            }
        }
    }

    /// The files are the model's, byte for byte.
    fn check_tree(&self, step: u64) {
        let stored = files_of(self.world.served.store);
        if stored != self.model {
            let names =
                |files: &BTreeMap<String, Vec<u8>>| files.keys().cloned().collect::<Vec<_>>();
            let differ = format!(
                "the files are not as answered: stored {:?}, answered {:?}",
                names(&stored),
                names(&self.model)
            );
            self.fail(step, &differ);
        }
    }

    fn note(&mut self, line: String) {
        if self.moves.len() as u64 == env("FERRY_SIM_MOVES", 40) {
            self.moves.pop_front();
        }
        self.moves.push_back(line);
    }

    fn fail(&self, step: u64, what: &str) -> ! {
        let moves: Vec<_> = self.moves.iter().map(String::as_str).collect();
        panic!(
            "{} (FERRY_SIM_SEED), step {step}: {what}\nlast moves:\n  {}",
            self.label,
            moves.join("\n  ")
        );
    }
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
fn tokens_in(dir: &Path) -> (std::path::PathBuf, Vec<String>) {
    let write: &[&str] = &["read:/", "write:/", "delete:/"];
    let (path, tokens) = support::tokens::tokens_in(dir, &[("w0", write), ("w1", write)]);
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

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
