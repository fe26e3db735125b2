//! The Python client (`clients/python/ferry_client.py`) against a real
//! server: its CRC-32C matches the check values, put/get/ls interoperate
//! with the Rust client byte for byte, stat reports what the server stored,
//! rm removes one name or several (reporting each failure on its own line),
//! refusals and unreachable servers get one line and the documented exit
//! code, and a download whose bytes do not match the server's checksum is
//! refused and leaves nothing behind, while one of a file the server has
//! no checksum for yet (its answer says `-`) is taken unverified. Against
//! a server with access control: a token (`--token` or `FERRY_TOKEN`) with
//! the grants puts and gets, a token the server does not know or a missing grant is refused
//! with one line that never shows the token and exit code 1, too many
//! failures from one address are throttled, and anonymous clients get
//! what the anonymous grants allow and a 401 for the rest. Pointed at an
//! HTTP or metrics port, it says so at once instead of waiting in silence.
//! Its options may come after the command, as the binary's do.
//! Skipped, saying so, where `python3` is not installed.

use crate::support;

use std::fs::{self, File, FileTimes};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use ferry::access::tokens::{Entry, TokensFile, digest, new_token};
use ferry::access::{AccessConfig, Grant, Grants};
use ferry::storage::gate::{Gate, Point};
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
    python_with_token(dir, server, args, None)
}

/// As [`python`], with `FERRY_TOKEN` set to `token` (else unset).
fn python_with_token(
    dir: &Path,
    server: &TestServer,
    args: &[&str],
    token: Option<&str>,
) -> Output {
    let mut command = Command::new("python3");
    command
        .arg(script())
        .arg("--server")
        .arg(server.addr.to_string())
        .args(args)
        .current_dir(dir)
        .env_remove("FERRY_SERVER")
        .env_remove("FERRY_TOKEN");
    if let Some(token) = token {
        command.env("FERRY_TOKEN", token);
    }
    command.output().expect("run python3")
}

