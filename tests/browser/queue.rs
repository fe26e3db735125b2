//! Uploads in a real browser (headless Chromium through chromedriver, as
//! `tests/browser/actions.rs`), at 1280×900 and as a phone at 390×844:
//! files dragged over any part of the page raise the drop overlay (only
//! where the token may write) and dropped there are uploaded into the
//! folder, byte for byte; the upload queue pauses an upload and resumes
//! it from the server's offset, and cancels a waiting, a paused and a
//! running one, leaving no staged bytes (tus termination) and no file.
//! Screenshots for a person to look at go to
//! `target/web2-<name>-<width>.png`.
//!
//! Skipped, with a message, where Chromium or chromedriver is not
//! installed (`apt-get install chromium chromium-driver`).
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

use std::path::Path;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support;
use crate::webdriver;
use support::TestServer;
use support::tokens::guarded;
use webdriver::{Browser, SIZES};

/// Starts dragging a file named `name` holding `content` over the
/// element `over` picks (a `DataTransfer` holding a `File` made in the
/// page, as a person's drag from a file manager brings one: WebDriver
/// cannot drag from outside the browser). `window.fire(type)` then sends
/// the drag's next event to the same element. Returns whether the
/// overlay shows, and how big it is and what it says when it does.
fn drag(browser: &Browser, over: &str, name: &str, content: &[u8]) -> Value {
    let bytes = base64::engine::general_purpose::STANDARD.encode(content);
    browser.run(
        "const [over, name, b64] = arguments; \
         const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)); \
         const carried = new DataTransfer(); \
         carried.items.add(new File([bytes], name, { lastModified: 1600000000000 })); \
         const at = document.querySelector(over); \
         window.fire = (type) => at.dispatchEvent(new DragEvent(type, \
           { dataTransfer: carried, bubbles: true, cancelable: true })); \
         fire('dragenter'); fire('dragover'); \
         const o = document.getElementById('overlay'); \
         const r = o.getBoundingClientRect(); \
         return o.hidden ? null : [r.width === innerWidth && r.height === innerHeight, o.textContent]",
        json!([over, name, bytes]),
    )
}

/// Whether the overlay shows.
const OVERLAY: &str = "return !document.getElementById('overlay').hidden";

#[test]
fn files_dropped_anywhere_on_the_page_are_uploaded_into_its_folder() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let (server, tokens, _dir) = guarded(
        &[("writer", &["read:/", "write:/"]), ("reader", &["read:/"])],
        &[],
    );
    server.write_files(&["d/already.txt"]);
    let addr = server.http.unwrap();
    for (at, (width, height, mobile)) in SIZES.into_iter().enumerate() {
        browser.open_in(
            &format!("http://t:{}@{addr}/d/", tokens[0]),
            (width, height, mobile),
        );
        // Over the breadcrumbs, far from the table: the whole window says
        // where the files would go.
        let name = format!("dropped-{width}.bin");
        let content = support::pattern(300_000, 40 + at as u64);
        assert_eq!(
            drag(&browser, "header .crumbs", &name, &content),
            json!([true, "Drop files here to upload them to /d/"]),
            "{width}px"
        );
        browser.shot("drop-overlay", width);
        // Left without a drop: gone again.
        browser.run("fire('dragleave')", json!([]));
        assert_eq!(browser.run(OVERLAY, json!([])), json!(false));
        // Over the summary line, and dropped there.
        assert!(!drag(&browser, "#summary", &name, &content).is_null());
        browser.run("fire('drop')", json!([]));
        assert_eq!(browser.run(OVERLAY, json!([])), json!(false));
        browser.said("Uploaded 1 file");
        let stored = server.path(&format!("d/{name}"));
        assert_eq!(std::fs::read(&stored).unwrap(), content, "{width}px");
        assert!(browser.names("tr.file").contains(&format!("d/{name}")));
        browser.shot("dropped", width);

        // A token that may not write here: no overlay, and a drop is
        // refused in words, nothing stored.
        browser.open_in(
            &format!("http://t:{}@{addr}/d/", tokens[1]),
            (width, height, mobile),
        );
        assert_eq!(
            drag(&browser, "main", "refused.bin", b"no"),
            json!(null),
            "{width}px"
        );
        browser.run("fire('drop')", json!([]));
        assert_eq!(
            browser.message(),
            "Upload: not permitted (no uploads here with this token)"
        );
        assert!(!server.path("d/refused.bin").exists());
    }
}

