//! The cron connector against a real HTTP server standing in for the gateway (loopback, a
//! free port): scheduled functions are called with OpenFaaS's headers, and stop being called
//! when they are removed.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{function, gateway, wait_for, Functions};
use faas_connectors::{CronConfig, CronConnector, GatewayCaller};

#[tokio::test]
async fn scheduled_functions_are_called_until_they_go() {
    let (base, calls) = gateway().await;
    let functions = Arc::new(Functions::default());
    functions.0.lock().unwrap().extend([
        function(
            "tick",
            &[("topic", "cron-function"), ("schedule", "* * * * * *")],
        ),
        function(
            "never",
            &[("topic", "cron-function"), ("schedule", "0 0 1 1 *")],
        ),
    ]);
    let caller = GatewayCaller::new(&base, "cron-connector", Duration::from_secs(5)).unwrap();
    let started = Instant::now();
    let _connector = CronConnector::new(
        functions.clone(),
        caller,
        CronConfig {
            rebuild_interval: Duration::from_millis(100),
        },
    )
    .start();

    wait_for(&calls, 2).await;
    {
        let calls = calls.lock().unwrap();
        for call in calls.iter() {
            assert_eq!(call.function, "tick.openfaas-fn");
            assert_eq!(call.topic, "cron-function");
            assert_eq!(call.connector, "cron-connector");
            assert_eq!(call.body, "");
        }
        // Once a second, not in a loop: no more calls than seconds begun since the start.
        let seconds = started.elapsed().as_secs() as usize + 1;
        assert!(
            calls.len() <= seconds,
            "{} calls in {seconds} s",
            calls.len()
        );
    }

    // Removed: no more calls once the list is read again (a call already on its way when
    // the list changed may still land: count from a second and a half later).
    functions.0.lock().unwrap().clear();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = calls.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(calls.lock().unwrap().len(), before);
}
