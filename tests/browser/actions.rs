//! The web interface in a real browser: headless Chromium driven through
//! chromedriver (WebDriver, all on 127.0.0.1). It loads a listing, uploads
//! a file through the page's file input, sees it listed with its progress
//! bars full, downloads it from the page and compares, renames it
//! through its prompt, uploads a folder with the folder picker, sorts,
//! deletes it through the page's button and its confirm dialog, and shows
//! a refused upload (403) to the user as a message, its bars empty. The
//! page uploads by tus: one it was sending when the server was killed it
//! finishes once the server is back, and one cut by a reload goes on
//! from where it was when the same file is picked again. And the stored-script
//! attack of issue 24: a file a mere uploader put in `incoming/`, opened
//! by an administrator, reads and deletes nothing.
//!
//! Skipped, with a message, where Chromium or chromedriver is not
//! installed (`apt-get install chromium chromium-driver`); `FERRY_CHROMIUM`
//! and `FERRY_CHROMEDRIVER` name other binaries. Every wait has a deadline.
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

use crate::support;
use crate::webdriver;

use serde_json::{Value, json};
use support::TestServer;
use support::process::Process;
use support::tokens::guarded;
use webdriver::Browser;

/// The names of the files the page lists, once no request is running.
fn listed(browser: &Browser) -> Vec<String> {
    browser.names("tr.file")
}

