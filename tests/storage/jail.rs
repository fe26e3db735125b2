//! The root-directory jail and atomic uploads, seen from the wire.
//!
//! Covers: names that try to climb out of the root (or into the server's
//! reserved files) are refused without harming the connection; symlinks and
//! special files planted in the root never lead outside it or hang the
//! server; aborted and corrupted uploads leave no trace and keep the previous
//! version; readers racing a writer see whole versions only; implicit
//! directories (creation, conflicts, pruning); LIST prefixes, ordering and
//! encoding; empty and binary files; and the startup sweep of stale temp
//! files.

use crate::support;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

use ferry::client::ClientError;
use support::{Raw, TestServer, crc_hex, entries, pattern};
use tempfile::TempDir;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Reads one reply line and asserts it is `ERR <code> ...`.
fn expect_err(raw: &mut Raw, code: u16, context: &str) {
    let line = raw.line();
    assert!(
        line.starts_with(&format!("ERR {code} ")),
        "{context}: expected ERR {code}, got {line:?}"
    );
}

/// Reads one reply line and asserts it is an `ERR` with one of `codes`;
/// returns the code.
fn expect_err_in(raw: &mut Raw, codes: &[u16], context: &str) -> u16 {
    let line = raw.line();
    let code = line
        .strip_prefix("ERR ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{context}: expected an ERR reply, got {line:?}"));
    assert!(
        codes.contains(&code),
        "{context}: expected ERR {codes:?}, got {line:?}"
    );
    code
}

/// Proves the connection is still in sync: an ECHO round-trips exactly.
fn assert_usable(raw: &mut Raw) {
    raw.send("ECHO 4\nping");
    assert_eq!(raw.line(), "OK 4", "connection out of sync");
    assert_eq!(raw.bytes(4), b"ping");
}

/// Uploads over a raw connection and checks the exact success reply.
fn raw_put(raw: &mut Raw, encoded_name: &str, data: &[u8]) {
    raw.send(format!(
        "PUT {encoded_name} {} {}\n",
        data.len(),
        crc_hex(data)
    ));
    raw.send(data);
    assert_eq!(
        raw.line(),
        format!("OK {} {}", data.len(), crc_hex(data)),
        "PUT {encoded_name}"
    );
}

/// Downloads a whole file over a raw connection.
fn raw_get(raw: &mut Raw, encoded_name: &str) -> Vec<u8> {
    raw.send(format!("GET {encoded_name}\n"));
    let line = raw.get_line();
    let fields: Vec<&str> = line.split(' ').collect();
    assert!(
        fields.len() == 4 && fields[0] == "OK" && fields[1] == fields[2],
        "GET {encoded_name}: {line:?}"
    );
    let body = raw.bytes(fields[1].parse().unwrap());
    assert_eq!(fields[3], crc_hex(&body), "GET {encoded_name}: CRC-32C");
    body
}

/// One listing line as sent: size, mtime, encoded name.
#[derive(Debug, PartialEq, Eq)]
struct Listed {
    size: u64,
    mtime: i64,
    encoded: String,
}

/// Sends `LIST[ <prefix>]` and parses the listing.
fn raw_list(raw: &mut Raw, encoded_prefix: &str) -> Vec<Listed> {
    if encoded_prefix.is_empty() {
        raw.send("LIST\n");
    } else {
        raw.send(format!("LIST {encoded_prefix}\n"));
    }
    let line = raw.line();
    let len: usize = line
        .strip_prefix("OK ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("LIST {encoded_prefix:?}: {line:?}"));
    let body = String::from_utf8(raw.bytes(len)).expect("listing is UTF-8");
    assert!(body.is_empty() || body.ends_with('\n'), "{body:?}");
    body.lines()
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            Listed {
                size: parts.next().unwrap().parse().expect("size"),
                mtime: parts.next().unwrap().parse().expect("mtime"),
                encoded: parts.next().expect("name").to_owned(),
            }
        })
        .collect()
}

/// The encoded names of a listing.
fn names(listing: &[Listed]) -> Vec<&str> {
    listing.iter().map(|l| l.encoded.as_str()).collect()
}

