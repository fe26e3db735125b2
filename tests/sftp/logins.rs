//! Logins beyond a token as the password: SSH keys on tokens (made and
//! removed with `ferry token`), `anonymous`, the throttle, and the login
//! grace time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ferry::access::{AccessConfig, Grant};

use crate::support::sftp::{Login, have_openssh, make_key, public_line, said};
use crate::support::{PATIENCE, TestServer, listen_sftp, tokens};

/// Runs `ferry token <args>`; its output, asserted a success.
fn ferry_token(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("token")
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}: {}", said(&output));
    String::from_utf8(output.stdout).unwrap()
}

/// A server on `tokens` (with `anonymous` grants), its files `names`.
fn server_on(tokens: &Path, anonymous: &[&str], names: &[&str]) -> TestServer {
    let server = TestServer::start_with(|c| {
        listen_sftp(c);
        c.access = AccessConfig {
            tokens: Some(tokens.to_path_buf()),
            anonymous: anonymous.iter().map(|g| Grant::parse(g).unwrap()).collect(),
            no_auth: false,
        };
    });
    server.write_files(names);
    server
}

/// `login` fetches `name` into `into`: the client's output.
fn get(login: &Login, name: &str, into: &Path) -> Output {
    login.sftp(&format!("get {name} {}/\nbye\n", into.display()))
}

/// Keys made with `ssh-keygen`, put on tokens with `ferry token add
/// --ssh-key` (a file, a line) and `token key add`, listed by
/// fingerprint; each logs in as its token, with its grants, never as
/// another token; an unknown key and a removed one are refused.
#[test]
fn keys_on_tokens_log_in_as_their_token_only() {
    if !have_openssh() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<PathBuf> = ["alice", "bob", "stranger", "alice2"]
        .iter()
        .map(|name| make_key(dir.path(), name))
        .collect();
    let [alice, bob, stranger, alice2] = [0, 1, 2, 3].map(|at| keys[at].as_path());
    let file = dir.path().join("tokens");
    let file = file.to_str().unwrap();
    let pub_file = format!("{}.pub", alice.display());
    ferry_token(&["add", "alice", "--tokens", file, "--grant", "read:/docs/"]);
    ferry_token(&["key", "add", "alice", &pub_file, "--tokens", file]);
    let bob_line = public_line(bob);
    #[rustfmt::skip]
    ferry_token(&["add", "bob", "--tokens", file, "--grant", "read:/", "--ssh-key", &bob_line]);
    // Listed by fingerprint, as ssh-keygen shows it.
    let fingerprint = |key: &Path| {
        let output = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(key)
            .output()
            .unwrap();
        let line = String::from_utf8(output.stdout).unwrap();
        line.split(' ').nth(1).unwrap().to_owned()
    };
    let list = ferry_token(&["list", "--tokens", file]);
    assert!(
        list.contains(&format!("alice ssh:{} read:docs/", fingerprint(alice))),
        "{list}"
    );
    assert!(
        list.contains(&format!("bob ssh:{} read:/", fingerprint(bob))),
        "{list}"
    );

    let server = server_on(Path::new(file), &[], &["secret.txt", "docs/a.txt"]);
    let addr = server.sftp.unwrap();
    let got = tempfile::tempdir().unwrap();
    // Alice's key, with any user name or hers: her grants.
    for user in ["tester", "alice"] {
        let login = Login::with_keys(addr, &[alice]).user(user);
        let output = get(&login, "docs/a.txt", got.path());
        assert!(output.status.success(), "{user}: {}", said(&output));
        let output = get(&login, "secret.txt", got.path());
        assert!(said(&output).contains("not found"), "{}", said(&output));
    }
    assert!(got.path().join("a.txt").exists());
    assert!(!got.path().join("secret.txt").exists());
    // Bob's key as bob reads everything; alice's key as bob, nothing.
    let output = get(
        &Login::with_keys(addr, &[bob]).user("bob"),
        "secret.txt",
        got.path(),
    );
    assert!(output.status.success(), "{}", said(&output));
    let as_bob = Login::with_keys(addr, &[alice]).user("bob");
    let output = get(&as_bob, "docs/a.txt", got.path());
    assert!(
        said(&output).contains("Permission denied"),
        "{}",
        said(&output)
    );
    // A key on no token.
    let output = get(
        &Login::with_keys(addr, &[stranger]),
        "docs/a.txt",
        got.path(),
    );
    assert!(
        said(&output).contains("Permission denied"),
        "{}",
        said(&output)
    );
    // An agent's worth of keys before the one that fits: still let in.
    let offered = [stranger, bob, alice2, alice];
    let login = Login::with_keys(addr, &offered).user("alice");
    let output = get(&login, "docs/a.txt", got.path());
    assert!(output.status.success(), "{}", said(&output));
    drop(server);

    // Removed by fingerprint: refused (by a server reading the file anew).
    ferry_token(&["key", "rm", "alice", &fingerprint(alice), "--tokens", file]);
    let list = ferry_token(&["list", "--tokens", file]);
    assert!(!list.contains(&fingerprint(alice)), "{list}");
    let server = server_on(Path::new(file), &[], &["docs/a.txt"]);
    let login = Login::with_keys(server.sftp.unwrap(), &[alice]);
    let output = get(&login, "docs/a.txt", got.path());
    assert!(
        said(&output).contains("Permission denied"),
        "{}",
        said(&output)
    );
}

