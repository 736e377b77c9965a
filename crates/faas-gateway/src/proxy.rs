//! `/function/{name}[.{namespace}][/{path}]`: the synchronous call path.
//!
//! find the function's entry ([`crate::functions`]; the provider is asked only the first time)
//! -> pick a ready replica from its cached set ([`crate::balancer`]: least in-flight; the set
//! is refreshed from the provider every `endpoint_cache_ttl`) -> when none is ready, hold the
//! call: scale from zero, or wait for a starting replica (`ensure_ready`, also
//! [`Gateway::ensure_ready`](crate::Gateway::ensure_ready)) -> rewrite headers
//! (hop-by-hop out; `X-Call-Id`, `X-Start-Time`, `X-Forwarded-For`, `X-Forwarded-Host` in) ->
//! forward over one of the replica's keep-alive connections ([`crate::connections`]) with both
//! bodies streamed -> record the call with
//! its final status. Nothing is buffered, so server-sent events and NDJSON flow through as the
//! function writes.

use std::error::Error as _;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use faas_provider::{ProviderError, ReplicaAddress};
use faas_types::call_path::check_call_path;
use faas_types::validate::{validate_function_name, validate_namespace};
use faas_types::{parse_function_ref, DEFAULT_NAMESPACE};
use http::header::{HeaderName, ALLOW, HOST};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Method, Uri, Version};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;

use crate::autoscaler::ScalingPolicy;
use crate::balancer::InFlightGuard;
use crate::connections::{self, ForwardError, Lease};
use crate::error::GatewayError;
use crate::functions::{CallGuard, FunctionEntry};
use crate::server::{AppState, Shared};

/// `X-Call-Id`: the caller's, or a new UUID; echoed on the response.
pub const X_CALL_ID: HeaderName = HeaderName::from_static("x-call-id");
/// `X-Start-Time`: unix nanoseconds when the gateway took the call.
pub const X_START_TIME: HeaderName = HeaderName::from_static("x-start-time");
/// `X-Forwarded-For`: the client chain, the caller's address appended.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Host`: the `Host` the caller asked for.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Pause between looks for a ready replica: short while a cold start usually ends (a look is
/// an in-memory read for the process backend), longer after.
const READY_POLL_FIRST: Duration = Duration::from_millis(2);
const READY_POLL_FAST_FOR: Duration = Duration::from_millis(150);
const READY_POLL_MAX: Duration = Duration::from_millis(10);

/// The handler of every `/function/*` route.
pub(crate) async fn call_function(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let start_time = HeaderValue::from(unix_nanos());
    let (mut parts, body) = request.into_parts();
    let call_id = parts
        .headers
        .get(X_CALL_ID)
        .filter(|id| !id.is_empty())
        .cloned()
        .unwrap_or_else(new_call_id);
    let stamp = |mut response: Response, call_id: HeaderValue| {
        let headers = response.headers_mut();
        headers.insert(X_CALL_ID, call_id);
        headers.insert(X_START_TIME, start_time.clone());
        response
    };

    if !is_proxied_method(&parts.method) {
        let mut response = GatewayError::MethodNotAllowed(parts.method.clone()).into_response();
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(PROXIED_METHODS));
        return stamp(response, call_id);
    }

    let uri = std::mem::take(&mut parts.uri);
    let Some(target) = FunctionTarget::parse(uri.path()) else {
        let err = GatewayError::NotFound(format!("function not found: {}", uri.path()));
        return stamp(err.into_response(), call_id);
    };
    let (name, namespace) = (target.name, target.namespace);
    // `..` would leave the function (at the replica, or at a normalising hop on the way).
    if let Err(err) = check_call_path(target.path) {
        return stamp(
            GatewayError::BadRequest(err.to_string()).into_response(),
            call_id,
        );
    }

    let entry = match function_entry(&state, namespace, name).await {
        Ok(entry) => entry,
        Err(err) => {
            let status = err.status();
            if status != http::StatusCode::NOT_FOUND {
                state.record_call(None, namespace, name, status, started.elapsed());
            }
            return stamp(err.into_response(), call_id);
        }
    };
    let call = entry.start_call();
    let replica = match pick_replica(&state, &entry).await {
        Ok(replica) => replica,
        Err(err) => {
            let response = stamp(err.into_response(), call_id);
            return finish_error(&state, &entry, started, response);
        }
    };
    let address = replica.address();

    let upstream_uri = match upstream_uri(target.path, uri.query()) {
        Ok(uri) => uri,
        Err(err) => return stamp(err.into_response(), call_id),
    };
    prepare_request_headers(&mut parts.headers, &parts.extensions, &uri, replica.host());
    parts.headers.insert(X_CALL_ID, call_id.clone());
    parts.headers.insert(X_START_TIME, start_time.clone());
    parts.uri = upstream_uri;
    parts.version = Version::HTTP_11;
    let (body, caller_failed) = CallerBody::wrap(body);
    let upstream_request = Request::from_parts(parts, body);

    let timeout = state.config.upstream_timeout;
    let forwarded = connections::send(replica.replica(), upstream_request);
    let outcome = tokio::time::timeout(timeout, forwarded).await;
    let (response, lease) = match outcome {
        Ok(Ok(answered)) => answered,
        Ok(Err(err)) => {
            if let Some(reason) = caller_failed.get() {
                // The caller's own body broke (bad chunked framing, a dropped upload): its
                // mistake, answered 400 and not counted against the function.
                let err =
                    GatewayError::BadRequest(format!("cannot read the request body: {reason}"));
                return stamp(err.into_response(), call_id);
            }
            if err.is_connect() {
                // The replica is gone: ask the provider on the next call.
                entry.invalidate_replicas();
            }
            let err = upstream_error(name, namespace, address, &err);
            let response = stamp(err.into_response(), call_id);
            return finish_error(&state, &entry, started, response);
        }
        Err(_) => {
            let err = GatewayError::GatewayTimeout(format!(
                "function {name}.{namespace} did not answer within {timeout:?}"
            ));
            let response = stamp(err.into_response(), call_id);
            return finish_error(&state, &entry, started, response);
        }
    };

    let stamps = (call_id, start_time);
    relay_answer(
        &state,
        &entry,
        started,
        response,
        stamps,
        (replica, call, lease),
    )
}

