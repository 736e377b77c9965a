//! Functions with `com.openfaas.scale.min`/`max` but no `type` or `target` scale as OpenFaaS
//! CE scales them with its bundled `APIHighInvocationRate` alert: real calls through the
//! gateway's proxy, the autoscaler on a manual clock (one look a second).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{config, TestServer, Upstream};
use faas_gateway::autoscaler::ManualClock;
use http::{Method, StatusCode};

const SECOND: Duration = Duration::from_secs(1);

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
async fn ten_calls_a_second_reach_max_within_30_s_and_min_after_the_load_stops() {
    let upstream = Upstream::start("a").await;
    let server = TestServer::start_with(config()).await;
    server.deploy("ce", &[upstream.address]);
    server.provider.set_labels(
        "ce",
        &[
            ("com.openfaas.scale.min", "1"),
            ("com.openfaas.scale.max", "2"),
        ],
    );
    // The same load on a function with a target: today's autoscaler, which 10 calls a second
    // against a target of 50 leaves at 1.
    server.deploy("targeted", &[upstream.address]);
    server.provider.set_labels(
        "targeted",
        &[
            ("com.openfaas.scale.max", "2"),
            ("com.openfaas.scale.target", "50"),
        ],
    );
    let clock = Arc::new(ManualClock::default());
    let mut autoscaler = server.gateway.autoscaler_with_clock(clock.clone());
    autoscaler.tick().await;

    let mut up_at = None;
    for second in 1..=30 {
        calls(&server, "ce", 10).await;
        calls(&server, "targeted", 10).await;
        clock.advance(SECOND);
        for decision in autoscaler.tick().await {
            assert_eq!(decision.name, "ce", "{decision}");
            assert!(
                decision.reason.contains("APIHighInvocationRate firing"),
                "{decision}"
            );
            up_at.get_or_insert((second, decision.to));
        }
    }
    let (second, to) = up_at.expect("ce scaled up within 30 s");
    assert_eq!(to, 2);
    eprintln!("ce reached 2 replicas after {second} s of 10 calls/s");
    assert_eq!(server.provider.replicas("ce"), 2);
    assert_eq!(server.provider.replicas("targeted"), 1);

    let mut down_at = None;
    for second in 1..=30 {
        clock.advance(SECOND);
        for decision in autoscaler.tick().await {
            assert!(decision.reason.contains("resolved"), "{decision}");
            down_at.get_or_insert((second, decision.to));
        }
    }
    let (second, to) = down_at.expect("ce back to min after the load stopped");
    assert_eq!(to, 1);
    eprintln!("ce back to 1 replica {second} s after the load stopped");
    assert_eq!(server.provider.replicas("ce"), 1);
}
