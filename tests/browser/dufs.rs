//! ferry's page beside dufs' (<https://github.com/sigoden/dufs>) for the
//! side-by-side in docs/http.md: the same folder served by both, seen in
//! headless Chromium at 1280×900 and as a phone at 390×844, saved as
//! `target/web2-side-<server>-<width>.png`; and what each page weighs
//! (its bytes over the wire, as Resource Timing counts them) and shows
//! without JavaScript (the links to the folder's files), printed.
//!
//! Skipped, with a message, where dufs is not installed (`cargo install
//! dufs`, or `FERRY_DUFS` naming its binary), or Chromium or chromedriver
//! is not.
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::support;
use crate::webdriver;
use support::TestServer;
use webdriver::Browser;

/// The two windows: a desktop's and a phone's.
const SIZES: [(u32, u32, bool); 2] = [(1280, 900, false), (390, 844, true)];

/// dufs' binary: `FERRY_DUFS`, else `dufs` on `PATH`.
fn dufs() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FERRY_DUFS") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("dufs"))
        .find(|p| p.is_file())
}

/// A dufs process, killed when dropped.
struct Dufs(Child);

impl Drop for Dufs {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the page weighs over the wire (the page and all it fetched) and
/// how many of `names` it links to.
const WEIGHT: &str = "const nav = performance.getEntriesByType('navigation')[0]; \
    const res = performance.getEntriesByType('resource'); \
    const links = Array.from(document.querySelectorAll('a[href]'), \
      (a) => decodeURIComponent(a.getAttribute('href').split('?')[0]).replace(/\\/$/, '')); \
    return [nav.transferSize + res.reduce((s, e) => s + e.transferSize, 0), res.length, \
      arguments[0].filter((n) => links.some((l) => l.endsWith(n))).length]";

#[test]
fn the_same_folder_in_ferry_and_in_dufs() {
    let Some(binary) = dufs() else {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the side-by-side needs dufs (cargo install dufs, or FERRY_DUFS=<its binary>)"
        );
        return;
    };
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    });
    let names = [
        "Holiday 2025/",
        "notes.md",
        "report.pdf",
        "song.mp3",
        "clip.mp4",
        "backup.tar.gz",
        "beach.png",
        "cliff.png",
        "data.csv",
    ];
    for name in names {
        match name.strip_suffix('/') {
            Some(dir) => std::fs::create_dir_all(server.path(dir)).unwrap(),
            None => std::fs::write(server.path(name), support::pattern(20_000, 1)).unwrap(),
        }
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _dufs = Dufs(
        Command::new(binary)
            .arg(server.root.path())
            .args([
                "-b",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-A",
                "--hidden",
                ".ferry-*",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dufs starts"),
    );
    browser.wait_for("dufs to listen", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let urls = [
        ("ferry", format!("http://{}/", server.http.unwrap())),
        ("dufs", format!("http://127.0.0.1:{port}/")),
    ];
    let files: Vec<&str> = names.iter().map(|n| n.trim_end_matches('/')).collect();
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = target.parent().expect("the target directory");
    for (width, height, mobile) in SIZES {
        browser.viewport(width, height, mobile);
        for (who, url) in &urls {
            // Nothing from the cache: each page weighs all it fetches.
            browser.cdp("Network.clearBrowserCache", json!({}));
            browser.open(url);
            // Listed: each server's page shows the folder's names.
            browser.wait_for("the listing", || {
                let shown = browser.run("return document.body.innerText", json!([]));
                let shown = shown.as_str()?;
                files.iter().all(|n| shown.contains(n)).then_some(())
            });
            let file = target.join(format!("web2-side-{who}-{width}.png"));
            std::fs::write(&file, browser.screenshot()).expect("the screenshot written");
            let weight = browser.run(WEIGHT, json!([files]));
            let scroll = browser.run(
                "return document.documentElement.scrollWidth <= innerWidth",
                json!([]),
            );
            println!(
                "{who} at {width}px: [bytes, fetches, names linked] {weight}, no sideways scroll: {scroll}"
            );
        }
    }
    // Without JavaScript: what each page still lists.
    browser.cdp(
        "Emulation.setScriptExecutionDisabled",
        json!({"value": true}),
    );
    browser.viewport(1280, 900, false);
    for (who, url) in &urls {
        browser.cdp("Network.clearBrowserCache", json!({}));
        browser.open(url);
        let file = target.join(format!("web2-side-{who}-nojs-1280.png"));
        std::fs::write(&file, browser.screenshot()).expect("the screenshot written");
        let weight: Value = browser.run(WEIGHT, json!([files]));
        println!("{who} without JavaScript: [bytes, fetches, names linked] {weight}");
    }
}
