//! Harness for the process backend's tests: a provider on a temporary data directory running
//! the real `fwatchdog` built from this workspace, a loopback HTTP client, and package
//! builders.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use faas_provider::{Provider, ReplicaAddress, ReplicaRoute};
use faas_provider_process::{ProcessConfig, ProcessProvider, SandboxConfig};
use faas_types::FunctionDeployment;
use tempfile::TempDir;

/// The `fwatchdog` binary of this workspace, built once if missing.
pub fn watchdog_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|t| {
                if t.is_absolute() {
                    t
                } else {
                    workspace.join(t)
                }
            })
            .unwrap_or_else(|| workspace.join("target"));
        let path = target.join("debug").join("fwatchdog");
        if !path.is_file() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args(["build", "-p", "faas-watchdog", "--bin", "fwatchdog"])
                .current_dir(&workspace)
                .status()
                .expect("run cargo build for fwatchdog");
            assert!(status.success(), "building fwatchdog failed");
        }
        assert!(path.is_file(), "fwatchdog not found at {}", path.display());
        path
    })
    .clone()
}

/// A Python 3 interpreter (the system one when present: it starts faster than a shim).
pub fn python3() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

pub fn config(data_dir: &Path) -> ProcessConfig {
    ProcessConfig {
        data_dir: data_dir.to_path_buf(),
        watchdog_path: watchdog_path(),
        max_replicas: 10,
        ready_timeout: Duration::from_secs(10),
        log_max_bytes: 1 << 20,
        package_grace: Duration::from_secs(60),
        sandbox: SandboxConfig::default(),
    }
}

/// A provider on its own data directory.
pub struct Harness {
    pub provider: Arc<ProcessProvider>,
    pub dir: TempDir,
    pub client: reqwest::Client,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ProcessConfig)) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = config(dir.path());
        adjust(&mut config);
        let provider = ProcessProvider::open(config).await.expect("open provider");
        Harness {
            provider,
            dir,
            client: client(),
        }
    }

    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    /// Waits until the function has exactly `n` ready replicas.
    pub async fn wait_ready(&self, name: &str, n: usize) -> Vec<ReplicaRoute> {
        wait_ready(&self.provider, "openfaas-fn", name, n).await
    }

    pub async fn call(&self, address: &ReplicaAddress, body: &str) -> (u16, String) {
        call(&self.client, address, body).await
    }

    /// Calls the function's first ready replica.
    pub async fn call_function(&self, name: &str, body: &str) -> (u16, String) {
        let endpoints = self.wait_ready_at_least(name, 1).await;
        self.call(&endpoints[0].address, body).await
    }

    pub async fn wait_ready_at_least(&self, name: &str, n: usize) -> Vec<ReplicaRoute> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let endpoints = self
                .provider
                .routes("openfaas-fn", name)
                .await
                .expect("endpoints");
            if endpoints.len() >= n {
                return endpoints;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never had {n} ready replicas"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The function's log as text.
    pub async fn log_text(&self, name: &str) -> String {
        use futures_util::StreamExt;
        let request = faas_types::LogRequest {
            name: name.into(),
            ..Default::default()
        };
        let stream = self.provider.logs(request).await.expect("logs");
        let lines: Vec<String> = stream
            .map(|m| format!("{} {}", m.instance, m.text))
            .collect()
            .await;
        lines.join("\n")
    }

    pub async fn stop(self) {
        self.provider.shutdown().await;
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

pub async fn wait_ready(
    provider: &ProcessProvider,
    namespace: &str,
    name: &str,
    n: usize,
) -> Vec<ReplicaRoute> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let endpoints = provider.routes(namespace, name).await.expect("endpoints");
        if endpoints.len() == n {
            return endpoints;
        }
        if Instant::now() > deadline {
            let replicas = provider.replicas(namespace, name);
            panic!(
                "{name} has {} ready replicas, not {n}: {replicas:?}",
                endpoints.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// POSTs `body` to a replica over TCP or its Unix socket: the status and the answer.
pub async fn call(client: &reqwest::Client, address: &ReplicaAddress, body: &str) -> (u16, String) {
    try_call_with(client, address, body)
        .await
        .unwrap_or_else(|e| panic!("call {address}: {e}"))
}

/// POSTs an empty body; a failed connection or exchange is an `Err`.
pub async fn try_call(
    client: &reqwest::Client,
    address: &ReplicaAddress,
) -> Result<(u16, String), String> {
    try_call_with(client, address, "").await
}

pub async fn try_call_with(
    client: &reqwest::Client,
    address: &ReplicaAddress,
    body: &str,
) -> Result<(u16, String), String> {
    match address {
        ReplicaAddress::Tcp(address) => {
            let response = client
                .post(format!("http://{address}/"))
                .body(body.to_owned())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            Ok((status, response.text().await.unwrap_or_default()))
        }
        ReplicaAddress::Unix(path) => call_unix(path, body).await,
    }
}

/// One HTTP/1.1 POST over the Unix socket at `path`.
pub async fn call_unix(path: &Path, body: &str) -> Result<(u16, String), String> {
    use http_body_util::{BodyExt, Full};
    let stream = faas_provider::address::connect_unix(path)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = hyper::Request::post("/")
        .header("host", "localhost")
        .body(Full::new(Bytes::from(body.to_owned())))
        .map_err(|e| e.to_string())?;
    let call = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    };
    tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .map_err(|_| "no answer within 10s".to_owned())?
}

/// A deployment of `image` with `envProcess`.
pub fn deployment(name: &str, image: &str, process: Option<&str>) -> FunctionDeployment {
    FunctionDeployment {
        service: name.into(),
        image: image.into(),
        env_process: process.map(str::to_owned),
        ..Default::default()
    }
}

/// A host-image deployment running `process`.
pub fn host_function(name: &str, process: &str) -> FunctionDeployment {
    deployment(name, "functions/alpine:latest", Some(process))
}

pub fn with_min_replicas(mut deployment: FunctionDeployment, n: u64) -> FunctionDeployment {
    deployment
        .labels
        .get_or_insert_with(Default::default)
        .insert("com.openfaas.scale.min".into(), n.to_string());
    deployment
}

/// A tar.gz of `(path, mode, content)` files.
pub fn package(files: &[(&str, u32, &[u8])]) -> Bytes {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, mode, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(*mode);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, *content)
            .expect("append to tar");
    }
    let tar = builder.into_inner().expect("finish tar");
    gzip(&tar)
}

pub fn gzip(bytes: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    Bytes::from(encoder.finish().expect("gzip"))
}

/// Waits for `check` to hold, polling.
pub async fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[allow(unused_imports)]
pub use faas_testkit::process_alive;

pub fn sigkill(pid: u32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}
