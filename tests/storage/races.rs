//! Shared state under concurrency (issue 75): the usage ledger stays
//! exact when requests on one name run side by side. Each race here was
//! found from outside and fails without its fix; the commits are held at
//! a gate and let go together, so that they meet where they used to
//! collide.

use std::sync::Arc;

use crate::quotas::{df, put};
use crate::support;

use ferry::access::quota::FolderQuota;
use ferry::storage::gate::{Gate, Point};
use support::TestServer;

/// Overwrites and deletes of one name, side by side, round after round:
/// the ledger counts what is on the disk, and nothing once it is gone.
/// Before the name's lock, two commits over one file each took the old
/// file off (or a delete took off a size a commit had replaced): the
/// count drifted below the file (a quota then let 130 % in) or above
/// nothing (the token locked out until a recount).
#[test]
fn overwrites_and_deletes_of_one_name_side_by_side_leave_the_ledger_exact() {
    const WRITERS: usize = 6;
    const ROUNDS: usize = 12;
    let gate = Arc::new(Gate::new(Point::Commit));
    let server = TestServer::start_with(|config| {
        config.quotas = vec![FolderQuota::parse("box/=10M,files=100").unwrap()];
        config.gate = Some(Arc::clone(&gate));
    });
    // Keeps the folder there for DF while the name comes and goes.
    gate.let_one_go();
    assert!(put(&mut server.raw(), "box/keep", 1).starts_with("OK"));
    let mut arrived = 1;
    for round in 0..ROUNDS {
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let mut raw = server.raw();
                let len = 1000 * (writer + 1) + round;
                std::thread::spawn(move || put(&mut raw, "box/same", len))
            })
            .collect();
        arrived += WRITERS;
        gate.wait_for_arrivals(arrived);
        let mut deleter = server.raw();
        let delete = std::thread::spawn(move || {
            deleter.send("DEL box/same\n");
            deleter.line()
        });
        for _ in 0..WRITERS {
            gate.let_one_go();
        }
        for writer in writers {
            let answer = writer.join().unwrap();
            assert!(answer.starts_with("OK"), "{answer}");
        }
        let deleted = delete.join().unwrap();
        assert!(
            deleted == "OK" || deleted.starts_with("ERR 404"),
            "{deleted}"
        );
        let same = std::fs::metadata(server.path("box/same"));
        let on_disk = same.map_or((1, 1), |same| (1 + same.len(), 2));
        let [_, used, _, files] = df(&mut server.raw(), "box");
        assert_eq!((used, files), on_disk, "round {round}");
    }
    let mut raw = server.raw();
    raw.send("DEL box/same\n");
    let _ = raw.line();
    let [_, used, _, files] = df(&mut raw, "box");
    assert_eq!((used, files), (1, 1));
}

/// APPENDs to sessions of one quota'd folder, side by side: the first is
/// held as it writes; each of the others is refused at once, since the
/// first one's bytes were counted before they arrived. Before, a session's
/// bytes counted only as its APPEND ended: 8 APPENDs of 90 KB each passed
/// the check against a 100 KB quota and staged 180–540 KB. (Without the
/// fix the second APPEND is held at the gate too, and its answer never
/// comes: the test fails on its read's time limit.)
#[test]
fn appends_side_by_side_cannot_together_stage_past_a_quota() {
    const LEN: usize = 90_000;
    let gate = Arc::new(Gate::new(Point::Write));
    let server = TestServer::start_with(|config| {
        config.quotas = vec![FolderQuota::parse("box/=100000,files=10").unwrap()];
        config.gate = Some(Arc::clone(&gate));
        config.pool_writes = ferry::config::PoolWrites::Always;
    });
    std::fs::create_dir(server.path("box")).unwrap();
    let body = support::pattern(LEN, 1);
    let mut raw = server.raw();
    let ids: Vec<String> = (0..8)
        .map(|n| support::upload(&mut raw, &format!("box/f{n}"), &body).0)
        .collect();
    let mut first = server.raw();
    first.send(format!("APPEND {} 0 {LEN}\n", ids[0]));
    first.send(&body);
    gate.wait_for_arrivals(1);
    for id in &ids[1..] {
        let refused = support::append(&mut raw, id, 0, &body);
        assert!(
            refused.starts_with(
                "ERR 507 quota: 90000 more bytes would pass the 100000-byte quota of folder box/ (90000 used)"
            ),
            "{refused}"
        );
    }
    gate.open();
    assert_eq!(first.line(), format!("OK {LEN}"));
    let [_, used, ..] = df(&mut raw, "box");
    assert_eq!(used, LEN as u64);
    // A refused APPEND counts nothing; the one that staged, its bytes.
    raw.send(format!("COMMIT {}\n", ids[0]));
    assert!(raw.line().starts_with("OK 90000 "));
    let [_, used, _, files] = df(&mut raw, "box");
    assert_eq!((used, files), (LEN as u64, 1));
}

