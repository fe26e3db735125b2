//! WebDAV over real sockets: the one `OPTIONS` answer, `PROPFIND` of
//! folders and files at depth 0 and 1 (answers parsed with quick-xml, not
//! matched as text), what a token may see, bodies with a DTD or over the
//! limit, `MKCOL`, a folder's `DELETE`, `COPY` and `MOVE`, and Finder's
//! and Explorer's side files. Locks: locks.rs; dead properties:
//! props.rs; DAV clients' semantics: semantics.rs; the real clients:
//! tests/clients/webdav.rs (litmus) and webdav_mounts.rs.
#![cfg(feature = "webdav")] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::collections::BTreeMap;

use support::TestServer;
use support::dav::{Response, parse, propfind};
use support::http::{Answer, bearer, exchange, exchange_chunked};
use support::tokens::guarded;

const HOST: &str = "Host: localhost\r\n";

/// The responses of a multistatus, in order.
fn multistatus(answer: &Answer) -> Vec<Response> {
    parse(answer).responses
}

#[test]
fn options_carry_every_dialects_fields() {
    let server = TestServer::start_http();
    let answer = exchange(server.http.unwrap(), "OPTIONS", "/photos/", HOST, b"");
    assert_eq!(answer.status, 204, "{}", answer.head);
    assert_eq!(answer.header("DAV"), Some("1, 2"));
    assert_eq!(answer.header("MS-Author-Via"), Some("DAV"));
    assert_eq!(answer.header("Tus-Version"), Some("1.0.0"));
    let allow = answer.header("Allow").unwrap();
    for method in [
        "OPTIONS", "PROPFIND", "MKCOL", "GET", "POST", "LOCK", "UNLOCK",
    ] {
        assert!(allow.split(", ").any(|m| m == method), "{allow}");
    }
}

#[test]
fn propfind_lists_a_folder_at_depth_0_and_1() {
    let server = TestServer::start_http();
    std::fs::create_dir_all(server.path("d/sub")).unwrap();
    for name in ["d/a b.txt", "d/ü%.txt"] {
        std::fs::write(server.path(name), b"four").unwrap();
    }
    let addr = server.http.unwrap();
    for target in ["/d/", "/d"] {
        let one = multistatus(&propfind(addr, target, Some("1"), "", ""));
        let hrefs: Vec<&str> = one.iter().map(|r| r.href.as_str()).collect();
        assert_eq!(
            hrefs,
            ["/d/", "/d/sub/", "/d/a%20b.txt", "/d/%C3%BC%25.txt"]
        );
        let file = &one[2].props[&200];
        assert_eq!(file["{DAV:}getcontentlength"].text, "4");
        assert_eq!(file["{DAV:}displayname"].text, "a b.txt");
        assert!(one[1].props[&200].contains_key("{DAV:}resourcetype"));
        let zero = multistatus(&propfind(addr, target, Some("0"), "", ""));
        assert_eq!(zero.len(), 1);
        assert_eq!(zero[0].href, "/d/");
    }
    let get = exchange(addr, "HEAD", "/d/a%20b.txt", HOST, b"");
    let one = multistatus(&propfind(addr, "/d/", Some("1"), "", ""));
    assert_eq!(
        one[2].props[&200]["{DAV:}getetag"].text,
        get.header("ETag").unwrap()
    );
    // A plain GET of the folder is still the web page.
    let page = exchange(addr, "GET", "/d/", HOST, b"");
    assert!(
        page.header("Content-Type")
            .unwrap()
            .starts_with("text/html")
    );
}

