//! Shared test helpers: a HashMap-backed fake provider, in-process requests on the router,
//! a gateway on a real socket, and echo upstreams that stand in for function replicas.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use bytes::Bytes;
use faas_gateway::{BasicCredentials, Gateway, GatewayConfig};
use faas_provider::{LogStream, PackageInfo, Provider, ProviderError, ReplicaEndpoint};
use faas_types::{
    FunctionDeployment, FunctionStatus, LogMessage, LogRequest, NamespaceRequest, ProviderInfo,
    Secret, VersionInfo, DEFAULT_NAMESPACE,
};
use futures_util::StreamExt;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tower::ServiceExt;

type Key = (String, String);

fn key(namespace: &str, name: &str) -> Key {
    (namespace.to_owned(), name.to_owned())
}

#[derive(Default)]
struct FakeState {
    functions: HashMap<Key, FunctionStatus>,
    endpoints: HashMap<Key, Vec<ReplicaEndpoint>>,
    secrets: HashMap<Key, Secret>,
    namespaces: BTreeMap<String, NamespaceRequest>,
    packages: Vec<PackageInfo>,
    logs: Vec<LogMessage>,
}

/// A provider that keeps everything in maps. Endpoints are whatever the test sets.
pub struct FakeProvider {
    state: Mutex<FakeState>,
    live_logs: broadcast::Sender<LogMessage>,
    /// Calls to `endpoints()` so far.
    pub endpoint_lookups: AtomicUsize,
    /// Calls to `scale()` so far.
    pub scale_calls: AtomicUsize,
    /// `scale()` above this is refused (`Invalid`), as a provider's replica limit.
    pub max_replicas: std::sync::atomic::AtomicU64,
    /// Functions whose replicas "start" when scaled above zero: ready at this address after
    /// this delay. Scaling them to zero removes their endpoints.
    starts: Mutex<HashMap<Key, (SocketAddr, Duration)>>,
    me: Mutex<std::sync::Weak<FakeProvider>>,
}

impl Default for FakeProvider {
    fn default() -> Self {
        let mut state = FakeState::default();
        state.namespaces.insert(
            DEFAULT_NAMESPACE.to_owned(),
            NamespaceRequest {
                name: DEFAULT_NAMESPACE.to_owned(),
                ..Default::default()
            },
        );
        FakeProvider {
            state: Mutex::new(state),
            live_logs: broadcast::channel(64).0,
            endpoint_lookups: AtomicUsize::new(0),
            scale_calls: AtomicUsize::new(0),
            max_replicas: std::sync::atomic::AtomicU64::new(u64::MAX),
            starts: Mutex::new(HashMap::new()),
            me: Mutex::new(std::sync::Weak::new()),
        }
    }
}

impl FakeProvider {
    pub fn new() -> Arc<FakeProvider> {
        let provider = Arc::new(FakeProvider::default());
        *provider.me.lock().unwrap() = Arc::downgrade(&provider);
        provider
    }

    /// Deploys `name` in the default namespace with `replicas` desired replicas.
    pub fn add_function(&self, name: &str, replicas: u64) {
        self.add_function_in(DEFAULT_NAMESPACE, name, replicas);
    }

    pub fn add_function_in(&self, namespace: &str, name: &str, replicas: u64) {
        let status = FunctionStatus {
            name: name.to_owned(),
            image: format!("{name}:latest"),
            namespace: Some(namespace.to_owned()),
            replicas,
            ..Default::default()
        };
        self.state
            .lock()
            .unwrap()
            .functions
            .insert(key(namespace, name), status);
    }

    /// Sets the ready replicas of a function in the default namespace.
    pub fn set_endpoints(&self, name: &str, addresses: &[SocketAddr]) {
        self.set_endpoints_in(DEFAULT_NAMESPACE, name, addresses);
    }

    pub fn set_endpoints_in(&self, namespace: &str, name: &str, addresses: &[SocketAddr]) {
        let endpoints = addresses
            .iter()
            .enumerate()
            .map(|(i, address)| ReplicaEndpoint {
                instance: format!("{name}-{i}"),
                address: *address,
            })
            .collect();
        self.state
            .lock()
            .unwrap()
            .endpoints
            .insert(key(namespace, name), endpoints);
    }

    /// Scaling `name` (default namespace) above zero makes `address` ready after `delay`.
    pub fn start_on_scale(&self, name: &str, address: SocketAddr, delay: Duration) {
        self.starts
            .lock()
            .unwrap()
            .insert(key(DEFAULT_NAMESPACE, name), (address, delay));
    }

