//! A big folder's page over a real socket (`src/http/page_data.rs`):
//! past 200 entries the page carries each name once, as data its script
//! builds the rows from, and a `<noscript>` link to the plain listing
//! (`?plain`), rows without script, which `wget -r` follows to fetch
//! every file once and no archive. (The page in a browser:
//! `tests/browser/big_folder.rs`.)

use crate::support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;

use ferry::http::fields::url_path;
use support::TestServer;
use support::http::{Answer, exchange};
use support::tools::have;

/// Entries past the page's threshold (200, `page.rs` ROWS_UP_TO).
const FILES: usize = 240;

/// Names that must reach the page whole: markup, quotes, non-ASCII
/// (several UTF-16 units for one character), names that share most of
/// their beginning with the one before.
const ODD: [&str; 5] = [
    "a <b> & \"c\".txt",
    "<script>alert(1)<!--.txt",
    "déjà vu ファイル 𝄞.txt",
    "déjà vu ファイル 𝄞𝄞.txt",
    "100% #1?.txt",
];

/// A server with `big/` holding [`FILES`] plain names, [`ODD`] and a
/// folder `sub/` with one file; every file holds its own name.
fn big_folder() -> (TestServer, Vec<String>) {
    let server = TestServer::start_http();
    let mut names: Vec<String> = (0..FILES).map(|n| format!("big/file-{n:03}.txt")).collect();
    names.extend(ODD.iter().map(|odd| format!("big/{odd}")));
    names.push("big/sub/inner.txt".to_owned());
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    server.write_files(&refs);
    (server, names)
}

fn get(addr: SocketAddr, target: &str) -> Answer {
    let answer = exchange(addr, "GET", target, "Host: localhost\r\n", b"");
    assert_eq!(answer.status, 200, "{target}: {}", answer.head);
    answer
}

/// The names in a page's `#entries` block, front coding undone as the
/// script undoes it (in UTF-16 units), with sizes.
fn entries(html: &str) -> Vec<(String, u64)> {
    let open = "<script type=\"application/json\" id=\"entries\">";
    let start = html.find(open).expect("an #entries block") + open.len();
    let end = start + html[start..].find("</script>").expect("the block's end");
    let data: serde_json::Value = serde_json::from_str(&html[start..end]).expect("JSON");
    let mut name: Vec<u16> = Vec::new();
    let mut found = Vec::new();
    for (at, rest) in data["n"].as_array().unwrap().iter().enumerate() {
        let keep = data["p"][at].as_u64().unwrap() as usize;
        name.truncate(keep);
        name.extend(rest.as_str().unwrap().encode_utf16());
        let size = data["s"][at].as_u64().unwrap();
        found.push((String::from_utf16(&name).expect("whole characters"), size));
    }
    found
}

#[test]
fn a_big_folders_page_carries_each_name_once_as_data() {
    let (server, names) = big_folder();
    let html = get(server.http.unwrap(), "/big/").text();
    // No rows but `../`: the script builds them.
    assert!(!html.contains("<tr class=\"file\""), "rows were sent");
    assert!(html.contains("<noscript>") && html.contains("<a href=\"?plain\">"));
    let mut want: Vec<(String, u64)> = names
        .iter()
        .filter(|n| !n.starts_with("big/sub/"))
        .map(|n| (n["big/".len()..].to_owned(), n.len() as u64))
        .collect();
    want.push(("sub/".to_owned(), 0));
    let mut got = entries(&html);
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // No name ends the block or opens markup; no archive is a link.
    assert!(!html.contains("<script>alert") && !html.contains("<b>"));
    assert!(!html.contains("href=\"?zip") && !html.contains("?tar\""));
    // The page is smaller than its rows would be: each name once.
    let plain = get(server.http.unwrap(), "/big/?plain").text();
    assert!(
        html.len() < plain.len() + 50_000,
        "{} {}",
        html.len(),
        plain.len()
    );
}

#[test]
fn the_plain_listing_links_every_name_once_and_runs_no_script() {
    let (server, names) = big_folder();
    let html = get(server.http.unwrap(), "/big/?plain").text();
    assert!(!html.contains("<script"), "a script in the plain listing");
    let mut links: BTreeMap<String, usize> = BTreeMap::new();
    for piece in html.split("<a href=\"").skip(1) {
        let href = &piece[..piece.find('"').unwrap()];
        *links.entry(href.to_owned()).or_default() += 1;
    }
    for name in names.iter().filter(|n| !n.starts_with("big/sub/")) {
        let href = format!("/{}", url_path(name));
        assert_eq!(links.get(&href), Some(&1), "{name} as {href}");
    }
    assert_eq!(links.get("/big/sub/"), Some(&1));
    // The text of each link is the name, escaped; sizes are there.
    assert!(html.contains(">a &lt;b&gt; &amp; &quot;c&quot;.txt</a><td class=\"s\">19 B<"));
    assert!(
        !links
            .keys()
            .any(|l| l.contains("?zip") || l.contains("?tar"))
    );
}

#[test]
fn a_folder_asked_for_plain_without_its_slash_stays_plain() {
    let (server, _) = big_folder();
    // A browser's request for `/big?plain` (typed, or a bookmark).
    let browser = "Host: localhost\r\nAccept: text/html\r\n";
    let moved = exchange(server.http.unwrap(), "GET", "/big?plain", browser, b"");
    assert_eq!(
        (moved.status, moved.header("Location")),
        (301, Some("/big/?plain")),
        "{}",
        moved.head
    );
    let html = exchange(server.http.unwrap(), "GET", "/big/?plain", browser, b"").text();
    assert!(!html.contains("<script"), "the redirect led to the page");
    assert!(html.contains("<a href=\"/big/sub/\">"));
}

#[test]
fn wget_follows_the_plain_listing_and_fetches_every_file_once() {
    if !have("wget", &["--version"], "apt-get install wget") {
        return;
    }
    let (server, names) = big_folder();
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://{}/big/", server.http.unwrap());
    let log = out.path().join("wget.log");
    let status = Command::new("wget")
        .args([
            "-nv",
            "-r",
            "-np",
            "-nH",
            "-l",
            "3",
            "--tries=1",
            "--timeout=20",
        ])
        .arg("-o")
        .arg(&log)
        .arg(&url)
        .current_dir(out.path())
        .status()
        .unwrap();
    assert!(status.code().is_some(), "wget ran");
    // One `URL:... ->` line per download.
    let log = std::fs::read_to_string(&log).unwrap();
    let mut fetched: BTreeMap<String, usize> = BTreeMap::new();
    for line in log.lines() {
        if let Some(rest) = line.split_once("URL:").map(|(_, r)| r) {
            let url = rest.split_whitespace().next().unwrap();
            let path = &url[url.find("/big/").expect("below big/")..];
            *fetched.entry(path.to_owned()).or_default() += 1;
        }
    }
    for name in &names {
        let path = format!("/{}", url_path(name));
        assert_eq!(fetched.get(&path), Some(&1), "{name}: {log}");
    }
    assert!(
        !fetched
            .keys()
            .any(|f| f.contains("zip") || f.contains("tar")),
        "an archive was fetched: {fetched:?}"
    );
    assert_eq!(fetched.get("/big/?plain"), Some(&1), "{fetched:?}");
}
