//! faasd's configuration: flags, then environment variables, then an optional TOML file, then
//! defaults, read once into [`Config`].

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use faas_provider_process::{parse_uid_range, SandboxConfig};
use serde::Deserialize;

use crate::limits::{LimitArgs, Limits, LimitsFile};

/// Command-line flags; each also reads its environment variable.
#[derive(Debug, Parser)]
#[command(
    name = "faasd",
    version,
    about = "rustfaas server: OpenFaaS-compatible gateway and process provider in one process"
)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "FAASD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Where functions, packages, secrets and logs are kept.
    #[arg(long, env = "FAASD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The durable queue for /async-function: `embedded` (default) or `nats`.
    #[arg(long, env = "FAASD_QUEUE")]
    pub queue: Option<String>,
    /// NATS server for `--queue nats`, e.g. nats://127.0.0.1:4222.
    #[arg(long, env = "FAASD_NATS_URL")]
    pub nats_url: Option<String>,
    /// Run the queue worker (true by default; false only accepts and stores calls).
    #[arg(long, env = "FAASD_QUEUE_WORKER")]
    pub queue_worker: Option<bool>,
    /// Asynchronous calls the worker runs at once, per queue.
    #[arg(long, env = "FAASD_QUEUE_MAX_INFLIGHT")]
    pub queue_max_inflight: Option<usize>,
    /// Attempts per asynchronous call before it is dead-lettered.
    #[arg(long, env = "FAASD_QUEUE_RETRY_ATTEMPTS")]
    pub queue_retry_attempts: Option<u32>,
    /// First wait between attempts (doubling up to --queue-retry-max-wait).
    #[arg(long, env = "FAASD_QUEUE_RETRY_MIN_WAIT")]
    pub queue_retry_min_wait: Option<String>,
    /// Longest wait between attempts.
    #[arg(long, env = "FAASD_QUEUE_RETRY_MAX_WAIT")]
    pub queue_retry_max_wait: Option<String>,
    /// A TOML file with any of these settings (flags and environment win over it).
    #[arg(long, env = "FAASD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Basic auth on /system/* (true by default).
    #[arg(long, env = "FAASD_AUTH")]
    pub auth: Option<bool>,
    /// Which provider runs replicas: `process` (the embedded default), `kubernetes` (the
    /// cluster of the in-cluster config or KUBECONFIG; built with `--features kubernetes`) or
    /// `docker` (Docker Engine or Podman; built with `--features docker`).
    #[arg(long, env = "FAASD_PROVIDER")]
    pub provider: Option<String>,
    /// With `--provider kubernetes`: reconcile Function objects (openfaas.com/v1), and write
    /// them on deploy, update and delete.
    #[arg(long, env = "FAASD_OPERATOR")]
    pub operator: Option<bool>,
    /// The Docker Engine for `--provider docker` (default: the local socket).
    #[arg(long, env = "DOCKER_HOST")]
    pub docker_host: Option<String>,
    /// When `--provider docker` pulls images: `always`, `missing` (default) or `never`.
    #[arg(long, env = "FAASD_IMAGE_PULL")]
    pub image_pull: Option<String>,
    /// With `--provider docker`: the Docker `config.json` whose `auths` pulls use when a
    /// deployment has no `registryAuth` (default: `$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`, as `docker login` writes them).
    #[arg(long, env = "FAASD_DOCKER_CONFIG")]
    pub docker_config: Option<PathBuf>,
    /// With `--provider kubernetes`: `NAMESPACE/NAME` of a Lease that elects the one server
    /// replica running the autoscaler (for several replicas behind one Service).
    #[arg(long, env = "FAASD_AUTOSCALER_LEASE")]
    pub autoscaler_lease: Option<String>,
    /// The other server replicas (`host:port,host:port`): the autoscaler scales on their
    /// calls and this one's together, read from each one's `/system/scale-stats`.
    #[arg(long, env = "FAASD_AUTOSCALER_PEERS")]
    pub autoscaler_peers: Option<String>,
    /// With `--provider kubernetes`: `NAMESPACE/NAME` of the Service in front of the server
    /// replicas; its EndpointSlices list the peers (instead of `--autoscaler-peers`).
    #[arg(long, env = "FAASD_AUTOSCALER_PEERS_SERVICE")]
    pub autoscaler_peers_service: Option<String>,
    /// The fwatchdog binary replicas run (default: next to faasd, then PATH).
    #[arg(long, env = "FAASD_WATCHDOG")]
    pub watchdog: Option<PathBuf>,
    /// How long a function call may take before 504 (Go duration, e.g. 60s).
    #[arg(long, env = "FAASD_UPSTREAM_TIMEOUT")]
    pub upstream_timeout: Option<String>,
    /// How long a call waits for a replica of a function that is starting.
    #[arg(long, env = "FAASD_READY_WAIT")]
    pub ready_wait: Option<String>,
    /// Most replicas one function may have.
    #[arg(long, env = "FAASD_MAX_REPLICAS")]
    pub max_replicas: Option<u64>,
    /// How long SIGTERM waits for in-flight calls.
    #[arg(long, env = "FAASD_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Option<String>,
    /// Prometheus metrics on /metrics (true by default).
    #[arg(long, env = "FAASD_METRICS")]
    pub metrics: Option<bool>,
    /// The per-function history behind the portal's charts (true by default).
    #[arg(long, env = "FAASD_HISTORY")]
    pub history: Option<bool>,
    /// A Prometheus scraping this gateway (http://host:port): the portal's charts can read
    /// from it instead of the in-memory history.
    #[arg(long, env = "FAASD_PROMETHEUS_URL")]
    pub prometheus_url: Option<String>,
    /// How long a call to a function at zero replicas waits for one to start.
    #[arg(long, env = "FAASD_COLD_START_TIMEOUT")]
    pub cold_start_timeout: Option<String>,
    /// How often the autoscaler looks at load (0s turns it off).
    #[arg(long, env = "FAASD_AUTOSCALE_INTERVAL")]
    pub autoscale_interval: Option<String>,
    /// The window the autoscaler averages load over.
    #[arg(long, env = "FAASD_LOAD_WINDOW")]
    pub load_window: Option<String>,
    /// How long load must stay low before replicas are removed (a function's
    /// `com.openfaas.scale.down.window` label overrides it).
    #[arg(long, env = "FAASD_SCALE_DOWN_WINDOW")]
    pub scale_down_window: Option<String>,
    /// Keep-alive connections to replicas unused this long are closed (0s keeps them).
    #[arg(long, env = "FAASD_IDLE_CONNECTION_TIMEOUT")]
    pub idle_connection_timeout: Option<String>,
    /// Run the cron connector: functions annotated `topic: cron-function` are called on their
    /// `schedule` (true by default).
    #[arg(long, env = "FAASD_CRON")]
    pub cron: Option<bool>,
    /// How often the connectors read the list of functions again.
    #[arg(long, env = "FAASD_CONNECTOR_REBUILD_INTERVAL")]
    pub connector_rebuild_interval: Option<String>,
    /// Connectors call functions through /async-function/ (queued, answered 202 at once)
    /// instead of waiting for each answer.
    #[arg(long, env = "FAASD_CONNECTOR_ASYNC")]
    pub connector_async: Option<bool>,
    /// Run the NATS connector against this server (nats://host:port): a message on one of
    /// `--nats-connector-topics` calls the functions whose `topic` names its subject.
    #[arg(long, env = "FAASD_NATS_CONNECTOR_URL")]
    pub nats_connector_url: Option<String>,
    /// The subjects the NATS connector subscribes to, comma-separated.
    #[arg(long, env = "FAASD_NATS_CONNECTOR_TOPICS")]
    pub nats_connector_topics: Option<String>,
    /// Run the MQTT connector against this broker (tcp://host:port): a message on one of
    /// `--mqtt-connector-topics` calls the functions whose `topic` names its topic.
    #[arg(long, env = "FAASD_MQTT_CONNECTOR_URL")]
    pub mqtt_connector_url: Option<String>,
    /// The topics (or filters, with + and #) the MQTT connector subscribes to, comma-separated.
    #[arg(long, env = "FAASD_MQTT_CONNECTOR_TOPICS")]
    pub mqtt_connector_topics: Option<String>,
    /// Threads that serve calls and run the platform. 1 runs it all on one thread (the least
    /// CPU per proxied call: no wake-ups across threads); 0, the default, takes half the cores,
    /// at least one, leaving the rest to the functions' replicas.
    #[arg(long, env = "FAASD_THREADS")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Confine each replica (own uid, mount/PID namespaces, limits): `auto` (default: all the
    /// host allows, saying what is missing), `required` (refuse to start without all of it),
    /// `off`.
    #[arg(long, env = "FAASD_SANDBOX")]
    pub sandbox: Option<String>,
    /// As root: the uids (and gids) handed to functions, one each, e.g. 200000-265535.
    #[arg(long, env = "FAASD_SANDBOX_UIDS")]
    pub sandbox_uids: Option<String>,
    /// Most processes (and threads) one replica may have.
    #[arg(long, env = "FAASD_SANDBOX_MAX_PIDS")]
    pub sandbox_max_pids: Option<u64>,
    /// Most open files per replica process.
    #[arg(long, env = "FAASD_SANDBOX_MAX_OPEN_FILES")]
    pub sandbox_max_open_files: Option<u64>,
    /// The bubblewrap binary (default: bwrap in /usr/bin, /bin or PATH).
    #[arg(long, env = "FAASD_SANDBOX_BWRAP")]
    pub sandbox_bwrap: Option<PathBuf>,
    /// Sandboxed replicas listen on a loopback TCP port instead of a Unix socket in their run
    /// directory (false by default; without the sandbox they always listen on TCP).
    #[arg(long, env = "FAASD_SANDBOX_TCP")]
    pub sandbox_tcp: Option<bool>,
}

