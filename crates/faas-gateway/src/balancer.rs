//! Picks the replica for a call: the ready one with the fewest calls in flight from this
//! gateway, ties broken round-robin so idle replicas share the load.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use faas_provider::ReplicaEndpoint;

/// Calls in flight per replica address. Read-mostly: a call takes a shared lock to read the
/// counters; the exclusive lock is taken only the first time an address is seen.
#[derive(Debug, Default)]
pub struct InFlight {
    by_address: RwLock<HashMap<SocketAddr, Arc<AtomicUsize>>>,
    next: AtomicUsize,
}

/// A call in flight to one replica; dropping it ends the call.
#[derive(Debug)]
pub struct InFlightGuard {
    address: SocketAddr,
    counter: Arc<AtomicUsize>,
}

impl InFlightGuard {
    /// The replica's address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::Relaxed);
    }
}

impl InFlight {
    /// Starts a call on the least busy of `endpoints`; `None` when there are none.
    pub fn pick(&self, endpoints: &[ReplicaEndpoint]) -> Option<InFlightGuard> {
        let chosen = match endpoints {
            [] => return None,
            [only] => only.address,
            _ => {
                let map = self
                    .by_address
                    .read()
                    .unwrap_or_else(PoisonError::into_inner);
                let load = |address: &SocketAddr| {
                    map.get(address)
                        .map_or(0, |count| count.load(Ordering::Relaxed))
                };
                let start = self.next.fetch_add(1, Ordering::Relaxed) % endpoints.len();
                let rotated = endpoints[start..].iter().chain(&endpoints[..start]);
                rotated
                    .min_by_key(|endpoint| load(&endpoint.address))
                    .map(|endpoint| endpoint.address)?
            }
        };
        let counter = self.counter(chosen);
        counter.fetch_add(1, Ordering::Relaxed);
        Some(InFlightGuard {
            address: chosen,
            counter,
        })
    }

    /// Calls in flight to `address` now.
    pub fn load(&self, address: SocketAddr) -> usize {
        self.by_address
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&address)
            .map_or(0, |count| count.load(Ordering::Relaxed))
    }

    fn counter(&self, address: SocketAddr) -> Arc<AtomicUsize> {
        if let Some(counter) = self
            .by_address
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&address)
        {
            return counter.clone();
        }
        self.by_address
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(address)
            .or_default()
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(port: u16) -> ReplicaEndpoint {
        ReplicaEndpoint {
            instance: format!("f-{port}"),
            address: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    #[test]
    fn picks_least_in_flight_and_releases() {
        let in_flight = InFlight::default();
        let endpoints = [endpoint(1), endpoint(2)];
        let first = in_flight.pick(&endpoints).unwrap();
        let second = in_flight.pick(&endpoints).unwrap();
        assert_ne!(first.address(), second.address());
        let busy = first.address();
        drop(second);
        // The other replica is idle now: it gets the next calls.
        let third = in_flight.pick(&endpoints).unwrap();
        assert_ne!(third.address(), busy);
        assert_eq!(in_flight.load(busy), 1);
        drop(first);
        assert_eq!(in_flight.load(busy), 0);
        assert!(in_flight.pick(&[]).is_none());
    }

    #[test]
    fn idle_replicas_share_round_robin() {
        let in_flight = InFlight::default();
        let endpoints = [endpoint(1), endpoint(2), endpoint(3)];
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3 {
            seen.insert(in_flight.pick(&endpoints).unwrap().address());
        }
        assert_eq!(seen.len(), 3);
    }
}