/// Polls `condition` (the server works on another thread) for up to 10 s.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn has_temp_file(server: &TestServer) -> bool {
    server
        .files_on_disk()
        .iter()
        .any(|f| f.rsplit('/').next().unwrap().starts_with(".ferry-"))
}

/// A server whose root is a subdirectory of `outer`, so that everything
/// "outside the root" is a directory the test owns and can inspect.
fn server_inside(outer: &TempDir) -> TestServer {
    let root = tempfile::tempdir_in(outer.path()).expect("root dir");
    TestServer::start_in(root, |_| {})
}

fn root_dir_name(server: &TestServer) -> String {
    server
        .root
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

// ---------------------------------------------------------------------------
// Names that try to leave the root
// ---------------------------------------------------------------------------

/// Encoded names that must never be accepted, with the code they get.
const HOSTILE_NAMES: &[(&str, u16)] = &[
    ("../secret", 400),
    ("..", 400),
    ("a/../../secret", 400),
    ("a/../keep.txt", 400),
    ("./keep.txt", 400),
    ("%2e%2e/secret", 400),
    ("%2E%2E%2Fsecret", 400),
    ("..%2fsecret", 400),
    ("a%2f..%2f..%2fsecret", 400),
    ("/etc/passwd", 400),
    ("%2fetc%2fpasswd", 400),
    ("a//b", 400),
    ("a/", 400),
    ("keep%00.txt", 400),
    ("keep.txt%00", 400),
    ("keep%0a.txt", 400),
    ("keep%0d%0aSTAT", 400),
    ("a%7fb", 400),
    ("%ff%fe", 400),
    ("a%zz", 400),
    ("a%2", 400),
    (".ferry-x", 403),
    ("%2eferry-x", 403),
    ("sub/.ferry-tmp-1-1", 403),
    (".ferry-tmp-1-1/x", 403),
];

#[test]
fn hostile_names_are_refused_and_the_connection_stays_usable() {
    let outer = tempfile::tempdir().unwrap();
    fs::write(outer.path().join("secret"), "outside the root").unwrap();
    let server = server_inside(&outer);
    fs::write(server.path("keep.txt"), "kept").unwrap();
    let mut raw = server.raw();

    for &(name, code) in HOSTILE_NAMES {
        // `DEL a/` is the folder `a` with all in it (PROTOCOL.md 6.5.1):
        // here no such folder, not a bad name.
        let del = if name.ends_with('/') { 404 } else { code };
        for (request, code) in [
            (format!("STAT {name}\n"), code),
            (format!("GET {name}\n"), code),
            (format!("GET {name} 0 5\n"), code),
            (format!("DEL {name}\n"), del),
        ] {
            raw.send(&request);
            expect_err(&mut raw, code, request.trim_end());
            assert_usable(&mut raw);
        }
        // A refused PUT's body must be skipped, not parsed as requests: this
        // body is itself a valid request whose answer would desync the ECHO.
        let body = "STAT keep.txt\n";
        raw.send(format!("PUT {name} {}\n{body}", body.len()));
        expect_err(&mut raw, code, &format!("PUT {name}"));
        assert_usable(&mut raw);
    }

    assert_eq!(
        entries(server.root.path()),
        ["keep.txt"],
        "nothing created inside"
    );
    assert_eq!(fs::read(server.path("keep.txt")).unwrap(), b"kept");
    assert_eq!(
        entries(outer.path()),
        [root_dir_name(&server), "secret".to_owned()],
        "nothing created outside"
    );
    assert_eq!(
        fs::read(outer.path().join("secret")).unwrap(),
        b"outside the root"
    );
}

#[test]
fn hostile_list_prefixes_are_refused_and_the_connection_stays_usable() {
    let outer = tempfile::tempdir().unwrap();
    fs::write(outer.path().join("secret"), "outside the root").unwrap();
    let server = server_inside(&outer);
    fs::write(server.path("keep.txt"), "kept").unwrap();
    let mut raw = server.raw();

    for prefix in [
        "../",
        "../secret",
        "a/../../",
        "%2e%2e/",
        "/etc",
        "a//b",
        "x%0a",
    ] {
        raw.send(format!("LIST {prefix}\n"));
        expect_err(&mut raw, 400, &format!("LIST {prefix}"));
        assert_usable(&mut raw);
    }
    // A partial last segment is only compared, never walked.
    assert!(raw_list(&mut raw, "..").is_empty());
    assert_eq!(names(&raw_list(&mut raw, "")), ["keep.txt"]);
}

#[test]
fn reserved_files_are_neither_listed_nor_served() {
    let server = TestServer::start();
    fs::create_dir(server.path("sub")).unwrap();
    // Planted after startup, so the stale-file sweep has not removed them.
    fs::write(server.path(".ferry-tmp-9-9"), "partial").unwrap();
    fs::write(server.path("sub/.ferry-tmp-9-9"), "partial").unwrap();
    fs::write(server.path("sub/real"), "real").unwrap();
    let mut raw = server.raw();

    assert_eq!(names(&raw_list(&mut raw, "")), ["sub/real"]);
    assert!(raw_list(&mut raw, ".ferry-").is_empty());
    assert!(raw_list(&mut raw, "sub/.ferry").is_empty());
    for name in [".ferry-tmp-9-9", "sub/.ferry-tmp-9-9"] {
        for verb in ["GET", "STAT", "DEL"] {
            raw.send(format!("{verb} {name}\n"));
            expect_err(&mut raw, 403, &format!("{verb} {name}"));
        }
    }
    assert_usable(&mut raw);
    assert_eq!(
        fs::read(server.path(".ferry-tmp-9-9")).unwrap(),
        b"partial",
        "DEL of a reserved name removed it"
    );
}

#[test]
fn special_files_in_the_root_are_absent_and_never_block() {
    let server = TestServer::start();
    fs::write(server.path("plain"), "plain").unwrap();
    let fifo = server.path("pipe");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(server.path("sock")).unwrap();
    let mut raw = server.raw();
    // Opening a FIFO without a writer would block a careless server forever.
    for special in ["pipe", "sock"] {
        for verb in ["GET", "STAT", "DEL"] {
            let request = format!("{verb} {special}");
            raw.send(format!("{request}\n"));
            expect_err(&mut raw, 404, &request);
        }
        raw.send(format!("GET {special} 0 1\n"));
        expect_err(&mut raw, 404, "ranged GET");
        raw.send(format!("PUT {special} 1\nx"));
        expect_err(&mut raw, 409, "PUT onto a special file");
    }
    assert_eq!(names(&raw_list(&mut raw, "")), ["plain"]);
    assert_usable(&mut raw);
    for special in ["pipe", "sock"] {
        assert!(server.path(special).exists(), "{special} was removed");
    }
}

// ---------------------------------------------------------------------------
// Symlinks planted inside the root
// ---------------------------------------------------------------------------

const OUTSIDE_SECRET: &[u8] = b"outside secret: do not serve";

/// `outer/outside/secret.txt`, and in the root: `plain.txt`, `file-link` to
/// the secret, `dir-link` to `outside/`, `dangling` to a missing file in
/// `outside/`, and `sub/rel-link`, a relative link to the secret.
fn symlink_fixture() -> (TempDir, TestServer) {
    let outer = tempfile::tempdir().unwrap();
    let outside = outer.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret.txt"), OUTSIDE_SECRET).unwrap();
    let server = server_inside(&outer);
    fs::write(server.path("plain.txt"), "plain").unwrap();
    symlink(outside.join("secret.txt"), server.path("file-link")).unwrap();
    symlink(&outside, server.path("dir-link")).unwrap();
    symlink(outside.join("missing.txt"), server.path("dangling")).unwrap();
    fs::create_dir(server.path("sub")).unwrap();
    symlink("../../outside/secret.txt", server.path("sub/rel-link")).unwrap();
    (outer, server)
}

fn assert_outside_untouched(outer: &TempDir) {
    let outside = outer.path().join("outside");
    assert_eq!(entries(&outside), ["secret.txt"], "outside dir was written");
    assert_eq!(
        fs::read(outside.join("secret.txt")).unwrap(),
        OUTSIDE_SECRET
    );
}

#[test]
fn symlinks_in_the_root_do_not_reveal_outside_files() {
    let (outer, server) = symlink_fixture();
    let mut raw = server.raw();

    // A symlink itself reads as forbidden; a path through a symlinked
    // directory as absent. Anything but an ERR line (e.g. "OK 28 28" and
    // the secret) fails.
    for (name, code) in [
        ("file-link", 403),
        ("sub/rel-link", 403),
        ("dangling", 403),
        ("dir-link", 403),
        ("dir-link/secret.txt", 404),
        ("dir-link/missing.txt", 404),
    ] {
        for request in [
            format!("STAT {name}\n"),
            format!("GET {name}\n"),
            format!("GET {name} 0 5\n"),
        ] {
            raw.send(&request);
            expect_err(&mut raw, code, request.trim_end());
        }
        assert_usable(&mut raw);
    }
    // DEL through a symlinked directory must not remove the outside file.
    raw.send("DEL dir-link/secret.txt\n");
    expect_err_in(&mut raw, &[403, 404], "DEL dir-link/secret.txt");
    assert_usable(&mut raw);
    assert_outside_untouched(&outer);
}

#[test]
fn list_skips_symlinks_and_does_not_walk_symlinked_directories() {
    let (outer, server) = symlink_fixture();
    let mut raw = server.raw();

    assert_eq!(names(&raw_list(&mut raw, "")), ["plain.txt"]);
    assert!(raw_list(&mut raw, "file").is_empty());
    assert!(raw_list(&mut raw, "sub/").is_empty());
    // A symlinked directory is absent: its contents are never listed.
    assert!(raw_list(&mut raw, "dir-link/").is_empty());
    assert!(raw_list(&mut raw, "dir-link/secret").is_empty());
    assert_outside_untouched(&outer);
}

#[test]
fn put_never_writes_through_a_symlink() {
    let (outer, server) = symlink_fixture();
    let mut raw = server.raw();

    // Through a symlinked directory: refused, outside untouched.
    for name in [
        "dir-link/new.txt",
        "dir-link/deeper/new.txt",
        "dir-link/secret.txt",
    ] {
        let body = "overwritten!";
        raw.send(format!(
            "PUT {name} {} {}\n{body}",
            body.len(),
            crc_hex(body.as_bytes())
        ));
        expect_err_in(&mut raw, &[403, 404, 409], &format!("PUT {name}"));
        assert_usable(&mut raw);
    }
    assert_outside_untouched(&outer);

    // Onto a symlink itself: refused like every other symlink access, and
    // the link (and its target) stay as they were. DEL likewise.
    for name in ["file-link", "dangling", "sub/rel-link"] {
        let body = "overwritten!";
        raw.send(format!(
            "PUT {name} {} {}\n{body}",
            body.len(),
            crc_hex(body.as_bytes())
        ));
        expect_err(&mut raw, 403, &format!("PUT {name}"));
        raw.send(format!("DEL {name}\n"));
        expect_err(&mut raw, 403, &format!("DEL {name}"));
        let kind = fs::symlink_metadata(server.path(name)).unwrap().file_type();
        assert!(kind.is_symlink(), "refused PUT/DEL {name} changed the link");
        assert_usable(&mut raw);
    }
    assert_outside_untouched(&outer);
    assert_eq!(
        entries(outer.path()),
        [root_dir_name(&server), "outside".to_owned()]
    );
}

// ---------------------------------------------------------------------------
// Aborted and corrupted uploads
// ---------------------------------------------------------------------------

#[test]
fn upload_cut_short_by_half_close_is_refused_and_leaves_no_trace() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send("PUT big.bin 1000000\n");
    raw.send(pattern(64 * 1024, 1));
    raw.finish_sending();
    expect_err(&mut raw, 400, "truncated PUT");
    raw.expect_closed();
    // The temp file is removed before the error is even queued.
    assert_eq!(server.files_on_disk(), Vec::<String>::new());
}

