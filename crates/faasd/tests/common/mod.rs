//! A harness that starts the real `faasd` binary on a free loopback port with its own data
//! directory, and talks to it over HTTP as a client would.

#![allow(dead_code)]

pub mod browser;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const BINARY: &str = env!("CARGO_BIN_EXE_faasd");

#[allow(unused_imports)]
pub use faas_testkit::free_port;

/// The fwatchdog binary beside faasd, built once if missing.
pub fn watchdog_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let path = Path::new(BINARY).with_file_name("fwatchdog");
            if !path.exists() {
                let status = Command::new(env!("CARGO"))
                    .args(["build", "-p", "faas-watchdog", "--bin", "fwatchdog"])
                    .status()
                    .expect("run cargo build");
                assert!(status.success(), "building fwatchdog failed");
            }
            path
        })
        .clone()
}

/// A running faasd; killed (with its replicas) when dropped.
pub struct Faasd {
    child: Option<Child>,
    pub port: u16,
    pub data: PathBuf,
    _data_owner: Option<tempfile::TempDir>,
    pub user: String,
    pub password: String,
    pub client: reqwest::Client,
}

impl Faasd {
    /// Starts faasd on a fresh data directory.
    pub fn start() -> Faasd {
        Faasd::start_with(&[])
    }

    /// Starts faasd on a fresh data directory with extra environment (`FAASD_*` settings).
    pub fn start_with(env: &[(&str, &str)]) -> Faasd {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let mut faasd = Faasd::start_on(&data, env);
        faasd._data_owner = Some(dir);
        faasd
    }

    /// Starts faasd on `data` with extra environment. The port is picked free but released
    /// before faasd binds it, so another process can take it in between when many tests run
    /// at once: a faasd that exits saying it cannot listen is started again on another port.
    pub fn start_on(data: &Path, env: &[(&str, &str)]) -> Faasd {
        Faasd::start_via(&[], data, env)
    }

