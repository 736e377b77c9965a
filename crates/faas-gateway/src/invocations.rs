//! Counting proxied calls: the `invocationCount` of `/system/functions`, and the hook where
//! metrics observe every call.
//!
//! Every call the proxy makes to an existing function ends in one
//! [`Shared::record_call`](crate::server) with its final status, which reports a
//! [`CallRecord`] to the [`InvocationCounter`] and to each [`CallObserver`]. A store shared by
//! several gateways implements [`InvocationCounter`]; [`MemoryInvocationCounter`] is the
//! in-process default.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use http::StatusCode;

/// One finished call (finished meaning its response headers are known).
#[derive(Debug, Clone, Copy)]
pub struct CallRecord<'a> {
    /// The function's namespace.
    pub namespace: &'a str,
    /// The function's name.
    pub name: &'a str,
    /// The status the caller got (the function's own, or 502/503/504 made by the gateway).
    pub status: StatusCode,
    /// From the call's arrival to its response headers.
    pub duration: Duration,
}

/// Sees every proxied call. Called on the hot path: keep it cheap and never block.
pub trait CallObserver: Send + Sync + 'static {
    /// Records one call.
    fn record_call(&self, call: &CallRecord<'_>);
}

/// Counts calls per function; the gateway reads it to fill `invocationCount`.
pub trait InvocationCounter: CallObserver {
    /// Calls so far to `name` in `namespace` (any status).
    fn count(&self, namespace: &str, name: &str) -> u64;
    /// Drops a function's count (it was deleted).
    fn forget(&self, namespace: &str, name: &str);
}

/// Counts in this process's memory: a read-mostly map of namespaces to names to atomic
/// counters, so a call takes a shared lock and one atomic add once its function was seen.
#[derive(Debug, Default)]
pub struct MemoryInvocationCounter {
    by_namespace: RwLock<HashMap<String, HashMap<String, Arc<AtomicU64>>>>,
}

impl MemoryInvocationCounter {
    fn counter(&self, namespace: &str, name: &str) -> Option<Arc<AtomicU64>> {
        let map = self
            .by_namespace
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(namespace)?.get(name).cloned()
    }
}

impl CallObserver for MemoryInvocationCounter {
    fn record_call(&self, call: &CallRecord<'_>) {
        {
            let map = self
                .by_namespace
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(counter) = map.get(call.namespace).and_then(|m| m.get(call.name)) {
                counter.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let mut map = self
            .by_namespace
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.entry(call.namespace.to_owned())
            .or_default()
            .entry(call.name.to_owned())
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }
}

impl InvocationCounter for MemoryInvocationCounter {
    fn count(&self, namespace: &str, name: &str) -> u64 {
        self.counter(namespace, name)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    fn forget(&self, namespace: &str, name: &str) {
        let mut map = self
            .by_namespace
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(names) = map.get_mut(namespace) {
            names.remove(name);
            if names.is_empty() {
                map.remove(namespace);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(namespace: &'a str, name: &'a str) -> CallRecord<'a> {
        CallRecord {
            namespace,
            name,
            status: StatusCode::OK,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn counts_per_function_and_forgets() {
        let counter = MemoryInvocationCounter::default();
        counter.record_call(&call("a", "f"));
        counter.record_call(&call("a", "f"));
        counter.record_call(&call("b", "f"));
        assert_eq!(counter.count("a", "f"), 2);
        assert_eq!(counter.count("b", "f"), 1);
        assert_eq!(counter.count("a", "g"), 0);
        counter.forget("a", "f");
        assert_eq!(counter.count("a", "f"), 0);
        assert_eq!(counter.count("b", "f"), 1);
    }
}
