//! The web page acting on what the server tells it, in headless Chromium
//! (as `tests/browser/actions.rs`): a read-only server's page offers no
//! writes and says it is read-only, a
//! token that may write but not delete sees no Delete, a missing folder
//! is a page with a way back; a new folder, a selection of files and a
//! folder deleted at once (and what could not be, reported) or
//! downloaded, the filter box. Screenshots for a person to look at go to
//! `target/web2-*.png` (1280×900 and 390×844).
//!
//! Skipped, with a message, where Chromium or chromedriver is not
//! installed (`apt-get install chromium chromium-driver`).
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

use std::path::PathBuf;

use crate::support;
// Shared with tests/browser/actions.rs, which uses what this file does not.
use crate::webdriver;

use serde_json::{Value, json};
use support::TestServer;
use support::tokens::guarded;
use webdriver::Browser;

fn http_server(adjust: impl FnOnce(&mut ferry::Config)) -> TestServer {
    TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        adjust(c);
    })
}

/// The page's rows (`data-name`, folders too), once no request runs.
fn rows(browser: &Browser) -> Vec<String> {
    browser.names("#listing tr[data-name]")
}

/// The labels of the page's visible controls: the tools at the top and
/// each row's buttons (their accessible names; made when a row is seen,
/// pointed at or focused: every row is focused first).
fn controls(browser: &Browser) -> Value {
    browser.run(
        "for (const a of document.querySelectorAll('#listing tbody td.n a')) a.focus(); \
         const shown = (e) => e.offsetParent !== null; \
         return { tools: Array.from(document.querySelectorAll('header button, header label'), (e) => e).filter(shown).map((e) => e.textContent), \
                  rows: Array.from(document.querySelectorAll('#listing td.o button')).filter(shown).map((b) => b.getAttribute('aria-label')) }",
        json!([]),
    )
}

/// `target/web2-<name>-<width>.png`, at both sizes.
fn screenshots(browser: &Browser, name: &str) {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = target.parent().expect("the target directory");
    for (width, height) in [(1280, 900), (390, 844)] {
        let file = target.join(format!("web2-{name}-{width}.png"));
        browser.save_screenshot(width, height, &file);
    }
}

#[test]
fn a_read_only_server_offers_no_writes() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = http_server(|c| c.read_only = true);
    std::fs::create_dir_all(server.path("photos")).unwrap();
    std::fs::write(server.path("notes.txt"), b"notes").unwrap();
    browser.open(&format!("http://{}/", server.http.unwrap()));
    assert_eq!(rows(&browser), ["photos/", "notes.txt"]);
    let shown = controls(&browser);
    assert_eq!(
        shown,
        json!({"tools": ["Download folder (.zip)", ".tar", "Share"],
               "rows": ["Download .zip", "Share", "Download", "Share"]}),
    );
    let note = "const n = document.getElementById('read-only'); return n && n.offsetParent !== null ? n.textContent : null";
    assert_eq!(browser.run(note, json!([])), json!("Read-only server"));
    // Selecting can still download, never delete.
    tick(&browser, &["notes.txt"]);
    let offered = "return ['download-selected', 'delete-selected'].map((id) => document.getElementById(id).offsetParent !== null)";
    assert_eq!(browser.run(offered, json!([])), json!([true, false]));
    assert_eq!(
        browser.run(
            "return [ferry.rights.write, ferry.rights.delete, ferry.rights.readOnly]",
            json!([])
        ),
        json!([false, false, true])
    );
    screenshots(&browser, "read-only");
}

#[test]
fn a_token_that_may_not_delete_is_offered_no_delete() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let (server, tokens, _dir) = guarded(&[("editor", &["read:/", "write:/"])], &[]);
    std::fs::write(server.path("draft.txt"), b"draft").unwrap();
    browser.open(&format!(
        "http://editor:{}@{}/",
        tokens[0],
        server.http.unwrap()
    ));
    assert_eq!(rows(&browser), ["draft.txt"]);
    let shown = controls(&browser);
    let tools = shown["tools"].as_array().unwrap();
    assert!(tools.contains(&json!("Upload files")), "{shown}");
    assert!(tools.contains(&json!("New folder")), "{shown}");
    // No Delete, and no Rename (a rename deletes the old name): what
    // only reads.
    assert_eq!(shown["rows"], json!(["Download", "Share"]), "{shown}");
    // It may write: no read-only note.
    let note = "return document.getElementById('read-only')";
    assert_eq!(browser.run(note, json!([])), json!(null));
}