/// The replica's answer as the caller gets it: hop-by-hop headers stripped, the call's id and
/// start time set, counted; its body keeps the replica, the call and the connection held
/// until it has been sent.
fn relay_answer(
    state: &Shared,
    entry: &FunctionEntry,
    started: Instant,
    response: Response<Incoming>,
    (call_id, start_time): (HeaderValue, HeaderValue),
    guards: (InFlightGuard, CallGuard, Lease),
) -> Response {
    let (mut response_parts, incoming) = response.into_parts();
    strip_hop_by_hop(&mut response_parts.headers);
    response_parts.headers.insert(X_CALL_ID, call_id);
    response_parts.headers.insert(X_START_TIME, start_time);
    if response_parts.status == http::StatusCode::OK {
        entry.count_answered_ok();
    }
    state.record_call(
        Some(entry),
        entry.namespace(),
        entry.name(),
        response_parts.status,
        started.elapsed(),
    );
    let body = Body::new(GuardedBody {
        inner: incoming,
        _guards: guards,
    });
    Response::from_parts(response_parts, body)
}

fn finish_error(
    state: &Shared,
    entry: &FunctionEntry,
    started: Instant,
    response: Response,
) -> Response {
    state.record_call(
        Some(entry),
        entry.namespace(),
        entry.name(),
        response.status(),
        started.elapsed(),
    );
    response
}

/// The methods [`is_proxied_method`] takes, for the `Allow` header of a 405.
const PROXIED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD";

/// GET POST PUT PATCH DELETE OPTIONS HEAD, as OpenFaaS's gateway.
fn is_proxied_method(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET
            | Method::POST
            | Method::PUT
            | Method::PATCH
            | Method::DELETE
            | Method::OPTIONS
            | Method::HEAD
    )
}

/// `/function/{name}[.{namespace}][/{path}]`, split.
struct FunctionTarget<'a> {
    name: &'a str,
    namespace: &'a str,
    /// The rest of the path, with its leading `/`, or empty.
    path: &'a str,
}

