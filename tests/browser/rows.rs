//! A row of the page in a real browser (headless Chromium through
//! chromedriver, as `tests/browser/actions.rs`), at 1280×900 and as a
//! phone at 390×844: each row's actions in sight (download, rename,
//! delete, share; on a phone folded into one "⋯" menu) only where the
//! token's rights allow them, a folder renamed from its row, the keyboard
//! (arrows, Down on a page just loaded to the first row, Delete after
//! asking, F2, Enter), an icon per type, the one
//! search field (typing narrows, Enter searches below, cleared: the
//! rows again), no sideways scrolling on a phone, and the read-only
//! note. Screenshots for a person to look at go to
//! `target/web2-<name>-<width>.png`.
//!
//! Skipped, with a message, where Chromium or chromedriver is not
//! installed (`apt-get install chromium chromium-driver`).
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

use crate::support;
use crate::webdriver;

use serde_json::{Value, json};
use support::TestServer;
use support::tokens::guarded;
use webdriver::{Browser, SIZES};

const DELETE: &str = "\u{E017}";
const F2: &str = "\u{E032}";
const ENTER: &str = "\u{E007}";
const DOWN: &str = "\u{E015}";
const BACKSPACE: &str = "\u{E003}";

/// Opens `url` in a viewport of `size`, once the page is idle and every
/// row has its buttons (made as rows come into view, `ui/page.js`).
fn open(browser: &Browser, url: &str, (width, height, mobile): (u32, u32, bool)) {
    browser.viewport(width, height, mobile);
    browser.open(url);
    browser.when_idle(
        "every row's buttons",
        "const rows = Array.from(document.querySelectorAll('#listing tr[data-name]')); \
         return rows.every((r) => r.querySelector('td.o .acts')) || null",
        json!([]),
    );
}

/// Each row's actions (their accessible names), and how they are shown:
/// `"buttons"` (in sight on the row, no menu button) or `"menu"` (folded
/// behind the row's one visible "⋯" button).
fn offered(browser: &Browser) -> Value {
    browser.run(
        "const seen = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; }; \
         const out = {}; \
         for (const row of document.querySelectorAll('#listing tr[data-name]')) { \
           const acts = Array.from(row.querySelectorAll('td.o .acts button')); \
           const more = row.querySelector('td.o button.more'); \
           const how = acts.every(seen) && !seen(more) ? 'buttons' \
             : !acts.some(seen) && seen(more) && more.getAttribute('aria-label') ? 'menu' : 'mixed'; \
           out[row.dataset.name] = [how, acts.map((b) => b.getAttribute('aria-label'))]; } \
         return out",
        json!([]),
    )
}

/// Clicks the action `label` of the row `name` as a person would: on a
/// phone, its "⋯" menu first.
fn act(browser: &Browser, name: &str, label: &str, mobile: bool) {
    if mobile {
        let more = browser.element(
            "return Array.from(document.querySelectorAll('#listing tr[data-name]')) \
               .find((r) => r.dataset.name === arguments[0]).querySelector('button.more')",
            json!([name]),
        );
        browser.click(&more);
    }
    browser.click(&browser.row_button(label, name));
}

/// The read-only note's words, where it is shown.
const NOTE: &str = "const n = document.getElementById('read-only'); \
    return n && n.offsetParent !== null ? n.textContent : null";

