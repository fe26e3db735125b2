//! Share links through the page, in real browsers (docs/shares.md): a
//! folder's Share makes a link, which a second browser with a fresh
//! profile and no token opens, its files listed and the folder saved as
//! its `.zip`; an upload link made the same way takes a file through its
//! drop zone (a tus upload of two pieces), which lands in the folder. Skipped, saying so, where
//! Chromium or chromedriver is missing.
#![cfg(all(feature = "web", feature = "shares"))]

use crate::support;
use crate::webdriver;

use serde_json::json;
use support::TestServer;
use webdriver::Browser;

/// Makes a link of `name` in the page's Share dialog (`upload`: the
/// folder's "send files into it" box ticked) and gives its address.
fn make_link(browser: &Browser, name: &str, upload: bool) -> String {
    browser.click(&browser.row_button("Share", name));
    if upload {
        browser.run(
            "document.querySelector('#share input[name=upload]').click()",
            json!([]),
        );
    }
    browser.click(&browser.by_id("create-link"));
    browser.wait_for("the link", || {
        let shown = browser.run(
            "const p = document.querySelector('#share p'); return p && p.textContent",
            json!([]),
        );
        shown
            .as_str()
            .filter(|text| text.contains("/s/"))
            .map(str::to_owned)
    })
}

#[test]
fn a_link_made_on_the_page_opens_without_a_token_in_a_fresh_browser() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_http();
    server.write_files(&["team/a.txt", "team/sub/b.txt", "inbox/old.txt"]);
    browser.open(&format!("http://{}/", server.http.unwrap()));
    browser.when_idle("the page", "return true", json!([]));
    let download = make_link(&browser, "team/", false);
    browser.type_keys("\u{E00C}");
    let upload = make_link(&browser, "inbox/", true);
    let listed = browser.when_idle(
        "the token's links",
        "return Array.from(document.querySelectorAll('#share li.link a')).map((a) => a.href)",
        json!([]),
    );
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");

    let stranger = Browser::start_or_skip().unwrap();
    stranger.open(&download);
    let names = stranger.run(
        "return Array.from(document.querySelectorAll('td.n a')).map((a) => a.textContent)",
        json!([]),
    );
    assert_eq!(names, json!(["sub/", "a.txt"]));
    stranger.click(&stranger.by_id("zip"));
    let downloads = stranger.downloads();
    let zip = stranger.wait_for("the folder's zip", || {
        std::fs::read_dir(&downloads).ok()?.find_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "zip").then_some(path)
        })
    });
    assert!(std::fs::read(zip).unwrap().starts_with(b"PK"));

    stranger.open(&upload);
    // A file of two pieces, sent as a tus upload (what the page asks is
    // recorded on the way).
    let invoice = support::pattern((8 << 20) + 5, 3);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &invoice).unwrap();
    stranger.run(
        "window.asked = []; const sent = window.fetch; \
         window.fetch = (url, how) => { window.asked.push((how && how.method) || 'GET'); return sent(url, how); }",
        json!([]),
    );
    stranger.send_keys(&stranger.by_id("pick"), file.path().to_str().unwrap());
    stranger.wait_for("the file received", || {
        let done = stranger.run(
            "return document.querySelector('#sent li.ok') !== null",
            json!([]),
        );
        (done == json!(true)).then_some(())
    });
    let sent = file.path().file_name().unwrap().to_str().unwrap();
    let landed = std::fs::read(server.path(&format!("inbox/{sent}"))).unwrap();
    assert!(landed == invoice, "{} bytes landed", landed.len());
    let asked = stranger.run("return window.asked", json!([]));
    assert_eq!(asked, json!(["POST", "PATCH", "PATCH"]));
    let page = stranger.run("return document.body.textContent", json!([]));
    assert!(!page.as_str().unwrap().contains("old.txt"), "{page}");
}