/// Picks `files` at once in the page's file input.
fn pick(browser: &Browser, files: &[&Path]) {
    let input = browser.by_id("pick-files");
    let paths: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    browser.send_keys(&input, &paths.join("\n"));
}

/// The state (its words) of the queue's line for `name`, when it has one.
fn state(browser: &Browser, name: &str) -> Value {
    browser.run(
        "const line = Array.from(document.querySelectorAll('.upload')) \
           .find((l) => l.firstChild.textContent === arguments[0]); \
         return line ? line.querySelector('.state').textContent : null",
        json!([name]),
    )
}

/// Waits until the queue's line for `name` says `words`.
fn reaches(browser: &Browser, name: &str, words: &str) {
    browser.wait_for(&format!("{name} to be {words}"), || {
        (state(browser, name) == json!(words)).then_some(())
    });
}

/// Clicks the queue's button `verb` (Pause, Resume, Cancel) for `name`.
fn press(browser: &Browser, verb: &str, name: &str) {
    let button = browser.element(
        "return document.querySelector('.upload button[aria-label=\"' + arguments[0] + '\"]')",
        json!([format!("{verb} {name}")]),
    );
    browser.click(&button);
}

/// The staged files of uploads under way in `root` (the sessions'
/// folder), with their sizes; the server's own bookkeeping left out.
fn staged(root: &Path) -> Vec<(String, u64)> {
    let Ok(dir) = std::fs::read_dir(root.join(".ferry-uploads")) else {
        return Vec::new();
    };
    let mut found: Vec<(String, u64)> = dir
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e))
        .filter(|(name, _)| name != "id-key" && name != "lock" && !name.ends_with(".stored"))
        .map(|(name, e)| (name, e.metadata().unwrap().len()))
        .collect();
    found.sort();
    found
}

/// The bytes the one staged upload's data holds, once that is more than
/// nothing and less than `total`: under way.
fn under_way(browser: &Browser, root: &Path, total: u64) -> u64 {
    browser.wait_for("an upload to be under way", || {
        staged(root)
            .into_iter()
            .find(|(name, len)| name.ends_with(".data") && *len > 0 && *len < total)
            .map(|(_, len)| len)
    })
}

/// The Locations of the uploads the page remembers.
const REMEMBERED: &str = "return Object.keys(localStorage).filter((k) => k.startsWith('ferry-upload ')) \
    .map((k) => JSON.parse(localStorage.getItem(k)).location)";

/// Uploads big enough to stop midway: at 4 MiB/s (the browser's
/// throttle), 20 MiB take five seconds, time enough for a slow machine's
/// WebDriver round trips to press a button while one is sent.
const BIG: usize = 20 << 20;
const RATE: u64 = 4 << 20;

fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    })
}