    /// Starts faasd as the ordinary user `uid` (uid and gid, no other groups; the test runs
    /// as root, and `setpriv` execs faasd as that user) on a fresh data directory it owns.
    pub fn start_as_user(uid: u32, env: &[(&str, &str)]) -> Faasd {
        let dir = tempfile::tempdir().expect("temp dir");
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(uid)).expect("chown the temp dir");
        let data = dir.path().join("data");
        let (reuid, regid) = (format!("--reuid={uid}"), format!("--regid={uid}"));
        let wrapper = ["setpriv", reuid.as_str(), regid.as_str(), "--clear-groups"];
        let mut faasd = Faasd::start_via(&wrapper, &data, env);
        faasd._data_owner = Some(dir);
        faasd
    }

    /// As [`Faasd::start_on`], with faasd started through `wrapper` (a program and its
    /// arguments, such as `prlimit --nofile=512:`), which must exec faasd.
    pub fn start_via(wrapper: &[&str], data: &Path, env: &[(&str, &str)]) -> Faasd {
        let mut tries = 0;
        loop {
            tries += 1;
            let port = free_port();
            let log_path = data.with_extension("log");
            let logged_before = std::fs::metadata(&log_path).map_or(0, |m| m.len() as usize);
            let mut child = Faasd::spawn_via(wrapper, data, port, env).expect("start faasd");
            let deadline = Instant::now() + Duration::from_secs(30);
            let exited = loop {
                if raw_status(port, "/healthz") == Some(200) || Instant::now() > deadline {
                    break false;
                }
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break true;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let log = std::fs::read(&log_path).unwrap_or_default();
            let this_run = String::from_utf8_lossy(log.get(logged_before..).unwrap_or_default());
            if exited && tries < 5 && this_run.contains("cannot listen on") {
                continue;
            }
            return Faasd::started(data, port, child);
        }
    }

    fn started(data: &Path, port: u16, child: Child) -> Faasd {
        let mut faasd = Faasd {
            child: Some(child),
            port,
            data: data.to_path_buf(),
            _data_owner: None,
            user: String::new(),
            password: String::new(),
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
        };
        faasd.wait_healthy();
        faasd.user = std::fs::read_to_string(data.join("secrets/basic-auth-user"))
            .expect("user file")
            .trim()
            .to_string();
        faasd.password = std::fs::read_to_string(data.join("secrets/basic-auth-password"))
            .expect("password file")
            .trim()
            .to_string();
        faasd
    }

    /// Starts faasd on `data` listening on `port` (chosen beforehand, e.g. so that a
    /// Prometheus can be told where to scrape before faasd is told where Prometheus is).
    pub fn start_on_port(data: &Path, port: u16, env: &[(&str, &str)]) -> Faasd {
        let child = Faasd::spawn(data, port, env).expect("start faasd");
        Faasd::started(data, port, child)
    }

    pub fn spawn(data: &Path, port: u16, env: &[(&str, &str)]) -> std::io::Result<Child> {
        Faasd::spawn_via(&[], data, port, env)
    }

    fn spawn_via(
        wrapper: &[&str],
        data: &Path,
        port: u16,
        env: &[(&str, &str)],
    ) -> std::io::Result<Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.with_extension("log"))?;
        let mut command = match wrapper.split_first() {
            None => Command::new(BINARY),
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(BINARY);
                command
            }
        };
        command
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data)
            .arg("--watchdog")
            .arg(watchdog_binary())
            .env("FAASD_SHUTDOWN_TIMEOUT", "10s")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for (k, v) in env {
            command.env(k, v);
        }
        command.spawn()
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.data.with_extension("log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if raw_status(self.port, "/healthz") == Some(200) {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("faasd exited with {status}:\n{}", self.logs());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("faasd never became healthy:\n{}", self.logs());
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A request to the API with the admin credentials.
    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth(&self.user, Some(&self.password))
    }

    pub async fn deploy(&self, body: Value) -> reqwest::Response {
        self.api(reqwest::Method::POST, "/system/functions")
            .json(&body)
            .send()
            .await
            .expect("deploy")
    }

    /// Deploys `body` and checks the gateway accepted it (202).
    pub async fn deploy_accepted(&self, body: Value) {
        let response = self.deploy(body).await;
        assert_eq!(
            response.status(),
            202,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }

    /// Deploys a host-program function (`functions/alpine` style) and waits until it answers.
    pub async fn deploy_host(&self, name: &str, fprocess: &str) {
        self.deploy_accepted(
            json!({"service": name, "image": "functions/alpine:latest", "envProcess": fprocess}),
        )
        .await;
        self.wait_replicas(name, 1).await;
    }

    /// Deploys `name` with `annotations` as a classic function that records a line
    /// `$Http_X_Topic $Http_X_Connector <body>` per call (what connector tests check), and
    /// waits until it has a ready replica. A sandboxed function cannot write the test's files:
    /// it logs the line, and a task following the function's log appends it to `record`.
    pub async fn deploy_recorder(&self, name: &str, annotations: Value, record: &Path) {
        let fprocess = "sh -c 'echo \"recorded: $Http_X_Topic $Http_X_Connector $(cat)\" >&2'";
        self.deploy_accepted(json!({
            "service": name,
            "image": "functions/alpine:latest",
            "envProcess": fprocess,
            "envVars": {"combine_output": "false"},
            "annotations": annotations,
        }))
        .await;
        self.wait_replicas(name, 1).await;
        let logs = self
            .api(
                reqwest::Method::GET,
                &format!("/system/logs?name={name}&follow=true"),
            )
            .send()
            .await
            .expect("follow the recorder's log");
        assert_eq!(logs.status(), 200);
        tokio::spawn(copy_recorded_lines(logs, record.to_path_buf()));
    }

    pub async fn status(&self, name: &str) -> Option<Value> {
        let response = self
            .api(reqwest::Method::GET, &format!("/system/function/{name}"))
            .send()
            .await
            .ok()?;
        if response.status() != 200 {
            return None;
        }
        response.json().await.ok()
    }

    /// Waits until `availableReplicas` reaches `count`.
    pub async fn wait_replicas(&self, name: &str, count: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.status(name).await {
                if status["availableReplicas"].as_u64() == Some(count) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "{name} never reached {count} ready replicas: {:?}\n{}",
            self.status(name).await,
            self.logs()
        );
    }

    pub async fn invoke(&self, name: &str, body: &str) -> (u16, String) {
        let response = self
            .client
            .post(self.url(&format!("/function/{name}")))
            .body(body.to_string())
            .send()
            .await
            .expect("invoke");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    pub async fn list(&self) -> Value {
        self.api(reqwest::Method::GET, "/system/functions")
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("list json")
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status();
    }

    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut()?;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Faasd {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_ref() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
        }
        if self.wait_exit(Duration::from_secs(15)).is_none() {
            self.kill9();
        }
    }
}

