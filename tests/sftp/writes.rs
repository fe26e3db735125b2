//! Writes anywhere in a file open for writing (docs/sftp.md, Uploads),
//! with paramiko (`writes.py` beside this file): random-offset,
//! out-of-order and pipelined writes, holes read as zeros, each file
//! byte-equal over HTTP once closed; a write past a quota refused with
//! nothing stored; a file never closed leaves the old one to readers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;

use crate::support::tools::{check, python_has};
use crate::support::{PATIENCE, TestServer, listen_http, listen_sftp, tokens};

const SCRIPT: &str = include_str!("writes.py");

/// Whether paramiko is here; says why not.
fn have_paramiko() -> bool {
    python_has("paramiko", "pip install paramiko==5.1.0")
        && crate::support::tools::have("timeout", &["--version"], "coreutils")
}

/// Runs `writes.py` in `mode` on `name` (as `password`'s, `-`: none); its
/// output, and the bytes it says the file should hold.
fn paramiko(sftp: SocketAddr, password: &str, mode: &str, name: &str) -> (String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected");
    let said = paramiko_with(sftp, password, mode, name, &expected);
    (said, std::fs::read(&expected).unwrap_or_default())
}

/// Runs `writes.py` in `mode` on `name` with a local file (the bytes it
/// writes, or where it says what the file should hold); its output.
fn paramiko_with(sftp: SocketAddr, password: &str, mode: &str, name: &str, local: &Path) -> String {
    let output = Command::new("timeout")
        .arg(PATIENCE.as_secs().to_string())
        .args(["python3", "-c", SCRIPT])
        .args([&sftp.port().to_string(), password, mode, name])
        .arg(local)
        .output()
        .unwrap();
    check(&output, &format!("paramiko {mode}"))
}

/// The body of an HTTP GET of `name`.
fn http_get(http: SocketAddr, name: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(http).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let ask = format!("GET /{name} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(ask.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..head_end]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{name}: {head}");
    answer.split_off(head_end + 4)
}

fn server() -> TestServer {
    TestServer::start_with(|c| {
        listen_sftp(c);
        listen_http(c);
    })
}

#[test]
fn writes_anywhere_land_where_asked_pipelined_or_not() {
    if !have_paramiko() {
        return;
    }
    let server = server();
    let (sftp, http) = (server.sftp.unwrap(), server.http.unwrap());
    for (mode, name) in [("scattered", "scattered.bin"), ("backwards", "d/dd.bin")] {
        let (_, expected) = paramiko(sftp, "-", mode, &format!("/{name}"));
        assert!(!expected.is_empty(), "{mode}");
        let stored = std::fs::read(server.path(name)).unwrap();
        assert!(stored == expected, "{mode}: {} bytes stored", stored.len());
        assert!(http_get(http, name) == expected, "{mode}: over HTTP");
    }
    assert!(crate::support::temp_files(server.path("").as_path()).is_empty());
}

/// A write may leave a hole of 64 MiB at most past what the file holds
/// (its zeros are read for the commit's CRC): one further is refused,
/// fails the file, and the old one stays.
#[test]
fn a_write_far_past_the_end_is_refused_and_the_old_file_stays() {
    if !have_paramiko() {
        return;
    }
    let server = server();
    std::fs::write(server.path("holes.bin"), b"the old bytes").unwrap();
    let (said, _) = paramiko(server.sftp.unwrap(), "-", "far_hole", "/holes.bin");
    assert!(said.contains("near written 62914564"), "{said}");
    assert!(said.contains("far refused"), "{said}");
    // paramiko's `close()` hides the CLOSE's refusal: the file tells.
    assert_eq!(
        std::fs::read(server.path("holes.bin")).unwrap(),
        b"the old bytes"
    );
}

/// The same write, its head come alone (sshfs's large sparse writes span
/// SSH packets): refused once its data is in, the connection and the
/// server going on. It was taken as an APPEND from its head and refused
/// whole, using more bytes than had come: a panic, every connection gone.
#[test]
fn a_write_far_past_the_end_whose_head_comes_first_is_refused_whole() {
    if !have_paramiko() {
        return;
    }
    let server = server();
    std::fs::write(server.path("holes.bin"), b"the old bytes").unwrap();
    let (said, _) = paramiko(server.sftp.unwrap(), "-", "far_head_first", "/holes.bin");
    assert!(said.contains("far reply 101 4242 4 "), "{said}");
    assert!(said.contains("64 MiB"), "{said}");
    assert!(said.contains("still served True"), "{said}");
    let (said, _) = paramiko(server.sftp.unwrap(), "-", "far_hole", "/other.bin");
    assert!(said.contains("far refused"), "a new connection: {said}");
    // Opened in place, its copy untouched but for the refused write: the
    // CLOSE says the write failed, not that nothing changed.
    let (said, _) = paramiko(server.sftp.unwrap(), "-", "far_in_place", "/holes.bin");
    assert!(said.contains("far refused"), "{said}");
    assert!(said.contains("close refused: not stored"), "{said}");
    assert_eq!(
        std::fs::read(server.path("holes.bin")).unwrap(),
        b"the old bytes"
    );
}

