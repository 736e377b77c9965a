//! Keep-alive HTTP/1.1 connections to replicas.
//!
//! Each replica keeps a stack of its idle connections ([`Connections`], held in the
//! balancer's per-replica state, so they go when the replica goes). A call takes the most
//! recently used one (or opens one), sends over it, and gives it back when the answer's body
//! has been passed on ([`Lease`]); a connection the replica closed, or one whose answer was
//! abandoned half-read, is dropped instead. That is all the pooling a proxy to loopback
//! replicas needs: no per-call key hashing, no shared map, one short lock per call.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::balancer::ReplicaState;

/// Idle connections kept per replica; more are closed when they come back.
const MAX_IDLE: usize = 1024;

/// How long opening a connection to a replica may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A replica's idle connections, most recently used last.
#[derive(Default)]
pub(crate) struct Connections {
    idle: Mutex<Vec<SendRequest<Body>>>,
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
                    idle.push(sender);
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
    }
}

/// Sends `request` (origin-form target, `Host` set) to `replica` at `address` over one of its
/// idle connections, or a new one. A request that was never written (the connection closed
/// under it) is sent again on another connection.
pub(crate) async fn send(
    replica: &Arc<ReplicaState>,
    address: SocketAddr,
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
    let mut sender = connect(address).await?;
    let response = sender.send_request(request).await?;
    Ok((response, lease(sender)))
}

/// Opens a connection; its I/O runs in a task of its own until the connection is dropped
/// (closed by either side, or let go by the pool).
async fn connect(address: SocketAddr) -> Result<SendRequest<Body>, ForwardError> {
    let stream = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect(address),
    )
    .await
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => return Err(ForwardError::Connect(err)),
        Err(_) => {
            return Err(ForwardError::Connect(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no connection within {CONNECT_TIMEOUT:?}"),
            )))
        }
    };
    stream.set_nodelay(true).map_err(ForwardError::Connect)?;
    let (sender, connection) = hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}