/// A folder's row offers Delete where the token may delete the folder
/// itself, as the server judges a folder's DELETE (issue 49): a grant on
/// `top/only/` is on what the folder holds, so its row offers none, and
/// the server keeps the folder when asked anyway.
#[test]
fn a_folder_row_offers_delete_where_the_token_may_delete_the_folder() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    // Delete in one sub-folder only: not in the folder listed.
    let (server, tokens, _dir) = guarded(&[("pruner", &["read:/", "delete:top/only/"])], &[]);
    for dir in ["top/only/deep", "top/other"] {
        std::fs::create_dir_all(server.path(dir)).unwrap();
    }
    std::fs::write(server.path("top/only/deep/a.txt"), b"a").unwrap();
    std::fs::write(server.path("top/note.txt"), b"n").unwrap();
    browser.open(&format!(
        "http://pruner:{}@{}/top/",
        tokens[0],
        server.http.unwrap()
    ));
    assert_eq!(rows(&browser), ["top/only/", "top/other/", "top/note.txt"]);
    let offered = browser.run(
        "return Array.from(document.querySelectorAll('#listing tr[data-name]'), (r) => { \
           r.querySelector('td.n a').focus(); \
           return [r.dataset.name, Array.from(r.querySelectorAll('td.o .acts button'), (b) => b.getAttribute('aria-label'))]; })",
        json!([]),
    );
    // No Rename: that needs write here, for the new name; no Delete:
    // that needs delete on the folder's own name.
    assert_eq!(
        offered,
        json!([
            ["top/only/", ["Download .zip", "Share"]],
            ["top/other/", ["Download .zip", "Share"]],
            ["top/note.txt", ["Download", "Share"]]
        ])
    );
    // And the server agrees: asked, it empties the folder and keeps it.
    let fields = format!("Host: localhost\r\n{}", support::http::bearer(&tokens[0]));
    let answer =
        support::http::exchange(server.http.unwrap(), "DELETE", "/top/only/", &fields, b"");
    assert_eq!(answer.status, 207, "{}", answer.head);
    assert!(server.path("top/only").is_dir() && !server.path("top/only/deep/a.txt").exists());
}

#[test]
fn a_missing_folder_is_a_page_with_a_way_back() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = http_server(|_| {});
    std::fs::create_dir_all(server.path("docs")).unwrap();
    std::fs::write(server.path("docs/kept.txt"), b"kept").unwrap();
    let base = format!("http://{}", server.http.unwrap());
    browser.open(&format!("{base}/docs/gone/"));
    let said = browser.run(
        "return [document.querySelector('h1').textContent, document.getElementById('reason').textContent]",
        json!([]),
    );
    assert_eq!(said, json!(["Not found", "no such folder"]));
    screenshots(&browser, "not-found");
    let back = browser.by_id("back");
    browser.click(&back);
    assert_eq!(rows(&browser), ["docs/kept.txt"]);
    assert_eq!(
        browser.run("return location.pathname", json!([])),
        json!("/docs/")
    );
}

/// Ticks the boxes of the rows named `names`.
fn tick(browser: &Browser, names: &[&str]) {
    for name in names {
        let box_ = browser.element(
            "return Array.from(document.querySelectorAll('#listing tr[data-name]')) \
               .find((r) => r.dataset.name === arguments[0]).querySelector('input.pick')",
            json!([name]),
        );
        browser.click(&box_);
    }
}

#[test]
fn a_new_folder_then_two_files_and_a_folder_deleted_at_once() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = http_server(|_| {});
    std::fs::create_dir_all(server.path("old/deep")).unwrap();
    std::fs::write(server.path("old/deep/inner.txt"), b"inner").unwrap();
    for name in ["a.txt", "b.txt", "keep.txt"] {
        std::fs::write(server.path(name), name).unwrap();
    }
    browser.open(&format!("http://{}/", server.http.unwrap()));
    assert_eq!(rows(&browser), ["old/", "a.txt", "b.txt", "keep.txt"]);

    // New folder, named in its prompt.
    let new = browser.by_id("new-folder");
    browser.click(&new);
    browser.dialog_text();
    browser.answer_dialog("fresh");
    browser.accept_dialog();
    assert_eq!(browser.message(), "Made fresh/");
    assert_eq!(
        rows(&browser),
        ["fresh/", "old/", "a.txt", "b.txt", "keep.txt"]
    );
    assert!(server.path("fresh").is_dir());

    // Two files and a folder with what it holds, in one go.
    tick(&browser, &["a.txt", "old/", "b.txt"]);
    assert_eq!(
        browser.run(
            "return [document.getElementById('count').textContent, ferry.selection()]",
            json!([])
        ),
        json!(["3 selected", ["old/", "a.txt", "b.txt"]])
    );
    screenshots(&browser, "selected");
    assert_eq!(
        browser.confirm(&browser.by_id("delete-selected")),
        "Delete 3 items (folders with everything in them)?"
    );
    assert_eq!(browser.message(), "Deleted 3 items");
    assert_eq!(rows(&browser), ["fresh/", "keep.txt"]);
    for gone in ["a.txt", "b.txt", "old"] {
        assert!(!server.path(gone).exists(), "{gone}");
    }
    assert!(server.path("keep.txt").exists());
}

