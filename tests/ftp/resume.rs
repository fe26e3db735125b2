//! Resume over FTP (docs/ftp.md): a `STOR` whose data connection is cut
//! (reset) leaves the file as it was and keeps what arrived, which `SIZE`
//! reports and `REST` + `STOR` or `APPE` go on with, on any node of the
//! root; a `STOR` whose stream ended early stored what came, and `APPE`
//! adds the rest to it. Kept bytes are the token's own; a fresh `STOR`
//! starts over; the size limit holds for the whole file.

use crate::support;

use std::net::SocketAddr;

use crate::support::ftp::{ask, connect, connect_to, cut_after, log_in, logged_in};
use crate::support::ftp::{logged_in_with, size, store, store_with, transfer};
use support::{Raw, listen_ftp, pattern};

#[test]
fn a_cut_stor_is_kept_and_rest_stor_goes_on_with_it() {
    let (server, mut raw) = logged_in();
    let dcim = server.root.path().join("dcim");
    std::fs::create_dir(&dcim).unwrap();
    std::fs::write(dcim.join("shot.jpg"), b"the old one").unwrap();
    let body = pattern(2 << 20, 3);
    cut_after(
        &mut raw,
        "STOR dcim/shot.jpg",
        &body[..1 << 20],
        (&dcim, 4096),
    );
    // The old file stays; what arrived is kept, where SIZE says.
    assert_eq!(
        std::fs::read(dcim.join("shot.jpg")).unwrap(),
        b"the old one"
    );
    let kept = size(&mut raw, "dcim/shot.jpg");
    assert!((4096..=1 << 20).contains(&kept), "{kept}");
    // REST back to before the end cuts the kept bytes back; past it is refused.
    let past = format!("REST {}", kept + 1);
    assert!(ask(&mut raw, &past).starts_with("350 "));
    let (refused, _) = store(&mut raw, "dcim/shot.jpg", b"x");
    assert!(refused.starts_with("5"), "{refused}");
    let back = kept / 2;
    assert!(ask(&mut raw, &format!("REST {back}")).starts_with("350 "));
    let (began, ended) = store(&mut raw, "dcim/shot.jpg", &body[back as usize..]);
    assert!(began.starts_with("150 "), "{began}");
    assert_eq!(ended, "226 done");
    assert!(
        std::fs::read(dcim.join("shot.jpg")).unwrap() == body,
        "whole"
    );
    // Committed: nothing is kept any more, SIZE is the file's.
    assert_eq!(size(&mut raw, "dcim/shot.jpg"), body.len() as u64);
    assert_eq!(server.settled_files_on_disk(), ["dcim/shot.jpg"]);
}

#[test]
fn appe_goes_on_with_the_kept_bytes_or_the_file() {
    let (server, mut raw) = logged_in();
    let root = server.root.path();
    let body = pattern(1 << 20, 5);
    // As curl's `-C -` does: SIZE, then APPE of the rest.
    cut_after(&mut raw, "STOR log.bin", &body[..600_000], (root, 1));
    let kept = size(&mut raw, "log.bin") as usize;
    assert!(!root.join("log.bin").exists(), "nothing stored yet");
    let (_, ended) = store_with(&mut raw, "APPE log.bin", &body[kept..]);
    assert_eq!(ended, "226 done");
    assert!(std::fs::read(root.join("log.bin")).unwrap() == body);
    // A STOR whose stream ended early stored what came: APPE adds to it.
    let (_, ended) = store(&mut raw, "notes.txt", b"hello ");
    assert_eq!(ended, "226 done");
    let (_, ended) = store_with(&mut raw, "APPE notes.txt", b"world");
    assert_eq!(ended, "226 done");
    assert_eq!(
        std::fs::read(root.join("notes.txt")).unwrap(),
        b"hello world"
    );
    let (bytes, _, _) = transfer(&mut raw, "RETR notes.txt");
    assert_eq!(bytes, b"hello world");
    // APPE of a file that is not there makes it.
    let (_, ended) = store_with(&mut raw, "APPE new.txt", b"fresh");
    assert_eq!(ended, "226 done");
    assert_eq!(std::fs::read(root.join("new.txt")).unwrap(), b"fresh");
    // REST past a file's end is refused; the file stays.
    assert!(ask(&mut raw, "REST 100").starts_with("350 "));
    let (refused, _) = store(&mut raw, "notes.txt", b"x");
    assert!(refused.starts_with("5"), "{refused}");
    assert_eq!(
        std::fs::read(root.join("notes.txt")).unwrap(),
        b"hello world"
    );
    assert_eq!(
        server.settled_files_on_disk(),
        ["log.bin", "new.txt", "notes.txt"]
    );
}

