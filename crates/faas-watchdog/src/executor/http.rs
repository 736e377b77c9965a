//! `http` mode: `fprocess` is started once and kept running (restarted with backoff when it
//! dies); every call is reverse-proxied to `upstream_url` over keep-alive connections,
//! streaming both ways unless `buffer_http` asks for the request body to be buffered.
//!
//! Each inbound connection owns one upstream connection ([`UpstreamSlot`]), opened on its first
//! call and reused by the calls after it. HTTP/1.1 answers one call at a time per connection,
//! so the pair never contends, and a call costs no pool look-up or lock. The price: an idle
//! caller connection holds an idle upstream connection too, which suits a watchdog, whose
//! callers are gateways with pools of their own.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{CONTENT_LENGTH, HOST};
use http::uri::{Authority, PathAndQuery};
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::Command;

use crate::body::{self, BoxError, GuardedBody, ResponseBody};
use crate::config::Config;
use crate::executor::fork::effective_timeout;
use crate::log::Seconds;
use crate::log_line;
use crate::parent_death;
use crate::process::{describe_exit, LogRelay};

/// An inbound connection's own connection to the upstream: empty until its first call, and
/// again after the upstream closed it.
#[derive(Default)]
pub struct UpstreamSlot(std::sync::Mutex<Option<SendRequest<ResponseBody>>>);

impl UpstreamSlot {
    fn take(&self) -> Option<SendRequest<ResponseBody>> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }

    fn put(&self, sender: SendRequest<ResponseBody>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(sender);
        }
    }
}

/// Why a call could not be forwarded.
#[derive(Debug, thiserror::Error)]
enum ForwardError {
    #[error("cannot connect to {address}: {source}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Http(#[from] hyper::Error),
}

/// Proxies calls to a long-running function process.
pub struct HttpExecutor {
    config: Arc<Config>,
    authority: Authority,
    base_path: String,
    supervisor: Option<Arc<Supervisor>>,
}

impl HttpExecutor {
    /// Starts `fprocess` (when set) and prepares the connection pool.
    pub fn start(config: Arc<Config>) -> HttpExecutor {
        let upstream = config
            .upstream_url
            .clone()
            .unwrap_or_else(|| Uri::from_static("http://127.0.0.1:5000"));
        let authority = upstream
            .authority()
            .cloned()
            .unwrap_or_else(|| Authority::from_static("127.0.0.1:5000"));
        let base_path = upstream.path().trim_end_matches('/').to_string();

        let supervisor = (!config.process.is_empty()).then(|| {
            let supervisor = Arc::new(Supervisor {
                argv: config.process.clone(),
                relay: LogRelay {
                    prefix: config.prefix_logs,
                    max_line: config.log_buffer_size,
                },
                pgid: AtomicI32::new(0),
                stopping: AtomicBool::new(false),
            });
            tokio::spawn(supervisor.clone().run());
            supervisor
        });

        HttpExecutor {
            config,
            authority,
            base_path,
            supervisor,
        }
    }

    /// Waits until the upstream accepts connections, so the watchdog reports healthy only when
    /// calls can succeed. Tries every millisecond for the first 100 ms (a refused loopback
    /// connect costs microseconds, and this is on the cold-start path), then every 10 ms.
    pub async fn wait_ready(&self) {
        let address = self.authority.as_str().to_string();
        let started = std::time::Instant::now();
        let mut next_report = Duration::from_secs(5);
        loop {
            if tokio::net::TcpStream::connect(&address).await.is_ok() {
                return;
            }
            let waited = started.elapsed();
            let pause = if waited < Duration::from_millis(100) {
                Duration::from_millis(1)
            } else {
                Duration::from_millis(10)
            };
            tokio::time::sleep(pause).await;
            if waited >= next_report {
                log_line!("upstream {address} not accepting connections after {waited:?}");
                next_report *= 2;
            }
        }
    }

