//! Resumable uploads over the wire: UPLOAD finds or starts a session, APPEND
//! stages bytes at the offset the session stands at, COMMIT verifies and
//! commits like a PUT; staged bytes survive dropped connections and server
//! restarts; mistakes are answered without losing what was staged.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use ferry::storage::gate::{Gate, Point};

use support::{
    Raw, TestServer, append, crc_hex, mtime_secs, pattern, set_mtime, upload, wait_for_received,
};

#[test]
fn a_session_is_staged_in_pieces_and_committed_atomically() {
    let server = TestServer::start();
    let data = pattern(1_000_000, 1);
    let mut raw = server.raw();
    let (id, received) = upload(&mut raw, "big/file.bin", &data);
    assert_eq!((id.len(), received), (16, 0));

    assert_eq!(append(&mut raw, &id, 0, &data[..300_000]), "OK 300000");
    // The same upload asked for again finds the same session and offset.
    let (again, received) = upload(&mut server.raw(), "big/file.bin", &data);
    assert_eq!((again.as_str(), received), (id.as_str(), 300_000));
    // Not visible until committed; committing early is refused.
    assert!(server.client().stat("big/file.bin").is_err());
    raw.send(format!("COMMIT {id}\n"));
    assert!(raw.line().starts_with("ERR 409 "));

    assert_eq!(
        append(&mut raw, &id, 300_000, &data[300_000..]),
        "OK 1000000"
    );
    raw.send(format!("COMMIT {id}\n"));
    assert_eq!(raw.line(), format!("OK 1000000 {}", crc_hex(&data)));
    assert_eq!(server.client().get_bytes("big/file.bin").unwrap(), data);
    // The session is gone.
    raw.send(format!("COMMIT {id}\n"));
    assert!(raw.line().starts_with("ERR 404 "));
    assert_eq!(server.files_on_disk(), ["big/file.bin"]);
}

#[test]
fn a_committed_session_has_the_permissions_of_a_put_file() {
    let server = TestServer::start();
    let data = pattern(1000, 9);
    server.client().put_bytes("plain", &data).unwrap();
    let mut raw = server.raw();
    let (id, _) = upload(&mut raw, "staged", &data);
    assert_eq!(append(&mut raw, &id, 0, &data), "OK 1000");
    raw.send(format!("COMMIT {id}\n"));
    assert!(raw.line().starts_with("OK 1000 "));

    let mode = |name: &str| {
        let meta = std::fs::metadata(server.path(name)).unwrap();
        meta.permissions().mode() & 0o777
    };
    // Whatever the umask, readers see no difference between the two.
    assert_eq!(mode("staged"), mode("plain"));
}

