//! Folders as the web page manages them, over ferry's HTTP on real
//! sockets: a folder's `DELETE` (each file checked against the grants,
//! what stayed told in JSON to a client that asks for it), a folder's
//! `MOVE` as the page sends it (one rename: contents intact, the old name
//! gone) and a move into itself refused. The WebDAV forms of the same
//! operations are tests/webdav/methods.rs's.
#![cfg(all(feature = "web", feature = "webdav"))] // built with what it tests (Cargo.toml [features])

use crate::support;

use support::TestServer;
use support::http::{Answer, bearer, exchange};
use support::tokens::guarded;

const HOST: &str = "Host: localhost\r\n";
/// What the page sends with a folder's DELETE or MOVE.
const JSON: &str = "Accept: application/json\r\n";

fn write_files(server: &TestServer, names: &[&str]) {
    for name in names {
        std::fs::create_dir_all(server.path(name).parent().unwrap()).unwrap();
        std::fs::write(server.path(name), name.as_bytes()).unwrap();
    }
}

/// The `(name, status)` pairs of a JSON report, and its `more`.
fn report(answer: &Answer) -> (Vec<(String, u64)>, u64) {
    assert_eq!(answer.status, 207, "{}", answer.head);
    assert_eq!(answer.header("Content-Type"), Some("application/json"));
    let value: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let mut failed: Vec<(String, u64)> = value["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert!(!f["reason"].as_str().unwrap().is_empty(), "{f}");
            (
                f["name"].as_str().unwrap().to_owned(),
                f["status"].as_u64().unwrap(),
            )
        })
        .collect();
    failed.sort();
    (failed, value["more"].as_u64().unwrap())
}

#[test]
fn a_folders_delete_leaves_what_the_token_may_not_delete_and_names_it_in_json() {
    let grants: &[&str] = &["read:/", "delete:d/open/", "delete:d/x"];
    let (server, tokens, _dir) = guarded(&[("t", grants)], &[]);
    write_files(&server, &["d/open/a", "d/open/deep/b", "d/shut/c", "d/top"]);
    let fields = format!("{HOST}{JSON}{}", bearer(&tokens[0]));
    let answer = exchange(server.http.unwrap(), "DELETE", "/d/", &fields, b"");
    // The grant on d/open/ is on what it holds, not on the folder d/open.
    let want = vec![
        ("d/open/".to_owned(), 403),
        ("d/shut/c".to_owned(), 403),
        ("d/top".to_owned(), 403),
    ];
    assert_eq!(report(&answer), (want, 0));
    assert!(
        support::entries(&server.path("d/open")).is_empty(),
        "what it may delete went"
    );
    assert_eq!(std::fs::read(server.path("d/shut/c")).unwrap(), b"d/shut/c");
    assert!(server.path("d/top").exists());
}

#[test]
fn a_folders_delete_that_removes_all_is_204_in_any_form() {
    let server = TestServer::start_http();
    write_files(&server, &["d/a", "d/sub/b"]);
    let fields = format!("{HOST}{JSON}");
    let answer = exchange(server.http.unwrap(), "DELETE", "/d/", &fields, b"");
    assert_eq!(answer.status, 204, "{}", answer.head);
    assert!(!server.path("d").exists());
}

#[test]
fn a_folder_moves_in_one_rename_with_all_it_holds() {
    let server = TestServer::start_http();
    write_files(&server, &["old/a", "old/sub/b", "old/sub/deeper/c", "to/x"]);
    let addr = server.http.unwrap();
    // The page's rename: the folder's URL and its new one, both ending in
    // `/`, never replacing what is there.
    let fields = format!("{HOST}{JSON}Destination: /to/new/\r\nOverwrite: F\r\n");
    let answer = exchange(addr, "MOVE", "/old/", &fields, b"");
    assert_eq!(answer.status, 201, "{}", answer.head);
    assert!(!server.path("old").exists(), "the old name is gone");
    for name in ["a", "sub/b", "sub/deeper/c"] {
        let bytes = std::fs::read(server.path(&format!("to/new/{name}"))).unwrap();
        assert_eq!(bytes, format!("old/{name}").as_bytes());
    }
    // A name taken is not replaced.
    write_files(&server, &["two/y"]);
    let fields = format!("{HOST}{JSON}Destination: /to/\r\nOverwrite: F\r\n");
    assert_eq!(exchange(addr, "MOVE", "/two/", &fields, b"").status, 412);
    assert!(server.path("two/y").exists() && server.path("to/x").exists());
}

#[test]
fn a_folder_is_not_moved_into_itself() {
    let server = TestServer::start_http();
    write_files(&server, &["a/b/c"]);
    let addr = server.http.unwrap();
    for to in ["/a/b/", "/a/", "/a/new/deeper/"] {
        let fields = format!("{HOST}{JSON}Destination: {to}\r\nOverwrite: F\r\n");
        let answer = exchange(addr, "MOVE", "/a/", &fields, b"");
        assert!(
            matches!(answer.status, 403 | 409),
            "MOVE /a/ to {to}: {}",
            answer.head
        );
    }
    assert!(server.path("a/b/c").exists());
}

#[test]
fn a_folders_move_needs_delete_on_all_of_it() {
    let grants: &[&str] = &["read:/", "write:/", "delete:d/open/"];
    let (server, tokens, _dir) = guarded(&[("t", grants)], &[]);
    write_files(&server, &["d/open/a", "d/shut/c"]);
    let fields = format!(
        "{HOST}{JSON}Destination: /e/\r\nOverwrite: F\r\n{}",
        bearer(&tokens[0])
    );
    let answer = exchange(server.http.unwrap(), "MOVE", "/d/", &fields, b"");
    assert_eq!(answer.status, 403, "{}", answer.head);
    assert!(server.path("d/open/a").exists() && server.path("d/shut/c").exists());
    assert!(!server.path("e").exists());
}
