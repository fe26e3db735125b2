//! The web interface's previews and its accessibility, in headless
//! Chromium (chromedriver, all on 127.0.0.1): a click on a file's name
//! opens it in the page (an image loaded, text shown as text and cut at
//! 256 KiB, a PDF framed, a WAV and a WebM playable), next and previous
//! go through the folder with the arrow keys, Escape closes; an uploaded
//! HTML page and an SVG whose scripts would set a marker set none when
//! previewed. Screenshots of the page and of a preview, at 1280×900 and
//! 390×844, go to `target/web-*.png` for a person to look at. Then the
//! page's controls: each has a name, the focus order follows the layout,
//! and text stands out from its background (contrast ≥ 4.5:1) in light
//! and dark mode.
//!
//! The files are made here, tiny and valid: a PNG, a WAV and a PDF by
//! hand; the WebM by the browser itself (a canvas recorded with
//! MediaRecorder), as no encoder is at hand in the test. Skipped, with a
//! message, where Chromium or chromedriver is not installed.
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

use crate::support;
use crate::webdriver;

use std::path::PathBuf;

use serde_json::{Value, json};
use support::TestServer;
use webdriver::Browser;

/// A `width` × `height` PNG, a gradient of colours: signature,
/// IHDR, one IDAT of stored (uncompressed) deflate blocks, IEND.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // no filter
        for x in 0..width {
            raw.extend_from_slice(&[(x * 255 / width) as u8, (y * 255 / height) as u8, 180]);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (at, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(at + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", &ihdr), (b"IDAT", &zlib), (b"IEND", &Vec::new())] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    out
}

/// A quarter of a second of a 440 Hz tone: 8 kHz, 8-bit mono PCM.
fn wav() -> Vec<u8> {
    let samples: Vec<u8> = (0..2000)
        .map(|i| (128.0 + 60.0 * (i as f64 * 440.0 * std::f64::consts::TAU / 8000.0).sin()) as u8)
        .collect();
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(36 + samples.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&8000u32.to_le_bytes()); // bytes per second
    out.extend_from_slice(&1u16.to_le_bytes()); // block align
    out.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    out.extend_from_slice(&samples);
    out
}

/// A one-page PDF that says `lines` in Helvetica, its cross-reference
/// table exact.
fn pdf(lines: &[&str]) -> Vec<u8> {
    let said: Vec<String> = lines.iter().map(|l| format!("({l}) '")).collect();
    let text = format!("BT /F1 18 Tf 40 150 Td 22 TL {} ET", said.join(" "));
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (at, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out += &format!("{} 0 obj\n{object}\nendobj\n", at + 1);
    }
    let xref = out.len();
    out += &format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        out += &format!("{offset:010} 00000 n \n");
    }
    out += &format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    );
    out.into_bytes()
}

/// Half a second of a canvas changing colour, recorded by the browser as
/// VP8 WebM (base64 back to the test).
const RECORD_WEBM: &str = "const canvas = document.createElement('canvas'); canvas.width = 64; canvas.height = 48; \
    const g = canvas.getContext('2d'); let frame = 0; \
    const draw = () => { g.fillStyle = ['#c33', '#3c3', '#33c'][frame++ % 3]; g.fillRect(0, 0, 64, 48); }; \
    draw(); const timer = setInterval(draw, 40); \
    const recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: 'video/webm;codecs=vp8' }); \
    const chunks = []; recorder.ondataavailable = (e) => chunks.push(e.data); \
    return new Promise((done) => { \
      recorder.onstop = () => { clearInterval(timer); new Blob(chunks).arrayBuffer().then((b) => { \
        let s = ''; for (const x of new Uint8Array(b)) s += String.fromCharCode(x); done(btoa(s)); }); }; \
      recorder.start(100); setTimeout(() => recorder.stop(), 500); });";

/// What a planted page would do with the viewer's rights, were it run as
/// the interface: mark the page and write a file (`WHO` is replaced).
const MARKER: &str = "try { top.document.body.dataset.pwned = 'WHO'; } catch (e) {} \
    const put = new XMLHttpRequest(); put.open('PUT', '/show/pwned-WHO.txt', false); put.send('ran');";