/// Starts a 1 MiB PUT of `name`, sends part of the body, and waits until
/// the server has created its temp file.
fn start_partial_upload(server: &TestServer, name: &str) -> Raw {
    let mut raw = server.raw();
    raw.send(format!("PUT {name} 1048576\n"));
    raw.send(pattern(100 * 1024, 7));
    wait_until("the upload's temp file exists", || has_temp_file(server));
    raw
}

#[test]
fn dropped_connection_mid_upload_leaves_no_trace() {
    let server = TestServer::start();
    let raw = start_partial_upload(&server, "dir/big.bin");
    drop(raw);
    wait_until("the temp file is removed", || !has_temp_file(&server));
    assert_eq!(server.files_on_disk(), Vec::<String>::new());
    let mut client = server.client();
    match client.stat("dir/big.bin") {
        Err(ClientError::Remote { code: 404, .. }) => {}
        other => panic!("aborted upload is visible: {other:?}"),
    }
}

#[test]
fn reset_connection_mid_upload_leaves_no_trace() {
    let server = TestServer::start();
    let raw = start_partial_upload(&server, "big.bin");
    // SO_LINGER 0: close sends RST instead of FIN.
    rustix::net::sockopt::set_socket_linger(&raw.stream, Some(Duration::ZERO)).unwrap();
    drop(raw);
    wait_until("the temp file is removed", || !has_temp_file(&server));
    assert_eq!(server.files_on_disk(), Vec::<String>::new());
    let mut client = server.client();
    assert!(matches!(
        client.stat("big.bin"),
        Err(ClientError::Remote { code: 404, .. })
    ));
}

