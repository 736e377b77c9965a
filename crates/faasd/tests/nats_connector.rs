//! The NATS connector in a real faasd (built with `--features nats`), against a real
//! nats-server: a message on a subscribed subject calls the function whose `topic` names it,
//! with the payload as the body and the connector's headers.
#![cfg(feature = "nats")]

mod common;

use std::time::{Duration, Instant};

use common::{recorded, Faasd};
use faas_testkit::NatsServer;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_on_a_subject_call_its_functions() {
    let server = NatsServer::start().expect("a nats-server for this test");
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("calls");
    let faasd = Faasd::start_with(&[
        ("FAASD_NATS_CONNECTOR_URL", server.url().as_str()),
        ("FAASD_NATS_CONNECTOR_TOPICS", "orders,payments"),
        ("FAASD_CONNECTOR_REBUILD_INTERVAL", "200ms"),
    ]);
    faasd
        .deploy_recorder("orders", json!({"topic": "orders"}), &record)
        .await;

    let client = async_nats::connect(server.url()).await.expect("connect");
    // Until the connector has read the new function, messages find no subscriber.
    let deadline = Instant::now() + Duration::from_secs(15);
    while recorded(&record).is_empty() {
        assert!(Instant::now() < deadline, "no call\n{}", faasd.logs());
        client.publish("orders", "order 7".into()).await.unwrap();
        client.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(recorded(&record)[0], "orders nats-connector order 7");
    assert!(faasd.logs().contains("NATS connector: orders, payments on"));
}