#[test]
fn upload_list_download_and_delete_through_the_page() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    });
    std::fs::create_dir_all(server.path("up")).unwrap();
    std::fs::write(server.path("up/already.txt"), b"here").unwrap();
    let base = format!("http://{}", server.http.unwrap());
    browser.open(&format!("{base}/up/"));
    assert_eq!(listed(&browser), ["up/already.txt"]);
    let summary = browser.run(
        "return document.getElementById('summary').textContent",
        json!([]),
    );
    assert_eq!(summary, json!("0 folders, 1 file, 4 B"));

    // A file with a hostile name, picked in the file input.
    let local = tempfile::tempdir().unwrap();
    let name = "a <b>\"&'.txt";
    let content: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let path = local.path().join(name);
    std::fs::write(&path, &content).unwrap();
    let input = browser.by_id("pick-files");
    browser.send_keys(&input, path.to_str().unwrap());
    let stored = format!("up/{name}");
    browser.wait_for("the upload to be listed", || {
        listed(&browser).contains(&stored).then_some(())
    });
    assert_eq!(std::fs::read(server.path(&stored)).unwrap(), content);
    let bars = browser.run(
        "const all = document.getElementById('overall'); \
         return [all.value === all.max, document.querySelectorAll('.upload progress').length, \
                 document.getElementById('message').textContent]",
        json!([]),
    );
    assert_eq!(bars, json!([true, 1, "Uploaded 1 file"]));
    // The name is text on the page, never markup.
    let shown = browser.run(
        "return Array.from(document.querySelectorAll('td.n a'), (a) => a.textContent)",
        json!([]),
    );
    assert!(shown.as_array().unwrap().contains(&json!(name)), "{shown}");
    assert_eq!(
        browser.run("return document.querySelectorAll('b').length", json!([])),
        json!(0)
    );

    // Downloaded through the page's own link.
    let script = "const link = Array.from(document.querySelectorAll('td.n a')).find((a) => a.textContent === arguments[0]); \
        return fetch(link.href).then((r) => r.text())";
    let downloaded = browser.run(script, json!([name]));
    assert_eq!(
        downloaded,
        Value::String(String::from_utf8(content).unwrap())
    );

    // Renamed with its button, through the prompt.
    let button = |label: &str, name: &str| browser.row_button(label, name);
    browser.click(&button("Rename", &stored));
    browser.dialog_text();
    browser.answer_dialog("z renamed.txt");
    browser.accept_dialog();
    let renamed = "up/z renamed.txt".to_owned();
    browser.wait_for("the renamed file to be listed", || {
        listed(&browser).contains(&renamed).then_some(())
    });
    assert!(!server.path(&stored).exists());
    let stored = renamed;

    // A whole folder through the folder picker; folders sort first, and a
    // click on "Name" turns the order round.
    let tree = local.path().join("tree");
    std::fs::create_dir_all(tree.join("inner")).unwrap();
    std::fs::write(tree.join("inner/deep.txt"), b"deep").unwrap();
    std::fs::write(tree.join("top.txt"), b"top").unwrap();
    let folder = browser.by_id("pick-folder");
    browser.send_keys(&folder, tree.to_str().unwrap());
    browser.wait_for("the folder upload", || {
        server.path("up/tree/top.txt").exists().then_some(())
    });
    listed(&browser);
    assert_eq!(
        std::fs::read(server.path("up/tree/inner/deep.txt")).unwrap(),
        b"deep"
    );
    let order = "return Array.from(document.querySelectorAll('#listing tbody tr'), (r) => r.dataset.name || '..')";
    assert_eq!(
        browser.run(order, json!([])),
        json!(["..", "up/tree/", "up/already.txt", "up/z renamed.txt"])
    );
    browser.run(
        "document.querySelector('th[data-key=name]').click()",
        json!([]),
    );
    assert_eq!(
        browser.run(order, json!([])),
        json!(["..", "up/tree/", "up/z renamed.txt", "up/already.txt"])
    );

    // A folder's .zip button (not a link, which crawlers would follow):
    // the archive's first member is the folder itself.
    assert!(
        browser.run(
            "return document.querySelectorAll('#listing a[href*=\"?\"]').length",
            json!([])
        ) == json!(0)
    );
    let first = browser.run(
        "document.querySelector('tr.dir td.n a').focus(); \
         const button = document.querySelector('tr.dir button.archive'); \
         return fetch(button.dataset.href).then((r) => r.arrayBuffer()) \
           .then((b) => { const u = new Uint8Array(b); \
             return new TextDecoder().decode(u.slice(30, 30 + (u[26] | (u[27] << 8)))); })",
        json!([]),
    );
    assert_eq!(first, json!("tree/"));

    // Deleted with its button, after the confirm dialog.
    let asked = browser.confirm(&button("Delete", &stored));
    assert_eq!(asked, format!("Delete {stored}?"));
    browser.wait_for("the deleted file to leave the listing", || {
        (!listed(&browser).contains(&stored)).then_some(())
    });
    assert!(!server.path(&stored).exists());
}

#[test]
fn a_full_disk_is_said_in_words_and_its_file_marked_failed() {
    use ferry::storage::gate::{Gate, Point};
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    // Every write of an upload's bytes fails as a full disk does.
    let gate = std::sync::Arc::new(Gate::failing(Point::Write, rustix::io::Errno::NOSPC));
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.gate = Some(gate.clone());
    });
    browser.open(&format!("http://{}/", server.http.unwrap()));
    assert!(listed(&browser).is_empty());
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join("ten.bin");
    std::fs::write(&file, [7u8; 10_000]).unwrap();
    let input = browser.by_id("pick-files");
    browser.send_keys(&input, file.to_str().unwrap());
    // In the server's words (what it staged, how to free it), not the
    // status's canned meaning.
    let said = browser.message();
    assert!(
        said.starts_with("ten.bin: disk full: 0 bytes staged for ten.bin;")
            && said.ends_with(" (507)"),
        "{said}"
    );
    let shown = browser.run(
        "const line = document.querySelector('.upload'); \
         return [line.classList.contains('failed'), line.querySelector('.state').textContent]",
        json!([]),
    );
    assert_eq!(shown, json!([true, "failed"]));
    assert!(!server.path("ten.bin").exists());
}

