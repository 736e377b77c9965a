//! The `Provider` trait: everything the gateway asks of whatever runs function replicas.

use std::net::SocketAddr;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use faas_types::{
    FunctionDeployment, FunctionStatus, LogMessage, LogRequest, NamespaceRequest, ProviderInfo,
    SandboxInfo, Secret,
};
use futures_util::Stream;
use serde::{Deserialize, Serialize};

use crate::address::ReplicaAddress;
use crate::error::ProviderError;

/// A ready replica's TCP address (containers, pods, unsandboxed processes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaEndpoint {
    /// The replica's name as shown in logs (`<function>-<n>`).
    pub instance: String,
    /// Where its watchdog listens.
    pub address: SocketAddr,
}

/// A ready replica as the gateway reaches it: over TCP, or over a Unix socket that only the
/// replica and the server can reach (so no other function can connect to it or squat it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaRoute {
    /// The replica's name as shown in logs (`<function>-<n>`).
    pub instance: String,
    /// Where its watchdog listens.
    pub address: ReplicaAddress,
}

impl From<ReplicaEndpoint> for ReplicaRoute {
    fn from(endpoint: ReplicaEndpoint) -> Self {
        ReplicaRoute {
            instance: endpoint.instance,
            address: ReplicaAddress::Tcp(endpoint.address),
        }
    }
}

/// Log lines, oldest first; with `follow` it stays open for new lines.
pub type LogStream = Pin<Box<dyn Stream<Item = LogMessage> + Send>>;

/// What the package store answers after an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageInfo {
    /// `name:tag`, usable as a deployment's `image`.
    pub image: String,
    /// `sha256:<hex>` of the uploaded tar.gz.
    pub digest: String,
    /// Bytes of the uploaded tar.gz.
    pub size: u64,
}

/// Runs functions: deploys, scales, resolves and removes their replicas, and keeps their
/// secrets, namespaces, packages and logs. Implementations must be safe to call concurrently.
///
/// Namespaces are always explicit here: the gateway substitutes `openfaas-fn` when a client
/// sends none.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Deploys a new function (`Conflict` if the name is taken in its namespace).
    async fn deploy(&self, request: FunctionDeployment) -> Result<(), ProviderError>;
    /// Replaces a function's definition without dropping calls (`NotFound` if absent).
    async fn update(&self, request: FunctionDeployment) -> Result<(), ProviderError>;
    /// Removes a function and stops its replicas.
    async fn delete(&self, namespace: &str, name: &str) -> Result<(), ProviderError>;
    /// Every function in a namespace (`invocationCount` left at 0: the gateway counts).
    async fn list(&self, namespace: &str) -> Result<Vec<FunctionStatus>, ProviderError>;
    /// One function.
    async fn status(&self, namespace: &str, name: &str) -> Result<FunctionStatus, ProviderError>;
    /// Sets the desired replica count.
    async fn scale(&self, namespace: &str, name: &str, replicas: u64) -> Result<(), ProviderError>;
    /// The function's ready replicas that listen on TCP (empty when none is ready; `NotFound`
    /// if no function). A backend whose replicas listen on Unix sockets leaves those out here;
    /// [`Provider::routes`] has them.
    async fn endpoints(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<ReplicaEndpoint>, ProviderError>;
    /// The function's ready replicas as the gateway reaches them, over TCP or a Unix socket
    /// (empty when none is ready; `NotFound` if no function). What the gateway's proxy and
    /// readiness waits use. The default is [`Provider::endpoints`], all TCP.
    async fn routes(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<ReplicaRoute>, ProviderError> {
        let endpoints = self.endpoints(namespace, name).await?;
        Ok(endpoints.into_iter().map(ReplicaRoute::from).collect())
    }
    /// A function's log lines.
    async fn logs(&self, request: LogRequest) -> Result<LogStream, ProviderError>;

    /// Secret names in a namespace (values are never listed).
    async fn list_secrets(&self, namespace: &str) -> Result<Vec<Secret>, ProviderError>;
    /// Creates a secret (`Conflict` if it exists).
    async fn create_secret(&self, secret: Secret) -> Result<(), ProviderError>;
    /// Replaces a secret's value (`NotFound` if absent).
    async fn update_secret(&self, secret: Secret) -> Result<(), ProviderError>;
    /// Removes a secret.
    async fn delete_secret(&self, namespace: &str, name: &str) -> Result<(), ProviderError>;

    /// Namespace names; always includes `openfaas-fn`.
    async fn list_namespaces(&self) -> Result<Vec<String>, ProviderError>;
    /// One namespace's record.
    async fn get_namespace(&self, name: &str) -> Result<NamespaceRequest, ProviderError>;
    /// Creates a namespace (`Conflict` if it exists).
    async fn create_namespace(&self, request: NamespaceRequest) -> Result<(), ProviderError>;
    /// Replaces a namespace's labels and annotations.
    async fn update_namespace(&self, request: NamespaceRequest) -> Result<(), ProviderError>;
    /// Removes an empty namespace (`Conflict` while functions remain in it).
    async fn delete_namespace(&self, name: &str) -> Result<(), ProviderError>;

    /// Stores a function package (a tar.gz) under `name:tag`.
    async fn put_package(&self, image: &str, archive: Bytes) -> Result<PackageInfo, ProviderError>;
    /// Stores a package the gateway streamed to the file at `path` (in
    /// [`Provider::package_staging_dir`]), so an upload is never held in memory whole. The
    /// provider may move the file away. The default reads it and calls `put_package`.
    async fn put_package_file(
        &self,
        image: &str,
        path: &std::path::Path,
    ) -> Result<PackageInfo, ProviderError> {
        let archive = tokio::fs::read(path).await?;
        self.put_package(image, Bytes::from(archive)).await
    }
    /// Where the gateway stages uploads: a directory on the same filesystem as the package
    /// store, so storing is a rename. `None`: the system's temporary directory.
    fn package_staging_dir(&self) -> Option<std::path::PathBuf> {
        None
    }
    /// Stored packages.
    async fn list_packages(&self) -> Result<Vec<PackageInfo>, ProviderError>;

    /// Who runs the functions, for `/system/info`.
    fn info(&self) -> ProviderInfo;
    /// How replicas are confined, for `/system/info` (`None`: the provider has nothing to say,
    /// e.g. containers do it).
    fn sandbox(&self) -> Option<SandboxInfo> {
        None
    }
    /// Stops every replica (server shutdown); the functions stay deployed.
    async fn shutdown(&self);
}