#[test]
fn aborted_overwrite_keeps_the_previous_version() {
    let server = TestServer::start();
    let old = pattern(10_000, 3);
    let mut client = server.client();
    client.put_bytes("doc.bin", &old).unwrap();

    let raw = start_partial_upload(&server, "doc.bin");
    drop(raw);
    wait_until("the temp file is removed", || !has_temp_file(&server));

    assert_eq!(server.files_on_disk(), ["doc.bin"]);
    assert_eq!(client.get_bytes("doc.bin").unwrap(), old);
}

#[test]
fn failed_uploads_leave_no_parent_directories_behind() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send("PUT bad/crc/x 4 00000000\nbody");
    expect_err(&mut raw, 422, "bad checksum");
    drop(start_partial_upload(&server, "cut/short/x"));
    // The temp file and then its new directories go in one step of the
    // server thread; wait for all of it.
    wait_until("the failed uploads' directories are removed", || {
        entries(server.root.path()).is_empty()
    });
    // What a client sees: the names must still be usable for files.
    for name in ["bad", "cut"] {
        raw.send(format!("PUT {name} 4\nbody"));
        assert_eq!(
            raw.line(),
            format!("OK 4 {}", crc_hex(b"body")),
            "PUT {name}"
        );
    }
}

#[test]
fn checksum_mismatch_is_refused_and_keeps_the_previous_version() {
    let server = TestServer::start();
    let old = pattern(5_000, 1);
    let new = pattern(6_000, 2);
    let wrong = format!("{:08x}", crc32c::crc32c(&new) ^ 1);
    let mut raw = server.raw();
    raw_put(&mut raw, "doc.bin", &old);

    raw.send(format!("PUT doc.bin {} {wrong}\n", new.len()));
    raw.send(&new);
    expect_err(&mut raw, 422, "overwrite with a bad checksum");
    assert_usable(&mut raw);
    assert_eq!(raw_get(&mut raw, "doc.bin"), old);

    raw.send(format!("PUT fresh.bin {} {wrong}\n", new.len()));
    raw.send(&new);
    expect_err(&mut raw, 422, "new file with a bad checksum");
    assert_usable(&mut raw);
    raw.send("STAT fresh.bin\n");
    expect_err(&mut raw, 404, "STAT after a refused upload");

    assert_eq!(server.files_on_disk(), ["doc.bin"]);
    assert_eq!(fs::read(server.path("doc.bin")).unwrap(), old);
}