/// A client whose connection dropped without a word goes on at once on
/// a new one, near its folder's quota: the new APPEND takes on what the
/// old one counted ahead and will never write now, instead of counting
/// those bytes a second time. Before, it was refused (`ERR 507 quota:
/// 60000 more bytes would pass ...`) until the server gave up on the old
/// connection: after tus-js-client's last retry, on a real network.
#[test]
fn a_new_append_near_a_quota_takes_on_what_the_silent_one_counted() {
    const LEN: usize = 90_000;
    let server = TestServer::start_with(|config| {
        config.quotas = vec![FolderQuota::parse("box/=100000,files=10").unwrap()];
    });
    std::fs::create_dir(server.path("box")).unwrap();
    let body = support::pattern(LEN, 2);
    let mut silent = server.raw();
    let (id, _) = support::upload(&mut silent, "box/f", &body);
    silent.send(format!("APPEND {id} 0 {LEN}\n"));
    silent.send(&body[..30_000]);
    let mut again = server.raw();
    assert_eq!(
        support::wait_for_received(&mut again, "box/f", &body, 30_000),
        id
    );
    let [_, used, ..] = df(&mut again, "box");
    assert_eq!(used, LEN as u64, "counted ahead");
    let answer = support::append(&mut again, &id, 30_000, &body[30_000..]);
    assert_eq!(answer, format!("OK {LEN}"));
    // Counted once: no room for another byte.
    let over = put(&mut again, "box/g", 10_001);
    assert!(over.starts_with("ERR 507 "), "{over}");
    again.send(format!("COMMIT {id}\n"));
    assert!(again.line().starts_with("OK 90000 "));
    // Back to life, the old connection is refused; its APPEND, ended,
    // gave back only what was still its own.
    silent.send(&body[30_000..]);
    let refused = silent.line();
    assert!(refused.starts_with("ERR 409 "), "{refused}");
    let [_, used, _, files] = df(&mut again, "box");
    assert_eq!((used, files), (LEN as u64, 1));
    assert!(put(&mut again, "box/g", 10_000).starts_with("OK"));
}

/// Sessions begun beside deletes on a fresh root, where the first of
/// them makes the key session ids are made with (a delete, where usage
/// is counted, looks for an upload kept for its name): every session begins, every delete is
/// answered. Before, threads making the key at once wrote it aside under
/// one name (the process id's) and removed each other's: an UPLOAD failed
/// `ERR 404 no such file` (found by the history test,
/// `tests/invariants/history.rs`).
#[test]
fn sessions_begun_beside_deletes_on_a_fresh_root_all_begin() {
    const CLIENTS: usize = 8;
    for round in 0..20 {
        // Counted (a quota), a delete looks for an upload kept for its name.
        let server = TestServer::start_with(|config| {
            config.quotas = vec![FolderQuota::parse("/=1G").unwrap()];
        });
        let ready = Arc::new(std::sync::Barrier::new(CLIENTS));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|n| {
                let (mut raw, ready) = (server.raw(), Arc::clone(&ready));
                std::thread::spawn(move || {
                    let body = support::pattern(10, n as u64);
                    let line = match n % 2 {
                        0 => format!("UPLOAD f{n} 10 {}\n", support::crc_hex(&body)),
                        _ => format!("DEL f{n}\n"),
                    };
                    ready.wait();
                    raw.send(line);
                    (n, raw.line())
                })
            })
            .collect();
        for client in clients {
            let (n, answer) = client.join().unwrap();
            let expected = if n % 2 == 0 { "OK " } else { "ERR 404 " };
            assert!(answer.starts_with(expected), "round {round}: {answer}");
        }
    }
}

