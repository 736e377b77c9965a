//! The harness: a fake API server, a local HTTP server standing in for every pod (the fake
//! kubelet runs no containers), and a provider connected to the fake.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use faas_kube_fake::{ClusterSettings, FakeApiServer};
use faas_provider_kubernetes::{KubernetesConfig, KubernetesProvider};

pub struct Cluster {
    pub fake: FakeApiServer,
    pub provider: Arc<KubernetesProvider>,
    pub pod: SocketAddr,
    pod_task: tokio::task::JoinHandle<()>,
}

/// Answers every call with what it saw, as a function would.
async fn start_pod() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = axum::Router::new().fallback(
        |method: axum::http::Method, uri: axum::http::Uri, body: String| async move {
            format!("pod saw {method} {} {body}", uri.path())
        },
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (address, task)
}

pub fn client_for(fake: &FakeApiServer) -> kube::Client {
    let config = kube::Config::new(fake.url().parse().unwrap());
    kube::Client::try_from(config).unwrap()
}

impl Cluster {
    pub async fn start() -> Cluster {
        Self::with_ready_delay(Duration::ZERO).await
    }

    pub async fn with_ready_delay(ready_delay: Duration) -> Cluster {
        let (pod, pod_task) = start_pod().await;
        let fake = FakeApiServer::start(ClusterSettings {
            pod_address: pod,
            ready_delay,
        })
        .await
        .unwrap();
        let provider = KubernetesProvider::start(client_for(&fake), KubernetesConfig::default());
        Cluster {
            fake,
            provider,
            pod,
            pod_task,
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.pod_task.abort();
    }
}

/// Polls `check` every 20 ms for up to 10 s until it gives `Some`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..500 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

pub fn function(name: &str) -> faas_types::FunctionDeployment {
    faas_types::FunctionDeployment {
        service: name.to_owned(),
        image: "ghcr.io/openfaas/alpine:latest".to_owned(),
        env_process: Some("cat".to_owned()),
        ..faas_types::FunctionDeployment::default()
    }
}
