//! The gateway and its router: every route in one table, in the order a request meets them.

use std::sync::Arc;
use std::time::Duration;

use axum::middleware;
use axum::routing::{get, post, put};
use axum::Router;
use faas_provider::{Provider, ReplicaRoute};
use http::StatusCode;

use crate::autoscaler::{cluster, Autoscaler, AutoscalerTask, Clock, LoadSource, SystemClock};
use crate::balancer::{InFlight, ReplicaSet};
use crate::config::GatewayConfig;
use crate::error::GatewayError;
use crate::functions::{FunctionEntry, FunctionTable};
use crate::history::{History, HistorySampler};
use crate::invocations::{CallObserver, CallRecord, InvocationCounter, MemoryInvocationCounter};
use crate::metrics::{self, GatewayMetrics};
use crate::proxy;
use crate::routes::{alert, history, info, logs, namespaces, packages, secrets, system_functions};
use crate::session::{self, require_auth, Auth};
use crate::ui;

/// What every handler shares.
pub(crate) struct Shared {
    pub(crate) provider: Arc<dyn Provider>,
    pub(crate) config: GatewayConfig,
    pub(crate) invocations: Arc<dyn InvocationCounter>,
    pub(crate) observers: Vec<Arc<dyn CallObserver>>,
    pub(crate) in_flight: Arc<InFlight>,
    pub(crate) functions: Arc<FunctionTable>,
    pub(crate) metrics: Option<Arc<GatewayMetrics>>,
    pub(crate) history: Option<Arc<History>>,
    /// Basic auth and the portal's sessions (`None`: auth is off).
    pub(crate) auth: Option<Arc<Auth>>,
    /// This process's id, random at start (`/system/scale-stats`).
    pub(crate) instance: String,
}

/// The state handlers receive.
pub(crate) type AppState = Arc<Shared>;

impl Shared {
    /// Records one proxied call: the function's metrics (when it has an entry), the
    /// invocation count, then every observer.
    pub(crate) fn record_call(
        &self,
        entry: Option<&FunctionEntry>,
        namespace: &str,
        name: &str,
        status: StatusCode,
        duration: Duration,
    ) {
        if let Some(entry) = entry {
            if let Some(metrics) = &entry.metrics {
                metrics.call_answered(status, duration);
            }
            if let Some(history) = &entry.history {
                history.record_call(status, duration);
            }
        }
        let call = CallRecord {
            namespace,
            name,
            status,
            duration,
        };
        self.invocations.record_call(&call);
        for observer in &self.observers {
            observer.record_call(&call);
        }
    }

    /// The function's entry, made if new (call only for functions the provider knows).
    pub(crate) fn entry(&self, namespace: &str, name: &str) -> Arc<FunctionEntry> {
        self.functions.get_or_insert_with(namespace, name, || {
            let metrics = self
                .metrics
                .as_ref()
                .map(|metrics| metrics.function(namespace, name));
            let history = self.history.as_ref().map(|h| h.function(namespace, name));
            FunctionEntry::new(namespace, name, metrics).with_history(history)
        })
    }

    /// `endpoints` with their per-replica state, for the function's replica cache. The first
    /// call starts the reaper of idle replica connections.
    pub(crate) fn replica_set(&self, endpoints: &[ReplicaRoute]) -> ReplicaSet {
        self.in_flight
            .reap_idle_connections(self.config.idle_connection_timeout);
        self.in_flight.replica_set(endpoints)
    }

    /// The function changed (scaled, updated): its cached replicas are out of date.
    pub(crate) fn function_changed(&self, namespace: &str, name: &str) {
        if let Some(entry) = self.functions.get(namespace, name) {
            entry.invalidate_replicas();
        }
    }

    /// The function was deleted: forget its entry and its metrics.
    pub(crate) fn function_deleted(&self, namespace: &str, name: &str) {
        if let Some(entry) = self.functions.remove(namespace, name) {
            entry.invalidate_replicas();
        }
        if let Some(metrics) = &self.metrics {
            metrics.forget(namespace, name);
        }
        self.invocations.forget(namespace, name);
        if let Some(history) = &self.history {
            history.forget(namespace, name);
        }
    }
}

/// The HTTP API of the platform. Cheap to clone; clones share counters and connections.
#[derive(Clone)]
pub struct Gateway {
    shared: AppState,
}

impl Gateway {
    /// A gateway over `provider`, counting invocations in memory.
    pub fn new(provider: Arc<dyn Provider>, config: GatewayConfig) -> Gateway {
        Gateway::with_observers(
            provider,
            config,
            Arc::new(MemoryInvocationCounter::default()),
            Vec::new(),
        )
    }

