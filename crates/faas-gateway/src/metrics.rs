//! Prometheus metrics on `GET /metrics`, under OpenFaaS's names, with function names in labels
//! as `name.namespace`:
//!
//! | metric | type | labels | what |
//! |---|---|---|---|
//! | `gateway_function_invocation_total` | counter | `function_name`, `code` | calls answered |
//! | `gateway_functions_seconds` | histogram | `function_name`, `code` | seconds to the response headers |
//! | `gateway_function_invocation_started` | gauge (monotonic) | `function_name` | calls started |
//! | `gateway_function_invocation_inflight` | gauge | `function_name` | calls in flight |
//! | `gateway_service_count` | gauge | `function_name` | desired replicas |
//! | `gateway_service_ready_count` | gauge | `function_name` | ready replicas |
//! | `gateway_service_target_load` | gauge | `function_name`, `scaling_type` | autoscaling target per replica |
//! | `gateway_service_load` | gauge | `function_name`, `scaling_type` | load the autoscaler measured |
//! | `gateway_function_cold_start_total` | counter | `function_name` | scale-ups from zero made by calls |
//! | `gateway_function_cold_start_seconds` | histogram | `function_name` | from the scale request to a ready replica |
//!
//! `gateway_function_invocation_started` keeps OpenFaaS's exact name: prometheus-client would
//! add `_total` to a counter, so it is exposed as a gauge that only goes up (PromQL's `rate()`
//! does not mind the type).
//!
//! The hot path is cheap: each function's label value and metric handles are made once
//! ([`FunctionMetrics`], held by the function's entry in [`crate::functions`]); a call does
//! atomic adds and one histogram observation. The replica gauges are refreshed from the
//! provider when `/metrics` is scraped.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use faas_types::FunctionStatus;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::autoscaler::ScalingPolicy;
use crate::error::GatewayError;
use crate::server::AppState;

/// How long a scrape waits for the provider's list of functions.
const LIST_TIMEOUT: Duration = Duration::from_millis(500);

/// The content type of the text exposition prometheus-client writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Prometheus's default buckets, as OpenFaaS's gateway uses for `gateway_functions_seconds`.
const CALL_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Cold starts take from milliseconds (a compiled function) to seconds.
const COLD_START_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FunctionLabels {
    function_name: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    function_name: Arc<str>,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScalingLabels {
    function_name: Arc<str>,
    scaling_type: &'static str,
}

type UGauge = Gauge<u64, AtomicU64>;
type FGauge = Gauge<f64, AtomicU64>;

/// Every metric family the gateway exposes.
struct Families {
    invocations: Family<CallLabels, Counter>,
    durations: Family<CallLabels, Histogram>,
    started: Family<FunctionLabels, UGauge>,
    in_flight: Family<FunctionLabels, Gauge<i64, AtomicI64>>,
    service_count: Family<FunctionLabels, UGauge>,
    ready_count: Family<FunctionLabels, UGauge>,
    target_load: Family<ScalingLabels, FGauge>,
    load: Family<ScalingLabels, FGauge>,
    cold_starts: Family<FunctionLabels, Counter>,
    cold_start_seconds: Family<FunctionLabels, Histogram>,
}

/// The gateway's metrics: a registry and handles into it.
pub struct GatewayMetrics {
    registry: Registry,
    families: Arc<Families>,
    /// Functions the replica gauges were last set for, to drop those that went away.
    listed: Mutex<HashSet<Arc<str>>>,
    /// Other parts' registries (the async queue's), exposed after the gateway's own.
    extra: RwLock<Vec<Arc<Registry>>>,
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        GatewayMetrics::new()
    }
}

