//! How the `ferry` client moves files, checked against a real server on
//! 127.0.0.1 with temp dirs: `put` reads a file once (its checksum follows
//! the body), uploads keep the local modification time.

#[path = "support/binary.rs"]
mod binary;
mod support;

use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, SystemTime};

use binary::{run, stderr, success};
use support::{TestServer, pattern};

/// A modification time far from now: 2001-09-09.
const OLD: u64 = 1_000_000_000;

fn make_old(path: &Path) {
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(OLD))
        .unwrap();
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