#[test]
fn a_fresh_stor_starts_over() {
    let (server, mut raw) = logged_in();
    let root = server.root.path();
    cut_after(&mut raw, "STOR a.bin", &pattern(600_000, 1), (root, 1));
    assert!(size(&mut raw, "a.bin") > 0);
    let (_, ended) = store(&mut raw, "a.bin", b"short");
    assert_eq!(ended, "226 done");
    assert_eq!(size(&mut raw, "a.bin"), 5, "the file's, nothing kept");
    assert_eq!(server.settled_files_on_disk(), ["a.bin"]);
}

#[test]
fn kept_bytes_are_the_tokens_own() {
    let holders: &[(&str, &[&str])] = &[
        ("cam", &["write:/", "read:/"]),
        ("other", &["write:/", "read:/"]),
    ];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], listen_ftp);
    let root = server.root.path();
    let mut cam = connect(&server);
    log_in(&mut cam, "cam", &tokens[0]);
    cut_after(&mut cam, "STOR up.bin", &pattern(600_000, 2), (root, 1));
    assert!(size(&mut cam, "up.bin") > 0);
    let mut other = connect(&server);
    log_in(&mut other, "other", &tokens[1]);
    // Not its upload: nothing to go on with, nothing to tell.
    assert!(ask(&mut other, "SIZE up.bin").starts_with("550 "));
    let (_, ended) = store_with(&mut other, "APPE up.bin", b"mine");
    assert_eq!(ended, "226 done");
    assert_eq!(std::fs::read(root.join("up.bin")).unwrap(), b"mine");
}

#[test]
fn the_size_limit_holds_for_the_whole_file() {
    let (server, mut raw) = logged_in_with(|config| config.max_file_size = Some(1000));
    let root = server.root.path();
    let (_, ended) = store(&mut raw, "big.bin", &[7u8; 2000]);
    assert!(ended.starts_with("5"), "{ended}");
    let (_, ended) = store(&mut raw, "log.txt", &[1u8; 900]);
    assert_eq!(ended, "226 done");
    let (_, ended) = store_with(&mut raw, "APPE log.txt", &[2u8; 200]);
    assert!(ended.starts_with("5"), "{ended}");
    assert_eq!(std::fs::read(root.join("log.txt")).unwrap(), [1u8; 900]);
}

