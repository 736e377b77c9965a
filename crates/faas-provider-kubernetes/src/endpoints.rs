//! The watch-fed cache of functions and their ready replicas. Two watches (the functions'
//! Deployments and their EndpointSlices, both by the `faas_function` label, which the
//! EndpointSlice controller copies from the Service) keep it current, so resolving a
//! function for a call never waits on the API server.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use faas_provider::{ProviderError, ReplicaEndpoint};
use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use tokio::task::JoinHandle;

use crate::objects::{FUNCTION_LABEL, WATCHDOG_PORT};

type Key = (String, String);

#[derive(Default)]
struct CacheState {
    functions: HashSet<Key>,
    /// Per function, its slices' ready endpoints by slice name.
    slices: HashMap<Key, BTreeMap<String, Vec<ReplicaEndpoint>>>,
}

/// Functions and their ready replicas, as the watches last saw them.
pub struct EndpointCache {
    state: RwLock<CacheState>,
    deployments_synced: tokio::sync::watch::Sender<bool>,
    slices_synced: tokio::sync::watch::Sender<bool>,
}

impl Default for EndpointCache {
    fn default() -> Self {
        EndpointCache {
            state: RwLock::default(),
            deployments_synced: tokio::sync::watch::Sender::new(false),
            slices_synced: tokio::sync::watch::Sender::new(false),
        }
    }
}

fn key_of(meta: &kube::api::ObjectMeta) -> Option<(String, Key)> {
    let function = meta.labels.as_ref()?.get(FUNCTION_LABEL)?.clone();
    let namespace = meta.namespace.clone()?;
    Some((meta.name.clone()?, (namespace, function)))
}

/// The ready endpoints of one EndpointSlice: each ready endpoint's first address, on the
/// slice's `http` port (else its first, else 8080).
pub fn ready_endpoints(slice: &EndpointSlice) -> Vec<ReplicaEndpoint> {
    let ports = slice.ports.as_deref().unwrap_or_default();
    let port = ports
        .iter()
        .find(|p| p.name.as_deref() == Some("http"))
        .or_else(|| ports.first())
        .and_then(|p| p.port)
        .unwrap_or(WATCHDOG_PORT);
    let Ok(port) = u16::try_from(port) else {
        return Vec::new();
    };
    let mut endpoints: Vec<ReplicaEndpoint> = slice
        .endpoints
        .iter()
        .filter(|e| {
            // Kubernetes: an unset `ready` is to be read as ready.
            e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true)
        })
        .filter_map(|e| {
            let ip: IpAddr = e.addresses.first()?.parse().ok()?;
            let instance = e
                .target_ref
                .as_ref()
                .and_then(|r| r.name.clone())
                .unwrap_or_else(|| ip.to_string());
            Some(ReplicaEndpoint {
                instance,
                address: SocketAddr::new(ip, port),
            })
        })
        .collect();
    endpoints.sort_by(|a, b| a.instance.cmp(&b.instance));
    endpoints
}

impl EndpointCache {
    /// The function's ready replicas, from memory. Waits (up to `sync_wait`) only before the
    /// watches' first lists have arrived.
    pub async fn endpoints(
        &self,
        namespace: &str,
        name: &str,
        sync_wait: Duration,
    ) -> Result<Vec<ReplicaEndpoint>, ProviderError> {
        if !(*self.deployments_synced.borrow() && *self.slices_synced.borrow()) {
            self.wait_synced(sync_wait).await?;
        }
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let key = (namespace.to_owned(), name.to_owned());
        if !state.functions.contains(&key) {
            return Err(ProviderError::NotFound(format!(
                "function not found: {name}.{namespace}"
            )));
        }
        let mut endpoints: Vec<ReplicaEndpoint> = state
            .slices
            .get(&key)
            .into_iter()
            .flat_map(|slices| slices.values().flatten().cloned())
            .collect();
        endpoints.dedup_by(|a, b| a.instance == b.instance && a.address == b.address);
        Ok(endpoints)
    }

    async fn wait_synced(&self, wait: Duration) -> Result<(), ProviderError> {
        let mut deployments = self.deployments_synced.subscribe();
        let mut slices = self.slices_synced.subscribe();
        let both = async {
            let _ = deployments.wait_for(|s| *s).await;
            let _ = slices.wait_for(|s| *s).await;
        };
        tokio::time::timeout(wait, both).await.map_err(|_| {
            ProviderError::Unavailable(
                "the Kubernetes API server has not answered the provider's watches yet".to_owned(),
            )
        })
    }

    /// Waits (bounded) until the watches have seen the function's Deployment.
    pub async fn wait_for_function(&self, namespace: &str, name: &str, wait: Duration) -> bool {
        let key = (namespace.to_owned(), name.to_owned());
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if self
                .state
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .functions
                .contains(&key)
            {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Records a function the provider has just created, before its watch event arrives.
    pub fn note_function(&self, namespace: &str, name: &str) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state
            .functions
            .insert((namespace.to_owned(), name.to_owned()));
    }

    /// Forgets a function the provider has just deleted.
    pub fn forget_function(&self, namespace: &str, name: &str) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let key = (namespace.to_owned(), name.to_owned());
        state.functions.remove(&key);
        state.slices.remove(&key);
    }