/// The same settings as a TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub queue: Option<String>,
    pub nats_url: Option<String>,
    pub queue_worker: Option<bool>,
    pub queue_max_inflight: Option<usize>,
    pub queue_retry_attempts: Option<u32>,
    pub queue_retry_min_wait: Option<String>,
    pub queue_retry_max_wait: Option<String>,
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub auth: Option<bool>,
    pub provider: Option<String>,
    pub operator: Option<bool>,
    pub docker_host: Option<String>,
    pub image_pull: Option<String>,
    pub docker_config: Option<PathBuf>,
    pub autoscaler_lease: Option<String>,
    pub autoscaler_peers: Option<String>,
    pub autoscaler_peers_service: Option<String>,
    pub watchdog: Option<PathBuf>,
    pub upstream_timeout: Option<String>,
    pub ready_wait: Option<String>,
    pub max_replicas: Option<u64>,
    pub shutdown_timeout: Option<String>,
    pub metrics: Option<bool>,
    pub history: Option<bool>,
    pub prometheus_url: Option<String>,
    pub cold_start_timeout: Option<String>,
    pub autoscale_interval: Option<String>,
    pub load_window: Option<String>,
    pub scale_down_window: Option<String>,
    pub idle_connection_timeout: Option<String>,
    pub cron: Option<bool>,
    pub connector_rebuild_interval: Option<String>,
    pub connector_async: Option<bool>,
    pub nats_connector_url: Option<String>,
    pub nats_connector_topics: Option<String>,
    pub mqtt_connector_url: Option<String>,
    pub mqtt_connector_topics: Option<String>,
    pub threads: Option<usize>,
    pub limits: Option<LimitsFile>,
    pub sandbox: Option<String>,
    pub sandbox_uids: Option<String>,
    pub sandbox_max_pids: Option<u64>,
    pub sandbox_max_open_files: Option<u64>,
    pub sandbox_bwrap: Option<PathBuf>,
    pub sandbox_tcp: Option<bool>,
}