/// A `STOR`'s bytes are read straight into its write-behind buffers
/// (512 KiB each; the pool writes even where the root is a tmpfs) and
/// held to the size limit there to the byte: a file of the limit is
/// stored whole, one byte more is refused and leaves nothing, and a
/// resumed `STOR` counts the bytes kept before it (last: a refusal may
/// leave the kept upload held until its write behind is back).
#[test]
fn a_big_stor_is_held_to_the_size_limit_to_the_byte() {
    const LIMIT: usize = 700_000;
    let (server, mut raw) = logged_in_with(|config| {
        config.max_file_size = Some(LIMIT as u64);
        config.pool_writes = ferry::config::PoolWrites::Always;
    });
    let root = server.root.path();
    let body = pattern(LIMIT + 1, 5);
    let (_, ended) = store(&mut raw, "full.bin", &body[..LIMIT]);
    assert_eq!(ended, "226 done");
    assert!(std::fs::read(root.join("full.bin")).unwrap() == body[..LIMIT]);
    let (_, ended) = store(&mut raw, "over.bin", &body);
    assert!(ended.starts_with("5"), "{ended}");
    assert!(ask(&mut raw, "SIZE over.bin").starts_with("550 "));
    for (name, end, whole) in [("to.bin", LIMIT, true), ("past.bin", LIMIT + 1, false)] {
        cut_after(
            &mut raw,
            &format!("STOR {name}"),
            &body[..600_000],
            (root, 1),
        );
        let kept = size(&mut raw, name) as usize;
        assert!(kept > 0);
        assert!(ask(&mut raw, &format!("REST {kept}")).starts_with("350 "));
        let (_, ended) = store(&mut raw, name, &body[kept..end]);
        match whole {
            true => assert_eq!(ended, "226 done"),
            false => assert!(ended.starts_with("5"), "{ended}"),
        }
    }
    assert!(std::fs::read(root.join("to.bin")).unwrap() == body[..LIMIT]);
}

/// A `STOR` cut off on one node goes on through another (two processes
/// on one root).
#[test]
fn a_cut_stor_goes_on_through_another_node() {
    let root = tempfile::tempdir().unwrap();
    let args = |node| ["--node-id", node, "--workers", "1", "--ftp", "127.0.0.1:0"];
    let a = support::process::Process::start(root.path(), &args("node-a"));
    let b = support::process::Process::start(root.path(), &args("node-b"));
    let body = pattern(1 << 20, 8);
    let mut on_a = logged_in_at(a.ftp_addr());
    cut_after(
        &mut on_a,
        "STOR far.bin",
        &body[..600_000],
        (root.path(), 1),
    );
    let mut on_b = logged_in_at(b.ftp_addr());
    let kept = size(&mut on_b, "far.bin");
    assert!(kept > 0);
    assert!(ask(&mut on_b, &format!("REST {kept}")).starts_with("350 "));
    let (_, ended) = store(&mut on_b, "far.bin", &body[kept as usize..]);
    assert_eq!(ended, "226 done");
    assert!(std::fs::read(root.path().join("far.bin")).unwrap() == body);
}

/// A control connection to `addr`, logged in (no access control).
fn logged_in_at(addr: SocketAddr) -> Raw {
    let mut raw = connect_to(addr);
    log_in(&mut raw, "me", "x");
    raw
}

/// `ABOR` while a transfer is under way stops it (RFC 959 §4.1.3): the
/// data connection is cut, `426` for the transfer, then `226` for the
/// `ABOR`; a `STOR` so stopped leaves the file as it was and keeps what
/// arrived, as a reset does.
#[test]
fn abor_stops_a_transfer_under_way() {
    use std::io::{Read, Write};
    let (server, mut raw) = logged_in();
    let root = server.root.path();
    let big = pattern(32 << 20, 6);
    std::fs::write(root.join("big.bin"), &big).unwrap();
    // A download its client stops reading.
    let addr = crate::support::ftp::passive(&mut raw);
    let mut data = std::net::TcpStream::connect(addr).unwrap();
    assert!(ask(&mut raw, "RETR big.bin").starts_with("150 "));
    let mut first = [0u8; 4096];
    data.read_exact(&mut first).unwrap();
    // As ftplib sends it: Telnet's Interrupt Process and Synch first.
    raw.send(b"\xff\xf4\xff\xf2ABOR\r\n");
    let cut = crate::support::ftp::line(&mut raw);
    assert!(cut.starts_with("426 "), "{cut}");
    assert_eq!(
        crate::support::ftp::line(&mut raw),
        "226 the transfer is aborted"
    );
    drop(data);
    // An upload stopped the same way.
    std::fs::write(root.join("up.bin"), b"the old one").unwrap();
    let addr = crate::support::ftp::passive(&mut raw);
    let mut data = std::net::TcpStream::connect(addr).unwrap();
    assert!(ask(&mut raw, "STOR up.bin").starts_with("150 "));
    data.write_all(&big[..1 << 20]).unwrap();
    crate::support::ftp::wait_for_temp_file(root, 1);
    raw.send("ABOR\r\n");
    let cut = crate::support::ftp::line(&mut raw);
    assert!(cut.starts_with("426 "), "{cut}");
    assert_eq!(
        crate::support::ftp::line(&mut raw),
        "226 the transfer is aborted"
    );
    assert_eq!(std::fs::read(root.join("up.bin")).unwrap(), b"the old one");
    let kept = size(&mut raw, "up.bin");
    assert!(kept >= 1, "{kept}");
    // With nothing under way, nothing to abort.
    assert_eq!(ask(&mut raw, "ABOR"), "225 no transfer under way");
    assert_eq!(ask(&mut raw, "NOOP"), "200 ok");
}

