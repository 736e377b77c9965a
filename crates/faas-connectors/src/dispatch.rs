//! What the message connectors (NATS, MQTT) share: the topic map, read again every
//! `rebuild_interval`, and handing a message to every function subscribed to its topic.
//!
//! Calls in flight are bounded per connector ([`MAX_CALLS_IN_FLIGHT`]): a message arriving
//! while that many calls are still running is not called for that subscriber: it is logged
//! (at most once a second, with how many were skipped) and dropped. Both connectors deliver
//! at most once already, and waiting instead would stall the subscription itself (the MQTT
//! event loop keeps the connection alive; a NATS subscriber that stops reading is cut off
//! as a slow consumer).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::caller::GatewayCaller;
use crate::source::{topic_map, FunctionSource};

/// Most calls one connector has in flight at once.
pub const MAX_CALLS_IN_FLIGHT: usize = 256;

/// Topic -> subscribed functions (`name.namespace`), shared by a connector's tasks, with the
/// bound on the calls they make.
#[derive(Clone)]
pub(crate) struct Topics {
    map: Arc<RwLock<BTreeMap<String, Vec<String>>>>,
    calls: Arc<Semaphore>,
    skipped: Arc<Skipped>,
}

/// Calls skipped at the bound, and when that was last logged.
#[derive(Default)]
struct Skipped {
    count: AtomicU64,
    logged: Mutex<Option<Instant>>,
}

impl Default for Topics {
    fn default() -> Self {
        Topics::with_bound(MAX_CALLS_IN_FLIGHT)
    }
}

impl Topics {
    fn with_bound(calls: usize) -> Topics {
        Topics {
            map: Arc::default(),
            calls: Arc::new(Semaphore::new(calls)),
            skipped: Arc::default(),
        }
    }

    /// Reads the functions again; on failure the map stays as it was.
    pub(crate) async fn rebuild(&self, source: &dyn FunctionSource, connector: &str) {
        match source.functions().await {
            Ok(functions) => {
                let map = topic_map(&functions);
                if let Ok(mut current) = self.map.write() {
                    *current = map;
                }
            }
            Err(err) => tracing::warn!("{connector}: {err}"),
        }
    }

    /// A task that rebuilds the map every `interval`, holding `keep` (a client whose
    /// connection must live as long as the connector) until it is aborted.
    pub(crate) fn rebuild_every<K: Send + 'static>(
        &self,
        source: Arc<dyn FunctionSource>,
        interval: Duration,
        connector: &'static str,
        keep: K,
    ) -> tokio::task::JoinHandle<()> {
        let topics = self.clone();
        tokio::spawn(async move {
            let _keep = keep;
            loop {
                tokio::time::sleep(interval).await;
                topics.rebuild(source.as_ref(), connector).await;
            }
        })
    }

    /// Calls every function subscribed to `topic` with `body`, each on its own task, within
    /// the bound on calls in flight; a topic nobody names is dropped.
    pub(crate) fn dispatch(
        &self,
        caller: &Arc<GatewayCaller>,
        topic: &str,
        body: &[u8],
        connector: &'static str,
    ) {
        let subscribers = self
            .map
            .read()
            .map(|map| map.get(topic).cloned().unwrap_or_default())
            .unwrap_or_default();
        for function in subscribers {
            let Ok(permit) = self.calls.clone().try_acquire_owned() else {
                self.skip(connector, topic, &function);
                continue;
            };
            let (caller, topic, body) = (caller.clone(), topic.to_owned(), body.to_vec());
            tokio::spawn(async move {
                let _permit = permit;
                match caller.call(&function, &topic, body).await {
                    Ok(status) => tracing::info!("{connector}: {topic} -> {function}: {status}"),
                    Err(err) => tracing::warn!("{connector}: {err}"),
                }
            });
        }
    }

    fn skip(&self, connector: &str, topic: &str, function: &str) {
        let skipped = self.skipped.count.fetch_add(1, Ordering::Relaxed) + 1;
        let Ok(mut logged) = self.skipped.logged.lock() else {
            return;
        };
        if logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            *logged = Some(Instant::now());
            tracing::warn!(
                "{connector}: {MAX_CALLS_IN_FLIGHT} calls in flight: {topic} -> {function} \
                 dropped ({skipped} dropped so far)"
            );
        }
    }

    /// Messages dropped at the bound so far.
    #[cfg(test)]
    fn skipped(&self) -> u64 {
        self.skipped.count.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A gateway whose calls take 300 ms, recording the most running at once.
    async fn slow_gateway() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (r, m) = (running.clone(), most.clone());
        let app = axum::Router::new().fallback(move || {
            let (running, most) = (r.clone(), m.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, running, most)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_in_flight_stay_within_the_bound_and_the_rest_are_dropped() {
        let (url, running, most) = slow_gateway().await;
        let caller = Arc::new(GatewayCaller::new(&url, "test", Duration::from_secs(5)).unwrap());
        let topics = Topics::with_bound(3);
        topics
            .map
            .write()
            .unwrap()
            .insert("orders".into(), vec!["a".into(), "b".into()]);
        for _ in 0..5 {
            topics.dispatch(&caller, "orders", b"{}", "test");
        }
        // 10 calls wanted, 3 at once allowed: 7 dropped at once.
        assert_eq!(topics.skipped(), 7);
        let deadline = Instant::now() + Duration::from_secs(5);
        while (most.load(Ordering::SeqCst) < 3 || running.load(Ordering::SeqCst) > 0)
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
        // Once they finish, the bound is free again.
        while topics.calls.available_permits() < 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        topics.dispatch(&caller, "orders", b"{}", "test");
        assert_eq!(topics.skipped(), 7);
    }
}
