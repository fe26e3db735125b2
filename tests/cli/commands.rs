//! The `ferry` binary as a user runs it, against an in-process server.
//!
//! Covers: put / get / ls / stat / rm round trip with their output lines and
//! default names; `get` to standard output; `FERRY_SERVER` and `--server`;
//! `ls --json` and `stat --json`; `rm` of several names; `df`; shell
//! completions;
//! and the exit codes of failures, each with exactly one `ferry: ` line on
//! stderr: server refusals (1, and a failed `get` leaves no local file),
//! usage errors (2), an unreachable server or a missing local file (3).
//! Resuming, folders, verification and progress have their own files.
#![cfg(feature = "client")] // the client commands it runs (Cargo.toml [features])

use crate::binary;
use crate::support;

use std::fs;
use std::net::TcpListener;

use binary::{failure, ferry, run, stderr, stdout, success};
use ferry::client::ClientError;
use support::{TestServer, crc_hex, entries, pattern};

#[test]
fn put_get_ls_stat_rm_round_trip() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = pattern(300_000, 42);
    let local = work.path().join("report.bin");
    fs::write(&local, &data).unwrap();

    let out = success(&run(
        work.path(),
        server.addr,
        &["put", local.to_str().unwrap(), "reports/2026/report.bin"],
    ));
    assert_eq!(
        out,
        format!(
            "stored reports/2026/report.bin ({} bytes, crc32c {})\n",
            data.len(),
            crc_hex(&data)
        )
    );
    assert_eq!(
        fs::read(server.path("reports/2026/report.bin")).unwrap(),
        data
    );

    let copy = work.path().join("copy.bin");
    let out = success(&run(
        work.path(),
        server.addr,
        &["get", "reports/2026/report.bin", copy.to_str().unwrap()],
    ));
    assert_eq!(
        out,
        format!("saved {} ({} bytes)\n", copy.display(), data.len())
    );
    assert_eq!(fs::read(&copy).unwrap(), data, "downloaded copy differs");
    assert_eq!(entries(work.path()), ["copy.bin", "report.bin"]);

    // One level: the top holds the folder `reports/`.
    let out = success(&run(work.path(), server.addr, &["ls"]));
    assert!(
        out.starts_with("         -  20") && out.ends_with("  reports/\n"),
        "{out:?}"
    );
    let out = success(&run(work.path(), server.addr, &["ls", "-R"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out:?}");
    // "<human size>  <YYYY-MM-DD HH:MM, local time>  <name>"
    let (size, rest) = lines[0].trim_start().split_once("  ").unwrap();
    assert_eq!(size, "293.0 KiB", "{out:?}");
    let (when, name) = rest.split_once("  ").unwrap();
    assert_eq!(name, "reports/2026/report.bin", "{out:?}");
    assert_eq!(when.len(), "2026-11-21 13:00".len(), "{out:?}");
    assert!(
        when.starts_with("20") && when.as_bytes()[10] == b' ',
        "{out:?}"
    );
    let out = success(&run(work.path(), server.addr, &["ls", "-R", "reports/20"]));
    assert!(out.contains("reports/2026/report.bin"), "{out:?}");
    let line = failure(&run(work.path(), server.addr, &["ls", "other"]), 1);
    assert_eq!(line, "ferry: other: no such file or folder");

    let out = success(&run(
        work.path(),
        server.addr,
        &["stat", "reports/2026/report.bin"],
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out:?}");
    assert_eq!(lines[0], "name:     reports/2026/report.bin");
    assert_eq!(lines[1], format!("size:     {} (293.0 KiB)", data.len()));
    assert!(
        lines[2].starts_with("modified: ") && lines[2].ends_with(" +00:00"),
        "{out:?}"
    );
    assert_eq!(lines[3], format!("crc32c:   {}", crc_hex(&data)));

    let out = success(&run(
        work.path(),
        server.addr,
        &["rm", "reports/2026/report.bin"],
    ));
    assert_eq!(out, "removed reports/2026/report.bin\n");
    assert_eq!(server.files_on_disk(), Vec::<String>::new());
    assert!(matches!(
        server.client().stat("reports/2026/report.bin"),
        Err(ClientError::Remote { code: 404, .. })
    ));
}

#[test]
fn put_and_get_default_to_the_last_name_segment() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("notes.txt"), "hello notes\n").unwrap();

    success(&run(work.path(), server.addr, &["put", "notes.txt"]));
    assert_eq!(
        fs::read(server.path("notes.txt")).unwrap(),
        b"hello notes\n"
    );

    server
        .client()
        .put_bytes("deep/dir/data.csv", b"a,b\n1,2\n")
        .unwrap();
    let out = success(&run(
        work.path(),
        server.addr,
        &["get", "deep/dir/data.csv"],
    ));
    assert_eq!(out, "saved data.csv (8 bytes)\n");
    assert_eq!(
        fs::read(work.path().join("data.csv")).unwrap(),
        b"a,b\n1,2\n"
    );
}