/// Everything faasd needs, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub queue: QueueChoice,
    pub queue_worker: bool,
    pub queue_max_inflight: usize,
    pub queue_retry_attempts: u32,
    pub queue_retry_min_wait: Duration,
    pub queue_retry_max_wait: Duration,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub auth: bool,
    /// What runs the replicas.
    pub provider: ProviderChoice,
    /// The fwatchdog binary the process provider runs (empty for other providers).
    pub watchdog: PathBuf,
    pub upstream_timeout: Duration,
    pub ready_wait: Duration,
    pub max_replicas: u64,
    pub shutdown_timeout: Duration,
    pub metrics: bool,
    pub history: bool,
    pub prometheus_url: Option<String>,
    /// Where the autoscaler finds the other server replicas' load.
    pub autoscaler_peers: AutoscalerPeers,
    pub cold_start_timeout: Duration,
    pub autoscale_interval: Duration,
    pub load_window: Duration,
    pub scale_down_window: Duration,
    pub idle_connection_timeout: Duration,
    pub cron: bool,
    pub connector_rebuild_interval: Duration,
    pub connector_async: bool,
    /// The NATS connector's server and subjects, when it runs.
    pub nats_connector: Option<(String, Vec<String>)>,
    /// The MQTT connector's broker and topics, when it runs.
    pub mqtt_connector: Option<(String, Vec<String>)>,
    /// Runtime threads, at least one (1: a single-threaded runtime).
    pub threads: usize,
    /// The listener's timeouts and connection cap.
    pub limits: Limits,
    /// How the process provider confines replicas.
    pub sandbox: SandboxConfig,
}

/// Which queue backend holds asynchronous calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueChoice {
    /// On disk under the data directory.
    Embedded,
    /// NATS JetStream at this URL.
    Nats(String),
}

/// Which backend runs function replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderChoice {
    /// `fwatchdog` child processes (the embedded default).
    Process,
    /// Deployments and Services on a Kubernetes cluster; `operator`: Function objects too;
    /// `autoscaler_lease`: the Lease (namespace, name) electing the replica that autoscales.
    Kubernetes {
        operator: bool,
        autoscaler_lease: Option<(String, String)>,
    },
    /// Containers on a Docker Engine (`host` as in `DOCKER_HOST`, `None`: the local socket),
    /// images pulled `always`, when `missing`, or `never`.
    Docker {
        host: Option<String>,
        image_pull: String,
        /// The Docker config.json with registry credentials (`None`: Docker's default).
        docker_config: Option<PathBuf>,
    },
}

/// The other server replicas whose calls the autoscaler counts with this one's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoscalerPeers {
    /// None: this replica's calls only.
    None,
    /// A fixed list (`--autoscaler-peers`).
    Fixed(Vec<SocketAddr>),
    /// The ready endpoints of a Service (namespace, name) (`--autoscaler-peers-service`).
    Service(String, String),
}

/// `NAMESPACE/NAME`, both non-empty.
fn namespaced(text: &str) -> Option<(String, String)> {
    match text.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Some((ns.to_owned(), name.to_owned()))
        }
        _ => None,
    }
}

