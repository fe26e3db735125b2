//! HTTP/1.1 beside FERRY/1, over real sockets: a real client crate (ureq),
//! curl where it is installed, and raw bytes where the exact framing
//! matters (HEAD, ranges, conditional requests, chunked uploads,
//! 100-continue, keep-alive, pipelining, malformed and hostile requests).

use crate::support;

use std::io::Write;
use std::process::Command;

use support::http::Conn;
use support::{PATIENCE, TestServer, crc_hex, pattern};

fn url(server: &TestServer, path: &str) -> String {
    format!("http://{}{path}", server.http.expect("HTTP listener"))
}

fn request(method: &str, path: &str, headers: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n")
}

#[test]
fn ureq_uploads_downloads_and_deletes() {
    let server = TestServer::start_http();
    let data = pattern(300_000, 1);
    let created = ureq::put(&url(&server, "/up/data.bin"))
        .header("X-Checksum-Crc32c", &crc_hex(&data))
        .send(&data[..])
        .unwrap();
    assert_eq!(created.status(), 201);
    let replaced = ureq::put(&url(&server, "/up/data.bin"))
        .send(&data[..])
        .unwrap();
    assert_eq!(replaced.status(), 204, "replacing an existing file");

    let mut response = ureq::get(&url(&server, "/up/data.bin")).call().unwrap();
    assert_eq!(
        response.headers().get("x-checksum-crc32c").unwrap(),
        crc_hex(&data).as_str()
    );
    assert_eq!(response.body_mut().read_to_vec().unwrap(), data);
    // The same file over FERRY/1: one storage.
    assert_eq!(server.client().get_bytes("up/data.bin").unwrap(), data);

    assert_eq!(
        ureq::delete(&url(&server, "/up/data.bin"))
            .call()
            .unwrap()
            .status(),
        204
    );
    let gone = ureq::get(&url(&server, "/up/data.bin")).call().unwrap_err();
    assert!(matches!(gone, ureq::Error::StatusCode(404)), "{gone:?}");
}

#[test]
fn a_checksum_header_that_does_not_match_refuses_the_upload() {
    let server = TestServer::start_http();
    let err = ureq::put(&url(&server, "/bad"))
        .header("X-Checksum-Crc32c", "00000000")
        .send(&b"some bytes"[..])
        .unwrap_err();
    assert!(matches!(err, ureq::Error::StatusCode(422)), "{err:?}");
    assert!(server.files_on_disk().is_empty());
}

/// An `Expect` other than `100-continue` (or an empty one) is ignored,
/// as S3 and nginx ignore it (ceph's `test_object_create_bad_expect_*`):
/// the upload is served, its body read without an interim answer.
#[test]
fn an_expectation_other_than_100_continue_is_ignored() {
    let server = TestServer::start_http();
    let addr = server.http.expect("HTTP listener");
    let host = format!("Host: {addr}\r\n");
    for (path, expect) in [("/e", ""), ("/o", "200"), ("/g", "gzip")] {
        let fields = format!("{host}Expect: {expect}\r\n");
        let put = support::http::exchange(addr, "PUT", path, &fields, b"data");
        assert_eq!(put.status, 201, "{expect:?}: {}", put.head);
    }
    assert_eq!(server.files_on_disk(), ["e", "g", "o"]);
}

/// With its uploads written by the I/O pool (the default on a disk root)
/// and on the loop as they arrive (`--pool-writes never`, a memory root's
/// way: curl's large reads there are each followed by another at once).
#[test]
fn curl_round_trips_byte_identically() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipping: curl is not installed");
        return;
    }
    curl_round_trip(&TestServer::start_http());
    curl_round_trip(&TestServer::start_with(|c| {
        c.pool_writes = ferry::config::PoolWrites::Never;
        support::listen_http(c);
    }));
}