#[test]
fn bytes_staged_before_a_dropped_connection_are_kept() {
    let server = TestServer::start();
    let data = pattern(500_000, 2);
    let mut first = server.raw();
    let (id, _) = upload(&mut first, "cut", &data);
    // Announce 400,000 bytes, send 123,456, and vanish.
    first.send(format!("APPEND {id} 0 400000\n"));
    first.send(&data[..123_456]);
    let mut probe = server.raw();
    drop(first);
    // Until the server has taken in every byte that arrived, the session
    // stands short of 123,456 (409 upload is at offset ...); then exactly
    // there.
    let deadline = std::time::Instant::now() + support::PATIENCE;
    loop {
        let answer = append(&mut probe, &id, 123_456, &data[123_456..]);
        if answer == "OK 500000" {
            break;
        }
        assert!(answer.starts_with("ERR 409 "), "{answer:?}");
        assert!(std::time::Instant::now() < deadline, "{answer:?}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    probe.send(format!("COMMIT {id}\n"));
    assert_eq!(probe.line(), format!("OK 500000 {}", crc_hex(&data)));
    assert_eq!(server.client().get_bytes("cut").unwrap(), data);
}

#[test]
fn a_new_append_takes_over_from_a_connection_gone_silent() {
    let server = TestServer::start();
    let data = pattern(500_000, 5);
    let mut silent = server.raw();
    let (id, _) = upload(&mut silent, "flaky", &data);
    // The link drops without a FIN or RST: the server still holds this
    // connection open, mid-APPEND.
    silent.send(format!("APPEND {id} 0 400000\n"));
    silent.send(&data[..123_456]);
    let mut again = server.raw();
    assert_eq!(wait_for_received(&mut again, "flaky", &data, 123_456), id);
    // The client, reconnected, goes on at once instead of waiting for the
    // server to give up on the old connection.
    assert_eq!(
        append(&mut again, &id, 123_456, &data[123_456..]),
        "OK 500000"
    );
    again.send(format!("COMMIT {id}\n"));
    assert_eq!(again.line(), format!("OK 500000 {}", crc_hex(&data)));
    assert_eq!(server.client().get_bytes("flaky").unwrap(), data);
    // Should the old connection come back to life, its bytes are refused
    // and the committed file is untouched.
    silent.send(vec![b'x'; 400_000 - 123_456]);
    assert!(silent.line().starts_with("ERR "));
    assert_eq!(server.client().get_bytes("flaky").unwrap(), data);
}

#[test]
fn abort_cuts_off_an_append_in_progress() {
    let server = TestServer::start();
    let data = pattern(100_000, 6);
    let mut writer = server.raw();
    let (id, _) = upload(&mut writer, "dropped", &data);
    writer.send(format!("APPEND {id} 0 100000\n"));
    writer.send(&data[..1000]);
    let mut other = server.raw();
    wait_for_received(&mut other, "dropped", &data, 1000);
    other.send(format!("ABORT {id}\n"));
    assert_eq!(other.line(), "OK");
    writer.send(&data[1000..]);
    assert_eq!(
        writer.line(),
        "ERR 409 a newer APPEND or ABORT took over this upload"
    );
    assert!(server.files_on_disk().is_empty());
}

#[test]
fn sessions_survive_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let on_root = |c: &mut ferry::Config| c.root = root.path().to_path_buf();
    let data = pattern(200_000, 3);
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), on_root);
    let mut raw = server.raw();
    let (id, _) = upload(&mut raw, "across/restart", &data);
    assert_eq!(append(&mut raw, &id, 0, &data[..50_000]), "OK 50000");
    drop(raw);
    server.stop().unwrap();

    let server = TestServer::start_in(tempfile::tempdir().unwrap(), on_root);
    let mut raw = server.raw();
    let (same, received) = upload(&mut raw, "across/restart", &data);
    assert_eq!((same.as_str(), received), (id.as_str(), 50_000));
    assert_eq!(append(&mut raw, &id, 50_000, &data[50_000..]), "OK 200000");
    raw.send(format!("COMMIT {id}\n"));
    assert_eq!(raw.line(), format!("OK 200000 {}", crc_hex(&data)));
    assert_eq!(
        std::fs::read(root.path().join("across/restart")).unwrap(),
        data
    );
}

#[test]
fn mistakes_are_answered_and_the_body_skipped() {
    let server = TestServer::start();
    let data = pattern(10_000, 4);
    let mut raw = server.raw();
    let (id, _) = upload(&mut raw, "m", &data);
    assert_eq!(append(&mut raw, &id, 0, &data[..1000]), "OK 1000");
    // Wrong offset: refused, body skipped, the session says where it is.
    assert_eq!(
        append(&mut raw, &id, 0, &data[..10]),
        "ERR 409 upload is at offset 1000"
    );
    // Past the declared size.
    assert!(append(&mut raw, &id, 1000, &pattern(9001, 5)).starts_with("ERR 400 "));
    // Unknown and malformed ids.
    assert!(append(&mut raw, "00000000deadbeef", 0, b"xyz").starts_with("ERR 404 "));
    assert!(append(&mut raw, "not-an-id", 0, b"xyz").starts_with("ERR 400 "));
    // Still in sync and still at 1000.
    assert_eq!(append(&mut raw, &id, 1000, &data[1000..]), "OK 10000");
    raw.send(format!("ABORT {id}\n"));
    assert_eq!(raw.line(), "OK");
    raw.send(format!("COMMIT {id}\n"));
    assert!(raw.line().starts_with("ERR 404 "));
    assert!(
        server.files_on_disk().is_empty(),
        "{:?}",
        server.files_on_disk()
    );
}

#[test]
fn a_session_whose_bytes_do_not_match_its_checksum_is_discarded() {
    let server = TestServer::start();
    let data = pattern(5000, 6);
    let mut raw = server.raw();
    let (id, _) = upload(&mut raw, "bad", &data);
    let mut wrong = data.clone();
    wrong[100] ^= 1;
    assert_eq!(append(&mut raw, &id, 0, &wrong), "OK 5000");
    raw.send(format!("COMMIT {id}\n"));
    assert!(raw.line().starts_with("ERR 422 "));
    assert!(
        server.files_on_disk().is_empty(),
        "{:?}",
        server.files_on_disk()
    );
}

