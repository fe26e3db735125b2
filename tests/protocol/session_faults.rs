//! Resumable uploads against bad luck and bad actors (issue 11): a server
//! killed in the middle of a COMMIT, a COMMIT short of file descriptors,
//! names as long as names go, leftovers of a crash, crafted ids, and
//! checksum records that must not be written.
//!
//! The invariant under test: at every instant a session is either still
//! resumable (bytes and record intact) or committed, never neither.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use rustix::process::Signal;
use support::process::Process;
use support::{PATIENCE, Raw, TestServer, append, crc_hex, pattern, temp_files, upload};

fn connect(server: &Process) -> Raw {
    let mut raw = Raw::connect(server.addr);
    assert!(raw.line().starts_with("OK"), "greeting");
    raw
}

/// Stages all of `data` as `name` and sends `COMMIT`, without reading the
/// answer; returns the session id.
fn stage_and_commit(raw: &mut Raw, name: &str, data: &[u8]) -> String {
    let (id, received) = upload(raw, name, data);
    assert_eq!(received, 0);
    assert_eq!(append(raw, &id, 0, data), format!("OK {}", data.len()));
    raw.send(format!("COMMIT {id}\n"));
    id
}

/// Stages `data` as `name` on a server that holds every storage call
/// reaching `point` (see `FERRY_TEST_GATE` in `cli/serve.rs`), sends
/// `COMMIT`, and kills the server with SIGKILL once the commit is held
/// there; returns the session id.
fn commit_killed_at(root: &Path, point: &str, name: &str, data: &[u8]) -> String {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
    command.env("FERRY_TEST_GATE", point);
    let mut server = Process::start_with(command, root, &["--fsync"]);
    let mut raw = connect(&server);
    let id = stage_and_commit(&mut raw, name, data);
    server.wait_for_log("a call is held at");
    server.signal(Signal::KILL);
    assert!(!server.wait().success());
    id
}

#[test]
fn a_commit_killed_before_its_rename_leaves_the_session_resumable() {
    let root = tempfile::tempdir().unwrap();
    let data = pattern(3_000_000, 1);
    let id = commit_killed_at(root.path(), "commit", "deep/dir/f.bin", &data);

    let server = Process::start(root.path(), &["--fsync"]);
    let mut raw = connect(&server);
    raw.send("STAT deep/dir/f.bin\n");
    assert!(raw.line().starts_with("ERR 404"), "not committed");
    assert_eq!(
        upload(&mut raw, "deep/dir/f.bin", &data),
        (id.clone(), data.len() as u64),
        "the session stands where it was acknowledged"
    );
    raw.send(format!("COMMIT {id}\n"));
    assert_eq!(raw.line(), format!("OK 3000000 {}", crc_hex(&data)));
    assert!(std::fs::read(root.path().join("deep/dir/f.bin")).unwrap() == data);
    assert_eq!(temp_files(root.path()), Vec::<String>::new());
}

