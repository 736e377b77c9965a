//! Operator mode against the fake API server: Function objects reconciled into owned
//! Deployments and Services, status conditions, drift repaired, deletion cascading, and the
//! REST API writing Function objects.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::{client_for, eventually, function, Cluster};
use faas_kube_fake::FakeApiServer;
use faas_provider::Provider;
use faas_provider_kubernetes::crd::Function;
use faas_provider_kubernetes::{KubernetesConfig, KubernetesProvider};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::Api;

async fn operator_cluster() -> (Cluster, Arc<KubernetesProvider>) {
    let cluster = Cluster::start().await;
    let provider = KubernetesProvider::start(
        client_for(&cluster.fake),
        KubernetesConfig {
            operator: true,
            ..KubernetesConfig::default()
        },
    );
    (cluster, provider)
}

fn generated(name: &str) -> Function {
    // What `faas-cli generate` writes for a function.
    serde_json::from_value(serde_json::json!({
        "apiVersion": "openfaas.com/v1", "kind": "Function",
        "metadata": {"name": name, "namespace": "openfaas-fn"},
        "spec": {"name": name, "image": "ghcr.io/me/hello:0.1",
                 "environment": {"fprocess": "cat"}, "labels": {"team": "blue"}}
    }))
    .unwrap()
}

