//! The cron connector in a real faasd: a function annotated `topic: cron-function` with a
//! schedule is called through the gateway with OpenFaaS's connector headers, and not at all
//! when the connector is off.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Faasd;
use serde_json::json;

async fn deploy_recorder(faasd: &Faasd, record: &Path) {
    let fprocess = format!(
        "sh -c 'echo \"$Http_X_Topic $Http_X_Connector $Http_Path\" >> {}'",
        record.display()
    );
    let response = faasd
        .deploy(json!({
            "service": "ticker",
            "image": "functions/alpine:latest",
            "envProcess": fprocess,
            "annotations": {"topic": "cron-function", "schedule": "* * * * * *"},
        }))
        .await;
    assert_eq!(response.status(), 202);
}

fn lines(record: &Path) -> Vec<String> {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn scheduled_functions_are_called_with_connector_headers() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("calls");
    let faasd = Faasd::start_with(&[("FAASD_CONNECTOR_REBUILD_INTERVAL", "200ms")]);
    deploy_recorder(&faasd, &record).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while lines(&record).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "calls: {:?}\n{}",
            lines(&record),
            faasd.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for line in lines(&record) {
        assert_eq!(line, "cron-function cron-connector /");
    }
    assert!(faasd
        .logs()
        .contains("cron: invoked ticker.openfaas-fn: 200 OK"));
}

#[tokio::test]
async fn the_connector_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("calls");
    let faasd = Faasd::start_with(&[
        ("FAASD_CRON", "false"),
        ("FAASD_CONNECTOR_REBUILD_INTERVAL", "200ms"),
    ]);
    deploy_recorder(&faasd, &record).await;
    faasd.wait_replicas("ticker", 1).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(lines(&record).is_empty(), "{:?}", lines(&record));
}