/// curl's upload (`-T`, with a length and chunked from standard input)
/// and download of 2 MB, byte for byte.
fn curl_round_trip(server: &TestServer) {
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("report.csv");
    let data = pattern(2_000_000, 2);
    std::fs::write(&source, &data).unwrap();
    let status = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let target = url(server, "/reports/report.csv");
    assert_eq!(status(&["-T", source.to_str().unwrap(), &target]), "201");
    let copy = work.path().join("copy.csv");
    assert_eq!(status(&["-o", copy.to_str().unwrap(), &target]), "200");
    // -o twice: curl uses the last one.
    let out = Command::new("curl").args(["-s", &target]).output().unwrap();
    assert!(out.stdout == data, "curl download differs");
    // Chunked upload from standard input.
    let mut child = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-T", "-"])
        .arg(url(server, "/from-stdin"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "201");
    assert_eq!(server.client().get_bytes("from-stdin").unwrap(), data);
}

#[test]
fn head_ranges_and_conditional_requests() {
    let server = TestServer::start_http();
    let data = pattern(1000, 3);
    server.client().put_bytes("doc.txt", &data).unwrap();
    let mut conn = Conn::open(server.http.unwrap());

    conn.send(request("HEAD", "/doc.txt", ""));
    let head = conn.reply_to("HEAD");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), Some("1000"));
    assert_eq!(
        head.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(head.header("Accept-Ranges"), Some("bytes"));
    let etag = head.header("ETag").unwrap().to_owned();
    let modified = head.header("Last-Modified").unwrap().to_owned();

    for (range, start, end) in [
        ("bytes=10-19", 10, 19),
        ("bytes=990-", 990, 999),
        ("bytes=-5", 995, 999),
    ] {
        conn.send(request("GET", "/doc.txt", &format!("Range: {range}\r\n")));
        let part = conn.reply();
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(
            part.header("Content-Range"),
            Some(format!("bytes {start}-{end}/1000").as_str())
        );
        assert_eq!(part.body, &data[start..=end]);
    }
    conn.send(request("GET", "/doc.txt", "Range: bytes=1000-\r\n"));
    let unsatisfiable = conn.reply();
    assert_eq!(unsatisfiable.status, 416);
    assert_eq!(unsatisfiable.header("Content-Range"), Some("bytes */1000"));

    conn.send(request(
        "GET",
        "/doc.txt",
        &format!("If-None-Match: {etag}\r\n"),
    ));
    assert_eq!(conn.reply().status, 304);
    conn.send(request(
        "GET",
        "/doc.txt",
        &format!("If-Modified-Since: {modified}\r\n"),
    ));
    assert_eq!(conn.reply().status, 304);
    conn.send(request("GET", "/doc.txt", "If-None-Match: \"stale\"\r\n"));
    let fresh = conn.reply();
    assert_eq!((fresh.status, fresh.body.len()), (200, 1000));
}

#[test]
fn listings_for_browsers_and_scripts() {
    let server = TestServer::start_http();
    let mut client = server.client();
    client.put_bytes("site/index.html", b"<p>hi</p>").unwrap();
    client.put_bytes("site/img/a b.png", b"png").unwrap();
    client.put_bytes("top.txt", b"t").unwrap();
    let mut conn = Conn::open(server.http.unwrap());

    conn.send(request("GET", "/", ""));
    let page = conn.reply();
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(page.body).unwrap();
    assert!(
        html.contains("href=\"/site/\"") && html.contains("href=\"/top.txt\""),
        "{html}"
    );

    conn.send(request("GET", "/site/", "Accept: application/json\r\n"));
    let json = String::from_utf8(conn.reply().body).unwrap();
    assert!(json.contains("\"dirs\":[\"site/img/\"]"), "{json}");
    assert!(json.contains("\"name\":\"site/index.html\""), "{json}");

    conn.send(request("GET", "/site/img/", ""));
    let html = String::from_utf8(conn.reply().body).unwrap();
    assert!(html.contains("href=\"/site/img/a%20b.png\""), "{html}");

    conn.send(request("GET", "/nothing/", ""));
    assert_eq!(conn.reply().status, 404);
}