/// The folder shown: one file of each kind, a long text, an HTML page and
/// an SVG with scripts, and a file nothing previews. Sorted by name as
/// the page shows them.
fn plant(server: &TestServer, webm: &[u8]) -> Vec<&'static str> {
    let dir = server.path("show");
    std::fs::create_dir_all(&dir).unwrap();
    let long: String = (0..40_000).map(|i| format!("line {i}\n")).collect();
    let html = format!(
        "<!DOCTYPE html><html><body><b>bold</b><script>{}</script></body></html>",
        MARKER.replace("WHO", "html")
    );
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"40\" height=\"30\"><rect width=\"40\" height=\"30\" fill=\"teal\"/><script>{}</script></svg>",
        MARKER.replace("WHO", "svg")
    );
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("a.png", png(480, 300)),
        ("b.txt", b"plain <b>text</b> & more\nsecond line\n".to_vec()),
        ("c.pdf", pdf(&["Hello from ferry", "a PDF preview"])),
        ("d.wav", wav()),
        ("e.webm", webm.to_vec()),
        ("f.html", html.into_bytes()),
        ("g.svg", svg.into_bytes()),
        ("h long.log", long.into_bytes()),
        ("z.bin", vec![0; 10]),
    ];
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    files.iter().map(|(name, _)| *name).collect()
}

/// A browser, and a server whose `show/` is [`plant`]'s (no video);
/// `None` where there is no browser (the test is skipped, as it says).
fn planted() -> Option<(Browser, TestServer)> {
    let browser = Browser::start_or_skip()?;
    let server = TestServer::start_http();
    plant(&server, b"");
    Some((browser, server))
}

/// What the open preview shows, once it is no longer loading: its state,
/// the title, the counter and what its view holds.
const SHOWN: &str = "const d = document.getElementById('preview'); \
    if (!d.open || d.dataset.state === 'loading') return null; \
    const v = d.querySelector('.view').firstElementChild; \
    const media = v && (v.tagName === 'AUDIO' || v.tagName === 'VIDEO'); \
    return { state: d.dataset.state, title: d.querySelector('h2').textContent, \
      count: d.querySelector('.count').textContent, tag: v ? v.tagName : null, \
      src: v && v.getAttribute('src'), \
      width: v && v.tagName === 'IMG' ? v.naturalWidth : null, \
      text: v && v.tagName === 'PRE' ? v.textContent : null, \
      cut: v ? v.querySelectorAll('.cut').length : 0, \
      error: media ? (v.error && v.error.code) : null, \
      duration: media ? v.duration : null, \
      markup: d.querySelectorAll('.view b, .view script').length };";

fn shown(browser: &Browser) -> Value {
    browser.wait_for("the preview", || {
        Some(browser.run(SHOWN, json!([]))).filter(|v| !v.is_null())
    })
}

/// Sends `key` (a WebDriver key code) to the preview's close button,
/// which has the focus in the dialog.
fn press(browser: &Browser, key: &str) {
    let close = browser.element(
        "return document.querySelector('#preview button[aria-label=\"Close preview\"]')",
        json!([]),
    );
    browser.send_keys(&close, key);
}

const RIGHT: &str = "\u{E014}";
const LEFT: &str = "\u{E012}";
const ESCAPE: &str = "\u{E00C}";

/// Where screenshots go: `target/` (the test's target directory).
fn shots() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map(PathBuf::from).unwrap_or(tmp)
}

fn screenshot(browser: &Browser, name: &str) {
    let path = shots().join(format!("web-{name}.png"));
    std::fs::write(&path, browser.screenshot()).unwrap();
    eprintln!("screenshot: {}", path.display());
}

/// The page's folder, once its script has run and no request is running.
fn idle(browser: &Browser) {
    browser.wait_for("the page to be idle", || {
        (browser.run("return document.body.dataset.state", json!([])) == json!("idle"))
            .then_some(())
    });
}

fn click_name(browser: &Browser, name: &str) {
    let link = browser.element(
        "return Array.from(document.querySelectorAll('td.n a')).find((a) => a.textContent === arguments[0])",
        json!([name]),
    );
    browser.click(&link);
}