fn condition(fake: &FakeApiServer, name: &str, type_: &str) -> Option<String> {
    let function = fake.get("functions", "openfaas-fn", name)?;
    function["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| c["status"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn an_applied_function_becomes_owned_objects_and_goes_with_its_function() {
    let (cluster, provider) = operator_cluster().await;
    let functions: Api<Function> = Api::namespaced(client_for(&cluster.fake), "openfaas-fn");
    let applied = Instant::now();
    functions
        .create(&PostParams::default(), &generated("hello"))
        .await
        .unwrap();
    let endpoints = eventually("a ready replica", || async {
        let e = provider.endpoints("openfaas-fn", "hello").await.ok()?;
        (!e.is_empty()).then_some(e)
    })
    .await;
    let reply = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("http://{}/", endpoints[0].address))
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    eprintln!(
        "Function applied -> first successful call: {:?} (fake API server)",
        applied.elapsed()
    );

    let deployment = cluster
        .fake
        .get("deployments", "openfaas-fn", "hello")
        .unwrap();
    let owner = &deployment["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Function");
    assert_eq!(owner["apiVersion"], "openfaas.com/v1");
    assert_eq!(owner["controller"], true);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["env"][0]["name"], "fprocess");
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"]["team"],
        "blue"
    );
    let service = cluster
        .fake
        .get("services", "openfaas-fn", "hello")
        .unwrap();
    assert_eq!(
        service["metadata"]["ownerReferences"][0]["kind"],
        "Function"
    );
    eventually("Deployed and Ready conditions", || async {
        (condition(&cluster.fake, "hello", "Deployed").as_deref() == Some("True")
            && condition(&cluster.fake, "hello", "Ready").as_deref() == Some("True"))
        .then_some(())
    })
    .await;

    // Drift: a deleted Service comes back; an edited image is put back.
    assert!(cluster.fake.delete("services", "openfaas-fn", "hello"));
    eventually("the Service repaired", || async {
        cluster.fake.get("services", "openfaas-fn", "hello")
    })
    .await;
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client_for(&cluster.fake), "openfaas-fn");
    // As `kubectl edit` does: read, change, write back; again if the operator wrote between.
    for attempt in 0.. {
        let mut edited = deployments.get("hello").await.unwrap();
        edited
            .spec
            .as_mut()
            .unwrap()
            .template
            .spec
            .as_mut()
            .unwrap()
            .containers[0]
            .image = Some("evil:latest".to_owned());
        match deployments
            .replace("hello", &PostParams::default(), &edited)
            .await
        {
            Ok(_) => break,
            Err(kube::Error::Api(status)) if status.code == 409 && attempt < 20 => continue,
            Err(err) => panic!("{err}"),
        }
    }
    eventually("the image repaired", || async {
        let d = cluster.fake.get("deployments", "openfaas-fn", "hello")?;
        (d["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/me/hello:0.1")
            .then_some(())
    })
    .await;

    // The autoscaler's replica count is kept across reconciles.
    provider.scale("openfaas-fn", "hello", 3).await.unwrap();
    let patch = serde_json::json!({"spec": {"image": "ghcr.io/me/hello:0.2"}});
    functions
        .patch("hello", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    eventually("the new image rolled out", || async {
        let d = cluster.fake.get("deployments", "openfaas-fn", "hello")?;
        (d["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/me/hello:0.2")
            .then_some(d)
    })
    .await;
    let d = cluster
        .fake
        .get("deployments", "openfaas-fn", "hello")
        .unwrap();
    assert_eq!(d["spec"]["replicas"], 3);

    functions
        .delete("hello", &DeleteParams::default())
        .await
        .unwrap();
    assert!(cluster
        .fake
        .get("deployments", "openfaas-fn", "hello")
        .is_none());
    assert!(cluster
        .fake
        .get("services", "openfaas-fn", "hello")
        .is_none());
    provider.shutdown().await;
}

#[tokio::test]
async fn a_function_naming_a_missing_secret_says_so_in_its_status() {
    let (cluster, provider) = operator_cluster().await;
    let functions: Api<Function> = Api::namespaced(client_for(&cluster.fake), "openfaas-fn");
    let mut function = generated("needs-secret");
    function.spec.secrets = Some(vec!["nowhere".to_owned()]);
    functions
        .create(&PostParams::default(), &function)
        .await
        .unwrap();
    eventually("a Deployed=False condition", || async {
        (condition(&cluster.fake, "needs-secret", "Deployed").as_deref() == Some("False"))
            .then_some(())
    })
    .await;
    let stored = cluster
        .fake
        .get("functions", "openfaas-fn", "needs-secret")
        .unwrap();
    assert_eq!(
        stored["status"]["conditions"][0]["reason"],
        "SecretNotFound"
    );
    assert!(cluster
        .fake
        .get("deployments", "openfaas-fn", "needs-secret")
        .is_none());
    provider.shutdown().await;
}

#[tokio::test]
async fn with_the_operator_the_rest_api_writes_function_objects() {
    let (cluster, provider) = operator_cluster().await;
    let deployed = Instant::now();
    provider.deploy(function("via-rest")).await.unwrap();
    // The deploy returns once the operator's Deployment is in the watch cache.
    eventually("a ready replica", || async {
        let e = provider.endpoints("openfaas-fn", "via-rest").await.ok()?;
        (!e.is_empty()).then_some(())
    })
    .await;
    eprintln!(
        "REST deploy (operator mode) -> ready replica: {:?} (fake API server)",
        deployed.elapsed()
    );
    let stored = cluster
        .fake
        .get("functions", "openfaas-fn", "via-rest")
        .unwrap();
    assert_eq!(stored["spec"]["image"], "ghcr.io/openfaas/alpine:latest");
    assert_eq!(stored["spec"]["environment"]["fprocess"], "cat");
    assert!(matches!(
        provider.deploy(function("via-rest")).await,
        Err(faas_provider::ProviderError::Conflict(_))
    ));

    let mut updated = function("via-rest");
    updated.image = "ghcr.io/openfaas/alpine:3.20".to_owned();
    provider.update(updated).await.unwrap();
    let stored = cluster
        .fake
        .get("functions", "openfaas-fn", "via-rest")
        .unwrap();
    assert_eq!(stored["spec"]["image"], "ghcr.io/openfaas/alpine:3.20");
    eventually("the update reconciled", || async {
        let status = provider.status("openfaas-fn", "via-rest").await.ok()?;
        (status.image == "ghcr.io/openfaas/alpine:3.20").then_some(())
    })
    .await;

    provider.delete("openfaas-fn", "via-rest").await.unwrap();
    assert!(cluster
        .fake
        .get("functions", "openfaas-fn", "via-rest")
        .is_none());
    assert!(cluster
        .fake
        .get("deployments", "openfaas-fn", "via-rest")
        .is_none());
    provider.shutdown().await;
}