#[test]
fn chunked_uploads_in_odd_pieces() {
    let server = TestServer::start_http();
    let data = pattern(70_000, 4);
    let mut body = Vec::new();
    for piece in data.chunks(7_777) {
        body.extend_from_slice(format!("{:x};ext=1\r\n", piece.len()).as_bytes());
        body.extend_from_slice(piece);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\nX-Trailer: ok\r\n\r\n");
    let mut conn = Conn::open(server.http.unwrap());
    conn.send(request(
        "PUT",
        "/chunked.bin",
        "Transfer-Encoding: chunked\r\n",
    ));
    for piece in body.chunks(1000) {
        conn.send(piece);
    }
    assert_eq!(conn.reply().status, 201);
    conn.send(request("GET", "/chunked.bin", ""));
    assert!(conn.reply().body == data);
}

#[test]
fn tiny_and_large_chunks_mixed_arrive_intact() {
    // Tiny chunks are gathered into large writes and large ones written
    // where they lie; their order must survive both.
    let server = TestServer::start_http();
    let data = pattern(300_000, 5);
    let mut body = Vec::new();
    let mut rest = &data[..];
    for size in [1usize, 1, 3, 40_000, 1, 17_000, 2].iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at((*size).min(rest.len()));
        body.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        body.extend_from_slice(piece);
        body.extend_from_slice(b"\r\n");
        rest = tail;
    }
    for _ in 0..20_000 {
        // Many one-byte chunks in a row, more than one read holds.
        body.extend_from_slice(b"1\r\nz\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let mut expected = data.clone();
    expected.extend(std::iter::repeat_n(b'z', 20_000));
    let mut conn = Conn::open(server.http.unwrap());
    conn.send(request(
        "PUT",
        "/mixed.bin",
        "Transfer-Encoding: chunked\r\n",
    ));
    for piece in body.chunks(50_000) {
        conn.send(piece);
    }
    assert_eq!(conn.reply().status, 201);
    assert_eq!(std::fs::read(server.path("mixed.bin")).unwrap(), expected);
}

#[test]
fn expect_100_continue() {
    let server = TestServer::start_http();
    let mut conn = Conn::open(server.http.unwrap());
    conn.send(request(
        "PUT",
        "/continued",
        "Content-Length: 5\r\nExpect: 100-continue\r\n",
    ));
    assert_eq!(conn.reply_to("HEAD").status, 100);
    conn.send("hello");
    assert_eq!(conn.reply().status, 201);

    // Refused before the body: the answer comes at once, and closes.
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.read_only = true;
    });
    let mut conn = Conn::open(server.http.unwrap());
    conn.send(request(
        "PUT",
        "/refused",
        "Content-Length: 5000000\r\nExpect: 100-continue\r\n",
    ));
    let refused = conn.reply();
    assert_eq!(refused.status, 403);
    assert_eq!(refused.header("Connection"), Some("close"));
    conn.expect_closed();
}

#[test]
fn keep_alive_and_pipelining() {
    let server = TestServer::start_http();
    server.client().put_bytes("k", b"keep").unwrap();
    let mut conn = Conn::open(server.http.unwrap());
    for _ in 0..200 {
        conn.send(request("GET", "/k", ""));
        assert_eq!(conn.reply().body, b"keep");
    }
    // Three requests in one write, answered in order.
    let mut batch = request("PUT", "/p", "Content-Length: 3\r\n");
    batch.push_str("abc");
    batch.push_str(&request("GET", "/p", ""));
    batch.push_str(&request("DELETE", "/p", ""));
    batch.push_str(&request("GET", "/p", "Connection: close\r\n"));
    conn.send(batch);
    assert_eq!(conn.reply().status, 201);
    assert_eq!(conn.reply().body, b"abc");
    assert_eq!(conn.reply().status, 204);
    let last = conn.reply();
    assert_eq!(
        (last.status, last.header("Connection")),
        (404, Some("close"))
    );
    conn.expect_closed();
}