#[test]
fn a_commit_killed_after_its_rename_is_committed_and_leaves_nothing_behind() {
    let root = tempfile::tempdir().unwrap();
    let data = pattern(1_000_000, 2);
    let id = commit_killed_at(root.path(), "forget", "f.bin", &data);

    let server = Process::start(root.path(), &[]);
    let mut raw = connect(&server);
    raw.send("STAT f.bin\n");
    let stat = raw.line();
    assert!(
        stat.starts_with("OK 1000000 ") && stat.ends_with(&crc_hex(&data)),
        "{stat}"
    );
    assert!(std::fs::read(root.path().join("f.bin")).unwrap() == data);
    // As PROTOCOL.md says for a lost COMMIT answer: the session is gone,
    // and asking again begins a new, empty one, which ABORT removes.
    raw.send(format!("COMMIT {id}\n"));
    assert_eq!(raw.line(), "ERR 404 no such upload");
    let (again, received) = upload(&mut raw, "f.bin", &data);
    assert_eq!(received, 0);
    raw.send(format!("ABORT {again}\n"));
    assert_eq!(raw.line(), "OK");
    let mut staged: Vec<_> = std::fs::read_dir(root.path().join(".ferry-uploads"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    staged.sort();
    assert_eq!(staged, ["id-key", "lock"]);
    assert_eq!(temp_files(root.path()), Vec::<String>::new());
}

#[test]
fn a_commit_short_of_descriptors_keeps_its_session() {
    const LIMIT: u64 = 64;
    let root = tempfile::tempdir().unwrap();
    let server = Process::start_with_fd_limit(root.path(), LIMIT, &["--fsync"]);
    // Only descriptors below the limit take a slot: one inherited from
    // whatever started the tests (a CI runner may hold fd 200 open) does
    // not, and counting it would leave the table short of full.
    let open_fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", server.child.id()))
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
            .filter(|&fd| fd < LIMIT)
            .count() as u64
    };
    let mut raw = connect(&server);
    // Connections alone cannot fill the table: the server keeps a reserve
    // of descriptors above its connection cap (how many depends on what
    // else it holds open). A download the client does not read holds two,
    // its socket and its file, so those fill the table whatever the cap.
    let filler = pattern(8 << 20, 99);
    raw.send(format!("PUT filler.bin {}\n", filler.len()));
    raw.send(&filler);
    assert!(raw.line().starts_with("OK"), "filler stored");
    let mut refused = 0;
    // Every number of free descriptors from none to plenty: each COMMIT
    // either succeeds or fails with the session intact.
    for free in 0..8u64 {
        let name = format!("d{free}/e/f.bin");
        let data = pattern(200_000 + free as usize, free);
        let (id, _) = upload(&mut raw, &name, &data);
        assert_eq!(
            append(&mut raw, &id, 0, &data),
            format!("OK {}", data.len())
        );
        let mut fillers = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        // Filled when two looks in a row say so: a descriptor the server
        // holds for a moment (a sweep's) may be counted once and be gone
        // at the next look (the COMMIT below is right either way).
        let full = || open_fds() >= LIMIT - free;
        while !(full() && full()) {
            assert!(Instant::now() < deadline, "{free} free: table never filled");
            let mut filler = Raw::connect_narrow(server.addr, 4096);
            if !filler.line().starts_with("OK") {
                // Refused while a slot seemed free: the server held one
                // for a moment (a background sweep of expired sessions
                // opens what it checks). Count again and go on.
                continue;
            }
            if open_fds() + 1 < LIMIT - free {
                filler.send("GET filler.bin\n");
                let answer = filler.line();
                assert!(answer.starts_with("OK "), "{free} free: filler {answer}");
            }
            fillers.push(filler);
        }
        raw.send(format!("COMMIT {id}\n"));
        let answer = raw.line();
        drop(fillers);
        let deadline = Instant::now() + PATIENCE;
        while open_fds() > LIMIT / 2 {
            assert!(Instant::now() < deadline, "the fillers were never closed");
            std::thread::sleep(Duration::from_millis(5));
        }
        if !answer.starts_with("OK") {
            assert!(answer.starts_with("ERR 503 "), "{free} free: {answer}");
            refused += 1;
            assert_eq!(
                upload(&mut raw, &name, &data),
                (id.clone(), data.len() as u64),
                "{free} free: the session survived"
            );
            raw.send(format!("COMMIT {id}\n"));
            assert!(raw.line().starts_with("OK "), "{free} free: retried");
        }
        assert!(std::fs::read(root.path().join(&name)).unwrap() == data);
    }
    assert!(refused > 0, "no COMMIT ran short of descriptors");
    assert_eq!(temp_files(root.path()), Vec::<String>::new());
}

#[test]
fn names_of_any_valid_length_resume_and_commit() {
    let server = TestServer::start();
    let data = pattern(30_000, 3);
    // 702 bytes of spaces (segments are at most 255 bytes), each one
    // three on the wire.
    let spaces = vec![" ".repeat(200); 3].join("/") + "/" + &" ".repeat(100);
    // Percent-encoding triples `%`; `/` makes every other byte a folder.
    let slashes = "%/".repeat(511) + "%";
    for name in [spaces, slashes] {
        let wire = ferry::name::Name::new(name.clone()).unwrap().encoded();
        let mut raw = server.raw();
        let (id, _) = upload(&mut raw, &wire, &data);
        assert_eq!(append(&mut raw, &id, 0, &data[..10]), "OK 10");
        assert_eq!(upload(&mut server.raw(), &wire, &data), (id.clone(), 10));
        assert_eq!(append(&mut raw, &id, 10, &data[10..]), "OK 30000");
        raw.send(format!("COMMIT {id}\n"));
        assert_eq!(raw.line(), format!("OK 30000 {}", crc_hex(&data)));
        assert_eq!(server.client().get_bytes(&name).unwrap(), data);
    }
}

#[test]
fn halves_of_sessions_a_crash_left_expire_with_the_rest() {
    let server = TestServer::start();
    let staged = server.path(".ferry-uploads");
    std::fs::create_dir_all(&staged).unwrap();
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o700)).unwrap();
    let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 86_400);
    for leftover in ["00000000000000aa.data", "00000000000000bb.meta"] {
        let file = std::fs::File::create(staged.join(leftover)).unwrap();
        file.set_modified(two_days_ago).unwrap();
    }
    // A recent half stays until it is as old.
    std::fs::File::create(staged.join("00000000000000cc.data")).unwrap();

    let data = pattern(100, 4);
    upload(&mut server.raw(), "anything", &data); // expires old sessions
    let left = server.files_on_disk();
    // Whole names: a new session's random id may end in "bb" too.
    let has = |name: &str| left.iter().any(|f| f == &format!(".ferry-uploads/{name}"));
    assert!(
        !has("00000000000000aa.data") && !has("00000000000000bb.meta"),
        "{left:?}"
    );
    assert!(has("00000000000000cc.data"), "{left:?}");
}

