//! The portal's numbers from a real faasd: `/system/metrics/history` from the gateway's own
//! history, and the same shape read from a real Prometheus scraping that faasd
//! (`--prometheus-url`, `source=prometheus`), with calls counted by status class in both.

mod common;

use std::time::{Duration, Instant};

use common::{free_port, Faasd, Prometheus};
use serde_json::Value;

async fn history(faasd: &Faasd, query: &str) -> (u16, Value) {
    let response = faasd
        .api(
            reqwest::Method::GET,
            &format!("/system/metrics/history?{query}"),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn sum(column: &Value) -> f64 {
    column
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum()
}

fn total(column: &Value) -> u64 {
    column
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_comes_from_the_gateway_or_from_prometheus() {
    let port = free_port();
    let prometheus = Prometheus::start(port);
    let dir = tempfile::tempdir().unwrap();
    let faasd = Faasd::start_on_port(
        &dir.path().join("data"),
        port,
        &[("FAASD_PROMETHEUS_URL", prometheus.url.as_str())],
    );
    faasd.deploy_host("echo", "cat").await;
    faasd.deploy_host("broken", "false").await;
    for _ in 0..12 {
        assert_eq!(faasd.invoke("echo", "hi").await.0, 200);
    }
    for _ in 0..3 {
        assert_eq!(faasd.invoke("broken", "hi").await.0, 500);
    }

    // The gateway's own: exact counts once the 5 s point closes.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = history(&faasd, "function=echo&window=15m").await;
        assert_eq!(status, 200, "{body}");
        if total(&body["requests"]["2xx"]) == 12 {
            break;
        }
        assert!(Instant::now() < deadline, "calls never showed: {body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // From Prometheus: the same shape. A counter's first sample has no earlier one to
    // increase from, so more calls are made once Prometheus has scraped the series; they
    // appear in the next points (increase() extrapolates: near, not equal, sums).
    let deadline = Instant::now() + Duration::from_secs(30);
    while prometheus
        .query("gateway_function_invocation_total{function_name=\"broken.openfaas-fn\"}")
        .await
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "never scraped\n{}",
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for _ in 0..4 {
        assert_eq!(faasd.invoke("broken", "hi").await.0, 500);
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let (status, body) = history(&faasd, "function=broken&window=15m&source=prometheus").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["source"], "prometheus");
        assert_eq!(body["step"], 5);
        assert_eq!(body["requests"]["5xx"].as_array().unwrap().len(), 180);
        assert_eq!(body["latency_ms"]["p99"].as_array().unwrap().len(), 180);
        if sum(&body["requests"]["5xx"]) >= 2.0 {
            assert_eq!(sum(&body["requests"]["2xx"]), 0.0, "{body}");
            let p50 = body["latency_ms"]["p50"].as_array().unwrap();
            assert!(
                p50.iter().any(|v| v.as_f64().is_some_and(|ms| ms > 0.0)),
                "{body}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never showed the calls: {body}\n{}",
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (status, body) = history(&faasd, "source=prometheus").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = history(&faasd, "function=nope&source=prometheus").await;
    assert_eq!(status, 404);
    let (status, _) = history(&faasd, "function=echo&source=graphite").await;
    assert_eq!(status, 400);
}
