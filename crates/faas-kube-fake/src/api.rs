//! The HTTP side: parses a request's path and query, runs the verb on the store, and
//! answers with the API server's JSON (objects, lists, Status failures, watch streams of
//! `{"type","object"}` lines, `Scale` objects, pod log text).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::kinds::{self, Kind, Target};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{self, Failure};
use crate::Shared;

fn respond(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [("content-type", "application/json")],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response()
}

fn fail(failure: Failure) -> Response {
    let code = StatusCode::from_u16(failure.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    respond(code, &failure.body)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Every request: counted, logged, then served.
pub async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    shared
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(format!("{method} {uri}"));
    let Some(target) = kinds::parse(uri.path()) else {
        return fail(Failure {
            code: 404,
            body: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                         "message": "the server could not find the requested resource",
                         "reason": "NotFound", "details": {}, "code": 404}),
        });
    };
    let query = query(&uri);
    if let Some(failure) = shared.take_injected(&method, &target) {
        return fail(failure);
    }
    let result = serve(&shared, &method, &target, &query, &headers, body).await;
    shared.spawn_wakeups();
    match result {
        Ok(response) => response,
        Err(failure) => fail(failure),
    }
}

fn parse_body(body: &Bytes) -> Result<Value, Failure> {
    serde_json::from_slice(body).map_err(|err| {
        status::bad_request(format!(
            "the body of the request could not be decoded: {err}"
        ))
    })
}

async fn serve(
    shared: &Arc<Shared>,
    method: &Method,
    target: &Target,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    let kind = target.kind;
    let namespace = target.namespace.clone().unwrap_or_default();
    let sub = target.subresource.as_deref();
    match (method.as_str(), target.name.as_deref(), sub) {
        ("GET", None, None) => {
            let watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
            if watch {
                watch_stream(shared, kind, target.namespace.clone(), query)
            } else {
                list(shared, kind, target.namespace.as_deref(), query)
            }
        }
        ("GET", Some(name), None | Some("status")) => {
            let store = shared.lock();
            let object = store
                .get(kind, &namespace, name)
                .ok_or_else(|| status::not_found(kind, name))?;
            Ok(respond(StatusCode::OK, object))
        }
        ("GET", Some(name), Some("scale")) if std::ptr::eq(kind, &kinds::DEPLOYMENTS) => {
            let store = shared.lock();
            let object = store
                .get(kind, &namespace, name)
                .ok_or_else(|| status::not_found(kind, name))?;
            Ok(respond(StatusCode::OK, &scale_of(object)))
        }
        ("GET", Some(name), Some("log")) if std::ptr::eq(kind, &kinds::PODS) => {
            pod_log(shared, &namespace, name, query)
        }
        ("POST", None, None) => {
            let object = parse_body(&body)?;
            let created = shared
                .lock()
                .create(kind, target.namespace.as_deref(), object)?;
            Ok(respond(StatusCode::CREATED, &created))
        }
        ("PUT", Some(name), None) => {
            let object = parse_body(&body)?;
            let replaced = shared.lock().replace(kind, &namespace, name, object)?;
            Ok(respond(StatusCode::OK, &replaced))
        }
        ("PUT" | "PATCH", Some(name), Some("status")) if kind.status_subresource => {
            write_status(shared, method, headers, kind, &namespace, name, &body)
        }
        ("PUT" | "PATCH", Some(name), Some("scale")) if std::ptr::eq(kind, &kinds::DEPLOYMENTS) => {
            write_scale(shared, method, headers, kind, &namespace, name, &body)
        }
        ("PATCH", Some(name), None) => {
            check_patch_type(headers)?;
            let patch = parse_body(&body)?;
            let patched = shared.lock().patch(kind, &namespace, name, &patch)?;
            Ok(respond(StatusCode::OK, &patched))
        }
        ("DELETE", Some(name), None) => {
            let deleted = shared.lock().delete(kind, &namespace, name)?;
            Ok(respond(StatusCode::OK, &deleted))
        }
        (verb, _, _) => Err(status::method_not_allowed(format!(
            "{verb} is not supported on {}{}",
            kind.qualified(),
            sub.map(|s| format!("/{s}")).unwrap_or_default()
        ))),
    }
}

