//! More rough edges of the `ferry` client a new user hit (issue 14), each
//! checked against a real server on 127.0.0.1 with temp dirs: an
//! interrupted plain `get` leaves nothing behind; local errors name the
//! user's file, not the hidden partial one; `get` of a folder is a usage
//! error; `get -r` of a missing folder fails, and `-r <folder>` means that
//! folder only; `put -r` of a missing folder says so; empty remote names;
//! `--server` without a port; names with control characters stay on one
//! line; folder summaries; bars that fit the terminal; a checksumming bar;
//! README's completion commands.

#[path = "support/binary.rs"]
mod binary;
mod support;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use binary::{failure, ferry, run, stderr, stdout, success};
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
