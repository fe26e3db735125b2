//! How the `ferry` client moves files, checked against a real server on
//! 127.0.0.1 with temp dirs: `put` reads a file once (its checksum follows
//! the body), uploads keep the local modification time, `--limit-rate`
//! bounds the speed of one transfer and of a folder's connections
//! together, `--connect-timeout` and `--max-time` end a command that
//! waits on a silent server (a partial download is removed), and `put -`
//! uploads standard input of unknown length.
//!
//! Speeds are checked from below only: a busy machine may be slower than
//! a limit, never faster.
#![cfg(feature = "client")] // the client commands it runs (Cargo.toml [features])

use crate::binary;
use crate::support;

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use binary::{failure, ferry, run, stderr, success};
use support::{TestServer, pattern};

/// A modification time far from now: 2001-09-09.
const OLD: u64 = 1_000_000_000;

fn make_old(path: &Path) {
    support::set_mtime(path, OLD);
}

fn mtime_on_server(server: &TestServer, name: &str) -> i64 {
    server.client().stat(name).unwrap().mtime
}

#[test]
fn put_sends_the_checksum_after_the_body() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = pattern(3_000_000, 7);
    fs::write(work.path().join("big.bin"), &data).unwrap();
    let output = run(work.path(), server.addr, &["-v", "put", "big.bin"]);
    assert!(output.status.success(), "{}", stderr(&output));
    // The request line says `-` where the CRC would be: nothing was read
    // before the connection, and the body is read once.
    let log = stderr(&output);
    assert!(log.contains("> PUT big.bin 3000000 - mtime="), "{log}");
    assert_eq!(fs::read(server.path("big.bin")).unwrap(), data);
}

#[test]
fn put_keeps_the_local_modification_time() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("one.txt"), "one\n").unwrap();
    make_old(&work.path().join("one.txt"));
    fs::create_dir_all(work.path().join("dir/sub")).unwrap();
    for name in ["dir/a.txt", "dir/sub/b.txt"] {
        fs::write(work.path().join(name), name).unwrap();
        make_old(&work.path().join(name));
    }

    success(&run(work.path(), server.addr, &["-q", "put", "one.txt"]));
    success(&run(
        work.path(),
        server.addr,
        &["-q", "put", "--resume", "one.txt", "resumed.txt"],
    ));
    success(&run(work.path(), server.addr, &["-q", "put", "-r", "dir"]));
    for name in ["one.txt", "resumed.txt", "dir/a.txt", "dir/sub/b.txt"] {
        assert_eq!(mtime_on_server(&server, name), OLD as i64, "{name}");
    }
}

#[test]
fn get_keeps_the_modification_time_the_file_has_on_the_server() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    for name in ["one.txt", "dir/a.txt", "dir/sub/b.txt"] {
        let local = work.path().join("up").join(name);
        fs::create_dir_all(local.parent().unwrap()).unwrap();
        fs::write(&local, name).unwrap();
        make_old(&local);
    }
    let up = work.path().join("up");
    success(&run(&up, server.addr, &["-q", "put", "one.txt"]));
    success(&run(&up, server.addr, &["-q", "put", "-r", "dir"]));
    let down = work.path().join("down");
    fs::create_dir_all(&down).unwrap();
    success(&run(&down, server.addr, &["-q", "get", "one.txt"]));
    success(&run(
        &down,
        server.addr,
        &["-q", "get", "--resume", "one.txt", "again.txt"],
    ));
    success(&run(&down, server.addr, &["-q", "get", "-r", "dir/"]));
    // get -r dir/ saves the folder's contents here, as rsync does.
    for name in ["one.txt", "again.txt", "a.txt", "sub/b.txt"] {
        let path = down.join(name);
        assert!(path.exists(), "{name}: {:?}", support::entries(&down));
        assert_eq!(support::mtime_secs(&path), OLD, "{name}");
    }
}

