//! Access control where a whole process is needed: tokens re-read on
//! SIGHUP (a removed token is refused at once, on connections that already
//! hold it too; a broken file keeps the old tokens), no token in any log
//! line, the refusal to serve a non-loopback address without tokens, and
//! the `ferry` client and `ferry token` commands.

use crate::binary;
use crate::support;

use std::io::{BufRead, BufReader};
use std::process::Command;

use binary::{ferry, stderr};
use rustix::process::Signal;
use support::Raw;
use support::process::Process;
use support::tokens::write_tokens;
// Only the test that runs the client commands uses these.
#[cfg(feature = "client")]
use {binary::stdout, support::crc_hex};

fn authenticate(raw: &mut Raw, token: &str) -> String {
    raw.send(format!("AUTH {token}\n"));
    raw.line()
}

/// A share link is its creator's request, judged at every use: a grant
/// narrowed on SIGHUP refuses it at once (403), a token removed ends it
/// (410), and so does a token issued anew under the same name (a leaked
/// one replaced: the thief's links never get the new token's grants).
#[cfg(feature = "shares")]
#[test]
fn a_share_link_stops_with_its_creators_grants_or_token() {
    use support::http::{bearer, exchange};
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("a")).unwrap();
    std::fs::write(root.path().join("a/f"), b"f").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens");
    let old = write_tokens(
        &path,
        &[
            ("alice", &["read:/"]),
            ("bob", &["read:/"]),
            ("carol", &["read:/"]),
        ],
    );
    let server = Process::start(
        root.path(),
        &["--tokens", path.to_str().unwrap(), "--http", "127.0.0.1:0"],
    );
    let http = server.http_addr();
    let make = |token: &str| {
        let headers = format!("Host: t\r\n{}", bearer(token));
        let made = exchange(
            http,
            "POST",
            "/.ferry-shares",
            &headers,
            br#"{"path":"a/"}"#,
        );
        assert_eq!(made.status, 201, "{}", made.text());
        let id = made.text().split('"').nth(3).unwrap().to_owned();
        format!("/s/{id}/f")
    };
    let (alices, bobs, carols) = (make(&old[0]), make(&old[1]), make(&old[2]));
    let status = |link: &str| exchange(http, "GET", link, "Host: t\r\n", b"").status;
    assert_eq!((status(&alices), status(&bobs)), (200, 200));

    // Alice's token goes, bob keeps only b/.
    let mut file =
        ferry::access::TokensFile::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    file.entries.retain(|entry| entry.name != "alice");
    let reissued = ferry::access::tokens::new_token().unwrap();
    file.entries[1].digest = ferry::access::tokens::digest(&reissued);
    file.entries[0].grants =
        ferry::access::Grants::new(vec![ferry::access::Grant::parse("read:b/").unwrap()]);
    std::fs::write(&path, file.render()).unwrap();
    server.signal(Signal::HUP);
    server.wait_for_log("tokens reloaded: 2");
    assert_eq!(status(&alices), 410);
    assert_eq!(status(&bobs), 403);
    assert_eq!(status(&carols), 410);
}

#[test]
fn sighup_rereads_the_tokens_and_a_broken_file_keeps_the_old_ones() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens");
    let old = write_tokens(&path, &[("alice", &["read:/"]), ("bob", &["read:a/"])]);
    let server = Process::start(root.path(), &["--tokens", path.to_str().unwrap()]);
    std::fs::write(root.path().join("f"), b"f").unwrap();
    let mut alice = Raw::connect(server.addr);
    alice.line();
    assert_eq!(authenticate(&mut alice, &old[0]), "OK alice");
    alice.send("STAT f\n");
    assert!(alice.line().starts_with("OK 1 "));

    // Alice goes; bob now reads everything under a new token.
    let new = write_tokens(&path, &[("bob", &["read:/"])]);
    server.signal(Signal::HUP);
    server.wait_for_log("tokens reloaded: 1");
    alice.send("STAT f\n");
    assert_eq!(alice.line(), "ERR 401 token revoked");
    alice.send("STAT f\n");
    assert!(alice.line().starts_with("ERR 401 a token is required"));
    let mut fresh = Raw::connect(server.addr);
    fresh.line();
    assert!(authenticate(&mut fresh, &old[0]).starts_with("ERR 401 "));
    assert!(authenticate(&mut fresh, &old[1]).starts_with("ERR 401 "));
    assert_eq!(authenticate(&mut fresh, &new[0]), "OK bob");

    // A file that does not parse changes nothing, and says why.
    std::fs::write(&path, "bob sha256:nothex read:/\n").unwrap();
    server.signal(Signal::HUP);
    let line = server.wait_for_log("not reloaded");
    assert!(line.contains("line 1"), "{line}");
    fresh.send("STAT f\n");
    assert!(fresh.line().starts_with("OK 1 "));
    let mut again = Raw::connect(server.addr);
    again.line();
    assert_eq!(authenticate(&mut again, &new[0]), "OK bob");
}

