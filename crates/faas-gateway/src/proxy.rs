//! `/function/{name}[.{namespace}][/{path}]`: the synchronous call path.
//!
//! resolve a ready replica ([`crate::balancer`], waiting up to `ready_wait` when the function
//! wants replicas but none is ready) -> rewrite headers (hop-by-hop out; `X-Call-Id`,
//! `X-Start-Time`, `X-Forwarded-For`, `X-Forwarded-Host` in) -> forward over a pooled
//! keep-alive client with both bodies streamed -> record the call with its final status.
//! Nothing is buffered, so server-sent events and NDJSON flow through as the function writes.

use std::error::Error as _;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use faas_provider::ProviderError;
use faas_types::validate::{validate_function_name, validate_namespace};
use faas_types::{parse_function_ref, DEFAULT_NAMESPACE};
use http::header::{
    HeaderName, ALLOW, CONNECTION, HOST, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER,
    TRANSFER_ENCODING, UPGRADE,
};
use http::uri::{Authority, Scheme};
use http::{HeaderMap, HeaderValue, Method, Uri, Version};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::balancer::InFlightGuard;
use crate::error::GatewayError;
use crate::server::{AppState, Shared};

/// The pooled keep-alive HTTP/1.1 client every call goes through.
pub type ProxyClient = Client<HttpConnector, Body>;

/// `X-Call-Id`: the caller's, or a new UUID; echoed on the response.
pub const X_CALL_ID: HeaderName = HeaderName::from_static("x-call-id");
/// `X-Start-Time`: unix nanoseconds when the gateway took the call.
pub const X_START_TIME: HeaderName = HeaderName::from_static("x-start-time");
/// `X-Forwarded-For`: the client chain, the caller's address appended.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Host`: the `Host` the caller asked for.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// First and longest pause between looks for a ready replica.
const READY_POLL_FIRST: Duration = Duration::from_millis(5);
const READY_POLL_MAX: Duration = Duration::from_millis(10);

/// Builds the client: TCP_NODELAY, keep-alive, a large idle pool per replica.
pub(crate) fn new_client() -> ProxyClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_keepalive(Some(Duration::from_secs(60)));
    connector.set_connect_timeout(Some(Duration::from_secs(10)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .build(connector)
}

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

    let guard = match resolve(&state, namespace, name).await {
        Ok(guard) => guard,
        Err(err) => {
            let status = err.status();
            if status != http::StatusCode::NOT_FOUND {
                state.record_call(namespace, name, status, started.elapsed());
            }
            return stamp(err.into_response(), call_id);
        }
    };
    let address = guard.address();

    let upstream_uri = match upstream_uri(address, target.path, uri.query()) {
        Ok(uri) => uri,
        Err(err) => return stamp(err.into_response(), call_id),
    };
    prepare_request_headers(&mut parts.headers, &parts.extensions, &uri);
    parts.headers.insert(X_CALL_ID, call_id.clone());
    parts.headers.insert(X_START_TIME, start_time.clone());
    parts.uri = upstream_uri;
    parts.version = Version::HTTP_11;
    let upstream_request = Request::from_parts(parts, body);

    let timeout = state.config.upstream_timeout;
    let outcome = tokio::time::timeout(timeout, state.client.request(upstream_request)).await;
    let response = match outcome {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => {
            let err = upstream_error(name, namespace, address, &err);
            return finish_error(
                &state,
                &target,
                started,
                stamp(err.into_response(), call_id),
            );
        }
        Err(_) => {
            let err = GatewayError::GatewayTimeout(format!(
                "function {name}.{namespace} did not answer within {timeout:?}"
            ));
            return finish_error(
                &state,
                &target,
                started,
                stamp(err.into_response(), call_id),
            );
        }
    };

    let (mut response_parts, incoming) = response.into_parts();
    strip_hop_by_hop(&mut response_parts.headers);
    response_parts.headers.insert(X_CALL_ID, call_id);
    response_parts.headers.insert(X_START_TIME, start_time);
    state.record_call(namespace, name, response_parts.status, started.elapsed());
    let body = Body::new(GuardedBody {
        inner: incoming,
        _guard: guard,
    });
    Response::from_parts(response_parts, body)
}

