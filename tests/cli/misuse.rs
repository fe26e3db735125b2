//! The `ferry` client under everyday misuse (issue 25), each case a real
//! client process against a real server on 127.0.0.1 with temp dirs: a
//! reader that closes the client's stdout early (`ferry ls -R | head -1`);
//! `--server` given the HTTP or metrics port; remote names with a leading
//! `/` (the root, on every command); and the small ones: a port out of
//! range, a local "folder" that is a file, `stat` of a folder, `get -n`
//! of a missing file,
//! Ctrl-C during `put --resume` and `get -r`.
#![cfg(feature = "client")] // the client commands it runs (Cargo.toml [features])

use crate::binary;
use crate::support;

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use binary::{failure, ferry, success};
use support::TestServer;

/// Runs `ferry <args>` (with `--server addr` if given) in `dir`, its stdout
/// a pipe whose reading end is closed already: every write fails with
/// EPIPE, as once `| head` has read what it wanted and gone.
fn run_with_stdout_closed(dir: &Path, server: Option<SocketAddr>, args: &[&str]) -> Output {
    // Close-on-exec: a child another test starts meanwhile must not keep
    // the reading end open (the client's writes would then wait, not fail).
    // The child's stdout is a copy of `writer` made without the flag.
    let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    drop(reader);
    let mut command = ferry(dir);
    command.args(args);
    if let Some(addr) = server {
        command.arg("--server").arg(addr.to_string());
    }
    command
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_stdout_ends_every_command_quietly_with_status_0() {
    let server = TestServer::start();
    fs::create_dir_all(server.path("in/deep")).unwrap();
    for i in 0..50 {
        fs::write(server.path(&format!("in/deep/{i}.txt")), "x").unwrap();
    }
    fs::write(server.path("big.bin"), vec![7u8; 1 << 20]).unwrap();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("local.txt"), "local").unwrap();
    let tokens = work.path().join("tokens");
    support::tokens::write_tokens(&tokens, &[("ci", &["read:/"])]);
    let tokens = tokens.to_str().unwrap();
    let to_server: &[&[&str]] = &[
        &["ls"],
        &["ls", "-R"],
        &["ls", "-R", "--json"],
        &["ls", "--json", "in"],
        &["stat", "big.bin"],
        &["stat", "--json", "big.bin"],
        &["get", "big.bin", "-"],
        &["get", "big.bin", "saved.bin"],
        &["get", "-r", "in", "got"],
        &["put", "local.txt"],
        &["mv", "--dry-run", "in", "out"],
        &["rm", "-r", "--dry-run", "in"],
        &["rm", "local.txt"],
    ];
    for args in to_server {
        let output = run_with_stdout_closed(work.path(), Some(server.addr), args);
        assert_eq!(success(&output), "", "{args:?}");
    }
    // Nothing was moved or removed by a dry run, and the get -r finished.
    assert_eq!(support::entries(&server.path("in/deep")).len(), 50);
    assert_eq!(support::entries(&work.path().join("got/in/deep")).len(), 50);
    for args in [
        &["completions", "bash"][..],
        &["token", "list", "--tokens", tokens],
    ] {
        let output = run_with_stdout_closed(work.path(), None, args);
        assert_eq!(success(&output), "", "{args:?}");
    }
}

