//! The watchdog's Prometheus metrics, under the names of-watchdog uses:
//! `http_requests_total{code,method}`, `http_request_duration_seconds{code,method}` and
//! `http_requests_in_flight`.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    code: u16,
    method: MethodLabel,
}

/// Methods as of-watchdog labels them (lower case); no allocation per call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum MethodLabel {
    get,
    head,
    post,
    put,
    patch,
    delete,
    options,
    connect,
    trace,
    other,
}

impl From<&http::Method> for MethodLabel {
    fn from(method: &http::Method) -> Self {
        match *method {
            http::Method::GET => MethodLabel::get,
            http::Method::HEAD => MethodLabel::head,
            http::Method::POST => MethodLabel::post,
            http::Method::PUT => MethodLabel::put,
            http::Method::PATCH => MethodLabel::patch,
            http::Method::DELETE => MethodLabel::delete,
            http::Method::OPTIONS => MethodLabel::options,
            http::Method::CONNECT => MethodLabel::connect,
            http::Method::TRACE => MethodLabel::trace,
            _ => MethodLabel::other,
        }
    }
}

/// Counters for every call the watchdog answers.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<CallLabels, Counter>,
    durations: Family<CallLabels, Histogram>,
    in_flight: Gauge<i64, std::sync::atomic::AtomicI64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<CallLabels, Counter<u64, AtomicU64>>::default();
        let durations = Family::<CallLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        let in_flight = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        // Registered without prometheus-client's automatic `_total` suffix, so the exposed
        // name is exactly of-watchdog's `http_requests_total`.
        register_exact(
            &mut registry,
            "http_requests_total",
            "total HTTP requests processed",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Seconds spent serving HTTP requests",
            durations.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "total HTTP requests in-flight",
            in_flight.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            requests,
            durations,
            in_flight,
        }
    }

    /// Records one answered call.
    pub fn observe(&self, method: &http::Method, code: http::StatusCode, took: Duration) {
        let labels = CallLabels {
            code: code.as_u16(),
            method: MethodLabel::from(method),
        };
        self.requests.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    pub fn call_started(&self) {
        self.in_flight.inc();
    }

    pub fn call_ended(&self) {
        self.in_flight.dec();
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Registers a counter under its exact name: a counter type whose metric type is reported as
/// `counter` by the registry would otherwise gain a `_total` suffix.
fn register_exact(registry: &mut Registry, name: &str, help: &str, metric: impl Metric) {
    let name = name.strip_suffix("_total").unwrap_or(name);
    registry.register(name, help, metric);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_of_watchdog_names() {
        let metrics = Metrics::new();
        metrics.call_started();
        metrics.observe(
            &http::Method::POST,
            http::StatusCode::OK,
            Duration::from_millis(3),
        );
        let text = metrics.encode();
        assert!(text.contains("http_requests_total{code=\"200\",method=\"post\"} 1"));
        assert!(
            text.contains("http_request_duration_seconds_count{code=\"200\",method=\"post\"} 1")
        );
        assert!(text.contains("http_requests_in_flight 1"));
    }
}
