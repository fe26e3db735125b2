//! The list/grid toggle in a real browser (headless Chromium through
//! chromedriver, as `tests/browser/actions.rs`), at 1280×900 and as a
//! phone at 390×844: the grid shows thumbnails for images only, loaded
//! lazily from the files themselves (the policy's `img-src 'self'`, no
//! violation, nothing else fetched, no thumbnail file made in the root),
//! never scrolls sideways, and is remembered across loads. Screenshots go
//! to `target/web2-grid-<width>.png`.
//!
//! `grid_of_500_photos_measured` (ignored: `cargo test --test browser
//! grid_of_500 -- --ignored --nocapture`) prints the figures docs/http.md
//! gives for a folder of 500 photos.
//!
//! Skipped, with a message, where Chromium or chromedriver is not
//! installed (`apt-get install chromium chromium-driver`).
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

use serde_json::{Value, json};

use crate::support;
use crate::webdriver;
use support::TestServer;
use webdriver::{Browser, SIZES};

/// An image `width` × `height` pixels, RGB, as a PNG: each pixel from
/// `seed`'s pseudo-random bytes (so it compresses as a photo does not:
/// stored as it is), written by hand (the tests have no image crate).
fn png(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let line = 1 + 3 * width as usize;
    let noise = support::pattern(line * height as usize, seed);
    let mut raw = noise;
    for row in raw.chunks_mut(line) {
        row[0] = 0; // filter: none
    }
    // zlib: deflate's stored blocks (at most 65,535 bytes each), Adler-32.
    let mut zlib = vec![0x78, 0x01];
    let blocks = raw.chunks(65_535);
    let last = blocks.len() - 1;
    for (at, block) in raw.chunks(65_535).enumerate() {
        let len = block.len() as u16;
        zlib.push(u8::from(at == last));
        zlib.extend(len.to_le_bytes());
        zlib.extend((!len).to_le_bytes());
        zlib.extend(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend(((b << 16) | a).to_be_bytes());
    let mut header = Vec::new();
    header.extend(width.to_be_bytes());
    header.extend(height.to_be_bytes());
    header.extend([8, 2, 0, 0, 0]); // 8 bits, RGB
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", &header), (b"IDAT", &zlib), (b"IEND", &Vec::new())] {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        let crc = crc32fast::hash(&out[start..]);
        out.extend(crc.to_be_bytes());
    }
    out
}

/// The grid's state: whether it shows, the toggle's `aria-pressed`, the
/// rows with a thumbnail (and whether each is lazy, loaded and drawn
/// inside its tile), and whether the page scrolls sideways.
const GRID: &str = "const t = document.getElementById('listing'); \
    const thumbs = Array.from(t.querySelectorAll('img.thumb'), (i) => [i.closest('tr').dataset.name, \
      i.loading, i.complete && i.naturalWidth > 0, i.getBoundingClientRect().width <= i.closest('tr').getBoundingClientRect().width]); \
    return [t.classList.contains('grid'), document.getElementById('view').getAttribute('aria-pressed'), \
      thumbs, document.documentElement.scrollWidth <= innerWidth]";

#[test]
fn the_grid_shows_thumbnails_of_images_only_and_is_remembered() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    });
    std::fs::create_dir_all(server.path("pics/sub")).unwrap();
    let long = "a-holiday-photo-with-a-name-far-too-long-for-any-phone-screen.png";
    for (at, name) in ["beach.png", "cliff.PNG", long].into_iter().enumerate() {
        std::fs::write(
            server.path(&format!("pics/{name}")),
            png(64, 48, at as u64 + 1),
        )
        .unwrap();
    }
    std::fs::write(server.path("pics/notes.txt"), b"not an image").unwrap();
    std::fs::write(server.path("pics/song.mp3"), b"not an image").unwrap();
    let before = server.files_on_disk();
    let url = format!("http://{}/pics/", server.http.unwrap());
    let thumbs = json!([
        [format!("pics/{long}"), "lazy", true, true],
        ["pics/beach.png", "lazy", true, true],
        ["pics/cliff.PNG", "lazy", true, true],
    ]);
    for size @ (width, _, _) in SIZES {
        browser.open_in(&url, size);
        browser.run("localStorage.clear()", json!([]));
        browser.open_in(&url, size);
        assert_eq!(
            browser.run(GRID, json!([])),
            json!([false, "false", [], true]),
            "{width}px: a list at first"
        );
        // Anything the policy refuses from here on is counted.
        browser.run(
            "window.refused = []; document.addEventListener('securitypolicyviolation', \
               (e) => refused.push(e.violatedDirective + ' ' + e.blockedURI))",
            json!([]),
        );
        browser.click(&browser.by_id("view"));
        let shown = browser.wait_for("the thumbnails to load", || {
            let grid = browser.run(GRID, json!([]));
            (grid[2].as_array()?.iter().all(|t| t[2] == json!(true)) && grid[2] != json!([]))
                .then_some(grid)
        });
        assert_eq!(shown, json!([true, "true", thumbs, true]), "{width}px");
        assert_eq!(browser.run("return window.refused", json!([])), json!([]));
        // The thumbnails are the files themselves: nothing else fetched.
        let fetched = browser.run(
            "return performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname).sort()",
            json!([]),
        );
        assert_eq!(
            fetched,
            json!([
                "/pics/a-holiday-photo-with-a-name-far-too-long-for-any-phone-screen.png",
                "/pics/beach.png",
                "/pics/cliff.PNG"
            ]),
            "{width}px"
        );
        browser.shot("grid", width);
        // A search's results hide the grid as they hide the list.
        browser.run("document.getElementById('filter').focus()", json!([]));
        browser.type_keys("beach\u{E007}");
        let hidden = browser.when_idle(
            "the search's results",
            "const t = document.getElementById('listing'); \
             return t.hidden ? getComputedStyle(t).display : null",
            json!([]),
        );
        assert_eq!(hidden, json!("none"), "{width}px");
        browser.type_keys("\u{E00C}");
        browser.wait_for("the grid back", || {
            let grid = browser.run(GRID, json!([]));
            (grid[0] == json!(true) && grid[2].as_array()?.len() == 3).then_some(())
        });
        // Remembered: a load shows the grid again, then the list.
        browser.open_in(&url, size);
        let again = browser.wait_for("the grid again", || {
            let grid = browser.run(GRID, json!([]));
            (grid[0] == json!(true) && grid[2].as_array()?.len() == 3).then_some(grid)
        });
        assert_eq!(again[3], json!(true), "{width}px: no sideways scroll");
        browser.click(&browser.by_id("view"));
        let hidden = "return Array.from(document.querySelectorAll('img.thumb'), (i) => i.offsetParent === null)";
        assert_eq!(browser.run(hidden, json!([])), json!([true, true, true]));
        browser.open_in(&url, size);
        assert_eq!(
            browser.run(GRID, json!([])),
            json!([false, "false", [], true])
        );
    }
    // The policy allows images from the server itself only, as before.
    let policy = browser.run(
        "const x = new XMLHttpRequest(); x.open('GET', location.href, false); x.send(); \
         return x.getResponseHeader('Content-Security-Policy')",
        json!([]),
    );
    let policy = policy.as_str().unwrap_or_default();
    assert!(policy.contains("; img-src 'self';"), "{policy}");
    assert!(policy.contains("default-src 'none';"), "{policy}");
    // No thumbnail files made.
    assert_eq!(server.files_on_disk(), before);
}

