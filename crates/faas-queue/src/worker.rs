//! The queue worker: consumes each queue with its own settings, invokes the function, posts
//! the result to the callback, and settles the call (ack, retry later, or dead-letter).
//!
//! One call, start to end (`QueueWorker::handle`):
//! 1. a bad `callback_url` dead-letters the call at once;
//! 2. a path with a dot segment (`..`, `%2e%2e`, stored before such paths were refused) is
//!    not sent: it is answered 400 by the worker itself, as the platform;
//! 3. otherwise the function is invoked through the [`Invoker`]; while that (and the callback)
//!    runs, the lease is extended every third of its length, so only a dead worker loses it;
//! 4. a retried status (or a refused connection) with attempts left goes back to the queue,
//!    visible after the backoff or the function's `Retry-After`;
//! 5. otherwise the result is posted to the callback (retried a few times); a callback that
//!    cannot be delivered dead-letters the call with the reason;
//! 6. then the call is settled by who answered last:
//!    - the function itself (whatever its status): its answer is the call's result, and the
//!      call is acked, unless the status was a retried one and the attempts ran out;
//!    - the platform, which could not hand the call to the function (the function is missing
//!      or was deleted, the gateway refused or failed the call: its answers carry
//!      `X-OpenFaaS-Internal`; or no answer at all): the call is dead-lettered with the last
//!      status and the reason, so it can be replayed, never acked and lost;
//!    - a retried status after the last attempt: dead-lettered.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use faas_types::call_path::check_call_path;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::callback::{CallResult, CallbackClient, CallbackPolicy};
use crate::invoker::{InvokeError, Invoker};
use crate::metrics::QueueMetrics;
use crate::retry::{parse_retry_after, RetryPolicy};
use crate::{validate_callback_url, Delivery, Queue, QueueError, QueuedCall};

/// How one queue is worked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Calls run at once from this queue.
    pub max_inflight: usize,
    /// Lease (ack wait) on a consumed call; it is extended while the call runs, so it only
    /// bounds how long a crashed worker's calls stay invisible.
    pub lease: Duration,
    /// How long one consume waits for a call before checking for shutdown.
    pub poll_wait: Duration,
    /// Function retries (overridden per function by `com.openfaas.retry.*`).
    pub retry: RetryPolicy,
    /// Callback retries.
    pub callback: CallbackPolicy,
}

impl Default for WorkerConfig {
    /// One call at a time (OpenFaaS's `max_inflight`), 30 s lease (OpenFaaS's `ack_wait`).
    fn default() -> Self {
        WorkerConfig {
            max_inflight: 1,
            lease: Duration::from_secs(30),
            poll_wait: Duration::from_secs(1),
            retry: RetryPolicy::default(),
            callback: CallbackPolicy::default(),
        }
    }
}

/// The worker settings of every queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerPoolConfig {
    /// Settings of queues not named in `queues`.
    pub default: WorkerConfig,
    /// Settings per queue name.
    pub queues: HashMap<String, WorkerConfig>,
    /// How often the pool looks for new queues and refreshes the depth gauges.
    pub discover_interval: Duration,
}

impl Default for WorkerPoolConfig {
    fn default() -> Self {
        WorkerPoolConfig::new(WorkerConfig::default())
    }
}

impl WorkerPoolConfig {
    /// `default` for every queue, new queues found within a second.
    pub fn new(default: WorkerConfig) -> Self {
        WorkerPoolConfig {
            default,
            queues: HashMap::new(),
            discover_interval: Duration::from_secs(1),
        }
    }

    /// The settings of `queue`.
    pub fn for_queue(&self, queue: &str) -> &WorkerConfig {
        self.queues.get(queue).unwrap_or(&self.default)
    }
}

/// Why the worker pool could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the queue worker: {0}")]
pub struct WorkerError(String);

/// Running workers, one group of `max_inflight` consumers per queue. Stop with
/// [`WorkerPool::shutdown`].
pub struct WorkerPool {
    stop: watch::Sender<bool>,
    supervisor: tokio::task::JoinHandle<JoinSet<()>>,
}

impl WorkerPool {
    /// Starts working every queue `queue` reports now and later. Call inside a tokio runtime.
    pub fn start(
        queue: Arc<dyn Queue>,
        invoker: Arc<dyn Invoker>,
        config: WorkerPoolConfig,
        metrics: QueueMetrics,
    ) -> Result<WorkerPool, WorkerError> {
        let callbacks = CallbackClient::new().map_err(|err| WorkerError(err.to_string()))?;
        let (stop, stopped) = watch::channel(false);
        let supervisor = tokio::spawn(supervise(
            queue, invoker, config, metrics, callbacks, stopped,
        ));
        Ok(WorkerPool { stop, supervisor })
    }

