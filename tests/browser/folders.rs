//! The page's folders and search in a real browser (headless Chromium
//! through chromedriver, as tests/browser/actions.rs): a folder renamed through
//! its row's prompt (onto a name taken: refused in the server's words), a folder with files deleted after its confirmation,
//! what a token could not delete told on the page, and the one search
//! field, Enter pressed, finding a file deep down and following a result.
//!
//! Skipped, with a message, where Chromium or chromedriver is not
//! installed (`apt-get install chromium chromium-driver`).
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

use crate::support;
// Not every helper is used here (tests/browser/actions.rs throttles uploads).
use crate::webdriver;

use serde_json::json;
use support::TestServer;
use support::tokens::guarded;
use webdriver::Browser;

fn folders(browser: &Browser) -> Vec<String> {
    browser.names("#listing tr.dir")
}

#[test]
fn folders_are_renamed_moved_and_deleted_from_the_page() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_http();
    server.write_files(&[
        "top/old/a.txt",
        "top/old/sub/b.txt",
        "top/gone/c.txt",
        "top/gone/d/e.txt",
        "elsewhere/x",
    ]);
    let base = format!("http://{}", server.http.unwrap());
    browser.open(&format!("{base}/top/"));
    assert_eq!(folders(&browser), ["top/gone/", "top/old/"]);

    // Renamed through its prompt: the folder and all it holds.
    browser.click(&browser.row_button("Rename", "top/old/"));
    browser.dialog_text();
    browser.answer_dialog("new name");
    browser.accept_dialog();
    browser.wait_for("the renamed folder", || {
        folders(&browser)
            .contains(&"top/new name/".to_owned())
            .then_some(())
    });
    assert!(!server.path("top/old").exists());
    assert_eq!(
        std::fs::read(server.path("top/new name/sub/b.txt")).unwrap(),
        b"top/old/sub/b.txt"
    );

    // Onto a name taken: refused, in the server's words, the target named.
    browser.click(&browser.row_button("Rename", "top/new name/"));
    browser.dialog_text();
    browser.answer_dialog("gone");
    browser.accept_dialog();
    assert_eq!(
        browser.message(),
        "Rename top/new name to top/gone: the destination exists (Overwrite: F) (412)"
    );
    assert!(server.path("top/new name/a.txt").exists());

    // Moved elsewhere with a path from the top.
    browser.click(&browser.row_button("Rename", "top/new name/"));
    browser.dialog_text();
    browser.answer_dialog("/elsewhere/moved");
    browser.accept_dialog();
    browser.wait_for("the moved folder to leave", || {
        (folders(&browser) == ["top/gone/"]).then_some(())
    });
    assert!(server.path("elsewhere/moved/a.txt").exists());

    // Deleted with everything in it, after the confirmation.
    browser.click(&browser.row_button("Delete", "top/gone/"));
    let asked = browser.dialog_text();
    assert!(
        asked.contains("top/gone") && asked.contains("everything in it"),
        "{asked}"
    );
    browser.accept_dialog();
    browser.wait_for("the deleted folder to leave", || {
        folders(&browser).is_empty().then_some(())
    });
    assert!(!server.path("top/gone").exists());
    assert_eq!(browser.message(), "Deleted top/gone");
}

#[test]
fn what_a_folders_delete_left_is_told_on_the_page() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let grants: &[&str] = &["read:/", "delete:d/open/"];
    let (server, tokens, _dir) = guarded(&[("t", grants)], &[]);
    server.write_files(&["d/open/a.txt", "d/kept.txt"]);
    let addr = server.http.unwrap();
    browser.open(&format!("http://t:{}@{addr}/", tokens[0]));
    // The page offers a folder's Delete only where the token may delete
    // here (the root: not this one), which grants by prefix make all or
    // nothing: a report of what stayed needs the server to refuse what the
    // page offered, so the page is told it may, as a stale page would be.
    browser.run(
        "window.ferry.rights.delete = true; return window.ferry.refresh()",
        json!([]),
    );
    browser.when_idle("the rows again", "return true", json!([]));
    browser.confirm(&browser.row_button("Delete", "d/"));
    let said = browser.wait_for("the report", || {
        Some(browser.message()).filter(|said| said.contains("stayed"))
    });
    assert!(said.contains("d/kept.txt: not permitted"), "{said}");
    assert!(server.path("d/kept.txt").exists() && !server.path("d/open/a.txt").exists());
    // The grant on d/open/ is on what it holds: the folder stays, told.
    assert!(said.contains("d/open/: not permitted"), "{said}");
}

#[test]
fn the_search_box_finds_a_name_deep_down_and_goes_there() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_http();
    server.write_files(&[
        "s/a/b/c/d/Needle-folder/inside.txt",
        "s/a/b/needle.txt",
        "s/other.txt",
        "needle-outside.txt",
    ]);
    let base = format!("http://{}", server.http.unwrap());
    browser.open(&format!("{base}/s/"));
    let input = browser.by_id("filter");
    browser.send_keys(&input, "NEEDLE\u{E007}"); // Enter: below too.
    let shown = browser.wait_for("the results", || {
        let shown = browser.run(
            "if (document.body.dataset.state !== 'idle') return null; \
             const found = document.getElementById('results'); \
             if (found.hidden) return null; \
             return Array.from(found.querySelectorAll('a'), (a) => a.textContent)",
            json!([]),
        );
        serde_json::from_value::<Vec<String>>(shown)
            .ok()
            .filter(|s| !s.is_empty())
    });
    assert_eq!(shown, ["a/b/c/d/Needle-folder/", "a/b/needle.txt"]);
    let link = browser.element(
        "return Array.from(document.querySelectorAll('#results a')).find((a) => a.textContent === arguments[0])",
        json!(["a/b/c/d/Needle-folder/"]),
    );
    browser.click(&link);
    browser.wait_for("the folder's page", || {
        let at = browser.run("return location.pathname", json!([]));
        (at == json!("/s/a/b/c/d/Needle-folder/")).then_some(())
    });
    assert_eq!(
        browser.names("tr.file"),
        ["s/a/b/c/d/Needle-folder/inside.txt"]
    );
}