/// A commit over a larger file, stopped between its count and its rename
/// (where a crash may stop it): the ledger counts both files, never the
/// new one alone while the old one is still on the disk. Issue 75's
/// history on the cluster found the ledger 29 KB below the disk after a
/// node was killed: the commit had taken the replaced file off before
/// the rename replaced it.
#[test]
fn a_commit_takes_what_it_replaces_off_only_once_it_has_replaced_it() {
    let gate = Arc::new(Gate::new(Point::Rename));
    let server = TestServer::start_with(|config| {
        config.quotas = vec![FolderQuota::parse("box/=10M,files=100").unwrap()];
        config.gate = Some(Arc::clone(&gate));
    });
    gate.let_one_go();
    assert!(put(&mut server.raw(), "box/file", 6000).starts_with("OK"));
    let mut writer = server.raw();
    let smaller = std::thread::spawn(move || put(&mut writer, "box/file", 1000));
    gate.wait_for_arrivals(2);
    // Counted, not renamed: the disk holds the old 6000 bytes.
    let [_, used, _, files] = df(&mut server.raw(), "box");
    assert!(
        used >= 6000,
        "the ledger counts {used} bytes, the disk 6000"
    );
    assert!(files >= 1);
    gate.open();
    assert!(smaller.join().unwrap().starts_with("OK"));
    assert_eq!(df(&mut server.raw(), "box")[1..], [1000, 99, 1]);
}

/// A folder moved while an upload into it arrives: the upload is refused
/// (`409`, send it again), nothing lands under the folder's new name nor
/// its old, no temp file stays, and the quotas of both folders count what
/// is on the disk; with usage counted and without. Before, the commit
/// followed the open folder: `PUT q/a/x` answered `201` and the file was
/// at `r/x`, counted in `q/`.
#[test]
fn an_upload_whose_folder_moves_meanwhile_is_refused_and_lands_nowhere() {
    for counted in [false, true] {
        let server = TestServer::start_with(|config| {
            support::listen_http(config);
            if counted {
                config.quotas = ["q/=10M,files=100", "r/=10M,files=100"]
                    .map(|quota| FolderQuota::parse(quota).unwrap())
                    .to_vec();
            }
        });
        let mut raw = server.raw();
        assert!(put(&mut raw, "q/a/kept", 1000).starts_with("OK"));
        assert!(put(&mut raw, "q/stays", 10).starts_with("OK"));
        std::fs::create_dir(server.path("r")).unwrap();
        let http = server.http.unwrap();
        // Past what the server gathers before a write (512 KiB), so that
        // half of it is in the temp file.
        let body = support::pattern(2 << 20, 3);
        let mut upload = support::Raw::connect(http);
        upload.send(format!(
            "PUT /q/a/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
            body.len()
        ));
        upload.send(&body[..1 << 20]);
        support::ftp::wait_for_temp_file(&server.path("q/a"), 1);
        let moved = support::http::exchange(
            http,
            "MOVE",
            "/q/a/",
            "Host: localhost\r\nDestination: /r/a/\r\n",
            b"",
        );
        assert_eq!(moved.status, 201, "{}", moved.head);
        upload.send(&body[1 << 20..]);
        let answer = upload.line();
        assert_eq!(answer, "HTTP/1.1 409 Conflict\r", "counted: {counted}");
        assert!(server.path("r/a/kept").exists());
        assert!(!server.path("r/a/x").exists() && !server.path("q/a").exists());
        assert_eq!(
            support::temp_files(server.root.path()),
            Vec::<String>::new()
        );
        if counted {
            assert_eq!(
                df(&mut raw, "r")[1..],
                [1000, 99, 1],
                "r/ counts what moved in"
            );
            assert_eq!(df(&mut raw, "q")[1..], [10, 99, 1], "q/ what stayed");
        }
    }
}

/// A session's COMMIT into an implicit folder that a DEL of the last
/// other file in it empties, and so removes, between the commit's walk
/// and its rename: the file lands at its name, in the folder made again;
/// with usage counted and without. Before, the rename found the folder
/// gone and the COMMIT failed `ERR 409` (the crash test `power_cuts` met
/// it once in CI).
#[test]
fn a_commit_whose_folder_a_delete_empties_meanwhile_lands_at_its_name() {
    for counted in [false, true] {
        let gate = Arc::new(Gate::new(Point::Commit));
        let server = TestServer::start_with(|config| {
            config.gate = Some(Arc::clone(&gate));
            if counted {
                config.quotas = vec![FolderQuota::parse("d/=10M,files=100").unwrap()];
            }
        });
        gate.let_one_go();
        assert!(put(&mut server.raw(), "d/other", 100).starts_with("OK"));
        let data = support::pattern(5000, 9);
        let mut committer = server.raw();
        let (id, _) = support::upload(&mut committer, "d/held", &data);
        assert_eq!(support::append(&mut committer, &id, 0, &data), "OK 5000");
        committer.send(format!("COMMIT {id}\n"));
        // The PUT's was the first.
        gate.wait_for_arrivals(2);
        let mut deleter = server.raw();
        deleter.send("DEL d/other\n");
        assert!(deleter.line().starts_with("OK"));
        assert!(!server.path("d").exists(), "the DEL pruned d/");
        gate.open();
        let expected = format!("OK 5000 {}", support::crc_hex(&data));
        assert_eq!(committer.line(), expected, "counted: {counted}");
        assert_eq!(std::fs::read(server.path("d/held")).unwrap(), data);
        if counted {
            assert_eq!(df(&mut server.raw(), "d")[1..], [5000, 99, 1]);
        }
    }
}

