//! The cron connector in a real faasd: a function annotated `topic: cron-function` with a
//! schedule is called through the gateway with OpenFaaS's connector headers, and not at all
//! when the connector is off.

mod common;

use std::time::{Duration, Instant};

use common::{recorded, Faasd};
use serde_json::json;

fn every_second() -> serde_json::Value {
    json!({"topic": "cron-function", "schedule": "* * * * * *"})
}

#[tokio::test]
async fn scheduled_functions_are_called_with_connector_headers() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("calls");
    let faasd = Faasd::start_with(&[("FAASD_CONNECTOR_REBUILD_INTERVAL", "200ms")]);
    faasd
        .deploy_recorder("ticker", every_second(), &record)
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while recorded(&record).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "calls: {:?}\n{}",
            recorded(&record),
            faasd.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for line in recorded(&record) {
        assert_eq!(line, "cron-function cron-connector");
    }
    assert!(faasd
        .logs()
        .contains("cron: invoked ticker.openfaas-fn: 200 OK"));
}

#[tokio::test]
async fn connector_calls_can_go_through_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("calls");
    let faasd = Faasd::start_with(&[
        ("FAASD_CONNECTOR_ASYNC", "true"),
        ("FAASD_CONNECTOR_REBUILD_INTERVAL", "200ms"),
    ]);
    faasd
        .deploy_recorder("ticker", every_second(), &record)
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while recorded(&record).is_empty() {
        assert!(Instant::now() < deadline, "no call\n{}", faasd.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(recorded(&record)[0], "cron-function cron-connector");
    assert!(faasd
        .logs()
        .contains("cron: invoked ticker.openfaas-fn: 202 Accepted"));
}

#[tokio::test]
async fn the_connector_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("calls");
    let faasd = Faasd::start_with(&[
        ("FAASD_CRON", "false"),
        ("FAASD_CONNECTOR_REBUILD_INTERVAL", "200ms"),
    ]);
    faasd
        .deploy_recorder("ticker", every_second(), &record)
        .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(recorded(&record).is_empty(), "{:?}", recorded(&record));
}