#[test]
fn session_ids_are_keyed_per_root_not_derived_from_the_name_alone() {
    let data = pattern(1000, 5);
    let ids: Vec<String> = (0..2)
        .map(|_| upload(&mut TestServer::start().raw(), "same/name", &data).0)
        .collect();
    assert_ne!(ids[0], ids[1], "two roots, two keys, two ids");
    let server = TestServer::start();
    let first = upload(&mut server.raw(), "same/name", &data).0;
    assert_eq!(upload(&mut server.raw(), "same/name", &data).0, first);
    let key = std::fs::metadata(server.path(".ferry-uploads/id-key")).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
}

/// Whether `path` carries a CRC record.
fn has_crc_record(path: &Path) -> bool {
    let mut buf = [0u8; 64];
    rustix::fs::getxattr(path, "user.ferry.crc32c", &mut buf).is_ok()
}

#[test]
fn reads_record_no_checksum_in_read_only_mode_or_through_a_hard_link() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("plain"), b"some bytes").unwrap();
    // A hard link planted in the root onto a file that lives outside it.
    std::fs::write(outside.path().join("secret"), b"outside").unwrap();
    std::fs::hard_link(outside.path().join("secret"), root.path().join("linked")).unwrap();

    let on_root = |c: &mut ferry::Config| c.root = root.path().to_path_buf();
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), |c| {
        on_root(c);
        c.read_only = true;
    });
    // A GET answers before the checksum is known (it is computed behind
    // the answer); a STAT waits for it: then it would have been recorded.
    assert_eq!(server.client().get_bytes("plain").unwrap(), b"some bytes");
    server.client().stat("plain").unwrap();
    assert!(
        !has_crc_record(&root.path().join("plain")),
        "read-only wrote"
    );
    drop(server);

    let server = TestServer::start_in(tempfile::tempdir().unwrap(), on_root);
    assert_eq!(server.client().get_bytes("linked").unwrap(), b"outside");
    server.client().stat("linked").unwrap();
    assert!(
        !has_crc_record(&outside.path().join("secret")),
        "wrote through a hard link"
    );
    // A file of its own gets its record, so the check is not vacuous.
    assert_eq!(server.client().get_bytes("plain").unwrap(), b"some bytes");
    server.client().stat("plain").unwrap();
    assert!(has_crc_record(&root.path().join("plain")));
}

#[test]
fn a_session_being_committed_is_left_alone_until_the_commit_ends() {
    use ferry::storage::gate::{Gate, Point};
    let gate = std::sync::Arc::new(Gate::new(Point::Commit));
    let server = TestServer::start_with(|c| c.gate = Some(std::sync::Arc::clone(&gate)));
    let data = pattern(50_000, 6);
    let mut committer = server.raw();
    let (id, _) = upload(&mut committer, "held", &data);
    assert_eq!(append(&mut committer, &id, 0, &data), "OK 50000");
    committer.send(format!("COMMIT {id}\n"));
    gate.wait_for_arrivals(1);

    let mut other = server.raw();
    let busy = "ERR 503 the upload is being committed: try again shortly";
    for request in [
        format!("UPLOAD held 50000 {}\n", crc_hex(&data)),
        format!("APPEND {id} 50000 0\n"),
        format!("COMMIT {id}\n"),
        format!("ABORT {id}\n"),
    ] {
        other.send(&request);
        assert_eq!(other.line(), busy, "{request}");
    }
    gate.open();
    assert_eq!(committer.line(), format!("OK 50000 {}", crc_hex(&data)));
    assert_eq!(server.client().get_bytes("held").unwrap(), data);
    other.send(format!("COMMIT {id}\n"));
    assert_eq!(other.line(), "ERR 404 no such upload");
}

#[test]
fn a_long_append_cut_by_a_kill_has_recorded_the_crc_of_most_of_its_bytes() {
    let root = tempfile::tempdir().unwrap();
    let data = pattern(40 << 20, 7);
    let mut server = Process::start(root.path(), &[]);
    let mut raw = connect(&server);
    let (id, _) = upload(&mut raw, "long", &data);
    raw.send(format!("APPEND {id} 0 {}\n", data.len()));
    raw.send(&data[..20 << 20]);
    let staged = root.path().join(format!(".ferry-uploads/{id}.data"));
    let record = || {
        let mut buf = [0u8; 64];
        let n = rustix::fs::getxattr(&staged, "user.ferry.staged", &mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        text.split(' ').next()?.parse::<u64>().ok()
    };
    let deadline = Instant::now() + PATIENCE;
    while record().is_none() {
        assert!(Instant::now() < deadline, "no CRC recorded mid-APPEND");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.signal(Signal::KILL);
    assert!(!server.wait().success());
    let recorded = record().unwrap();
    assert!(recorded >= 16 << 20, "recorded at {recorded}");

    let server = Process::start(root.path(), &[]);
    let mut raw = connect(&server);
    let (again, received) = upload(&mut raw, "long", &data);
    assert_eq!(again, id);
    assert!(received >= recorded, "{received} < {recorded}");
    let received = received as usize;
    let rest = format!("OK {}", data.len());
    assert_eq!(append(&mut raw, &id, received, &data[received..]), rest);
    raw.send(format!("COMMIT {id}\n"));
    assert_eq!(raw.line(), format!("OK {} {}", data.len(), crc_hex(&data)));
}
