//! The cron connector in a real faasd: a function annotated `topic: cron-function` with a
//! schedule is called through the gateway with OpenFaaS's connector headers (directly, or
//! through the queue with `--connector-async`), and not at all when the connector is off.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{recorded, Faasd};
use serde_json::json;

/// A faasd with `env` (the connectors reading functions every 200 ms) running a recorder
/// function scheduled every second; its record file is in the returned folder.
async fn ticker(env: &[(&str, &str)]) -> (Faasd, tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("calls");
    let mut env = env.to_vec();
    env.push(("FAASD_CONNECTOR_REBUILD_INTERVAL", "200ms"));
    let faasd = Faasd::start_with(&env);
    faasd
        .deploy_recorder(
            "ticker",
            json!({"topic": "cron-function", "schedule": "* * * * * *"}),
            &record,
        )
        .await;
    (faasd, dir, record)
}

/// Waits (up to 20 s) for `count` recorded calls.
async fn wait_for_calls(faasd: &Faasd, record: &Path, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while recorded(record).len() < count {
        assert!(
            Instant::now() < deadline,
            "calls: {:?}\n{}",
            recorded(record),
            faasd.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn scheduled_functions_are_called_with_connector_headers() {
    // A proxy in the environment (nothing listens there) must not catch calls to faasd itself.
    let (faasd, _dir, record) = ticker(&[
        ("HTTP_PROXY", "http://127.0.0.1:9"),
        ("http_proxy", "http://127.0.0.1:9"),
    ])
    .await;
    wait_for_calls(&faasd, &record, 2).await;
    for line in recorded(&record) {
        assert_eq!(line, "cron-function cron-connector");
    }
    assert!(faasd
        .logs()
        .contains("cron: invoked ticker.openfaas-fn: 200 OK"));
}

#[tokio::test]
async fn connector_calls_can_go_through_the_queue() {
    let (faasd, _dir, record) = ticker(&[("FAASD_CONNECTOR_ASYNC", "true")]).await;
    wait_for_calls(&faasd, &record, 1).await;
    assert_eq!(recorded(&record)[0], "cron-function cron-connector");
    assert!(faasd
        .logs()
        .contains("cron: invoked ticker.openfaas-fn: 202 Accepted"));
}

#[tokio::test]
async fn the_connector_can_be_turned_off() {
    let (_faasd, _dir, record) = ticker(&[("FAASD_CRON", "false")]).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(recorded(&record).is_empty(), "{:?}", recorded(&record));
}