/// A setting that cannot be used; the text names it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    ParseFile { path: String, message: String },
    #[error("{name}={value:?} is not a duration (use Go syntax such as 30s, 1m, 500ms)")]
    BadDuration { name: &'static str, value: String },
    #[error("provider {0:?} is not known (use process, kubernetes or docker)")]
    UnknownProvider(String),
    #[error("--operator and --autoscaler-lease need --provider kubernetes")]
    OperatorWithoutKubernetes,
    #[error("image_pull={0:?} is not known: use always, missing or never")]
    BadImagePull(String),
    #[error("--autoscaler-lease {0:?} is not NAMESPACE/NAME")]
    BadLease(String),
    #[error("--autoscaler-peers {0:?} is not a comma-separated list of host:port (e.g. 10.0.0.5:8080,10.0.0.6:8080)")]
    BadPeers(String),
    #[error("--autoscaler-peers-service {0:?} is not NAMESPACE/NAME")]
    BadPeersService(String),
    #[error("--autoscaler-peers-service needs --provider kubernetes")]
    PeersServiceWithoutKubernetes,
    #[error("give --autoscaler-peers or --autoscaler-peers-service, not both")]
    TwoPeerLists,
    #[error("queue {0:?} is not known: use embedded or nats")]
    UnknownQueue(String),
    #[error("--queue nats needs --nats-url (FAASD_NATS_URL)")]
    NoNatsUrl,
    #[error("{0} names no topic: give a comma-separated list such as orders,payments")]
    NoTopics(&'static str),
    #[error("prometheus_url={0:?} is not an http://host:port URL")]
    BadPrometheusUrl(String),
    #[error("{0}")]
    Sandbox(String),
    #[error("cannot find the fwatchdog binary next to faasd or on PATH; build it with `cargo build -p faas-watchdog` or set FAASD_WATCHDOG")]
    NoWatchdog,
}

/// An `http://` URL with a host, without its trailing `/`; empty means none.
fn prometheus_url(value: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let trimmed = value.trim().trim_end_matches('/');
    match trimmed.parse::<axum::http::Uri>() {
        Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => {
            Ok(Some(trimmed.to_owned()))
        }
        _ => Err(ConfigError::BadPrometheusUrl(value)),
    }
}

impl Config {
    /// Resolves flags/env over the optional file over defaults; `env` is where the defaults
    /// look for `HOME` (the data directory) and `PATH` (the fwatchdog binary).
    pub fn resolve(args: Args, env: &dyn Environment) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let (limit_args, s) = overlay(args, file);
        let provider = provider_choice(
            s.provider,
            s.operator.unwrap_or(false),
            s.autoscaler_lease,
            s.image_pull,
            s.docker_host,
            s.docker_config,
        )?;
        let watchdog = match (s.watchdog, &provider) {
            (Some(path), _) => path,
            (None, ProviderChoice::Process) => find_watchdog(env).ok_or(ConfigError::NoWatchdog)?,
            // Containers bring their own watchdog.
            (None, _) => PathBuf::new(),
        };
        let queue = match s.queue.as_deref().unwrap_or("embedded") {
            "embedded" => QueueChoice::Embedded,
            "nats" => QueueChoice::Nats(s.nats_url.ok_or(ConfigError::NoNatsUrl)?),
            other => return Err(ConfigError::UnknownQueue(other.to_string())),
        };
        let autoscaler_peers =
            autoscaler_peers(s.autoscaler_peers, s.autoscaler_peers_service, &provider)?;
        let secs = Duration::from_secs;
        Ok(Config {
            autoscaler_peers,
            queue,
            queue_worker: s.queue_worker.unwrap_or(true),
            queue_max_inflight: s.queue_max_inflight.unwrap_or(4).max(1),
            queue_retry_attempts: s.queue_retry_attempts.unwrap_or(10).max(1),
            queue_retry_min_wait: duration(
                "queue_retry_min_wait",
                s.queue_retry_min_wait,
                secs(10),
            )?,
            queue_retry_max_wait: duration(
                "queue_retry_max_wait",
                s.queue_retry_max_wait,
                secs(120),
            )?,
            listen: s
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: s.data_dir.unwrap_or_else(|| default_data_dir(env)),
            auth: s.auth.unwrap_or(true),
            provider,
            watchdog,
            upstream_timeout: duration("upstream_timeout", s.upstream_timeout, secs(60))?,
            ready_wait: duration("ready_wait", s.ready_wait, secs(5))?,
            max_replicas: s.max_replicas.unwrap_or(100),
            shutdown_timeout: duration("shutdown_timeout", s.shutdown_timeout, secs(30))?,
            metrics: s.metrics.unwrap_or(true),
            history: s.history.unwrap_or(true),
            prometheus_url: prometheus_url(s.prometheus_url)?,
            cold_start_timeout: duration("cold_start_timeout", s.cold_start_timeout, secs(30))?,
            autoscale_interval: duration("autoscale_interval", s.autoscale_interval, secs(1))?,
            load_window: duration("load_window", s.load_window, secs(5))?,
            scale_down_window: duration("scale_down_window", s.scale_down_window, secs(30))?,
            idle_connection_timeout: duration(
                "idle_connection_timeout",
                s.idle_connection_timeout,
                secs(90),
            )?,
            cron: s.cron.unwrap_or(true),
            connector_rebuild_interval: duration(
                "connector_rebuild_interval",
                s.connector_rebuild_interval,
                secs(5),
            )?,
            connector_async: s.connector_async.unwrap_or(false),
            nats_connector: connector(
                "nats_connector_topics",
                s.nats_connector_url,
                s.nats_connector_topics,
                "nats-test",
            )?,
            mqtt_connector: connector(
                "mqtt_connector_topics",
                s.mqtt_connector_url,
                s.mqtt_connector_topics,
                "sample-topic",
            )?,
            threads: match s.threads.unwrap_or(0) {
                0 => half_the_cores(),
                n => n,
            },
            limits: Limits::resolve(limit_args, s.limits)?,
            sandbox: sandbox_config(
                s.sandbox,
                s.sandbox_uids,
                s.sandbox_max_pids,
                s.sandbox_max_open_files,
                s.sandbox_bwrap,
                s.sandbox_tcp.unwrap_or(false),
            )?,
        })
    }
}