/// Runs `ferry <args>` and returns how long it took, checking it worked.
fn timed(work: &Path, server: &TestServer, args: &[&str]) -> Duration {
    let started = Instant::now();
    success(&run(work, server.addr, args));
    started.elapsed()
}

#[test]
fn limit_rate_holds_put_and_get_below_the_rate() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    // 200 KiB at 100 KiB/s: two seconds at the least, less the twentieth
    // of a second the bucket may hold.
    fs::write(work.path().join("a.bin"), pattern(200 * 1024, 3)).unwrap();
    let limit = Duration::from_millis(1800);
    let put = timed(
        work.path(),
        &server,
        &["-q", "put", "a.bin", "--limit-rate", "100K"],
    );
    assert!(put >= limit, "put took {put:?}");
    let get = timed(
        work.path(),
        &server,
        &["-q", "get", "a.bin", "b.bin", "--limit-rate", "100K"],
    );
    assert!(get >= limit, "get took {get:?}");
    assert_eq!(
        fs::read(work.path().join("b.bin")).unwrap(),
        pattern(200 * 1024, 3)
    );
}

#[test]
fn limit_rate_is_for_all_connections_of_a_folder_together() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    fs::create_dir(work.path().join("dir")).unwrap();
    for i in 0..4 {
        fs::write(
            work.path().join(format!("dir/{i}.bin")),
            pattern(50 * 1024, i),
        )
        .unwrap();
    }
    // 200 KiB over 4 connections at 100 KiB/s in all.
    let took = timed(
        work.path(),
        &server,
        &[
            "-q",
            "put",
            "-r",
            "dir",
            "--parallel",
            "4",
            "--limit-rate",
            "100K",
        ],
    );
    assert!(took >= Duration::from_millis(1800), "put -r took {took:?}");
}

#[test]
fn limit_rate_of_nothing_is_a_usage_error() {
    let work = tempfile::tempdir().unwrap();
    let output = ferry(work.path())
        .args(["get", "x", "--limit-rate", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("rate of 0"), "{}", stderr(&output));
}

#[test]
fn connect_timeout_ends_a_wait_for_a_server_that_never_greets() {
    // Connections complete in the kernel's backlog, but nobody accepts
    // them: no greeting ever comes.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let work = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = run(
        work.path(),
        silent.local_addr().unwrap(),
        &["ls", "--connect-timeout", "0.5"],
    );
    let took = started.elapsed();
    let line = failure(&output, 3);
    assert!(line.contains("did not greet within 0.5 s"), "{line}");
    assert!(took >= Duration::from_millis(500), "{took:?}");
}

#[test]
fn connect_timeout_counts_the_probe_of_a_silent_port() {
    // The port accepts and says nothing, the probe's connection included:
    // the probe may take only what is left of the timeout. Before, its
    // 0.5 s came on top (at least 0.5 + 0.5 + 0.1 = 1.1 s for 0.6 s).
    let addr = silent_server();
    let endpoint = ferry::client::Endpoint {
        connect_timeout: Some(Duration::from_millis(600)),
        ..ferry::client::Endpoint::new(addr.to_string())
    };
    let started = Instant::now();
    let err = endpoint.connect().expect_err("no greeting");
    let took = started.elapsed();
    assert!(
        err.to_string().contains("did not greet within 0.6 s"),
        "{err}"
    );
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < Duration::from_millis(1050), "{took:?}");
}

/// A listener that accepts, and holds every connection open without a
/// word; its address.
fn silent_server() -> std::net::SocketAddr {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    std::thread::spawn(move || {
        let held: Vec<_> = silent.incoming().collect();
        drop(held);
    });
    addr
}

#[test]
fn max_time_ends_a_get_from_a_server_that_accepts_and_says_nothing() {
    let addr = silent_server();
    let work = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = run(work.path(), addr, &["get", "x.bin", "--max-time", "1"]);
    let took = started.elapsed();
    let line = failure(&output, 3);
    assert_eq!(line, "ferry: get x.bin: gave up after --max-time 1 s");
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert_eq!(support::entries(work.path()), Vec::<String>::new());
}

