//! The engine client: bollard behind the few calls this backend makes, with the API version
//! negotiated on first contact (Docker 20.10 speaks 1.41, Docker 29 wants at least 1.44) and
//! every engine error turned into a [`ProviderError`] that says what the engine said.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStatsResponse, ContainerSummary,
    ImageInspect, NetworkCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, ListNetworksOptions,
    RemoveContainerOptions, StatsOptions, StopContainerOptions,
};
use bollard::Docker;
use faas_provider::ProviderError;
use futures_util::StreamExt;

/// How long one engine call may take (image pulls and builds have their own limits).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A connection to one Docker Engine (or Podman's compatible API).
#[derive(Debug)]
pub(crate) struct Engine {
    /// Made on first use: a socket that is missing now may be there later.
    docker: std::sync::Mutex<Option<Docker>>,
    /// Where it is, as in `DOCKER_HOST`; `None`: the local default socket.
    configured: Option<String>,
    /// Where it is, for messages.
    pub(crate) host: String,
    negotiated: AtomicBool,
}

impl Engine {
    /// Connects lazily (nothing is opened here): `host` as in `DOCKER_HOST`
    /// (`unix:///path`, `tcp://127.0.0.1:2375`), or the local default socket.
    pub(crate) fn connect(host: Option<&str>) -> Result<Engine, ProviderError> {
        if let Some(host) = host {
            let known = ["unix://", "tcp://", "http://"];
            if !known.iter().any(|scheme| host.starts_with(scheme)) {
                return Err(ProviderError::Invalid(format!(
                    "docker host {host:?} is not unix:///path, tcp://host:port or http://host:port"
                )));
            }
        }
        Ok(Engine {
            docker: std::sync::Mutex::new(None),
            configured: host.map(str::to_owned),
            host: host.unwrap_or("unix:///var/run/docker.sock").to_owned(),
            negotiated: AtomicBool::new(false),
        })
    }

    /// The client, after agreeing on an API version with the engine.
    async fn client(&self) -> Result<Docker, ProviderError> {
        let docker = {
            let mut slot = self.docker.lock().unwrap_or_else(|e| e.into_inner());
            match &*slot {
                Some(docker) => docker.clone(),
                None => {
                    let connected = match &self.configured {
                        Some(host) => Docker::connect_with_host(host),
                        None => Docker::connect_with_local_defaults(),
                    };
                    match connected {
                        Ok(docker) => {
                            let docker = docker.with_timeout(CALL_TIMEOUT);
                            *slot = Some(docker.clone());
                            docker
                        }
                        Err(err) => {
                            drop(slot);
                            return Err(self.error("connect", err));
                        }
                    }
                }
            }
        };
        if !self.negotiated.load(Ordering::Acquire) {
            // The version lives in an Arc shared by every clone of the client.
            docker
                .clone()
                .negotiate_version()
                .await
                .map_err(|err| self.error("reach", err))?;
            self.negotiated.store(true, Ordering::Release);
        }
        Ok(docker)
    }

    /// Turns an engine error into the provider's: unreachable engines are 503 with the reason.
    pub(crate) fn error(&self, doing: &str, err: bollard::errors::Error) -> ProviderError {
        use bollard::errors::Error as E;
        match err {
            E::DockerResponseServerError {
                status_code,
                message,
            } => match status_code {
                404 => ProviderError::NotFound(format!("{doing}: {message}")),
                409 => ProviderError::Conflict(format!("{doing}: {message}")),
                400 => ProviderError::Invalid(format!("{doing}: {message}")),
                _ => ProviderError::Internal(format!(
                    "{doing}: the Docker Engine answered {status_code}: {message}"
                )),
            },
            E::DockerStreamError { error } => ProviderError::Invalid(format!("{doing}: {error}")),
            other => {
                // A failed connection may mean a restarted engine: connect and agree on the
                // version again.
                self.negotiated.store(false, Ordering::Release);
                *self.docker.lock().unwrap_or_else(|e| e.into_inner()) = None;
                ProviderError::Unavailable(format!(
                    "the Docker Engine at {} is not reachable ({doing}): {other}",
                    self.host
                ))
            }
        }
    }

    /// Whether the engine answers.
    pub(crate) async fn ping(&self) -> Result<(), ProviderError> {
        let client = self.client().await?;
        client.ping().await.map_err(|e| self.error("ping", e))?;
        Ok(())
    }