#[test]
fn a_refused_upload_is_shown_to_the_user() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    // A token that may write here (a reader is offered no upload at all,
    // tests/browser/page.rs), picking a name the server keeps for itself.
    let (server, tokens, _dir) = guarded(&[("writer", &["read:/", "write:/"])], &[]);
    // Signed in as a browser would be after its login prompt: the page's
    // 401 is answered with the credentials of the URL, which the browser
    // then sends with the page's own requests.
    let addr = server.http.unwrap();
    browser.open(&format!("http://writer:{}@{addr}/", tokens[0]));
    assert!(listed(&browser).is_empty());
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join(".ferry-x.txt");
    std::fs::write(&file, b"x").unwrap();
    let input = browser.by_id("pick-files");
    browser.send_keys(&input, file.to_str().unwrap());
    let message = browser.wait_for("the refusal to be shown", || {
        let text = browser.run(
            "const m = document.getElementById('message'); return m.hidden ? null : m.textContent",
            json!([]),
        );
        text.as_str().map(str::to_owned)
    });
    assert!(
        message.starts_with(".ferry-x.txt: not permitted (")
            && message.contains("names starting with .ferry- are reserved"),
        "{message}"
    );
    assert!(!server.path(".ferry-x.txt").exists());
    // Its bars show what was stored: nothing.
    let shown = browser.run(
        "return [Array.from(document.querySelectorAll('progress'), (p) => p.value), \
                 document.querySelector('.upload .state').textContent]",
        json!([]),
    );
    assert_eq!(shown, json!([[0, 0], "failed"]));
}

#[test]
fn a_refusal_is_shown_in_the_servers_own_words() {
    use support::http::{bearer, exchange};
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    // A token whose quota counts 2 files, both uploaded already.
    let (server, tokens, _dir) =
        support::tokens::guarded_with(&[("qb", &["read:/", "write:/"])], &[], |config| {
            support::tokens::set_quota(config, 0, "1000000,files=2");
        });
    let addr = server.http.unwrap();
    let auth = format!("Host: {addr}\r\n{}", bearer(&tokens[0]));
    for name in ["/one.txt", "/two.txt"] {
        assert_eq!(exchange(addr, "PUT", name, &auth, b"x").status, 201);
    }
    let said = exchange(addr, "PUT", "/three.txt", &auth, b"x");
    assert_eq!(said.status, 507);
    let reason = "quota: token qb holds its 2 files already";
    assert!(said.text().contains(reason), "{}", said.text());

    // The page's upload is refused with the same words, not a status's
    // canned meaning ("not enough space on the server").
    browser.open(&format!("http://qb:{}@{addr}/", tokens[0]));
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join("three.txt");
    std::fs::write(&file, b"x").unwrap();
    browser.send_keys(&browser.by_id("pick-files"), file.to_str().unwrap());
    assert_eq!(browser.message(), format!("three.txt: {reason} (507)"));
    assert!(!server.path("three.txt").exists());

    // A preview refused (its file gone behind the page's back) says why.
    std::fs::remove_file(server.path("two.txt")).unwrap();
    let link = browser.element(
        "return Array.from(document.querySelectorAll('td.n a')).find((a) => a.textContent === 'two.txt')",
        json!([]),
    );
    browser.click(&link);
    let shown = browser.wait_for("the preview's refusal", || {
        let text = browser.run(
            "const d = document.getElementById('preview'); \
             return d.dataset.state === 'failed' ? d.querySelector('pre').textContent : null",
            json!([]),
        );
        text.as_str().map(str::to_owned)
    });
    assert_eq!(shown, "Not shown: no such file (404)");

    // An answer without a reason in text (a proxy's HTML page, say) is
    // told by its status alone; a reason is shown as text, whatever it
    // holds, never parsed as markup.
    let shown = browser.run(
        "const page = '<b>busy</b>'; \
         const header = (name) => name === 'Content-Type' ? 'text/html' : null; \
         const text = () => 'text/plain; charset=utf-8'; \
         window.ferry.say(window.ferry.explain('Refresh', \
           {status: 409, text: '409 Conflict: <img src=x> in the way\\n', header: text})); \
         const m = document.getElementById('message'); \
         return [window.ferry.explain('Refresh', {status: 503, text: page, header}), \
                 window.ferry.explain('Refresh', {status: 507, text: '', header: text}), \
                 m.textContent, m.children.length]",
        json!([]),
    );
    assert_eq!(
        shown,
        json!([
            "Refresh: the server is busy, try again later (503)",
            "Refresh: not enough space on the server (507)",
            "Refresh: <img src=x> in the way (409)",
            0
        ])
    );
}