#[test]
fn max_time_bounds_every_client_command() {
    let addr = silent_server();
    let work = tempfile::tempdir().unwrap();
    fs::create_dir(work.path().join("local")).unwrap();
    for (args, what) in [
        (&["mv", "a", "b", "--max-time", "1"][..], "mv a"),
        (
            &["sync", "local", "web/", "--max-time", "1"][..],
            "sync local",
        ),
        (&["ls", "--max-time", "1"][..], "ls"),
    ] {
        let line = failure(&run(work.path(), addr, args), 3);
        assert_eq!(line, format!("ferry: {what}: gave up after --max-time 1 s"));
    }
}

#[test]
fn max_time_removes_a_partial_download() {
    let server = TestServer::start();
    fs::write(server.path("big.bin"), pattern(1 << 20, 9)).unwrap();
    let work = tempfile::tempdir().unwrap();
    // 1 MiB at 100 KiB/s takes ten seconds: stopped after one.
    let output = run(
        work.path(),
        server.addr,
        &["get", "big.bin", "--limit-rate", "100K", "--max-time", "1"],
    );
    let line = failure(&output, 3);
    assert!(line.contains("gave up after --max-time 1 s"), "{line}");
    assert_eq!(support::entries(work.path()), Vec::<String>::new());
}

#[test]
fn max_time_keeps_a_resumable_download_and_says_where() {
    let server = TestServer::start();
    let data = pattern(1 << 20, 9);
    fs::write(server.path("big.bin"), &data).unwrap();
    let work = tempfile::tempdir().unwrap();
    let output = run(
        work.path(),
        server.addr,
        &[
            "get",
            "--resume",
            "big.bin",
            "--limit-rate",
            "100K",
            "--max-time",
            "1",
        ],
    );
    let line = failure(&output, 3);
    assert!(
        line.ends_with(
            "gave up after --max-time 1 s (partial download kept in .big.bin.ferry-part: \
             run the same command again to resume)"
        ),
        "{line}"
    );
    // And it goes on from there.
    success(&run(
        work.path(),
        server.addr,
        &["-q", "get", "--resume", "big.bin"],
    ));
    assert!(fs::read(work.path().join("big.bin")).unwrap() == data);
}

/// Runs `ferry <args> --server <addr>` in `dir` with `input` on stdin.
fn run_with_stdin(dir: &Path, server: &TestServer, args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = ferry(dir)
        .args(args)
        .arg("--server")
        .arg(server.addr.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Written from a thread, so a client that stops reading cannot block
    // the test.
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}

#[test]
fn put_dash_uploads_standard_input_of_unknown_length() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = pattern(700_000, 11);
    let output = run_with_stdin(work.path(), &server, &["put", "-", "logs/piped.bin"], &data);
    let said = success(&output);
    assert_eq!(
        said,
        format!(
            "stored logs/piped.bin (700000 bytes, crc32c {})\n",
            support::crc_hex(&data)
        )
    );
    assert_eq!(fs::read(server.path("logs/piped.bin")).unwrap(), data);

    let output = run_with_stdin(work.path(), &server, &["put", "-", "empty"], b"");
    success(&output);
    assert_eq!(fs::read(server.path("empty")).unwrap(), b"");

    // Standard input has no name of its own.
    let output = run_with_stdin(work.path(), &server, &["put", "-"], b"x");
    let line = failure(&output, 2);
    assert!(line.contains("give the remote file's name"), "{line}");
}

#[test]
fn put_dash_over_the_servers_limit_is_refused_and_leaves_nothing() {
    let server = TestServer::start_with(|c| c.max_file_size = Some(1000));
    let work = tempfile::tempdir().unwrap();
    let output = run_with_stdin(
        work.path(),
        &server,
        &["put", "-", "big.bin"],
        &pattern(5000, 1),
    );
    let line = failure(&output, 1);
    assert!(line.starts_with("ferry: big.bin: "), "{line}");
    assert!(!server.path("big.bin").exists());
}