/// Every setting given by a flag or its environment variable, else by the file; the
/// listener limits' flags apart (they resolve over the file's `[limits]` on their own).
fn overlay(args: Args, file: FileConfig) -> (LimitArgs, FileConfig) {
    let settings = FileConfig {
        queue: args.queue.or(file.queue),
        nats_url: args.nats_url.or(file.nats_url),
        queue_worker: args.queue_worker.or(file.queue_worker),
        queue_max_inflight: args.queue_max_inflight.or(file.queue_max_inflight),
        queue_retry_attempts: args.queue_retry_attempts.or(file.queue_retry_attempts),
        queue_retry_min_wait: args.queue_retry_min_wait.or(file.queue_retry_min_wait),
        queue_retry_max_wait: args.queue_retry_max_wait.or(file.queue_retry_max_wait),
        listen: args.listen.or(file.listen),
        data_dir: args.data_dir.or(file.data_dir),
        auth: args.auth.or(file.auth),
        provider: args.provider.or(file.provider),
        operator: args.operator.or(file.operator),
        docker_host: args.docker_host.or(file.docker_host),
        image_pull: args.image_pull.or(file.image_pull),
        docker_config: args.docker_config.or(file.docker_config),
        autoscaler_lease: args.autoscaler_lease.or(file.autoscaler_lease),
        autoscaler_peers: args.autoscaler_peers.or(file.autoscaler_peers),
        autoscaler_peers_service: args
            .autoscaler_peers_service
            .or(file.autoscaler_peers_service),
        watchdog: args.watchdog.or(file.watchdog),
        upstream_timeout: args.upstream_timeout.or(file.upstream_timeout),
        ready_wait: args.ready_wait.or(file.ready_wait),
        max_replicas: args.max_replicas.or(file.max_replicas),
        shutdown_timeout: args.shutdown_timeout.or(file.shutdown_timeout),
        metrics: args.metrics.or(file.metrics),
        history: args.history.or(file.history),
        prometheus_url: args.prometheus_url.or(file.prometheus_url),
        cold_start_timeout: args.cold_start_timeout.or(file.cold_start_timeout),
        autoscale_interval: args.autoscale_interval.or(file.autoscale_interval),
        load_window: args.load_window.or(file.load_window),
        scale_down_window: args.scale_down_window.or(file.scale_down_window),
        idle_connection_timeout: args
            .idle_connection_timeout
            .or(file.idle_connection_timeout),
        cron: args.cron.or(file.cron),
        connector_rebuild_interval: args
            .connector_rebuild_interval
            .or(file.connector_rebuild_interval),
        connector_async: args.connector_async.or(file.connector_async),
        nats_connector_url: args.nats_connector_url.or(file.nats_connector_url),
        nats_connector_topics: args.nats_connector_topics.or(file.nats_connector_topics),
        mqtt_connector_url: args.mqtt_connector_url.or(file.mqtt_connector_url),
        mqtt_connector_topics: args.mqtt_connector_topics.or(file.mqtt_connector_topics),
        threads: args.threads.or(file.threads),
        sandbox: args.sandbox.or(file.sandbox),
        sandbox_uids: args.sandbox_uids.or(file.sandbox_uids),
        sandbox_max_pids: args.sandbox_max_pids.or(file.sandbox_max_pids),
        sandbox_max_open_files: args.sandbox_max_open_files.or(file.sandbox_max_open_files),
        sandbox_bwrap: args.sandbox_bwrap.or(file.sandbox_bwrap),
        sandbox_tcp: args.sandbox_tcp.or(file.sandbox_tcp),
        limits: file.limits,
    };
    (args.limits, settings)
}

/// The provider: `process` (the default), `kubernetes` with its operator and Lease, or
/// `docker` with its host and pull policy.
fn provider_choice(
    provider: Option<String>,
    operator: bool,
    lease: Option<String>,
    image_pull: Option<String>,
    docker_host: Option<String>,
    docker_config: Option<PathBuf>,
) -> Result<ProviderChoice, ConfigError> {
    let provider = provider.unwrap_or_else(|| "process".to_string());
    Ok(match provider.as_str() {
        "process" | "docker" if operator || lease.is_some() => {
            return Err(ConfigError::OperatorWithoutKubernetes)
        }
        "process" => ProviderChoice::Process,
        "kubernetes" => ProviderChoice::Kubernetes {
            operator,
            autoscaler_lease: match lease {
                None => None,
                Some(text) => Some(namespaced(&text).ok_or(ConfigError::BadLease(text))?),
            },
        },
        "docker" => {
            let image_pull = image_pull.unwrap_or_else(|| "missing".to_owned());
            if !matches!(image_pull.as_str(), "always" | "missing" | "never") {
                return Err(ConfigError::BadImagePull(image_pull));
            }
            ProviderChoice::Docker {
                host: docker_host.filter(|h| !h.is_empty()),
                image_pull,
                docker_config,
            }
        }
        _ => return Err(ConfigError::UnknownProvider(provider)),
    })
}

/// The other server replicas: none, a fixed `host:port` list, or a Kubernetes Service's.
fn autoscaler_peers(
    list: Option<String>,
    service: Option<String>,
    provider: &ProviderChoice,
) -> Result<AutoscalerPeers, ConfigError> {
    Ok(
        match (
            list.filter(|p| !p.trim().is_empty()),
            service.filter(|p| !p.trim().is_empty()),
        ) {
            (None, None) => AutoscalerPeers::None,
            (Some(_), Some(_)) => return Err(ConfigError::TwoPeerLists),
            (Some(list), None) => AutoscalerPeers::Fixed(
                list.split(',')
                    .map(|peer| peer.trim().parse::<SocketAddr>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| ConfigError::BadPeers(list.clone()))?,
            ),
            (None, Some(service)) => {
                if !matches!(provider, ProviderChoice::Kubernetes { .. }) {
                    return Err(ConfigError::PeersServiceWithoutKubernetes);
                }
                let (ns, name) =
                    namespaced(service.trim()).ok_or(ConfigError::BadPeersService(service))?;
                AutoscalerPeers::Service(ns, name)
            }
        },
    )
}

