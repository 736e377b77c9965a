//! Requests per second through the gateway against the same upstream called directly.
//! A benchmark run by hand (`cargo bench -p faas-gateway --bench throughput`): in-process,
//! gateway -> upstream only; `bench/faasd.sh` measures the whole chain with a real watchdog.

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use common::TestServer;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const CONCURRENCY: usize = 32;
const DURATION: Duration = Duration::from_secs(3);

async fn hello_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new().fallback(|| async { "hello" });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

/// Closed-loop load: `CONCURRENCY` callers for `DURATION`, keep-alive connections.
async fn requests_per_second(url: &str) -> f64 {
    let client: Client<_, Body> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(CONCURRENCY)
        .build_http();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + DURATION;
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, done, url) = (client.clone(), done.clone(), url.to_owned());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let request = http::Request::get(&url).body(Body::empty()).unwrap();
                    let response = client.request(request).await.unwrap();
                    assert!(response.status().is_success());
                    response.into_body().collect().await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / DURATION.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let upstream = hello_upstream().await;
    let server = TestServer::start().await;
    server.deploy("hello", &[upstream]);

    let direct = requests_per_second(&format!("http://{upstream}/")).await;
    let proxied = requests_per_second(&server.url("/function/hello")).await;
    let ratio = proxied / direct;
    println!("direct {direct:.0} req/s, through the gateway {proxied:.0} req/s, ratio {ratio:.2}");
    let verdict = if ratio >= 0.25 { "PASS" } else { "FAIL" };
    println!("goal >= 0.25: {verdict}");
}
