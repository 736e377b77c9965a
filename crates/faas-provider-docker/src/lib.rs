//! The `docker` backend: each function replica is a container on a Docker Engine (or Podman's
//! compatible API), made from the function's image with the image's own entrypoint (the
//! OpenFaaS watchdog inside it), its port 8080 published on 127.0.0.1 only, where the gateway
//! reaches it.
//!
//! The way through a deploy: [`DockerProvider::deploy`] validates the request, resolves the
//! image in the engine (pulling it per [`ImagePull`]) and pins its id, saves the record
//! (`records.rs`), and starts a `Function` (`function.rs`) whose task creates containers from
//! `spec.rs`, probes their `/_/health` (`health.rs`) and reports ready ones to
//! [`DockerProvider::endpoints`]. `engine.rs` wraps the engine's API; `logs.rs` reads the
//! engine's log streams; `usage.rs` samples the containers' stats for each function's `usage`
//! (off the request path); `package_build.rs` builds uploaded packages into images.
//!
//! Containers carry labels naming this server (`com.rustfaas.owner`, an id kept in the data
//! directory), the namespace, function, generation and instance. After a restart (even after
//! `kill -9`) each function's task finds its containers by these labels and adopts them;
//! containers of an older generation or of functions that no longer exist are removed.

mod engine;
mod function;
mod health;
mod logs;
mod package_build;
mod quantity;
mod records;
mod registry_auth;
mod spec;
mod usage;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use faas_provider::{LogStream, PackageInfo, Provider, ProviderError, ReplicaEndpoint};
use faas_types::validate::{validate_namespace, validate_secret_name};
use faas_types::{
    FunctionDeployment, FunctionStatus, LogRequest, NamespaceRequest, ProviderInfo, Secret,
    VersionInfo, DEFAULT_NAMESPACE,
};
use tokio::task::JoinHandle;

use self::engine::Engine;
use self::function::{lock, Function};
use self::records::{FunctionRecord, Records};
use self::spec::label;

/// When images are pulled from their registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImagePull {
    /// Before every deploy and update.
    Always,
    /// Only when the engine does not have the image (the default).
    Missing,
    /// Never: an image the engine does not have is refused.
    Never,
}

impl std::str::FromStr for ImagePull {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "always" | "Always" => Ok(ImagePull::Always),
            "missing" | "IfNotPresent" => Ok(ImagePull::Missing),
            "never" | "Never" => Ok(ImagePull::Never),
            other => Err(format!(
                "image pull policy {other:?} is not known: use always, missing or never"
            )),
        }
    }
}

/// Configuration of the docker backend; faasd builds it from its own configuration.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// The server's data directory (records, secrets and this server's id go under `docker/`).
    pub data_dir: PathBuf,
    /// The engine, as in `DOCKER_HOST` (`unix:///var/run/docker.sock`, `tcp://127.0.0.1:2375`);
    /// `None`: the local default socket.
    pub docker_host: Option<String>,
    /// Scale and deploy requests above this many replicas are refused.
    pub max_replicas: u64,
    /// How long a new container may take to answer `/_/health` before it is replaced.
    pub ready_timeout: Duration,
    /// When images are pulled.
    pub image_pull: ImagePull,
    /// How long one pull may take.
    pub pull_timeout: Duration,
    /// A Docker `config.json` whose `auths` entries pulls use when the deployment has no
    /// `registryAuth`; `None`: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub registry_config: Option<PathBuf>,
}

/// What the provider and its functions' tasks share.
pub(crate) struct Shared {
    pub(crate) engine: Arc<Engine>,
    pub(crate) records: Records,
    /// This server's id, in every container's and network's labels.
    pub(crate) owner: String,
    pub(crate) config: DockerConfig,
    networks: tokio::sync::Mutex<std::collections::HashSet<String>>,
}

impl Shared {
    /// The namespace's network (functions of other namespaces are not on it).
    pub(crate) fn network_name(&self, namespace: &str) -> String {
        format!("rustfaas-{}-{namespace}", self.owner)
    }

