//! `ferry share`, `ferry share list`, `ferry share rm` (docs/shares.md)
//! with the real binary against a real server: the printed address
//! fetched over HTTP without a token, listed, revoked; the creator's
//! grants, upload links, passwords (never in the client's log), download
//! limits and the server's longest expiry, each as the command says it;
//! `--public-url`; a server without HTTP.
#![cfg(all(feature = "client", feature = "shares"))] // the client commands and the server's links

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;

use base64::Engine as _;

use crate::binary::{self, failure, success};
use crate::support::TestServer;
use crate::support::http::{Answer, bearer, exchange};
use crate::support::tokens::guarded_with;

/// Runs `ferry <args> --server <addr> --token <token>`.
fn ferry(dir: &Path, addr: SocketAddr, token: &str, args: &[&str]) -> Output {
    binary::ferry(dir)
        .args(args)
        .args(["--server", &addr.to_string(), "--token", token])
        .output()
        .expect("run ferry")
}

/// A server with tokens and HTTP: alice may read and write everything,
/// bob only write; links last at most an hour.
fn server() -> (TestServer, Vec<String>, tempfile::TempDir) {
    let holders: &[(&str, &[&str])] = &[("alice", &["read:/", "write:/"]), ("bob", &["write:/"])];
    guarded_with(holders, &[], |config| config.shares.max_expiry = 3600)
}

