//! `GET /metrics` over real calls: OpenFaaS's names and labels, replica gauges from the
//! provider, and the switch that turns metrics off.

mod common;

use common::{config, TestServer, Upstream};
use faas_gateway::GatewayConfig;
use http::{Method, StatusCode};

async fn scrape(server: &TestServer) -> String {
    let answer = server.call(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    answer.text().await.unwrap()
}

#[tokio::test]
async fn calls_show_under_openfaas_names() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start().await;
    server.deploy("echo", &[upstream.address]);
    let created = server
        .client
        .post(server.url("/system/namespace/dev"))
        .body(r#"{"name":"dev"}"#)
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    server.provider.add_function_in("dev", "other", 3);
    server.provider.set_labels(
        "echo",
        &[
            ("com.openfaas.scale.type", "capacity"),
            ("com.openfaas.scale.target", "7"),
        ],
    );
    for _ in 0..3 {
        let answer = server
            .call(Method::POST, "/function/echo")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
    let answer = server
        .call(Method::GET, "/function/echo/status/500")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);

    let text = scrape(&server).await;
    for line in [
        "gateway_function_invocation_total{function_name=\"echo.openfaas-fn\",code=\"200\"} 3",
        "gateway_function_invocation_total{function_name=\"echo.openfaas-fn\",code=\"500\"} 1",
        "gateway_function_invocation_started{function_name=\"echo.openfaas-fn\"} 4",
        "gateway_function_invocation_inflight{function_name=\"echo.openfaas-fn\"} 0",
        "gateway_functions_seconds_count{function_name=\"echo.openfaas-fn\",code=\"200\"} 3",
        "gateway_service_count{function_name=\"echo.openfaas-fn\"} 1",
        "gateway_service_count{function_name=\"other.dev\"} 3",
        "gateway_service_ready_count{function_name=\"echo.openfaas-fn\"} 1",
        "gateway_service_target_load{function_name=\"echo.openfaas-fn\",scaling_type=\"capacity\"} 7",
        "# TYPE gateway_function_invocation_started gauge",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    assert!(!text.contains("gateway_function_invocation_started_total"));

    // A deleted function's series go.
    let client = &server.client;
    let answer = client
        .delete(server.url("/system/functions"))
        .body(r#"{"functionName":"echo"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    let text = scrape(&server).await;
    assert!(!text.contains("echo.openfaas-fn"), "{text}");
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start_with(GatewayConfig {
        metrics: false,
        ..config()
    })
    .await;
    server.deploy("echo", &[upstream.address]);
    let answer = server
        .call(Method::GET, "/function/echo")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let answer = server.call(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    assert!(server.gateway.metrics().is_none());
    // The autoscaler's own counters stay on.
    let entry = server
        .gateway
        .functions()
        .get("openfaas-fn", "echo")
        .unwrap();
    assert_eq!(entry.stats().started, 1);
}
