//! The `process` backend: the embedded default that runs each replica as an `fwatchdog`
//! child process, sandboxed, listening on a Unix socket in its run directory (on 127.0.0.1
//! without the sandbox or with [`SandboxConfig::tcp`]), with state under the server's data
//! directory.
//!
//! The way through a deploy: [`ProcessProvider::deploy`] validates the request, pins the
//! package the image names (`package.rs`) or treats the image as a host image, saves the
//! record (`records.rs`), and hands a launch spec to a `Function` (`function.rs`), which starts
//! replicas (`replica.rs`: one supervised watchdog each, in its own run directory and cgroup,
//! `cgroup.rs`), relays their output to the function log (`logs.rs`), and reports ready ones
//! to [`ProcessProvider::routes`] (and those on TCP to [`ProcessProvider::endpoints`]).
//!
//! On [`ProcessProvider::open`], replicas a previous run left behind (even after `kill -9` of
//! the server) are killed first: pid files with start times, a marker variable in every
//! replica's environment (`procfs.rs`), and this provider's cgroups all lead to them. Then
//! every function comes back at its desired replica count.
//!
//! Data directory layout: see `layout.rs`. Replica environment: see [`ProcessProvider`].

mod cgroup;
mod fsutil;
mod function;
#[doc(hidden)]
pub mod fuzzing;
mod health;
mod layout;
mod logs;
mod package;
mod procfs;
mod quantity;
mod records;
mod replica;
mod runtime;
mod sandbox;
mod secrets;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use faas_types::validate::{validate_function_name, validate_namespace, validate_secret_name};
use faas_types::{
    labels, FunctionDeployment, FunctionStatus, LogRequest, NamespaceRequest, ProviderInfo, Secret,
    VersionInfo, DEFAULT_NAMESPACE,
};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use self::cgroup::{CgroupLimits, Cgroups};
use self::function::{Function, STOP_GRACE};
use self::layout::Layout;
use self::package::{PackagePin, PackageStore, StoreState};
use self::records::{FunctionRecord, Namespaces};
use self::replica::LaunchSpec;
use self::runtime::{lock, Runtime};
use self::sandbox::Sandbox;
use self::secrets::SecretStore;
use faas_provider::ProviderError;
use faas_provider::{
    LogStream, PackageInfo, Provider, ReplicaAddress, ReplicaEndpoint, ReplicaRoute,
};

pub use self::function::{
    DIGEST_ANNOTATION, LIMITS_ANNOTATION, RESTARTS_ANNOTATION, SANDBOX_ANNOTATION,
};
pub use self::sandbox::{parse_uid_range, SandboxConfig, SandboxMode};

/// How long [`Provider::shutdown`] lets replicas drain before killing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long [`ProcessProvider::open`] waits for another server to release the data directory.
const LOCK_WAIT: Duration = Duration::from_secs(3);
/// How often CPU usage is sampled in the background (status calls sample too).
const USAGE_INTERVAL: Duration = Duration::from_secs(10);

/// Configuration of the process backend; faasd builds it from its own configuration.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// The server's data directory (already created by faasd).
    pub data_dir: PathBuf,
    /// Path of the `fwatchdog` binary.
    pub watchdog_path: PathBuf,
    /// Scale and deploy requests above this many replicas are refused (`Invalid`).
    pub max_replicas: u64,
    /// How long a starting replica may take to answer `/_/health` with 200 before it is
    /// killed and started again.
    pub ready_timeout: Duration,
    /// A function's log file is rotated beyond this size (one rotated file is kept).
    pub log_max_bytes: u64,
    /// Packages no deployment pins are deleted after this long.
    pub package_grace: Duration,
    /// How replicas are confined.
    pub sandbox: SandboxConfig,
}

/// One replica as [`ProcessProvider::replicas`] describes it (diagnostics and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaInfo {
    /// `<name>-<n>`.
    pub instance: String,
    /// Definition generation: 1 at deploy, one more per update.
    pub generation: u64,
    /// Whether it answers `/_/health` with 200 (and so is in `endpoints()`).
    pub ready: bool,
    /// The watchdog's pid while it runs.
    pub pid: Option<u32>,
    /// Where its watchdog listens (a Unix socket in its run directory, or a loopback port).
    pub address: Option<ReplicaAddress>,
    /// Times it was restarted after dying or failing to become ready.
    pub restarts: u64,
    /// Its run directory (`tmp/`, `secrets/`, `pid`).
    pub directory: PathBuf,
    /// Its cgroup directories (empty without cgroups).
    pub cgroups: Vec<PathBuf>,
}

