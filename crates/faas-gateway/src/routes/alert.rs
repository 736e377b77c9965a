//! `POST /system/alert`: AlertManager's webhook, scaling as OpenFaaS CE's gateway does.
//!
//! Each alert names a function in its `function_name` label (`name` or `name.namespace`).
//! A firing alert adds a step of `com.openfaas.scale.factor` percent (default 20) of
//! `com.openfaas.scale.max` (at least 1 replica) to the current count, up to the maximum; a
//! resolved one sets the count to the minimum. Like OpenFaaS, the alert's own `status`
//! counts (the payload's top-level one when an alert has none), and any failure makes the
//! answer 500 with every failure listed.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use faas_types::{parse_function_ref, DEFAULT_NAMESPACE};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::JsonBody;
use crate::autoscaler::ScalingPolicy;
use crate::error::{GatewayError, GatewayResult};
use crate::server::AppState;

/// AlertManager's webhook payload (the fields the gateway reads).
#[derive(Debug, Default, Deserialize)]
pub struct AlertPayload {
    /// `firing` or `resolved` for the group.
    #[serde(default)]
    pub status: Option<String>,
    /// The alerts of the group.
    #[serde(default)]
    pub alerts: Option<Vec<Alert>>,
}

/// One alert.
#[derive(Debug, Default, Deserialize)]
pub struct Alert {
    /// `firing` or `resolved`.
    #[serde(default)]
    pub status: Option<String>,
    /// `alertname`, `function_name`, ...
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// What one alert did.
#[derive(Debug, Serialize)]
pub struct AlertOutcome {
    /// `name.namespace`.
    pub function: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// Replicas before.
    pub from: u64,
    /// Replicas after.
    pub to: u64,
}

/// `POST /system/alert`: 200 with what was scaled; 500 listing failures if any alert failed.
pub(crate) async fn alert(
    State(state): State<AppState>,
    JsonBody(payload): JsonBody<AlertPayload>,
) -> GatewayResult<(StatusCode, Json<Vec<AlertOutcome>>)> {
    let mut outcomes = Vec::new();
    let mut failures = Vec::new();
    for alert in payload.alerts.unwrap_or_default() {
        let status = alert
            .status
            .clone()
            .or_else(|| payload.status.clone())
            .unwrap_or_default();
        let Some(function) = alert
            .labels
            .as_ref()
            .and_then(|labels| labels.get("function_name"))
            .filter(|f| !f.is_empty())
        else {
            failures.push("an alert has no function_name label".to_owned());
            continue;
        };
        let (name, namespace) = parse_function_ref(function);
        let namespace = namespace.unwrap_or(DEFAULT_NAMESPACE);
        match scale_for_alert(&state, namespace, name, &status).await {
            Ok((from, to)) => outcomes.push(AlertOutcome {
                function: format!("{name}.{namespace}"),
                status,
                from,
                to,
            }),
            Err(err) => failures.push(format!("{name}.{namespace}: {err}")),
        }
    }
    if failures.is_empty() {
        Ok((StatusCode::OK, Json(outcomes)))
    } else {
        Err(GatewayError::AlertFailed(failures.join("; ")))
    }
}

async fn scale_for_alert(
    state: &AppState,
    namespace: &str,
    name: &str,
    status: &str,
) -> GatewayResult<(u64, u64)> {
    let function = state.provider.status(namespace, name).await?;
    let (policy, _) = ScalingPolicy::parse(function.labels.as_ref());
    let current = function.replicas;
    let step = policy.alert_step();
    let wanted = match status {
        "firing" if step > 0 => current.saturating_add(step).min(policy.max),
        "firing" => current,
        "resolved" => policy.min,
        other => {
            return Err(GatewayError::BadRequest(format!(
                "alert status {other:?} is neither firing nor resolved"
            )))
        }
    };
    if wanted != current {
        state.provider.scale(namespace, name, wanted).await?;
        if let Some(entry) = state.functions.get(namespace, name) {
            entry.invalidate_replicas();
        }
        tracing::info!(
            function = %format_args!("{name}.{namespace}"),
            from = current,
            to = wanted,
            "alert {status}: scaled"
        );
    }
    Ok((current, wanted))
}