#[test]
fn connection_close_between_requests_frees_its_place_at_once() {
    // One place: the next client is let in only once the first connection
    // is gone from the server, not merely half-closed.
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.max_connections = 1;
    });
    std::fs::write(server.path("f"), b"data").unwrap();
    let mut first = Conn::open(server.http.unwrap());
    first.send(request("GET", "/f", "Connection: close\r\n"));
    assert_eq!(first.reply().body, b"data");
    // Nothing unread on the server's side: it closes without lingering
    // for this client, which keeps its own socket open.
    first.expect_closed();
    let mut second = Conn::open(server.http.unwrap());
    second.send(request("GET", "/f", "Connection: close\r\n"));
    let reply = second.reply();
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"data"[..]));
    drop(first);
}

#[test]
fn bytes_sent_after_connection_close_are_lingered_over() {
    // A peer that sends on after its last request still reads the whole
    // answer: the server reads what came and lingers before it closes.
    let server = TestServer::start_http();
    std::fs::write(server.path("f"), pattern(100_000, 3)).unwrap();
    let mut conn = Conn::open(server.http.unwrap());
    let mut batch = request("GET", "/f", "Connection: close\r\n");
    batch.push_str(&"x".repeat(50_000));
    conn.send(batch);
    assert_eq!(conn.reply().body, pattern(100_000, 3));
    conn.expect_closed();
}

#[test]
fn malformed_and_hostile_requests() {
    let server = TestServer::start_http();
    let addr = server.http.unwrap();
    for (bytes, status) in [
        ("NONSENSE\r\n\r\n".to_owned(), 400),
        (
            format!("GET /x HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000)),
            431,
        ),
    ] {
        let mut conn = Conn::open(addr);
        conn.send(&bytes);
        assert_eq!(conn.reply().status, status, "{:?}", &bytes[..20]);
        conn.expect_closed();
    }
    // Refused but well-formed: the connection goes on.
    let mut conn = Conn::open(addr);
    for (path, status) in [
        ("http://elsewhere/x", 400),
        ("*", 400),
        ("/../etc/passwd", 400),
        ("/a/%2e%2e/%2e%2e/b", 400),
        ("/.ferry-nodes/x", 403),
        // The uploads' folder holds tus's upload URLs: no GET there.
        ("/.ferry-uploads/x", 405),
    ] {
        conn.send(request("GET", path, ""));
        assert_eq!(conn.reply().status, status, "{path}");
    }
    conn.send(request("POST", "/x", "Content-Length: 4\r\n") + "body");
    let post = conn.reply();
    assert_eq!(
        (post.status, post.header("Allow")),
        (405, Some("GET, HEAD, PUT, DELETE, MOVE"))
    );
    conn.send(request("GET", "/", ""));
    assert_eq!(conn.reply().status, 200, "still in sync after the 405 body");
    assert!(server.files_on_disk().is_empty());
}

#[test]
fn limits_and_read_only_apply() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.max_file_size = Some(1000);
    });
    let mut conn = Conn::open(server.http.unwrap());
    conn.send(request("PUT", "/big", "Content-Length: 1001\r\n"));
    assert_eq!(conn.reply().status, 413);
    conn.expect_closed();
    let mut conn = Conn::open(server.http.unwrap());
    conn.send(request("PUT", "/big", "Transfer-Encoding: chunked\r\n") + "7d0\r\n");
    conn.send(vec![b'x'; 2000]);
    assert_eq!(conn.reply().status, 413);

    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.read_only = true;
    });
    let mut conn = Conn::open(server.http.unwrap());
    conn.send(request("DELETE", "/x", ""));
    assert_eq!(conn.reply().status, 403);
    conn.send(request("PUT", "/x", "Content-Length: 2\r\n") + "ab");
    assert_eq!(conn.reply().status, 403);
    conn.send(request("GET", "/", ""));
    assert_eq!(conn.reply().status, 200, "the refused body was skipped");
}

