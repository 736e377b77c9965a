//! The `/system/*` handlers, one module per resource, and how they read requests.
//!
//! Bodies are read up to a limit (413 above it, checked against `Content-Length` first) and
//! parsed as JSON whatever their `Content-Type`, because OpenFaaS clients do not always set
//! one. `null` means absent and unknown fields are ignored (the types in `faas-types` decode
//! that way).

pub mod alert;
pub mod history;
pub mod info;
pub mod logs;
pub mod namespaces;
pub mod packages;
pub mod secrets;
pub mod system_functions;

use axum::body::Body;
use axum::extract::{FromRequest, Query, Request};
use bytes::Bytes;
use faas_types::validate::validate_namespace;
use faas_types::DEFAULT_NAMESPACE;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, Uri};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{GatewayError, GatewayResult};
use crate::server::AppState;

/// Reads a whole body of at most `limit` bytes.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> GatewayResult<Bytes> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(GatewayError::PayloadTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<LengthLimitError>() => Err(GatewayError::PayloadTooLarge { limit }),
        Err(err) => Err(GatewayError::BadRequest(format!(
            "cannot read the request body: {err}"
        ))),
    }
}

/// Parses a JSON body.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> GatewayResult<T> {
    serde_json::from_slice(bytes)
        .map_err(|err| GatewayError::BadRequest(format!("invalid JSON body: {err}")))
}

/// A JSON body read up to `max_json_bytes`, whatever its `Content-Type`.
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = GatewayError;

    async fn from_request(request: Request, state: &AppState) -> GatewayResult<Self> {
        let (parts, body) = request.into_parts();
        let bytes = read_body(&parts.headers, body, state.config.max_json_bytes).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A JSON body that may also be empty (then `T::default()`).
pub(crate) struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJsonBody<T> {
    type Rejection = GatewayError;

    async fn from_request(request: Request, state: &AppState) -> GatewayResult<Self> {
        let (parts, body) = request.into_parts();
        let bytes = read_body(&parts.headers, body, state.config.max_json_bytes).await?;
        if bytes.trim_ascii().is_empty() {
            return Ok(OptionalJsonBody(T::default()));
        }
        parse_json(&bytes).map(OptionalJsonBody)
    }
}

#[derive(Deserialize)]
struct NamespaceQuery {
    namespace: Option<String>,
}

/// The `?namespace=` of a request, validated; `None` when absent or empty.
fn query_namespace(uri: &Uri) -> GatewayResult<Option<String>> {
    let Query(query) = Query::<NamespaceQuery>::try_from_uri(uri)
        .map_err(|err| GatewayError::BadRequest(format!("invalid query string: {err}")))?;
    match query.namespace.filter(|ns| !ns.is_empty()) {
        Some(namespace) => {
            validate_namespace(&namespace)?;
            Ok(Some(namespace))
        }
        None => Ok(None),
    }
}

/// The `?namespace=` of a request, validated; [`DEFAULT_NAMESPACE`] when absent or empty.
pub(crate) fn namespace_from_query(uri: &Uri) -> GatewayResult<String> {
    Ok(query_namespace(uri)?.unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()))
}

/// The namespace of a request that may name one in its body and in `?namespace=` (older
/// OpenFaaS clients send it only in the query string): the body's, else the query's, else
/// [`DEFAULT_NAMESPACE`]. A body and a query naming different namespaces are refused (400)
/// rather than one silently winning.
pub(crate) fn namespace_of(body: Option<&str>, uri: &Uri) -> GatewayResult<String> {
    let body = body.filter(|ns| !ns.is_empty());
    match (body, query_namespace(uri)?) {
        (Some(body), Some(query)) if body != query => Err(GatewayError::BadRequest(format!(
            "the body names namespace {body:?} but the query string names {query:?}: give one of them, or the same in both"
        ))),
        (Some(body), _) => Ok(body.to_owned()),
        (None, Some(query)) => Ok(query),
        (None, None) => Ok(DEFAULT_NAMESPACE.to_owned()),
    }
}