#[test]
fn what_a_selection_could_not_delete_is_reported() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let (server, tokens, _dir) = guarded(&[("tidier", &["read:/", "write:/", "delete:/"])], &[]);
    std::fs::write(server.path("gone.txt"), b"x").unwrap();
    std::fs::write(server.path("here.txt"), b"x").unwrap();
    browser.open(&format!(
        "http://tidier:{}@{}/",
        tokens[0],
        server.http.unwrap()
    ));
    assert_eq!(rows(&browser), ["gone.txt", "here.txt"]);
    tick(&browser, &["gone.txt", "here.txt"]);
    // Removed behind the page's back: its DELETE finds nothing.
    std::fs::remove_file(server.path("gone.txt")).unwrap();
    browser.confirm(&browser.by_id("delete-selected"));
    assert_eq!(
        browser.message(),
        "Not deleted:\ngone.txt: no such file (404)"
    );
    assert_eq!(rows(&browser), Vec::<String>::new());

    // Download takes each ticked one: a file as it is, a folder as .zip.
    std::fs::create_dir_all(server.path("box")).unwrap();
    std::fs::write(server.path("one.txt"), b"1").unwrap();
    browser.run("ferry.refresh()", json!([]));
    assert_eq!(rows(&browser), ["box/", "one.txt"]);
    tick(&browser, &["box/", "one.txt"]);
    let taken = browser.run(
        "const taken = []; \
         HTMLAnchorElement.prototype.click = function () { taken.push(new URL(this.href).pathname + new URL(this.href).search); }; \
         document.getElementById('download-selected').click(); return taken",
        json!([]),
    );
    assert_eq!(taken, json!(["/box/?zip", "/one.txt"]));
}

#[test]
fn the_filter_narrows_the_rows_as_one_types() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = http_server(|_| {});
    std::fs::create_dir_all(server.path("Reports")).unwrap();
    for name in ["report-2025.pdf", "notes.txt", "photo.jpg"] {
        std::fs::write(server.path(name), name).unwrap();
    }
    browser.open(&format!("http://{}/", server.http.unwrap()));
    assert_eq!(rows(&browser).len(), 4);
    // `/` goes to the filter box, from anywhere on the page.
    browser.type_keys("/");
    assert_eq!(
        browser.run("return document.activeElement.id", json!([])),
        json!("filter")
    );
    browser.type_keys("REPO");
    let shown = "return Array.from(document.querySelectorAll('#listing tr[data-name]')) \
        .filter((r) => r.offsetParent !== null).map((r) => r.dataset.name)";
    assert_eq!(
        browser.run(shown, json!([])),
        json!(["Reports/", "report-2025.pdf"])
    );
    // Select all takes only the rows shown.
    browser.run("document.querySelector('th input').click()", json!([]));
    assert_eq!(
        browser.run("return ferry.selection()", json!([])),
        json!(["Reports/", "report-2025.pdf"])
    );
    screenshots(&browser, "filtered");
    browser.type_keys("\u{E00C}"); // Escape: the filter is cleared.
    assert_eq!(browser.run(shown, json!([])).as_array().unwrap().len(), 4);
}

#[test]
fn the_keyboard_moves_through_the_rows_and_a_link_is_copied() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = http_server(|_| {});
    std::fs::create_dir_all(server.path("inside")).unwrap();
    std::fs::write(server.path("inside/deep.txt"), b"deep").unwrap();
    std::fs::write(server.path("top.txt"), b"top").unwrap();
    let base = format!("http://{}", server.http.unwrap());
    browser.open(&format!("{base}/"));
    assert_eq!(rows(&browser), ["inside/", "top.txt"]);
    let focused = "return document.activeElement.textContent || document.activeElement.id";
    browser.type_keys("/\u{E015}"); // `/`, then ArrowDown: the first row.
    assert_eq!(browser.run(focused, json!([])), json!("inside/"));
    browser.type_keys("\u{E015}");
    assert_eq!(browser.run(focused, json!([])), json!("top.txt"));
    browser.type_keys("\u{E013}\u{E013}"); // ArrowUp twice: the filter.
    assert_eq!(browser.run(focused, json!([])), json!("filter"));

    // A ticked row's address, copied (127.0.0.1 is a secure origin).
    tick(&browser, &["top.txt"]);
    let copy = browser.by_id("copy-links");
    browser.click(&copy);
    assert_eq!(browser.message(), format!("Copied: {base}/top.txt"));

    // Enter on a row opens it.
    browser.type_keys("/\u{E015}\u{E007}");
    assert_eq!(rows(&browser), ["inside/deep.txt"]);
    assert_eq!(
        browser.run("return location.pathname", json!([])),
        json!("/inside/")
    );
    // Below the root, `../` is no entry: Down from the filter passes it
    // by, and from `../` itself (Tab reaches it) goes to the first entry.
    browser.type_keys("/\u{E015}");
    assert_eq!(browser.run(focused, json!([])), json!("deep.txt"));
    browser.run("document.querySelector('tr.up a').focus()", json!([]));
    browser.type_keys("\u{E015}");
    assert_eq!(browser.run(focused, json!([])), json!("deep.txt"));
    // Enter on `../`, a plain link as the server wrote it, goes up.
    browser.run("document.querySelector('tr.up a').focus()", json!([]));
    browser.type_keys("\u{E007}");
    assert_eq!(rows(&browser), ["inside/", "top.txt"]);
    assert_eq!(
        browser.run("return location.pathname", json!([])),
        json!("/")
    );
}
