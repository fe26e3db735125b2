//! The web interface and folder archives over real sockets: the listing
//! page (type, embedded style and script, hostile names escaped), `.tar`
//! downloads parsed member by member (nested and empty folders, long
//! names, what access control hides), a file changed mid-archive, and
//! 401/403 on both. (The page driven by a real browser: `tests/browser/actions.rs`.)
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use ferry::storage::gate::{Gate, Point};
use support::TestServer;
use support::http::{Answer, exchange};
use support::tar::{Member, untar, untar_sorted};
use support::tokens::guarded;

fn plant(server: &TestServer, name: &str, body: &[u8]) {
    let path = server.path(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// `method target` with `headers`, on a connection that closes after it.
fn fetch(addr: SocketAddr, method: &str, target: &str, headers: &str) -> Answer {
    exchange(
        addr,
        method,
        target,
        &format!("Host: localhost\r\n{headers}"),
        b"",
    )
}

fn file(path: &str, data: &[u8]) -> Member {
    Member {
        path: path.into(),
        kind: b'0',
        data: data.into(),
    }
}

fn folder(path: &str) -> Member {
    Member {
        path: path.into(),
        kind: b'5',
        data: Vec::new(),
    }
}

#[test]
fn the_page_is_html_with_its_style_and_script_and_escapes_hostile_names() {
    let server = TestServer::start_http();
    let hostile = "d/<img src=x onerror=alert(1)>\"'&%41.txt";
    plant(&server, hostile, b"x");
    plant(&server, "d/<script>x/f", b"y");
    let page = fetch(server.http.unwrap(), "GET", "/d/", "");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(page.body).unwrap();
    for part in [
        "<meta name=\"viewport\"",
        "<style>",
        "<script>",
        "webkitdirectory",
        "<input type=\"hidden\" name=\"format\" value=\"zip\">",
        "<input type=\"hidden\" name=\"format\" value=\"tar\">",
        "<a href=\"/d/\">d</a></nav>",
    ] {
        assert!(html.contains(part), "{part} in {html}");
    }
    // Text and URL: each escaped for where it lands (the row carries no
    // name in an attribute: the script reads it from the address).
    assert!(!html.contains("data-name="));
    assert!(
        html.contains("href=\"/d/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%22%27%26%2541.txt\"")
    );
    assert!(html.contains(">&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;%41.txt</a>"));
    assert!(html.contains(">&lt;script&gt;x/</a>"));
    assert!(!html.contains("<img") && !html.contains("<script>x"));
    // The page's two: the one that holds the table back while it loads,
    // and the page's own.
    assert_eq!(html.matches("<script>").count(), 2);
    assert_eq!(html.matches("</script>").count(), 2);

    // JSON listings are as they were.
    let json = fetch(server.http.unwrap(), "GET", "/d/?format=json", "");
    assert_eq!(json.header("Content-Type"), Some("application/json"));
    assert!(
        String::from_utf8(json.body)
            .unwrap()
            .starts_with("{\"prefix\":\"d/\",\"dirs\":[")
    );
}

#[test]
fn a_folder_downloads_as_a_tar_with_exact_contents() {
    let server = TestServer::start_http();
    let long = format!("{}/{}.txt", "l".repeat(90), "n".repeat(70));
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
    plant(&server, "top/a.txt", b"alpha");
    plant(&server, "top/sub/deeper/b.bin", &big);
    plant(&server, "top/sub/empty.txt", b"");
    plant(&server, &format!("top/{long}"), b"long");
    plant(&server, "top/x y&z.txt", b"odd");
    plant(&server, "elsewhere.txt", b"not in it");
    std::fs::create_dir_all(server.path("top/nothing/inside")).unwrap();

    let answer = fetch(server.http.unwrap(), "GET", "/top/?tar", "");
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.header("Content-Type"), Some("application/x-tar"));
    assert_eq!(
        answer.header("Content-Disposition"),
        Some("attachment; filename=\"top.tar\"; filename*=UTF-8''top.tar")
    );
    let length: usize = answer.header("Content-Length").unwrap().parse().unwrap();
    assert_eq!(answer.body.len(), length);
    let (dir, _) = long.split_once('/').unwrap();
    assert_eq!(
        untar_sorted(&answer.body),
        vec![
            folder("top/"),
            file("top/a.txt", b"alpha"),
            folder(&format!("top/{dir}/")),
            file(&format!("top/{long}"), b"long"),
            folder("top/nothing/"),
            folder("top/nothing/inside/"),
            folder("top/sub/"),
            folder("top/sub/deeper/"),
            file("top/sub/deeper/b.bin", &big),
            file("top/sub/empty.txt", b""),
            file("top/x y&z.txt", b"odd"),
        ]
    );

    // The same from `?format=tar`; HEAD gives the length alone; the top
    // of the tree is an archive of everything, without a folder above it.
    // (The folder asked for has its own entry, first, like `tar c top`.)
    assert_eq!(untar(&answer.body)[0], folder("top/"));
    let again = fetch(server.http.unwrap(), "GET", "/top/?format=tar", "");
    assert_eq!(again.body, answer.body);
    let head = fetch(server.http.unwrap(), "HEAD", "/top/?tar", "");
    assert_eq!(head.header("Content-Length"), Some(&*length.to_string()));
    assert!(head.body.is_empty());
    let all = fetch(server.http.unwrap(), "GET", "/?tar", "");
    let members = untar_sorted(&all.body);
    assert_eq!(members[0], file("elsewhere.txt", b"not in it"));
    assert_eq!(members[1], folder("top/"));
    assert!(
        all.header("Content-Disposition")
            .unwrap()
            .ends_with("ferry.tar")
    );
    assert_eq!(
        fetch(server.http.unwrap(), "GET", "/none/?tar", "").status,
        404
    );
}

#[test]
fn a_folder_no_request_could_name_is_left_out_of_an_archive() {
    let server = TestServer::start_http();
    plant(&server, "top/a.txt", b"alpha");
    // Made by other means: a name with a control character, which no
    // request can carry and LIST leaves out.
    std::fs::create_dir_all(server.path("top/bad\u{1}name")).unwrap();
    std::fs::write(server.path("top/bad\u{1}name/inner.txt"), b"x").unwrap();
    let answer = fetch(server.http.unwrap(), "GET", "/top/?tar", "");
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(
        untar(&answer.body),
        vec![folder("top/"), file("top/a.txt", b"alpha")]
    );
}

#[test]
fn the_tar_command_reads_the_archive_where_it_is_installed() {
    if std::process::Command::new("tar")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no tar command on this machine");
        return;
    }
    let server = TestServer::start_http();
    plant(&server, &format!("t/{}/f", "d".repeat(120)), b"deep");
    let answer = fetch(server.http.unwrap(), "GET", "/t/?tar", "");
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("t.tar");
    std::fs::write(&archive, &answer.body).unwrap();
    let status = std::process::Command::new("tar")
        .arg("xf")
        .arg(&archive)
        .arg("-C")
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let path = out.path().join(format!("t/{}/f", "d".repeat(120)));
    assert_eq!(std::fs::read(path).unwrap(), b"deep");
}

