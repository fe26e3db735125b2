//! `SESSIONS` and `ferry sessions`: the upload sessions a token may write,
//! listed and cancelled over real sockets and with the real binary;
//! another token's sessions are neither listed nor abortable; a session
//! that runs out of space says how to free what it staged, and aborting it
//! frees the disk at once.
#![cfg(feature = "client")] // the client commands it runs (Cargo.toml [features])

use crate::binary;
use crate::support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use ferry::storage::gate::{Gate, Point};
use rustix::io::Errno;

use support::{Raw, TestServer, append, pattern, upload};

/// The session files (`<id>.data`, `<id>.meta`) in the root's sessions
/// folder.
fn session_files(root: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root.join(".ferry-uploads"))
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".data") || name.ends_with(".meta"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// `SESSIONS` over `raw`: its lines.
fn sessions(raw: &mut Raw) -> Vec<String> {
    raw.send("SESSIONS\n");
    let head = raw.line();
    let len: usize = head
        .strip_prefix("OK ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("SESSIONS answered {head:?}"));
    let body = String::from_utf8(raw.bytes(len)).unwrap();
    body.lines().map(str::to_owned).collect()
}

/// A session of `name` holding the first `staged` bytes of `data`.
fn staged_session(raw: &mut Raw, name: &str, data: &[u8], staged: usize) -> String {
    let (id, _) = upload(raw, name, data);
    assert_eq!(append(raw, &id, 0, &data[..staged]), format!("OK {staged}"));
    id
}

#[test]
fn sessions_lists_each_session_with_its_progress_and_expiry() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let data = pattern(1_000_000, 3);
    let id = staged_session(&mut raw, "in/big%20file.bin", &data, 300_000);

    let lines = sessions(&mut raw);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let fields: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(fields[0], id);
    assert_eq!((fields[1], fields[2]), ("300000", "1000000"));
    let (age, expires): (u64, u64) = (fields[3].parse().unwrap(), fields[4].parse().unwrap());
    assert!(age < 3600, "{age}");
    // The default --upload-ttl (24 h) counts from the last APPEND.
    assert!(
        (24 * 3600 - 3600..=24 * 3600).contains(&expires),
        "{expires}"
    );
    assert_eq!(fields[5], "in/big%20file.bin");

    let dir = tempfile::tempdir().unwrap();
    let out = binary::success(&binary::run(dir.path(), server.addr, &["sessions"]));
    let row = out.lines().nth(1).unwrap_or_default();
    assert!(
        out.starts_with("NAME\tSTAGED/SIZE\tAGE\tEXPIRES IN\tID\n"),
        "{out}"
    );
    assert!(
        row.starts_with("in/big file.bin\t293.0 KiB/976.6 KiB\t"),
        "{row}"
    );
    assert!(
        row.ends_with(&format!("\t23h59m\t{id}")) || row.ends_with(&format!("\t1d00h\t{id}")),
        "{row}"
    );
    // `ls` is the same listing.
    let ls = binary::success(&binary::run(dir.path(), server.addr, &["sessions", "ls"]));
    assert_eq!(ls.lines().count(), 2, "{ls}");
}

#[test]
fn abort_frees_the_staged_bytes_at_once() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let data = pattern(500_000, 4);
    let id = staged_session(&mut raw, "a.bin", &data, 200_000);
    let keep = staged_session(&mut raw, "b.bin", &data, 100_000);
    let root = server.path("");
    assert_eq!(session_files(&root).len(), 4);

    let dir = tempfile::tempdir().unwrap();
    let out = binary::success(&binary::run(
        dir.path(),
        server.addr,
        &["sessions", "abort", &id],
    ));
    assert_eq!(out, format!("aborted {id} (a.bin)\n"));
    assert_eq!(
        session_files(&root),
        [format!("{keep}.data"), format!("{keep}.meta")]
    );
    let lines = sessions(&mut raw);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with(&keep));
    // An id that names nothing (any more) is refused: exit 1.
    let gone = binary::run(dir.path(), server.addr, &["sessions", "abort", &id]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(binary::stderr(&gone).contains("no such upload"));
}

#[test]
fn abort_all_cancels_every_session() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let data = pattern(10_000, 5);
    for name in ["x/1", "x/2", "y"] {
        staged_session(&mut raw, name, &data, 5_000);
    }
    upload(&mut raw, "empty", &data); // one that holds no byte yet
    assert_eq!(sessions(&mut raw).len(), 4);

    let dir = tempfile::tempdir().unwrap();
    let out = binary::success(&binary::run(
        dir.path(),
        server.addr,
        &["sessions", "abort", "--all"],
    ));
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(sessions(&mut raw).is_empty());
    assert!(session_files(&server.path("")).is_empty());
    let none = binary::success(&binary::run(dir.path(), server.addr, &["sessions"]));
    assert_eq!(none, "no upload sessions\n");
}