#[test]
fn readers_racing_a_writer_see_whole_versions_only() {
    const SIZE: usize = 256 * 1024;
    const WRITES: usize = 40;
    const READERS: usize = 4;
    const READS: usize = 40;
    let server = TestServer::start();
    let versions = [pattern(SIZE, 11), pattern(SIZE, 12)];
    let addr = server.addr;
    server.client().put_bytes("race.bin", &versions[0]).unwrap();

    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut client = ferry::Client::connect(addr).unwrap();
            for i in 0..WRITES {
                client
                    .put_bytes("race.bin", &versions[(i + 1) % 2])
                    .unwrap();
            }
        });
        for _ in 0..READERS {
            scope.spawn(|| {
                let mut client = ferry::Client::connect(addr).unwrap();
                for _ in 0..READS {
                    let got = client.get_bytes("race.bin").unwrap();
                    assert!(
                        got == versions[0] || got == versions[1],
                        "a read saw neither version whole ({} bytes)",
                        got.len()
                    );
                }
            });
        }
    });
    assert_eq!(server.files_on_disk(), ["race.bin"], "temp files left over");
}

// ---------------------------------------------------------------------------
// Implicit directories
// ---------------------------------------------------------------------------

#[test]
fn put_creates_missing_parent_directories() {
    let server = TestServer::start();
    let mut client = server.client();
    client.put_bytes("a/b/c/file.txt", b"deep").unwrap();
    assert!(server.path("a/b/c").is_dir());
    assert_eq!(fs::read(server.path("a/b/c/file.txt")).unwrap(), b"deep");
    assert_eq!(client.get_bytes("a/b/c/file.txt").unwrap(), b"deep");
    assert_eq!(client.stat("a/b/c/file.txt").unwrap().size, 4);
}

