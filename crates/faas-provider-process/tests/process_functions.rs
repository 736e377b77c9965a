//! The process backend with real `fwatchdog` replicas: host images, packages, http mode,
//! scaling, restarts, rolling updates, secrets and logs.

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use faas_provider::{Provider, ProviderError};
use faas_types::{FunctionDeployment, LogRequest, Secret};
use futures_util::StreamExt;

#[tokio::test]
async fn host_image_runs_host_programs() {
    let h = Harness::start().await;
    let request: FunctionDeployment = serde_json::from_str(
        r#"{"service":"wordcount","image":"functions/alpine:latest","envProcess":"wc"}"#,
    )
    .unwrap();
    let started = Instant::now();
    h.provider.deploy(request).await.unwrap();
    let endpoints = h.wait_ready("wordcount", 1).await;
    println!("deploy to ready: {:?}", started.elapsed());
    assert_eq!(endpoints[0].instance, "wordcount-1");
    // Sandboxed, the watchdog listens on a Unix socket in the replica's run directory.
    assert_eq!(
        endpoints[0].address,
        expected_address(&h, "wordcount", "wordcount-1")
    );

    let (status, body) = h.call(&endpoints[0].address, "one two three\n").await;
    assert_eq!(status, 200);
    let counts: Vec<&str> = body.split_whitespace().collect();
    assert_eq!(counts, vec!["1", "3", "14"], "wc answered {body:?}");

    let status = h.provider.status("openfaas-fn", "wordcount").await.unwrap();
    assert_eq!(status.name, "wordcount");
    assert_eq!(status.image, "functions/alpine:latest");
    assert_eq!(status.namespace.as_deref(), Some("openfaas-fn"));
    assert_eq!(status.env_process.as_deref(), Some("wc"));
    assert_eq!(
        status
            .labels
            .as_ref()
            .and_then(|l| l.get("faas_function"))
            .map(String::as_str),
        Some("wordcount")
    );
    assert_eq!((status.replicas, status.available_replicas), (1, 1));
    assert!(status.created_at.is_some());
    let list = h.provider.list("openfaas-fn").await.unwrap();
    assert_eq!(list.len(), 1);

    let info = h.provider.info();
    assert_eq!(info.orchestration, "process");
    assert!(!info.version.sha.is_empty());

    // The replica runs in its own directory, which goes with it.
    let replica = h
        .provider
        .replicas("openfaas-fn", "wordcount")
        .unwrap()
        .remove(0);
    assert!(replica.directory.join("tmp").is_dir());
    h.provider.delete("openfaas-fn", "wordcount").await.unwrap();
    assert!(matches!(
        h.provider.routes("openfaas-fn", "wordcount").await,
        Err(ProviderError::NotFound(_))
    ));
    assert!(matches!(
        h.provider.status("openfaas-fn", "wordcount").await,
        Err(ProviderError::NotFound(_))
    ));
    let pid = replica.pid.unwrap();
    eventually(
        "the deleted replica to exit",
        Duration::from_secs(15),
        || !process_alive(pid),
    )
    .await;
    eventually(
        "the replica directory to go",
        Duration::from_secs(5),
        || !replica.directory.exists(),
    )
    .await;
    assert!(!h
        .data()
        .join("functions/openfaas-fn/wordcount.json")
        .exists());

    // Deploying the name again right away never reuses a draining replica's name.
    let request = host_function("wordcount", "wc -w");
    h.provider.deploy(request).await.unwrap();
    let endpoints = h.wait_ready("wordcount", 1).await;
    assert_eq!(endpoints[0].instance, "wordcount-2");
    assert_eq!(h.call(&endpoints[0].address, "a b").await.1.trim(), "2");
    h.stop().await;
}

