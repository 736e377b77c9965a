//! The embedded backend: every queue in one redb file under a directory, written by one
//! thread that gathers concurrent operations into one write transaction per sync (group
//! commit), so a publish returns only after its call is on disk while many publishes share
//! one `fsync`.
//!
//! Ready, delayed and leased calls are tracked in memory (`index.rs`); calls and their
//! visibility times are on disk. Leases are in memory only: after a crash or restart every
//! unsettled call is delivered again (at-least-once), and delayed retries stay delayed.

mod index;
pub(crate) mod record;
mod writer;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use redb::{Database, ReadableTable, TableDefinition};
use tokio::sync::{mpsc, oneshot};

use crate::call::ReceiptInner;
use crate::{DeadLetter, Delivery, Queue, QueueError, QueueStats, QueuedCall, Receipt};
use index::Index;
use writer::Op;

/// Calls waiting or leased: seq -> record (visible-at ms, queue, call JSON).
const CALLS: TableDefinition<u64, &[u8]> = TableDefinition::new("calls");
/// Dead letters: seq -> record (dead-at ms, queue, dead letter JSON).
const DEAD: TableDefinition<u64, &[u8]> = TableDefinition::new("dead");

/// Where and how the embedded queue stores its calls.
#[derive(Clone, Debug)]
pub struct EmbeddedConfig {
    /// Directory of the queue; the file is `queue.redb` inside it (created if missing).
    pub dir: PathBuf,
    /// Most operations committed in one transaction.
    pub max_batch: usize,
    /// redb's page cache, in bytes.
    pub cache_bytes: usize,
}

impl EmbeddedConfig {
    /// Defaults for a queue under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        EmbeddedConfig {
            dir: dir.into(),
            max_batch: 1024,
            cache_bytes: 32 * 1024 * 1024,
        }
    }
}

/// The on-disk queue. Open it once per directory (redb locks the file); share it as
/// `Arc<EmbeddedQueue>` or `Arc<dyn Queue>`. Dropping the last handle waits for the writer to
/// finish its batch and closes the file.
pub struct EmbeddedQueue {
    shared: Arc<Shared>,
    ops: Option<mpsc::UnboundedSender<Op>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

pub(crate) struct Shared {
    db: Database,
    index: Mutex<Index>,
}

impl Shared {
    fn index(&self) -> MutexGuard<'_, Index> {
        // A panic while holding the lock leaves the index as consistent as any step of it.
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `now + lease`, saturating far in the future instead of overflowing.
fn lease_end(now: Instant, lease: Duration) -> Instant {
    now.checked_add(lease)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl EmbeddedQueue {
    /// Opens (or creates) the queue under `config.dir` and rebuilds its index: every call on
    /// disk is ready again, except retries whose delay has not passed.
    pub async fn open(config: EmbeddedConfig) -> Result<Self, QueueError> {
        tokio::task::spawn_blocking(move || Self::open_blocking(config))
            .await
            .map_err(|err| QueueError::Storage(format!("open task failed: {err}")))?
    }

    fn open_blocking(config: EmbeddedConfig) -> Result<Self, QueueError> {
        std::fs::create_dir_all(&config.dir)?;
        let path = config.dir.join("queue.redb");
        let db = Database::builder()
            .set_cache_size(config.cache_bytes)
            .create(&path)
            .map_err(|err| QueueError::Storage(format!("{}: {err}", path.display())))?;
        let txn = db.begin_write()?;
        txn.open_table(CALLS)?;
        txn.open_table(DEAD)?;
        txn.commit()?;

        let mut index = Index::default();
        let mut next_seq = 1;
        let now = now_ms();
        let txn = db.begin_read()?;
        let calls = txn.open_table(CALLS)?;
        for entry in calls.iter()? {
            let (key, value) = entry?;
            let seq = key.value();
            let record = record::decode(value.value())?;
            index.queue(record.queue).insert(seq, record.stamp_ms, now);
            next_seq = next_seq.max(seq + 1);
        }
        let dead = txn.open_table(DEAD)?;
        for entry in dead.iter()? {
            let (key, value) = entry?;
            let record = record::decode(value.value())?;
            index.queue(record.queue).dead += 1;
            next_seq = next_seq.max(key.value() + 1);
        }
        drop((calls, dead, txn));

        let shared = Arc::new(Shared {
            db,
            index: Mutex::new(index),
        });
        let (ops, rx) = mpsc::unbounded_channel();
        let writer = writer::Writer::new(shared.clone(), next_seq, config.max_batch);
        let writer = std::thread::Builder::new()
            .name("faas-queue-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(EmbeddedQueue {
            shared,
            ops: Some(ops),
            writer: Some(writer),
        })
    }

    async fn submit(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<usize, QueueError>>) -> Op,
    ) -> Result<usize, QueueError> {
        let (reply, answer) = oneshot::channel();
        self.ops
            .as_ref()
            .ok_or(QueueError::Closed)?
            .send(make(reply))
            .map_err(|_| QueueError::Closed)?;
        answer.await.map_err(|_| QueueError::Closed)?
    }

