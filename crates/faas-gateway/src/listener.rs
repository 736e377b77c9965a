//! The listener in front of the router: an accept loop over hyper's HTTP/1 server with the
//! limits `axum::serve` does not have, so idle and slow clients cannot exhaust the server.
//!
//! - **Header-read timeout**: a connection must deliver each request head (from its first
//!   byte, or from the connection's start for the first request) within
//!   [`ListenerLimits::header_read_timeout`], else it is dropped (slowloris).
//! - **Idle timeout**: a keep-alive connection with no call in flight and no bytes either
//!   way for [`ListenerLimits::idle_timeout`] is closed.
//! - **Connection cap**: past [`ListenerLimits::max_connections`] open connections, a new
//!   one is answered `503` with `X-OpenFaaS-Internal: gateway` and closed, instead of taking
//!   file descriptors until nothing at all can be accepted.
//!
//! Each connection is watched by its own task on a coarse tick (a quarter of the shorter
//! timeout, at most a second), so a timeout fires within 1.25 times its length.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// How a listener guards itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Longest time a client may take to send a request head.
    pub header_read_timeout: Duration,
    /// Longest time a keep-alive connection may sit with nothing happening.
    pub idle_timeout: Duration,
    /// Most connections open at once; more are answered 503.
    pub max_connections: usize,
}

impl Default for ListenerLimits {
    /// 10 s for a request head (Go's servers are commonly given 5-10 s), 60 s idle, 10,000
    /// connections.
    fn default() -> Self {
        ListenerLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}

/// The answer to a connection over the cap.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
X-OpenFaaS-Internal: gateway\r\n\
Retry-After: 1\r\n\
Connection: close\r\n\
Content-Length: 57\r\n\r\n\
too many open connections to this server: try again soon\n";

/// Most refusals being written at once; connections past that are closed unanswered.
const MAX_REFUSING: usize = 256;

/// Serves `router` on `listener` until `shutdown` completes, then lets open connections
/// finish their calls (wrap the returned future in a timeout to bound that).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ListenerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    let refusing = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, done_rx) = watch::channel(());
    let mut accept_errors = AcceptErrors::default();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors, mostly: wait for some to close.
                accept_errors.note(&err);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        // Calls are small request/response exchanges: send each answer at once.
        let _ = stream.set_nodelay(true);
        let Some(slot) = Slot::take(&open, limits.max_connections) else {
            if let Some(refusal) = Slot::take(&refusing, MAX_REFUSING) {
                tokio::spawn(refuse(stream, refusal));
            }
            continue;
        };
        let connection = Connection {
            router: router.clone(),
            limits: limits.clone(),
            remote,
            _slot: slot,
            _done: done_rx.clone(),
        };
        tokio::spawn(connection.serve(stream, stop_rx.clone()));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(done_rx);
    done_tx.closed().await;
}

/// Logs accept failures at most once a second.
#[derive(Default)]
struct AcceptErrors {
    last: Option<Instant>,
}

impl AcceptErrors {
    fn note(&mut self, err: &std::io::Error) {
        if self
            .last
            .is_none_or(|last| last.elapsed() >= Duration::from_secs(1))
        {
            self.last = Some(Instant::now());
            tracing::warn!("cannot accept a connection: {err}");
        }
    }
}

/// One place in a counted pool, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(count: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(count.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers 503 to a connection over the cap: reads what the client sent first (so closing
/// does not reset the connection before the answer is read), writes, closes; 1 s at most.
async fn refuse(mut stream: TcpStream, _refusal: Slot) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let mut buffer = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await;
        stream.write_all(REFUSAL).await?;
        stream.shutdown().await
    })
    .await;
}

/// One accepted connection and what it needs.
struct Connection {
    router: Router,
    limits: ListenerLimits,
    remote: SocketAddr,
    _slot: Slot,
    /// Dropped when the connection ends: the server waits for all of them at shutdown.
    _done: watch::Receiver<()>,
}

impl Connection {
    async fn serve(self, stream: TcpStream, mut stop: watch::Receiver<bool>) {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: activity.clone(),
        });
        let (router, remote, calls) = (self.router.clone(), self.remote, activity.clone());
        let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            let call = CallGuard::start(&calls);
            let router = router.clone();
            async move {
                let response = router
                    .oneshot(request)
                    .await
                    .unwrap_or_else(|never| match never {});
                Ok::<_, Infallible>(
                    response.map(|body| Body::new(TrackedBody { body, _call: call })),
                )
            }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service)
            .with_upgrades();
        let mut connection = std::pin::pin!(connection);
        let shortest = self
            .limits
            .header_read_timeout
            .min(self.limits.idle_timeout);
        let tick = (shortest / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut closing = false;
        loop {
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = stop.wait_for(|stop| *stop), if !closing => {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
                _ = ticks.tick() => match activity.verdict(&self.limits) {
                    Verdict::Fine => {}
                    // Nothing in flight: hyper closes it at once.
                    Verdict::Idle if !closing => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                    Verdict::Idle => {}
                    Verdict::SlowHead => return,
                },
            }
        }
    }
}

/// What a connection has been doing, in milliseconds since it was accepted.
struct Activity {
    born: Instant,
    /// Last byte read or written, or call finished.
    last_io: AtomicU64,
    /// When the request head now being read began (1 + ms; 0 when none is being read).
    head_started: AtomicU64,
    /// Calls whose answers are not finished.
    in_flight: AtomicUsize,
}

enum Verdict {
    Fine,
    Idle,
    SlowHead,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            born: Instant::now(),
            last_io: AtomicU64::new(0),
            // The first head is awaited from the start: a client that connects and sends
            // nothing is a slow head, not a kept-alive connection.
            head_started: AtomicU64::new(1),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let _ =
                self.head_started
                    .compare_exchange(0, now + 1, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    fn verdict(&self, limits: &ListenerLimits) -> Verdict {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Verdict::Fine;
        }
        let now = self.now();
        let head = self.head_started.load(Ordering::Acquire);
        let elapsed = |since: u64| Duration::from_millis(now.saturating_sub(since));
        if head > 0 {
            if elapsed(head - 1) > limits.header_read_timeout {
                return Verdict::SlowHead;
            }
        } else if elapsed(self.last_io.load(Ordering::Relaxed)) > limits.idle_timeout {
            return Verdict::Idle;
        }
        Verdict::Fine
    }
}

/// A call on a connection, from its head until its answer's body is done.
struct CallGuard(Arc<Activity>);

impl CallGuard {
    fn start(activity: &Arc<Activity>) -> CallGuard {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.head_started.store(0, Ordering::Release);
        CallGuard(activity.clone())
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.wrote();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An answer's body that holds its call open until it is sent (or dropped).
struct TrackedBody {
    body: Body,
    _call: CallGuard,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, noting each read and write in the connection's [`Activity`].
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