    /// Every container (running or not) carrying all of these `key=value` labels.
    pub(crate) async fn containers(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ContainerSummary>, ProviderError> {
        let filters = HashMap::from([(
            "label".to_owned(),
            labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        )]);
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let client = self.client().await?;
        client
            .list_containers(Some(options))
            .await
            .map_err(|e| self.error("list containers", e))
    }

    pub(crate) async fn inspect_container(
        &self,
        id: &str,
    ) -> Result<ContainerInspectResponse, ProviderError> {
        let client = self.client().await?;
        client
            .inspect_container(id, None)
            .await
            .map_err(|e| self.error("inspect a container", e))
    }

    /// One reading of a container's stats, at once (`stream=false`, `one-shot`: the engine does
    /// not wait for a second reading to fill in `precpu_stats`).
    pub(crate) async fn stats(&self, id: &str) -> Result<ContainerStatsResponse, ProviderError> {
        let client = self.client().await?;
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stream = client.stats(id, Some(options));
        match stream.next().await {
            Some(Ok(stats)) => Ok(stats),
            Some(Err(err)) => Err(self.error("read a container's stats", err)),
            None => Err(ProviderError::NotFound(format!(
                "read a container's stats: no answer for {id}"
            ))),
        }
    }

    /// Creates and starts a container; removes it again when it cannot start.
    pub(crate) async fn run(
        &self,
        name: &str,
        body: ContainerCreateBody,
    ) -> Result<String, ProviderError> {
        let client = self.client().await?;
        let options = CreateContainerOptions {
            name: Some(name.to_owned()),
            ..Default::default()
        };
        let created = client
            .create_container(Some(options), body)
            .await
            .map_err(|e| self.error("create a container", e))?;
        if let Err(err) = client.start_container(&created.id, None).await {
            let _ = self.remove(&created.id).await;
            return Err(self.error("start a container", err));
        }
        Ok(created.id)
    }

    /// SIGTERM, then SIGKILL after `grace`, then removal.
    pub(crate) async fn stop_and_remove(
        &self,
        id: &str,
        grace: Duration,
    ) -> Result<(), ProviderError> {
        let client = self.client().await?;
        let options = StopContainerOptions {
            t: Some(i32::try_from(grace.as_secs()).unwrap_or(i32::MAX)),
            ..Default::default()
        };
        match client.stop_container(id, Some(options)).await {
            Ok(()) => {}
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => {}
            Err(err) => return Err(self.error("stop a container", err)),
        }
        self.remove(id).await
    }

    /// Removes a container at once (killing it if it runs); gone already is fine.
    pub(crate) async fn remove(&self, id: &str) -> Result<(), ProviderError> {
        let client = self.client().await?;
        let options = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        match client.remove_container(id, Some(options)).await {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => Ok(()),
            Err(err) => Err(self.error("remove a container", err)),
        }
    }

    /// The image's record, `None` when the engine does not have it.
    pub(crate) async fn image(&self, name: &str) -> Result<Option<ImageInspect>, ProviderError> {
        let client = self.client().await?;
        match client.inspect_image(name).await {
            Ok(image) => Ok(Some(image)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(err) => Err(self.error("inspect an image", err)),
        }
    }

    /// Pulls an image, up to `limit`, with the registry's credentials when given.
    pub(crate) async fn pull(
        &self,
        name: &str,
        limit: Duration,
        credentials: Option<bollard::auth::DockerCredentials>,
    ) -> Result<(), ProviderError> {
        let client = self.client().await?;
        let options = CreateImageOptions {
            from_image: Some(name.to_owned()),
            tag: (!name.contains('@') && !has_tag(name)).then(|| "latest".to_owned()),
            ..Default::default()
        };
        let pulling = async {
            let mut progress = client.create_image(Some(options), None, credentials);
            while let Some(step) = progress.next().await {
                step.map_err(|e| self.error(&format!("pull {name}"), e))?;
            }
            Ok(())
        };
        tokio::time::timeout(limit, pulling).await.map_err(|_| {
            ProviderError::Unavailable(format!("pulling {name} took longer than {limit:?}"))
        })?
    }

    /// Creates the bridge network if it is missing (another caller creating it too is fine).
    pub(crate) async fn ensure_network(
        &self,
        name: &str,
        labels: HashMap<String, String>,
    ) -> Result<(), ProviderError> {
        let client = self.client().await?;
        let filters = HashMap::from([("name".to_owned(), vec![name.to_owned()])]);
        let existing = client
            .list_networks(Some(ListNetworksOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|e| self.error("list networks", e))?;
        if existing.iter().any(|n| n.name.as_deref() == Some(name)) {
            return Ok(());
        }
        let request = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".to_owned()),
            labels: Some(labels),
            ..Default::default()
        };
        match client.create_network(request).await {
            Ok(_)
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(err) => Err(self.error(&format!("create network {name}"), err)),
        }
    }

    /// Removes a network; one still in use or gone already is left alone.
    pub(crate) async fn remove_network(&self, name: &str) {
        if let Ok(client) = self.client().await {
            if let Err(err) = client.remove_network(name).await {
                tracing::debug!("cannot remove network {name}: {err}");
            }
        }
    }

    /// The raw client, for the log and build streams.
    pub(crate) async fn raw(&self) -> Result<Docker, ProviderError> {
        self.client().await
    }
}

/// Whether `repo[:tag]` names a tag (a `:` after the last `/`).
fn has_tag(image: &str) -> bool {
    image
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags() {
        assert!(super::has_tag("busybox:1"));
        assert!(super::has_tag("127.0.0.1:5000/fn:dev"));
        assert!(!super::has_tag("127.0.0.1:5000/fn"));
        assert!(!super::has_tag("fn"));
    }
}