    /// Forwards one call over the inbound connection's `slot`.
    pub async fn call(
        &self,
        request: Request<Incoming>,
        slot: &UpstreamSlot,
    ) -> Response<ResponseBody> {
        let started = Instant::now();
        let timeout = effective_timeout(self.config.exec_timeout, &request);
        let (mut parts, incoming) = request.into_parts();
        let method = parts.method.clone();
        // For the log line; the request's own target is rewritten below.
        let target = parts.uri.clone();
        let path = target.path();
        let call_id = self
            .config
            .log_callid
            .then(|| parts.headers.get("X-Call-Id").cloned())
            .flatten();

        parts.uri = match self.upstream_uri(&parts.uri) {
            Ok(uri) => uri,
            Err(err) => {
                return body::text(
                    StatusCode::BAD_REQUEST,
                    format!("bad request path: {err}\n"),
                )
            }
        };
        strip_hop_by_hop(&mut parts.headers);
        if !parts.headers.contains_key(HOST) {
            if let Ok(host) = HeaderValue::from_str(self.authority.as_str()) {
                parts.headers.insert(HOST, host);
            }
        }

        let outgoing: ResponseBody = if self.config.buffer_http {
            match body::collect_capped(incoming, self.config.request_buffer_limit).await {
                Ok(bytes) => {
                    parts.headers.remove(http::header::TRANSFER_ENCODING);
                    parts
                        .headers
                        .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
                    body::full(bytes)
                }
                Err(answer) => return answer,
            }
        } else {
            incoming.map_err(|e| Box::new(e) as BoxError).boxed_unsync()
        };

        let forwarded = self.forward(slot, Request::from_parts(parts, outgoing));
        let answered = match timeout {
            Some(limit) => tokio::time::timeout(limit, forwarded).await.ok(),
            None => Some(forwarded.await),
        };
        let took = Seconds::<4>(started.elapsed());
        let prefix = call_id
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(|id| format!("{id} "))
            .unwrap_or_default();
        match answered {
            Some(Ok(upstream)) => {
                let (mut parts, incoming) = upstream.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                let length = parts
                    .headers
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                log_line!(
                    "{prefix}{method} {path} - {} - ContentLength: {length}B ({took}s)",
                    StatusText(parts.status)
                );
                let remaining = timeout.map(|t| t.saturating_sub(started.elapsed()));
                let body = incoming.map_err(|e| Box::new(e) as BoxError).boxed_unsync();
                Response::from_parts(parts, GuardedBody::wrap(body, remaining, ()))
            }
            Some(Err(err)) => {
                log_line!("{prefix}{method} {path} - upstream error: {err} ({took}s)");
                let mut response = body::text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Can't reach service for: {path}.\n"),
                );
                response
                    .headers_mut()
                    .insert("X-OpenFaaS-Internal", HeaderValue::from_static("fwatchdog"));
                response
            }
            None => {
                log_line!("{prefix}{method} {path} - 504 Gateway Timeout ({took}s)");
                let mut response = body::text(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!(
                        "function timed out after {}s (exec_timeout)\n",
                        Seconds::<3>(took.0)
                    ),
                );
                response
                    .headers_mut()
                    .insert("X-OpenFaaS-Internal", HeaderValue::from_static("fwatchdog"));
                response
            }
        }
    }

    /// Asks the upstream's `ready_path`; `None` when no ready path is configured.
    pub async fn upstream_ready(&self) -> Option<bool> {
        let path = self.config.ready_path.as_ref()?;
        let uri = Uri::builder().path_and_query(path.as_str()).build().ok()?;
        let mut request = Request::get(uri).body(body::empty()).ok()?;
        if let Ok(host) = HeaderValue::from_str(self.authority.as_str()) {
            request.headers_mut().insert(HOST, host);
        }
        let probe = async {
            let mut sender = self.connect().await?;
            Ok::<_, ForwardError>(sender.send_request(request).await?)
        };
        let answer = tokio::time::timeout(Duration::from_secs(5), probe).await;
        Some(matches!(answer, Ok(Ok(r)) if r.status().is_success()))
    }

    /// Sends `request` over the slot's connection, or a new one when there is none or the
    /// upstream closed it before the request went out.
    async fn forward(
        &self,
        slot: &UpstreamSlot,
        mut request: Request<ResponseBody>,
    ) -> Result<Response<Incoming>, ForwardError> {
        if let Some(mut sender) = slot.take() {
            if sender.ready().await.is_ok() {
                match sender.try_send_request(request).await {
                    Ok(response) => {
                        slot.put(sender);
                        return Ok(response);
                    }
                    Err(mut failed) => match failed.take_message() {
                        // Never written: safe to send again on a fresh connection.
                        Some(unsent) => request = unsent,
                        None => return Err(failed.into_error().into()),
                    },
                }
            }
        }
        let mut sender = self.connect().await?;
        let response = sender.send_request(request).await?;
        slot.put(sender);
        Ok(response)
    }

    /// Opens a connection to the upstream; its I/O runs in a task of its own until either side
    /// drops it.
    async fn connect(&self) -> Result<SendRequest<ResponseBody>, ForwardError> {
        let address = self.authority.as_str();
        let connect_error = |source| ForwardError::Connect {
            address: address.to_string(),
            source,
        };
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(connect_error)?;
        stream.set_nodelay(true).map_err(connect_error)?;
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Stops the function process: SIGTERM, then SIGKILL after `grace`.
    pub async fn stop(&self, grace: Duration) {
        if let Some(supervisor) = &self.supervisor {
            supervisor.stop(grace).await;
        }
    }

    /// The request target sent upstream, in origin form (`/path?query`), under `upstream_url`'s
    /// path.
    fn upstream_uri(&self, incoming: &Uri) -> Result<Uri, http::Error> {
        if self.base_path.is_empty() && incoming.scheme().is_none() {
            // Already origin form with nothing to prepend: keep it as it is.
            return Ok(incoming.clone());
        }
        let path_and_query = incoming
            .path_and_query()
            .map(PathAndQuery::as_str)
            .unwrap_or("/");
        Uri::builder()
            .path_and_query(format!("{}{}", self.base_path, path_and_query))
            .build()
    }
}

