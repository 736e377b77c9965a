//! `faasd --provider docker` against the project's real Docker Engine (`scripts/docker.sh`):
//! the seed's wordcount as a container image through the gateway, scale from zero, `kill -9`
//! of faasd and restart (containers adopted by their labels, none left after a delete), and
//! an engine that is down (503 with the reason). Built with `--features docker`.

#![cfg(feature = "docker")]

mod common;

use std::time::Duration;

use common::Faasd;
use faas_testkit::docker::{docker, docker_host, BUSYBOX_IMAGE};
use serde_json::json;

fn start_docker_faasd(data: Option<&std::path::Path>) -> Faasd {
    let host = docker_host();
    let env = [
        ("FAASD_PROVIDER", "docker"),
        ("DOCKER_HOST", host.as_str()),
        ("FAASD_IMAGE_PULL", "never"),
    ];
    match data {
        Some(data) => Faasd::start_on(data, &env),
        None => Faasd::start_with(&env),
    }
}

fn containers_of(data: &std::path::Path) -> Vec<String> {
    let owner = std::fs::read_to_string(data.join("docker/owner")).unwrap();
    let mut ids: Vec<String> = docker(&[
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label=com.rustfaas.owner={}", owner.trim()),
    ])
    .lines()
    .map(str::to_owned)
    .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn wordcount_runs_as_a_container_and_survives_kill_9_of_faasd() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut faasd = start_docker_faasd(Some(&data));
    let info: serde_json::Value = faasd
        .api(reqwest::Method::GET, "/system/info")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["provider"]["orchestration"], "docker", "{info}");

    faasd
        .deploy_accepted(json!({
            "service": "wordcount",
            "image": BUSYBOX_IMAGE,
            "envProcess": "wc",
            "labels": {"com.openfaas.scale.zero": "true"},
        }))
        .await;
    faasd.wait_replicas("wordcount", 1).await;
    let (status, body) = faasd.invoke("wordcount", "hello docker world").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body.split_whitespace().collect::<Vec<_>>(),
        ["0", "3", "18"]
    );

    // Scale to zero, then a call brings a container back.
    faasd.scale("wordcount", 0).await;
    faasd.wait_replicas("wordcount", 0).await;
    let (status, _) = faasd.invoke("wordcount", "cold").await;
    assert_eq!(status, 200);

    faasd.scale("wordcount", 2).await;
    faasd.wait_replicas("wordcount", 2).await;
    // Old replicas of the scale-down may still be draining: wait for exactly two.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while containers_of(&data).len() != 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            containers_of(&data)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before = containers_of(&data);

    faasd.kill9();
    let faasd = start_docker_faasd(Some(&data));
    faasd.wait_replicas("wordcount", 2).await;
    assert_eq!(
        containers_of(&data),
        before,
        "the containers were not adopted"
    );
    let (status, _) = faasd.invoke("wordcount", "again").await;
    assert_eq!(status, 200);

    let response = faasd
        .api(reqwest::Method::DELETE, "/system/functions")
        .json(&json!({"functionName": "wordcount"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert!(
        containers_of(&data).is_empty(),
        "{:?}",
        containers_of(&data)
    );
}

#[tokio::test]
async fn a_missing_image_is_400_and_a_down_engine_503() {
    let faasd = start_docker_faasd(None);
    let response = faasd
        .deploy(
            json!({"service": "ghost", "image": "rustfaas/no-such-image:1", "envProcess": "cat"}),
        )
        .await;
    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("rustfaas/no-such-image:1"), "{text}");
    drop(faasd);

    let dir = tempfile::tempdir().unwrap();
    let socket = format!("unix://{}/engine.sock", dir.path().display());
    let faasd = Faasd::start_with(&[("FAASD_PROVIDER", "docker"), ("DOCKER_HOST", &socket)]);
    let response = faasd
        .deploy(json!({"service": "nowhere", "image": BUSYBOX_IMAGE, "envProcess": "cat"}))
        .await;
    assert_eq!(response.status(), 503);
    let text = response.text().await.unwrap();
    assert!(text.contains("not reachable"), "{text}");
}

#[tokio::test]
async fn an_uploaded_package_is_built_into_an_image_by_the_server() {
    let faasd = start_docker_faasd(None);
    let dockerfile = format!(
        "FROM {BUSYBOX_IMAGE}\nCOPY greeting.txt /home/app/greeting.txt\nENV fprocess=\"cat /home/app/greeting.txt\"\nCMD [\"fwatchdog\"]\n"
    );
    let archive = common::package(
        &[
            ("Dockerfile", &dockerfile, 0o644),
            ("greeting.txt", "built on the server\n", 0o644),
        ],
        json!({}),
    );
    let response = faasd
        .api(reqwest::Method::PUT, "/system/packages/server-built:1")
        .body(archive)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    assert!(text.contains("server-built:1"), "{text}");
    docker(&["image", "inspect", "server-built:1"]);

    faasd
        .deploy_accepted(json!({"service": "greeter", "image": "server-built:1"}))
        .await;
    faasd.wait_replicas("greeter", 1).await;
    let (status, body) = faasd.invoke("greeter", "").await;
    assert_eq!((status, body.trim()), (200, "built on the server"));

    // A package the engine cannot build is refused with the builder's reason.
    let archive = common::package(&[("handler.sh", "echo hi\n", 0o755)], json!({}));
    let response = faasd
        .api(reqwest::Method::PUT, "/system/packages/no-dockerfile:1")
        .body(archive)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("Dockerfile"), "{text}");
    drop(faasd); // stops its containers
    docker(&["rmi", "server-built:1"]);
}