/// Appends the text after `recorded: ` of each log line to `record`, until the log ends.
async fn copy_recorded_lines(mut logs: reqwest::Response, record: PathBuf) {
    use std::io::Write;
    let mut pending = Vec::new();
    while let Ok(Some(chunk)) = logs.chunk().await {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let Ok(message) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            let text = message["text"].as_str().unwrap_or_default();
            if let Some((_, recorded)) = text.split_once("recorded: ") {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&record)
                    .expect("open the record");
                writeln!(file, "{recorded}").expect("write the record");
            }
        }
    }
}

/// The lines a recorder function (see [`Faasd::deploy_recorder`]) wrote, trailing spaces cut.
pub fn recorded(record: &Path) -> Vec<String> {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .map(|line| line.trim_end().to_owned())
        .collect()
}

/// Process ids of fwatchdog processes whose parent is `parent`.
pub fn replica_pids(parent: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ppid: u32 = fields.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        // Sandboxed, the watchdog is faasd's great-grandchild: faasd -> bwrap -> bwrap's
        // init -> fwatchdog.
        let below = ppid == parent || {
            let grandparent = parent_pid(ppid);
            grandparent == Some(parent) || grandparent.and_then(parent_pid) == Some(parent)
        };
        if below && head.ends_with("(fwatchdog") && fields.first() != Some(&"Z") {
            pids.push(pid);
        }
    }
    pids
}

/// The parent of a process.
fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Every live fwatchdog process that reads its data from `data` (by its environment, or
/// sandboxed, by the command line of the bwrap that started it).
pub fn replicas_of_data_dir(data: &Path) -> Vec<u32> {
    let needle = data.display().to_string();
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) else {
            continue;
        };
        if comm.trim() != "fwatchdog" {
            continue;
        }
        let state_ok = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, r)| !r.trim_start().starts_with('Z'))
            })
            .unwrap_or(false);
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let sandbox = parent_pid(pid)
            .and_then(|parent| std::fs::read(format!("/proc/{parent}/cmdline")).ok())
            .unwrap_or_default();
        let mentions = |bytes: &[u8]| String::from_utf8_lossy(bytes).contains(&needle);
        if state_ok && (mentions(&environ) || mentions(&sandbox)) {
            pids.push(pid);
        }
    }
    pids
}

/// A blocking GET returning the status code.
pub fn raw_status(port: u16, path: &str) -> Option<u16> {
    faas_testkit::raw_get_status(port, path)
}

/// A tar.gz function package: `files` at its root plus a `faas-package.json` with `env`.
pub fn package(files: &[(&str, &str, u32)], env: Value) -> Vec<u8> {
    package_with_manifest(files, json!({ "env": env }))
}