    /// Sets a function's labels (default namespace).
    pub fn set_labels(&self, name: &str, labels: &[(&str, &str)]) {
        let mut state = self.state.lock().unwrap();
        let status = state
            .functions
            .get_mut(&key(DEFAULT_NAMESPACE, name))
            .expect("function exists");
        status.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
    }

    /// Desired replicas of a function in the default namespace.
    pub fn replicas(&self, name: &str) -> u64 {
        self.function(DEFAULT_NAMESPACE, name)
            .map_or(0, |status| status.replicas)
    }

    pub fn function(&self, namespace: &str, name: &str) -> Option<FunctionStatus> {
        self.state
            .lock()
            .unwrap()
            .functions
            .get(&key(namespace, name))
            .cloned()
    }

    pub fn function_count(&self) -> usize {
        self.state.lock().unwrap().functions.len()
    }

    pub fn secret(&self, namespace: &str, name: &str) -> Option<Secret> {
        self.state
            .lock()
            .unwrap()
            .secrets
            .get(&key(namespace, name))
            .cloned()
    }

    /// A stored log line, returned by every `logs()` call.
    pub fn add_log(&self, message: LogMessage) {
        self.state.lock().unwrap().logs.push(message);
    }

    /// A new line for followers.
    pub fn push_live_log(&self, message: LogMessage) {
        let _ = self.live_logs.send(message);
    }

    fn exists(state: &FakeState, namespace: &str, name: &str) -> Result<(), ProviderError> {
        if state.functions.contains_key(&key(namespace, name)) {
            Ok(())
        } else {
            Err(ProviderError::NotFound(format!(
                "function {name}.{namespace} not found"
            )))
        }
    }
}

#[async_trait]
impl Provider for FakeProvider {
    async fn deploy(&self, request: FunctionDeployment) -> Result<(), ProviderError> {
        let namespace = request
            .namespace
            .clone()
            .expect("gateway sets the namespace");
        let mut state = self.state.lock().unwrap();
        if !state.namespaces.contains_key(&namespace) {
            return Err(ProviderError::NotFound(format!(
                "namespace {namespace} not found"
            )));
        }
        let k = key(&namespace, &request.service);
        if state.functions.contains_key(&k) {
            return Err(ProviderError::Conflict(format!(
                "function {} already exists",
                request.service
            )));
        }
        let mut status = FunctionStatus::from(request);
        status.replicas = 1;
        state.functions.insert(k, status);
        Ok(())
    }

    async fn update(&self, request: FunctionDeployment) -> Result<(), ProviderError> {
        let namespace = request
            .namespace
            .clone()
            .expect("gateway sets the namespace");
        let mut state = self.state.lock().unwrap();
        Self::exists(&state, &namespace, &request.service)?;
        let k = key(&namespace, &request.service);
        let replicas = state.functions[&k].replicas;
        let mut status = FunctionStatus::from(request);
        status.replicas = replicas;
        state.functions.insert(k, status);
        Ok(())
    }

    async fn delete(&self, namespace: &str, name: &str) -> Result<(), ProviderError> {
        let mut state = self.state.lock().unwrap();
        Self::exists(&state, namespace, name)?;
        state.functions.remove(&key(namespace, name));
        state.endpoints.remove(&key(namespace, name));
        Ok(())
    }

