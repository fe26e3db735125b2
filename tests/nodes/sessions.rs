//! Upload sessions shared by several nodes on one root (here: several
//! server processes with distinct `--node-id`s on one local directory):
//! a session one node streams into is `409` on the others, a node that dies
//! mid-APPEND lets another resume at the acknowledged offset, and the same
//! `put --resume` racing through two nodes ends with one clean file.

use crate::support;

use std::process::Command;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use support::process::Process;
use support::{PATIENCE, Raw, append, crc_hex, pattern, upload};

/// Two nodes on one root.
fn two_nodes(root: &std::path::Path) -> (Process, Process) {
    let a = Process::start(root, &["--node-id", "node-a", "--workers", "1"]);
    let b = Process::start(root, &["--node-id", "node-b", "--workers", "1"]);
    (a, b)
}

fn greeted(addr: std::net::SocketAddr) -> Raw {
    let mut raw = Raw::connect(addr);
    assert!(raw.line().starts_with("OK FERRY/1 "));
    raw
}

/// Asks `UPLOAD` on `raw` until the session has received more than
/// `beyond` bytes; returns how many it has.
fn wait_beyond(raw: &mut Raw, name: &str, data: &[u8], beyond: u64) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, received) = upload(raw, name, data);
        if received > beyond {
            return received;
        }
        assert!(Instant::now() < deadline, "the session never moved");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_session_streamed_on_one_node_is_a_conflict_on_another() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(root.path());
    let data = pattern(1_000_000, 3);
    let mut on_a = greeted(a.addr);
    let mut on_b = greeted(b.addr);
    let (id, _) = upload(&mut on_a, "shared.bin", &data);
    on_a.send(format!("APPEND {id} 0 {}\n", data.len()));
    on_a.send(&data[..400_000]);
    let (same, _) = upload(&mut on_b, "shared.bin", &data);
    assert_eq!(same, id, "one session for the same upload on every node");
    let received = wait_beyond(&mut on_b, "shared.bin", &data, 0);

    let at = usize::try_from(received).unwrap();
    let answer = append(&mut on_b, &id, at, &data[at..]);
    assert!(answer.starts_with("ERR 409 another ferry node"), "{answer}");
    on_b.send(format!("ABORT {id}\n"));
    let answer = on_b.line();
    assert!(answer.starts_with("ERR 409 another ferry node"), "{answer}");

    on_a.send(&data[400_000..]);
    assert_eq!(on_a.line(), "OK 1000000");
    on_b.send(format!("COMMIT {id}\n"));
    assert_eq!(on_b.line(), format!("OK 1000000 {}", crc_hex(&data)));
    assert_eq!(std::fs::read(root.path().join("shared.bin")).unwrap(), data);
}

#[test]
fn a_node_killed_mid_append_leaves_the_session_to_the_others() {
    let root = tempfile::tempdir().unwrap();
    let (mut a, b) = two_nodes(root.path());
    let data = pattern(2_000_000, 4);
    let mut on_a = greeted(a.addr);
    let (id, _) = upload(&mut on_a, "resumed.bin", &data);
    assert_eq!(append(&mut on_a, &id, 0, &data[..500_000]), "OK 500000");
    // A second APPEND is cut short by the node's death.
    on_a.send(format!("APPEND {id} 500000 1500000\n"));
    on_a.send(&data[500_000..900_000]);
    let mut on_b = greeted(b.addr);
    wait_beyond(&mut on_b, "resumed.bin", &data, 500_000);
    a.signal(Signal::KILL);
    a.wait();

    // Whatever reached the disk stands; the lock died with the node.
    let (_, received) = upload(&mut on_b, "resumed.bin", &data);
    assert!(
        received >= 500_000,
        "the acknowledged bytes stay: {received}"
    );
    let at = usize::try_from(received).unwrap();
    assert_eq!(append(&mut on_b, &id, at, &data[at..]), "OK 2000000");
    on_b.send(format!("COMMIT {id}\n"));
    assert_eq!(on_b.line(), format!("OK 2000000 {}", crc_hex(&data)));
    assert_eq!(
        std::fs::read(root.path().join("resumed.bin")).unwrap(),
        data
    );
}

#[test]
fn the_same_resumable_upload_racing_through_two_nodes_ends_in_one_clean_file() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(root.path());
    let work = tempfile::tempdir().unwrap();
    let data = pattern(24 << 20, 5);
    std::fs::write(work.path().join("race.bin"), &data).unwrap();
    // Each client sends at most 2 MB/s: the first takes 12 s alone, and
    // the second is started once the first's session holds bytes, so it
    // joins that session however late its process starts on a busy
    // machine. (Both at full speed, the first could commit before the
    // second began: the second would then stage and commit the file
    // again, rightly, and there would be no race to test.) The second
    // meets the first's APPENDs (409) until the first commits; it must
    // then see that the file is there, not send it again.
    let put = |addr: std::net::SocketAddr| {
        Command::new(env!("CARGO_BIN_EXE_ferry"))
            .current_dir(work.path())
            .args(["put", "--resume", "--chunk-size", "1M", "-q", "race.bin"])
            .args(["--limit-rate", "2M", "--server", &addr.to_string()])
            .spawn()
            .unwrap()
    };
    let mut first = put(a.addr);
    a.wait_for_log(" ferry append ");
    let mut second = put(b.addr);
    let first = first.wait().unwrap();
    let second = second.wait().unwrap();
    assert!(first.success() && second.success(), "{first} {second}");
    assert_eq!(std::fs::read(root.path().join("race.bin")).unwrap(), data);
    let staged: Vec<_> = std::fs::read_dir(root.path().join(".ferry-uploads"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".data") || name.ends_with(".meta"))
        .collect();
    assert_eq!(staged, Vec::<String>::new(), "no session is left");
    // Every access-log line is written by the time a server has stopped.
    for node in [&a, &b] {
        node.signal(rustix::process::Signal::TERM);
    }
    for node in [&a, &b] {
        node.wait_for_log("server stopped");
    }
    let commits: usize = [&a, &b]
        .iter()
        .map(|node| node.log_lines(" ferry commit ").len())
        .sum();
    let committed: usize = [&a, &b]
        .iter()
        .map(|node| node.log_lines(" ok 25165824 ").len())
        .sum();
    assert!(commits >= 1);
    assert_eq!(committed, 1, "one commit between the two nodes");
}

/// `SESSIONS` through any node lists the sessions begun through every
/// node (a client's resume looks through whichever node the balancer
/// picks). Issue 75's history on the cluster: a node listed only those
/// it had seen begin, from its index made at its first listing, so a
/// session another node began later was never shown (nor aborted) there.
#[test]
fn sessions_begun_on_one_node_are_listed_by_every_node() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(root.path());
    let mut on_a = greeted(a.addr);
    let mut on_b = greeted(b.addr);
    let listed = |raw: &mut Raw| {
        raw.send("SESSIONS\n");
        let answer = raw.line();
        let len = answer.strip_prefix("OK ").unwrap().parse().unwrap();
        String::from_utf8(raw.bytes(len)).unwrap()
    };
    // Node b's index is made now, before the session exists.
    assert_eq!(listed(&mut on_b), "");
    let data = pattern(1_000, 5);
    let (id, _) = upload(&mut on_a, "later.bin", &data);
    let sessions = listed(&mut on_b);
    assert!(
        sessions.starts_with(&format!("{id} 0 1000 ")),
        "{sessions:?}"
    );
    on_b.send(format!("ABORT {id}\n"));
    assert_eq!(on_b.line(), "OK");
    assert_eq!(listed(&mut on_a), "");
}