#[test]
fn each_rows_actions_are_in_sight_as_the_rights_allow() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let (server, tokens, _dir) = guarded(
        &[
            ("owner", &["read:/", "write:/", "delete:/"]),
            ("writer", &["read:/", "write:/"]),
            ("reader", &["read:/"]),
        ],
        &[],
    );
    server.write_files(&["d/photo.png", "d/sub/in.txt"]);
    let addr = server.http.unwrap();
    let url = |token: &str| format!("http://t:{token}@{addr}/d/");
    for (width, height, mobile) in SIZES {
        let how = if mobile { "menu" } else { "buttons" };
        // May do all: every action on every row.
        open(&browser, &url(&tokens[0]), (width, height, mobile));
        assert_eq!(
            offered(&browser),
            json!({
                "d/sub/": [how, ["Download .zip", "Rename", "Delete", "Share"]],
                "d/photo.png": [how, ["Download", "Rename", "Delete", "Share"]],
            }),
            "{width}px"
        );
        assert_eq!(browser.run(NOTE, json!([])), json!(null));
        browser.shot("row-actions", width);
        // Usable: Download takes the file, Share shows its link.
        browser.run(
            "window.taken = []; HTMLAnchorElement.prototype.click = function () { \
               taken.push(new URL(this.href).pathname + new URL(this.href).search); };",
            json!([]),
        );
        act(&browser, "d/photo.png", "Download", mobile);
        act(&browser, "d/sub/", "Download .zip", mobile);
        assert_eq!(
            browser.run("return window.taken", json!([])),
            json!(["/d/photo.png", "/d/sub/?zip"])
        );
        if mobile {
            // The menu open, its actions named in words too.
            let more = browser.element(
                "return document.querySelector('tr.file button.more')",
                json!([]),
            );
            browser.click(&more);
            let menu = browser.run(
                "const row = document.querySelector('tr.menu'); \
                 return [row.dataset.name, row.querySelector('button.more').getAttribute('aria-expanded'), \
                   Array.from(row.querySelectorAll('.acts button'), (b) => b.offsetParent !== null && b.textContent)]",
                json!([]),
            );
            assert_eq!(
                menu,
                json!([
                    "d/photo.png",
                    "true",
                    ["Download", "Rename", "Delete", "Share"]
                ])
            );
            browser.shot("row-menu", width);
            browser.type_keys("\u{E00C}"); // Escape: closed.
            assert_eq!(
                browser.run(
                    "return document.querySelectorAll('tr.menu').length",
                    json!([])
                ),
                json!(0)
            );
        }
        act(&browser, "d/photo.png", "Share", mobile);
        let shared = browser.wait_for("the share dialog", || {
            let text = browser.run(
                "const d = document.getElementById('share'); return d.open ? d.querySelector('p').textContent : null",
                json!([]),
            );
            text.as_str().map(str::to_owned)
        });
        assert!(shared.ends_with(&format!("{addr}/d/photo.png")), "{shared}");
        // Named after the row, not the page.
        assert_eq!(
            browser.run(
                "return document.getElementById('share').getAttribute('aria-label')",
                json!([])
            ),
            json!("Share photo.png")
        );
        browser.run("document.getElementById('share').close()", json!([]));

        // May write, not delete: nothing that deletes (a rename does).
        open(&browser, &url(&tokens[1]), (width, height, mobile));
        let reads = json!({
            "d/sub/": [how, ["Download .zip", "Share"]],
            "d/photo.png": [how, ["Download", "Share"]],
        });
        assert_eq!(offered(&browser), reads, "{width}px");
        assert_eq!(browser.run(NOTE, json!([])), json!(null));

        // May only read: the same, and told so.
        open(&browser, &url(&tokens[2]), (width, height, mobile));
        assert_eq!(offered(&browser), reads, "{width}px");
        assert_eq!(browser.run(NOTE, json!([])), json!("Read-only here"));
        browser.shot("read-only-token", width);
    }
}

#[test]
fn a_folder_is_renamed_from_its_row() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_http();
    server.write_files(&["top/old/a.txt", "top/old/deep/b.txt"]);
    let page = format!("http://{}/top/", server.http.unwrap());
    let mut name = "old".to_owned();
    for (width, height, mobile) in SIZES {
        open(&browser, &page, (width, height, mobile));
        act(&browser, &format!("top/{name}/"), "Rename", mobile);
        let asked = browser.dialog_text();
        assert!(asked.contains(&format!("top/{name}")), "{asked}");
        let new = format!("renamed at {width}");
        browser.answer_dialog(&new);
        browser.accept_dialog();
        browser.said(&format!("Renamed top/{name} to top/{new}"));
        assert_eq!(browser.names("#listing tr.dir"), [format!("top/{new}/")]);
        // The folder and what it holds, under the new name on disk.
        assert!(!server.path(&format!("top/{name}")).exists());
        assert_eq!(
            std::fs::read(server.path(&format!("top/{new}/deep/b.txt"))).unwrap(),
            b"top/old/deep/b.txt"
        );
        assert!(server.path(&format!("top/{new}/a.txt")).is_file());
        name = new;
    }
}

