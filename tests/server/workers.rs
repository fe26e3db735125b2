//! `--workers N`: N event loops polling the shared listeners, each with
//! its own connections, sharing the I/O pool, the connection
//! cap, client ids and shutdown. One worker is the single loop of before.

use crate::support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use support::process::Process;
use support::{PATIENCE, Raw, TestServer, crc_hex, pattern};

/// The client id a FERRY/1 greeting announces.
fn greeting_id(raw: &mut Raw) -> u64 {
    let greeting = raw.line();
    let id = greeting
        .strip_prefix("OK FERRY/1 ")
        .unwrap_or_else(|| panic!("greeting {greeting:?}"));
    id.parse().unwrap()
}

#[test]
fn every_worker_serves_transfers_and_client_ids_stay_unique() {
    let server = TestServer::start_with(|config| config.workers = 3);
    // All open at once, so the kernel spreads them over the three listeners.
    let mut conns: Vec<Raw> = (0..48).map(|_| Raw::connect(server.addr)).collect();
    let ids: HashSet<u64> = conns.iter_mut().map(greeting_id).collect();
    assert_eq!(ids.len(), conns.len(), "client ids are unique over workers");
    for (n, raw) in conns.iter_mut().enumerate() {
        let body = pattern(20_000 + n, n as u64);
        raw.send(format!("PUT spread/{n} {}\n", body.len()));
        raw.send(&body);
    }
    for (n, raw) in conns.iter_mut().enumerate() {
        let body = pattern(20_000 + n, n as u64);
        assert_eq!(raw.line(), format!("OK {} {}", body.len(), crc_hex(&body)));
        // Read back on another connection, likely on another worker.
        let mut client = server.client();
        assert_eq!(client.get_bytes(&format!("spread/{n}")).unwrap(), body);
    }
}

#[test]
fn the_connection_cap_counts_the_connections_of_every_worker() {
    let server = TestServer::start_with(|config| {
        config.workers = 2;
        config.max_connections = 4;
    });
    let mut held: Vec<Raw> = (0..4).map(|_| Raw::connect(server.addr)).collect();
    for raw in &mut held {
        greeting_id(raw);
    }
    // Whichever worker a newcomer lands on, the cap is full.
    for _ in 0..8 {
        let mut refused = Raw::connect(server.addr);
        assert_eq!(refused.line(), "ERR 503 busy");
    }
    held.pop().unwrap().send("QUIT\n");
    // The server closes the quitting connection on its own time: ask until
    // a newcomer is let in (each refusal is answered at once).
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut raw = Raw::connect(server.addr);
        let line = raw.line();
        if line.starts_with("OK FERRY/1 ") {
            break;
        }
        assert_eq!(line, "ERR 503 busy");
        assert!(Instant::now() < deadline, "the freed place never came back");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn workers_share_connections_and_sigterm_drains_every_one() {
    let root = tempfile::tempdir().unwrap();
    // Debug: the line of each connection names its worker.
    let mut server = Process::start(
        root.path(),
        &[
            "--workers",
            "2",
            "--grace-period",
            "20",
            "--log-level",
            "debug",
        ],
    );
    // A thread names itself once it runs, which may be just after the
    // server says it serves.
    let workers = || {
        server
            .thread_names()
            .into_iter()
            .filter(|name| name.starts_with("ferry-worker-"))
            .count()
    };
    let deadline = Instant::now() + PATIENCE;
    while workers() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(workers(), 1, "the second worker has a thread of its own");
    // Connections until both workers hold some: each takes them as it is
    // free to (and gives way to the other after each), so which takes how
    // many depends on what else runs on the machine.
    let both =
        || !server.log_lines("(worker 1)").is_empty() && !server.log_lines("(worker 2)").is_empty();
    let mut uploads: Vec<Raw> = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while uploads.len() < 32 || (!both() && uploads.len() < 1000 && Instant::now() < deadline) {
        let mut raw = Raw::connect(server.addr);
        greeting_id(&mut raw);
        uploads.push(raw);
    }
    server.wait_for_log("(worker 1)");
    server.wait_for_log("(worker 2)");
    let body = pattern(300_000, 9);
    for (n, raw) in uploads.iter_mut().enumerate() {
        raw.send(format!("PUT drain/{n} {}\n", body.len()));
        raw.send(&body[..150_000]);
    }
    let mut probe = Raw::connect(server.addr);
    greeting_id(&mut probe);
    probe.send("ECHO 1\n.");
    assert_eq!(probe.line(), "OK 1");
    assert_eq!(probe.bytes(1), b".");

    server.signal(Signal::TERM);
    // Every worker stops accepting and lets its uploads finish.
    probe.expect_closed();
    for raw in &mut uploads {
        raw.send(&body[150_000..]);
        assert_eq!(raw.line(), format!("OK 300000 {}", crc_hex(&body)));
        raw.expect_closed();
    }
    assert!(server.wait().success(), "exit status 0");
    for n in 0..uploads.len() {
        assert_eq!(
            std::fs::read(root.path().join(format!("drain/{n}"))).unwrap(),
            body
        );
    }
}

#[test]
fn one_worker_is_one_event_loop_on_the_main_thread() {
    let root = tempfile::tempdir().unwrap();
    let mut server = Process::start(root.path(), &["--workers", "1", "--log-level", "debug"]);
    let mut raw = Raw::connect(server.addr);
    greeting_id(&mut raw);
    let names = server.thread_names();
    assert!(
        !names.iter().any(|n| n.starts_with("ferry-worker-")),
        "{names:?}"
    );
    let connected = server.wait_for_log("connected from");
    assert!(!connected.contains("(worker"), "{connected}");
    assert!(server.log_lines("1 worker").len() == 1);
    server.signal(Signal::INT);
    assert!(server.wait().success());
}

#[test]
fn a_port_held_by_another_server_is_refused_with_workers_too() {
    let root = tempfile::tempdir().unwrap();
    let first = Process::start(root.path(), &["--workers", "2"]);
    let other_root = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["serve", "--workers", "2", "--listen"])
        .arg(first.addr.to_string())
        .arg("--root")
        .arg(other_root.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Address already in use"), "{stderr}");
}
