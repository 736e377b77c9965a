//! What the gateway keeps per function it has proxied to: call counters the autoscaler reads,
//! the cached set of ready replicas, the lock that merges callers waiting for a cold start, and
//! the function's metric handles (label values built once, not per call).
//!
//! Entries are made only for functions the provider knows (after a successful lookup), so
//! calls to names that do not exist cannot grow the table.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::balancer::{InFlightGuard, ReplicaSet};
use crate::history::FunctionHistory;
use crate::metrics::FunctionMetrics;

/// Every function seen so far, by namespace then name: a read-mostly map looked up with
/// borrowed names, so a call allocates nothing once its function is known.
#[derive(Default)]
pub struct FunctionTable {
    by_namespace: RwLock<HashMap<String, HashMap<String, Arc<FunctionEntry>>>>,
}

impl FunctionTable {
    /// The entry of `name` in `namespace`, if a call or the autoscaler has seen it.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<FunctionEntry>> {
        self.by_namespace
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(namespace)?
            .get(name)
            .cloned()
    }

    /// The entry of `name` in `namespace`, made with `make` if new.
    pub fn get_or_insert_with(
        &self,
        namespace: &str,
        name: &str,
        make: impl FnOnce() -> FunctionEntry,
    ) -> Arc<FunctionEntry> {
        if let Some(entry) = self.get(namespace, name) {
            return entry;
        }
        self.by_namespace
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(namespace.to_owned())
            .or_default()
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(make()))
            .clone()
    }

    /// Drops a function's entry (it was deleted); returns it if there was one.
    pub fn remove(&self, namespace: &str, name: &str) -> Option<Arc<FunctionEntry>> {
        let mut map = self
            .by_namespace
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let names = map.get_mut(namespace)?;
        let removed = names.remove(name);
        if names.is_empty() {
            map.remove(namespace);
        }
        removed
    }

    /// Every entry, for the autoscaler and `/metrics`.
    pub fn entries(&self) -> Vec<Arc<FunctionEntry>> {
        self.by_namespace
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .flat_map(|names| names.values().cloned())
            .collect()
    }
}

/// One function's live state in this gateway.
pub struct FunctionEntry {
    namespace: String,
    name: String,
    /// Calls started (any outcome) since the gateway began.
    started: AtomicU64,
    /// Calls the function answered with 200 (what CE's alert rule counts).
    answered_ok: AtomicU64,
    /// Calls whose response has not finished yet.
    in_flight: AtomicU64,
    /// Summed duration, in microseconds, of calls that finished: its rate is the average
    /// number of calls in flight (Little's law), which the `capacity` scaling type uses.
    busy_micros: AtomicU64,
    /// Cold starts this gateway made for the function.
    cold_starts: AtomicU64,
    replicas: RwLock<Option<CachedReplicas>>,
    /// Held by the caller that brings the function up from zero; the others wait on it.
    pub(crate) starting: tokio::sync::Mutex<()>,
    pub(crate) metrics: Option<FunctionMetrics>,
    /// The function's history for the portal (`None` when the history is off).
    pub(crate) history: Option<Arc<FunctionHistory>>,
}

struct CachedReplicas {
    set: ReplicaSet,
    fetched: Instant,
}

impl FunctionEntry {
    /// A new entry; `metrics` is `None` when metrics are off.
    pub fn new(namespace: &str, name: &str, metrics: Option<FunctionMetrics>) -> FunctionEntry {
        FunctionEntry {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            started: AtomicU64::new(0),
            answered_ok: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            busy_micros: AtomicU64::new(0),
            cold_starts: AtomicU64::new(0),
            replicas: RwLock::new(None),
            starting: tokio::sync::Mutex::new(()),
            metrics,
            history: None,
        }
    }

    /// The same entry, also recording into `history`.
    pub fn with_history(mut self, history: Option<Arc<FunctionHistory>>) -> FunctionEntry {
        self.history = history;
        self
    }

    /// The function's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A snapshot of the call counters.
    pub fn stats(&self) -> CallStats {
        CallStats {
            started: self.started.load(Ordering::Relaxed),
            answered_ok: self.answered_ok.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            busy: Duration::from_micros(self.busy_micros.load(Ordering::Relaxed)),
            cold_starts: self.cold_starts.load(Ordering::Relaxed),
        }
    }

    /// Counts a call as started; the guard ends it when dropped (after the response body).
    pub fn start_call(self: &Arc<Self>) -> CallGuard {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        if let Some(metrics) = &self.metrics {
            metrics.call_started();
        }
        CallGuard {
            entry: self.clone(),
            started: Instant::now(),
        }
    }

