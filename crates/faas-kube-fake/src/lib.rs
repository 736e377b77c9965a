//! An in-process fake Kubernetes API server for tests: it answers the REST paths, verbs and
//! watch streams the kubernetes provider uses with the API server's JSON (objects with
//! uid, resourceVersion and generation; lists; `Status` objects for 404, 409 and 422;
//! `{"type","object"}` watch lines from a resourceVersion; the Deployment `scale` and
//! Function `status` subresources; pod logs with `timestamps`, `tailLines`, `sinceTime`,
//! `follow`) and rejects what the API server rejects (invalid names and labels, missing
//! required fields, stale resourceVersions, a missing namespace).
//!
//! Controllers are simulated (`controllers.rs`): pods appear for each Deployment, become
//! Ready after a delay, and EndpointSlices list them at the test's pod address, so a test
//! can call a function through a real local server standing in for the pods.
//!
//! Served on 127.0.0.1 only, over plain HTTP. Every request is counted and logged, so a test
//! can assert that some path makes no API call at all.

mod api;
mod controllers;
pub mod kinds;
mod selector;
mod status;
mod store;
mod validate;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::Method;
use serde_json::Value;
use tokio::task::JoinHandle;

pub use store::ClusterSettings;
use store::Store;

/// What the HTTP handlers share.
pub(crate) struct Shared {
    store: Arc<Mutex<Store>>,
    requests: AtomicU64,
    log: Mutex<Vec<String>>,
    /// Failures to answer instead of serving: (method, plural, code).
    injected: Mutex<Vec<(Method, &'static str, u16)>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_injected(&self, method: &Method, target: &kinds::Target) -> Option<status::Failure> {
        let mut injected = self.injected.lock().unwrap_or_else(|e| e.into_inner());
        let at = injected
            .iter()
            .position(|(m, plural, _)| m == method && *plural == target.kind.plural)?;
        let (_, _, code) = injected.remove(at);
        let reason = match code {
            503 => "ServiceUnavailable",
            429 => "TooManyRequests",
            _ => "InternalError",
        };
        Some(status::Failure {
            code,
            body: serde_json::json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "the server is currently unable to handle the request",
                "reason": reason, "details": {}, "code": code,
            }),
        })
    }

    /// Runs the controllers again when pods are due to turn Ready.
    fn spawn_wakeups(&self) {
        let wakeups: Vec<_> = self.lock().wakeups.drain(..).collect();
        for at in wakeups {
            let store = self.store.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
                let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
                controllers::reconcile(&mut store);
                store.wakeups.clear();
            });
        }
    }
}

/// A running fake API server on 127.0.0.1.
pub struct FakeApiServer {
    address: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FakeApiServer {
    /// Starts one with the `default` and `openfaas-fn` namespaces (as an OpenFaaS install has).
    pub async fn start(cluster: ClusterSettings) -> std::io::Result<FakeApiServer> {
        let mut store = Store::new(cluster);
        for name in ["default", "openfaas-fn"] {
            let mut ns = serde_json::json!({"metadata": {"name": name}});
            if name == "openfaas-fn" {
                ns["metadata"]["annotations"] = serde_json::json!({"openfaas": "1"});
            }
            store
                .create(&kinds::NAMESPACES, None, ns)
                .map_err(|f| std::io::Error::other(f.body.to_string()))?;
        }
        let shared = Arc::new(Shared {
            store: Arc::new(Mutex::new(store)),
            requests: AtomicU64::new(0),
            log: Mutex::default(),
            injected: Mutex::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let router = axum::Router::new()
            .fallback(api::handle)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(FakeApiServer {
            address,
            shared,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Requests served so far (watch streams count once, when they start).
    pub fn requests(&self) -> u64 {
        self.shared
            .requests
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// `METHOD /path?query` of every request so far.
    pub fn request_log(&self) -> Vec<String> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The stored object, as a GET would answer it.
    pub fn get(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let kind = kinds::KINDS.iter().find(|k| k.plural == plural)?;
        self.shared.lock().get(kind, namespace, name).cloned()
    }

    /// Names of stored objects of a kind in a namespace.
    pub fn names(&self, plural: &str, namespace: &str) -> Vec<String> {
        let Some(kind) = kinds::KINDS.iter().find(|k| k.plural == plural) else {
            return Vec::new();
        };
        self.shared
            .lock()
            .list(kind, Some(namespace))
            .filter_map(|o| {
                o.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect()
    }

    /// Deletes an object as `kubectl delete` would (for drift tests).
    pub fn delete(&self, plural: &str, namespace: &str, name: &str) -> bool {
        let Some(kind) = kinds::KINDS.iter().find(|k| k.plural == plural) else {
            return false;
        };
        let deleted = self.shared.lock().delete(kind, namespace, name).is_ok();
        self.shared.spawn_wakeups();
        deleted
    }

    /// Appends a line to a pod's log (what its container would print).
    pub fn append_log(&self, namespace: &str, pod: &str, text: &str) -> bool {
        self.shared.lock().append_log(namespace, pod, text)
    }

    /// Answers the next `method` on `plural` with `code` (a Status) instead of serving it.
    pub fn fail_next(&self, method: &str, plural: &'static str, code: u16) {
        let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
        self.shared
            .injected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((method, plural, code));
    }

    /// Serves the metrics API's usage of a pod (as metrics-server would), until it goes.
    pub fn set_pod_metrics(&self, namespace: &str, pod: &str, cpu: &str, memory: &str) -> bool {
        let mut store = self.shared.lock();
        let Some(object) = store.get(&kinds::PODS, namespace, pod).cloned() else {
            return false;
        };
        let container = object
            .pointer("/spec/containers/0/name")
            .cloned()
            .unwrap_or_default();
        let metrics = serde_json::json!({
            "apiVersion": "metrics.k8s.io/v1beta1",
            "kind": "PodMetrics",
            "metadata": {
                "name": pod, "namespace": namespace,
                "labels": object["metadata"]["labels"],
                "creationTimestamp": store::now_text(),
                "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": pod,
                                     "uid": object["metadata"]["uid"]}],
            },
            "timestamp": store::now_text(),
            "window": "30s",
            "containers": [{"name": container, "usage": {"cpu": cpu, "memory": memory}}],
        });
        store.write(&kinds::POD_METRICS, namespace, metrics, "ADDED");
        true
    }

    /// Changes how long new pods take to turn Ready.
    pub fn set_ready_delay(&self, delay: Duration) {
        self.shared.lock().cluster.ready_delay = delay;
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