#[test]
fn a_session_staged_past_its_size_is_begun_anew() {
    let server = TestServer::start();
    let data = pattern(5000, 7);
    let mut raw = server.raw();
    let (id, _) = upload(&mut raw, "grown", &data);
    assert_eq!(append(&mut raw, &id, 0, &data), "OK 5000");
    // Bytes no APPEND wrote: no COMMIT of this session could pass.
    let staged = server.path(&format!(".ferry-uploads/{id}.data"));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(staged)
        .unwrap();
    std::io::Write::write_all(&mut file, b"stray").unwrap();
    let (again, received) = upload(&mut raw, "grown", &data);
    assert_eq!((again.as_str(), received), (id.as_str(), 0));
    assert_eq!(append(&mut raw, &id, 0, &data), "OK 5000");
    raw.send(format!("COMMIT {id}\n"));
    assert_eq!(raw.line(), format!("OK 5000 {}", crc_hex(&data)));
}

#[test]
fn read_only_and_size_limits_apply_to_sessions() {
    let server = TestServer::start_with(|c| c.max_file_size = Some(100));
    let mut raw = server.raw();
    raw.send(format!("UPLOAD x 101 {}\n", crc_hex(&[0; 101])));
    assert!(raw.line().starts_with("ERR 413 "));
    let server = TestServer::start_with(|c| c.read_only = true);
    let mut raw = server.raw();
    raw.send(format!("UPLOAD x 1 {}\n", crc_hex(b"x")));
    assert!(raw.line().starts_with("ERR 403 "));
}

#[test]
fn the_largest_u64_is_no_size() {
    // 2^64 - 1 is larger than any file can be; it was once also storage's
    // mark of a size to come, so this began a session of unknown size.
    for max_file_size in [None, Some(1 << 20)] {
        let server = TestServer::start_with(move |c| c.max_file_size = max_file_size);
        let mut raw = server.raw();
        raw.send("UPLOAD x 18446744073709551615 00000000\n");
        let refused = raw.line();
        assert!(
            refused.starts_with("ERR 413 "),
            "{max_file_size:?}: {refused}"
        );
        // Answered, and the connection goes on: no session was begun.
        raw.send("SESSIONS\n");
        assert_eq!(raw.line(), "OK 0", "{max_file_size:?}");
    }
}

#[test]
fn with_fsync_a_commit_is_acknowledged_once_durable() {
    let server = TestServer::start_with(|c| c.fsync = true);
    let data = pattern(70_000, 7);
    let mut raw = server.raw();
    let (id, _) = upload(&mut raw, "durable/x", &data);
    assert_eq!(append(&mut raw, &id, 0, &data), "OK 70000");
    raw.send(format!("COMMIT {id}\nSTAT durable/x\n"));
    assert_eq!(raw.line(), format!("OK 70000 {}", crc_hex(&data)));
    assert!(raw.line().starts_with("OK 70000 "));
}

#[test]
fn sessions_unused_for_the_ttl_are_removed() {
    let server = TestServer::start_with(|c| c.upload_ttl = std::time::Duration::from_secs(1));
    let data = pattern(1000, 8);
    let mut raw = server.raw();
    let (id, _) = upload(&mut raw, "stale", &data);
    assert_eq!(append(&mut raw, &id, 0, &data[..10]), "OK 10");
    // Nothing to wait on but time itself: well past the TTL (whole seconds).
    std::thread::sleep(std::time::Duration::from_millis(2500));
    upload(&mut raw, "another", &data); // starting a session sweeps old ones
    let (same, received) = upload(&mut raw, "stale", &data);
    assert_eq!(
        (same.as_str(), received),
        (id.as_str(), 0),
        "expired and begun anew"
    );
}

