//! The whole life of a function on a real faasd: deploy, call, list, scale, update, secrets,
//! logs, remove.

mod common;

use std::time::{Duration, Instant};

use common::{package, Faasd};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_seed_example_deploys_and_answers_with_nothing_built() {
    let faasd = Faasd::start();
    let started = Instant::now();
    let response = faasd
        .deploy(json!({"service":"wordcount","image":"functions/alpine:latest","envProcess":"wc"}))
        .await;
    assert_eq!(response.status(), 202);
    let (status, body) = faasd.invoke("wordcount", "one two three\n").await;
    let first_call = started.elapsed();
    assert_eq!(status, 200, "{body}");
    let words: Vec<&str> = body.split_whitespace().collect();
    assert_eq!(words, vec!["1", "3", "14"]);
    println!("deploy to first successful call: {first_call:?}");
}

#[tokio::test]
async fn a_function_lives_and_is_removed() {
    let faasd = Faasd::start();
    faasd.deploy_host("echo", "cat").await;

    let (status, body) = faasd.invoke("echo", "hello").await;
    assert_eq!((status, body.as_str()), (200, "hello"));
    // name.namespace addressing and sub-paths
    let response = faasd
        .client
        .get(faasd.url("/function/echo.openfaas-fn/sub/path?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-call-id"));

    let list = faasd.list().await;
    let echo = list
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "echo")
        .expect("echo listed");
    assert_eq!(echo["invocationCount"].as_f64(), Some(2.0));
    assert_eq!(echo["labels"]["faas_function"], "echo");
    assert_eq!(echo["namespace"], "openfaas-fn");

    // Deploying the same name again is a conflict.
    let again = faasd
        .deploy(json!({"service":"echo","image":"functions/alpine:latest","envProcess":"cat"}))
        .await;
    assert_eq!(again.status(), 409);

    // Scale to 3 and back to 1.
    let scaled = faasd
        .api(Method::POST, "/system/scale-function/echo")
        .json(&json!({"serviceName":"echo","replicas":3}))
        .send()
        .await
        .unwrap();
    assert_eq!(scaled.status(), 202);
    faasd.wait_replicas("echo", 3).await;
    let scaled = faasd
        .api(Method::POST, "/system/scale-function/echo")
        .json(&json!({"service":"echo","replicas":1}))
        .send()
        .await
        .unwrap();
    assert_eq!(scaled.status(), 202);
    faasd.wait_replicas("echo", 1).await;

    // Update: the new definition answers.
    let updated = faasd
        .api(Method::PUT, "/system/functions")
        .json(
            &json!({"service":"echo","image":"functions/alpine:latest","envProcess":"tr a-z A-Z"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = faasd.invoke("echo", "shout").await;
        assert_eq!(status, 200, "{body}");
        if body == "SHOUT" {
            break;
        }
        assert!(Instant::now() < deadline, "update never took effect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Logs hold the replica's output.
    let logs = faasd
        .api(Method::GET, "/system/logs?name=echo&tail=-1")
        .send()
        .await
        .unwrap();
    assert_eq!(logs.status(), 200);
    let text = logs.text().await.unwrap();
    assert!(text.contains("Forking fprocess"), "{text}");
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["name"], "echo");

    // Remove.
    let removed = faasd
        .api(Method::DELETE, "/system/functions")
        .json(&json!({"functionName":"echo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 202);
    let (status, _) = faasd.invoke("echo", "gone?").await;
    assert_eq!(status, 404);
    assert!(faasd.status("echo").await.is_none());
}

#[tokio::test]
async fn secrets_are_files_the_function_reads_and_never_listed_with_values() {
    let faasd = Faasd::start();
    let created = faasd
        .api(Method::POST, "/system/secrets")
        .json(&json!({"name":"api-key","value":"s3cret"}))
        .send()
        .await
        .unwrap();
    assert!(created.status() == 201 || created.status() == 202);
    let list = faasd
        .api(Method::GET, "/system/secrets")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("api-key") && !list.contains("s3cret"),
        "{list}"
    );

    let response = faasd
        .deploy(json!({
            "service": "reader",
            "image": "functions/alpine:latest",
            "envProcess": "sh -c 'cat \"$secret_mount_path/api-key\"'",
            "secrets": ["api-key"],
        }))
        .await;
    assert_eq!(response.status(), 202);
    faasd.wait_replicas("reader", 1).await;
    assert_eq!(
        faasd.invoke("reader", "").await,
        (200, "s3cret".to_string())
    );

    let updated = faasd
        .api(Method::PUT, "/system/secrets")
        .json(&json!({"name":"api-key","value":"n3w"}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(10);
    while faasd.invoke("reader", "").await.1 != "n3w" {
        assert!(
            Instant::now() < deadline,
            "secret update never reached the function"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let deleted = faasd
        .api(Method::DELETE, "/system/secrets")
        .json(&json!({"name":"other"}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 404);
}

#[tokio::test]
async fn an_uploaded_package_deploys_and_runs_from_its_own_directory() {
    let faasd = Faasd::start();
    let archive = package(
        &[
            (
                "handler.sh",
                "#!/bin/sh\nprintf 'pkg:%s:%s' \"$(cat)\" \"$(cat ./data.txt)\"\n",
                0o755,
            ),
            ("data.txt", "from-package", 0o644),
        ],
        json!({"fprocess": "./handler.sh"}),
    );
    let size = archive.len();
    let uploaded = faasd
        .api(Method::PUT, "/system/packages/hello:1.0")
        .body(archive)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201, "{}", uploaded.text().await.unwrap());
    let info: serde_json::Value = uploaded.json().await.unwrap();
    assert_eq!(info["image"], "hello:1.0");
    assert_eq!(info["size"], size);
    let digest = info["digest"].as_str().unwrap();
    assert!(
        digest.len() == 71 && digest.starts_with("sha256:"),
        "{digest}"
    );
    let response = faasd
        .deploy(json!({"service":"hello","image":"hello:1.0"}))
        .await;
    assert_eq!(response.status(), 202);
    faasd.wait_replicas("hello", 1).await;
    assert_eq!(
        faasd.invoke("hello", "in").await,
        (200, "pkg:in:from-package".to_string())
    );
}

#[tokio::test]
async fn auth_guards_the_api_but_not_functions() {
    let faasd = Faasd::start();
    let anonymous = faasd
        .client
        .get(faasd.url("/system/functions"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        "Basic realm=\"Restricted\""
    );
    let wrong = faasd
        .client
        .get(faasd.url("/system/functions"))
        .basic_auth("admin", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let info = faasd
        .api(Method::GET, "/system/info")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert!(!info["version"]["sha"].as_str().unwrap_or("").is_empty());
    assert!(!info["provider"]["version"]["sha"]
        .as_str()
        .unwrap_or("")
        .is_empty());
    let health = faasd
        .client
        .get(faasd.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let unknown = faasd
        .client
        .post(faasd.url("/function/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_hundred_concurrent_callers_all_succeed() {
    let faasd = Faasd::start();
    faasd.deploy_host("echo", "cat").await;
    let calls: Vec<_> = (0..100)
        .map(|i| {
            let client = faasd.client.clone();
            let url = faasd.url("/function/echo");
            tokio::spawn(async move {
                let body = format!("call {i}");
                let response = client.post(url).body(body.clone()).send().await.unwrap();
                assert_eq!(response.status(), 200);
                assert_eq!(response.text().await.unwrap(), body);
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap();
    }
}

#[tokio::test]
async fn a_package_under_a_repository_path_deploys() {
    let faasd = Faasd::start();
    let archive = package(&[], json!({"fprocess": "tr a-z A-Z"}));
    let uploaded = faasd
        .api(Method::PUT, "/system/packages/team/upper:2")
        .body(archive)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201, "{}", uploaded.text().await.unwrap());
    let response = faasd
        .deploy(json!({"service":"upper","image":"team/upper:2"}))
        .await;
    assert_eq!(response.status(), 202);
    faasd.wait_replicas("upper", 1).await;
    assert_eq!(faasd.invoke("upper", "abc").await, (200, "ABC".to_string()));
    let traversal = faasd
        .api(Method::PUT, "/system/packages/team/../../etc:1")
        .body(b"x".to_vec())
        .send()
        .await
        .unwrap();
    assert!(traversal.status().is_client_error());
}
