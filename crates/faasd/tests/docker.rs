//! `faasd --provider docker` against the project's real Docker Engine (`scripts/docker.sh`):
//! the seed's wordcount as a container image through the gateway, scale from zero, `kill -9`
//! of faasd and restart (containers adopted by their labels, none left after a delete), updates
//! of the image and the environment under a stream of calls (none fails), `usage` in the API,
//! and an engine that is down (503 with the reason). Built with `--features docker`; with
//! `RUSTFAAS_ENGINE=podman` they run on Podman's Docker API (`scripts/podman.sh`).

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

/// An image of the base image with `ENV version=<version>`, built by faasd from an uploaded
/// package (Podman's Docker API cannot `docker commit` with changes).
async fn versioned_image(faasd: &Faasd, name: &str, version: &str) -> String {
    let image = format!("{name}:{version}");
    let dockerfile = format!("FROM {BUSYBOX_IMAGE}\nENV version={version}\nCMD [\"fwatchdog\"]\n");
    let archive = common::package(&[("Dockerfile", &dockerfile, 0o644)], json!({}));
    let response = faasd
        .api(reqwest::Method::PUT, &format!("/system/packages/{image}"))
        .body(archive)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert!(
        status.is_success(),
        "{status}: {}",
        response.text().await.unwrap()
    );
    image
}

/// Answers of calls made one after another by `workers` callers through the gateway until
/// `stop` is set (or `limit` calls each): (status, body) in the order they came.
fn call_stream(
    faasd: &Faasd,
    name: &str,
    workers: usize,
    limit: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    answers: std::sync::Arc<std::sync::Mutex<Vec<(u16, String)>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..workers)
        .map(|_| {
            let url = faasd.url(&format!("/function/{name}"));
            let (stop, answers) = (stop.clone(), answers.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::builder().no_proxy().build().unwrap();
                for _ in 0..limit {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let answer = match client.post(&url).body("x").send().await {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            (status, response.text().await.unwrap_or_default())
                        }
                        Err(err) => (0, err.to_string()),
                    };
                    answers.lock().unwrap().push(answer);
                }
            })
        })
        .collect()
}

/// Waits until `want` answers came since answer `from`, all of them `body`.
async fn wait_answers(
    answers: &std::sync::Mutex<Vec<(u16, String)>>,
    from: usize,
    want: usize,
    body: &str,
) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        {
            let answers = answers.lock().unwrap();
            let failed: Vec<_> = answers.iter().filter(|(s, _)| *s != 200).collect();
            assert!(failed.is_empty(), "failed calls: {failed:?}");
            // The last answer not `body`, after `from`.
            let settled = answers[from.min(answers.len())..]
                .iter()
                .rposition(|(_, b)| b.trim() != body)
                .map_or(from, |i| from + i + 1);
            if answers.len() >= settled + want {
                return answers.len();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {want} answers {body:?} in a row: last {:?}",
                &answers[answers.len().saturating_sub(10)..]
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn updates_under_load_through_the_gateway_fail_no_call() {
    let faasd = start_docker_faasd(None);
    let one = versioned_image(&faasd, "roller-image", "one").await;
    let two = versioned_image(&faasd, "roller-image", "two").await;
    let deployment = |image: &str, greeting: &str| {
        json!({
            "service": "roller",
            "image": image,
            "envProcess": "sh -c 'echo $version $greeting'",
            "envVars": {"greeting": greeting},
            "labels": {"com.openfaas.scale.min": "2"},
        })
    };
    faasd.deploy_accepted(deployment(&one, "a")).await;
    faasd.wait_replicas("roller", 2).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answers = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let callers = call_stream(&faasd, "roller", 4, 20_000, stop.clone(), answers.clone());
    let mut seen = wait_answers(&answers, 0, 20, "one a").await;

    // A new image and new environment, then only the environment.
    for (image, greeting, body) in [(&two, "b", "two b"), (&two, "c", "two c")] {
        let response = faasd
            .api(reqwest::Method::PUT, "/system/functions")
            .json(&deployment(image, greeting))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
        seen = wait_answers(&answers, seen, 40, body).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for caller in callers {
        caller.await.unwrap();
    }
    let answers = answers.lock().unwrap().clone();
    let failed: Vec<_> = answers.iter().filter(|(s, _)| *s != 200).collect();
    assert!(failed.is_empty(), "failed calls: {failed:?}");
    let versions: std::collections::BTreeSet<&str> =
        answers.iter().map(|(_, b)| b.trim()).collect();
    assert!(
        versions
            .iter()
            .all(|v| ["one a", "two b", "two c"].contains(v)),
        "{versions:?}"
    );
    // Once the second version answered for good, the first never answers again.
    let last_one = answers.iter().rposition(|(_, b)| b.trim() == "one a");
    let first_three = answers.iter().position(|(_, b)| b.trim() == "two c");
    assert!(last_one < first_three, "{last_one:?} {first_three:?}");
    eprintln!("{} calls, none failed, answers {versions:?}", answers.len());

    // The function's usage (from the engine's stats) reaches the API.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = faasd.status("roller").await.unwrap();
        let memory = status["usage"]["totalMemoryBytes"].as_f64().unwrap_or(0.0);
        if memory > 0.0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no usage: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(faasd); // stops its containers
    docker(&["rmi", &one, &two]);
}
