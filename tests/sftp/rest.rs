//! A session at rest gives back its packet buffers' memory
//! (`src/ssh/rest.rs`) and works as before when traffic resumes: a
//! paramiko session (`rest.py` beside this file) rests after each step,
//! the test waiting until the server counts a rest
//! (`ferry_ssh_rests_total`, the rest time set to nothing), then lists,
//! gets, puts files of some MiB pipelined, and rekeys.
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