    /// Reads a call on a blocking thread: a read transaction may touch the disk, which must
    /// not stall the (often single-threaded) runtime serving calls.
    async fn read_call(&self, seq: u64) -> Result<Option<QueuedCall>, QueueError> {
        let shared = self.shared.clone();
        blocking(move || {
            let txn = shared.db.begin_read()?;
            let table = txn.open_table(CALLS)?;
            let Some(value) = table.get(seq)? else {
                return Ok(None);
            };
            let record = record::decode(value.value())?;
            Ok(Some(serde_json::from_slice(record.json)?))
        })
        .await
    }

    fn lease_of(delivery: &Delivery) -> Result<(u64, u64), QueueError> {
        match delivery.receipt.0 {
            ReceiptInner::Embedded { seq, lease } => Ok((seq, lease)),
            #[allow(unreachable_patterns)]
            _ => Err(QueueError::InvalidCall(
                "this delivery did not come from the embedded queue".into(),
            )),
        }
    }
}

/// Runs `work` on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, QueueError> + Send + 'static,
) -> Result<T, QueueError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| QueueError::Storage(format!("queue read task failed: {err}")))?
}

impl Drop for EmbeddedQueue {
    fn drop(&mut self) {
        drop(self.ops.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

#[async_trait]
impl Queue for EmbeddedQueue {
    async fn publish(&self, call: QueuedCall) -> Result<(), QueueError> {
        call.validate()?;
        let json = serde_json::to_vec(&call)?;
        let bytes = record::encode(0, &call.queue, &json);
        self.submit(|reply| Op::Publish {
            queue: call.queue,
            bytes,
            reply,
        })
        .await
        .map(|_| ())
    }

    async fn consume(
        &self,
        queue: &str,
        lease: Duration,
        wait: Duration,
    ) -> Result<Option<Delivery>, QueueError> {
        let deadline = lease_end(Instant::now(), wait);
        loop {
            let notify = self.shared.index().queue(queue).notify.clone();
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let now = Instant::now();
            let (picked, wake) = {
                let mut index = self.shared.index();
                let token = index.next_lease_token();
                let state = index.queue(queue);
                let now_ms = now_ms();
                state.promote(now_ms, now);
                let picked = state
                    .lease_next(token, lease_end(now, lease))
                    .map(|(seq, n)| (seq, n, token));
                (picked, state.next_wake(now_ms, now))
            };
            if let Some((seq, deliveries, token)) = picked {
                match self.read_call(seq).await {
                    Ok(Some(call)) => {
                        return Ok(Some(Delivery {
                            call,
                            deliveries,
                            receipt: Receipt(ReceiptInner::Embedded { seq, lease: token }),
                        }))
                    }
                    // Settled between the lease and the read (an ack from an expired lease).
                    Ok(None) => {
                        self.shared.index().queue(queue).take(seq);
                        continue;
                    }
                    Err(err) => {
                        self.shared.index().queue(queue).take(seq);
                        return Err(err);
                    }
                }
            }
            if now >= deadline {
                return Ok(None);
            }
            let until = wake.map_or(deadline, |wake| wake.min(deadline));
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(until.into()) => {}
            }
        }
    }

    async fn extend_lease(&self, delivery: &Delivery, lease: Duration) -> Result<(), QueueError> {
        let (seq, token) = Self::lease_of(delivery)?;
        let mut index = self.shared.index();
        if index
            .queue(&delivery.call.queue)
            .extend(seq, token, lease_end(Instant::now(), lease))
        {
            Ok(())
        } else {
            Err(QueueError::LeaseLost(delivery.call.id.clone()))
        }
    }

    async fn ack(&self, delivery: Delivery) -> Result<(), QueueError> {
        let (seq, _) = Self::lease_of(&delivery)?;
        self.submit(|reply| Op::Ack {
            queue: delivery.call.queue,
            seq,
            reply,
        })
        .await
        .map(|_| ())
    }

    async fn retry_later(&self, delivery: Delivery, delay: Duration) -> Result<(), QueueError> {
        let (seq, token) = Self::lease_of(&delivery)?;
        let visible_at = now_ms().saturating_add(delay.as_millis().min(u64::MAX as u128) as u64);
        let json = serde_json::to_vec(&delivery.call)?;
        let bytes = record::encode(visible_at, &delivery.call.queue, &json);
        self.submit(|reply| Op::Retry {
            queue: delivery.call.queue,
            id: delivery.call.id,
            seq,
            token,
            visible_at,
            bytes,
            reply,
        })
        .await
        .map(|_| ())
    }

    async fn dead_letter(&self, delivery: Delivery, reason: &str) -> Result<(), QueueError> {
        let (seq, token) = Self::lease_of(&delivery)?;
        let queue = delivery.call.queue.clone();
        let id = delivery.call.id.clone();
        let letter = DeadLetter {
            call: delivery.call,
            reason: reason.to_string(),
            dead_at: chrono::Utc::now(),
        };
        let json = serde_json::to_vec(&letter)?;
        let bytes = record::encode(now_ms(), &queue, &json);
        self.submit(|reply| Op::DeadLetter {
            queue,
            id,
            seq,
            token,
            bytes,
            reply,
        })
        .await
        .map(|_| ())
    }

    async fn dead_letters(&self, queue: Option<&str>) -> Result<Vec<DeadLetter>, QueueError> {
        self.dead_letters_page(queue, 0, usize::MAX).await
    }

    /// Reads on a blocking thread (a read transaction touches the disk), decoding only the
    /// letters of the page.
    async fn dead_letters_page(
        &self,
        queue: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        let shared = self.shared.clone();
        let queue = queue.map(str::to_owned);
        blocking(move || {
            let txn = shared.db.begin_read()?;
            let table = txn.open_table(DEAD)?;
            let mut letters = Vec::new();
            let mut skipped = 0;
            for entry in table.iter()? {
                if letters.len() >= limit {
                    break;
                }
                let (_, value) = entry?;
                let record = record::decode(value.value())?;
                if queue.as_deref().is_some_and(|q| q != record.queue) {
                    continue;
                }
                if skipped < offset {
                    skipped += 1;
                    continue;
                }
                letters.push(serde_json::from_slice(record.json)?);
            }
            Ok(letters)
        })
        .await
    }

    async fn replay(&self, id: &str) -> Result<usize, QueueError> {
        let id = id.to_string();
        self.submit(|reply| Op::Replay { id, reply }).await
    }

    async fn discard(&self, id: &str) -> Result<usize, QueueError> {
        let id = id.to_string();
        self.submit(|reply| Op::Discard { id, reply }).await
    }

    async fn queues(&self) -> Result<Vec<String>, QueueError> {
        let mut names: Vec<String> = self.shared.index().queues.keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    async fn stats(&self, queue: &str) -> Result<QueueStats, QueueError> {
        let mut index = self.shared.index();
        let Some(state) = index.queues.get_mut(queue) else {
            return Ok(QueueStats::default());
        };
        state.promote(now_ms(), Instant::now());
        let (ready, delayed, leased) = state.counts();
        Ok(QueueStats {
            ready,
            delayed,
            leased,
            dead_letters: state.dead,
        })
    }
}