    /// A gateway whose invocation counts live in `invocations` (e.g. a store shared by several
    /// gateways) and whose proxied calls are also reported to each of `observers` (metrics).
    pub fn with_observers(
        provider: Arc<dyn Provider>,
        config: GatewayConfig,
        invocations: Arc<dyn InvocationCounter>,
        observers: Vec<Arc<dyn CallObserver>>,
    ) -> Gateway {
        let metrics = config.metrics.then(|| Arc::new(GatewayMetrics::new()));
        let history = config.history.then(|| Arc::new(History::default()));
        let auth = config.auth.as_ref().map(|c| Arc::new(Auth::new(c)));
        Gateway {
            shared: Arc::new(Shared {
                provider,
                config,
                invocations,
                observers,
                in_flight: Arc::new(InFlight::default()),
                functions: Arc::new(FunctionTable::default()),
                metrics,
                history,
                auth,
                instance: uuid::Uuid::new_v4().to_string(),
            }),
        }
    }

    /// What `/system/*` checks (basic auth or a portal session), for routes other parts add
    /// behind the same sign-in; `None` when auth is off.
    pub fn auth(&self) -> Option<Arc<Auth>> {
        self.shared.auth.clone()
    }

    /// Where invocations are counted.
    pub fn invocations(&self) -> Arc<dyn InvocationCounter> {
        self.shared.invocations.clone()
    }

    /// The gateway's metrics (`None` when turned off).
    pub fn metrics(&self) -> Option<Arc<GatewayMetrics>> {
        self.shared.metrics.clone()
    }

    /// Exposes another part's Prometheus registry (e.g. the async queue's) on `/metrics`,
    /// after the gateway's own series. Does nothing when metrics are off.
    pub fn expose_metrics(&self, registry: Arc<prometheus_client::registry::Registry>) {
        if let Some(metrics) = &self.shared.metrics {
            metrics.expose(registry);
        }
    }

    /// The per-function state of this gateway (call counters, cold starts).
    pub fn functions(&self) -> Arc<FunctionTable> {
        self.shared.functions.clone()
    }

    /// Returns once the function has a ready replica: scales it up from zero (merging with
    /// any calls doing the same) or waits for a starting replica, as a synchronous call
    /// would. For callers that invoke functions by other paths (an async worker).
    pub async fn ensure_ready(&self, namespace: &str, name: &str) -> Result<(), GatewayError> {
        let entry = proxy::function_entry(&self.shared, namespace, name).await?;
        if entry
            .pick_cached(self.shared.config.endpoint_cache_ttl)
            .is_some()
        {
            return Ok(());
        }
        let endpoints = self
            .shared
            .provider
            .routes(namespace, name)
            .await
            .map_err(GatewayError::Provider)?;
        if !endpoints.is_empty() {
            return Ok(());
        }
        proxy::ensure_ready(&self.shared, &entry).await
    }

    /// Starts the task that samples the history once a second (`None` when the history is
    /// off); it stops when the returned handle is dropped. Needs a tokio runtime.
    pub fn start_history(&self) -> Option<HistorySampler> {
        let history = self.shared.history.clone()?;
        Some(HistorySampler::spawn(history, self.shared.provider.clone()))
    }

    /// An autoscaler over this gateway's provider and counters, on the real clock; run it
    /// with [`Autoscaler::run`], or step it with [`Autoscaler::tick`].
    pub fn autoscaler(&self) -> Autoscaler {
        self.autoscaler_with_clock(Arc::new(SystemClock))
    }

    /// An autoscaler reading time from `clock` (tests pass a
    /// [`ManualClock`](crate::autoscaler::ManualClock)).
    pub fn autoscaler_with_clock(&self, clock: Arc<dyn Clock>) -> Autoscaler {
        Autoscaler::new(
            self.shared.provider.clone(),
            self.shared.functions.clone(),
            self.shared.in_flight.clone(),
            self.shared.metrics.clone(),
            clock,
            self.shared.config.autoscaler.clone(),
        )
    }

    /// Starts the autoscaler as a task (every `config.autoscaler.interval`); it stops when
    /// the returned handle is dropped. Needs a tokio runtime.
    pub fn start_autoscaler(&self) -> AutoscalerTask {
        AutoscalerTask::spawn(self.autoscaler())
    }

