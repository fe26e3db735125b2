//! A session at rest gives back its packet buffers' memory
//! (`src/ssh/rest.rs`) and works as before when traffic resumes: a
//! paramiko session (`rest.py` beside this file) rests after each step,
//! the test waiting until the server counts a rest
//! (`ferry_ssh_rests_total`, the rest time set to nothing), then lists,
//! gets, puts files of some MiB pipelined, and rekeys; a connection
//! whose client has said nothing rests at once and logs in later.
#![cfg(feature = "metrics")]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::http::metric;
use crate::support::tools::python_has;
use crate::support::{PATIENCE, TestServer, listen_sftp};

const SCRIPT: &str = include_str!("rest.py");

#[test]
fn a_session_that_rested_lists_gets_puts_and_rekeys() {
    if !python_has("paramiko", "pip install paramiko==5.1.0") {
        return;
    }
    let server = TestServer::start_with(|c| {
        listen_sftp(c);
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        c.ssh_rest = Duration::ZERO;
    });
    let metrics = server.metrics.unwrap();
    std::fs::write(server.path("small.txt"), "small\n").unwrap();
    let expected = tempfile::tempdir().unwrap();
    let mut client = Command::new("timeout")
        .arg(PATIENCE.as_secs().to_string())
        .args(["python3", "-c", SCRIPT])
        .arg(server.sftp.unwrap().port().to_string())
        .arg(expected.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = BufReader::new(client.stdout.take().unwrap());
    let mut tell = client.stdin.take().unwrap();
    let mut steps = Vec::new();
    let mut rests = 0;
    loop {
        let mut line = String::new();
        said.read_line(&mut line).unwrap();
        let step = line.trim().to_owned();
        if step == "done" || step.is_empty() {
            break;
        }
        // The session is quiet now: it rests (again) before it goes on.
        rests = rested_more_than(metrics, rests);
        steps.push(step);
        tell.write_all(b"go\n").unwrap();
    }
    let status = client.wait().unwrap();
    assert!(status.success(), "paramiko: {status} after {steps:?}");
    assert_eq!(steps, ["listed", "put", "got", "rekeyed"]);
    for name in ["big.bin", "after.bin"] {
        let sent = std::fs::read(expected.path().join(name)).unwrap();
        let stored = std::fs::read(server.path(name)).unwrap();
        assert!(stored == sent, "{name}: {} bytes stored", stored.len());
    }
}

/// Waits until the server has counted more than `seen` rests; the count.
fn rested_more_than(metrics: std::net::SocketAddr, seen: u64) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let rests = metric(metrics, "ferry_ssh_rests_total");
        if rests > seen {
            return rests;
        }
        assert!(Instant::now() < deadline, "no rest counted after {seen}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A connection whose client has sent nothing yet, not even its version
/// line: opened, then logged in when the test says (a pool that opens
/// its connections first and uses them later, benches/storm_sftp.sh).
const BARE_SCRIPT: &str = r#"
import socket, sys, paramiko
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("open", flush=True)
assert sys.stdin.readline().strip() == "go", "the test went away"
transport = paramiko.Transport(sock)
transport.connect(username="late", password="x")
sftp = paramiko.SFTPClient.from_transport(transport)
print(",".join(sftp.listdir(".")), flush=True)
transport.close()
"#;

/// A bare SSH connection gives back its packet buffers' memory as soon
/// as its version line is out, not a rest time later (set to an hour
/// here), and logs in as usual when its client speaks: 10,000 such
/// connections held 0.7 GB before.
#[test]
fn a_connection_whose_client_says_nothing_rests_at_once_and_logs_in_later() {
    if !python_has("paramiko", "pip install paramiko==5.1.0") {
        return;
    }
    let server = TestServer::start_with(|c| {
        listen_sftp(c);
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        c.ssh_rest = Duration::from_secs(3600);
    });
    let metrics = server.metrics.unwrap();
    std::fs::write(server.path("small.txt"), "small\n").unwrap();
    let mut client = Command::new("timeout")
        .arg(PATIENCE.as_secs().to_string())
        .args(["python3", "-c", BARE_SCRIPT])
        .arg(server.sftp.unwrap().port().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = BufReader::new(client.stdout.take().unwrap());
    let mut line = String::new();
    said.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "open");
    let deadline = Instant::now() + PATIENCE;
    while metric(metrics, "ferry_ssh_bare_rests_total") == 0 {
        assert!(
            Instant::now() < deadline,
            "the bare connection did not rest"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    client.stdin.take().unwrap().write_all(b"go\n").unwrap();
    line.clear();
    said.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "small.txt", "the listing after the rest");
    assert!(client.wait().unwrap().success());
    // Once: its client spoke, and the rest time between requests is far.
    assert_eq!(metric(metrics, "ferry_ssh_bare_rests_total"), 1);
    assert_eq!(metric(metrics, "ferry_ssh_rests_total"), 0);
}