/// `anonymous` logs in, without a password or with any, where
/// `--anonymous` grants are given, and has exactly those; elsewhere it is
/// refused.
#[test]
fn anonymous_logs_in_only_where_anonymous_grants_are() {
    if !have_openssh() {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("writer", &["write:/"])];
    let (server, _tokens, _dir) = tokens::guarded_with(holders, &["read:/pub/"], listen_sftp);
    server.write_files(&["pub/a.txt", "private.txt"]);
    let addr = server.sftp.unwrap();
    let got = tempfile::tempdir().unwrap();
    let logins = [
        Login::open(addr).user("anonymous"),
        Login::with_password(addr, "me@example.com").user("anonymous"),
    ];
    for login in &logins {
        let output = get(login, "pub/a.txt", got.path());
        assert!(output.status.success(), "{}", said(&output));
        let output = get(login, "private.txt", got.path());
        assert!(said(&output).contains("not found"), "{}", said(&output));
    }
    assert!(!got.path().join("private.txt").exists());

    let (server, _tokens, _dir) = tokens::guarded_with(holders, &[], listen_sftp);
    server.write_files(&["pub/a.txt"]);
    let addr = server.sftp.unwrap();
    for login in [
        Login::open(addr).user("anonymous"),
        Login::with_password(addr, "me@example.com").user("anonymous"),
    ] {
        let output = get(&login, "pub/a.txt", got.path());
        assert!(
            said(&output).contains("Permission denied"),
            "{}",
            said(&output)
        );
    }
}

/// Wrong tokens from one address: refused plainly at first, then the
/// throttle every protocol shares disconnects the address.
#[test]
fn an_address_that_keeps_failing_is_disconnected() {
    if !have_openssh() {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("reader", &["read:/"])];
    let (server, _tokens, _dir) = tokens::guarded_with(holders, &[], listen_sftp);
    let addr = server.sftp.unwrap();
    let wrong = Login::with_password(addr, "ferry_0000");
    let got = tempfile::tempdir().unwrap();
    // Five free failures; then each attempt must wait longer after the
    // last (1 s, doubling): an attempt that comes sooner is cut, however
    // slow the machine, within a few more.
    let mut refused = 0;
    let cut = (0..12).find(|_| {
        let output = get(&wrong, "a.txt", got.path());
        let told = said(&output);
        assert!(!output.status.success(), "{told}");
        if told.contains("Permission denied") {
            refused += 1;
            return false;
        }
        assert!(told.contains("closed") || told.contains("reset"), "{told}");
        true
    });
    assert!(cut.is_some(), "never disconnected");
    assert!(
        refused >= 5,
        "the first five are refused plainly: {refused}"
    );
}

/// Reads from `stream` until the server closes it; what it sent.
fn read_to_close(mut stream: TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(err) => panic!("not closed: {err}"),
        }
    }
}

/// A connection that has not logged in within `--ssh-login-grace` is
/// closed: one that sends nothing, and one that sends its banner only.
#[test]
fn a_connection_not_logged_in_within_the_grace_time_is_closed() {
    let grace = Duration::from_millis(300);
    let server = TestServer::start_with(|c| {
        listen_sftp(c);
        c.ssh_login_grace = grace;
    });
    let addr: SocketAddr = server.sftp.unwrap();
    let started = Instant::now();
    let silent = TcpStream::connect(addr).unwrap();
    let mut banner_only = TcpStream::connect(addr).unwrap();
    banner_only.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").unwrap();
    for stream in [silent, banner_only] {
        let sent = read_to_close(stream);
        assert!(sent.starts_with(b"SSH-2.0-"), "{sent:?}");
    }
    assert!(started.elapsed() >= grace, "closed before its time");
    assert!(started.elapsed() < PATIENCE, "closed by the grace time");
}

/// A logged-in session resting between requests, nothing owed either
/// way, has `--ssh-idle-timeout`, not the idle timeout: an sshfs mount or
/// a file manager sits quiet for minutes, and its user loses a cut one.
#[test]
fn a_resting_session_has_the_ssh_idle_timeout_not_the_idle_timeout() {
    if !have_openssh() {
        return;
    }
    let rest = Duration::from_millis(1500);
    let server = TestServer::start_with(|c| {
        listen_sftp(c);
        c.idle_timeout = Duration::from_millis(200);
        c.ssh_idle_timeout = rest;
    });
    let mut raw = Login::open(server.sftp.unwrap()).sftp_raw();
    assert_eq!(raw.stat("."), 105, "the root's ATTRS");
    let resting = Instant::now();
    raw.end(false);
    let rested = resting.elapsed();
    assert!(rested >= rest, "cut by the idle timeout after {rested:?}");
    assert!(rested < PATIENCE, "never cut");
}

/// Before its login a connection has the grace time, not the idle
/// timeout: a person at the password prompt sends nothing meanwhile.
#[test]
fn the_grace_time_not_the_idle_timeout_bounds_a_login() {
    let grace = Duration::from_millis(1500);
    let server = TestServer::start_with(|c| {
        listen_sftp(c);
        c.ssh_login_grace = grace;
        c.idle_timeout = Duration::from_millis(200);
    });
    let started = Instant::now();
    let mut at_the_prompt = TcpStream::connect(server.sftp.unwrap()).unwrap();
    at_the_prompt.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").unwrap();
    let sent = read_to_close(at_the_prompt);
    assert!(sent.starts_with(b"SSH-2.0-"), "{sent:?}");
    assert!(started.elapsed() >= grace, "cut by the idle timeout");
}