/// PUT or PATCH of an object's `status` subresource: only its status changes.
fn write_status(
    shared: &Arc<Shared>,
    method: &Method,
    headers: &HeaderMap,
    kind: &'static Kind,
    namespace: &str,
    name: &str,
    body: &Bytes,
) -> Result<Response, Failure> {
    let body = parse_body(body)?;
    let mut store = shared.lock();
    let current = store
        .get(kind, namespace, name)
        .cloned()
        .ok_or_else(|| status::not_found(kind, name))?;
    let new_status = if method == Method::PUT {
        body["status"].clone()
    } else {
        check_patch_type(headers)?;
        let mut object = current;
        crate::store::merge_patch(&mut object, &body);
        object["status"].clone()
    };
    Ok(respond(
        StatusCode::OK,
        &store.write_status(kind, namespace, name, new_status)?,
    ))
}

/// PUT or PATCH of a Deployment's `scale` subresource: its `spec.replicas`, never negative.
fn write_scale(
    shared: &Arc<Shared>,
    method: &Method,
    headers: &HeaderMap,
    kind: &'static Kind,
    namespace: &str,
    name: &str,
    body: &Bytes,
) -> Result<Response, Failure> {
    let body = parse_body(body)?;
    let mut store = shared.lock();
    let current = store
        .get(kind, namespace, name)
        .cloned()
        .ok_or_else(|| status::not_found(kind, name))?;
    let mut scale = scale_of(&current);
    if method == Method::PUT {
        scale = body;
    } else {
        check_patch_type(headers)?;
        crate::store::merge_patch(&mut scale, &body);
    }
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if replicas < 0 {
        return Err(status::invalid(
            &SCALE,
            name,
            &[status::FieldError::invalid(
                "spec.replicas",
                &json!(replicas),
                "must be greater than or equal to 0",
            )],
        ));
    }
    let updated = store.patch(
        kind,
        namespace,
        name,
        &json!({"spec": {"replicas": replicas}}),
    )?;
    Ok(respond(StatusCode::OK, &scale_of(&updated)))
}

/// The Scale kind, for its Invalid messages.
static SCALE: Kind = Kind {
    plural: "scale",
    group: "autoscaling",
    version: "v1",
    kind: "Scale",
    namespaced: true,
    names: kinds::NameRule::Subdomain,
    status_subresource: false,
};

fn check_patch_type(headers: &HeaderMap) -> Result<(), Failure> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match content_type.split(';').next().unwrap_or_default().trim() {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => Ok(()),
        other => Err(status::unsupported_media_type(other)),
    }
}

/// A Deployment's `scale` subresource (autoscaling/v1 Scale).
fn scale_of(deployment: &Value) -> Value {
    let selector = deployment
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let meta = &deployment["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": deployment.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": deployment.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

fn selectors(query: &HashMap<String, String>) -> Result<(LabelSelector, FieldSelector), Failure> {
    let labels = LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))
        .map_err(status::bad_request)?;
    let fields = FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str))
        .map_err(status::bad_request)?;
    Ok((labels, fields))
}

fn list(
    shared: &Arc<Shared>,
    kind: &'static Kind,
    namespace: Option<&str>,
    query: &HashMap<String, String>,
) -> Result<Response, Failure> {
    let (labels, fields) = selectors(query)?;
    let store = shared.lock();
    let items: Vec<Value> = store
        .list(kind, namespace)
        .filter(|o| labels.matches(o) && fields.matches(o))
        .cloned()
        .collect();
    Ok(respond(
        StatusCode::OK,
        &json!({
            "kind": format!("{}List", kind.kind),
            "apiVersion": kind.api_version(),
            "metadata": {"resourceVersion": store.resource_version().to_string()},
            "items": items,
        }),
    ))
}

