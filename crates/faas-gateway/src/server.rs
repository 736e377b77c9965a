//! The gateway and its router: every route in one table, in the order a request meets them.

use std::sync::Arc;
use std::time::Duration;

use axum::middleware;
use axum::routing::{any, get, post, put};
use axum::Router;
use faas_provider::Provider;
use http::StatusCode;

use crate::auth::{require_basic_auth, BasicAuth};
use crate::balancer::InFlight;
use crate::config::GatewayConfig;
use crate::error::GatewayError;
use crate::invocations::{CallObserver, CallRecord, InvocationCounter, MemoryInvocationCounter};
use crate::proxy::{self, ProxyClient};
use crate::routes::{info, logs, namespaces, packages, secrets, system_functions};

/// What every handler shares.
pub(crate) struct Shared {
    pub(crate) provider: Arc<dyn Provider>,
    pub(crate) config: GatewayConfig,
    pub(crate) invocations: Arc<dyn InvocationCounter>,
    pub(crate) observers: Vec<Arc<dyn CallObserver>>,
    pub(crate) in_flight: InFlight,
    pub(crate) client: ProxyClient,
}

/// The state handlers receive.
pub(crate) type AppState = Arc<Shared>;

impl Shared {
    /// Records one proxied call: the invocation count, then every observer (metrics).
    pub(crate) fn record_call(
        &self,
        namespace: &str,
        name: &str,
        status: StatusCode,
        duration: Duration,
    ) {
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
        Gateway {
            shared: Arc::new(Shared {
                provider,
                config,
                invocations,
                observers,
                in_flight: InFlight::default(),
                client: proxy::new_client(),
            }),
        }
    }

    /// Where invocations are counted.
    pub fn invocations(&self) -> Arc<dyn InvocationCounter> {
        self.shared.invocations.clone()
    }

    /// Every route, ready for `axum::serve`.
    ///
    /// | route | methods | auth |
    /// |---|---|---|
    /// | `/healthz` | GET | no |
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
            .route("/system/packages", get(packages::list))
            .route(
                "/system/packages/{name}",
                put(packages::upload).post(packages::upload),
            );
        if let Some(credentials) = &self.shared.config.auth {
            let auth = Arc::new(BasicAuth::new(credentials));
            system = system.route_layer(middleware::from_fn_with_state(auth, require_basic_auth));
        }

        Router::new()
            .route("/healthz", get(healthz))
            .route("/function/{function}", any(proxy::call_function))
            .route("/function/{function}/", any(proxy::call_function))
            .route("/function/{function}/{*path}", any(proxy::call_function))
            .merge(system)
            .method_not_allowed_fallback(method_not_allowed)
            .fallback(not_found)
            .with_state(self.shared.clone())
    }
}

async fn healthz() -> &'static str {
    "OK"
}

async fn method_not_allowed(method: http::Method) -> GatewayError {
    GatewayError::MethodNotAllowed(method)
}

async fn not_found(uri: http::Uri) -> GatewayError {
    GatewayError::NotFound(format!("no route for {}", uri.path()))
}
