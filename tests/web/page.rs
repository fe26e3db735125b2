//! What the listing page is told over a real socket: the rights the
//! serve layer grants in the folder (`data-may`, `data-read-only` on
//! `<body>`; the upload tools only where the client may write), and a
//! browser's refusals (401, 403, 404) as a page in the interface's style
//! with a way back, while curl and programs keep the one-line text. (The
//! page acting on them in a browser: `tests/browser/page.rs`.)
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::net::SocketAddr;

use support::TestServer;
use support::http::{Answer, bearer, exchange};
use support::tokens::{guarded, guarded_with};

/// What a browser sends when it navigates.
const BROWSER: &str = "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n";

fn get(addr: SocketAddr, target: &str, headers: &str) -> Answer {
    exchange(
        addr,
        "GET",
        target,
        &format!("Host: localhost\r\n{headers}"),
        b"",
    )
}

/// The `<body ...>` tag of a page.
fn body_tag(answer: &Answer) -> String {
    let html = answer.text();
    let start = html.find("<body").expect("a body");
    html[start..start + html[start..].find('>').unwrap() + 1].to_owned()
}

#[test]
fn the_page_is_told_what_the_client_may_do_in_the_folder() {
    // Access control off: everything.
    let open = TestServer::start_http();
    let page = get(open.http.unwrap(), "/", "");
    assert_eq!(
        body_tag(&page),
        "<body data-prefix=\"\" data-may=\"write delete\">"
    );
    assert!(page.text().contains("id=\"pick-files\""));
    assert!(page.text().contains("id=\"new-folder\""));

    // A read-only server: nobody may write, whatever the grants.
    let read_only = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.read_only = true;
    });
    let page = get(read_only.http.unwrap(), "/", "");
    assert_eq!(
        body_tag(&page),
        "<body data-prefix=\"\" data-may=\"\" data-read-only>"
    );
    for tool in ["pick-files", "pick-folder", "new-folder"] {
        let element = format!("id=\"{tool}\"");
        assert!(
            !page.text().contains(&element),
            "{tool} on a read-only server"
        );
    }
    // The archives stay: they only read.
    assert!(page.text().contains("value=\"zip\""));

    // Per token and folder, as the grants say.
    let (server, tokens, _dir) = guarded(
        &[
            ("editor", &["read:/", "write:/"]),
            ("keeper", &["read:/", "write:/", "delete:/tidy"]),
        ],
        &["read:/"],
    );
    std::fs::create_dir_all(server.path("tidy")).unwrap();
    let addr = server.http.unwrap();
    let tag = |target: &str, headers: &str| body_tag(&get(addr, target, headers));
    assert_eq!(
        tag("/", &bearer(&tokens[0])),
        "<body data-prefix=\"\" data-may=\"write\">"
    );
    assert_eq!(
        tag("/", &bearer(&tokens[1])),
        "<body data-prefix=\"\" data-may=\"write\">"
    );
    assert_eq!(
        tag("/tidy/", &bearer(&tokens[1])),
        "<body data-prefix=\"tidy/\" data-may=\"write delete\">"
    );
    // Anonymous readers get no tools at all.
    let page = get(addr, "/", "");
    assert_eq!(body_tag(&page), "<body data-prefix=\"\" data-may=\"\">");
    assert!(!page.text().contains("id=\"pick-files\""));
}

/// The row of `name` (a folder, full name ending in `/`) in a page.
fn row<'a>(html: &'a str, name: &str) -> &'a str {
    let link = format!("<a href=\"/{name}\">");
    let at = html
        .find(&link)
        .unwrap_or_else(|| panic!("no row of {name}: {html}"));
    let start = html[..at].rfind("<tr").unwrap();
    &html[start..at]
}

#[test]
fn a_folder_row_carries_its_own_rights_where_the_grants_differ_below() {
    // Write in one sub-folder only: the listed folder's rights say no
    // write, that folder's row says yes, its sibling's says nothing.
    // Delete in it only: the folder itself may not be deleted (a grant on
    // `top/only/` is on what it holds), so its row offers no delete.
    let holders: &[(&str, &[&str])] = &[
        ("pruner", &["read:/", "delete:top/only/"]),
        ("filler", &["read:/", "write:top/only/"]),
    ];
    let (server, tokens, _dir) = guarded(holders, &[]);
    for dir in ["top/only/deep", "top/other"] {
        std::fs::create_dir_all(server.path(dir)).unwrap();
    }
    let addr = server.http.unwrap();
    let page = get(addr, "/top/", &bearer(&tokens[0]));
    assert_eq!(body_tag(&page), "<body data-prefix=\"top/\" data-may=\"\">");
    let html = page.text();
    assert_eq!(
        row(&html, "top/only/"),
        "<tr class=\"dir\"><td class=\"n\">"
    );
    let filled = get(addr, "/top/", &bearer(&tokens[1])).text();
    assert_eq!(
        row(&filled, "top/only/"),
        "<tr class=\"dir\" data-may=\"write\"><td class=\"n\">"
    );
    assert_eq!(
        row(&html, "top/other/"),
        "<tr class=\"dir\"><td class=\"n\">"
    );
    // Inside it, the folder's own rights say it: no row needs its own.
    let inside = get(addr, "/top/only/", &bearer(&tokens[0]));
    assert_eq!(
        body_tag(&inside),
        "<body data-prefix=\"top/only/\" data-may=\"delete\">"
    );
    assert_eq!(
        row(&inside.text(), "top/only/deep/"),
        "<tr class=\"dir\"><td class=\"n\">"
    );
    // Everything allowed (no tokens): no row carries rights.
    let open = TestServer::start_http();
    std::fs::create_dir_all(open.path("a/b")).unwrap();
    assert!(
        !get(open.http.unwrap(), "/a/", "")
            .text()
            .contains("<tr class=\"dir\" data-may")
    );
}

