//! One server per node id and root, enforced: a second `ferry serve` with a
//! node id already serving the root exits naming the first and touches
//! nothing in it (an upload in flight survives), a malformed id is refused,
//! and a server that cannot listen leaves no root behind. (Servers with
//! different node ids share a root: tests/nodes.rs.)

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::process::{Process, serve_args};
use support::{PATIENCE, Raw, crc_hex, pattern};

/// Runs `ferry serve` with `args` to its end (within [`PATIENCE`]; one
/// still running then fails the test); its exit code and stderr.
fn serve_to_the_end(args: &[&str], root: &Path) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    let mut child = serve_args(&mut command, root, args)
        .spawn()
        .expect("run ferry serve");
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server kept running");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code(), stderr)
}

fn temp_files(root: &Path) -> usize {
    std::fs::read_dir(root)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".ferry-tmp-")
        })
        .count()
}

#[test]
fn a_second_server_with_the_same_node_id_exits_and_deletes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let first = Process::start(root.path(), &["--node-id", "web-1"]);
    let data = pattern(1_000_000, 6);
    let mut upload = Raw::connect(first.addr);
    upload.line();
    upload.send(format!("PUT inflight {}\n", data.len()));
    upload.send(&data[..500_000]);
    let deadline = Instant::now() + PATIENCE;
    while temp_files(root.path()) == 0 {
        assert!(Instant::now() < deadline, "no temp file appeared");
        std::thread::sleep(Duration::from_millis(5));
    }

    // Its own port is free; its sweep would take the temp file for a dead
    // run's.
    let (code, stderr) = serve_to_the_end(
        &["--listen", "127.0.0.1:0", "--node-id", "web-1"],
        root.path(),
    );
    assert_eq!(code, Some(1), "{stderr}");
    let expected = format!(
        "ferry: node \"web-1\" already serves {} (pid {}); give each server its own --node-id",
        root.path().display(),
        first.child.id()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert_eq!(
        temp_files(root.path()),
        1,
        "the upload in flight was touched"
    );

    upload.send(&data[500_000..]);
    assert_eq!(
        upload.line(),
        format!("OK {} {}", data.len(), crc_hex(&data))
    );
    assert_eq!(std::fs::read(root.path().join("inflight")).unwrap(), data);
}

#[test]
fn a_malformed_node_id_is_refused_before_anything_starts() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("never-made");
    for bad in ["", "a/b", "web.1", &"x".repeat(33)] {
        let (code, stderr) = serve_to_the_end(&["--node-id", bad], &root);
        assert_eq!(code, Some(2), "{bad:?}: {stderr}");
        assert!(stderr.contains("node id"), "{bad:?}: {stderr}");
    }
    assert!(!root.exists());
}

#[test]
fn a_server_that_cannot_listen_creates_no_root() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("never-made");
    let (code, stderr) = serve_to_the_end(&["--listen", &addr], &root);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!root.exists(), "the root was created: {stderr}");
}

#[test]
fn the_root_is_free_again_once_its_server_has_gone() {
    let root = tempfile::tempdir().unwrap();
    let mut first = Process::start(root.path(), &[]);
    first.signal(rustix::process::Signal::KILL);
    first.wait();
    // A killed server holds nothing: the kernel dropped its lock.
    let second = Process::start(root.path(), &[]);
    let mut client = ferry::Client::connect(second.addr).unwrap();
    client.put_bytes("after", b"free").unwrap();
    assert_eq!(client.get_bytes("after").unwrap(), b"free");
}