#[test]
fn propfind_asks_by_name_in_any_namespace() {
    let server = TestServer::start_http();
    std::fs::create_dir_all(server.path("d")).unwrap();
    std::fs::write(server.path("d/f"), b"x").unwrap();
    let addr = server.http.unwrap();
    let body = r#"<?xml version="1.0"?><p:propfind xmlns:p="DAV:" xmlns:z="urn:z"><p:prop><p:getcontentlength/><z:color/></p:prop></p:propfind>"#;
    let one = multistatus(&propfind(addr, "/d/", Some("1"), "", body));
    let file = &one[1];
    assert_eq!(file.props[&200]["{DAV:}getcontentlength"].text, "1");
    assert!(file.props[&404].contains_key("{urn:z}color"));
    let names = r#"<propfind xmlns="DAV:"><propname/></propfind>"#;
    let one = multistatus(&propfind(addr, "/d/", Some("1"), "", names));
    assert_eq!(one[1].props[&200]["{DAV:}getetag"].text, "");
}

/// A PROPFIND body streamed in several chunks (as Go's net/http, Java's
/// and Node's clients send a body of unknown length) is read whole.
#[test]
fn a_propfind_body_in_several_chunks_is_read_whole() {
    let server = TestServer::start_http();
    std::fs::create_dir_all(server.path("d")).unwrap();
    std::fs::write(server.path("d/f"), b"x").unwrap();
    let body = r#"<?xml version="1.0"?><p:propfind xmlns:p="DAV:" xmlns:z="urn:z"><p:prop><p:getcontentlength/><z:color/></p:prop></p:propfind>"#;
    let fields = "Host: localhost\r\nDepth: 1\r\n";
    let addr = server.http.unwrap();
    let answer = exchange_chunked(addr, ("PROPFIND", "/d/"), fields, body.as_bytes(), 16);
    assert_eq!(answer.status, 207, "{}", answer.head);
    let one = multistatus(&answer);
    assert_eq!(one[1].props[&200]["{DAV:}getcontentlength"].text, "1");
    assert!(one[1].props[&404].contains_key("{urn:z}color"));
}

#[test]
fn propfind_without_a_finite_depth_is_refused() {
    let server = TestServer::start_http();
    let addr = server.http.unwrap();
    for depth in [None, Some("infinity")] {
        let answer = propfind(addr, "/", depth, "", "");
        assert_eq!(answer.status, 403, "{}", answer.head);
        let body = String::from_utf8(answer.body).unwrap();
        assert!(body.contains("propfind-finite-depth"), "{body}");
    }
}

#[test]
fn dtds_and_long_bodies_are_refused() {
    let server = TestServer::start_http();
    let addr = server.http.unwrap();
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><D:propfind xmlns:D="DAV:"><D:prop><D:x>&xxe;</D:x></D:prop></D:propfind>"#;
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><D:propfind xmlns:D="DAV:"><D:prop>&b;</D:prop></D:propfind>"#;
    for body in [xxe, laughs, "<not-xml"] {
        assert_eq!(propfind(addr, "/", Some("1"), "", body).status, 400);
    }
    let long = format!(
        r#"<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>{}"#,
        " ".repeat(64 * 1024)
    );
    assert_eq!(propfind(addr, "/", Some("1"), "", &long).status, 413);
}

#[test]
fn a_token_sees_only_what_it_may_read() {
    let (server, tokens, _dir) = guarded(&[("r", &["read:d/open/"])], &[]);
    for name in ["d/open/a", "d/shut/b"] {
        std::fs::create_dir_all(server.path(name).parent().unwrap()).unwrap();
        std::fs::write(server.path(name), b"x").unwrap();
    }
    let fields = bearer(&tokens[0]);
    let answer = propfind(server.http.unwrap(), "/d/", Some("1"), &fields, "");
    let hrefs: Vec<String> = multistatus(&answer).into_iter().map(|r| r.href).collect();
    assert_eq!(hrefs, ["/d/", "/d/open/"]);
}