fn event_line(event_type: &str, object: &Value) -> Bytes {
    let mut line =
        serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

fn watch_stream(
    shared: &Arc<Shared>,
    kind: &'static Kind,
    namespace: Option<String>,
    query: &HashMap<String, String>,
) -> Result<Response, Failure> {
    let (labels, fields) = selectors(query)?;
    let from: u64 = query
        .get("resourceVersion")
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0);
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    let store = shared.lock();
    let (past, receiver) = store.watch_from(from)?;
    // resourceVersion 0 or absent: start with the current objects as ADDED.
    let mut first: Vec<Bytes> = if from == 0 {
        store
            .list(kind, namespace.as_deref())
            .filter(|o| labels.matches(o) && fields.matches(o))
            .map(|o| event_line("ADDED", o))
            .collect()
    } else {
        Vec::new()
    };
    drop(store);
    let wanted = move |event: &crate::store::Event| {
        std::ptr::eq(event.kind, kind)
            && namespace.as_deref().is_none_or(|ns| ns == event.namespace)
            && labels.matches(&event.object)
            && fields.matches(&event.object)
    };
    if from != 0 {
        first.extend(
            past.iter()
                .filter(|e| wanted(e))
                .map(|e| event_line(e.event_type, &e.object)),
        );
    }
    let live = futures_util::stream::unfold(receiver, move |mut receiver| {
        let wanted = wanted.clone();
        async move {
            loop {
                match receiver.recv().await {
                    Ok(event) if wanted(&event) => {
                        return Some((event_line(event.event_type, &event.object), receiver))
                    }
                    Ok(_) => continue,
                    // A watcher that fell behind is closed; the client watches again.
                    Err(_) => return None,
                }
            }
        }
    });
    let stream = futures_util::stream::iter(first)
        .chain(live)
        .take_until(tokio::time::sleep(timeout))
        .map(Ok::<_, std::convert::Infallible>);
    Ok((
        StatusCode::OK,
        [("content-type", "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}

fn log_line(time: &DateTime<Utc>, text: &str, timestamps: bool) -> Bytes {
    if timestamps {
        Bytes::from(format!(
            "{} {text}\n",
            time.to_rfc3339_opts(SecondsFormat::Nanos, true)
        ))
    } else {
        Bytes::from(format!("{text}\n"))
    }
}

fn pod_log(
    shared: &Arc<Shared>,
    namespace: &str,
    pod: &str,
    query: &HashMap<String, String>,
) -> Result<Response, Failure> {
    let store = shared.lock();
    let object = store
        .get(&kinds::PODS, namespace, pod)
        .ok_or_else(|| status::not_found(&kinds::PODS, pod))?;
    let containers: Vec<String> = object
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    match query.get("container") {
        Some(c) if !containers.contains(c) => {
            return Err(status::bad_request(format!(
                "container {c} is not valid for pod {pod}"
            )))
        }
        None if containers.len() > 1 => {
            return Err(status::bad_request(format!(
                "a container name must be specified for pod {pod}, choose one of: {containers:?}"
            )))
        }
        _ => {}
    }
    let timestamps = matches!(
        query.get("timestamps").map(String::as_str),
        Some("true" | "1")
    );
    let follow = matches!(query.get("follow").map(String::as_str), Some("true" | "1"));
    let since: Option<DateTime<Utc>> = match query.get("sinceTime") {
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|_| status::bad_request(format!("sinceTime {t:?} is not RFC3339")))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let tail: Option<usize> = query.get("tailLines").and_then(|t| t.parse().ok());
    let mut lines: Vec<(DateTime<Utc>, String)> = store
        .logs
        .get(&(namespace.to_owned(), pod.to_owned()))
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|(t, _)| since.is_none_or(|s| *t >= s))
        .collect();
    if let Some(tail) = tail {
        let skip = lines.len().saturating_sub(tail);
        lines.drain(..skip);
    }
    let first: Vec<Bytes> = lines
        .iter()
        .map(|(t, l)| log_line(t, l, timestamps))
        .collect();
    if !follow {
        return Ok((
            StatusCode::OK,
            [("content-type", "text/plain")],
            first.concat(),
        )
            .into_response());
    }
    let receiver = store.log_events.subscribe();
    drop(store);
    let (namespace, pod) = (namespace.to_owned(), pod.to_owned());
    let live = futures_util::stream::unfold(receiver, move |mut receiver| {
        let (namespace, pod) = (namespace.clone(), pod.clone());
        async move {
            loop {
                match receiver.recv().await {
                    Ok(e) if e.namespace == namespace && e.pod == pod => {
                        let (time, text) = e.line?;
                        return Some((log_line(&time, &text, timestamps), receiver));
                    }
                    Ok(_) => continue,
                    Err(_) => return None,
                }
            }
        }
    });
    let stream = futures_util::stream::iter(first)
        .chain(live)
        .map(Ok::<_, std::convert::Infallible>);
    Ok((
        StatusCode::OK,
        [("content-type", "text/plain")],
        Body::from_stream(stream),
    )
        .into_response())
}
