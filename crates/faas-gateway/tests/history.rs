//! `GET /system/metrics/history` over real calls: calls show in the function's points by
//! status class with latencies, replicas come from the provider, bad queries are 4xx, and the
//! switch turns it off.

mod common;

use std::time::{Duration, Instant};

use common::{config, config_with_auth, TestApi, TestServer, Upstream};
use faas_gateway::GatewayConfig;
use http::{Method, StatusCode};
use serde_json::Value;

async fn history(server: &TestServer, query: &str) -> (StatusCode, Value) {
    let answer = server
        .call(Method::GET, &format!("/system/metrics/history?{query}"))
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn sum(column: &Value) -> u64 {
    column
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn calls_fill_the_history_by_status_class() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[upstream.address]);
    server.provider.add_function("idle", 0);
    let _sampler = server.gateway.start_history().expect("history is on");
    for _ in 0..7 {
        let answer = server
            .call(Method::GET, "/function/echo")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    for _ in 0..3 {
        let answer = server
            .call(Method::GET, "/function/echo/status/503")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 503);
    }

    // The calls' 5 s point closes within about 6 s.
    let deadline = Instant::now() + Duration::from_secs(12);
    let one = loop {
        let (status, body) = history(&server, "function=echo&window=15m").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if sum(&body["requests"]["2xx"]) == 7 && sum(&body["requests"]["5xx"]) == 3 {
            break body;
        }
        assert!(Instant::now() < deadline, "calls never showed: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(one["name"], "echo");
    assert_eq!(one["namespace"], "openfaas-fn");
    assert_eq!(one["window"], "15m");
    assert_eq!(one["step"], 5);
    let points = one["requests"]["2xx"].as_array().unwrap().len();
    assert_eq!(points, 180);
    for series in [
        &one["latency_ms"]["p50"],
        &one["latency_ms"]["p95"],
        &one["latency_ms"]["p99"],
        &one["replicas"]["desired"],
        &one["cold_starts"],
        &one["cpu"],
        &one["memory_bytes"],
    ] {
        assert_eq!(series.as_array().unwrap().len(), points, "{series}");
    }
    let p99 = one["latency_ms"]["p99"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .fold(0.0, f64::max);
    assert!(p99 > 0.0 && p99 < 5000.0, "p99 {p99}");
    // The provider's replica count reached the points.
    let desired: Vec<_> = one["replicas"]["desired"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(desired.contains(&1), "{desired:?}");
    let start = one["start"].as_u64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        start + 180 * 5 <= now + 5 && start + 180 * 5 + 15 >= now,
        "{start} {now}"
    );

    // The namespace at once: every function the provider lists, called or not, the
    // overview's series only.
    let (status, all) = history(&server, "window=5m").await;
    assert_eq!(status, StatusCode::OK);
    let functions = all["functions"].as_array().unwrap();
    let names: Vec<_> = functions
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["echo", "idle"]);
    assert_eq!(
        functions[0]["requests"]["2xx"].as_array().unwrap().len(),
        60
    );
    assert_eq!(sum(&functions[0]["requests"]["2xx"]), 7);
    assert!(functions[0].get("cpu").is_none());

    // The hour's ring has the same calls once its 30 s point closes; not asserted here (up
    // to 30 s), only its shape.
    let (status, hour) = history(&server, "function=echo&window=1h").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hour["step"], 30);
    assert_eq!(hour["requests"]["2xx"].as_array().unwrap().len(), 120);
}

#[tokio::test]
async fn bad_queries_are_refused() {
    let server = TestServer::start().await;
    server.provider.add_function("echo", 1);
    let (status, body) = history(&server, "function=echo&window=2d").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.as_str().unwrap().contains("5m, 15m or 1h"), "{body}");
    let (status, _) = history(&server, "function=nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = history(&server, "function=Not_A_Name").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = history(&server, "namespace=..&function=echo").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A deployed function not sampled yet: an empty history, not a 404.
    let (status, body) = history(&server, "function=echo").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sum(&body["requests"]["2xx"]), 0);
}

#[tokio::test]
async fn the_history_needs_credentials_and_can_be_off() {
    let api = TestApi::with_config(config_with_auth());
    let answer = api.get("/system/metrics/history").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let answer = api.logged_in().get("/system/metrics/history").await;
    assert_eq!(answer.status, StatusCode::OK);

    let server = TestServer::start_with(GatewayConfig {
        history: false,
        ..config()
    })
    .await;
    assert!(server.gateway.start_history().is_none());
    let (status, body) = history(&server, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.as_str().unwrap().contains("history is off"), "{body}");
}

#[tokio::test]
async fn the_autoscalers_decisions_are_kept_with_their_reasons() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start_with(GatewayConfig {
        autoscaler: faas_gateway::AutoscalerConfig {
            interval: Duration::from_secs(1),
            load_window: Duration::from_secs(2),
            scale_down_window: Duration::from_secs(5),
        },
        ..config()
    })
    .await;
    server.deploy("busy", &[upstream.address]);
    server.provider.set_labels(
        "busy",
        &[
            ("com.openfaas.scale.type", "rps"),
            ("com.openfaas.scale.target", "10"),
            ("com.openfaas.scale.target-proportion", "1.0"),
            ("com.openfaas.scale.max", "4"),
        ],
    );
    let clock = std::sync::Arc::new(faas_gateway::autoscaler::ManualClock::default());
    let mut autoscaler = server.gateway.autoscaler_with_clock(clock.clone());
    assert!(autoscaler.tick().await.is_empty());
    for _ in 0..35 {
        let answer = server
            .call(Method::GET, "/function/busy")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    clock.advance(Duration::from_secs(1));
    assert_eq!(autoscaler.tick().await.len(), 1);
    let (status, body) = history(&server, "function=busy").await;
    assert_eq!(status, StatusCode::OK);
    let decisions = body["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 1, "{body}");
    assert_eq!(decisions[0]["to"], 4);
    assert!(
        decisions[0]["reason"]
            .as_str()
            .unwrap()
            .contains("rps load 35"),
        "{body}"
    );
    assert!(decisions[0]["time"].as_u64().unwrap() > 1_700_000_000);
}