#[test]
fn sessions_unused_for_the_ttl_are_removed_without_any_upload_asking() {
    // The periodic sweep expires them on a node that gets no UPLOAD (one a
    // balancer no longer sends to, say).
    let server = TestServer::start_with(|c| {
        c.upload_ttl = std::time::Duration::from_secs(1);
        c.sweep_period = std::time::Duration::from_millis(100);
    });
    let data = pattern(1000, 9);
    let mut raw = server.raw();
    let (id, _) = upload(&mut raw, "idle", &data);
    assert_eq!(append(&mut raw, &id, 0, &data[..10]), "OK 10");
    drop(raw);
    let record = server.path(&format!(".ferry-uploads/{id}.meta"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while record.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the session outlived 30 times its TTL"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!server.path(&format!(".ferry-uploads/{id}.data")).exists());
}

#[test]
fn an_empty_session_expires_sooner_than_one_with_bytes_staged() {
    let server = TestServer::start_with(|c| {
        c.upload_ttl = std::time::Duration::from_secs(3600);
        c.upload_empty_ttl = std::time::Duration::from_secs(1);
    });
    let data = pattern(1000, 13);
    let mut raw = server.raw();
    // The staged one first: were it empty while the empty one's TTL ran
    // out (which may be as soon as the next second but one after it
    // began), it would rightly go too.
    let (staged, _) = upload(&mut raw, "staged", &data);
    assert_eq!(append(&mut raw, &staged, 0, &data[..10]), "OK 10");
    let (empty, _) = upload(&mut raw, "empty", &data);
    // Starting a session sweeps old ones: start one (the same each time)
    // until the empty session's record is gone.
    let record = server.path(&format!(".ferry-uploads/{empty}.meta"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while record.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the empty session outlived 30 times its TTL"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
        upload(&mut raw, "probe", &data);
    }
    // The one with bytes staged, older still, is still there.
    assert_eq!(upload(&mut raw, "staged", &data), (staged, 10));
    raw.send(format!("APPEND {empty} 0 0\n"));
    assert!(raw.line().starts_with("ERR 404 "));
}

#[test]
fn at_start_up_empty_sessions_go_after_15_minutes_and_staged_ones_stay() {
    let root = tempfile::tempdir().unwrap();
    let on_root = |c: &mut ferry::Config| c.root = root.path().to_path_buf();
    let data = pattern(1000, 14);
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), on_root);
    let mut raw = server.raw();
    let (empty, _) = upload(&mut raw, "empty", &data);
    let (staged, _) = upload(&mut raw, "staged", &data);
    assert_eq!(append(&mut raw, &staged, 0, &data[..10]), "OK 10");
    drop(raw);
    server.stop().unwrap();
    // Both last used 20 minutes ago: past the empty TTL, well within
    // --upload-ttl's 24 hours.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let then = now.unwrap().as_secs() - 20 * 60;
    for id in [&empty, &staged] {
        set_mtime(&root.path().join(format!(".ferry-uploads/{id}.meta")), then);
    }

    let server = TestServer::start_in(tempfile::tempdir().unwrap(), on_root);
    let uploads = root.path().join(".ferry-uploads");
    assert!(!uploads.join(format!("{empty}.meta")).exists());
    assert!(uploads.join(format!("{staged}.meta")).exists());
    let mut raw = server.raw();
    assert_eq!(upload(&mut raw, "staged", &data), (staged, 10));
}

#[test]
fn colliding_and_half_made_sessions_do_not_block_an_upload() {
    let server = TestServer::start();
    let data = pattern(10_000, 7);
    let crc = crc32c::crc32c(&data);
    let staged = server.path(".ferry-uploads");
    std::fs::create_dir_all(&staged).unwrap();
    // The root's id key, planted so this test can tell which ids the
    // server will pick.
    let key = ferry::storage::IdKey(*b"0123456789abcdef");
    let key_hex: String = key.0.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(staged.join("id-key"), format!("{key_hex}\n")).unwrap();
    let id_of = |name: &str, probe| {
        let name = ferry::name::Name::new(name.to_owned()).unwrap();
        ferry::storage::session_id(&key, (&name, None), data.len() as u64, crc, probe)
    };
    // Another upload's session already holds this upload's first id.
    let taken = id_of("collides", 0);
    std::fs::write(staged.join(format!("{taken}.meta")), "other 1 00000000\n").unwrap();
    std::fs::write(staged.join(format!("{taken}.data")), "").unwrap();
    // What a process killed while creating a session leaves: staged bytes
    // without a description, or a description cut short.
    let orphan = id_of("orphan", 0);
    std::fs::write(staged.join(format!("{orphan}.data")), "junk").unwrap();
    let cut = id_of("cut", 0);
    std::fs::write(staged.join(format!("{cut}.meta")), "cu").unwrap();

    let mut raw = server.raw();
    for (name, expected_id) in [
        ("collides", id_of("collides", 1)),
        ("orphan", orphan),
        ("cut", cut),
    ] {
        let (id, received) = upload(&mut raw, name, &data);
        assert_eq!((id.as_str(), received), (expected_id.as_str(), 0), "{name}");
        assert_eq!(append(&mut raw, &id, 0, &data), "OK 10000");
        raw.send(format!("COMMIT {id}\n"));
        assert_eq!(raw.line(), format!("OK 10000 {}", crc_hex(&data)));
        assert_eq!(server.client().get_bytes(name).unwrap(), data);
    }
    // The session it collided with is untouched.
    assert!(staged.join(format!("{taken}.meta")).exists());

    // A session made on a later candidate is found again after the one
    // that pushed it there has gone.
    let (id, _) = upload(&mut raw, "collides", &data);
    assert_eq!(id, id_of("collides", 1));
    assert_eq!(append(&mut raw, &id, 0, &data[..4000]), "OK 4000");
    std::fs::remove_file(staged.join(format!("{taken}.meta"))).unwrap();
    std::fs::remove_file(staged.join(format!("{taken}.data"))).unwrap();
    assert_eq!(upload(&mut raw, "collides", &data), (id, 4000));
}

/// Whether the file system of `dir` keeps user extended attributes (where
/// it does not, a restarted server has to read staged bytes again).
fn keeps_xattrs(dir: &std::path::Path) -> bool {
    let probe = dir.join("xattr-probe");
    std::fs::write(&probe, b"").unwrap();
    let kept = rustix::fs::setxattr(&probe, "user.probe", b"1", rustix::fs::XattrFlags::empty());
    std::fs::remove_file(probe).unwrap();
    kept.is_ok()
}

#[test]
fn after_a_restart_appends_and_commit_go_on_from_the_recorded_crc() {
    let root = tempfile::tempdir().unwrap();
    if !keeps_xattrs(root.path()) {
        eprintln!(
            "skipped: {} keeps no user extended attributes",
            root.path().display()
        );
        return;
    }
    let on_root = |c: &mut ferry::Config| c.root = root.path().to_path_buf();
    let data = pattern(300_000, 5);
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), on_root);
    let mut raw = server.raw();
    let (id, _) = upload(&mut raw, "resumed", &data);
    assert_eq!(append(&mut raw, &id, 0, &data[..120_000]), "OK 120000");
    drop(raw);
    server.stop().unwrap();

    // A reading of the staged bytes would stop at this gate, unanswered.
    let gate = Arc::new(Gate::new(Point::Checksum));
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), |c| {
        on_root(c);
        c.gate = Some(Arc::clone(&gate));
    });
    let mut raw = server.raw();
    assert_eq!(upload(&mut raw, "resumed", &data), (id.clone(), 120_000));
    assert_eq!(
        append(&mut raw, &id, 120_000, &data[120_000..]),
        "OK 300000"
    );
    raw.send(format!("COMMIT {id}\n"));
    assert_eq!(raw.line(), format!("OK 300000 {}", crc_hex(&data)));
    assert_eq!(gate.arrivals(), 0, "the staged bytes were read again");
    assert_eq!(std::fs::read(root.path().join("resumed")).unwrap(), data);
}