#[tokio::test]
async fn package_with_a_shell_script() {
    let h = Harness::start().await;
    let archive = package(&[
        (
            "faas-package.json",
            0o644,
            br#"{"env":{"fprocess":"sh handler.sh","GREETING":"hello"}}"#,
        ),
        (
            "handler.sh",
            0o755,
            b"#!/bin/sh\nread -r who\necho \"$GREETING $who from $(pwd)\"\n",
        ),
    ]);
    let info = h
        .provider
        .put_package("hello-sh:0.1", archive.clone())
        .await
        .unwrap();
    assert_eq!(info.image, "hello-sh:0.1");
    assert!(info.digest.starts_with("sha256:"));
    assert_eq!(info.size, archive.len() as u64);
    let hex = info.digest.trim_start_matches("sha256:").to_owned();
    assert!(h
        .data()
        .join(format!("packages/blobs/sha256/{hex}.tar.gz"))
        .is_file());
    let unpacked = h.data().join("packages/unpacked").join(&hex);
    assert!(unpacked.join("handler.sh").is_file());
    assert_eq!(
        h.provider.list_packages().await.unwrap(),
        vec![info.clone()]
    );

    h.provider
        .deploy(deployment("hello", "hello-sh:0.1", None))
        .await
        .unwrap();
    let (status, body) = h.call_function("hello", "world\n").await;
    assert_eq!(status, 200, "{body}");
    // Sandboxed, the package is mounted read-only at /home/app/function.
    let expected_dir = if h.provider.sandbox().is_some_and(|s| s.active) {
        PathBuf::from("/home/app/function")
    } else {
        unpacked.canonicalize().unwrap()
    };
    assert_eq!(
        body.trim(),
        format!("hello world from {}", expected_dir.display())
    );

    // The deployment's envVars override the package's defaults; a rolling update applies it.
    let mut update = deployment("hello", "hello-sh:0.1", None);
    update.env_vars = Some([("GREETING".to_owned(), "hi".to_owned())].into());
    h.provider.update(update).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, body) = h.call_function("hello", "you\n").await;
        if body.starts_with("hi you") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "update never took effect: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A bare name means :latest.
    h.provider.put_package("hello-sh", archive).await.unwrap();
    h.provider
        .deploy(deployment("hello2", "hello-sh", None))
        .await
        .unwrap();
    let (_, body) = h.call_function("hello2", "there\n").await;
    assert!(body.starts_with("hello there"), "{body}");
    h.stop().await;
}

const HTTP_SERVER: &[u8] = br#"
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = ("port=%s pid=%d" % (os.environ["PORT"], os.getpid())).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = answer
    do_POST = answer
    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"#;

/// Stores [`HTTP_SERVER`] as the http-mode package `py-http:1`.
async fn put_http_server(h: &Harness) {
    let manifest = format!(
        r#"{{"env":{{"fprocess":"{} server.py","mode":"http"}}}}"#,
        python3()
    );
    let archive = package(&[
        ("faas-package.json", 0o644, manifest.as_bytes()),
        ("server.py", 0o644, HTTP_SERVER),
    ]);
    h.provider.put_package("py-http:1", archive).await.unwrap();
}

#[tokio::test]
async fn http_mode_replicas_get_their_own_ports() {
    let h = Harness::start().await;
    put_http_server(&h).await;
    h.provider
        .deploy(with_min_replicas(
            deployment("pyhttp", "py-http:1", None),
            2,
        ))
        .await
        .unwrap();
    let endpoints = h.wait_ready("pyhttp", 2).await;
    assert_ne!(endpoints[0].address, endpoints[1].address);
    let mut ports = HashSet::new();
    for endpoint in &endpoints {
        let (status, body) = h.call(&endpoint.address, "ping").await;
        assert_eq!(status, 200, "{body}");
        assert!(body.starts_with("port="), "{body}");
        ports.insert(body.split_whitespace().next().unwrap().to_owned());
    }
    assert_eq!(ports.len(), 2, "each replica has its own upstream port");
    h.stop().await;
}

/// Without the sandbox the watchdog joins its replica's cgroup itself before it starts the
/// upstream, so an http-mode function's server is under the replica's limits too.
#[tokio::test]
async fn an_unsandboxed_http_upstream_is_in_its_replicas_cgroup() {
    let h = Harness::start_with(|config| {
        config.sandbox.mode = faas_provider_process::SandboxMode::Off;
    })
    .await;
    if let Some(reason) = h.provider.limits_unavailable_reason() {
        panic!("cgroups are not usable here ({reason}); this test needs them: run it as root");
    }
    put_http_server(&h).await;
    h.provider
        .deploy(deployment("upcg", "py-http:1", None))
        .await
        .unwrap();
    let (status, body) = h.call_function("upcg", "ping").await;
    assert_eq!(status, 200, "{body}");
    // No PID namespace here: the pid the server reports is the host's.
    let pid = body
        .split_whitespace()
        .find_map(|part| part.strip_prefix("pid="))
        .expect("the server's pid");
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let memory = membership
        .lines()
        .find(|line| line.contains(":memory:") || line.starts_with("0::"))
        .unwrap_or_default();
    assert!(
        memory.ends_with("/upcg/upcg-1"),
        "the upstream is outside its replica's cgroup: {membership}"
    );
    h.stop().await;
}

