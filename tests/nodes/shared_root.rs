//! Several nodes on one root (issue 13): servers with different `--node-id`s
//! share a root and serve each other's files; each temp file names its node;
//! a start-up sweep removes a node's own leftovers from a killed run and a
//! gone node's, never a live node's upload in flight, and reads only the
//! directories the journals name (it does not walk the tree); and every
//! node looks for dead nodes' temp files every period, so they go without
//! any node restarting (issue 31).

use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::Signal;
use support::process::Process;
use support::{PATIENCE, Raw, TestServer, crc_hex, pattern};

/// Every `.ferry-tmp-` file beneath `root`, relative names, sorted.
fn temp_files(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, found);
            } else if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".ferry-tmp-"))
            {
                let name = path.strip_prefix(root).unwrap();
                found.push(name.to_string_lossy().into_owned());
            }
        }
    }
    let mut found = Vec::new();
    walk(root, root, &mut found);
    found.sort();
    found
}

/// Waits (within [`PATIENCE`]) until `root` holds a temp file, and returns
/// them all: the server makes one when a PUT's header arrives, and nothing
/// tells a client when.
fn wait_for_temp_files(root: &Path) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found = temp_files(root);
        if !found.is_empty() {
            return found;
        }
        assert!(Instant::now() < deadline, "no temp file appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A PUT of `data` to `name` on `node`, held after its first half: the
/// temp file is made, the upload is in flight.
fn half_an_upload(node: &Process, name: &str, data: &[u8]) -> Raw {
    let mut upload = Raw::connect(node.addr);
    upload.line();
    upload.send(format!("PUT {name} {}\n", data.len()));
    upload.send(&data[..data.len() / 2]);
    upload
}

/// Kills `node` at once, as a crash would.
fn kill(mut node: Process) {
    node.signal(Signal::KILL);
    assert!(!node.wait().success());
}

fn path(root: &Path, name: &str) -> PathBuf {
    root.join(name)
}

#[test]
fn nodes_with_different_ids_share_a_root_and_serve_each_others_files() {
    let root = tempfile::tempdir().unwrap();
    let a = Process::start(root.path(), &["--node-id", "node-a"]);
    let b = Process::start(root.path(), &["--node-id", "node_b"]);
    let mut to_a = ferry::Client::connect(a.addr).unwrap();
    let mut to_b = ferry::Client::connect(b.addr).unwrap();
    to_a.put_bytes("from/a", b"written through a").unwrap();
    to_b.put_bytes("from/b", b"written through b").unwrap();
    assert_eq!(to_b.get_bytes("from/a").unwrap(), b"written through a");
    assert_eq!(to_a.get_bytes("from/b").unwrap(), b"written through b");
    // A new version through one node replaces the old for the other.
    to_b.put_bytes("from/a", b"replaced through b").unwrap();
    assert_eq!(to_a.get_bytes("from/a").unwrap(), b"replaced through b");
    to_a.delete("from/b").unwrap();
    assert!(to_b.get_bytes("from/b").is_err());
}

#[test]
fn temp_files_name_their_node() {
    let root = tempfile::tempdir().unwrap();
    let a = Process::start(root.path(), &["--node-id", "web-1"]);
    let b = Process::start(root.path(), &["--node-id", "web-2"]);
    let data = pattern(200_000, 1);
    let mut on_a = half_an_upload(&a, "d/x", &data);
    let mut on_b = half_an_upload(&b, "d/y", &data);
    let deadline = Instant::now() + PATIENCE;
    let temps = loop {
        let temps = temp_files(root.path());
        if temps.len() == 2 {
            break temps;
        }
        assert!(Instant::now() < deadline, "{temps:?}");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(temps[0].starts_with("d/.ferry-tmp-web-1-"), "{temps:?}");
    assert!(temps[1].starts_with("d/.ferry-tmp-web-2-"), "{temps:?}");
    for upload in [&mut on_a, &mut on_b] {
        upload.send(&data[data.len() / 2..]);
        assert_eq!(
            upload.line(),
            format!("OK {} {}", data.len(), crc_hex(&data))
        );
    }
    assert!(temp_files(root.path()).is_empty());
}

#[test]
fn a_restarting_node_leaves_another_nodes_upload_in_flight_alone() {
    let root = tempfile::tempdir().unwrap();
    let a = Process::start(root.path(), &["--node-id", "a"]);
    let b = Process::start(root.path(), &["--node-id", "b"]);
    let data = pattern(1_000_000, 2);
    let mut upload = half_an_upload(&b, "shared/inflight", &data);
    let in_flight = wait_for_temp_files(root.path());

    kill(a);
    let a = Process::start(root.path(), &["--node-id", "a"]);
    let swept = a.wait_for_log("start-up sweep done");
    assert!(swept.contains(": 0 stale temp files"), "{swept}");
    assert_eq!(temp_files(root.path()), in_flight, "b's upload was touched");

    upload.send(&data[data.len() / 2..]);
    assert_eq!(
        upload.line(),
        format!("OK {} {}", data.len(), crc_hex(&data))
    );
    let mut client = ferry::Client::connect(a.addr).unwrap();
    assert_eq!(client.get_bytes("shared/inflight").unwrap(), data);
}

#[test]
fn a_node_removes_its_own_leftovers_from_a_killed_run() {
    let root = tempfile::tempdir().unwrap();
    let a = Process::start(root.path(), &["--node-id", "a"]);
    let data = pattern(1_000_000, 3);
    let _upload = half_an_upload(&a, "deep/er/cut", &data);
    let _top = half_an_upload(&a, "cut-too", &data);
    let deadline = Instant::now() + PATIENCE;
    while temp_files(root.path()).len() < 2 {
        assert!(Instant::now() < deadline, "no temp files appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    kill(a);

    let a = Process::start(root.path(), &["--node-id", "a"]);
    let swept = a.wait_for_log("start-up sweep done");
    assert!(swept.contains(": 2 stale temp files"), "{swept}");
    assert!(swept.contains("2 of this node's earlier runs"), "{swept}");
    assert!(swept.contains("no tree walk"), "{swept}");
    assert!(temp_files(root.path()).is_empty());
    // The directories the killed upload made went with its temp file.
    assert!(!path(root.path(), "deep").exists());
}

#[test]
fn a_gone_nodes_leftovers_are_removed_by_a_node_that_starts_later() {
    let root = tempfile::tempdir().unwrap();
    let b = Process::start(root.path(), &["--node-id", "b"]);
    let data = pattern(1_000_000, 4);
    let _upload = half_an_upload(&b, "logs/cut", &data);
    wait_for_temp_files(root.path());
    kill(b);

    let a = Process::start(root.path(), &["--node-id", "a"]);
    let swept = a.wait_for_log("start-up sweep done");
    assert!(swept.contains(": 1 stale temp files"), "{swept}");
    assert!(swept.contains("1 of 1 gone nodes [b]"), "{swept}");
    assert!(temp_files(root.path()).is_empty());
    // b's lock file stays (b may be opening it to start again), its
    // journals went: b starts again without sweeping anything.
    assert!(path(root.path(), ".ferry-nodes/b.lock").exists());
    assert!(!path(root.path(), ".ferry-nodes/b.dirs").exists());
    let b = Process::start(root.path(), &["--node-id", "b"]);
    let swept = b.wait_for_log("start-up sweep done");
    assert!(swept.contains(": 0 stale temp files"), "{swept}");
}

/// Background healing: a node killed mid-upload leaves a temp file, which
/// a live node removes within its sweep period; before the kill, the same
/// passes leave the live node's upload alone, and after it, the dead node
/// starts again at once though its lock is tried every period.
#[test]
fn a_live_node_removes_a_dead_nodes_leftovers_without_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let a = Process::start(root.path(), &["--node-id", "a"]);
    let period = Duration::from_millis(100);
    let b = TestServer::start_in(root, |config| {
        config.node_id = "b".into();
        config.sweep_period = period;
    });
    let root = b.root.path();
    let data = pattern(1_000_000, 7);
    let _upload = half_an_upload(&a, "cut/short", &data);
    let in_flight = wait_for_temp_files(root);
    assert!(
        in_flight[0].starts_with("cut/.ferry-tmp-a-"),
        "{in_flight:?}"
    );
    // Several of b's passes while a lives: a's lock is held, nothing goes.
    std::thread::sleep(period * 5);
    assert_eq!(
        temp_files(root),
        in_flight,
        "a live node's upload was touched"
    );

    kill(a);
    // The temp file goes, then (once its removal is flushed) the
    // directory the cut upload made and a's journals: the pass's end.
    let deadline = Instant::now() + PATIENCE;
    while !temp_files(root).is_empty()
        || path(root, "cut").exists()
        || path(root, ".ferry-nodes/a.dirs").exists()
    {
        assert!(
            Instant::now() < deadline,
            "a's leftovers are still there: {:?}, cut/ {}, a.dirs {}",
            temp_files(root),
            path(root, "cut").exists(),
            path(root, ".ferry-nodes/a.dirs").exists()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // b tries a's lock every 100 ms: a restart waits out a pass, never
    // fails for it, and finds nothing left to sweep.
    let a = Process::start(root, &["--node-id", "a"]);
    let swept = a.wait_for_log("start-up sweep done");
    assert!(swept.contains(": 0 stale temp files"), "{swept}");
    let mut client = ferry::Client::connect(a.addr).unwrap();
    client.put_bytes("cut/short", &data).unwrap();
    assert_eq!(b.client().get_bytes("cut/short").unwrap(), data);
}

/// The trade-off of not walking the tree: a temp file in a directory no
/// journal names is not found, even one bearing the node's own prefix.
/// Only a server of that node, killed, leaves temp files, and it journals
/// every directory first; a file planted by hand is the operator's.
#[test]
fn the_sweep_reads_only_journaled_directories() {
    let root = tempfile::tempdir().unwrap();
    let mut a = Process::start(root.path(), &["--node-id", "a"]);
    a.wait_for_log("start-up sweep done");
    a.signal(Signal::TERM);
    assert!(a.wait().success());

    let planted = path(root.path(), "never/journaled/.ferry-tmp-a-1-1");
    std::fs::create_dir_all(planted.parent().unwrap()).unwrap();
    std::fs::write(&planted, b"planted by hand").unwrap();
    let a = Process::start(root.path(), &["--node-id", "a"]);
    let swept = a.wait_for_log("start-up sweep done");
    assert!(swept.contains("no tree walk"), "{swept}");
    assert!(planted.exists(), "the sweep walked the tree");
}

/// A root that no node-aware server has served yet gets one walk, for the
/// temp files of a ferry from before node ids (`.ferry-tmp-<run>-<serial>`).
#[test]
fn a_first_start_walks_once_for_pre_node_temp_files() {
    let root = tempfile::tempdir().unwrap();
    let old = path(root.path(), "sub/.ferry-tmp-1f-2");
    std::fs::create_dir_all(old.parent().unwrap()).unwrap();
    std::fs::write(&old, b"left by an older ferry").unwrap();
    let mut a = Process::start(root.path(), &["--node-id", "a"]);
    let swept = a.wait_for_log("start-up sweep done");
    assert!(swept.contains("1 of pre-node servers"), "{swept}");
    assert!(swept.contains("tree walked"), "{swept}");
    assert!(!old.exists());
    a.signal(Signal::TERM);
    assert!(a.wait().success());

    std::fs::write(&old, b"planted later").unwrap();
    let a = Process::start(root.path(), &["--node-id", "a"]);
    let swept = a.wait_for_log("start-up sweep done");
    assert!(swept.contains("no tree walk"), "{swept}");
    assert!(old.exists());
}

#[test]
fn a_put_whose_temp_file_another_process_removed_says_so() {
    let root = tempfile::tempdir().unwrap();
    let node = Process::start(root.path(), &["--node-id", "a"]);
    let data = pattern(1_000_000, 6);
    let mut upload = half_an_upload(&node, "vanishing/file", &data);
    // As a misbehaving neighbour on a shared file system might.
    for temp in wait_for_temp_files(root.path()) {
        std::fs::remove_file(root.path().join(temp)).unwrap();
    }
    upload.send(&data[data.len() / 2..]);
    let answer = upload.line();
    assert!(
        answer.starts_with("ERR 500 temp file removed by another process"),
        "{answer}"
    );
    assert!(!root.path().join("vanishing/file").exists());
}
