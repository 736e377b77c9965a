//! `GET /system/logs?name=&namespace=&instance=&tail=&follow=&since=`: newline-delimited JSON,
//! one `LogMessage` per line, streamed as the provider yields them; with `follow=true` the
//! response stays open for new lines until the client goes away.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use faas_types::{LogMessage, LogRequest, DEFAULT_NAMESPACE};
use futures_util::StreamExt;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::HeaderValue;

use crate::error::{GatewayError, GatewayResult};
use crate::server::AppState;

/// `Content-Type` of the answer.
pub const NDJSON: &str = "application/x-ndjson";

/// Streams the log lines a query asks for.
pub(crate) async fn logs(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> GatewayResult<Response> {
    let mut request = LogRequest::from_query(query.as_deref().unwrap_or_default())
        .map_err(|err| GatewayError::BadRequest(err.to_string()))?;
    request.validate()?;
    request
        .namespace
        .get_or_insert_with(|| DEFAULT_NAMESPACE.to_owned());
    let lines = state.provider.logs(request).await?;
    let body = Body::from_stream(lines.map(|message| Ok::<_, Infallible>(ndjson_line(&message))));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

fn ndjson_line(message: &LogMessage) -> Bytes {
    // Serializing plain strings and a timestamp cannot fail.
    let mut line = serde_json::to_vec(message).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}