/// What a hostile uploader's page would do with its viewer's rights: copy
/// `secret/top.txt` into `incoming/` and delete `secret/victim.txt`, with
/// synchronous requests, so all is done before the page's load event.
const ATTACK: &str = "function attack(from, to, victim) { \
    const steal = new XMLHttpRequest(); steal.open('GET', from, false); steal.send(); \
    const put = new XMLHttpRequest(); put.open('PUT', to, false); put.send(steal.responseText); \
    const del = new XMLHttpRequest(); del.open('DELETE', victim, false); del.send(); \
    return [steal.status, put.status, del.status]; }";

#[test]
fn a_file_an_uploader_planted_runs_nothing_with_the_viewers_rights() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let (server, tokens, _dir) = guarded(
        &[
            ("admin", &["read:/", "write:/", "delete:/"]),
            ("uploader", &["write:/incoming"]),
        ],
        &[],
    );
    let addr = server.http.unwrap();
    std::fs::create_dir_all(server.path("secret")).unwrap();
    std::fs::create_dir_all(server.path("incoming")).unwrap();
    for name in ["top.txt", "victim.txt", "canary.txt", "canary-victim.txt"] {
        std::fs::write(server.path(&format!("secret/{name}")), b"classified").unwrap();
    }
    // The uploader plants its pages over HTTP, as it may.
    let script = format!(
        "{ATTACK} attack('/secret/top.txt', '/incoming/stolen.txt', '/secret/victim.txt');"
    );
    let pages = [
        (
            "report.html",
            format!("<!DOCTYPE html><html><body><script>{script}</script></body></html>"),
        ),
        (
            "chart.svg",
            format!("<svg xmlns=\"http://www.w3.org/2000/svg\"><script>{script}</script></svg>"),
        ),
        (
            "notes.txt",
            format!("<html><script>{script}</script></html>"),
        ),
        (
            "feed.xml",
            format!("<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">{script}</x:script>"),
        ),
    ];
    let uploader = support::http::bearer(&tokens[1]);
    for (name, page) in &pages {
        let answer = support::http::exchange(
            addr,
            "PUT",
            &format!("/incoming/{name}"),
            &format!("Host: localhost\r\n{uploader}"),
            page.as_bytes(),
        );
        assert_eq!(answer.status, 201, "{name}: {}", answer.head);
    }
    // The administrator signs in to the interface...
    browser.open(&format!("http://admin:{}@{addr}/incoming/", tokens[0]));
    assert_eq!(listed(&browser).len(), pages.len());
    // ... whose rights would carry the attack, run as the interface: the
    // payload is potent, and the browser sends the admin's credentials.
    let ran = browser.run(
        &format!("{ATTACK} return attack('/secret/canary.txt', '/incoming/canary-copy.txt', '/secret/canary-victim.txt');"),
        json!([]),
    );
    assert_eq!(ran, json!([200, 201, 204]));
    assert!(server.path("incoming/canary-copy.txt").exists());
    assert!(!server.path("secret/canary-victim.txt").exists());
    // Opened from the page's own links (a navigation, as a click is), the
    // planted files run nothing.
    for (name, _) in &pages {
        browser.open(&format!("http://{addr}/incoming/{name}"));
    }
    // Back to the interface: every navigation above has ended.
    browser.open(&format!("http://{addr}/incoming/"));
    listed(&browser);
    assert!(
        !server.path("incoming/stolen.txt").exists(),
        "secret copied"
    );
    assert_eq!(
        std::fs::read(server.path("secret/victim.txt")).unwrap(),
        b"classified",
        "victim deleted"
    );
}

