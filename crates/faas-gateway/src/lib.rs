//! The HTTP API of rustfaas: OpenFaaS's REST endpoints under `/system/*`, the `/function/*`
//! proxy to function replicas, `/metrics`, the autoscaler, `/healthz` and the portal at `/ui/`.
//!
//! [`Gateway::new`] takes a [`faas_provider::Provider`] and a [`GatewayConfig`];
//! [`Gateway::router`] gives an [`axum::Router`] ready for `axum::serve` (with or without
//! `into_make_service_with_connect_info::<SocketAddr>()`, which adds the caller's address to
//! `X-Forwarded-For`).
//!
//! [`listener::serve`] serves the router with a header-read timeout, an idle timeout and a cap
//! on open connections (faasd uses it instead of `axum::serve`).
//!
//! A request flows through the modules in this order:
//! - [`listener`] — accepting connections, within their limits.
//! - [`server`] — the router: every route in one table, auth wired onto `/system/*`.
//! - [`auth`] — HTTP basic auth, compared in constant time; [`session`] — the portal's
//!   sign-in cookie with CSRF tokens, accepted beside basic auth.
//! - [`routes`] — the `/system/*` handlers, one module per resource; bodies are read with
//!   a size limit and parsed as JSON whatever their `Content-Type`.
//! - [`proxy`] — `/function/{name}[.{namespace}]/{path}`: resolve a replica
//!   ([`balancer`]: least in-flight), forward over the replica's keep-alive connections
//!   (`connections`), stream both ways, record the call ([`invocations`]).
//!   A call to a function at zero replicas is held while one starts (scale from zero).
//! - [`functions`] — per-function state: call counters, cached ready replicas, the lock
//!   that merges callers of a cold start, metric handles.
//! - [`metrics`] — Prometheus metrics on `/metrics`, under OpenFaaS's names.
//! - [`history`] — a short per-function history for the portal's charts
//!   (`/system/metrics/history`); [`prometheus`] answers the same from a Prometheus.
//! - [`autoscaler`] — a task that sets replica counts from load (`com.openfaas.scale.*`
//!   labels), down to zero when idle; [`routes::alert`] scales from AlertManager alerts.
//! - [`error`] — the one place that maps errors to HTTP statuses.
//! - `ui` — the portal's files (the repository's `ui/`), served at `/ui/` behind the same auth.

pub mod auth;
pub mod autoscaler;
pub mod balancer;
pub mod config;
mod connections;
pub mod error;
pub mod functions;
pub mod history;
pub mod invocations;
pub mod listener;
pub mod metrics;
pub mod prometheus;
pub mod proxy;
pub mod routes;
pub mod server;
pub mod session;
mod ui;

pub use autoscaler::{Autoscaler, AutoscalerTask, LoadSource, ScaleDecision, ScalingPolicy};
pub use config::{AutoscalerConfig, BasicCredentials, GatewayConfig};
pub use error::GatewayError;
pub use invocations::{CallObserver, CallRecord, InvocationCounter, MemoryInvocationCounter};
pub use listener::ListenerLimits;
pub use server::Gateway;
