//! What every [`Queue`] backend must do, written once and run against each backend.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faas_queue::{Queue, QueueError};

use super::call_on;

const LONG_LEASE: Duration = Duration::from_secs(60);

/// Every accepted call is delivered (order not promised): `count` calls over two queues from
/// 16 publishers, consumed by 4 consumers per queue.
pub async fn every_accepted_call_is_delivered(queue: Arc<dyn Queue>, count: usize) {
    let queues = ["alpha", "beta"];
    let mut publishers = Vec::new();
    for p in 0..16 {
        let queue = queue.clone();
        publishers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (p..count).step_by(16) {
                let call = call_on(queues[i % 2], "echo");
                queue.publish(call.clone()).await.expect("publish");
                ids.push(call.id);
            }
            ids
        }));
    }
    let mut accepted = HashSet::new();
    for publisher in publishers {
        accepted.extend(publisher.await.unwrap());
    }
    assert_eq!(accepted.len(), count);

    let mut consumers = Vec::new();
    for name in queues {
        for _ in 0..4 {
            let queue = queue.clone();
            consumers.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(delivery) = queue
                    .consume(name, LONG_LEASE, Duration::from_millis(1500))
                    .await
                    .expect("consume")
                {
                    assert_eq!(delivery.call.queue, name);
                    assert_eq!(delivery.call.body, format!("body of {}", delivery.call.id));
                    got.push(delivery.call.id.clone());
                    queue.ack(delivery).await.expect("ack");
                }
                got
            }));
        }
    }
    let mut delivered = Vec::new();
    for consumer in consumers {
        delivered.extend(consumer.await.unwrap());
    }
    let unique: HashSet<_> = delivered.iter().cloned().collect();
    assert_eq!(unique, accepted, "every accepted call delivered");
    println!(
        "{} accepted, {} delivered, {} duplicates",
        accepted.len(),
        delivered.len(),
        delivered.len() - unique.len()
    );
    for name in queues {
        assert_eq!(queue.depth(name).await.unwrap(), 0, "queue {name} drained");
    }
}

/// A lease that expires makes the call visible again.
pub async fn expired_lease_redelivers(queue: Arc<dyn Queue>, lease: Duration) {
    let call = call_on("lease", "slow");
    queue.publish(call.clone()).await.unwrap();
    let first = queue
        .consume("lease", lease, Duration::from_secs(5))
        .await
        .unwrap()
        .expect("first delivery");
    assert_eq!(first.call.id, call.id);
    assert!(
        queue
            .consume("lease", lease, Duration::ZERO)
            .await
            .unwrap()
            .is_none(),
        "leased call is invisible"
    );
    let leased_at = Instant::now();
    let second = queue
        .consume("lease", lease, lease * 4 + Duration::from_secs(2))
        .await
        .unwrap()
        .expect("redelivered after the lease expired");
    assert!(leased_at.elapsed() >= lease / 2, "redelivered too early");
    assert_eq!(second.call.id, call.id);
    assert!(second.deliveries >= 2, "deliveries = {}", second.deliveries);
    queue.ack(second).await.unwrap();
    assert!(queue
        .consume("lease", lease, lease * 2)
        .await
        .unwrap()
        .is_none());
}