#[test]
fn a_body_on_get_head_or_delete_is_skipped_never_run_as_a_request() {
    let server = TestServer::start_http();
    server.client().put_bytes("keep", b"kept").unwrap();
    let smuggled = request("DELETE", "/keep", "");
    let mut conn = Conn::open(server.http.unwrap());
    for method in ["GET", "HEAD", "DELETE"] {
        let headers = format!("Content-Length: {}\r\n", smuggled.len());
        conn.send(request(method, "/keep", &headers) + &smuggled);
        let reply = conn.reply_to(method);
        assert_eq!(reply.status, 400, "{method} with a body");
    }
    // Still in sync, and nothing hidden in a body was carried out.
    conn.send(request("GET", "/keep", ""));
    assert_eq!(conn.reply().body, b"kept");
    // A chunked body cannot be skipped safely: refused, then closed.
    conn.send(request("GET", "/keep", "Transfer-Encoding: chunked\r\n") + "0\r\n\r\n");
    let reply = conn.reply();
    assert_eq!(
        (reply.status, reply.header("Connection")),
        (400, Some("close"))
    );
    conn.expect_closed();
    assert_eq!(server.client().get_bytes("keep").unwrap(), b"kept");
}

#[test]
fn answers_to_head_never_carry_a_body_even_errors() {
    let server = TestServer::start_http();
    let mut conn = Conn::open(server.http.unwrap());
    for path in ["/missing", "/.ferry-x", "/a/%2e%2e/b"] {
        conn.send(request("HEAD", path, ""));
        let reply = conn.reply_to("HEAD");
        assert!(reply.status >= 400, "{path}: {}", reply.status);
        assert!(reply.header("Content-Length").is_some());
    }
    // Had any body been sent, this would read it as the status line.
    conn.send(request("GET", "/", ""));
    assert_eq!(conn.reply().status, 200);
}

#[test]
fn refusals_by_the_parser_keep_close_and_expect_continue() {
    let server = TestServer::start_http();
    let addr = server.http.unwrap();
    // The client waits for 100 before sending its body: the refusal must
    // end the connection, or its next request would be read as that body.
    let mut conn = Conn::open(addr);
    conn.send(request(
        "PUT",
        "/a/../b",
        "Content-Length: 10\r\nExpect: 100-continue\r\n",
    ));
    let reply = conn.reply();
    assert_eq!(
        (reply.status, reply.header("Connection")),
        (400, Some("close"))
    );
    conn.expect_closed();
    // Connection: close, and HTTP/1.0's default, hold for refusals too.
    for bytes in [
        request("POST", "/x", "Connection: close\r\n"),
        "OPTIONS /x HTTP/1.0\r\n\r\n".to_owned(),
        request("GET", "/.ferry-x", "Connection: close\r\n"),
    ] {
        let mut conn = Conn::open(addr);
        conn.send(&bytes);
        let reply = conn.reply();
        assert_eq!(reply.header("Connection"), Some("close"), "{bytes:?}");
        conn.expect_closed();
    }
    // A listing's name is read or removed whole, never written.
    let mut conn = Conn::open(addr);
    conn.send(request("PUT", "/dir/", "Content-Length: 0\r\n"));
    let reply = conn.reply();
    assert_eq!(
        (reply.status, reply.header("Allow")),
        (405, Some("GET, HEAD, DELETE"))
    );
}

#[test]
fn host_and_content_length_are_checked_as_rfc_9112_says() {
    let server = TestServer::start_http();
    let addr = server.http.unwrap();
    let mut conn = Conn::open(addr);
    for head in [
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ] {
        conn.send(head);
        assert_eq!(conn.reply().status, 400, "{head:?}");
    }
    conn.send(request("GET", "/", ""));
    assert_eq!(conn.reply().status, 200, "still usable");
    // A length a proxy might read differently ends the connection.
    let mut conn = Conn::open(addr);
    conn.send(request("PUT", "/x", "Content-Length: +3\r\n") + "abc");
    assert_eq!(conn.reply().status, 400);
    conn.expect_closed();
    assert!(server.files_on_disk().is_empty());
}

