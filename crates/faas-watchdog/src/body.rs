//! Response bodies: the boxed body every handler returns, plain-text answers, and the wrapper
//! that holds a call's in-flight slot and `write_timeout` deadline until the body is sent.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use tokio::time::Sleep;

/// The error type carried by response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type every handler answers with.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// Reads a request body whole, up to `limit` bytes (0: no limit). `Err` is the answer to send:
/// 413 past the limit, 400 when the body cannot be read.
pub async fn collect_capped(
    incoming: hyper::body::Incoming,
    limit: usize,
) -> Result<Bytes, Response<ResponseBody>> {
    let limit = if limit == 0 { usize::MAX } else { limit };
    match http_body_util::Limited::new(incoming, limit)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body larger than {limit} bytes, the most this watchdog buffers \
                 (request_buffer_limit)\n"
            ),
        )),
        Err(err) => Err(text(
            StatusCode::BAD_REQUEST,
            format!("cannot read request body: {err}\n"),
        )),
    }
}

/// A body holding all of `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> ResponseBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A plain-text answer made by the watchdog itself.
pub fn text(status: StatusCode, message: impl Into<String>) -> Response<ResponseBody> {
    let mut response = Response::new(full(message.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Something to run when the body is finished or dropped (releases an in-flight slot).
pub trait OnDone: Send {}
impl<T: Send> OnDone for T {}

/// Wraps a body so that it ends with an error once `deadline` passes and keeps `guard` alive
/// until the body is done.
pub struct GuardedBody<G> {
    inner: ResponseBody,
    deadline: Option<Pin<Box<Sleep>>>,
    guard: Option<G>,
}

impl<G: OnDone + Unpin + 'static> GuardedBody<G> {
    pub fn wrap(inner: ResponseBody, deadline: Option<Duration>, guard: G) -> ResponseBody {
        GuardedBody {
            inner,
            deadline: deadline
                .filter(|d| !d.is_zero())
                .map(|d| Box::pin(tokio::time::sleep(d))),
            guard: Some(guard),
        }
        .boxed_unsync()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("write_timeout passed before the response was sent")]
struct WriteTimeout;

impl<G: OnDone + Unpin> Body for GuardedBody<G> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Some(deadline) = this.deadline.as_mut() {
            if deadline.as_mut().poll(cx).is_ready() {
                this.guard = None;
                return Poll::Ready(Some(Err(Box::new(WriteTimeout))));
            }
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) | Poll::Ready(Some(Err(_))) = &polled {
            this.guard = None;
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