#[test]
fn a_file_never_closed_leaves_the_old_one() {
    if !have_paramiko() {
        return;
    }
    let server = server();
    std::fs::write(server.path("kept.txt"), b"the old bytes").unwrap();
    let (said, _) = paramiko(server.sftp.unwrap(), "-", "never_closed", "/kept.txt");
    assert!(said.contains("cut"), "{said}");
    let http = server.http.unwrap();
    assert_eq!(http_get(http, "kept.txt"), b"the old bytes");
}

#[test]
fn a_write_past_the_quota_is_refused_and_nothing_is_stored() {
    if !have_paramiko() {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("writer", &["read:/", "write:/"])];
    let (server, tokens, _dir) = tokens::guarded_with(holders, &[], |c| {
        listen_sftp(c);
        tokens::set_quota(c, 0, "100000");
    });
    let (said, _) = paramiko(server.sftp.unwrap(), &tokens[0], "past_quota", "/big.bin");
    assert!(said.contains("write refused"), "{said}");
    // paramiko says nothing of a refused CLOSE (its `close` swallows it).
    assert!(!said.contains("written"), "{said}");
    assert!(!server.path("big.bin").exists(), "{said}");
    assert_eq!(tokens::used_by(&server, &tokens[0]), 0, "{said}");
}

/// An open in place begins with a copy of the file's bytes: judged as
/// any copy's room is, before it is made. Before, it was counted once
/// made, 160,000 bytes against a quota of 100,000, and every later write
/// of the token's refused until the `CLOSE`.
#[test]
fn an_open_in_place_whose_copy_passes_the_quota_is_refused() {
    if !have_paramiko() {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("writer", &["read:/", "write:/"])];
    let (server, tokens, _dir) = tokens::guarded_with(holders, &[], |c| {
        listen_sftp(c);
        tokens::set_quota(c, 0, "100000");
    });
    let sftp = server.sftp.unwrap();
    let (said, _) = paramiko(sftp, &tokens[0], "reopened_past_quota", "/big.bin");
    assert!(said.contains("open refused"), "{said}");
    assert!(said.contains("quota"), "{said}");
    assert_eq!(tokens::used_by(&server, &tokens[0]), 80_000, "{said}");
    assert_eq!(std::fs::read(server.path("big.bin")).unwrap().len(), 80_000);
}

#[test]
fn a_file_opened_in_place_or_to_append_begins_with_its_bytes() {
    if !have_paramiko() {
        return;
    }
    let server = server();
    let http = server.http.unwrap();
    for (mode, name) in [("in_place", "rw.txt"), ("appended", "a.txt")] {
        std::fs::write(server.path(name), b"0123456789").unwrap();
        let (said, expected) = paramiko(server.sftp.unwrap(), "-", mode, &format!("/{name}"));
        assert!(!expected.is_empty(), "{mode}");
        assert_eq!(http_get(http, name), expected, "{mode}");
        if mode == "in_place" {
            assert_eq!(said.trim(), "read back 012abc6789", "{mode}");
        }
    }
}

#[test]
fn reput_goes_on_with_what_a_cut_connection_had_written() {
    if !have_paramiko() || !crate::support::sftp::have_openssh() {
        return;
    }
    let holders: &[(&str, &[&str])] =
        &[("a", &["read:/", "write:/"]), ("b", &["read:/", "write:/"])];
    let (server, tokens, _dir) = tokens::guarded_with(holders, &[], listen_sftp);
    let sftp = server.sftp.unwrap();
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("source.bin");
    let data = crate::support::pattern(300_000, 3);
    std::fs::write(&source, &data).unwrap();
    let said = paramiko_with(sftp, &tokens[0], "cut_midway", "/r.bin", &source);
    assert!(said.contains("cut"));
    assert!(
        !server.path("r.bin").exists(),
        "nothing stored before CLOSE"
    );
    // Its own STAT tells the kept size; another token's does not.
    let (said, _) = paramiko(sftp, &tokens[0], "size", "/r.bin");
    assert_eq!(said.trim(), "size 150000");
    let (said, _) = paramiko(sftp, &tokens[1], "size", "/r.bin");
    assert_eq!(said.trim(), "missing");

    let login = crate::support::sftp::Login::with_password(sftp, &tokens[0]);
    let output = login.sftp(&format!("reput {} /r.bin\nbye\n", source.display()));
    let said = crate::support::sftp::said(&output);
    assert!(output.status.success(), "{said}");
    assert!(
        std::fs::read(server.path("r.bin")).unwrap() == data,
        "{said}"
    );
}