    async fn list(&self, namespace: &str) -> Result<Vec<FunctionStatus>, ProviderError> {
        let state = self.state.lock().unwrap();
        let mut list: Vec<_> = state
            .functions
            .iter()
            .filter(|((ns, _), _)| ns == namespace)
            .map(|(k, status)| {
                let mut status = status.clone();
                status.available_replicas = state.endpoints.get(k).map_or(0, |e| e.len() as u64);
                status
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    async fn status(&self, namespace: &str, name: &str) -> Result<FunctionStatus, ProviderError> {
        let state = self.state.lock().unwrap();
        Self::exists(&state, namespace, name)?;
        let mut status = state.functions[&key(namespace, name)].clone();
        status.available_replicas = state
            .endpoints
            .get(&key(namespace, name))
            .map_or(0, |e| e.len() as u64);
        Ok(status)
    }

    async fn scale(&self, namespace: &str, name: &str, replicas: u64) -> Result<(), ProviderError> {
        self.scale_calls.fetch_add(1, Ordering::Relaxed);
        let limit = self.max_replicas.load(Ordering::Relaxed);
        if replicas > limit {
            return Err(ProviderError::Invalid(format!(
                "{replicas} replicas requested, at most {limit} are allowed"
            )));
        }
        let mut state = self.state.lock().unwrap();
        Self::exists(&state, namespace, name)?;
        state
            .functions
            .get_mut(&key(namespace, name))
            .unwrap()
            .replicas = replicas;
        let start = self
            .starts
            .lock()
            .unwrap()
            .get(&key(namespace, name))
            .copied();
        if let Some((address, delay)) = start {
            if replicas == 0 {
                state.endpoints.remove(&key(namespace, name));
            } else if !state.endpoints.contains_key(&key(namespace, name)) {
                let (namespace, name) = (namespace.to_owned(), name.to_owned());
                if let Some(me) = self.me.lock().unwrap().upgrade() {
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        me.set_endpoints_in(&namespace, &name, &[address]);
                    });
                }
            }
        }
        Ok(())
    }

    async fn endpoints(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<ReplicaEndpoint>, ProviderError> {
        self.endpoint_lookups.fetch_add(1, Ordering::Relaxed);
        let state = self.state.lock().unwrap();
        Self::exists(&state, namespace, name)?;
        Ok(state
            .endpoints
            .get(&key(namespace, name))
            .cloned()
            .unwrap_or_default())
    }

    async fn logs(&self, request: LogRequest) -> Result<LogStream, ProviderError> {
        let namespace = request
            .namespace
            .clone()
            .expect("gateway sets the namespace");
        let stored: Vec<LogMessage> = {
            let state = self.state.lock().unwrap();
            Self::exists(&state, &namespace, &request.name)?;
            state
                .logs
                .iter()
                .filter(|m| m.name == request.name && m.namespace == namespace)
                .cloned()
                .collect()
        };
        let skip = request
            .tail_lines()
            .map_or(0, |n| stored.len().saturating_sub(n as usize));
        let history = futures_util::stream::iter(stored.into_iter().skip(skip));
        if !request.follow {
            return Ok(history.boxed());
        }
        let receiver = self.live_logs.subscribe();
        let live = futures_util::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(message) => return Some((message, receiver)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(history.chain(live).boxed())
    }

    async fn list_secrets(&self, namespace: &str) -> Result<Vec<Secret>, ProviderError> {
        let state = self.state.lock().unwrap();
        // Returns values on purpose: the gateway must strip them.
        Ok(state
            .secrets
            .iter()
            .filter(|((ns, _), _)| ns == namespace)
            .map(|(_, s)| s.clone())
            .collect())
    }

    async fn create_secret(&self, secret: Secret) -> Result<(), ProviderError> {
        let namespace = secret
            .namespace
            .clone()
            .expect("gateway sets the namespace");
        let mut state = self.state.lock().unwrap();
        let k = key(&namespace, &secret.name);
        if state.secrets.contains_key(&k) {
            return Err(ProviderError::Conflict(format!(
                "secret {} already exists",
                secret.name
            )));
        }
        state.secrets.insert(k, secret);
        Ok(())
    }

    async fn update_secret(&self, secret: Secret) -> Result<(), ProviderError> {
        let namespace = secret
            .namespace
            .clone()
            .expect("gateway sets the namespace");
        let mut state = self.state.lock().unwrap();
        let k = key(&namespace, &secret.name);
        if !state.secrets.contains_key(&k) {
            return Err(ProviderError::NotFound(format!(
                "secret {} not found",
                secret.name
            )));
        }
        state.secrets.insert(k, secret);
        Ok(())
    }

    async fn delete_secret(&self, namespace: &str, name: &str) -> Result<(), ProviderError> {
        let mut state = self.state.lock().unwrap();
        match state.secrets.remove(&key(namespace, name)) {
            Some(_) => Ok(()),
            None => Err(ProviderError::NotFound(format!("secret {name} not found"))),
        }
    }

    async fn list_namespaces(&self) -> Result<Vec<String>, ProviderError> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .namespaces
            .keys()
            .cloned()
            .collect())
    }

    async fn get_namespace(&self, name: &str) -> Result<NamespaceRequest, ProviderError> {
        self.state
            .lock()
            .unwrap()
            .namespaces
            .get(name)
            .cloned()
            .ok_or_else(|| ProviderError::NotFound(format!("namespace {name} not found")))
    }

    async fn create_namespace(&self, request: NamespaceRequest) -> Result<(), ProviderError> {
        let mut state = self.state.lock().unwrap();
        if state.namespaces.contains_key(&request.name) {
            return Err(ProviderError::Conflict(format!(
                "namespace {} already exists",
                request.name
            )));
        }
        state.namespaces.insert(request.name.clone(), request);
        Ok(())
    }

    async fn update_namespace(&self, request: NamespaceRequest) -> Result<(), ProviderError> {
        let mut state = self.state.lock().unwrap();
        if !state.namespaces.contains_key(&request.name) {
            return Err(ProviderError::NotFound(format!(
                "namespace {} not found",
                request.name
            )));
        }
        state.namespaces.insert(request.name.clone(), request);
        Ok(())
    }

    async fn delete_namespace(&self, name: &str) -> Result<(), ProviderError> {
        let mut state = self.state.lock().unwrap();
        if state.functions.keys().any(|(ns, _)| ns == name) {
            return Err(ProviderError::Conflict(format!(
                "namespace {name} still has functions"
            )));
        }
        state
            .namespaces
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| ProviderError::NotFound(format!("namespace {name} not found")))
    }

