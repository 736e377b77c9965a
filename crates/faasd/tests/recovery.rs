//! Crashes and restarts: kill -9 of the server, a replica killed under load, SIGTERM, and a
//! data directory from a newer faasd.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{replica_pids, replicas_of_data_dir, Faasd};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn after_kill_9_no_replica_outlives_the_server_and_every_function_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut faasd = Faasd::start_on(&data, &[]);
    faasd.deploy_host("echo", "cat").await;
    faasd.deploy_host("words", "wc -w").await;
    let scaled = faasd
        .api(Method::POST, "/system/scale-function/echo")
        .json(&json!({"serviceName":"echo","replicas":2}))
        .send()
        .await
        .unwrap();
    assert_eq!(scaled.status(), 202);
    faasd.wait_replicas("echo", 2).await;
    assert_eq!(replicas_of_data_dir(&data).len(), 3);

    faasd.kill9();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !replicas_of_data_dir(&data).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        replicas_of_data_dir(&data).is_empty(),
        "replicas outlived a kill -9'd faasd: {:?}",
        replicas_of_data_dir(&data)
    );

    let faasd = Faasd::start_on(&data, &[]);
    faasd.wait_replicas("echo", 2).await;
    faasd.wait_replicas("words", 1).await;
    assert_eq!(
        faasd.invoke("echo", "back").await,
        (200, "back".to_string())
    );
    let (status, words) = faasd.invoke("words", "a b c").await;
    assert_eq!((status, words.trim()), (200, "3"));
}

#[tokio::test]
async fn calls_keep_succeeding_once_a_killed_replica_is_replaced() {
    let faasd = Faasd::start();
    faasd.deploy_host("echo", "cat").await;
    let scaled = faasd
        .api(Method::POST, "/system/scale-function/echo")
        .json(&json!({"serviceName":"echo","replicas":2}))
        .send()
        .await
        .unwrap();
    assert_eq!(scaled.status(), 202);
    faasd.wait_replicas("echo", 2).await;

    let before = replica_pids(faasd.pid());
    assert_eq!(before.len(), 2, "{before:?}");
    let succeeded = Arc::new(AtomicUsize::new(0));
    let load = {
        let client = faasd.client.clone();
        let url = faasd.url("/function/echo");
        let succeeded = succeeded.clone();
        tokio::spawn(async move {
            let mut failures_after_recovery = 0;
            let mut ok = 0;
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(4) {
                let response = client.post(&url).body("x").send().await;
                let good = matches!(&response, Ok(r) if r.status() == 200);
                if good {
                    ok += 1;
                    succeeded.fetch_add(1, Ordering::Relaxed);
                } else if started.elapsed() > Duration::from_secs(2) {
                    failures_after_recovery += 1;
                }
            }
            (ok, failures_after_recovery)
        })
    };
    // The replica is killed while calls are flowing: once some have succeeded.
    let deadline = Instant::now() + Duration::from_millis(1500);
    while succeeded.load(Ordering::Relaxed) < 3 {
        assert!(
            Instant::now() < deadline,
            "calls were not flowing before the kill"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    std::process::Command::new("kill")
        .args(["-9", &before[0].to_string()])
        .status()
        .unwrap();
    let (ok, late_failures) = load.await.unwrap();
    assert!(ok > 50, "only {ok} calls succeeded");
    assert_eq!(
        late_failures, 0,
        "calls still failing after the replica was replaced"
    );
    faasd.wait_replicas("echo", 2).await;
    let after = replica_pids(faasd.pid());
    assert_eq!(after.len(), 2);
    assert!(!after.contains(&before[0]));
}

#[tokio::test]
async fn sigterm_finishes_in_flight_calls_and_stops_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut faasd = Faasd::start_on(&data, &[]);
    faasd
        .deploy_host("slow", "sh -c 'sleep 1; echo finished'")
        .await;
    let call = {
        let client = faasd.client.clone();
        let url = faasd.url("/function/slow");
        tokio::spawn(async move {
            let response = client.post(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    };
    // SIGTERM once the call is in flight (the gateway counts it; it takes 1 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    let in_flight = "gateway_function_invocation_inflight{function_name=\"slow.openfaas-fn\"}";
    while faasd.metric(in_flight).await != Some(1.0) {
        assert!(
            Instant::now() < deadline && !call.is_finished(),
            "the call was never in flight"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    faasd.signal("TERM");
    assert_eq!(call.await.unwrap(), (200, "finished\n".to_string()));
    assert_eq!(faasd.wait_exit(Duration::from_secs(20)), Some(0));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !replicas_of_data_dir(&data).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(replicas_of_data_dir(&data).is_empty());
}

#[test]
fn a_data_directory_from_a_newer_faasd_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("VERSION"), "99\n").unwrap();
    let output = std::process::Command::new(common::BINARY)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", common::free_port()))
        .arg("--data-dir")
        .arg(&data)
        .arg("--watchdog")
        .arg(common::watchdog_binary())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("newer faasd"), "{stderr}");
}
