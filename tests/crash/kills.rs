//! Crash safety under load: a `ferry serve` process is killed (SIGKILL)
//! again and again while clients run a mix of PUTs and resumable uploads,
//! and restarted on the same root. After each restart:
//!
//! - every acknowledged upload (PUT or COMMIT) reads back byte-identical;
//! - one that was in flight is either absent or whole, never partial;
//! - every session resumes at or past the offset last acknowledged, and
//!   finishing it commits the right bytes (COMMIT checks their CRC-32C);
//! - no temp file is left once the start-up sweep has run.
//!
//! The kills come after a number of acknowledgements that varies per
//! round, not after a time, so the test does not depend on machine speed;
//! it holds for every instant a kill can land. `FERRY_CRASH_ROUNDS` sets
//! the number of rounds (6 by default):
//!
//! ```text
//! FERRY_CRASH_ROUNDS=100 cargo test --release --test crash kills:: -- --nocapture
//! ```

use crate::support;

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use rustix::process::Signal;
use support::process::Process;
use support::{PATIENCE, crc_hex, pattern, temp_files};

/// Client threads per round.
const CLIENTS: u64 = 4;

/// What the clients were told, kept for checking after the restart.
#[derive(Default)]
struct Model {
    /// Files whose upload was acknowledged: name → (length, seed).
    stored: BTreeMap<String, (usize, u64)>,
    /// Files whose PUT or COMMIT was sent but not answered.
    in_flight: BTreeMap<String, (usize, u64)>,
    /// Sessions: name → (length, seed, bytes acknowledged).
    sessions: BTreeMap<String, (usize, u64, u64)>,
    /// Acknowledgements so far, to time the kill by.
    acks: u64,
}

#[derive(Default)]
struct Shared {
    model: Mutex<Model>,
    acked: Condvar,
}

impl Shared {
    fn update(&self, change: impl FnOnce(&mut Model)) {
        let mut model = self.model.lock().unwrap();
        change(&mut model);
        model.acks += 1;
        self.acked.notify_all();
    }

    fn wait_for_acks(&self, count: u64) {
        let deadline = std::time::Instant::now() + PATIENCE;
        let mut model = self.model.lock().unwrap();
        while model.acks < count {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(!left.is_zero(), "the clients made no progress");
            model = self.acked.wait_timeout(model, left).unwrap().0;
        }
    }
}

/// A FERRY/1 client whose every call may fail: the server dies under it.
struct Wire {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Wire {
    fn connect(addr: SocketAddr) -> io::Result<Wire> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(PATIENCE))?;
        let mut wire = Wire {
            reader: BufReader::new(stream.try_clone()?),
            stream,
        };
        wire.line()?; // greeting
        Ok(wire)
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        if !line.ends_with('\n') {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        line.pop();
        Ok(line)
    }

    fn ask(&mut self, request: &str, body: &[u8]) -> io::Result<String> {
        self.stream.write_all(request.as_bytes())?;
        self.stream.write_all(body)?;
        self.line()
    }
}

/// A small deterministic generator for sizes and choices.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One client's load until its connection fails: PUTs and sessions,
/// every acknowledgement written into the model.
fn client(addr: SocketAddr, round: u64, who: u64, shared: &Shared) -> io::Result<()> {
    let mut wire = Wire::connect(addr)?;
    let mut dice = Dice(((round * 1000 + who) * 0x9E37_79B9) | 1);
    for n in 0.. {
        let seed = (round << 32) | (who << 24) | n;
        if dice.below(2) == 0 {
            let name = format!("put/r{round}/c{who}/{n}");
            let len = 1 + dice.below(600_000) as usize;
            let data = pattern(len, seed);
            let request = format!("PUT {name} {len}\n");
            store(&mut wire, shared, (&request, &data), &name, (len, seed))?;
        } else {
            let name = format!("res/r{round}/c{who}/{n}");
            let len = 1 + dice.below(2_000_000) as usize;
            let data = pattern(len, seed);
            let answer = wire.ask(&format!("UPLOAD {name} {len} {}\n", crc_hex(&data)), b"")?;
            let id = answer.split(' ').nth(1).unwrap_or_default().to_owned();
            assert!(answer.starts_with("OK "), "{name}: {answer}");
            shared.update(|m| {
                m.sessions.insert(name.clone(), (len, seed, 0));
            });
            let mut at = 0;
            while at < len {
                let chunk = (1 + dice.below(300_000) as usize).min(len - at);
                let request = format!("APPEND {id} {at} {chunk}\n");
                let answer = wire.ask(&request, &data[at..at + chunk])?;
                at += chunk;
                assert_eq!(answer, format!("OK {at}"), "{name}");
                shared.update(|m| {
                    m.sessions.insert(name.clone(), (len, seed, at as u64));
                });
            }
            let request = format!("COMMIT {id}\n");
            store(&mut wire, shared, (&request, b""), &name, (len, seed))?;
        }
    }
    Ok(())
}