/// WinSCP uploads a file over 100 KiB as `name.filepart` and, after a
/// cut, resumes it: STAT's size, then an open with neither `TRUNCATE` nor
/// `APPEND` and writes from there. The open goes on with the kept upload
/// STAT told of (before, it began with the file's bytes, none here, and
/// the commit stored zeros where the first half had been).
#[test]
fn winscp_s_resume_goes_on_with_what_a_cut_connection_had_written() {
    if !have_paramiko() {
        return;
    }
    let cut = Cut::midway("/r.bin.filepart", 5);
    let said = cut.paramiko("resumed_in_place", "/r.bin.filepart");
    assert_eq!(said.trim(), "resumed at 150000 close taken");
    let stored = std::fs::read(cut.server.path("r.bin.filepart")).unwrap();
    assert!(
        stored == cut.data,
        "{} bytes stored, not the file",
        stored.len()
    );
}

/// An open in place where a file is begins with the file's bytes, not
/// with an upload the token kept of the name before the file was
/// replaced: sshfs's `O_RDWR` and `rsync --inplace` write against the
/// file they read, and a stale upload's bytes would mix two versions.
#[test]
fn an_open_in_place_of_a_file_replaced_since_a_cut_begins_with_the_file() {
    if !have_paramiko() {
        return;
    }
    let cut = Cut::midway("/x.bin", 9);
    // Another protocol replaces the file meanwhile (its commit keeps the
    // token's upload of the name, which may be another upload's).
    std::fs::write(cut.server.path("x.bin"), "0123456789").unwrap();
    let (said, expected) = paramiko(cut.server.sftp.unwrap(), &cut.token, "in_place", "/x.bin");
    assert_eq!(said.trim(), "read back 012abc6789");
    assert_eq!(std::fs::read(cut.server.path("x.bin")).unwrap(), expected);
}