/// The Location of the one upload the page remembers, if it remembers one.
const REMEMBERED: &str = "const keys = Object.keys(localStorage).filter((k) => k.startsWith('ferry-upload ')); \
    return keys.length === 1 ? JSON.parse(localStorage.getItem(keys[0])).location : keys.length;";

/// Picks `file` in the page's file input.
fn pick(browser: &Browser, file: &std::path::Path) {
    let input = browser.by_id("pick-files");
    browser.send_keys(&input, file.to_str().unwrap());
}

/// The file that stages the upload the page remembers, under `root`, once
/// the page has created it.
fn staging_file(browser: &Browser, root: &std::path::Path) -> std::path::PathBuf {
    let location = browser.wait_for("the page to remember an upload", || {
        browser
            .run(REMEMBERED, json!([]))
            .as_str()
            .map(str::to_owned)
    });
    let id = location.rsplit('/').next().unwrap();
    root.join(".ferry-uploads").join(format!("{id}.data"))
}

/// How many bytes `staged` holds, once that is more than `past` and less
/// than `total`: the upload is under way, and that far.
fn under_way(browser: &Browser, staged: &std::path::Path, past: u64, total: u64) -> u64 {
    browser.wait_for("the upload to be under way", || {
        let held = std::fs::metadata(staged).ok()?.len();
        (held > past && held < total).then_some(held)
    })
}

/// The page's chunk: one `PATCH` at most.
const CHUNK: u64 = 8 << 20;

#[test]
fn an_upload_cut_by_a_server_restart_is_finished_by_the_page() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let serve = |http: &str| Process::start(root.path(), &["--http", http, "--workers", "1"]);
    let mut server = serve("127.0.0.1:0");
    let http = server.http_addr();
    browser.open(&format!("http://{http}/"));
    listed(&browser);
    // 50 MiB at 16 MiB/s: PATCH after PATCH for three seconds, time
    // enough to kill the server between the first byte and the last.
    browser.throttle_uploads(Some(16 << 20));
    let local = tempfile::tempdir().unwrap();
    let content = support::pattern(50 << 20, 27);
    let file = local.path().join("big.bin");
    std::fs::write(&file, &content).unwrap();
    pick(&browser, &file);
    let staged = staging_file(&browser, root.path());
    let id = staged.file_stem().unwrap().to_str().unwrap().to_owned();
    // Killed mid-way, once the bytes of two PATCHes are in.
    let held = under_way(&browser, &staged, 2 * CHUNK, content.len() as u64);
    server.signal(rustix::process::Signal::KILL);
    server.wait();
    // No server: the page says it tries again, and does.
    browser.wait_for("the page to say it retries", || {
        let state = browser.run(
            "return document.querySelector('.upload .state').textContent",
            json!([]),
        );
        (state == json!("retrying\u{2026}")).then_some(())
    });
    let again = serve(&http.to_string());
    assert_eq!(again.http_addr(), http);
    browser.throttle_uploads(None);
    assert_eq!(browser.message(), "Uploaded 1 file");
    assert_eq!(std::fs::read(root.path().join("big.bin")).unwrap(), content);
    // The file keeps the time the picked file has (the page's `mtime`).
    let mtime = |path: &std::path::Path| {
        let modified = std::fs::metadata(path).unwrap().modified().unwrap();
        modified
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    assert_eq!(mtime(&root.path().join("big.bin")), mtime(&file));
    let bars = "return Array.from(document.querySelectorAll('progress'), (p) => p.value === p.max)";
    assert_eq!(browser.run(bars, json!([])), json!([true, true]));
    assert_eq!(browser.run(REMEMBERED, json!([])), json!(0), "forgotten");
    // It went on from where it was: the restarted server was asked how far
    // the upload had got, first, and never asked to create one.
    again.wait_for_log(" http list ");
    let tus = |line: &&String| !line.contains(" http list ") && !line.contains(" http get ");
    let asked: Vec<String> = again
        .log_lines(" http ")
        .iter()
        .filter(tus)
        .cloned()
        .collect();
    assert!(
        asked[0].contains(&format!(" http progress \"{id}\" ok ")),
        "{asked:?}"
    );
    assert!(
        asked.iter().all(|line| !line.contains(" http upload ")),
        "{asked:?}"
    );
    // What the killed server held (the bytes of two PATCHes at least) was
    // not sent again: fewer PATCHes than the whole file takes.
    let patches = asked.iter().filter(|l| l.contains(" http append ")).count() as u64;
    let left = content.len() as u64 - 2 * CHUNK;
    assert!(
        (1..=left.div_ceil(CHUNK)).contains(&patches),
        "{held} held: {asked:?}"
    );
}

