//! A function's `usage` (CPU cores and memory bytes, summed over its pods) from the metrics
//! API (`metrics.k8s.io/v1beta1`, served by metrics-server) when the cluster serves it; a
//! cluster without it gives no usage rather than an error.

use std::collections::HashMap;

use faas_types::FunctionUsage;
use kube::Client;
use serde::Deserialize;

use crate::objects::FUNCTION_LABEL;

#[derive(Deserialize)]
struct PodMetricsList {
    #[serde(default)]
    items: Vec<PodMetrics>,
}

#[derive(Deserialize)]
struct PodMetrics {
    #[serde(default)]
    metadata: kube::api::ObjectMeta,
    #[serde(default)]
    containers: Vec<ContainerMetrics>,
}

#[derive(Deserialize)]
struct ContainerMetrics {
    #[serde(default)]
    usage: HashMap<String, String>,
}

/// A Kubernetes quantity as a number: `250m` -> 0.25, `1500n` -> 1.5e-6, `64Mi` -> 67108864,
/// `1k` -> 1000, `2` -> 2. `None` for what is not a quantity.
pub fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(number * factor)
}

/// Usage per function name in `namespace` (one request); empty when the metrics API is not
/// served or fails.
pub async fn namespace_usage(client: &Client, namespace: &str) -> HashMap<String, FunctionUsage> {
    let uri = format!(
        "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods?labelSelector={FUNCTION_LABEL}"
    );
    let Ok(request) = http::Request::get(uri).body(Vec::new()) else {
        return HashMap::new();
    };
    let list: PodMetricsList = match client.request(request).await {
        Ok(list) => list,
        Err(err) => {
            tracing::debug!("no usage from the metrics API: {err}");

            return HashMap::new();
        }
    };
    let mut usage: HashMap<String, FunctionUsage> = HashMap::new();
    for pod in list.items {
        let Some(function) = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(FUNCTION_LABEL))
        else {
            continue;
        };
        let entry = usage.entry(function.clone()).or_default();
        for container in &pod.containers {
            entry.cpu += container
                .usage
                .get("cpu")
                .and_then(|q| parse_quantity(q))
                .unwrap_or(0.0);
            entry.total_memory_bytes += container
                .usage
                .get("memory")
                .and_then(|q| parse_quantity(q))
                .unwrap_or(0.0);
        }
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_kubernetes_writes_them() {
        assert_eq!(parse_quantity("250m"), Some(0.25));
        assert_eq!(parse_quantity("1500000n"), Some(0.0015));
        assert_eq!(parse_quantity("64Mi"), Some(67_108_864.0));
        assert_eq!(parse_quantity("12345Ki"), Some(12_641_280.0));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("lots"), None);
    }
}
