//! The worker against the embedded queue, a scripted function and a real callback receiver:
//! callbacks and their headers, retries with backoff, `Retry-After`, dead letters, bad
//! callback URLs, per-queue settings, lease keep-alive, metrics.
#![cfg(feature = "embedded")]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use common::{call_on, closed_port, eventually, ok, CallbackReceiver, ScriptedInvoker};
use faas_queue::{
    CallbackPolicy, DeadLetter, Delivery, EmbeddedConfig, EmbeddedQueue, GatewayInvoker,
    InvokeError, InvokeResponse, Invoker, MeteredQueue, Queue, QueueError, QueueMetrics,
    QueueStats, QueuedCall, RetryPolicy, WorkerConfig, WorkerPool, WorkerPoolConfig,
};

fn config() -> WorkerConfig {
    WorkerConfig {
        max_inflight: 2,
        lease: Duration::from_secs(5),
        poll_wait: Duration::from_millis(200),
        retry: RetryPolicy {
            attempts: 4,
            min_wait: Duration::from_millis(100),
            max_wait: Duration::from_millis(800),
            ..RetryPolicy::default()
        },
        callback: CallbackPolicy {
            attempts: 3,
            min_wait: Duration::from_millis(20),
            max_wait: Duration::from_millis(100),
            timeout: Duration::from_secs(2),
        },
    }
}

/// A queue in a temporary directory, counted by `metrics`, worked by a pool.
struct Rig {
    _dir: tempfile::TempDir,
    queue: Arc<dyn Queue>,
    metrics: QueueMetrics,
    pool: Option<WorkerPool>,
}

impl Rig {
    async fn start(invoker: Arc<dyn Invoker>, config: WorkerPoolConfig) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let inner = EmbeddedQueue::open(EmbeddedConfig::new(dir.path()))
            .await
            .unwrap();
        Self::with_queue(dir, Arc::new(inner), invoker, config)
    }

    fn with_queue(
        dir: tempfile::TempDir,
        inner: Arc<dyn Queue>,
        invoker: Arc<dyn Invoker>,
        mut config: WorkerPoolConfig,
    ) -> Rig {
        config.discover_interval = Duration::from_millis(50);
        let metrics = QueueMetrics::default();
        let queue: Arc<dyn Queue> = Arc::new(MeteredQueue::new(inner, metrics.clone()));
        let pool = WorkerPool::start(queue.clone(), invoker, config, metrics.clone()).unwrap();
        Rig {
            _dir: dir,
            queue,
            metrics,
            pool: Some(pool),
        }
    }

    async fn simple(invoker: Arc<dyn Invoker>) -> Rig {
        Self::start(invoker, WorkerPoolConfig::new(config())).await
    }

    async fn dead_letters(&self, n: usize) -> Vec<DeadLetter> {
        eventually(
            Duration::from_secs(10),
            &format!("{n} dead letters"),
            || async { self.queue.dead_letters(None).await.unwrap().len() >= n },
        )
        .await;
        self.queue.dead_letters(None).await.unwrap()
    }

    async fn drained(&self, queue: &str) {
        eventually(
            Duration::from_secs(10),
            &format!("queue {queue} empty"),
            || async { self.queue.depth(queue).await.unwrap() == 0 },
        )
        .await;
    }

    async fn stop(mut self) {
        if let Some(pool) = self.pool.take() {
            pool.shutdown(Duration::from_secs(5)).await;
        }
    }
}

fn with_callback(mut call: QueuedCall, url: &str) -> QueuedCall {
    call.callback_url = Some(url.to_string());
    call
}

