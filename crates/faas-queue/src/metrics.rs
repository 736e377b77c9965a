//! Prometheus metrics of the queue and its worker, and [`MeteredQueue`], the wrapper that
//! counts what passes through a [`Queue`].
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `faas_queue_accepted_total` | `queue` | calls published |
//! | `faas_queue_depth` | `queue` | calls ready, delayed or leased (refreshed by the worker) |
//! | `faas_queue_dead_letter_depth` | `queue` | dead letters held (refreshed by the worker) |
//! | `faas_queue_inflight` | `queue` | calls the worker is running now |
//! | `faas_queue_invocations_total` | `queue`, `code` | function attempts by status |
//! | `faas_queue_retries_total` | `queue` | calls put back for a retry |
//! | `faas_queue_dead_letters_total` | `queue` | calls dead-lettered |
//! | `faas_queue_callbacks_total` | `queue`, `code` | callback posts by the receiver's status (`error` when none) |

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::{DeadLetter, Delivery, Queue, QueueError, QueueStats, QueuedCall};

/// `{queue}`
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    /// Queue name.
    pub queue: String,
}

/// `{queue, code}`
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    /// Queue name.
    pub queue: String,
    /// HTTP status, or `error` when there was none.
    pub code: String,
}

/// The queue's metric families. Cloning shares them.
#[derive(Clone, Debug, Default)]
pub struct QueueMetrics {
    accepted: Family<QueueLabels, Counter>,
    depth: Family<QueueLabels, Gauge>,
    dead_letter_depth: Family<QueueLabels, Gauge>,
    inflight: Family<QueueLabels, Gauge>,
    invocations: Family<CodeLabels, Counter>,
    retries: Family<QueueLabels, Counter>,
    dead_letters: Family<QueueLabels, Counter>,
    callbacks: Family<CodeLabels, Counter>,
}

fn labels(queue: &str) -> QueueLabels {
    QueueLabels {
        queue: queue.to_string(),
    }
}

impl QueueMetrics {
    /// New families, registered into `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = QueueMetrics::default();
        registry.register(
            "faas_queue_accepted",
            "Asynchronous calls accepted onto the queue",
            metrics.accepted.clone(),
        );
        registry.register(
            "faas_queue_depth",
            "Calls ready, delayed or leased",
            metrics.depth.clone(),
        );
        registry.register(
            "faas_queue_dead_letter_depth",
            "Dead letters held",
            metrics.dead_letter_depth.clone(),
        );
        registry.register(
            "faas_queue_inflight",
            "Calls the queue worker is running",
            metrics.inflight.clone(),
        );
        registry.register(
            "faas_queue_invocations",
            "Function attempts made by the queue worker, by status",
            metrics.invocations.clone(),
        );
        registry.register(
            "faas_queue_retries",
            "Calls put back on the queue for a retry",
            metrics.retries.clone(),
        );
        registry.register(
            "faas_queue_dead_letters",
            "Calls moved to the dead letters",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "faas_queue_callbacks",
            "Callback posts, by the receiver's status (error when there was none)",
            metrics.callbacks.clone(),
        );
        metrics
    }

    /// Makes the per-queue series of `queue` exist (at 0), so dashboards see the queue before
    /// anything happened on it.
    pub(crate) fn touch(&self, queue: &str) {
        let labels = labels(queue);
        drop(self.accepted.get_or_create(&labels));
        drop(self.retries.get_or_create(&labels));
        drop(self.dead_letters.get_or_create(&labels));
        drop(self.inflight.get_or_create(&labels));
    }

    pub(crate) fn observe_stats(&self, queue: &str, stats: &QueueStats) {
        self.depth
            .get_or_create(&labels(queue))
            .set(stats.depth() as i64);
        self.dead_letter_depth
            .get_or_create(&labels(queue))
            .set(stats.dead_letters as i64);
    }

    pub(crate) fn inflight(&self, queue: &str) -> Gauge {
        self.inflight.get_or_create(&labels(queue)).clone()
    }

    pub(crate) fn invocation(&self, queue: &str, code: &str) {
        self.invocations
            .get_or_create(&CodeLabels {
                queue: queue.to_string(),
                code: code.to_string(),
            })
            .inc();
    }

    pub(crate) fn callback(&self, queue: &str, code: &str) {
        self.callbacks
            .get_or_create(&CodeLabels {
                queue: queue.to_string(),
                code: code.to_string(),
            })
            .inc();
    }

    /// Calls accepted on `queue` so far (for tests and status pages).
    pub fn accepted(&self, queue: &str) -> u64 {
        self.accepted.get_or_create(&labels(queue)).get()
    }

    /// Retries on `queue` so far.
    pub fn retries(&self, queue: &str) -> u64 {
        self.retries.get_or_create(&labels(queue)).get()
    }

    /// Dead letters made on `queue` so far.
    pub fn dead_lettered(&self, queue: &str) -> u64 {
        self.dead_letters.get_or_create(&labels(queue)).get()
    }

    /// Callback posts on `queue` that got `code` (`"200"`, `"error"`, ...).
    pub fn callbacks(&self, queue: &str, code: &str) -> u64 {
        self.callbacks
            .get_or_create(&CodeLabels {
                queue: queue.to_string(),
                code: code.to_string(),
            })
            .get()
    }
}

