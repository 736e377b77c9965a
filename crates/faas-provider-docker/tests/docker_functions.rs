//! The docker provider against a real Docker Engine (the project's dockerd from
//! `scripts/docker.sh`, shared by all tests) with functions built on the local
//! `rustfaas/busybox` image: lifecycle, scale 0 -> 3 -> 0, secrets, limits, read-only root,
//! logs, rolling updates, replacement of containers that exit, `usage` from the engine's stats,
//! and bad input.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faas_provider::{Provider, ProviderError};
use faas_provider_docker::{DockerConfig, DockerProvider, ImagePull};
use faas_testkit::docker::{docker, docker_host, BUSYBOX_IMAGE};
use faas_testkit::Registry;
use faas_types::{FunctionDeployment, FunctionResources, LogRequest, Secret};
use futures_util::StreamExt;

const NS: &str = "openfaas-fn";

struct Harness {
    provider: Arc<DockerProvider>,
    _dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl Harness {
    async fn open() -> Harness {
        Harness::open_on(Some(docker_host()), ImagePull::Missing).await
    }

    async fn open_on(host: Option<String>, image_pull: ImagePull) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let provider = DockerProvider::open(DockerConfig {
            data_dir: dir.path().to_owned(),
            docker_host: host,
            max_replicas: 10,
            ready_timeout: Duration::from_secs(20),
            image_pull,
            pull_timeout: Duration::from_secs(20),
            registry_config: None,
        })
        .await
        .unwrap();
        Harness {
            provider,
            _dir: dir,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    async fn deploy(&self, deployment: FunctionDeployment) {
        self.provider.deploy(deployment).await.unwrap();
    }

    /// Waits until `count` replicas are ready (and no more).
    async fn wait_ready(&self, name: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let ready = self.provider.endpoints(NS, name).await.unwrap().len();
            if ready == count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: {ready} ready replicas, want {count}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// POSTs `body` to a ready replica; (status, body).
    async fn call(&self, name: &str, body: &str) -> (u16, String) {
        let endpoints = self.provider.endpoints(NS, name).await.unwrap();
        let endpoint = endpoints.first().expect("a ready replica");
        assert!(endpoint.address.ip().is_loopback());
        let response = self
            .client
            .post(format!("http://{}/", endpoint.address))
            .body(body.to_owned())
            .send()
            .await;
        match response {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            }
            // The replica went away mid-call.
            Err(err) => (0, err.to_string()),
        }
    }

    /// The ids of the containers of this provider's function, from the engine itself.
    fn containers(&self, name: &str) -> Vec<String> {
        docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.rustfaas.function={name}"),
            "--filter",
            &format!("label=com.rustfaas.owner={}", self.owner()),
        ])
        .lines()
        .map(str::to_owned)
        .collect()
    }

    fn owner(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("docker/owner"))
            .unwrap()
            .trim()
            .to_owned()
    }

    async fn wait_containers(&self, name: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.containers(name).len() != count {
            assert!(
                Instant::now() < deadline,
                "{name}: containers {:?}, want {count}",
                self.containers(name)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // No container of a test outlives it. The provider's tasks may be removing some
        // meanwhile ("removal ... already in progress"): remove until none is listed.
        let owner = format!("label=com.rustfaas.owner={}", self.owner());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ids = docker(&["ps", "-aq", "--filter", &owner]);
            let ids: Vec<&str> = ids.lines().collect();
            if ids.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "containers left: {ids:?}");
            let removed = std::process::Command::new("docker")
                .args(["rm", "-f"])
                .args(&ids)
                .env("DOCKER_HOST", docker_host())
                .output()
                .expect("run docker");
            let stderr = String::from_utf8_lossy(&removed.stderr);
            assert!(
                removed.status.success() || stderr.contains("already in progress"),
                "docker rm -f {ids:?}: {stderr}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Nor its networks: dockerd has room for 256.
        let networks = docker(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("label=com.rustfaas.owner={}", self.owner()),
        ]);
        let networks: Vec<&str> = networks.lines().collect();
        if !networks.is_empty() {
            let mut args = vec!["network", "rm"];
            args.extend(networks);
            docker(&args);
        }
    }
}