#[test]
fn if_range_serves_a_range_only_of_the_same_version() {
    let server = TestServer::start_http();
    let data = pattern(1000, 4);
    server.client().put_bytes("f", &data).unwrap();
    let mut conn = Conn::open(server.http.unwrap());
    conn.send(request("HEAD", "/f", ""));
    let head = conn.reply_to("HEAD");
    let etag = head.header("ETag").unwrap().to_owned();
    let modified = head.header("Last-Modified").unwrap().to_owned();
    for (validator, status) in [
        (etag.as_str(), 206),
        (modified.as_str(), 206),
        ("\"another-version\"", 200),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 200),
    ] {
        let headers = format!("Range: bytes=10-19\r\nIf-Range: {validator}\r\n");
        conn.send(request("GET", "/f", &headers));
        let reply = conn.reply();
        assert_eq!(reply.status, status, "If-Range: {validator}");
        let expected = if status == 206 {
            &data[10..20]
        } else {
            &data[..]
        };
        assert_eq!(reply.body, expected);
    }
    // HEAD ignores Range (RFC 9110 14.2); malformed ranges are ignored.
    conn.send(request("HEAD", "/f", "Range: bytes=0-1\r\n"));
    let reply = conn.reply_to("HEAD");
    assert_eq!(
        (reply.status, reply.header("Content-Length")),
        (200, Some("1000"))
    );
    conn.send(request("GET", "/f", "Range: bytes=100-x\r\n"));
    assert_eq!(conn.reply().status, 200);
}

#[test]
fn folders_redirect_and_answers_are_framed_for_every_client() {
    let server = TestServer::start_http();
    server.client().put_bytes("docs/a.txt", b"a").unwrap();
    let mut conn = Conn::open(server.http.unwrap());
    conn.send(request("GET", "/docs", ""));
    let reply = conn.reply();
    assert_eq!(
        (reply.status, reply.header("Location")),
        (301, Some("/docs/"))
    );
    // What the query asked for survives the redirect.
    for (query, kept) in [
        ("?tar", "/docs/?tar"),
        ("?zip", "/docs/?zip"),
        ("?format=zip", "/docs/?zip"),
        ("?format=json", "/docs/?format=json"),
        ("?plain", "/docs/?plain"),
    ] {
        conn.send(request("GET", &format!("/docs{query}"), ""));
        let reply = conn.reply();
        assert_eq!((reply.status, reply.header("Location")), (301, Some(kept)));
    }
    // A search of `/docs` is one of `/docs/`, answered as it is: the
    // term is not lost to a redirect.
    for target in ["/docs?q=a.t", "/docs/?q=a.t", "/docs?format=json&q=a.t"] {
        conn.send(request("GET", target, ""));
        let found = conn.reply();
        assert_eq!(found.status, 200, "{target}");
        let text = String::from_utf8_lossy(&found.body).into_owned();
        assert!(text.contains("\"name\":\"docs/a.txt\""), "{target}: {text}");
    }
    conn.send(request("GET", "/docs/a.txt?q=a", ""));
    assert_eq!(conn.reply().status, 404, "a file has nothing to search");
    // JSON asked for by `Accept` alone: the redirect asks for it in the query.
    conn.send(request("GET", "/docs", "Accept: application/json\r\n"));
    assert_eq!(conn.reply().header("Location"), Some("/docs/?format=json"));
    conn.send(request("GET", "/docs/", ""));
    assert_eq!(conn.reply().header("Vary"), Some("Accept"));
    // 204 carries no Content-Length (RFC 9110 8.6).
    conn.send(request("PUT", "/docs/a.txt", "Content-Length: 1\r\n") + "b");
    let replaced = conn.reply();
    assert_eq!(replaced.status, 204);
    assert_eq!(replaced.header("Content-Length"), None);
    // An HTTP/1.0 client that asked to keep the connection is told it may.
    conn.send("GET /docs/a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let reply = conn.reply();
    assert_eq!(
        (reply.header("Connection"), reply.body.as_slice()),
        (Some("keep-alive"), &b"b"[..])
    );
    conn.send(request("GET", "/docs/a.txt", ""));
    assert_eq!(conn.reply().status, 200, "and it did stay open");
}

#[test]
fn an_upload_finished_during_shutdown_is_told_the_connection_closes() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.grace_period = PATIENCE;
    });
    let addr = server.http.unwrap();
    let mut idle = Conn::open(addr);
    let mut uploading = Conn::open(addr);
    let body = pattern(100_000, 11);
    uploading.send(request("PUT", "/late", "Content-Length: 100000\r\n"));
    uploading.send(&body[..50_000]);
    // The server has taken the upload's head once a later request is answered.
    let mut probe = Conn::open(addr);
    probe.send(request("GET", "/", ""));
    assert_eq!(probe.reply().status, 200);

    server.handle().shutdown();
    idle.expect_closed(); // the server has seen the shutdown
    uploading.send(&body[50_000..]);
    let reply = uploading.reply();
    assert_eq!(
        (reply.status, reply.header("Connection")),
        (201, Some("close"))
    );
    uploading.expect_closed();
    assert_eq!(std::fs::read(server.path("late")).unwrap(), body);
    server.join().unwrap();
}