/// A server with one token that may read and write everything, and an
/// upload of 300,000 pattern bytes by it cut midway (`cut_midway`).
struct Cut {
    server: TestServer,
    token: String,
    data: Vec<u8>,
    source: std::path::PathBuf,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Cut {
    fn midway(name: &str, seed: u64) -> Cut {
        let holders: &[(&str, &[&str])] = &[("a", &["read:/", "write:/"])];
        let (server, tokens, tokens_dir) = tokens::guarded_with(holders, &[], listen_sftp);
        let local = tempfile::tempdir().unwrap();
        let source = local.path().join("source.bin");
        let data = crate::support::pattern(300_000, seed);
        std::fs::write(&source, &data).unwrap();
        let cut = Cut {
            token: tokens[0].clone(),
            server,
            data,
            source,
            _dirs: (tokens_dir, local),
        };
        assert!(cut.paramiko("cut_midway", name).contains("cut"));
        cut
    }

    /// `writes.py` in `mode` on `name`, as the token, with the source.
    fn paramiko(&self, mode: &str, name: &str) -> String {
        let sftp = self.server.sftp.unwrap();
        paramiko_with(sftp, &self.token, mode, name, &self.source)
    }
}

#[test]
fn excl_makes_a_file_only_where_none_is_even_at_its_close() {
    if !have_paramiko() {
        return;
    }
    let holders: &[(&str, &[&str])] =
        &[("a", &["read:/", "write:/"]), ("b", &["read:/", "write:/"])];
    let (server, tokens, _dir) = tokens::guarded_with(holders, &[], listen_sftp);
    let sftp = server.sftp.unwrap();
    let output = Command::new("timeout")
        .arg(PATIENCE.as_secs().to_string())
        .args([
            "python3",
            "-c",
            SCRIPT,
            &sftp.port().to_string(),
            &tokens[0],
        ])
        .args(["exclusive", "/x.txt", &tokens[1]])
        .output()
        .unwrap();
    let said = check(&output, "paramiko exclusive");
    assert!(said.contains("refused again"), "{said}");
    assert!(said.contains("later holds theirs"), "{said}");
    assert_eq!(std::fs::read(server.path("x.txt")).unwrap(), b"first");
}

/// A file opened in place and only read (sshfs opens `O_RDWR` so) is
/// left as it is at its `CLOSE`, its copy let go. Before, the `CLOSE`
/// committed the copy its open made: a newer version stored meanwhile by
/// another token was replaced by the old bytes, and the reader's token
/// was counted the file.
#[test]
fn a_file_opened_in_place_and_never_written_is_left_as_it_is() {
    if !have_paramiko() {
        return;
    }
    let holders: &[(&str, &[&str])] =
        &[("a", &["read:/", "write:/"]), ("b", &["read:/", "write:/"])];
    let (server, tokens, _dir) = tokens::guarded_with(holders, &[], |c| {
        listen_sftp(c);
        tokens::set_quota(c, 0, "1M");
    });
    std::fs::write(server.path("notes.txt"), b"the old bytes").unwrap();
    let sftp = server.sftp.unwrap();
    let other = Path::new(&tokens[1]);
    let said = paramiko_with(sftp, &tokens[0], "opened_to_read", "/notes.txt", other);
    assert!(said.contains("read the"), "{said}");
    assert!(said.contains("close taken"), "{said}");
    assert!(said.contains("holds the newer bytes"), "{said}");
    assert_eq!(
        std::fs::read(server.path("notes.txt")).unwrap(),
        b"the newer bytes"
    );
    assert_eq!(tokens::used_by(&server, &tokens[0]), 0, "{said}");
    assert!(crate::support::temp_files(server.path("").as_path()).is_empty());
}

/// An open for writing without `CREAT` where nothing is: no such file,
/// and nothing made. Before, it began empty and its `CLOSE` made the
/// file (sshfs writing through a handle to a file deleted meanwhile
/// brought it back).
#[test]
fn an_open_without_create_of_a_missing_name_is_no_such_file() {
    if !have_paramiko() {
        return;
    }
    let server = server();
    let (said, _) = paramiko(
        server.sftp.unwrap(),
        "-",
        "opened_without_create",
        "/gone.txt",
    );
    assert!(said.contains("refused: [Errno 2]"), "{said}");
    assert!(said.contains("still missing"), "{said}");
    assert!(!server.path("gone.txt").exists());
}

/// `EXCL` without `CREAT` asks nothing more, as Linux's `open(2)` takes
/// `O_EXCL` alone (OpenSSH's sftp-server passes both on): a file there
/// is opened in place, a name where nothing is answers no such file.
/// Before, a file there refused it (as `EXCL` with `CREAT` does).
#[test]
fn exclusive_without_create_opens_the_file_there_and_makes_none() {
    if !have_paramiko() {
        return;
    }
    let server = server();
    std::fs::write(server.path("there.txt"), b"old text").unwrap();
    let sftp = server.sftp.unwrap();
    let mode = "opened_exclusive_without_create";
    let (said, _) = paramiko(sftp, "-", mode, "/there.txt");
    assert_eq!(said.trim(), "opened");
    assert_eq!(
        std::fs::read(server.path("there.txt")).unwrap(),
        b"NEW text"
    );
    let (said, _) = paramiko(sftp, "-", mode, "/gone.txt");
    assert!(said.contains("refused: [Errno 2]"), "{said}");
    assert!(!server.path("gone.txt").exists());
}

/// A time the file system refuses to set (an immutable file, EPERM even
/// for root) is answered as refused. Before, `SETSTAT` said it was set
/// (the time alone failing counted as another change's failure, which
/// its answer took for success), so `rsync -t` and `put -p` believed it.
#[test]
fn a_time_the_file_system_refuses_is_not_told_as_set() {
    if !have_paramiko() {
        return;
    }
    let server = server();
    let path = server.path("fixed.txt");
    std::fs::write(&path, b"fixed").unwrap();
    let Some(_immutable) = crate::support::tools::Immutable::made(&path) else {
        eprintln!("skipped: chattr +i is not served here (a file system without it)");
        return;
    };
    let (said, _) = paramiko(server.sftp.unwrap(), "-", "timed", "/fixed.txt");
    assert!(said.contains("time refused"), "{said}");
}

#[test]
fn times_set_on_an_open_file_and_fsync_hold_at_its_close() {
    if !have_paramiko() {
        return;
    }
    let server = server();
    let (said, _) = paramiko(server.sftp.unwrap(), "-", "timed_and_flushed", "/t.txt");
    assert_eq!(said.trim(), "mtime 1000000000");
    assert_eq!(std::fs::read(server.path("t.txt")).unwrap(), b"synced");
}

#[test]
fn a_size_set_cuts_an_open_file_short_or_a_closed_one_to_nothing_but_makes_none() {
    if !have_paramiko() {
        return;
    }
    let server = server();
    std::fs::write(server.path("c.bin.rw"), b"0123456789").unwrap();
    std::fs::write(server.path("c.bin.zero"), b"0123456789").unwrap();
    std::fs::write(server.path("c.bin.five"), b"0123456789").unwrap();
    let (said, expected) = paramiko(server.sftp.unwrap(), "-", "truncated", "/c.bin");
    assert_eq!(std::fs::read(server.path("c.bin")).unwrap(), expected);
    assert_eq!(std::fs::read(server.path("c.bin.rw")).unwrap(), b"0123");
    assert_eq!(std::fs::read(server.path("c.bin.zero")).unwrap(), b"");
    assert!(said.contains("five refused"), "{said}");
    assert_eq!(
        std::fs::read(server.path("c.bin.five")).unwrap(),
        b"0123456789"
    );
    // A file open for writing is there from its open, as in POSIX.
    assert!(said.contains("open cut"), "{said}");
    assert!(server.path("c.bin.open").exists());
    // Not one opened with EXCL, whose commit a file stored meanwhile
    // would refuse: its bytes are kept.
    assert!(said.contains("excl refused: [Errno 2]"), "{said}");
    assert_eq!(std::fs::read(server.path("c.bin.excl")).unwrap(), b"kept");
    // truncate(2) of a missing path is ENOENT: nothing is made.
    assert!(said.contains("missing refused: [Errno 2]"), "{said}");
    assert!(!server.path("c.bin.missing").exists());
}

#[test]
fn put_a_goes_on_with_a_cut_upload_in_a_batch() {
    if !have_paramiko() || !crate::support::sftp::have_openssh() {
        return;
    }
    let server = server();
    let sftp = server.sftp.unwrap();
    std::fs::write(server.path("p.bin"), b"an older version").unwrap();
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("source.bin");
    let data = crate::support::pattern(200_000, 4);
    std::fs::write(&source, &data).unwrap();
    let output = Command::new("timeout")
        .arg(PATIENCE.as_secs().to_string())
        .args(["python3", "-c", SCRIPT, &sftp.port().to_string(), "-"])
        .args(["cut_midway", "/p.bin"])
        .arg(&source)
        .output()
        .unwrap();
    assert!(check(&output, "paramiko cut_midway").contains("cut"));
    // Readers still see the older version.
    assert_eq!(http_get(server.http.unwrap(), "p.bin"), b"an older version");

    let login = crate::support::sftp::Login::open(sftp);
    let output = login.sftp_batch(&format!("put -a {} /p.bin\n", source.display()));
    let said = crate::support::sftp::said(&output);
    assert!(output.status.success(), "{said}");
    assert!(http_get(server.http.unwrap(), "p.bin") == data, "{said}");
}

/// Two handles writing one name (two connections of one token, or any
/// two clients of an open server: one owner, one kept upload): the newer
/// open takes it over; the older one's WRITE and CLOSE are refused and
/// change nothing, so the file is the newer opener's bytes, never a mix.
#[test]
fn a_newer_open_takes_the_file_over_from_an_older_one() {
    if !have_paramiko() {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("fleet", &["read:/", "write:/"])];
    let (guarded, tokens, _dir) = tokens::guarded_with(holders, &[], listen_sftp);
    let open = server();
    for (sftp, password) in [
        (guarded.sftp.unwrap(), tokens[0].as_str()),
        (open.sftp.unwrap(), "-"),
    ] {
        let (said, expected) = paramiko(sftp, password, "two_openers", "status.json");
        assert!(said.contains("older write refused: a newer"), "{said}");
        assert!(said.contains("older close refused"), "{said}");
        assert!(said.contains("newer close taken"), "{said}");
        let whole = format!("stored b'{}{}'", "B".repeat(10), "C".repeat(10));
        assert!(said.contains(&whole), "{said}");
        assert!(said.contains("older close 2 refused"), "{said}");
        assert!(said.contains("newer close 2 taken"), "{said}");
        assert!(
            said.contains(&format!("stored 2 b'{}'", "B".repeat(10))),
            "{said}"
        );
        assert_eq!(expected.len(), 20);
    }
    assert_eq!(
        std::fs::read(open.path("status.json")).unwrap(),
        b"BBBBBBBBBBCCCCCCCCCC"
    );
    assert_eq!(
        std::fs::read(guarded.path("status.json.2")).unwrap(),
        b"BBBBBBBBBB"
    );
    assert!(crate::support::temp_files(open.path("").as_path()).is_empty());
}