#[test]
fn a_preview_of_each_kind_and_nothing_planted_runs() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_http();
    let base = format!("http://{}", server.http.unwrap());
    browser.open(&format!("{base}/"));
    idle(&browser);
    use base64::Engine as _;
    let recorded = browser.run(RECORD_WEBM, json!([]));
    let webm = base64::engine::general_purpose::STANDARD
        .decode(recorded.as_str().unwrap_or_else(|| panic!("{recorded}")))
        .unwrap();
    assert_eq!(&webm[..4], b"\x1a\x45\xdf\xa3", "an EBML header");
    let names = plant(&server, &webm);
    browser.viewport(1280, 900, false);
    browser.open(&format!("{base}/show/"));
    idle(&browser);
    screenshot(&browser, "listing-1280");

    // The image: loaded, at its own size.
    click_name(&browser, "a.png");
    let image = shown(&browser);
    assert_eq!(image["tag"], "IMG");
    assert_eq!(image["src"], "/show/a.png");
    assert_eq!(
        (&image["state"], &image["width"]),
        (&json!("ready"), &json!(480))
    );
    assert_eq!(image["count"], "1 / 8", "z.bin is not previewed");
    screenshot(&browser, "preview-1280");

    // Next: the text, as text.
    press(&browser, RIGHT);
    let text = shown(&browser);
    assert_eq!(text["title"], "b.txt");
    assert_eq!(text["text"], "plain <b>text</b> & more\nsecond line\n");
    assert_eq!(text["markup"], 0);

    // The PDF, framed by its URL.
    press(&browser, RIGHT);
    let framed = shown(&browser);
    assert_eq!(
        (&framed["tag"], &framed["src"]),
        (&json!("IFRAME"), &json!("/show/c.pdf"))
    );

    // The WAV and the WebM: their players found them playable.
    press(&browser, RIGHT);
    let audio = shown(&browser);
    assert_eq!(
        (&audio["tag"], &audio["src"], &audio["state"]),
        (&json!("AUDIO"), &json!("/show/d.wav"), &json!("ready"))
    );
    assert!(audio["error"].is_null(), "{audio}");
    assert!(
        (audio["duration"].as_f64().unwrap() - 0.25).abs() < 0.01,
        "{audio}"
    );
    press(&browser, RIGHT);
    let video = shown(&browser);
    assert_eq!(
        (&video["tag"], &video["src"], &video["state"]),
        (&json!("VIDEO"), &json!("/show/e.webm"), &json!("ready"))
    );
    assert!(video["error"].is_null(), "{video}");

    // The HTML page: its source, as text; the SVG: an image. Neither's
    // script ran.
    press(&browser, RIGHT);
    let page = shown(&browser);
    assert_eq!(page["tag"], "PRE");
    assert!(
        page["text"]
            .as_str()
            .unwrap()
            .contains("<script>try { top.document"),
        "{page}"
    );
    assert_eq!(page["markup"], 0);
    press(&browser, RIGHT);
    let svg = shown(&browser);
    assert_eq!(
        (&svg["tag"], &svg["state"], &svg["width"]),
        (&json!("IMG"), &json!("ready"), &json!(40))
    );

    // The long log: its first 256 KiB, and a word that it goes on.
    press(&browser, RIGHT);
    let long = shown(&browser);
    assert_eq!(long["title"], "h long.log");
    assert_eq!(long["cut"], 1);
    let kept = long["text"].as_str().unwrap();
    assert!(kept.starts_with("line 0\nline 1\n"));
    assert!(
        kept.ends_with("; Download for all of it"),
        "{}",
        &kept[kept.len() - 80..]
    );
    // Round to the first, and back.
    press(&browser, RIGHT);
    assert_eq!(shown(&browser)["title"], "a.png");
    press(&browser, LEFT);
    assert_eq!(shown(&browser)["title"], "h long.log");

    // Escape closes it; a file nothing previews keeps its plain link.
    press(&browser, ESCAPE);
    let open = "return document.getElementById('preview').open";
    browser.wait_for("the preview to close", || {
        (browser.run(open, json!([])) == json!(false)).then_some(())
    });
    click_name(&browser, "z.bin");
    assert_eq!(browser.run(open, json!([])), json!(false));
    let download = browser.run(
        "return Array.from(document.querySelectorAll('td.n a')).find((a) => a.textContent === 'z.bin').getAttribute('href')",
        json!([]),
    );
    assert_eq!(download, json!("/show/z.bin"));

    // The phone's view, of the folder and of a preview.
    browser.viewport(390, 844, true);
    browser.open(&format!("{base}/show/"));
    idle(&browser);
    screenshot(&browser, "listing-390");
    click_name(&browser, "a.png");
    shown(&browser);
    screenshot(&browser, "preview-390");

    // Whatever was previewed, no planted script ran.
    assert!(
        browser
            .run("return document.body.dataset.pwned || null", json!([]))
            .is_null()
    );
    for who in ["html", "svg"] {
        assert!(
            !server.path(&format!("show/pwned-{who}.txt")).exists(),
            "{who} ran"
        );
    }
    assert_eq!(names.len(), 9);
}

