//! The [`Queue`] trait: the seam between the gateway (publish), the worker (consume and
//! settle) and a storage backend. A new backend implements this trait behind a cargo feature.

use std::time::Duration;

use async_trait::async_trait;

use crate::{DeadLetter, Delivery, QueueError, QueueStats, QueuedCall};

/// A durable queue of asynchronous calls with at-least-once delivery.
///
/// A call is consumed by leasing it: it stays invisible to other consumers until it is
/// settled or the lease expires, and then it is delivered again. Every consumed call must be
/// settled exactly one way: [`ack`](Queue::ack) (done), [`retry_later`](Queue::retry_later)
/// (visible again after a delay) or [`dead_letter`](Queue::dead_letter) (kept aside until
/// [`replay`](Queue::replay)ed). Delivery order is not promised.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Stores the call on its queue (`call.queue`). When this returns `Ok` the call survives a
    /// crash of this process (embedded: synced to disk; NATS: stored by the server).
    async fn publish(&self, call: QueuedCall) -> Result<(), QueueError>;

    /// Leases the next visible call on `queue` for `lease`, waiting up to `wait` for one to
    /// become visible. `Ok(None)` when none did.
    async fn consume(
        &self,
        queue: &str,
        lease: Duration,
        wait: Duration,
    ) -> Result<Option<Delivery>, QueueError>;

    /// Keeps the lease for another `lease` from now (NATS: another ack-wait period), for calls
    /// that take long. [`QueueError::LeaseLost`] when it already expired and the call went to
    /// another consumer.
    async fn extend_lease(&self, delivery: &Delivery, lease: Duration) -> Result<(), QueueError>;

    /// The call is done: it is removed for good.
    async fn ack(&self, delivery: Delivery) -> Result<(), QueueError>;

    /// Stores `delivery.call` as it is now (the worker raised its `attempt`) and makes it
    /// visible again after `delay`.
    async fn retry_later(&self, delivery: Delivery, delay: Duration) -> Result<(), QueueError>;

    /// Moves the call to the dead letters with a reason.
    async fn dead_letter(&self, delivery: Delivery, reason: &str) -> Result<(), QueueError>;

    /// The dead letters of one queue, or of every queue for `None`, oldest first.
    async fn dead_letters(&self, queue: Option<&str>) -> Result<Vec<DeadLetter>, QueueError>;

    /// One page of [`Queue::dead_letters`]: at most `limit` letters after the first `offset`
    /// (bodies may be large: the API serves the list in pages). The default reads the whole
    /// list; backends that can should read only the page.
    async fn dead_letters_page(
        &self,
        queue: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        let all = self.dead_letters(queue).await?;
        Ok(all.into_iter().skip(offset).take(limit).collect())
    }

    /// Moves the dead letters whose call id is `id` back to their queue with `attempt` reset to
    /// 0. Returns how many moved; [`QueueError::NotFound`] when none has that id.
    async fn replay(&self, id: &str) -> Result<usize, QueueError>;

    /// Deletes the dead letters whose call id is `id`. Returns how many were deleted;
    /// [`QueueError::NotFound`] when none has that id.
    async fn discard(&self, id: &str) -> Result<usize, QueueError>;

    /// The names of the queues that hold or have held calls (the worker starts one consumer
    /// group per name).
    async fn queues(&self) -> Result<Vec<String>, QueueError>;

    /// What `queue` holds now.
    async fn stats(&self, queue: &str) -> Result<QueueStats, QueueError>;

    /// Calls accepted on `queue` and not yet settled (ready, delayed and leased).
    async fn depth(&self, queue: &str) -> Result<u64, QueueError> {
        Ok(self.stats(queue).await?.depth())
    }
}