/// A server with access control: one token per `(name, grants)` of
/// `holders` (returned in the same order), and `anonymous` grants for
/// clients without one.
fn guarded_server(holders: &[(&str, &[&str])], anonymous: &[&str]) -> (TestServer, Vec<String>) {
    let grants =
        |texts: &[&str]| -> Vec<Grant> { texts.iter().map(|t| Grant::parse(t).unwrap()).collect() };
    let tokens: Vec<String> = holders.iter().map(|_| new_token().unwrap()).collect();
    let file = TokensFile {
        entries: holders
            .iter()
            .zip(&tokens)
            .map(|((name, granted), token)| Entry {
                name: (*name).into(),
                digest: digest(token),
                s3: None,
                quota: None,
                ssh_keys: Vec::new(),
                grants: Grants::new(grants(granted)),
            })
            .collect(),
    };
    // The server reads the file when it starts (and again on SIGHUP only).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens");
    fs::write(&path, file.render()).unwrap();
    let server = TestServer::start_with(|c| {
        c.access = AccessConfig {
            tokens: Some(path.clone()),
            anonymous: grants(anonymous),
            no_auth: false,
        }
    });
    (server, tokens)
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

    let output = python(work.path(), &server, &["ls", "-R", "py/"]);
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
fn an_http_port_is_named_at_once_not_waited_on() {
    if !have_python() {
        return;
    }
    let server = TestServer::start_with(|config| {
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    });
    let work = tempfile::tempdir().unwrap();
    for port in [server.http.unwrap(), server.metrics.unwrap()] {
        let mut child = Command::new("python3")
            .arg(script())
            .args(["--server", &port.to_string(), "ls"])
            .current_dir(work.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Only a guard against a hang (the client's own timeout is 60 s):
        // the answer comes within a second.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("the Python client still waits on {port}");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(3));
        assert_eq!(
            text(&output.stderr),
            format!("ferry: {port} speaks HTTP, not FERRY/1: use --server with the FERRY/1 port\n")
        );
    }
}

#[test]
fn options_may_follow_the_command() {
    if !have_python() {
        return;
    }
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("a.txt"), "a").unwrap();
    let addr = server.addr.to_string();
    let run = |args: &[&str]| {
        Command::new("python3")
            .arg(script())
            .args(args)
            .current_dir(work.path())
            .env_remove("FERRY_SERVER")
            .env_remove("FERRY_TOKEN")
            .output()
            .unwrap()
    };
    let output = run(&["put", "a.txt", "--server", &addr]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        format!("stored a.txt (1 bytes, crc32c {})\n", crc_hex(b"a"))
    );
    // After the name wins over before it.
    let output = run(&["--server", "127.0.0.1:1", "ls", "-R", "--server", &addr]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).ends_with("  a.txt\n"),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn a_file_whose_checksum_the_server_does_not_know_yet_downloads() {
    if !have_python() {
        return;
    }
    // Every checksum computation waits at the closed gate: the answer can
    // only say `-`.
    let gate = Arc::new(Gate::new(Point::Checksum));
    let server = TestServer::start_with(|config| config.gate = Some(Arc::clone(&gate)));
    let data = pattern(30_000, 8);
    fs::write(server.path("placed.bin"), &data).unwrap();
    let work = tempfile::tempdir().unwrap();
    let output = python(work.path(), &server, &["get", "placed.bin"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(fs::read(work.path().join("placed.bin")).unwrap(), data);
    assert_eq!(gate.arrivals(), 1, "computed behind the answer");
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
fn rm_of_a_folder_removes_what_the_token_may_and_reports_the_rest() {
    if !have_python() {
        return;
    }
    let (server, tokens) = guarded_server(&[("t", &["read:/", "delete:d/open/"])], &[]);
    let work = tempfile::tempdir().unwrap();
    for name in ["d/open/a", "d/open/sub/b", "d/shut/c"] {
        std::fs::create_dir_all(server.path(name).parent().unwrap()).unwrap();
        std::fs::write(server.path(name), b"x").unwrap();
    }
    let output = python_with_token(work.path(), &server, &["rm", "d/"], Some(&tokens[0]));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "partly removed d/\n");
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("ferry: d/shut/c: "), "{stderr}");
    assert!(!server.path("d/open").exists());
    assert!(server.path("d/shut/c").exists());
    std::fs::remove_dir_all(server.path("d/shut")).unwrap();
    std::fs::create_dir_all(server.path("d/open")).unwrap();
    std::fs::write(server.path("d/open/e"), b"x").unwrap();
    let output = python_with_token(work.path(), &server, &["rm", "d/open/"], Some(&tokens[0]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "removed d/open/\n");
    assert!(!server.path("d/open").exists());
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

#[test]
fn a_token_with_the_grants_puts_and_gets_via_flag_or_environment() {
    if !have_python() {
        return;
    }
    let (server, tokens) = guarded_server(&[("alice", &["read:/", "write:/"])], &["read:pub/"]);
    let token = tokens[0].as_str();
    let work = tempfile::tempdir().unwrap();
    let data = pattern(100_000, 5);
    fs::write(work.path().join("up.bin"), &data).unwrap();

    let output = python(
        work.path(),
        &server,
        &["--token", token, "put", "up.bin", "priv/up.bin"],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        format!(
            "stored priv/up.bin (100000 bytes, crc32c {})\n",
            crc_hex(&data)
        )
    );
    assert!(fs::read(server.path("priv/up.bin")).unwrap() == data);

    let output = python_with_token(
        work.path(),
        &server,
        &["get", "priv/up.bin", "down.bin"],
        Some(token),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "saved down.bin (100000 bytes)\n");
    assert!(fs::read(work.path().join("down.bin")).unwrap() == data);

    // The flag wins over the environment.
    let output = python_with_token(
        work.path(),
        &server,
        &["--token", token, "stat", "priv/up.bin"],
        Some("ferry_not-a-token"),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));

    // The library: the token's name, and the greeting's `auth`.
    let check = "import sys; sys.path.insert(0, sys.argv[1]); from ferry_client import Ferry; \
                 f = Ferry('127.0.0.1', int(sys.argv[2]), token=sys.argv[3]); \
                 print(f.token_name, f.access_control, f.get('priv/up.bin') == open(sys.argv[4], 'rb').read()); \
                 f.close()";
    let output = Command::new("python3")
        .args(["-B", "-c", check])
        .arg(script().parent().unwrap())
        .arg(server.addr.port().to_string())
        .arg(token)
        .arg(work.path().join("down.bin"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "alice True True\n");
}

#[test]
fn a_token_the_server_does_not_know_gets_one_line_without_it() {
    if !have_python() {
        return;
    }
    let (server, _) = guarded_server(&[("alice", &["read:/", "write:/"])], &[]);
    let wrong = new_token().unwrap();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("up.bin"), b"data").unwrap();

    let expected = format!("ferry: {}: unknown token\n", server.addr);
    let by_flag = python(work.path(), &server, &["--token", &wrong, "put", "up.bin"]);
    let by_env = python_with_token(work.path(), &server, &["get", "x"], Some(&wrong));
    for output in [by_flag, by_env] {
        assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
        assert_eq!(text(&output.stderr), expected);
        assert_eq!(text(&output.stdout), "");
    }
    assert!(!server.path("up.bin").exists());
    assert_eq!(fs::read_dir(work.path()).unwrap().count(), 1);

    // One that cannot be sent at all is a usage error, not echoed either.
    let malformed = format!("{wrong} {wrong}");
    let output = python(work.path(), &server, &["--token", &malformed, "ls"]);
    assert_eq!(output.status.code(), Some(2));
    let err = text(&output.stderr);
    assert!(err.contains("--token") && !err.contains(&wrong), "{err}");

    // The library raises FerryError 401 and leaves nothing open.
    let check = "import sys; sys.path.insert(0, sys.argv[1]); \
                 from ferry_client import Ferry, FerryError\n\
                 try:\n    Ferry('127.0.0.1', int(sys.argv[2]), token=sys.argv[3])\n\
                 except FerryError as err:\n    print(err.code, err)";
    let output = Command::new("python3")
        .args(["-B", "-W", "error", "-c", check])
        .arg(script().parent().unwrap())
        .arg(server.addr.port().to_string())
        .arg(&wrong)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "401 unknown token (ERR 401)\n");
}

#[test]
fn repeated_failures_are_throttled_with_exit_code_1() {
    if !have_python() {
        return;
    }
    let (server, _) = guarded_server(&[("alice", &["read:/"])], &[]);
    let wrong = new_token().unwrap();
    let work = tempfile::tempdir().unwrap();

    // Five failures are free; the sixth may come a second later, and
    // after it the address must wait two seconds, doubling after each.
    let mut raw = server.raw();
    for _ in 0..5 {
        raw.send(format!("AUTH {wrong}\n"));
        assert_eq!(raw.line(), "ERR 401 unknown token");
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    raw.send(format!("AUTH {wrong}\n"));
    assert_eq!(raw.line(), "ERR 401 unknown token");
    // Within the wait, an attempt is refused unread. A python3 that took
    // longer than the wait to start is refused as unknown instead, and
    // the next one then has twice as long.
    let mut throttled = None;
    for _ in 0..4 {
        let output = python(work.path(), &server, &["--token", &wrong, "ls"]);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
        let err = text(&output.stderr);
        assert!(!err.contains(&wrong) && err.lines().count() == 1, "{err}");
        if err.contains("too many failed authentications") {
            throttled = Some(err);
            break;
        }
    }
    let err = throttled.expect("never throttled");
    assert!(
        err.starts_with(&format!(
            "ferry: {}: too many failed authentications from this address",
            server.addr
        )),
        "{err}"
    );
}

#[test]
fn grants_decide_what_a_token_and_anonymous_clients_may_do() {
    if !have_python() {
        return;
    }
    let (server, tokens) = guarded_server(&[("reader", &["read:pub/"])], &["read:pub/"]);
    let reader = tokens[0].as_str();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("x"), b"local").unwrap();
    fs::create_dir_all(server.path("pub")).unwrap();
    fs::write(server.path("pub/x"), b"public").unwrap();
    fs::create_dir_all(server.path("priv")).unwrap();
    fs::write(server.path("priv/y"), b"private").unwrap();

    // A token with read:pub/ only may not write there: 403.
    let output = python(
        work.path(),
        &server,
        &["--token", reader, "put", "x", "pub/x"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stderr),
        "ferry: pub/x: token reader may not write \"pub/x\"\n"
    );
    assert_eq!(fs::read(server.path("pub/x")).unwrap(), b"public");
    let output = python(work.path(), &server, &["--token", reader, "get", "priv/y"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stderr),
        "ferry: priv/y: token reader may not read \"priv/y\"\n"
    );

    // Without a token: what the anonymous grants allow, 401 for the rest.
    let output = python(work.path(), &server, &["get", "pub/x", "got"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(fs::read(work.path().join("got")).unwrap(), b"public");
    let output = python(work.path(), &server, &["put", "x", "pub/x"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stderr),
        "ferry: pub/x: a token is required to write \"pub/x\"\n"
    );
    let output = python(work.path(), &server, &["rm", "priv/y"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stderr),
        "ferry: priv/y: a token is required to delete \"priv/y\"\n"
    );
    assert!(server.path("priv/y").exists());

    // The library sees the codes, and the connection stays usable.
    let check = "import sys; sys.path.insert(0, sys.argv[1]); \
                 from ferry_client import Ferry, FerryError\n\
                 def code(call):\n    try:\n        call()\n    except FerryError as err:\n        return err.code\n\
                 for token in (None, sys.argv[3]):\n    \
                 with Ferry('127.0.0.1', int(sys.argv[2]), token=token) as f:\n        \
                 print(code(lambda: f.put('pub/z', b'z')), code(lambda: f.stat('priv/y')), f.get('pub/x'))";
    let output = Command::new("python3")
        .args(["-B", "-W", "error", "-c", check])
        .arg(script().parent().unwrap())
        .arg(server.addr.port().to_string())
        .arg(reader)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "401 401 b'public'\n403 403 b'public'\n"
    );
}

#[test]
fn put_into_a_folder_like_the_binary() {
    if !have_python() {
        return;
    }
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("report.csv"), "t,v\n").unwrap();
    // A trailing `/` names a folder to put the file in, as for `ferry put`.
    let output = python(work.path(), &server, &["put", "report.csv", "sensors/"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).starts_with("stored sensors/report.csv (4 bytes, "),
        "{}",
        text(&output.stdout)
    );
    assert_eq!(
        fs::read(server.path("sensors/report.csv")).unwrap(),
        b"t,v\n"
    );
}

#[test]
fn put_keeps_the_mtime_and_ls_and_mv_work_like_the_binary() {
    if !have_python() {
        return;
    }
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("a.txt");
    fs::write(&local, "a\n").unwrap();
    support::set_mtime(&local, 1_000_000_000);
    let output = python(work.path(), &server, &["put", "a.txt", "docs/a.txt"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        server.client().stat("docs/a.txt").unwrap().mtime,
        1_000_000_000
    );
    server.client().put_bytes("docs/sub/b.txt", b"b").unwrap();

    // One level, as the binary's `ls`: the sub-folder (no size, a
    // trailing `/`), then the file.
    let output = python(work.path(), &server, &["ls", "docs"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let listing = text(&output.stdout);
    let lines: Vec<Vec<&str>> = listing
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 2, "{listing}");
    assert_eq!((lines[0][0], lines[0][2]), ("-", "docs/sub/"), "{listing}");
    assert_eq!(lines[1], ["2", "1000000000", "docs/a.txt"], "{listing}");
    // -R: every file below, at any depth.
    let output = python(work.path(), &server, &["ls", "-R", "docs/"]);
    assert_eq!(text(&output.stdout).lines().count(), 2);
    // A file's own line; a missing name is an error, not an empty listing.
    let output = python(work.path(), &server, &["ls", "docs/a.txt"]);
    assert_eq!(
        text(&output.stdout).split_whitespace().collect::<Vec<_>>(),
        ["2", "1000000000", "docs/a.txt"]
    );
    for (missing, said) in [
        (&["ls", "nothing"][..], "no such file or folder"),
        (&["ls", "nothing/"][..], "no such folder"),
        (&["ls", "-R", "nothing"][..], "no such file or folder"),
    ] {
        let output = python(work.path(), &server, missing);
        assert_eq!(output.status.code(), Some(1), "{missing:?}");
        assert!(
            text(&output.stderr).contains(said),
            "{}",
            text(&output.stderr)
        );
    }

    let output = python(work.path(), &server, &["mv", "docs/a.txt", "docs/c.txt"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "moved docs/a.txt to docs/c.txt\n");
    assert!(!server.path("docs/a.txt").exists());
    assert_eq!(fs::read(server.path("docs/c.txt")).unwrap(), b"a\n");
    // A download keeps the time the file has on the server.
    let output = python(work.path(), &server, &["get", "docs/c.txt", "c.txt"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        support::mtime_secs(&work.path().join("c.txt")),
        1_000_000_000
    );
    let output = python(work.path(), &server, &["mv", "docs/a.txt", "docs/d.txt"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stderr), "ferry: docs/a.txt: no such file\n");
}

#[test]
fn put_dash_uploads_standard_input_of_unknown_length() {
    if !have_python() {
        return;
    }
    use std::io::Write;
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = pattern(300_000, 4);
    let mut child = Command::new("python3")
        .arg(script())
        .arg("--server")
        .arg(server.addr.to_string())
        .args(["put", "-", "piped.bin"])
        .current_dir(work.path())
        .env_remove("FERRY_SERVER")
        .env_remove("FERRY_TOKEN")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = data.clone();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        format!(
            "stored piped.bin (300000 bytes, crc32c {})\n",
            crc_hex(&data)
        )
    );
    assert_eq!(fs::read(server.path("piped.bin")).unwrap(), data);
}