    fn apply_deployment(&self, event: Event<Deployment>, pending: &mut Option<HashSet<Key>>) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Init => *pending = Some(HashSet::new()),
            Event::InitApply(d) => {
                if let (Some(set), Some((_, key))) = (pending.as_mut(), key_of(&d.metadata)) {
                    set.insert(key);
                }
            }
            Event::InitDone => {
                if let Some(set) = pending.take() {
                    state.functions = set;
                }
                self.deployments_synced.send_replace(true);
            }
            Event::Apply(d) => {
                if let Some((_, key)) = key_of(&d.metadata) {
                    state.functions.insert(key);
                }
            }
            Event::Delete(d) => {
                if let Some((_, key)) = key_of(&d.metadata) {
                    state.functions.remove(&key);
                }
            }
        }
    }

    fn apply_slice(&self, event: Event<EndpointSlice>, pending: &mut Option<CacheSlices>) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Init => *pending = Some(HashMap::new()),
            Event::InitApply(s) => {
                if let (Some(map), Some((slice, key))) = (pending.as_mut(), key_of(&s.metadata)) {
                    map.entry(key)
                        .or_default()
                        .insert(slice, ready_endpoints(&s));
                }
            }
            Event::InitDone => {
                if let Some(map) = pending.take() {
                    state.slices = map;
                }
                self.slices_synced.send_replace(true);
            }
            Event::Apply(s) => {
                if let Some((slice, key)) = key_of(&s.metadata) {
                    state
                        .slices
                        .entry(key)
                        .or_default()
                        .insert(slice, ready_endpoints(&s));
                }
            }
            Event::Delete(s) => {
                if let Some((slice, key)) = key_of(&s.metadata) {
                    if let Some(slices) = state.slices.get_mut(&key) {
                        slices.remove(&slice);
                        if slices.is_empty() {
                            state.slices.remove(&key);
                        }
                    }
                }
            }
        }
    }

    /// Starts the two watches (all namespaces); they retry with backoff while the API server
    /// is away, and stop when the returned handles are aborted.
    pub fn start(self: &Arc<Self>, client: Client) -> Vec<JoinHandle<()>> {
        let config = watcher::Config::default().labels(FUNCTION_LABEL);
        let deployments = {
            let cache = self.clone();
            let stream = watcher::watcher(Api::<Deployment>::all(client.clone()), config.clone())
                .default_backoff();
            tokio::spawn(async move {
                let mut stream = std::pin::pin!(stream);
                let mut pending = None;
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(event) => cache.apply_deployment(event, &mut pending),
                        Err(err) => tracing::warn!("watching function deployments: {err}"),
                    }
                }
            })
        };
        let slices = {
            let cache = self.clone();
            let stream =
                watcher::watcher(Api::<EndpointSlice>::all(client), config).default_backoff();
            tokio::spawn(async move {
                let mut stream = std::pin::pin!(stream);
                let mut pending = None;
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(event) => cache.apply_slice(event, &mut pending),
                        Err(err) => tracing::warn!("watching function endpoints: {err}"),
                    }
                }
            })
        };
        vec![deployments, slices]
    }
}

type CacheSlices = HashMap<Key, BTreeMap<String, Vec<ReplicaEndpoint>>>;

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ObjectReference;
    use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};

    fn endpoint(ip: &str, pod: &str, ready: Option<bool>) -> Endpoint {
        Endpoint {
            addresses: vec![ip.to_owned()],
            conditions: Some(EndpointConditions {
                ready,
                ..EndpointConditions::default()
            }),
            target_ref: Some(ObjectReference {
                name: Some(pod.to_owned()),
                ..ObjectReference::default()
            }),
            ..Endpoint::default()
        }
    }

    #[test]
    fn only_ready_endpoints_on_the_http_port_are_kept() {
        let slice = EndpointSlice {
            address_type: "IPv4".to_owned(),
            endpoints: vec![
                endpoint("127.0.0.1", "hello-b", Some(true)),
                endpoint("127.0.0.2", "hello-a", None),
                endpoint("127.0.0.3", "hello-c", Some(false)),
                endpoint("not-an-ip", "hello-d", Some(true)),
            ],
            ports: Some(vec![
                EndpointPort {
                    name: Some("metrics".to_owned()),
                    port: Some(8081),
                    ..EndpointPort::default()
                },
                EndpointPort {
                    name: Some("http".to_owned()),
                    port: Some(8080),
                    ..EndpointPort::default()
                },
            ]),
            ..EndpointSlice::default()
        };
        let endpoints = ready_endpoints(&slice);
        let seen: Vec<(&str, String)> = endpoints
            .iter()
            .map(|e| (e.instance.as_str(), e.address.to_string()))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("hello-a", "127.0.0.2:8080".to_owned()),
                ("hello-b", "127.0.0.1:8080".to_owned())
            ]
        );
    }
}