/// What `ferry share` printed: its expiry line, then the address (last).
fn made(output: &Output) -> (String, String) {
    let out = success(output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(
        lines[0].starts_with("link ") && lines[0].contains(" expires "),
        "{out:?}"
    );
    (lines[0].to_owned(), lines[1].to_owned())
}

/// GETs `url` from the server's HTTP listener, which it must name.
fn fetch(http: SocketAddr, url: &str, headers: &str) -> Answer {
    let path = url
        .strip_prefix(&format!("http://{http}"))
        .unwrap_or_else(|| panic!("{url} is not on {http}"));
    exchange(
        http,
        "GET",
        path,
        &format!("Host: {http}\r\n{headers}"),
        b"",
    )
}

fn id_of(url: &str) -> &str {
    let at = url.find("/s/").unwrap() + 3;
    &url[at..at + 22]
}

#[test]
fn a_file_shared_is_fetched_by_its_printed_address_listed_and_revoked() {
    let (server, tokens, dir) = server();
    let http = server.http.unwrap();
    server.write_files(&["docs/report.pdf"]);
    let bytes = std::fs::read(server.path("docs/report.pdf")).unwrap();
    let alice = &tokens[0];

    let (expiry, url) = made(&ferry(
        dir.path(),
        server.addr,
        alice,
        &["share", "docs/report.pdf", "--expires", "30m"],
    ));
    assert!(
        url.starts_with(&format!("http://{http}/s/")) && url.ends_with("/report.pdf"),
        "{url}"
    );
    let id = id_of(&url).to_owned();
    assert!(
        expiry.starts_with(&format!("link {id} expires 20")),
        "{expiry}"
    );
    let got = fetch(http, &url, "");
    assert_eq!((got.status, got.body), (200, bytes));

    // `-q`: the address alone, for `url=$(ferry share -q ...)`.
    let quiet = success(&ferry(
        dir.path(),
        server.addr,
        alice,
        &["share", "-q", "/docs/report.pdf"],
    ));
    assert!(
        quiet.starts_with("http://") && quiet.lines().count() == 1,
        "{quiet:?}"
    );

    let list = success(&ferry(dir.path(), server.addr, alice, &["share", "list"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(
        lines[0],
        "ID\tPATH\tMODE\tEXPIRES\tDOWNLOADS\tPASSWORD\tURL"
    );
    assert_eq!(lines.len(), 3, "{list}");
    // Oldest first; two made in one second, by id.
    let first = lines.iter().find(|l| l.starts_with(&id)).unwrap();
    let first: Vec<&str> = first.split('\t').collect();
    assert_eq!(first[..3], [id.as_str(), "docs/report.pdf", "read"]);
    // Downloads are counted for links with a limit only.
    assert_eq!(first[4..], ["0/-", "no", url.as_str()]);
    // Another token's list has none of them.
    let bobs = success(&ferry(
        dir.path(),
        server.addr,
        &tokens[1],
        &["share", "ls"],
    ));
    assert_eq!(bobs, "no share links\n");

    assert_eq!(
        success(&ferry(
            dir.path(),
            server.addr,
            alice,
            &["share", "rm", &id]
        )),
        format!("revoked {id}\n")
    );
    assert_eq!(fetch(http, &url, "").status, 404);
    let again = failure(
        &ferry(dir.path(), server.addr, alice, &["share", "rm", &id]),
        1,
    );
    assert!(again.contains("no such link"), "{again}");
}

#[test]
fn a_link_needs_its_creators_grant_and_the_servers_terms() {
    let (server, tokens, dir) = server();
    server.write_files(&["docs/report.pdf"]);
    // bob may write but not read: no download link of his.
    let refused = failure(
        &ferry(
            dir.path(),
            server.addr,
            &tokens[1],
            &["share", "docs/report.pdf"],
        ),
        1,
    );
    assert_eq!(
        refused,
        "ferry: share docs/report.pdf: token bob may not read \"docs/report.pdf\""
    );
    let too_long = failure(
        &ferry(
            dir.path(),
            server.addr,
            &tokens[0],
            &["share", "docs/report.pdf", "--expires", "2h"],
        ),
        1,
    );
    assert!(
        too_long.ends_with("a link lasts 1 to 3600 seconds on this server (--share-max-expiry)"),
        "{too_long}"
    );
    let missing = failure(
        &ferry(
            dir.path(),
            server.addr,
            &tokens[0],
            &["share", "nothing.txt"],
        ),
        1,
    );
    assert!(missing.contains("nothing.txt"), "{missing}");
    let usage = failure(&ferry(dir.path(), server.addr, &tokens[0], &["share"]), 2);
    assert!(usage.contains("ferry share list"), "{usage}");
}

#[test]
fn an_upload_link_of_a_folder_takes_files_and_a_folder_named_bare_is_shared_whole() {
    let (server, tokens, dir) = server();
    let http = server.http.unwrap();
    server.write_files(&["inbox/old.txt", "photos/a.jpg"]);
    let (_, url) = made(&ferry(
        dir.path(),
        server.addr,
        &tokens[0],
        &["share", "inbox", "--upload"],
    ));
    assert!(url.ends_with(&format!("/s/{}/", id_of(&url))), "{url}");
    let path = url.strip_prefix(&format!("http://{http}")).unwrap();
    let put = exchange(
        http,
        "PUT",
        &format!("{path}new.txt"),
        &format!("Host: {http}\r\n"),
        b"hello",
    );
    assert_eq!(put.status, 201, "{}", put.text());
    assert_eq!(
        std::fs::read(server.path("inbox/new.txt")).unwrap(),
        b"hello"
    );
    assert_eq!(fetch(http, &format!("{url}old.txt"), "").status, 403);

    // `photos` is a folder: shared as `photos/`, its files below its address.
    let (_, url) = made(&ferry(
        dir.path(),
        server.addr,
        &tokens[0],
        &["share", "photos"],
    ));
    assert_eq!(fetch(http, &format!("{url}a.jpg"), "").status, 200);
    let list = success(&ferry(
        dir.path(),
        server.addr,
        &tokens[0],
        &["share", "list"],
    ));
    assert!(
        list.contains("\tinbox/\tupload\t") && list.contains("\tphotos/\tread\t"),
        "{list}"
    );
}

#[test]
fn a_password_is_asked_and_never_logged_and_a_download_limit_holds() {
    let (server, tokens, dir) = server();
    let http = server.http.unwrap();
    server.write_files(&["docs/report.pdf"]);
    let output = binary::ferry(dir.path())
        .args([
            "-v",
            "share",
            "docs/report.pdf",
            "--password-env",
            "LINK_PW",
            "--max-downloads",
            "1",
        ])
        .args(["--server", &server.addr.to_string(), "--token", &tokens[0]])
        .env("LINK_PW", "open sesame")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", binary::stderr(&output));
    let log = binary::stderr(&output);
    assert!(
        log.contains("> SHARE docs/report.pdf read max=1 password=(left out)"),
        "{log}"
    );
    assert!(!log.contains("sesame"), "the password in the log: {log}");
    let url = binary::stdout(&output).lines().last().unwrap().to_owned();

    assert_eq!(fetch(http, &url, "").status, 401);
    let basic = base64::engine::general_purpose::STANDARD.encode("x:open sesame");
    let with = format!("Authorization: Basic {basic}\r\n");
    assert_eq!(fetch(http, &url, &with).status, 200);
    assert_eq!(fetch(http, &url, &with).status, 410, "one download, used");
    let list = success(&ferry(
        dir.path(),
        server.addr,
        &tokens[0],
        &["share", "list"],
    ));
    assert!(list.contains("\t1/1\tyes\t"), "{list}");

    // From a file: its first line.
    std::fs::write(dir.path().join("pw"), "from a file\n").unwrap();
    let (_, url) = made(&ferry(
        dir.path(),
        server.addr,
        &tokens[0],
        &["share", "docs/report.pdf", "--password-file", "pw"],
    ));
    let basic = base64::engine::general_purpose::STANDARD.encode("x:from a file");
    assert_eq!(
        fetch(http, &url, &format!("Authorization: Basic {basic}\r\n")).status,
        200
    );
}

#[test]
fn the_public_url_begins_every_links_address_and_a_server_without_http_makes_none() {
    let (server, tokens, dir) = guarded_with(&[("alice", &["read:/"])], &[], |config| {
        config.shares.public_url = Some("https://files.example.com/ferry".into());
    });
    server.write_files(&["a.txt"]);
    let (_, url) = made(&ferry(
        dir.path(),
        server.addr,
        &tokens[0],
        &["share", "a.txt"],
    ));
    assert!(
        url.starts_with("https://files.example.com/ferry/s/") && url.ends_with("/a.txt"),
        "{url}"
    );
    // The HTTP dialect's JSON says the same.
    let http = server.http.unwrap();
    let headers = format!("Host: {http}\r\n{}", bearer(&tokens[0]));
    let json = exchange(
        http,
        "POST",
        "/.ferry-shares",
        &headers,
        br#"{"path":"a.txt"}"#,
    );
    assert!(
        json.text()
            .contains(r#""url":"https://files.example.com/ferry/s/"#),
        "{}",
        json.text()
    );

    let plain = TestServer::start();
    plain.write_files(&["a.txt"]);
    let refused = failure(&binary::run(dir.path(), plain.addr, &["share", "a.txt"]), 1);
    assert_eq!(
        refused,
        "ferry: share a.txt: share links are served over HTTP, and this server has no HTTP listener (ferry serve --http ADDR)"
    );
}

/// The server's own log at its most (`--log-level trace`) names the
/// link, never its password nor its whole id: neither as it is made over
/// FERRY/1 nor as it is given over HTTP.
#[test]
fn the_servers_log_never_holds_a_links_password() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/r.txt"), b"report").unwrap();
    let server = crate::support::process::Process::start(
        &root,
        &["--http", "127.0.0.1:0", "--log-level", "trace"],
    );
    let http = server.http_addr();
    let output = binary::ferry(dir.path())
        .args(["share", "docs/r.txt", "--password-env", "LINK_PW"])
        .args(["--server", &server.addr.to_string()])
        .env("LINK_PW", "correct horse")
        .output()
        .unwrap();
    let url = binary::stdout(&output).lines().last().unwrap().to_owned();
    let basic = base64::engine::general_purpose::STANDARD.encode("x:correct horse");
    let got = fetch(http, &url, &format!("Authorization: Basic {basic}\r\n"));
    assert_eq!((got.status, got.body), (200, b"report".to_vec()));
    server.wait_for_log("SHARE read");
    server.wait_for_log("GET docs/r.txt");
    // Nor its whole id, which is the link itself where it has no
    // password: six characters of it name it in every line.
    let id = url.split("/s/").nth(1).unwrap().split('/').next().unwrap();
    for secret in ["correct", "horse", &basic, id] {
        assert_eq!(server.log_lines(secret), Vec::<String>::new(), "{secret}");
    }
}
