//! `faasd --provider kubernetes` (with and without `--operator`) against the fake API server,
//! found through a KUBECONFIG file as a user's cluster would be: deploy through the REST API,
//! call the function through the gateway (the fake's pods are a local server), delete.
#![cfg(feature = "kubernetes")]

mod common;

use std::time::Duration;

use common::Faasd;
use faas_kube_fake::{ClusterSettings, FakeApiServer};
use serde_json::json;

struct Pod {
    address: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Pod {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pod() -> Pod {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = axum::Router::new().fallback(|body: String| async move { format!("pod: {body}") });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Pod { address, task }
}

fn kubeconfig(dir: &std::path::Path, fake: &FakeApiServer) -> String {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
         contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n\
         current-context: fake\nusers:\n- name: fake\n  user: {{}}\n",
        fake.url()
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A fake API server whose pods are one local server, and a KUBECONFIG file naming it.
struct Cluster {
    fake: FakeApiServer,
    dir: tempfile::TempDir,
    kubeconfig: String,
    _pod: Pod,
}

impl Cluster {
    async fn start() -> Cluster {
        let pod = pod().await;
        let fake = FakeApiServer::start(ClusterSettings {
            pod_address: pod.address,
            ready_delay: Duration::ZERO,
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = kubeconfig(dir.path(), &fake);
        Cluster {
            fake,
            dir,
            kubeconfig,
            _pod: pod,
        }
    }
}

async fn deploy_call_delete(operator: bool) {
    let cluster = Cluster::start().await;
    let (fake, kubeconfig) = (&cluster.fake, cluster.kubeconfig.clone());
    let operator_flag = operator.to_string();
    let faasd = tokio::task::block_in_place(|| {
        Faasd::start_with(&[
            ("FAASD_PROVIDER", "kubernetes"),
            ("FAASD_OPERATOR", &operator_flag),
            ("KUBECONFIG", &kubeconfig),
        ])
    });
    let deployed = faasd
        .deploy(json!({"service": "hello", "image": "ghcr.io/openfaas/alpine:latest", "envProcess": "cat"}))
        .await;
    assert_eq!(deployed.status(), 202, "{}", faasd.logs());
    assert!(fake.get("deployments", "openfaas-fn", "hello").is_some());
    assert_eq!(
        fake.get("functions", "openfaas-fn", "hello").is_some(),
        operator
    );
    let (status, body) = faasd.invoke("hello", "hi").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "pod: hi"),
        "{}",
        faasd.logs()
    );
    let info: serde_json::Value = faasd
        .api(reqwest::Method::GET, "/system/info")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["provider"]["orchestration"], "kubernetes");
    let deleted = faasd
        .api(reqwest::Method::DELETE, "/system/functions")
        .json(&json!({"functionName": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 202);
    assert!(fake.get("deployments", "openfaas-fn", "hello").is_none());
    assert_eq!(fake.get("functions", "openfaas-fn", "hello"), None);
    drop(faasd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faasd_runs_functions_on_the_cluster_in_kubeconfig() {
    deploy_call_delete(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faasd_with_the_operator_writes_function_objects() {
    deploy_call_delete(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faasd_with_an_autoscaler_lease_holds_it() {
    let cluster = Cluster::start().await;
    let (fake, kubeconfig) = (&cluster.fake, cluster.kubeconfig.clone());
    let faasd = tokio::task::block_in_place(|| {
        Faasd::start_with(&[
            ("FAASD_PROVIDER", "kubernetes"),
            ("FAASD_AUTOSCALER_LEASE", "default/rustfaas-autoscaler"),
            ("KUBECONFIG", &kubeconfig),
        ])
    });
    let mut holder = None;
    for _ in 0..250 {
        if let Some(lease) = fake.get("leases", "default", "rustfaas-autoscaler") {
            holder = lease["spec"]["holderIdentity"].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let holder = holder.unwrap_or_else(|| panic!("no lease held; faasd says:\n{}", faasd.logs()));
    assert!(!holder.is_empty());
    drop(faasd);
}

/// A data directory whose admin credentials are `password` (server replicas share them, as
/// the `basic-auth` Secret gives every pod the same).
fn shared_credentials(dir: &std::path::Path, name: &str, password: &str) -> std::path::PathBuf {
    let data = dir.join(name);
    let secrets = data.join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("basic-auth-user"), "admin").unwrap();
    std::fs::write(secrets.join("basic-auth-password"), password).unwrap();
    data
}

/// Lists `port` on 127.0.0.1 as a ready endpoint of the Service `faasd` in `default`, as the
/// EndpointSlice controller lists a server pod.
async fn endpoint_slice(fake: &FakeApiServer, name: &str, port: u16) {
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "faasd"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}],
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
    });
    let response = reqwest::Client::new()
        .post(format!(
            "{}/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
            fake.url()
        ))
        .json(&slice)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

/// Two server replicas behind one Service: the one holding the autoscaler's Lease scales a
/// function on the calls the other one proxies, read from its `/system/scale-stats` at the
/// address the Service's EndpointSlices give.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_scales_on_the_calls_of_the_other_replica() {
    let cluster = Cluster::start().await;
    let (fake, kubeconfig) = (&cluster.fake, cluster.kubeconfig.clone());
    let env = [
        ("FAASD_PROVIDER", "kubernetes"),
        ("FAASD_AUTOSCALER_LEASE", "default/rustfaas-autoscaler"),
        ("FAASD_AUTOSCALER_PEERS_SERVICE", "default/faasd"),
        ("KUBECONFIG", kubeconfig.as_str()),
    ];
    let leader_data =
        shared_credentials(cluster.dir.path(), "leader", "shared-password-0123456789");
    let leader = tokio::task::block_in_place(|| Faasd::start_on(&leader_data, &env));
    // The first replica takes the Lease before the second one starts.
    let mut held = false;
    for _ in 0..250 {
        if fake
            .get("leases", "default", "rustfaas-autoscaler")
            .is_some()
        {
            held = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(held, "no lease held; faasd says:\n{}", leader.logs());
    let other_data = shared_credentials(cluster.dir.path(), "other", "shared-password-0123456789");
    let other = tokio::task::block_in_place(|| Faasd::start_on(&other_data, &env));
    endpoint_slice(fake, "faasd-leader", leader.port).await;
    endpoint_slice(fake, "faasd-other", other.port).await;

    let deployed = leader
        .deploy(
            json!({"service": "busy", "image": "ghcr.io/openfaas/alpine:latest",
                       "envProcess": "cat",
                       "labels": {"com.openfaas.scale.min": "1", "com.openfaas.scale.max": "3",
                                  "com.openfaas.scale.type": "rps",
                                  "com.openfaas.scale.target": "5"}}),
        )
        .await;
    assert_eq!(deployed.status(), 202, "{}", leader.logs());
    let replicas = || {
        fake.get("deployments", "openfaas-fn", "busy")
            .and_then(|d| d["spec"]["replicas"].as_u64())
    };
    assert_eq!(replicas(), Some(1));
    // About 20 calls a second, all through the replica that does not autoscale: at a target
    // of 5 per replica the leader must ask for the maximum, 3. At most 30 s, 600 calls.
    let started = std::time::Instant::now();
    let mut calls = 0;
    while replicas() != Some(3) && started.elapsed() < Duration::from_secs(30) {
        let (status, _) = other.invoke("busy", "x").await;
        assert_eq!(status, 200, "{}", other.logs());
        calls += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        replicas(),
        Some(3),
        "after {calls} calls through the other replica; the leader says:\n{}",
        leader.logs()
    );
    // Its own answer: the other replica counted every call, the leader none.
    let stats: serde_json::Value = other
        .api(reqwest::Method::GET, "/system/scale-stats")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let busy = stats["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "busy")
        .unwrap();
    assert_eq!(busy["started"], calls);
    let unauthorised = reqwest::Client::new()
        .get(other.url("/system/scale-stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    drop(other);
    drop(leader);
}

/// Applies a `Function` as `kubectl apply` of `faas-cli generate`'s output would.
async fn apply_function(fake: &FakeApiServer, name: &str) {
    let function = json!({
        "apiVersion": "openfaas.com/v1", "kind": "Function",
        "metadata": {"name": name, "namespace": "openfaas-fn"},
        "spec": {"name": name, "image": "ghcr.io/me/hello:0.1",
                 "environment": {"fprocess": "cat"}},
    });
    let response = reqwest::Client::new()
        .post(format!(
            "{}/apis/openfaas.com/v1/namespaces/openfaas-fn/functions",
            fake.url()
        ))
        .json(&function)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

/// Waits up to `limit` for the Deployment the operator makes of Function `name`.
async fn reconciled(fake: &FakeApiServer, name: &str, limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if fake.get("deployments", "openfaas-fn", name).is_some() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Two server replicas with `--operator` and one Lease: only the holder runs the Function
/// controller; when it dies, the other takes the Lease over and reconciles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_replicas_only_the_lease_holder_runs_the_operator() {
    let cluster = Cluster::start().await;
    let (fake, kubeconfig) = (&cluster.fake, cluster.kubeconfig.clone());
    let env = [
        ("FAASD_PROVIDER", "kubernetes"),
        ("FAASD_OPERATOR", "true"),
        ("FAASD_AUTOSCALER_LEASE", "default/rustfaas-autoscaler"),
        ("KUBECONFIG", kubeconfig.as_str()),
    ];
    const RUNNING: &str = "function operator: running";
    let mut replicas: Vec<Faasd> = ["first", "second"]
        .iter()
        .map(|name| {
            tokio::task::block_in_place(|| Faasd::start_on(&cluster.dir.path().join(name), &env))
        })
        .collect();
    // The Lease's first holder reconciles an applied Function.
    apply_function(fake, "before").await;
    assert!(
        reconciled(fake, "before", Duration::from_secs(10)).await,
        "not reconciled; first says:\n{}\nsecond says:\n{}",
        replicas[0].logs(),
        replicas[1].logs()
    );
    let holder = fake
        .get("leases", "default", "rustfaas-autoscaler")
        .unwrap()["spec"]["holderIdentity"]
        .as_str()
        .unwrap()
        .to_owned();
    let running: Vec<bool> = replicas
        .iter()
        .map(|f| f.logs().contains(RUNNING))
        .collect();
    assert_eq!(
        running.iter().filter(|r| **r).count(),
        1,
        "exactly one replica runs the operator (Lease held by {holder}); first:\n{}\nsecond:\n{}",
        replicas[0].logs(),
        replicas[1].logs()
    );
    // The holder dies without stepping down: the other takes the Lease once it expires (15 s)
    // and reconciles what is applied after.
    let mut leader = replicas.remove(if running[0] { 0 } else { 1 });
    let follower = replicas.remove(0);
    leader.kill9();
    apply_function(fake, "after").await;
    assert!(
        reconciled(fake, "after", Duration::from_secs(40)).await,
        "the other replica did not take over; it says:\n{}",
        follower.logs()
    );
    assert!(follower.logs().contains(RUNNING), "{}", follower.logs());
}
