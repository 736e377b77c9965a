//! What the per-function history costs the call path, run by hand
//! (`cargo bench -p faas-gateway --bench history`):
//! - the recording hook alone: nanoseconds per `FunctionHistory::record_call`, against the
//!   whole proxied call's time measured below;
//! - gateway throughput with the history on vs off, in one process against the same
//!   upstream: many short slices alternated between the two gateways (which goes first
//!   alternates too), so a busy machine's noise falls on both alike. Goal: within 3%.
//!
//! `bench/portal.sh` measures the same through a real faasd with wrk, and faasd's RSS.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use common::{config, TestServer};
use faas_gateway::history::History;
use faas_gateway::GatewayConfig;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const CONCURRENCY: usize = 16;
const SLICE: Duration = Duration::from_millis(500);
const PAIRS: usize = 20;

async fn hello_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new().fallback(|| async { "hello" });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

/// Calls answered in `SLICE` by `CONCURRENCY` closed-loop callers.
async fn calls_in_a_slice(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Body>,
    url: &str,
) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + SLICE;
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
    done.load(Ordering::Relaxed)
}

fn record_call_nanos() -> f64 {
    let history = History::default();
    let function = history.function("ns", "f");
    let calls = 10_000_000u32;
    let started = Instant::now();
    for i in 0..calls {
        function.record_call(
            black_box(StatusCode::OK),
            black_box(Duration::from_micros(u64::from(i % 5000))),
        );
    }
    started.elapsed().as_nanos() as f64 / f64::from(calls)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let hook = record_call_nanos();
    let upstream = hello_upstream().await;
    let on = TestServer::start_with(GatewayConfig {
        history: true,
        ..config()
    })
    .await;
    let off = TestServer::start_with(GatewayConfig {
        history: false,
        ..config()
    })
    .await;
    on.deploy("hello", &[upstream]);
    off.deploy("hello", &[upstream]);
    let _sampler = on.gateway.start_history().expect("history on");
    let client: Client<_, Body> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(CONCURRENCY)
        .build_http();
    let (on_url, off_url) = (on.url("/function/hello"), off.url("/function/hello"));
    // Warm both (connections, entries).
    calls_in_a_slice(&client, &on_url).await;
    calls_in_a_slice(&client, &off_url).await;
    let (mut on_total, mut off_total) = (0u64, 0u64);
    let mut ratios = Vec::new();
    for pair in 0..PAIRS {
        let (a, b) = if pair % 2 == 0 {
            let a = calls_in_a_slice(&client, &on_url).await;
            (a, calls_in_a_slice(&client, &off_url).await)
        } else {
            let b = calls_in_a_slice(&client, &off_url).await;
            (calls_in_a_slice(&client, &on_url).await, b)
        };
        on_total += a;
        off_total += b;
        ratios.push(a as f64 / b as f64);
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let seconds = SLICE.as_secs_f64() * PAIRS as f64;
    let (on_rps, off_rps) = (on_total as f64 / seconds, off_total as f64 / seconds);
    let call_nanos = 1e9 / off_rps;
    println!(
        "record_call: {hook:.1} ns per call ({:.3}% of a proxied call at {off_rps:.0} req/s)",
        100.0 * hook / call_nanos
    );
    println!(
        "{PAIRS} alternated pairs of {SLICE:?}: history on {on_rps:.0} req/s, off {off_rps:.0} req/s; total ratio {:.3}, median pair ratio {median:.3} (goal >= 0.97)",
        on_rps / off_rps
    );
}