/// The controls a keyboard or a screen reader reaches, in the order the
/// Tab key does (no positive `tabindex`, checked: the document's order),
/// each with its name as assistive technology finds it (its label, its
/// text, its title) and where it is drawn.
const CONTROLS: &str = "const visible = (e) => { const r = e.getBoundingClientRect(); \
      return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; }; \
    const nameOf = (e) => { \
      const by = e.getAttribute('aria-labelledby'); \
      const label = e.labels && e.labels.length ? e.labels[0].textContent : ''; \
      return (e.getAttribute('aria-label') || (by && document.getElementById(by) ? document.getElementById(by).textContent : '') \
        || e.textContent || e.title || e.alt || label || '').trim(); }; \
    const all = Array.from(document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]')); \
    return all.filter((e) => visible(e) && !e.disabled).map((e) => { const r = e.getBoundingClientRect(); \
      return { what: e.outerHTML.slice(0, 100), name: nameOf(e), tabindex: e.tabIndex, \
        top: r.top, bottom: r.bottom, left: r.left }; });";

/// Every element that shows text of its own, with the contrast of that
/// text against what is drawn behind it (WCAG 2's ratio, the colours'
/// alpha blended over the layers below, down to the canvas).
const CONTRASTS: &str = "const rgba = (c) => { \
      const n = (c.match(/[\\d.]+/g) || []).map(Number); \
      const scale = c.startsWith('color(') ? 255 : 1; \
      return [n[0] * scale, n[1] * scale, n[2] * scale, n.length > 3 ? n[3] : 1]; }; \
    const over = (top, below) => top.slice(0, 3).map((v, i) => v * top[3] + below[i] * (1 - top[3])).concat([1]); \
    const probe = document.createElement('div'); probe.style.backgroundColor = 'Canvas'; \
    document.body.appendChild(probe); const canvas = rgba(getComputedStyle(probe).backgroundColor); probe.remove(); \
    const behind = (e) => { const layers = []; \
      for (let at = e; at && at.nodeType === 1; at = at.parentElement) layers.push(rgba(getComputedStyle(at).backgroundColor)); \
      return layers.reverse().reduce((below, layer) => over(layer, below), canvas); }; \
    const lum = (c) => { const [r, g, b] = c.slice(0, 3).map((v) => { v /= 255; \
      return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); \
      return 0.2126 * r + 0.7152 * g + 0.0722 * b; }; \
    const out = []; \
    for (const e of document.body.querySelectorAll('*')) { \
      const own = Array.from(e.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim()); \
      const r = e.getBoundingClientRect(); \
      if (!own || r.width === 0 || r.height === 0 || e.closest('[hidden]') || e.disabled) continue; \
      const bg = behind(e); const fg = over(rgba(getComputedStyle(e).color), bg); \
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a); \
      out.push({ what: e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''), \
        text: e.textContent.trim().slice(0, 30), ratio: (hi + 0.05) / (lo + 0.05) }); } \
    return out;";