/// The name of the row that holds the focus, once one does.
fn selected(browser: &Browser) -> String {
    browser.wait_for("a row with the focus", || {
        let name = browser.run(
            "const row = document.activeElement.closest('#listing tr[data-name]'); \
             return row ? row.dataset.name : null",
            json!([]),
        );
        name.as_str().map(str::to_owned)
    })
}

#[test]
fn the_keyboard_selects_deletes_after_asking_renames_and_opens() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let (server, tokens, _dir) = guarded(
        &[
            ("owner", &["read:/", "write:/", "delete:/"]),
            ("reader", &["read:/"]),
        ],
        &[],
    );
    let addr = server.http.unwrap();
    for (width, height, mobile) in SIZES {
        let dir = format!("k{width}");
        let [a, b, c] = ["a.txt", "b.txt", "c.txt"].map(|f| format!("{dir}/{f}"));
        server.write_files(&[&a, &b, &c, &format!("{dir}/f/in.txt")]);
        let page = format!("http://t:{}@{addr}/{dir}/", tokens[0]);
        open(&browser, &page, (width, height, mobile));
        // `/` to the field, then Down, Down: the second row.
        browser.type_keys(&format!("/{DOWN}{DOWN}"));
        assert_eq!(selected(&browser), a);
        // Delete asks first; Cancel keeps the file.
        browser.type_keys(DELETE);
        assert_eq!(browser.dialog_text(), format!("Delete {a}?"));
        browser.dismiss_dialog();
        assert!(server.path(&a).exists());
        browser.type_keys(DELETE);
        assert_eq!(browser.dialog_text(), format!("Delete {a}?"));
        browser.accept_dialog();
        browser.said(&format!("Deleted {a}"));
        assert!(!server.path(&a).exists());
        // The selection stays in place: the next row.
        assert_eq!(selected(&browser), b);
        browser.shot("keyboard-deleted", width);
        // F2 renames, through the same prompt as the button.
        browser.type_keys(F2);
        browser.dialog_text();
        browser.answer_dialog("b2.txt");
        browser.accept_dialog();
        browser.said(&format!("Renamed {b} to {dir}/b2.txt"));
        assert!(!server.path(&b).exists());
        assert_eq!(
            std::fs::read(server.path(&format!("{dir}/b2.txt"))).unwrap(),
            b.as_bytes()
        );
        // Up to the folder; Enter opens it.
        browser.type_keys(&format!("/{DOWN}"));
        assert_eq!(selected(&browser), format!("{dir}/f/"));
        browser.type_keys(ENTER);
        assert_eq!(
            browser.names("#listing tr.file"),
            [format!("{dir}/f/in.txt")]
        );

        // A reader's Delete and F2 ask nothing and change nothing.
        let page = format!("http://t:{}@{addr}/{dir}/", tokens[1]);
        open(&browser, &page, (width, height, mobile));
        browser.type_keys(&format!("/{DOWN}{DOWN}"));
        assert_eq!(selected(&browser), format!("{dir}/b2.txt"));
        browser.type_keys(&format!("{DELETE}{F2}"));
        assert!(!browser.dialog_open());
        assert!(server.path(&c).exists() && server.path(&format!("{dir}/b2.txt")).exists());
    }
}

