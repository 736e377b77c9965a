//! The kubernetes provider against the fake API server: deploy, list, status, scale (the
//! `scale` subresource), update, delete; endpoints from the watch cache only.

mod common;

use common::{eventually, function, Cluster};
use faas_provider::{Provider, ProviderError};

#[tokio::test]
async fn a_function_lives_and_dies_as_a_deployment_and_a_service() {
    let cluster = Cluster::start().await;
    let provider = &cluster.provider;
    let mut hello = function("hello");
    hello.labels = Some([("team".to_owned(), "blue".to_owned())].into());
    provider.deploy(hello.clone()).await.unwrap();

    let deployment = cluster
        .fake
        .get("deployments", "openfaas-fn", "hello")
        .unwrap();
    assert_eq!(deployment["metadata"]["labels"]["faas_function"], "hello");
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"]["team"],
        "blue"
    );
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["name"],
        "hello"
    );
    let service = cluster
        .fake
        .get("services", "openfaas-fn", "hello")
        .unwrap();
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert_eq!(service["spec"]["selector"]["faas_function"], "hello");

    let endpoints = eventually("one ready replica", || async {
        let e = provider.endpoints("openfaas-fn", "hello").await.unwrap();
        (e.len() == 1).then_some(e)
    })
    .await;
    assert_eq!(endpoints[0].address, cluster.pod);
    assert!(
        endpoints[0].instance.starts_with("hello-"),
        "{:?}",
        endpoints[0]
    );

    let listed = provider.list("openfaas-fn").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "hello");
    assert_eq!(listed[0].image, "ghcr.io/openfaas/alpine:latest");
    assert_eq!(listed[0].env_process.as_deref(), Some("cat"));
    assert!(listed[0].created_at.is_some());
    let status = provider.status("openfaas-fn", "hello").await.unwrap();
    assert_eq!((status.replicas, status.available_replicas), (1, 1));

    provider.scale("openfaas-fn", "hello", 3).await.unwrap();
    eventually("three ready replicas", || async {
        let e = provider.endpoints("openfaas-fn", "hello").await.unwrap();
        (e.len() == 3).then_some(())
    })
    .await;
    assert_eq!(cluster.fake.names("pods", "openfaas-fn").len(), 3);
    let status = provider.status("openfaas-fn", "hello").await.unwrap();
    assert_eq!((status.replicas, status.available_replicas), (3, 3));

    // An update changes the image and keeps the autoscaler's replica count.
    let mut updated = hello.clone();
    updated.image = "ghcr.io/openfaas/alpine:3.20".to_owned();
    provider.update(updated).await.unwrap();
    let status = provider.status("openfaas-fn", "hello").await.unwrap();
    assert_eq!(status.image, "ghcr.io/openfaas/alpine:3.20");
    assert_eq!(status.replicas, 3);

    provider.scale("openfaas-fn", "hello", 0).await.unwrap();
    eventually("no ready replica", || async {
        let e = provider.endpoints("openfaas-fn", "hello").await.unwrap();
        e.is_empty().then_some(())
    })
    .await;
    assert_eq!(
        provider
            .status("openfaas-fn", "hello")
            .await
            .unwrap()
            .replicas,
        0
    );

    provider.delete("openfaas-fn", "hello").await.unwrap();
    assert!(cluster
        .fake
        .get("deployments", "openfaas-fn", "hello")
        .is_none());
    assert!(cluster
        .fake
        .get("services", "openfaas-fn", "hello")
        .is_none());
    assert!(matches!(
        provider.endpoints("openfaas-fn", "hello").await,
        Err(ProviderError::NotFound(_))
    ));
    assert!(provider.list("openfaas-fn").await.unwrap().is_empty());
}

#[tokio::test]
async fn resolving_endpoints_makes_no_api_call() {
    let cluster = Cluster::start().await;
    let provider = &cluster.provider;
    provider.deploy(function("fast")).await.unwrap();
    provider.scale("openfaas-fn", "fast", 2).await.unwrap();
    eventually("two ready replicas", || async {
        let e = provider.endpoints("openfaas-fn", "fast").await.unwrap();
        (e.len() == 2).then_some(())
    })
    .await;
    let before = cluster.fake.requests();
    for _ in 0..1000 {
        let endpoints = provider.endpoints("openfaas-fn", "fast").await.unwrap();
        assert_eq!(endpoints.len(), 2);
    }
    assert!(matches!(
        provider.endpoints("openfaas-fn", "missing").await,
        Err(ProviderError::NotFound(_))
    ));
    let after = cluster.fake.requests();
    assert_eq!(after - before, 0, "API requests during 1,000 resolutions");
}