#[test]
fn a_row_is_a_link_a_size_and_a_time_in_words() {
    let server = TestServer::start_http();
    std::fs::create_dir_all(server.path("d/sub")).unwrap();
    std::fs::write(server.path("d/small.txt"), b"abc").unwrap();
    std::fs::write(server.path("d/big.bin"), vec![0u8; 1536]).unwrap();
    let html = get(server.http.unwrap(), "/d/", "").text();
    for (name, rest) in [
        ("small.txt", "<td class=\"s\">3 B<td class=\"t\">"),
        (
            "big.bin",
            "<td class=\"s\" data-size=\"1536\">1.5 KiB<td class=\"t\">",
        ),
        ("sub/", "<td class=\"s\">-<td class=\"t\">"),
    ] {
        let class = if name.ends_with('/') { "dir" } else { "file" };
        let start =
            format!("<tr class=\"{class}\"><td class=\"n\"><a href=\"/d/{name}\">{name}</a>{rest}");
        let line = html
            .lines()
            .find(|l| l.starts_with(&start))
            .unwrap_or_else(|| panic!("{start} in {html}"));
        // `2026-11-24 23:54:07` (UTC, as the heading says), then the
        // actions' cell, which the script fills.
        let when = line[start.len()..]
            .strip_suffix("<td class=\"o\">")
            .unwrap_or_else(|| panic!("{line}"));
        let shape: String = when
            .chars()
            .map(|c| if c.is_ascii_digit() { '9' } else { c })
            .collect();
        assert_eq!(shape, "9999-99-99 99:99:99", "{line}");
    }
    assert!(html.contains("Modified <span class=\"utc\">(UTC)</span>"));
}

#[test]
fn a_browser_is_shown_a_missing_name_as_a_page_with_a_way_back() {
    let server = TestServer::start_http();
    std::fs::create_dir_all(server.path("docs")).unwrap();
    let addr = server.http.unwrap();
    // A file: back to its folder.
    let missing = get(addr, "/docs/gone.txt", BROWSER);
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert!(missing.header("Content-Security-Policy").is_some());
    let html = missing.text();
    assert!(html.contains("<h1>Not found</h1>"), "{html}");
    assert!(html.contains("<a id=\"back\" href=\"./\">"), "{html}");
    assert!(html.contains("<style>"), "in the interface's style: {html}");
    assert!(!html.contains("<script"), "{html}");
    // A folder: back to the one above.
    let folder = get(addr, "/docs/none/", BROWSER);
    assert_eq!(folder.status, 404);
    assert!(folder.text().contains("href=\"../\""));
    // curl and programs keep the one line.
    for headers in ["", "Accept: */*\r\n", "Accept: application/json\r\n"] {
        let plain = get(addr, "/docs/gone.txt", headers);
        assert_eq!(plain.status, 404);
        assert_eq!(
            plain.header("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
        assert!(
            plain.text().starts_with("404 Not Found: "),
            "{}",
            plain.text()
        );
    }
    // A HEAD is told the page's length, and gets no body.
    let head = exchange(
        addr,
        "HEAD",
        "/gone",
        &format!("Host: localhost\r\n{BROWSER}"),
        b"",
    );
    assert_eq!(head.status, 404);
    assert!(head.body.is_empty());
    assert_ne!(head.header("Content-Length"), Some("0"));
}

#[test]
fn a_refusal_links_to_the_nearest_folder_the_client_may_read() {
    let (server, tokens, _dir) = guarded_with(&[("guest", &["read:/shared/open"])], &[], |_| {});
    for dir in ["shared/open", "shared/closed"] {
        std::fs::create_dir_all(server.path(dir)).unwrap();
    }
    std::fs::write(server.path("shared/closed/x.txt"), b"x").unwrap();
    let addr = server.http.unwrap();
    let guest = format!("{BROWSER}{}", bearer(&tokens[0]));
    // Up from shared/closed/: shared/ leads to open/, which it may read.
    let refused = get(addr, "/shared/closed/x.txt", &guest);
    assert_eq!(refused.status, 403);
    let html = refused.text();
    assert!(html.contains("<h1>Not permitted</h1>"), "{html}");
    assert!(html.contains("token guest may not read"), "{html}");
    assert!(
        html.contains("<a id=\"back\" href=\"/shared/\">Back to /shared/</a>"),
        "{html}"
    );
    // Nothing on the way: the root.
    let elsewhere = get(addr, "/private/deep/y.txt", &guest);
    assert_eq!(elsewhere.status, 403);
    assert!(elsewhere.text().contains("href=\"/\">Back to /</a>"));
    // No token: how to sign in, and the browser's prompt.
    let anonymous = get(addr, "/shared/open/", BROWSER);
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("WWW-Authenticate").is_some());
    let html = anonymous.text();
    assert!(html.contains("<h1>Sign-in needed</h1>"), "{html}");
    assert!(html.contains("<strong>any name</strong>"), "{html}");
    assert!(
        html.contains("<strong>the token as the password</strong>"),
        "{html}"
    );
    // curl keeps the text.
    let plain = get(addr, "/shared/closed/x.txt", &bearer(&tokens[0]));
    assert_eq!(plain.status, 403);
    assert!(
        plain
            .text()
            .starts_with("403 Forbidden: token guest may not read")
    );
}
