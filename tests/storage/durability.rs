//! Durability and disk failures: `--fsync` uploads, a full disk (a small
//! tmpfs the test mounts, skipped where mounting is not allowed) and a
//! read-only file system. Whatever fails, the server keeps serving, the old
//! version of a file stays intact and no temp file is left.

use crate::support;

use std::path::Path;
use std::process::Command;

use ferry::client::ClientError;
use ferry::config::MinFree;
use support::tmpfs::Tmpfs;
use support::{Raw, TestServer, crc_hex, pattern};

/// A server whose root is `fs`, whatever `fs` is, that lets the disk
/// itself fill (no reserve kept above it: `--min-free 0`).
fn server_on(fs: &Path, fsync: bool) -> TestServer {
    let root = tempfile::Builder::new().tempdir_in(fs).unwrap();
    TestServer::start_in(root, |c| {
        c.fsync = fsync;
        c.min_free = MinFree::Bytes(0);
    })
}

/// The reserve on a real file system: a 4 MiB one keeping 2 MiB free
/// has room for one 1 MiB file and not a 1.5 MiB one beside it, until
/// the first is deleted. (Every protocol's refusal, with a reserve no
/// disk can meet: `reserve.rs`.)
#[test]
fn the_reserve_keeps_its_share_of_a_real_disk_free() {
    let Some(fs) = Tmpfs::mount("4m", "") else {
        return;
    };
    let root = tempfile::Builder::new().tempdir_in(fs.path()).unwrap();
    let server = TestServer::start_in(root, |c| c.min_free = MinFree::Bytes(2 << 20));
    let mut client = server.client();
    client.put_bytes("first", &pattern(1 << 20, 1)).unwrap();
    let second = pattern(3 << 19, 2);
    let mut raw = server.raw();
    raw.send(format!(
        "PUT second {} {}\n",
        second.len(),
        crc_hex(&second)
    ));
    let refused = raw.line();
    assert!(refused.starts_with("ERR 507 no room: "), "{refused}");
    assert_eq!(server.files_on_disk(), ["first"]);
    client.delete("first").unwrap();
    client.put_bytes("second", &second).unwrap();
}

