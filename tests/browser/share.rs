//! Sharing and taking many at once, in a real browser (headless Chromium
//! through chromedriver, as tests/browser/actions.rs): the header's Share button
//! shows a QR code of the page's URL that a real decoder (zxing-cpp's
//! Python wheel) reads back, for short and long URLs and for UTF-8 text;
//! the encoder's matrix is the same as Python's `qrcode` library's at the
//! same version and mask; and the multi-select Download brings three
//! files and a folder's zip, byte for byte.
//!
//! Skipped, with a message, where Chromium or chromedriver is not
//! installed (`apt-get install chromium chromium-driver`) or the Python
//! packages are missing (`pip install zxing-cpp pillow qrcode`, as
//! `.ci/run` does).
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

use crate::support;
use crate::webdriver;

use std::path::Path;

use serde_json::{Value, json};
use support::TestServer;
use support::tools::{python, python_has};
use webdriver::Browser;

/// What `pip install` brings the Python modules these tests use.
const PIP: &str = "pip install zxing-cpp pillow qrcode";

/// What zxing-cpp reads in the PNG at `file`: each QR code's text.
fn decode(file: &Path) -> Vec<String> {
    let script = "import sys, zxingcpp; from PIL import Image\n\
        for found in zxingcpp.read_barcodes(Image.open(sys.argv[1])):\n\
        \x20   print(found.text)";
    let out = python(script, &[file.as_os_str()]);
    out.lines().map(str::to_owned).collect()
}

/// Screenshots the open share dialog and decodes it.
fn shot_and_decode(browser: &Browser, name: &str) -> Vec<String> {
    browser.wait_for("the share dialog", || {
        browser
            .run("return document.getElementById('share').open && !!document.querySelector('#share svg')", json!([]))
            .as_bool()
            .filter(|open| *open)
    });
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("share-{name}.png"));
    browser.save_screenshot(1280, 900, &file);
    decode(&file)
}

/// A browser and a server, if Python has `modules` (else `None`, the
/// skip said, as it is where there is no browser).
fn browser_with(modules: &str) -> Option<(Browser, TestServer)> {
    if !python_has(modules, PIP) {
        return None;
    }
    Some((Browser::start_or_skip()?, TestServer::start_http()))
}

#[test]
fn the_share_dialogs_qr_code_reads_back_as_the_pages_url() {
    let Some((browser, server)) = browser_with("zxingcpp, PIL") else {
        return;
    };
    let long = format!("deep/{}/", ["très long dossier"; 12].join("/"));
    let folders = ["", "photos/", "déjà vu/ファイル/", long.as_str()];
    for folder in folders {
        server.write_files(&[&format!("{folder}file.txt")]);
    }
    let base = format!("http://{}", server.http.unwrap());
    for (at, folder) in folders.iter().enumerate() {
        // WebDriver's navigation percent-encodes what needs it.
        let url = format!("{base}/{folder}");
        browser.open(&url);
        let open = browser.by_id("share-open");
        browser.click(&open);
        let href = browser.run("return location.href", json!([]));
        let href = href.as_str().unwrap();
        assert_eq!(shot_and_decode(&browser, &at.to_string()), [href], "{url}");
        // The URL is there as text too; Escape closes the dialog.
        let shown = browser.run(
            "return document.querySelector('#share p').textContent",
            json!([]),
        );
        assert_eq!(shown.as_str(), Some(href));
        browser.type_keys("\u{E00C}");
        browser.wait_for("the dialog to close", || {
            (browser.run("return document.getElementById('share').open", json!([])) == json!(false))
                .then_some(())
        });
    }
    // Byte mode carries UTF-8 as it is: text beyond ASCII reads back whole.
    let text = "https://example.org/déjà vu/ファイル?q=ü";
    browser.run("window.ferry.share(arguments[0])", json!([text]));
    assert_eq!(shot_and_decode(&browser, "utf8"), [text]);
    // Past version 15 there is no code, and the dialog says so.
    let huge = format!("{base}/{}", "x".repeat(500));
    browser.run("window.ferry.share(arguments[0])", json!([huge]));
    let said = browser.run(
        "return document.getElementById('share').textContent",
        json!([]),
    );
    assert!(said.as_str().unwrap().contains("too long"), "{said}");
}

