//! Picks the replica for a call: the ready one with the fewest calls in flight from this
//! gateway, ties broken round-robin so idle replicas share the load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use faas_provider::{ReplicaAddress, ReplicaRoute};
use http::HeaderValue;

use crate::connections::Connections;

/// What the gateway keeps per replica address: the address, its calls in flight and its idle
/// keep-alive connections.
#[derive(Debug)]
pub(crate) struct ReplicaState {
    address: ReplicaAddress,
    /// The address as a `Host` header value, built once per replica.
    host: HeaderValue,
    in_flight: AtomicUsize,
    pub(crate) connections: Connections,
}

impl ReplicaState {
    pub(crate) fn new(address: ReplicaAddress) -> Self {
        let host = HeaderValue::try_from(address.host())
            .unwrap_or_else(|_| HeaderValue::from_static("invalid"));
        ReplicaState {
            address,
            host,
            in_flight: AtomicUsize::new(0),
            connections: Connections::default(),
        }
    }

    pub(crate) fn address(&self) -> &ReplicaAddress {
        &self.address
    }
}

/// Calls in flight per replica address. Read-mostly: a call takes a shared lock to read the
/// counters; the exclusive lock is taken only the first time an address is seen.
#[derive(Debug, Default)]
pub struct InFlight {
    by_address: RwLock<HashMap<ReplicaAddress, Arc<ReplicaState>>>,
    next: AtomicUsize,
    /// Set once the idle-connection reaper runs.
    reaper: OnceLock<()>,
}

/// A call in flight to one replica; dropping it ends the call.
#[derive(Debug)]
pub struct InFlightGuard {
    state: Arc<ReplicaState>,
}

impl InFlightGuard {
    /// The replica's address.
    pub fn address(&self) -> &ReplicaAddress {
        &self.state.address
    }

    /// The replica's address as a `Host` header value (`127.0.0.1:8080`, or `localhost` for
    /// a Unix socket), built once per replica.
    pub fn host(&self) -> &HeaderValue {
        &self.state.host
    }

    /// The replica's state (its idle connections), shared by every call to it.
    pub(crate) fn replica(&self) -> &Arc<ReplicaState> {
        &self.state
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl InFlight {
    /// Starts a call on the least busy of `endpoints`; `None` when there are none.
    pub fn pick(&self, endpoints: &[ReplicaRoute]) -> Option<InFlightGuard> {
        let chosen = match endpoints {
            [] => return None,
            [only] => &only.address,
            _ => {
                let map = self
                    .by_address
                    .read()
                    .unwrap_or_else(PoisonError::into_inner);
                let load = |address: &ReplicaAddress| {
                    map.get(address)
                        .map_or(0, |state| state.in_flight.load(Ordering::Relaxed))
                };
                let start = self.next.fetch_add(1, Ordering::Relaxed) % endpoints.len();
                let rotated = endpoints[start..].iter().chain(&endpoints[..start]);
                rotated
                    .min_by_key(|endpoint| load(&endpoint.address))
                    .map(|endpoint| &endpoint.address)?
            }
        };
        let state = self.state(chosen);
        state.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(InFlightGuard { state })
    }

    /// Calls in flight to `address` now.
    pub fn load(&self, address: &ReplicaAddress) -> usize {
        self.by_address
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(address)
            .map_or(0, |state| state.in_flight.load(Ordering::Relaxed))
    }

    /// `endpoints` with their in-flight counters attached, so picks from the set take no lock.
    pub fn replica_set(&self, endpoints: &[ReplicaRoute]) -> ReplicaSet {
        ReplicaSet {
            replicas: endpoints
                .iter()
                .map(|endpoint| self.state(&endpoint.address))
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Forgets the counters (and closes the idle connections) of addresses nothing refers to
    /// any more (replicas that are gone).
    pub fn prune(&self) {
        self.by_address
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, state| Arc::strong_count(state) > 1);
    }

    /// Closes, at every replica, the keep-alive connections idle for `timeout` or longer;
    /// returns how many.
    pub fn close_idle_connections(&self, timeout: Duration) -> usize {
        self.by_address
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|state| state.connections.close_idle(timeout))
            .sum()
    }

    /// Starts, the first time it is called, a task that every quarter of `timeout` closes the
    /// connections idle for `timeout` (so each goes after `timeout` to `1.25 * timeout`); the
    /// task ends with the last clone of `self`. A zero `timeout` starts nothing: idle
    /// connections then stay open until their replica closes them or goes away. Call it from
    /// within a tokio runtime.
    pub fn reap_idle_connections(self: &Arc<Self>, timeout: Duration) {
        if timeout.is_zero() {
            return;
        }
        self.reaper.get_or_init(|| {
            let in_flight = Arc::downgrade(self);
            let period = (timeout / 4).max(Duration::from_millis(10));
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(period);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    let Some(in_flight) = in_flight.upgrade() else {
                        return;
                    };
                    let closed = in_flight.close_idle_connections(timeout);
                    if closed > 0 {
                        tracing::debug!(closed, "closed idle replica connections");
                    }
                }
            });
        });
    }

    fn state(&self, address: &ReplicaAddress) -> Arc<ReplicaState> {
        if let Some(state) = self
            .by_address
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(address)
        {
            return state.clone();
        }
        self.by_address
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(address.clone())
            .or_insert_with(|| Arc::new(ReplicaState::new(address.clone())))
            .clone()
    }
}