#[test]
fn another_tokens_sessions_are_neither_listed_nor_abortable() {
    let (server, tokens, _dir) =
        support::tokens::guarded(&[("alice", &["write:a/"]), ("bob", &["write:b/"])], &[]);
    let authed = |token: &str| {
        let mut raw = server.raw();
        raw.send(format!("AUTH {token}\n"));
        assert!(raw.line().starts_with("OK"));
        raw
    };
    let data = pattern(10_000, 6);
    let (mut alice, mut bob) = (authed(&tokens[0]), authed(&tokens[1]));
    let alices = staged_session(&mut alice, "a/mine", &data, 1_000);
    let bobs = staged_session(&mut bob, "b/secret-plans", &data, 1_000);

    let listed = sessions(&mut alice);
    assert_eq!(listed.len(), 1);
    assert!(listed[0].starts_with(&alices) && listed[0].ends_with(" a/mine"));
    // Without a token: nothing to see.
    let mut anonymous = server.raw();
    anonymous.send("SESSIONS\n");
    assert!(anonymous.line().starts_with("ERR 401 "));

    let dir = tempfile::tempdir().unwrap();
    let as_alice = |args: &[&str]| {
        binary::ferry(dir.path())
            .args(args)
            .args(["--server", &server.addr.to_string()])
            .env("FERRY_TOKEN", &tokens[0])
            .output()
            .unwrap()
    };
    let refused = as_alice(&["sessions", "abort", &bobs]);
    assert_eq!(refused.status.code(), Some(1));
    let err = binary::stderr(&refused);
    assert!(err.contains("may not write"), "{err}");
    assert!(!err.contains("secret"), "names another token's file: {err}");
    let all = binary::success(&as_alice(&["sessions", "abort", "--all"]));
    assert_eq!(all, format!("aborted {alices} (a/mine)\n"));
    let left = sessions(&mut bob);
    assert_eq!(left.len(), 1);
    assert!(left[0].starts_with(&bobs));
}

#[test]
fn a_session_out_of_space_says_how_to_free_what_it_staged() {
    let gate = Arc::new(Gate::failing(Point::Write, Errno::NOSPC));
    let server = TestServer::start_with(|c| c.gate = Some(Arc::clone(&gate)));
    let mut raw = server.raw();
    let data = pattern(50_000, 7);
    let (id, _) = upload(&mut raw, "in/full.bin", &data);
    let answer = append(&mut raw, &id, 0, &data);
    assert_eq!(
        answer,
        format!(
            "ERR 507 disk full: 0 bytes staged for in/full.bin; ferry sessions abort {id} frees them"
        )
    );

    // The client passes the message on.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("full.bin"), &data).unwrap();
    let put = binary::run(
        dir.path(),
        server.addr,
        &["put", "--resume", "full.bin", "in/full.bin"],
    );
    let err = binary::stderr(&put);
    assert_ne!(put.status.code(), Some(0));
    assert!(
        err.contains(&format!("ferry sessions abort {id} frees them")),
        "{err}"
    );
}

/// A filesystem of `size` bytes at `dir` (root only), unmounted on drop.
struct Tmpfs<'a>(&'a Path);

impl<'a> Tmpfs<'a> {
    fn mount(dir: &'a Path, size: &str) -> Option<Tmpfs<'a>> {
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|status| status.success());
        mounted.then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0).status();
    }
}

#[test]
fn aborting_a_session_that_filled_the_disk_frees_it_at_once() {
    let root = tempfile::tempdir().unwrap();
    let Some(_tmpfs) = Tmpfs::mount(root.path(), "1m") else {
        eprintln!("skipped: cannot mount a tmpfs (not root?)");
        return;
    };
    // The disk itself fills, not the reserve kept above it (`--min-free`,
    // tests/storage/reserve.rs), which would refuse the UPLOAD at once.
    let server = TestServer::start_in(tempfile::TempDir::new_in(root.path()).unwrap(), |c| {
        c.min_free = ferry::config::MinFree::Bytes(0);
    });
    let mut raw = server.raw();
    let data = pattern(2_000_000, 8);
    let (id, _) = upload(&mut raw, "huge.bin", &data);
    let answer = append(&mut raw, &id, 0, &data);
    let staged = answer
        .strip_prefix("ERR 507 disk full: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{answer:?}"));
    assert!(staged > 500_000, "{answer}");
    assert!(answer.ends_with(&format!(
        "bytes staged for huge.bin; ferry sessions abort {id} frees them"
    )));
    let small = pattern(400_000, 9);
    assert!(server.client().put_bytes("small.bin", &small).is_err());
    // Out of space, it no longer waits for --upload-ttl (24 h) to go, but
    // expires as an empty session does (15 minutes unused).
    let listed = sessions(&mut raw);
    let expires: u64 = listed[0].split(' ').nth(4).unwrap().parse().unwrap();
    assert!(expires <= 15 * 60, "{listed:?}");

    let dir = tempfile::tempdir().unwrap();
    binary::success(&binary::run(
        dir.path(),
        server.addr,
        &["sessions", "abort", &id],
    ));
    server.client().put_bytes("small.bin", &small).unwrap();
}

/// A tus upload whose length is not declared yet is listed with the size
/// PROTOCOL.md §6.8 gives it, 2^64 − 1, and `ferry sessions` says `?`.
#[test]
fn a_session_of_unknown_length_is_listed_as_such() {
    let server = TestServer::start_http();
    let created = support::http::exchange(
        server.http.unwrap(),
        "POST",
        "/",
        // The file name "d.log", base64 as tus carries it.
        "Host: localhost\r\nTus-Resumable: 1.0.0\r\nUpload-Defer-Length: 1\r\nUpload-Metadata: filename ZC5sb2c=\r\n",
        b"",
    );
    assert_eq!(created.status, 201, "{}", created.head);

    let lines = sessions(&mut server.raw());
    assert_eq!(lines.len(), 1, "{lines:?}");
    let fields: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!((fields[1], fields[2]), ("0", "18446744073709551615"));
    assert_eq!(fields[5], "d.log");

    let dir = tempfile::tempdir().unwrap();
    let out = binary::success(&binary::run(dir.path(), server.addr, &["sessions"]));
    let row = out.lines().nth(1).unwrap_or_default();
    assert!(row.starts_with("d.log\t0 B/?\t"), "{out}");
}
