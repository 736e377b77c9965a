//! The gateway's settings, built once by whoever starts it (`faasd`, or a test).

use std::time::Duration;

use faas_types::VersionInfo;

/// A user name and password for HTTP basic auth on `/system/*`.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    /// The user name, e.g. `admin`.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Everything the gateway needs to know besides its provider.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Basic auth for `/system/*`; `None` turns auth off.
    pub auth: Option<BasicCredentials>,
    /// How long a function call may wait for the response headers of its replica (then 504).
    pub upstream_timeout: Duration,
    /// How long a call waits for a ready replica when the function wants replicas but none is
    /// ready yet (just deployed, restarting), before 503.
    pub ready_wait: Duration,
    /// Largest JSON body accepted on `/system/*` (413 above it).
    pub max_json_bytes: usize,
    /// Largest package upload accepted on `/system/packages/{name}` (413 above it).
    pub max_package_bytes: usize,
    /// Most bytes a package's tar stream may decompress to (413 above it).
    pub max_package_unpacked_bytes: u64,
    /// Most decompressed bytes per uploaded byte, past the first MiB (413 above it).
    pub max_package_ratio: u64,
    /// The gateway's own version for `/system/info` (`sha` must not be empty).
    pub version: VersionInfo,
    /// Serve Prometheus metrics on `/metrics` and record them on every call. Off saves the
    /// per-call metric updates (the autoscaler's own counters stay on); `/metrics` is then 404.
    pub metrics: bool,
    /// Keep a short in-memory history per function for the portal's charts
    /// (`/system/metrics/history`); off saves two atomic adds per call and a sampler task.
    pub history: bool,
    /// A Prometheus that scrapes this gateway (`http://host:port`): the portal's charts can
    /// read from it (`source=prometheus`) instead of the in-memory history.
    pub prometheus_url: Option<String>,
    /// How long a call to a function at zero replicas is held while one replica starts, before
    /// 503 (the function stays scaled up).
    pub cold_start_timeout: Duration,
    /// How long the proxy reuses a function's list of ready replicas before asking the
    /// provider again. Zero asks on every call. Keep it well under the replicas' drain time
    /// (the process provider's `healthcheck_interval`, 1 s): a replica taken out of the list
    /// keeps answering for that long.
    pub endpoint_cache_ttl: Duration,
    /// How long a keep-alive connection to a replica may stay idle before the gateway closes
    /// it (it goes between this and 1.25 times this). Zero keeps idle connections until their
    /// replica closes them or goes away.
    pub idle_connection_timeout: Duration,
    /// The autoscaler's settings (it runs only when started, see
    /// [`Gateway::start_autoscaler`](crate::Gateway::start_autoscaler)).
    pub autoscaler: AutoscalerConfig,
}

/// How often and over what windows the autoscaler looks at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoscalerConfig {
    /// Time between two looks at every function.
    pub interval: Duration,
    /// The sliding window load is averaged over (requests per second, calls in flight).
    pub load_window: Duration,
    /// How long load must stay low before replicas are removed: the highest replica count
    /// recommended within this window wins, so brief dips do not scale down. A function's
    /// `com.openfaas.scale.down.window` label overrides it.
    pub scale_down_window: Duration,
}

impl Default for AutoscalerConfig {
    /// Every second, load over 5 s, scale down after 30 s of lower load.
    fn default() -> Self {
        AutoscalerConfig {
            interval: Duration::from_secs(1),
            load_window: Duration::from_secs(5),
            scale_down_window: Duration::from_secs(30),
        }
    }
}

impl Default for GatewayConfig {
    /// Auth off, 60 s upstream timeout, 5 s ready wait, 1 MiB JSON, 512 MiB packages
    /// unpacking to at most 2 GiB and 100 times their size,
    /// metrics and history on, 30 s cold-start timeout, 100 ms endpoint cache, idle connections closed
    /// after 90 s (as Go's default HTTP transport does), autoscaler defaults.
    fn default() -> Self {
        GatewayConfig {
            auth: None,
            upstream_timeout: Duration::from_secs(60),
            ready_wait: Duration::from_secs(5),
            max_json_bytes: 1 << 20,
            max_package_bytes: 512 << 20,
            max_package_unpacked_bytes: 2 << 30,
            max_package_ratio: 100,
            version: VersionInfo {
                commit_message: String::new(),
                sha: "unknown".to_owned(),
                release: env!("CARGO_PKG_VERSION").to_owned(),
            },
            metrics: true,
            history: true,
            prometheus_url: None,
            cold_start_timeout: Duration::from_secs(30),
            endpoint_cache_ttl: Duration::from_millis(100),
            idle_connection_timeout: Duration::from_secs(90),
            autoscaler: AutoscalerConfig::default(),
        }
    }
}
