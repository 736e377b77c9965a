//! Keep-alive HTTP/1.1 connections to replicas.
//!
//! Each replica keeps a stack of its idle connections ([`Connections`], held in the
//! balancer's per-replica state, so they go when the replica goes). A call takes the most
//! recently used one (or opens one), sends over it, and gives it back when the answer's body
//! has been passed on ([`Lease`]); a connection the replica closed, or one whose answer was
//! abandoned half-read, is dropped instead. That is all the pooling a proxy to loopback
//! replicas needs: no per-call key hashing, no shared map, one short lock per call.
//! Connections left idle for the gateway's `idle_connection_timeout` are closed by
//! [`Connections::close_idle`], which the balancer's reaper calls for every replica.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use faas_provider::{ReplicaAddress, UnixConnection};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::balancer::ReplicaState;

/// Idle connections kept per replica; more are closed when they come back.
const MAX_IDLE: usize = 1024;

/// How long opening a connection to a replica may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A replica's idle connections, most recently used last (so oldest first).
#[derive(Default)]
pub(crate) struct Connections {
    idle: Mutex<Vec<Idle>>,
}

/// An idle connection and when it was given back.
struct Idle {
    sender: SendRequest<Body>,
    since: Instant,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.idle.lock().map_or(0, |idle| idle.len());
        f.debug_struct("Connections").field("idle", &idle).finish()
    }
}

/// Why a call did not reach its replica.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    /// No connection could be opened: the replica is gone or not listening.
    #[error("{0}")]
    Connect(std::io::Error),
    /// The connection failed while the call was on it.
    #[error("{0}")]
    Http(#[from] hyper::Error),
}

impl ForwardError {
    pub(crate) fn is_connect(&self) -> bool {
        matches!(self, ForwardError::Connect(_))
    }
}

/// A connection in use by one call; given back to its replica when dropped (after the
/// answer's body), unless the replica closed it.
pub(crate) struct Lease {
    replica: Arc<ReplicaState>,
    sender: Option<SendRequest<Body>>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            if !sender.is_closed() {
                let mut idle = self
                    .replica
                    .connections
                    .idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if idle.len() < MAX_IDLE {
                    idle.push(Idle {
                        sender,
                        since: Instant::now(),
                    });
                }
            }
        }
    }
}

impl Connections {
    fn take_idle(&self) -> Option<SendRequest<Body>> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .map(|idle| idle.sender)
    }

    /// Closes the connections that have been idle for `timeout` or longer; returns how many.
    pub(crate) fn close_idle(&self, timeout: Duration) -> usize {
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // Given back in time order, so the stale ones are a prefix.
        let stale = idle.partition_point(|idle| now.duration_since(idle.since) >= timeout);
        // Dropping a connection's only sender ends its task, which closes the socket.
        idle.drain(..stale);
        stale
    }
}

/// Sends `request` (origin-form target, `Host` set) to `replica` over one of its idle
/// connections, or a new one. A request that was never written (the connection closed under
/// it) is sent again on another connection.
pub(crate) async fn send(
    replica: &Arc<ReplicaState>,
    mut request: Request<Body>,
) -> Result<(Response<Incoming>, Lease), ForwardError> {
    let lease = |sender| Lease {
        replica: replica.clone(),
        sender: Some(sender),
    };
    while let Some(mut sender) = replica.connections.take_idle() {
        // Given back when its last answer ended; it may need a moment to become idle.
        if sender.ready().await.is_err() {
            continue;
        }
        match sender.try_send_request(request).await {
            Ok(response) => return Ok((response, lease(sender))),
            Err(mut failed) => match failed.take_message() {
                Some(unsent) => request = unsent,
                None => return Err(failed.into_error().into()),
            },
        }
    }
    let mut sender = connect(replica.address()).await?;
    let response = sender.send_request(request).await?;
    Ok((response, lease(sender)))
}

/// Opens a connection over TCP or a Unix socket; its I/O runs in a task of its own until the
/// connection is dropped (closed by either side, or let go by the pool).
async fn connect(address: &ReplicaAddress) -> Result<SendRequest<Body>, ForwardError> {
    match address {
        ReplicaAddress::Tcp(address) => {
            let stream = within_timeout(tokio::net::TcpStream::connect(address)).await?;
            stream.set_nodelay(true).map_err(ForwardError::Connect)?;
            handshake(stream).await
        }
        ReplicaAddress::Unix(path) => {
            let stream = within_timeout(faas_provider::address::connect_unix(path)).await?;
            // Registered for reading only: no reactor wake-up each time the replica reads.
            handshake(UnixConnection::from_tokio(stream).map_err(ForwardError::Connect)?).await
        }
    }
}

