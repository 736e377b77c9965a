//! What the connector tests share: a real HTTP server standing in for the gateway, which
//! records every function call, and a function source the test can change.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use faas_connectors::{FunctionSource, SourceError};
use faas_types::FunctionStatus;

/// Functions the test changes while a connector runs.
#[derive(Default)]
pub struct Functions(pub Mutex<Vec<FunctionStatus>>);

#[async_trait]
impl FunctionSource for Functions {
    async fn functions(&self) -> Result<Vec<FunctionStatus>, SourceError> {
        Ok(self.0.lock().unwrap().clone())
    }
}

/// A function with these annotations.
pub fn function(name: &str, annotations: &[(&str, &str)]) -> FunctionStatus {
    FunctionStatus {
        name: name.to_owned(),
        namespace: Some("openfaas-fn".to_owned()),
        annotations: Some(
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..FunctionStatus::default()
    }
}

/// One call the gateway received.
#[derive(Debug, Clone)]
pub struct Call {
    /// `name.namespace` from the path.
    pub function: String,
    pub topic: String,
    pub connector: String,
    pub body: String,
    pub at: Instant,
}

pub type Calls = Arc<Mutex<Vec<Call>>>;

/// Starts the stand-in gateway on a free loopback port: its URL and what it receives.
pub async fn gateway() -> (String, Calls) {
    let calls: Calls = Arc::default();
    let app = axum::Router::new()
        .route(
            "/function/{name}",
            axum::routing::post(
                |State(calls): State<Calls>,
                 Path(function): Path<String>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let header = |h: &str| {
                        headers
                            .get(h)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    calls.lock().unwrap().push(Call {
                        function,
                        topic: header("x-topic"),
                        connector: header("x-connector"),
                        body: String::from_utf8_lossy(&body).into_owned(),
                        at: Instant::now(),
                    });
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

/// Waits (up to 10 s) until `calls` holds `count` calls.
pub async fn wait_for(calls: &Calls, count: usize) {
    wait_for_matching(calls, count, |_| true).await;
}

/// Waits (up to 10 s) until `count` of the calls match `matches`.
pub async fn wait_for_matching(calls: &Calls, count: usize, matches: impl Fn(&Call) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while calls.lock().unwrap().iter().filter(|c| matches(c)).count() < count {
        assert!(
            Instant::now() < deadline,
            "only {:?}",
            calls.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
