//! Accepted calls per second with 64 concurrent publishers, every call durable before its
//! publish returns (embedded: synced to disk by group commit; NATS: stored by the server).
//!
//! `cargo bench -p faas-queue --bench accept [-- CALLS]`, and with `--features nats` also
//! against a nats-server started by `scripts/nats-server.sh` (skipped, saying so, when it cannot
//! be installed).

// With neither backend there is nothing to measure.
#![cfg_attr(
    not(any(feature = "embedded", feature = "nats")),
    allow(dead_code, unused)
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use faas_queue::{Queue, QueuedCall};

const PUBLISHERS: usize = 64;
const BODY_BYTES: usize = 256;

async fn publish_all(queue: Arc<dyn Queue>, calls: usize) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..PUBLISHERS {
        let queue = queue.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < calls {
                let mut call = QueuedCall::new("bench", "openfaas-fn");
                call.body = bytes::Bytes::from(vec![b'x'; BODY_BYTES]);
                call.callback_url = Some("http://127.0.0.1:9/cb".into());
                queue.publish(call).await.expect("publish");
            }
        }));
    }
    for task in tasks {
        task.await.expect("publisher");
    }
    started.elapsed()
}

fn report(backend: &str, calls: usize, elapsed: Duration) {
    println!(
        "{backend}: {calls} calls from {PUBLISHERS} publishers in {:.2}s = {:.0} accepted calls/s (each durable before publish returned)",
        elapsed.as_secs_f64(),
        calls as f64 / elapsed.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let calls: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(50_000);

    #[cfg(feature = "embedded")]
    {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let queue: Arc<dyn Queue> = Arc::new(
            faas_queue::EmbeddedQueue::open(faas_queue::EmbeddedConfig::new(dir.path()))
                .await
                .expect("open"),
        );
        publish_all(queue.clone(), 1_000).await; // warm up
        let elapsed = publish_all(queue.clone(), calls).await;
        report("embedded (redb, group commit)", calls, elapsed);
    }

    #[cfg(feature = "nats")]
    nats::run(calls).await;
}

#[cfg(feature = "nats")]
mod nats {
    use faas_testkit::NatsServer;

    pub async fn run(calls: usize) {
        let server = match NatsServer::start() {
            Ok(server) => server,
            Err(why) => {
                println!("nats: SKIPPED: {why}");
                return;
            }
        };
        let config = faas_queue::NatsConfig::new(server.url());
        let queue: std::sync::Arc<dyn faas_queue::Queue> = std::sync::Arc::new(
            faas_queue::NatsQueue::connect(config)
                .await
                .expect("connect"),
        );
        super::publish_all(queue.clone(), 1_000).await;
        let elapsed = super::publish_all(queue, calls).await;
        super::report("nats (JetStream, file storage)", calls, elapsed);
    }
}
