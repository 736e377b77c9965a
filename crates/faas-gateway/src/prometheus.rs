//! The portal's charts read from Prometheus instead of the gateway's own history, when one is
//! configured (`GatewayConfig::prometheus_url`) and the page asks (`source=prometheus` on
//! `/system/metrics/history`): range queries over the gateway's own series
//! (`gateway_function_invocation_total`, `gateway_functions_seconds`,
//! `gateway_service_count`, `gateway_service_ready_count`,
//! `gateway_function_cold_start_total`), answered in the same JSON shape (calls per point are
//! then estimated from rates over three steps, so fractions), so several gateways scraped by
//! one Prometheus show one picture.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use http::{Request, Uri};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use crate::error::GatewayError;
use crate::history::Window;

const TIMEOUT: Duration = Duration::from_secs(10);
const LARGEST_ANSWER: usize = 8 << 20;

fn failed(reason: impl std::fmt::Display) -> GatewayError {
    GatewayError::BadGateway(format!("prometheus: {reason}"))
}

/// One range query: `points` values, point `i` the sample at `start + (i + 1) * step` (which
/// covers the step before it, as the gateway's own point `i` does), per series labelled by
/// `by` (or `""`).
async fn query_range(
    base: &str,
    promql: &str,
    start: u64,
    step: u64,
    points: usize,
    by: &str,
) -> Result<Vec<(String, Vec<Option<f64>>)>, GatewayError> {
    let end = start + points as u64 * step;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("query", promql)
        .append_pair("start", &(start + step).to_string())
        .append_pair("end", &end.to_string())
        .append_pair("step", &step.to_string())
        .finish();
    let uri: Uri = format!("{}/api/v1/query_range?{query}", base.trim_end_matches('/'))
        .parse()
        .map_err(failed)?;
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let request = Request::get(uri).body(Body::empty()).map_err(failed)?;
    let response = tokio::time::timeout(TIMEOUT, client.request(request))
        .await
        .map_err(|_| failed("no answer in 10 s"))?
        .map_err(failed)?;
    let status = response.status();
    let body = http_body_util::Limited::new(response.into_body(), LARGEST_ANSWER)
        .collect()
        .await
        .map_err(failed)?
        .to_bytes();
    let answer: Value = serde_json::from_slice(&body).map_err(failed)?;
    if !status.is_success() || answer["status"] != "success" {
        return Err(failed(format!(
            "{status}: {}",
            answer["error"].as_str().unwrap_or("query failed")
        )));
    }
    let mut out = Vec::new();
    for series in answer["data"]["result"].as_array().into_iter().flatten() {
        let label = series["metric"][by].as_str().unwrap_or_default().to_owned();
        let mut values = vec![None; points];
        for sample in series["values"].as_array().into_iter().flatten() {
            let (Some(time), Some(value)) = (sample[0].as_f64(), sample[1].as_str()) else {
                continue;
            };
            let index = ((time as u64).saturating_sub(start) / step).checked_sub(1);
            let value = value.parse::<f64>().ok().filter(|v| v.is_finite());
            if let Some(slot) = index.and_then(|i| values.get_mut(i as usize)) {
                *slot = value;
            }
        }
        out.push((label, values));
    }
    Ok(out)
}

/// The one series of a query without `by`, or all unknown.
fn single(mut result: Vec<(String, Vec<Option<f64>>)>, points: usize) -> Vec<Option<f64>> {
    result.pop().map_or_else(|| vec![None; points], |(_, v)| v)
}

fn round(values: Vec<Option<f64>>, scale: f64) -> Vec<Option<f64>> {
    values
        .into_iter()
        .map(|v| v.map(|v| (v * scale * 1000.0).round() / 1000.0))
        .collect()
}

/// One function's series over `window` from Prometheus, shaped as the gateway's own.
pub(crate) async fn function_series(
    base: &str,
    namespace: &str,
    name: &str,
    window: Window,
) -> Result<Value, GatewayError> {
    let (step, points) = window.shape();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let start = (now / step).saturating_sub(points as u64) * step;
    // Label values are DNS-1123 names (validated by the caller): nothing to escape.
    let selector = format!("function_name=\"{name}.{namespace}\"");
    // Rates over three steps, times the step: a window of one step would lose every jump
    // that falls between its last scrape and the next window's first.
    let range = format!("{}s", 3 * step);
    let q = |promql: String, by: &'static str| async move {
        query_range(base, &promql, start, step, points, by).await
    };
    let by_code = q(
        format!(
            "sum by (code) (rate(gateway_function_invocation_total{{{selector}}}[{range}])) * {step}"
        ),
        "code",
    )
    .await?;
    let mut classes = vec![vec![0f64; points]; 4];
    for (code, values) in by_code {
        let class = match code.as_bytes().first() {
            Some(b'3') => 1,
            Some(b'4') => 2,
            Some(b'5') => 3,
            _ => 0,
        };
        for (sum, value) in classes[class].iter_mut().zip(values) {
            *sum += value.unwrap_or(0.0);
        }
    }
    // Calls per point, estimated from rates: fractions, to the thousandth.
    let classes: Vec<Vec<f64>> = classes
        .into_iter()
        .map(|c| {
            c.into_iter()
                .map(|v| (v * 1000.0).round() / 1000.0)
                .collect()
        })
        .collect();
    let mut latency = Vec::new();
    for quantile in ["0.5", "0.95", "0.99"] {
        let promql = format!(
            "histogram_quantile({quantile}, sum by (le) (rate(gateway_functions_seconds_bucket{{{selector}}}[{range}])))"
        );
        latency.push(round(single(q(promql, "").await?, points), 1000.0));
    }
    let desired = single(
        q(format!("max(gateway_service_count{{{selector}}})"), "").await?,
        points,
    );
    let ready = single(
        q(
            format!("max(gateway_service_ready_count{{{selector}}})"),
            "",
        )
        .await?,
        points,
    );
    let cold = single(
        q(
            format!("sum(rate(gateway_function_cold_start_total{{{selector}}}[{range}])) * {step}"),
            "",
        )
        .await?,
        points,
    );
    let whole = |v: Vec<Option<f64>>| -> Vec<Option<u64>> {
        v.into_iter().map(|v| v.map(|v| v.round() as u64)).collect()
    };
    let [p50, p95, p99]: [Vec<Option<f64>>; 3] =
        latency.try_into().map_err(|_| failed("quantiles"))?;
    Ok(json!({
        "name": name,
        "namespace": namespace,
        "window": window.as_str(),
        "source": "prometheus",
        "step": step,
        "start": start,
        "requests": {"2xx": classes[0], "3xx": classes[1], "4xx": classes[2], "5xx": classes[3]},
        "latency_ms": {"p50": p50, "p95": p95, "p99": p99},
        "replicas": {"desired": whole(desired), "ready": whole(ready)},
        "cold_starts": round(cold, 1.0).into_iter().map(|v| v.unwrap_or(0.0)).collect::<Vec<_>>(),
        "cpu": vec![Value::Null; points],
        "memory_bytes": vec![Value::Null; points],
        "decisions": [],
    }))
}
