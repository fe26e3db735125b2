//! One server per node id and root, enforced: a second `ferry serve` with a
//! node id already serving the root exits naming the first and touches
//! nothing in it (an upload in flight survives) and binds no port, a
//! malformed id is refused, and a server that cannot listen leaves no root
//! behind and no journal unswept. (Servers with different node ids share a
//! root: tests/nodes/shared_root.rs.)

use crate::support;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::process::{Process, serve_args};
use support::{PATIENCE, Raw, crc_hex, pattern};

/// Runs `ferry serve` with `args` to its end (within [`PATIENCE`]; one
/// still running then fails the test); its exit code and stderr.
pub(crate) fn serve_to_the_end(args: &[&str], root: &Path) -> (Option<i32>, String) {
    serve_to_the_end_watching(args, root, || {})
}

/// As [`serve_to_the_end`], calling `watch` every few milliseconds while
/// the server runs.
fn serve_to_the_end_watching(
    args: &[&str],
    root: &Path,
    mut watch: impl FnMut(),
) -> (Option<i32>, String) {
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
        watch();
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

/// An address on which nothing listens now: a port the kernel handed out
/// and took back.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn a_second_server_on_a_root_in_use_exits_without_binding_a_port() {
    let root = tempfile::tempdir().unwrap();
    let first = Process::start(root.path(), &["--node-id", "web-1"]);
    let (listen, http) = (free_addr(), free_addr());
    let (listen_arg, http_arg) = (listen.to_string(), http.to_string());
    let mut answered = Vec::new();
    let (code, stderr) = serve_to_the_end_watching(
        &[
            "--listen",
            &listen_arg,
            "--http",
            &http_arg,
            "--node-id",
            "web-1",
        ],
        root.path(),
        || {
            for addr in [listen, http] {
                if TcpStream::connect(addr).is_ok() && !answered.contains(&addr) {
                    answered.push(addr);
                }
            }
        },
    );
    assert_eq!(code, Some(1), "{stderr}");
    let expected = format!(
        "ferry: node \"web-1\" already serves {} (pid {}); give each server its own --node-id",
        root.path().display(),
        first.child.id()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(answered.is_empty(), "it listened on {answered:?}: {stderr}");
}

#[test]
fn a_server_that_cannot_listen_leaves_a_dead_runs_journal_to_be_swept() {
    let root = tempfile::tempdir().unwrap();
    let mut first = Process::start(root.path(), &[]);
    let mut upload = Raw::connect(first.addr);
    upload.line();
    upload.send("PUT orphan 1000000\n");
    upload.send(pattern(1000, 7));
    let deadline = Instant::now() + PATIENCE;
    while temp_files(root.path()) == 0 {
        assert!(Instant::now() < deadline, "no temp file appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    first.signal(rustix::process::Signal::KILL);
    first.wait();

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, stderr) = serve_to_the_end(&["--listen", &addr], root.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(temp_files(root.path()), 1, "{stderr}");

    // The killed run's journal still names the root: the next start's
    // sweep finds its temp file.
    let next = Process::start(root.path(), &[]);
    next.wait_for_log("start-up sweep done");
    assert_eq!(temp_files(root.path()), 0);
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
