//! `faasd --provider kubernetes` (with and without `--operator`) against the fake API server,
//! found through a KUBECONFIG file as a user's cluster would be: deploy through the REST API,
//! call the function through the gateway (the fake's pods are a local server), delete.
#![cfg(feature = "kubernetes")]

mod common;

use std::time::Duration;

use common::Faasd;
use faas_kube_fake::{ClusterSettings, FakeApiServer};
use serde_json::json;

struct Pod {
    address: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Pod {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pod() -> Pod {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = axum::Router::new().fallback(|body: String| async move { format!("pod: {body}") });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Pod { address, task }
}

fn kubeconfig(dir: &std::path::Path, fake: &FakeApiServer) -> String {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
         contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n\
         current-context: fake\nusers:\n- name: fake\n  user: {{}}\n",
        fake.url()
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

async fn deploy_call_delete(operator: bool) {
    let pod = pod().await;
    let fake = FakeApiServer::start(ClusterSettings {
        pod_address: pod.address,
        ready_delay: Duration::ZERO,
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig(dir.path(), &fake);
    let operator_flag = operator.to_string();
    let faasd = tokio::task::block_in_place(|| {
        Faasd::start_with(&[
            ("FAASD_PROVIDER", "kubernetes"),
            ("FAASD_OPERATOR", &operator_flag),
            ("KUBECONFIG", &kubeconfig),
        ])
    });
    let deployed = faasd
        .deploy(json!({"service": "hello", "image": "ghcr.io/openfaas/alpine:latest", "envProcess": "cat"}))
        .await;
    assert_eq!(deployed.status(), 202, "{}", faasd.logs());
    assert!(fake.get("deployments", "openfaas-fn", "hello").is_some());
    assert_eq!(
        fake.get("functions", "openfaas-fn", "hello").is_some(),
        operator
    );
    let (status, body) = faasd.invoke("hello", "hi").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "pod: hi"),
        "{}",
        faasd.logs()
    );
    let info: serde_json::Value = faasd
        .api(reqwest::Method::GET, "/system/info")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["provider"]["orchestration"], "kubernetes");
    let deleted = faasd
        .api(reqwest::Method::DELETE, "/system/functions")
        .json(&json!({"functionName": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 202);
    assert!(fake.get("deployments", "openfaas-fn", "hello").is_none());
    assert_eq!(fake.get("functions", "openfaas-fn", "hello"), None);
    drop(faasd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faasd_runs_functions_on_the_cluster_in_kubeconfig() {
    deploy_call_delete(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faasd_with_the_operator_writes_function_objects() {
    deploy_call_delete(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faasd_with_an_autoscaler_lease_holds_it() {
    let pod = pod().await;
    let fake = FakeApiServer::start(ClusterSettings {
        pod_address: pod.address,
        ready_delay: Duration::ZERO,
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig(dir.path(), &fake);
    let faasd = tokio::task::block_in_place(|| {
        Faasd::start_with(&[
            ("FAASD_PROVIDER", "kubernetes"),
            ("FAASD_AUTOSCALER_LEASE", "default/rustfaas-autoscaler"),
            ("KUBECONFIG", &kubeconfig),
        ])
    });
    let mut holder = None;
    for _ in 0..250 {
        if let Some(lease) = fake.get("leases", "default", "rustfaas-autoscaler") {
            holder = lease["spec"]["holderIdentity"].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let holder = holder.unwrap_or_else(|| panic!("no lease held; faasd says:\n{}", faasd.logs()));
    assert!(!holder.is_empty());
    drop(faasd);
}
