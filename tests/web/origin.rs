//! The web origin over real sockets (docs/security.md, "The web origin"):
//! user files are presented so that they never run as the interface
//! (`nosniff`, a sandboxing policy, attachments for types that can carry
//! script), the interface page allows only its own script, a Host that a
//! DNS rebinding could have chosen is refused while access control is off,
//! and a browser may not change files for another site's page. The same
//! attack driven in a real browser: `tests/browser/actions.rs`.
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

use crate::support;

use base64::Engine as _;
use sha2::Digest as _;
use support::TestServer;
use support::http::{bearer, exchange};
use support::tokens::guarded;

fn open_server(adjust: impl FnOnce(&mut ferry::Config)) -> TestServer {
    TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        adjust(c);
    })
}

fn plant(server: &TestServer, name: &str, body: &[u8]) {
    let path = server.path(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

const LOCAL: &str = "Host: localhost\r\n";

#[test]
fn user_files_are_sandboxed_and_those_that_can_run_script_are_attachments() {
    let server = open_server(|_| {});
    let addr = server.http.unwrap();
    let page = b"<script>fetch('/secret.txt')</script>";
    for name in [
        "in/report.html",
        "in/logo.svg",
        "in/feed.xml",
        "in/app.js",
        "in/blob",
    ] {
        plant(&server, name, page);
        for (method, range) in [("GET", ""), ("HEAD", ""), ("GET", "Range: bytes=0-3\r\n")] {
            let answer = exchange(
                addr,
                method,
                &format!("/{name}"),
                &format!("{LOCAL}{range}"),
                b"",
            );
            assert!(
                matches!(answer.status, 200 | 206),
                "{name}: {}",
                answer.head
            );
            assert_eq!(
                answer.header("Content-Disposition"),
                Some("attachment"),
                "{name}"
            );
            assert_eq!(answer.header("X-Content-Type-Options"), Some("nosniff"));
            let policy = answer.header("Content-Security-Policy").unwrap();
            assert!(policy.starts_with("sandbox;") && policy.contains("default-src 'none'"));
        }
    }
    // Passive types are shown in place, still in the sandbox: HTML inside a
    // .txt is text, never a page. PDF, sound and video too (the page
    // previews them in place), with their types.
    for (name, media_type) in [
        ("in/notes.txt", "text/plain; charset=utf-8"),
        ("in/data.csv", "text/csv; charset=utf-8"),
        ("in/picture.png", "image/png"),
        ("in/paper.pdf", "application/pdf"),
        ("in/tune.wav", "audio/wav"),
        ("in/clip.webm", "video/webm"),
        ("in/film.MP4", "video/mp4"),
    ] {
        plant(&server, name, page);
        let answer = exchange(addr, "GET", &format!("/{name}"), LOCAL, b"");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("Content-Type"), Some(media_type), "{name}");
        assert_eq!(answer.header("Content-Disposition"), None, "{name}");
        assert_eq!(answer.header("X-Content-Type-Options"), Some("nosniff"));
        assert!(
            answer
                .header("Content-Security-Policy")
                .unwrap()
                .starts_with("sandbox;")
        );
    }
    // Error answers (whose text may name a file) are never sniffed either.
    let missing = exchange(addr, "GET", "/in/%3Cscript%3E.html", LOCAL, b"");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("X-Content-Type-Options"), Some("nosniff"));
}

#[test]
fn an_operator_may_serve_a_static_site_inline() {
    let server = open_server(|c| c.web.inline_content = true);
    plant(&server, "site/index.html", b"<h1>hi</h1>");
    let answer = exchange(server.http.unwrap(), "GET", "/site/index.html", LOCAL, b"");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(answer.header("Content-Disposition"), None);
    assert_eq!(answer.header("Content-Security-Policy"), None);
    assert_eq!(answer.body, b"<h1>hi</h1>");
}