#[test]
fn fsync_uploads_are_acknowledged_in_order() {
    let server = TestServer::start_with(|c| c.fsync = true);
    let mut raw = server.raw();
    let first = pattern(100_000, 1);
    let second = pattern(50_000, 2);
    // PUT, GET of the same name, PUT again, STAT: pipelined in one write.
    let mut batch = format!("PUT d/one {}\n", first.len()).into_bytes();
    batch.extend_from_slice(&first);
    batch.extend_from_slice(b"GET d/one 0 10\n");
    batch.extend_from_slice(format!("PUT d/one {}\n", second.len()).as_bytes());
    batch.extend_from_slice(&second);
    batch.extend_from_slice(b"STAT d/one\n");
    raw.send(&batch);
    assert_eq!(raw.line(), format!("OK 100000 {}", crc_hex(&first)));
    assert_eq!(raw.get_line(), format!("OK 10 100000 {}", crc_hex(&first)));
    assert_eq!(raw.bytes(10), &first[..10]);
    assert_eq!(raw.line(), format!("OK 50000 {}", crc_hex(&second)));
    assert!(raw.line().starts_with("OK 50000 "));

    // Many connections committing at once.
    let addr = server.addr;
    let workers: Vec<_> = (0..8u64)
        .map(|i| {
            std::thread::spawn(move || {
                let mut client = ferry::Client::connect(addr).unwrap();
                for j in 0..10 {
                    let body = pattern(20_000, i * 100 + j);
                    let name = format!("many/{i}/{j}");
                    client.put_bytes(&name, &body).unwrap();
                    assert_eq!(client.get_bytes(&name).unwrap(), body);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(server.client().list("many/").unwrap().len(), 80);
}

fn full_disk_answers_507_and_keeps_the_old_version(fsync: bool) {
    let Some(fs) = Tmpfs::mount("1m", "") else {
        return;
    };
    let server = server_on(fs.path(), fsync);
    let mut client = server.client();
    let old = pattern(200_000, 3);
    client.put_bytes("doc", &old).unwrap();

    let mut raw = server.raw();
    let too_big = pattern(3 << 20, 4);
    raw.send(format!("PUT doc {} {}\n", too_big.len(), crc_hex(&too_big)));
    // The 507 comes as soon as the disk fills; the rest is read and
    // discarded, and the connection goes on.
    let sender = {
        let mut stream = raw.stream.try_clone().unwrap();
        std::thread::spawn(move || std::io::Write::write_all(&mut stream, &too_big))
    };
    let line = raw.line();
    assert!(line.starts_with("ERR 507 "), "{line:?}");
    sender.join().unwrap().unwrap();
    raw.send("ECHO 2\nok");
    assert_eq!(raw.line(), "OK 2");

    assert_eq!(client.get_bytes("doc").unwrap(), old);
    assert_eq!(server.files_on_disk(), ["doc"], "temp file left behind");
    // Space freed: uploads work again.
    client.delete("doc").unwrap();
    client.put_bytes("doc", &pattern(500_000, 5)).unwrap();
}

#[test]
fn full_disk_answers_507_and_keeps_the_old_version_plain() {
    full_disk_answers_507_and_keeps_the_old_version(false);
}

#[test]
fn full_disk_answers_507_and_keeps_the_old_version_with_fsync() {
    full_disk_answers_507_and_keeps_the_old_version(true);
}

#[test]
fn a_read_only_file_system_answers_500_and_reads_still_work() {
    let Some(fs) = Tmpfs::mount("1m", "") else {
        return;
    };
    std::fs::write(fs.path().join("kept"), b"still here").unwrap();
    let remount = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(fs.path())
        .status()
        .unwrap();
    assert!(remount.success());
    let server = TestServer::start_in(tempfile::TempDir::new().unwrap(), |c| {
        c.root = fs.path().to_path_buf();
    });
    let mut raw = server.raw();
    raw.send("PUT new 5\nhello");
    let line = raw.line();
    assert!(line.starts_with("ERR 500 "), "{line:?}");
    // Placed by other means: its CRC-32C is not known yet.
    raw.send("GET kept\n");
    assert_eq!(raw.get_line(), "OK 10 10 -");
    assert_eq!(raw.bytes(10), b"still here");
    let mut client = server.client();
    assert!(matches!(
        client.delete("kept"),
        Err(ClientError::Remote { code: 500, .. })
    ));
    let _ = Raw::connect(server.addr); // still accepting
}

/// A durable upload with no other in flight takes its flushes on its own
/// I/O thread (storage/posix/flush.rs, `LoneCommit`): one connection's PUTs,
/// one after another, start no flusher thread, whose hand-offs cost a
/// tenth of a small durable PUT's time. Each is on the disk when
/// answered (tests/crash/power_cuts.rs cuts the power to check that).
#[test]
fn one_connections_durable_puts_flush_on_their_own_io_thread() {
    let root = tempfile::tempdir().unwrap();
    let server = support::process::Process::start_as_shipped(root.path(), &["--workers", "1"]);
    let mut raw = Raw::connect(server.addr);
    assert!(raw.line().starts_with("OK FERRY/1 "));
    for i in 0..5 {
        let body = pattern(4096, i);
        raw.send(format!("PUT f{i} {} {}\n", body.len(), crc_hex(&body)));
        raw.send(&body);
        let answer = raw.line();
        assert!(answer.starts_with("OK "), "{answer:?}");
        assert_eq!(
            std::fs::read(root.path().join(format!("f{i}"))).unwrap(),
            body
        );
    }
    let names = server.thread_names();
    assert!(!names.iter().any(|n| n == "ferry-flush"), "{names:?}");
}