/// The sandbox settings over their defaults.
fn sandbox_config(
    mode: Option<String>,
    uids: Option<String>,
    max_pids: Option<u64>,
    max_open_files: Option<u64>,
    bwrap: Option<PathBuf>,
    tcp: bool,
) -> Result<SandboxConfig, ConfigError> {
    let mut config = SandboxConfig {
        bwrap,
        tcp,
        ..SandboxConfig::default()
    };
    if let Some(mode) = mode {
        config.mode = mode.parse().map_err(ConfigError::Sandbox)?;
    }
    if let Some(uids) = uids {
        config.uids = parse_uid_range(&uids).map_err(ConfigError::Sandbox)?;
    }
    if let Some(max) = max_pids {
        if max < 8 {
            return Err(ConfigError::Sandbox(format!(
                "sandbox_max_pids={max}: a replica needs at least 8"
            )));
        }
        config.max_pids = max;
    }
    if let Some(max) = max_open_files {
        if max < 64 {
            return Err(ConfigError::Sandbox(format!(
                "sandbox_max_open_files={max}: a replica needs at least 64"
            )));
        }
        config.max_open_files = max;
    }
    Ok(config)
}

/// Half the cores this process may run on, at least one.
fn half_the_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// A message connector's server and topics, when its URL is set: `topics` comma-separated,
/// `default_topics` (OpenFaaS's connector's default) when unset.
fn connector(
    name: &'static str,
    url: Option<String>,
    topics: Option<String>,
    default_topics: &str,
) -> Result<Option<(String, Vec<String>)>, ConfigError> {
    let Some(url) = url else {
        return Ok(None);
    };
    let topics: Vec<String> = topics
        .as_deref()
        .unwrap_or(default_topics)
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if topics.is_empty() {
        return Err(ConfigError::NoTopics(name));
    }
    Ok(Some((url, topics)))
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.display().to_string(),
        source,
    })?;
    toml::from_str(&text).map_err(|err| ConfigError::ParseFile {
        path: path.display().to_string(),
        message: err.to_string(),
    })
}

pub(crate) fn duration(
    name: &'static str,
    value: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(value) => {
            faas_types::duration::parse(&value).ok_or(ConfigError::BadDuration { name, value })
        }
    }
}

fn default_data_dir(env: &dyn Environment) -> PathBuf {
    match env.var_os("HOME") {
        Some(home) if !home.is_empty() => PathBuf::from(home).join(".rustfaas"),
        _ => PathBuf::from("/var/lib/rustfaas"),
    }
}

fn find_watchdog(env: &dyn Environment) -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("fwatchdog")))
        .filter(|path| path.is_file());
    beside.or_else(|| {
        env.var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("fwatchdog"))
                .find(|path| path.is_file())
        })
    })
}

/// Where settings read environment variables: the process's ([`ProcessEnvironment`]), or a
/// map in tests, which must not depend on the environment they happen to run in.
pub trait Environment {
    /// The variable's value, if set.
    fn var_os(&self, name: &str) -> Option<OsString>;
}

/// The process's own environment.
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var_os(&self, name: &str) -> Option<OsString> {
        std::env::var_os(name)
    }
}

impl Environment for BTreeMap<String, String> {
    fn var_os(&self, name: &str) -> Option<OsString> {
        self.get(name).map(OsString::from)
    }
}