#[test]
fn a_request_half_sent_before_shutdown_is_answered_and_told_the_connection_closes() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.grace_period = PATIENCE;
    });
    let addr = server.http.unwrap();
    let mut idle = Conn::open(addr);
    let mut late = Conn::open(addr);
    let head = request("PUT", "/late", "Content-Length: 5\r\n");
    let (first, rest) = head.split_at(head.len() / 2);
    late.send(first);
    // The server has read the half head once a later request is answered.
    let mut probe = Conn::open(addr);
    probe.send(request("GET", "/", ""));
    assert_eq!(probe.reply().status, 200);

    server.handle().shutdown();
    idle.expect_closed(); // the server has seen the shutdown
    late.send(rest);
    late.send("hello");
    let reply = late.reply();
    assert_eq!(
        (reply.status, reply.header("Connection")),
        (201, Some("close"))
    );
    late.expect_closed();
    assert_eq!(std::fs::read(server.path("late")).unwrap(), b"hello");
    server.join().unwrap();
}

#[test]
fn a_blank_line_after_a_request_does_not_hold_the_connection_at_shutdown() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.grace_period = 30 * PATIENCE;
        c.header_timeout = 30 * PATIENCE;
        c.idle_timeout = 30 * PATIENCE;
    });
    let addr = server.http.unwrap();
    // Some clients send CRLF after a body; HTTP says to ignore it.
    let mut conn = Conn::open(addr);
    conn.send(request("PUT", "/x", "Content-Length: 2\r\n"));
    conn.send("hi\r\n");
    assert_eq!(conn.reply().status, 201);
    server.handle().shutdown();
    // Closed at once, not after the grace period: no request had begun
    // (a read that times out, after PATIENCE, fails here).
    let rest = conn.rest();
    assert!(matches!(&rest, Ok(r) if r.is_empty()), "{rest:?}");
    server.join().unwrap();
}

#[test]
fn close_wins_among_connection_options_and_checksums_are_eight_hex_digits() {
    let server = TestServer::start_http();
    let addr = server.http.unwrap();
    // RFC 9112 9.3: `close` anywhere closes, whatever follows it.
    for head in [
        "GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive, close\r\n\r\n",
    ] {
        let mut conn = Conn::open(addr);
        conn.send(head);
        let reply = conn.reply();
        assert_eq!(
            (reply.status, reply.header("Connection")),
            (200, Some("close")),
            "{head:?}"
        );
        conn.expect_closed();
    }
    // A signed or padded checksum is refused before the body, which is
    // skipped: the connection goes on and nothing is stored.
    let mut conn = Conn::open(addr);
    for value in ["+1234567", "\u{a0}deadbeef", "deadbee"] {
        let headers = format!("Content-Length: 3\r\nX-Checksum-Crc32c: {value}\r\n");
        conn.send(request("PUT", "/x", &headers) + "abc");
        assert_eq!(conn.reply().status, 400, "{value:?}");
    }
    let good = format!(
        "Content-Length: 3\r\nX-Checksum-Crc32c: {}\r\n",
        crc_hex(b"abc")
    );
    conn.send(request("PUT", "/x", &good) + "abc");
    assert_eq!(conn.reply().status, 201);
    assert_eq!(server.files_on_disk().len(), 1);
}