fn finish_error(
    state: &Shared,
    target: &FunctionTarget<'_>,
    started: Instant,
    response: Response,
) -> Response {
    state.record_call(
        target.namespace,
        target.name,
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

/// A ready replica of the function, waiting up to `ready_wait` when the function wants
/// replicas but none is ready yet.
async fn resolve(
    state: &Shared,
    namespace: &str,
    name: &str,
) -> Result<InFlightGuard, GatewayError> {
    let not_found = |err: ProviderError| match err {
        ProviderError::NotFound(_) => {
            GatewayError::NotFound(format!("function not found: {name}.{namespace}"))
        }
        other => GatewayError::Provider(other),
    };
    let endpoints = state
        .provider
        .endpoints(namespace, name)
        .await
        .map_err(not_found)?;
    if let Some(guard) = state.in_flight.pick(&endpoints) {
        return Ok(guard);
    }

    let wanted = state
        .provider
        .status(namespace, name)
        .await
        .map_err(not_found)?
        .replicas;
    let wait = state.config.ready_wait;
    if wanted > 0 && !wait.is_zero() {
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = READY_POLL_FIRST;
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(READY_POLL_MAX);
            let endpoints = state
                .provider
                .endpoints(namespace, name)
                .await
                .map_err(not_found)?;
            if let Some(guard) = state.in_flight.pick(&endpoints) {
                return Ok(guard);
            }
        }
    }
    Err(GatewayError::NoEndpoints(name.to_owned()))
}

/// `http://{address}{path or /}[?{query}]`.
fn upstream_uri(address: SocketAddr, path: &str, query: Option<&str>) -> Result<Uri, GatewayError> {
    let path = if path.is_empty() { "/" } else { path };
    let mut path_and_query = String::with_capacity(path.len() + query.map_or(0, |q| q.len() + 1));
    path_and_query.push_str(path);
    if let Some(query) = query {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    let mut authority = String::with_capacity(24);
    // Writing to a String cannot fail.
    let _ = write!(authority, "{address}");
    let authority = Authority::try_from(authority)
        .map_err(|err| GatewayError::BadGateway(format!("bad replica address {address}: {err}")))?;
    Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(authority)
        .path_and_query(path_and_query)
        .build()
        .map_err(|err| GatewayError::BadRequest(format!("cannot forward this path: {err}")))
}

/// Strips hop-by-hop headers, moves `Host` to `X-Forwarded-Host` (the client sets the
/// replica's), and appends the caller's address to `X-Forwarded-For`.
fn prepare_request_headers(headers: &mut HeaderMap, extensions: &http::Extensions, uri: &Uri) {
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
    if let Some(ConnectInfo(peer)) = extensions.get::<ConnectInfo<SocketAddr>>() {
        let ip = peer.ip().to_string();
        let mut chain = String::new();
        for prior in headers.get_all(X_FORWARDED_FOR) {
            if let Ok(prior) = prior.to_str() {
                chain.push_str(prior);
                chain.push_str(", ");
            }
        }
        chain.push_str(&ip);
        if let Ok(value) = HeaderValue::from_str(&chain) {
            headers.insert(X_FORWARDED_FOR, value);
        }
    }
}

/// Removes the headers that belong to one connection (RFC 9110 section 7.6.1): those that
/// `Connection` lists, and `Connection`, `Keep-Alive`, `Proxy-*`, `TE`, `Trailer`,
/// `Transfer-Encoding`, `Upgrade`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(CONNECTION) {
        let listed: Vec<HeaderName> = headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in listed {
            headers.remove(name);
        }
        headers.remove(CONNECTION);
    }
    for name in [
        KEEP_ALIVE,
        PROXY_CONNECTION,
        PROXY_AUTHENTICATE,
        PROXY_AUTHORIZATION,
        TE,
        TRAILER,
        TRANSFER_ENCODING,
        UPGRADE,
    ] {
        headers.remove(name);
    }
    if headers
        .keys()
        .any(|name| name.as_str().starts_with("proxy-"))
    {
        let proxy: Vec<HeaderName> = headers
            .keys()
            .filter(|name| name.as_str().starts_with("proxy-"))
            .cloned()
            .collect();
        for name in proxy {
            headers.remove(name);
        }
    }
}

/// 502 with what went wrong on the way to the replica.
fn upstream_error(
    name: &str,
    namespace: &str,
    address: SocketAddr,
    err: &hyper_util::client::legacy::Error,
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
    GatewayError::BadGateway(format!(
        "{what} function {name}.{namespace} at {address}: {causes}"
    ))
}

fn new_call_id() -> HeaderValue {
    let mut buffer = uuid::Uuid::encode_buffer();
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
    HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The replica's response body, holding the call's in-flight slot until it is done.
struct GuardedBody {
    inner: Incoming,
    _guard: InFlightGuard,
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
    fn upstream_uris() {
        let address = SocketAddr::from(([127, 0, 0, 1], 8080));
        assert_eq!(
            upstream_uri(address, "", None).unwrap().to_string(),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            upstream_uri(address, "/a%20b", Some("x=1&y"))
                .unwrap()
                .to_string(),
            "http://127.0.0.1:8080/a%20b?x=1&y"
        );
    }
}
