//! The NATS connector against a real nats-server (a free loopback port, started by
//! `scripts/nats-server.sh`, which installs it when missing) and a real HTTP server standing
//! in for the gateway: a message on a subscribed subject calls the functions whose `topic`
//! names it, with the payload as the body.
#![cfg(feature = "nats")]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{function, gateway, wait_for_matching, Functions};
use faas_connectors::{GatewayCaller, NatsConnector, NatsConnectorConfig};
use faas_testkit::NatsServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_call_the_functions_of_their_subject() {
    let server = NatsServer::start().expect("a nats-server for this test");
    let (base, calls) = gateway().await;
    let functions = Arc::new(Functions::default());
    functions.0.lock().unwrap().extend([
        function("orders-fn", &[("topic", "orders")]),
        function("audit", &[("topic", "orders, payments")]),
        function("quiet", &[]),
    ]);
    let caller = GatewayCaller::new(&base, "nats-connector", Duration::from_secs(5)).unwrap();
    let _connector = NatsConnector::new(
        functions.clone(),
        caller,
        NatsConnectorConfig {
            url: server.url(),
            subjects: vec!["orders".into(), "payments".into()],
            rebuild_interval: Duration::from_millis(100),
        },
    )
    .start()
    .await
    .expect("the connector starts");

    let client = async_nats::connect(server.url()).await.expect("connect");
    // The subscriptions reach the server shortly after start: publish until heard.
    let deadline = Instant::now() + Duration::from_secs(10);
    while calls.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no call for a message on orders");
        client.publish("orders", "warm-up".into()).await.unwrap();
        client.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    calls.lock().unwrap().clear();

    client.publish("orders", "order 2".into()).await.unwrap();
    client.publish("payments", "paid".into()).await.unwrap();
    client.publish("unheard", "nobody".into()).await.unwrap();
    client.flush().await.unwrap();
    wait_for_matching(&calls, 3, |c| c.body != "warm-up").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Warm-up messages still on their way when the list was cleared are left out.
    let mut got: Vec<(String, String, String, String)> = calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.body != "warm-up")
        .map(|c| {
            (
                c.function.clone(),
                c.topic.clone(),
                c.connector.clone(),
                c.body.clone(),
            )
        })
        .collect();
    got.sort();
    let expected = |f: &str, t: &str, b: &str| {
        (
            f.to_owned(),
            t.to_owned(),
            "nats-connector".to_owned(),
            b.to_owned(),
        )
    };
    assert_eq!(
        got,
        [
            expected("audit.openfaas-fn", "orders", "order 2"),
            expected("audit.openfaas-fn", "payments", "paid"),
            expected("orders-fn.openfaas-fn", "orders", "order 2"),
        ]
    );

    // A function that stops naming the subject stops being called.
    functions.0.lock().unwrap().retain(|f| f.name != "audit");
    tokio::time::sleep(Duration::from_millis(400)).await;
    calls.lock().unwrap().clear();
    client
        .publish("payments", "paid again".into())
        .await
        .unwrap();
    client.publish("orders", "order 3".into()).await.unwrap();
    client.flush().await.unwrap();
    wait_for_matching(&calls, 1, |c| c.body == "order 3").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls: Vec<_> = calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.body == "order 3" || c.body == "paid again")
        .cloned()
        .collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].function, "orders-fn.openfaas-fn");
}
