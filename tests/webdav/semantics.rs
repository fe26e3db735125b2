//! What folders are to each kind of client, and the WebDAV semantics a DAV
//! client is given on ferry's URLs (issue 28; docs/webdav.md (e), (g)),
//! over real sockets: a DELETE or MOVE over HTTP keeps the folders it
//! empties (FERRY/1's DEL still prunes them), a failed upload takes only
//! the folders it made, a DAV client's PUT or MOVE needs its parent
//! (`409`) while a plain PUT makes it, `Expect: 100-continue` on a request
//! whose body is gathered before it is decoded, `Depth` values refused,
//! a `Destination` with the default port, the outcome labels of WebDAV's
//! statuses, and the cap on a 207's list of names.
#![cfg(feature = "webdav")] // built with what it tests (Cargo.toml [features])

use crate::support;

use support::TestServer;
use support::http::Conn;

// ---------------------------------------------------------------------------
// Folders over HTTP are kept; FERRY/1's are implicit
// ---------------------------------------------------------------------------

#[test]
fn an_http_delete_of_a_folders_last_file_keeps_the_folder() {
    let server = TestServer::start_http();
    let mut conn = Conn::open(server.http.unwrap());
    assert_eq!(conn.ask("PUT", "/a/b/x", "", b"x").status, 201);
    assert_eq!(conn.ask("DELETE", "/a/b/x", "", b"").status, 204);
    assert!(server.path("a/b").is_dir(), "a/b/ went with its last file");
    // The folder is still listed, and a DAV client still finds it.
    assert_eq!(conn.ask("GET", "/a/", "", b"").status, 200);
    let found = conn.ask("PROPFIND", "/a/b/", "Depth: 0\r\n", b"");
    assert_eq!(found.status, 207, "{}", found.head);
}

#[test]
fn an_http_move_keeps_the_folder_it_empties() {
    let server = TestServer::start_http();
    let mut conn = Conn::open(server.http.unwrap());
    assert_eq!(conn.ask("PUT", "/from/x", "", b"x").status, 201);
    let moved = conn.ask("MOVE", "/from/x", "Destination: /to/y\r\n", b"");
    assert_eq!(moved.status, 201, "{}", moved.head);
    assert!(
        server.path("from").is_dir(),
        "from/ went with its last file"
    );
    assert_eq!(std::fs::read(server.path("to/y")).unwrap(), b"x");
}

#[test]
fn ferry_del_and_move_still_prune_the_folders_they_empty() {
    let server = TestServer::start_http();
    let mut client = server.client();
    client.put_bytes("a/b/x", b"x").unwrap();
    client.put_bytes("c/d/y", b"y").unwrap();
    client.delete("a/b/x").unwrap();
    assert!(!server.path("a").exists(), "FERRY/1's DEL left a/ behind");
    let mut raw = server.raw();
    raw.send("MOVE c/d/y z\n");
    assert_eq!(raw.line(), "OK");
    assert!(!server.path("c").exists(), "FERRY/1's MOVE left c/ behind");
}

/// An upload that fails takes away only the folders it made: one a
/// client made first (MKCOL, or a file since deleted) stays.
#[test]
fn a_failed_http_upload_keeps_the_folder_it_found() {
    let server = TestServer::start_http();
    let addr = server.http.unwrap();
    assert_eq!(Conn::open(addr).ask("MKCOL", "/kept/", "", b"").status, 201);
    // A plain client's upload (a DAV client's would need kept/new/).
    let mut conn = Conn::open(addr);
    let wrong = "X-Checksum-Crc32c: 00000000\r\n";
    let refused = conn.ask("PUT", "/kept/new/x", wrong, b"abc");
    assert_eq!(refused.status, 422, "{}", refused.head);
    assert!(server.path("kept").is_dir(), "the failed PUT took kept/");
    assert!(
        !server.path("kept/new").exists(),
        "the PUT's own folder stayed"
    );
}

// ---------------------------------------------------------------------------
// A DAV client's PUT and MOVE need their parent folder
// ---------------------------------------------------------------------------