async fn within_timeout<S>(
    connecting: impl std::future::Future<Output = std::io::Result<S>>,
) -> Result<S, ForwardError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(err)) => Err(ForwardError::Connect(err)),
        Err(_) => Err(ForwardError::Connect(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no connection within {CONNECT_TIMEOUT:?}"),
        ))),
    }
}

async fn handshake<S>(stream: S) -> Result<SendRequest<Body>, ForwardError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;
    use faas_provider::ReplicaRoute;
    use http_body_util::{BodyExt, Full};

    use super::*;
    use crate::balancer::InFlight;

    /// Answers `ok` on one connection, counted in `open` while it lasts.
    fn serve<S>(stream: S, open: Arc<AtomicUsize>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        open.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|_| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
            open.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// A replica on a free loopback port that answers `ok` and counts its open connections.
    async fn replica() -> (ReplicaAddress, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let open = Arc::new(AtomicUsize::new(0));
        let counter = open.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                serve(stream, counter.clone());
            }
        });
        (address.into(), open)
    }

    /// The same on a Unix socket in `dir`.
    async fn unix_replica(dir: &std::path::Path) -> (ReplicaAddress, Arc<AtomicUsize>) {
        let path = dir.join("watchdog.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let open = Arc::new(AtomicUsize::new(0));
        let counter = open.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                serve(stream, counter.clone());
            }
        });
        (ReplicaAddress::unix(path), open)
    }

    /// One call to the replica, its answer read to the end and its connection given back.
    async fn call(replica: &Arc<ReplicaState>) {
        let request = Request::builder()
            .uri("/")
            .header(http::header::HOST, replica.address().host())
            .body(Body::empty())
            .unwrap();
        let (response, lease) = send(replica, request).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "ok");
        drop(lease);
    }

    async fn wait_for(open: &AtomicUsize, want: usize) {
        for _ in 0..500 {
            if open.load(Ordering::SeqCst) == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "the replica has {} connections open, not {want}",
            open.load(Ordering::SeqCst)
        );
    }

    #[tokio::test]
    async fn unix_socket_replicas_are_called_over_kept_connections() {
        let dir = tempfile::tempdir().unwrap();
        let (address, open) = unix_replica(dir.path()).await;
        let replica_state = Arc::new(ReplicaState::new(address));
        for _ in 0..3 {
            call(&replica_state).await;
        }
        wait_for(&open, 1).await;
        assert_eq!(replica_state.connections.close_idle(Duration::ZERO), 1);
        wait_for(&open, 0).await;
        // Gone: a connect error, which makes the proxy ask the provider again.
        drop(dir);
        let request = Request::builder().uri("/").body(Body::empty()).unwrap();
        let err = send(&replica_state, request).await.err().unwrap();
        assert!(err.is_connect(), "{err}");
    }

    #[tokio::test]
    async fn connections_idle_for_the_timeout_are_closed_and_others_kept() {
        let (address, open) = replica().await;
        let replica_state = Arc::new(ReplicaState::new(address));
        call(&replica_state).await;
        call(&replica_state).await;
        // Reused: one connection for both calls, kept while it is fresh.
        wait_for(&open, 1).await;
        assert_eq!(
            replica_state
                .connections
                .close_idle(Duration::from_secs(60)),
            0
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(
            replica_state
                .connections
                .close_idle(Duration::from_secs(60)),
            0
        );
        assert_eq!(
            replica_state
                .connections
                .close_idle(Duration::from_millis(20)),
            1
        );
        // Closed for real: the replica sees the connection end.
        wait_for(&open, 0).await;
        // The next call opens a new one.
        call(&replica_state).await;
        wait_for(&open, 1).await;
    }

    #[tokio::test]
    async fn the_reaper_closes_idle_connections_of_every_replica() {
        let dir = tempfile::tempdir().unwrap();
        let (first, first_open) = replica().await;
        let (second, second_open) = unix_replica(dir.path()).await;
        let in_flight = Arc::new(InFlight::default());
        let endpoints: Vec<ReplicaRoute> = [first, second]
            .into_iter()
            .map(|address| ReplicaRoute {
                instance: address.to_string(),
                address,
            })
            .collect();
        let set = in_flight.replica_set(&endpoints);
        for _ in 0..2 {
            let guard = set.pick().unwrap();
            call(guard.replica()).await;
        }
        wait_for(&first_open, 1).await;
        wait_for(&second_open, 1).await;
        in_flight.reap_idle_connections(Duration::from_millis(200));
        wait_for(&first_open, 0).await;
        wait_for(&second_open, 0).await;
    }
}