#[test]
fn get_of_a_missing_name_fails_with_one_line_and_leaves_no_local_file() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("missing.txt");

    let output = run(
        work.path(),
        server.addr,
        &["get", "no/such/missing.txt", target.to_str().unwrap()],
    );
    let line = failure(&output, 1);
    assert!(line.contains("no/such/missing.txt"), "{line:?}");
    assert_eq!(stdout(&output), "");
    assert!(!target.exists());
    assert_eq!(
        entries(work.path()),
        Vec::<String>::new(),
        "partial file left"
    );

    // Same with the default local name, in the current directory.
    let output = run(work.path(), server.addr, &["get", "missing.txt"]);
    failure(&output, 1);
    assert_eq!(
        entries(work.path()),
        Vec::<String>::new(),
        "partial file left"
    );
}

#[test]
fn get_of_a_missing_name_keeps_an_existing_local_file() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("precious.txt");
    fs::write(&target, "do not clobber").unwrap();

    let output = run(
        work.path(),
        server.addr,
        &["get", "precious.txt", target.to_str().unwrap()],
    );
    failure(&output, 1);
    assert_eq!(fs::read(&target).unwrap(), b"do not clobber");
    assert_eq!(entries(work.path()), ["precious.txt"]);
}

#[test]
fn unreachable_server_exits_3_with_one_line() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }; // dropped: nothing listens there now
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("file.txt");
    fs::write(&local, "data").unwrap();

    for args in [
        vec!["ls"],
        vec!["stat", "x"],
        vec!["rm", "x"],
        vec!["get", "x", "out.txt"],
        vec!["put", local.to_str().unwrap(), "x"],
    ] {
        let output = run(work.path(), addr, &args);
        let line = failure(&output, 3);
        assert!(line.contains(&addr.to_string()), "{args:?}: {line:?}");
        assert_eq!(stdout(&output), "", "{args:?}");
    }
    assert_eq!(entries(work.path()), ["file.txt"], "get left a file behind");
}

#[test]
fn get_to_dash_writes_the_file_to_stdout() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let mut data: Vec<u8> = (0..=255u8).collect();
    data.extend(pattern(200_000, 9));
    server.client().put_bytes("blob.bin", &data).unwrap();

    let output = run(work.path(), server.addr, &["get", "blob.bin", "-"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    assert!(output.stdout == data, "stdout is not the file's bytes");
    assert_eq!(entries(work.path()), Vec::<String>::new(), "wrote a file");
}

#[test]
fn ferry_server_variable_is_used_without_the_flag() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    server.client().put_bytes("env.txt", b"from env").unwrap();

    let output = ferry(work.path())
        .env("FERRY_SERVER", server.addr.to_string())
        .args(["get", "env.txt", "-"])
        .output()
        .unwrap();
    assert_eq!(success(&output).as_bytes(), b"from env");

    let output = ferry(work.path())
        .env("FERRY_SERVER", server.addr.to_string())
        .args(["stat", "env.txt"])
        .output()
        .unwrap();
    assert!(success(&output).contains("size:     8 (8 B)"));
}

#[test]
fn server_flag_wins_over_the_variable() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    server.client().put_bytes("x", b"x").unwrap();
    let output = ferry(work.path())
        .env("FERRY_SERVER", dead.to_string())
        .args(["stat", "x", "--server", &server.addr.to_string()])
        .output()
        .unwrap();
    success(&output);
}

#[test]
fn put_of_a_missing_local_file_fails_with_one_clear_line() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("not-here.txt");

    let output = run(
        work.path(),
        server.addr,
        &["put", missing.to_str().unwrap()],
    );
    // 3: local I/O failure.
    let line = failure(&output, 3);
    assert!(line.contains("not-here.txt"), "{line:?}");
    assert_eq!(stdout(&output), "");
    assert_eq!(server.files_on_disk(), Vec::<String>::new());
}