/// A [`Queue`] that counts accepted calls, retries and dead letters, and publishes depth
/// gauges whenever [`Queue::stats`] is asked (the worker asks every few seconds).
pub struct MeteredQueue {
    inner: Arc<dyn Queue>,
    metrics: QueueMetrics,
}

impl MeteredQueue {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Queue>, metrics: QueueMetrics) -> Self {
        MeteredQueue { inner, metrics }
    }
}

#[async_trait]
impl Queue for MeteredQueue {
    async fn publish(&self, call: QueuedCall) -> Result<(), QueueError> {
        let queue = call.queue.clone();
        self.inner.publish(call).await?;
        self.metrics.accepted.get_or_create(&labels(&queue)).inc();
        Ok(())
    }

    async fn consume(
        &self,
        queue: &str,
        lease: Duration,
        wait: Duration,
    ) -> Result<Option<Delivery>, QueueError> {
        self.inner.consume(queue, lease, wait).await
    }

    async fn extend_lease(&self, delivery: &Delivery, lease: Duration) -> Result<(), QueueError> {
        self.inner.extend_lease(delivery, lease).await
    }

    async fn ack(&self, delivery: Delivery) -> Result<(), QueueError> {
        self.inner.ack(delivery).await
    }

    async fn retry_later(&self, delivery: Delivery, delay: Duration) -> Result<(), QueueError> {
        let queue = delivery.call.queue.clone();
        self.inner.retry_later(delivery, delay).await?;
        self.metrics.retries.get_or_create(&labels(&queue)).inc();
        Ok(())
    }

    async fn dead_letter(&self, delivery: Delivery, reason: &str) -> Result<(), QueueError> {
        let queue = delivery.call.queue.clone();
        self.inner.dead_letter(delivery, reason).await?;
        self.metrics
            .dead_letters
            .get_or_create(&labels(&queue))
            .inc();
        Ok(())
    }

    async fn dead_letters(&self, queue: Option<&str>) -> Result<Vec<DeadLetter>, QueueError> {
        self.inner.dead_letters(queue).await
    }

    async fn dead_letters_page(
        &self,
        queue: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        self.inner.dead_letters_page(queue, offset, limit).await
    }

    async fn replay(&self, id: &str) -> Result<usize, QueueError> {
        self.inner.replay(id).await
    }

    async fn discard(&self, id: &str) -> Result<usize, QueueError> {
        self.inner.discard(id).await
    }

    async fn queues(&self) -> Result<Vec<String>, QueueError> {
        self.inner.queues().await
    }

    async fn stats(&self, queue: &str) -> Result<QueueStats, QueueError> {
        let stats = self.inner.stats(queue).await?;
        self.metrics.observe_stats(queue, &stats);
        Ok(stats)
    }
}