#[test]
fn down_on_a_page_just_loaded_selects_the_first_row() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_http();
    server.write_files(&["d/b.txt", "d/a.txt", "d/c.txt", "d/sub/in.txt"]);
    let page = format!("http://{}/d/", server.http.unwrap());
    let nothing_focused = "return document.activeElement === document.body";
    for size in SIZES {
        open(&browser, &page, size);
        // Nothing has the focus yet: Down goes to the page's body, and
        // selects the first row (folders first), as file managers do.
        assert_eq!(browser.run(nothing_focused, json!([])), json!(true));
        browser.type_keys(DOWN);
        assert_eq!(selected(&browser), "d/sub/");
        browser.type_keys(DOWN);
        assert_eq!(selected(&browser), "d/a.txt");

        // In the search field Down is as it was: it leaves the field for
        // the first row it shows, what was typed kept.
        open(&browser, &page, size);
        browser.type_keys(&format!("/c{DOWN}"));
        assert_eq!(selected(&browser), "d/c.txt");
        assert_eq!(
            browser.run("return document.getElementById('filter').value", json!([])),
            json!("c")
        );

        // Any other text field keeps its arrows (as a rename's input
        // would): not taken by the page's keys (seen after them, on the
        // window).
        open(&browser, &page, size);
        browser.run(
            "const field = document.createElement('input'); field.id = 'other'; \
             document.querySelector('main').prepend(field); field.focus(); \
             window.addEventListener('keydown', (e) => { window.taken = e.defaultPrevented; })",
            json!([]),
        );
        browser.type_keys(DOWN);
        assert_eq!(
            browser.run(
                "return [document.activeElement.id, window.taken]",
                json!([])
            ),
            json!(["other", false])
        );
    }
}

#[test]
fn each_type_has_its_icon_and_nothing_is_fetched() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_http();
    let files = [
        ("i/album/x", "folder"),
        ("i/a.png", "image"),
        ("i/b.MP4", "video"),
        ("i/c.mp3", "audio"),
        ("i/d.tar.gz", "archive"),
        ("i/e.rs", "text"),
        ("i/f.txt", "text"),
        ("i/g.pdf", "pdf"),
        ("i/h.bin", "file"),
        ("i/noextension", "file"),
    ];
    server.write_files(&files.map(|(name, _)| name));
    let page = format!("http://{}/i/", server.http.unwrap());
    let want: serde_json::Map<String, Value> = files
        .iter()
        .map(|(name, kind)| {
            let row = name
                .strip_suffix("/x")
                .map_or(name.to_string(), |d| format!("{d}/"));
            (row, json!([format!("ic ic-{kind}"), true]))
        })
        .collect();
    for size in SIZES {
        open(&browser, &page, size);
        // One icon a row, before its name, drawn (not empty).
        let icons = browser.run(
            "const out = {}; \
             for (const row of document.querySelectorAll('#listing tr[data-name]')) { \
               const icon = row.querySelector('td.n svg'); const r = icon.getBoundingClientRect(); \
               out[row.dataset.name] = [icon.getAttribute('class'), \
                 r.width > 8 && r.height > 8 && icon.nextElementSibling.tagName === 'A' \
                 && icon.querySelector('path').getAttribute('d').length > 10]; } \
             return out",
            json!([]),
        );
        assert_eq!(icons, Value::Object(want.clone()), "{}px", size.0);
        // Inline SVG: the page asked for nothing beyond itself (the
        // browser's own favicon.ico is not the page's asking).
        let fetched = browser.run(
            "return performance.getEntriesByType('resource').map((e) => e.name) \
               .filter((n) => !n.endsWith('/favicon.ico'))",
            json!([]),
        );
        assert_eq!(fetched, json!([]));
        browser.shot("icons", size.0);
    }
}

/// The names of the rows shown.
const SHOWN: &str = "return Array.from(document.querySelectorAll('#listing tr[data-name]')) \
    .filter((r) => r.offsetParent !== null).map((r) => r.dataset.name)";