/// The renderer's and browser's memory: the resident bytes of every
/// process of this browser (their command lines name its profile).
fn browser_resident(browser: &Browser) -> u64 {
    let profile = browser.downloads();
    let profile = profile.parent().unwrap().to_string_lossy().into_owned();
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let dir = entry.path();
        let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        if !String::from_utf8_lossy(&cmdline).contains(&profile) {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
        total += kib * 1024;
    }
    total
}

/// The page's figures: bytes fetched (the page, and images), the JS heap
/// used, the DOM's nodes, the browser's resident memory.
fn figures(browser: &Browser) -> Value {
    let page = browser.run(
        "const nav = performance.getEntriesByType('navigation')[0]; \
         const res = performance.getEntriesByType('resource'); \
         return { page: nav.transferSize, images: res.length, \
           image_bytes: res.reduce((s, e) => s + e.transferSize, 0), \
           heap: performance.memory.usedJSHeapSize, nodes: document.getElementsByTagName('*').length }",
        json!([]),
    );
    let mut page = page;
    page["resident"] = json!(browser_resident(browser));
    page
}

#[test]
#[ignore = "a measurement for docs/http.md, not a check: prints figures"]
fn grid_of_500_photos_measured() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    });
    std::fs::create_dir_all(server.path("photos")).unwrap();
    // 500 photos of 256×256 pixels, each about 197 KB (noise does not
    // compress, as a JPEG's bytes do not).
    for n in 0..500u64 {
        let name = format!("photos/IMG_{:04}.png", 1000 + n);
        std::fs::write(server.path(&name), png(256, 256, n + 1)).unwrap();
    }
    let url = format!("http://{}/photos/", server.http.unwrap());
    for size @ (width, _, _) in SIZES {
        for view in ["list", "grid"] {
            browser.open_in(&url, size);
            browser.run(
                "localStorage.setItem('ferry-view', arguments[0])",
                json!([view]),
            );
            // Nothing from the cache: each view fetches what it shows.
            browser.cdp("Network.clearBrowserCache", json!({}));
            browser.open_in(&url, size);
            // Every fetch counted (Resource Timing keeps 250 by default).
            browser.run("performance.setResourceTimingBufferSize(5000)", json!([]));
            // Settled: the lazy images near the window have loaded.
            browser.wait_for("the images in view", || {
                let done = browser.run(
                    "return Array.from(document.querySelectorAll('img.thumb')).filter((i) => \
                       i.getBoundingClientRect().top < innerHeight).every((i) => i.complete)",
                    json!([]),
                );
                (done == json!(true)).then_some(())
            });
            let opened = figures(&browser);
            println!("{width}px {view}, opened: {opened}");
            if view == "grid" {
                // Scrolled through to the end, a window at a time: every
                // thumbnail is fetched once it is near.
                browser.run(
                    "return new Promise((done) => { const step = () => { \
                       if (scrollY + innerHeight >= document.documentElement.scrollHeight) return done(); \
                       scrollBy(0, innerHeight); requestAnimationFrame(() => setTimeout(step, 30)); }; step(); })",
                    json!([]),
                );
                browser.wait_for("every thumbnail", || {
                    let done = browser.run(
                        "return Array.from(document.querySelectorAll('img.thumb')).every((i) => i.complete)",
                        json!([]),
                    );
                    (done == json!(true)).then_some(())
                });
                println!("{width}px {view}, scrolled through: {}", figures(&browser));
            }
        }
    }
    let thumbnails = server
        .files_on_disk()
        .into_iter()
        .filter(|f| !f.starts_with("photos/IMG_"))
        .count();
    assert_eq!(thumbnails, 0, "no thumbnail files in the root");
}
