//! Access control over real sockets, both protocols: every permission on
//! files inside and outside a granted folder (percent-encoded slashes,
//! `..`, a sibling folder that shares the prefix, a trailing slash),
//! anonymous grants, filtered listings, sessions, `AUTH` and its errors,
//! HTTP Bearer and Basic with `WWW-Authenticate`, and the throttle on
//! failed authentications. (Reloads, logs and start-up refusals need a
//! whole process: `tests/access/process.rs`.)

use crate::support;

use std::net::{IpAddr, TcpStream};
use std::path::PathBuf;

use std::sync::Arc;

use base64::Engine as _;
use ferry::storage::gate::{Gate, Point};
use rustix::io::Errno;
use support::http::{bearer, exchange, exchange_on};
use support::tokens::{guarded, guarded_with};
use support::{Raw, TestServer, append, crc_hex, upload};

fn plant(server: &TestServer, name: &str, body: &[u8]) {
    let path: PathBuf = server.path(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// A FERRY/1 connection, authenticated with `token` if given.
fn ferry(server: &TestServer, token: Option<&str>) -> Raw {
    let mut raw = Raw::connect(server.addr);
    assert!(
        raw.line().ends_with(" auth"),
        "the greeting says tokens count"
    );
    if let Some(token) = token {
        raw.send(format!("AUTH {token}\n"));
        assert!(raw.line().starts_with("OK "));
    }
    raw
}

/// Sends one FERRY/1 request (with `body`) and returns its answer line,
/// reading any body that follows an `OK` so the connection stays in step.
fn ask(raw: &mut Raw, line: &str, body: &[u8]) -> String {
    raw.send(format!("{line}\n"));
    raw.send(body);
    let answer = raw.line();
    let verb = line.split(' ').next().unwrap();
    if answer.starts_with("OK ") && matches!(verb, "GET" | "LIST") {
        let len: usize = answer.split(' ').nth(1).unwrap().parse().unwrap();
        raw.bytes(len);
    }
    answer
}

/// One HTTP exchange on a fresh connection: status, head, body.
fn http(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    http_from(server, None, method, path, headers, body)
}

/// [`http`] from another loopback address (another client).
fn http_from(
    server: &TestServer,
    source: Option<IpAddr>,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut stream = match source {
        None => TcpStream::connect(server.http.unwrap()).unwrap(),
        Some(source) => Raw::connect_from(server.http.unwrap(), source).stream,
    };
    // An empty body's length is said too: a PUT of nothing needs it.
    let length = if body.is_empty() {
        "Content-Length: 0\r\n"
    } else {
        ""
    };
    let headers = format!("Host: t\r\n{length}{headers}");
    let answer = exchange_on(&mut stream, method, path, &headers, body);
    (answer.status, answer.head, answer.body)
}

fn basic(user_and_password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(user_and_password);
    format!("Authorization: Basic {encoded}\r\n")
}

/// What a FERRY/1 answer or HTTP status says: allowed, or which refusal.
fn ferry_verdict(answer: &str) -> u16 {
    match answer.strip_prefix("ERR ") {
        Some(rest) => rest[..3].parse().unwrap(),
        None => 200,
    }
}

fn http_verdict(status: u16) -> u16 {
    if (200..300).contains(&status) {
        200
    } else {
        status
    }
}

#[test]
fn every_permission_on_names_inside_and_outside_its_folder_on_both_protocols() {
    let holders: &[(&str, &[&str])] = &[
        ("reader", &["read:sensors/"]),
        ("writer", &["write:sensors"]),
        ("deleter", &["delete:/sensors/"]),
        ("admin", &["read:/", "write:/", "delete:/"]),
    ];
    let (server, tokens, _dir) = guarded(holders, &[]);
    let inside = ["sensors/a.csv", "sensors/deep/b.csv"];
    let outside = ["sensors-old/a.csv", "top.txt", "sensorsa.csv"];
    for (at, (holder, grants)) in holders.iter().enumerate() {
        let token = &tokens[at];
        let mut raw = ferry(&server, Some(token));
        for (name, is_inside) in inside
            .iter()
            .map(|n| (*n, true))
            .chain(outside.iter().map(|n| (*n, false)))
        {
            for perm in ["read", "write", "delete"] {
                let granted = grants.contains(&"read:/") && perm == "read"
                    || grants.contains(&"write:/") && perm == "write"
                    || grants.contains(&"delete:/") && perm == "delete"
                    || is_inside && grants.iter().any(|g| g.starts_with(perm));
                let expected = if granted { 200 } else { 403 };
                plant(&server, name, b"planted");
                let (ferry_answer, http_status) = match perm {
                    "read" => (
                        ask(&mut raw, &format!("GET {name}"), b""),
                        http(&server, "GET", &format!("/{name}"), &bearer(token), b"").0,
                    ),
                    "write" => (
                        ask(&mut raw, &format!("PUT {name} 3"), b"new"),
                        http(&server, "PUT", &format!("/{name}"), &bearer(token), b"new").0,
                    ),
                    _ => {
                        let answer = ask(&mut raw, &format!("DEL {name}"), b"");
                        plant(&server, name, b"planted");
                        let status =
                            http(&server, "DELETE", &format!("/{name}"), &bearer(token), b"").0;
                        (answer, status)
                    }
                };
                let case = format!("{holder} {perm} {name}");
                assert_eq!(
                    ferry_verdict(&ferry_answer),
                    expected,
                    "FERRY/1 {case}: {ferry_answer}"
                );
                assert_eq!(http_verdict(http_status), expected, "HTTP {case}");
                if expected == 403 && perm != "read" {
                    assert_eq!(
                        std::fs::read(server.path(name)).unwrap(),
                        b"planted",
                        "{case}"
                    );
                }
            }
            if grants.contains(&"read:sensors/") {
                // STAT is reading too.
                let answer = ask(&mut raw, &format!("STAT {name}"), b"");
                assert_eq!(ferry_verdict(&answer), if is_inside { 200 } else { 403 });
            }
        }
    }
}

#[test]
fn encoded_slashes_dot_segments_and_trailing_slashes_do_not_widen_a_grant() {
    let (server, tokens, _dir) = guarded(&[("reader", &["read:sensors/"])], &[]);
    plant(&server, "sensors/a.csv", b"a");
    plant(&server, "sensors-old/x.csv", b"x");
    let token = &tokens[0];
    let mut raw = ferry(&server, Some(token));
    // %2F decodes to the same name, with the same answer.
    assert!(ask(&mut raw, "GET sensors%2Fa.csv", b"").starts_with("OK 1 "));
    assert!(ask(&mut raw, "GET sensors-old%2Fx.csv", b"").starts_with("ERR 403 "));
    // A dot segment is no name at all.
    assert!(ask(&mut raw, "GET sensors/../sensors-old/x.csv", b"").starts_with("ERR 400 "));
    // The folder itself is not in the folder.
    assert!(ask(&mut raw, "STAT sensors", b"").starts_with("ERR 403 "));
    let get = |path: &str| http(&server, "GET", path, &bearer(token), b"");
    assert_eq!(get("/sensors%2Fa.csv").0, 200);
    assert_eq!(get("/sensors-old%2Fx.csv").0, 403);
    assert_ne!(get("/sensors/../sensors-old/x.csv").0, 200);
    assert_ne!(get("/sensors/%2E%2E/sensors-old/x.csv").0, 200);
    assert_eq!(get("/sensors/").0, 200);
    assert_eq!(get("/sensors-old/").0, 403);
}

#[test]
fn clients_without_a_token_get_the_anonymous_grants_and_a_401_elsewhere() {
    let (server, tokens, _dir) = guarded(&[("build", &["write:firmware/"])], &["read:firmware/"]);
    plant(&server, "firmware/v1.bin", b"v1");
    plant(&server, "private/key", b"k");
    let mut raw = ferry(&server, None);
    assert!(ask(&mut raw, "GET firmware/v1.bin", b"").starts_with("OK 2 "));
    assert!(ask(&mut raw, "GET private/key", b"").starts_with("ERR 401 "));
    assert!(ask(&mut raw, "PUT firmware/v2.bin 2", b"v2").starts_with("ERR 401 "));
    assert!(ask(&mut raw, "ECHO 2", b"hi").starts_with("ERR 401 "));
    assert!(ask(&mut raw, "STAT firmware/v1.bin", b"").starts_with("OK 2 "));
    // The same connection, once authenticated, may upload.
    raw.send(format!("AUTH {}\n", tokens[0]));
    assert_eq!(raw.line(), "OK build");
    assert!(ask(&mut raw, "PUT firmware/v2.bin 2", b"v2").starts_with("OK 2 "));
    // The token's grants replace the anonymous ones (it has no read).
    assert!(ask(&mut raw, "GET firmware/v1.bin", b"").starts_with("ERR 403 "));

    let (status, head, _) = http(&server, "GET", "/firmware/v1.bin", "", b"");
    assert_eq!(status, 200);
    assert!(!head.contains("WWW-Authenticate"));
    let (status, head, _) = http(&server, "GET", "/private/key", "", b"");
    assert_eq!(status, 401);
    assert!(
        head.contains("WWW-Authenticate: Basic realm=\"ferry\""),
        "{head}"
    );
    assert_eq!(http(&server, "PUT", "/firmware/v3.bin", "", b"v3").0, 401);
    // curl -u any:TOKEN, and curl -u TOKEN: (a browser's prompt likewise).
    let as_user = basic(&format!("any:{}", tokens[0]));
    assert_eq!(
        http(&server, "PUT", "/firmware/v3.bin", &as_user, b"v3").0,
        201
    );
    let as_name = basic(&format!("{}:", tokens[0]));
    assert_eq!(
        http(&server, "PUT", "/firmware/v4.bin", &as_name, b"v4").0,
        201
    );
    assert_eq!(
        std::fs::read(server.path("firmware/v4.bin")).unwrap(),
        b"v4"
    );
}

#[test]
fn listings_show_only_what_the_token_may_read() {
    let (server, tokens, _dir) =
        guarded(&[("reader", &["read:sensors/", "read:logs/today/"])], &[]);
    for name in [
        "sensors/a.csv",
        "sensors/deep/b.csv",
        "sensors-old/x.csv",
        "logs/today/1.log",
        "logs/old/0.log",
        "top.txt",
    ] {
        plant(&server, name, b"x");
    }
    let token = &tokens[0];
    let mut raw = ferry(&server, Some(token));
    raw.send("LIST\n");
    let len: usize = raw.line()[3..].parse().unwrap();
    let listing = String::from_utf8(raw.bytes(len)).unwrap();
    let names: Vec<&str> = listing
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["logs/today/1.log", "sensors/a.csv", "sensors/deep/b.csv"]
    );
    assert!(ask(&mut raw, "LIST sensors-old/", b"").starts_with("ERR 403 "));
    assert!(ask(&mut raw, "LIST top", b"").starts_with("ERR 403 "));
    // A prefix that only leads to a grant lists what the grant covers.
    raw.send("LIST logs/\n");
    let len: usize = raw.line()[3..].parse().unwrap();
    assert!(raw.bytes(len).ends_with(b" logs/today/1.log\n"));

    let json = "Accept: application/json\r\n";
    let (status, _, body) = http(
        &server,
        "GET",
        "/",
        &format!("{}{json}", bearer(token)),
        b"",
    );
    assert_eq!(status, 200);
    let body = String::from_utf8(body).unwrap();
    assert!(body.contains("\"dirs\":[\"logs/\",\"sensors/\"]"), "{body}");
    assert!(
        !body.contains("top.txt") && !body.contains("sensors-old"),
        "{body}"
    );
    let (_, _, body) = http(
        &server,
        "GET",
        "/logs/",
        &format!("{}{json}", bearer(token)),
        b"",
    );
    let body = String::from_utf8(body).unwrap();
    assert!(body.contains("\"dirs\":[\"logs/today/\"]"), "{body}");
    let (status, _, _) = http(&server, "GET", "/logs/old/", &bearer(token), b"");
    assert_eq!(status, 403);
}

#[test]
fn resumable_uploads_check_the_session_name_for_every_verb() {
    let (server, tokens, _dir) = guarded(
        &[
            ("sensor", &["write:sensors/"]),
            ("other", &["write:other/"]),
        ],
        &[],
    );
    let data = support::pattern(10_000, 4);
    let mut owner = ferry(&server, Some(&tokens[0]));
    let mut intruder = ferry(&server, Some(&tokens[1]));
    raw_refused(
        &mut intruder,
        &format!("UPLOAD sensors/f.bin {} {}", data.len(), crc_hex(&data)),
    );
    let (id, _) = upload(&mut owner, "sensors/f.bin", &data);
    // Someone else's session: refused by its name, whatever the id.
    raw_refused(&mut intruder, &format!("APPEND {id} 0 {}", data.len()));
    intruder.send(&data);
    raw_refused(&mut intruder, &format!("COMMIT {id}"));
    raw_refused(&mut intruder, &format!("ABORT {id}"));
    assert!(ask(&mut intruder, "ECHO 1", b"z").starts_with("OK 1"));
    assert_eq!(
        append(&mut owner, &id, 0, &data),
        format!("OK {}", data.len())
    );
    owner.send(format!("COMMIT {id}\n"));
    assert!(owner.line().starts_with("OK "));
    assert_eq!(std::fs::read(server.path("sensors/f.bin")).unwrap(), data);
}

fn raw_refused(raw: &mut Raw, line: &str) {
    raw.send(format!("{line}\n"));
    let answer = raw.line();
    assert!(
        answer.starts_with("ERR 403 token other may not write"),
        "{line}: {answer}"
    );
}

#[test]
fn a_refusal_on_someone_elses_session_does_not_name_its_file() {
    let (server, tokens, _dir) = guarded(
        &[
            ("sensor", &["write:sensors/"]),
            ("other", &["write:other/"]),
        ],
        &["read:public/"],
    );
    let data = support::pattern(1_000, 6);
    let mut owner = ferry(&server, Some(&tokens[0]));
    let (id, _) = upload(&mut owner, "sensors/merger-plan.bin", &data);
    let mut intruder = ferry(&server, Some(&tokens[1]));
    let mut anonymous = ferry(&server, None);
    for (raw, code) in [(&mut intruder, "ERR 403"), (&mut anonymous, "ERR 401")] {
        for line in [format!("COMMIT {id}"), format!("ABORT {id}")] {
            raw.send(format!("{line}\n"));
            let answer = raw.line();
            assert!(answer.starts_with(code), "{line}: {answer}");
            assert!(!answer.contains("merger-plan"), "{line}: {answer}");
            assert!(!answer.contains("sensors"), "{line}: {answer}");
        }
    }
}

/// A session's record that cannot be read (a failing disk, no descriptors
/// left) tells nobody whose the session is, so nobody may write it: the
/// request fails as the server's fault (5xx), it is not let through.
#[test]
fn a_session_whose_record_cannot_be_read_is_refused_not_let_through() {
    for (errno, code) in [(Errno::IO, "ERR 503"), (Errno::MFILE, "ERR 503")] {
        let gate = Arc::new(Gate::failing(Point::ReadSession, errno));
        let (server, tokens, _dir) = guarded_with(
            &[
                ("sensor", &["write:sensors/"]),
                ("other", &["write:other/"]),
            ],
            &[],
            |c| c.gate = Some(gate.clone()),
        );
        let data = support::pattern(10_000, 5);
        let mut owner = ferry(&server, Some(&tokens[0]));
        let (id, _) = upload(&mut owner, "sensors/f.bin", &data);
        let mut intruder = ferry(&server, Some(&tokens[1]));
        intruder.send(format!("APPEND {id} 0 {}\n", data.len()));
        let answer = intruder.line();
        assert!(answer.starts_with(code), "APPEND with {errno}: {answer}");
        intruder.send(&data);
        for line in [format!("COMMIT {id}"), format!("ABORT {id}")] {
            intruder.send(format!("{line}\n"));
            let answer = intruder.line();
            assert!(answer.starts_with(code), "{line} with {errno}: {answer}");
        }
        assert_eq!(gate.arrivals(), 3, "every verb read the record");
        assert!(!server.path("sensors/f.bin").exists());
    }
}

#[test]
fn auth_answers_unknown_and_malformed_tokens_and_the_connection_goes_on() {
    let (server, tokens, _dir) = guarded(&[("alice", &["read:/"])], &[]);
    plant(&server, "f", b"f");
    let mut raw = ferry(&server, None);
    for (bad, code) in [("ferry_0000", 401), (&"x".repeat(300), 400), ("café", 400)] {
        raw.send(format!("AUTH {bad}\n"));
        let answer = raw.line();
        assert!(answer.starts_with(&format!("ERR {code} ")), "{answer}");
        assert!(!answer.contains(bad), "the answer repeats no token");
    }
    raw.send(format!("AUTH {}\n", tokens[0]));
    assert_eq!(raw.line(), "OK alice");
    assert!(ask(&mut raw, "GET f", b"").starts_with("OK 1 "));
    // A failed AUTH drops the token the connection held.
    raw.send("AUTH ferry_0000\n");
    assert!(raw.line().starts_with("ERR 401 "));
    assert!(ask(&mut raw, "GET f", b"").starts_with("ERR 401 "));
    // A wrong token over HTTP is refused, not served as anonymous.
    assert_eq!(
        http(&server, "GET", "/f", &bearer("ferry_0000"), b"").0,
        401
    );
    assert_eq!(
        http(&server, "GET", "/f", "Authorization: Digest x\r\n", b"").0,
        401
    );
}

#[test]
fn two_authorization_fields_are_refused_whichever_comes_last() {
    let (server, tokens, _dir) = guarded(&[("alice", &["read:/", "write:/"])], &[]);
    plant(&server, "f", b"f");
    let alice = bearer(&tokens[0]);
    let basic_alice = basic(&format!("any:{}", tokens[0]));
    // One credential per request: with two, neither is taken (the last
    // once won), whatever they hold and whichever dialect reads them.
    for twice in [
        format!("{alice}{}", bearer("ferry_0000")),
        format!("{}{alice}", bearer("ferry_0000")),
        format!("{alice}{basic_alice}"),
    ] {
        for (method, path) in [
            ("GET", "/f"),
            ("PUT", "/x"),
            ("PROPFIND", "/"),
            ("POST", "/"),
        ] {
            let (status, head, _) = http(&server, method, path, &twice, b"");
            assert_eq!(status, 400, "{method} {path} {twice:?}: {head}");
        }
    }
    assert!(!server.path("x").exists());
    // One is served.
    assert_eq!(http(&server, "GET", "/f", &alice, b"").0, 200);
}

#[test]
fn failed_authentications_slow_then_stop_one_address_and_nobody_else() {
    let (server, tokens, _dir) = guarded(&[("alice", &["read:/"])], &[]);
    plant(&server, "f", b"f");
    let guesser_addr = "127.0.0.2".parse().unwrap();
    let mut guesser = Raw::connect_from(server.addr, guesser_addr);
    guesser.line();
    for _ in 0..ferry::access::throttle::FREE_FAILURES {
        guesser.send("AUTH ferry_guess\n");
        assert!(guesser.line().starts_with("ERR 401 "));
    }
    // The next attempt comes too soon: refused at once, the token unread,
    // the right one included.
    guesser.send(format!("AUTH {}\n", tokens[0]));
    let answer = guesser.line();
    assert!(
        answer.starts_with("ERR 429 too many failed authentications"),
        "{answer}"
    );
    // HTTP from the same address is throttled too.
    let (status, head, _) = http_from(
        &server,
        Some(guesser_addr),
        "GET",
        "/f",
        &bearer(&tokens[0]),
        b"",
    );
    assert_eq!(status, 429, "{head}");
    // Everyone else is served as before, at once.
    let mut other = ferry(&server, Some(&tokens[0]));
    assert!(ask(&mut other, "GET f", b"").starts_with("OK 1 "));
    // The guesser's connection is still usable for what needs no token.
    guesser.send("QUIT\n");
    assert_eq!(guesser.line(), "OK");
}

#[test]
fn move_needs_delete_on_the_source_and_write_on_the_target() {
    let holders: &[(&str, &[&str])] = &[
        ("writer", &["write:in/", "write:out/"]),
        ("mover", &["delete:in/", "write:out/"]),
    ];
    let (server, tokens, _dir) = guarded(holders, &[]);
    plant(&server, "in/a", b"a");
    plant(&server, "in/b", b"b");
    let mut writer = ferry(&server, Some(&tokens[0]));
    assert!(ask(&mut writer, "MOVE in/a out/a", b"").starts_with("ERR 403 "));
    let mut mover = ferry(&server, Some(&tokens[1]));
    assert!(ask(&mut mover, "MOVE in/a in/c", b"").starts_with("ERR 403 "));
    assert_eq!(ask(&mut mover, "MOVE in/a out/a", b""), "OK");
    let mut nobody = ferry(&server, None);
    assert!(ask(&mut nobody, "MOVE in/b out/b", b"").starts_with("ERR 401 "));
    let (status, _, _) = http(
        &server,
        "MOVE",
        "/in/b",
        &format!("{}Destination: /out/b\r\n", bearer(&tokens[1])),
        b"",
    );
    assert_eq!(status, 201);
    let (status, _, _) = http(&server, "MOVE", "/out/b", "Destination: /in/b\r\n", b"");
    assert_eq!(status, 401);
    assert!(server.path("out/a").exists() && server.path("out/b").exists());
}

/// A grant on a folder makes the folder: WebDAV's MKCOL and FTP's MKD
/// (curl `--ftp-create-dirs`, davfs2 mounting the folder) make `cams`
/// for a token granted `write:cams/`, as its first upload there would;
/// never anything beside it, and never its removal (`delete` is on the
/// folder's own name). Before, MKCOL was 403 and MKD 550 `may not write
/// "cams"`, while an HTTP PUT of `cams/x` made it.
#[test]
fn a_grant_on_a_folder_makes_the_folder_but_never_removes_it() {
    let holders: &[(&str, &[&str])] = &[("cam", &["write:cams/", "delete:cams/", "write:inbox/"])];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], support::listen_ftp);
    let http = server.http.unwrap();
    let head = format!("Host: localhost\r\n{}", bearer(&tokens[0]));
    let made = exchange(http, "MKCOL", "/cams/", &head, b"");
    assert_eq!(made.status, 201, "{}", made.head);
    assert!(server.path("cams").is_dir());
    let beside = exchange(http, "MKCOL", "/camsx/", &head, b"");
    assert_eq!(beside.status, 403, "{}", beside.head);
    let removal = exchange(http, "DELETE", "/cams/", &head, b"");
    assert!(server.path("cams").is_dir(), "{}", removal.head);
    let mut ftp = support::ftp::connect(&server);
    support::ftp::log_in(&mut ftp, "cam", &tokens[0]);
    assert_eq!(
        support::ftp::ask(&mut ftp, "MKD inbox"),
        "257 \"/inbox\" made"
    );
    let refused = support::ftp::ask(&mut ftp, "RMD inbox");
    assert!(refused.starts_with("550 "), "{refused}");
    assert!(support::ftp::ask(&mut ftp, "MKD other").starts_with("550 "));
    assert!(server.path("inbox").is_dir() && !server.path("other").exists());
}