#[test]
fn after_a_reload_the_page_goes_on_with_the_upload_it_remembered() {
    let Some(browser) = Browser::start_or_skip() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let server = Process::start(root.path(), &["--http", "127.0.0.1:0", "--workers", "1"]);
    let page = format!("http://{}/", server.http_addr());
    browser.open(&page);
    listed(&browser);
    browser.throttle_uploads(Some(16 << 20));
    let local = tempfile::tempdir().unwrap();
    let content = support::pattern(20 << 20, 28);
    let file = local.path().join("twice.bin");
    std::fs::write(&file, &content).unwrap();
    pick(&browser, &file);
    let staged = staging_file(&browser, root.path());
    let id = staged.file_stem().unwrap().to_str().unwrap().to_owned();
    under_way(&browser, &staged, CHUNK, content.len() as u64);
    // Reloaded mid-way: the upload in flight is cut, its Location kept.
    browser.open(&page);
    assert!(listed(&browser).is_empty());
    let kept = browser.run(REMEMBERED, json!([]));
    assert_eq!(kept, json!(format!("/.ferry-uploads/{id}")));
    browser.throttle_uploads(None);
    // The same file picked again goes on with the upload remembered.
    pick(&browser, &file);
    assert_eq!(browser.message(), "Uploaded 1 file");
    assert_eq!(
        std::fs::read(root.path().join("twice.bin")).unwrap(),
        content
    );
    assert_eq!(browser.run(REMEMBERED, json!([])), json!(0), "forgotten");
    // After the reload, the page's first request of the upload was a HEAD
    // on the Location it remembered, and it created none. (The access log
    // comes in batches: wait for its last line, the listing the page
    // asked for after the upload, its third.) A PATCH cut by the reload
    // may be logged after it, and is left out.
    let lines = browser.wait_for("the access log", || {
        let lines = server.log_lines(" http ");
        let lists = lines.iter().filter(|l| l.contains(" http list ")).count();
        (lists == 3).then_some(lines)
    });
    let reloaded = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(" http list "))
        .nth(1)
        .unwrap()
        .0;
    let asked = |l: &&String| l.contains(" http upload ") || l.contains(" http progress ");
    let before: Vec<&String> = lines[..reloaded].iter().filter(asked).collect();
    let after: Vec<&String> = lines[reloaded..].iter().filter(asked).collect();
    assert!(
        before.len() == 1 && before[0].contains(" http upload \"twice.bin\" ok "),
        "{lines:#?}"
    );
    let head = format!(" http progress \"{id}\" ok ");
    assert!(after[0].contains(&head), "{lines:#?}");
    assert!(
        after.iter().all(|l| l.contains(" http progress ")),
        "{lines:#?}"
    );
}