#[test]
fn put_below_a_file_is_a_conflict() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw_put(&mut raw, "f", b"file");
    for name in ["f/g", "f/g/h"] {
        raw.send(format!("PUT {name} 5\nhello"));
        expect_err(&mut raw, 409, &format!("PUT {name}"));
        assert_usable(&mut raw);
    }
    raw.send("GET f/g\n");
    expect_err(&mut raw, 404, "GET below a file");
    assert_eq!(server.files_on_disk(), ["f"]);
    assert_eq!(fs::read(server.path("f")).unwrap(), b"file");
}

#[test]
fn a_name_that_is_a_directory_is_a_conflict() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw_put(&mut raw, "d/x", b"inside");
    raw.send("PUT d 4\nbody");
    expect_err(&mut raw, 409, "PUT onto a directory");
    assert_usable(&mut raw);
    for request in ["GET d", "GET d 0 1", "STAT d", "DEL d"] {
        raw.send(format!("{request}\n"));
        expect_err(&mut raw, 409, request);
    }
    assert_usable(&mut raw);
    assert_eq!(server.files_on_disk(), ["d/x"]);
    assert!(server.path("d").is_dir());
}

#[test]
fn delete_removes_the_file_and_prunes_only_emptied_parents() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw_put(&mut raw, "a/b/c/x", b"x");
    raw_put(&mut raw, "a/keep", b"keep");

    raw.send("DEL a/b/c/x\n");
    assert_eq!(raw.line(), "OK");
    assert!(!server.path("a/b").exists(), "emptied a/b/c and a/b remain");
    assert!(server.path("a").is_dir(), "non-empty parent was removed");
    assert_eq!(server.files_on_disk(), ["a/keep"]);
    raw.send("DEL a/b/c/x\n");
    expect_err(&mut raw, 404, "second DEL");

    raw.send("DEL a/keep\n");
    assert_eq!(raw.line(), "OK");
    assert!(!server.path("a").exists());
    assert!(server.root.path().is_dir(), "the root itself was pruned");
    assert!(raw_list(&mut raw, "").is_empty());
}

// ---------------------------------------------------------------------------
// LIST
// ---------------------------------------------------------------------------

