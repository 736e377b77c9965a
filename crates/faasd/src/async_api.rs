//! Asynchronous calls: `/async-function/{name}[.{namespace}][/{path}]` puts the call on the
//! durable queue and answers 202 with its `X-Call-Id`; `/system/queue/*` shows (in pages:
//! `?offset=&limit=`, 100 letters by default, 1,000 at most) and replays the dead-letter list.
//!
//! What becomes of an accepted call (the worker, `faas_queue::worker`, decides):
//! - the function answered, whatever the status: that answer is the call's result, posted to
//!   `X-Callback-Url` when there is one, counted, and the call is acked. A status in the retry
//!   codes (408, 429, 500, 502, 503, 504 by default) is retried with backoff first; when the
//!   last attempt still gets one, the call is also kept on the dead-letter list;
//! - the platform could not hand the call to the function (it was deleted after the call was
//!   accepted, or the gateway refused or failed it: answers carrying `X-OpenFaaS-Internal`, or
//!   no answer at all): retried when the status is a retried one, then kept on the dead-letter
//!   list with the last status and the reason, and still posted to the callback;
//! - the callback cannot be delivered: on the dead-letter list with the reason.
//!
//! Nothing accepted is dropped: every call ends acked with its result delivered, or on the
//! dead-letter list, from where `POST /system/queue/dead-letters/{id}/replay` runs it again.
//!
//! These routes live in faasd rather than in the gateway crate so that the gateway does not
//! depend on the queue: faasd composes the two (the worker reaches functions through the
//! gateway's own `/function/` proxy, so scale from zero and load balancing apply to it too).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use faas_gateway::session::{require_auth, Auth};
use faas_gateway::GatewayError;
use faas_provider::{Provider, ProviderError};
use faas_queue::{validate_callback_url, Queue, QueueError, QueuedCall};
use faas_types::call_path::check_call_path;
use faas_types::hop_by_hop::HopByHop;
use faas_types::validate::{validate_function_name, validate_namespace};
use faas_types::{parse_function_ref, DEFAULT_NAMESPACE};
use serde::Deserialize;

/// What the async routes share.
#[derive(Clone)]
pub struct AsyncApi {
    pub queue: Arc<dyn Queue>,
    pub provider: Arc<dyn Provider>,
    /// Largest request body a queued call may carry; 413 above it.
    pub max_body_bytes: usize,
    /// Functions seen lately, with their annotations (see [`KnownFunctions`]).
    pub known: Arc<KnownFunctions>,
}

/// Annotations of functions that existed a moment ago, so a burst of asynchronous calls does
/// not ask the provider (which samples cgroup usage for a status) once per call. Only
/// existing functions are remembered, for [`KnownFunctions::TTL`]: a new function is never
/// refused, and a deleted one is accepted at most that long after (its call then dead-letters
/// with the gateway's 404, which is also posted to the callback).
#[derive(Default)]
pub struct KnownFunctions {
    entries: std::sync::RwLock<HashMap<FunctionKey, Sighting>>,
}

/// `(namespace, name)`.
type FunctionKey = (String, String);
/// When a function was last seen, and its annotations then.
type Sighting = (Instant, Option<BTreeMap<String, String>>);

impl KnownFunctions {
    const TTL: Duration = Duration::from_secs(1);

    fn get(&self, namespace: &str, name: &str) -> Option<Option<BTreeMap<String, String>>> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (seen, annotations) = entries.get(&(namespace.to_string(), name.to_string()))?;
        (seen.elapsed() < Self::TTL).then(|| annotations.clone())
    }

    fn put(&self, namespace: &str, name: &str, annotations: Option<BTreeMap<String, String>>) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() > 10_000 {
            entries.retain(|_, (seen, _)| seen.elapsed() < Self::TTL);
        }
        entries.insert(
            (namespace.to_string(), name.to_string()),
            (Instant::now(), annotations),
        );
    }
}

impl AsyncApi {
    /// The routes: `/async-function/*` open like `/function/*`, `/system/queue/*` behind the
    /// gateway's check (basic auth or a portal session, [`Gateway::auth`]) when `auth` is set.
    ///
    /// [`Gateway::auth`]: faas_gateway::Gateway::auth
    pub fn router(self, auth: Option<Arc<Auth>>) -> Router {
        let mut system = Router::new()
            .route("/system/queue/dead-letters", get(dead_letters))
            .route(
                "/system/queue/dead-letters/{id}",
                axum::routing::delete(discard),
            )
            .route("/system/queue/dead-letters/{id}/replay", post(replay))
            .route("/system/queue/stats", get(stats));
        if let Some(auth) = auth {
            // The gateway's check: basic auth, or the portal's session with its CSRF token.
            system = system.route_layer(middleware::from_fn_with_state(auth, require_auth));
        }
        Router::new()
            .route("/async-function/{function}", any(enqueue))
            .route("/async-function/{function}/", any(enqueue))
            .route("/async-function/{function}/{*path}", any(enqueue))
            .merge(system)
            .with_state(self)
    }
}

/// The gateway's status for a queue error: the same mistake answers alike on every route.
fn queue_error(err: QueueError) -> GatewayError {
    match err {
        QueueError::InvalidCall(_) => GatewayError::BadRequest(err.to_string()),
        QueueError::NotFound(_) => GatewayError::NotFound(err.to_string()),
        QueueError::LeaseLost(_) => GatewayError::Conflict(err.to_string()),
        other => GatewayError::Unavailable(format!("the queue cannot take this now: {other}")),
    }
}

