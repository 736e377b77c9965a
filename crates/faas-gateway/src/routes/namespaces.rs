//! `GET /system/namespaces` and `/system/namespace/{namespace}`.
//!
//! Create answers 201, update and delete 202.

use axum::extract::{Path, State};
use axum::Json;
use faas_types::validate::validate_namespace;
use faas_types::NamespaceRequest;
use http::StatusCode;

use super::OptionalJsonBody;
use crate::error::{GatewayError, GatewayResult};
use crate::server::AppState;

/// `GET /system/namespaces`: `["openfaas-fn", ...]`.
pub(crate) async fn list(State(state): State<AppState>) -> GatewayResult<Json<Vec<String>>> {
    Ok(Json(state.provider.list_namespaces().await?))
}

/// `GET /system/namespace/{namespace}`: `{"name","labels","annotations"}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
) -> GatewayResult<Json<NamespaceRequest>> {
    validate_namespace(&namespace)?;
    Ok(Json(state.provider.get_namespace(&namespace).await?))
}

/// Takes the name from the path; a body naming another namespace is refused.
fn prepare(namespace: String, mut request: NamespaceRequest) -> GatewayResult<NamespaceRequest> {
    if request.name.is_empty() {
        request.name = namespace;
    } else if request.name != namespace {
        return Err(GatewayError::BadRequest(format!(
            "name {:?} in the body does not match {namespace:?} in the path",
            request.name
        )));
    }
    request.validate()?;
    Ok(request)
}

/// `POST /system/namespace/{namespace}` (body optional): 201, 409 if it exists.
pub(crate) async fn create(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    OptionalJsonBody(request): OptionalJsonBody<NamespaceRequest>,
) -> GatewayResult<StatusCode> {
    state
        .provider
        .create_namespace(prepare(namespace, request)?)
        .await?;
    Ok(StatusCode::CREATED)
}

/// `PUT /system/namespace/{namespace}`: 202.
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    OptionalJsonBody(request): OptionalJsonBody<NamespaceRequest>,
) -> GatewayResult<StatusCode> {
    state
        .provider
        .update_namespace(prepare(namespace, request)?)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE /system/namespace/{namespace}`: 202, 409 while functions remain in it.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
) -> GatewayResult<StatusCode> {
    validate_namespace(&namespace)?;
    state.provider.delete_namespace(&namespace).await?;
    Ok(StatusCode::ACCEPTED)
}
