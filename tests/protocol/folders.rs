//! FERRY/1's folder delete over real sockets: `DEL <folder>/` removes
//! the folder with what the token may delete and answers a bare `OK`, or
//! `OK <n>` and `n` bytes naming each member that stayed with its code
//! and reason (the rule is serve's, shared with HTTP's folder DELETE:
//! tests/web/folders.rs). A read-only server refuses it whole; a missing
//! folder, a file asked as a folder and the root are errors that leave
//! the connection going.

use crate::support;

use support::tokens::guarded;
use support::{Raw, TestServer};

fn write_files(server: &TestServer, names: &[&str]) {
    for name in names {
        std::fs::create_dir_all(server.path(name).parent().unwrap()).unwrap();
        std::fs::write(server.path(name), name.as_bytes()).unwrap();
    }
}

/// Sends `DEL <folder>` and reads its answer: the reply line and the
/// report's lines (none after a bare `OK` or an `ERR`).
fn delete(raw: &mut Raw, folder: &str) -> (String, Vec<String>) {
    raw.send(format!("DEL {folder}\n"));
    let line = raw.line();
    let Some(len) = line.strip_prefix("OK ") else {
        return (line, Vec::new());
    };
    let body = raw.bytes(len.parse().unwrap());
    let text = String::from_utf8(body).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.sort();
    (line, lines)
}

#[test]
fn a_folder_goes_with_all_it_holds_and_the_answer_is_a_bare_ok() {
    let server = TestServer::start();
    write_files(&server, &["d/a", "d/sub/b", "d/sub/deeper/c", "keep"]);
    let mut raw = server.raw();
    assert_eq!(delete(&mut raw, "d/"), ("OK".to_owned(), vec![]));
    assert!(!server.path("d").exists());
    assert!(server.path("keep").exists());
    // The connection goes on.
    raw.send("STAT keep\n");
    assert!(raw.line().starts_with("OK 4 "));
}

#[test]
fn what_the_token_may_not_delete_stays_and_is_named_with_its_reason() {
    let grants: &[&str] = &["read:/", "delete:d/open/"];
    let (server, tokens, _dir) = guarded(&[("t", grants)], &[]);
    write_files(
        &server,
        &["d/open/a", "d/open/deep/b", "d/shut/c", "d/top file"],
    );
    let mut raw = server.raw();
    raw.send(format!("AUTH {}\n", tokens[0]));
    assert_eq!(raw.line(), "OK t");
    let (line, report) = delete(&mut raw, "d/");
    assert!(line.starts_with("OK "), "{line}");
    assert_eq!(report.len(), 2, "{report:?}");
    assert!(report[0].starts_with("403 d/shut/c "), "{report:?}");
    // Names are encoded as in LIST: a space is %20.
    assert!(report[1].starts_with("403 d/top%20file "), "{report:?}");
    assert!(
        report
            .iter()
            .all(|l| l.splitn(3, ' ').nth(2).is_some_and(|r| !r.is_empty()))
    );
    assert!(!server.path("d/open").exists(), "what it may delete went");
    assert_eq!(std::fs::read(server.path("d/shut/c")).unwrap(), b"d/shut/c");
    assert!(server.path("d/top file").exists());
}

#[test]
fn a_token_without_delete_is_refused_before_anything_goes() {
    let (server, tokens, _dir) = guarded(&[("r", &["read:/"])], &[]);
    write_files(&server, &["d/a"]);
    let mut raw = server.raw();
    raw.send(format!("AUTH {}\n", tokens[0]));
    assert_eq!(raw.line(), "OK r");
    let (line, _) = delete(&mut raw, "d/");
    assert!(line.starts_with("ERR 403 "), "{line}");
    assert!(server.path("d/a").exists());
}

#[test]
fn a_read_only_server_refuses_a_folders_delete() {
    let server = TestServer::start_with(|c| c.read_only = true);
    write_files(&server, &["d/a"]);
    let mut raw = server.raw();
    let (line, report) = delete(&mut raw, "d/");
    assert!(line.starts_with("ERR 403 "), "{line}");
    assert!(report.is_empty());
    assert!(server.path("d/a").exists());
}

#[test]
fn a_missing_folder_a_file_and_the_root_are_errors_and_the_connection_goes_on() {
    let server = TestServer::start();
    write_files(&server, &["file.txt", "d/a"]);
    let mut raw = server.raw();
    let (line, _) = delete(&mut raw, "nothing/");
    assert!(line.starts_with("ERR 404 "), "{line}");
    // A file's name with a trailing slash names no folder.
    let (line, _) = delete(&mut raw, "file.txt/");
    assert!(
        line.starts_with("ERR 404 ") || line.starts_with("ERR 409 "),
        "{line}"
    );
    assert!(server.path("file.txt").exists());
    let (line, _) = delete(&mut raw, "/");
    assert!(line.starts_with("ERR 403 "), "{line}");
    assert!(server.path("d/a").exists());
    // Without the slash a folder is still refused as a file's DEL is.
    let (line, _) = delete(&mut raw, "d");
    assert!(line.starts_with("ERR 409 "), "{line}");
    raw.send("STAT file.txt\n");
    assert!(raw.line().starts_with("OK 8 "));
}