async fn enqueue(State(api): State<AsyncApi>, request: Request) -> Response {
    match accept(&api, request).await {
        Ok(id) => {
            let mut response = StatusCode::ACCEPTED.into_response();
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert("X-Call-Id", value);
            }
            response
        }
        Err(err) => err.into_response(),
    }
}

/// Checks and queues a call; its id.
async fn accept(api: &AsyncApi, request: Request) -> Result<String, GatewayError> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let rest = path.strip_prefix("/async-function/").unwrap_or("");
    let (reference, sub_path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (name, namespace) = parse_function_ref(reference);
    let namespace = namespace.unwrap_or(DEFAULT_NAMESPACE);
    // As on /function/: a name that cannot exist names no function.
    if let Err(err) = validate_function_name(name).and(validate_namespace(namespace)) {
        return Err(GatewayError::NotFound(format!(
            "function not found: {reference} ({err})"
        )));
    }
    // The worker sends exactly this path: one that would climb out of the function (through
    // the worker's URL normalisation or the replica's) is refused here.
    check_call_path(sub_path).map_err(|err| GatewayError::BadRequest(err.to_string()))?;
    let annotations = known_annotations(api, namespace, name).await?;
    let callback_url = match parts.headers.get("X-Callback-Url") {
        None => None,
        Some(value) => {
            let value = value.to_str().map_err(|_| {
                GatewayError::BadRequest("X-Callback-Url is not valid text".to_owned())
            })?;
            Some(
                validate_callback_url(value)
                    .map_err(|err| GatewayError::BadRequest(err.to_string()))?,
            )
        }
    };
    let body = to_bytes(Body::new(body), api.max_body_bytes)
        .await
        .map_err(|_| GatewayError::PayloadTooLarge {
            limit: api.max_body_bytes,
        })?;

    let mut call = QueuedCall::new(name, namespace);
    if let Some(id) = parts
        .headers
        .get("X-Call-Id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 256)
    {
        call.id = id.to_string();
    }
    call.method = parts.method.as_str().to_string();
    call.path = sub_path.to_string();
    call.query = parts.uri.query().unwrap_or("").to_string();
    call.headers = stored_headers(&parts.headers);
    call.body = body;
    call.callback_url = callback_url;
    if let Some(annotations) = &annotations {
        call.apply_function_annotations(annotations);
    }
    let id = call.id.clone();
    api.queue.publish(call).await.map_err(queue_error)?;
    Ok(id)
}

/// The function's annotations, from [`KnownFunctions`] or the provider. Unlike OpenFaaS
/// (which answers 202 and loses the call), an unknown function is a 404.
async fn known_annotations(
    api: &AsyncApi,
    namespace: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>, GatewayError> {
    if let Some(annotations) = api.known.get(namespace, name) {
        return Ok(annotations);
    }
    match api.provider.status(namespace, name).await {
        Ok(status) => {
            api.known.put(namespace, name, status.annotations.clone());
            Ok(status.annotations)
        }
        Err(ProviderError::NotFound(_)) => Err(GatewayError::NotFound(format!(
            "function not found: {name}.{namespace}"
        ))),
        Err(err) => Err(GatewayError::Provider(err)),
    }
}

/// The headers a queued call keeps: the same hop-by-hop rule as the sync proxy (the fixed
/// names and those `Connection` lists), and no `Host` (the worker's request sets its own).
fn stored_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let rule = HopByHop::of_map(headers);
    headers
        .iter()
        .filter(|(name, _)| !rule.drops(name.as_str()) && *name != axum::http::header::HOST)
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|v| (name.as_str().to_string(), v.to_string()))
        })
        .collect()
}

#[derive(Deserialize)]
struct QueueQuery {
    queue: Option<String>,
    /// Letters to skip (paging).
    offset: Option<usize>,
    /// Letters in the page: 100 by default, at most 1,000 (a letter keeps its call's body,
    /// up to 32 MiB).
    limit: Option<usize>,
}

async fn dead_letters(
    State(api): State<AsyncApi>,
    Query(query): Query<QueueQuery>,
) -> Result<Response, GatewayError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let list = api
        .queue
        .dead_letters_page(query.queue.as_deref(), query.offset.unwrap_or(0), limit)
        .await
        .map_err(queue_error)?;
    Ok(Json(list).into_response())
}

/// `replay` and `discard`: an unknown id is the queue's `NotFound` (the `Queue` contract),
/// which maps to 404.
async fn replay(
    State(api): State<AsyncApi>,
    Path(id): Path<String>,
) -> Result<Response, GatewayError> {
    let count = api.queue.replay(&id).await.map_err(queue_error)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "replayed": count })),
    )
        .into_response())
}

async fn discard(
    State(api): State<AsyncApi>,
    Path(id): Path<String>,
) -> Result<Response, GatewayError> {
    let count = api.queue.discard(&id).await.map_err(queue_error)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "discarded": count })),
    )
        .into_response())
}

async fn stats(State(api): State<AsyncApi>) -> Result<Response, GatewayError> {
    let queues = api.queue.queues().await.map_err(queue_error)?;
    let mut all = serde_json::Map::new();
    for queue in queues {
        let stats = api.queue.stats(&queue).await.map_err(queue_error)?;
        all.insert(
            queue,
            serde_json::to_value(stats).unwrap_or(serde_json::Value::Null),
        );
    }
    Ok(Json(serde_json::Value::Object(all)).into_response())
}
