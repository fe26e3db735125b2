//! Cross-origin requests (`--cors-origin`, `src/http/cors.rs`) over real
//! sockets: a page of an allowed origin gets its preflight answered and
//! may read the answers (tus's fields exposed) and send the writes that
//! the web origin's rules refuse any other site's page; an origin not
//! allowed gets no CORS field and its writes stay refused; tokens and
//! grants hold for allowed origins as for anyone. Then the same in
//! headless Chromium: a page on another port uploads through tus.

use crate::support;
use crate::webdriver;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use serde_json::json;
use support::TestServer;
use support::http::{Answer, bearer, exchange};
use support::tokens::guarded_with;
use webdriver::Browser;

const APP: &str = "https://app.example";
const TUS: &str = "Tus-Resumable: 1.0.0\r\n";

fn server_allowing(origins: &[&str]) -> TestServer {
    let origins: Vec<String> = origins.iter().map(|o| o.to_string()).collect();
    TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.web.cors_origins = origins;
    })
}

/// What a browser adds to a request a page of `origin` makes to another
/// site.
fn from(origin: &str) -> String {
    format!("Host: localhost\r\nOrigin: {origin}\r\nSec-Fetch-Site: cross-site\r\n")
}

fn preflight(addr: SocketAddr, origin: &str, method: &str) -> Answer {
    let fields = format!(
        "{}Access-Control-Request-Method: {method}\r\nAccess-Control-Request-Headers: authorization,tus-resumable,upload-length,upload-metadata\r\n",
        from(origin)
    );
    exchange(addr, "OPTIONS", "/photos/", &fields, b"")
}

fn create(addr: SocketAddr, fields: &str, name: &str, len: u64) -> Answer {
    let meta = base64::engine::general_purpose::STANDARD.encode(name);
    let fields =
        format!("{fields}{TUS}Upload-Length: {len}\r\nUpload-Metadata: filename {meta}\r\n");
    exchange(addr, "POST", "/photos/", &fields, b"")
}