    /// Counts a call its function answered with 200.
    pub(crate) fn count_answered_ok(&self) {
        self.answered_ok.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one cold start.
    pub(crate) fn count_cold_start(&self, took: Duration) {
        self.cold_starts.fetch_add(1, Ordering::Relaxed);
        if let Some(metrics) = &self.metrics {
            metrics.cold_start(took);
        }
        if let Some(history) = &self.history {
            history.record_cold_start();
        }
    }

    /// A replica from the cache when the cache is younger than `ttl`; `None` means: ask the
    /// provider (nothing cached, or too old). Callers that find it stale at the same moment
    /// each refresh it: a handful of lookups per `ttl`, and no claim that a caller who goes
    /// away could leave behind.
    pub(crate) fn pick_cached(&self, ttl: Duration) -> Option<InFlightGuard> {
        let cache = self.replicas.read().unwrap_or_else(PoisonError::into_inner);
        let cached = cache.as_ref()?;
        if cached.fetched.elapsed() >= ttl {
            return None;
        }
        cached.set.pick()
    }

    /// Stores a fresh set of ready replicas (an empty set is not kept: the next call asks
    /// again) and picks one from it.
    pub(crate) fn store_replicas(&self, set: ReplicaSet) -> Option<InFlightGuard> {
        let guard = set.pick();
        let fresh = (!set.is_empty()).then(|| CachedReplicas {
            set,
            fetched: Instant::now(),
        });
        *self
            .replicas
            .write()
            .unwrap_or_else(PoisonError::into_inner) = fresh;
        guard
    }

    /// Forgets the cached replicas (scaled, updated, or a replica failed to answer).
    pub fn invalidate_replicas(&self) {
        *self
            .replicas
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// Call counters of one function at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Calls started so far.
    pub started: u64,
    /// Calls answered 200 so far.
    pub answered_ok: u64,
    /// Calls in flight now.
    pub in_flight: u64,
    /// Summed duration of finished calls.
    pub busy: Duration,
    /// Cold starts so far.
    pub cold_starts: u64,
}

/// One call in flight to a function; dropping it (when the response body ends) ends the call.
pub struct CallGuard {
    entry: Arc<FunctionEntry>,
    started: Instant,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let took = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.entry.busy_micros.fetch_add(took, Ordering::Relaxed);
        self.entry.in_flight.fetch_sub(1, Ordering::Relaxed);
        if let Some(metrics) = &self.entry.metrics {
            metrics.call_ended();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::InFlight;
    use faas_provider::ReplicaRoute;
    use std::net::SocketAddr;

    fn set(in_flight: &InFlight, ports: &[u16]) -> ReplicaSet {
        let endpoints: Vec<_> = ports
            .iter()
            .map(|port| ReplicaRoute {
                instance: format!("f-{port}"),
                address: SocketAddr::from(([127, 0, 0, 1], *port)).into(),
            })
            .collect();
        in_flight.replica_set(&endpoints)
    }

    #[test]
    fn table_finds_and_forgets() {
        let table = FunctionTable::default();
        assert!(table.get("ns", "f").is_none());
        let made = table.get_or_insert_with("ns", "f", || FunctionEntry::new("ns", "f", None));
        let again = table.get_or_insert_with("ns", "f", || unreachable!());
        assert!(Arc::ptr_eq(&made, &again));
        assert_eq!(table.entries().len(), 1);
        assert!(table.remove("ns", "f").is_some());
        assert!(table.get("ns", "f").is_none());
        assert!(table.entries().is_empty());
    }

    #[test]
    fn calls_are_counted_until_their_guard_drops() {
        let entry = Arc::new(FunctionEntry::new("ns", "f", None));
        let first = entry.start_call();
        let second = entry.start_call();
        assert_eq!(entry.stats().started, 2);
        assert_eq!(entry.stats().in_flight, 2);
        drop(first);
        drop(second);
        let stats = entry.stats();
        assert_eq!((stats.started, stats.in_flight), (2, 0));
    }

    #[test]
    fn the_replica_cache_expires_and_forgets_empty_sets() {
        let in_flight = InFlight::default();
        let entry = FunctionEntry::new("ns", "f", None);
        let ttl = Duration::from_secs(60);
        assert!(entry.pick_cached(ttl).is_none());
        assert!(entry.store_replicas(set(&in_flight, &[1])).is_some());
        assert!(entry.pick_cached(ttl).is_some());
        assert!(entry.pick_cached(Duration::ZERO).is_none());
        assert!(entry.store_replicas(set(&in_flight, &[])).is_none());
        assert!(entry.pick_cached(ttl).is_none());
        entry.store_replicas(set(&in_flight, &[2]));
        entry.invalidate_replicas();
        assert!(entry.pick_cached(ttl).is_none());
    }
}
