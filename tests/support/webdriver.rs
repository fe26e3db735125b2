//! A small WebDriver client for the browser test: starts `chromedriver` on
//! a free 127.0.0.1 port and drives headless Chromium through it with
//! plain JSON over HTTP. Every wait has a deadline; [`Browser::find`]
//! says when Chromium or chromedriver is not installed, so the test can
//! skip.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C name of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Longest wait for any one thing (chromedriver up, a page state).
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A chromedriver process and one browser session in it.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

/// The first of `names` on `PATH` (or in `env`, if set).
fn installed(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

impl Browser {
    /// Chromium and chromedriver as installed here, or why not.
    pub fn find() -> Result<(PathBuf, PathBuf), String> {
        let chromium = installed("FERRY_CHROMIUM", &["chromium", "chromium-browser"])
            .ok_or("no chromium on PATH (apt-get install chromium chromium-driver)")?;
        let driver = installed("FERRY_CHROMEDRIVER", &["chromedriver"])
            .ok_or("no chromedriver on PATH (apt-get install chromium-driver)")?;
        Ok((chromium, driver))
    }

    /// Starts chromedriver and a headless Chromium session.
    pub fn start(chromium: &Path, driver: &Path) -> Browser {
        // A free port: bound, read, let go, then given to chromedriver.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut browser = Browser {
            driver: child,
            port,
            session: String::new(),
            _profile: profile,
        };
        browser.wait_for("chromedriver to be ready", || {
            browser_status(port).then_some(())
        });
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--no-first-run".to_owned(),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args,
                // Downloads (attachments) land in the profile, not $HOME;
                // several at once from one page are allowed (Chromium
                // otherwise asks, and headless no one answers).
                "prefs": {"download": {
                    "default_directory": browser._profile.path().join("downloads"),
                    "prompt_for_download": false,
                }, "profile": {"default_content_setting_values": {"automatic_downloads": 1}}}},
        }}});
        let created = browser.call("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        let timeouts = json!({"script": 20_000, "pageLoad": 20_000, "implicit": 0});
        browser.session_call("POST", "/timeouts", Some(timeouts));
        browser
    }

    /// Polls `check` until it gives a value, failing the test after
    /// [`DEADLINE`].
    pub fn wait_for<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(value) = check() {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens `url`.
    pub fn open(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` in the page with `args`; its return value.
    pub fn run(&self, script: &str, args: Value) -> Value {
        let body = json!({ "script": script, "args": args });
        self.session_call("POST", "/execute/sync", Some(body))
    }

    /// The element (a WebDriver reference) that `script` returns.
    pub fn element(&self, script: &str, args: Value) -> String {
        let found = self.run(script, args);
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element: {found}"))
            .to_owned()
    }

    /// Types `text` into element `id` (for a file input: a local path).
    pub fn send_keys(&self, id: &str, text: &str) {
        let path = format!("/element/{id}/value");
        self.session_call("POST", &path, Some(json!({ "text": text })));
    }

    /// Clicks element `id`.
    pub fn click(&self, id: &str) {
        self.session_call("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// The text of the dialog (`confirm`) that is open, once one is.
    pub fn dialog_text(&self) -> String {
        self.wait_for("a dialog", || {
            let answer = self.try_call("GET", &self.path("/alert/text"), None).ok()?;
            answer.as_str().map(str::to_owned)
        })
    }

    /// Element `id` of the page (`getElementById`).
    pub fn by_id(&self, id: &str) -> String {
        self.element("return document.getElementById(arguments[0])", json!([id]))
    }

    /// Clicks element `id`, accepts the confirmation that asks for and
    /// returns its question ([`Self::message`] then says what came of it).
    pub fn confirm(&self, id: &str) -> String {
        self.click(id);
        let asked = self.dialog_text();
        self.accept_dialog();
        asked
    }

    /// Types `text` into the open dialog (`prompt`).
    pub fn answer_dialog(&self, text: &str) {
        self.session_call("POST", "/alert/text", Some(json!({ "text": text })));
    }

    /// Accepts the open dialog.
    pub fn accept_dialog(&self) {
        self.session_call("POST", "/alert/accept", Some(json!({})));
    }

    /// Dismisses the open dialog (`confirm` answered Cancel).
    #[allow(dead_code)] // Not every test file that drives a browser cancels.
    pub fn dismiss_dialog(&self) {
        self.session_call("POST", "/alert/dismiss", Some(json!({})));
    }

    /// Whether a dialog (`alert`, `confirm`, `prompt`) is open now.
    #[allow(dead_code)] // Not every test file that drives a browser asks.
    pub fn dialog_open(&self) -> bool {
        self.try_call("GET", &self.path("/alert/text"), None)
            .is_ok()
    }

    /// Limits how fast the browser sends request bodies to
    /// `bytes_per_second` (Chromium's network emulation, which holds the
    /// bytes back in the browser), or lifts the limit (`None`).
    pub fn throttle_uploads(&self, bytes_per_second: Option<u64>) {
        let path = "/chromium/network_conditions";
        match bytes_per_second {
            Some(rate) => {
                let conditions = json!({"network_conditions": {
                    "offline": false, "latency": 0,
                    "download_throughput": 1u64 << 30, "upload_throughput": rate,
                }});
                self.session_call("POST", path, Some(conditions));
            }
            None => {
                self.session_call("DELETE", path, None);
            }
        }
    }

    /// Types `text` on the keyboard, into whatever has the focus (the
    /// page's own shortcuts see it as a person's keys).
    #[allow(dead_code)] // Not every test file that drives a browser types.
    pub fn type_keys(&self, text: &str) {
        let keys: Vec<Value> = text
            .chars()
            .flat_map(|ch| {
                let key = ch.to_string();
                [
                    json!({"type": "keyDown", "value": key}),
                    json!({"type": "keyUp", "value": key}),
                ]
            })
            .collect();
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": keys}]});
        self.session_call("POST", "/actions", Some(actions));
    }

    /// Saves what the window shows, `width` by `height` pixels, as a PNG
    /// at `file` (for a person to look at).
    #[allow(dead_code)] // Not every test file that drives a browser takes them.
    pub fn save_screenshot(&self, width: u32, height: u32, file: &Path) {
        let rect = json!({ "width": width, "height": height });
        self.session_call("POST", "/window/rect", Some(rect));
        std::fs::write(file, self.screenshot()).expect("the screenshot written");
    }

    fn path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn session_call(&self, method: &str, rest: &str, body: Option<Value>) -> Value {
        self.call(method, &self.path(rest), body)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|err| panic!("WebDriver {method} {path}: {err}"))
    }

    /// One WebDriver command: its `value`, or the error it answered.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let (status, text) = http(self.port, method, path, body.map(|b| b.to_string()))?;
        let answer: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        match status {
            200 => Ok(answer["value"].clone()),
            _ => Err(format!("{status} {}", answer["value"])),
        }
    }
}

/// What the page's tests share (`tests/browser*.rs`): waits on the
/// page's own state, `body.dataset.state`, "idle" once no request of the
/// page runs (`ui/page.js`).
#[allow(dead_code)] // not every browser test uses all of it
impl Browser {
    /// What `script` (run with `args`) returns once the page is idle and
    /// it returns something other than `null`; `what` names it in a
    /// timeout.
    pub fn when_idle(&self, what: &str, script: &str, args: Value) -> Value {
        let script = format!("if (document.body.dataset.state !== 'idle') return null; {script}");
        self.wait_for(what, || {
            Some(self.run(&script, args.clone())).filter(|v| !v.is_null())
        })
    }

    /// The names (`data-name`) of the rows `selector` picks, in the
    /// page's order, once it is idle.
    pub fn names(&self, selector: &str) -> Vec<String> {
        let names = self.when_idle(
            "the page's rows",
            "return Array.from(document.querySelectorAll(arguments[0]), (r) => r.dataset.name)",
            json!([selector]),
        );
        serde_json::from_value(names).expect("names")
    }

    /// The button named `label` (its `aria-label`) on the row of `name`
    /// (its buttons are made when the row is first seen or focused,
    /// `ui/page.js` activate).
    pub fn row_button(&self, label: &str, name: &str) -> String {
        self.element(
            "const row = Array.from(document.querySelectorAll('#listing tr[data-name]')).find((r) => r.dataset.name === arguments[0]); \
             row.querySelector('td.n a').focus(); \
             return Array.from(row.querySelectorAll('button')).find((b) => b.getAttribute('aria-label') === arguments[1])",
            json!([name, label]),
        )
    }

    /// The page's message, once it shows one and it is idle.
    pub fn message(&self) -> String {
        let text = self.when_idle(
            "the page's message",
            "const m = document.getElementById('message'); return m.hidden ? null : m.textContent",
            json!([]),
        );
        text.as_str().unwrap_or_default().to_owned()
    }
}

/// The two windows the page is tested in: a desktop's and a phone's
/// (width, height, whether it is a phone).
#[allow(dead_code)] // not every browser test uses all of it
pub const SIZES: [(u32, u32, bool); 2] = [(1280, 900, false), (390, 844, true)];

/// What the preview and accessibility tests add (`tests/browser/previews.rs`):
/// a start that skips, DevTools commands, screenshots.
#[allow(dead_code)] // not every browser test uses all of it
impl Browser {
    /// A started browser, or `None` after saying on stderr (past the test
    /// harness's capture, so the skip shows in a plain `cargo test`) why
    /// the test is skipped.
    pub fn start_or_skip() -> Option<Browser> {
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

    /// Runs the DevTools command `cmd` (chromedriver passes it through):
    /// what WebDriver has no word for, such as emulated media.
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        let body = json!({ "cmd": cmd, "params": params });
        self.session_call("POST", "/goog/cdp/execute", Some(body))
    }

    /// Makes the page's viewport `width` x `height` CSS pixels (at one
    /// device pixel each), as a window or a phone of that size shows it.
    pub fn viewport(&self, width: u32, height: u32, mobile: bool) {
        let metrics = json!({"width": width, "height": height,
            "deviceScaleFactor": 1, "mobile": mobile});
        self.cdp("Emulation.setDeviceMetricsOverride", metrics);
    }

    /// Makes the page see `prefers-color-scheme: scheme` ("light", "dark").
    pub fn color_scheme(&self, scheme: &str) {
        let features = json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]});
        self.cdp("Emulation.setEmulatedMedia", features);
    }

    /// The folder downloads land in.
    pub fn downloads(&self) -> PathBuf {
        self._profile.path().join("downloads")
    }

    /// What the window shows, as `target/web2-<name>-<width>.png` (kept
    /// as CI's artifacts).
    pub fn shot(&self, name: &str, width: u32) {
        let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let file = target
            .parent()
            .expect("the target directory")
            .join(format!("web2-{name}-{width}.png"));
        std::fs::write(file, self.screenshot()).expect("the screenshot written");
    }

    /// Opens `url` in a viewport of `size` (one of [`SIZES`]), once the
    /// page is idle.
    pub fn open_in(&self, url: &str, (width, height, mobile): (u32, u32, bool)) {
        self.viewport(width, height, mobile);
        self.open(url);
        self.when_idle("the page", "return true", json!([]));
    }

    /// Waits for the page to say `words` (an earlier message may still
    /// show while the request that answers it runs).
    pub fn said(&self, words: &str) {
        self.wait_for(words, || (self.message() == words).then_some(()));
    }

    /// A PNG of the viewport, as WebDriver takes it.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let shot = self.session_call("GET", "/screenshot", None);
        let text = shot
            .as_str()
            .unwrap_or_else(|| panic!("no screenshot: {shot}"));
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .expect("a screenshot in base64")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(self.port, "DELETE", &self.path(""), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Whether chromedriver answers `/status` as ready.
fn browser_status(port: u16) -> bool {
    http(port, "GET", "/status", None)
        .ok()
        .and_then(|(_, text)| serde_json::from_str::<Value>(&text).ok())
        .is_some_and(|status| status["value"]["ready"] == json!(true))
}

/// A request to chromedriver on 127.0.0.1 (one connection, closed after).
fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let _ = stream.set_read_timeout(Some(DEADLINE));
    let body = body.unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    // chromedriver may keep the connection open: read by the framing.
    let mut all = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(done) = complete(&all) {
            let text = String::from_utf8_lossy(&all[..done]).into_owned();
            let (head, rest) = text.split_once("\r\n\r\n").ok_or("no head")?;
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or("no status")?;
            let chunked = head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked");
            return Ok((
                status,
                if chunked {
                    unchunk(rest)
                } else {
                    rest.to_owned()
                },
            ));
        }
        match stream.read(&mut buf) {
            Ok(0) => return Err("connection closed mid-answer".into()),
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(err) => return Err(err.to_string()),
        }
    }
}

/// The length of the whole answer at the front of `all`, once it is there.
fn complete(all: &[u8]) -> Option<usize> {
    let head_end = all.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&all[..head_end]).to_ascii_lowercase();
    if head.contains("transfer-encoding: chunked") {
        let end = all[head_end..].windows(5).position(|w| w == b"0\r\n\r\n")?;
        return Some(head_end + end + 5);
    }
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (all.len() >= head_end + length).then_some(head_end + length)
}

/// A chunked body, joined.
fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let (Some(chunk), Some(next)) = (after.get(..size), after.get(size..)) else {
            break;
        };
        if size == 0 {
            break;
        }
        out.push_str(chunk);
        rest = next.trim_start_matches("\r\n");
    }
    out
}