#[tokio::test]
async fn scale_up_and_down() {
    let h = Harness::start().await;
    h.provider
        .deploy(host_function("echo", "cat"))
        .await
        .unwrap();
    h.wait_ready("echo", 1).await;

    h.provider.scale("openfaas-fn", "echo", 3).await.unwrap();
    let endpoints = h.wait_ready("echo", 3).await;
    let instances: HashSet<_> = endpoints.iter().map(|e| e.instance.clone()).collect();
    assert_eq!(instances.len(), 3);
    for endpoint in &endpoints {
        assert_eq!(h.call(&endpoint.address, "x").await, (200, "x".to_owned()));
    }
    let status = h.provider.status("openfaas-fn", "echo").await.unwrap();
    assert_eq!((status.replicas, status.available_replicas), (3, 3));

    h.provider.scale("openfaas-fn", "echo", 1).await.unwrap();
    assert_eq!(
        h.provider
            .routes("openfaas-fn", "echo")
            .await
            .unwrap()
            .len(),
        1
    );
    h.provider.scale("openfaas-fn", "echo", 0).await.unwrap();
    assert!(h
        .provider
        .routes("openfaas-fn", "echo")
        .await
        .unwrap()
        .is_empty());
    let status = h.provider.status("openfaas-fn", "echo").await.unwrap();
    assert_eq!((status.replicas, status.available_replicas), (0, 0));

    // Too many is refused and changes nothing.
    let err = h
        .provider
        .scale("openfaas-fn", "echo", 1_000_000)
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Invalid(_)), "{err:?}");
    assert_eq!(
        h.provider
            .status("openfaas-fn", "echo")
            .await
            .unwrap()
            .replicas,
        0
    );

    // Back from zero.
    let started = Instant::now();
    h.provider.scale("openfaas-fn", "echo", 1).await.unwrap();
    h.wait_ready("echo", 1).await;
    println!("scale from zero to ready: {:?}", started.elapsed());
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(h.data().join("functions/openfaas-fn/echo.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["replicas"], 1);
    h.stop().await;
}

#[tokio::test]
async fn a_killed_replica_is_restarted() {
    let h = Harness::start().await;
    h.provider
        .deploy(host_function("phoenix", "cat"))
        .await
        .unwrap();
    h.wait_ready("phoenix", 1).await;
    let before = h
        .provider
        .replicas("openfaas-fn", "phoenix")
        .unwrap()
        .remove(0);
    sigkill(before.pid.unwrap());

    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        let replicas = h.provider.replicas("openfaas-fn", "phoenix").unwrap();
        if let Some(r) = replicas
            .into_iter()
            .find(|r| r.ready && r.pid != before.pid)
        {
            break r;
        }
        assert!(Instant::now() < deadline, "the replica was not restarted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(after.instance, before.instance);
    assert_eq!(after.restarts, 1);
    // The status counts it too (what the portal's state reads); a host image has no digest.
    let status = h.provider.status("openfaas-fn", "phoenix").await.unwrap();
    let annotations = status.annotations.unwrap();
    assert_eq!(annotations[faas_provider_process::RESTARTS_ANNOTATION], "1");
    assert!(!annotations.contains_key(faas_provider_process::DIGEST_ANNOTATION));
    let (status, body) = h.call_function("phoenix", "alive").await;
    assert_eq!((status, body.as_str()), (200, "alive"));
    let log = h.log_text("phoenix").await;
    assert!(log.contains("restarting in"), "{log}");
    h.stop().await;
}

#[tokio::test]
async fn update_replaces_replicas_without_failed_calls() {
    let h = Harness::start().await;
    h.provider
        .deploy(with_min_replicas(host_function("roll", "echo v1"), 2))
        .await
        .unwrap();
    h.wait_ready("roll", 2).await;

    let stop = Arc::new(AtomicBool::new(false));
    let caller = {
        let provider = h.provider.clone();
        let stop = stop.clone();
        let client = client();
        tokio::spawn(async move {
            let mut answers = Vec::new();
            let mut failures = Vec::new();
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let endpoints = provider.routes("openfaas-fn", "roll").await.unwrap();
                if endpoints.is_empty() {
                    failures.push("no endpoints".to_owned());
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                let endpoint = &endpoints[i % endpoints.len()];
                i += 1;
                match try_call(&client, &endpoint.address).await {
                    Ok((200, text)) => answers.push(text),
                    Ok((status, _)) => {
                        failures.push(format!("{status} from {}", endpoint.instance))
                    }
                    Err(e) => failures.push(format!("{e} from {}", endpoint.instance)),
                }
            }
            (answers, failures)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.provider
        .update(with_min_replicas(host_function("roll", "echo v2"), 2))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let replicas = h.provider.replicas("openfaas-fn", "roll").unwrap();
        if replicas.len() == 2 && replicas.iter().all(|r| r.generation == 2 && r.ready) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rollout did not finish: {replicas:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Keep calling while the old replicas drain.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    let (answers, failures) = caller.await.unwrap();
    println!("{} calls during the update", answers.len());
    assert!(failures.is_empty(), "failed calls: {failures:?}");
    assert!(answers.iter().any(|a| a.trim() == "v1"));
    assert!(answers.iter().any(|a| a.trim() == "v2"));
    assert!(answers.last().unwrap().trim() == "v2");
    let status = h.provider.status("openfaas-fn", "roll").await.unwrap();
    assert_eq!(status.env_process.as_deref(), Some("echo v2"));
    h.stop().await;
}

#[tokio::test]
async fn secrets_are_files_in_the_replica() {
    let h = Harness::start().await;
    h.provider
        .create_secret(Secret {
            name: "api-key".into(),
            value: Some("s3cret".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let stored = h.data().join("function-secrets/openfaas-fn/api-key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&stored).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(stored.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let listed = h.provider.list_secrets("openfaas-fn").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "api-key");
    assert!(listed[0].value.is_none() && listed[0].raw_value.is_none());

    let mut request = host_function("reader", r#"sh -c 'cat "$secret_mount_path/api-key"'"#);
    request.secrets = Some(vec!["api-key".into()]);
    h.provider.deploy(request).await.unwrap();
    let (status, body) = h.call_function("reader", "").await;
    assert_eq!((status, body.as_str()), (200, "s3cret"));
    let replica = h
        .provider
        .replicas("openfaas-fn", "reader")
        .unwrap()
        .remove(0);
    let copy = replica.directory.join("secrets/api-key");
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o400
    );

    // An update reaches running replicas.
    h.provider
        .update_secret(Secret {
            name: "api-key".into(),
            raw_value: Some(b"n3w".to_vec()),
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, body) = h.call_function("reader", "").await;
    assert_eq!(body, "n3w");

    // Missing secrets are refused at deploy.
    let mut missing = host_function("needy", "cat");
    missing.secrets = Some(vec!["nope".into()]);
    let err = h.provider.deploy(missing).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Invalid(ref m) if m.contains("nope")),
        "{err:?}"
    );

    h.provider
        .delete_secret("openfaas-fn", "api-key")
        .await
        .unwrap();
    assert!(!stored.exists());
    assert!(matches!(
        h.provider.delete_secret("openfaas-fn", "api-key").await,
        Err(ProviderError::NotFound(_))
    ));
    h.stop().await;
}

#[tokio::test]
async fn logs_tail_follow_and_instance() {
    let h = Harness::start().await;
    let mut request = host_function(
        "chatty",
        r#"sh -c 'read -r x; echo "said-$x" >&2; echo ok'"#,
    );
    request.env_vars = Some([("combine_output".to_owned(), "false".to_owned())].into());
    h.provider.deploy(request).await.unwrap();
    for i in 1..=3 {
        let (status, body) = h.call_function("chatty", &format!("{i}\n")).await;
        assert_eq!((status, body.trim()), (200, "ok"));
    }
    let read = |tail: i64, instance: Option<&str>, follow: bool| LogRequest {
        name: "chatty".into(),
        namespace: Some("openfaas-fn".into()),
        instance: instance.map(str::to_owned),
        tail,
        follow,
        since: None,
    };
    let wait_for = |needle: &'static str| {
        let provider = h.provider.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let lines: Vec<_> = provider
                    .logs(read(0, None, false))
                    .await
                    .unwrap()
                    .collect()
                    .await;
                if lines.iter().any(|l| l.text.contains(needle)) {
                    return lines;
                }
                assert!(
                    Instant::now() < deadline,
                    "{needle} never logged: {lines:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let all = wait_for("said-3").await;
    assert!(all
        .iter()
        .all(|l| l.name == "chatty" && l.namespace == "openfaas-fn"));
    assert!(all.iter().any(|l| l.instance == "chatty-1"));
    let positions: Vec<usize> = ["said-1", "said-2", "said-3"]
        .iter()
        .map(|n| all.iter().position(|l| l.text.contains(n)).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "oldest first");

    // The call's last lines (the watchdog's "Wrote N Bytes") may still be on their way when
    // said-3 shows up: compare the tail with a full read once the log is quiet.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let tail: Vec<_> = h
            .provider
            .logs(read(2, None, false))
            .await
            .unwrap()
            .collect()
            .await;
        let all: Vec<_> = h
            .provider
            .logs(read(0, None, false))
            .await
            .unwrap()
            .collect()
            .await;
        assert_eq!(tail.len(), 2);
        if tail == all[all.len() - 2..].to_vec() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "tail {tail:?} never matched the last lines of {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let none: Vec<_> = h
        .provider
        .logs(read(0, Some("chatty-9"), false))
        .await
        .unwrap()
        .collect()
        .await;
    assert!(none.is_empty());
    let mut future = read(0, None, false);
    future.since = Some(chrono::Utc::now() + chrono::Duration::hours(1));
    assert!(h
        .provider
        .logs(future)
        .await
        .unwrap()
        .collect::<Vec<_>>()
        .await
        .is_empty());

    // Follow: the last line, then new ones as they come.
    let mut follow = h
        .provider
        .logs(read(1, Some("chatty-1"), true))
        .await
        .unwrap();
    let first = follow.next().await.unwrap();
    assert_eq!(first, *all.last().unwrap());
    h.call_function("chatty", "live\n").await;
    let live = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = follow.next().await {
            if line.text.contains("said-live") {
                return line;
            }
        }
        panic!("follow stream ended");
    })
    .await
    .expect("a followed line");
    assert_eq!(live.instance, "chatty-1");
    assert!(h.data().join("logs/openfaas-fn/chatty.log").is_file());

    assert!(matches!(
        h.provider
            .logs(LogRequest {
                name: "ghost".into(),
                ..Default::default()
            })
            .await,
        Err(ProviderError::NotFound(_))
    ));
    h.stop().await;
}

/// Where a replica's watchdog listens by default: its `listen/watchdog.sock` when sandboxed
/// (the provider's `routes()` only; `endpoints()` lists TCP replicas), else a loopback port.
fn expected_address(h: &Harness, name: &str, instance: &str) -> faas_provider::ReplicaAddress {
    let replica = h
        .provider
        .replicas("openfaas-fn", name)
        .unwrap()
        .into_iter()
        .find(|r| r.instance == instance)
        .expect("replica");
    let address = replica.address.expect("an address");
    if h.provider.sandbox().is_some_and(|s| s.active) {
        let socket = h
            .data()
            .join("run/openfaas-fn")
            .join(name)
            .join(instance)
            .join("listen/watchdog.sock");
        assert_eq!(address, faas_provider::ReplicaAddress::unix(&socket));
        use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
        let meta = std::fs::metadata(&socket).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let dir = std::fs::metadata(socket.parent().unwrap()).unwrap();
        assert_eq!(dir.permissions().mode() & 0o777, 0o700);
        // The server's own: as root, the function's uid cannot enter it.
        assert_eq!(dir.uid(), nix::unistd::geteuid().as_raw());
    } else {
        assert!(matches!(&address, faas_provider::ReplicaAddress::Tcp(a) if a.ip().is_loopback()));
    }
    address
}

/// TCP stays available: sandboxed with `tcp`, and with the sandbox off.
#[tokio::test]
async fn replicas_listen_on_loopback_tcp_when_asked_or_unsandboxed() {
    for (tcp, mode) in [
        (true, faas_provider_process::SandboxMode::Auto),
        (false, faas_provider_process::SandboxMode::Off),
    ] {
        let h = Harness::start_with(|config| {
            config.sandbox.tcp = tcp;
            config.sandbox.mode = mode;
        })
        .await;
        h.provider
            .deploy(host_function("echo", "cat"))
            .await
            .unwrap();
        let routes = h.wait_ready("echo", 1).await;
        let faas_provider::ReplicaAddress::Tcp(address) = routes[0].address else {
            panic!("{mode:?} tcp={tcp}: {:?}", routes[0].address);
        };
        assert!(address.ip().is_loopback());
        let endpoints = h.provider.endpoints("openfaas-fn", "echo").await.unwrap();
        assert_eq!(endpoints.len(), 1);
        assert_eq!(endpoints[0].address, address);
        assert_eq!(
            h.call(&routes[0].address, "tcp").await,
            (200, "tcp".to_owned())
        );
        let replica_dir = h.data().join("run/openfaas-fn/echo/echo-1");
        assert!(!replica_dir.join("listen").exists());
        h.stop().await;
    }
}