#[test]
fn a_commit_after_a_restart_checks_bytes_it_has_no_record_of() {
    let root = tempfile::tempdir().unwrap();
    let on_root = |c: &mut ferry::Config| c.root = root.path().to_path_buf();
    let data = pattern(50_000, 6);
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), on_root);
    let mut raw = server.raw();
    let (id, _) = upload(&mut raw, "unrecorded", &data);
    assert_eq!(append(&mut raw, &id, 0, &data), "OK 50000");
    drop(raw);
    server.stop().unwrap();
    // Staged bytes changed behind the server's back: the record no longer
    // matches them, so the commit reads them and finds the damage.
    let staged = root.path().join(format!(".ferry-uploads/{id}.data"));
    let mut bytes = std::fs::read(&staged).unwrap();
    bytes[10] ^= 1;
    std::thread::sleep(std::time::Duration::from_millis(20)); // a new mtime
    std::fs::write(&staged, &bytes).unwrap();

    let server = TestServer::start_in(tempfile::tempdir().unwrap(), on_root);
    let mut raw = server.raw();
    raw.send(format!("COMMIT {id}\n"));
    assert!(raw.line().starts_with("ERR 422 checksum mismatch"));
    assert!(!root.path().join("unrecorded").exists());
}

#[test]
fn live_sessions_are_capped_per_client_and_in_all_across_restarts() {
    let root = tempfile::tempdir().unwrap();
    let caps = |c: &mut ferry::Config| {
        c.root = root.path().to_path_buf();
        c.max_upload_sessions = 3;
        c.max_upload_sessions_per_client = 2;
    };
    let data = pattern(100, 9);
    let try_upload = |raw: &mut Raw, name: &str| {
        raw.send(format!("UPLOAD {name} {} {}\n", data.len(), crc_hex(&data)));
        raw.line()
    };
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), caps);
    let mut one = server.raw();
    let mut other = Raw::connect_from(server.addr, "127.0.0.2".parse().unwrap());
    assert!(other.line().starts_with("OK FERRY/1 "));
    let (first, _) = upload(&mut one, "a", &data);
    upload(&mut one, "b", &data);
    let refused = try_upload(&mut one, "c");
    assert!(
        refused.starts_with("ERR 503 too many upload sessions from this address"),
        "{refused}"
    );
    // Finding a session again is no new session.
    assert_eq!(upload(&mut one, "a", &data).0, first);
    upload(&mut other, "d", &data);
    let refused = try_upload(&mut other, "e");
    assert!(
        refused.starts_with("ERR 503 too many upload sessions on this server"),
        "{refused}"
    );
    one.send(format!("ABORT {first}\n"));
    assert_eq!(one.line(), "OK");
    upload(&mut one, "c", &data);
    let (gone, _) = upload(&mut other, "d", &data);
    other.send(format!("ABORT {gone}\n"));
    assert_eq!(other.line(), "OK");
    drop((one, other));
    server.stop().unwrap();

    // The sessions, and whose they are, outlive the process.
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), caps);
    let mut one = server.raw();
    assert!(try_upload(&mut one, "f").starts_with("ERR 503 too many upload sessions from"));
    assert_eq!(upload(&mut one, "c", &data).1, 0);
}

