//! The watchdog's HTTP server, wired in the order a call flows:
//! accept -> health/ready routes -> in-flight limit -> executor -> metrics, with the lock file
//! marking readiness and SIGTERM draining in-flight calls.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use faas_provider::UnixConnection;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream, UnixListener};

use crate::body::{self, GuardedBody, ResponseBody};
use crate::config::{Config, Mode};
use crate::executor::http::UpstreamSlot;
use crate::executor::Executor;
use crate::log_line;
use crate::metrics::Metrics;

/// Why the watchdog could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot listen on unix socket {path}: {source}")]
    BindUnix {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write lock file {path}: {source} (set suppress_lock=true to run without one)")]
    LockFile {
        path: String,
        source: std::io::Error,
    },
}

/// How the watchdog was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// SIGTERM: stay up, unhealthy, for `healthcheck_interval`, then drain.
    Drain,
    /// The platform that ran us is gone: drain at once.
    Immediate,
}

/// State shared by every connection.
struct Shared {
    config: Arc<Config>,
    executor: Executor,
    metrics: Metrics,
    in_flight: AtomicUsize,
    ready: AtomicBool,
    accepting: AtomicBool,
}

/// Where calls come in: a TCP port, or a Unix socket (removed when the watchdog stops).
enum CallListener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

/// One accepted call connection.
enum Accepted {
    Tcp(TcpStream),
    Unix(UnixConnection),
}

impl CallListener {
    async fn accept(&self) -> std::io::Result<Accepted> {
        match self {
            CallListener::Tcp(listener) => {
                let (stream, _) = listener.accept().await?;
                let _ = stream.set_nodelay(true);
                Ok(Accepted::Tcp(stream))
            }
            // Re-registered for reading only: no reactor wake-up each time faasd reads an
            // answer (see faas_provider::unix_connection).
            CallListener::Unix(listener, _) => Ok(Accepted::Unix(UnixConnection::from_tokio(
                listener.accept().await?.0,
            )?)),
        }
    }
}

