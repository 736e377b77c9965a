//! The NATS JetStream backend (feature `nats`): for several gateways and workers sharing one
//! queue.
//!
//! - Calls: stream `faas-calls` (work-queue retention, file storage), subject
//!   `faas.calls.<queue>`; one durable pull consumer per queue (`faas-queue-<queue>`) with
//!   explicit acks, ack wait = the lease, unlimited redeliveries.
//! - [`Queue::ack`] acks (confirmed by the server); [`Queue::extend_lease`] sends `+WPI`
//!   (another full ack wait: JetStream cannot set an arbitrary length).
//! - [`Queue::retry_later`] publishes the updated call again with a `Faas-Not-Before` header
//!   and acks the old message; a consumer that fetches it early NAKs it with the remaining
//!   delay, so it stays invisible until then. (JetStream cannot change a stored message.)
//! - Dead letters: stream `faas-dead-letters`, subject `faas.dead.<queue>`, the
//!   [`DeadLetter`] as JSON; replay republishes the call and deletes the dead letter.
//! - The client reconnects forever; operations during an outage fail with
//!   [`QueueError::Unavailable`] and the worker tries again. Streams and consumers are durable
//!   on the server, so a server restart loses nothing it acknowledged.
//!
//! Unlike the embedded queue, a stale delivery (whose lease expired and was redelivered) can
//! still be acked: JetStream does not report [`QueueError::LeaseLost`].

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream, AckKind};
use async_trait::async_trait;
use futures_util::StreamExt;

use crate::call::ReceiptInner;
use crate::{DeadLetter, Delivery, Queue, QueueError, QueueStats, QueuedCall, Receipt};

const NOT_BEFORE: &str = "Faas-Not-Before";

/// Where the NATS queue lives.
#[derive(Clone, Debug)]
pub struct NatsConfig {
    /// Server URL, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// Stream of calls.
    pub stream: String,
    /// Subject prefix of calls; a queue's subject is `<prefix>.<queue>`.
    pub subject_prefix: String,
    /// Stream of dead letters.
    pub dead_stream: String,
    /// Subject prefix of dead letters.
    pub dead_subject_prefix: String,
    /// Durable consumer name prefix; a queue's consumer is `<prefix>-<queue>`.
    pub consumer_prefix: String,
    /// Time allowed for one request to the server (publish acknowledgement, ack, info).
    pub request_timeout: Duration,
    /// How long [`NatsQueue::connect`] keeps trying to reach the server and set up its streams.
    pub connect_timeout: Duration,
}