/// A function's ready replicas as last resolved, each with its in-flight counter (shared
/// with [`InFlight`], so counts survive a refresh of the set).
#[derive(Debug)]
pub struct ReplicaSet {
    replicas: Vec<Arc<ReplicaState>>,
    next: AtomicUsize,
}

impl ReplicaSet {
    /// Starts a call on the least busy replica, ties broken round-robin; `None` when empty.
    pub fn pick(&self) -> Option<InFlightGuard> {
        let replica = match self.replicas.as_slice() {
            [] => return None,
            [only] => only,
            replicas => {
                let start = self.next.fetch_add(1, Ordering::Relaxed) % replicas.len();
                replicas[start..]
                    .iter()
                    .chain(&replicas[..start])
                    .min_by_key(|replica| replica.in_flight.load(Ordering::Relaxed))?
            }
        };
        replica.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(InFlightGuard {
            state: replica.clone(),
        })
    }

    /// How many replicas the set holds.
    pub fn len(&self) -> usize {
        self.replicas.len()
    }

    /// True when no replica is ready.
    pub fn is_empty(&self) -> bool {
        self.replicas.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(port: u16) -> ReplicaRoute {
        ReplicaRoute {
            instance: format!("f-{port}"),
            address: std::net::SocketAddr::from(([127, 0, 0, 1], port)).into(),
        }
    }

    #[test]
    fn picks_least_in_flight_and_releases() {
        let in_flight = InFlight::default();
        let endpoints = [endpoint(1), endpoint(2)];
        let first = in_flight.pick(&endpoints).unwrap();
        let second = in_flight.pick(&endpoints).unwrap();
        assert_ne!(first.address(), second.address());
        let busy = first.address().clone();
        drop(second);
        // The other replica is idle now: it gets the next calls.
        let third = in_flight.pick(&endpoints).unwrap();
        assert_ne!(third.address(), &busy);
        assert_eq!(in_flight.load(&busy), 1);
        drop(first);
        assert_eq!(in_flight.load(&busy), 0);
        assert!(in_flight.pick(&[]).is_none());
    }

    #[test]
    fn replica_sets_share_counters_with_in_flight() {
        let in_flight = InFlight::default();
        let set = in_flight.replica_set(&[endpoint(1), endpoint(2)]);
        let first = set.pick().unwrap();
        let second = set.pick().unwrap();
        assert_ne!(first.address(), second.address());
        assert_eq!(in_flight.load(first.address()), 1);
        // A refreshed set sees the calls still in flight.
        let refreshed = in_flight.replica_set(&[endpoint(1), endpoint(2)]);
        drop(second);
        assert_eq!(refreshed.pick().unwrap().address(), &endpoint(2).address);
        drop((first, set, refreshed));
        in_flight.prune();
        assert_eq!(in_flight.by_address.read().unwrap().len(), 0);
        assert!(in_flight.replica_set(&[]).pick().is_none());
    }

    #[test]
    fn idle_replicas_share_round_robin() {
        let in_flight = InFlight::default();
        let endpoints = [endpoint(1), endpoint(2), endpoint(3)];
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3 {
            seen.insert(in_flight.pick(&endpoints).unwrap().address().clone());
        }
        assert_eq!(seen.len(), 3);
    }
}
