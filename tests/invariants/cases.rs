//! What no operation may do to the tree, whichever protocol asks (issue
//! 49; `serve/invariants.rs`, `serve/access.rs`, `serve/folders.rs`), over
//! real sockets: nothing moved or copied onto what holds it (the WebDAV
//! `MOVE /g/sub/` onto `/g/` that used to delete the tree), a grant on a
//! folder covers what is inside it and not the folder itself, a copy makes
//! no folder its token may not write, answers never name what their token
//! may not read, a collection's URL without its `/` names it, and FTP's
//! `DELE` takes no folder.
#![cfg(all(feature = "webdav", feature = "s3"))] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::collections::BTreeMap;

use support::TestServer;
use support::dav::parse;
use support::http::{Answer, bearer, exchange};
use support::tokens::guarded;

const HOST: &str = "Host: localhost\r\n";

fn write_files(server: &TestServer, names: &[&str]) {
    for name in names {
        std::fs::create_dir_all(server.path(name).parent().unwrap()).unwrap();
        std::fs::write(server.path(name), name.as_bytes()).unwrap();
    }
}

/// The statuses of a multistatus's responses, by href.
fn statuses(answer: &Answer) -> BTreeMap<String, String> {
    parse(answer)
        .responses
        .into_iter()
        .map(|r| {
            let status = r.props.keys().next().map_or(String::new(), u16::to_string);
            (r.href, status)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Nothing lands on what holds it
// ---------------------------------------------------------------------------

#[test]
fn a_folder_moved_or_copied_onto_its_parent_is_refused_and_nothing_is_lost() {
    let server = TestServer::start_http();
    write_files(&server, &["g/sub/a", "g/sub/deep/b", "g/c"]);
    let addr = server.http.unwrap();
    for method in ["MOVE", "COPY"] {
        for overwrite in ["", "Overwrite: T\r\n"] {
            for to in ["/g/", "/g", "/"] {
                let fields = format!("{HOST}Destination: {to}\r\n{overwrite}");
                let answer = exchange(addr, method, "/g/sub/", &fields, b"");
                // The root is no name a Destination can give: 400.
                let expected = if to == "/" { 400 } else { 409 };
                assert_eq!(answer.status, expected, "{method} to {to} {overwrite}");
            }
        }
    }
    for name in ["g/sub/a", "g/sub/deep/b", "g/c"] {
        assert_eq!(std::fs::read(server.path(name)).unwrap(), name.as_bytes());
    }
}

#[test]
fn a_file_moved_or_copied_onto_its_folder_is_refused_by_every_protocol() {
    let server = TestServer::start_http();
    write_files(&server, &["g/f.txt", "g/h/i.txt"]);
    let addr = server.http.unwrap();
    for method in ["MOVE", "COPY"] {
        for (from, to) in [("/g/f.txt", "/g/"), ("/g/h/i.txt", "/g")] {
            for overwrite in ["", "Overwrite: T\r\n"] {
                let fields = format!("{HOST}Destination: {to}\r\n{overwrite}");
                let answer = exchange(addr, method, from, &fields, b"");
                assert_eq!(
                    answer.status, 409,
                    "{method} {from} to {to}: {}",
                    answer.head
                );
            }
        }
    }
    // ferry's own HTTP MOVE and FERRY/1's.
    let fields = format!("{HOST}Destination: /g\r\n");
    assert_eq!(exchange(addr, "MOVE", "/g/f.txt", &fields, b"").status, 409);
    let mut raw = server.raw();
    raw.send("MOVE g/f.txt g\n");
    assert!(raw.line().starts_with("ERR 409"));
    for name in ["g/f.txt", "g/h/i.txt"] {
        assert_eq!(std::fs::read(server.path(name)).unwrap(), name.as_bytes());
    }
}

// ---------------------------------------------------------------------------
// Grants: a folder's own name, every folder a copy makes
// ---------------------------------------------------------------------------

#[test]
fn a_delete_grant_on_a_folder_covers_what_it_holds_not_the_folder() {
    let holders: &[(&str, &[&str])] = &[("t", &["read:/", "delete:e/", "write:/"])];
    let (server, tokens, _dir) = guarded(holders, &[]);
    write_files(&server, &["e/a", "e/sub/b"]);
    let addr = server.http.unwrap();
    let auth = bearer(&tokens[0]);
    let answer = exchange(addr, "DELETE", "/e/", &format!("{HOST}{auth}"), b"");
    let expected: BTreeMap<String, String> = [("/e/".to_owned(), "403".to_owned())].into();
    assert_eq!(statuses(&answer), expected);
    assert!(
        server.path("e").is_dir(),
        "the folder e went with a grant on e/"
    );
    assert!(!server.path("e/a").exists() && !server.path("e/sub").exists());
    // Its MOVE takes the folder itself: refused whole.
    write_files(&server, &["e/c"]);
    let fields = format!("{HOST}{auth}Destination: /f/\r\n");
    assert_eq!(exchange(addr, "MOVE", "/e/", &fields, b"").status, 403);
    assert!(server.path("e/c").is_file() && !server.path("f").exists());
}

#[test]
fn a_copy_makes_no_folder_its_token_may_not_write() {
    let holders: &[(&str, &[&str])] = &[("t", &["read:/", "write:b/x/y/"])];
    let (server, tokens, _dir) = guarded(holders, &[]);
    write_files(&server, &["a/f", "a/sub/g"]);
    std::fs::create_dir_all(server.path("b")).unwrap();
    let addr = server.http.unwrap();
    let fields = format!("{HOST}{}Destination: /b/x/\r\n", bearer(&tokens[0]));
    let answer = exchange(addr, "COPY", "/a/", &fields, b"");
    assert_eq!(answer.status, 403, "{}", answer.head);
    assert!(!server.path("b/x").exists(), "b/x was made");
    // Into the folder it may write, the copy is whole.
    std::fs::create_dir_all(server.path("b/x/y")).unwrap();
    let fields = format!("{HOST}{}Destination: /b/x/y/c/\r\n", bearer(&tokens[0]));
    assert_eq!(exchange(addr, "COPY", "/a/", &fields, b"").status, 201);
    assert!(server.path("b/x/y/c/sub/g").is_file());
}

// ---------------------------------------------------------------------------
// Answers never name what their token may not read
// ---------------------------------------------------------------------------

const SECRETS: [&str; 3] = [
    "a/secret.txt",
    "a/topsecret-project/plan.txt",
    "a/deep/x/y.txt",
];

fn assert_unnamed(answer: &Answer) {
    let body = answer.text();
    for word in ["secret", "plan", "deep", "y.txt"] {
        assert!(!body.contains(word), "{word} named in {body}");
    }
}

#[test]
fn a_folders_copy_passes_over_what_its_token_may_not_read() {
    let holders: &[(&str, &[&str])] = &[("t", &["read:a/sub/", "write:home/"])];
    let (server, tokens, _dir) = guarded(holders, &[]);
    write_files(&server, &SECRETS);
    write_files(&server, &["a/sub/mine.txt"]);
    std::fs::create_dir_all(server.path("home")).unwrap();
    let addr = server.http.unwrap();
    for accept in ["", "Accept: application/json\r\n"] {
        let _ = std::fs::remove_dir_all(server.path("home/copy"));
        let fields = format!(
            "{HOST}{accept}{}Destination: /home/copy/\r\n",
            bearer(&tokens[0])
        );
        let answer = exchange(addr, "COPY", "/a/", &fields, b"");
        assert_eq!(answer.status, 201, "{}", answer.text());
        assert_unnamed(&answer);
        assert!(server.path("home/copy/sub/mine.txt").is_file());
        let made = support::entries(&server.path("home/copy"));
        assert_eq!(made, ["sub"], "folders made after hidden ones");
    }
}

#[test]
fn a_folders_delete_counts_what_its_token_may_not_read_without_naming_it() {
    let holders: &[(&str, &[&str])] = &[("t", &["read:a/sub/", "delete:a/sub/"])];
    let (server, tokens, _dir) = guarded(holders, &[]);
    write_files(&server, &SECRETS);
    let addr = server.http.unwrap();
    for accept in ["", "Accept: application/json\r\n"] {
        write_files(&server, &["a/sub/mine.txt"]);
        let fields = format!("{HOST}{accept}{}", bearer(&tokens[0]));
        let answer = exchange(addr, "DELETE", "/a/", &fields, b"");
        assert_eq!(answer.status, 207, "{}", answer.text());
        assert_unnamed(&answer);
        assert!(answer.text().contains("sub/"), "{}", answer.text());
        assert!(!server.path("a/sub/mine.txt").exists());
    }
    for name in SECRETS {
        assert!(server.path(name).is_file(), "{name}");
    }
}

// ---------------------------------------------------------------------------
// A collection's URL without its slash
// ---------------------------------------------------------------------------

#[test]
fn a_collection_without_its_slash_is_deleted_moved_and_copied_as_itself() {
    let server = TestServer::start_http();
    write_files(&server, &["wc/a", "wc/sub/b"]);
    let addr = server.http.unwrap();
    let copied = exchange(
        addr,
        "COPY",
        "/wc",
        &format!("{HOST}Destination: /wc2\r\n"),
        b"",
    );
    assert_eq!(copied.status, 201, "{}", copied.head);
    assert!(server.path("wc2/sub/b").is_file());
    let moved = exchange(
        addr,
        "MOVE",
        "/wc2",
        &format!("{HOST}Destination: /wc3\r\n"),
        b"",
    );
    assert_eq!(moved.status, 201, "{}", moved.head);
    assert!(server.path("wc3/sub/b").is_file() && !server.path("wc2").exists());
    let found = exchange(
        addr,
        "PROPFIND",
        "/wc3",
        &format!("{HOST}Depth: 1\r\n"),
        b"",
    );
    assert_eq!(found.status, 207, "{}", found.head);
    for target in ["/wc", "/wc3"] {
        let deleted = exchange(addr, "DELETE", target, HOST, b"");
        assert_eq!(deleted.status, 204, "{target}: {}", deleted.head);
    }
    assert!(!server.path("wc").exists() && !server.path("wc3").exists());
    // FERRY/1's DEL is of files: a folder's name stays a conflict.
    write_files(&server, &["keep/a"]);
    let mut raw = server.raw();
    raw.send("DEL keep\n");
    assert!(raw.line().starts_with("ERR"));
    assert!(server.path("keep/a").is_file());
}

#[test]
fn s3_lists_only_the_multipart_uploads_of_keys_its_key_may_read() {
    use support::s3::{Payload, S3Server, texts};
    let holders: &[(&str, &[&str])] = &[
        ("owner", &["read:/", "write:/", "delete:/"]),
        ("guest", &["read:acme/public/"]),
    ];
    let s = S3Server::start(holders, &[]);
    let (owner, guest) = (&s.signers[0], &s.signers[1]);
    assert_eq!(owner.simple(s.s3, "PUT", "/acme", b"").status, 200);
    let mut ids = Vec::new();
    for key in ["confidential/plan.txt", "public/open.txt"] {
        let path = format!("/acme/{key}");
        let query: &[(&str, &str)] = &[("uploads", "")];
        let made = owner.send(s.s3, "POST", (&path, query), &[], b"", Payload::Signed);
        assert_eq!(made.status, 200, "{}", String::from_utf8_lossy(&made.body));
        ids.push(texts(&made.body, "UploadId").remove(0));
    }
    let query: &[(&str, &str)] = &[("uploads", "")];
    let listed = guest.send(s.s3, "GET", ("/acme", query), &[], b"", Payload::Signed);
    assert_eq!(
        listed.status,
        200,
        "{}",
        String::from_utf8_lossy(&listed.body)
    );
    assert_eq!(texts(&listed.body, "Key"), ["public/open.txt"]);
    let body = String::from_utf8_lossy(&listed.body);
    assert!(
        !body.contains("confidential") && !body.contains(&ids[0]),
        "{body}"
    );
    // The owner still sees both.
    let listed = owner.send(s.s3, "GET", ("/acme", query), &[], b"", Payload::Signed);
    assert_eq!(texts(&listed.body, "Key").len(), 2);
}

// ---------------------------------------------------------------------------
// Found by the model test (tests/invariants/model.rs), kept by name
// ---------------------------------------------------------------------------

const LOCKINFO: &str = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>";

#[test]
fn a_file_copied_or_moved_onto_a_folder_replaces_no_lock_inside_it() {
    let server = TestServer::start_http();
    write_files(&server, &["a/zz1", "a/pub/f"]);
    let addr = server.http.unwrap();
    // A lock inside the folder: on a file, and a reservation (lock-null).
    for name in ["/a/pub/f", "/a/pub/new"] {
        let locked = exchange(
            addr,
            "LOCK",
            name,
            &format!("{HOST}Depth: 0\r\n"),
            LOCKINFO.as_bytes(),
        );
        assert_eq!(locked.status / 100, 2, "{}", locked.head);
    }
    for method in ["COPY", "MOVE"] {
        let fields = format!("{HOST}Destination: /a/pub\r\nOverwrite: T\r\n");
        let answer = exchange(addr, method, "/a/zz1", &fields, b"");
        assert_eq!(answer.status, 423, "{method}: {}", answer.head);
    }
    assert!(server.path("a/pub/f").is_file() && server.path("a/zz1").is_file());
}

#[test]
fn a_lock_in_the_way_is_not_named_to_a_token_that_may_not_read_it() {
    let holders: &[(&str, &[&str])] = &[
        ("all", &["read:/", "write:/", "delete:/"]),
        ("part", &["read:a/pub/", "write:a/", "delete:a/"]),
    ];
    let (server, tokens, _dir) = guarded(holders, &[]);
    write_files(&server, &["a/s/zz2"]);
    let addr = server.http.unwrap();
    let fields = format!("{HOST}{}Depth: 0\r\n", bearer(&tokens[0]));
    let locked = exchange(addr, "LOCK", "/a/s/zz2", &fields, LOCKINFO.as_bytes());
    assert_eq!(locked.status, 200, "{}", locked.head);
    let answer = exchange(
        addr,
        "DELETE",
        "/a/s/",
        &format!("{HOST}{}", bearer(&tokens[1])),
        b"",
    );
    assert_eq!(answer.status, 423, "{}", answer.head);
    assert!(!answer.text().contains("zz2"), "{}", answer.text());
    let mut raw = server.raw();
    raw.send(format!("AUTH {}\nDEL a/s/zz2\n", tokens[1]));
    assert_eq!(raw.line(), "OK part");
    let refused = raw.line();
    assert!(refused.starts_with("ERR 423 "), "{refused}");
    assert!(server.path("a/s/zz2").is_file());
}

#[test]
fn every_s3_write_honours_a_lock() {
    use support::s3::{Payload, S3Server, code, texts};
    let holders: &[(&str, &[&str])] = &[("owner", &["read:/", "write:/", "delete:/"])];
    let s = S3Server::start(holders, &[]);
    let me = &s.signers[0];
    assert_eq!(me.simple(s.s3, "PUT", "/bkt", b"").status, 200);
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/locked", b"old").status, 200);
    assert_eq!(me.simple(s.s3, "PUT", "/bkt/other", b"new").status, 200);
    let fields = format!("{HOST}{}Depth: 0\r\n", bearer(&s.tokens[0]));
    let http = s.server.http.unwrap();
    let locked = exchange(http, "LOCK", "/bkt/locked", &fields, LOCKINFO.as_bytes());
    assert_eq!(locked.status, 200, "{}", locked.head);
    let refused = |answer: Answer, what: &str| {
        assert_eq!(answer.status, 409, "{what}: {}", answer.text());
        assert_eq!(code(&answer), "OperationAborted", "{what}");
    };
    refused(me.simple(s.s3, "PUT", "/bkt/locked", b"x"), "PutObject");
    let copy = [("x-amz-copy-source", "/bkt/other")];
    let copied = me.send(
        s.s3,
        "PUT",
        ("/bkt/locked", &[]),
        &copy,
        b"",
        Payload::Signed,
    );
    refused(copied, "CopyObject");
    refused(
        me.simple(s.s3, "DELETE", "/bkt/locked", b""),
        "DeleteObject",
    );
    // A multipart upload begun before the lock is taken does not complete.
    let query: &[(&str, &str)] = &[("uploads", "")];
    let begun = me.send(
        s.s3,
        "POST",
        ("/bkt/locked2", query),
        &[],
        b"",
        Payload::Signed,
    );
    let id = texts(&begun.body, "UploadId").remove(0);
    let part: &[(&str, &str)] = &[("partNumber", "1"), ("uploadId", &id)];
    let sent = me.send(
        s.s3,
        "PUT",
        ("/bkt/locked2", part),
        &[],
        b"part",
        Payload::Signed,
    );
    let etag = sent.header("ETag").unwrap().to_owned();
    let locked = exchange(http, "LOCK", "/bkt/locked2", &fields, LOCKINFO.as_bytes());
    assert_eq!(locked.status, 201, "{}", locked.head);
    let xml = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    let done: &[(&str, &str)] = &[("uploadId", &id)];
    let completed = me.send(
        s.s3,
        "POST",
        ("/bkt/locked2", done),
        &[],
        xml.as_bytes(),
        Payload::Signed,
    );
    refused(completed, "CompleteMultipartUpload");
    assert_eq!(std::fs::read(s.server.path("bkt/locked")).unwrap(), b"old");
    assert!(!s.server.path("bkt/locked2").exists());
}

// ---------------------------------------------------------------------------
// Found by the model once FTP joined it
// ---------------------------------------------------------------------------

/// FTP's `DELE` of a folder's name used to remove the folder and all it
/// held (the HTTP rule for a folder's URL without its `/`); FTP's `DELE`
/// takes a file alone (`RMD` an empty folder). And `RETR` of a folder's
/// name used to leave its client waiting for a transfer that never came.
#[test]
fn ftp_dele_and_retr_of_a_folder_are_refused_and_nothing_is_lost() {
    use support::ftp::{ask, connect, log_in, passive};
    let server = TestServer::start_with(support::listen_ftp);
    write_files(&server, &["b/s/g", "b/s/t/h"]);
    let mut raw = connect(&server);
    log_in(&mut raw, "any", "any");
    let refused = ask(&mut raw, "DELE /b/s");
    assert!(refused.starts_with("550 "), "{refused}");
    assert!(server.path("b/s/g").exists() && server.path("b/s/t/h").exists());
    let _data = std::net::TcpStream::connect(passive(&mut raw)).unwrap();
    let refused = ask(&mut raw, "RETR /b/s");
    assert!(refused.starts_with("550 "), "{refused}");
}
