//! Benchmark (run by `bench/k8s-endpoints.sh`): how long the kubernetes provider takes to
//! answer `endpoints()` from its watch-fed cache, against a floor measured in the same run (a
//! `RwLock<HashMap>` lookup cloning the same replica list), with 100 functions of 3 ready
//! replicas each in the fake API server. Prints p50/p99/max of each and their ratio.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use faas_kube_fake::{ClusterSettings, FakeApiServer};
use faas_provider::{Provider, ReplicaEndpoint};
use faas_provider_kubernetes::{KubernetesConfig, KubernetesProvider};

const FUNCTIONS: usize = 100;
const CALLS: usize = 200_000;

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    (at(0.50), at(0.99), *samples.last().unwrap())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let fake = FakeApiServer::start(ClusterSettings {
        pod_address: "127.0.0.1:8080".parse().unwrap(),
        ready_delay: Duration::ZERO,
    })
    .await
    .unwrap();
    let client = kube::Client::try_from(kube::Config::new(fake.url().parse().unwrap())).unwrap();
    let provider = KubernetesProvider::start(client, KubernetesConfig::default());
    for i in 0..FUNCTIONS {
        let mut labels = std::collections::BTreeMap::new();
        labels.insert("com.openfaas.scale.min".to_owned(), "3".to_owned());
        provider
            .deploy(faas_types::FunctionDeployment {
                service: format!("fn-{i}"),
                image: "img:1".to_owned(),
                labels: Some(labels),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    for i in 0..FUNCTIONS {
        while provider
            .endpoints("openfaas-fn", &format!("fn-{i}"))
            .await
            .unwrap()
            .len()
            < 3
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let names: Vec<String> = (0..FUNCTIONS).map(|i| format!("fn-{i}")).collect();

    let floor: RwLock<HashMap<(String, String), Vec<ReplicaEndpoint>>> =
        RwLock::new(HashMap::new());
    for name in &names {
        let endpoints = provider.endpoints("openfaas-fn", name).await.unwrap();
        floor
            .write()
            .unwrap()
            .insert(("openfaas-fn".to_owned(), name.clone()), endpoints);
    }

    let before = fake.requests();
    let mut cache = Vec::with_capacity(CALLS);
    let mut baseline = Vec::with_capacity(CALLS);
    for n in 0..CALLS {
        let name = &names[n % FUNCTIONS];
        let started = Instant::now();
        let endpoints = provider.endpoints("openfaas-fn", name).await.unwrap();
        cache.push(started.elapsed());
        assert_eq!(endpoints.len(), 3);
        let started = Instant::now();
        let key = ("openfaas-fn".to_owned(), name.clone());
        let endpoints = floor.read().unwrap().get(&key).cloned().unwrap();
        baseline.push(started.elapsed());
        assert_eq!(endpoints.len(), 3);
    }
    let requests = fake.requests() - before;
    let (c50, c99, cmax) = percentiles(cache);
    let (b50, b99, bmax) = percentiles(baseline);
    println!(
        "endpoints() from the watch cache, {CALLS} calls over {FUNCTIONS} functions x 3 replicas"
    );
    println!("  watch cache : p50 {c50:?}  p99 {c99:?}  max {cmax:?}");
    println!("  floor (map) : p50 {b50:?}  p99 {b99:?}  max {bmax:?}");
    println!(
        "  ratio p99 cache/floor: {:.2}; API requests during the calls: {requests}; goal p99 < 100us: {}",
        c99.as_secs_f64() / b99.as_secs_f64().max(1e-9),
        if c99 < Duration::from_micros(100) { "met" } else { "MISSED" }
    );
    provider.shutdown().await;
}