#[test]
fn a_dav_clients_put_without_its_parent_is_409_a_plain_put_makes_it() {
    let server = TestServer::start_http();
    let addr = server.http.unwrap();
    // A client that spoke WebDAV on the connection before.
    let mut dav = Conn::open(addr);
    assert_eq!(dav.ask("PROPFIND", "/", "Depth: 0\r\n", b"").status, 207);
    let refused = dav.ask("PUT", "/missing/x", "", b"abc");
    assert_eq!(refused.status, 409, "{}", refused.head);
    assert!(!server.path("missing").exists(), "a folder was made");
    // Its collections made first, the same PUT lands.
    assert_eq!(dav.ask("MKCOL", "/missing/", "", b"").status, 201);
    assert_eq!(dav.ask("PUT", "/missing/x", "", b"abc").status, 201);
    // A field only WebDAV has says the same on a fresh connection.
    let mut fresh = Conn::open(addr);
    let put = fresh.ask("PUT", "/other/x", "Overwrite: T\r\n", b"abc");
    assert_eq!(put.status, 409, "{}", put.head);
    // A plain PUT (the page, curl -T, the CLI) still makes its folders.
    let mut plain = Conn::open(addr);
    assert_eq!(plain.ask("PUT", "/made/deep/x", "", b"abc").status, 201);
    assert_eq!(std::fs::read(server.path("made/deep/x")).unwrap(), b"abc");
}

/// A PUT onto a folder (`409`) or a symlink (`403`) is refused whatever
/// its size: a small body's commit looks at the name, a large one's begin
/// does (`storage::Look`). Nothing is changed or left behind, and a new
/// name's PUT is `201`, the same name's again `204`.
#[test]
fn a_put_onto_what_is_not_a_file_is_refused_small_or_large() {
    let server = TestServer::start_http();
    let addr = server.http.unwrap();
    std::fs::create_dir_all(server.path("d/inner")).unwrap();
    std::os::unix::fs::symlink("d", server.path("link")).unwrap();
    for size in [3, 100 << 10] {
        let body = support::pattern(size, 1);
        for (name, status) in [("/d", 409), ("/link", 403)] {
            // A fresh connection each: a large refused body may close it.
            let refused = Conn::open(addr).ask("PUT", name, "", &body);
            assert_eq!(refused.status, status, "{name}, {size} B: {}", refused.head);
        }
    }
    assert!(server.path("d/inner").is_dir());
    let link = std::fs::symlink_metadata(server.path("link")).unwrap();
    assert!(link.is_symlink());
    let mut conn = Conn::open(addr);
    assert_eq!(conn.ask("PUT", "/f", "", b"one").status, 201);
    assert_eq!(conn.ask("PUT", "/f", "", b"two").status, 204);
    let left = server.settled_files_on_disk();
    assert!(left.iter().all(|f| !f.contains(".ferry-tmp-")), "{left:?}");
    assert_eq!(std::fs::read(server.path("f")).unwrap(), b"two");
}

#[test]
fn a_dav_clients_move_of_a_file_without_the_parent_is_409() {
    let server = TestServer::start_http();
    let addr = server.http.unwrap();
    std::fs::write(server.path("f"), b"f").unwrap();
    let mut dav = Conn::open(addr);
    assert_eq!(dav.ask("MKCOL", "/c/", "", b"").status, 201);
    let refused = dav.ask("MOVE", "/f", "Destination: /none/f\r\n", b"");
    assert_eq!(refused.status, 409, "{}", refused.head);
    assert!(!server.path("none").exists(), "a folder was made");
    assert!(server.path("f").is_file(), "the file moved all the same");
    assert_eq!(
        dav.ask("MOVE", "/f", "Destination: /c/f\r\n", b"").status,
        201
    );
    // The web page's rename (no WebDAV before it) makes the folder.
    let mut page = Conn::open(addr);
    let moved = page.ask("MOVE", "/c/f", "Destination: /new/f\r\n", b"");
    assert_eq!(moved.status, 201, "{}", moved.head);
    assert!(server.path("new/f").is_file());
}

/// The page renames folders with `MOVE /<dir>/` (WebDAV's): that does not
/// make it a DAV client, so its uploads still make their folders.
#[test]
fn a_folders_move_does_not_make_the_page_a_dav_client() {
    let server = TestServer::start_http();
    let mut page = Conn::open(server.http.unwrap());
    assert_eq!(page.ask("PUT", "/d/x", "", b"x").status, 201);
    let moved = page.ask("MOVE", "/d/", "Destination: /e/\r\n", b"");
    assert_eq!(moved.status, 201, "{}", moved.head);
    assert_eq!(page.ask("PUT", "/n/x", "", b"x").status, 201);
}

