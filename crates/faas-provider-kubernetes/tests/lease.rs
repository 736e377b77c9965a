//! Leader election on a Lease against the fake API server: one holder among contenders, a
//! takeover once the holder is gone and its claim expired, a step-down when the API server
//! cannot be reached.

mod common;

use std::time::{Duration, Instant};

use common::{client_for, eventually};
use faas_kube_fake::{ClusterSettings, FakeApiServer};
use faas_provider_kubernetes::lease::{Leadership, LeaseConfig};

fn config(identity: &str) -> LeaseConfig {
    LeaseConfig {
        namespace: "default".to_owned(),
        name: "rustfaas-autoscaler".to_owned(),
        identity: identity.to_owned(),
        duration: Duration::from_secs(3),
    }
}

async fn fake() -> FakeApiServer {
    FakeApiServer::start(ClusterSettings {
        pod_address: "127.0.0.1:9".parse().unwrap(),
        ready_delay: Duration::ZERO,
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn exactly_one_replica_holds_the_lease_and_another_takes_over() {
    let fake = fake().await;
    let a = Leadership::start(client_for(&fake), config("replica-a"));
    let b = Leadership::start(client_for(&fake), config("replica-b"));
    let c = Leadership::start(client_for(&fake), config("replica-c"));
    eventually("a leader", || async {
        (a.is_leader() || b.is_leader() || c.is_leader()).then_some(())
    })
    .await;
    // Over several renewals, never two at once.
    for _ in 0..30 {
        let leaders = [&a, &b, &c].iter().filter(|l| l.is_leader()).count();
        assert_eq!(leaders, 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lease = fake
        .get("leases", "default", "rustfaas-autoscaler")
        .unwrap();
    let holder = lease["spec"]["holderIdentity"].as_str().unwrap().to_owned();
    let (gone, rest): (Vec<_>, Vec<_>) = [("replica-a", a), ("replica-b", b), ("replica-c", c)]
        .into_iter()
        .partition(|(id, _)| *id == holder);
    let dropped = Instant::now();
    drop(gone);
    let mut took_over = None;
    for _ in 0..100 {
        if let Some((id, _)) = rest.iter().find(|(_, l)| l.is_leader()) {
            took_over = Some(*id);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took_over = took_over.expect("a takeover");
    let waited = dropped.elapsed();
    // Not before the claim expired (3 s after its last renewal, at most 1 s before the drop).
    assert!(
        waited >= Duration::from_secs(2),
        "took over after {waited:?}"
    );
    let lease = fake
        .get("leases", "default", "rustfaas-autoscaler")
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], took_over);
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
}

#[tokio::test]
async fn a_holder_that_cannot_renew_steps_down() {
    let fake = fake().await;
    let client = client_for(&fake);
    let only = Leadership::start(client, config("alone"));
    eventually("the lease", || async { only.is_leader().then_some(()) }).await;
    drop(fake);
    let lost = Instant::now();
    eventually("a step-down", || async {
        (!only.is_leader()).then_some(())
    })
    .await;
    // Before its 3 s claim could expire for anyone else.
    assert!(
        lost.elapsed() < Duration::from_secs(3),
        "stepped down after {:?}",
        lost.elapsed()
    );
}