#[tokio::test]
async fn names_taken_unknown_and_rejected_map_to_409_404_400() {
    let cluster = Cluster::start().await;
    let provider = &cluster.provider;
    provider.deploy(function("taken")).await.unwrap();
    assert!(matches!(
        provider.deploy(function("taken")).await,
        Err(ProviderError::Conflict(_))
    ));
    assert!(matches!(
        provider.status("openfaas-fn", "nobody").await,
        Err(ProviderError::NotFound(_))
    ));
    assert!(matches!(
        provider.scale("openfaas-fn", "nobody", 1).await,
        Err(ProviderError::NotFound(_))
    ));
    assert!(matches!(
        provider.delete("openfaas-fn", "nobody").await,
        Err(ProviderError::NotFound(_))
    ));
    let mut update = function("nobody");
    update.image = "x:1".to_owned();
    assert!(matches!(
        provider.update(update).await,
        Err(ProviderError::NotFound(_))
    ));

    // The API server rejects a label value our own checks let through: 400 with its words.
    let mut spaced = function("spaced");
    spaced.labels = Some([("team".to_owned(), "has spaces".to_owned())].into());
    match provider.deploy(spaced).await {
        Err(ProviderError::Invalid(message)) => {
            assert!(
                message.contains("Invalid value: \"has spaces\""),
                "{message}"
            )
        }
        other => panic!("expected 400, got {other:?}"),
    }
    assert!(cluster
        .fake
        .get("deployments", "openfaas-fn", "spaced")
        .is_none());

    let mut secretive = function("secretive");
    secretive.secrets = Some(vec!["missing-secret".to_owned()]);
    match provider.deploy(secretive).await {
        Err(ProviderError::Invalid(message)) => assert!(message.contains("missing-secret")),
        other => panic!("expected 400, got {other:?}"),
    }
    let mut elsewhere = function("elsewhere");
    elsewhere.namespace = Some("kube-system".to_owned());
    assert!(matches!(
        provider.deploy(elsewhere).await,
        Err(ProviderError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_deploy_whose_service_fails_leaves_nothing_behind() {
    let cluster = Cluster::start().await;
    let provider = &cluster.provider;
    // A name valid for a Deployment but not for a Service (RFC 1035: starts with a letter).
    match provider.deploy(function("1st")).await {
        Err(ProviderError::Invalid(message)) => assert!(message.contains("DNS-1035"), "{message}"),
        other => panic!("expected 400, got {other:?}"),
    }
    assert!(cluster
        .fake
        .get("deployments", "openfaas-fn", "1st")
        .is_none());

    cluster.fake.fail_next("POST", "services", 500);
    assert!(matches!(
        provider.deploy(function("flaky")).await,
        Err(ProviderError::Unavailable(_))
    ));
    assert!(cluster
        .fake
        .get("deployments", "openfaas-fn", "flaky")
        .is_none());
    assert!(cluster.fake.names("pods", "openfaas-fn").is_empty());
    // And the name is free again; a single 503 is retried by the client, unseen.
    cluster.fake.fail_next("POST", "services", 503);
    provider.deploy(function("flaky")).await.unwrap();
    assert!(cluster
        .fake
        .get("services", "openfaas-fn", "flaky")
        .is_some());
}

#[tokio::test]
async fn an_unreachable_api_server_is_503_with_the_reason() {
    let fake = faas_kube_fake::FakeApiServer::start(faas_kube_fake::ClusterSettings {
        pod_address: "127.0.0.1:9".parse().unwrap(),
        ready_delay: std::time::Duration::ZERO,
    })
    .await
    .unwrap();
    let client = common::client_for(&fake);
    drop(fake);
    let provider = faas_provider_kubernetes::KubernetesProvider::start(
        client,
        faas_provider_kubernetes::KubernetesConfig {
            sync_wait: std::time::Duration::from_millis(200),
            ..Default::default()
        },
    );
    match provider.deploy(function("hello")).await {
        Err(ProviderError::Unavailable(message)) => {
            assert!(
                message.contains("cannot reach the Kubernetes API server"),
                "{message}"
            )
        }
        other => panic!("expected 503, got {other:?}"),
    }
    assert!(matches!(
        provider.list("openfaas-fn").await,
        Err(ProviderError::Unavailable(_))
    ));
    assert!(matches!(
        provider.endpoints("openfaas-fn", "hello").await,
        Err(ProviderError::Unavailable(_))
    ));
}

#[tokio::test]
async fn usage_comes_from_the_metrics_api_when_it_is_served() {
    let cluster = Cluster::start().await;
    let provider = &cluster.provider;
    let mut busy = function("busy");
    busy.labels = Some([("com.openfaas.scale.min".to_owned(), "2".to_owned())].into());
    provider.deploy(busy).await.unwrap();
    provider.deploy(function("quiet")).await.unwrap();
    assert!(provider
        .status("openfaas-fn", "busy")
        .await
        .unwrap()
        .usage
        .is_none());
    for pod in cluster.fake.names("pods", "openfaas-fn") {
        if pod.starts_with("busy-") {
            assert!(cluster
                .fake
                .set_pod_metrics("openfaas-fn", &pod, "250m", "64Mi"));
        }
    }
    let usage = provider
        .status("openfaas-fn", "busy")
        .await
        .unwrap()
        .usage
        .unwrap();
    assert_eq!(usage.cpu, 0.5);
    assert_eq!(usage.total_memory_bytes, 2.0 * 64.0 * 1024.0 * 1024.0);
    let listed = provider.list("openfaas-fn").await.unwrap();
    assert_eq!(listed[0].name, "busy");
    assert_eq!(listed[0].usage.unwrap().cpu, 0.5);
    assert!(listed[1].usage.is_none());
}