/// Sends the request that makes file `name` of `len` bytes (`PUT` and its
/// body, or `COMMIT`), keeping it in flight in the model until it is
/// acknowledged.
fn store(
    wire: &mut Wire,
    shared: &Shared,
    (request, body): (&str, &[u8]),
    name: &str,
    (len, seed): (usize, u64),
) -> io::Result<()> {
    let in_flight = (name.to_owned(), (len, seed));
    shared.model.lock().unwrap().in_flight.extend([in_flight]);
    let answer = wire.ask(request, body)?;
    assert!(answer.starts_with("OK "), "{name}: {answer}");
    shared.update(|m| {
        m.in_flight.remove(name);
        m.sessions.remove(name);
        m.stored.insert(name.to_owned(), (len, seed));
    });
    Ok(())
}

/// Checks the model against a freshly restarted server, and finishes every
/// session, so the next round starts from a known state.
fn check(server: &Process, root: &Path, model: &mut Model) {
    for (name, &(len, seed)) in &model.stored {
        let on_disk = std::fs::read(root.join(name)).unwrap_or_default();
        assert!(
            on_disk == pattern(len, seed),
            "{name}: acknowledged, not intact"
        );
    }
    let mut wire = Wire::connect(server.addr).unwrap();
    let in_flight = std::mem::take(&mut model.in_flight);
    for (name, (len, seed)) in in_flight {
        match std::fs::read(root.join(&name)) {
            Ok(bytes) => {
                assert!(bytes == pattern(len, seed), "{name}: partly visible");
                model.sessions.remove(&name);
                model.stored.insert(name, (len, seed));
            }
            Err(err) => assert_eq!(err.kind(), io::ErrorKind::NotFound, "{name}"),
        }
    }
    for (name, (len, seed, acked)) in std::mem::take(&mut model.sessions) {
        let data = pattern(len, seed);
        let answer = wire
            .ask(&format!("UPLOAD {name} {len} {}\n", crc_hex(&data)), b"")
            .unwrap();
        let fields: Vec<&str> = answer.split(' ').collect();
        assert_eq!(fields[0], "OK", "{name}: {answer}");
        let (id, received): (&str, usize) = (fields[1], fields[2].parse().unwrap());
        assert!(
            received as u64 >= acked && received <= len,
            "{name}: at {received}, {acked} acknowledged"
        );
        let rest = &data[received..];
        let request = format!("APPEND {id} {received} {}\n", rest.len());
        assert_eq!(wire.ask(&request, rest).unwrap(), format!("OK {len}"));
        let answer = wire.ask(&format!("COMMIT {id}\n"), b"").unwrap();
        assert_eq!(answer, format!("OK {len} {}", crc_hex(&data)), "{name}");
        model.stored.insert(name, (len, seed));
    }
    assert_eq!(temp_files(root), Vec::<String>::new());
}

#[test]
fn repeated_kills_under_mixed_load_lose_nothing_acknowledged() {
    let rounds: u64 = std::env::var("FERRY_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(6);
    let root = tempfile::tempdir().unwrap();
    let mut model = Model::default();
    for round in 0..rounds {
        // Every other round commits durably: the same promises hold.
        let args: &[&str] = if round % 2 == 1 { &["--fsync"] } else { &[] };
        let mut server = Process::start(root.path(), args);
        let shared = Arc::new(Shared::default());
        let clients: Vec<_> = (0..CLIENTS)
            .map(|who| {
                let shared = Arc::clone(&shared);
                let addr = server.addr;
                std::thread::spawn(move || {
                    let _ = client(addr, round, who, &shared);
                })
            })
            .collect();
        shared.wait_for_acks(5 + (round * 7) % 40);
        server.signal(Signal::KILL);
        assert!(!server.wait().success());
        for client in clients {
            client.join().expect("a client saw a wrong answer");
        }
        let shared = Arc::into_inner(shared).unwrap();
        let mut seen = shared.model.into_inner().unwrap();
        model.stored.append(&mut seen.stored);
        model.in_flight.append(&mut seen.in_flight);
        model.sessions.append(&mut seen.sessions);

        let server = Process::start(root.path(), args);
        server.wait_for_log("start-up sweep done");
        check(&server, root.path(), &mut model);
        eprintln!(
            "round {round}: killed after {} acknowledgements; {} files checked",
            seen.acks,
            model.stored.len()
        );
    }
}