fn function(name: &str, fprocess: &str) -> FunctionDeployment {
    FunctionDeployment {
        service: name.to_owned(),
        image: BUSYBOX_IMAGE.to_owned(),
        namespace: Some(NS.to_owned()),
        env_process: Some(fprocess.to_owned()),
        ..FunctionDeployment::default()
    }
}

#[tokio::test]
async fn wordcount_lifecycle_scale_logs_and_delete() {
    let h = Harness::open().await;
    let mut wordcount = function("wordcount", "wc -w");
    wordcount.labels = Some(BTreeMap::from([("team".to_owned(), "a".to_owned())]));
    h.deploy(wordcount).await;
    h.wait_ready("wordcount", 1).await;
    let (status, body) = h.call("wordcount", "one two three").await;
    assert_eq!((status, body.trim()), (200, "3"));

    // The container is published on loopback only, labelled, and locked down.
    let id = h.containers("wordcount").pop().unwrap();
    let inspect = docker(&[
        "inspect",
        "--format",
        "{{json .HostConfig.PortBindings}} {{.Config.User}} {{.HostConfig.PidsLimit}} {{index .Config.Labels \"team\"}} {{index .Config.Labels \"faas_function\"}}",
        &id,
    ]);
    assert!(inspect.contains(r#""HostIp":"127.0.0.1""#), "{inspect}");
    assert!(
        inspect.contains(" 65534:65534 256 a wordcount"),
        "{inspect}"
    );

    h.provider.scale(NS, "wordcount", 3).await.unwrap();
    h.wait_ready("wordcount", 3).await;
    let endpoints = h.provider.endpoints(NS, "wordcount").await.unwrap();
    let mut ports: Vec<u16> = endpoints.iter().map(|e| e.address.port()).collect();
    ports.dedup();
    assert_eq!(ports.len(), 3);
    let status = h.provider.status(NS, "wordcount").await.unwrap();
    assert_eq!((status.replicas, status.available_replicas), (3, 3));

    h.provider.scale(NS, "wordcount", 0).await.unwrap();
    h.wait_ready("wordcount", 0).await;
    h.wait_containers("wordcount", 0).await;
    h.provider.scale(NS, "wordcount", 1).await.unwrap();
    h.wait_ready("wordcount", 1).await;
    let (status, body) = h.call("wordcount", "a b").await;
    assert_eq!((status, body.trim()), (200, "2"));

    // The watchdog's log lines reach the engine a few milliseconds after the call.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logs: Vec<_> = h
            .provider
            .logs(LogRequest {
                name: "wordcount".into(),
                tail: 50,
                ..LogRequest::default()
            })
            .await
            .unwrap()
            .collect()
            .await;
        let called = logs
            .iter()
            .any(|l| l.text.contains("Forking fprocess") && l.instance.starts_with("wordcount-"));
        if called {
            break;
        }
        assert!(Instant::now() < deadline, "{logs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    h.provider.delete(NS, "wordcount").await.unwrap();
    assert!(h.containers("wordcount").is_empty());
    assert!(matches!(
        h.provider.status(NS, "wordcount").await,
        Err(ProviderError::NotFound(_))
    ));
}

#[tokio::test]
async fn secrets_are_read_only_files_and_the_root_can_be_read_only() {
    let h = Harness::open().await;
    h.provider
        .create_secret(Secret {
            name: "db-pass".into(),
            namespace: Some(NS.into()),
            value: Some("s3cret".into()),
            ..Secret::default()
        })
        .await
        .unwrap();
    let mut reader = function(
        "reader",
        "sh -c 'cat /var/openfaas/secrets/db-pass; echo; id -u; (echo x >> /var/openfaas/secrets/db-pass) 2>/dev/null || echo secret-not-writable; touch /home/app/x 2>/dev/null || echo root-not-writable; touch /tmp/ok && echo tmp-writable; grep ^CapBnd /proc/self/status'",
    );
    reader.secrets = Some(vec!["db-pass".into()]);
    reader.read_only_root_filesystem = true;
    h.deploy(reader).await;
    h.wait_ready("reader", 1).await;
    let (status, body) = h.call("reader", "").await;
    assert_eq!(status, 200, "{body}");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines,
        [
            "s3cret",
            "65534",
            "secret-not-writable",
            "root-not-writable",
            "tmp-writable",
            // Every capability dropped, even from the bounding set (Docker shows CapDrop
            // ["ALL"], Podman the list of its defaults: the container is what counts).
            "CapBnd:\t0000000000000000"
        ],
        "{body}"
    );

    // A deployment naming a secret that does not exist is refused before anything runs.
    let mut missing = function("missing-secret", "cat");
    missing.secrets = Some(vec!["nope".into()]);
    let err = h.provider.deploy(missing).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Invalid(m) if m.contains("secret nope")),
        "{err}"
    );
}