impl GatewayMetrics {
    /// Registers every family.
    pub fn new() -> GatewayMetrics {
        let families = Families {
            invocations: Family::default(),
            durations: Family::new_with_constructor(|| Histogram::new(CALL_BUCKETS)),
            started: Family::default(),
            in_flight: Family::default(),
            service_count: Family::default(),
            ready_count: Family::default(),
            target_load: Family::default(),
            load: Family::default(),
            cold_starts: Family::default(),
            cold_start_seconds: Family::new_with_constructor(|| Histogram::new(COLD_START_BUCKETS)),
        };
        let mut registry = Registry::default();
        // prometheus-client appends `_total` to counters.
        registry.register(
            "gateway_function_invocation",
            "Function invocations answered, by status code",
            families.invocations.clone(),
        );
        registry.register(
            "gateway_functions_seconds",
            "Seconds from the call to the function's response headers",
            families.durations.clone(),
        );
        registry.register(
            "gateway_function_invocation_started",
            "Function invocations started (only goes up)",
            families.started.clone(),
        );
        registry.register(
            "gateway_function_invocation_inflight",
            "Function invocations in flight",
            families.in_flight.clone(),
        );
        registry.register(
            "gateway_service_count",
            "Desired replicas of the function",
            families.service_count.clone(),
        );
        registry.register(
            "gateway_service_ready_count",
            "Ready replicas of the function",
            families.ready_count.clone(),
        );
        registry.register(
            "gateway_service_target_load",
            "Autoscaling target load per replica (rps, in-flight calls, or CPU millicores)",
            families.target_load.clone(),
        );
        registry.register(
            "gateway_service_load",
            "Load the autoscaler last measured for the function (all replicas)",
            families.load.clone(),
        );
        registry.register(
            "gateway_function_cold_start",
            "Scale-ups from zero replicas made to answer a call",
            families.cold_starts.clone(),
        );
        registry.register(
            "gateway_function_cold_start_seconds",
            "Seconds from the scale-up request to the first ready replica",
            families.cold_start_seconds.clone(),
        );
        GatewayMetrics {
            registry,
            families: Arc::new(families),
            listed: Mutex::new(HashSet::new()),
            extra: RwLock::new(Vec::new()),
        }
    }

    /// The handles of one function, its label value built once.
    pub fn function(&self, namespace: &str, name: &str) -> FunctionMetrics {
        let label = function_label(namespace, name);
        let labels = FunctionLabels {
            function_name: label.clone(),
        };
        let families = &self.families;
        FunctionMetrics {
            started: families.started.get_or_create_owned(&labels),
            in_flight: families.in_flight.get_or_create_owned(&labels),
            // Made at 0 now, so Prometheus sees the first cold start as an increase.
            cold_starts: families.cold_starts.get_or_create_owned(&labels),
            cold_start_seconds: families.cold_start_seconds.get_or_create_owned(&labels),
            label,
            by_code: RwLock::new(Vec::new()),
            families: families.clone(),
        }
    }

