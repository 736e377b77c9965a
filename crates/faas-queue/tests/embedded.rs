//! The embedded (redb) queue: the shared scenarios, plus what only a local file can show
//! (reopening keeps unsettled calls, stale leases are refused).
#![cfg(feature = "embedded")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{call_on, scenarios};
use faas_queue::{EmbeddedConfig, EmbeddedQueue, Queue, QueueError};

async fn open(dir: &std::path::Path) -> Arc<EmbeddedQueue> {
    Arc::new(
        EmbeddedQueue::open(EmbeddedConfig::new(dir))
            .await
            .expect("open"),
    )
}

async fn fresh() -> (tempfile::TempDir, Arc<dyn Queue>) {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path()).await;
    (dir, queue)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_call_is_delivered() {
    let (_dir, queue) = fresh().await;
    scenarios::every_accepted_call_is_delivered(queue, 2_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_lease_redelivers() {
    let (_dir, queue) = fresh().await;
    scenarios::expired_lease_redelivers(queue, Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_later_hides_until_the_delay() {
    let (_dir, queue) = fresh().await;
    scenarios::retry_later_hides_until_the_delay(queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_replay_and_discard() {
    let (_dir, queue) = fresh().await;
    scenarios::dead_letters_replay_and_discard(queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_invalid_calls() {
    let (_dir, queue) = fresh().await;
    scenarios::refuses_invalid_calls(queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_follow_the_call() {
    let (_dir, queue) = fresh().await;
    scenarios::stats_follow_the_call(queue).await;
}

/// Leases are not kept across a restart: leased calls come back, acked ones do not, delayed
/// retries stay delayed, dead letters stay dead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_delivers_every_unsettled_call_again() {
    let dir = tempfile::tempdir().unwrap();
    let queue = open(dir.path()).await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        let call = call_on("default", "echo");
        ids.push(call.id.clone());
        queue.publish(call).await.unwrap();
    }
    let lease = Duration::from_secs(600);
    let take = || queue.consume("default", lease, Duration::from_secs(1));
    let acked = take().await.unwrap().unwrap();
    let acked_id = acked.call.id.clone();
    queue.ack(acked).await.unwrap();
    let delayed = take().await.unwrap().unwrap();
    let delayed_id = delayed.call.id.clone();
    queue
        .retry_later(delayed, Duration::from_secs(3600))
        .await
        .unwrap();
    let dead = take().await.unwrap().unwrap();
    queue.dead_letter(dead, "gave up").await.unwrap();
    let held = take().await.unwrap().unwrap();
    drop(held);
    drop(queue);

    let queue = open(dir.path()).await;
    let stats = queue.stats("default").await.unwrap();
    assert_eq!(
        (stats.ready, stats.delayed, stats.leased, stats.dead_letters),
        (7, 1, 0, 1),
        "{stats:?}"
    );
    let mut seen = Vec::new();
    while let Some(delivery) = queue
        .consume("default", lease, Duration::from_millis(100))
        .await
        .unwrap()
    {
        seen.push(delivery.call.id.clone());
        queue.ack(delivery).await.unwrap();
    }
    assert_eq!(seen.len(), 7);
    assert!(!seen.contains(&acked_id) && !seen.contains(&delayed_id));
    assert_eq!(queue.dead_letters(Some("default")).await.unwrap().len(), 1);
}

/// A consumer whose lease expired (and the call went to someone else) cannot retry or
/// dead-letter it; its late ack is harmless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_lease_cannot_settle_the_call() {
    let (_dir, queue) = fresh().await;
    queue.publish(call_on("default", "echo")).await.unwrap();
    let short = Duration::from_millis(100);
    let first = queue
        .consume("default", short, Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    let second = queue
        .consume("default", Duration::from_secs(60), Duration::from_secs(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.call.id, second.call.id);
    assert!(matches!(
        queue.extend_lease(&first, short).await,
        Err(QueueError::LeaseLost(_))
    ));
    assert!(matches!(
        queue.retry_later(first.clone(), Duration::ZERO).await,
        Err(QueueError::LeaseLost(_))
    ));
    assert!(matches!(
        queue.dead_letter(first, "late").await,
        Err(QueueError::LeaseLost(_))
    ));
    queue
        .extend_lease(&second, Duration::from_secs(60))
        .await
        .unwrap();
    queue.ack(second).await.unwrap();
    assert_eq!(queue.depth("default").await.unwrap(), 0);
}

/// A consumer waiting on an empty queue wakes as soon as a call is published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_consumer_wakes_on_publish() {
    let (_dir, queue) = fresh().await;
    let waiter = {
        let queue = queue.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let delivery = queue
                .consume("default", Duration::from_secs(60), Duration::from_secs(10))
                .await
                .unwrap();
            (delivery.is_some(), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    queue.publish(call_on("default", "echo")).await.unwrap();
    let (got, waited) = waiter.await.unwrap();
    assert!(got);
    assert!(waited < Duration::from_secs(2), "woke after {waited:?}");
}

#[tokio::test]
async fn dead_letters_come_in_pages() {
    let (_dir, queue) = fresh().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let name = if i % 2 == 0 { "even" } else { "odd" };
        let call = call_on(name, "f");
        ids.push((name, call.id.clone()));
        queue.publish(call).await.unwrap();
        let delivery = queue
            .consume(name, Duration::from_secs(30), Duration::from_secs(1))
            .await
            .unwrap()
            .expect("a call");
        queue
            .dead_letter(delivery, &format!("letter {i}"))
            .await
            .unwrap();
    }
    let ids_of = |letters: Vec<faas_queue::DeadLetter>| -> Vec<String> {
        letters.into_iter().map(|l| l.call.id).collect()
    };
    let all = ids_of(queue.dead_letters(None).await.unwrap());
    assert_eq!(
        all,
        ids.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>()
    );
    assert_eq!(
        ids_of(queue.dead_letters_page(None, 1, 2).await.unwrap()),
        all[1..3]
    );
    assert_eq!(
        ids_of(queue.dead_letters_page(None, 4, 10).await.unwrap()),
        all[4..]
    );
    assert!(queue
        .dead_letters_page(None, 5, 10)
        .await
        .unwrap()
        .is_empty());
    // Paging counts within the chosen queue: "even" holds letters 0, 2, 4.
    assert_eq!(
        ids_of(queue.dead_letters_page(Some("even"), 1, 1).await.unwrap()),
        vec![all[2].clone()]
    );
}