/// The process backend.
///
/// Each replica is an `fwatchdog` started with a clean environment, later entries winning:
/// `PATH`, `LANG`/`LC_ALL` (if the server has them), `HOME=<replica dir>`,
/// `TMPDIR=<replica dir>/tmp`, `healthcheck_interval=1s`, the package's `faas-package.json`
/// env, `fprocess` from `envProcess`, the deployment's `envVars`, and then
/// `unix_socket=/run/rustfaas/listen/watchdog.sock` (sandboxed: the replica's `listen/`) or
/// `port=<free loopback port>`, `bind_address=127.0.0.1`, `metrics_port=off`,
/// `die_with_parent=true`, `secret_mount_path=<replica dir>/secrets`,
/// `secrets_bind_from=<replica dir>/secrets` (as root only), `RUSTFAAS_REPLICA=<marker>`,
/// and in http mode without an explicit `upstream_url` in `envVars`:
/// `PORT=<second free port>` and `upstream_url=http://127.0.0.1:<PORT>`.
pub struct ProcessProvider {
    runtime: Arc<Runtime>,
    functions: RwLock<BTreeMap<(String, String), Arc<Function>>>,
    namespaces: std::sync::Mutex<Namespaces>,
    packages: PackageStore,
    /// Serializes every change (deploy, update, delete, scale, secrets, namespaces).
    changes: tokio::sync::Mutex<()>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for ProcessProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessProvider")
            .field("data_dir", &self.runtime.config.data_dir)
            .field("cgroups", &self.runtime.cgroups.describe())
            .finish_non_exhaustive()
    }
}

