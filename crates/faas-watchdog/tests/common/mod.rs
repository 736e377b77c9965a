//! A small harness that starts the real `fwatchdog` binary on free loopback ports, each in its
//! own temporary directory (its lock file and log live there).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub const BINARY: &str = env!("CARGO_BIN_EXE_fwatchdog");

#[allow(unused_imports)]
pub use faas_testkit::free_port;

/// The directory with test fixtures (small programs the tests run as functions).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A running watchdog; killed when dropped.
pub struct Watchdog {
    child: Option<Child>,
    pub port: u16,
    pub metrics_port: u16,
    pub dir: TempDir,
}

impl Watchdog {
    /// Starts a watchdog with `vars` and waits until `/_/health` answers 200. The ports are
    /// picked free but released before the watchdog binds them, so another process can take
    /// one in between when many tests run at once: a watchdog that exits saying it cannot
    /// listen is started again on other ports.
    pub fn start(vars: &[(&str, &str)]) -> Watchdog {
        for _ in 0..5 {
            let mut watchdog = Watchdog::spawn(vars);
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if health_status(watchdog.port) == Some(200) {
                    return watchdog;
                }
                let exited = watchdog
                    .child
                    .as_mut()
                    .is_some_and(|child| matches!(child.try_wait(), Ok(Some(_))));
                if exited {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if !watchdog.logs().contains("cannot listen on") {
                panic!("watchdog never became healthy; log:\n{}", watchdog.logs());
            }
        }
        panic!("no free ports for a watchdog after 5 tries");
    }

    /// Starts a watchdog without waiting for it.
    pub fn spawn(vars: &[(&str, &str)]) -> Watchdog {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let metrics_port = free_port();
        let log = std::fs::File::create(dir.path().join("watchdog.log")).expect("log file");
        let mut command = Command::new(BINARY);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("bind_address", "127.0.0.1")
            .env("port", port.to_string())
            .env("metrics_port", metrics_port.to_string())
            .env("TMPDIR", dir.path())
            .env("healthcheck_interval", "200ms")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        for (name, value) in vars {
            command.env(name, value);
        }
        let child = command.spawn().expect("start fwatchdog");
        Watchdog {
            child: Some(child),
            port,
            metrics_port,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("watchdog.log")).unwrap_or_default()
    }

    /// The log once it contains `needle`: the watchdog writes its log lines in batches at most
    /// 10 ms apart, so a line may land a little after the call it is about. Panics, showing
    /// the log, when the line has not appeared within 5 s.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let logs = self.logs();
            if logs.contains(needle) {
                return logs;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "log never showed {needle:?}:\n{logs}"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    pub fn lock_file(&self) -> PathBuf {
        self.dir.path().join(".lock")
    }

    /// Polls `/_/health` until it answers 200.
    pub fn wait_healthy(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if health_status(self.port) == Some(200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("watchdog never became healthy; log:\n{}", self.logs());
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let _ = nix_kill(self.pid(), "TERM");
    }

    /// Waits for the process to exit and returns its exit code.
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

    /// Peak resident memory of the watchdog so far, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }
}

impl Drop for Watchdog {
    /// Kills the watchdog and the process groups of its children (an http-mode `fprocess`
    /// runs in a group of its own and would outlive a killed watchdog).
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let groups = children_of(child.id());
            let _ = child.kill();
            let _ = child.wait();
            for group in groups {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(group),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

/// The processes whose parent is `pid`, from `/proc`.
fn children_of(pid: u32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let child: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // Fields after the command (which may hold spaces): state, ppid, ...
            let (_, rest) = stat.rsplit_once(')')?;
            let parent: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            (parent == pid).then_some(child)
        })
        .collect()
}

/// Reads one `kB` figure from `/proc/PID/status`.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn nix_kill(pid: u32, signal: &str) -> std::io::Result<()> {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .map(|_| ())
}

#[allow(unused_imports)]
pub use faas_testkit::process_alive;

/// A blocking GET of `/_/health`, returning the status.
pub fn health_status(port: u16) -> Option<u16> {
    raw_get(port, "/_/health")
}

/// A blocking GET returning the status.
pub fn raw_get(port: u16, path: &str) -> Option<u16> {
    faas_testkit::raw_get_status(port, path)
}

/// The byte at position `i` of the test pattern, so that large bodies can be checked as they
/// stream without keeping a copy.
pub fn pattern_byte(i: usize) -> u8 {
    ((i.wrapping_mul(31)) ^ (i >> 9)) as u8
}

pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(pattern_byte).collect()
}

/// Reads a response body as it streams, checking it against the pattern; returns its length.
pub async fn check_pattern_stream(response: reqwest::Response) -> usize {
    let mut response = response;
    let mut seen = 0usize;
    while let Some(chunk) = response.chunk().await.expect("read body chunk") {
        for (offset, byte) in chunk.iter().enumerate() {
            assert_eq!(*byte, pattern_byte(seen + offset), "byte {}", seen + offset);
        }
        seen += chunk.len();
    }
    seen
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// Sends a request and reads its whole answer as text; panics if either fails.
pub trait TextBody {
    async fn text_body(self) -> String;
}

impl TextBody for reqwest::RequestBuilder {
    async fn text_body(self) -> String {
        self.send()
            .await
            .expect("the request was answered")
            .text()
            .await
            .expect("the answer's body was read")
    }
}