#[tokio::test]
async fn memory_limit_is_enforced() {
    let h = Harness::open().await;
    let mut hog = function(
        "hog",
        // Reads N MiB into one shell variable.
        "sh -c 'read n; x=$(head -c $((n*1048576)) /dev/zero | tr \"\\0\" a); echo ${#x}'",
    );
    hog.limits = Some(FunctionResources {
        memory: Some("32Mi".into()),
        ..FunctionResources::default()
    });
    h.deploy(hog).await;
    h.wait_ready("hog", 1).await;
    let id = h.containers("hog").pop().unwrap();
    assert_eq!(
        docker(&["inspect", "--format", "{{.HostConfig.Memory}}", &id]).trim(),
        (32u64 << 20).to_string()
    );
    let (status, body) = h.call("hog", "1").await;
    assert_eq!((status, body.trim()), (200, "1048576"));
    let (status, body) = h.call("hog", "200").await;
    assert_ne!(status, 200, "200 MiB fit in a 32 MiB limit: {body}");
    // The function (or its whole container, then replaced) was killed; it serves again. The
    // provider may still list the killed container as ready for a moment (until it sees the
    // exit), so calls are retried until one answers, within a deadline.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut last = (0, String::new());
    while Instant::now() < deadline {
        h.wait_ready("hog", 1).await;
        last = h.call("hog", "1").await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last.0, 200, "the function never served again: {}", last.1);
}

#[tokio::test]
async fn an_update_rolls_without_failed_calls() {
    let h = Harness::open().await;
    let mut v1 = function("greeter", "sh -c 'echo $greeting'");
    v1.env_vars = Some(BTreeMap::from([("greeting".into(), "one".into())]));
    h.deploy(v1.clone()).await;
    h.wait_ready("greeter", 1).await;
    let mut v2 = v1;
    v2.env_vars = Some(BTreeMap::from([("greeting".into(), "two".into())]));
    h.provider.update(v2).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut answers = Vec::new();
    loop {
        let (status, body) = h.call("greeter", "").await;
        assert_eq!(status, 200, "a call failed during the update: {body}");
        answers.push(body.trim().to_owned());
        if answers.last().map(String::as_str) == Some("two") {
            break;
        }
        assert!(Instant::now() < deadline, "still {answers:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.wait_containers("greeter", 1).await;
}

#[tokio::test]
async fn a_container_that_exits_at_once_is_replaced_and_the_status_says_why() {
    let h = Harness::open().await;
    // No fprocess: the watchdog refuses to start.
    let mut broken = function("broken", "");
    broken.env_process = None;
    h.deploy(broken).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = h.provider.status(NS, "broken").await.unwrap();
        let why = status
            .annotations
            .and_then(|a| a.get("com.rustfaas.last-exit").cloned());
        if let Some(why) = why {
            assert!(why.contains("exited with code"), "{why}");
            assert_eq!(status.available_replicas, 0);
            break;
        }
        assert!(Instant::now() < deadline, "no exit noted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_image_that_does_not_exist_is_refused_with_the_reason() {
    let h = Harness::open_on(Some(docker_host()), ImagePull::Never).await;
    let mut missing = function("ghost", "cat");
    missing.image = "rustfaas/no-such-image:1".into();
    let err = h.provider.deploy(missing).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Invalid(m) if m.contains("rustfaas/no-such-image:1")),
        "{err}"
    );
    assert!(h.provider.list(NS).await.unwrap().is_empty());
    let mut bad = function("badlimits", "cat");
    bad.limits = Some(FunctionResources {
        memory: Some("lots".into()),
        ..FunctionResources::default()
    });
    let err = h.provider.deploy(bad).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Invalid(m) if m.contains("lots")),
        "{err}"
    );
}