impl<'a> FunctionTarget<'a> {
    /// `None` when the path names no valid function (such a function cannot exist).
    fn parse(path: &'a str) -> Option<FunctionTarget<'a>> {
        let rest = path.strip_prefix("/function/")?;
        let (reference, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (name, namespace) = parse_function_ref(reference);
        let namespace = namespace.unwrap_or(DEFAULT_NAMESPACE);
        validate_function_name(name).ok()?;
        validate_namespace(namespace).ok()?;
        Some(FunctionTarget {
            name,
            namespace,
            path,
        })
    }
}

/// 404 for a function the provider does not know.
fn not_found(namespace: &str, name: &str, err: ProviderError) -> GatewayError {
    match err {
        ProviderError::NotFound(_) => {
            GatewayError::NotFound(format!("function not found: {name}.{namespace}"))
        }
        other => GatewayError::Provider(other),
    }
}

/// The function's entry: from the table, or made after the provider confirmed the function
/// exists (its ready replicas are cached on the way).
pub(crate) async fn function_entry(
    state: &Shared,
    namespace: &str,
    name: &str,
) -> Result<Arc<FunctionEntry>, GatewayError> {
    if let Some(entry) = state.functions.get(namespace, name) {
        return Ok(entry);
    }
    let endpoints = state
        .provider
        .routes(namespace, name)
        .await
        .map_err(|err| not_found(namespace, name, err))?;
    let entry = state.entry(namespace, name);
    drop(entry.store_replicas(state.replica_set(&endpoints)));
    Ok(entry)
}

/// Asks the provider for the function's ready replicas, caches them, and starts a call on one.
async fn refresh_and_pick(
    state: &Shared,
    entry: &FunctionEntry,
) -> Result<Option<InFlightGuard>, GatewayError> {
    let endpoints = state
        .provider
        .routes(entry.namespace(), entry.name())
        .await
        .map_err(|err| not_found(entry.namespace(), entry.name(), err))?;
    Ok(entry.store_replicas(state.replica_set(&endpoints)))
}

/// A ready replica of the function. From the cache when it is fresh; otherwise from the
/// provider; when none is ready, the caller waits for one ([`ensure_ready`]).
pub(crate) async fn pick_replica(
    state: &Shared,
    entry: &FunctionEntry,
) -> Result<InFlightGuard, GatewayError> {
    if let Some(guard) = entry.pick_cached(state.config.endpoint_cache_ttl) {
        return Ok(guard);
    }
    if let Some(guard) = refresh_and_pick(state, entry).await? {
        return Ok(guard);
    }
    ensure_ready(state, entry).await?;
    refresh_and_pick(state, entry)
        .await?
        .ok_or_else(|| GatewayError::NoEndpoints(entry.name().to_owned()))
}

/// Waits until the function has a ready replica. A function at zero replicas is scaled to
/// `max(1, com.openfaas.scale.min)` first and waited for up to `cold_start_timeout`; one that
/// wants replicas but has none ready (starting, restarting) is waited for up to `ready_wait`.
///
/// Concurrent callers are merged: one holds the function's start lock and does the work,
/// the others wait for the lock and then find the replica ready. So one scale request is made
/// per cold start, however many calls arrive meanwhile.
pub(crate) async fn ensure_ready(
    state: &Shared,
    entry: &FunctionEntry,
) -> Result<(), GatewayError> {
    let (namespace, name) = (entry.namespace(), entry.name());
    let longest = state.config.cold_start_timeout.max(state.config.ready_wait);
    let Ok(_starting) = tokio::time::timeout(longest, entry.starting.lock()).await else {
        return Err(GatewayError::NoEndpoints(name.to_owned()));
    };
    // Another caller may have brought it up while this one waited for the lock.
    if !state
        .provider
        .routes(namespace, name)
        .await
        .map_err(|err| not_found(namespace, name, err))?
        .is_empty()
    {
        return Ok(());
    }
    let status = state
        .provider
        .status(namespace, name)
        .await
        .map_err(|err| not_found(namespace, name, err))?;
    if status.replicas > 0 {
        let wait = state.config.ready_wait;
        return match wait_for_endpoints(state, namespace, name, wait).await? {
            true => Ok(()),
            false => Err(GatewayError::NoEndpoints(name.to_owned())),
        };
    }

    let (policy, _) = ScalingPolicy::parse(status.labels.as_ref());
    let replicas = policy.min.max(1);
    let scaled_at = Instant::now();
    if let Err(err) = state.provider.scale(namespace, name, replicas).await {
        // The caller asked for a call, not a scale: whatever the provider said, it is 503.
        return Err(match err {
            ProviderError::NotFound(_) => not_found(namespace, name, err),
            err => {
                GatewayError::NoEndpoints(format!("{name} (cannot scale it up from zero: {err})"))
            }
        });
    }
    tracing::info!(
        function = %format_args!("{name}.{namespace}"),
        replicas,
        "scaling from zero for a call"
    );
    let timeout = state.config.cold_start_timeout;
    if wait_for_endpoints(state, namespace, name, timeout).await? {
        let took = scaled_at.elapsed();
        entry.count_cold_start(took);
        tracing::info!(
            function = %format_args!("{name}.{namespace}"),
            "cold start: ready in {took:.1?}"
        );
        Ok(())
    } else {
        Err(GatewayError::ColdStartTimeout {
            function: format!("{name}.{namespace}"),
            waited: timeout,
        })
    }
}

/// Polls the provider until the function has a ready replica (`true`) or `wait` passes.
async fn wait_for_endpoints(
    state: &Shared,
    namespace: &str,
    name: &str,
    wait: Duration,
) -> Result<bool, GatewayError> {
    let started = tokio::time::Instant::now();
    let deadline = started + wait;
    let mut pause = READY_POLL_FIRST;
    loop {
        let ready = !state
            .provider
            .routes(namespace, name)
            .await
            .map_err(|err| not_found(namespace, name, err))?
            .is_empty();
        if ready {
            return Ok(true);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        if now - started >= READY_POLL_FAST_FOR {
            pause = (pause * 2).min(READY_POLL_MAX);
        }
    }
}

/// `{path or /}[?{query}]`, the target in origin form (the replica's address goes in `Host`).
fn upstream_uri(path: &str, query: Option<&str>) -> Result<Uri, GatewayError> {
    let path = if path.is_empty() { "/" } else { path };
    let path_and_query = match query {
        None => PathAndQuery::from_str(path),
        Some(query) => {
            let mut joined = String::with_capacity(path.len() + query.len() + 1);
            joined.push_str(path);
            joined.push('?');
            joined.push_str(query);
            PathAndQuery::from_maybe_shared(joined)
        }
    }
    .map_err(|err| GatewayError::BadRequest(format!("cannot forward this path: {err}")))?;
    Ok(Uri::from(path_and_query))
}

/// Strips hop-by-hop headers, moves the caller's `Host` to `X-Forwarded-Host` and sets the
/// replica's (`replica_host`), and appends the caller's address to `X-Forwarded-For`.
fn prepare_request_headers(
    headers: &mut HeaderMap,
    extensions: &http::Extensions,
    uri: &Uri,
    replica_host: &HeaderValue,
) {
    strip_hop_by_hop(headers);
    let host = headers.remove(HOST).or_else(|| {
        uri.authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    match host {
        Some(host) => {
            headers.insert(X_FORWARDED_HOST, host);
        }
        None => {
            headers.remove(X_FORWARDED_HOST);
        }
    }
    headers.insert(HOST, replica_host.clone());
    if let Some(ConnectInfo(peer)) = extensions.get::<ConnectInfo<SocketAddr>>() {
        let ip = caller_ip(peer.ip());
        let value = if headers.contains_key(X_FORWARDED_FOR) {
            let mut chain = String::new();
            for prior in headers.get_all(X_FORWARDED_FOR) {
                if let Ok(prior) = prior.to_str() {
                    chain.push_str(prior);
                    chain.push_str(", ");
                }
            }
            chain.push_str(ip.to_str().unwrap_or(""));
            HeaderValue::from_str(&chain).ok()
        } else {
            Some(ip)
        };
        if let Some(value) = value {
            headers.insert(X_FORWARDED_FOR, value);
        }
    }
}

/// The caller's address as a header value. Callers mostly come from a few addresses, each
/// thread remembers the last one it formatted.
fn caller_ip(ip: IpAddr) -> HeaderValue {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(IpAddr, HeaderValue)>> = const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((seen, value)) = last.as_ref() {
            if *seen == ip {
                return value.clone();
            }
        }
        let mut text = StackText::default();
        // An IP address is at most 45 characters: it fits.
        let _ = write!(text, "{ip}");
        let value = HeaderValue::from_str(text.as_str())
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        *last = Some((ip, value.clone()));
        value
    })
}

/// A short text formatted without allocating (an IP address).
struct StackText {
    bytes: [u8; 64],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            bytes: [0; 64],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len + text.len();
        let room = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        room.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

pub use faas_types::hop_by_hop::strip_hop_by_hop;

/// 502 with what went wrong on the way to the replica.
fn upstream_error(
    name: &str,
    namespace: &str,
    address: &ReplicaAddress,
    err: &ForwardError,
) -> GatewayError {
    let mut causes = String::new();
    let mut source = err.source();
    while let Some(cause) = source {
        if !causes.is_empty() {
            causes.push_str(": ");
        }
        let _ = write!(causes, "{cause}");
        source = cause.source();
    }
    if causes.is_empty() {
        let _ = write!(causes, "{err}");
    }
    let what = if err.is_connect() {
        "cannot connect to"
    } else {
        "lost the connection to"
    };
    // A socket's path is the server's business, not the caller's.
    let at = match address {
        ReplicaAddress::Tcp(address) => address.to_string(),
        ReplicaAddress::Unix(_) => "its Unix socket".to_owned(),
    };
    GatewayError::BadGateway(format!(
        "{what} function {name}.{namespace} at {at}: {causes}"
    ))
}

/// A random (version 4) UUID. Call ids must be unique, not secret: the bits come from a
/// per-thread generator seeded once from the OS, so a call costs no `getrandom` syscall
/// (`Uuid::new_v4` makes one per id).
fn new_call_id() -> HeaderValue {
    let bytes = CALL_ID_RNG.with(|rng| {
        let (high, low) = (rng.next(), rng.next());
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&high.to_le_bytes());
        bytes[8..].copy_from_slice(&low.to_le_bytes());
        bytes
    });
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut buffer = uuid::Uuid::encode_buffer();
    let id = uuid.hyphenated().encode_lower(&mut buffer);
    HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

thread_local! {
    static CALL_ID_RNG: CallIdRng = CallIdRng::seeded();
}

/// wyrand: a small, fast 64-bit generator (not cryptographic).
struct CallIdRng(std::cell::Cell<u64>);

impl CallIdRng {
    fn seeded() -> CallIdRng {
        let seed = u64::from_le_bytes(
            uuid::Uuid::new_v4().as_bytes()[..8]
                .try_into()
                .unwrap_or([0x5e; 8]),
        );
        CallIdRng(std::cell::Cell::new(seed))
    }

    fn next(&self) -> u64 {
        let state = self.0.get().wrapping_add(0xa076_1d64_78bd_642f);
        self.0.set(state);
        let product = u128::from(state) * u128::from(state ^ 0xe703_7ed1_a0b4_28db);
        ((product >> 64) ^ product) as u64
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The caller's request body on its way to the replica, noting whether reading it failed
/// (so the failure is told apart from the replica's).
struct CallerBody {
    inner: Body,
    failed: Arc<std::sync::OnceLock<String>>,
}

impl CallerBody {
    fn wrap(inner: Body) -> (Body, Arc<std::sync::OnceLock<String>>) {
        let failed = Arc::new(std::sync::OnceLock::new());
        let body = Body::new(CallerBody {
            inner,
            failed: failed.clone(),
        });
        (body, failed)
    }
}

impl http_body::Body for CallerBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(err))) = &polled {
            let _ = this.failed.set(err.to_string());
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The replica's response body, holding the call's in-flight slots (the replica's and the
/// function's) until it is done.
struct GuardedBody {
    inner: Incoming,
    _guards: (InFlightGuard, CallGuard, Lease),
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{CONNECTION, TRANSFER_ENCODING};

    #[test]
    fn targets() {
        let t = FunctionTarget::parse("/function/figlet").unwrap();
        assert_eq!(
            (t.name, t.namespace, t.path),
            ("figlet", DEFAULT_NAMESPACE, "")
        );
        let t = FunctionTarget::parse("/function/figlet.dev/a/b").unwrap();
        assert_eq!((t.name, t.namespace, t.path), ("figlet", "dev", "/a/b"));
        let t = FunctionTarget::parse("/function/figlet/").unwrap();
        assert_eq!(t.path, "/");
        assert!(FunctionTarget::parse("/function/Figlet").is_none());
        assert!(FunctionTarget::parse("/function/figlet.a.b").is_none());
        assert!(FunctionTarget::parse("/function/").is_none());
    }

    #[test]
    fn hop_by_hop_headers_go() {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("close, x-private"));
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("proxy-foo", HeaderValue::from_static("1"));
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-kept"));
    }

    #[test]
    fn call_ids_are_distinct_v4_uuids() {
        let ids: std::collections::HashSet<String> = (0..1000)
            .map(|_| new_call_id().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 1000);
        for id in ids.iter().take(10) {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version_num(), 4, "{id}");
        }
    }

    #[test]
    fn upstream_uris() {
        assert_eq!(upstream_uri("", None).unwrap().to_string(), "/");
        assert_eq!(
            upstream_uri("/a%20b", Some("x=1&y")).unwrap().to_string(),
            "/a%20b?x=1&y"
        );
    }
}
