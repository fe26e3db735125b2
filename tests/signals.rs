//! The `ferry serve` process: SIGTERM and SIGINT shut it down cleanly with
//! exit status 0 after in-flight transfers finish, and a SIGKILL mid-upload
//! loses nothing that was acknowledged.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::Duration;

use support::{Raw, crc_hex, pattern};

/// A `ferry serve` child process on a free port.
struct Process {
    child: Child,
    addr: SocketAddr,
    _stderr: std::thread::JoinHandle<()>,
}

impl Process {
    fn start(root: &Path) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--grace-period",
                "20",
                "--root",
            ])
            .arg(root)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ferry serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        // The startup log line names the bound address: "... on 127.0.0.1:PORT, ...".
        let addr = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(rest) = line.split(" on 127.0.0.1:").nth(1) {
                let port = rest.split(',').next().unwrap();
                break format!("127.0.0.1:{port}").parse().unwrap();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let stderr = std::thread::spawn(move || drain(lines));
        Process {
            child,
            addr,
            _stderr: stderr,
        }
    }

    fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }
}

impl Drop for Process {
    /// A failed test must not leave a server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn drain(lines: std::io::Lines<BufReader<ChildStderr>>) {
    for _ in lines {}
}

#[test]
fn sigterm_lets_an_upload_finish_then_exits_zero() {
    use rustix::process::Signal;
    let root = tempfile::tempdir().unwrap();
    let mut server = Process::start(root.path());
    let mut idle = Raw::connect(server.addr);
    idle.line();
    let mut uploading = Raw::connect(server.addr);
    uploading.line();
    let body = pattern(200_000, 1);
    uploading.send(format!("PUT sig/file {}\n", body.len()));
    uploading.send(&body[..100_000]);
    let mut probe = Raw::connect(server.addr);
    probe.line();
    probe.send("ECHO 1\n.");
    assert_eq!(probe.line(), "OK 1");

    server.signal(Signal::TERM);
    idle.expect_closed();
    uploading.send(&body[100_000..]);
    assert_eq!(uploading.line(), format!("OK 200000 {}", crc_hex(&body)));
    uploading.expect_closed();
    assert!(server.wait().success(), "exit status 0");
    assert_eq!(std::fs::read(root.path().join("sig/file")).unwrap(), body);
}

#[test]
fn sigint_on_an_idle_server_exits_zero_at_once() {
    use rustix::process::Signal;
    let root = tempfile::tempdir().unwrap();
    let mut server = Process::start(root.path());
    server.signal(Signal::INT);
    assert!(server.wait().success());
}

#[test]
fn sigkill_mid_upload_keeps_the_old_file_and_restart_sweeps_the_temp_file() {
    use rustix::process::Signal;
    let root = tempfile::tempdir().unwrap();
    let mut server = Process::start(root.path());
    let mut client = ferry::Client::connect(server.addr).unwrap();
    client.put_bytes("precious", b"version 1").unwrap();

    let mut raw = Raw::connect(server.addr);
    raw.line();
    raw.send("PUT precious 1000000\n");
    raw.send(pattern(500_000, 2));
    // Wait until the server has written part of the new version to disk.
    let temp_exists = || {
        std::fs::read_dir(root.path()).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".ferry-")
        })
    };
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while !temp_exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no temp file appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    server.signal(Signal::KILL);
    assert!(!server.wait().success());
    assert_eq!(
        std::fs::read(root.path().join("precious")).unwrap(),
        b"version 1"
    );

    let mut restarted = Process::start(root.path());
    assert!(!temp_exists(), "stale temp file swept at startup");
    let mut client = ferry::Client::connect(restarted.addr).unwrap();
    assert_eq!(client.get_bytes("precious").unwrap(), b"version 1");
    restarted.signal(Signal::TERM);
    assert!(restarted.wait().success());
}