#[test]
fn a_stdout_that_cannot_be_written_is_a_failure_not_a_panic() {
    let server = TestServer::start();
    fs::write(server.path("a.txt"), "a").unwrap();
    let work = tempfile::tempdir().unwrap();
    for args in [&["ls"][..], &["get", "a.txt", "-"]] {
        let output = ferry(work.path())
            .args(args)
            .arg("--server")
            .arg(server.addr.to_string())
            .stdout(fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(
            failure(&output, 3),
            "ferry: stdout: No space left on device (os error 28)",
            "{args:?}"
        );
    }
}

#[test]
fn a_client_pointed_at_an_http_port_says_so_at_once() {
    let server = TestServer::start_with(|config| {
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    });
    let work = tempfile::tempdir().unwrap();
    for port in [server.http.unwrap(), server.metrics.unwrap()] {
        // --connect-timeout only bounds the test: the client knows within
        // a second (a FERRY/1 server greets at once), and before it knew,
        // it waited the whole timeout and then blamed the greeting.
        let output = ferry(work.path())
            .args(["ls", "--connect-timeout", "10", "--server"])
            .arg(port.to_string())
            .output()
            .unwrap();
        assert_eq!(
            failure(&output, 3),
            format!("ferry: {port} speaks HTTP, not FERRY/1: use --server with the FERRY/1 port")
        );
    }
    // The FERRY/1 port itself is as good as ever.
    success(&binary::run(work.path(), server.addr, &["ls"]));
}

#[test]
fn a_leading_slash_means_the_root_on_every_command() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::write(dir.join("a.txt"), "a").unwrap();
    fs::create_dir(dir.join("d")).unwrap();
    fs::write(dir.join("d/x.txt"), "x").unwrap();
    let ok = |args: &[&str]| success(&binary::run(dir, server.addr, args));
    assert!(ok(&["put", "a.txt", "/in/"]).starts_with("stored in/a.txt "));
    assert!(ok(&["put", "a.txt", "/"]).starts_with("stored a.txt "));
    assert!(ok(&["put", "-r", "d", "/"]).contains(r#"under "d""#));
    assert!(ok(&["ls", "/in"]).contains("in/a.txt"));
    assert!(ok(&["ls", "-R", "/"]).contains("d/x.txt"));
    assert!(ok(&["stat", "/in/a.txt"]).starts_with("name:     in/a.txt\n"));
    assert_eq!(
        ok(&["get", "/in/a.txt", "b.txt"]),
        "saved b.txt (1 bytes)\n"
    );
    assert!(ok(&["get", "-r", "/", "out"]).starts_with("saved 3 files "));
    assert_eq!(
        support::entries(&dir.join("out")),
        ["a.txt", "d", "in"],
        "the whole server, under its own names"
    );
    assert_eq!(
        ok(&["mv", "/a.txt", "/moved/"]),
        "moved a.txt -> moved/a.txt\n"
    );
    assert_eq!(
        ok(&["mv", "/moved/a.txt", "/"]),
        "moved moved/a.txt -> a.txt\n"
    );
    assert_eq!(ok(&["rm", "/a.txt"]), "removed a.txt\n");
    assert!(ok(&["sync", "d", "/web/"]).starts_with("sync: 1 uploaded"));
    assert!(ok(&["sync", "/web/", "w"]).starts_with("sync: 1 downloaded"));
    // The root is a folder: file commands say so.
    for args in [&["stat", "/"][..], &["get", "/"], &["rm", "/"]] {
        let line = failure(&binary::run(dir, server.addr, args), 2);
        assert!(line.starts_with("ferry: /: "), "{line}");
    }
    // Everything, as coreutils' rm: only when asked twice.
    let line = failure(&binary::run(dir, server.addr, &["rm", "-r", "/"]), 2);
    assert!(line.contains("--no-preserve-root"), "{line}");
    assert_eq!(server.files_on_disk().len(), 3);
    let removed = ok(&["rm", "-r", "--no-preserve-root", "/"]);
    assert_eq!(removed.lines().count(), 3, "{removed}");
    assert_eq!(server.files_on_disk(), Vec::<String>::new());
}

#[test]
fn a_port_out_of_range_is_a_usage_error() {
    let work = tempfile::tempdir().unwrap();
    for server in ["127.0.0.1:99999", "files.lan:0", "files.lan:http"] {
        let output = ferry(work.path())
            .args(["ls", "--server", server])
            .output()
            .unwrap();
        assert_eq!(
            failure(&output, 2),
            format!("ferry: --server {server}: the port must be a number from 1 to 65535")
        );
    }
}

#[test]
fn get_into_a_folder_that_is_a_file_says_so() {
    let server = TestServer::start();
    fs::write(server.path("a.txt"), "a").unwrap();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("file"), "mine").unwrap();
    let line = failure(
        &binary::run(work.path(), server.addr, &["get", "a.txt", "file/"]),
        3,
    );
    assert_eq!(line, "ferry: file/: is a file, not a folder to save into");
    assert_eq!(
        fs::read_to_string(work.path().join("file")).unwrap(),
        "mine"
    );
}

#[test]
fn stat_of_a_folder_is_a_usage_error_with_or_without_its_slash() {
    let server = TestServer::start();
    fs::create_dir_all(server.path("photos/2026")).unwrap();
    let work = tempfile::tempdir().unwrap();
    for name in ["photos", "photos/", "/photos/2026"] {
        let line = failure(&binary::run(work.path(), server.addr, &["stat", name]), 2);
        assert_eq!(
            line,
            // A leading `/` is the root: the message names the file as stored.
            format!(
                "ferry: {}: names a folder (ferry ls lists a folder)",
                name.trim_start_matches('/')
            )
        );
    }
}

#[test]
fn get_n_of_a_missing_remote_file_is_an_error_not_a_skip() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("here.txt"), "mine").unwrap();
    let line = failure(
        &binary::run(work.path(), server.addr, &["get", "-n", "here.txt"]),
        1,
    );
    assert_eq!(line, "ferry: here.txt: no such file");
    // Where the remote file is there, -n skips as before.
    fs::write(server.path("here.txt"), "theirs").unwrap();
    let out = success(&binary::run(
        work.path(),
        server.addr,
        &["get", "-n", "here.txt"],
    ));
    assert_eq!(out, "skipped here.txt (exists)\n");
    assert_eq!(
        fs::read_to_string(work.path().join("here.txt")).unwrap(),
        "mine"
    );
}