/// A token that may write a file but not read it goes on from it only at
/// its end (`APPE`, a data logger's drop box): `REST` into it is refused
/// without telling its size, which probing offsets would otherwise tell.
#[test]
fn a_token_that_may_not_read_a_file_learns_nothing_of_its_size() {
    let holders: &[(&str, &[&str])] = &[("logger", &["write:/"])];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], listen_ftp);
    let root = server.root.path();
    std::fs::write(root.join("log.csv"), [b'x'; 1234]).unwrap();
    let mut raw = connect(&server);
    log_in(&mut raw, "logger", &tokens[0]);
    assert!(ask(&mut raw, "SIZE log.csv").starts_with("550 "));
    for offset in [1, 1234, 99_999] {
        assert!(ask(&mut raw, &format!("REST {offset}")).starts_with("350 "));
        let (refused, _) = store(&mut raw, "log.csv", b"y");
        assert!(refused.starts_with("501 "), "{refused}");
        assert!(!refused.contains("1234"), "{refused}");
    }
    let (_, ended) = store_with(&mut raw, "APPE log.csv", b"y,1\n");
    assert_eq!(ended, "226 done");
    let log = std::fs::read(root.join("log.csv")).unwrap();
    assert_eq!((log.len(), &log[1234..]), (1238, &b"y,1\n"[..]));
}

/// A token with a 100 KB quota: an `APPE` of 264,800 bytes is refused
/// (552) and keeps nothing past the quota; `DELE` of the name frees what
/// it kept (there is no file: it answers 250 all the same), and a fresh
/// `STOR` of the name starts over; the token is never locked out, and
/// the ledger counts what is on the disk. Before, the refused `APPE`'s
/// bytes stayed counted as a kept upload for a day (`--upload-ttl`):
/// every `STOR`, even of 10 bytes, was refused, and nothing over FTP
/// could free them.
#[test]
fn kept_bytes_never_lock_a_token_out_of_its_quota() {
    let holders: &[(&str, &[&str])] = &[("cam", &["write:/", "read:/", "delete:/"])];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], |config| {
        listen_ftp(config);
        support::tokens::set_quota(config, 0, "100000");
    });
    let mut cam = connect(&server);
    log_in(&mut cam, "cam", &tokens[0]);
    let used = || support::tokens::used_by(&server, &tokens[0]);
    let big = pattern(264_800, 3);
    let (_, refused) = store_with(&mut cam, "APPE big.bin", &big);
    assert!(refused.starts_with("552 quota"), "{refused}");
    assert!(used() <= 100_000, "{} counted", used());
    let deleted = ask(&mut cam, "DELE big.bin");
    assert!(deleted.starts_with("250 "), "{deleted}");
    assert_eq!(used(), 0);
    let (_, stored) = store(&mut cam, "small.txt", &[1u8; 10]);
    assert_eq!(stored, "226 done");

    let (_, refused) = store_with(&mut cam, "APPE big.bin", &big);
    assert!(refused.starts_with("552 quota"), "{refused}");
    let (_, stored) = store(&mut cam, "big.bin", &big[..50_000]);
    assert_eq!(stored, "226 done");
    assert_eq!(used(), 50_010);
    assert_eq!(server.settled_files_on_disk(), ["big.bin", "small.txt"]);
}

