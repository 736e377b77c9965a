//! The manifests under deploy/kubernetes: each document parses, and the ClusterRole grants
//! every (group, resource, verb) the provider and the operator were seen to use against the
//! fake API server, and nothing on resources they never touch.

mod common;

use std::collections::BTreeSet;

use common::{client_for, function, Cluster};
use faas_provider::Provider;
use faas_provider_kubernetes::{KubernetesConfig, KubernetesProvider};
use futures_util::StreamExt;
use serde_json::Value;

fn documents(file: &str) -> Vec<Value> {
    let path = format!(
        "{}/../../deploy/kubernetes/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    text.split("\n---\n")
        .filter(|doc| {
            doc.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .map(|doc| serde_saphyr::from_str(doc).unwrap_or_else(|e| panic!("{file}: {e}")))
        .collect()
}

fn verb(method: &str, has_name: bool, watch: bool) -> &'static str {
    match (method, has_name) {
        ("GET", true) => "get",
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        _ => "unknown",
    }
}

#[test]
fn every_manifest_parses_and_names_what_it_is() {
    for file in [
        "namespaces.yaml",
        "rbac.yaml",
        "faasd.yaml",
        "nats.yaml",
        "crd.yaml",
        "kustomization.yaml",
    ] {
        for doc in documents(file) {
            assert!(doc["kind"].is_string(), "{file}: a document without kind");
            assert!(
                doc["apiVersion"].is_string(),
                "{file}: a document without apiVersion"
            );
        }
    }
    let namespaces = documents("namespaces.yaml");
    let functions = namespaces
        .iter()
        .find(|d| d["metadata"]["name"] == "openfaas-fn")
        .unwrap();
    assert_eq!(functions["metadata"]["annotations"]["openfaas"], "1");
    let faasd = &documents("faasd.yaml")[0];
    let args = faasd["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap();
    assert!(args.iter().any(|a| a == "--provider=kubernetes"));
    assert_eq!(
        faasd["spec"]["template"]["spec"]["serviceAccountName"],
        "faasd"
    );
}

#[tokio::test]
async fn the_cluster_role_grants_exactly_what_the_provider_uses() {
    let cluster = Cluster::start().await;
    let provider = &cluster.provider;
    let operator = KubernetesProvider::start(
        client_for(&cluster.fake),
        KubernetesConfig {
            operator: true,
            ..KubernetesConfig::default()
        },
    );
    // Every kind of call the REST API can make.
    provider
        .create_secret(faas_types::Secret {
            name: "s".to_owned(),
            value: Some("v".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut f = function("rbac");
    f.secrets = Some(vec!["s".to_owned()]);
    provider.deploy(f.clone()).await.unwrap();
    provider.update(f).await.unwrap();
    provider.scale("openfaas-fn", "rbac", 2).await.unwrap();
    provider.list("openfaas-fn").await.unwrap();
    provider.status("openfaas-fn", "rbac").await.unwrap();
    let logs = provider
        .logs(faas_types::LogRequest {
            name: "rbac".to_owned(),
            namespace: Some("openfaas-fn".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    let _: Vec<_> = logs.collect().await;
    provider.list_secrets("openfaas-fn").await.unwrap();
    provider
        .update_secret(faas_types::Secret {
            name: "s".to_owned(),
            value: Some("w".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    provider.delete("openfaas-fn", "rbac").await.unwrap();
    provider.delete_secret("openfaas-fn", "s").await.unwrap();
    let ns = faas_types::NamespaceRequest {
        name: "team-r".to_owned(),
        ..Default::default()
    };
    provider.create_namespace(ns.clone()).await.unwrap();
    provider.update_namespace(ns).await.unwrap();
    provider.list_namespaces().await.unwrap();
    provider.delete_namespace("team-r").await.unwrap();
    operator.deploy(function("op")).await.unwrap();
    common::eventually("the Function's status", || async {
        cluster.fake.get("functions", "openfaas-fn", "op")?["status"]["conditions"]
            .as_array()
            .map(|_| ())
    })
    .await;
    let mut changed = function("op");
    changed.image = "ghcr.io/openfaas/alpine:3.20".to_owned();
    operator.update(changed).await.unwrap();
    operator.delete("openfaas-fn", "op").await.unwrap();
    operator.shutdown().await;
    let lease = faas_provider_kubernetes::lease::Leadership::start(
        client_for(&cluster.fake),
        faas_provider_kubernetes::lease::LeaseConfig {
            namespace: "default".to_owned(),
            name: "rustfaas-autoscaler".to_owned(),
            identity: "one".to_owned(),
            duration: std::time::Duration::from_millis(300),
        },
    );
    common::eventually("the lease held", || async {
        lease.is_leader().then_some(())
    })
    .await;
    // Renewed at least once (an update).
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    drop(lease);

    let mut used = BTreeSet::new();
    for line in cluster.fake.request_log() {
        let (method, uri) = line.split_once(' ').unwrap();
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let target = faas_kube_fake::kinds::parse(path).unwrap_or_else(|| panic!("{line}"));
        let resource = match &target.subresource {
            Some(sub) => format!("{}/{sub}", target.kind.plural),
            None => target.kind.plural.to_owned(),
        };
        let watch = query
            .split('&')
            .any(|p| p == "watch=true" || p == "watch=1");
        used.insert((
            target.kind.group.to_owned(),
            resource,
            verb(method, target.name.is_some(), watch).to_owned(),
        ));
    }

    let rbac = documents("rbac.yaml");
    let mut granted = BTreeSet::new();
    let rules = rbac
        .iter()
        .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
        .flat_map(|role| role["rules"].as_array().unwrap());
    for rule in rules {
        for group in rule["apiGroups"].as_array().unwrap() {
            for resource in rule["resources"].as_array().unwrap() {
                for verb in rule["verbs"].as_array().unwrap() {
                    granted.insert((
                        group.as_str().unwrap().to_owned(),
                        resource.as_str().unwrap().to_owned(),
                        verb.as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    let missing: Vec<_> = used.difference(&granted).collect();
    assert!(missing.is_empty(), "used but not granted: {missing:?}");
    let unused: Vec<_> = granted.difference(&used).collect();
    assert!(unused.is_empty(), "granted but never used: {unused:?}");
}