#[test]
fn move_renames_to_the_destination() {
    let server = TestServer::start_http();
    let addr = server.http.unwrap();
    std::fs::write(server.path("a"), b"abc").unwrap();
    let mut conn = Conn::open(addr);
    let mut ask = |method: &str, path: &str, headers: &str| {
        conn.send(request(method, path, headers));
        conn.reply()
    };
    // An absolute URI of this server (the one `Host` names) or a path;
    // 201 for a new name, 204 over a file.
    let moved = ask("MOVE", "/a", "Destination: http://localhost/d/b%20c\r\n");
    assert_eq!(moved.status, 201);
    assert_eq!(std::fs::read(server.path("d/b c")).unwrap(), b"abc");
    std::fs::write(server.path("e"), b"old").unwrap();
    assert_eq!(ask("MOVE", "/d/b%20c", "Destination: /e\r\n").status, 204);
    // Over HTTP a folder a MOVE empties stays, as in a file manager.
    assert!(server.path("d").is_dir(), "d/ went with its last file");
    assert_eq!(ask("GET", "/e", "").body, b"abc");
    // Refusals keep the connection.
    assert_eq!(ask("MOVE", "/e", "").status, 400);
    // A Destination ending in / is WebDAV's (tests/webdav/methods.rs): a folder
    // there (the emptied d/) is kept with Overwrite: F.
    let onto_folder = "Destination: /d/\r\nOverwrite: F\r\n";
    assert_eq!(ask("MOVE", "/e", onto_folder).status, 412);
    std::fs::remove_dir(server.path("d")).unwrap();
    assert_eq!(ask("MOVE", "/e", "Destination: /.ferry-x\r\n").status, 403);
    assert_eq!(ask("MOVE", "/nothere", "Destination: /f\r\n").status, 404);
    std::fs::write(server.path("f"), b"kept").unwrap();
    assert_eq!(
        ask("MOVE", "/e", "Destination: /f\r\nOverwrite: F\r\n").status,
        412
    );
    assert_eq!(std::fs::read(server.path("f")).unwrap(), b"kept");
    // A folder's MOVE is WebDAV's (tests/webdav/methods.rs); /x/ is not there and
    // nothing is touched.
    assert_eq!(ask("MOVE", "/x/", "Destination: /f\r\n").status, 404);
    assert_eq!(std::fs::read(server.path("f")).unwrap(), b"kept");
    let allowed = ask("POST", "/e", "");
    assert_eq!(
        allowed.header("Allow"),
        Some("GET, HEAD, PUT, DELETE, MOVE")
    );
    assert_eq!(std::fs::read(server.path("e")).unwrap(), b"abc");
}

/// A name with a Unicode direction control is refused (400) like one with
/// a control character, in the path and in a MOVE's `Destination`; the
/// connection goes on and nothing is stored.
#[test]
fn names_with_direction_controls_are_refused() {
    let server = TestServer::start_http();
    std::fs::write(server.path("plain"), b"p").unwrap();
    let mut conn = Conn::open(server.http.unwrap());
    for name in [
        "invoice%E2%80%AEfdp.exe",
        "a%E2%81%A6/b",
        "x%E2%80%8E",
        "%D8%9Cx",
    ] {
        for (method, path, headers) in [
            (
                "PUT",
                format!("/{name}"),
                "Content-Length: 5\r\n".to_owned(),
            ),
            ("GET", format!("/{name}"), String::new()),
            ("HEAD", format!("/{name}"), String::new()),
            ("DELETE", format!("/{name}"), String::new()),
            ("GET", format!("/{name}/"), String::new()),
            (
                "MOVE",
                "/plain".to_owned(),
                format!("Destination: /{name}\r\n"),
            ),
        ] {
            conn.send(request(method, &path, &headers));
            if method == "PUT" {
                conn.send("hello");
            }
            let reply = conn.reply_to(method);
            assert_eq!(reply.status, 400, "{method} {path} {headers}");
            let body = String::from_utf8_lossy(&reply.body);
            assert!(
                body.contains("direction control") || method == "HEAD",
                "{body}"
            );
        }
    }
    conn.send(request("GET", "/plain", ""));
    assert_eq!(conn.reply().body, b"p", "still in step");
    assert_eq!(server.files_on_disk(), ["plain"]);
}
