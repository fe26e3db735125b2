//! The page's folders and search in a real browser (headless Chromium
//! through chromedriver, as tests/browser.rs): a folder renamed through
//! its row's prompt, a folder with files deleted after its confirmation,
//! what a token could not delete told on the page, and the search box
//! finding a file deep down and following a result.
//!
//! Skipped, with a message, where Chromium or chromedriver is not
//! installed (`apt-get install chromium chromium-driver`).
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

mod support;
// Not every helper is used here (tests/browser.rs throttles uploads).
#[allow(dead_code)]
#[path = "support/webdriver.rs"]
mod webdriver;

use serde_json::json;
use support::TestServer;
use support::tokens::guarded;
use webdriver::Browser;

/// The names of the folders the page lists, once no request is running.
const FOLDERS: &str = "if (document.body.dataset.state !== 'idle') return null; \
    return Array.from(document.querySelectorAll('#listing tr.dir'), (row) => row.dataset.name);";

fn write_files(server: &TestServer, names: &[&str]) {
    for name in names {
        std::fs::create_dir_all(server.path(name).parent().unwrap()).unwrap();
        std::fs::write(server.path(name), name.as_bytes()).unwrap();
    }
}

fn folders(browser: &Browser) -> Vec<String> {
    browser.wait_for("the page to be idle", || {
        serde_json::from_value::<Vec<String>>(browser.run(FOLDERS, json!([]))).ok()
    })
}

/// The button labelled `label` on the row of folder `name`.
fn button(browser: &Browser, label: &str, name: &str) -> String {
    browser.element(
        "const row = Array.from(document.querySelectorAll('#listing tr.dir')).find((r) => r.dataset.name === arguments[0]); \
         row.querySelector('td.n a').focus(); \
         return Array.from(row.querySelectorAll('button')).find((b) => b.textContent === arguments[1])",
        json!([name, label]),
    )
}

fn message(browser: &Browser) -> String {
    let text = browser.run(
        "return document.getElementById('message').textContent",
        json!([]),
    );
    text.as_str().unwrap_or_default().to_owned()
}

#[test]
fn folders_are_renamed_moved_and_deleted_from_the_page() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    });
    write_files(
        &server,
        &[
            "top/old/a.txt",
            "top/old/sub/b.txt",
            "top/gone/c.txt",
            "top/gone/d/e.txt",
            "elsewhere/x",
        ],
    );
    let base = format!("http://{}", server.http.unwrap());
    browser.open(&format!("{base}/top/"));
    assert_eq!(folders(&browser), ["top/gone/", "top/old/"]);

    // Renamed through its prompt: the folder and all it holds.
    browser.click(&button(&browser, "Rename", "top/old/"));
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

    // Moved elsewhere with a path from the top.
    browser.click(&button(&browser, "Rename", "top/new name/"));
    browser.dialog_text();
    browser.answer_dialog("/elsewhere/moved");
    browser.accept_dialog();
    browser.wait_for("the moved folder to leave", || {
        (folders(&browser) == ["top/gone/"]).then_some(())
    });
    assert!(server.path("elsewhere/moved/a.txt").exists());

    // Deleted with everything in it, after the confirmation.
    browser.click(&button(&browser, "Delete", "top/gone/"));
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
    assert_eq!(message(&browser), "Deleted top/gone");
}

#[test]
fn what_a_folders_delete_left_is_told_on_the_page() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let grants: &[&str] = &["read:/", "delete:d/open/"];
    let (server, tokens, _dir) = guarded(&[("t", grants)], &[]);
    write_files(&server, &["d/open/a.txt", "d/kept.txt"]);
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
    browser.wait_for("the rows again", || {
        let idle = browser.run("return document.body.dataset.state", json!([]));
        (idle == "idle").then_some(())
    });
    browser.click(&button(&browser, "Delete", "d/"));
    browser.dialog_text();
    browser.accept_dialog();
    let said = browser.wait_for("the report", || {
        let said = message(&browser);
        said.contains("stayed").then_some(said)
    });
    assert!(said.contains("d/kept.txt: not permitted"), "{said}");
    assert!(server.path("d/kept.txt").exists() && !server.path("d/open").exists());
}

#[test]
fn the_search_box_finds_a_name_deep_down_and_goes_there() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    });
    write_files(
        &server,
        &[
            "s/a/b/c/d/Needle-folder/inside.txt",
            "s/a/b/needle.txt",
            "s/other.txt",
            "needle-outside.txt",
        ],
    );
    let base = format!("http://{}", server.http.unwrap());
    browser.open(&format!("{base}/s/"));
    let input = browser.element("return document.getElementById('search-term')", json!([]));
    browser.send_keys(&input, "NEEDLE");
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
    let files = browser.wait_for("the folder's listing", || {
        let names = browser.run(
            "if (document.body.dataset.state !== 'idle') return null; \
             return Array.from(document.querySelectorAll('tr.file'), (r) => r.dataset.name)",
            json!([]),
        );
        serde_json::from_value::<Vec<String>>(names).ok()
    });
    assert_eq!(files, ["s/a/b/c/d/Needle-folder/inside.txt"]);
}