impl ProcessProvider {
    /// Opens the state under `data_dir`: reaps replicas left by a previous run (even after
    /// `kill -9` of the server), then restores every function at its desired replica count.
    pub async fn open(mut config: ProcessConfig) -> Result<Arc<ProcessProvider>, ProviderError> {
        if !config.watchdog_path.is_file() {
            return Err(ProviderError::Internal(format!(
                "the watchdog binary {} does not exist",
                config.watchdog_path.display()
            )));
        }
        // Replicas start in other directories (and sandboxes mount it by its full path).
        if let Ok(absolute) = config.watchdog_path.canonicalize() {
            config.watchdog_path = absolute;
        }
        let data_dir = config.data_dir.canonicalize().map_err(|e| {
            ProviderError::Internal(format!(
                "cannot open the data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let layout = Layout::new(data_dir.clone());
        for dir in [
            layout.functions_dir(),
            layout.run_dir(),
            layout.logs_dir(),
            layout.packages_dir(),
        ] {
            std::fs::create_dir_all(&dir).map_err(|e| {
                ProviderError::Internal(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let lock_file = lock_data_dir(&layout).await?;
        let provider_id =
            hex::encode(&Sha256::digest(data_dir.as_os_str().as_encoded_bytes())[..6]);
        let cgroups = Cgroups::detect(&provider_id);
        tracing::info!("process provider: {}", cgroups.describe());
        let is_root = nix::unistd::geteuid().is_root();
        let sandbox = Sandbox::detect(
            &config.sandbox,
            is_root,
            &cgroups,
            &config.watchdog_path,
            &provider_id,
        )
        .await
        .map_err(ProviderError::Unavailable)?;
        for guarantee in &sandbox.info().enforced {
            tracing::info!("sandbox: {guarantee}");
        }
        for missing in &sandbox.info().missing {
            tracing::warn!("sandbox: NOT enforced: {missing}");
        }

        reap(&layout, &provider_id, &cgroups).await;

        let secrets = SecretStore::open(layout.clone())?;
        let packages = PackageStore::open(layout.clone())?;
        let mut namespaces = Namespaces::load(&layout)?;
        let records = FunctionRecord::load_all(&layout)?;
        let host_env = ["PATH", "LANG", "LC_ALL"]
            .into_iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_owned(), v)))
            .collect();
        let runtime = Arc::new(Runtime::new(
            config,
            layout.clone(),
            provider_id,
            host_env,
            cgroups,
            sandbox,
            secrets,
            is_root,
            lock_file,
        ));

        let mut functions = BTreeMap::new();
        for record in records {
            let namespace = record.namespace().to_owned();
            if namespaces.ensure(&namespace) {
                tracing::warn!(
                    "function {}.{namespace} restored into a namespace with no record; adding it",
                    record.name()
                );
            }
            let spec = match &record.package {
                Some(pin) => packages
                    .ensure_unpacked(pin)
                    .map(|dir| Some((pin.clone(), dir))),
                None => Ok(None),
            }
            .and_then(|package| launch_spec(&record.deployment, package));
            let spec = match spec {
                Ok(spec) => spec,
                Err(reason) => {
                    // Keep the function (so it can be updated or deleted), with replicas
                    // that explain the problem in its log as they fail.
                    tracing::warn!("function {}.{namespace}: {reason}", record.name());
                    fallback_spec(&record)
                }
            };
            let function = Function::start(runtime.clone(), record, Arc::new(spec));
            functions.insert((namespace, function.name.clone()), function);
        }
        namespaces.save(&layout)?;
        tracing::info!("process provider: restored {} functions", functions.len());

        let provider = Arc::new(ProcessProvider {
            runtime,
            functions: RwLock::new(functions),
            namespaces: std::sync::Mutex::new(namespaces),
            packages,
            changes: tokio::sync::Mutex::new(()),
            tasks: std::sync::Mutex::new(Vec::new()),
        });
        provider.start_background_tasks();
        Ok(provider)
    }

    /// Every replica of a function in service or starting (diagnostics: pids, directories,
    /// cgroups).
    pub fn replicas(&self, namespace: &str, name: &str) -> Result<Vec<ReplicaInfo>, ProviderError> {
        Ok(self.function(namespace, name)?.replicas())
    }

    /// Why resource limits are not enforced on this host, or `None` when they are.
    pub fn limits_unavailable_reason(&self) -> Option<String> {
        self.runtime.cgroups.unavailable_reason().map(str::to_owned)
    }

    /// Deletes packages no deployment has pinned for `package_grace` (also runs periodically).
    pub async fn sweep_packages(&self) -> Vec<String> {
        let mut store = self.packages.lock().await;
        let mut pinned: HashSet<String> = self.runtime.packages_in_use().into_iter().collect();
        for function in self.all_functions() {
            pinned.extend(function.pinned_packages());
        }
        self.packages.sweep(
            &mut store,
            &pinned,
            self.runtime.config.package_grace,
            Instant::now(),
        )
    }

    fn start_background_tasks(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let interval = (self.runtime.config.package_grace / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(60));
        let sweeper = tokio::spawn(every(interval, weak.clone(), |provider| async move {
            provider.sweep_packages().await;
        }));
        let mut tasks = lock(&self.tasks);
        tasks.push(sweeper);
        if self.runtime.cgroups.unavailable_reason().is_none() {
            tasks.push(tokio::spawn(every(
                USAGE_INTERVAL,
                weak,
                |provider| async move {
                    for function in provider.all_functions() {
                        function.sample_usage();
                    }
                },
            )));
        }
    }

    fn all_functions(&self) -> Vec<Arc<Function>> {
        self.functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn function(&self, namespace: &str, name: &str) -> Result<Arc<Function>, ProviderError> {
        validate_namespace(namespace)?;
        validate_function_name(name)?;
        self.functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| {
                ProviderError::NotFound(format!(
                    "function {name} not found in namespace {namespace}"
                ))
            })
    }

    fn ensure_running(&self) -> Result<(), ProviderError> {
        if self.runtime.is_shutting_down() {
            return Err(ProviderError::Unavailable(
                "the provider is shutting down".into(),
            ));
        }
        Ok(())
    }

    fn ensure_namespace(&self, namespace: &str) -> Result<(), ProviderError> {
        if lock(&self.namespaces).contains(namespace) {
            Ok(())
        } else {
            Err(ProviderError::Invalid(format!(
                "namespace {namespace} does not exist: create it first"
            )))
        }
    }

    /// Checks what a deploy and an update have in common; returns the desired replicas
    /// (`current` when the request does not say).
    fn check_request(
        &self,
        request: &FunctionDeployment,
        current: Option<u64>,
    ) -> Result<u64, ProviderError> {
        let namespace = request.namespace_or_default();
        self.ensure_namespace(namespace)?;
        for secret in request.secrets.iter().flatten() {
            if !self.runtime.secrets.exists(namespace, secret) {
                return Err(ProviderError::Invalid(format!(
                    "secret {secret} not found in namespace {namespace}: create it before deploying"
                )));
            }
        }
        let replicas = match min_replicas_label(request) {
            Some(min) => min,
            None => current.unwrap_or(1),
        };
        self.check_replicas(replicas)?;
        Ok(replicas)
    }

    /// Writes a function record atomically, off the async workers (it fsyncs).
    async fn save_record(&self, record: &FunctionRecord) -> Result<(), ProviderError> {
        let (layout, record) = (self.runtime.layout.clone(), record.clone());
        blocking(move || record.save(&layout)).await
    }

    async fn save_namespaces(&self, namespaces: Namespaces) -> Result<Namespaces, ProviderError> {
        let layout = self.runtime.layout.clone();
        blocking(move || namespaces.save(&layout).map(|()| namespaces)).await
    }

    fn check_replicas(&self, replicas: u64) -> Result<(), ProviderError> {
        let max = self.runtime.config.max_replicas;
        if replicas > max {
            return Err(ProviderError::Invalid(format!(
                "{replicas} replicas requested, at most {max} are allowed"
            )));
        }
        Ok(())
    }

    /// Resolves the image (with the store locked) and builds the launch spec.
    fn plan(
        &self,
        store: &StoreState,
        request: &FunctionDeployment,
    ) -> Result<(Option<PackagePin>, LaunchSpec), ProviderError> {
        let pin = store.resolve(&request.image);
        let package = match &pin {
            Some(pin) => Some((
                pin.clone(),
                self.packages
                    .ensure_unpacked(pin)
                    .map_err(ProviderError::Internal)?,
            )),
            None => None,
        };
        let spec = launch_spec(request, package).map_err(ProviderError::Invalid)?;
        Ok((pin, spec))
    }
}

/// Runs file work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ProviderError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ProviderError::Internal(format!("file task failed: {e}")))?
        .map_err(ProviderError::from)
}

/// Runs `work` every `interval` while the provider lives.
async fn every<F, Fut>(interval: Duration, provider: Weak<ProcessProvider>, work: F)
where
    F: Fn(Arc<ProcessProvider>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        tokio::time::sleep(interval).await;
        let Some(provider) = provider.upgrade() else {
            return;
        };
        if provider.runtime.is_shutting_down() {
            return;
        }
        work(provider).await;
    }
}

/// Takes an exclusive lock on `run/.lock`: a second server on the same data directory would
/// kill this one's replicas. Waits a little for a predecessor that is still exiting.
async fn lock_data_dir(layout: &Layout) -> Result<nix::fcntl::Flock<std::fs::File>, ProviderError> {
    let path = layout.root().join("run").join(".lock");
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ProviderError::Internal(format!("cannot open {}: {e}", path.display())))?;
        match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(lock),
            Err((_, e)) if Instant::now() >= deadline => {
                return Err(ProviderError::Unavailable(format!(
                    "the data directory {} is in use by another server ({e})",
                    layout.root().display()
                )))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Kills replicas of a previous run and clears their run directories and cgroups.
async fn reap(layout: &Layout, provider_id: &str, cgroups: &Cgroups) {
    let run = layout.run_dir();
    let mut killed = Vec::new();
    // Pid files: run/<ns>/<name>/<instance>/pid.
    for namespace in fsutil::list_names(&run).unwrap_or_default() {
        let ns_dir = run.join(&namespace);
        for name in fsutil::list_names(&ns_dir).unwrap_or_default() {
            let fn_dir = ns_dir.join(&name);
            for instance in fsutil::list_names(&fn_dir).unwrap_or_default() {
                let pid_file = fn_dir.join(&instance).join("pid");
                let Ok(text) = std::fs::read_to_string(&pid_file) else {
                    continue;
                };
                if let Some((pid, start)) = procfs::parse_pid_file(&text) {
                    if procfs::kill_if_same(pid, start) {
                        killed.push(pid);
                    }
                }
            }
        }
    }
    let prefix = format!("{provider_id}/");
    let marked =
        tokio::task::spawn_blocking(move || procfs::kill_marked(|m| m.starts_with(&prefix)))
            .await
            .unwrap_or_default();
    killed.extend(marked);
    killed.extend(cgroups.reap_all().await);
    killed.sort_unstable();
    killed.dedup();
    if !killed.is_empty() {
        tracing::warn!(
            "killed {} processes left behind by a previous run: {killed:?}",
            killed.len()
        );
        if !procfs::wait_gone(&killed, Duration::from_secs(3)).await {
            tracing::warn!("some processes of a previous run are still there");
        }
    }
    for namespace in fsutil::list_names(&run).unwrap_or_default() {
        if let Err(e) = fsutil::remove_dir_all_if_exists(&run.join(&namespace)) {
            tracing::warn!("cannot clear {}: {e}", run.join(&namespace).display());
        }
    }
}

/// `com.openfaas.scale.min` as OpenFaaS reads it for the initial replicas: a positive whole
/// number, else ignored.
fn min_replicas_label(request: &FunctionDeployment) -> Option<u64> {
    request
        .labels
        .as_ref()?
        .get(labels::SCALE_MIN)?
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
}

/// Builds a generation's launch spec: environment, upstream port choice, secrets, limits.
fn launch_spec(
    request: &FunctionDeployment,
    package: Option<(PackagePin, PathBuf)>,
) -> Result<LaunchSpec, String> {
    let mut env = BTreeMap::new();
    let mut writable_package = false;
    if let Some((pin, dir)) = &package {
        let manifest = PackageStore::manifest(dir)
            .map_err(|e| format!("package {} ({}): {e}", pin.image, pin.digest))?;
        env.extend(manifest.env);
        writable_package = manifest.writable;
    }
    if let Some(process) = &request.env_process {
        env.insert("fprocess".to_owned(), process.clone());
    }
    let env_vars = request.env_vars.clone().unwrap_or_default();
    let explicit_upstream =
        env_vars.contains_key("upstream_url") || env_vars.contains_key("http_upstream_url");
    env.extend(env_vars);

    let mode = env
        .get("mode")
        .map(|m| m.trim().to_owned())
        .unwrap_or_default();
    let has_process = ["fprocess", "function_process"]
        .iter()
        .any(|k| env.get(*k).is_some_and(|v| !v.trim().is_empty()));
    if !has_process && mode != "static" {
        return Err(match &package {
            Some((pin, _)) => format!(
                "package {} sets no fprocess in faas-package.json: set envProcess",
                pin.image
            ),
            None => format!(
                "image {:?} is not a stored package, so it runs the host's programs: set envProcess (fprocess)",
                request.image
            ),
        });
    }

    let mut limits = CgroupLimits::default();
    if let Some(resources) = &request.limits {
        if let Some(memory) = &resources.memory {
            limits.memory =
                Some(quantity::parse_memory(memory).map_err(|e| format!("limits: {e}"))?);
        }
        if let Some(cpu) = &resources.cpu {
            limits.cpu_millis = Some(quantity::parse_cpu(cpu).map_err(|e| format!("limits: {e}"))?);
        }
    }
    Ok(LaunchSpec {
        namespace: request.namespace_or_default().to_owned(),
        name: request.service.clone(),
        package,
        writable_package,
        allocate_upstream: mode == "http" && !explicit_upstream,
        env,
        secrets: request.secrets.clone().unwrap_or_default(),
        limits,
    })
}

/// A spec for a restored function whose definition can no longer be planned (its package
/// is gone): replicas fail and say why in the function log.
fn fallback_spec(record: &FunctionRecord) -> LaunchSpec {
    let deployment = &record.deployment;
    LaunchSpec {
        namespace: record.namespace().to_owned(),
        name: record.name().to_owned(),
        package: record
            .package
            .clone()
            .map(|pin| (pin, PathBuf::from("/nonexistent/rustfaas-missing-package"))),
        env: deployment.env_vars.clone().unwrap_or_default(),
        writable_package: false,
        allocate_upstream: false,
        secrets: deployment.secrets.clone().unwrap_or_default(),
        limits: CgroupLimits::default(),
    }
}

/// Dropping the provider without [`Provider::shutdown`] stops every replica at once
/// (SIGTERM, then SIGKILL), so none outlives it unsupervised.
impl Drop for ProcessProvider {
    fn drop(&mut self) {
        if self.runtime.is_shutting_down() {
            return;
        }
        self.runtime.begin_shutdown();
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        for slot in self.runtime.live_slots() {
            slot.stop(Duration::ZERO);
        }
    }
}

#[async_trait]
impl Provider for ProcessProvider {
    async fn deploy(&self, mut request: FunctionDeployment) -> Result<(), ProviderError> {
        request.validate()?;
        // Packages are not pulled from registries: registry credentials are not kept.
        request.registry_auth = None;
        let namespace = request.namespace_or_default().to_owned();
        request.namespace = Some(namespace.clone());
        let _changes = self.changes.lock().await;
        self.ensure_running()?;
        if self.function(&namespace, &request.service).is_ok() {
            return Err(ProviderError::Conflict(format!(
                "function {} already exists in namespace {namespace}",
                request.service
            )));
        }
        let replicas = self.check_request(&request, None)?;
        let store = self.packages.lock().await;
        let (package, spec) = self.plan(&store, &request)?;
        let record = FunctionRecord {
            deployment: request,
            created_at: Utc::now(),
            replicas,
            package,
        };
        self.save_record(&record).await?;
        let function = Function::start(self.runtime.clone(), record, Arc::new(spec));
        tracing::info!(function = %function.name, namespace = %namespace, replicas, "deployed");
        self.functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((namespace, function.name.clone()), function);
        drop(store);
        Ok(())
    }

    async fn update(&self, mut request: FunctionDeployment) -> Result<(), ProviderError> {
        request.validate()?;
        request.registry_auth = None;
        let namespace = request.namespace_or_default().to_owned();
        request.namespace = Some(namespace.clone());
        let _changes = self.changes.lock().await;
        self.ensure_running()?;
        let function = self.function(&namespace, &request.service)?;
        let old = function.record();
        let replicas = self.check_request(&request, Some(old.replicas))?;
        let store = self.packages.lock().await;
        let (package, spec) = self.plan(&store, &request)?;
        let record = FunctionRecord {
            deployment: request,
            created_at: old.created_at,
            replicas,
            package,
        };
        self.save_record(&record).await?;
        function.replace(record, Arc::new(spec));
        tracing::info!(function = %function.name, namespace = %namespace, replicas, "updated");
        drop(store);
        Ok(())
    }

    async fn delete(&self, namespace: &str, name: &str) -> Result<(), ProviderError> {
        let _changes = self.changes.lock().await;
        let function = self.function(namespace, name)?;
        let (layout, ns, n) = (
            self.runtime.layout.clone(),
            namespace.to_owned(),
            name.to_owned(),
        );
        blocking(move || FunctionRecord::remove(&layout, &ns, &n)).await?;
        self.functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(namespace.to_owned(), name.to_owned()));
        function.stop_all(STOP_GRACE, true);
        // The function's cgroup directories go once its replicas are gone.
        let runtime = self.runtime.clone();
        let (namespace, name) = (namespace.to_owned(), name.to_owned());
        tokio::spawn(async move {
            let deadline = Instant::now() + STOP_GRACE + Duration::from_secs(5);
            while Instant::now() < deadline {
                let remaining = runtime
                    .live_slots()
                    .iter()
                    .any(|s| s.spec.namespace == namespace && s.spec.name == name);
                if !remaining {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            runtime.cgroups.remove_function(&namespace, &name);
        });
        tracing::info!(function = %function.name, namespace = %function.namespace, "deleted");
        Ok(())
    }

    async fn list(&self, namespace: &str) -> Result<Vec<FunctionStatus>, ProviderError> {
        validate_namespace(namespace)?;
        if !lock(&self.namespaces).contains(namespace) {
            return Err(ProviderError::NotFound(format!(
                "namespace {namespace} not found"
            )));
        }
        let functions: Vec<Arc<Function>> = self
            .functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|((ns, _), _)| ns == namespace)
            .map(|(_, f)| f.clone())
            .collect();
        // Each status reads the function's cgroup files: off the (single-threaded) runtime
        // that serves calls, which /metrics and the autoscaler list every tick.
        tokio::task::spawn_blocking(move || functions.iter().map(|f| f.status()).collect())
            .await
            .map_err(|e| ProviderError::Internal(format!("status task failed: {e}")))
    }

    async fn status(&self, namespace: &str, name: &str) -> Result<FunctionStatus, ProviderError> {
        let function = self.function(namespace, name)?;
        tokio::task::spawn_blocking(move || function.status())
            .await
            .map_err(|e| ProviderError::Internal(format!("status task failed: {e}")))
    }

    async fn scale(&self, namespace: &str, name: &str, replicas: u64) -> Result<(), ProviderError> {
        self.function(namespace, name)?;
        self.check_replicas(replicas)?;
        let _changes = self.changes.lock().await;
        self.ensure_running()?;
        let function = self.function(namespace, name)?;
        let mut record = function.record();
        if record.replicas != replicas {
            record.replicas = replicas;
            self.save_record(&record).await?;
            tracing::info!(function = %name, namespace = %namespace, replicas, "scaled");
        }
        function.set_record(record);
        Ok(())
    }

    async fn endpoints(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<ReplicaEndpoint>, ProviderError> {
        Ok(self.function(namespace, name)?.endpoints())
    }

    async fn routes(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<ReplicaRoute>, ProviderError> {
        Ok(self.function(namespace, name)?.routes())
    }

    async fn logs(&self, request: LogRequest) -> Result<LogStream, ProviderError> {
        request.validate()?;
        let function = self.function(request.namespace_or_default(), &request.name)?;
        Ok(function.log.read(&request).await)
    }

    async fn list_secrets(&self, namespace: &str) -> Result<Vec<Secret>, ProviderError> {
        validate_namespace(namespace)?;
        if !lock(&self.namespaces).contains(namespace) {
            return Err(ProviderError::NotFound(format!(
                "namespace {namespace} not found"
            )));
        }
        Ok(self
            .runtime
            .secrets
            .names(namespace)?
            .into_iter()
            .map(|name| Secret {
                name,
                namespace: Some(namespace.to_owned()),
                ..Secret::default()
            })
            .collect())
    }

    async fn create_secret(&self, secret: Secret) -> Result<(), ProviderError> {
        secret.validate()?;
        let namespace = secret.namespace_or_default().to_owned();
        let _changes = self.changes.lock().await;
        self.ensure_namespace(&namespace)?;
        if self.runtime.secrets.exists(&namespace, &secret.name) {
            return Err(ProviderError::Conflict(format!(
                "secret {} already exists in namespace {namespace}",
                secret.name
            )));
        }
        let (secrets, name, value) = (
            self.runtime.secrets.clone(),
            secret.name.clone(),
            secret.bytes(),
        );
        blocking(move || secrets.write(&namespace, &name, &value)).await
    }

    async fn update_secret(&self, secret: Secret) -> Result<(), ProviderError> {
        secret.validate()?;
        let namespace = secret.namespace_or_default().to_owned();
        let _changes = self.changes.lock().await;
        if !lock(&self.namespaces).contains(&namespace)
            || !self.runtime.secrets.exists(&namespace, &secret.name)
        {
            return Err(ProviderError::NotFound(format!(
                "secret {} not found in namespace {namespace}",
                secret.name
            )));
        }
        let value = secret.bytes();
        {
            let (secrets, ns, name, value) = (
                self.runtime.secrets.clone(),
                namespace.clone(),
                secret.name.clone(),
                value.clone(),
            );
            blocking(move || secrets.write(&ns, &name, &value)).await?;
        }
        // Running replicas see the new value at once (OpenFaaS restarts them instead).
        for function in self.all_functions() {
            if function.namespace != namespace {
                continue;
            }
            for dir in function.secret_dirs(&secret.name) {
                if dir.is_dir() {
                    if let Err(e) = fsutil::write_secret_copy(&dir, &secret.name, &value) {
                        tracing::warn!("cannot refresh secret in {}: {e}", dir.display());
                    }
                }
            }
        }
        Ok(())
    }

    async fn delete_secret(&self, namespace: &str, name: &str) -> Result<(), ProviderError> {
        validate_namespace(namespace)?;
        validate_secret_name(name)?;
        let _changes = self.changes.lock().await;
        if !self.runtime.secrets.exists(namespace, name) {
            return Err(ProviderError::NotFound(format!(
                "secret {name} not found in namespace {namespace}"
            )));
        }
        // Replicas keep their copy; replicas started later go without it.
        let (secrets, ns, n) = (
            self.runtime.secrets.clone(),
            namespace.to_owned(),
            name.to_owned(),
        );
        blocking(move || secrets.remove(&ns, &n)).await?;
        Ok(())
    }

    async fn list_namespaces(&self) -> Result<Vec<String>, ProviderError> {
        Ok(lock(&self.namespaces).names())
    }

    async fn get_namespace(&self, name: &str) -> Result<NamespaceRequest, ProviderError> {
        validate_namespace(name)?;
        lock(&self.namespaces)
            .get(name)
            .cloned()
            .ok_or_else(|| ProviderError::NotFound(format!("namespace {name} not found")))
    }

    async fn create_namespace(&self, request: NamespaceRequest) -> Result<(), ProviderError> {
        request.validate()?;
        let _changes = self.changes.lock().await;
        let mut namespaces = lock(&self.namespaces).clone();
        if namespaces.contains(&request.name) {
            return Err(ProviderError::Conflict(format!(
                "namespace {} already exists",
                request.name
            )));
        }
        namespaces.insert(request);
        let namespaces = self.save_namespaces(namespaces).await?;
        *lock(&self.namespaces) = namespaces;
        Ok(())
    }

    async fn update_namespace(&self, request: NamespaceRequest) -> Result<(), ProviderError> {
        request.validate()?;
        let _changes = self.changes.lock().await;
        let mut namespaces = lock(&self.namespaces).clone();
        if !namespaces.contains(&request.name) {
            return Err(ProviderError::NotFound(format!(
                "namespace {} not found",
                request.name
            )));
        }
        namespaces.insert(request);
        let namespaces = self.save_namespaces(namespaces).await?;
        *lock(&self.namespaces) = namespaces;
        Ok(())
    }

    async fn delete_namespace(&self, name: &str) -> Result<(), ProviderError> {
        validate_namespace(name)?;
        if name == DEFAULT_NAMESPACE {
            return Err(ProviderError::Invalid(format!(
                "namespace {DEFAULT_NAMESPACE} cannot be deleted"
            )));
        }
        let _changes = self.changes.lock().await;
        let mut namespaces = lock(&self.namespaces).clone();
        if !namespaces.contains(name) {
            return Err(ProviderError::NotFound(format!(
                "namespace {name} not found"
            )));
        }
        let remaining: Vec<String> = self
            .functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .filter(|(ns, _)| ns == name)
            .map(|(_, f)| f.clone())
            .collect();
        if !remaining.is_empty() {
            return Err(ProviderError::Conflict(format!(
                "namespace {name} still holds functions: {}",
                remaining.join(", ")
            )));
        }
        namespaces.remove(name);
        let namespaces = self.save_namespaces(namespaces).await?;
        *lock(&self.namespaces) = namespaces;
        let (secrets, ns) = (self.runtime.secrets.clone(), name.to_owned());
        blocking(move || secrets.remove_namespace(&ns)).await?;
        Ok(())
    }

    async fn put_package(&self, image: &str, archive: Bytes) -> Result<PackageInfo, ProviderError> {
        self.packages.put(image, archive).await
    }

    async fn put_package_file(
        &self,
        image: &str,
        path: &std::path::Path,
    ) -> Result<PackageInfo, ProviderError> {
        self.packages.put_file(image, path).await
    }

    fn package_staging_dir(&self) -> Option<std::path::PathBuf> {
        Some(self.packages.staging_dir())
    }

    async fn list_packages(&self) -> Result<Vec<PackageInfo>, ProviderError> {
        Ok(self.packages.list().await)
    }

    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            provider: "faasd-process".to_owned(),
            version: VersionInfo {
                commit_message: String::new(),
                sha: option_env!("RUSTFAAS_GIT_SHA").unwrap_or("dev").to_owned(),
                release: env!("CARGO_PKG_VERSION").to_owned(),
            },
            orchestration: "process".to_owned(),
        }
    }

    fn sandbox(&self) -> Option<faas_types::SandboxInfo> {
        Some(self.runtime.sandbox.info().clone())
    }

    async fn shutdown(&self) {
        let _changes = self.changes.lock().await;
        self.runtime.begin_shutdown();
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        for function in self.all_functions() {
            function.stop_all(SHUTDOWN_GRACE, false);
        }
        // Replicas still draining after a delete or an update are hurried along too.
        for slot in self.runtime.live_slots() {
            slot.stop(SHUTDOWN_GRACE);
        }
        if !self
            .runtime
            .wait_all_finished(SHUTDOWN_GRACE + Duration::from_secs(2))
            .await
        {
            tracing::warn!("some replicas did not stop in time");
        }
        self.runtime.cgroups.remove_empty();
        tracing::info!("process provider stopped");
    }
}