    /// Starts the autoscaler as [`Gateway::start_autoscaler`] does, scaling on the load of
    /// every server replica as `source` reads it (see [`crate::autoscaler::cluster`]).
    pub fn start_cluster_autoscaler(&self, source: Arc<dyn LoadSource>) -> AutoscalerTask {
        AutoscalerTask::spawn(self.autoscaler().with_cluster_load(source))
    }

    /// This process's id, as `/system/scale-stats` reports it (random at start).
    pub fn instance(&self) -> &str {
        &self.shared.instance
    }

    /// Every route, ready for `axum::serve`.
    ///
    /// | route | methods | auth |
    /// |---|---|---|
    /// | `/healthz` | GET | no |
    /// | `/metrics` | GET (404 when metrics are off) | no |
    /// | `/function/{name}[.{ns}][/{path}]` | GET POST PUT PATCH DELETE OPTIONS HEAD | no |
    /// | `/system/functions` | GET POST PUT DELETE | yes |
    /// | `/system/function/{name}` | GET | yes |
    /// | `/system/scale-function/{name}` | POST | yes |
    /// | `/system/info` | GET | yes |
    /// | `/system/secrets` | GET POST PUT DELETE | yes |
    /// | `/system/logs` | GET | yes |
    /// | `/system/namespaces` | GET | yes |
    /// | `/system/namespace/{ns}` | GET POST PUT DELETE | yes |
    /// | `/system/packages` | GET | yes |
    /// | `/system/packages/{name[:tag]}` | PUT POST | yes |
    /// | `/system/alert` | POST (AlertManager webhook) | yes |
    /// | `/system/scale-stats` | GET (this replica's call counters, for the autoscaler) | yes |
    /// | `/system/metrics/history` | GET (404 when the history is off) | yes |
    /// | `/ui/`, `/ui/{file}` | GET (the portal's files) | no |
    /// | `/ui/login`, `/ui/logout` | POST (session cookie) | no |
    /// | `/ui/session` | GET | no |
    /// | `/` | GET: 307 to `/ui/` | no |
    pub fn router(&self) -> Router {
        let mut system = Router::new()
            .route(
                "/system/functions",
                get(system_functions::list)
                    .post(system_functions::deploy)
                    .put(system_functions::update)
                    .delete(system_functions::delete),
            )
            .route("/system/function/{name}", get(system_functions::status))
            .route(
                "/system/scale-function/{name}",
                post(system_functions::scale),
            )
            .route("/system/info", get(info::info))
            .route(
                "/system/secrets",
                get(secrets::list)
                    .post(secrets::create)
                    .put(secrets::update)
                    .delete(secrets::delete),
            )
            .route("/system/logs", get(logs::logs))
            .route("/system/namespaces", get(namespaces::list))
            .route(
                "/system/namespace/{namespace}",
                get(namespaces::get)
                    .post(namespaces::create)
                    .put(namespaces::update)
                    .delete(namespaces::delete),
            )
            .route("/system/alert", post(alert::alert))
            .route("/system/scale-stats", get(cluster::serve))
            .route("/system/metrics/history", get(history::history))
            .route("/system/packages", get(packages::list))
            .route(
                "/system/packages/{*name}",
                put(packages::upload).post(packages::upload),
            );
        if let Some(auth) = &self.shared.auth {
            system = system.route_layer(middleware::from_fn_with_state(auth.clone(), require_auth));
        }

        Router::new()
            .route("/", get(ui::root))
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics::serve))
            // The portal's files hold no secrets: they load signed out, to show the sign-in.
            .route("/ui", get(ui::index))
            .route("/ui/", get(ui::index))
            .route("/ui/login", post(session::login))
            .route("/ui/logout", post(session::logout))
            .route("/ui/session", get(session::session))
            .route("/ui/{file}", get(ui::asset))
            .merge(system)
            .method_not_allowed_fallback(method_not_allowed)
            // `/function/*` is served from the fallback: the proxy reads the path itself, and
            // a route would first copy the path's parameters out on every call.
            .fallback(function_or_not_found)
            .with_state(self.shared.clone())
    }
}

async fn healthz() -> &'static str {
    "OK"
}

async fn method_not_allowed(method: http::Method) -> GatewayError {
    GatewayError::MethodNotAllowed(method)
}

async fn function_or_not_found(
    state: axum::extract::State<AppState>,
    request: axum::extract::Request,
) -> axum::response::Response {
    if request.uri().path().starts_with("/function/") {
        return proxy::call_function(state, request).await;
    }
    axum::response::IntoResponse::into_response(GatewayError::NotFound(format!(
        "no route for {}",
        request.uri().path()
    )))
}