#[test]
fn list_matches_partial_segments_in_sorted_order() {
    let server = TestServer::start();
    let mut raw = server.raw();
    for name in [
        "logs/2026-02-01.log",
        "logs/2025-12-31.log",
        "logs/2026-01-15.log",
        "logs/old/2026-01-01.log",
        "logsx/2026-01-01.log",
        "logs2026-01-01.log",
        "a/b",
        "a-c",
        "a.txt",
    ] {
        raw_put(&mut raw, name, name.as_bytes());
    }

    assert_eq!(
        names(&raw_list(&mut raw, "logs/2026-")),
        ["logs/2026-01-15.log", "logs/2026-02-01.log"]
    );
    assert_eq!(
        names(&raw_list(&mut raw, "logs/")),
        [
            "logs/2025-12-31.log",
            "logs/2026-01-15.log",
            "logs/2026-02-01.log",
            "logs/old/2026-01-01.log"
        ]
    );
    assert_eq!(
        names(&raw_list(&mut raw, "logs/o")),
        ["logs/old/2026-01-01.log"]
    );
    assert_eq!(
        names(&raw_list(&mut raw, "logs")),
        [
            "logs/2025-12-31.log",
            "logs/2026-01-15.log",
            "logs/2026-02-01.log",
            "logs/old/2026-01-01.log",
            "logs2026-01-01.log",
            "logsx/2026-01-01.log",
        ]
    );
    // Sorted by full name bytes ('-' < '.' < '/'), not by directory walk.
    assert_eq!(names(&raw_list(&mut raw, "a")), ["a-c", "a.txt", "a/b"]);
    assert_eq!(names(&raw_list(&mut raw, "")).len(), 9);
    assert!(raw_list(&mut raw, "nothing/").is_empty());
    assert!(raw_list(&mut raw, "logs/2026-01-15.log/").is_empty());
    assert!(raw_list(&mut raw, "zzz").is_empty());

    // Sizes and mtimes are those on disk.
    for entry in raw_list(&mut raw, "") {
        let meta = fs::metadata(server.path(&entry.encoded)).unwrap();
        assert_eq!(entry.size, meta.len(), "{}", entry.encoded);
        let mtime = std::os::unix::fs::MetadataExt::mtime(&meta);
        assert_eq!(entry.mtime, mtime, "{}", entry.encoded);
    }
}

#[test]
fn list_encodes_names_with_spaces_and_percent_signs() {
    let server = TestServer::start();
    let mut client = server.client();
    client.put_bytes("my docs/100% sure.txt", b"sure").unwrap();
    client.put_bytes("my docs/plain", b"plain").unwrap();
    client.put_bytes("ünï/コード", b"unicode").unwrap();
    assert!(server.path("my docs/100% sure.txt").is_file());

    let mut raw = server.raw();
    assert_eq!(
        names(&raw_list(&mut raw, "")),
        [
            "my%20docs/100%25%20sure.txt",
            "my%20docs/plain",
            "ünï/コード"
        ]
    );
    assert_eq!(
        names(&raw_list(&mut raw, "my%20docs/100%25")),
        ["my%20docs/100%25%20sure.txt"]
    );
    assert_eq!(raw_get(&mut raw, "my%20docs/100%25%20sure.txt"), b"sure");

    let listed = client.list("my docs/1").unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "my docs/100% sure.txt");
    assert_eq!(listed[0].size, 4);
}

// ---------------------------------------------------------------------------
// Contents
// ---------------------------------------------------------------------------

#[test]
fn empty_files_are_stored_listed_and_served() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send("PUT empty 0 00000000\n");
    assert_eq!(raw.line(), "OK 0 00000000");
    raw.send("PUT dir/empty-no-crc 0\n");
    assert_eq!(raw.line(), "OK 0 00000000");

    raw.send("GET empty\n");
    assert_eq!(raw.get_line(), "OK 0 0 00000000");
    raw.send("GET empty 0\n");
    assert_eq!(raw.get_line(), "OK 0 0 00000000");
    raw.send("GET empty 1\n");
    expect_err(&mut raw, 416, "offset past the end of an empty file");
    raw.send("STAT empty\n");
    assert!(raw.line().starts_with("OK 0 "));
    let listing = raw_list(&mut raw, "");
    assert_eq!(names(&listing), ["dir/empty-no-crc", "empty"]);
    assert!(listing.iter().all(|l| l.size == 0));
    assert_usable(&mut raw);
    assert_eq!(fs::read(server.path("empty")).unwrap(), b"");
}

