//! More rough edges of the `ferry` client a new user hit (issue 14), each
//! checked against a real server on 127.0.0.1 with temp dirs: an
//! interrupted plain `get` leaves nothing behind; local errors name the
//! user's file, not the hidden partial one; `get` of a folder is a usage
//! error; `get -r` of a missing folder fails, and `-r <folder>` means that
//! folder only; `put -r` of a missing folder says so; empty remote names;
//! `--server` without a port; names with control characters stay on one
//! line; folder summaries; bars that fit the terminal; a checksumming bar;
//! README's completion commands.
#![cfg(feature = "client")] // the client commands it runs (Cargo.toml [features])

use crate::binary;
use crate::support;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use binary::{failure, ferry, run, success};
use support::TestServer;

/// Polls `done` every 10 ms for up to 30 s.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ctrl_c_during_a_plain_get_removes_the_partial_file() {
    let server = TestServer::start();
    // Sparse, so the server's disk holds nothing; far more than the client
    // can write before the signal.
    fs::File::create(server.path("huge.bin"))
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let partial = work.path().join(".huge.bin.ferry-part");
    for resume in [false, true] {
        let mut command = ferry(work.path());
        command.args(["get", "huge.bin", "--server", &server.addr.to_string()]);
        if resume {
            command.arg("--resume");
        }
        let mut child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_until("the partial file", || {
            fs::metadata(&partial).is_ok_and(|m| m.len() > 0)
        });
        let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
        let status = child.wait().unwrap();
        // 128 + SIGINT, as README's exit-code table says (what a shell
        // reports for a process the signal ended, too).
        let code = status.code().or(status.signal().map(|s| 128 + s));
        assert_eq!(code, Some(130), "resume {resume}");
        assert!(!work.path().join("huge.bin").exists());
        // A plain get is all or nothing; --resume keeps its bytes.
        assert_eq!(partial.exists(), resume, "resume {resume}");
        let _ = fs::remove_file(&partial);
    }
}

#[test]
fn local_errors_name_the_target_not_the_partial_file() {
    let server = TestServer::start();
    fs::write(server.path("a.txt"), "a\n").unwrap();
    let work = tempfile::tempdir().unwrap();
    // Something in the partial file's way (a folder of that name): creating
    // it fails whatever the user's privileges.
    fs::create_dir(work.path().join(".a.txt.ferry-part")).unwrap();
    let line = failure(&run(work.path(), server.addr, &["get", "a.txt"]), 3);
    assert!(line.starts_with("ferry: a.txt: "), "{line}");
    assert!(!line.contains("ferry-part"), "{line}");
}

#[test]
fn get_of_a_folder_without_r_is_a_usage_error() {
    let server = TestServer::start();
    fs::create_dir(server.path("photos")).unwrap();
    fs::write(server.path("photos/a.jpg"), "jpg").unwrap();
    let work = tempfile::tempdir().unwrap();
    for args in [&["get", "photos"][..], &["get", "photos", "-"]] {
        let line = failure(&run(work.path(), server.addr, args), 2);
        assert_eq!(
            line, "ferry: photos: names a folder (use -r to download a folder)",
            "{args:?}"
        );
    }
    assert_eq!(support::entries(work.path()), Vec::<String>::new());
}

#[test]
fn get_r_of_a_missing_folder_fails_and_a_folder_means_that_folder_only() {
    let server = TestServer::start();
    for (name, body) in [
        ("sensors/a.csv", "a"),
        ("sensors/deep/b.csv", "b"),
        ("sensors-old/a.csv", "old"),
    ] {
        fs::create_dir_all(server.path(name).parent().unwrap()).unwrap();
        fs::write(server.path(name), body).unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    for missing in ["nonexistent/", "nonexistent", "sensors/a.csv"] {
        let line = failure(&run(work.path(), server.addr, &["get", "-r", missing]), 1);
        let folder = missing.trim_end_matches('/');
        assert_eq!(line, format!("ferry: {folder}/: no such folder"));
    }
    assert_eq!(support::entries(work.path()), Vec::<String>::new());

    let out = success(&run(work.path(), server.addr, &["get", "-r", "sensors"]));
    assert!(out.starts_with("saved 2 files "), "{out}");
    assert_eq!(support::entries(work.path()), ["sensors"]);
    assert_eq!(
        support::entries(&work.path().join("sensors")),
        ["a.csv", "deep"]
    );
}

#[test]
fn put_r_of_a_missing_folder_says_it_does_not_exist() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let line = failure(
        &run(work.path(), server.addr, &["put", "-r", "nonexistentdir"]),
        3,
    );
    assert_eq!(
        line,
        "ferry: nonexistentdir: No such file or directory (os error 2)"
    );
    // As for one missing file.
    let line = failure(
        &run(work.path(), server.addr, &["put", "nonexistentdir"]),
        3,
    );
    assert_eq!(
        line,
        "ferry: nonexistentdir: No such file or directory (os error 2)"
    );
}