    async fn put_package(&self, image: &str, archive: Bytes) -> Result<PackageInfo, ProviderError> {
        let info = PackageInfo {
            image: image.to_owned(),
            digest: format!("sha256:fake{}", archive.len()),
            size: archive.len() as u64,
        };
        let mut state = self.state.lock().unwrap();
        state.packages.retain(|p| p.image != image);
        state.packages.push(info.clone());
        Ok(info)
    }

    async fn list_packages(&self) -> Result<Vec<PackageInfo>, ProviderError> {
        Ok(self.state.lock().unwrap().packages.clone())
    }

    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            provider: "fake".to_owned(),
            orchestration: "memory".to_owned(),
            version: VersionInfo {
                commit_message: String::new(),
                sha: "fakesha".to_owned(),
                release: "0.0.1".to_owned(),
            },
        }
    }

    async fn shutdown(&self) {}
}

pub const USER: &str = "admin";
pub const PASSWORD: &str = "s3cret-pass";

/// Short timeouts so failure tests finish quickly.
pub fn config() -> GatewayConfig {
    GatewayConfig {
        auth: None,
        upstream_timeout: Duration::from_secs(5),
        ready_wait: Duration::from_secs(2),
        max_json_bytes: 1 << 20,
        max_package_bytes: 4 << 20,
        version: VersionInfo {
            commit_message: "test build".to_owned(),
            sha: "abc123".to_owned(),
            release: "0.1.0".to_owned(),
        },
        ..GatewayConfig::default()
    }
}

pub fn config_with_auth() -> GatewayConfig {
    GatewayConfig {
        auth: Some(BasicCredentials {
            user: USER.to_owned(),
            password: PASSWORD.to_owned(),
        }),
        ..config()
    }
}

/// `Authorization: Basic ...` for `user:password`.
pub fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// An answer read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A router over a fake provider, for in-process requests.
pub struct TestApi {
    pub provider: Arc<FakeProvider>,
    pub router: Router,
    authorization: Option<String>,
}

impl TestApi {
    pub fn new() -> TestApi {
        TestApi::with_config(config())
    }

    pub fn with_config(config: GatewayConfig) -> TestApi {
        let provider = FakeProvider::new();
        let router = Gateway::new(provider.clone(), config).router();
        TestApi {
            provider,
            router,
            authorization: None,
        }
    }

    /// Sends the right credentials on every following request.
    pub fn logged_in(mut self) -> TestApi {
        self.authorization = Some(basic(USER, PASSWORD));
        self
    }

    pub async fn request(&self, method: Method, uri: &str, body: impl Into<Body>) -> Answer {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(authorization) = &self.authorization {
            builder = builder.header("authorization", authorization);
        }
        self.send(builder.body(body.into()).unwrap()).await
    }

    pub async fn send(&self, request: Request) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        read(response).await
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.request(Method::GET, uri, Body::empty()).await
    }

    pub async fn post(&self, uri: &str, body: &str) -> Answer {
        self.request(Method::POST, uri, body.to_owned()).await
    }

    pub async fn put(&self, uri: &str, body: &str) -> Answer {
        self.request(Method::PUT, uri, body.to_owned()).await
    }

    pub async fn delete(&self, uri: &str, body: &str) -> Answer {
        self.request(Method::DELETE, uri, body.to_owned()).await
    }
}

