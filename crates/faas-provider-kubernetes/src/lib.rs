//! The Kubernetes backend of rustfaas: each function a Deployment and a ClusterIP Service
//! shaped as faas-netes shapes them, secrets as Kubernetes Secrets, namespaces those
//! annotated `openfaas`, calls resolved from a watch-fed cache of ready endpoints (no API
//! call per function call).
//!
//! The way through: [`KubernetesProvider`] (the `Provider` trait) -> `functions.rs`
//! (deploy, update, delete, list, scale) -> `objects.rs` (the pure object builders) and
//! `status.rs` (a Deployment read back) -> `endpoints.rs` (the watch cache) ->
//! `error.rs` (API errors as OpenFaaS statuses). `secrets.rs`, `namespaces.rs` and
//! `logs.rs` serve the rest of the API.

pub mod crd;
mod endpoints;
mod error;
mod functions;
pub mod lease;
mod logs;
mod namespaces;
pub mod objects;
mod operator;
pub mod peers;
mod secrets;
pub mod status;
pub mod usage;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use faas_provider::{LogStream, PackageInfo, Provider, ProviderError, ReplicaEndpoint};
use faas_types::{
    FunctionDeployment, FunctionStatus, LogRequest, NamespaceRequest, ProviderInfo, Secret,
    VersionInfo,
};
use kube::Client;
use tokio::task::JoinHandle;

pub use endpoints::{ready_endpoints, EndpointCache};
pub use objects::ObjectSettings;
pub use operator::start_operator;

/// How the provider shapes objects and waits for its watches.
#[derive(Debug, Clone)]
pub struct KubernetesConfig {
    /// What every function's objects get beyond its own definition.
    pub objects: ObjectSettings,
    /// How long a call waits for the watches' first lists after start (and a deploy in
    /// operator mode for the operator's Deployment).
    pub sync_wait: Duration,
    /// Operator mode: run the Function controller, and write Function objects on deploy,
    /// update and delete.
    pub operator: bool,
    /// With several server replicas: the controller runs only while this says `true` (this
    /// replica holds the Lease, [`lease::Leadership::subscribe`]); `None` runs it always.
    pub operator_leader: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        KubernetesConfig {
            objects: ObjectSettings::default(),
            sync_wait: Duration::from_secs(10),
            operator: false,
            operator_leader: None,
        }
    }
}

/// Runs functions on a Kubernetes cluster.
pub struct KubernetesProvider {
    client: Client,
    config: KubernetesConfig,
    cache: Arc<EndpointCache>,
    watches: Mutex<Vec<JoinHandle<()>>>,
}

impl KubernetesProvider {
    /// Connects with the in-cluster configuration or `KUBECONFIG` (kube's inference) and
    /// starts the watches.
    pub async fn connect(config: KubernetesConfig) -> Result<Arc<Self>, ProviderError> {
        let client = Client::try_default().await.map_err(|err| {
            ProviderError::Unavailable(format!(
                "no Kubernetes configuration (in-cluster or KUBECONFIG): {err}"
            ))
        })?;
        Ok(Self::start(client, config))
    }

    /// Uses `client` and starts the watches (needs a Tokio runtime).
    pub fn start(client: Client, config: KubernetesConfig) -> Arc<Self> {
        let cache = Arc::new(EndpointCache::default());
        let mut watches = cache.start(client.clone());
        if config.operator {
            watches.push(match config.operator_leader.clone() {
                None => start_operator(client.clone(), config.objects.clone()),
                Some(leader) => {
                    operator::start_while_leading(client.clone(), config.objects.clone(), leader)
                }
            });
        }
        Arc::new(KubernetesProvider {
            client,
            config,
            cache,
            watches: Mutex::new(watches),
        })
    }
}

#[async_trait]
impl Provider for KubernetesProvider {
    async fn deploy(&self, request: FunctionDeployment) -> Result<(), ProviderError> {
        self.deploy_function(request).await
    }

    async fn update(&self, request: FunctionDeployment) -> Result<(), ProviderError> {
        self.update_function(request).await
    }

    async fn delete(&self, namespace: &str, name: &str) -> Result<(), ProviderError> {
        self.delete_function(namespace, name).await
    }

    async fn list(&self, namespace: &str) -> Result<Vec<FunctionStatus>, ProviderError> {
        self.list_functions(namespace).await
    }

    async fn status(&self, namespace: &str, name: &str) -> Result<FunctionStatus, ProviderError> {
        self.function_status(namespace, name).await
    }

    async fn scale(&self, namespace: &str, name: &str, replicas: u64) -> Result<(), ProviderError> {
        self.scale_function(namespace, name, replicas).await
    }

    async fn endpoints(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<ReplicaEndpoint>, ProviderError> {
        self.cache
            .endpoints(namespace, name, self.config.sync_wait)
            .await
    }

    async fn logs(&self, request: LogRequest) -> Result<LogStream, ProviderError> {
        self.function_logs(request).await
    }

    async fn list_secrets(&self, namespace: &str) -> Result<Vec<Secret>, ProviderError> {
        self.list_function_secrets(namespace).await
    }

    async fn create_secret(&self, secret: Secret) -> Result<(), ProviderError> {
        self.create_function_secret(secret).await
    }

    async fn update_secret(&self, secret: Secret) -> Result<(), ProviderError> {
        self.update_function_secret(secret).await
    }

    async fn delete_secret(&self, namespace: &str, name: &str) -> Result<(), ProviderError> {
        self.delete_function_secret(namespace, name).await
    }

    async fn list_namespaces(&self) -> Result<Vec<String>, ProviderError> {
        self.function_namespaces().await
    }

    async fn get_namespace(&self, name: &str) -> Result<NamespaceRequest, ProviderError> {
        self.function_namespace(name).await
    }

    async fn create_namespace(&self, request: NamespaceRequest) -> Result<(), ProviderError> {
        self.create_function_namespace(request).await
    }

    async fn update_namespace(&self, request: NamespaceRequest) -> Result<(), ProviderError> {
        self.update_function_namespace(request).await
    }

    async fn delete_namespace(&self, name: &str) -> Result<(), ProviderError> {
        self.delete_function_namespace(name).await
    }

    async fn put_package(&self, image: &str, _: Bytes) -> Result<PackageInfo, ProviderError> {
        Err(ProviderError::Invalid(format!(
            "the kubernetes provider runs images from a registry; push {image} there \
             (packages are for the process provider)"
        )))
    }

    async fn list_packages(&self) -> Result<Vec<PackageInfo>, ProviderError> {
        Ok(Vec::new())
    }

    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            provider: "rustfaas-kubernetes".to_owned(),
            version: VersionInfo {
                commit_message: String::new(),
                sha: option_env!("RUSTFAAS_GIT_SHA").unwrap_or("dev").to_owned(),
                release: env!("CARGO_PKG_VERSION").to_owned(),
            },
            orchestration: "kubernetes".to_owned(),
        }
    }

    async fn shutdown(&self) {
        // The cluster keeps running the functions; only this server's watches stop.
        for watch in self
            .watches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            watch.abort();
        }
    }
}