/// A file moved onto a name ends what a cut `STOR` of that name kept for
/// the token, as a fresh `STOR` or a `DELE` of it does: the name holds
/// the moved file now, and the kept bytes no longer count against the
/// quota. (A camera that uploads to a temporary name and renames it over
/// the name a cut upload left behind.)
#[test]
fn a_file_moved_onto_a_name_frees_what_a_cut_stor_kept_of_it() {
    let holders: &[(&str, &[&str])] = &[("cam", &["write:/", "read:/", "delete:/"])];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], |config| {
        listen_ftp(config);
        support::tokens::set_quota(config, 0, "10M");
    });
    let used = || support::tokens::used_by(&server, &tokens[0]);
    let dcim = server.root.path().join("dcim");
    std::fs::create_dir(&dcim).unwrap();
    std::fs::write(dcim.join("shot.jpg"), b"the old one").unwrap();
    let mut cam = connect(&server);
    log_in(&mut cam, "cam", &tokens[0]);
    cut_after(
        &mut cam,
        "STOR dcim/shot.jpg",
        &pattern(1 << 20, 5),
        (&dcim, 4096),
    );
    let kept = used();
    assert!(kept >= 4096, "the cut STOR keeps what arrived");
    // Onto itself nothing moves, and what was kept stays.
    assert!(ask(&mut cam, "RNFR dcim/shot.jpg").starts_with("350 "));
    assert!(ask(&mut cam, "RNTO dcim/shot.jpg").starts_with("250 "));
    assert_eq!(used(), kept);

    let (_, stored) = store(&mut cam, "dcim/shot.tmp", b"0123456789");
    assert_eq!(stored, "226 done");
    assert!(ask(&mut cam, "RNFR dcim/shot.tmp").starts_with("350 "));
    assert!(ask(&mut cam, "RNTO dcim/shot.jpg").starts_with("250 "));
    assert_eq!(used(), 10, "the kept bytes went when the name was taken");
    assert_eq!(size(&mut cam, "dcim/shot.jpg"), 10);
}

/// A write-only camera (`write:cams/`) goes on with its own cut upload as
/// curl's `-C -` does (`SIZE`, then `APPE` of the rest): `SIZE` tells it
/// the bytes it sent. Of a file it may not read it learns nothing, not
/// even through an upload it began from that file's bytes (`APPE` onto
/// it): `SIZE` and `REST` answer as for a name with no file, and FERRY/1's
/// `SESSIONS` does not list that upload.
#[test]
fn a_write_only_camera_resumes_its_own_upload_and_learns_nothing_of_others() {
    let holders: &[(&str, &[&str])] = &[("cam", &["write:cams/"])];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], listen_ftp);
    let cams = server.root.path().join("cams");
    std::fs::create_dir(&cams).unwrap();
    let mut cam = connect(&server);
    log_in(&mut cam, "cam", &tokens[0]);
    let body = pattern(1 << 20, 9);
    cut_after(&mut cam, "STOR cams/a.jpg", &body[..1 << 19], (&cams, 4096));
    let kept = size(&mut cam, "cams/a.jpg");
    assert!((4096..=1 << 19).contains(&kept), "{kept}");
    let (_, ended) = store_with(&mut cam, "APPE cams/a.jpg", &body[kept as usize..]);
    assert_eq!(ended, "226 done");
    assert!(std::fs::read(cams.join("a.jpg")).unwrap() == body, "whole");

    // Someone else's file: the camera's APPE onto it keeps, once cut,
    // an upload holding the file's bytes; none of its size is told.
    std::fs::write(cams.join("log.csv"), [b'x'; 1234]).unwrap();
    let missing = ask(&mut cam, "SIZE cams/none.csv");
    assert!(missing.starts_with("550 "), "{missing}");
    let addr = support::ftp::passive(&mut cam);
    let mut data = std::net::TcpStream::connect(addr).unwrap();
    assert!(ask(&mut cam, "APPE cams/log.csv").starts_with("150 "));
    std::io::Write::write_all(&mut data, &[b'y'; 5000]).unwrap();
    wait_for_staged(&server.root.path().join(".ferry-uploads"), 1234 + 5000);
    rustix::net::sockopt::set_socket_linger(&data, Some(std::time::Duration::ZERO)).unwrap();
    drop(data);
    assert!(support::ftp::line(&mut cam).starts_with("426 "));
    for name in ["cams/log.csv", "cams/none.csv"] {
        let answer = ask(&mut cam, &format!("SIZE {name}"));
        assert_eq!(answer, missing.replace("none.csv", &name[5..]), "{name}");
        assert!(ask(&mut cam, "REST 1000").starts_with("350 "));
        let (refused, _) = store(&mut cam, name, b"z");
        assert!(refused.starts_with("501 "), "{refused}");
        assert!(!refused.contains("6234"), "{refused}");
    }
    let mut ferry = server.raw();
    ferry.send(format!("AUTH {}\n", tokens[0]));
    assert!(ferry.line().starts_with("OK"));
    ferry.send("SESSIONS\n");
    assert_eq!(ferry.line(), "OK 0");
    // It goes on from the end all the same, as an APPE does.
    let (_, ended) = store_with(&mut cam, "APPE cams/log.csv", b",end");
    assert_eq!(ended, "226 done");
    let log = std::fs::read(cams.join("log.csv")).unwrap();
    assert_eq!((log.len(), &log[6234..]), (6238, &b",end"[..]));
}

