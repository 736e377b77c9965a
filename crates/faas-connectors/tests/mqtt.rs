//! The MQTT connector against a real mosquitto (a free loopback port, started by
//! `scripts/mosquitto.sh`, which installs it when missing) and a real HTTP server standing in
//! for the gateway: a message on a subscribed topic calls the functions whose `topic` names
//! it, with the payload as the body; a broker restart is survived.
#![cfg(feature = "mqtt")]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{function, gateway, Calls, Functions};
use faas_connectors::{GatewayCaller, MqttConnector, MqttConnectorConfig};
use faas_testkit::MqttBroker;
use rumqttc::{AsyncClient, MqttOptions, QoS};

/// A publisher called `id` whose event loop runs on its own task.
fn publisher(broker: &MqttBroker, id: &str) -> AsyncClient {
    let options = MqttOptions::new(id, "127.0.0.1", broker.port());
    let (client, mut events) = AsyncClient::new(options, 16);
    tokio::spawn(async move {
        loop {
            if events.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    client
}

/// Publishes `body` on `topic` until a call with that body arrives (subscriptions take a
/// moment).
async fn publish_until_heard(client: &AsyncClient, calls: &Calls, topic: &str, body: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !calls.lock().unwrap().iter().any(|c| c.body == body) {
        assert!(
            Instant::now() < deadline,
            "no call for a message on {topic}"
        );
        client
            .publish(topic, QoS::AtLeastOnce, false, body.as_bytes().to_vec())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_call_the_functions_of_their_topic_across_a_broker_restart() {
    let broker = MqttBroker::start().expect("a mosquitto for this test");
    let (base, calls) = gateway().await;
    let functions = Arc::new(Functions::default());
    functions.0.lock().unwrap().extend([
        function("sensor", &[("topic", "home/temperature")]),
        function("quiet", &[("topic", "home/door")]),
    ]);
    let caller = GatewayCaller::new(&base, "mqtt-connector", Duration::from_secs(5)).unwrap();
    let _connector = MqttConnector::new(
        functions,
        caller,
        MqttConnectorConfig {
            url: broker.url(),
            topics: vec!["home/#".into()],
            rebuild_interval: Duration::from_millis(100),
        },
    )
    .start()
    .await
    .expect("the connector starts");
    let client = publisher(&broker, "publisher-before");

    publish_until_heard(&client, &calls, "home/temperature", "21.5").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for call in calls.lock().unwrap().iter() {
        assert_eq!(call.function, "sensor.openfaas-fn");
        assert_eq!(call.topic, "home/temperature");
        assert_eq!(call.connector, "mqtt-connector");
        assert_eq!(call.body, "21.5");
    }

    // The broker goes away and comes back: the connector subscribes again.
    broker.kill().unwrap();
    broker.restart().unwrap();
    let client = publisher(&broker, "publisher-after");
    publish_until_heard(&client, &calls, "home/temperature", "19.0").await;
}