#[test]
fn no_token_appears_in_any_log_line() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens");
    let tokens = write_tokens(&path, &[("alice", &["write:/"])]);
    let server = Process::start(
        root.path(),
        &[
            "--tokens",
            path.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
            "--log-level",
            "trace",
        ],
    );
    let http = server.http_addr();
    let mut raw = Raw::connect(server.addr);
    raw.line();
    assert!(authenticate(&mut raw, "ferry_wrong_guess").starts_with("ERR 401"));
    assert_eq!(authenticate(&mut raw, &tokens[0]), "OK alice");
    raw.send("PUT x 1\nx");
    assert!(raw.line().starts_with("OK "));
    let mut web = Raw::connect(http);
    web.send(format!(
        "GET /x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\r\n",
        tokens[0]
    ));
    assert!(web.line().starts_with("HTTP/1.1 403"));
    raw.send("QUIT\n");
    raw.line();
    drop(raw);
    // The last lines of both connections: everything they caused is logged
    // (the access log is written a second at most after the diagnostics).
    server.wait_for_log("#1 closed: ");
    server.wait_for_log(" alice http get \"x\" 403 ");
    assert!(!server.log_lines("AUTH as alice").is_empty());
    assert!(!server.log_lines(" alice ferry auth \"\" ok ").is_empty());
    for secret in [tokens[0].as_str(), "ferry_wrong_guess"] {
        assert_eq!(server.log_lines(secret), Vec::<String>::new());
    }
}

