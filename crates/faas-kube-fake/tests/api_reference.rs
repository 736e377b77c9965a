//! The fake's answers checked against the shapes the Kubernetes API reference gives: Status
//! objects (kind, apiVersion, status, message, reason, details, code) for 404/409/422/410,
//! List objects with a resourceVersion, watch events replayed from a resourceVersion, the
//! Scale subresource (autoscaling/v1), and optimistic concurrency on resourceVersion.

use std::time::Duration;

use faas_kube_fake::{ClusterSettings, FakeApiServer};
use serde_json::{json, Value};

async fn fake() -> FakeApiServer {
    FakeApiServer::start(ClusterSettings {
        pod_address: "127.0.0.1:9".parse().unwrap(),
        ready_delay: Duration::ZERO,
    })
    .await
    .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"faas_function": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"faas_function": name}},
            "template": {"metadata": {"labels": {"faas_function": name}},
                         "spec": {"containers": [{"name": name, "image": "img:1"}]}}
        }
    })
}

fn assert_status(body: &Value, code: u64, reason: &str) {
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["apiVersion"], "v1");
    assert_eq!(body["status"], "Failure");
    assert_eq!(body["code"], code);
    assert_eq!(body["reason"], reason);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn failures_are_status_objects_with_the_api_servers_reasons() {
    let fake = fake().await;
    let base = format!(
        "{}/apis/apps/v1/namespaces/openfaas-fn/deployments",
        fake.url()
    );
    let missing = http().get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_status(&body, 404, "NotFound");
    assert_eq!(body["message"], "deployments.apps \"nope\" not found");
    assert_eq!(
        body["details"],
        json!({"name": "nope", "group": "apps", "kind": "deployments"})
    );

    let created = http()
        .post(&base)
        .json(&deployment("hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    for field in ["uid", "resourceVersion", "creationTimestamp", "generation"] {
        assert!(!created["metadata"][field].is_null(), "no metadata.{field}");
    }
    assert_eq!(created["metadata"]["namespace"], "openfaas-fn");

    let again = http()
        .post(&base)
        .json(&deployment("hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    assert_status(&again.json().await.unwrap(), 409, "AlreadyExists");

    let invalid = http()
        .post(&base)
        .json(&deployment("Hello_World"))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    let body: Value = invalid.json().await.unwrap();
    assert_status(&body, 422, "Invalid");
    assert_eq!(body["details"]["causes"][0]["field"], "metadata.name");
    // Several field errors are listed in brackets, as the API server lists them.
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Deployment.apps \"Hello_World\" is invalid: [metadata.name: Invalid value"
        ),
        "{message}"
    );
    assert!(
        message.contains("spec.template.spec.containers[0].name: Invalid value"),
        "{message}"
    );

    let nowhere = format!("{}/apis/apps/v1/namespaces/nowhere/deployments", fake.url());
    let response = http()
        .post(nowhere)
        .json(&deployment("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["message"],
        "namespaces \"nowhere\" not found"
    );
}

#[tokio::test]
async fn a_stale_resource_version_is_a_conflict() {
    let fake = fake().await;
    let base = format!(
        "{}/apis/apps/v1/namespaces/openfaas-fn/deployments",
        fake.url()
    );
    let first: Value = http()
        .post(&base)
        .json(&deployment("hello"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut update = first.clone();
    update["spec"]["template"]["spec"]["containers"][0]["image"] = json!("img:2");
    let ok = http()
        .put(format!("{base}/hello"))
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let updated: Value = ok.json().await.unwrap();
    assert_eq!(updated["metadata"]["generation"], 2);
    assert_ne!(
        updated["metadata"]["resourceVersion"],
        first["metadata"]["resourceVersion"]
    );
    // The same write again carries the old resourceVersion.
    let stale = http()
        .put(format!("{base}/hello"))
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 409);
    assert_status(&stale.json().await.unwrap(), 409, "Conflict");
    let mut bare = update.clone();
    bare["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let unversioned = http()
        .put(format!("{base}/hello"))
        .json(&bare)
        .send()
        .await
        .unwrap();
    assert_eq!(unversioned.status(), 422);
}

#[tokio::test]
async fn lists_watches_and_the_scale_subresource_have_the_api_shapes() {
    let fake = fake().await;
    let base = format!(
        "{}/apis/apps/v1/namespaces/openfaas-fn/deployments",
        fake.url()
    );
    let list: Value = http()
        .get(&base)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["kind"], "DeploymentList");
    assert_eq!(list["apiVersion"], "apps/v1");
    let listed_at = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    http()
        .post(&base)
        .json(&deployment("hello"))
        .send()
        .await
        .unwrap();

    let scale: Value = http()
        .get(format!("{base}/hello/scale"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"]["replicas"], 1);
    assert_eq!(scale["status"]["selector"], "faas_function=hello");
    let patched = http()
        .patch(format!("{base}/hello/scale"))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"spec":{"replicas":0}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let negative = http()
        .patch(format!("{base}/hello/scale"))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"spec":{"replicas":-1}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(negative.status(), 422);

    // A watch from the list's resourceVersion replays what happened since, in order.
    let url = format!("{base}?watch=true&resourceVersion={listed_at}&timeoutSeconds=1&labelSelector=faas_function%3Dhello");
    let text = http().get(url).send().await.unwrap().text().await.unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["kind"], "Deployment");
    assert!(events.iter().skip(1).all(|e| e["type"] == "MODIFIED"));
    assert!(events.iter().any(|e| e["object"]["spec"]["replicas"] == 0));
    let versions: Vec<u64> = events
        .iter()
        .map(|e| {
            e["object"]["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");

    let unsupported = http()
        .patch(format!("{base}/hello"))
        .header("content-type", "application/json-patch+json")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(unsupported.status(), 415);
}