    /// Stops consuming, lets running calls finish for up to `grace`, then abandons the rest
    /// (their leases expire and they are delivered again).
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let Ok(mut tasks) = self.supervisor.await else {
            return;
        };
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(
                "queue worker: calls still running after {grace:?}; they will be redelivered"
            );
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
    }
}

async fn supervise(
    queue: Arc<dyn Queue>,
    invoker: Arc<dyn Invoker>,
    config: WorkerPoolConfig,
    metrics: QueueMetrics,
    callbacks: CallbackClient,
    mut stopped: watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    let mut started: HashSet<String> = HashSet::new();
    let interval = config.discover_interval.max(Duration::from_millis(10));
    loop {
        match queue.queues().await {
            Ok(names) => {
                for name in names {
                    if let Ok(stats) = queue.stats(&name).await {
                        metrics.observe_stats(&name, &stats);
                    }
                    if started.insert(name.clone()) {
                        metrics.touch(&name);
                        let worker = Arc::new(QueueWorker {
                            name: name.clone(),
                            config: config.for_queue(&name).clone(),
                            queue: queue.clone(),
                            invoker: invoker.clone(),
                            metrics: metrics.clone(),
                            callbacks: callbacks.clone(),
                        });
                        tracing::info!(
                            "queue worker: working queue {name:?} with {} consumer(s)",
                            worker.config.max_inflight
                        );
                        for _ in 0..worker.config.max_inflight.max(1) {
                            tasks.spawn(worker.clone().consume_loop(stopped.clone()));
                        }
                    }
                }
            }
            Err(err) => tracing::warn!("queue worker: cannot list queues: {err}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stopped.wait_for(|stop| *stop) => return tasks,
        }
        // Reap finished tasks so the set does not grow (consumers only end on shutdown).
        while tasks.try_join_next().is_some() {}
    }
}

/// What becomes of a call after one attempt.
#[derive(Debug)]
enum Outcome {
    Ack,
    Retry(QueuedCall, Duration),
    DeadLetter(QueuedCall, String),
}

struct QueueWorker {
    name: String,
    config: WorkerConfig,
    queue: Arc<dyn Queue>,
    invoker: Arc<dyn Invoker>,
    metrics: QueueMetrics,
    callbacks: CallbackClient,
}

impl QueueWorker {
    async fn consume_loop(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        let mut failures: u32 = 0;
        loop {
            if *stopped.borrow() {
                return;
            }
            let consumed = tokio::select! {
                consumed = self.queue.consume(&self.name, self.config.lease, self.config.poll_wait) => consumed,
                _ = stopped.wait_for(|stop| *stop) => return,
            };
            match consumed {
                Ok(Some(delivery)) => {
                    failures = 0;
                    self.handle(delivery).await;
                }
                Ok(None) => failures = 0,
                Err(err) => {
                    failures = failures.saturating_add(1);
                    let wait = Duration::from_millis(100 * u64::from(failures.min(50)));
                    tracing::warn!(
                        "queue {:?}: consume failed: {err}; again in {wait:?}",
                        self.name
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stopped.wait_for(|stop| *stop) => return,
                    }
                }
            }
        }
    }

    async fn handle(&self, mut delivery: Delivery) {
        let inflight = self.metrics.inflight(&self.name);
        inflight.inc();
        let outcome = {
            let work = self.attempt(&delivery.call);
            tokio::pin!(work);
            let period = (self.config.lease / 3).max(Duration::from_millis(50));
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                tokio::select! {
                    outcome = &mut work => break outcome,
                    _ = ticks.tick() => {
                        if let Err(err) = self.queue.extend_lease(&delivery, self.config.lease).await {
                            tracing::warn!(call_id = %delivery.call.id, "cannot extend the lease: {err}");
                        }
                    }
                }
            }
        };
        let id = delivery.call.id.clone();
        let settled = match outcome {
            Outcome::Ack => self.queue.ack(delivery).await,
            Outcome::Retry(call, delay) => {
                tracing::info!(call_id = %id, "retrying {} in {delay:?} (attempt {} done)", call.function_ref(), call.attempt);
                delivery.call = call;
                self.queue.retry_later(delivery, delay).await
            }
            Outcome::DeadLetter(call, reason) => {
                tracing::warn!(call_id = %id, "dead-lettering: {reason}");
                delivery.call = call;
                self.queue.dead_letter(delivery, &reason).await
            }
        };
        match settled {
            Ok(()) => {}
            Err(QueueError::LeaseLost(_)) => {
                tracing::info!(call_id = %id, "lease lost: the call was delivered again elsewhere")
            }
            Err(err) => {
                tracing::warn!(call_id = %id, "cannot settle the call: {err}; it will be delivered again")
            }
        }
        inflight.dec();
    }

    /// Runs one attempt of the call and decides what becomes of it.
    async fn attempt(&self, call: &QueuedCall) -> Outcome {
        let mut updated = call.clone();
        let callback = match &call.callback_url {
            None => None,
            Some(url) => match validate_callback_url(url) {
                Ok(url) => Some(url),
                Err(err) => return Outcome::DeadLetter(updated, err.to_string()),
            },
        };
        let policy = self.config.retry.with_annotations(&call.annotations);
        let attempt = call.attempt.saturating_add(1);
        updated.attempt = attempt;

        let started = SystemTime::now();
        let clock = Instant::now();
        let answer = self.answer(call, &policy).await;
        let duration = clock.elapsed();
        self.metrics
            .invocation(&self.name, &answer.status.to_string());

        if answer.retryable && attempt < policy.attempts {
            return Outcome::Retry(updated, policy.delay(attempt, answer.retry_after));
        }
        let dead_reason = if answer.retryable {
            Some(exhausted_reason(call, answer.status, attempt))
        } else if answer.from_platform {
            Some(undelivered_reason(call, &answer))
        } else {
            None
        };
        if let Some(url) = callback {
            let result = CallResult {
                status: answer.status,
                headers: answer.headers,
                body: answer.body,
                started,
                duration,
                retry: attempt - 1,
                retry_max: policy.attempts.saturating_sub(1),
            };
            if let Err(reason) = self
                .callbacks
                .deliver(&url, call, &result, &self.config.callback, &self.metrics)
                .await
            {
                let reason = match dead_reason {
                    Some(dead) => format!("{dead} ({reason})"),
                    None => reason,
                };
                return Outcome::DeadLetter(updated, reason);
            }
        }
        match dead_reason {
            Some(reason) => Outcome::DeadLetter(updated, reason),
            None => Outcome::Ack,
        }
    }

    /// Sends the call (unless its path would leave the function) and says who answered what.
    async fn answer(&self, call: &QueuedCall, policy: &RetryPolicy) -> Answer {
        if let Err(err) = check_call_path(&call.path) {
            return Answer::platform(400, format!("{}: {err}\n", call.function_ref()));
        }
        match self.invoker.invoke(call).await {
            Ok(response) => Answer {
                retry_after: response.header("retry-after").and_then(parse_retry_after),
                retryable: policy.retries_status(response.status),
                from_platform: response.header(INTERNAL_HEADER).is_some(),
                status: response.status,
                headers: response.headers,
                body: response.body,
            },
            Err(err) => {
                log_invoke_error(call, &err);
                let mut answer =
                    Answer::platform(err.status(), format!("{}: {err}\n", call.function_ref()));
                answer.retryable = if err.is_connection_error() {
                    policy.retry_connection_errors
                } else {
                    policy.retries_status(err.status())
                };
                answer
            }
        }
    }
}

