//! The embedded queue's in-memory view of its calls: which are ready, delayed or leased.
//! Rebuilt from disk when the queue opens; leases live only here, so a restart makes every
//! leased call ready again (at-least-once).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Every queue's state, behind one mutex.
#[derive(Default)]
pub(crate) struct Index {
    pub queues: HashMap<String, QueueState>,
    next_lease: u64,
}

impl Index {
    pub fn queue(&mut self, name: &str) -> &mut QueueState {
        if !self.queues.contains_key(name) {
            self.queues.insert(name.to_string(), QueueState::default());
        }
        self.queues.get_mut(name).expect("inserted above")
    }

    pub fn next_lease_token(&mut self) -> u64 {
        self.next_lease += 1;
        self.next_lease
    }
}

struct Lease {
    token: u64,
    expires: Instant,
}

/// Where a call was before [`QueueState::take`] removed it, so a failed commit can put it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taken {
    Nowhere,
    Somewhere,
}

#[derive(Default)]
pub(crate) struct QueueState {
    ready: BTreeSet<u64>,
    /// (visible at, unix ms; seq)
    delayed: BTreeSet<(u64, u64)>,
    leased: HashMap<u64, Lease>,
    expiries: BTreeSet<(Instant, u64)>,
    deliveries: HashMap<u64, u32>,
    pub dead: u64,
    pub notify: Arc<Notify>,
}

impl QueueState {
    pub fn insert(&mut self, seq: u64, visible_at_ms: u64, now_ms: u64) {
        if visible_at_ms > now_ms {
            self.delayed.insert((visible_at_ms, seq));
        } else {
            self.ready.insert(seq);
        }
    }

    /// Makes expired leases and due delayed calls ready.
    pub fn promote(&mut self, now_ms: u64, now: Instant) {
        while let Some(&(at, seq)) = self.expiries.first() {
            if at > now {
                break;
            }
            self.expiries.pop_first();
            self.leased.remove(&seq);
            self.ready.insert(seq);
        }
        while let Some(&(at, seq)) = self.delayed.first() {
            if at > now_ms {
                break;
            }
            self.delayed.pop_first();
            self.ready.insert(seq);
        }
    }

    /// Leases the oldest ready call: (seq, times delivered).
    pub fn lease_next(&mut self, token: u64, until: Instant) -> Option<(u64, u32)> {
        let seq = self.ready.pop_first()?;
        self.leased.insert(
            seq,
            Lease {
                token,
                expires: until,
            },
        );
        self.expiries.insert((until, seq));
        let count = self.deliveries.entry(seq).or_insert(0);
        *count += 1;
        Some((seq, *count))
    }

    /// When the next delayed call becomes visible or the next lease expires.
    pub fn next_wake(&self, now_ms: u64, now: Instant) -> Option<Instant> {
        let expiry = self.expiries.first().map(|(at, _)| *at);
        let delayed = self
            .delayed
            .first()
            .map(|(at, _)| now + Duration::from_millis(at.saturating_sub(now_ms)));
        match (expiry, delayed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn extend(&mut self, seq: u64, token: u64, until: Instant) -> bool {
        match self.leased.get_mut(&seq) {
            Some(lease) if lease.token == token => {
                self.expiries.remove(&(lease.expires, seq));
                lease.expires = until;
                self.expiries.insert((until, seq));
                true
            }
            _ => false,
        }
    }

    /// Whether `token` still holds the lease on `seq`.
    pub fn holds(&self, seq: u64, token: u64) -> bool {
        self.leased
            .get(&seq)
            .is_some_and(|lease| lease.token == token)
    }

    /// Removes the call from wherever it is (it is being settled).
    pub fn take(&mut self, seq: u64) -> Taken {
        self.deliveries.remove(&seq);
        if let Some(lease) = self.leased.remove(&seq) {
            self.expiries.remove(&(lease.expires, seq));
            return Taken::Somewhere;
        }
        if self.ready.remove(&seq) {
            return Taken::Somewhere;
        }
        let delayed: Vec<(u64, u64)> = self
            .delayed
            .iter()
            .filter(|(_, s)| *s == seq)
            .copied()
            .collect();
        if delayed.is_empty() {
            return Taken::Nowhere;
        }
        for entry in delayed {
            self.delayed.remove(&entry);
        }
        Taken::Somewhere
    }

    /// Puts a taken call back as ready (its settlement failed to commit).
    pub fn restore(&mut self, seq: u64, taken: Taken) {
        if taken == Taken::Somewhere {
            self.ready.insert(seq);
        }
    }

    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.ready.len() as u64,
            self.delayed.len() as u64,
            self.leased.len() as u64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_expiry_and_delay() {
        let mut q = QueueState::default();
        let now = Instant::now();
        q.insert(1, 0, 1000);
        q.insert(2, 2000, 1000);
        let (seq, n) = q.lease_next(7, now + Duration::from_secs(1)).unwrap();
        assert_eq!((seq, n), (1, 1));
        assert!(q.lease_next(8, now).is_none());
        assert_eq!(q.counts(), (0, 1, 1));
        assert_eq!(q.next_wake(1000, now), Some(now + Duration::from_secs(1)));
        q.promote(2000, now + Duration::from_secs(1));
        assert_eq!(q.counts(), (2, 0, 0));
        assert_eq!(q.lease_next(9, now + Duration::from_secs(5)), Some((1, 2)));
        assert!(!q.holds(1, 7));
        assert!(q.holds(1, 9));
        assert!(q.extend(1, 9, now + Duration::from_secs(9)));
        assert_eq!(q.take(1), Taken::Somewhere);
        assert_eq!(q.take(1), Taken::Nowhere);
        assert_eq!(q.counts(), (1, 0, 0));
    }
}