#[test]
fn one_token_cannot_take_the_sessions_another_token_needs_even_after_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let tokens_dir = tempfile::tempdir().unwrap();
    let (path, tokens) = support::tokens::tokens_in(
        tokens_dir.path(),
        &[("flood", &["write:/"]), ("other", &["write:/"])],
    );
    // Each address could take them all; one token may take only 2 of 6.
    let caps = |c: &mut ferry::Config| {
        c.root = root.path().to_path_buf();
        c.access = ferry::access::AccessConfig {
            tokens: Some(path.clone()),
            anonymous: vec![ferry::access::Grant::parse("write:/open").unwrap()],
            no_auth: false,
        };
        c.max_upload_sessions = 6;
        c.max_upload_sessions_per_client = 6;
        c.max_upload_sessions_per_token = 2;
    };
    let data = pattern(100, 12);
    let try_upload = |raw: &mut Raw, name: &str| {
        raw.send(format!("UPLOAD {name} {} {}\n", data.len(), crc_hex(&data)));
        raw.line()
    };
    let connect = |server: &TestServer, from: &str, token: Option<&str>| {
        let mut raw = Raw::connect_from(server.addr, from.parse().unwrap());
        assert!(raw.line().starts_with("OK FERRY/1 "));
        if let Some(token) = token {
            raw.send(format!("AUTH {token}\n"));
            assert!(raw.line().starts_with("OK"));
        }
        raw
    };
    let too_many = "ERR 503 too many upload sessions for this token (cap 2";

    let server = TestServer::start_in(tempfile::tempdir().unwrap(), caps);
    // The flooding token comes from one address after another.
    let mut flood = connect(&server, "127.0.0.1", Some(&tokens[0]));
    upload(&mut flood, "f1", &data);
    let mut flood = connect(&server, "127.0.0.2", Some(&tokens[0]));
    upload(&mut flood, "f2", &data);
    for (n, from) in ["127.0.0.3", "127.0.0.4", "127.0.0.5"].iter().enumerate() {
        let mut flood = connect(&server, from, Some(&tokens[0]));
        let refused = try_upload(&mut flood, &format!("f{}", n + 3));
        assert!(refused.starts_with(too_many), "{refused}");
    }
    // The other token still finds room, and so do clients without a token,
    // who share one token's cap among them.
    let mut other = connect(&server, "127.0.0.1", Some(&tokens[1]));
    upload(&mut other, "o1", &data);
    let mut anonymous = connect(&server, "127.0.0.6", None);
    upload(&mut anonymous, "open/a1", &data);
    let mut anonymous = connect(&server, "127.0.0.7", None);
    upload(&mut anonymous, "open/a2", &data);
    let refused = try_upload(&mut anonymous, "open/a3");
    assert!(refused.starts_with(too_many), "{refused}");
    drop((flood, other, anonymous));
    server.stop().unwrap();

    // Whose each session is outlives the process.
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), caps);
    let mut flood = connect(&server, "127.0.0.8", Some(&tokens[0]));
    let refused = try_upload(&mut flood, "f6");
    assert!(refused.starts_with(too_many), "{refused}");
    // Finding one's own session again is no new session.
    assert_eq!(upload(&mut flood, "f1", &data).1, 0);
    let mut other = connect(&server, "127.0.0.8", Some(&tokens[1]));
    upload(&mut other, "o2", &data);
}