/// The `sha256-...` source of the text between `open` and `</tag>`.
fn hash_of_element(page: &str, open: &str, close: &str) -> String {
    let start = page.find(open).unwrap() + open.len();
    let end = start + page[start..].find(close).unwrap();
    let digest = sha2::Sha256::digest(&page.as_bytes()[start..end]);
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[test]
fn the_interface_runs_only_its_own_script_and_in_no_frame() {
    let server = open_server(|_| {});
    plant(&server, "a/x.txt", b"x");
    let answer = exchange(server.http.unwrap(), "GET", "/a/", LOCAL, b"");
    assert_eq!(answer.status, 200);
    let page = String::from_utf8(answer.body.clone()).unwrap();
    let policy = answer.header("Content-Security-Policy").unwrap();
    // Two: the one that holds the table back while the page loads, first
    // in the body, and the page's own, last.
    let hold = hash_of_element(&page, "<script>", "</script>");
    let own_start = page.rfind("<script>").unwrap();
    let script = hash_of_element(&page[own_start..], "<script>", "</script>");
    let style = hash_of_element(&page, "<style>", "</style>");
    for directive in [
        "default-src 'none'".to_owned(),
        format!("script-src {hold} {script}"),
        format!("style-src {style}"),
        "connect-src 'self'".to_owned(),
        "frame-ancestors 'none'".to_owned(),
        "base-uri 'none'".to_owned(),
        // The archive downloads are GET forms to this server.
        "form-action 'self'".to_owned(),
        // Previews: sound and video played, PDFs framed, from here only.
        "media-src 'self'".to_owned(),
        "frame-src 'self'".to_owned(),
    ] {
        assert!(
            policy.split("; ").any(|d| d == directive),
            "{directive} in {policy}"
        );
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(
        page.matches("<script").count(),
        2,
        "two scripts, the page's own"
    );
    assert_eq!(answer.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(answer.header("X-Content-Type-Options"), Some("nosniff"));
}

#[test]
fn without_access_control_a_rebound_host_is_refused_and_loopback_is_served() {
    let server = open_server(|c| c.web.allow_hosts = vec!["files.example".into()]);
    let addr = server.http.unwrap();
    plant(&server, "victim.txt", b"keep me");
    // A page on attacker.example whose name now points at 127.0.0.1.
    for (method, target) in [
        ("GET", "/victim.txt"),
        ("DELETE", "/victim.txt"),
        ("GET", "/"),
    ] {
        let answer = exchange(addr, method, target, "Host: attacker.example:8080\r\n", b"");
        assert_eq!(answer.status, 403, "{method} {target}: {}", answer.head);
        let text = String::from_utf8_lossy(&answer.body);
        assert!(text.contains("--allow-host"), "{text}");
    }
    let put = exchange(
        addr,
        "PUT",
        "/planted.txt",
        "Host: attacker.example\r\n",
        b"x",
    );
    assert_eq!(put.status, 403);
    assert!(!server.path("planted.txt").exists());
    assert_eq!(
        std::fs::read(server.path("victim.txt")).unwrap(),
        b"keep me"
    );
    // Names a rebinding cannot forge, and the operator's own.
    for host in [
        format!("Host: {addr}\r\n"),
        "Host: localhost:80\r\n".into(),
        "Host: [::1]:8080\r\n".into(),
        "Host: files.example\r\n".into(),
        String::new(), // HTTP/1.1 needs one: 400, but not for the Host's sake
    ] {
        let answer = exchange(addr, "GET", "/victim.txt", &host, b"");
        match host.is_empty() {
            true => assert_eq!(answer.status, 400),
            false => assert_eq!(
                (answer.status, answer.body.as_slice()),
                (200, &b"keep me"[..]),
                "{host}"
            ),
        }
    }
    // The refused request ends no connection's framing: its body is
    // skipped, and the next request on the connection is served.
    let mut raw = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    raw.set_read_timeout(Some(support::PATIENCE)).unwrap();
    raw.write_all(
        b"PUT /p.txt HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 3\r\n\r\nabc\
          GET /victim.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut all = String::new();
    raw.read_to_string(&mut all).unwrap();
    assert!(all.starts_with("HTTP/1.1 403 "), "{all}");
    assert!(
        all.contains("HTTP/1.1 200 OK") && all.ends_with("keep me"),
        "{all}"
    );
}

#[test]
fn with_access_control_any_host_is_served_to_a_token_holder() {
    let (server, tokens, _dir) = guarded(&[("admin", &["read:/", "write:/", "delete:/"])], &[]);
    let addr = server.http.unwrap();
    plant(&server, "a.txt", b"a");
    let headers = format!("Host: files.example.com\r\n{}", bearer(&tokens[0]));
    assert_eq!(exchange(addr, "GET", "/a.txt", &headers, b"").status, 200);
}

#[test]
fn a_foreign_page_may_not_change_files_even_through_a_signed_in_browser() {
    let (server, tokens, _dir) = guarded(&[("admin", &["read:/", "write:/", "delete:/"])], &[]);
    let addr = server.http.unwrap();
    plant(&server, "victim.txt", b"keep me");
    let admin = bearer(&tokens[0]);
    let own = format!("Host: {addr}\r\n{admin}");
    for (method, target, extra, body) in [
        (
            "DELETE",
            "/victim.txt",
            "Origin: http://evil.example\r\n",
            &b""[..],
        ),
        (
            "PUT",
            "/victim.txt",
            "Origin: http://evil.example\r\n",
            b"gone",
        ),
        ("PUT", "/victim.txt", "Origin: null\r\n", b"gone"),
        (
            "MOVE",
            "/victim.txt",
            "Origin: http://127.0.0.1:1\r\nDestination: /moved.txt\r\n",
            b"",
        ),
        (
            "DELETE",
            "/victim.txt",
            "Sec-Fetch-Site: cross-site\r\n",
            b"",
        ),
        (
            "DELETE",
            "/victim.txt",
            "Sec-Fetch-Site: same-site\r\nOrigin: http://a.localhost\r\n",
            b"",
        ),
    ] {
        let answer = exchange(addr, method, target, &format!("{own}{extra}"), body);
        assert_eq!(
            answer.status, 403,
            "{method} with {extra:?}: {}",
            answer.head
        );
        assert!(String::from_utf8_lossy(&answer.body).contains("cross-site"));
    }
    assert_eq!(
        std::fs::read(server.path("victim.txt")).unwrap(),
        b"keep me"
    );
    assert!(!server.path("moved.txt").exists());
    // Reading stays open to any page (the browser keeps the answer from a
    // foreign one: ferry sends no CORS header), and the interface's own
    // requests, and tools that send no Origin, change what they may.
    let read = exchange(
        addr,
        "GET",
        "/victim.txt",
        &format!("{own}Origin: http://evil.example\r\n"),
        b"",
    );
    assert_eq!(read.status, 200);
    assert_eq!(read.header("Access-Control-Allow-Origin"), None);
    let same = format!("{own}Origin: http://{addr}\r\nSec-Fetch-Site: same-origin\r\n");
    assert_eq!(
        exchange(addr, "PUT", "/victim.txt", &same, b"mine").status,
        204
    );
    assert_eq!(
        exchange(addr, "DELETE", "/victim.txt", &own, b"").status,
        204
    );
}