    /// Drops every series of a deleted function.
    pub fn forget(&self, namespace: &str, name: &str) {
        let label = function_label(namespace, name);
        self.forget_label(&label);
        self.listed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&label);
    }

    fn forget_label(&self, label: &Arc<str>) {
        let f = &self.families;
        let labels = FunctionLabels {
            function_name: label.clone(),
        };
        for family in [&f.started, &f.service_count, &f.ready_count] {
            family.remove(&labels);
        }
        f.in_flight.remove(&labels);
        f.cold_starts.remove(&labels);
        f.cold_start_seconds.remove(&labels);
        for scaling_type in ScalingPolicy::TYPE_NAMES {
            let labels = ScalingLabels {
                function_name: label.clone(),
                scaling_type,
            };
            f.target_load.remove(&labels);
            f.load.remove(&labels);
        }
        // Status codes seen are not tracked here: sweep the call families.
        for code in 100..600 {
            let labels = CallLabels {
                function_name: label.clone(),
                code,
            };
            f.invocations.remove(&labels);
            f.durations.remove(&labels);
        }
    }

    /// Sets the replica gauges from the provider's view of every function, and drops the
    /// series of functions that are gone.
    pub fn set_functions(&self, functions: &[FunctionStatus]) {
        let f = &self.families;
        let mut now = HashSet::with_capacity(functions.len());
        for status in functions {
            let namespace = status
                .namespace
                .as_deref()
                .unwrap_or(faas_types::DEFAULT_NAMESPACE);
            let label = function_label(namespace, &status.name);
            let labels = FunctionLabels {
                function_name: label.clone(),
            };
            f.service_count.get_or_create(&labels).set(status.replicas);
            f.ready_count
                .get_or_create(&labels)
                .set(status.available_replicas);
            if let Some(policy) = ScalingPolicy::from_status(status) {
                for scaling_type in ScalingPolicy::TYPE_NAMES {
                    let labels = ScalingLabels {
                        function_name: label.clone(),
                        scaling_type,
                    };
                    if scaling_type == policy.kind.name() {
                        f.target_load.get_or_create(&labels).set(policy.target);
                    } else {
                        f.target_load.remove(&labels);
                    }
                }
            }
            now.insert(label);
        }
        let mut listed = self.listed.lock().unwrap_or_else(PoisonError::into_inner);
        for gone in listed.difference(&now) {
            self.forget_label(gone);
        }
        *listed = now;
    }

    /// Records the load the autoscaler measured.
    pub fn set_load(&self, namespace: &str, name: &str, scaling_type: &'static str, load: f64) {
        let labels = ScalingLabels {
            function_name: function_label(namespace, name),
            scaling_type,
        };
        self.families.load.get_or_create(&labels).set(load);
    }

    /// Exposes another registry's metrics on `/metrics` too, after the gateway's (names
    /// must not clash).
    pub fn expose(&self, registry: Arc<Registry>) {
        self.extra
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(registry);
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::with_capacity(4096);
        // Writing to a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry);
        for registry in self
            .extra
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = encode_registry(&mut out, registry);
        }
        let _ = encode_eof(&mut out);
        out
    }
}

/// `name.namespace`, as OpenFaaS labels functions.
pub fn function_label(namespace: &str, name: &str) -> Arc<str> {
    let mut label = String::with_capacity(name.len() + 1 + namespace.len());
    label.push_str(name);
    label.push('.');
    label.push_str(namespace);
    label.into()
}

/// One function's metric handles.
pub struct FunctionMetrics {
    label: Arc<str>,
    started: UGauge,
    in_flight: Gauge<i64, AtomicI64>,
    cold_starts: Counter,
    cold_start_seconds: Histogram,
    /// Handles per status code seen: few per function, scanned without hashing.
    by_code: RwLock<Vec<(u16, Counter, Histogram)>>,
    families: Arc<Families>,
}

impl FunctionMetrics {
    pub(crate) fn call_started(&self) {
        self.started.inc();
        self.in_flight.inc();
    }

    pub(crate) fn call_ended(&self) {
        self.in_flight.dec();
    }

    /// Counts one answered call and its duration.
    pub(crate) fn call_answered(&self, code: StatusCode, took: Duration) {
        let code = code.as_u16();
        let seconds = took.as_secs_f64();
        {
            let by_code = self.by_code.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, counter, histogram)) = by_code.iter().find(|(c, _, _)| *c == code) {
                counter.inc();
                histogram.observe(seconds);
                return;
            }
        }
        let labels = CallLabels {
            function_name: self.label.clone(),
            code,
        };
        let counter = self.families.invocations.get_or_create_owned(&labels);
        let histogram = self.families.durations.get_or_create_owned(&labels);
        counter.inc();
        histogram.observe(seconds);
        let mut by_code = self.by_code.write().unwrap_or_else(PoisonError::into_inner);
        if !by_code.iter().any(|(c, _, _)| *c == code) {
            by_code.push((code, counter, histogram));
        }
    }

    pub(crate) fn cold_start(&self, took: Duration) {
        self.cold_starts.inc();
        self.cold_start_seconds.observe(took.as_secs_f64());
    }
}