#[test]
fn an_allowed_origin_is_answered_its_preflight_and_may_upload() {
    let server = server_allowing(&[APP]);
    let addr = server.http.unwrap();

    let answer = preflight(addr, APP, "PATCH");
    assert_eq!(answer.status, 204, "{}", answer.head);
    assert_eq!(answer.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(answer.header("Vary"), Some("Origin"));
    let methods = answer.header("Access-Control-Allow-Methods").unwrap();
    for method in ["POST", "PATCH", "HEAD", "DELETE", "PUT"] {
        assert!(methods.contains(method), "{methods}");
    }
    let fields = answer.header("Access-Control-Allow-Headers").unwrap();
    for field in [
        "Authorization",
        "Upload-Offset",
        "Upload-Metadata",
        "Tus-Resumable",
    ] {
        assert!(fields.contains(field), "{fields}");
    }
    assert!(answer.header("Access-Control-Max-Age").is_some());

    // The upload itself, as the browser sends it after the preflight.
    let created = create(addr, &from(APP), "a.bin", 3);
    assert_eq!(created.status, 201, "{}", created.head);
    assert_eq!(created.header("Access-Control-Allow-Origin"), Some("*"));
    let exposed = created.header("Access-Control-Expose-Headers").unwrap();
    for field in [
        "Location",
        "Upload-Offset",
        "Upload-Length",
        "Upload-Expires",
    ] {
        assert!(exposed.contains(field), "{exposed}");
    }
    let url = created.header("Location").unwrap().to_owned();
    let patch = |offset: u64, bytes: &[u8]| {
        let fields = format!(
            "{}{TUS}Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n",
            from(APP)
        );
        exchange(addr, "PATCH", &url, &fields, bytes)
    };
    // A refusal reaches the page too, or it could not tell why.
    let wrong = patch(1, b"bc");
    assert_eq!(wrong.status, 409, "{}", wrong.head);
    assert_eq!(wrong.header("Access-Control-Allow-Origin"), Some("*"));
    let done = patch(0, b"abc");
    assert_eq!(done.status, 204, "{}", done.head);
    assert_eq!(std::fs::read(server.path("photos/a.bin")).unwrap(), b"abc");
}

#[test]
fn another_origin_gets_no_cors_field_and_its_writes_stay_refused() {
    for server in [server_allowing(&[]), server_allowing(&[APP])] {
        let addr = server.http.unwrap();
        let evil = "https://evil.example";
        let answer = preflight(addr, evil, "PATCH");
        assert_eq!(answer.header("Access-Control-Allow-Origin"), None);
        assert_eq!(answer.header("Access-Control-Allow-Methods"), None);
        let created = create(addr, &from(evil), "a.bin", 3);
        assert_eq!(created.status, 403, "{}", created.head);
        assert_eq!(created.header("Access-Control-Allow-Origin"), None);
        // The same origin's own pages need no CORS, and get none.
        let own = exchange(addr, "GET", "/", "Host: localhost\r\n", b"");
        assert_eq!(own.header("Access-Control-Allow-Origin"), None);
        assert_eq!(server.settled_files_on_disk(), Vec::<String>::new());
    }
}

#[test]
fn every_origin_is_allowed_by_a_star_and_the_origin_is_compared_whole() {
    let star = server_allowing(&["*"]);
    let created = create(
        star.http.unwrap(),
        &from("http://any.example:8080"),
        "s.bin",
        0,
    );
    assert_eq!(created.status, 201, "{}", created.head);
    assert_eq!(created.header("Access-Control-Allow-Origin"), Some("*"));

    let one = server_allowing(&[APP]);
    for near in [
        "http://app.example",
        "https://app.example:8443",
        "https://app.example.evil",
    ] {
        let answer = create(one.http.unwrap(), &from(near), "n.bin", 0);
        assert_eq!(answer.status, 403, "{near}: {}", answer.head);
    }
}

#[test]
fn tokens_and_grants_hold_for_an_allowed_origin() {
    let (server, tokens, _dir) = guarded_with(
        &[("writer", &["write:/photos/"]), ("reader", &["read:/"])],
        &[],
        |c| c.web.cors_origins = vec![APP.into()],
    );
    let addr = server.http.unwrap();
    // A preflight carries no token, and needs none.
    let answer = preflight(addr, APP, "POST");
    assert_eq!(answer.status, 204, "{}", answer.head);
    assert_eq!(answer.header("Access-Control-Allow-Origin"), Some("*"));
    // Without a token: 401, readable by the page (so it can ask for one).
    let anonymous = create(addr, &from(APP), "t.bin", 1);
    assert_eq!(anonymous.status, 401, "{}", anonymous.head);
    assert_eq!(anonymous.header("Access-Control-Allow-Origin"), Some("*"));
    let reader = format!("{}{}", from(APP), bearer(&tokens[1]));
    assert_eq!(create(addr, &reader, "t.bin", 1).status, 403);
    let writer = format!("{}{}", from(APP), bearer(&tokens[0]));
    assert_eq!(create(addr, &writer, "t.bin", 1).status, 201);
}

/// A static file server (Python's) for a page of an origin of its own.
struct PageServer {
    child: Child,
    port: u16,
}

impl PageServer {
    fn start(dir: &std::path::Path) -> Option<PageServer> {
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let mut line = String::new();
        BufReader::new(child.stdout.take()?)
            .read_line(&mut line)
            .ok()?;
        let port = line
            .split(" port ")
            .nth(1)?
            .split(' ')
            .next()?
            .parse()
            .ok()?;
        Some(PageServer { child, port })
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tus upload made with XMLHttpRequest by a page of another origin:
/// what the page saw, once it is done.
const UPLOAD: &str = r#"
const [endpoint, size] = arguments;
window.outcome = null;
const bytes = new Uint8Array(size).map((_, i) => (i * 7 + 3) % 251);
function send(method, url, headers, body) {
  return new Promise((done) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.onload = () => done(xhr);
    xhr.onerror = () => done(xhr);
    xhr.send(body);
  });
}
(async () => {
  const tus = { 'Tus-Resumable': '1.0.0' };
  const created = await send('POST', endpoint, { ...tus, 'Upload-Length': String(size),
    'Upload-Metadata': 'filename ' + btoa('cross.bin') }, null);
  const location = created.getResponseHeader('Location');
  if (created.status !== 201 || !location) {
    window.outcome = { created: created.status, location };
    return;
  }
  const url = new URL(location, endpoint).href;
  const patched = await send('PATCH', url, { ...tus, 'Upload-Offset': '0',
    'Content-Type': 'application/offset+octet-stream' }, bytes);
  window.outcome = { created: created.status, location, patched: patched.status,
    offset: patched.getResponseHeader('Upload-Offset') };
})();
"#;

#[test]
fn a_page_of_an_allowed_origin_uploads_through_tus_in_chromium() {
    let browser = match Browser::find() {
        Ok((chromium, driver)) => Browser::start(&chromium, &driver),
        Err(why) => {
            let _ = writeln!(
                std::io::stderr(),
                "skipped: the CORS browser test needs Chromium and chromedriver: {why}"
            );
            return;
        }
    };
    let pages = tempfile::tempdir().unwrap();
    std::fs::write(
        pages.path().join("app.html"),
        "<!doctype html><title>app</title>",
    )
    .unwrap();
    let Some(page_server) = PageServer::start(pages.path()) else {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: python3 -m http.server did not start"
        );
        return;
    };
    let origin = format!("http://127.0.0.1:{}", page_server.port);
    let size = 300_000;
    for (allowed, expect_upload) in [(vec![], false), (vec![origin.clone()], true)] {
        let server = TestServer::start_with(|c| {
            c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
            c.web.cors_origins = allowed;
        });
        browser.open(&format!("{origin}/app.html"));
        let endpoint = format!("http://{}/in/", server.http.unwrap());
        browser.run(UPLOAD, json!([endpoint, size]));
        let outcome = browser.wait_for("the page's upload", || {
            let outcome = browser.run("return window.outcome;", json!([]));
            (!outcome.is_null()).then_some(outcome)
        });
        if expect_upload {
            assert_eq!(outcome["created"], 201, "{outcome}");
            assert_eq!(outcome["patched"], 204, "{outcome}");
            assert_eq!(outcome["offset"], size.to_string(), "{outcome}");
            let expected: Vec<u8> = (0..size).map(|i| ((i * 7 + 3) % 251) as u8).collect();
            assert_eq!(
                std::fs::read(server.path("in/cross.bin")).unwrap(),
                expected
            );
        } else {
            // The browser itself refuses: the preflight allows nothing.
            assert_eq!(outcome["created"], 0, "{outcome}");
            assert!(!server.path("in/cross.bin").exists());
        }
    }
}
