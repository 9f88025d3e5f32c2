//! A tiny WebDriver client over chromedriver's W3C HTTP API (plain `reqwest`).

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub type Res<T> = Result<T, String>;

/// How long a wait for an element or a condition lasts.
pub const WAIT: Duration = Duration::from_secs(10);

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver; shut down (with its browsers) on drop.
pub struct Driver {
    child: Child,
    port: u16,
    base: String,
    http: reqwest::Client,
}

impl Driver {
    pub async fn start(binary: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let mut driver = Driver {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!("chromedriver exited at start-up with {status}");
            }
            let ready = async {
                let v: Value = driver
                    .http
                    .get(format!("{}/status", driver.base))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                v["value"]["ready"].as_bool()
            };
            if ready.await == Some(true) {
                return driver;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver on port {port} not ready after 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new browser window with a profile of its own (so two sessions are
    /// two people); `javascript: false` blocks page scripts, the way a
    /// person with JavaScript off sees the site.
    pub async fn new_session(&self, chromium: &Path, javascript: bool) -> Session {
        let (w, h) = (390, 844);
        let profile = tempfile::tempdir().expect("temp dir for the browser profile");
        let prefs = if javascript {
            json!({})
        } else {
            json!({"profile.managed_default_content_settings.javascript": 2})
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "unhandledPromptBehavior": "accept",
            "timeouts": {"implicit": 0, "pageLoad": 30000, "script": 30000},
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    format!("--window-size={w},{h}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": prefs,
            },
        }}});
        let r = self
            .http
            .post(format!("{}/session", self.base))
            .json(&caps)
            .send()
            .await
            .expect("POST /session");
        let v: Value = r.json().await.expect("session JSON");
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver refused the session: {v}"))
            .to_string();
        eprintln!(
            "browser: {} {} via chromedriver on port {}",
            v["value"]["capabilities"]["browserName"]
                .as_str()
                .unwrap_or("?"),
            v["value"]["capabilities"]["browserVersion"]
                .as_str()
                .unwrap_or("?"),
            self.port
        );
        Session {
            http: self.http.clone(),
            base: format!("{}/session/{id}", self.base),
            pages_checked: 0,
            expect_status: 200,
            viewport: None,
            quit: false,
            _profile: profile,
        }
    }