/// `GET /metrics`: refreshes the replica gauges from the provider, then answers the text
/// exposition. 404 when metrics are off.
pub(crate) async fn serve(State(state): State<AppState>) -> Response {
    let Some(metrics) = state.metrics.as_ref() else {
        return GatewayError::NotFound("metrics are turned off".to_owned()).into_response();
    };
    // A slow provider must not stall the scrape: the replica gauges keep their last values.
    let listed = tokio::time::timeout(
        LIST_TIMEOUT,
        crate::autoscaler::list_all(state.provider.as_ref()),
    )
    .await;
    let functions = match listed {
        Ok(Ok(functions)) => Some(functions),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "metrics: cannot list functions");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: listing functions took over {LIST_TIMEOUT:?}");
            None
        }
    };
    // With hundreds of functions the gauges and the text take milliseconds: off the
    // (single-threaded) runtime that serves calls.
    let metrics = metrics.clone();
    let encoded = tokio::task::spawn_blocking(move || {
        if let Some(functions) = functions {
            metrics.set_functions(&functions);
        }
        metrics.encode()
    })
    .await;
    let Ok(text) = encoded else {
        return GatewayError::Unavailable("metrics: the encoding task failed".to_owned())
            .into_response();
    };
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_openfaas_names_once_per_label_set() {
        let metrics = GatewayMetrics::new();
        let echo = metrics.function("openfaas-fn", "echo");
        echo.call_started();
        echo.call_answered(StatusCode::OK, Duration::from_millis(3));
        echo.call_started();
        echo.call_answered(StatusCode::OK, Duration::from_millis(3));
        echo.call_started();
        echo.call_answered(StatusCode::BAD_GATEWAY, Duration::from_millis(1));
        echo.call_ended();
        echo.cold_start(Duration::from_millis(40));
        let text = metrics.encode();
        for line in [
            "gateway_function_invocation_total{function_name=\"echo.openfaas-fn\",code=\"200\"} 2",
            "gateway_function_invocation_total{function_name=\"echo.openfaas-fn\",code=\"502\"} 1",
            "gateway_function_invocation_started{function_name=\"echo.openfaas-fn\"} 3",
            "gateway_function_invocation_inflight{function_name=\"echo.openfaas-fn\"} 2",
            "gateway_functions_seconds_count{function_name=\"echo.openfaas-fn\",code=\"200\"} 2",
            "gateway_function_cold_start_total{function_name=\"echo.openfaas-fn\"} 1",
            "gateway_function_cold_start_seconds_count{function_name=\"echo.openfaas-fn\"} 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(!text.contains("gateway_function_invocation_started_total"));

        metrics.forget("openfaas-fn", "echo");
        assert!(!metrics.encode().contains("echo.openfaas-fn"));

        // Another part's registry is appended, with one end marker.
        let mut queue = Registry::default();
        let depth = Gauge::<i64, AtomicI64>::default();
        depth.set(3);
        queue.register("queue_depth", "Calls waiting", depth);
        metrics.expose(Arc::new(queue));
        let text = metrics.encode();
        assert!(text.contains("queue_depth 3"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1);
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn replica_gauges_follow_the_provider() {
        let metrics = GatewayMetrics::new();
        let status = |name: &str, replicas, labels: &[(&str, &str)]| FunctionStatus {
            name: name.to_owned(),
            namespace: Some("openfaas-fn".to_owned()),
            replicas,
            available_replicas: 1,
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        };
        metrics.set_functions(&[
            status(
                "a",
                3,
                &[
                    ("com.openfaas.scale.type", "capacity"),
                    ("com.openfaas.scale.target", "5"),
                ],
            ),
            status("b", 1, &[]),
        ]);
        let text = metrics.encode();
        assert!(
            text.contains("gateway_service_count{function_name=\"a.openfaas-fn\"} 3"),
            "{text}"
        );
        assert!(text.contains("gateway_service_ready_count{function_name=\"b.openfaas-fn\"} 1"));
        assert!(text.contains(
            "gateway_service_target_load{function_name=\"a.openfaas-fn\",scaling_type=\"capacity\"} 5"
        ), "{text}");
        metrics.set_functions(&[status("b", 2, &[])]);
        let text = metrics.encode();
        assert!(!text.contains("a.openfaas-fn"), "{text}");
        assert!(text.contains("gateway_service_count{function_name=\"b.openfaas-fn\"} 2"));
    }
}