    pub(crate) async fn ensure_network(&self, namespace: &str) -> Result<(), ProviderError> {
        let name = self.network_name(namespace);
        let mut known = self.networks.lock().await;
        if known.contains(&name) {
            return Ok(());
        }
        let labels = HashMap::from([
            (label::OWNER.to_owned(), self.owner.clone()),
            (label::NAMESPACE.to_owned(), namespace.to_owned()),
        ]);
        self.engine.ensure_network(&name, labels).await?;
        known.insert(name);
        Ok(())
    }
}

/// The docker backend.
pub struct DockerProvider {
    shared: Arc<Shared>,
    functions: RwLock<BTreeMap<(String, String), Arc<Function>>>,
    namespaces: Mutex<BTreeMap<String, NamespaceRequest>>,
    /// Serializes every change (deploy, update, delete, scale, secrets, namespaces).
    changes: tokio::sync::Mutex<()>,
    /// The orphan sweeper and the usage sampler.
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for DockerProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerProvider")
            .field("engine", &self.shared.engine.host)
            .field("owner", &self.shared.owner)
            .finish_non_exhaustive()
    }
}

/// How often containers of this server that belong to no function are looked for.
const JANITOR_INTERVAL: Duration = Duration::from_secs(10);

impl DockerProvider {
    /// Opens the state under `data_dir` and brings every function back to its replica count,
    /// adopting the containers a previous run left. An engine that is down is not an error
    /// here: calls answer 503 until it is back.
    pub async fn open(config: DockerConfig) -> Result<Arc<DockerProvider>, ProviderError> {
        let records = Records::open(&config.data_dir)?;
        let owner = records.owner()?;
        let engine = Arc::new(Engine::connect(config.docker_host.as_deref())?);
        match engine.ping().await {
            Ok(()) => tracing::info!(engine = %engine.host, %owner, "docker provider connected"),
            Err(err) => tracing::warn!("{err}; functions start when it answers"),
        }
        let shared = Arc::new(Shared {
            engine,
            records,
            owner,
            config,
            networks: Default::default(),
        });
        let namespaces = shared.records.namespaces();
        let mut functions = BTreeMap::new();
        for record in shared.records.functions() {
            let namespace = record.deployment.namespace_or_default().to_owned();
            let function = Function::start(shared.clone(), record);
            functions.insert((namespace, function.name.clone()), function);
        }
        let provider = Arc::new(DockerProvider {
            shared,
            functions: RwLock::new(functions),
            namespaces: Mutex::new(namespaces),
            changes: tokio::sync::Mutex::new(()),
            tasks: Mutex::default(),
        });
        let janitor = tokio::spawn(sweep_orphans(Arc::downgrade(&provider)));
        let sampler = tokio::spawn(usage::sample_forever(Arc::downgrade(&provider)));
        lock(&provider.tasks).extend([janitor, sampler]);
        Ok(provider)
    }

