//! The Python client (`clients/python/ferry_client.py`) against a real
//! server: its CRC-32C matches the check values, put/get/ls interoperate
//! with the Rust client byte for byte, stat reports what the server stored,
//! rm removes one name or several (reporting each failure on its own line),
//! refusals and unreachable servers get one line and the documented exit
//! code, and a download whose bytes do not match the server's checksum is
//! refused and leaves nothing behind.
//! Skipped, saying so, where `python3` is not installed.

mod support;

use std::fs::{self, File, FileTimes};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{TestServer, crc_hex, pattern};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python/ferry_client.py")
}

fn have_python() -> bool {
    let found = Command::new("python3").arg("--version").output().is_ok();
    if !found {
        eprintln!("skipped: python3 is not installed");
    }
    found
}

/// Runs `python3 ferry_client.py --server <addr> <args>` in `dir`.
fn python(dir: &Path, server: &TestServer, args: &[&str]) -> Output {
    Command::new("python3")
        .arg(script())
        .arg("--server")
        .arg(server.addr.to_string())
        .args(args)
        .current_dir(dir)
        .env_remove("FERRY_SERVER")
        .output()
        .expect("run python3")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn crc32c_matches_the_check_values() {
    if !have_python() {
        return;
    }
    let check = "import sys; sys.path.insert(0, sys.argv[1]); from ferry_client import crc32c; \
                 print('%08x %08x %08x %08x' % (crc32c(b'123456789'), crc32c(b'hello'), \
                 crc32c(b''), crc32c(b'lo', crc32c(b'hel'))))";
    let output = Command::new("python3")
        .args(["-B", "-c", check])
        .arg(script().parent().unwrap())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "e3069283 9a71bb4c 00000000 9a71bb4c\n"
    );
}

#[test]
fn put_get_ls_interoperate_with_the_server() {
    if !have_python() {
        return;
    }
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = pattern(300_000, 1);
    fs::write(work.path().join("up.bin"), &data).unwrap();

    let output = python(work.path(), &server, &["put", "up.bin", "py/dir/up 1.bin"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        format!(
            "stored py/dir/up 1.bin (300000 bytes, crc32c {})\n",
            crc_hex(&data)
        )
    );
    assert!(fs::read(server.path("py/dir/up 1.bin")).unwrap() == data);

    let other = pattern(123_456, 2);
    server
        .client()
        .put_bytes("py/from-rust.bin", &other)
        .unwrap();
    let output = python(work.path(), &server, &["get", "py/from-rust.bin"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "saved from-rust.bin (123456 bytes)\n");
    assert!(fs::read(work.path().join("from-rust.bin")).unwrap() == other);

    let output = python(work.path(), &server, &["ls", "py/"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let listing = text(&output.stdout);
    let names: Vec<(&str, &str)> = listing
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields[0], line.split("  ").last().unwrap())
        })
        .collect();
    assert_eq!(
        names,
        [
            ("300000", "py/dir/up 1.bin"),
            ("123456", "py/from-rust.bin")
        ]
    );
}

#[test]
fn failures_get_one_line_and_the_documented_exit_code() {
    if !have_python() {
        return;
    }
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();

    let output = python(work.path(), &server, &["get", "no/such.txt"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stderr), "ferry: no/such.txt: no such file\n");
    assert_eq!(fs::read_dir(work.path()).unwrap().count(), 0);

    // A stored file changed behind the server's back (size and mtime kept,
    // so its recorded checksum still looks current): refused, not kept.
    server
        .client()
        .put_bytes("rot.bin", &pattern(50_000, 3))
        .unwrap();
    let path = server.path("rot.bin");
    let modified = fs::metadata(&path).unwrap().modified().unwrap();
    let mut bytes = fs::read(&path).unwrap();
    bytes[25_000] ^= 1;
    fs::write(&path, &bytes).unwrap();
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_times(FileTimes::new().set_modified(modified))
        .unwrap();
    let output = python(work.path(), &server, &["get", "rot.bin"]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(text(&output.stderr).starts_with("ferry: rot.bin: checksum mismatch"));
    assert_eq!(fs::read_dir(work.path()).unwrap().count(), 0);

    let unreachable = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let output = Command::new("python3")
        .arg(script())
        .args(["--server", &unreachable.to_string(), "ls"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = text(&output.stderr);
    assert!(
        err.starts_with(&format!("ferry: cannot connect to {unreachable}: "))
            && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn stat_and_rm_work_over_a_real_server() {
    if !have_python() {
        return;
    }
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = pattern(70_000, 4);
    server.client().put_bytes("py/stat me.bin", &data).unwrap();
    let mtime = server.client().stat("py/stat me.bin").unwrap().mtime;

    let output = python(work.path(), &server, &["stat", "py/stat me.bin"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        format!(
            "name:     py/stat me.bin\nsize:     70000\nmtime:    {mtime}\ncrc32c:   {}\n",
            crc_hex(&data)
        )
    );
    assert_eq!(text(&output.stderr), "");

    let output = python(work.path(), &server, &["rm", "py/stat me.bin"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "removed py/stat me.bin\n");
    assert_eq!(text(&output.stderr), "");
    assert!(!server.path("py/stat me.bin").exists());

    for name in ["a.txt", "c.txt"] {
        server.client().put_bytes(name, b"x").unwrap();
    }
    let output = python(work.path(), &server, &["rm", "a.txt", "b.txt", "c.txt"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "removed a.txt\nremoved c.txt\n");
    assert_eq!(
        text(&output.stderr),
        "ferry: b.txt: no such file\nferry: 1 of 3 files not removed\n"
    );
    assert!(!server.path("a.txt").exists() && !server.path("c.txt").exists());
}

#[test]
fn stat_and_rm_of_a_missing_name_get_one_line_and_exit_1() {
    if !have_python() {
        return;
    }
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();

    for command in ["stat", "rm"] {
        let output = python(work.path(), &server, &[command, "no/such.txt"]);
        assert_eq!(output.status.code(), Some(1), "{command}");
        assert_eq!(text(&output.stdout), "", "{command}");
        assert_eq!(
            text(&output.stderr),
            "ferry: no/such.txt: no such file\n",
            "{command}"
        );
    }

    // A directory is refused as such, and usage errors exit 2.
    server.client().put_bytes("dir/f", b"f").unwrap();
    let output = python(work.path(), &server, &["stat", "dir"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stderr), "ferry: dir: is a directory\n");
    for args in [&["stat"][..], &["rm"], &["stat", "a", "b"]] {
        let output = python(work.path(), &server, args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}