/// An APPEND taken over while one of its writes is under way: its write
/// lands before the newer APPEND looks again where the session stands
/// (which is then told the offset moved on), or not at all (cut off).
/// The older APPEND's write is held at the gate after its look at who
/// owns the session; the gate opens once the newer one is done, or after
/// a while if it waits for the write (as it must). Before, the newer one
/// took over at offset 2, the held write then landed there (`O_APPEND`)
/// and the newer one's bytes after it: the session held "abcdCDEF" where
/// its client had sent "abCDEF", and a commit would store it.
#[test]
fn an_append_taken_over_mid_write_never_lands_after_the_newer_one_looked() {
    use crate::conformance_sessions::{asking, limits, open};
    use ferry::storage::{SessionStore, Storage, StorageError};
    use std::time::Duration;
    let root = tempfile::TempDir::new().unwrap();
    let gate = Arc::new(Gate::new(Point::Owning));
    let mut storage = Storage::open(root.path(), "races", false).unwrap();
    storage.set_gate(Some(Arc::clone(&gate)));
    let storage = Arc::new(storage);
    let name = ferry::name::Name::new("f".to_owned()).unwrap();
    let crc = crc32c::crc32c(b"abCDEF");
    let id = SessionStore::begin_session(&*storage, &name, 6, crc, &limits(None))
        .unwrap()
        .id;
    let (mut older, _) = open(&*storage, &id, asking(0, 6, None)).unwrap();
    gate.let_one_go();
    older.write(b"ab").unwrap();
    let held = std::thread::spawn(move || {
        let written = older.write(b"cd");
        drop(older);
        written
    });
    gate.wait_for_arrivals(2);
    let (tell, told) = std::sync::mpsc::channel();
    let newer = {
        let (storage, id) = (Arc::clone(&storage), id.clone());
        std::thread::spawn(move || {
            let newer = open(&*storage, &id, asking(2, 4, None));
            let _ = tell.send(());
            newer
        })
    };
    // Let the held write go once the newer APPEND has taken over, or
    // after a while: it waits for the write to end, if it is right.
    let _ = told.recv_timeout(Duration::from_millis(500));
    gate.open();
    let older_wrote = held.join().unwrap();
    match newer.join().unwrap() {
        Ok((mut newer, info)) => {
            assert_eq!(info.received, 2);
            assert!(
                matches!(older_wrote, Err(StorageError::Superseded)),
                "the older APPEND wrote after the newer took over: {older_wrote:?}"
            );
            newer.write(b"CDEF").unwrap();
            assert_eq!(newer.finish(false).unwrap(), 6);
            let (_, _, staged) = storage.finish_session(&id, None).unwrap();
            assert_eq!(staged, crc, "the session holds what its client sent");
        }
        Err(refused) => {
            older_wrote.unwrap();
            assert!(
                matches!(refused, StorageError::WrongOffset(4)),
                "{refused:?}"
            );
        }
    }
}

