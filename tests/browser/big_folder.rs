//! A big folder's page in a real browser (headless Chromium through
//! chromedriver, as tests/browser/actions.rs): past 200 entries the server sends
//! the names as data (`src/http/page_data.rs`) and the script builds the
//! rows, which then work as a small folder's do: sorted, filtered,
//! selected, a row renamed and deleted (the page refreshed from the data
//! again), the keyboard moving through them.
//!
//! Skipped, with a message, where Chromium or chromedriver is not
//! installed (`apt-get install chromium chromium-driver`).

use crate::support;
use crate::webdriver;

use serde_json::json;
use support::TestServer;
use webdriver::Browser;

/// Files past the page's threshold (200, `page.rs` ROWS_UP_TO).
const FILES: usize = 230;

/// `big/f-NNN.txt`, each `FILES - NNN` bytes long (so that size order is
/// the reverse of name order), and `big/dir/in.txt`.
fn big_folder() -> TestServer {
    let server = TestServer::start_http();
    std::fs::create_dir_all(server.path("big/dir")).unwrap();
    std::fs::write(server.path("big/dir/in.txt"), b"in").unwrap();
    for n in 0..FILES {
        let bytes = vec![b'x'; FILES - n];
        std::fs::write(server.path(&format!("big/f-{n:03}.txt")), bytes).unwrap();
    }
    server
}

fn rows(browser: &Browser) -> Vec<String> {
    browser.names("#listing tr[data-name]")
}

#[test]
fn a_big_folders_rows_are_built_and_work_as_a_small_ones() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = big_folder();
    browser.open(&format!("http://{}/big/", server.http.unwrap()));
    let mut want = vec!["big/dir/".to_owned()];
    want.extend((0..FILES).map(|n| format!("big/f-{n:03}.txt")));
    assert_eq!(rows(&browser), want);
    // Built as the server would write them: the link, size and count.
    let first = browser.run(
        "const r = document.querySelector('tr.file'); \
         return [r.querySelector('td.n a').getAttribute('href'), r.cells[1].textContent, \
                 document.getElementById('summary').textContent]",
        json!([]),
    );
    assert_eq!(
        first,
        json!(["/big/f-000.txt", "230 B", "1 folder, 230 files, 25.9 KiB"])
    );
    // The script ran to its end: the sort was marked on its heading.
    let marked = "return document.querySelector('th[data-key=name]').getAttribute('aria-sort')";
    assert_eq!(browser.run(marked, json!([])), json!("ascending"));

    // Sorted by size (the heading's button), folders first.
    browser.run(
        "document.querySelector('th[data-key=size] button').click()",
        json!([]),
    );
    let sorted = rows(&browser);
    assert_eq!(sorted[..3], ["big/dir/", "big/f-229.txt", "big/f-228.txt"]);
    browser.run(
        "document.querySelector('th[data-key=name] button').click()",
        json!([]),
    );
    assert_eq!(rows(&browser), want);

    // Filtered as one types; the keyboard goes from the filter to the rows.
    browser.type_keys("/f-01");
    let shown = "return Array.from(document.querySelectorAll('#listing tr[data-name]')) \
        .filter((r) => r.offsetParent !== null).map((r) => r.dataset.name)";
    let tens: Vec<String> = (10..20).map(|n| format!("big/f-{n:03}.txt")).collect();
    assert_eq!(browser.run(shown, json!([])), json!(tens));
    let focused = "return document.activeElement.textContent || document.activeElement.id";
    // ArrowDown: the first match (`../`, no entry, is passed by).
    browser.type_keys("\u{E015}");
    assert_eq!(browser.run(focused, json!([])), json!("f-010.txt"));
    browser.type_keys("\u{E015}"); // Then the next shown.
    assert_eq!(browser.run(focused, json!([])), json!("f-011.txt"));
    browser.type_keys("/\u{E00C}"); // Back to the filter, Escape: cleared.
    assert_eq!(
        browser.run(shown, json!([])).as_array().unwrap().len(),
        FILES + 1
    );

    // Selected: two boxes ticked.
    for name in ["big/f-003.txt", "big/f-007.txt"] {
        let pick = browser.element(
            "return Array.from(document.querySelectorAll('#listing tr[data-name]')) \
               .find((r) => r.dataset.name === arguments[0]).querySelector('input.pick')",
            json!([name]),
        );
        browser.click(&pick);
    }
    assert_eq!(
        browser.run("return ferry.selection()", json!([])),
        json!(["big/f-003.txt", "big/f-007.txt"])
    );

    // A row renamed through its prompt: the page is built again.
    browser.click(&browser.row_button("Rename", "big/f-005.txt"));
    browser.dialog_text();
    browser.answer_dialog("renamed.txt");
    browser.accept_dialog();
    assert_eq!(
        browser.message(),
        "Renamed big/f-005.txt to big/renamed.txt"
    );
    let names = rows(&browser);
    assert!(
        names.contains(&"big/renamed.txt".to_owned())
            && !names.contains(&"big/f-005.txt".to_owned())
    );
    assert_eq!(
        std::fs::read(server.path("big/renamed.txt")).unwrap().len(),
        FILES - 5
    );

    // A row deleted after its confirmation.
    let asked = browser.confirm(&browser.row_button("Delete", "big/f-001.txt"));
    assert!(asked.contains("big/f-001.txt"), "{asked}");
    assert_eq!(browser.message(), "Deleted big/f-001.txt");
    assert!(!rows(&browser).contains(&"big/f-001.txt".to_owned()));
    assert!(!server.path("big/f-001.txt").exists());
    assert_eq!(rows(&browser).len(), FILES);
}