#[test]
fn an_empty_remote_name_is_a_usage_error() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("a.txt"), "a").unwrap();
    for args in [
        &["put", "a.txt", ""][..],
        &["get", ""],
        &["stat", ""],
        &["rm", "x", ""],
    ] {
        let line = failure(&run(work.path(), server.addr, args), 2);
        assert_eq!(line, "ferry: the remote name is empty", "{args:?}");
    }
    assert_eq!(server.files_on_disk(), Vec::<String>::new());
}

#[test]
fn server_without_a_port_means_the_default_port() {
    // Whatever listens on 5010 on this machine (the README's Quick-start
    // server, say) is none of this test's business: the client's default
    // port is pointed, for tests only, at a server this test started.
    let server = TestServer::start();
    fs::write(server.path("here.txt"), "x").unwrap();
    let work = tempfile::tempdir().unwrap();
    let output = ferry(work.path())
        .args(["ls", "--server", "127.0.0.1"])
        .env("FERRY_TEST_DEFAULT_PORT", server.addr.port().to_string())
        .output()
        .unwrap();
    assert!(success(&output).contains("here.txt"));
}

#[test]
fn serve_resolves_host_names_for_listen() {
    let root = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
    support::process::serve_args(&mut command, root.path(), &["--listen", "localhost:0"]);
    let mut child = command.spawn().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    // The ready line names the address: "... on 127.0.0.1:PORT, ..." (or
    // [::1]:PORT, as localhost resolves).
    let addr: std::net::SocketAddr = loop {
        let line = lines.next().expect("serve exited").unwrap();
        if let Some(rest) = line.split(" on ").nth(1)
            && let Some(Ok(addr)) = rest.split([',', ' ']).next().map(str::parse)
        {
            break addr;
        }
    };
    assert!(addr.ip().is_loopback(), "{addr}");
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("a.txt"), "a").unwrap();
    let server = format!("localhost:{}", addr.port());
    let output = ferry(work.path())
        .args(["put", "a.txt", "--server", &server])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(success(&output).starts_with("stored a.txt "));
}

