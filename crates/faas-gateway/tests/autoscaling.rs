//! Scale from zero, the autoscaler and the AlertManager webhook, over a fake provider whose
//! replicas "start" when scaled (an echo upstream becomes ready after a delay).

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{config, TestApi, TestServer, Upstream};
use faas_gateway::autoscaler::ManualClock;
use faas_gateway::{AutoscalerConfig, GatewayConfig};
use http::{Method, StatusCode};

const SECOND: Duration = Duration::from_secs(1);

async fn server_with(config: GatewayConfig) -> TestServer {
    TestServer::start_with(config).await
}

#[tokio::test]
async fn fifty_calls_to_a_function_at_zero_share_one_cold_start() {
    let upstream = Upstream::start("a").await;
    let server = server_with(config()).await;
    server.provider.add_function("sleepy", 0);
    server
        .provider
        .start_on_scale("sleepy", upstream.address, Duration::from_millis(200));

    let started = Instant::now();
    let calls: Vec<_> = (0..50)
        .map(|i| {
            server
                .call(Method::POST, "/function/sleepy")
                .body(format!("call {i}"))
                .send()
        })
        .collect();
    let answers = futures_util::future::join_all(calls).await;
    for answer in answers {
        let answer = answer.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{:?}", answer.text().await);
    }
    assert!(started.elapsed() >= Duration::from_millis(180));
    assert_eq!(server.provider.scale_calls.load(Ordering::Relaxed), 1);
    assert_eq!(server.provider.replicas("sleepy"), 1);
    let entry = server
        .gateway
        .functions()
        .get("openfaas-fn", "sleepy")
        .unwrap();
    assert_eq!(entry.stats().cold_starts, 1);
    assert_eq!(entry.stats().started, 50);
    assert_eq!(upstream.calls(), 50);
    let metrics = server.gateway.metrics().unwrap().encode();
    assert!(
        metrics
            .contains("gateway_function_cold_start_total{function_name=\"sleepy.openfaas-fn\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn scale_from_zero_honours_min() {
    let upstream = Upstream::start("a").await;
    let server = server_with(config()).await;
    server.provider.add_function("wide", 0);
    server
        .provider
        .set_labels("wide", &[("com.openfaas.scale.min", "3")]);
    server
        .provider
        .start_on_scale("wide", upstream.address, Duration::from_millis(20));
    let answer = server
        .call(Method::GET, "/function/wide")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(server.provider.replicas("wide"), 3);
}

#[tokio::test]
async fn a_function_the_provider_cannot_scale_up_is_503() {
    let server = server_with(config()).await;
    server.provider.add_function("big", 0);
    server
        .provider
        .set_labels("big", &[("com.openfaas.scale.min", "5")]);
    server.provider.max_replicas.store(3, Ordering::Relaxed);
    let answer = server
        .call(Method::GET, "/function/big")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = answer.text().await.unwrap();
    assert!(text.contains("cannot scale it up from zero"), "{text}");
    assert!(text.contains("at most 3"), "{text}");
}

#[tokio::test]
async fn ensure_ready_starts_a_function_for_other_callers() {
    let upstream = Upstream::start("a").await;
    let server = server_with(config()).await;
    server.provider.add_function("queued", 0);
    server
        .provider
        .start_on_scale("queued", upstream.address, Duration::from_millis(50));
    let (a, b) = tokio::join!(
        server.gateway.ensure_ready("openfaas-fn", "queued"),
        server.gateway.ensure_ready("openfaas-fn", "queued"),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(server.provider.scale_calls.load(Ordering::Relaxed), 1);
    // Ready now: no more scale requests.
    server
        .gateway
        .ensure_ready("openfaas-fn", "queued")
        .await
        .unwrap();
    assert_eq!(server.provider.scale_calls.load(Ordering::Relaxed), 1);
    let missing = server.gateway.ensure_ready("openfaas-fn", "nope").await;
    assert_eq!(missing.unwrap_err().status(), StatusCode::NOT_FOUND);
}

fn fast_autoscaler() -> GatewayConfig {
    GatewayConfig {
        autoscaler: AutoscalerConfig {
            interval: SECOND,
            load_window: Duration::from_secs(2),
            scale_down_window: Duration::from_secs(5),
        },
        ..config()
    }
}

async fn calls(server: &TestServer, name: &str, count: usize) {
    for _ in 0..count {
        let answer = server
            .call(Method::GET, &format!("/function/{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn the_autoscaler_follows_rps_within_min_and_max() {
    let upstream = Upstream::start("a").await;
    let server = server_with(fast_autoscaler()).await;
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
    server.deploy("manual", &[upstream.address]);
    let clock = Arc::new(ManualClock::default());
    let mut autoscaler = server.gateway.autoscaler_with_clock(clock.clone());

    assert!(autoscaler.tick().await.is_empty());
    // 35 calls in one (manual) second: 35 rps, target 10 per replica: 4.
    calls(&server, "busy", 35).await;
    calls(&server, "manual", 35).await;
    clock.advance(SECOND);
    let decisions = autoscaler.tick().await;
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!((decisions[0].name.as_str(), decisions[0].to), ("busy", 4));
    assert!(
        decisions[0].reason.contains("rps load 35"),
        "{}",
        decisions[0].reason
    );
    assert_eq!(server.provider.replicas("busy"), 4);

    // 200 rps: still at most max.
    calls(&server, "busy", 200).await;
    clock.advance(SECOND);
    assert!(autoscaler.tick().await.is_empty());
    assert_eq!(server.provider.replicas("busy"), 4);

    // Idle: nothing for the scale-down window, then back to min; the unlabelled function
    // keeps its count all along.
    let mut down_at = None;
    for second in 1..=10 {
        clock.advance(SECOND);
        for decision in autoscaler.tick().await {
            down_at.get_or_insert((second, decision.to));
        }
    }
    let (second, to) = down_at.expect("scaled down");
    assert!(second >= 4, "scaled down after {second} s");
    assert_eq!(to, 1);
    assert_eq!(server.provider.replicas("busy"), 1);
    assert_eq!(server.provider.replicas("manual"), 1);
}

#[tokio::test]
async fn capacity_counts_calls_in_flight() {
    let upstream = Upstream::start("a").await;
    let server = server_with(fast_autoscaler()).await;
    server.deploy("slow", &[upstream.address]);
    server.provider.set_labels(
        "slow",
        &[
            ("com.openfaas.scale.type", "capacity"),
            ("com.openfaas.scale.target", "2"),
            ("com.openfaas.scale.target-proportion", "1"),
        ],
    );
    let clock = Arc::new(ManualClock::default());
    let mut autoscaler = server.gateway.autoscaler_with_clock(clock.clone());
    let in_flight: Vec<_> = (0..6)
        .map(|_| {
            let request = server.call(Method::GET, "/function/slow/sleep?ms=1500");
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    let entry = loop {
        let entry = server.gateway.functions().get("openfaas-fn", "slow");
        if entry.as_ref().is_some_and(|e| e.stats().in_flight == 6) {
            break entry.unwrap();
        }
        assert!(Instant::now() < deadline, "calls never in flight");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    clock.advance(SECOND);
    let decisions = autoscaler.tick().await;
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0].to, 3, "6 in flight / 2 per replica");
    for call in in_flight {
        assert_eq!(call.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(entry.stats().in_flight, 0);
}

#[tokio::test]
async fn idle_functions_scale_to_zero_and_the_next_call_is_answered() {
    let upstream = Upstream::start("a").await;
    let server = server_with(fast_autoscaler()).await;
    server.deploy("nap", &[upstream.address]);
    server.provider.set_labels(
        "nap",
        &[
            ("com.openfaas.scale.zero", "true"),
            ("com.openfaas.scale.zero-duration", "2s"),
        ],
    );
    server
        .provider
        .start_on_scale("nap", upstream.address, Duration::from_millis(30));
    server.deploy("awake", &[upstream.address]);
    server
        .provider
        .set_labels("awake", &[("com.openfaas.scale.zero", "false")]);
    let clock = Arc::new(ManualClock::default());
    let mut autoscaler = server.gateway.autoscaler_with_clock(clock.clone());
    calls(&server, "nap", 1).await;
    autoscaler.tick().await;
    clock.advance(SECOND);
    assert!(autoscaler.tick().await.is_empty());
    clock.advance(SECOND);
    let decisions = autoscaler.tick().await;
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!((decisions[0].name.as_str(), decisions[0].to), ("nap", 0));
    assert!(
        decisions[0].reason.contains("idle"),
        "{}",
        decisions[0].reason
    );
    assert_eq!(server.provider.replicas("nap"), 0);
    assert_eq!(server.provider.replicas("awake"), 1);

    // The next call brings it back, and that counts as activity.
    calls(&server, "nap", 1).await;
    assert_eq!(server.provider.replicas("nap"), 1);
    clock.advance(SECOND);
    assert!(autoscaler.tick().await.is_empty());
}

#[tokio::test]
async fn alerts_step_up_and_resolve_to_min() {
    let api = TestApi::new();
    api.provider.add_function("hot", 1);
    api.provider.set_labels(
        "hot",
        &[
            ("com.openfaas.scale.min", "2"),
            ("com.openfaas.scale.max", "10"),
            ("com.openfaas.scale.factor", "30"),
        ],
    );
    api.provider.add_function("plain", 1);
    let alert = |status: &str, function: &str| {
        serde_json::json!({
            "receiver": "scale-up",
            "status": status,
            "alerts": [{
                "status": status,
                "labels": {"alertname": "APIHighInvocationRate", "function_name": function},
            }],
        })
        .to_string()
    };
    let answer = api.post("/system/alert", &alert("firing", "hot")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(api.provider.replicas("hot"), 4, "1 + 30% of 10");
    api.post("/system/alert", &alert("firing", "hot.openfaas-fn"))
        .await;
    assert_eq!(api.provider.replicas("hot"), 7);
    api.post("/system/alert", &alert("firing", "hot")).await;
    assert_eq!(api.provider.replicas("hot"), 10, "capped at max");
    let answer = api.post("/system/alert", &alert("resolved", "hot")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(api.provider.replicas("hot"), 2, "back to min");
    assert_eq!(answer.json()[0]["to"], 2);

    // Defaults: factor 20% of max 20 = 4.
    api.post("/system/alert", &alert("firing", "plain")).await;
    assert_eq!(api.provider.replicas("plain"), 5);

    // The sender's mistakes are 400s that say what was wrong, never 500s.
    let answer = api.post("/system/alert", &alert("firing", "ghost")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.text(),
        "cannot scale for every alert: ghost.openfaas-fn: function ghost.openfaas-fn not found\n"
    );
    let answer = api
        .post("/system/alert", &alert("firing", "Bad_Name"))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.text().contains("Bad_Name"), "{}", answer.text());
    let answer = api.post("/system/alert", &alert("pending", "plain")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.text().contains("neither firing nor resolved"),
        "{}",
        answer.text()
    );
    let unlabelled = r#"{"status":"firing","alerts":[{"status":"firing","labels":{"alertname":"APIHighInvocationRate"}}]}"#;
    let answer = api.post("/system/alert", unlabelled).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.text(),
        "cannot scale for every alert: an alert has no function_name label\n"
    );
    assert_eq!(answer.header("x-openfaas-internal"), Some("gateway"));
    let answer = api.post("/system/alert", "{not json").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn alerts_need_credentials() {
    let api = TestApi::with_config(common::config_with_auth());
    let answer = api.post("/system/alert", "{}").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let api = api.logged_in();
    let answer = api.post("/system/alert", "{\"alerts\":[]}").await;
    assert_eq!(answer.status, StatusCode::OK);
}