/// Waits (within `PATIENCE`) until an upload session's data file in
/// `dir` holds `seen` bytes.
fn wait_for_staged(dir: &std::path::Path, seen: u64) {
    let deadline = std::time::Instant::now() + support::PATIENCE;
    let staged = || {
        let entries = std::fs::read_dir(dir).ok()?;
        let data = entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".data"));
        data.filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .max()
    };
    while staged().is_none_or(|n| n < seen) {
        assert!(std::time::Instant::now() < deadline, "never staged {seen}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// `ABOR` while a transfer waits for its data connection (the client
/// asked `STOR` or `RETR` and never connected) ends that wait at once:
/// the transfer is `426` (nothing stored), then the `ABOR` `226`, and the
/// control connection goes on; before, the `ABOR` waited with the
/// transfer for the data connection's 20 s.
#[test]
fn abor_ends_a_transfer_that_waits_for_its_data_connection() {
    let (server, mut raw) = logged_in();
    std::fs::write(server.root.path().join("there.bin"), b"bytes").unwrap();
    for asked in ["STOR never.bin", "RETR there.bin"] {
        let _ = crate::support::ftp::passive(&mut raw);
        raw.send(format!("{asked}\r\n"));
        raw.send("ABOR\r\n");
        let mut lines = vec![crate::support::ftp::line(&mut raw)];
        if lines[0].starts_with("150 ") {
            lines.push(crate::support::ftp::line(&mut raw));
        }
        let cut = lines.last().unwrap().clone();
        assert!(
            cut.starts_with("426 ") || cut.starts_with("425 "),
            "{asked}: {lines:?}"
        );
        assert_eq!(
            crate::support::ftp::line(&mut raw),
            "226 the transfer is aborted"
        );
        assert_eq!(ask(&mut raw, "NOOP"), "200 ok");
    }
    assert!(!server.root.path().join("never.bin").exists());
}

/// A write behind that fails ends the upload, and the bytes gathered
/// behind it go with it: written after the failed ones they would land
/// after a gap, and the kept bytes `SIZE` names, which a client resumes
/// from, would hold the wrong part of the file. The first of an `APPE`'s
/// writes fails once (EIO); its body is 2 MiB, more than one write takes,
/// so more is gathered while it is away. Whatever is kept must be the
/// body's first bytes: resumed from there, the file is the body.
#[test]
fn bytes_gathered_behind_a_failed_write_are_not_kept() {
    use ferry::storage::gate::{Gate, Point};
    let gate = std::sync::Arc::new(Gate::failing_call(Point::Write, rustix::io::Errno::IO, 1));
    let (server, mut raw) = logged_in_with(|config| {
        config.gate = Some(std::sync::Arc::clone(&gate));
        config.pool_writes = ferry::config::PoolWrites::Always;
    });
    let body = pattern(2 << 20, 7);
    let (_, failed) = store_with(&mut raw, "APPE log.bin", &body);
    assert!(failed.starts_with("4"), "{failed}");
    let said = ask(&mut raw, "SIZE log.bin");
    let kept: usize = match said.strip_prefix("213 ") {
        Some(kept) => kept.trim().parse().unwrap(),
        None => 0,
    };
    assert!(ask(&mut raw, &format!("REST {kept}")).starts_with("350 "));
    let (_, stored) = store(&mut raw, "log.bin", &body[kept..]);
    assert_eq!(stored, "226 done", "{kept} kept");
    let log = std::fs::read(server.root.path().join("log.bin")).unwrap();
    assert!(
        log == body,
        "{kept} kept: {} bytes stored, not the body",
        log.len()
    );
}

/// Two `APPE`s side by side, of two files under a folder's quota, each
/// beginning its upload with a copy of its file that fits alone and not
/// both: held after the check before the copy, they reach the copy at
/// once (and neither commits before both are answered), and the copy is
/// counted and judged in one step, so one is
/// refused (552) and the folder never holds past its quota. Before, both
/// copied: 400,000 bytes counted against 350,000.
#[test]
fn appends_side_by_side_cannot_together_copy_past_a_quota() {
    use ferry::storage::gate::{Gate, Point};
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("box")).unwrap();
    for name in ["a.bin", "b.bin"] {
        std::fs::write(root.path().join("box").join(name), pattern(100_000, 2)).unwrap();
    }
    let gate = std::sync::Arc::new(Gate::new(Point::Session));
    let server = support::TestServer::start_with(|config| {
        listen_ftp(config);
        config.root = root.path().to_path_buf();
        config.quotas = vec![ferry::access::quota::FolderQuota::parse("box/=350000").unwrap()];
        config.io_threads = config.io_threads.max(2);
        config.gate = Some(std::sync::Arc::clone(&gate));
    });
    let addr = server.ftp.unwrap();
    // Neither commits before both opens are answered: each holds its data
    // connection open until then (a commit would take its copy's count
    // back, and the other's copy would fit whatever the rule).
    let both_answered = std::sync::Arc::new(std::sync::Barrier::new(2));
    let appends: Vec<_> = ["a.bin", "b.bin"]
        .map(|name| {
            let both_answered = std::sync::Arc::clone(&both_answered);
            std::thread::spawn(move || {
                use crate::support::ftp::{line, passive};
                let mut raw = logged_in_at(addr);
                let data = std::net::TcpStream::connect(passive(&mut raw)).unwrap();
                let began = ask(&mut raw, &format!("APPE box/{name}"));
                both_answered.wait();
                drop(data);
                let ended = match began.starts_with("150 ") {
                    true => line(&mut raw),
                    false => String::new(),
                };
                (began, ended)
            })
        })
        .into_iter()
        .collect();
    gate.wait_for_arrivals(2);
    gate.open();
    let answers: Vec<(String, String)> = appends.into_iter().map(|t| t.join().unwrap()).collect();
    let refused = |(began, ended): &(String, String)| {
        began.starts_with("552 quota") || ended.starts_with("552 quota")
    };
    assert_eq!(
        answers.iter().filter(|a| refused(a)).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers.iter().any(|(_, ended)| ended == "226 done"),
        "{answers:?}"
    );
    for name in ["a.bin", "b.bin"] {
        let kept = std::fs::read(root.path().join("box").join(name)).unwrap();
        assert_eq!(kept, pattern(100_000, 2), "{name}");
    }
}