#[test]
fn serve_start_up_errors_name_what_is_wrong() {
    let root = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = busy.local_addr().map(|a| (busy, a)).unwrap();
    let output = ferry(root.path())
        .args(["serve", "--root", "data", "--listen", "127.0.0.1:0"])
        .args(["--http", &busy.1.to_string()])
        .output()
        .unwrap();
    let line = failure(&output, 1);
    assert!(
        line.contains(&format!("cannot listen on {}: ", busy.1)),
        "{line}"
    );
    // Taken by another program: the way out is named.
    assert!(line.ends_with("(port 0: any free one)"), "{line}");

    fs::write(root.path().join("file"), "").unwrap();
    let output = ferry(root.path())
        .args(["serve", "--root", "file", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(failure(&output, 1), "ferry: file is not a directory");
}

#[test]
fn shutdown_log_counts_one_transfer_in_the_singular() {
    use rustix::process::Signal;
    let root = tempfile::tempdir().unwrap();
    let mut server =
        support::process::Process::start(root.path(), &["--grace-period", "20", "--workers", "1"]);
    let mut uploading = support::Raw::connect(server.addr);
    uploading.line();
    uploading.send("PUT one 10\n");
    uploading.send("12345");
    let mut probe = support::Raw::connect(server.addr);
    probe.line();
    probe.send("ECHO 1\n.");
    assert_eq!(probe.line(), "OK 1");
    drop(probe);
    server.signal(Signal::TERM);
    let line = server.wait_for_log("shutting down");
    assert!(line.contains("; 1 transfer gets up to "), "{line}");
    uploading.send("67890");
    uploading.line();
    assert!(server.wait().success());
}

/// With several workers the shutdown's count is the server's, said once
/// (issue 57: each worker said its own, "2 transfers" and "1 transfer").
#[test]
fn shutdown_log_counts_every_workers_transfers_in_one_line() {
    use rustix::process::Signal;
    let root = tempfile::tempdir().unwrap();
    let args = [
        "--grace-period",
        "20",
        "--workers",
        "2",
        "--log-level",
        "debug",
    ];
    let mut server = support::process::Process::start(root.path(), &args);
    let uploads: Vec<support::Raw> = (0..3)
        .map(|n| {
            let mut raw = support::Raw::connect(server.addr);
            raw.line();
            raw.send(format!("PUT f{n} 10\n12345"));
            // Served (its debug line), whichever worker it went to.
            server.wait_for_log(&format!(" PUT f{n}"));
            raw
        })
        .collect();
    server.signal(Signal::TERM);
    let line = server.wait_for_log("shutting down: no new connections");
    assert!(line.contains("; 3 transfers get up to "), "{line}");
    for mut raw in uploads {
        raw.send("67890");
        raw.line();
    }
    assert!(server.wait().success());
    assert_eq!(
        server.log_lines("shutting down: no new connections").len(),
        1
    );
}

#[test]
fn get_r_where_every_file_fails_prints_only_the_failures() {
    let server = TestServer::start();
    for i in 0..3 {
        fs::create_dir_all(server.path("logs")).unwrap();
        fs::write(server.path(&format!("logs/{i}.log")), "x").unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    // The target is a file: no file can be written below it.
    fs::write(work.path().join("target"), "").unwrap();
    let output = run(work.path(), server.addr, &["get", "-r", "logs", "target"]);
    assert_eq!(output.status.code(), Some(3), "{}", binary::stderr(&output));
    assert_eq!(binary::stdout(&output), "", "no `saved 0 files` line");
    let err = binary::stderr(&output);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    for line in &lines[..3] {
        assert!(line.starts_with("ferry: logs/"), "{line}");
    }
    assert_eq!(lines[3], "ferry: 3 of 3 files failed");

    // Some done, some failed: the summary, and the failures first.
    fs::remove_file(work.path().join("target")).unwrap();
    fs::create_dir_all(work.path().join("target/logs/1.log")).unwrap();
    let output = run(work.path(), server.addr, &["get", "-r", "logs", "target"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(binary::stdout(&output).starts_with("saved 2 files "));
}

#[test]
fn names_with_control_characters_stay_on_one_line() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("a\nb.txt"), "a").unwrap();
    // FERRY/1 cannot carry the name: the refusal names it escaped.
    let line = failure(&run(work.path(), server.addr, &["put", "a\nb.txt"]), 1);
    assert!(line.starts_with("ferry: a\\nb.txt: "), "{line}");
    // A local path in a result line.
    fs::write(server.path("c.txt"), "c").unwrap();
    let out = success(&run(
        work.path(),
        server.addr,
        &["get", "c.txt", "x\ty.txt"],
    ));
    assert_eq!(out, "saved x\\ty.txt (1 bytes)\n");
    // And in a warning: the folder's file is skipped, on one line.
    fs::create_dir(work.path().join("d")).unwrap();
    fs::write(work.path().join("d/e\u{1b}[31m.txt"), "e").unwrap();
    fs::write(work.path().join("d/ok.txt"), "ok").unwrap();
    let output = run(work.path(), server.addr, &["put", "-r", "d"]);
    let err = binary::stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.contains("e\\u{1b}[31m.txt"), "{err:?}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn documented_completion_commands_work_in_a_fresh_home() {
    let doc = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md")).unwrap();
    let section = doc
        .split("## Shell completions")
        .nth(1)
        .expect("docs/cli.md has a completions section");
    let script = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a sh block");
    let home = tempfile::tempdir().unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_ferry"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = std::process::Command::new("sh")
        .args(["-e", "-c", script])
        .env("HOME", home.path())
        .env("PATH", path)
        .current_dir(home.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", binary::stderr(&output));
    for (file, marker) in [
        (".local/share/bash-completion/completions/ferry", "_ferry()"),
        (".zfunc/_ferry", "#compdef ferry"),
        (".config/fish/completions/ferry.fish", "complete -c ferry"),
    ] {
        let text = fs::read_to_string(home.path().join(file)).unwrap();
        assert!(text.contains(marker), "{file}");
    }
}