#[tokio::test]
async fn an_engine_that_is_down_is_unavailable_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let socket = format!("unix://{}/no-engine.sock", dir.path().display());
    let h = Harness::open_on(Some(socket), ImagePull::Missing).await;
    let err = h
        .provider
        .deploy(function("nowhere", "cat"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Unavailable(m) if m.contains("not reachable")),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_image_is_pulled_from_its_registry() {
    let registry = Registry::start().unwrap();
    let image = format!("{}/wordcount:pulled", registry.host());
    docker(&["tag", BUSYBOX_IMAGE, &image]);
    docker(&["push", &image]);
    docker(&["rmi", &image]);
    let h = Harness::open().await;
    let mut wordcount = function("pulled", "wc -w");
    wordcount.image = image.clone();
    h.deploy(wordcount).await;
    h.wait_ready("pulled", 1).await;
    let (status, body) = h.call("pulled", "from the registry").await;
    assert_eq!((status, body.trim()), (200, "3"));
    docker(&["image", "inspect", &image]);
}

/// Polls the function's `usage` until `check` holds (the sampler runs every few seconds).
async fn wait_usage(
    h: &Harness,
    name: &str,
    what: &str,
    check: impl Fn(&faas_types::FunctionUsage) -> bool,
) -> faas_types::FunctionUsage {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let usage = h.provider.status(NS, name).await.unwrap().usage;
        if let Some(usage) = usage.filter(|u| check(u)) {
            return usage;
        }
        assert!(Instant::now() < deadline, "{name}: {what}, usage {usage:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn usage_is_summed_from_the_engines_stats() {
    const FLOOR: f64 = 48.0 * 1048576.0;
    let h = Harness::open().await;
    let long_calls = BTreeMap::from([
        ("exec_timeout".to_owned(), "60s".to_owned()),
        ("read_timeout".to_owned(), "60s".to_owned()),
        ("write_timeout".to_owned(), "60s".to_owned()),
    ]);
    // Holds 64 MiB in a shell variable for the length of a call.
    let mut holder = function(
        "holder",
        "sh -c 'x=$(head -c 67108864 /dev/zero | tr \"\\0\" a); sleep 50; echo ${#x}'",
    );
    holder.env_vars = Some(long_calls.clone());
    // Spins for the length of a call.
    let mut spinner = function("spinner", "sh -c 'while :; do :; done'");
    spinner.env_vars = Some(long_calls);
    h.deploy(holder).await;
    h.deploy(spinner).await;
    h.wait_ready("holder", 1).await;
    h.wait_ready("spinner", 1).await;

    // Idle: sampled, and well under the floor.
    let idle = wait_usage(&h, "holder", "no sample", |u| u.total_memory_bytes > 0.0).await;
    assert!(idle.total_memory_bytes < FLOOR, "idle: {idle:?}");

    let holding = tokio::spawn({
        let client = h.client.clone();
        let address = h.provider.endpoints(NS, "holder").await.unwrap()[0].address;
        async move { client.post(format!("http://{address}/")).send().await }
    });
    let spinning = tokio::spawn({
        let client = h.client.clone();
        let address = h.provider.endpoints(NS, "spinner").await.unwrap()[0].address;
        async move { client.post(format!("http://{address}/")).send().await }
    });
    let held = wait_usage(&h, "holder", "64 MiB not seen", |u| {
        u.total_memory_bytes > FLOOR
    })
    .await;
    let busy = wait_usage(&h, "spinner", "no CPU seen", |u| u.cpu > 0.05).await;
    eprintln!("idle {idle:?}, holding {held:?}, spinning {busy:?}");
    // The spinner holds no memory to speak of.
    assert!(busy.total_memory_bytes < FLOOR, "{busy:?} {held:?}");
    holding.abort();
    spinning.abort();

    // Gone with the function's containers.
    h.provider.scale(NS, "spinner", 0).await.unwrap();
    h.wait_containers("spinner", 0).await;
    wait_usage(&h, "spinner", "usage of no container", |u| {
        u.cpu == 0.0 && u.total_memory_bytes == 0.0
    })
    .await;
}
