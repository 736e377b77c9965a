//! `POST /system/alert`: AlertManager's webhook, scaling as OpenFaaS CE's gateway does.
//!
//! Each alert names a function in its `function_name` label (`name` or `name.namespace`).
//! A firing alert adds a step of `com.openfaas.scale.factor` percent (default 20) of
//! `com.openfaas.scale.max` (at least 1 replica) to the current count, up to the maximum; a
//! resolved one sets the count to the minimum. Like OpenFaaS, the alert's own `status`
//! counts (the payload's top-level one when an alert has none). Failures are listed in the
//! answer: 500 when the platform failed on any alert (as OpenFaaS), 400 when every failure was
//! the sender's mistake (no `function_name` label, an invalid name, an unknown status or
//! function).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use faas_types::validate::{validate_function_name, validate_namespace};
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

/// `POST /system/alert`: 200 with what was scaled; 400 or 500 listing failures if any alert
/// failed.
pub(crate) async fn alert(
    State(state): State<AppState>,
    JsonBody(payload): JsonBody<AlertPayload>,
) -> GatewayResult<(StatusCode, Json<Vec<AlertOutcome>>)> {
    let mut outcomes = Vec::new();
    let mut failures = Vec::new();
    let mut server_failed = false;
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
        if let Err(err) = validate_function_name(name).and(validate_namespace(namespace)) {
            failures.push(format!("{function}: {err}"));
            continue;
        }
        match scale_for_alert(&state, namespace, name, &status).await {
            Ok((from, to)) => outcomes.push(AlertOutcome {
                function: format!("{name}.{namespace}"),
                status,
                from,
                to,
            }),
            Err(err) => {
                server_failed |= err.status().is_server_error();
                failures.push(format!("{name}.{namespace}: {err}"));
            }
        }
    }
    match (failures.is_empty(), server_failed) {
        (true, _) => Ok((StatusCode::OK, Json(outcomes))),
        (false, true) => Err(GatewayError::AlertFailed(failures.join("; "))),
        (false, false) => Err(GatewayError::BadRequest(format!(
            "cannot scale for every alert: {}",
            failures.join("; ")
        ))),
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