/// `s/?tar` and `s/?zip` of two 5,000-byte files, with `change` made to
/// them while the first file's open is held (after the archive's length
/// was counted): the answer must close short of its `Content-Length`.
fn archive_closes_short_after(change: impl Fn(&TestServer)) {
    for query in ["tar", "zip"] {
        archive_closes_short_after_in(query, &change);
    }
}

fn archive_closes_short_after_in(query: &str, change: &impl Fn(&TestServer)) {
    let gate = Arc::new(Gate::new(Point::Open));
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.gate = Some(gate.clone());
    });
    plant(&server, "s/a.bin", &[1; 5000]);
    plant(&server, "s/b.bin", &[2; 5000]);
    let addr = server.http.unwrap();
    let target = format!("/s/?{query}");
    let reader = std::thread::spawn(move || fetch(addr, "GET", &target, ""));
    gate.wait_for_arrivals(1);
    change(&server);
    gate.open();
    let answer = reader.join().unwrap();
    assert_eq!(answer.status, 200);
    let announced: usize = answer.header("Content-Length").unwrap().parse().unwrap();
    assert!(
        answer.body.len() < announced,
        "closed short: {} of {announced}",
        answer.body.len()
    );
}

#[test]
fn a_file_that_shrinks_before_it_is_archived_cuts_the_download_short() {
    archive_closes_short_after(|server| {
        std::fs::write(server.path("s/a.bin"), b"shorter").unwrap();
    });
}

#[test]
fn a_file_that_grows_between_the_length_and_its_turn_cuts_the_download_short() {
    // The length is counted before the first file is opened: files that
    // then grow cannot fit in it and are never sent truncated.
    archive_closes_short_after(|server| {
        std::fs::write(server.path("s/a.bin"), [3; 9000]).unwrap();
        std::fs::write(server.path("s/b.bin"), [4; 9000]).unwrap();
    });
}

#[test]
fn the_page_and_the_tar_answer_to_access_control() {
    let (server, tokens, _dir) = guarded(&[("reader", &["read:pub/"])], &["read:open/"]);
    plant(&server, "pub/a.txt", b"a");
    plant(&server, "secret/s.txt", b"s");
    plant(&server, "open/o.txt", b"o");
    let addr = server.http.unwrap();

    // Anonymous: the browser is asked to sign in for what it may not see.
    for target in ["/pub/", "/pub/?tar"] {
        let answer = fetch(addr, "GET", target, "");
        assert_eq!(answer.status, 401, "{target}");
        assert!(
            answer
                .header("WWW-Authenticate")
                .unwrap()
                .starts_with("Basic")
        );
    }
    assert_eq!(fetch(addr, "GET", "/open/", "").status, 200);

    // Basic, as a browser sends it: the token as the password.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("me:{}", tokens[0]));
    let auth = format!("Authorization: Basic {basic}\r\n");
    assert_eq!(fetch(addr, "GET", "/pub/", &auth).status, 200);
    assert_eq!(fetch(addr, "GET", "/secret/?tar", &auth).status, 403);
    let page = fetch(addr, "DELETE", "/pub/a.txt", &auth);
    assert_eq!(page.status, 403);
    // The archive of the top holds only what the token may read.
    let all = fetch(addr, "GET", "/?tar", &auth);
    assert_eq!(all.status, 200);
    assert_eq!(
        untar_sorted(&all.body),
        vec![folder("pub/"), file("pub/a.txt", b"a")]
    );
}

#[test]
fn many_members_without_data_arrive_whole_in_pieces() {
    // Over 2 MiB of headers alone: written in batches by job after job,
    // each waiting for the one before to be mostly sent.
    let server = TestServer::start_http();
    let mut expected = vec![folder("m/")];
    for dir in 0..20 {
        expected.push(folder(&format!("m/d{dir:02}/")));
        for n in 0..150 {
            let name = format!("m/d{dir:02}/{}{n:03}", "e".repeat(110));
            plant(&server, &name, b"");
            expected.push(file(&name, b""));
        }
    }
    expected.sort_by(|a, b| a.path.cmp(&b.path));
    let answer = fetch(server.http.unwrap(), "GET", "/m/?tar", "");
    assert!(answer.body.len() > 2 << 20, "{}", answer.body.len());
    assert_eq!(untar_sorted(&answer.body), expected);
}
