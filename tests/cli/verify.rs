//! Every download path verifies what it wrote against the CRC-32C the
//! server reports for the whole file: a single `get`, `get --resume`,
//! `get -r`, and `get` to standard output. To get a file whose bytes do not
//! match, a stored file is changed behind the server's back with its size
//! and modification time kept, so the checksum the server recorded at
//! upload still looks current (bit rot, as far as the server can tell).
#![cfg(feature = "client")] // the client commands it runs (Cargo.toml [features])

use crate::binary;
use crate::support;

use std::fs::{self, File, FileTimes};
use std::path::Path;

use binary::{failure, run, stdout};
use support::{TestServer, crc_hex, entries, pattern};

/// Flips one byte of `path` in place, keeping its size and mtime.
fn rot(path: &Path) {
    let modified = fs::metadata(path).unwrap().modified().unwrap();
    let mut data = fs::read(path).unwrap();
    let middle = data.len() / 2;
    data[middle] ^= 0xff;
    fs::write(path, &data).unwrap();
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_times(FileTimes::new().set_modified(modified))
        .unwrap();
}

/// A server holding `name` whose bytes no longer match its recorded CRC.
fn server_with_rotten(name: &str, data: &[u8]) -> TestServer {
    let server = TestServer::start();
    server.client().put_bytes(name, data).unwrap();
    rot(&server.path(name));
    let stat = server.client().stat(name).unwrap();
    assert_eq!(
        stat.crc.map(|c| format!("{c:08x}")),
        Some(crc_hex(data)),
        "the server noticed the change; this test needs it not to"
    );
    server
}

#[test]
fn get_removes_a_download_that_does_not_match() {
    let data = pattern(500_000, 1);
    let server = server_with_rotten("f.bin", &data);
    let work = tempfile::tempdir().unwrap();
    for args in [&["get", "f.bin"][..], &["get", "--resume", "f.bin"]] {
        let line = failure(&run(work.path(), server.addr, args), 3);
        assert!(
            line.starts_with("ferry: f.bin: checksum mismatch"),
            "{args:?}: {line}"
        );
        assert_eq!(entries(work.path()), Vec::<String>::new(), "{args:?}");
    }
}

#[test]
fn get_to_stdout_reports_a_mismatch() {
    let data = pattern(100_000, 2);
    let server = server_with_rotten("f.bin", &data);
    let work = tempfile::tempdir().unwrap();
    let output = run(work.path(), server.addr, &["get", "f.bin", "-"]);
    let line = failure(&output, 3);
    assert!(line.contains("checksum mismatch"), "{line}");
    assert_eq!(output.stdout.len(), data.len());
}

#[test]
fn get_r_fails_only_the_file_that_does_not_match() {
    let server = TestServer::start();
    let mut client = server.client();
    for name in ["t/a", "t/b", "t/c"] {
        client
            .put_bytes(name, &pattern(50_000, name.len() as u64))
            .unwrap();
    }
    rot(&server.path("t/b"));
    let work = tempfile::tempdir().unwrap();
    let output = run(work.path(), server.addr, &["get", "-r", "t/", "out"]);
    assert_eq!(output.status.code(), Some(3));
    let err = binary::stderr(&output);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("ferry: t/b: checksum mismatch"),
        "{err}"
    );
    assert_eq!(lines[1], "ferry: 1 of 3 files failed");
    assert!(stdout(&output).starts_with("saved 2 files"));
    assert_eq!(entries(&work.path().join("out")), ["a", "c"]);
}