impl NatsConfig {
    /// The default names, for a server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        NatsConfig {
            url: url.into(),
            stream: "faas-calls".into(),
            subject_prefix: "faas.calls".into(),
            dead_stream: "faas-dead-letters".into(),
            dead_subject_prefix: "faas.dead".into(),
            consumer_prefix: "faas-queue".into(),
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A [`Queue`] on NATS JetStream.
pub struct NatsQueue {
    config: NatsConfig,
    js: jetstream::Context,
    calls: stream::Stream,
    dead: stream::Stream,
    consumers: tokio::sync::Mutex<HashMap<String, (Duration, consumer::PullConsumer)>>,
}

fn unavailable(err: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(format!("nats: {err}"))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl NatsQueue {
    /// Connects (retrying until `connect_timeout`) and creates the streams if missing.
    pub async fn connect(config: NatsConfig) -> Result<Self, QueueError> {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(config.request_timeout)
            .request_timeout(Some(config.request_timeout))
            .event_callback(|event| async move {
                tracing::info!("nats: {event}");
            })
            .connect(config.url.as_str())
            .await
            .map_err(unavailable)?;
        let mut js = jetstream::new(client);
        js.set_timeout(config.request_timeout);

        let deadline = Instant::now() + config.connect_timeout;
        let (calls, dead) = loop {
            match Self::streams(&js, &config).await {
                Ok(streams) => break streams,
                Err(err) if Instant::now() < deadline => {
                    tracing::debug!("nats: streams not ready yet: {err}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => return Err(err),
            }
        };
        Ok(NatsQueue {
            config,
            js,
            calls,
            dead,
            consumers: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    async fn streams(
        js: &jetstream::Context,
        config: &NatsConfig,
    ) -> Result<(stream::Stream, stream::Stream), QueueError> {
        let calls = js
            .get_or_create_stream(stream::Config {
                name: config.stream.clone(),
                subjects: vec![format!("{}.>", config.subject_prefix)],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(unavailable)?;
        let dead = js
            .get_or_create_stream(stream::Config {
                name: config.dead_stream.clone(),
                subjects: vec![format!("{}.>", config.dead_subject_prefix)],
                retention: stream::RetentionPolicy::Limits,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(unavailable)?;
        Ok((calls, dead))
    }

    fn subject(&self, queue: &str) -> String {
        format!("{}.{queue}", self.config.subject_prefix)
    }

    fn dead_subject(&self, queue: &str) -> String {
        format!("{}.{queue}", self.config.dead_subject_prefix)
    }

    fn consumer_name(&self, queue: &str) -> String {
        format!("{}-{queue}", self.config.consumer_prefix)
    }

    async fn consumer(
        &self,
        queue: &str,
        lease: Duration,
    ) -> Result<consumer::PullConsumer, QueueError> {
        crate::validate_queue_name(queue)?;
        let mut consumers = self.consumers.lock().await;
        if let Some((ack_wait, consumer)) = consumers.get(queue) {
            if *ack_wait == lease {
                return Ok(consumer.clone());
            }
        }
        let name = self.consumer_name(queue);
        let config = consumer::pull::Config {
            durable_name: Some(name.clone()),
            filter_subject: self.subject(queue),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: lease,
            max_deliver: -1,
            deliver_policy: consumer::DeliverPolicy::All,
            max_ack_pending: 100_000,
            ..Default::default()
        };
        // Creating an existing durable with a changed ack wait updates it.
        let consumer = match self.calls.create_consumer(config).await {
            Ok(consumer) => consumer,
            Err(err) => {
                tracing::debug!("nats: cannot create consumer {name}: {err}; using it as it is");
                self.calls
                    .get_consumer::<consumer::pull::Config>(&name)
                    .await
                    .map_err(unavailable)?
            }
        };
        consumers.insert(queue.to_string(), (lease, consumer.clone()));
        Ok(consumer)
    }

    async fn publish_call(&self, call: &QueuedCall, not_before_ms: u64) -> Result<(), QueueError> {
        let payload = serde_json::to_vec(call)?;
        let mut headers = async_nats::HeaderMap::new();
        if not_before_ms > 0 {
            headers.insert(NOT_BEFORE, not_before_ms.to_string().as_str());
        }
        self.js
            .publish_with_headers(self.subject(&call.queue), headers, payload.into())
            .await
            .map_err(unavailable)?
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn message_of(delivery: &Delivery) -> Result<&jetstream::Message, QueueError> {
        match &delivery.receipt.0 {
            ReceiptInner::Nats(message) => Ok(message),
            _ => Err(QueueError::InvalidCall(
                "this delivery did not come from the NATS queue".into(),
            )),
        }
    }

    /// Every dead letter on `subject` (may be a wildcard), with its stream sequence.
    async fn scan_dead(&self, subject: &str) -> Result<Vec<(u64, DeadLetter)>, QueueError> {
        let mut found = Vec::new();
        let mut sequence = 1;
        loop {
            match self
                .dead
                .get_first_raw_message_by_subject(subject, sequence)
                .await
            {
                Ok(message) => {
                    sequence = message.sequence + 1;
                    match serde_json::from_slice::<DeadLetter>(&message.payload) {
                        Ok(letter) => found.push((message.sequence, letter)),
                        Err(err) => tracing::warn!(
                            "nats: skipping dead letter {} that does not decode: {err}",
                            message.sequence
                        ),
                    }
                }
                Err(err) if err.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
                    return Ok(found)
                }
                Err(err) => return Err(unavailable(err)),
            }
        }
    }

    async fn find_dead(&self, id: &str) -> Result<Vec<(u64, DeadLetter)>, QueueError> {
        let all = self
            .scan_dead(&format!("{}.>", self.config.dead_subject_prefix))
            .await?;
        let found: Vec<_> = all.into_iter().filter(|(_, l)| l.call.id == id).collect();
        if found.is_empty() {
            return Err(QueueError::NotFound(id.to_string()));
        }
        Ok(found)
    }
}

#[async_trait]
impl Queue for NatsQueue {
    async fn publish(&self, call: QueuedCall) -> Result<(), QueueError> {
        call.validate()?;
        self.publish_call(&call, 0).await
    }

    async fn consume(
        &self,
        queue: &str,
        lease: Duration,
        wait: Duration,
    ) -> Result<Option<Delivery>, QueueError> {
        let consumer = self.consumer(queue, lease).await?;
        let deadline = Instant::now() + wait.min(Duration::from_secs(24 * 3600));
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut batch = consumer
                .batch()
                .max_messages(1)
                .expires(left.max(Duration::from_millis(10)))
                .messages()
                .await
                .map_err(unavailable)?;
            let Some(message) = batch.next().await else {
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                continue;
            };
            let message = message.map_err(unavailable)?;
            let not_before = message
                .headers
                .as_ref()
                .and_then(|h| h.get(NOT_BEFORE))
                .and_then(|v| v.as_str().parse::<u64>().ok())
                .unwrap_or(0);
            let now = now_ms();
            if not_before > now {
                let delay = Duration::from_millis(not_before - now);
                message
                    .ack_with(AckKind::Nak(Some(delay)))
                    .await
                    .map_err(unavailable)?;
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                continue;
            }
            let deliveries = message.info().map(|i| i.delivered as u32).unwrap_or(1);
            let call: QueuedCall = match serde_json::from_slice(&message.payload) {
                Ok(call) => call,
                Err(err) => {
                    tracing::error!("nats: dropping a message that is not a call: {err}");
                    message.ack_with(AckKind::Term).await.map_err(unavailable)?;
                    continue;
                }
            };
            return Ok(Some(Delivery {
                call,
                deliveries,
                receipt: Receipt(ReceiptInner::Nats(Box::new(message))),
            }));
        }
    }

    async fn extend_lease(&self, delivery: &Delivery, _lease: Duration) -> Result<(), QueueError> {
        Self::message_of(delivery)?
            .ack_with(AckKind::Progress)
            .await
            .map_err(unavailable)
    }

    async fn ack(&self, delivery: Delivery) -> Result<(), QueueError> {
        Self::message_of(&delivery)?
            .double_ack()
            .await
            .map_err(unavailable)
    }

    async fn retry_later(&self, delivery: Delivery, delay: Duration) -> Result<(), QueueError> {
        let message = Self::message_of(&delivery)?;
        // Publish the new attempt before settling the old one: a crash between the two gives
        // a duplicate, never a loss.
        self.publish_call(
            &delivery.call,
            now_ms().saturating_add(delay.as_millis().min(u64::MAX as u128) as u64),
        )
        .await?;
        message.double_ack().await.map_err(unavailable)
    }

    async fn dead_letter(&self, delivery: Delivery, reason: &str) -> Result<(), QueueError> {
        let message = Self::message_of(&delivery)?;
        let letter = DeadLetter {
            call: delivery.call.clone(),
            reason: reason.to_string(),
            dead_at: chrono::Utc::now(),
        };
        self.js
            .publish(
                self.dead_subject(&letter.call.queue),
                serde_json::to_vec(&letter)?.into(),
            )
            .await
            .map_err(unavailable)?
            .await
            .map_err(unavailable)?;
        message.double_ack().await.map_err(unavailable)
    }

    async fn dead_letters(&self, queue: Option<&str>) -> Result<Vec<DeadLetter>, QueueError> {
        let subject = match queue {
            Some(queue) => {
                crate::validate_queue_name(queue)?;
                self.dead_subject(queue)
            }
            None => format!("{}.>", self.config.dead_subject_prefix),
        };
        Ok(self
            .scan_dead(&subject)
            .await?
            .into_iter()
            .map(|(_, letter)| letter)
            .collect())
    }

    async fn replay(&self, id: &str) -> Result<usize, QueueError> {
        let found = self.find_dead(id).await?;
        for (sequence, letter) in &found {
            let mut call = letter.call.clone();
            call.attempt = 0;
            self.publish_call(&call, 0).await?;
            self.dead
                .delete_message(*sequence)
                .await
                .map_err(unavailable)?;
        }
        Ok(found.len())
    }

    async fn discard(&self, id: &str) -> Result<usize, QueueError> {
        let found = self.find_dead(id).await?;
        for (sequence, _) in &found {
            self.dead
                .delete_message(*sequence)
                .await
                .map_err(unavailable)?;
        }
        Ok(found.len())
    }

    async fn queues(&self) -> Result<Vec<String>, QueueError> {
        let mut names = BTreeSet::new();
        let prefix = format!("{}.", self.config.subject_prefix);
        let mut subjects = self
            .calls
            .info_with_subjects(format!("{prefix}>"))
            .await
            .map_err(unavailable)?;
        while let Some(entry) = subjects.next().await {
            let (subject, _) = entry.map_err(unavailable)?;
            if let Some(name) = subject.strip_prefix(&prefix) {
                names.insert(name.to_string());
            }
        }
        let consumer_prefix = format!("{}-", self.config.consumer_prefix);
        let mut consumers = self.calls.consumer_names();
        while let Some(name) = consumers.next().await {
            let name = name.map_err(unavailable)?;
            if let Some(queue) = name.strip_prefix(&consumer_prefix) {
                names.insert(queue.to_string());
            }
        }
        Ok(names.into_iter().collect())
    }

    async fn stats(&self, queue: &str) -> Result<QueueStats, QueueError> {
        crate::validate_queue_name(queue)?;
        let mut stats = QueueStats::default();
        match self.calls.consumer_info(self.consumer_name(queue)).await {
            Ok(info) => {
                stats.ready = info.num_pending;
                stats.leased = info.num_ack_pending as u64;
            }
            Err(_) => {
                let mut subjects = self
                    .calls
                    .info_with_subjects(self.subject(queue))
                    .await
                    .map_err(unavailable)?;
                while let Some(entry) = subjects.next().await {
                    stats.ready += entry.map_err(unavailable)?.1 as u64;
                }
            }
        }
        let mut dead = self
            .dead
            .info_with_subjects(self.dead_subject(queue))
            .await
            .map_err(unavailable)?;
        while let Some(entry) = dead.next().await {
            stats.dead_letters += entry.map_err(unavailable)?.1 as u64;
        }
        Ok(stats)
    }
}