/// `200 OK`, or the bare code when it has no standard reason.
struct StatusText(StatusCode);

impl std::fmt::Display for StatusText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.canonical_reason() {
            Some(reason) => write!(f, "{} {reason}", self.0.as_u16()),
            None => write!(f, "{}", self.0.as_u16()),
        }
    }
}

pub use faas_types::hop_by_hop::strip_hop_by_hop;

/// Keeps the long-running function process alive.
struct Supervisor {
    argv: Vec<String>,
    relay: LogRelay,
    pgid: AtomicI32,
    stopping: AtomicBool,
}

impl Supervisor {
    async fn run(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            // Through fwatchdog itself, so the function dies with us even on SIGKILL.
            let (program, args) = parent_death::wrap(&self.argv);
            let mut command = Command::new(program);
            command
                .args(args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .process_group(0)
                .kill_on_drop(true);
            log_line!("Forking - {}", self.argv.join(" "));
            let started = Instant::now();
            match command.spawn() {
                Ok(mut child) => {
                    let pid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
                    self.pgid.store(pid, Ordering::SeqCst);
                    if let Some(out) = child.stdout.take() {
                        tokio::spawn(self.relay.relay(out, "stdout"));
                    }
                    if let Some(err) = child.stderr.take() {
                        tokio::spawn(self.relay.relay(err, "stderr"));
                    }
                    let status = child.wait().await;
                    self.pgid.store(0, Ordering::SeqCst);
                    if self.stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let how = match status {
                        Ok(status) => describe_exit(status),
                        Err(err) => err.to_string(),
                    };
                    log_line!("Forked function has terminated: {how}; restarting in {backoff:?}");
                }
                Err(err) => {
                    log_line!(
                        "cannot start fprocess {:?}: {err}; retrying in {backoff:?}",
                        self.argv[0]
                    );
                }
            }
            if started.elapsed() > Duration::from_secs(30) {
                backoff = Duration::from_millis(100);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn stop(&self, grace: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        let pgid = self.pgid.load(Ordering::SeqCst);
        if pgid <= 0 {
            return;
        }
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && self.pgid.load(Ordering::SeqCst) != 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if self.pgid.load(Ordering::SeqCst) != 0 {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}