/// Polls `done` every 10 ms for up to 30 s (a hang guard).
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends Ctrl-C's signal to `child`; its exit code as a shell reports it.
fn interrupt(child: &mut Child) -> Option<i32> {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let status = child.wait().unwrap();
    status.code().or(status.signal().map(|s| 128 + s))
}

#[test]
fn ctrl_c_during_put_resume_says_how_to_resume() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = support::pattern(1 << 20, 5);
    fs::write(work.path().join("big.bin"), &data).unwrap();
    let addr = server.addr.to_string();
    let put = ["put", "--resume", "big.bin", "--server", &addr];
    // Slow, so that it is still sending when interrupted; -v says when
    // the first chunk is on its way.
    let mut child = ferry(work.path())
        .args(put)
        .args(["--limit-rate", "64K", "--chunk-size", "64K", "-v"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("> APPEND ") {
            break;
        }
    }
    assert_eq!(interrupt(&mut child), Some(130));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(
        rest.last().map(String::as_str),
        Some(
            "ferry: interrupted (the server keeps the bytes it received: \
             run the same command again to resume)"
        ),
        "{rest:?}"
    );
    // And so it does.
    let out = success(&ferry(work.path()).args(put).output().unwrap());
    assert!(out.starts_with("stored big.bin (1048576 bytes, "), "{out}");
    assert_eq!(fs::read(server.path("big.bin")).unwrap(), data);
}

#[test]
fn ctrl_c_during_get_r_leaves_no_folder_it_made() {
    let server = TestServer::start();
    fs::create_dir_all(server.path("logs/2026")).unwrap();
    fs::write(server.path("logs/2026/big.bin"), vec![1u8; 1 << 20]).unwrap();
    let work = tempfile::tempdir().unwrap();
    fs::create_dir(work.path().join("kept")).unwrap();
    let mut child = ferry(work.path())
        .args(["get", "-r", "logs", "out/deeper"])
        .args(["--limit-rate", "64K", "--server", &server.addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let partial = work.path().join("out/deeper/logs/2026/.big.bin.ferry-part");
    wait_until("the partial file", || {
        fs::metadata(&partial).is_ok_and(|m| m.len() > 0)
    });
    assert_eq!(interrupt(&mut child), Some(130));
    // Every folder it made is gone; what was there before stays.
    assert_eq!(support::entries(work.path()), ["kept"]);
}

/// A tree sent with a token that may not write there says so once, not
/// once per file (issue 57: `sync` printed 202 identical refusals, `put
/// -r` 201 and then "201 of 201 files failed"): the first refusal, then
/// how many more were refused the same way, then the count.
#[test]
fn a_refused_tree_says_so_in_a_few_lines() {
    let root = tempfile::tempdir().unwrap();
    let tokens_dir = tempfile::tempdir().unwrap();
    let (path, tokens) = support::tokens::tokens_in(tokens_dir.path(), &[("ro", &["read:/"])]);
    let server = TestServer::start_in(root, |c| {
        c.access = ferry::access::AccessConfig {
            tokens: Some(path),
            anonymous: Vec::new(),
            no_auth: false,
        };
    });
    let work = tempfile::tempdir().unwrap();
    fs::create_dir_all(work.path().join("small")).unwrap();
    for n in 0..40 {
        fs::write(work.path().join(format!("small/{n}.txt")), "x").unwrap();
    }
    for args in [
        &["put", "-r", "small", "shared/sm/"][..],
        &["sync", "small", "shared/sm/"],
    ] {
        let output = ferry(work.path())
            .args(args)
            .args(["--server", &server.addr.to_string()])
            .env("FERRY_TOKEN", &tokens[0])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(lines.len() <= 3, "{args:?}: {stderr}");
        assert!(
            stderr.contains("39 more files refused the same way (403)"),
            "{stderr}"
        );
    }
}
