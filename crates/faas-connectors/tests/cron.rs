//! The cron connector against a real HTTP server standing in for the gateway (loopback, a
//! free port): scheduled functions are called with OpenFaaS's headers, and stop being called
//! when they are removed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use faas_connectors::{CronConfig, CronConnector, FunctionSource, GatewayCaller, SourceError};
use faas_types::FunctionStatus;

/// Functions the test changes while the connector runs.
#[derive(Default)]
struct Functions(Mutex<Vec<FunctionStatus>>);

#[async_trait]
impl FunctionSource for Functions {
    async fn functions(&self) -> Result<Vec<FunctionStatus>, SourceError> {
        Ok(self.0.lock().unwrap().clone())
    }
}

type Calls = Arc<Mutex<Vec<(String, String, String, Instant)>>>;

async fn gateway() -> (String, Calls) {
    let calls: Calls = Arc::default();
    let app = axum::Router::new()
        .route(
            "/function/{name}",
            axum::routing::post(
                |State(calls): State<Calls>, Path(name): Path<String>, headers: HeaderMap| async move {
                    let header = |h: &str| {
                        headers
                            .get(h)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    calls.lock().unwrap().push((
                        name,
                        header("x-topic"),
                        header("x-connector"),
                        Instant::now(),
                    ));
                    "ok"
                },
            ),
        )
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), calls)
}

fn scheduled(name: &str, schedule: &str) -> FunctionStatus {
    FunctionStatus {
        name: name.to_owned(),
        namespace: Some("openfaas-fn".to_owned()),
        annotations: Some(
            [
                ("topic".to_owned(), "cron-function".to_owned()),
                ("schedule".to_owned(), schedule.to_owned()),
            ]
            .into(),
        ),
        ..FunctionStatus::default()
    }
}

async fn wait_for(calls: &Calls, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while calls.lock().unwrap().len() < count {
        assert!(
            Instant::now() < deadline,
            "only {:?}",
            calls.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn scheduled_functions_are_called_until_they_go() {
    let (base, calls) = gateway().await;
    let functions = Arc::new(Functions::default());
    functions.0.lock().unwrap().extend([
        scheduled("tick", "* * * * * *"),
        scheduled("never", "0 0 1 1 *"),
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
        for (name, topic, connector, _) in calls.iter() {
            assert_eq!(name, "tick.openfaas-fn");
            assert_eq!(topic, "cron-function");
            assert_eq!(connector, "cron-connector");
        }
        // Once a second, not in a loop: no more calls than seconds begun since the start.
        let seconds = started.elapsed().as_secs() as usize + 1;
        assert!(
            calls.len() <= seconds,
            "{} calls in {seconds} s",
            calls.len()
        );
    }

    // Removed: no more calls once the list is read again.
    functions.0.lock().unwrap().clear();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = calls.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(calls.lock().unwrap().len(), before);
}
