//! A real headless Chromium for UI tests, driven over the DevTools protocol (a WebSocket to
//! the page target): navigate, evaluate JavaScript in the page, wait for a condition, set the
//! window's size, take screenshots, and collect what the page reports as errors (uncaught
//! exceptions, `console.error`, failed loads) from the events that arrive meanwhile.
//! Chromium comes from Debian's packages (`scripts/test.sh` installs it); a test that cannot
//! start it fails with the reason.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_websockets::{ClientBuilder, MaybeTlsStream, Message, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A headless Chromium with one page; killed with its helper processes when dropped.
pub struct Browser {
    child: Child,
    socket: Socket,
    next_id: u64,
    errors: Vec<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium and connects to its first page.
    pub async fn start() -> Browser {
        let binary = ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find(|b| {
                Command::new("sh")
                    .args(["-c", &format!("command -v {b}")])
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .expect("chromium is not installed: run scripts/test.sh, which installs it");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(binary)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            // Its own process group, so that its helper processes go with it.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID" on stderr.
        let stderr = child.stderr.take().expect("stderr");
        let (found, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = found.send(url.to_owned());
                }
            }
        });
        let browser_url = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium printed no DevTools address");
        let port = browser_url
            .trim_start_matches("ws://127.0.0.1:")
            .split('/')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .expect("DevTools port");
        let page_url = page_target(port).await;
        let (socket, _) = ClientBuilder::from_uri(page_url.parse().expect("ws uri"))
            .connect()
            .await
            .expect("connect to the page");
        let mut browser = Browser {
            child,
            socket,
            next_id: 0,
            errors: Vec::new(),
            _profile: profile,
        };
        browser.call("Runtime.enable", json!({})).await;
        browser.call("Log.enable", json!({})).await;
        browser
    }

    /// Keeps what an event says went wrong in the page.
    fn note_event(&mut self, event: &Value) {
        let params = &event["params"];
        match event["method"].as_str() {
            Some("Runtime.exceptionThrown") => {
                let details = &params["exceptionDetails"];
                self.errors.push(format!(
                    "exception: {} {}",
                    details["text"].as_str().unwrap_or_default(),
                    details["exception"]["description"]
                        .as_str()
                        .unwrap_or_default()
                ));
            }
            Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
                self.errors
                    .push(format!("console.error: {}", params["args"]));
            }
            Some("Log.entryAdded") if params["entry"]["level"] == "error" => {
                let entry = &params["entry"];
                self.errors.push(format!(
                    "{}: {} {}",
                    entry["source"].as_str().unwrap_or_default(),
                    entry["text"].as_str().unwrap_or_default(),
                    entry["url"].as_str().unwrap_or_default()
                ));
            }
            _ => {}
        }
    }

    /// What the page reported as errors so far (exceptions, `console.error`, failed loads).
    pub async fn errors(&mut self) -> Vec<String> {
        // A round trip reads the events sent before it.
        self.eval("1").await;
        self.errors.clone()
    }

    /// Forgets the errors so far (after a step that fails on purpose, such as a wrong
    /// password, which the browser logs as a failed request).
    pub async fn clear_errors(&mut self) {
        self.eval("1").await;
        self.errors.clear();
    }

    /// Presses and releases a key as a keyboard would (`Tab`, `Enter`, `Escape`).
    pub async fn press(&mut self, key: &str) {
        let (code, text) = match key {
            "Tab" => (9, ""),
            "Enter" => (13, "\r"),
            "Escape" => (27, ""),
            other => panic!("no key code for {other}"),
        };
        for kind in ["keyDown", "keyUp"] {
            let mut event =
                json!({"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code});
            if kind == "keyDown" && !text.is_empty() {
                event["text"] = json!(text);
            }
            self.call("Input.dispatchKeyEvent", event).await;
        }
    }

    /// Sets the page's size in CSS pixels (`mobile` for a phone's viewport rules).
    pub async fn set_viewport(&mut self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
    }

    /// A PNG of the page as it is shown, written to `path`; answers how many distinct colours
    /// a grid of its pixels has (1 for a blank page), counted by the browser itself.
    pub async fn screenshot(&mut self, path: &std::path::Path) -> u64 {
        use base64::Engine as _;
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let data = shot["data"].as_str().expect("screenshot data").to_owned();
        let png = base64::engine::general_purpose::STANDARD
            .decode(&data)
            .expect("base64 PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write the screenshot");
        let colours = self
            .eval(&format!(
                "(async () => {{
                   const img = new Image(); img.src = 'data:image/png;base64,{data}';
                   await img.decode();
                   const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
                   const g = c.getContext('2d'); g.drawImage(img, 0, 0);
                   const px = g.getImageData(0, 0, c.width, c.height).data, seen = new Set();
                   for (let y = 0; y < c.height; y += 7) for (let x = 0; x < c.width; x += 7) {{
                     const i = (y * c.width + x) * 4; seen.add(px[i] << 16 | px[i + 1] << 8 | px[i + 2]);
                   }}
                   return seen.size;
                 }})()"
            ))
            .await;
        colours.as_u64().expect("a colour count")
    }

    /// Sends one DevTools command and waits for its answer (events in between are skipped).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket
            .send(Message::text(request))
            .await
            .expect("send to chromium");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = tokio::time::timeout(left, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method}"))
                .expect("chromium closed the connection")
                .expect("a message");
            let Some(text) = message.as_text() else {
                continue;
            };
            let answer: Value = serde_json::from_str(text).expect("JSON from chromium");
            if answer.get("method").is_some() {
                self.note_event(&answer);
                continue;
            }
            if answer["id"] == id {
                if let Some(error) = answer.get("error") {
                    panic!("{method}: {error}");
                }
                return answer["result"].clone();
            }
        }
    }

    /// Sends `header: value` with every request the page makes (e.g. basic auth).
    pub async fn set_header(&mut self, header: &str, value: &str) {
        self.call("Network.enable", json!({})).await;
        self.call(
            "Network.setExtraHTTPHeaders",
            json!({"headers": {header: value}}),
        )
        .await;
    }

    /// Opens `url` in the page.
    pub async fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
    }

    /// Evaluates `expression` in the page (promises awaited) and answers its value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression}: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Types `text` into the focused element, as a keyboard (or an input method) would.
    pub async fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({ "text": text })).await;
    }

    /// Evaluates `expression` until it is `true` (up to 20 s); panics with `what` otherwise.
    /// An exception counts as not yet: the page may still be loading (no `document.body`).
    pub async fn wait_for(&mut self, expression: &str, what: &str) {
        self.wait_for_within(expression, what, Duration::from_secs(20))
            .await;
    }

    /// [`Browser::wait_for`] with its own limit, for what takes longer by design (a state
    /// the history derives from several 5-second points).
    pub async fn wait_for_within(&mut self, expression: &str, what: &str, limit: Duration) {
        let guarded = format!("(() => {{ try {{ return ({expression}) === true; }} catch (_) {{ return false; }} }})()");
        let deadline = Instant::now() + limit;
        loop {
            if self.eval(&guarded).await == Value::Bool(true) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The page target's WebSocket URL, from `GET /json/list` on the DevTools port.
async fn page_target(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/json/list")).await {
            if let Ok(targets) = response.json::<Vec<Value>>().await {
                if let Some(url) = targets
                    .iter()
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                {
                    return url.to_owned();
                }
            }
        }
        assert!(Instant::now() < deadline, "chromium shows no page target");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
