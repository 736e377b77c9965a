//! The gateway over the kubernetes provider, on real sockets: the REST API deploys into the
//! fake cluster, calls reach the pods' address from the watch cache, and a function at zero
//! replicas is scaled up and the call held until a pod turns Ready.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Cluster;
use faas_gateway::{Gateway, GatewayConfig};
use faas_provider::Provider;

async fn serve(provider: Arc<dyn Provider>) -> (String, tokio::task::JoinHandle<()>) {
    let gateway = Gateway::new(
        provider,
        GatewayConfig {
            auth: None,
            cold_start_timeout: Duration::from_secs(10),
            ..GatewayConfig::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = gateway.router();
    let task = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    (url, task)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[tokio::test]
async fn the_rest_api_deploys_into_the_cluster_and_calls_reach_the_pods() {
    let cluster = Cluster::start().await;
    let (url, server) = serve(cluster.provider.clone()).await;
    let http = client();
    let started = Instant::now();
    let deployed = http
        .post(format!("{url}/system/functions"))
        .json(
            &serde_json::json!({"service": "hello", "image": "ghcr.io/openfaas/alpine:latest",
                                  "envProcess": "cat", "labels": {"com.openfaas.scale.min": "2"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deployed.status(), 202, "{:?}", deployed.text().await);
    let again = http
        .post(format!("{url}/system/functions"))
        .json(&serde_json::json!({"service": "hello", "image": "x:1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);

    let called = http
        .post(format!("{url}/function/hello/some/path"))
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(called.status(), 200);
    assert_eq!(called.text().await.unwrap(), "pod saw POST /some/path hi");
    eprintln!(
        "REST deploy -> first successful call through the gateway: {:?} (fake API server)",
        started.elapsed()
    );

    let described: serde_json::Value = http
        .get(format!("{url}/system/function/hello"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(described["name"], "hello");
    assert_eq!(described["replicas"], 2);
    assert_eq!(described["availableReplicas"], 2);

    let missing = http
        .get(format!("{url}/function/nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let deleted = http
        .delete(format!("{url}/system/functions"))
        .json(&serde_json::json!({"functionName": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 202);
    assert!(cluster
        .fake
        .get("deployments", "openfaas-fn", "hello")
        .is_none());
    server.abort();
}

#[tokio::test]
async fn a_call_to_a_function_at_zero_waits_for_a_ready_pod() {
    let cluster = Cluster::with_ready_delay(Duration::from_millis(300)).await;
    let (url, server) = serve(cluster.provider.clone()).await;
    cluster
        .provider
        .deploy(common::function("sleepy"))
        .await
        .unwrap();
    cluster
        .provider
        .scale("openfaas-fn", "sleepy", 0)
        .await
        .unwrap();
    common::eventually("no pods", || async {
        cluster
            .fake
            .names("pods", "openfaas-fn")
            .is_empty()
            .then_some(())
    })
    .await;

    let started = Instant::now();
    let called = client()
        .post(format!("{url}/function/sleepy"))
        .body("wake")
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(called.status(), 200);
    assert_eq!(called.text().await.unwrap(), "pod saw POST / wake");
    assert!(took >= Duration::from_millis(300), "held only {took:?}");
    let deployment = cluster
        .fake
        .get("deployments", "openfaas-fn", "sleepy")
        .unwrap();
    assert_eq!(deployment["spec"]["replicas"], 1);
    server.abort();
}