#[test]
fn binary_files_with_every_byte_value_round_trip() {
    let server = TestServer::start();
    let mut data: Vec<u8> = (0..=255u8).collect();
    data.extend((0..=255u8).rev());
    data.extend_from_slice(b"\r\n\nPUT x 1\n\0ERR 500 x\n");
    data.extend(pattern(100_000, 5));
    let mut raw = server.raw();
    raw_put(&mut raw, "bin/all-bytes", &data);
    assert_eq!(raw_get(&mut raw, "bin/all-bytes"), data);
    raw.send("GET bin/all-bytes 10 300\n");
    assert_eq!(
        raw.get_line(),
        format!("OK 300 {} {}", data.len(), crc_hex(&data)),
        "a range reports the whole file's CRC-32C"
    );
    assert_eq!(raw.bytes(300), &data[10..310]);
    assert_usable(&mut raw);
    assert_eq!(fs::read(server.path("bin/all-bytes")).unwrap(), data);
}

// ---------------------------------------------------------------------------
// Startup sweep
// ---------------------------------------------------------------------------

#[test]
fn stale_temp_files_are_removed_at_startup_and_other_files_kept() {
    let outer = tempfile::tempdir().unwrap();
    let outside = outer.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join(".ferry-tmp-1-1"), "not ours").unwrap();

    let root = tempfile::tempdir_in(outer.path()).unwrap();
    let at = |name: &str| root.path().join(name);
    fs::create_dir_all(at("sub/deeper")).unwrap();
    for temp in [
        ".ferry-tmp-123-1",
        "sub/.ferry-tmp-123-1",
        "sub/deeper/.ferry-tmp-9-2",
    ] {
        fs::write(at(temp), "partial upload").unwrap();
    }
    for kept in [
        "keep.txt",
        "sub/keep.txt",
        "sub/.ferry",
        "sub/ferry-tmp-1-1",
        "x.ferry-tmp",
    ] {
        fs::write(at(kept), "kept").unwrap();
    }
    // The sweep must not follow a symlinked directory out of the root.
    symlink(&outside, at("sub/outside-link")).unwrap();

    let server = TestServer::start_in(root, |_| {});

    assert_eq!(
        server.files_on_disk(),
        [
            "keep.txt",
            "sub/.ferry",
            "sub/ferry-tmp-1-1",
            "sub/keep.txt",
            "sub/outside-link",
            "x.ferry-tmp",
        ]
    );
    assert!(server.path("sub/deeper").is_dir());
    assert_eq!(
        fs::read(outside.join(".ferry-tmp-1-1")).unwrap(),
        b"not ours",
        "the sweep followed a symlink out of the root"
    );
    let mut client = server.client();
    assert_eq!(client.get_bytes("sub/keep.txt").unwrap(), b"kept");
}

#[test]
fn list_without_prefix_shows_every_regular_file_once() {
    let server = TestServer::start();
    let mut client = server.client();
    let want: BTreeSet<String> = (0..30).map(|i| format!("d{}/f{i}", i % 4)).collect();
    for name in &want {
        client.put_bytes(name, name.as_bytes()).unwrap();
    }
    let listed = client.list("").unwrap();
    let got: BTreeSet<String> = listed.iter().map(|f| f.name.clone()).collect();
    assert_eq!(listed.len(), want.len(), "duplicates in the listing");
    assert_eq!(got, want);
    let sorted: Vec<&String> = listed.iter().map(|f| &f.name).collect();
    assert!(sorted.windows(2).all(|w| w[0] < w[1]), "not sorted");
}

#[test]
fn downloads_carry_the_crc_recorded_at_upload_and_notice_outside_changes() {
    let server = TestServer::start();
    let mut client = server.client();
    let data = pattern(300_000, 9);
    client.put_bytes("v/file", &data).unwrap();
    assert_eq!(
        client.stat("v/file").unwrap().crc,
        Some(crc32c::crc32c(&data))
    );
    assert_eq!(client.get_bytes("v/file").unwrap(), data);

    // A file placed or changed behind the server's back: its CRC is
    // computed afresh, never reported stale.
    let changed = pattern(300_001, 10);
    fs::write(server.path("v/file"), &changed).unwrap();
    fs::write(server.path("v/placed"), b"placed by hand").unwrap();
    assert_eq!(
        client.stat("v/file").unwrap().crc,
        Some(crc32c::crc32c(&changed))
    );
    assert_eq!(client.get_bytes("v/file").unwrap(), changed);
    assert_eq!(client.get_bytes("v/placed").unwrap(), b"placed by hand");
}