impl Args {
    /// Parses `argv` as [`Parser::parse`] does, but reads each flag's environment variable
    /// from `env` instead of the process's: a flag on the command line wins over its variable.
    #[cfg(test)]
    pub fn parse_with_env<I>(argv: I, env: &dyn Environment) -> Result<Args, clap::Error>
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
    {
        use clap::{CommandFactory as _, FromArgMatches as _};
        let command = Args::command();
        let mut argv = argv.into_iter().map(Into::into);
        let mut all: Vec<OsString> = argv.next().into_iter().collect();
        for arg in command.get_arguments() {
            let (Some(name), Some(long)) = (arg.get_env(), arg.get_long()) else {
                continue;
            };
            if let Some(value) = name.to_str().and_then(|name| env.var_os(name)) {
                let mut flag = OsString::from(format!("--{long}="));
                flag.push(value);
                all.push(flag);
            }
        }
        // The variables come first and the command line overrides them.
        all.extend(argv);
        let matches = command
            .mut_args(|arg| arg.env(None))
            .args_override_self(true)
            .try_get_matches_from(all)?;
        Args::from_arg_matches(&matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arguments with no environment variable set.
    fn args(list: &[&str]) -> Args {
        args_env(list, &[])
    }

    fn args_env(list: &[&str], vars: &[(&str, &str)]) -> Args {
        let mut all = vec!["faasd", "--watchdog", "/bin/true"];
        all.extend_from_slice(list);
        Args::parse_with_env(all, &env(vars)).unwrap()
    }

    fn env(vars: &[(&str, &str)]) -> BTreeMap<String, String> {
        vars.iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn resolve(args: Args) -> Result<Config, ConfigError> {
        Config::resolve(args, &env(&[("HOME", "/home/faasd")]))
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("faasd.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9999\"\nupstream_timeout = \"5s\"\nauth = false\n",
        )
        .unwrap();
        let path = file.display().to_string();
        let config = resolve(args(&["--config", &path, "--listen", "127.0.0.1:7000"])).unwrap();
        assert_eq!(config.listen.port(), 7000);
        assert_eq!(config.upstream_timeout, Duration::from_secs(5));
        assert!(!config.auth);
    }

    #[test]
    fn environment_wins_over_the_file_and_flags_over_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("faasd.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9999\"\nupstream_timeout = \"5s\"\nauth = false\n\
             queue_max_inflight = 2\nmetrics = false\n\n[limits]\nmax_connections = 10\n",
        )
        .unwrap();
        let path = file.display().to_string();
        let vars = [
            ("FAASD_LISTEN", "127.0.0.1:7001"),
            ("FAASD_UPSTREAM_TIMEOUT", "7s"),
            ("FAASD_AUTH", "true"),
            ("FAASD_QUEUE_MAX_INFLIGHT", "3"),
            ("FAASD_MAX_CONNECTIONS", "20"),
        ];
        let config = resolve(args_env(&["--config", &path], &vars)).unwrap();
        assert_eq!(config.listen.port(), 7001);
        assert_eq!(config.upstream_timeout, Duration::from_secs(7));
        assert!(config.auth);
        assert_eq!(config.queue_max_inflight, 3);
        assert_eq!(config.limits.max_connections, Some(20));
        // Set only in the file: the file's value.
        assert!(!config.metrics);
        // The file named by FAASD_CONFIG is read as --config is.
        let config = resolve(args_env(&[], &[("FAASD_CONFIG", &path)])).unwrap();
        assert_eq!(config.listen.port(), 9999);
        assert_eq!(config.limits.max_connections, Some(10));
        let config = resolve(args_env(
            &[
                "--config",
                &path,
                "--listen",
                "127.0.0.1:7000",
                "--auth",
                "false",
            ],
            &vars,
        ))
        .unwrap();
        assert_eq!(config.listen.port(), 7000);
        assert!(!config.auth);
        assert_eq!(config.upstream_timeout, Duration::from_secs(7));
    }

    #[test]
    fn defaults_read_the_given_environment() {
        let config = Config::resolve(args(&[]), &env(&[("HOME", "/home/x")])).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/home/x/.rustfaas"));
        let config = Config::resolve(args(&[]), &env(&[])).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/rustfaas"));
    }

    #[test]
    fn sandbox_settings() {
        let config = resolve(args(&[])).unwrap();
        assert_eq!(config.sandbox, SandboxConfig::default());
        let config = resolve(args(&[
            "--sandbox",
            "required",
            "--sandbox-uids",
            "300000-300999",
            "--sandbox-max-pids",
            "64",
            "--sandbox-max-open-files",
            "256",
            "--sandbox-tcp",
            "true",
        ]))
        .unwrap();
        assert!(config.sandbox.tcp);
        assert_eq!(
            config.sandbox.mode,
            faas_provider_process::SandboxMode::Required
        );
        assert_eq!(config.sandbox.uids, (300_000, 300_999));
        assert_eq!(config.sandbox.max_pids, 64);
        assert_eq!(config.sandbox.max_open_files, 256);
        for bad in [
            &["--sandbox", "maybe"][..],
            &["--sandbox-uids", "0-100"],
            &["--sandbox-uids", "5"],
            &["--sandbox-max-pids", "2"],
            &["--sandbox-max-open-files", "3"],
        ] {
            let err = resolve(args(bad)).unwrap_err().to_string();
            assert!(err.contains("sandbox") || err.contains("uid"), "{err}");
        }
    }

    #[test]
    fn metrics_and_autoscaling_settings() {
        let config = resolve(args(&[])).unwrap();
        assert!(config.metrics);
        assert!(config.history);
        assert_eq!(config.cold_start_timeout, Duration::from_secs(30));
        assert_eq!(config.autoscale_interval, Duration::from_secs(1));
        let config = resolve(args(&[
            "--metrics",
            "false",
            "--history",
            "false",
            "--cold-start-timeout",
            "5s",
            "--autoscale-interval",
            "0s",
        ]))
        .unwrap();
        assert!(!config.metrics);
        assert!(!config.history);
        assert_eq!(config.prometheus_url, None);
        let with = resolve(args(&["--prometheus-url", "http://127.0.0.1:9090/"])).unwrap();
        assert_eq!(
            with.prometheus_url.as_deref(),
            Some("http://127.0.0.1:9090")
        );
        assert!(matches!(
            resolve(args(&["--prometheus-url", "ftp://x"])),
            Err(ConfigError::BadPrometheusUrl(_))
        ));
        assert_eq!(config.cold_start_timeout, Duration::from_secs(5));
        assert!(config.autoscale_interval.is_zero());
    }

    #[test]
    fn autoscaler_windows_and_idle_connections() {
        let config = resolve(args(&[])).unwrap();
        assert_eq!(config.load_window, Duration::from_secs(5));
        assert_eq!(config.scale_down_window, Duration::from_secs(30));
        assert_eq!(config.idle_connection_timeout, Duration::from_secs(90));
        let config = resolve(args(&[
            "--load-window",
            "10s",
            "--scale-down-window",
            "2m",
            "--idle-connection-timeout",
            "0s",
        ]))
        .unwrap();
        assert_eq!(config.load_window, Duration::from_secs(10));
        assert_eq!(config.scale_down_window, Duration::from_secs(120));
        assert!(config.idle_connection_timeout.is_zero());
        assert!(config.cron);
        assert_eq!(config.connector_rebuild_interval, Duration::from_secs(5));
        let config = resolve(args(&[
            "--cron",
            "false",
            "--connector-rebuild-interval",
            "1s",
        ]))
        .unwrap();
        assert!(!config.cron);
        assert_eq!(config.connector_rebuild_interval, Duration::from_secs(1));
        assert!(!config.connector_async);
        assert!(
            resolve(args(&["--connector-async", "true"]))
                .unwrap()
                .connector_async
        );
        assert_eq!(config.nats_connector, None);
        let config = resolve(args(&[
            "--nats-connector-url",
            "nats://127.0.0.1:4222",
            "--nats-connector-topics",
            "orders, payments,",
        ]))
        .unwrap();
        assert_eq!(
            config.nats_connector,
            Some((
                "nats://127.0.0.1:4222".to_owned(),
                vec!["orders".to_owned(), "payments".to_owned()]
            ))
        );
        let config = resolve(args(&[
            "--nats-connector-url",
            "nats://x:1",
            "--mqtt-connector-url",
            "tcp://y:2",
        ]))
        .unwrap();
        assert_eq!(config.nats_connector.unwrap().1, ["nats-test"]);
        assert_eq!(
            config.mqtt_connector,
            Some(("tcp://y:2".to_owned(), vec!["sample-topic".to_owned()]))
        );
        assert!(matches!(
            resolve(args(&[
                "--nats-connector-url",
                "nats://x:1",
                "--nats-connector-topics",
                " , "
            ])),
            Err(ConfigError::NoTopics("nats_connector_topics"))
        ));
        let err = resolve(args(&["--scale-down-window", "soon"])).unwrap_err();
        assert!(
            err.to_string().contains("scale_down_window=\"soon\""),
            "{err}"
        );
    }

    #[test]
    fn threads_default_to_half_the_cores() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let config = resolve(args(&[])).unwrap();
        assert_eq!(config.threads, (cores / 2).max(1));
        assert_eq!(
            resolve(args(&["--threads", "0"])).unwrap().threads,
            config.threads
        );
        assert_eq!(resolve(args(&["--threads", "3"])).unwrap().threads, 3);
        assert!(Args::parse_with_env(["faasd", "--threads", "-1"], &env(&[])).is_err());
    }

    #[test]
    fn kubernetes_provider_choice() {
        let config = resolve(args(&["--provider", "kubernetes", "--operator", "true"])).unwrap();
        assert_eq!(
            config.provider,
            ProviderChoice::Kubernetes {
                operator: true,
                autoscaler_lease: None
            }
        );
        let config = resolve(args(&[
            "--provider",
            "kubernetes",
            "--autoscaler-lease",
            "openfaas/rustfaas-autoscaler",
        ]))
        .unwrap();
        assert_eq!(
            config.provider,
            ProviderChoice::Kubernetes {
                operator: false,
                autoscaler_lease: Some(("openfaas".to_owned(), "rustfaas-autoscaler".to_owned()))
            }
        );
        let err = resolve(args(&[
            "--provider",
            "kubernetes",
            "--autoscaler-lease",
            "x",
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("NAMESPACE/NAME"), "{err}");
        let err = resolve(args(&["--operator", "true"])).unwrap_err();
        assert!(err.to_string().contains("--provider kubernetes"), "{err}");
    }

    #[test]
    fn autoscaler_peers_are_a_list_or_a_service() {
        let config = resolve(args(&[])).unwrap();
        assert_eq!(config.autoscaler_peers, AutoscalerPeers::None);
        let config = resolve(args(&[
            "--autoscaler-peers",
            "127.0.0.1:8081, 127.0.0.1:8082",
        ]))
        .unwrap();
        assert_eq!(
            config.autoscaler_peers,
            AutoscalerPeers::Fixed(vec![
                "127.0.0.1:8081".parse().unwrap(),
                "127.0.0.1:8082".parse().unwrap()
            ])
        );
        let err = resolve(args(&["--autoscaler-peers", "gateway"])).unwrap_err();
        assert!(err.to_string().contains("host:port"), "{err}");
        let config = resolve(args(&[
            "--provider",
            "kubernetes",
            "--autoscaler-peers-service",
            "openfaas/faasd",
        ]))
        .unwrap();
        assert_eq!(
            config.autoscaler_peers,
            AutoscalerPeers::Service("openfaas".to_owned(), "faasd".to_owned())
        );
        let err = resolve(args(&["--autoscaler-peers-service", "openfaas/faasd"])).unwrap_err();
        assert!(err.to_string().contains("--provider kubernetes"), "{err}");
        let err = resolve(args(&[
            "--provider",
            "kubernetes",
            "--autoscaler-peers-service",
            "faasd",
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("NAMESPACE/NAME"), "{err}");
        let err = resolve(args(&[
            "--provider",
            "kubernetes",
            "--autoscaler-peers-service",
            "openfaas/faasd",
            "--autoscaler-peers",
            "127.0.0.1:8081",
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
    }

    #[test]
    fn provider_choice() {
        assert_eq!(
            resolve(args(&[])).unwrap().provider,
            ProviderChoice::Process
        );
        let config = resolve(args(&[
            "--provider",
            "docker",
            "--docker-host",
            "unix:///tmp/d.sock",
        ]))
        .unwrap();
        assert_eq!(
            config.provider,
            ProviderChoice::Docker {
                host: Some("unix:///tmp/d.sock".to_owned()),
                image_pull: "missing".to_owned(),
                docker_config: None,
            }
        );
        let err =
            resolve(args(&["--provider", "docker", "--image-pull", "sometimes"])).unwrap_err();
        assert!(err.to_string().contains("sometimes"), "{err}");
        let err = resolve(args(&["--provider", "vm"])).unwrap_err();
        assert!(err.to_string().contains("vm"), "{err}");
    }

    #[test]
    fn errors_name_the_setting() {
        let err = resolve(args(&["--ready-wait", "soon"])).unwrap_err();
        assert!(err.to_string().contains("ready_wait"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "listne = 1\n").unwrap();
        let path = file.display().to_string();
        let err = resolve(args(&["--config", &path])).unwrap_err();
        assert!(err.to_string().contains("listne"), "{err}");
    }
}