    /// chromedriver's own `/shutdown` (it closes its browsers), over a
    /// plain blocking socket since `Drop` cannot await.
    fn shutdown(&self) {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
        let req = format!(
            "GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        );
        if s.write_all(req.as_bytes()).is_ok() {
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.shutdown();
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A found element (its WebDriver reference).
#[derive(Clone, Debug)]
pub struct El(String);

pub struct Session {
    http: reqwest::Client,
    base: String,
    pub pages_checked: usize,
    /// The HTTP status the next pages should answer (a form sent back with
    /// field messages answers 422 by design).
    pub expect_status: u16,
    viewport: Option<(u32, u32)>,
    quit: bool,
    _profile: tempfile::TempDir,
}

impl Session {
    /// One WebDriver command; a WebDriver error becomes `Err`.
    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Res<Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let v: Value = r
            .json()
            .await
            .map_err(|e| format!("{method} {path}: bad JSON: {e}"))?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if let Some(err) = value.get("error").and_then(Value::as_str) {
            let msg = value["message"].as_str().unwrap_or("");
            let first = msg.lines().next().unwrap_or("");
            return Err(format!("{method} {path}: {err}: {first}"));
        }
        Ok(value)
    }

    async fn get(&self, path: &str) -> Res<Value> {
        self.cmd(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Res<Value> {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn goto(&mut self, url: &str) -> Res<()> {
        self.post("/url", json!({ "url": url })).await?;
        self.check_page().await
    }

    pub async fn current_url(&self) -> Res<String> {
        Ok(self.get("/url").await?.as_str().unwrap_or("").to_string())
    }

    pub async fn exec(&self, script: &str, args: Value) -> Res<Value> {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// The first element matching `css` now, if any.
    pub async fn find(&self, css: &str) -> Res<Option<El>> {
        match self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await
        {
            Ok(v) => Ok(element_of(&v)),
            Err(e) if e.contains("no such element") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Polls for `css` for up to 10 s.
    pub async fn wait_for(&self, css: &str) -> Res<El> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(el) = self.find(css).await? {
                return Ok(el);
            }
            if Instant::now() >= deadline {
                return Err(format!("no element `{css}` after {WAIT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls a script until it returns `true`, for up to 10 s.
    pub async fn wait_until(&self, what: &str, script: &str) -> Res<()> {
        let deadline = Instant::now() + WAIT;
        let mut last;
        loop {
            match self.exec(script, json!([])).await {
                Ok(Value::Bool(true)) => return Ok(()),
                Ok(v) => last = v.to_string(),
                // Mid-navigation the old document may be gone: retry.
                Err(e) => last = e,
            }
            if Instant::now() >= deadline {
                return Err(format!("waited {WAIT:?} for {what}; last: {last}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn click(&self, el: &El) -> Res<()> {
        self.post(&format!("/element/{}/click", el.0), json!({}))
            .await
            .map(drop)
    }

    /// Scrolls so that `el` starts at the top of the viewport.
    pub async fn scroll_to(&self, el: &El) -> Res<()> {
        let mut arg = serde_json::Map::new();
        arg.insert(ELEMENT_KEY.into(), Value::String(el.0.clone()));
        self.exec(
            "arguments[0].scrollIntoView({block: 'start'}); window.scrollBy(0, -16);",
            json!([arg]),
        )
        .await
        .map(drop)
    }

    pub async fn text(&self, el: &El) -> Res<String> {
        Ok(self
            .get(&format!("/element/{}/text", el.0))
            .await?
            .as_str()
            .unwrap_or("")
            .to_string())
    }

    /// Clicks `css`, then waits for the next page to load and checks it.
    pub async fn click_and_load(&mut self, css: &str) -> Res<()> {
        let el = self.wait_for(css).await?;
        self.click_to_next_page(&el, css).await
    }

    pub async fn click_link(&mut self, el: &El) -> Res<()> {
        self.click_to_next_page(el, "link").await
    }

    async fn click_to_next_page(&mut self, el: &El, what: &str) -> Res<()> {
        self.exec(
            "document.documentElement.setAttribute('data-lx-stale', '1');",
            json!([]),
        )
        .await?;
        self.click(el).await?;
        self.wait_until(
            &format!("a new page after clicking {what}"),
            "return document.readyState === 'complete' \
             && !document.documentElement.hasAttribute('data-lx-stale');",
        )
        .await?;
        self.check_page().await
    }

    /// Clicks an input and types `text` into it, like a person.
    pub async fn type_into(&self, css: &str, text: &str) -> Res<()> {
        let el = self.wait_for(css).await?;
        self.click(&el).await?;
        self.post(&format!("/element/{}/clear", el.0), json!({}))
            .await?;
        self.post(&format!("/element/{}/value", el.0), json!({ "text": text }))
            .await
            .map(drop)
    }

    /// Forgets every cookie of the current site (logs out without a click).
    pub async fn delete_cookies(&self) -> Res<()> {
        self.cmd(reqwest::Method::DELETE, "/cookie", None)
            .await
            .map(drop)
    }

    /// Puts a local file into a file input (what choosing it does).
    pub async fn send_file(&self, css: &str, file: &Path) -> Res<()> {
        let el = self.wait_for(css).await?;
        self.post(
            &format!("/element/{}/value", el.0),
            json!({ "text": file.display().to_string() }),
        )
        .await
        .map(drop)
    }

    /// The path of the current page starts with `prefix`.
    pub async fn expect_path_prefix(&self, prefix: &str) -> Res<()> {
        let url = self.current_url().await?;
        let path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("");
        if path.starts_with(prefix) {
            Ok(())
        } else {
            Err(format!(
                "expected to be under {prefix}, but the browser is at {url}"
            ))
        }
    }

    pub async fn expect_value(&self, css: &str, want: &str) -> Res<()> {
        let el = self.wait_for(css).await?;
        let got = self
            .get(&format!("/element/{}/property/value", el.0))
            .await?;
        if got.as_str() == Some(want) {
            Ok(())
        } else {
            Err(format!("`{css}` holds {got} after typing {want:?}"))
        }
    }

    /// Waits until an element matching `css` shows `want` in its text.
    pub async fn expect_text(&self, css: &str, want: &str) -> Res<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut seen = None;
            if let Some(el) = self.find(css).await? {
                let t = self.text(&el).await.unwrap_or_default();
                if t.contains(want) {
                    return Ok(());
                }
                seen = Some(t);
            }
            if Instant::now() >= deadline {
                return Err(match seen {
                    Some(t) => format!(
                        "`{css}` says {:?}, expected it to contain {want:?}",
                        excerpt(&t, 400)
                    ),
                    None => format!("no element `{css}` (looking for {want:?})"),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn expect_text_in(&self, el: &El, want: &str) -> Res<()> {
        let t = self.text(el).await?;
        if t.contains(want) {
            Ok(())
        } else {
            Err(format!(
                "element says {:?}, expected {want:?}",
                excerpt(&t, 400)
            ))
        }
    }

    pub async fn expect_path(&self, want: &str) -> Res<()> {
        let url = self.current_url().await?;
        let path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("");
        let path = path.split(['?', '#']).next().unwrap_or("");
        if path == want {
            Ok(())
        } else {
            Err(format!(
                "expected to be on {want}, but the browser is at {url}"
            ))
        }
    }

    /// Polls (10 s) for a link in `main` whose text contains `text`.
    pub async fn link_in_main(&self, text: &str) -> Res<El> {
        self.find_by_script(
            &format!("a link {text:?} in main"),
            "return [...document.querySelectorAll('main a.item-link')]\
             .find(a => a.textContent.includes(arguments[0])) || null;",
            json!([text]),
        )
        .await
    }

    /// Polls (10 s) for a link containing `text` in the card whose
    /// heading starts with `heading`.
    pub async fn section_link(&self, heading: &str, text: &str) -> Res<El> {
        self.find_by_script(
            &format!("a link {text:?} under the heading {heading:?}"),
            "const s = [...document.querySelectorAll('main section')]\
             .find(s => { const h = s.querySelector('h2'); \
               return h && h.textContent.trim().startsWith(arguments[0]); });\
             if (!s) return null;\
             return [...s.querySelectorAll('a.item-link')]\
             .find(a => a.textContent.includes(arguments[1])) || null;",
            json!([heading, text]),
        )
        .await
    }

    /// Polls (10 s) for the card (`main section`) whose heading starts
    /// with `heading`.
    pub async fn section(&self, heading: &str) -> Res<El> {
        self.find_by_script(
            &format!("a card headed {heading:?}"),
            "return [...document.querySelectorAll('main section')]\
             .find(s => { const h = s.querySelector('h2'); \
               return h && h.textContent.trim().startsWith(arguments[0]); }) || null;",
            json!([heading]),
        )
        .await
    }

    async fn find_by_script(&self, what: &str, script: &str, args: Value) -> Res<El> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(el) = element_of(&self.exec(script, args.clone()).await?) {
                return Ok(el);
            }
            if Instant::now() >= deadline {
                return Err(format!("no {what} after {WAIT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every page: not the error page, HTTP 200, an `<h1>`, the stylesheet
    /// applied, no failed request (any status ≥ 400 among the page's
    /// resources), no request to another origin, and no console error.
    pub async fn check_page(&mut self) -> Res<()> {
        let v = self
            .exec(
                r#"
const problems = [];
const nav = performance.getEntriesByType('navigation')[0];
const status = nav && typeof nav.responseStatus === 'number' ? nav.responseStatus : null;
if (document.title.includes('出错了') || document.title.includes('Error')) problems.push('the error page: ' + document.title);
if (status !== null && status !== arguments[0]) problems.push('the page answered HTTP ' + status);
if (!document.querySelector('h1')) problems.push('no <h1> on the page');
if (!document.title.trim()) problems.push('no <title>');
if (document.styleSheets.length === 0) problems.push('no stylesheet loaded');
const sheets = [...document.styleSheets];
for (const l of document.querySelectorAll('link[rel="stylesheet"]')) {
  const sh = sheets.find(s => s.href === l.href);
  let rules = -1;
  try { rules = sh ? sh.cssRules.length : -1; } catch (e) {}
  if (!sh) problems.push('stylesheet not applied (failed to load?): ' + l.href);
  else if (rules <= 0) problems.push('stylesheet has no rules: ' + l.href);
}
for (const e of performance.getEntriesByType('resource')) {
  const u = new URL(e.name, location.href);
  if (u.protocol === 'data:' || u.protocol === 'blob:') continue;
  if (u.origin !== location.origin) problems.push('third-party request ' + e.name);
  else if (typeof e.responseStatus === 'number' && e.responseStatus >= 400)
    problems.push('failed request ' + u.pathname + u.search + ' (HTTP ' + e.responseStatus + ')');
}
for (const img of document.images) {
  if (img.complete && img.naturalWidth === 0 && img.src) problems.push('broken image ' + img.src);
}
return {problems, status, title: document.title, sheets: document.styleSheets.length,
        viewport: [window.innerWidth, window.innerHeight]};
"#,
                json!([self.expect_status]),
            )
            .await?;
        let mut problems: Vec<String> = v["problems"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if let Some((w, h)) = self.viewport {
            // A layout wider than the phone means a missing or broken
            // <meta name="viewport"> (or content that overflows).
            if v["viewport"] != json!([w, h]) {
                problems.push(format!(
                    "viewport is {} CSS px, expected [{w},{h}]",
                    v["viewport"]
                ));
            }
        }
        for entry in self.browser_log().await {
            let level = entry["level"].as_str().unwrap_or("");
            let msg = entry["message"].as_str().unwrap_or("");
            let expected = format!("status of {} ", self.expect_status);
            if level == "SEVERE" && !(self.expect_status != 200 && msg.contains(&expected)) {
                problems.push(format!("console error: {msg}"));
            } else if level == "WARNING" {
                eprintln!("browser console ({level}): {msg}");
            }
        }
        self.pages_checked += 1;
        if problems.is_empty() {
            Ok(())
        } else {
            let url = self.current_url().await.unwrap_or_default();
            Err(format!(
                "page check failed at {url}: {}",
                problems.join("; ")
            ))
        }
    }

    /// Runs an asynchronous script (its last argument is the callback).
    pub async fn exec_async(&self, script: &str, args: Value) -> Res<Value> {
        self.post("/execute/async", json!({"script": script, "args": args}))
            .await
    }

    /// Drops whatever the console logged so far (e.g. while logging in).
    pub async fn clear_log(&self) {
        let _ = self.browser_log().await;
    }

    /// The console log since the last call (chromedriver's legacy log
    /// endpoint; empty when it is not offered).
    async fn browser_log(&self) -> Vec<Value> {
        self.post("/se/log", json!({"type": "browser"}))
            .await
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// Sizes the window and the page's viewport to `w`×`h` CSS pixels.
    /// Headless Chromium keeps windows at least 500 px wide and takes
    /// ~140 px of the height for (invisible) browser chrome, so the
    /// viewport is pinned with DevTools' device-metrics override; `mobile`
    /// also makes the page honour `<meta name="viewport">` like a phone.
    pub async fn set_viewport(&mut self, (w, h): (u32, u32), mobile: bool) -> Res<()> {
        self.post("/window/rect", json!({"width": w, "height": h}))
            .await?;
        self.post(
            "/goog/cdp/execute",
            json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile,
            }}),
        )
        .await?;
        self.viewport = Some((w, h));
        Ok(())
    }

    /// Saves a PNG of the viewport as `dir/name.png`; checks its size
    /// when `want` is given.
    pub async fn screenshot(
        &self,
        dir: &Path,
        name: &str,
        want: Option<(u32, u32)>,
    ) -> Res<PathBuf> {
        let b64 = self.get("/screenshot").await?;
        let png = base64_decode(b64.as_str().unwrap_or(""))?;
        let size = png_size(&png).ok_or("the screenshot is not a PNG")?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).map_err(|e| format!("write {}: {e}", path.display()))?;
        eprintln!("screenshot {} ({}×{})", path.display(), size.0, size.1);
        match want {
            Some(w) if w != size => Err(format!(
                "screenshot {name} is {}×{}, expected {}×{}",
                size.0, size.1, w.0, w.1
            )),
            _ => Ok(path),
        }
    }

    /// Where the browser is and what it shows, for failure messages.
    pub async fn context(&self) -> String {
        let url = self.current_url().await.unwrap_or_else(|e| e);
        let title = self
            .get("/title")
            .await
            .map(|v| v.as_str().unwrap_or("").to_string())
            .unwrap_or_else(|e| e);
        let source = self
            .get("/source")
            .await
            .map(|v| v.as_str().unwrap_or("").to_string())
            .unwrap_or_else(|e| e);
        let main = match (source.find("<main"), source.find("</main>")) {
            (Some(a), Some(b)) if a < b => &source[a..b + "</main>".len()],
            _ => source.as_str(),
        };
        format!(
            "  at: {url}\n  title: {title}\n  page source (excerpt):\n{}",
            excerpt(main, 3000)
        )
    }

    pub async fn quit(&mut self) {
        if !self.quit {
            self.quit = true;
            let _ = self.cmd(reqwest::Method::DELETE, "", None).await;
        }
    }
}

fn element_of(v: &Value) -> Option<El> {
    v.get(ELEMENT_KEY)
        .and_then(Value::as_str)
        .map(|s| El(s.to_string()))
}

fn excerpt(s: &str, max_chars: usize) -> String {
    let mut out: String = s.chars().take(max_chars).collect();
    if s.chars().nth(max_chars).is_some() {
        out.push_str(" …");
    }
    out
}

/// Standard base64 (RFC 4648, with or without padding) to bytes.
pub fn base64_decode(s: &str) -> Res<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b'\r' | b'\n' | b' ' => continue,
            _ => return Err(format!("not base64: byte {c:#04x}")),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Width and height from a PNG's IHDR.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |i: usize| u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]);
    Some((be(16), be(20)))
}

#[test]
fn base64_decoder_matches_rfc_4648() {
    for (enc, dec) in [
        ("", ""),
        ("Zg==", "f"),
        ("Zm8=", "fo"),
        ("Zm9v", "foo"),
        ("Zm9vYg==", "foob"),
        ("Zm9vYmE=", "fooba"),
        ("Zm9vYmFy", "foobar"),
        ("Zm9vYmFy\n", "foobar"),
    ] {
        assert_eq!(base64_decode(enc).unwrap(), dec.as_bytes(), "{enc}");
    }
    assert_eq!(base64_decode("+/8=").unwrap(), [0xfb, 0xff]);
    assert!(base64_decode("Zm9v!").is_err());
    let png = "iVBORw0KGgoAAAANSUhEUgAAAYYAAANMCAY=";
    assert_eq!(png_size(&base64_decode(png).unwrap()), Some((390, 844)));
}
