//! `/metrics` on a real faasd, scraped by a real Prometheus (scripts/prometheus.sh; the test
//! fails, loudly, when Prometheus cannot be installed).

mod common;

use std::time::{Duration, Instant};

use common::{metric_value, Faasd, Prometheus};

#[tokio::test]
async fn prometheus_scrapes_the_invocation_counts() {
    let faasd = Faasd::start();
    faasd.deploy_host("echo", "cat").await;
    for i in 0..7 {
        let (status, body) = faasd.invoke("echo", &format!("call {i}")).await;
        assert_eq!((status, body), (200, format!("call {i}")));
    }
    let prometheus = Prometheus::start(faasd.port);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = prometheus.query("gateway_function_invocation_total").await;
        let echo_200 = last.iter().find(|sample| {
            sample["metric"]["function_name"] == "echo.openfaas-fn"
                && sample["metric"]["code"] == "200"
        });
        if let Some(sample) = echo_200 {
            assert_eq!(sample["value"][1], "7", "{sample}");
            assert_eq!(sample["metric"]["job"], "gateway");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never saw the calls: {last:?}\n{}",
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The other OpenFaaS series are scraped too.
    let started = prometheus
        .query("gateway_function_invocation_started{function_name=\"echo.openfaas-fn\"}")
        .await;
    assert_eq!(
        started.first().map(|s| &s["value"][1]),
        Some(&"7".into()),
        "{started:?}"
    );
    let replicas = prometheus
        .query("gateway_service_count{function_name=\"echo.openfaas-fn\"}")
        .await;
    assert_eq!(
        replicas.first().map(|s| &s["value"][1]),
        Some(&"1".into()),
        "{replicas:?}"
    );
    let histogram = prometheus
        .query("gateway_functions_seconds_count{function_name=\"echo.openfaas-fn\"}")
        .await;
    assert_eq!(
        histogram.first().map(|s| &s["value"][1]),
        Some(&"7".into()),
        "{histogram:?}"
    );
}

#[tokio::test]
async fn metrics_text_has_openfaas_names_and_can_be_turned_off() {
    let faasd = Faasd::start();
    faasd.deploy_host("echo", "cat").await;
    let (status, _) = faasd.invoke("echo", "x").await;
    assert_eq!(status, 200);
    let text = faasd.metrics_text().await;
    for series in [
        "gateway_function_invocation_total{function_name=\"echo.openfaas-fn\",code=\"200\"}",
        "gateway_function_invocation_started{function_name=\"echo.openfaas-fn\"}",
        "gateway_service_count{function_name=\"echo.openfaas-fn\"}",
        "gateway_service_ready_count{function_name=\"echo.openfaas-fn\"}",
    ] {
        assert_eq!(
            metric_value(&text, series),
            Some(1.0),
            "{series} in\n{text}"
        );
    }
    // The async queue's series come after the gateway's, in one exposition.
    let accepted = faasd
        .client
        .post(faasd.url("/async-function/echo"))
        .body("later")
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    let text = faasd.metrics_text().await;
    assert!(text.contains("faas_queue_accepted"), "{text}");
    assert!(text.find("faas_queue_accepted") > text.find("gateway_service_count"));
    assert_eq!(text.matches("# EOF").count(), 1);
    drop(faasd);

    let dir = tempfile::tempdir().unwrap();
    let faasd = Faasd::start_on(&dir.path().join("data"), &[("FAASD_METRICS", "false")]);
    let response = faasd
        .client
        .get(faasd.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