/// A tar.gz function package: `files` at its root plus `manifest` as its `faas-package.json`.
pub fn package_with_manifest(files: &[(&str, &str, u32)], manifest: Value) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    let config = serde_json::to_vec(&manifest).expect("json");
    let mut all: Vec<(&str, &[u8], u32)> = vec![("faas-package.json", &config, 0o644)];
    all.extend(files.iter().map(|(n, c, m)| (*n, c.as_bytes(), *m)));
    for (name, content, mode) in all {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        builder
            .append_data(&mut header, name, content)
            .expect("append");
    }
    builder
        .into_inner()
        .and_then(|gz| gz.finish())
        .expect("finish package")
}

impl Faasd {
    /// The gateway's `/metrics` text.
    pub async fn metrics_text(&self) -> String {
        let response = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(response.status(), 200, "GET /metrics");
        response.text().await.expect("metrics text")
    }

    /// The value of the sample that starts with `series` (name and labels exactly as
    /// exposed), or `None` when absent.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        metric_value(&self.metrics_text().await, series)
    }

    /// `POST /system/scale-function/{name}`.
    pub async fn scale(&self, name: &str, replicas: u64) {
        let response = self
            .api(
                reqwest::Method::POST,
                &format!("/system/scale-function/{name}"),
            )
            .json(&json!({"serviceName": name, "replicas": replicas}))
            .send()
            .await
            .expect("scale");
        assert_eq!(response.status(), 202, "scale {name} to {replicas}");
    }

    /// (`replicas`, `availableReplicas`) of a function.
    pub async fn replicas(&self, name: &str) -> (u64, u64) {
        let status = self.status(name).await.expect("function status");
        (
            status["replicas"].as_u64().unwrap_or(0),
            status["availableReplicas"].as_u64().unwrap_or(0),
        )
    }

    /// Waits up to `limit` until `check` holds for the function's (replicas, available);
    /// returns how long it took.
    pub async fn wait_for_replicas(
        &self,
        name: &str,
        limit: Duration,
        what: &str,
        check: impl Fn(u64, u64) -> bool,
    ) -> Duration {
        let started = Instant::now();
        loop {
            let (replicas, available) = self.replicas(name).await;
            if check(replicas, available) {
                return started.elapsed();
            }
            if started.elapsed() > limit {
                panic!(
                    "{name}: {what} not reached within {limit:?} (replicas {replicas}, available {available})\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The value of the first exposition line that starts with `series` followed by a space.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}

/// A real Prometheus (scripts/prometheus.sh) scraping one faasd every second; stopped on drop.
pub struct Prometheus {
    pub url: String,
    dir: tempfile::TempDir,
    client: reqwest::Client,
}

fn prometheus_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/prometheus.sh")
}

impl Prometheus {
    /// Starts Prometheus scraping `127.0.0.1:{port}/metrics`. Panics with the script's
    /// message when Prometheus cannot be installed or started: such a test must fail.
    pub fn start(port: u16) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let output = Command::new("bash")
            .arg(prometheus_script())
            .arg("start")
            .arg(format!("127.0.0.1:{port}"))
            .arg(dir.path())
            .stderr(Stdio::piped())
            .output()
            .expect("run scripts/prometheus.sh");
        if !output.status.success() {
            panic!(
                "PROMETHEUS IS NOT AVAILABLE: scripts/prometheus.sh start failed ({}):\n{}\n\
                 install it with `apt-get install prometheus` (scripts/test.sh does)",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let url = String::from_utf8_lossy(&output.stdout).trim().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "odd URL {url:?}");
        Prometheus {
            url,
            dir,
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
        }
    }

    /// The instant query's result vector (`data.result`).
    pub async fn query(&self, promql: &str) -> Vec<Value> {
        let response = self
            .client
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", promql)])
            .send()
            .await
            .expect("query prometheus");
        let body: Value = response.json().await.expect("prometheus JSON");
        assert_eq!(body["status"], "success", "{body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(prometheus_script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
