//! The web page acting on what the server tells it, in headless Chromium
//! (as `tests/browser.rs`): a read-only server's page offers no writes, a
//! token that may write but not delete sees no Delete, a missing folder
//! is a page with a way back. Screenshots for a person to look at go to
//! `target/web2-*.png` (1280×900 and 390×844).
//!
//! Skipped, with a message, where Chromium or chromedriver is not
//! installed (`apt-get install chromium chromium-driver`).

use std::io::Write;
use std::path::PathBuf;

mod support;
// Shared with tests/browser.rs, which uses what this file does not.
#[allow(dead_code)]
#[path = "support/webdriver.rs"]
mod webdriver;

use serde_json::{Value, json};
use support::TestServer;
use support::tokens::guarded;
use webdriver::Browser;

fn browser_or_skip() -> Option<Browser> {
    match Browser::find() {
        Ok((chromium, driver)) => Some(Browser::start(&chromium, &driver)),
        Err(why) => {
            let _ = writeln!(
                std::io::stderr(),
                "skipped: the browser test needs Chromium and chromedriver: {why}"
            );
            None
        }
    }
}

fn http_server(adjust: impl FnOnce(&mut ferry::Config)) -> TestServer {
    TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        adjust(c);
    })
}

/// The page's rows (`data-name`, folders too), once no request runs.
fn rows(browser: &Browser) -> Vec<String> {
    browser.wait_for("the page to be idle", || {
        let names = browser.run(
            "if (document.body.dataset.state !== 'idle') return null; \
             return Array.from(document.querySelectorAll('#listing tr[data-name]'), (r) => r.dataset.name);",
            json!([]),
        );
        serde_json::from_value::<Vec<String>>(names).ok()
    })
}

/// The labels of the page's visible controls: the tools at the top and
/// each row's buttons.
fn controls(browser: &Browser) -> Value {
    browser.run(
        "const shown = (e) => e.offsetParent !== null; \
         return { tools: Array.from(document.querySelectorAll('header button, header label'), (e) => e).filter(shown).map((e) => e.textContent), \
                  rows: Array.from(document.querySelectorAll('#listing td.o button')).filter(shown).map((b) => b.textContent) }",
        json!([]),
    )
}

/// `target/web2-<name>-<width>.png`, at both sizes.
fn screenshots(browser: &Browser, name: &str) {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = target.parent().expect("the target directory");
    for (width, height) in [(1280, 900), (390, 844)] {
        let file = target.join(format!("web2-{name}-{width}.png"));
        browser.screenshot(width, height, &file);
    }
}

#[test]
fn a_read_only_server_offers_no_writes() {
    let Some(browser) = browser_or_skip() else {
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
        json!({"tools": ["Download folder (.zip)", ".tar"], "rows": ["Download .zip"]}),
    );
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
    let Some(browser) = browser_or_skip() else {
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
    // No Delete, and no Rename (a rename deletes the old name).
    assert_eq!(shown["rows"], json!([]), "{shown}");
}

#[test]
fn a_missing_folder_is_a_page_with_a_way_back() {
    let Some(browser) = browser_or_skip() else {
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
    assert_eq!(said, json!(["Not found", "no such directory"]));
    screenshots(&browser, "not-found");
    let back = browser.element("return document.getElementById('back')", json!([]));
    browser.click(&back);
    assert_eq!(rows(&browser), ["docs/kept.txt"]);
    assert_eq!(
        browser.run("return location.pathname", json!([])),
        json!("/docs/")
    );
}