#[test]
fn a_non_loopback_address_needs_tokens_or_an_explicit_no_auth() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let refused = ferry(root.path())
        .args(["serve", "--listen", "0.0.0.0:0", "--root"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let said = stderr(&refused);
    assert!(
        said.contains("refusing to serve 0.0.0.0:0 without access control"),
        "{said}"
    );
    assert!(
        said.contains("--tokens") && said.contains("--no-auth"),
        "{said}"
    );
    assert!(
        !data.exists(),
        "a server that does not start creates no root"
    );
    // --http counts too.
    let refused = ferry(root.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "0.0.0.0:0",
            "--root",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));

    // Explicitly open: it starts, and warns before it serves.
    let mut open = Command::new(env!("CARGO_BIN_EXE_ferry"));
    let mut child =
        support::process::serve_args(&mut open, &data, &["--listen", "0.0.0.0:0", "--no-auth"])
            .spawn()
            .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let said: Vec<String> = lines
        .map_while(Result::ok)
        .take_while(|line| !line.contains(" I/O threads"))
        .collect();
    assert!(
        said.iter()
            .any(|l| l.contains("with no access control (--no-auth)")),
        "{said:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[cfg(feature = "client")] // runs the client commands
#[test]
fn the_client_authenticates_with_token_or_ferry_token() {
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let tokens_path = work.path().join("tokens");
    // Made as a user would: `ferry token add`, the token on stdout alone,
    // as the shell assignment it prints with or without an S3 key.
    let added = ferry(work.path())
        .args(["token", "add", "uploader", "--tokens"])
        .arg(&tokens_path)
        .args(["--grant", "write:in/", "--grant", "read:in/"])
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", stderr(&added));
    let printed = stdout(&added);
    let token = printed
        .trim()
        .strip_prefix("FERRY_TOKEN=")
        .unwrap_or_else(|| panic!("{printed}"))
        .to_owned();
    assert!(
        token.starts_with("ferry_") && token.len() >= 6 + 32,
        "{token}"
    );
    let file = std::fs::read_to_string(&tokens_path).unwrap();
    assert!(!file.contains(&token), "only the digest is kept");
    let listed = ferry(work.path())
        .args(["token", "list", "--tokens"])
        .arg(&tokens_path)
        .output()
        .unwrap();
    assert_eq!(stdout(&listed), "uploader write:in/ read:in/\n");

    let server = Process::start(root.path(), &["--tokens", tokens_path.to_str().unwrap()]);
    let addr = server.addr.to_string();
    std::fs::write(work.path().join("a.txt"), b"hello").unwrap();
    let put = |extra: &[&str], env: Option<&str>| {
        let mut command = ferry(work.path());
        command
            .args(["put", "a.txt"])
            .args(extra)
            .args(["--server", &addr]);
        if let Some(token) = env {
            command.env("FERRY_TOKEN", token);
        }
        command.output().unwrap()
    };
    let anonymous = put(&["in/a.txt"], None);
    assert_eq!(anonymous.status.code(), Some(1));
    assert!(
        stderr(&anonymous).contains("a token is required"),
        "{}",
        stderr(&anonymous)
    );
    let flagged = put(&["in/a.txt", "--token", &token], None);
    assert!(flagged.status.success(), "{}", stderr(&flagged));
    let from_env = put(&["in/b.txt", "--resume"], Some(&token));
    assert!(from_env.status.success(), "{}", stderr(&from_env));
    let outside = put(&["out/a.txt"], Some(&token));
    assert_eq!(outside.status.code(), Some(1));
    assert!(
        stderr(&outside).contains("may not write"),
        "{}",
        stderr(&outside)
    );
    let wrong = put(&["in/c.txt", "--token", "ferry_wrong"], None);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        !stderr(&wrong).contains("ferry_wrong"),
        "{}",
        stderr(&wrong)
    );
    let listing = ferry(work.path())
        .args(["ls", "in/", "--server", &addr])
        .env("FERRY_TOKEN", &token)
        .output()
        .unwrap();
    assert!(
        stdout(&listing).contains("in/b.txt"),
        "{}",
        stderr(&listing)
    );
    assert_eq!(
        std::fs::read(root.path().join("in/b.txt")).unwrap(),
        b"hello",
        "{}",
        crc_hex(b"hello")
    );

    // Revoked with `ferry token rm` and a SIGHUP: refused from then on.
    let removed = ferry(work.path())
        .args(["token", "rm", "uploader", "--tokens"])
        .arg(&tokens_path)
        .output()
        .unwrap();
    assert!(removed.status.success());
    server.signal(Signal::HUP);
    server.wait_for_log("tokens reloaded: 0");
    let revoked = put(&["in/d.txt"], Some(&token));
    assert_eq!(revoked.status.code(), Some(1));
    assert!(
        stderr(&revoked).contains("unknown token"),
        "{}",
        stderr(&revoked)
    );
}

#[test]
fn token_add_keeps_the_owner_and_mode_an_operator_gave_the_file() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let work = tempfile::tempdir().unwrap();
    let tokens_path = work.path().join("tokens.txt");
    let add = |name: &str| {
        let added = ferry(work.path())
            .args(["token", "add", name, "--grant", "read:/", "--tokens"])
            .arg(&tokens_path)
            .output()
            .unwrap();
        assert!(added.status.success(), "{}", stderr(&added));
    };
    add("first");
    let made = std::fs::metadata(&tokens_path).unwrap();
    assert_eq!(
        made.mode() & 0o7777,
        0o600,
        "a new file is its owner's only"
    );
    // As the Debian package's README says: readable by the service's group.
    std::fs::set_permissions(&tokens_path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let root = rustix::process::geteuid().is_root();
    let group = if root { 4242 } else { made.gid() };
    std::os::unix::fs::chown(&tokens_path, None, Some(group)).unwrap();
    add("second");
    let kept = std::fs::metadata(&tokens_path).unwrap();
    assert_eq!(kept.mode() & 0o7777, 0o640);
    assert_eq!((kept.uid(), kept.gid()), (made.uid(), group));
    let file = std::fs::read_to_string(&tokens_path).unwrap();
    assert!(file.contains("first") && file.contains("second"), "{file}");
}

/// A token with an S3 key is listed with its access key id, never the
/// secret (issue 57).
#[cfg(feature = "client")] // runs the client commands
#[test]
fn token_list_names_s3_key_ids_never_secrets() {
    let work = tempfile::tempdir().unwrap();
    let tokens_path = work.path().join("tokens");
    let keyed = ferry(work.path())
        .args(["token", "add", "backup", "--s3", "--tokens"])
        .arg(&tokens_path)
        .args(["--grant", "write:b/"])
        .output()
        .unwrap();
    let keyed = stdout(&keyed);
    let field = |name: &str| {
        let line = keyed.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_once('=').unwrap().1.to_owned()
    };
    let (id, secret) = (field("AWS_ACCESS_KEY_ID"), field("AWS_SECRET_ACCESS_KEY"));
    let listed = ferry(work.path())
        .args(["token", "list", "--tokens"])
        .arg(&tokens_path)
        .output()
        .unwrap();
    let listed = stdout(&listed);
    assert!(
        listed.ends_with(&format!("backup s3:{id} write:b/\n")),
        "{listed}"
    );
    assert!(!listed.contains(&secret));
}