// ---------------------------------------------------------------------------
// Expect: 100-continue on a request whose body is gathered before decode
// ---------------------------------------------------------------------------

/// A PROPFIND's body is gathered with its head before it is decoded; a
/// client that waits for `100 Continue` gets it as soon as the head is
/// in, once, and its answer when the body is.
#[test]
fn a_propfind_waiting_for_100_continue_is_told_to_go_on_once() {
    let server = TestServer::start_http();
    let mut conn = Conn::open(server.http.unwrap());
    let body = "<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:prop><D:getetag/></D:prop></D:propfind>";
    conn.send(format!(
        "PROPFIND / HTTP/1.1\r\nHost: localhost\r\nDepth: 0\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    assert_eq!(conn.reply().status, 100, "no 100 Continue before the body");
    // The body in two writes: no second 100 for the second piece.
    let (first, rest) = body.split_at(20);
    conn.send(first);
    conn.send(rest);
    let answer = conn.reply();
    assert_eq!(answer.status, 207, "{}", answer.head);
    // The next request's answer follows, nothing stray between.
    let next = conn.ask("PROPFIND", "/", "Depth: 0\r\n", b"");
    assert_eq!(next.status, 207, "{}{}", next.head, next.text());
}

/// One over the limit is refused at once, with nothing to wait for.
#[test]
fn a_propfind_over_the_limit_waiting_for_100_continue_is_refused_at_once() {
    let server = TestServer::start_http();
    let mut conn = Conn::open(server.http.unwrap());
    conn.send(
        "PROPFIND / HTTP/1.1\r\nHost: localhost\r\nDepth: 0\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n",
    );
    assert_eq!(conn.reply().status, 413);
}

// ---------------------------------------------------------------------------
// Depth, Destination, outcome labels, the 207's cap
// ---------------------------------------------------------------------------

#[test]
fn a_depth_other_than_0_1_or_infinity_is_400_on_every_method_that_reads_it() {
    let server = TestServer::start_http();
    let mut conn = Conn::open(server.http.unwrap());
    assert_eq!(conn.ask("PUT", "/f", "", b"f").status, 201);
    assert_eq!(conn.ask("MKCOL", "/d/", "", b"").status, 201);
    let to = "Destination: /g\r\n";
    for (method, target, extra) in [
        ("PROPFIND", "/", ""),
        ("PROPFIND", "/f", ""),
        ("COPY", "/f", to),
        ("COPY", "/d/", "Destination: /e/\r\n"),
        ("MOVE", "/d/", "Destination: /e/\r\n"),
    ] {
        for depth in ["2", "-1", "infinite", ""] {
            let headers = format!("Depth: {depth}\r\n{extra}");
            let answer = conn.ask(method, target, &headers, b"");
            assert_eq!(answer.status, 400, "{method} {target} Depth: {depth:?}");
        }
    }
    // The three values it may have are read as ever, in any case.
    let infinity = conn.ask(
        "COPY",
        "/d/",
        "Depth: Infinity\r\nDestination: /e/\r\n",
        b"",
    );
    assert_eq!(infinity.status, 201, "{}", infinity.head);
    assert!(!server.path("g").exists() && server.path("d").is_dir());
}

#[test]
fn a_destination_with_the_default_port_is_this_server() {
    let server = TestServer::start_http();
    let mut conn = Conn::open(server.http.unwrap());
    assert_eq!(conn.ask("PUT", "/a", "", b"a").status, 201);
    // The request says `Host: localhost`; the Destination adds :80.
    let same = "Destination: http://localhost:80/b\r\n";
    assert_eq!(conn.ask("COPY", "/a", same, b"").status, 201);
    assert_eq!(std::fs::read(server.path("b")).unwrap(), b"a");
    for other in [
        "http://localhost:8080/c",
        "https://localhost:80/c",
        "http://elsewhere/c",
    ] {
        let answer = conn.ask("COPY", "/a", &format!("Destination: {other}\r\n"), b"");
        assert_eq!(answer.status, 502, "{other}");
    }
    // A Host with the port, a Destination without it.
    let mut with_port = Conn::open(server.http.unwrap());
    with_port
        .send("COPY /a HTTP/1.1\r\nHost: localhost:80\r\nDestination: http://localhost/d\r\n\r\n");
    assert_eq!(with_port.reply().status, 201);
}

/// A file's MOVE to another server's URL is refused as a COPY is (502),
/// whichever dialect takes it: a plain one (the files dialect's, as the
/// web page sends) once moved the file here, under the URL's path.
#[test]
fn a_move_to_another_server_is_502_and_moves_nothing() {
    let server = TestServer::start_http();
    std::fs::write(server.path("a"), b"a").unwrap();
    for other in [
        "http://evil.example/b",
        "ftp://localhost/b",
        "http://localhost:8080/b",
    ] {
        for dav in ["", "Overwrite: T\r\n"] {
            // A connection of its own: no earlier WebDAV method on it.
            let mut conn = Conn::open(server.http.unwrap());
            let headers = format!("Destination: {other}\r\n{dav}");
            let answer = conn.ask("MOVE", "/a", &headers, b"");
            assert_eq!(answer.status, 502, "{other} {dav:?}: {}", answer.head);
        }
    }
    assert_eq!(std::fs::read(server.path("a")).unwrap(), b"a");
    assert!(!server.path("b").exists());
    // This server's URL moves it.
    let mut conn = Conn::open(server.http.unwrap());
    let here = "Destination: http://localhost:80/b\r\n";
    assert_eq!(conn.ask("MOVE", "/a", here, b"").status, 201);
    assert_eq!(std::fs::read(server.path("b")).unwrap(), b"a");
}

/// The metrics label each answer with the status sent, WebDAV's own
/// included (a 412 was counted as 409, a 502 as "other").
#[test]
fn webdavs_statuses_are_the_outcomes_the_metrics_count() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    });
    let mut conn = Conn::open(server.http.unwrap());
    assert_eq!(conn.ask("PUT", "/a", "", b"a").status, 201);
    assert_eq!(conn.ask("PUT", "/b", "", b"b").status, 201);
    let keep = "Destination: /b\r\nOverwrite: F\r\n";
    assert_eq!(conn.ask("COPY", "/a", keep, b"").status, 412);
    assert_eq!(conn.ask("MOVE", "/a", keep, b"").status, 412);
    let away = "Destination: http://elsewhere/c\r\n";
    assert_eq!(conn.ask("COPY", "/a", away, b"").status, 502);
    assert_eq!(conn.ask("MKCOL", "/a", "", b"").status, 405);
    assert_eq!(conn.ask("MKCOL", "/x/y/", "", b"").status, 409);
    let metrics = support::http::exchange(
        server.metrics.unwrap(),
        "GET",
        "/metrics",
        "Host: localhost\r\n",
        b"",
    );
    let text = String::from_utf8(metrics.body).unwrap();
    for sample in [
        "ferry_requests_total{operation=\"copy\",outcome=\"412\"} 1",
        "ferry_requests_total{operation=\"move\",outcome=\"412\"} 1",
        "ferry_requests_total{operation=\"invalid\",outcome=\"502\"} 1",
        "ferry_requests_total{operation=\"mkcol\",outcome=\"405\"} 1",
        "ferry_requests_total{operation=\"mkcol\",outcome=\"409\"} 1",
    ] {
        assert!(text.lines().any(|l| l == sample), "no {sample} in:\n{text}");
    }
}

/// What a folder's DELETE leaves is named up to a cap, then counted: the
/// list is held in memory until the answer goes.
#[test]
fn a_207_names_at_most_ten_thousand_members_then_says_how_many_more() {
    let server = TestServer::start_http();
    let dir = server.path("many");
    std::fs::create_dir(&dir).unwrap();
    // Symlinks are never removed: each stays, and is told.
    for i in 0..10_005 {
        std::os::unix::fs::symlink("nowhere", dir.join(format!("l{i}"))).unwrap();
    }
    let mut conn = Conn::open(server.http.unwrap());
    let answer = conn.ask("DELETE", "/many/", "", b"");
    assert_eq!(answer.status, 207, "{}", answer.head);
    let found = support::dav::parse(&answer);
    let (responses, description) = (found.responses.len(), found.description);
    assert_eq!(responses, 10_000);
    assert!(
        description.starts_with("5 more members"),
        "the multistatus says {description:?}"
    );
}