#[test]
fn the_encoders_matrix_is_the_qrcode_librarys_at_each_version_and_mask() {
    let Some((browser, server)) = browser_with("qrcode") else {
        return;
    };
    browser.open(&format!("http://{}/", server.http.unwrap()));
    // Lengths that need versions 1, 2, 4, 7 (the first with version
    // information), 10 (16-bit counts) and 15, one with UTF-8.
    let texts = [
        "http://a/".to_owned(),
        "http://127.0.0.1:5011/".to_owned(),
        "http://127.0.0.1:43211/déjà vu/ファイル/".to_owned(),
        format!("http://h/{}", "a/".repeat(50)),
        format!("http://h/{}", "b".repeat(200)),
        format!("http://h/{}", "é".repeat(195)),
    ];
    let script = "import sys, json, qrcode\n\
        from qrcode.util import QRData, MODE_8BIT_BYTE\n\
        text, version, mask = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n\
        q = qrcode.QRCode(version=version, error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=mask, border=0)\n\
        q.add_data(QRData(text.encode(), mode=MODE_8BIT_BYTE)); q.make(fit=False)\n\
        print(json.dumps([[int(v) for v in row] for row in q.get_matrix()]))";
    let mut versions = Vec::new();
    for text in &texts {
        for mask in 0..8 {
            let ours = browser.run(
                "return window.ferry.qr(arguments[0], arguments[1])",
                json!([text, mask]),
            );
            let size = ours.as_array().unwrap().len();
            let version = (size - 17) / 4;
            let (version_arg, mask_arg) = (version.to_string(), mask.to_string());
            let args = [text.as_str(), &version_arg, &mask_arg].map(std::ffi::OsStr::new);
            let theirs: Value = serde_json::from_str(&python(script, &args)).unwrap();
            assert_eq!(ours, theirs, "{text:?} version {version} mask {mask}");
            if mask == 0 {
                versions.push(version);
            }
        }
    }
    assert_eq!(versions, [1, 2, 4, 7, 10, 15]);
}

#[test]
fn the_selections_download_brings_each_file_and_the_folders_zip() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_http();
    server.write_files(&[
        "d/one.txt",
        "d/two words.txt",
        "d/three.bin",
        "d/skip.txt",
        "d/sub/a.txt",
        "d/sub/deep/b.txt",
    ]);
    browser.open(&format!("http://{}/d/", server.http.unwrap()));
    browser.when_idle("the page", "return true", json!([]));
    let picked = ["d/one.txt", "d/two words.txt", "d/three.bin", "d/sub/"];
    browser.run(
        "for (const row of document.querySelectorAll('#listing tbody tr')) \
           if (arguments[0].includes(row.dataset.name)) row.querySelector('input.pick').click();",
        json!([picked]),
    );
    browser.click(&browser.by_id("download-selected"));
    let downloads = browser.downloads();
    let want = ["one.txt", "sub.zip", "three.bin", "two words.txt"];
    let arrived = browser.wait_for("four downloads", || {
        let mut names: Vec<String> = std::fs::read_dir(&downloads)
            .ok()?
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        // Chromium writes `.crdownload` files first and renames them when done.
        (names == want).then_some(names)
    });
    assert_eq!(arrived, want);
    for name in ["one.txt", "two words.txt", "three.bin"] {
        let got = std::fs::read(downloads.join(name)).unwrap();
        assert_eq!(got, format!("d/{name}").as_bytes(), "{name}");
    }
    if !python_has("zipfile", PIP) {
        return;
    }
    let script = "import sys, zipfile\n\
        z = zipfile.ZipFile(sys.argv[1])\n\
        assert z.testzip() is None\n\
        for i in sorted(z.namelist()): print(i, z.read(i).decode() if not i.endswith('/') else '')";
    let listed = python(script, &[downloads.join("sub.zip").as_os_str()]);
    assert!(listed.contains("a.txt d/sub/a.txt\n"), "{listed}");
    assert!(listed.contains("deep/b.txt d/sub/deep/b.txt\n"), "{listed}");
}
