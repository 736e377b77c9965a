//! `/system/functions` (list, deploy, update, delete), `/system/function/{name}` (status) and
//! `/system/scale-function/{name}`.

use axum::extract::{Path, State};
use axum::Json;
use faas_types::validate::validate_function_name;
use faas_types::{DeleteFunctionRequest, FunctionDeployment, FunctionStatus, ScaleServiceRequest};
use http::{StatusCode, Uri};

use super::{namespace_from_query, namespace_of, JsonBody};
use crate::error::{GatewayError, GatewayResult};
use crate::server::{AppState, Shared};

/// The most replicas one scale request may ask for: Kubernetes' limit (an `int32`). The
/// provider enforces its own, usually far lower, limit.
pub const MAX_SCALE_REPLICAS: u64 = i32::MAX as u64;

impl Shared {
    /// Fills in what the gateway counts and the provider does not.
    fn with_counts(&self, mut status: FunctionStatus, namespace: &str) -> FunctionStatus {
        status.invocation_count = self.invocations.count(namespace, &status.name) as f64;
        status
    }
}

/// 404 for a request that names no function.
fn require_name(name: &str) -> GatewayResult<()> {
    if name.is_empty() {
        Err(GatewayError::NotFound(
            "function not found: no function name given".to_owned(),
        ))
    } else {
        validate_function_name(name).map_err(Into::into)
    }
}

/// `GET /system/functions?namespace=`.
pub(crate) async fn list(
    State(state): State<AppState>,
    uri: Uri,
) -> GatewayResult<Json<Vec<FunctionStatus>>> {
    let namespace = namespace_from_query(&uri)?;
    let functions = state.provider.list(&namespace).await?;
    Ok(Json(
        functions
            .into_iter()
            .map(|status| state.with_counts(status, &namespace))
            .collect(),
    ))
}

/// `GET /system/function/{name}?namespace=`.
pub(crate) async fn status(
    State(state): State<AppState>,
    Path(name): Path<String>,
    uri: Uri,
) -> GatewayResult<Json<FunctionStatus>> {
    require_name(&name)?;
    let namespace = namespace_from_query(&uri)?;
    let status = state.provider.status(&namespace, &name).await?;
    Ok(Json(state.with_counts(status, &namespace)))
}

/// Validates a deployment and makes its namespace explicit (the body's, else `?namespace=`).
fn prepare(mut deployment: FunctionDeployment, uri: &Uri) -> GatewayResult<FunctionDeployment> {
    deployment.namespace = Some(namespace_of(deployment.namespace.as_deref(), uri)?);
    deployment.validate()?;
    Ok(deployment)
}

/// `POST /system/functions`: 202, 409 if the name is taken.
pub(crate) async fn deploy(
    State(state): State<AppState>,
    uri: Uri,
    JsonBody(deployment): JsonBody<FunctionDeployment>,
) -> GatewayResult<StatusCode> {
    let deployment = prepare(deployment, &uri)?;
    state.provider.deploy(deployment).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /system/functions`: 202, 404 if absent.
pub(crate) async fn update(
    State(state): State<AppState>,
    uri: Uri,
    JsonBody(deployment): JsonBody<FunctionDeployment>,
) -> GatewayResult<StatusCode> {
    let deployment = prepare(deployment, &uri)?;
    let namespace = deployment.namespace.clone().unwrap_or_default();
    let name = deployment.service.clone();
    state.provider.update(deployment).await?;
    state.function_changed(&namespace, &name);
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE /system/functions` with `{"functionName","namespace"}` (or `?namespace=`): 202.
pub(crate) async fn delete(
    State(state): State<AppState>,
    uri: Uri,
    JsonBody(mut request): JsonBody<DeleteFunctionRequest>,
) -> GatewayResult<StatusCode> {
    require_name(&request.function_name)?;
    request.namespace = Some(namespace_of(request.namespace.as_deref(), &uri)?);
    request.validate()?;
    let namespace = request.namespace_or_default();
    state
        .provider
        .delete(namespace, &request.function_name)
        .await?;
    state.function_deleted(namespace, &request.function_name);
    Ok(StatusCode::ACCEPTED)
}

/// `POST /system/scale-function/{name}` with `{"serviceName"|"service","replicas","namespace"}`:
/// 202. The name in the path counts; a different one in the body is refused.
pub(crate) async fn scale(
    State(state): State<AppState>,
    Path(name): Path<String>,
    uri: Uri,
    JsonBody(mut request): JsonBody<ScaleServiceRequest>,
) -> GatewayResult<StatusCode> {
    require_name(&name)?;
    if request.service_name.is_empty() {
        request.service_name.clone_from(&name);
    } else if request.service_name != name {
        return Err(GatewayError::BadRequest(format!(
            "serviceName {:?} in the body does not match {name:?} in the path",
            request.service_name
        )));
    }
    request.namespace = Some(namespace_of(request.namespace.as_deref(), &uri)?);
    request.validate(MAX_SCALE_REPLICAS)?;
    let namespace = request.namespace_or_default();
    state
        .provider
        .scale(namespace, &name, request.replicas)
        .await?;
    state.function_changed(namespace, &name);
    Ok(StatusCode::ACCEPTED)
}
