//! The `ferry serve` process: SIGTERM and SIGINT shut it down cleanly with
//! exit status 0 after in-flight transfers finish, and a SIGKILL mid-upload
//! loses nothing that was acknowledged.

use crate::support;

use std::time::Duration;

use support::process::Process;
use support::{Raw, crc_hex, pattern};

#[test]
fn sigterm_lets_an_upload_finish_then_exits_zero() {
    use rustix::process::Signal;
    let root = tempfile::tempdir().unwrap();
    let mut server = Process::start(root.path(), &["--grace-period", "20"]);
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
    let mut server = Process::start(root.path(), &["--grace-period", "20"]);
    server.signal(Signal::INT);
    assert!(server.wait().success());
}

#[test]
fn sigkill_mid_upload_keeps_the_old_file_and_restart_sweeps_the_temp_file() {
    use rustix::process::Signal;
    let root = tempfile::tempdir().unwrap();
    let mut server = Process::start(root.path(), &["--grace-period", "20"]);
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
                .starts_with(".ferry-tmp-")
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

    let mut restarted = Process::start(root.path(), &["--grace-period", "20"]);
    // The sweep runs beside the listening server.
    let swept = restarted.wait_for_log("start-up sweep done");
    assert!(swept.contains(" 1 stale temp files"), "{swept}");
    assert!(!temp_exists(), "stale temp file swept at startup");
    let mut client = ferry::Client::connect(restarted.addr).unwrap();
    assert_eq!(client.get_bytes("precious").unwrap(), b"version 1");
    restarted.signal(Signal::TERM);
    assert!(restarted.wait().success());
}

#[test]
fn a_second_signal_ends_the_grace_period_at_once() {
    use rustix::process::Signal;
    let root = tempfile::tempdir().unwrap();
    let mut server = Process::start(root.path(), &["--grace-period", "600"]);
    let mut uploading = Raw::connect(server.addr);
    uploading.line();
    uploading.send("PUT unfinished 1000000\n");
    uploading.send(pattern(1000, 3));
    let mut probe = Raw::connect(server.addr);
    probe.line();
    probe.send("ECHO 1\n.");
    assert_eq!(probe.line(), "OK 1");
    assert_eq!(probe.bytes(1), b".");

    server.signal(Signal::TERM);
    probe.expect_closed(); // the first signal was handled
    server.signal(Signal::TERM);
    assert!(server.wait().success(), "exit status 0");
    // Nothing but the nodes' locks and journals, and WebDAV's locks.
    let left: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != ".ferry-nodes" && name != ".ferry-dav")
        .collect();
    assert!(left.is_empty(), "temp file left behind: {left:?}");
}

#[test]
fn a_request_half_sent_when_sigterm_arrives_is_still_served() {
    use rustix::process::Signal;
    let root = tempfile::tempdir().unwrap();
    let mut server = Process::start(root.path(), &["--workers", "1", "--grace-period", "20"]);
    let mut idle = Raw::connect(server.addr);
    idle.line();
    let mut late = Raw::connect(server.addr);
    late.line();
    late.send("PUT sig/late 5"); // no newline yet: the line is half there
    let mut probe = Raw::connect(server.addr);
    probe.line();
    probe.send("ECHO 1\n.");
    assert_eq!(probe.line(), "OK 1");
    assert_eq!(probe.bytes(1), b".");

    server.signal(Signal::TERM);
    idle.expect_closed();
    late.send("\nhello");
    assert_eq!(late.line(), format!("OK 5 {}", crc_hex(b"hello")));
    late.expect_closed();
    assert!(server.wait().success(), "exit status 0");
    assert_eq!(
        std::fs::read(root.path().join("sig/late")).unwrap(),
        b"hello"
    );
}

