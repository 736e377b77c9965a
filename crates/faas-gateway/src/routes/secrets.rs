//! `/system/secrets`: names are listed, values are never answered.
//!
//! Create answers 201, update and delete 202, never 204 (faas-cli takes 204 as a failure).

use axum::extract::State;
use axum::Json;
use faas_types::Secret;
use http::{StatusCode, Uri};

use super::{namespace_from_query, namespace_of, JsonBody};
use crate::error::GatewayResult;
use crate::server::AppState;

/// `GET /system/secrets?namespace=`: `[{"name","namespace"}]`.
pub(crate) async fn list(
    State(state): State<AppState>,
    uri: Uri,
) -> GatewayResult<Json<Vec<Secret>>> {
    let namespace = namespace_from_query(&uri)?;
    let secrets = state.provider.list_secrets(&namespace).await?;
    // Whatever the provider returns, values never leave the gateway.
    Ok(Json(
        secrets
            .into_iter()
            .map(|secret| Secret {
                name: secret.name,
                namespace: secret.namespace,
                value: None,
                raw_value: None,
            })
            .collect(),
    ))
}

/// Validates a secret and makes its namespace explicit (the body's, else `?namespace=`).
fn prepare(mut secret: Secret, uri: &Uri) -> GatewayResult<Secret> {
    secret.namespace = Some(namespace_of(secret.namespace.as_deref(), uri)?);
    secret.validate()?;
    Ok(secret)
}

/// `POST /system/secrets`: 201, 409 if it exists.
pub(crate) async fn create(
    State(state): State<AppState>,
    uri: Uri,
    JsonBody(secret): JsonBody<Secret>,
) -> GatewayResult<StatusCode> {
    state.provider.create_secret(prepare(secret, &uri)?).await?;
    Ok(StatusCode::CREATED)
}

/// `PUT /system/secrets`: 202, 404 if absent.
pub(crate) async fn update(
    State(state): State<AppState>,
    uri: Uri,
    JsonBody(secret): JsonBody<Secret>,
) -> GatewayResult<StatusCode> {
    state.provider.update_secret(prepare(secret, &uri)?).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE /system/secrets` with `{"name","namespace"}`: 202.
pub(crate) async fn delete(
    State(state): State<AppState>,
    uri: Uri,
    JsonBody(secret): JsonBody<Secret>,
) -> GatewayResult<StatusCode> {
    let secret = prepare(secret, &uri)?;
    state
        .provider
        .delete_secret(secret.namespace_or_default(), &secret.name)
        .await?;
    Ok(StatusCode::ACCEPTED)
}