#[test]
fn mkcol_makes_folders_whose_parent_exists() {
    let server = TestServer::start_http();
    let addr = server.http.unwrap();
    let mkcol = |target: &str, body: &[u8]| exchange(addr, "MKCOL", target, HOST, body).status;
    assert_eq!(mkcol("/new", b""), 201);
    assert!(server.path("new").is_dir());
    assert_eq!(mkcol("/new/", b""), 405);
    assert_eq!(mkcol("/missing/child/", b""), 409);
    assert_eq!(mkcol("/other", b"<x/>"), 415);
    assert!(!server.path("other").exists());
}

#[test]
fn a_read_only_server_refuses_mkcol() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.read_only = true;
    });
    let answer = exchange(server.http.unwrap(), "MKCOL", "/new/", HOST, b"");
    assert_eq!(answer.status, 403, "{}", answer.head);
    assert!(!server.path("new").exists());
}

/// The statuses of a multistatus's responses, by href (a response's own
/// `<D:status>`, as a folder's DELETE writes them).
fn statuses(answer: &Answer) -> BTreeMap<String, String> {
    multistatus(answer)
        .into_iter()
        .map(|r| {
            let status = r.props.keys().next().map_or(String::new(), u16::to_string);
            (r.href, status)
        })
        .collect()
}

fn write_files(server: &TestServer, names: &[&str]) {
    for name in names {
        std::fs::create_dir_all(server.path(name).parent().unwrap()).unwrap();
        std::fs::write(server.path(name), b"x").unwrap();
    }
}

#[test]
fn delete_removes_a_folder_with_all_it_holds() {
    let server = TestServer::start_http();
    write_files(&server, &["d/a", "d/sub/b", "d/sub/deeper/c"]);
    std::fs::create_dir_all(server.path("d/empty")).unwrap();
    let addr = server.http.unwrap();
    let delete = |target: &str| exchange(addr, "DELETE", target, HOST, b"");
    assert_eq!(delete("/d/").status, 204);
    assert!(!server.path("d").exists());
    assert!(server.path("").is_dir());
    assert_eq!(delete("/d/").status, 404);
    // A `#` in a target is part of the name, never a cut that widens
    // what goes (litmus `delete_fragment` calls that unsafe).
    std::fs::create_dir_all(server.path("frag")).unwrap();
    assert_eq!(delete("/frag/#ment").status, 404);
    assert!(server.path("frag").is_dir());
    assert_eq!(delete("/").status, 403);
}

#[test]
fn delete_of_a_folder_leaves_and_names_what_a_token_may_not_delete() {
    let grants: &[&str] = &["read:/", "delete:d/open/", "delete:d/x"];
    let (server, tokens, _dir) = guarded(&[("t", grants), ("none", &["read:/"])], &[]);
    write_files(&server, &["d/open/a", "d/open/deep/b", "d/shut/c", "d/top"]);
    let addr = server.http.unwrap();
    let delete = |token: &str| {
        let fields = format!("{HOST}{}", bearer(token));
        exchange(addr, "DELETE", "/d/", &fields, b"")
    };
    assert_eq!(delete(&tokens[1]).status, 403);
    assert!(server.path("d/open/a").exists());
    let answer = delete(&tokens[0]);
    // The grant on d/open/ is on what it holds, not on the folder d/open.
    let expected: BTreeMap<String, String> =
        [("/d/open/", "403"), ("/d/shut/c", "403"), ("/d/top", "403")]
            .into_iter()
            .map(|(href, status)| (href.to_owned(), status.to_owned()))
            .collect();
    assert_eq!(statuses(&answer), expected);
    assert!(support::entries(&server.path("d/open")).is_empty());
    assert!(server.path("d/shut/c").exists() && server.path("d/top").exists());
}

#[test]
fn a_read_only_server_refuses_to_delete_a_folder() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.read_only = true;
    });
    write_files(&server, &["d/a"]);
    let answer = exchange(server.http.unwrap(), "DELETE", "/d/", HOST, b"");
    assert_eq!(answer.status, 403, "{}", answer.head);
    assert!(server.path("d/a").exists());
}