#[test]
fn written_through_the_pool_staged_bytes_are_kept_and_resumed() {
    let server = TestServer::start_with(|c| c.pool_writes = ferry::config::PoolWrites::Always);
    let data = pattern(900_000, 11);
    let mut first = server.raw();
    let (id, _) = upload(&mut first, "pooled", &data);
    // More than the gathering buffer holds, then a pause mid-body: what
    // arrived is written without waiting for more.
    first.send(format!("APPEND {id} 0 800000\n"));
    first.send(&data[..300_000]);
    let mut other = server.raw();
    assert_eq!(wait_for_received(&mut other, "pooled", &data, 300_000), id);
    drop(first);
    assert_eq!(
        append(&mut other, &id, 300_000, &data[300_000..]),
        "OK 900000"
    );
    other.send(format!("COMMIT {id}\n"));
    assert_eq!(other.line(), format!("OK 900000 {}", crc_hex(&data)));
    let mut put = server.raw();
    put.send(format!("PUT whole {}\n", data.len()));
    put.send(&data);
    assert_eq!(put.line(), format!("OK 900000 {}", crc_hex(&data)));
    let mut client = server.client();
    assert_eq!(client.get_bytes("pooled").unwrap(), data);
    assert_eq!(client.get_bytes("whole").unwrap(), data);
}

#[test]
fn a_session_file_planted_as_a_symlink_is_never_followed() {
    let server = TestServer::start();
    let outside = tempfile::tempdir().unwrap();
    let secret = pattern(5_000, 21);
    let secret_path = outside.path().join("secret");
    std::fs::write(&secret_path, &secret).unwrap();
    // A session for exactly the outside file's bytes, its data file then
    // replaced by a link to it: followed, COMMIT would publish the file.
    let mut raw = server.raw();
    let (id, _) = upload(&mut raw, "stolen", &secret);
    let data = server.path(&format!("{}/{id}.data", ferry::storage::SESSIONS_DIR));
    std::fs::remove_file(&data).unwrap();
    std::os::unix::fs::symlink(&secret_path, &data).unwrap();
    raw.send(format!("COMMIT {id}\n"));
    let answer = raw.line();
    assert_eq!(
        answer, "ERR 403 symlinks are not followed",
        "the link was read?"
    );
    assert!(!server.path("stolen").exists());
    assert_eq!(std::fs::read(&secret_path).unwrap(), secret);
    // The connection goes on.
    raw.send("ECHO 1\nz");
    assert_eq!(raw.line(), "OK 1");
}

#[test]
fn a_sessions_folder_that_is_a_symlink_is_refused_at_start_up() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let sessions = root.path().join(ferry::storage::SESSIONS_DIR);
    std::os::unix::fs::symlink(elsewhere.path(), &sessions).unwrap();
    let mut config = ferry::Config {
        root: root.path().to_path_buf(),
        ..ferry::Config::default()
    };
    config.listen(ferry::wire::Protocol::Ferry, "127.0.0.1:0".parse().unwrap());
    let err = ferry::Server::bind(config)
        .err()
        .expect("the server started");
    let message = err.to_string();
    assert!(
        message.contains(&sessions.display().to_string()) && message.contains("is a symlink"),
        "{message}"
    );
}