/// An ABORT while one of the session's APPENDs is writing: the write
/// ends before the ABORT looks at what is staged, so what the ABORT
/// takes off the quota's count is what the APPEND counts as it ends, and
/// the count comes back to nothing. The write is held at the gate after
/// its look at who owns the session; the gate opens once the ABORT is
/// done, or after a while if it waits for the write (as it must).
/// Before, the ABORT took off the 2 bytes staged before the held write
/// and the APPEND, cut off, counted the 4 it wrote: 2 bytes counted in
/// an empty folder until a recount.
#[test]
fn an_abort_beside_a_write_under_way_leaves_nothing_counted() {
    use crate::conformance_sessions::{asking, limits, open};
    use ferry::access::quota::Quota;
    use ferry::model::Account;
    use ferry::storage::{SessionStore, Storage, Store};
    use std::time::Duration;
    let root = tempfile::TempDir::new().unwrap();
    let gate = Arc::new(Gate::new(Point::Owning));
    let mut storage = Storage::open(root.path(), "races", false).unwrap();
    let quotas = [FolderQuota::parse("q/=1000").unwrap()];
    storage.count_usage(&quotas, false).unwrap();
    storage.set_gate(Some(Arc::clone(&gate)));
    let storage = Arc::new(storage);
    let name = ferry::name::Name::new("q/f".to_owned()).unwrap();
    let crc = crc32c::crc32c(b"abcdef");
    let id = SessionStore::begin_session(&*storage, &name, 6, crc, &limits(None))
        .unwrap()
        .id;
    let roomy = Quota {
        bytes: None,
        files: None,
    };
    let (mut appending, _) = open(&*storage, &id, asking(0, 6, Some(roomy))).unwrap();
    gate.let_one_go();
    appending.write(b"ab").unwrap();
    let held = std::thread::spawn(move || {
        let _ = appending.write(b"cd");
        drop(appending);
    });
    gate.wait_for_arrivals(2);
    let (tell, told) = std::sync::mpsc::channel();
    let abort = {
        let (storage, id) = (Arc::clone(&storage), id.clone());
        std::thread::spawn(move || {
            let aborted = storage.abort_session(&id, None);
            let _ = tell.send(());
            aborted
        })
    };
    let _ = told.recv_timeout(Duration::from_millis(500));
    gate.open();
    held.join().unwrap();
    abort.join().unwrap().unwrap();
    let used = Store::usage(&*storage, Account::Folder("q/")).unwrap();
    assert_eq!((used.bytes, used.files), (0, 0));
}

/// Two folder COPYs side by side through two nodes on one root, each of
/// a tree that fits the token's quota alone but not twice: both are
/// judged whole before either copies (both held as their first file is
/// staged), and then each copy's commit is judged against the token's
/// quota, so that together they store no more than it (the rest told,
/// 207 with `507`). Before, the copies were committed with no quota and
/// both landed whole (160 bytes under a 100-byte quota). Two nodes, as
/// one node walks one tree at a time on a small host.
#[test]
fn folder_copies_side_by_side_cannot_together_pass_a_tokens_quota() {
    use support::http::exchange;
    let gate = Arc::new(Gate::new(Point::Create));
    let holders: &[(&str, &[&str])] = &[("cam", &["write:/", "read:/"])];
    let (one, tokens, dir) = support::tokens::guarded_with(holders, &[], |config| {
        support::tokens::set_quota(config, 0, "100");
        config.node_id = "one".to_owned();
        config.gate = Some(Arc::clone(&gate));
    });
    let two = TestServer::start_with(|config| {
        config.root = one.root.path().to_path_buf();
        config.node_id = "two".to_owned();
        config.access = ferry::access::AccessConfig {
            tokens: Some(dir.path().join("tokens")),
            anonymous: Vec::new(),
            no_auth: false,
        };
        config.gate = Some(Arc::clone(&gate));
        support::listen_http(config);
    });
    std::fs::create_dir_all(one.path("src/in")).unwrap();
    std::fs::write(one.path("src/a"), [1u8; 40]).unwrap();
    std::fs::write(one.path("src/in/b"), [2u8; 40]).unwrap();
    let copies: Vec<_> = [(&one, "/one/"), (&two, "/two/")]
        .into_iter()
        .map(|(server, to)| {
            let http = server.http.unwrap();
            let headers = format!(
                "Host: {http}\r\nAuthorization: Bearer {}\r\nDestination: {to}\r\n",
                tokens[0]
            );
            std::thread::spawn(move || exchange(http, "COPY", "/src/", &headers, b""))
        })
        .collect();
    gate.wait_for_arrivals(2);
    gate.open();
    for copy in copies {
        let answer = copy.join().unwrap();
        match answer.status {
            201 => {}
            207 => assert!(answer.text().contains("507"), "{}", answer.text()),
            _ => panic!("{}", answer.head),
        }
    }
    let used = support::tokens::used_by(&one, &tokens[0]);
    assert!(used <= 100, "the token's copies hold {used} bytes");
    let stored: u64 = ["one/a", "one/in/b", "two/a", "two/in/b"]
        .iter()
        .filter_map(|file| std::fs::metadata(one.path(file)).ok())
        .map(|meta| meta.len())
        .sum();
    assert_eq!(stored, used, "the ledger counts what is on the disk");
}