#[test]
fn a_paused_upload_resumes_from_the_servers_offset() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = server();
    let local = tempfile::tempdir().unwrap();
    for (at, size) in SIZES.into_iter().enumerate() {
        let name = format!("paused-{}.bin", size.0);
        let content = support::pattern(BIG, 50 + at as u64);
        let file = local.path().join(&name);
        std::fs::write(&file, &content).unwrap();
        browser.open_in(&format!("http://{}/", server.http.unwrap()), size);
        browser.throttle_uploads(Some(RATE));
        pick(&browser, &[&file]);
        under_way(&browser, server.root.path(), BIG as u64);
        press(&browser, "Pause", &name);
        reaches(&browser, &name, "paused");
        browser.said("Uploads: 1 paused");
        // Stopped midway: the server keeps what it has, the page the
        // upload's Location.
        let held = under_way(&browser, server.root.path(), BIG as u64);
        let location = browser.run(REMEMBERED, json!([]));
        assert_eq!(location.as_array().map(Vec::len), Some(1), "{location}");
        assert!(!server.path(&name).exists());
        browser.shot("queue-paused", size.0);
        let buttons = "return Array.from(document.querySelectorAll('.upload button'), \
            (b) => b.getAttribute('aria-label'))";
        assert_eq!(
            browser.run(buttons, json!([])),
            json!([format!("Resume {name}"), format!("Cancel {name}")])
        );
        // What the page asks from here: each request's method and
        // address, and the Upload-Offset it sends (a PATCH) or reads (a
        // HEAD's answer).
        browser.run(
            "window.asked = []; const proto = XMLHttpRequest.prototype; \
             const open = proto.open, set = proto.setRequestHeader, get = proto.getResponseHeader; \
             proto.open = function (method, url) { \
               this.asked = [method, url]; asked.push(this.asked); return open.apply(this, arguments); }; \
             proto.setRequestHeader = function (name, value) { \
               if (name === 'Upload-Offset') this.asked.push(Number(value)); return set.apply(this, arguments); }; \
             proto.getResponseHeader = function (name) { \
               const value = get.apply(this, arguments); \
               if (name === 'Upload-Offset' && this.asked[0] === 'HEAD') this.asked.push(Number(value)); \
               return value; }",
            json!([]),
        );
        browser.throttle_uploads(None);
        press(&browser, "Resume", &name);
        browser.said("Uploaded 1 file");
        assert_eq!(std::fs::read(server.path(&name)).unwrap(), content);
        // Resumed: first asked how far the upload got, then sent the rest
        // from there (past what was staged before the pause); no new
        // upload created.
        let asked = browser.run("return asked", json!([]));
        let location = &location[0];
        let offset = &asked[0][2];
        assert!(offset.as_u64().is_some_and(|at| at >= held), "{asked}");
        assert_eq!(asked[0], json!(["HEAD", location, offset]), "{asked}");
        assert_eq!(asked[1], json!(["PATCH", location, offset]), "{asked}");
        assert!(
            asked
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a[0] != json!("POST")),
            "{asked}"
        );
        assert!(held < BIG as u64);
        assert_eq!(browser.run(REMEMBERED, json!([])), json!([]), "forgotten");
        assert_eq!(staged(server.root.path()), []);
    }
}

#[test]
fn cancelled_uploads_leave_no_staged_bytes_and_no_file() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = server();
    let local = tempfile::tempdir().unwrap();
    let write = |name: &str, seed: u64| {
        let file = local.path().join(name);
        std::fs::write(&file, support::pattern(BIG, seed)).unwrap();
        file
    };
    for size in SIZES {
        let w = size.0;
        let [first, second, third] = [1, 2, 3].map(|n| format!("cancel-{n}-{w}.bin"));
        browser.open_in(&format!("http://{}/", server.http.unwrap()), size);
        browser.throttle_uploads(Some(RATE));
        // Two at once: the first is sent, the second waits.
        pick(&browser, &[&write(&first, 60), &write(&second, 61)]);
        under_way(&browser, server.root.path(), BIG as u64);
        assert_eq!(state(&browser, &second), json!("waiting"));
        press(&browser, "Cancel", &second);
        reaches(&browser, &second, "cancelled");
        browser.shot("queue", w);
        // The first paused, then cancelled: its staged bytes are freed.
        press(&browser, "Pause", &first);
        browser.said("Uploads: 1 paused, 1 cancelled");
        assert!(!staged(server.root.path()).is_empty());
        press(&browser, "Cancel", &first);
        reaches(&browser, &first, "cancelled");
        browser.said("Uploads: 2 cancelled");
        assert_eq!(staged(server.root.path()), []);
        // A third cancelled while it is sent.
        pick(&browser, &[&write(&third, 62)]);
        under_way(&browser, server.root.path(), BIG as u64);
        press(&browser, "Cancel", &third);
        browser.said("Uploads: 1 cancelled");
        assert_eq!(state(&browser, &third), json!("cancelled"));
        assert_eq!(browser.run(REMEMBERED, json!([])), json!([]));
        browser.throttle_uploads(None);
        // Nothing of the three: no staged bytes, no file.
        assert_eq!(staged(server.root.path()), []);
        assert_eq!(server.settled_files_on_disk(), Vec::<String>::new());
        // The bar for all counts none of them.
        let bars = "return Array.from(document.querySelectorAll('progress'), (p) => p.value)";
        assert_eq!(browser.run(bars, json!([])), json!([0, 0]));
    }
}