#[test]
fn propfind_of_a_file_describes_it_alone() {
    let (server, tokens, _dir) = guarded(&[("r", &["read:d/open/"])], &["read:/"]);
    write_files(&server, &["d/open/a b.txt", "d/shut"]);
    let addr = server.http.unwrap();
    for depth in ["0", "1"] {
        let one = multistatus(&propfind(addr, "/d/open/a%20b.txt", Some(depth), "", ""));
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].href, "/d/open/a%20b.txt");
        let found = &one[0].props[&200];
        assert_eq!(found["{DAV:}getcontentlength"].text, "1");
        assert_eq!(found["{DAV:}resourcetype"].text, "");
    }
    assert_eq!(
        propfind(addr, "/d/open/missing", Some("0"), "", "").status,
        404
    );
    // What a token may not read is not there.
    let shut = propfind(addr, "/d/shut", Some("0"), &bearer(&tokens[0]), "");
    assert_eq!(shut.status, 403, "{}", shut.head);
}

/// COPY and MOVE of files (RFC 4918 9.8, 9.9): each status, and nothing
/// left behind by a refusal.
#[test]
fn copy_of_a_file_answers_each_status() {
    let server = TestServer::start_http();
    write_files(&server, &["a", "d/old"]);
    std::fs::write(server.path("a"), b"abc").unwrap();
    let addr = server.http.unwrap();
    let copy = |from: &str, fields: &str| {
        exchange(addr, "COPY", from, &format!("{HOST}{fields}"), b"").status
    };
    let before = server.files_on_disk();
    // Refusals touch nothing.
    assert_eq!(copy("/a", "Destination: /d/old\r\nOverwrite: F\r\n"), 412);
    assert_eq!(copy("/a", "Destination: /missing/b\r\n"), 409);
    assert_eq!(copy("/a", "Destination: /a\r\n"), 403);
    assert_eq!(copy("/a", "Destination: http://elsewhere:1/b\r\n"), 502);
    assert_eq!(copy("/nothere", "Destination: /b\r\n"), 404);
    assert_eq!(copy("/a", ""), 400);
    assert_eq!(copy("/a", "Destination: /b\r\nOverwrite: maybe\r\n"), 400);
    assert_eq!(server.files_on_disk(), before);
    assert!(!server.path("missing").exists());
    // 201 for a new name (an absolute URL of this server or a path), 204
    // for a file replaced; the copy's CRC-32C is told as a PUT's.
    assert_eq!(copy("/a", "Destination: http://localhost/b%20c\r\n"), 201);
    assert_eq!(std::fs::read(server.path("b c")).unwrap(), b"abc");
    assert_eq!(copy("/a", "Destination: /d/old\r\nOverwrite: T\r\n"), 204);
    assert_eq!(std::fs::read(server.path("d/old")).unwrap(), b"abc");
    assert_eq!(std::fs::read(server.path("a")).unwrap(), b"abc");
    let got = exchange(addr, "GET", "/d/old", HOST, b"");
    assert_eq!(got.body, b"abc");
}

#[test]
fn move_with_overwrite_f_keeps_the_destination() {
    let server = TestServer::start_http();
    write_files(&server, &["a", "b"]);
    let addr = server.http.unwrap();
    let move_ = |fields: &str| exchange(addr, "MOVE", "/a", &format!("{HOST}{fields}"), b"").status;
    assert_eq!(move_("Destination: /b\r\nOverwrite: F\r\n"), 412);
    assert!(server.path("a").exists() && server.path("b").exists());
    assert_eq!(move_("Destination: /c\r\nOverwrite: F\r\n"), 201);
    assert!(!server.path("a").exists() && server.path("c").exists());
}