fn gaps(invoker: &ScriptedInvoker) -> Vec<Duration> {
    let seen = invoker.invocations();
    seen.windows(2).map(|w| w[1].at - w[0].at).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_the_result_to_the_callback_with_its_headers() {
    let invoker = ScriptedInvoker::new(|call, _| {
        Ok(InvokeResponse {
            status: 201,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("X-Fn".into(), "yes".into()),
            ],
            body: format!("{{\"echo\":{:?}}}", String::from_utf8_lossy(&call.body)).into(),
        })
    });
    let rig = Rig::simple(invoker.clone()).await;
    let receiver = CallbackReceiver::start().await;
    let mut call = with_callback(call_on("default", "echo"), &receiver.url());
    call.namespace = "dev".into();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    rig.queue.publish(call.clone()).await.unwrap();

    let post = receiver
        .wait_for(1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(post.header("x-call-id"), Some(call.id.as_str()));
    assert_eq!(post.header("x-function-status"), Some("201"));
    assert_eq!(post.header("x-function-name"), Some("echo.dev"));
    assert_eq!(post.header("x-fn"), Some("yes"));
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(post.header("x-retry"), Some("0"));
    assert_eq!(post.header("x-retry-max"), Some("3"));
    let seconds: f64 = post.header("x-duration-seconds").unwrap().parse().unwrap();
    assert!((0.0..5.0).contains(&seconds));
    let start: u128 = post.header("x-start-time").unwrap().parse().unwrap();
    assert!(
        start >= before && start < before + 10_000_000_000,
        "{start} vs {before}"
    );
    assert_eq!(post.body, format!("{{\"echo\":\"body of {}\"}}", call.id));

    rig.drained("default").await;
    assert_eq!(invoker.count(), 1);
    assert_eq!(rig.metrics.accepted("default"), 1);
    assert_eq!(rig.metrics.callbacks("default", "200"), 1);
    assert!(rig.queue.dead_letters(None).await.unwrap().is_empty());
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_with_exponential_backoff_then_succeeds() {
    let invoker = ScriptedInvoker::new(|_, nth| {
        if nth < 2 {
            ok(503, "busy")
        } else {
            ok(200, "done")
        }
    });
    let rig = Rig::simple(invoker.clone()).await;
    let receiver = CallbackReceiver::start().await;
    rig.queue
        .publish(with_callback(call_on("default", "flaky"), &receiver.url()))
        .await
        .unwrap();

    let post = receiver
        .wait_for(1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(post.header("x-function-status"), Some("200"));
    assert_eq!(post.header("x-retry"), Some("2"));
    assert_eq!(post.body, "done");
    rig.drained("default").await;
    let attempts: Vec<u32> = invoker.invocations().iter().map(|i| i.attempt).collect();
    assert_eq!(attempts, [0, 1, 2]);
    let gaps = gaps(&invoker);
    assert!(
        gaps[0] >= Duration::from_millis(90),
        "first wait {:?}",
        gaps[0]
    );
    assert!(
        gaps[1] >= Duration::from_millis(190),
        "second wait doubles: {:?}",
        gaps[1]
    );
    assert_eq!(rig.metrics.retries("default"), 2);
    assert_eq!(receiver.posts().len(), 1, "only the final result is posted");
    assert!(rig.queue.dead_letters(None).await.unwrap().is_empty());
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_attempt_is_posted_then_dead_lettered() {
    let invoker = ScriptedInvoker::new(|_, _| ok(502, "upstream down"));
    let rig = Rig::simple(invoker.clone()).await;
    let receiver = CallbackReceiver::start().await;
    let mut call = with_callback(call_on("default", "down"), &receiver.url());
    // Per-function settings from the annotations.
    call.annotations
        .insert("com.openfaas.retry.attempts".into(), "3".into());
    call.annotations
        .insert("com.openfaas.retry.min_wait".into(), "50ms".into());
    rig.queue.publish(call.clone()).await.unwrap();

    let letters = rig.dead_letters(1).await;
    assert_eq!(letters[0].call.id, call.id);
    assert_eq!(letters[0].call.attempt, 3);
    assert!(letters[0].reason.contains("502"), "{}", letters[0].reason);
    assert_eq!(invoker.count(), 3);
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].header("x-function-status"), Some("502"));
    assert_eq!(posts[0].header("x-retry"), Some("2"));
    assert_eq!(posts[0].header("x-retry-max"), Some("2"));
    assert_eq!(posts[0].body, "upstream down");
    let gaps = gaps(&invoker);
    assert!(
        gaps[0] >= Duration::from_millis(45) && gaps[1] >= Duration::from_millis(95),
        "{gaps:?}"
    );
    // Counted once the dead letter is stored, so it may trail the letter by a moment.
    eventually(
        Duration::from_secs(10),
        "the dead letter to be counted",
        || async { rig.metrics.dead_lettered("default") >= 1 },
    )
    .await;
    assert_eq!(rig.metrics.dead_lettered("default"), 1);
    assert_eq!(rig.queue.depth("default").await.unwrap(), 0);

    // Replayed, it runs again from the first attempt.
    rig.queue.replay(&call.id).await.unwrap();
    eventually(
        Duration::from_secs(10),
        "the replayed call to run",
        || async { invoker.count() >= 4 },
    )
    .await;
    assert_eq!(invoker.invocations()[3].attempt, 0);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let invoker = ScriptedInvoker::new(|_, nth| {
        if nth == 0 {
            Ok(InvokeResponse {
                status: 429,
                headers: vec![("Retry-After".into(), "1".into())],
                body: "slow down".into(),
            })
        } else {
            ok(200, "ok")
        }
    });
    let mut config = config();
    config.retry.max_wait = Duration::from_secs(5);
    let rig = Rig::start(invoker.clone(), WorkerPoolConfig::new(config)).await;
    rig.queue
        .publish(call_on("default", "limited"))
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "the second attempt", || async {
        invoker.count() >= 2
    })
    .await;
    let gap = gaps(&invoker)[0];
    assert!(
        gap >= Duration::from_millis(950),
        "waited {gap:?}, Retry-After said 1s"
    );
    rig.drained("default").await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_retried() {
    let invoker = ScriptedInvoker::new(|_, nth| {
        if nth < 2 {
            Err(InvokeError::ConnectionRefused("127.0.0.1:1".into()))
        } else {
            ok(200, "up again")
        }
    });
    let rig = Rig::simple(invoker.clone()).await;
    let receiver = CallbackReceiver::start().await;
    rig.queue
        .publish(with_callback(
            call_on("default", "starting"),
            &receiver.url(),
        ))
        .await
        .unwrap();
    let post = receiver
        .wait_for(1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(post.header("x-function-status"), Some("200"));
    assert_eq!(invoker.count(), 3);
    rig.drained("default").await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_functions_own_status_not_retried_is_its_result_posted_and_acked() {
    let invoker = ScriptedInvoker::new(|_, _| ok(404, "no such page in this function"));
    let rig = Rig::simple(invoker.clone()).await;
    let receiver = CallbackReceiver::start().await;
    let call = with_callback(call_on("default", "pages"), &receiver.url());
    rig.queue.publish(call.clone()).await.unwrap();
    let post = receiver
        .wait_for(1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(post.header("x-function-status"), Some("404"));
    assert_eq!(post.body, "no such page in this function");
    rig.drained("default").await;
    assert_eq!(invoker.count(), 1);
    assert!(rig.queue.dead_letters(None).await.unwrap().is_empty());
    assert_eq!(rig.metrics.dead_lettered("default"), 0);
    rig.stop().await;
}

/// The gateway's own 404 for a function deleted after its call was queued.
fn gateway_not_found(call: &QueuedCall) -> Result<InvokeResponse, InvokeError> {
    Ok(InvokeResponse {
        status: 404,
        headers: vec![
            ("Content-Type".into(), "text/plain; charset=utf-8".into()),
            ("X-OpenFaaS-Internal".into(), "gateway".into()),
        ],
        body: format!("function not found: {}.openfaas-fn\n", call.function).into(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_the_platform_could_not_hand_over_is_posted_and_dead_lettered() {
    let invoker = ScriptedInvoker::new(|call, _| match call.function.as_str() {
        "deleted" => gateway_not_found(call),
        _ => Err(InvokeError::NotFound(call.function.clone())),
    });
    let rig = Rig::simple(invoker.clone()).await;
    let receiver = CallbackReceiver::start().await;
    let with_url = with_callback(call_on("default", "deleted"), &receiver.url());
    let without_url = call_on("default", "missing");
    rig.queue.publish(with_url.clone()).await.unwrap();
    rig.queue.publish(without_url.clone()).await.unwrap();

    let post = receiver
        .wait_for(1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(post.header("x-function-status"), Some("404"));
    assert_eq!(post.header("x-call-id"), Some(with_url.id.as_str()));
    let mut letters = rig.dead_letters(2).await;
    letters.sort_by(|a, b| a.call.function.cmp(&b.call.function));
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0].call.id, with_url.id);
    assert_eq!(
        letters[0].reason,
        "deleted could not be called: the platform answered 404: \
         function not found: deleted.openfaas-fn"
    );
    assert_eq!(letters[1].call.id, without_url.id);
    assert_eq!(
        letters[1].reason,
        "missing could not be called: the platform answered 404: \
         missing: function not found: missing"
    );
    // Not retried (404 is not a retried code), nothing left on the queue, nothing lost.
    assert_eq!(invoker.count(), 2);
    rig.drained("default").await;
    assert_eq!(receiver.posts().len(), 1);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_path_that_leaves_its_function_is_not_sent() {
    let invoker = ScriptedInvoker::new(|_, _| ok(200, "should not run"));
    let rig = Rig::simple(invoker.clone()).await;
    let receiver = CallbackReceiver::start().await;
    let mut call = with_callback(call_on("default", "a"), &receiver.url());
    call.path = "/../../metrics".into();
    rig.queue.publish(call.clone()).await.unwrap();
    let post = receiver
        .wait_for(1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(post.header("x-function-status"), Some("400"));
    let letters = rig.dead_letters(1).await;
    assert_eq!(letters[0].call.id, call.id);
    assert!(
        letters[0].reason.contains("dot segment"),
        "{}",
        letters[0].reason
    );
    assert_eq!(invoker.count(), 0);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_callbacks_are_retried() {
    let invoker = ScriptedInvoker::new(|_, _| ok(200, "result"));
    let rig = Rig::simple(invoker.clone()).await;
    let receiver = CallbackReceiver::answering(&[503, 500]).await;
    rig.queue
        .publish(with_callback(call_on("default", "echo"), &receiver.url()))
        .await
        .unwrap();
    let posts = receiver.wait_for(3, Duration::from_secs(10)).await;
    assert!(posts.iter().all(|p| p.body == "result"));
    rig.drained("default").await;
    assert_eq!(
        invoker.count(),
        1,
        "the function is not run again for its callback"
    );
    assert!(rig.queue.dead_letters(None).await.unwrap().is_empty());
    assert_eq!(
        ["503", "500", "200"].map(|code| rig.metrics.callbacks("default", code)),
        [1, 1, 1]
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_that_cannot_be_delivered_is_dead_lettered() {
    let invoker = ScriptedInvoker::new(|_, _| ok(200, "result"));
    let rig = Rig::simple(invoker.clone()).await;
    let url = format!("http://127.0.0.1:{}/cb", closed_port());
    rig.queue
        .publish(with_callback(call_on("default", "echo"), &url))
        .await
        .unwrap();
    let letters = rig.dead_letters(1).await;
    assert!(
        letters[0].reason.contains("callback") && letters[0].reason.contains("3 attempts"),
        "{}",
        letters[0].reason
    );
    assert_eq!(rig.metrics.callbacks("default", "error"), 3);
    assert_eq!(rig.queue.depth("default").await.unwrap(), 0);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_refused_with_4xx_is_dead_lettered_at_once() {
    let invoker = ScriptedInvoker::new(|_, _| ok(200, "result"));
    let rig = Rig::simple(invoker.clone()).await;
    let receiver = CallbackReceiver::answering(&[404]).await;
    rig.queue
        .publish(with_callback(call_on("default", "echo"), &receiver.url()))
        .await
        .unwrap();
    let letters = rig.dead_letters(1).await;
    assert!(
        letters[0].reason.contains("refused") && letters[0].reason.contains("404"),
        "{}",
        letters[0].reason
    );
    assert_eq!(receiver.posts().len(), 1);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_callback_is_dead_lettered_with_the_reason() {
    let invoker = ScriptedInvoker::new(|_, _| ok(200, "result"));
    let rig = Rig::simple(invoker.clone()).await;
    rig.queue
        .publish(with_callback(
            call_on("default", "echo"),
            "https://127.0.0.1:1/cb",
        ))
        .await
        .unwrap();
    let letters = rig.dead_letters(1).await;
    assert!(
        letters[0].reason.contains("plain http"),
        "{}",
        letters[0].reason
    );
    rig.stop().await;
}

/// A queue that corrupts the callback URL of what it delivers, as if a bad URL had been
/// stored by an older gateway.
struct CorruptingQueue(Arc<dyn Queue>);

#[async_trait]
impl Queue for CorruptingQueue {
    async fn publish(&self, call: QueuedCall) -> Result<(), QueueError> {
        self.0.publish(call).await
    }
    async fn consume(
        &self,
        queue: &str,
        lease: Duration,
        wait: Duration,
    ) -> Result<Option<Delivery>, QueueError> {
        let mut delivery = self.0.consume(queue, lease, wait).await?;
        if let Some(delivery) = &mut delivery {
            delivery.call.callback_url = Some("gopher://nowhere".into());
        }
        Ok(delivery)
    }
    async fn extend_lease(&self, delivery: &Delivery, lease: Duration) -> Result<(), QueueError> {
        self.0.extend_lease(delivery, lease).await
    }
    async fn ack(&self, delivery: Delivery) -> Result<(), QueueError> {
        self.0.ack(delivery).await
    }
    async fn retry_later(&self, delivery: Delivery, delay: Duration) -> Result<(), QueueError> {
        self.0.retry_later(delivery, delay).await
    }
    async fn dead_letter(&self, delivery: Delivery, reason: &str) -> Result<(), QueueError> {
        self.0.dead_letter(delivery, reason).await
    }
    async fn dead_letters(&self, queue: Option<&str>) -> Result<Vec<DeadLetter>, QueueError> {
        self.0.dead_letters(queue).await
    }
    async fn replay(&self, id: &str) -> Result<usize, QueueError> {
        self.0.replay(id).await
    }
    async fn discard(&self, id: &str) -> Result<usize, QueueError> {
        self.0.discard(id).await
    }
    async fn queues(&self) -> Result<Vec<String>, QueueError> {
        self.0.queues().await
    }
    async fn stats(&self, queue: &str) -> Result<QueueStats, QueueError> {
        self.0.stats(queue).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_callback_url_that_slipped_through_is_dead_lettered() {
    let invoker = ScriptedInvoker::new(|_, _| ok(200, "result"));
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn Queue> = Arc::new(
        EmbeddedQueue::open(EmbeddedConfig::new(dir.path()))
            .await
            .unwrap(),
    );
    let corrupting: Arc<dyn Queue> = Arc::new(CorruptingQueue(inner));
    let rig = Rig::with_queue(
        dir,
        corrupting,
        invoker.clone(),
        WorkerPoolConfig::new(config()),
    );
    rig.queue.publish(call_on("default", "echo")).await.unwrap();
    let letters = rig.dead_letters(1).await;
    assert!(
        letters[0].reason.contains("X-Callback-Url"),
        "{}",
        letters[0].reason
    );
    assert_eq!(
        invoker.count(),
        0,
        "the function is not run for a call whose result cannot go anywhere"
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_named_queue_has_its_own_settings() {
    let invoker = ScriptedInvoker::with_delay(Duration::from_millis(150), |_, _| ok(200, "ok"));
    let mut pool = WorkerPoolConfig::new(WorkerConfig {
        max_inflight: 1,
        ..config()
    });
    pool.queues.insert(
        "fast".into(),
        WorkerConfig {
            max_inflight: 4,
            ..config()
        },
    );
    let rig = Rig::start(invoker.clone(), pool).await;
    for _ in 0..8 {
        rig.queue.publish(call_on("fast", "echo")).await.unwrap();
        rig.queue.publish(call_on("default", "echo")).await.unwrap();
    }
    rig.drained("fast").await;
    rig.drained("default").await;
    assert_eq!(invoker.max_running("fast"), 4);
    assert_eq!(invoker.max_running("default"), 1);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_call_keeps_its_lease() {
    let invoker = ScriptedInvoker::with_delay(Duration::from_millis(1200), |_, _| ok(200, "slow"));
    let rig = Rig::start(
        invoker.clone(),
        WorkerPoolConfig::new(WorkerConfig {
            lease: Duration::from_millis(300),
            ..config()
        }),
    )
    .await;
    rig.queue.publish(call_on("default", "slow")).await.unwrap();
    rig.drained("default").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(invoker.count(), 1, "not redelivered while it ran");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_consuming() {
    let invoker = ScriptedInvoker::new(|_, _| ok(200, "ok"));
    let rig = Rig::simple(invoker.clone()).await;
    rig.queue.publish(call_on("default", "echo")).await.unwrap();
    rig.drained("default").await;
    let queue = rig.queue.clone();
    let started = Instant::now();
    rig.stop().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    queue.publish(call_on("default", "echo")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(invoker.count(), 1);
    assert_eq!(queue.depth("default").await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_registered_and_counted() {
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = QueueMetrics::register(&mut registry);
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn Queue> = Arc::new(
        EmbeddedQueue::open(EmbeddedConfig::new(dir.path()))
            .await
            .unwrap(),
    );
    let queue: Arc<dyn Queue> = Arc::new(MeteredQueue::new(inner, metrics.clone()));
    let invoker = ScriptedInvoker::new(|_, nth| if nth == 0 { ok(503, "") } else { ok(200, "") });
    let mut config = WorkerPoolConfig::new(config());
    config.discover_interval = Duration::from_millis(50);
    let pool = WorkerPool::start(queue.clone(), invoker.clone(), config, metrics.clone()).unwrap();
    let receiver = CallbackReceiver::start().await;
    queue
        .publish(with_callback(call_on("default", "echo"), &receiver.url()))
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "two attempts", || async {
        invoker.count() >= 2
    })
    .await;
    eventually(Duration::from_secs(10), "queue drained", || async {
        queue.depth("default").await.unwrap() == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    pool.shutdown(Duration::from_secs(2)).await;

    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for line in [
        "faas_queue_accepted_total{queue=\"default\"} 1",
        "faas_queue_retries_total{queue=\"default\"} 1",
        "faas_queue_invocations_total{queue=\"default\",code=\"503\"} 1",
        "faas_queue_invocations_total{queue=\"default\",code=\"200\"} 1",
        "faas_queue_inflight{queue=\"default\"} 0",
        "faas_queue_depth{queue=\"default\"} 0",
        "faas_queue_dead_letter_depth{queue=\"default\"} 0",
        "faas_queue_dead_letters_total{queue=\"default\"} 0",
        "faas_queue_callbacks_total{queue=\"default\",code=\"200\"} 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

/// Method, URI, `X-Custom`, body.
type SeenRequest = (String, String, Option<String>, bytes::Bytes);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_invoker_calls_the_function_proxy() {
    let seen: Arc<std::sync::Mutex<Vec<SeenRequest>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let record = record.clone();
        async move {
            let method = request.method().to_string();
            let uri = request.uri().to_string();
            let header = request
                .headers()
                .get("x-custom")
                .map(|v| v.to_str().unwrap().to_string());
            let body = axum::body::to_bytes(request.into_body(), usize::MAX)
                .await
                .unwrap();
            record.lock().unwrap().push((method, uri, header, body));
            ([("x-answer", "42")], "from the function")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let invoker = GatewayInvoker::new(format!("http://{addr}"), Duration::from_secs(5)).unwrap();
    let mut call = call_on("default", "echo");
    call.method = "PUT".into();
    call.path = "/sub/path".into();
    call.query = "a=1&b=2".into();
    call.headers = vec![
        ("X-Custom".into(), "yes".into()),
        ("Connection".into(), "close".into()),
    ];
    let response = invoker.invoke(&call).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-answer"), Some("42"));
    assert_eq!(response.body, "from the function");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].0, "PUT");
    assert_eq!(seen[0].1, "/function/echo.openfaas-fn/sub/path?a=1&b=2");
    assert_eq!(seen[0].2.as_deref(), Some("yes"));
    assert_eq!(seen[0].3, call.body);
    server.abort();

    let nowhere = GatewayInvoker::new(
        format!("http://127.0.0.1:{}", closed_port()),
        Duration::from_secs(5),
    )
    .unwrap();
    let err = nowhere.invoke(&call).await.unwrap_err();
    assert!(matches!(err, InvokeError::ConnectionRefused(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_invoker_keeps_at_most_its_cap_of_an_answer() {
    let app = axum::Router::new()
        .route(
            "/function/{name}",
            axum::routing::post(|| async { vec![b'x'; 5000] }),
        )
        .route(
            "/function/{name}/stream",
            axum::routing::post(|| async {
                let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                    vec![Ok(vec![b'y'; 3000]), Ok(vec![b'z'; 3000])];
                axum::body::Body::from_stream(futures_util::stream::iter(chunks))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let invoker = GatewayInvoker::new(format!("http://{addr}"), Duration::from_secs(5))
        .unwrap()
        .with_max_answer_bytes(4000);
    let mut call = call_on("default", "big");
    call.namespace = String::new();
    // Known length, and streamed without one: both stop at the cap.
    for path in ["", "/stream"] {
        call.path = path.into();
        let err = invoker.invoke(&call).await.unwrap_err();
        assert_eq!(err, InvokeError::TooLarge(4000), "{path}");
        assert_eq!(err.status(), 413);
    }
    let roomy = GatewayInvoker::new(format!("http://{addr}"), Duration::from_secs(5))
        .unwrap()
        .with_max_answer_bytes(6000);
    call.path = "/stream".into();
    assert_eq!(roomy.invoke(&call).await.unwrap().body.len(), 6000);
    server.abort();
}
