//! Asynchronous calls: `/async-function/{name}[.{namespace}][/{path}]` puts the call on the
//! durable queue and answers 202 with its `X-Call-Id`; `/system/queue/*` shows and replays the
//! dead-letter list.
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
use faas_provider::{Provider, ProviderError};
use faas_queue::{validate_callback_url, Queue, QueuedCall};
use faas_types::call_path::check_call_path;
use faas_types::hop_by_hop::is_hop_by_hop;
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
    /// The routes: `/async-function/*` open like `/function/*`, `/system/queue/*` behind basic
    /// auth when `auth` is set.
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

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    let mut response = (status, message.into()).into_response();
    response
        .headers_mut()
        .insert("X-OpenFaaS-Internal", HeaderValue::from_static("gateway"));
    response
}

async fn enqueue(State(api): State<AsyncApi>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let rest = path.strip_prefix("/async-function/").unwrap_or("");
    let (reference, sub_path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (name, namespace) = parse_function_ref(reference);
    let namespace = namespace.unwrap_or(DEFAULT_NAMESPACE);
    // The worker sends exactly this path: one that would climb out of the function (through
    // the worker's URL normalisation or the replica's) is refused here.
    if let Err(err) = check_call_path(sub_path) {
        return text(StatusCode::BAD_REQUEST, format!("{err}\n"));
    }
    if name.is_empty() {
        return text(StatusCode::NOT_FOUND, "function not found: no name given\n");
    }
    if let Err(err) = validate_function_name(name).and(validate_namespace(namespace)) {
        return text(StatusCode::BAD_REQUEST, format!("{err}\n"));
    }
    // Unlike OpenFaaS (which answers 202 and loses the call), an unknown function is a 404.
    let annotations = match api.known.get(namespace, name) {
        Some(annotations) => annotations,
        None => match api.provider.status(namespace, name).await {
            Ok(status) => {
                api.known.put(namespace, name, status.annotations.clone());
                status.annotations
            }
            Err(ProviderError::NotFound(_)) => {
                return text(
                    StatusCode::NOT_FOUND,
                    format!("function not found: {name}.{namespace}\n"),
                )
            }
            Err(err) => return text(StatusCode::SERVICE_UNAVAILABLE, format!("{err}\n")),
        },
    };
    let callback_url = match parts.headers.get("X-Callback-Url") {
        None => None,
        Some(value) => match value.to_str().ok().map(validate_callback_url) {
            Some(Ok(url)) => Some(url),
            Some(Err(err)) => return text(StatusCode::BAD_REQUEST, format!("{err}\n")),
            None => {
                return text(
                    StatusCode::BAD_REQUEST,
                    "X-Callback-Url is not valid text\n",
                )
            }
        },
    };
    let body = match to_bytes(Body::new(body), api.max_body_bytes).await {
        Ok(body) => body,
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "request body larger than {} bytes, the limit for asynchronous calls\n",
                    api.max_body_bytes
                ),
            )
        }
    };

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
    match api.queue.publish(call).await {
        Ok(()) => {
            let mut response = StatusCode::ACCEPTED.into_response();
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert("X-Call-Id", value);
            }
            response
        }
        Err(err) => {
            let status =
                StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            text(status, format!("the queue cannot take this call: {err}\n"))
        }
    }
}

fn stored_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !is_hop_by_hop(name.as_str()) && name.as_str() != "host")
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
}

async fn dead_letters(State(api): State<AsyncApi>, Query(query): Query<QueueQuery>) -> Response {
    match api.queue.dead_letters(query.queue.as_deref()).await {
        Ok(list) => Json(list).into_response(),
        Err(err) => queue_error(err),
    }
}

async fn replay(State(api): State<AsyncApi>, Path(id): Path<String>) -> Response {
    match api.queue.replay(&id).await {
        Ok(0) => text(
            StatusCode::NOT_FOUND,
            format!("no dead letter with id {id}\n"),
        ),
        Ok(count) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "replayed": count })),
        )
            .into_response(),
        Err(err) => queue_error(err),
    }
}

async fn discard(State(api): State<AsyncApi>, Path(id): Path<String>) -> Response {
    match api.queue.discard(&id).await {
        Ok(0) => text(
            StatusCode::NOT_FOUND,
            format!("no dead letter with id {id}\n"),
        ),
        Ok(count) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "discarded": count })),
        )
            .into_response(),
        Err(err) => queue_error(err),
    }
}

async fn stats(State(api): State<AsyncApi>) -> Response {
    let queues = match api.queue.queues().await {
        Ok(queues) => queues,
        Err(err) => return queue_error(err),
    };
    let mut all = serde_json::Map::new();
    for queue in queues {
        match api.queue.stats(&queue).await {
            Ok(stats) => {
                all.insert(
                    queue,
                    serde_json::to_value(stats).unwrap_or(serde_json::Value::Null),
                );
            }
            Err(err) => return queue_error(err),
        }
    }
    Json(serde_json::Value::Object(all)).into_response()
}

fn queue_error(err: faas_queue::QueueError) -> Response {
    let status = StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    text(status, format!("{err}\n"))
}