#[test]
fn every_control_is_named_reached_in_order_and_legible() {
    let Some((browser, server)) = planted() else {
        return;
    };
    std::fs::create_dir_all(server.path("show/inner")).unwrap();
    let page = format!("http://{}/show/", server.http.unwrap());
    for (width, height, mobile) in [(1280, 900, false), (390, 844, true)] {
        browser.viewport(width, height, mobile);
        browser.open(&page);
        idle(&browser);
        // Each row's buttons too: made when a row is first focused.
        browser.run(
            "for (const a of document.querySelectorAll('#listing tbody td.n a')) a.focus(); \
             document.activeElement.blur();",
            json!([]),
        );
        let controls = browser.run(CONTROLS, json!([]));
        let controls = controls.as_array().unwrap();
        assert!(controls.len() > 20, "{controls:?}");
        for pair in controls.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let f = |v: &Value, k: &str| v[k].as_f64().unwrap();
            // On a line with the last (their heights overlap): to its
            // right. Else: below it.
            let same_line = f(b, "top") < f(a, "bottom") && f(b, "bottom") > f(a, "top");
            let after = match same_line {
                true => f(b, "left") >= f(a, "left"),
                false => f(b, "top") >= f(a, "top"),
            };
            assert!(after, "{width}px: focus goes from {a} back to {b}");
        }
        for control in controls {
            assert!(
                control["name"].as_str().is_some_and(|n| !n.is_empty()),
                "{width}px: no name: {control}"
            );
            assert!(control["tabindex"].as_i64().unwrap() <= 0, "{control}");
        }
    }
    browser.viewport(1280, 900, false);
    for scheme in ["light", "dark"] {
        browser.color_scheme(scheme);
        browser.open(&page);
        idle(&browser);
        // The message box too, in both of its looks.
        for ok in [false, true] {
            browser.run(
                "const m = document.getElementById('message'); m.hidden = false; \
                 m.className = arguments[0] ? 'ok' : ''; m.textContent = 'a message';",
                json!([ok]),
            );
            let seen = browser.run(CONTRASTS, json!([]));
            let seen = seen.as_array().unwrap();
            assert!(seen.len() > 20, "{seen:?}");
            let poor: Vec<&Value> = seen
                .iter()
                .filter(|e| e["ratio"].as_f64().unwrap() < 4.5)
                .collect();
            assert!(
                poor.is_empty(),
                "{scheme} mode, contrast under 4.5:1: {poor:#?}"
            );
        }
        if scheme == "dark" {
            screenshot(&browser, "listing-1280-dark");
        }
    }
}

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

/// What has the focus: its id, else its name as a person hears it.
const FOCUSED: &str = "const e = document.activeElement; \
    return e.id || e.getAttribute('aria-label') || e.textContent.trim();";

#[test]
fn the_keyboard_reaches_uploads_sorting_and_a_rows_actions() {
    let Some((browser, server)) = planted() else {
        return;
    };
    browser.viewport(1280, 900, false);
    browser.open(&format!("http://{}/show/", server.http.unwrap()));
    idle(&browser);
    // Tab from the top of the page, stop by stop, to the first row's
    // last button.
    let mut stops: Vec<String> = Vec::new();
    while stops.last().is_none_or(|s| s != "Delete") {
        assert!(stops.len() < 40, "no Delete reached: {stops:?}");
        browser.type_keys(TAB);
        stops.push(browser.run(FOCUSED, json!([])).as_str().unwrap().to_owned());
    }
    let at = |stop: &str| {
        stops
            .iter()
            .position(|s| s == stop)
            .unwrap_or_else(|| panic!("{stop} not reached: {stops:?}"))
    };
    let order = [
        "new-folder",
        "upload-files",
        "upload-folder",
        "filter",
        "Select all",
        "Name",
        "Size",
        "Modified",
        "Select show/a.png",
        "a.png",
        "Download",
        "Rename",
        "Delete",
    ];
    for pair in order.windows(2) {
        assert!(
            at(pair[0]) < at(pair[1]),
            "{} before {}: {stops:?}",
            pair[0],
            pair[1]
        );
    }
    // The hidden file inputs are never a stop of their own.
    assert!(!stops.iter().any(|s| s.starts_with("pick-")), "{stops:?}");
    // Enter on a heading's button sorts by it; again, the other way; the
    // heading says how (aria-sort).
    let size = browser.element(
        "return document.querySelector('th[data-key=size] button')",
        json!([]),
    );
    let sorted = "return [document.querySelector('th[data-key=size]').getAttribute('aria-sort'), \
        document.querySelector('th[data-key=name]').getAttribute('aria-sort')]";
    assert_eq!(browser.run(sorted, json!([])), json!([null, "ascending"]));
    browser.send_keys(&size, ENTER);
    assert_eq!(browser.run(sorted, json!([])), json!(["ascending", null]));
    browser.send_keys(&size, ENTER);
    assert_eq!(browser.run(sorted, json!([])), json!(["descending", null]));
    // Largest first (the sizes as the server wrote them, read back).
    let sizes = browser.run(
        "return Array.from(document.querySelectorAll('#listing tr.file'), (r) => r.size)",
        json!([]),
    );
    let sizes: Vec<u64> = serde_json::from_value(sizes).unwrap();
    assert!(
        sizes.len() == 9 && sizes.windows(2).all(|w| w[0] >= w[1]),
        "{sizes:?}"
    );
    let largest = std::fs::read_dir(server.path("show"))
        .unwrap()
        .map(|entry| entry.unwrap().metadata().unwrap().len())
        .max();
    assert_eq!(Some(sizes[0]), largest);
}
