//! The NATS JetStream queue against a real nats-server (started per test on a free loopback
//! port by `scripts/nats-server.sh`, which installs it from Debian's packages when missing):
//! the shared scenarios, the worker end to end, and a server killed and restarted mid-run.
//!
//! Run with `cargo nextest run -p faas-queue --features nats`. A test that cannot get a
//! nats-server fails with the reason (faas-testkit's policy: never pass by skipping).
#![cfg(feature = "nats")]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{call_on, ok, scenarios, CallbackReceiver, ScriptedInvoker};
use faas_queue::{
    CallbackPolicy, NatsConfig, NatsQueue, Queue, QueueMetrics, RetryPolicy, WorkerConfig,
    WorkerPool, WorkerPoolConfig,
};
use faas_testkit::NatsServer;

async fn start() -> (NatsServer, Arc<dyn Queue>) {
    let server =
        NatsServer::start().unwrap_or_else(|why| panic!("no nats-server for this test: {why}"));
    let mut config = NatsConfig::new(server.url());
    config.request_timeout = Duration::from_secs(2);
    let queue = NatsQueue::connect(config)
        .await
        .expect("connect to nats-server");
    (server, Arc::new(queue))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_call_is_delivered() {
    let (_server, queue) = start().await;
    scenarios::every_accepted_call_is_delivered(queue, 1_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_lease_redelivers() {
    let (_server, queue) = start().await;
    scenarios::expired_lease_redelivers(queue, Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_later_hides_until_the_delay() {
    let (_server, queue) = start().await;
    scenarios::retry_later_hides_until_the_delay(queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_replay_and_discard() {
    let (_server, queue) = start().await;
    scenarios::dead_letters_replay_and_discard(queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_invalid_calls() {
    let (_server, queue) = start().await;
    scenarios::refuses_invalid_calls(queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_follow_the_call() {
    let (_server, queue) = start().await;
    scenarios::stats_follow_the_call(queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_retries_posts_and_dead_letters_over_nats() {
    let (_server, queue) = start().await;
    let invoker = ScriptedInvoker::new(|call, nth| {
        if call.function == "down" || nth == 0 {
            ok(503, "busy")
        } else {
            ok(200, "done")
        }
    });
    let config = WorkerConfig {
        max_inflight: 2,
        lease: Duration::from_secs(5),
        poll_wait: Duration::from_millis(300),
        retry: RetryPolicy {
            attempts: 3,
            min_wait: Duration::from_millis(100),
            max_wait: Duration::from_millis(400),
            ..RetryPolicy::default()
        },
        callback: CallbackPolicy {
            attempts: 2,
            min_wait: Duration::from_millis(20),
            max_wait: Duration::from_millis(50),
            timeout: Duration::from_secs(2),
        },
    };
    let mut pool_config = WorkerPoolConfig::new(config);
    pool_config.discover_interval = Duration::from_millis(100);
    let pool = WorkerPool::start(
        queue.clone(),
        invoker.clone(),
        pool_config,
        QueueMetrics::default(),
    )
    .unwrap();
    let receiver = CallbackReceiver::start().await;
    let mut flaky = call_on("default", "flaky");
    flaky.callback_url = Some(receiver.url());
    let mut down = call_on("default", "down");
    down.callback_url = Some(receiver.url());
    queue.publish(flaky.clone()).await.unwrap();
    queue.publish(down.clone()).await.unwrap();

    let posts = receiver.wait_for(2, Duration::from_secs(20)).await;
    let status_of = |id: &str| {
        posts
            .iter()
            .find(|p| p.header("x-call-id") == Some(id))
            .and_then(|p| p.header("x-function-status"))
            .map(str::to_string)
    };
    assert_eq!(status_of(&flaky.id).as_deref(), Some("200"));
    assert_eq!(status_of(&down.id).as_deref(), Some("503"));
    common::eventually(Duration::from_secs(10), "a dead letter", || async {
        queue.dead_letters(Some("default")).await.unwrap().len() == 1
    })
    .await;
    let letters = queue.dead_letters(None).await.unwrap();
    assert_eq!(letters[0].call.id, down.id);
    assert_eq!(letters[0].call.attempt, 3);
    common::eventually(Duration::from_secs(10), "the queue to drain", || async {
        queue.depth("default").await.unwrap() == 0
    })
    .await;
    pool.shutdown(Duration::from_secs(5)).await;
}

/// The server is killed (SIGKILL) and restarted while publishers and consumers run: every
/// call whose publish returned is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_mid_run_loses_nothing() {
    let (server, queue) = start().await;
    const CALLS: usize = 600;
    let consume_errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let accepted: Arc<Mutex<HashSet<String>>> = Arc::default();
    let delivered: Arc<Mutex<Vec<String>>> = Arc::default();
    let publishing_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publish_errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    let mut publishers = Vec::new();
    for p in 0..8 {
        let queue = queue.clone();
        let accepted = accepted.clone();
        let errors = publish_errors.clone();
        publishers.push(tokio::spawn(async move {
            for _ in (p..CALLS).step_by(8) {
                let call = call_on("restart", "echo");
                // Like a client that gets a 503 and tries again.
                while let Err(err) = queue.publish(call.clone()).await {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing_free_log(&format!("publish failed, retrying: {err}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                accepted.lock().unwrap().insert(call.id);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    let mut consumers = Vec::new();
    for _ in 0..4 {
        let queue = queue.clone();
        let delivered = delivered.clone();
        let accepted = accepted.clone();
        let done = publishing_done.clone();
        let errors = consume_errors.clone();
        consumers.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(50);
            loop {
                if done.load(std::sync::atomic::Ordering::Relaxed) {
                    let seen: HashSet<String> = delivered.lock().unwrap().iter().cloned().collect();
                    if accepted.lock().unwrap().is_subset(&seen) {
                        return;
                    }
                }
                if Instant::now() > deadline {
                    return;
                }
                match queue
                    .consume(
                        "restart",
                        Duration::from_secs(2),
                        Duration::from_millis(300),
                    )
                    .await
                {
                    Ok(Some(delivery)) => {
                        // Delivered is delivered, whether or not the ack gets through (an ack
                        // the server applied just before it died fails here but sticks).
                        delivered.lock().unwrap().push(delivery.call.id.clone());
                        let _ = queue.ack(delivery).await;
                    }
                    Ok(None) => {}
                    Err(err) => {
                        if errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 20 {
                            tracing_free_log(&format!("consume failed: {err}"));
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await
                    }
                }
            }
        }));
    }

    common::eventually(
        Duration::from_secs(20),
        "a third of the calls published",
        || async { accepted.lock().unwrap().len() >= CALLS / 3 },
    )
    .await;
    server.kill().expect("kill -9 nats-server");
    let down_at = accepted.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.restart().expect("restart nats-server");

    for publisher in publishers {
        publisher.await.unwrap();
    }
    publishing_done.store(true, std::sync::atomic::Ordering::Relaxed);
    for consumer in consumers {
        consumer.await.unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    let delivered = delivered.lock().unwrap().clone();
    let unique: HashSet<String> = delivered.iter().cloned().collect();
    assert_eq!(accepted.len(), CALLS);
    let missing: Vec<_> = accepted.difference(&unique).collect();
    assert!(
        missing.is_empty(),
        "{} accepted calls not delivered: {missing:?}; queue now {:?}; consume errors {}",
        missing.len(),
        queue.stats("restart").await,
        consume_errors.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!(
        "nats-server killed after {down_at} accepted calls and restarted: {CALLS} accepted, {} delivered, 0 lost, {} duplicates, {} publish errors retried by the publishers, {} delivered that no publish reported",
        delivered.len(),
        delivered.len() - unique.len(),
        publish_errors.load(std::sync::atomic::Ordering::Relaxed),
        unique.difference(&accepted).count()
    );
}

fn tracing_free_log(line: &str) {
    eprintln!("{line}");
}
