//! The access log of `ferry serve`: one line per answered request over
//! both protocols, complete once the server has stopped; text or JSON;
//! appended to `--log-file` and reopened there on SIGHUP; none with
//! `--no-access-log`; health checks left out unless asked for.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rustix::process::Signal;
use support::process::Process;
use support::{PATIENCE, Raw, crc_hex};
use tempfile::TempDir;

/// The HTTP address the server logged.
/// Three requests over FERRY/1 and two over HTTP, one of each refused.
const NAME: &str = "dir/a \"quoted\" $(name).txt";
fn workload(server: &Process) {
    let mut raw = Raw::connect(server.addr);
    raw.line();
    let encoded = "dir/a%20%22quoted%22%20$(name).txt";
    raw.send(format!("PUT {encoded} 5\nhello"));
    assert_eq!(raw.line(), format!("OK 5 {}", crc_hex(b"hello")));
    raw.send("STAT missing\n");
    assert!(raw.line().starts_with("ERR 404 "));
    raw.send("QUIT\n");
    raw.line();
    let mut web = Raw::connect(server.http_addr());
    web.send(format!(
        "GET /{encoded} HTTP/1.1\r\nHost: localhost\r\n\r\nDELETE /nothing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    ));
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut web.stream, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("HTTP/1.1 404 "), "{answer}");
}

/// Stops the server and waits until its last line is read.
fn stop(server: &mut Process) {
    server.signal(Signal::TERM);
    server.wait_for_log("server stopped");
    assert!(server.wait().success());
}

/// A temporary root, and the path of log file `name` in a temporary
/// folder of its own (held by the second value).
fn root_and_log(name: &str) -> (TempDir, TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join(name);
    (root, dir, log)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_request_has_a_text_line_in_the_file_once_the_server_stops() {
    let (root, _dir, log) = root_and_log("access.log");
    let mut server = Process::start(
        root.path(),
        &[
            "--http",
            "127.0.0.1:0",
            "--log-file",
            log.to_str().unwrap(),
            "--node-id",
            "web-1",
        ],
    );
    workload(&server);
    stop(&mut server);
    let lines = lines(&log);
    let fields: Vec<Vec<&str>> = lines.iter().map(|l| l.split(' ').collect()).collect();
    // time peer #client user protocol operation name... outcome bytes seconds node
    let tail = |l: &[&str]| l[l.len() - 4..l.len() - 1].join(" ");
    assert_eq!(lines.len(), 5, "{lines:#?}");
    assert!(lines[0].contains(" ferry put \"dir/a \\\"quoted\\\" $(name).txt\" ok 5 "));
    assert!(lines[1].contains(" ferry stat \"missing\" 404 0 "));
    assert!(lines[2].contains(" ferry quit \"\" ok 0 "));
    assert!(lines[3].contains(" http get \"dir/a \\\"quoted\\\" $(name).txt\" ok 5 "));
    assert!(lines[4].contains(" http delete \"nothing\" 404 0 "));
    for (line, fields) in lines.iter().zip(&fields) {
        assert!(fields[0].ends_with('Z') && fields[0].len() == 24, "{line}");
        assert_eq!((fields[1], fields[3]), ("127.0.0.1", "-"), "{line}");
        assert!(fields[2].starts_with('#'), "{line}");
        assert_eq!(fields.last(), Some(&"web-1"), "{line}");
        let seconds: f64 = tail(fields).rsplit(' ').next().unwrap().parse().unwrap();
        assert!(seconds >= 0.0);
    }
    let mode = std::fs::metadata(&log).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o640,
        "clients and names are not for everyone"
    );
}

#[test]
fn json_lines_carry_the_same_fields() {
    let (root, _dir, log) = root_and_log("access.json");
    let mut server = Process::start(
        root.path(),
        &[
            "--http",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--log-file",
            log.to_str().unwrap(),
        ],
    );
    workload(&server);
    stop(&mut server);
    let records: Vec<serde_json::Value> = lines(&log)
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let summary: Vec<(&str, &str, &str, &str, u64)> = records
        .iter()
        .map(|r| {
            (
                r["protocol"].as_str().unwrap(),
                r["operation"].as_str().unwrap(),
                r["name"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
                r["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("ferry", "put", NAME, "ok", 5),
            ("ferry", "stat", "missing", "404", 0),
            ("ferry", "quit", "", "ok", 0),
            ("http", "get", NAME, "ok", 5),
            ("http", "delete", "nothing", "404", 0),
        ]
    );
    for record in &records {
        assert_eq!(record["peer"], "127.0.0.1");
        assert_eq!(record["user"], serde_json::Value::Null);
        assert!(record["client"].as_u64().unwrap() >= 1);
        assert!(record["seconds"].as_f64().unwrap() >= 0.0);
    }
}

#[test]
fn sighup_reopens_the_file_logrotate_moved_away() {
    let (root, _dir, log) = root_and_log("access.log");
    let rotated = log.with_extension("log.1");
    let mut server = Process::start(root.path(), &["--log-file", log.to_str().unwrap()]);
    let mut raw = Raw::connect(server.addr);
    raw.line();
    raw.send("STAT before\n");
    assert!(raw.line().starts_with("ERR 404 "));
    std::fs::rename(&log, &rotated).unwrap();
    server.signal(Signal::HUP);
    // The writer has reopened once the file is back.
    let deadline = Instant::now() + PATIENCE;
    while !log.exists() {
        assert!(Instant::now() < deadline, "the log was not reopened");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    raw.send("STAT after\n");
    assert!(raw.line().starts_with("ERR 404 "));
    drop(raw);
    stop(&mut server);
    let old = lines(&rotated);
    let new = lines(&log);
    assert_eq!(old.len(), 1, "{old:?}");
    assert!(old[0].contains(" stat \"before\" 404 "), "{old:?}");
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(new[0].contains(" stat \"after\" 404 "), "{new:?}");
}

#[test]
fn the_access_log_goes_to_stderr_unless_turned_off() {
    let root = tempfile::tempdir().unwrap();
    let mut server = Process::start(root.path(), &["--http", "127.0.0.1:0"]);
    workload(&server);
    let line = server.wait_for_log(" http delete \"nothing\" 404 0 ");
    assert!(
        !line.contains("INFO"),
        "an access line, not a diagnostic: {line}"
    );
    stop(&mut server);

    let root = tempfile::tempdir().unwrap();
    let mut server = Process::start(root.path(), &["--http", "127.0.0.1:0", "--no-access-log"]);
    workload(&server);
    stop(&mut server);
    let log = server.log_lines("");
    assert!(
        !log.iter()
            .any(|l| l.contains(" ferry put ") || l.contains(" http get ")),
        "{log:#?}"
    );
}

#[test]
fn a_download_cut_short_logs_the_bytes_that_went() {
    let (root, _dir, log) = root_and_log("access.log");
    let size = 16 << 20; // past what the kernel's buffers can hold
    std::fs::write(root.path().join("big"), support::pattern(size, 3)).unwrap();
    let mut server = Process::start(root.path(), &["--log-file", log.to_str().unwrap()]);
    let mut whole = Raw::connect(server.addr);
    whole.line();
    whole.send("GET big\n");
    whole.get_line();
    assert_eq!(whole.bytes(size).len(), size);
    whole.send("QUIT\n");
    whole.line();
    let mut cut = Raw::connect_narrow(server.addr, 4096);
    cut.line();
    cut.send("GET big\n");
    cut.get_line();
    cut.bytes(1000);
    drop(cut); // unread bytes: a reset, and the server stops sending
    stop(&mut server);
    let lines = lines(&log);
    let bytes_of = |line: &str| -> usize {
        let fields: Vec<&str> = line.split(' ').collect();
        fields[fields.len() - 3].parse().unwrap()
    };
    let gets: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(" get \"big\" ok "))
        .collect();
    assert_eq!(gets.len(), 2, "{lines:#?}");
    assert_eq!(bytes_of(gets[0]), size, "{}", gets[0]);
    let went = bytes_of(gets[1]);
    assert!((1000..size).contains(&went), "{}", gets[1]);
}

#[test]
fn a_head_moves_no_bytes_and_a_request_cut_off_by_the_end_of_the_stream_has_its_line() {
    let (root, _dir, log) = root_and_log("access.log");
    let mut server = Process::start(
        root.path(),
        &["--http", "127.0.0.1:0", "--log-file", log.to_str().unwrap()],
    );
    let mut head = Raw::connect(server.http_addr());
    head.send("PUT /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc");
    head.send("HEAD /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let mut answers = String::new();
    std::io::Read::read_to_string(&mut head.stream, &mut answers).unwrap();
    assert_eq!(answers.matches("HTTP/1.1 20").count(), 2, "{answers}");
    let mut web = Raw::connect(server.http_addr());
    web.send("GET /x HTTP/1.1\r\nHo");
    web.finish_sending();
    assert!(web.line().starts_with("HTTP/1.1 400 "));
    drop(web);
    stop(&mut server);
    let lines = lines(&log);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines[0].contains(" http put \"x\" ok 3 "), "{lines:#?}");
    assert!(lines[1].contains(" http get \"x\" ok 0 "), "{lines:#?}");
    assert!(lines[2].contains(" http invalid \"\" 400 0 "), "{lines:#?}");
}

#[test]
fn append_lines_count_the_bytes_appended() {
    let (root, _dir, log) = root_and_log("access.log");
    let mut server = Process::start(root.path(), &["--log-file", log.to_str().unwrap()]);
    let data = support::pattern(1000, 2);
    let mut raw = Raw::connect(server.addr);
    raw.line();
    let (id, _) = support::upload(&mut raw, "staged.bin", &data);
    assert_eq!(support::append(&mut raw, &id, 0, &data[..300]), "OK 300");
    assert_eq!(support::append(&mut raw, &id, 300, &data[300..]), "OK 1000");
    raw.send("QUIT\n");
    raw.line();
    stop(&mut server);
    let appends: Vec<String> = lines(&log)
        .into_iter()
        .filter(|line| line.contains(" ferry append "))
        .collect();
    assert_eq!(appends.len(), 2, "{appends:#?}");
    assert!(
        appends[0].contains(&format!(" append \"{id}\" ok 300 ")),
        "{appends:#?}"
    );
    assert!(
        appends[1].contains(&format!(" append \"{id}\" ok 700 ")),
        "{appends:#?}"
    );
}

/// A tus PATCH's line counts the bytes it brought, the last one's too
/// (which completes the upload and is answered as the file stored).
#[test]
fn tus_patch_lines_count_the_bytes_patched() {
    let (root, _dir, log) = root_and_log("access.log");
    let mut server = Process::start(
        root.path(),
        &["--http", "127.0.0.1:0", "--log-file", log.to_str().unwrap()],
    );
    let http = server.http_addr();
    let tus = "Host: localhost\r\nTus-Resumable: 1.0.0\r\n";
    // The file name "d.log", base64 as tus carries it.
    let create = format!("{tus}Upload-Length: 10\r\nUpload-Metadata: filename ZC5sb2c=\r\n");
    let created = support::http::exchange(http, "POST", "/", &create, b"");
    assert_eq!(created.status, 201, "{}", created.head);
    let url = created.header("Location").unwrap().to_owned();
    let kind = "Content-Type: application/offset+octet-stream\r\n";
    for (offset, bytes) in [(0, &b"0123"[..]), (4, &b"456789"[..])] {
        let fields = format!("{tus}{kind}Upload-Offset: {offset}\r\n");
        let patched = support::http::exchange(http, "PATCH", &url, &fields, bytes);
        assert_eq!(patched.status, 204, "{}", patched.head);
    }
    stop(&mut server);
    let appends: Vec<String> = lines(&log)
        .into_iter()
        .filter(|line| line.contains(" http append "))
        .collect();
    assert_eq!(appends.len(), 2, "{appends:#?}");
    assert!(appends[0].contains(" ok 4 "), "{appends:#?}");
    assert!(appends[1].contains(" ok 6 "), "{appends:#?}");
}

/// A balancer's checks: `HEALTH` then `QUIT` over FERRY/1 (HAProxy's), and
/// `GET /.ferry-health`, with an ordinary request after each.
fn health_checks(server: &Process) {
    let mut check = Raw::connect(server.addr);
    check.line();
    check.send("HEALTH\nQUIT\n");
    assert_eq!((check.line(), check.line()), ("OK".into(), "OK".into()));
    let mut web = Raw::connect(server.http_addr());
    web.send(
        "GET /.ferry-health HTTP/1.1\r\nHost: localhost\r\n\r\nGET /absent HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut web.stream, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    let mut client = Raw::connect(server.addr);
    client.line();
    client.send("STAT absent\nQUIT\n");
    assert!(client.line().starts_with("ERR 404 "));
    client.line();
}

#[test]
fn health_checks_are_left_out_unless_asked_for() {
    for (asked, expected) in [
        (
            false,
            &[
                " http get \"absent\" 404 ",
                " ferry stat \"absent\" 404 ",
                " ferry quit ",
            ][..],
        ),
        (
            true,
            &[
                " ferry health \"\" ok ",
                " ferry quit ",
                " http health \"\" ok ",
                " http get \"absent\" 404 ",
                " ferry stat \"absent\" 404 ",
                " ferry quit ",
            ][..],
        ),
    ] {
        let (root, _dir, log) = root_and_log("access.log");
        let mut args = vec!["--http", "127.0.0.1:0", "--log-file", log.to_str().unwrap()];
        if asked {
            args.push("--log-health-checks");
        }
        let mut server = Process::start(root.path(), &args);
        health_checks(&server);
        stop(&mut server);
        let lines = lines(&log);
        assert_eq!(lines.len(), expected.len(), "{lines:#?}");
        for (line, part) in lines.iter().zip(expected) {
            assert!(line.contains(part), "{part} in {line}");
        }
    }
}

/// A cut upload has its line too (vsftpd's xferlog marks an incomplete
/// transfer): an HTTP PUT whose client reset it midway (`499`, as nginx
/// logs it), an FTP STOR whose data connection was reset (`426`, what its
/// control connection is told; its bytes are kept), each with the body
/// bytes that arrived. Before, neither had a line.
#[test]
fn a_cut_upload_has_its_line_with_the_bytes_that_arrived() {
    let (root, _dir, log) = root_and_log("access.log");
    let args = ["--http", "127.0.0.1:0", "--ftp", "127.0.0.1:0"];
    let mut server = Process::start(
        root.path(),
        &[&args[..], &["--log-file", log.to_str().unwrap()]].concat(),
    );
    let body = support::pattern(1 << 20, 4);
    let mut put = Raw::connect(server.http_addr());
    put.send(format!(
        "PUT /cut.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    put.send(&body[..300_000]);
    // SO_LINGER 0: the close is a reset, not the body's end.
    rustix::net::sockopt::set_socket_linger(&put.stream, Some(std::time::Duration::ZERO)).unwrap();
    drop(put);
    let mut ftp = support::ftp::connect_to(server.ftp_addr());
    support::ftp::log_in(&mut ftp, "me", "x");
    support::ftp::cut_after(
        &mut ftp,
        "STOR kept.bin",
        &body[..600_000],
        (root.path(), 1),
    );
    let kept = support::ftp::size(&mut ftp, "kept.bin");
    stop(&mut server);
    let lines = lines(&log);
    let line_of = |what: &str| {
        let found = lines.iter().find(|line| line.contains(what));
        found
            .unwrap_or_else(|| panic!("no line with {what}: {lines:#?}"))
            .clone()
    };
    let put = line_of(" http put \"cut.bin\" 499 ");
    let arrived: u64 = put.split(' ').rev().nth(2).unwrap().parse().unwrap();
    assert!(arrived <= 300_000, "{put}");
    let stor = line_of(" ftp put \"kept.bin\" 426 ");
    assert!(
        stor.contains(&format!(" 426 {kept} ")),
        "{stor}, {kept} kept"
    );
}

/// A request through a share link has no token, but acts as the link's
/// creator: its line names the creator as the user and the link by the
/// six characters logs show of its id, under the operation `link`, for a
/// request served and for one refused once the link is known (a wrong
/// password); an unknown link names no one.
#[cfg(feature = "shares")]
#[test]
fn requests_through_a_share_link_name_the_link_and_its_creator() {
    use support::http::{bearer, exchange};
    let (root, dir, log) = root_and_log("access.json");
    std::fs::write(root.path().join("f.txt"), b"hello").unwrap();
    let tokens = dir.path().join("tokens");
    let token = support::tokens::write_tokens(&tokens, &[("alice", &["read:/"])]);
    let args = [
        "--tokens",
        tokens.to_str().unwrap(),
        "--http",
        "127.0.0.1:0",
    ];
    let json = ["--log-format", "json", "--log-file", log.to_str().unwrap()];
    let mut server = Process::start(root.path(), &[&args[..], &json[..]].concat());
    let http = server.http_addr();
    let headers = format!("Host: t\r\n{}", bearer(&token[0]));
    let asked = br#"{"path":"f.txt","password":"sesame"}"#;
    let made = exchange(http, "POST", "/.ferry-shares", &headers, asked);
    assert_eq!(made.status, 201, "{}", made.text());
    let id = made.text().split('"').nth(3).unwrap().to_owned();
    let file = format!("/s/{id}/f.txt");
    // "any:sesame" and "any:wrong" in Basic.
    let (right, wrong) = ("YW55OnNlc2FtZQ==", "YW55Ondyb25n");
    let get = |target: &str, basic: &str| {
        let headers = format!("Host: t\r\nAuthorization: Basic {basic}\r\n");
        exchange(http, "GET", target, &headers, b"").status
    };
    assert_eq!(get(&file, right), 200);
    assert_eq!(get(&file, wrong), 401);
    assert_eq!(get("/s/AAAAAAAAAAAAAAAAAAAAAA/f.txt", right), 404);
    stop(&mut server);
    let links: Vec<(String, String, String)> = lines(&log)
        .iter()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|r| r["operation"] == "link")
        .map(|r| {
            let user = r["user"].as_str().unwrap_or("-").to_owned();
            let name = r["name"].as_str().unwrap().to_owned();
            (user, name, r["outcome"].as_str().unwrap().to_owned())
        })
        .collect();
    let short = &id[..6];
    let alice = |outcome: &str| ("alice".to_owned(), short.to_owned(), outcome.to_owned());
    let nobody = ("-".to_owned(), "AAAAAA".to_owned(), "404".to_owned());
    assert_eq!(links, [alice("ok"), alice("401"), nobody]);
}