impl Drop for CallListener {
    fn drop(&mut self) {
        if let CallListener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Binds a Unix socket at `path`, replacing a socket an earlier run left there (anything
/// else at the path is an error), readable and writable by the watchdog's own user only.
fn bind_unix(path: &Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "something that is not a socket is there",
            ))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// The call socket ([`Config::unix_socket`]) bound ahead of [`Watchdog::bind_with`], before
/// the watchdog gives up root for the function's uid: the socket and the directory it is in
/// can then stay root's, out of the function's reach.
#[derive(Debug)]
pub struct CallSocket {
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
}

impl CallSocket {
    /// Binds `config.unix_socket`; `None` when the watchdog listens on TCP.
    pub fn bind(config: &Config) -> Result<Option<CallSocket>, ServeError> {
        let Some(path) = &config.unix_socket else {
            return Ok(None);
        };
        let listener = bind_unix(path).map_err(|source| ServeError::BindUnix {
            path: path.clone(),
            source,
        })?;
        Ok(Some(CallSocket {
            listener,
            path: path.clone(),
        }))
    }
}

/// A bound, not yet serving watchdog: its addresses are known before it runs.
pub struct Watchdog {
    config: Arc<Config>,
    listener: CallListener,
    metrics_listener: Option<TcpListener>,
}

impl Watchdog {
    /// Binds the call port (or Unix socket) and, when configured, the metrics port.
    pub async fn bind(config: Config) -> Result<Watchdog, ServeError> {
        let socket = CallSocket::bind(&config)?;
        Watchdog::bind_with(config, socket).await
    }

    /// Like [`Watchdog::bind`], with the Unix socket already bound ([`CallSocket::bind`]).
    pub async fn bind_with(
        config: Config,
        socket: Option<CallSocket>,
    ) -> Result<Watchdog, ServeError> {
        let socket = match socket {
            Some(socket) => Some(socket),
            None => CallSocket::bind(&config)?,
        };
        let listener = match socket {
            Some(CallSocket { listener, path }) => CallListener::Unix(
                UnixListener::from_std(listener).map_err(|source| ServeError::BindUnix {
                    path: path.clone(),
                    source,
                })?,
                path,
            ),
            None => {
                let address = SocketAddr::new(config.bind_address, config.port);
                CallListener::Tcp(
                    TcpListener::bind(address)
                        .await
                        .map_err(|source| ServeError::Bind { address, source })?,
                )
            }
        };
        let metrics_listener = match config.metrics_port {
            Some(port) => {
                let address = SocketAddr::new(config.bind_address, port);
                Some(
                    TcpListener::bind(address)
                        .await
                        .map_err(|source| ServeError::Bind { address, source })?,
                )
            }
            None => None,
        };
        Ok(Watchdog {
            config: Arc::new(config),
            listener,
            metrics_listener,
        })
    }

    /// The call port's address (`None` on a Unix socket).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.listener {
            CallListener::Tcp(listener) => listener.local_addr().ok(),
            CallListener::Unix(..) => None,
        }
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` resolves, then drains as OpenFaaS's watchdogs do: mark unhealthy
    /// and remove the lock file, keep serving for `healthcheck_interval` so load balancers
    /// notice, stop accepting, and let in-flight calls finish within `write_timeout`.
    pub async fn serve(self, shutdown: impl Future<Output = Shutdown>) -> Result<(), ServeError> {
        let config = self.config.clone();
        let shared = Arc::new(Shared {
            executor: Executor::start(config.clone()),
            config: config.clone(),
            metrics: Metrics::new(),
            in_flight: AtomicUsize::new(0),
            ready: AtomicBool::new(false),
            accepting: AtomicBool::new(true),
        });
        let listening_on = match &self.listener {
            CallListener::Tcp(listener) => listener.local_addr().ok().map(|a| a.to_string()),
            CallListener::Unix(_, path) => Some(format!("unix:{}", path.display())),
        };
        if let Some(address) = listening_on {
            log_line!(
                "Listening on {address} in {} mode (read_timeout {:?}, write_timeout {:?}, exec_timeout {:?})",
                config.mode.name(),
                config.read_timeout,
                config.write_timeout,
                config.exec_timeout
            );
        }
        if let Some(listener) = self.metrics_listener {
            if let Ok(address) = listener.local_addr() {
                log_line!("Metrics listening on {address}");
            }
            tokio::spawn(serve_metrics(listener, shared.metrics.clone()));
        }

        let (ready_tx, mut ready_rx) = tokio::sync::oneshot::channel();
        {
            let shared = shared.clone();
            tokio::spawn(async move {
                shared.executor.wait_ready().await;
                let result = mark_ready(&shared.config);
                shared.ready.store(result.is_ok(), Ordering::SeqCst);
                let _ = ready_tx.send(result);
            });
        }

        let graceful = GracefulShutdown::new();
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .keep_alive(true)
            .header_read_timeout(nonzero(config.read_timeout));

        tokio::pin!(shutdown);
        let mut drain_deadline: Option<tokio::time::Instant> = None;
        let mut lock_result = None;
        loop {
            let draining = drain_deadline.is_some();
            let drain_done = tokio::time::sleep_until(
                drain_deadline
                    .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400)),
            );
            tokio::select! {
                accepted = self.listener.accept() => {
                    match accepted {
                        Ok(Accepted::Tcp(stream)) => spawn_connection(&http, &graceful, &shared, stream),
                        Ok(Accepted::Unix(stream)) => spawn_connection(&http, &graceful, &shared, stream),
                        Err(_) => {
                            // Out of descriptors or similar: back off instead of spinning.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
                result = &mut ready_rx, if lock_result.is_none() => {
                    result.unwrap_or(Ok(()))?;
                    lock_result = Some(());
                }
                how = &mut shutdown, if !draining => {
                    let wait = match how {
                        Shutdown::Drain => config.healthcheck_interval,
                        Shutdown::Immediate => Duration::ZERO,
                    };
                    if how == Shutdown::Drain {
                        log_line!("SIGTERM: no new connections in {wait:?}");
                    } else {
                        log_line!("Parent process exited: shutting down");
                    }
                    shared.accepting.store(false, Ordering::SeqCst);
                    let _ = std::fs::remove_file(config.lock_path());
                    drain_deadline = Some(tokio::time::Instant::now() + wait);
                }
                _ = drain_done, if draining => break,
            }
        }
        drop(self.listener);
        log_line!(
            "No new connections allowed, draining {} in-flight calls for up to {:?}",
            shared.in_flight.load(Ordering::SeqCst),
            config.write_timeout
        );
        let drain_limit = nonzero(config.write_timeout).unwrap_or(Duration::from_secs(3600));
        if tokio::time::timeout(drain_limit, graceful.shutdown())
            .await
            .is_err()
        {
            log_line!("write_timeout passed with calls still in flight; exiting");
        }
        shared.executor.stop(Duration::from_secs(2)).await;
        log_line!("Exiting.");
        crate::log::flush();
        Ok(())
    }
}

/// Serves one call connection in a task of its own, watched for the drain.
fn spawn_connection<S>(
    http: &http1::Builder,
    graceful: &GracefulShutdown,
    shared: &Arc<Shared>,
    stream: S,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let shared = shared.clone();
    let slot = Arc::new(UpstreamSlot::default());
    let service = service_fn(move |request| {
        let shared = shared.clone();
        let slot = slot.clone();
        async move { Ok::<_, Infallible>(route(&shared, &slot, request).await) }
    });
    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
    tokio::spawn(async move {
        let _ = connection.await;
    });
}

fn nonzero(duration: Duration) -> Option<Duration> {
    (!duration.is_zero()).then_some(duration)
}

fn mark_ready(config: &Config) -> Result<(), ServeError> {
    if config.suppress_lock {
        log_line!("Warning: \"suppress_lock\" is enabled. No automated health-checks will be in place for your function.");
        return Ok(());
    }
    let path = config.lock_path();
    log_line!("Writing lock-file to: {}", path.display());
    std::fs::write(&path, b"").map_err(|source| ServeError::LockFile {
        path: path.display().to_string(),
        source,
    })
}

async fn route(
    shared: &Arc<Shared>,
    slot: &UpstreamSlot,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    match request.uri().path() {
        "/_/health" => health(shared, request.method()),
        "/_/ready" => ready(shared, request.method()).await,
        _ => call(shared, slot, request).await,
    }
}

fn healthy(shared: &Shared) -> bool {
    shared.ready.load(Ordering::SeqCst)
        && shared.accepting.load(Ordering::SeqCst)
        && (shared.config.suppress_lock || shared.config.lock_path().exists())
}

fn health(shared: &Shared, method: &Method) -> Response<ResponseBody> {
    if method != Method::GET && method != Method::HEAD {
        return body::text(StatusCode::METHOD_NOT_ALLOWED, "");
    }
    if healthy(shared) {
        body::text(StatusCode::OK, "OK")
    } else {
        body::text(StatusCode::SERVICE_UNAVAILABLE, "")
    }
}

async fn ready(shared: &Shared, method: &Method) -> Response<ResponseBody> {
    if method != Method::GET && method != Method::HEAD {
        return body::text(StatusCode::METHOD_NOT_ALLOWED, "");
    }
    if !healthy(shared) {
        return body::text(StatusCode::SERVICE_UNAVAILABLE, "");
    }
    let limit = shared.config.max_inflight;
    if limit > 0 && shared.in_flight.load(Ordering::SeqCst) >= limit {
        return body::text(StatusCode::TOO_MANY_REQUESTS, "");
    }
    match shared.executor.upstream_ready().await {
        Some(false) => body::text(StatusCode::SERVICE_UNAVAILABLE, ""),
        _ => body::text(StatusCode::OK, "OK"),
    }
}

/// Releases a call's in-flight slot when its response body is finished or dropped.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.metrics.call_ended();
    }
}

async fn call(
    shared: &Arc<Shared>,
    slot: &UpstreamSlot,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let method = request.method().clone();
    let started = Instant::now();
    if shared.config.mode == Mode::Classic
        && !matches!(
            method,
            Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        )
    {
        let response = body::text(StatusCode::METHOD_NOT_ALLOWED, "");
        shared
            .metrics
            .observe(&method, response.status(), started.elapsed());
        return response;
    }

    let previous = shared.in_flight.fetch_add(1, Ordering::SeqCst);
    shared.metrics.call_started();
    let in_flight = InFlight(shared.clone());
    let limit = shared.config.max_inflight;
    if limit > 0 && previous >= limit {
        drop(in_flight);
        let response = body::text(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Concurrent request limit exceeded. Max concurrent requests: {limit}\n"),
        );
        shared
            .metrics
            .observe(&method, response.status(), started.elapsed());
        return response;
    }

    // In http mode a positive exec_timeout no longer than write_timeout already bounds the call
    // and its body (the executor arms it); arming a second timer per call would only cost.
    let config = &shared.config;
    let covered = config.mode == Mode::Http
        && !config.exec_timeout.is_zero()
        && config.exec_timeout <= config.write_timeout;
    let write_timeout = nonzero(config.write_timeout).filter(|_| !covered);
    let answered = match write_timeout {
        Some(limit) => tokio::time::timeout(limit, shared.executor.call(request, slot))
            .await
            .ok(),
        None => Some(shared.executor.call(request, slot).await),
    };
    let response = match answered {
        Some(response) => response,
        None => {
            log_line!("write_timeout of {write_timeout:?} passed before the function answered");
            let mut response = body::text(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "function did not answer within write_timeout ({:?})\n",
                    shared.config.write_timeout
                ),
            );
            response
                .headers_mut()
                .insert("X-OpenFaaS-Internal", HeaderValue::from_static("fwatchdog"));
            response
        }
    };
    shared
        .metrics
        .observe(&method, response.status(), started.elapsed());
    let remaining = write_timeout.map(|t| t.saturating_sub(started.elapsed()));
    let (parts, inner) = response.into_parts();
    Response::from_parts(parts, GuardedBody::wrap(inner, remaining, in_flight))
}

async fn serve_metrics(listener: TcpListener, metrics: Metrics) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let metrics = metrics.clone();
                async move {
                    let response = if request.uri().path() == "/metrics" {
                        let mut response = Response::new(body::full(metrics.encode()));
                        response.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            HeaderValue::from_static(
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            ),
                        );
                        response
                    } else {
                        body::text(StatusCode::NOT_FOUND, "404 page not found\n")
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            // A scraper sends its request at once; an idle or silent connection is closed
            // after 10 s rather than held forever.
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