#[test]
fn copy_needs_read_on_the_source_and_write_on_the_destination() {
    let holders: &[(&str, &[&str])] = &[
        ("both", &["read:src/", "write:dst/"]),
        ("reader", &["read:/"]),
        ("writer", &["write:/"]),
    ];
    let (server, tokens, _dir) = guarded(holders, &[]);
    write_files(&server, &["src/a", "dst/keep"]);
    let addr = server.http.unwrap();
    let copy = |token: &str, to: &str| {
        let fields = format!("{HOST}Destination: {to}\r\n{}", bearer(token));
        exchange(addr, "COPY", "/src/a", &fields, b"").status
    };
    let before = server.files_on_disk();
    assert_eq!(copy(&tokens[1], "/dst/b"), 403);
    assert_eq!(copy(&tokens[2], "/dst/b"), 403);
    assert_eq!(copy(&tokens[0], "/src/b"), 403);
    assert_eq!(server.files_on_disk(), before);
    assert_eq!(copy(&tokens[0], "/dst/b"), 201);
    assert!(server.path("dst/b").exists());
}

#[test]
fn a_read_only_server_refuses_copy_and_move() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.read_only = true;
    });
    write_files(&server, &["a"]);
    let addr = server.http.unwrap();
    for method in ["COPY", "MOVE"] {
        let fields = format!("{HOST}Destination: /b\r\n");
        let answer = exchange(addr, method, "/a", &fields, b"");
        assert_eq!(answer.status, 403, "{method}: {}", answer.head);
    }
    assert!(server.path("a").exists() && !server.path("b").exists());
}

#[test]
fn copy_of_a_folder_copies_its_tree_or_the_folder_alone() {
    let server = TestServer::start_http();
    write_files(&server, &["src/a", "src/sub/b"]);
    let addr = server.http.unwrap();
    let copy =
        |fields: &str| exchange(addr, "COPY", "/src/", &format!("{HOST}{fields}"), b"").status;
    assert_eq!(copy("Destination: /deep/\r\n"), 201);
    assert!(server.path("deep/a").is_file() && server.path("deep/sub/b").is_file());
    assert_eq!(copy("Destination: /shallow/\r\nDepth: 0\r\n"), 201);
    assert!(server.path("shallow").is_dir());
    assert_eq!(
        std::fs::read_dir(server.path("shallow")).unwrap().count(),
        0
    );
    // Named without its slash, the same: the folder alone at Depth 0
    // (it copied the whole tree).
    let fields = format!("{HOST}Destination: /bare\r\nDepth: 0\r\n");
    assert_eq!(exchange(addr, "COPY", "/src", &fields, b"").status, 201);
    assert!(server.path("bare").is_dir());
    assert_eq!(std::fs::read_dir(server.path("bare")).unwrap().count(), 0);
    assert_eq!(exchange(addr, "DELETE", "/bare/", HOST, b"").status, 204);
    let fields = format!("{HOST}Destination: /bare\r\nDepth: 1\r\n");
    assert_eq!(exchange(addr, "COPY", "/src", &fields, b"").status, 400);
    assert!(!server.path("bare").exists());
    // Onto a folder: 412 with Overwrite: F, else it is replaced (204).
    let before = server.files_on_disk();
    assert_eq!(copy("Destination: /deep/\r\nOverwrite: F\r\n"), 412);
    assert_eq!(copy("Destination: /src/sub/\r\n"), 403);
    assert_eq!(copy("Destination: /src/\r\n"), 403);
    assert_eq!(copy("Destination: /none/x/\r\n"), 409);
    assert_eq!(copy("Destination: /x/\r\nDepth: 1\r\n"), 400);
    assert_eq!(server.files_on_disk(), before);
    assert_eq!(copy("Destination: /shallow/\r\n"), 204);
    assert!(server.path("shallow/sub/b").is_file());
    // A file onto a folder replaces it too.
    let answer = exchange(
        addr,
        "COPY",
        "/src/a",
        &format!("{HOST}Destination: /deep/\r\n"),
        b"",
    );
    assert_eq!(answer.status, 204, "{}", answer.head);
    assert!(server.path("deep").is_file());
    assert_eq!(
        exchange(
            addr,
            "COPY",
            "/none/",
            &format!("{HOST}Destination: /y/\r\n"),
            b""
        )
        .status,
        404
    );
}

