//! The MQTT connector in a real faasd (built with `--features mqtt`), against a real
//! mosquitto: a message on a subscribed topic calls the function whose `topic` names it, with
//! the payload as the body and the connector's headers.
#![cfg(feature = "mqtt")]

mod common;

use std::time::{Duration, Instant};

use common::{recorded, Faasd};
use faas_testkit::MqttBroker;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_on_a_topic_call_its_functions() {
    let broker = MqttBroker::start().expect("a mosquitto for this test");
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("calls");
    let faasd = Faasd::start_with(&[
        ("FAASD_MQTT_CONNECTOR_URL", broker.url().as_str()),
        ("FAASD_MQTT_CONNECTOR_TOPICS", "sensors/+"),
        ("FAASD_CONNECTOR_REBUILD_INTERVAL", "200ms"),
    ]);
    faasd
        .deploy_recorder("thermo", json!({"topic": "sensors/temperature"}), &record)
        .await;

    let (client, mut events) = AsyncClient::new(
        MqttOptions::new("faasd-test", "127.0.0.1", broker.port()),
        16,
    );
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let deadline = Instant::now() + Duration::from_secs(15);
    while recorded(&record).is_empty() {
        assert!(Instant::now() < deadline, "no call\n{}", faasd.logs());
        client
            .publish(
                "sensors/temperature",
                QoS::AtLeastOnce,
                false,
                b"22.5".to_vec(),
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        recorded(&record)[0],
        "sensors/temperature mqtt-connector 22.5"
    );
    assert!(faasd.logs().contains("MQTT connector: sensors/+ on"));
}