pub async fn read(response: Response) -> Answer {
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A gateway on a real socket (`127.0.0.1:0`), with the caller's address known.
pub struct TestServer {
    pub provider: Arc<FakeProvider>,
    pub gateway: Gateway,
    pub address: SocketAddr,
    pub client: reqwest::Client,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(config()).await
    }

    pub async fn start_with(config: GatewayConfig) -> TestServer {
        let provider = FakeProvider::new();
        let gateway = Gateway::new(provider.clone(), config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = gateway
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestServer {
            provider,
            gateway,
            address,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .unwrap(),
        }
    }

    /// Deploys `name` with its replicas at `upstreams`.
    pub fn deploy(&self, name: &str, upstreams: &[SocketAddr]) -> &Self {
        self.provider
            .add_function(name, upstreams.len().max(1) as u64);
        self.provider.set_endpoints(name, upstreams);
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn call(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
        self.client.request(method, self.url(path))
    }
}

/// What the echo upstream saw, as it answers it.
#[derive(Debug, serde::Deserialize)]
pub struct Echo {
    pub upstream: String,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: BTreeMap<String, Vec<String>>,
    pub body: String,
}

impl Echo {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

/// A stand-in for a function replica on `127.0.0.1:0`.
///
/// - `/stream?chunks=N&delay_ms=D`: N chunks `chunk i\n`, D ms apart.
/// - `/sleep?ms=D`: answers after D ms.
/// - `/mirror`: streams the request body back as it arrives.
/// - `/hop`: answers with hop-by-hop headers that must not reach the caller.
/// - `/status/{code}`: answers with that status.
/// - anything else: JSON [`Echo`] of the request (method, path, query, headers, body).
///
/// Every answer carries `x-upstream: {label}`.
pub struct Upstream {
    pub address: SocketAddr,
    pub label: String,
    pub calls: Arc<AtomicUsize>,
}

impl Upstream {
    pub async fn start(label: &str) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let (label_owned, counter) = (label.to_owned(), calls.clone());
        let app = Router::new().fallback(move |request: Request| {
            let label = label_owned.clone();
            counter.fetch_add(1, Ordering::Relaxed);
            async move { upstream_answer(label, request).await }
        });
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Upstream {
            address,
            label: label.to_owned(),
            calls,
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

fn query_param(query: Option<&str>, name: &str) -> Option<u64> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.parse().ok())
}

async fn upstream_answer(label: String, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let mut response = if path == "/stream" {
        let chunks = query_param(query.as_deref(), "chunks").unwrap_or(3);
        let delay = Duration::from_millis(query_param(query.as_deref(), "delay_ms").unwrap_or(200));
        let stream = futures_util::stream::unfold(0, move |i| async move {
            if i == chunks {
                return None;
            }
            if i > 0 {
                tokio::time::sleep(delay).await;
            }
            Some((
                Ok::<_, std::convert::Infallible>(Bytes::from(format!("chunk {i}\n"))),
                i + 1,
            ))
        });
        let mut response = Body::from_stream(stream).into_response();
        response.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("text/event-stream"),
        );
        response
    } else if path == "/mirror" {
        Body::new(request.into_body()).into_response()
    } else if path == "/sleep" {
        let ms = query_param(query.as_deref(), "ms").unwrap_or(1000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        "slept".into_response()
    } else if path == "/hop" {
        let mut response = "hop".into_response();
        let headers = response.headers_mut();
        headers.insert("connection", http::HeaderValue::from_static("x-private"));
        headers.insert("x-private", http::HeaderValue::from_static("1"));
        headers.insert("keep-alive", http::HeaderValue::from_static("timeout=5"));
        headers.insert(
            "proxy-authenticate",
            http::HeaderValue::from_static("Basic"),
        );
        headers.insert("x-kept", http::HeaderValue::from_static("1"));
        response
    } else if let Some(code) = path.strip_prefix("/status/") {
        let code = StatusCode::from_u16(code.parse().unwrap()).unwrap();
        (code, "as asked").into_response()
    } else {
        let method = request.method().to_string();
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in request.headers() {
            headers
                .entry(name.to_string())
                .or_default()
                .push(value.to_str().unwrap_or("<binary>").to_owned());
        }
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let echo = serde_json::json!({
            "upstream": label,
            "method": method,
            "path": path,
            "query": query,
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        });
        axum::Json(echo).into_response()
    };
    response
        .headers_mut()
        .insert("x-upstream", http::HeaderValue::from_str(&label).unwrap());
    response
}

/// An address nothing listens on (bound, then closed).
pub async fn closed_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// A log line for the fake provider.
pub fn log_line(name: &str, text: &str) -> LogMessage {
    LogMessage {
        name: name.to_owned(),
        namespace: DEFAULT_NAMESPACE.to_owned(),
        instance: format!("{name}-0"),
        timestamp: chrono::Utc::now(),
        text: text.to_owned(),
    }
}
