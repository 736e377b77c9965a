//! The durable queue for asynchronous calls (`/async-function/*`) and the worker that runs
//! them.
//!
//! An asynchronous call flows through the modules in this order:
//! - [`call`] — [`QueuedCall`], what the gateway publishes (checked with
//!   [`validate_callback_url`] first, so a bad `X-Callback-Url` gets a 400).
//! - [`queue`] — the [`Queue`] trait: publish (durable before it returns), consume with a
//!   lease, ack / retry later / dead-letter, replay. Backends:
//!   - `embedded` (feature `embedded`, default) — one redb file, group-committed.
//!   - `nats` (feature `nats`) — NATS JetStream, for several gateways sharing one queue.
//! - [`worker`] — [`WorkerPool`]: per-queue consumers that call the function through an
//!   [`Invoker`] ([`GatewayInvoker`] calls the gateway's `/function/` proxy), retry with
//!   backoff ([`retry`]), post the result to the callback ([`callback`]), and settle the call.
//! - [`metrics`] — Prometheus families ([`QueueMetrics`]) and [`MeteredQueue`], which counts
//!   what passes through a queue.
//!
//! Delivery is at-least-once: a worker that dies mid-call leaves a lease that expires, and the
//! call runs again. Order is not promised.

pub mod call;
pub mod callback;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod error;
#[cfg(feature = "embedded")]
#[doc(hidden)]
pub mod fuzzing;
pub mod invoker;
pub mod metrics;
#[cfg(feature = "nats")]
pub mod nats;
pub mod queue;
pub mod retry;
pub mod worker;

pub use call::{
    validate_callback_url, validate_queue_name, DeadLetter, Delivery, InvalidCallbackUrl,
    QueueStats, QueuedCall, Receipt, DEFAULT_QUEUE,
};
pub use callback::CallbackPolicy;
#[cfg(feature = "embedded")]
pub use embedded::{EmbeddedConfig, EmbeddedQueue};
pub use error::QueueError;
pub use invoker::{GatewayInvoker, InvokeError, InvokeResponse, Invoker};
pub use metrics::{MeteredQueue, QueueMetrics};
#[cfg(feature = "nats")]
pub use nats::{NatsConfig, NatsQueue};
pub use queue::Queue;
pub use retry::{Backoff, RetryPolicy, DEFAULT_RETRY_CODES};
pub use worker::{WorkerConfig, WorkerError, WorkerPool, WorkerPoolConfig};