#[test]
fn a_closed_log_pipe_never_ends_the_server() {
    use std::io::{BufRead, BufReader};
    use std::process::Command;
    // `ferry serve 2>&1 | tee log`, and `tee` goes first (Ctrl-C).
    let root = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    support::process::serve_args(
        &mut command,
        root.path(),
        &["--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"],
    );
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let ready = loop {
        let line = lines.next().expect("a ready line").unwrap();
        if line.contains(" on 127.0.0.1:") {
            break line;
        }
    };
    let port = ready.split(" on 127.0.0.1:").nth(1).unwrap();
    let addr: std::net::SocketAddr =
        format!("127.0.0.1:{}", port.split([',', ' ']).next().unwrap())
            .parse()
            .unwrap();
    let metrics: std::net::SocketAddr = ready
        .split("(metrics on http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .parse()
        .unwrap();
    drop(lines); // the reader of the log is gone
    // Every answered request writes an access-log line to the closed pipe.
    let body = pattern(3 << 20, 2);
    let mut client = Raw::connect(addr);
    client.line();
    for n in 0..20 {
        client.send(format!("PUT logged/{n} {}\n", body.len()));
        client.send(&body);
        assert_eq!(
            client.line(),
            format!("OK {} {}", body.len(), crc_hex(&body))
        );
    }
    // The access log's lines reach stderr in batches: wait for them to be
    // counted as dropped.
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while support::http::metric(metrics, "ferry_log_bytes_dropped_total") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing counted as dropped"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Shutting down logs too (where the server used to abort, exit 134).
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status 0, not {status}");
}

/// An upload still arriving when the grace period ends is answered `503`
/// (try again) before its connection closes, whatever the protocol, not
/// left with a broken pipe and no status (issue 57 item 3); the file
/// stays as it was.
#[test]
fn an_upload_cut_by_the_grace_periods_end_is_told_503() {
    use rustix::process::Signal;
    use std::io::{Read, Write};
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("kept"), b"version 1").unwrap();
    let mut server = Process::start(
        root.path(),
        &["--grace-period", "1", "--http", "127.0.0.1:0"],
    );
    let mut ferry = Raw::connect(server.addr);
    ferry.line();
    ferry.send("PUT kept 10000000\n");
    ferry.send(pattern(100_000, 1));
    let mut http = std::net::TcpStream::connect(server.http_addr()).unwrap();
    http.set_read_timeout(Some(support::PATIENCE)).unwrap();
    let head = "PUT /kept HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\n\r\n";
    http.write_all(head.as_bytes()).unwrap();
    http.write_all(&pattern(100_000, 2)).unwrap();
    // curl, sending slowly: it used to say "(55) Send failure: Broken
    // pipe" with no status.
    let here = tempfile::tempdir().unwrap();
    let source = here.path().join("20MiB.bin");
    let curl = support::tools::have("curl", &["--version"], "apt-get install curl").then(|| {
        std::fs::write(&source, pattern(20 << 20, 3)).unwrap();
        let url = format!("http://{}/kept", server.http_addr());
        std::process::Command::new("curl")
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--limit-rate",
                "1M",
                "-T",
            ])
            .arg(&source)
            .arg(url)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    });
    let uploads = 2 + usize::from(curl.is_some());
    // Both bodies have begun arriving: each has its temp file (nothing
    // else tells a client the server has read its head: this polls).
    let temp_files = || {
        std::fs::read_dir(root.path())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with(".ferry-tmp-")
            })
            .count()
    };
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while temp_files() < uploads {
        assert!(std::time::Instant::now() < deadline, "no temp files");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.signal(Signal::TERM);
    assert!(
        ferry.line().starts_with("ERR 503 "),
        "FERRY/1 told to try again"
    );
    let mut answer = String::new();
    http.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("Retry-After: 1\r\n"), "{answer}");
    if let Some(curl) = curl {
        let said = curl.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&said.stdout),
            "503",
            "curl's status"
        );
    }
    assert!(server.wait().success());
    assert_eq!(
        std::fs::read(root.path().join("kept")).unwrap(),
        b"version 1"
    );
}