/// `retry_later` stores the changed call and hides it until the delay passed.
pub async fn retry_later_hides_until_the_delay(queue: Arc<dyn Queue>) {
    let call = call_on("retry", "flaky");
    queue.publish(call.clone()).await.unwrap();
    let mut delivery = queue
        .consume("retry", LONG_LEASE, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    delivery.call.attempt = 1;
    let delay = Duration::from_millis(1200);
    let retried_at = Instant::now();
    queue.retry_later(delivery, delay).await.unwrap();
    assert!(
        queue
            .consume("retry", LONG_LEASE, Duration::from_millis(300))
            .await
            .unwrap()
            .is_none(),
        "visible before its delay"
    );
    let again = queue
        .consume("retry", LONG_LEASE, Duration::from_secs(5))
        .await
        .unwrap()
        .expect("visible after its delay");
    let waited = retried_at.elapsed();
    assert!(
        waited >= delay - Duration::from_millis(50),
        "came back after {waited:?}"
    );
    assert_eq!(again.call.id, call.id);
    assert_eq!(again.call.attempt, 1, "the changed call was stored");
    queue.ack(again).await.unwrap();
}

/// Dead letters are listed with their reason, replayed onto their queue, or discarded.
pub async fn dead_letters_replay_and_discard(queue: Arc<dyn Queue>) {
    let call = call_on("dlq", "broken");
    queue.publish(call.clone()).await.unwrap();
    let mut delivery = queue
        .consume("dlq", LONG_LEASE, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    delivery.call.attempt = 3;
    queue
        .dead_letter(delivery, "broken answered 503 three times")
        .await
        .unwrap();

    let letters = queue.dead_letters(Some("dlq")).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].call.id, call.id);
    assert_eq!(letters[0].call.attempt, 3);
    assert_eq!(letters[0].reason, "broken answered 503 three times");
    assert!(queue
        .dead_letters(None)
        .await
        .unwrap()
        .iter()
        .any(|l| l.call.id == call.id));
    assert!(queue.dead_letters(Some("other")).await.unwrap().is_empty());
    let stats = queue.stats("dlq").await.unwrap();
    assert_eq!((stats.depth(), stats.dead_letters), (0, 1));
    assert!(queue
        .consume("dlq", LONG_LEASE, Duration::from_millis(200))
        .await
        .unwrap()
        .is_none());

    assert_eq!(queue.replay(&call.id).await.unwrap(), 1);
    assert!(queue.dead_letters(Some("dlq")).await.unwrap().is_empty());
    let replayed = queue
        .consume("dlq", LONG_LEASE, Duration::from_secs(5))
        .await
        .unwrap()
        .expect("replayed call delivered");
    assert_eq!(replayed.call.id, call.id);
    assert_eq!(replayed.call.attempt, 0, "replay starts the attempts again");
    assert_eq!(replayed.call.body, call.body);

    queue.dead_letter(replayed, "again").await.unwrap();
    assert_eq!(queue.discard(&call.id).await.unwrap(), 1);
    assert!(queue.dead_letters(None).await.unwrap().is_empty());
    assert!(matches!(
        queue.replay(&call.id).await,
        Err(QueueError::NotFound(_))
    ));
    assert!(matches!(
        queue.discard("no-such-id").await,
        Err(QueueError::NotFound(_))
    ));
}

/// Calls a backend cannot route are refused before anything is stored.
pub async fn refuses_invalid_calls(queue: Arc<dyn Queue>) {
    let mut bad_queue = call_on("default", "echo");
    bad_queue.queue = "no.dots".into();
    assert!(matches!(
        queue.publish(bad_queue).await,
        Err(QueueError::InvalidCall(_))
    ));
    let mut bad_callback = call_on("default", "echo");
    bad_callback.callback_url = Some("ftp://example.com/x".into());
    let err = queue.publish(bad_callback).await.unwrap_err();
    assert!(matches!(err, QueueError::InvalidCall(_)), "{err}");
    assert_eq!(err.http_status(), 400);
    assert_eq!(queue.depth("default").await.unwrap(), 0);
}

/// `stats` follows a call through ready, leased and delayed.
pub async fn stats_follow_the_call(queue: Arc<dyn Queue>) {
    queue.publish(call_on("stats", "echo")).await.unwrap();
    queue.publish(call_on("stats", "echo")).await.unwrap();
    let stats = queue.stats("stats").await.unwrap();
    assert_eq!((stats.ready, stats.leased), (2, 0));
    let delivery = queue
        .consume("stats", LONG_LEASE, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    let stats = queue.stats("stats").await.unwrap();
    assert_eq!((stats.ready, stats.leased), (1, 1));
    assert_eq!(queue.depth("stats").await.unwrap(), 2);
    queue.ack(delivery).await.unwrap();
    assert_eq!(queue.depth("stats").await.unwrap(), 1);
    assert!(queue.queues().await.unwrap().contains(&"stats".to_string()));
}