#[test]
fn a_session_another_node_began_since_expires_here_without_a_restart() {
    // A node reads the sessions folder whole at its start; a session that
    // a node sharing the root began later, and left (it died), must go
    // all the same, without any node restarting.
    let server = TestServer::start_with(|c| {
        c.upload_ttl = std::time::Duration::from_secs(1);
        c.sweep_period = std::time::Duration::from_millis(100);
    });
    let data = pattern(1000, 21);
    // This node reads its sessions folder (an UPLOAD does) before the
    // other node's session is there.
    upload(&mut server.raw(), "here", &data);
    // The other node: a server of its own, whose session's files are put
    // into this one's sessions folder as a shared root would hold them.
    let other = TestServer::start();
    let mut raw = other.raw();
    let (id, _) = upload(&mut raw, "elsewhere", &data);
    assert_eq!(append(&mut raw, &id, 0, &data[..10]), "OK 10");
    drop(raw);
    for half in ["meta", "data"] {
        let name = format!(".ferry-uploads/{id}.{half}");
        std::fs::copy(other.path(&name), server.path(&name)).unwrap();
    }
    let record = server.path(&format!(".ferry-uploads/{id}.meta"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while record.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the other node's session outlived 30 times its TTL"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!server.path(&format!(".ferry-uploads/{id}.data")).exists());
}

#[test]
fn sessions_found_at_start_up_are_served_right_before_the_startup_sweep_reaches_them() {
    // The server serves before its start-up sweep has read the sessions
    // folder or expired anything: a session asked for first must be judged
    // by its own record, and counted in the caps, all the same.
    let root = tempfile::tempdir().unwrap();
    let at_root = |c: &mut ferry::Config| {
        c.root = root.path().to_path_buf();
        c.upload_ttl = std::time::Duration::from_secs(3600);
    };
    let data = pattern(1000, 21);
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), at_root);
    let mut raw = server.raw();
    let (kept, _) = upload(&mut raw, "kept", &data);
    assert_eq!(append(&mut raw, &kept, 0, &data[..10]), "OK 10");
    let (old, _) = upload(&mut raw, "old", &data);
    assert_eq!(append(&mut raw, &old, 0, &data[..10]), "OK 10");
    drop(raw);
    server.stop().unwrap();
    // Last used two hours ago: past the TTL of the next run.
    let two_hours_ago = mtime_secs(root.path()) - 7200;
    set_mtime(
        &root.path().join(format!(".ferry-uploads/{old}.meta")),
        two_hours_ago,
    );

    let gate = Arc::new(Gate::new(Point::Sweep));
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), |c| {
        at_root(c);
        c.max_upload_sessions_per_client = 2;
        c.gate = Some(Arc::clone(&gate));
    });
    gate.wait_for_arrivals(1);
    let mut raw = server.raw();
    // The live one resumes where it stood; the expired one is not resumed
    // but begun anew.
    assert_eq!(upload(&mut raw, "kept", &data), (kept.clone(), 10));
    assert_eq!(upload(&mut raw, "old", &data), (old.clone(), 0));
    // Both count: the index was read whole before the sweep got to it.
    raw.send(format!("UPLOAD third {} {}\n", data.len(), crc_hex(&data)));
    let refused = raw.line();
    assert!(
        refused.starts_with("ERR 503 too many upload sessions from this address"),
        "{refused}"
    );
    gate.open();
    server.wait_for_sweep();
    // The sweep, when it comes, takes neither.
    assert_eq!(upload(&mut raw, "kept", &data), (kept.clone(), 10));
    assert_eq!(upload(&mut raw, "old", &data), (old, 0));
    assert_eq!(append(&mut raw, &kept, 10, &data[10..]), "OK 1000");
    raw.send(format!("COMMIT {kept}\n"));
    assert_eq!(raw.line(), format!("OK 1000 {}", crc_hex(&data)));
}

/// A resumable upload cut by its client is expected, not damage: its
/// APPEND's cut is logged at info, without the warning a cut PUT gets
/// (issue 57: `put --resume` logged `WARN ... PUT ... truncated`).
#[test]
fn an_append_cut_by_its_client_is_no_warning() {
    let root = tempfile::tempdir().unwrap();
    let server = support::process::Process::start(root.path(), &[]);
    let mut raw = Raw::connect(server.addr);
    raw.line();
    let (id, _) = upload(&mut raw, "big.bin", &pattern(1000, 1));
    raw.send(format!("APPEND {id} 0 1000\n"));
    raw.send(pattern(300, 1));
    drop(raw);
    let line = server.wait_for_log("cut after 300 of 1000 bytes");
    assert!(line.contains("INFO"), "{line}");
    assert!(server.log_lines("truncated").is_empty());
    let mut put = Raw::connect(server.addr);
    put.line();
    put.send("PUT whole.bin 1000\n");
    put.send(pattern(300, 1));
    drop(put);
    let line = server.wait_for_log("truncated after 300 of 1000 bytes");
    assert!(line.contains("WARN"), "{line}");
}
