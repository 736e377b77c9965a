//! Secrets, namespaces and logs through the kubernetes provider, against the fake.

mod common;

use std::time::Duration;

use common::{function, Cluster};
use faas_provider::{Provider, ProviderError};
use faas_types::{LogRequest, NamespaceRequest, Secret};
use futures_util::StreamExt;

fn secret(name: &str, value: &str) -> Secret {
    Secret {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..Secret::default()
    }
}

#[tokio::test]
async fn secrets_are_kubernetes_secrets_and_their_values_never_come_back() {
    let cluster = Cluster::start().await;
    let provider = &cluster.provider;
    provider
        .create_secret(secret("db-pass", "s3cr3t"))
        .await
        .unwrap();
    assert!(matches!(
        provider.create_secret(secret("db-pass", "again")).await,
        Err(ProviderError::Conflict(_))
    ));
    let stored = cluster
        .fake
        .get("secrets", "openfaas-fn", "db-pass")
        .unwrap();
    assert_eq!(stored["data"]["db-pass"], "czNjcjN0"); // base64 of s3cr3t
    assert_eq!(
        stored["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "openfaas"
    );

    let listed = provider.list_secrets("openfaas-fn").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "db-pass");
    assert!(listed[0].value.is_none() && listed[0].raw_value.is_none());

    provider
        .update_secret(secret("db-pass", "n3w"))
        .await
        .unwrap();
    let stored = cluster
        .fake
        .get("secrets", "openfaas-fn", "db-pass")
        .unwrap();
    assert_eq!(stored["data"]["db-pass"], "bjN3");
    assert!(matches!(
        provider.update_secret(secret("nope", "x")).await,
        Err(ProviderError::NotFound(_))
    ));

    // A function naming it mounts it read-only at /var/openfaas/secrets.
    let mut uses = function("uses-secret");
    uses.secrets = Some(vec!["db-pass".to_owned()]);
    provider.deploy(uses).await.unwrap();
    let deployment = cluster
        .fake
        .get("deployments", "openfaas-fn", "uses-secret")
        .unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        pod["volumes"][0]["projected"]["sources"][0]["secret"]["name"],
        "db-pass"
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"][0]["mountPath"],
        "/var/openfaas/secrets"
    );
    assert_eq!(pod["containers"][0]["volumeMounts"][0]["readOnly"], true);

    provider
        .delete_secret("openfaas-fn", "db-pass")
        .await
        .unwrap();
    assert!(matches!(
        provider.delete_secret("openfaas-fn", "db-pass").await,
        Err(ProviderError::NotFound(_))
    ));
}

#[tokio::test]
async fn namespaces_for_functions_are_the_annotated_ones() {
    let cluster = Cluster::start().await;
    let provider = &cluster.provider;
    // `default` exists in the fake but is not annotated.
    assert_eq!(
        provider.list_namespaces().await.unwrap(),
        vec!["openfaas-fn"]
    );
    assert!(matches!(
        provider.get_namespace("default").await,
        Err(ProviderError::NotFound(_))
    ));
    provider
        .create_namespace(NamespaceRequest {
            name: "team-a".to_owned(),
            labels: Some([("team".to_owned(), "a".to_owned())].into()),
            annotations: None,
        })
        .await
        .unwrap();
    let stored = cluster.fake.get("namespaces", "", "team-a").unwrap();
    assert_eq!(stored["metadata"]["annotations"]["openfaas"], "1");
    assert_eq!(
        provider.list_namespaces().await.unwrap(),
        vec!["openfaas-fn", "team-a"]
    );
    assert!(matches!(
        provider
            .create_namespace(NamespaceRequest {
                name: "team-a".to_owned(),
                ..NamespaceRequest::default()
            })
            .await,
        Err(ProviderError::Conflict(_))
    ));
    provider
        .update_namespace(NamespaceRequest {
            name: "team-a".to_owned(),
            labels: Some([("team".to_owned(), "b".to_owned())].into()),
            annotations: None,
        })
        .await
        .unwrap();
    let got = provider.get_namespace("team-a").await.unwrap();
    assert_eq!(got.labels.unwrap()["team"], "b");
    assert_eq!(got.annotations.unwrap()["openfaas"], "1");

    let mut there = function("there");
    there.namespace = Some("team-a".to_owned());
    provider.deploy(there).await.unwrap();
    assert_eq!(provider.list("team-a").await.unwrap().len(), 1);
    assert!(matches!(
        provider.delete_namespace("team-a").await,
        Err(ProviderError::Conflict(_))
    ));
    provider.delete("team-a", "there").await.unwrap();
    provider.delete_namespace("team-a").await.unwrap();
    assert!(cluster.fake.get("namespaces", "", "team-a").is_none());
}

#[tokio::test]
async fn logs_come_from_the_pods_as_openfaas_messages() {
    let cluster = Cluster::start().await;
    let provider = &cluster.provider;
    provider.deploy(function("talker")).await.unwrap();
    let pods = cluster.fake.names("pods", "openfaas-fn");
    assert_eq!(pods.len(), 1);
    let pod = pods[0].clone();
    for line in ["one", "two", "three"] {
        assert!(cluster.fake.append_log("openfaas-fn", &pod, line));
    }
    let request = LogRequest {
        name: "talker".to_owned(),
        namespace: Some("openfaas-fn".to_owned()),
        tail: 2,
        ..LogRequest::default()
    };
    let messages: Vec<_> = provider.logs(request).await.unwrap().collect().await;
    let texts: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, vec!["two", "three"]);
    assert!(messages
        .iter()
        .all(|m| m.instance == pod && m.name == "talker"));
    assert!(messages[0].timestamp <= messages[1].timestamp);

    // `since` keeps the lines written from then on.
    let since = messages[1].timestamp;
    let request = LogRequest {
        name: "talker".to_owned(),
        namespace: Some("openfaas-fn".to_owned()),
        since: Some(since),
        ..LogRequest::default()
    };
    let recent: Vec<_> = provider.logs(request).await.unwrap().collect().await;
    let texts: Vec<&str> = recent.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, vec!["three"]);

    let follow = LogRequest {
        name: "talker".to_owned(),
        namespace: Some("openfaas-fn".to_owned()),
        follow: true,
        tail: 1,
        ..LogRequest::default()
    };
    let mut stream = provider.logs(follow).await.unwrap();
    assert_eq!(stream.next().await.unwrap().text, "three");
    cluster.fake.append_log("openfaas-fn", &pod, "four");
    let next = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("a followed line")
        .unwrap();
    assert_eq!(next.text, "four");

    assert!(matches!(
        provider
            .logs(LogRequest {
                name: "nobody".to_owned(),
                namespace: Some("openfaas-fn".to_owned()),
                ..LogRequest::default()
            })
            .await,
        Err(ProviderError::NotFound(_))
    ));
}