/// `X-OpenFaaS-Internal`: the gateway sets it on the answers it makes itself.
const INTERNAL_HEADER: &str = "x-openfaas-internal";

/// The last answer to a call, and whether it came from the function or from the platform.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    retry_after: Option<Duration>,
    retryable: bool,
    /// The platform answered: the call never reached the function (or no answer came back).
    from_platform: bool,
}

impl Answer {
    /// An answer the platform makes itself, as plain text; not retried.
    fn platform(status: u16, text: String) -> Answer {
        Answer {
            status,
            headers: vec![(
                "Content-Type".to_string(),
                "text/plain; charset=utf-8".to_string(),
            )],
            body: Bytes::from(text),
            retry_after: None,
            retryable: false,
            from_platform: true,
        }
    }
}

/// Why a call the platform could not hand over is dead-lettered: its status and the first
/// line of what the platform said.
fn undelivered_reason(call: &QueuedCall, answer: &Answer) -> String {
    let said = String::from_utf8_lossy(&answer.body[..answer.body.len().min(300)]);
    let said = said.lines().next().unwrap_or("").trim();
    format!(
        "{} could not be called: the platform answered {}: {said}",
        call.function_ref(),
        answer.status
    )
}

fn exhausted_reason(call: &QueuedCall, status: u16, attempts: u32) -> String {
    format!(
        "{} answered {status} on the last of {attempts} attempt(s)",
        call.function_ref()
    )
}

fn log_invoke_error(call: &QueuedCall, err: &InvokeError) {
    tracing::warn!(call_id = %call.id, "invoking {} failed: {err}", call.function_ref());
}
