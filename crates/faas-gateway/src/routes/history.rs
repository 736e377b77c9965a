//! `GET /system/metrics/history?namespace=&function=&window=5m|15m|1h`: the gateway's short
//! in-memory history ([`crate::history`]) as JSON, in columns ready for a chart.
//!
//! With `function`, one function's every series; without it, every function of the
//! namespace with the series the overview shows (requests, p50, p99, replicas).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use faas_types::validate::validate_function_name;
use http::Uri;
use serde::{Deserialize, Serialize};

use super::namespace_from_query;
use crate::error::{GatewayError, GatewayResult};
use crate::history::{Decision, FunctionHistory, History, Point, Window};
use crate::server::AppState;

#[derive(Deserialize)]
struct HistoryQuery {
    function: Option<String>,
    window: Option<String>,
    /// `gateway` (the default) or `prometheus`.
    source: Option<String>,
}

/// Requests per point, by status class.
#[derive(Serialize)]
struct Requests {
    #[serde(rename = "2xx")]
    ok: Vec<u32>,
    #[serde(rename = "3xx")]
    redirect: Vec<u32>,
    #[serde(rename = "4xx")]
    client_error: Vec<u32>,
    #[serde(rename = "5xx")]
    server_error: Vec<u32>,
}

#[derive(Serialize)]
struct Latency {
    p50: Vec<Option<f32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p95: Option<Vec<Option<f32>>>,
    p99: Vec<Option<f32>>,
}

#[derive(Serialize)]
struct Replicas {
    desired: Vec<Option<u16>>,
    ready: Vec<Option<u16>>,
}

/// One function's series over the window; `null` where a value is unknown.
#[derive(Serialize)]
struct FunctionSeries {
    name: String,
    namespace: String,
    window: &'static str,
    /// Seconds per point.
    step: u64,
    /// Unix time (s) the first point starts at; point `i` starts at `start + i * step`.
    start: u64,
    requests: Requests,
    latency_ms: Latency,
    replicas: Replicas,
    /// Replica restarts the provider reported during each point (dying, or not becoming
    /// ready): the portal calls a function whose replicas keep restarting failing.
    restarts: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cold_starts: Option<Vec<u16>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<Vec<Option<f32>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_bytes: Option<Vec<Option<f32>>>,
    /// The autoscaler's last decisions, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    decisions: Option<Vec<Decision>>,
}

#[derive(Serialize)]
struct NamespaceSeries {
    namespace: String,
    window: &'static str,
    functions: Vec<FunctionSeries>,
}

/// A number, or `None` when unknown (NaN); milliseconds rounded to the microsecond.
fn known(value: f32) -> Option<f32> {
    (!value.is_nan()).then(|| (value * 1000.0).round() / 1000.0)
}

fn replicas(value: u16) -> Option<u16> {
    (value != u16::MAX).then_some(value)
}

fn series(
    namespace: &str,
    name: &str,
    history: &FunctionHistory,
    window: Window,
    detailed: bool,
) -> FunctionSeries {
    let series = history.window(window);
    let points = &series.points;
    let column = |f: fn(&Point) -> u32| points.iter().map(f).collect::<Vec<_>>();
    let latency = |f: fn(&Point) -> f32| points.iter().map(|p| known(f(p))).collect::<Vec<_>>();
    FunctionSeries {
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        window: window.as_str(),
        step: series.step,
        start: series.start,
        requests: Requests {
            ok: column(|p| p.requests[0]),
            redirect: column(|p| p.requests[1]),
            client_error: column(|p| p.requests[2]),
            server_error: column(|p| p.requests[3]),
        },
        latency_ms: Latency {
            p50: latency(|p| p.p50),
            p95: detailed.then(|| latency(|p| p.p95)),
            p99: latency(|p| p.p99),
        },
        replicas: Replicas {
            desired: points.iter().map(|p| replicas(p.desired)).collect(),
            ready: points.iter().map(|p| replicas(p.ready)).collect(),
        },
        restarts: points.iter().map(|p| p.restarts).collect(),
        cold_starts: detailed.then(|| points.iter().map(|p| p.cold_starts).collect()),
        cpu: detailed.then(|| points.iter().map(|p| known(p.cpu)).collect()),
        // Bytes: no rounding to a thousandth needed, but NaN is still unknown.
        memory_bytes: detailed.then(|| {
            points
                .iter()
                .map(|p| (!p.memory.is_nan()).then_some(p.memory))
                .collect()
        }),
        decisions: detailed.then(|| history.decisions()),
    }
}

/// `source=prometheus`: one function's series from the configured Prometheus.
async fn from_prometheus(
    state: &AppState,
    namespace: &str,
    function: Option<String>,
    window: Window,
) -> GatewayResult<Response> {
    let Some(base) = &state.config.prometheus_url else {
        return Err(GatewayError::BadRequest(
            "no Prometheus is configured on this gateway (faasd --prometheus-url)".to_owned(),
        ));
    };
    let Some(name) = function.filter(|f| !f.is_empty()) else {
        return Err(GatewayError::BadRequest(
            "source=prometheus needs a function".to_owned(),
        ));
    };
    validate_function_name(&name)?;
    state.provider.status(namespace, &name).await?;
    let series = crate::prometheus::function_series(base, namespace, &name, window).await?;
    Ok(Json(series).into_response())
}

fn history_of(state: &AppState) -> GatewayResult<&Arc<History>> {
    state.history.as_ref().ok_or_else(|| {
        GatewayError::NotFound("the metrics history is off on this gateway".to_owned())
    })
}

/// `GET /system/metrics/history`.
pub(crate) async fn history(State(state): State<AppState>, uri: Uri) -> GatewayResult<Response> {
    let namespace = namespace_from_query(&uri)?;
    let Query(query) = Query::<HistoryQuery>::try_from_uri(&uri)
        .map_err(|err| GatewayError::BadRequest(format!("invalid query string: {err}")))?;
    let window = match query.window.as_deref().filter(|w| !w.is_empty()) {
        None => Window::FifteenMinutes,
        Some(text) => Window::parse(text).ok_or_else(|| {
            GatewayError::BadRequest(format!("window {text:?}: use 5m, 15m or 1h"))
        })?,
    };
    match query.source.as_deref().unwrap_or("gateway") {
        "gateway" | "" => {}
        "prometheus" => return from_prometheus(&state, &namespace, query.function, window).await,
        other => {
            return Err(GatewayError::BadRequest(format!(
                "source {other:?}: use gateway or prometheus"
            )))
        }
    }
    let history = history_of(&state)?;
    let body = match query.function.filter(|f| !f.is_empty()) {
        Some(name) => {
            validate_function_name(&name)?;
            let function = match history.get(&namespace, &name) {
                Some(function) => function,
                None => {
                    // Deployed but not sampled yet: an empty history, once the provider
                    // confirms the function exists (404 otherwise).
                    state.provider.status(&namespace, &name).await?;
                    history.function(&namespace, &name)
                }
            };
            Json(series(&namespace, &name, &function, window, true)).into_response()
        }
        None => Json(NamespaceSeries {
            functions: history
                .namespace(&namespace)
                .iter()
                .map(|(name, function)| series(&namespace, name, function, window, false))
                .collect(),
            namespace,
            window: window.as_str(),
        })
        .into_response(),
    };
    Ok(body)
}
