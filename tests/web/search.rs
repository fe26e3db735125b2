//! The web page's search (`GET /<dir>/?q=`) over real sockets: names
//! matched without regard to case at any depth, files and folders, only
//! what the token may read, never a reserved `.ferry-*` name, the cap on
//! results said with `truncated`, and the refusals.
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

use crate::support;

use support::TestServer;
use support::http::{Answer, bearer, exchange};
use support::tokens::guarded;

const HOST: &str = "Host: localhost\r\n";

fn write_files(server: &TestServer, names: &[&str]) {
    for name in names {
        std::fs::create_dir_all(server.path(name).parent().unwrap()).unwrap();
        std::fs::write(server.path(name), b"abc").unwrap();
    }
}

/// The results' names, and `truncated`.
fn results(answer: &Answer) -> (Vec<String>, bool) {
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.header("Content-Type"), Some("application/json"));
    let value: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let names = value["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let name = r["name"].as_str().unwrap();
            assert_eq!(r["folder"].as_bool().unwrap(), name.ends_with('/'), "{r}");
            assert!(r["mtime"].as_i64().unwrap() > 0, "{r}");
            if !name.ends_with('/') {
                assert_eq!(r["size"].as_u64(), Some(3), "{r}");
            }
            name.to_owned()
        })
        .collect();
    (names, value["truncated"].as_bool().unwrap())
}

#[test]
fn a_search_finds_names_at_any_depth_in_any_case() {
    let server = TestServer::start_http();
    write_files(
        &server,
        &[
            "d/Report.txt",
            "d/a/b/c/old-REPORT.csv",
            "d/a/reports/x.bin",
            "d/a/other.txt",
            "elsewhere/report.txt",
        ],
    );
    let addr = server.http.unwrap();
    let answer = exchange(addr, "GET", "/d/?q=rEpOrT", HOST, b"");
    let want = ["d/Report.txt", "d/a/b/c/old-REPORT.csv", "d/a/reports/"];
    let (mut names, truncated) = results(&answer);
    names.sort();
    let mut want: Vec<String> = want.iter().map(|n| n.to_string()).collect();
    want.sort();
    assert_eq!((names, truncated), (want, false));
    // A folder's name matches as itself, not as each file in it.
    let (names, _) = results(&exchange(addr, "GET", "/d/?q=reports", HOST, b""));
    assert_eq!(names, ["d/a/reports/"]);
    // From the root, everything below it.
    let (names, _) = results(&exchange(addr, "GET", "/?q=report.txt", HOST, b""));
    assert_eq!(names, ["d/Report.txt", "elsewhere/report.txt"]);
    // Nothing found is an empty list, not an error.
    let (names, _) = results(&exchange(addr, "GET", "/d/?q=nowhere", HOST, b""));
    assert!(names.is_empty());
}

#[test]
fn a_search_shows_only_what_the_token_may_read_and_never_reserved_names() {
    let grants: &[&str] = &["read:d/open/", "read:d/also/"];
    let (server, tokens, _dir) = guarded(&[("t", grants)], &[]);
    write_files(
        &server,
        &[
            "d/open/a.txt",
            "d/open/deep/b.txt",
            "d/shut/c.txt",
            "d/shut/open-too/e.txt",
            "d/also/top.txt",
            "d/hidden.txt",
        ],
    );
    // Reserved names (the server's own) are never results.
    std::fs::write(server.path("d/open/.ferry-tmp-x.txt"), b"abc").unwrap();
    std::fs::create_dir_all(server.path("d/open/.ferry-props")).unwrap();
    std::fs::write(server.path("d/open/.ferry-props/y.txt"), b"abc").unwrap();
    let addr = server.http.unwrap();
    let fields = format!("{HOST}{}", bearer(&tokens[0]));
    let (mut names, _) = results(&exchange(addr, "GET", "/d/?q=.txt", &fields, b""));
    names.sort();
    assert_eq!(
        names,
        ["d/also/top.txt", "d/open/a.txt", "d/open/deep/b.txt"]
    );
    // A folder shows only if it leads to something the token may read.
    let (names, _) = results(&exchange(addr, "GET", "/d/?q=open", &fields, b""));
    assert_eq!(names, ["d/open/"]);
    let (names, _) = results(&exchange(addr, "GET", "/d/?q=ferry", &fields, b""));
    assert!(names.is_empty(), "{names:?}");
    // Without a token, nothing at all.
    assert_eq!(exchange(addr, "GET", "/d/?q=a", HOST, b"").status, 401);
}

#[test]
fn a_search_stops_at_its_cap_and_says_so() {
    let server = TestServer::start_http();
    let dir = server.path("many");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..1_005 {
        std::fs::write(dir.join(format!("hit-{i:04}")), b"abc").unwrap();
    }
    let addr = server.http.unwrap();
    let (names, truncated) = results(&exchange(addr, "GET", "/many/?q=HIT", HOST, b""));
    assert_eq!(names.len(), 1_000);
    assert!(truncated);
    assert_eq!(names[0], "many/hit-0000");
    let (names, truncated) = results(&exchange(addr, "GET", "/many/?q=hit-100", HOST, b""));
    assert_eq!((names.len(), truncated), (5, false));
}

#[test]
fn a_search_of_nothing_or_of_no_folder_is_refused() {
    let server = TestServer::start_http();
    write_files(&server, &["d/a"]);
    let addr = server.http.unwrap();
    assert_eq!(exchange(addr, "GET", "/d/?q=", HOST, b"").status, 400);
    assert_eq!(exchange(addr, "GET", "/d/?q=%ZZ", HOST, b"").status, 400);
    assert_eq!(exchange(addr, "GET", "/none/?q=a", HOST, b"").status, 404);
    let head = exchange(addr, "HEAD", "/d/?q=a", HOST, b"");
    assert_eq!(head.status, 200, "{}", head.head);
    assert!(head.body.is_empty());
}