#[test]
fn one_search_field_narrows_the_rows_then_searches_below() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_http();
    server.write_files(&[
        "s/needle-here.txt",
        "s/other.txt",
        "s/a/b/needle-deep.txt",
        "s/a/Needles/in.txt",
    ]);
    let page = format!("http://{}/s/", server.http.unwrap());
    for size in SIZES {
        open(&browser, &page, size);
        assert_eq!(
            browser.run(
                "return Array.from(document.querySelectorAll('input[type=search], input[type=text]'), (i) => i.id)",
                json!([])
            ),
            json!(["filter"])
        );
        let field = browser.by_id("filter");
        // Typing narrows the rows at once, with no request.
        browser.send_keys(&field, "needle");
        assert_eq!(browser.run(SHOWN, json!([])), json!(["s/needle-here.txt"]));
        let results = "const r = document.getElementById('results'); return r.hidden";
        assert_eq!(browser.run(results, json!([])), json!(true));
        // Enter: the folder and below, as paths from here.
        browser.send_keys(&field, ENTER);
        let found = browser.when_idle(
            "the results",
            "const r = document.getElementById('results'); \
             return r.hidden ? null : [Array.from(r.querySelectorAll('a'), (a) => a.textContent), \
               document.getElementById('listing').offsetParent === null]",
            json!([]),
        );
        assert_eq!(
            found,
            json!([
                ["a/Needles/", "a/b/needle-deep.txt", "needle-here.txt"],
                true
            ])
        );
        browser.shot("search", size.0);
        // Cleared: the folder's rows again, all of them.
        browser.send_keys(&field, &BACKSPACE.repeat("needle".len()));
        assert_eq!(browser.run(results, json!([])), json!(true));
        assert_eq!(
            browser.run(SHOWN, json!([])),
            json!(["s/a/", "s/needle-here.txt", "s/other.txt"])
        );
    }
}

#[test]
fn a_phone_never_scrolls_sideways_and_its_times_are_compact() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_http();
    let long = format!("p/{}.txt", "x".repeat(120));
    let spaced = format!("p/{}.txt", ["a rather long name"; 6].join(" "));
    server.write_files(&[&long, &spaced, "p/a-folder-with-a-long-name/in.txt"]);
    // A big file (sparse) and an old one: the widest size and time.
    let big = std::fs::File::create(server.path("p/huge.iso")).unwrap();
    big.set_len(1_500_000_000_000).unwrap();
    let old = std::fs::File::options()
        .write(true)
        .open(server.path(&long))
        .unwrap();
    old.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_300_000_000))
        .unwrap();
    let page = format!("http://{}/p/", server.http.unwrap());
    let fits = "return [document.documentElement.scrollWidth, innerWidth]";
    let times = "return Array.from(document.querySelectorAll('#listing tr[data-name] td.t'), \
        (t) => [t.textContent, t.getBoundingClientRect().right <= innerWidth && t.offsetParent !== null])";
    open(&browser, &page, SIZES[0]);
    let wide: Vec<(String, bool)> = serde_json::from_value(browser.run(times, json!([]))).unwrap();
    open(&browser, &page, SIZES[1]);
    let [scroll, inner]: [u64; 2] = serde_json::from_value(browser.run(fits, json!([]))).unwrap();
    assert!(scroll <= inner, "{scroll} > {inner}");
    // Every row's time is shown, inside the window, and shorter.
    let narrow: Vec<(String, bool)> =
        serde_json::from_value(browser.run(times, json!([]))).unwrap();
    assert_eq!(narrow.len(), wide.len());
    for ((short, shown), (long, _)) in narrow.iter().zip(&wide) {
        assert!(*shown && short.len() < long.len(), "{short:?} for {long:?}");
    }
    // With a row's menu open too, and with the message shown.
    let more = browser.element(
        "return document.querySelector('tr.file button.more')",
        json!([]),
    );
    browser.click(&more);
    browser.run(
        "const m = document.getElementById('message'); m.hidden = false; \
         m.textContent = arguments[0] + ': not permitted (403)';",
        json!([long]),
    );
    let [scroll, inner]: [u64; 2] = serde_json::from_value(browser.run(fits, json!([]))).unwrap();
    assert!(scroll <= inner, "with the menu open: {scroll} > {inner}");
    browser.shot("phone-fits", 390);
}