    fn function(&self, namespace: &str, name: &str) -> Result<Arc<Function>, ProviderError> {
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

    fn ensure_namespace(&self, namespace: &str) -> Result<(), ProviderError> {
        validate_namespace(namespace)?;
        if lock(&self.namespaces).contains_key(namespace) {
            Ok(())
        } else {
            Err(ProviderError::NotFound(format!(
                "namespace {namespace} not found"
            )))
        }
    }

    fn check_replicas(&self, replicas: u64) -> Result<(), ProviderError> {
        if replicas > self.shared.config.max_replicas {
            return Err(ProviderError::Invalid(format!(
                "{replicas} replicas is more than this server allows ({})",
                self.shared.config.max_replicas
            )));
        }
        Ok(())
    }

    /// The image's id and the user to run it as, pulling it as the policy says (with the
    /// deployment's `registryAuth`, else the Docker config's credentials for its registry).
    async fn resolve_image(
        &self,
        image: &str,
        registry_auth: Option<&str>,
    ) -> Result<(String, String), ProviderError> {
        let engine = &self.shared.engine;
        let config = &self.shared.config;
        let found = match config.image_pull {
            ImagePull::Always => None,
            _ => engine.image(image).await?,
        };
        let found = match found {
            Some(found) => found,
            None if config.image_pull == ImagePull::Never => {
                return Err(ProviderError::Invalid(format!(
                    "image {image} is not in the Docker Engine, and pulling is off (image pull policy never)"
                )))
            }
            None => {
                let credentials = {
                    let (image, auth) = (image.to_owned(), registry_auth.map(str::to_owned));
                    let file = config.registry_config.clone();
                    // A credential helper is a program: off the async threads.
                    tokio::task::spawn_blocking(move || {
                        registry_auth::for_pull(&image, auth.as_deref(), file.as_deref())
                    })
                    .await
                    .map_err(|e| ProviderError::Internal(format!("registry credentials: {e}")))??
                };
                let with = if registry_auth.is_some_and(|a| !a.trim().is_empty()) {
                    " with the deployment's registryAuth"
                } else if credentials.is_some() {
                    " with the Docker config's credentials"
                } else {
                    ""
                };
                engine
                    .pull(image, config.pull_timeout, credentials)
                    .await
                    .map_err(|err| match err {
                        ProviderError::Unavailable(_) if !err.to_string().contains("took longer") => err,
                        err => ProviderError::Invalid(format!(
                            "image {image} cannot be pulled from {}{with}: {err}",
                            registry_auth::registry_of(image)
                        )),
                    })?;
                engine.image(image).await?.ok_or_else(|| {
                    ProviderError::Invalid(format!("image {image} is still missing after a pull"))
                })?
            }
        };
        let id = found
            .id
            .ok_or_else(|| ProviderError::Internal(format!("image {image} has no id")))?;
        let user = spec::run_as(found.config.and_then(|c| c.user).as_deref());
        Ok((id, user))
    }

    /// The record a deploy or update makes, after checking everything it names exists.
    async fn plan(
        &self,
        request: FunctionDeployment,
        previous: Option<&FunctionRecord>,
    ) -> Result<FunctionRecord, ProviderError> {
        let namespace = request.namespace_or_default().to_owned();
        self.ensure_namespace(&namespace)?;
        for secret in request.secrets.iter().flatten() {
            validate_secret_name(secret)?;
            if !self
                .shared
                .records
                .secret_path(&namespace, secret)
                .is_file()
            {
                return Err(ProviderError::Invalid(format!(
                    "secret {secret} not found in namespace {namespace}: create it first (faas-cli secret create {secret})"
                )));
            }
        }
        let replicas = match min_replicas_label(&request) {
            Some(min) => min,
            None => previous.map_or(1, |p| p.replicas),
        };
        self.check_replicas(replicas)?;
        let (image_id, user) = self
            .resolve_image(&request.image, request.registry_auth.as_deref())
            .await?;
        // The credentials served their pull: they are not kept in the record.
        let mut request = request;
        request.registry_auth = None;
        let record = FunctionRecord {
            deployment: request,
            created_at: previous.map_or_else(Utc::now, |p| p.created_at),
            replicas,
            image_id,
            user,
            generation: previous.map_or(1, |p| p.generation + 1),
        };
        spec::check_resources(&record)?;
        Ok(record)
    }

    async fn save(&self, record: FunctionRecord) -> Result<FunctionRecord, ProviderError> {
        let records = self.shared.records.clone();
        tokio::task::spawn_blocking(move || records.save_function(&record).map(|()| record))
            .await
            .map_err(|e| ProviderError::Internal(e.to_string()))?
    }

    /// Removes every container with these labels, in parallel, at once.
    async fn remove_containers(&self, labels: &[(&str, &str)]) {
        let engine = &self.shared.engine;
        let Ok(containers) = engine.containers(labels).await else {
            return;
        };
        let removals = containers
            .into_iter()
            .filter_map(|c| c.id)
            .map(|id| async move { engine.remove(&id).await });
        for result in futures_util::future::join_all(removals).await {
            if let Err(err) = result {
                tracing::warn!("{err}");
            }
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
}

/// Removes containers of this server whose function is gone (deleted while the server was
/// down, or a removal that failed).
async fn sweep_orphans(provider: Weak<DockerProvider>) {
    loop {
        {
            let Some(provider) = provider.upgrade() else {
                return;
            };
            let shared = provider.shared.clone();
            if let Ok(containers) = shared
                .engine
                .containers(&[(label::OWNER, &shared.owner)])
                .await
            {
                for container in containers {
                    let labels = container.labels.unwrap_or_default();
                    let key = (
                        labels.get(label::NAMESPACE).cloned().unwrap_or_default(),
                        labels.get(label::FUNCTION).cloned().unwrap_or_default(),
                    );
                    let known = provider
                        .functions
                        .read()
                        .unwrap_or_else(|e| e.into_inner())
                        .contains_key(&key);
                    if let (false, Some(id)) = (known, container.id) {
                        tracing::info!("removing container {id} of deleted function {}", key.1);
                        let _ = shared.engine.remove(&id).await;
                    }
                }
            }
        }
        tokio::time::sleep(JANITOR_INTERVAL).await;
    }
}

/// `com.openfaas.scale.min` when it is a positive number.
fn min_replicas_label(request: &FunctionDeployment) -> Option<u64> {
    request
        .labels
        .as_ref()?
        .get(faas_types::labels::SCALE_MIN)?
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
}

#[async_trait]
impl Provider for DockerProvider {
    async fn deploy(&self, mut request: FunctionDeployment) -> Result<(), ProviderError> {
        request.validate()?;
        let namespace = request.namespace_or_default().to_owned();
        request.namespace = Some(namespace.clone());
        let _changes = self.changes.lock().await;
        if self.function(&namespace, &request.service).is_ok() {
            return Err(ProviderError::Conflict(format!(
                "function {} already exists in namespace {namespace}",
                request.service
            )));
        }
        let record = self.plan(request, None).await?;
        let record = self.save(record).await?;
        let replicas = record.replicas;
        let function = Function::start(self.shared.clone(), record);
        tracing::info!(function = %function.name, namespace = %namespace, replicas, "deployed");
        self.functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((namespace, function.name.clone()), function);
        Ok(())
    }

    async fn update(&self, mut request: FunctionDeployment) -> Result<(), ProviderError> {
        request.validate()?;
        let namespace = request.namespace_or_default().to_owned();
        request.namespace = Some(namespace.clone());
        let _changes = self.changes.lock().await;
        let function = self.function(&namespace, &request.service)?;
        let old = function.record();
        let record = self.plan(request, Some(&old)).await?;
        let record = self.save(record).await?;
        tracing::info!(function = %function.name, namespace = %namespace, generation = record.generation, "updated");
        function.set_record(record);
        Ok(())
    }

    async fn delete(&self, namespace: &str, name: &str) -> Result<(), ProviderError> {
        let _changes = self.changes.lock().await;
        let function = self.function(namespace, name)?;
        self.shared.records.remove_function(namespace, name)?;
        self.functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(namespace.to_owned(), name.to_owned()));
        function.stop();
        self.remove_containers(&[
            (label::OWNER, &self.shared.owner),
            (label::NAMESPACE, namespace),
            (label::FUNCTION, name),
        ])
        .await;
        tracing::info!(function = %name, namespace = %namespace, "deleted");
        Ok(())
    }

    async fn list(&self, namespace: &str) -> Result<Vec<FunctionStatus>, ProviderError> {
        self.ensure_namespace(namespace)?;
        Ok(self
            .all_functions()
            .iter()
            .filter(|f| f.namespace == namespace)
            .map(|f| f.status())
            .collect())
    }

    async fn status(&self, namespace: &str, name: &str) -> Result<FunctionStatus, ProviderError> {
        Ok(self.function(namespace, name)?.status())
    }

    async fn scale(&self, namespace: &str, name: &str, replicas: u64) -> Result<(), ProviderError> {
        self.check_replicas(replicas)?;
        let _changes = self.changes.lock().await;
        let function = self.function(namespace, name)?;
        let mut record = function.record();
        if record.replicas != replicas {
            record.replicas = replicas;
            record = self.save(record).await?;
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

    async fn logs(&self, request: LogRequest) -> Result<LogStream, ProviderError> {
        request.validate()?;
        self.function(request.namespace_or_default(), &request.name)?;
        logs::read(self.shared.engine.clone(), &self.shared.owner, &request).await
    }

    async fn list_secrets(&self, namespace: &str) -> Result<Vec<Secret>, ProviderError> {
        self.ensure_namespace(namespace)?;
        Ok(self
            .shared
            .records
            .secret_names(namespace)
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
        let records = &self.shared.records;
        if records.secret_path(&namespace, &secret.name).exists() {
            return Err(ProviderError::Conflict(format!(
                "secret {} already exists in namespace {namespace}",
                secret.name
            )));
        }
        records.write_secret(&namespace, &secret.name, &secret.bytes())
    }

    async fn update_secret(&self, secret: Secret) -> Result<(), ProviderError> {
        secret.validate()?;
        let namespace = secret.namespace_or_default().to_owned();
        let _changes = self.changes.lock().await;
        let records = &self.shared.records;
        if self.ensure_namespace(&namespace).is_err()
            || !records.secret_path(&namespace, &secret.name).is_file()
        {
            return Err(ProviderError::NotFound(format!(
                "secret {} not found in namespace {namespace}",
                secret.name
            )));
        }
        // Written in place: running containers see the new value at once.
        records.write_secret(&namespace, &secret.name, &secret.bytes())
    }

    async fn delete_secret(&self, namespace: &str, name: &str) -> Result<(), ProviderError> {
        validate_namespace(namespace)?;
        validate_secret_name(name)?;
        let _changes = self.changes.lock().await;
        if !self.shared.records.secret_path(namespace, name).is_file() {
            return Err(ProviderError::NotFound(format!(
                "secret {name} not found in namespace {namespace}"
            )));
        }
        // Running containers keep their mount; containers started later go without it.
        self.shared.records.remove_secret(namespace, name)
    }

    async fn list_namespaces(&self) -> Result<Vec<String>, ProviderError> {
        Ok(lock(&self.namespaces).keys().cloned().collect())
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
        if namespaces.contains_key(&request.name) {
            return Err(ProviderError::Conflict(format!(
                "namespace {} already exists",
                request.name
            )));
        }
        namespaces.insert(request.name.clone(), request);
        self.shared.records.save_namespaces(&namespaces)?;
        *lock(&self.namespaces) = namespaces;
        Ok(())
    }

    async fn update_namespace(&self, request: NamespaceRequest) -> Result<(), ProviderError> {
        request.validate()?;
        let _changes = self.changes.lock().await;
        let mut namespaces = lock(&self.namespaces).clone();
        if !namespaces.contains_key(&request.name) {
            return Err(ProviderError::NotFound(format!(
                "namespace {} not found",
                request.name
            )));
        }
        namespaces.insert(request.name.clone(), request);
        self.shared.records.save_namespaces(&namespaces)?;
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
        if !namespaces.contains_key(name) {
            return Err(ProviderError::NotFound(format!(
                "namespace {name} not found"
            )));
        }
        let remaining: Vec<String> = self
            .all_functions()
            .iter()
            .filter(|f| f.namespace == name)
            .map(|f| f.name.clone())
            .collect();
        if !remaining.is_empty() {
            return Err(ProviderError::Conflict(format!(
                "namespace {name} still holds functions: {}",
                remaining.join(", ")
            )));
        }
        namespaces.remove(name);
        self.shared.records.save_namespaces(&namespaces)?;
        *lock(&self.namespaces) = namespaces;
        self.shared.records.remove_namespace_secrets(name)?;
        let network = self.shared.network_name(name);
        self.shared.networks.lock().await.remove(&network);
        self.shared.engine.remove_network(&network).await;
        Ok(())
    }

    async fn put_package(&self, image: &str, archive: Bytes) -> Result<PackageInfo, ProviderError> {
        package_build::build(&self.shared.engine, &self.shared.owner, image, archive).await
    }

    async fn list_packages(&self) -> Result<Vec<PackageInfo>, ProviderError> {
        package_build::list(&self.shared.engine, &self.shared.owner).await
    }

    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            provider: "faasd-docker".to_owned(),
            version: VersionInfo {
                commit_message: String::new(),
                sha: option_env!("RUSTFAAS_GIT_SHA").unwrap_or("dev").to_owned(),
                release: env!("CARGO_PKG_VERSION").to_owned(),
            },
            orchestration: "docker".to_owned(),
        }
    }

    async fn shutdown(&self) {
        let _changes = self.changes.lock().await;
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        for function in self.all_functions() {
            function.stop();
        }
        self.remove_containers(&[(label::OWNER, &self.shared.owner)])
            .await;
        // Every namespace's network (adopted containers never asked for theirs).
        self.shared.networks.lock().await.clear();
        let namespaces: Vec<String> = lock(&self.namespaces).keys().cloned().collect();
        for namespace in namespaces {
            let network = self.shared.network_name(&namespace);
            self.shared.engine.remove_network(&network).await;
        }
        tracing::info!("docker provider stopped");
    }
}