#[test]
fn put_refused_by_the_server_exits_1_and_names_the_remote_file() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("f.txt"), "data").unwrap();
    server.client().put_bytes("taken", b"a file").unwrap();

    for remote in [".ferry-tmp-1-1", "taken/below", "../escape"] {
        let output = run(work.path(), server.addr, &["put", "f.txt", remote]);
        let line = failure(&output, 1);
        assert!(line.contains(remote), "{line:?}");
        assert_eq!(stdout(&output), "");
    }
    assert_eq!(server.files_on_disk(), ["taken"]);
}

#[test]
fn usage_errors_exit_2() {
    let work = tempfile::tempdir().unwrap();
    for args in [
        &["get"][..],
        &["frobnicate"],
        &["put"],
        // Too long to add to a clock: refused, never a panic.
        &["serve", "--grace-period", "1e20"],
        &["serve", "--idle-timeout", "inf"],
    ] {
        let output = ferry(work.path()).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
        assert!(!stderr(&output).contains("panicked"), "{args:?}");
    }
}

#[test]
fn ls_and_stat_speak_json_for_programs() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    server
        .client()
        .put_bytes("j/a \"quoted\".txt", b"abc")
        .unwrap();
    server.client().put_bytes("j/b.bin", &[0; 2048]).unwrap();
    let mtime = server.client().stat("j/b.bin").unwrap().mtime;

    let out = success(&run(work.path(), server.addr, &["ls", "j/", "--json"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!((lines[0], lines[3]), ("[", "]"));
    assert!(
        lines[1].starts_with(r#"  {"name": "j/a \"quoted\".txt", "size": 3, "mtime": "#),
        "{out}"
    );
    assert!(
        lines[2].starts_with(&format!(
            r#"  {{"name": "j/b.bin", "size": 2048, "mtime": {mtime}, "modified": "20"#
        )),
        "{out}"
    );
    assert!(lines[2].ends_with(r#"Z"}"#), "{out}");
    let line = failure(
        &run(work.path(), server.addr, &["ls", "none/", "--json"]),
        1,
    );
    assert_eq!(line, "ferry: none/: no such folder");

    let out = success(&run(
        work.path(),
        server.addr,
        &["stat", "j/b.bin", "--json"],
    ));
    assert!(
        out.starts_with(&format!(
            r#"{{"name": "j/b.bin", "size": 2048, "mtime": {mtime}, "modified": ""#
        )),
        "{out}"
    );
    assert!(
        out.ends_with(&format!("\"crc32c\": \"{}\"}}\n", crc_hex(&[0; 2048]))),
        "{out}"
    );
}

#[test]
fn rm_removes_several_and_reports_each_failure() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    server.client().put_bytes("a", b"a").unwrap();
    server.client().put_bytes("b", b"b").unwrap();
    let output = run(work.path(), server.addr, &["rm", "a", "missing", "b"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "removed a\nremoved b\n");
    assert_eq!(
        stderr(&output),
        "ferry: missing: no such file\nferry: 1 of 3 files not removed\n"
    );
    assert_eq!(server.files_on_disk(), Vec::<String>::new());
}

#[test]
fn completions_are_printed_for_each_shell() {
    let work = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = ferry(work.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        let script = success(&output);
        assert!(script.contains("ferry"), "{shell}");
        assert!(script.contains("skip-existing"), "{shell}: flags missing");
    }
    let output = ferry(work.path())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn df_shows_the_room_above_the_reserve() {
    let server = TestServer::start_with(|c| c.min_free = ferry::config::MinFree::Bytes(0));
    fs::create_dir(server.path("sub")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shown = success(&run(dir.path(), server.addr, &["df"]));
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 2, "{shown}");
    assert!(lines[0].contains("free") && lines[0].contains("files used"));
    let json = success(&run(dir.path(), server.addr, &["df", "sub/", "--json"]));
    let room: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(room["free"].as_u64().unwrap() > 0, "{json}");
    assert!(room["files_used"].as_u64().unwrap() > 0, "{json}");
    let missing = failure(&run(dir.path(), server.addr, &["df", "nosuch"]), 1);
    assert!(
        missing.contains("df \"nosuch\": no such folder"),
        "{missing}"
    );
}