#[test]
fn move_of_a_folder_is_one_rename() {
    let server = TestServer::start_http();
    write_files(&server, &["src/a", "src/sub/b", "old/c"]);
    let addr = server.http.unwrap();
    let move_ = |from: &str, fields: &str| {
        exchange(addr, "MOVE", from, &format!("{HOST}{fields}"), b"").status
    };
    assert_eq!(
        move_("/src/", "Destination: /old/\r\nOverwrite: F\r\n"),
        412
    );
    assert_eq!(move_("/src/", "Destination: /src/sub/\r\n"), 403);
    assert_eq!(move_("/src/", "Destination: /none/x/\r\n"), 409);
    assert!(server.path("src/sub/b").is_file() && server.path("old/c").is_file());
    assert_eq!(move_("/src/", "Destination: /new/\r\n"), 201);
    assert!(!server.path("src").exists() && server.path("new/sub/b").is_file());
    assert_eq!(move_("/new/", "Destination: /old/\r\n"), 204);
    assert!(!server.path("old/c").exists() && server.path("old/sub/b").is_file());
}

/// What a token may not read is passed over by a folder's copy
/// (tests/invariants/cases.rs); its MOVE takes the folder whole, so it needs
/// `delete` on the folder's name.
#[test]
fn a_folders_move_needs_delete_on_the_folder_itself() {
    let holders: &[(&str, &[&str])] = &[("t", &["read:/", "delete:src/", "write:/"])];
    let (server, tokens, _dir) = guarded(holders, &[]);
    write_files(&server, &["src/open/a", "src/shut/b"]);
    let addr = server.http.unwrap();
    let fields = format!("{HOST}Destination: /dst2/\r\n{}", bearer(&tokens[0]));
    assert_eq!(exchange(addr, "MOVE", "/src/", &fields, b"").status, 403);
    assert!(server.path("src/open/a").is_file() && !server.path("dst2").exists());
    assert_eq!(
        exchange(addr, "MOVE", "/src/open/", &fields, b"").status,
        201
    );
    assert!(server.path("dst2/a").is_file());
}

/// Finder's `._name` (resource forks) and `.DS_Store` files, and
/// Explorer's `desktop.ini`, are ordinary files: written, listed, read
/// and removed like any other (only ferry's own `.ferry-*` names are
/// reserved).
#[test]
fn finder_and_explorer_side_files_are_ordinary_files() {
    let server = TestServer::start_http();
    let addr = server.http.unwrap();
    assert_eq!(exchange(addr, "MKCOL", "/photos/", HOST, b"").status, 201);
    for name in ["._a.jpg", ".DS_Store", "desktop.ini"] {
        let target = format!("/photos/{name}");
        let put = exchange(addr, "PUT", &target, HOST, name.as_bytes());
        assert_eq!(put.status, 201, "{name}: {}", put.head);
        let got = exchange(addr, "GET", &target, HOST, b"");
        assert_eq!((got.status, got.body.as_slice()), (200, name.as_bytes()));
    }
    let listed: Vec<String> = multistatus(&propfind(addr, "/photos/", Some("1"), "", ""))
        .into_iter()
        .map(|r| r.href)
        .collect();
    for href in [
        "/photos/._a.jpg",
        "/photos/.DS_Store",
        "/photos/desktop.ini",
    ] {
        assert!(listed.iter().any(|h| h == href), "{href} in {listed:?}");
    }
    for name in ["._a.jpg", ".DS_Store", "desktop.ini"] {
        let target = format!("/photos/{name}");
        assert_eq!(exchange(addr, "DELETE", &target, HOST, b"").status, 204);
    }
    assert!(server.path("photos").is_dir());
    assert_eq!(std::fs::read_dir(server.path("photos")).unwrap().count(), 0);
}
