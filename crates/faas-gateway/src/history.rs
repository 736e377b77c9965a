//! A short in-memory history per function, for the portal's charts: requests by status class,
//! latency percentiles, replicas desired and ready, cold starts, restarts, CPU and memory.
//!
//! The call path only adds to atomic counters ([`FunctionHistory::record_call`]: one add to a
//! status-class counter, one to a latency bucket of a fixed log-scale histogram). A task
//! ([`HistorySampler`]) drains those counters once a second into two fixed rings per
//! function, made full at creation so their size never grows:
//! - 180 points of 5 s (the last 15 minutes), for live views and the 15-minute charts;
//! - 120 points of 30 s (the last hour), for the 1-hour charts.
//!
//! Every 5 s the sampler also reads each function's replicas, usage and restart count (the
//! `com.rustfaas.restarts` annotation, [`RESTARTS_ANNOTATION`]) from the provider (one list
//! per namespace); a point holds the restarts seen during it. A point is 44 bytes, so a function costs about 14 KB whatever its
//! traffic. Served by `GET /system/metrics/history` ([`crate::routes::history`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use faas_provider::Provider;
use faas_types::DEFAULT_NAMESPACE;
use http::StatusCode;

/// Status classes counted apart: 1xx and 2xx, 3xx, 4xx, 5xx.
pub const CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];
/// Latency buckets: bucket `i` below [`LAST_BUCKET`] holds calls of at most
/// `50 µs * 2^(i/2)` (up to 52 s); the last holds everything slower.
const BUCKETS: usize = 42;
const LAST_BUCKET: usize = BUCKETS - 1;
const FIRST_BOUND_MICROS: f64 = 50.0;

/// The two resolutions kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// 5-second points over 15 minutes.
    Fine,
    /// 30-second points over an hour.
    Coarse,
}

impl Resolution {
    /// Seconds per point.
    pub const fn step(self) -> u64 {
        match self {
            Resolution::Fine => 5,
            Resolution::Coarse => 30,
        }
    }

    /// Points kept.
    pub const fn points(self) -> usize {
        match self {
            Resolution::Fine => 180,
            Resolution::Coarse => 120,
        }
    }
}

/// The status annotation where a provider counts its replicas' restarts (after dying or failing
/// to become ready): a decimal number that only grows, except when a replica that restarted is
/// replaced (scale down, update).
pub const RESTARTS_ANNOTATION: &str = "com.rustfaas.restarts";

/// Replicas or usage not known for a point (before the first look, or not reported).
const UNKNOWN_REPLICAS: u16 = u16::MAX;

/// One point of a ring: what happened during `step` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Calls answered, by status class ([`CLASSES`]).
    pub requests: [u32; 4],
    /// Latency percentiles in milliseconds (NaN: no calls).
    pub p50: f32,
    /// 95th percentile, ms.
    pub p95: f32,
    /// 99th percentile, ms.
    pub p99: f32,
    /// Replicas wanted at the end of the point (`u16::MAX`: unknown).
    pub desired: u16,
    /// Replicas ready at the end of the point (`u16::MAX`: unknown).
    pub ready: u16,
    /// Cold starts during the point.
    pub cold_starts: u16,
    /// Replica restarts the provider reported during the point.
    pub restarts: u16,
    /// CPU in cores (NaN: not reported).
    pub cpu: f32,
    /// Memory in bytes (NaN: not reported).
    pub memory: f32,
}

impl Point {
    const EMPTY: Point = Point {
        requests: [0; 4],
        p50: f32::NAN,
        p95: f32::NAN,
        p99: f32::NAN,
        desired: UNKNOWN_REPLICAS,
        ready: UNKNOWN_REPLICAS,
        cold_starts: 0,
        restarts: 0,
        cpu: f32::NAN,
        memory: f32::NAN,
    };
}

/// The bucket a call of `duration` falls in.
fn bucket(duration: Duration) -> usize {
    let micros = duration.as_secs_f64() * 1e6;
    if micros <= FIRST_BOUND_MICROS {
        return 0;
    }
    let index = ((micros / FIRST_BOUND_MICROS).log2() * 2.0).ceil();
    (index as usize).min(LAST_BUCKET)
}

/// The upper bound of bucket `i`, in milliseconds.
fn bound_ms(i: usize) -> f64 {
    FIRST_BOUND_MICROS * 2f64.powf(i as f64 / 2.0) / 1000.0
}

/// The `q` quantile (0..1) of a histogram, in ms, interpolated geometrically inside its
/// bucket; NaN when empty.
fn quantile(histogram: &[u32; BUCKETS], q: f64) -> f32 {
    let total: u64 = histogram.iter().map(|&n| u64::from(n)).sum();
    if total == 0 {
        return f32::NAN;
    }
    let rank = (q * total as f64).max(1.0);
    let mut below = 0u64;
    for (i, &count) in histogram.iter().enumerate() {
        let count = u64::from(count);
        if count > 0 && (below + count) as f64 >= rank {
            if i == LAST_BUCKET {
                return bound_ms(LAST_BUCKET - 1) as f32;
            }
            let upper = bound_ms(i);
            let lower = if i == 0 { upper / 2.0 } else { bound_ms(i - 1) };
            let within = ((rank - below as f64) / count as f64).clamp(0.0, 1.0);
            return (lower * (upper / lower).powf(within)) as f32;
        }
        below += count;
    }
    bound_ms(LAST_BUCKET - 1) as f32
}

/// What calls add to; drained by the sampler.
struct Live {
    requests: [AtomicU64; 4],
    latency: [AtomicU64; BUCKETS],
    cold_starts: AtomicU64,
}

/// What one point adds up to before it is closed.
#[derive(Clone)]
struct Accumulator {
    requests: [u64; 4],
    latency: [u32; BUCKETS],
    cold_starts: u64,
    restarts: u64,
}

impl Accumulator {
    const EMPTY: Accumulator = Accumulator {
        requests: [0; 4],
        latency: [0; BUCKETS],
        cold_starts: 0,
        restarts: 0,
    };

    fn point(&self, observed: &Observed) -> Point {
        let narrow = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Point {
            requests: self.requests.map(narrow),
            p50: quantile(&self.latency, 0.50),
            p95: quantile(&self.latency, 0.95),
            p99: quantile(&self.latency, 0.99),
            desired: observed.desired,
            ready: observed.ready,
            cold_starts: u16::try_from(self.cold_starts).unwrap_or(u16::MAX),
            restarts: u16::try_from(self.restarts).unwrap_or(u16::MAX),
            cpu: observed.cpu,
            memory: observed.memory,
        }
    }
}

/// The provider's view of the function, last time the sampler looked.
#[derive(Clone, Copy)]
struct Observed {
    desired: u16,
    ready: u16,
    cpu: f32,
    memory: f32,
    /// The provider's restart count (`None`: not reported yet).
    restarts: Option<u64>,
}

/// A fixed ring of points; `period` is the index (unix time / step) of the newest point.
struct Ring {
    points: Box<[Point]>,
    /// Where the newest point is.
    head: usize,
    period: u64,
    open: Accumulator,
}

impl Ring {
    fn new(resolution: Resolution, now: u64) -> Ring {
        Ring {
            points: vec![Point::EMPTY; resolution.points()].into_boxed_slice(),
            head: 0,
            period: now / resolution.step(),
            open: Accumulator::EMPTY,
        }
    }

    /// Closes the open point if `period` moved on (empty points for periods nobody saw).
    fn advance(&mut self, period: u64, observed: &Observed) {
        if period <= self.period {
            return;
        }
        let len = self.points.len();
        let closed = self.open.point(observed);
        self.open = Accumulator::EMPTY;
        let gap = (period - self.period).min(len as u64) as usize;
        for k in 0..gap {
            self.head = (self.head + 1) % len;
            // The first new slot is the period just closed; later ones saw nothing.
            self.points[self.head] = if k == 0 {
                closed
            } else {
                Point {
                    desired: observed.desired,
                    ready: observed.ready,
                    ..Point::EMPTY
                }
            };
        }
        self.period = period;
    }

    fn add(&mut self, drained: &Accumulator) {
        for (sum, n) in self.open.requests.iter_mut().zip(drained.requests) {
            *sum += n;
        }
        for (sum, n) in self.open.latency.iter_mut().zip(drained.latency) {
            *sum = sum.saturating_add(n);
        }
        self.open.cold_starts += drained.cold_starts;
        self.open.restarts += drained.restarts;
    }

    /// The last `count` closed points, oldest first, with the unix time each one starts at.
    fn last(&self, count: usize, step: u64) -> (u64, Vec<Point>) {
        let len = self.points.len();
        let count = count.min(len);
        let points = (0..count)
            .map(|k| self.points[(self.head + len + 1 + k - count) % len])
            .collect();
        // The newest closed point is period `self.period - 1`.
        let first = self.period.saturating_sub(count as u64) * step;
        (first, points)
    }
}

struct Rings {
    fine: Ring,
    coarse: Ring,
    observed: Observed,
}

/// Autoscaler decisions kept per function.
const DECISIONS: usize = 8;

/// One change the autoscaler made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    /// Unix time (s).
    pub time: u64,
    /// Replicas before.
    pub from: u64,
    /// Replicas after.
    pub to: u64,
    /// Why, in words.
    pub reason: String,
}

/// One function's history.
pub struct FunctionHistory {
    /// Unix time it was made: a history younger than a listing is kept by it.
    created: u64,
    live: Live,
    rings: Mutex<Rings>,
    /// The autoscaler's last decisions, oldest first (empty until it makes one).
    decisions: Mutex<std::collections::VecDeque<Decision>>,
}

impl FunctionHistory {
    fn new(now: u64) -> FunctionHistory {
        FunctionHistory {
            created: now,
            live: Live {
                requests: Default::default(),
                latency: std::array::from_fn(|_| AtomicU64::new(0)),
                cold_starts: AtomicU64::new(0),
            },
            rings: Mutex::new(Rings {
                fine: Ring::new(Resolution::Fine, now),
                coarse: Ring::new(Resolution::Coarse, now),
                observed: Observed {
                    desired: UNKNOWN_REPLICAS,
                    ready: UNKNOWN_REPLICAS,
                    cpu: f32::NAN,
                    memory: f32::NAN,
                    restarts: None,
                },
            }),
            decisions: Mutex::default(),
        }
    }

    /// Keeps one of the autoscaler's decisions (the last 8 are kept).
    pub fn record_decision(&self, from: u64, to: u64, reason: &str) {
        let mut decisions = self
            .decisions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if decisions.len() == DECISIONS {
            decisions.pop_front();
        }
        decisions.push_back(Decision {
            time: unix_now(),
            from,
            to,
            reason: reason.to_owned(),
        });
    }

    /// The autoscaler's last decisions, oldest first.
    pub fn decisions(&self) -> Vec<Decision> {
        self.decisions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// Counts one answered call (the call path: two relaxed atomic adds).
    pub fn record_call(&self, status: StatusCode, duration: Duration) {
        let class = match status.as_u16() {
            300..=399 => 1,
            400..=499 => 2,
            500.. => 3,
            _ => 0,
        };
        self.live.requests[class].fetch_add(1, Ordering::Relaxed);
        self.live.latency[bucket(duration)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one cold start.
    pub fn record_cold_start(&self) {
        self.live.cold_starts.fetch_add(1, Ordering::Relaxed);
    }

    /// Moves what calls added since the last time into the open points, closing points whose
    /// period ended before `now` (unix seconds).
    fn sample(&self, now: u64) {
        let drained = Accumulator {
            requests: std::array::from_fn(|i| self.live.requests[i].swap(0, Ordering::Relaxed)),
            latency: std::array::from_fn(|i| {
                u32::try_from(self.live.latency[i].swap(0, Ordering::Relaxed)).unwrap_or(u32::MAX)
            }),
            cold_starts: self.live.cold_starts.swap(0, Ordering::Relaxed),
            restarts: 0,
        };
        let mut rings = self.rings.lock().unwrap_or_else(PoisonError::into_inner);
        let Rings {
            fine,
            coarse,
            observed,
        } = &mut *rings;
        // Calls drained now happened before `now`: they belong to the open points, which
        // close first if their period is over.
        fine.add(&drained);
        coarse.add(&drained);
        fine.advance(now / Resolution::Fine.step(), observed);
        coarse.advance(now / Resolution::Coarse.step(), observed);
    }

    /// Records the provider's view: replicas, usage and its restart count so far (the
    /// restarts since the last look count in the open points; a count that went down means
    /// restarted replicas were replaced, and the new count is taken as all new).
    fn observe(&self, desired: u64, ready: u64, usage: Option<(f64, f64)>, restarts: Option<u64>) {
        let narrow = |n: u64| u16::try_from(n).unwrap_or(UNKNOWN_REPLICAS - 1);
        let mut rings = self.rings.lock().unwrap_or_else(PoisonError::into_inner);
        let new_restarts = match (rings.observed.restarts, restarts) {
            (Some(before), Some(now)) if now >= before => now - before,
            // The first look: restarts before it are not placed in time.
            (None, _) | (_, None) => 0,
            (Some(_), Some(now)) => now,
        };
        if new_restarts > 0 {
            let drained = Accumulator {
                restarts: new_restarts,
                ..Accumulator::EMPTY
            };
            rings.fine.add(&drained);
            rings.coarse.add(&drained);
        }
        rings.observed = Observed {
            desired: narrow(desired),
            ready: narrow(ready),
            cpu: usage.map_or(f32::NAN, |(cpu, _)| cpu as f32),
            memory: usage.map_or(f32::NAN, |(_, memory)| memory as f32),
            restarts: restarts.or(rings.observed.restarts),
        };
    }

    /// The closed points of `window`: its resolution, the unix time of the first point, and
    /// the points, oldest first.
    pub fn window(&self, window: Window) -> Series {
        let resolution = window.resolution();
        let rings = self.rings.lock().unwrap_or_else(PoisonError::into_inner);
        let ring = match resolution {
            Resolution::Fine => &rings.fine,
            Resolution::Coarse => &rings.coarse,
        };
        let (start, points) = ring.last(window.points(), resolution.step());
        Series {
            step: resolution.step(),
            start,
            points,
        }
    }
}

/// Points over a window.
#[derive(Debug, Clone)]
pub struct Series {
    /// Seconds per point.
    pub step: u64,
    /// Unix time the first point starts at.
    pub start: u64,
    /// Oldest first.
    pub points: Vec<Point>,
}

/// The windows `/system/metrics/history` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// 5 minutes of 5-second points (the overview's sparklines).
    FiveMinutes,
    /// 15 minutes of 5-second points.
    FifteenMinutes,
    /// 1 hour of 30-second points.
    OneHour,
}

impl Window {
    /// `5m`, `15m` or `1h`.
    pub fn parse(text: &str) -> Option<Window> {
        match text {
            "5m" => Some(Window::FiveMinutes),
            "15m" => Some(Window::FifteenMinutes),
            "1h" => Some(Window::OneHour),
            _ => None,
        }
    }

    /// As [`Window::parse`] reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::FiveMinutes => "5m",
            Window::FifteenMinutes => "15m",
            Window::OneHour => "1h",
        }
    }

    /// Seconds per point and points.
    pub fn shape(self) -> (u64, usize) {
        (self.resolution().step(), self.points())
    }

    fn resolution(self) -> Resolution {
        match self {
            Window::FiveMinutes | Window::FifteenMinutes => Resolution::Fine,
            Window::OneHour => Resolution::Coarse,
        }
    }

    fn points(self) -> usize {
        match self {
            Window::FiveMinutes => 60,
            Window::FifteenMinutes => 180,
            Window::OneHour => 120,
        }
    }
}

/// Every function's history, by namespace then name.
#[derive(Default)]
pub struct History {
    by_namespace: RwLock<HashMap<String, HashMap<String, Arc<FunctionHistory>>>>,
}

/// Unix seconds now.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl History {
    /// The history of `name` in `namespace`, if it has one.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<FunctionHistory>> {
        self.by_namespace
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(namespace)?
            .get(name)
            .cloned()
    }

    /// The history of `name` in `namespace`, made if new (call only for functions the
    /// provider knows, so the table stays bounded by the functions deployed).
    pub fn function(&self, namespace: &str, name: &str) -> Arc<FunctionHistory> {
        self.function_at(namespace, name, unix_now())
    }

    fn function_at(&self, namespace: &str, name: &str, now: u64) -> Arc<FunctionHistory> {
        if let Some(history) = self.get(namespace, name) {
            return history;
        }
        self.by_namespace
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(namespace.to_owned())
            .or_default()
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(FunctionHistory::new(now)))
            .clone()
    }

    /// Drops a function's history (it was deleted).
    pub fn forget(&self, namespace: &str, name: &str) {
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

    /// The histories of a namespace, sorted by name.
    pub fn namespace(&self, namespace: &str) -> Vec<(String, Arc<FunctionHistory>)> {
        let map = self
            .by_namespace
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<_> = map
            .get(namespace)
            .map(|names| {
                names
                    .iter()
                    .map(|(name, history)| (name.clone(), history.clone()))
                    .collect()
            })
            .unwrap_or_default();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    fn all(&self) -> Vec<Arc<FunctionHistory>> {
        self.by_namespace
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .flat_map(|names| names.values().cloned())
            .collect()
    }

    /// Drains every function's counters at `now` (unix seconds).
    pub fn sample(&self, now: u64) {
        for history in self.all() {
            history.sample(now);
        }
    }

    /// Records the provider's view of every function (replicas, usage), makes histories for
    /// functions not called yet and forgets those the provider no longer lists.
    pub async fn observe(&self, provider: &dyn Provider, now: u64) {
        let functions = match crate::autoscaler::list_all(provider).await {
            Ok(functions) => functions,
            Err(err) => {
                tracing::debug!(error = %err, "history: cannot list functions");
                return;
            }
        };
        let mut listed: HashMap<String, Vec<String>> = HashMap::new();
        for status in functions {
            let namespace = status
                .namespace
                .clone()
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
            let usage = status
                .usage
                .as_ref()
                .map(|usage| (usage.cpu, usage.total_memory_bytes));
            let restarts = status
                .annotations
                .as_ref()
                .and_then(|a| a.get(RESTARTS_ANNOTATION))
                .and_then(|n| n.trim().parse::<u64>().ok());
            self.function_at(&namespace, &status.name, now).observe(
                status.replicas,
                status.available_replicas,
                usage,
                restarts,
            );
            listed.entry(namespace).or_default().push(status.name);
        }
        let mut map = self
            .by_namespace
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let none = Vec::new();
        map.retain(|namespace, names| {
            let listed = listed.get(namespace).unwrap_or(&none);
            // A function deployed while the listing ran is not in it, but is not gone.
            names.retain(|name, history| history.created >= now || listed.contains(name));
            !names.is_empty()
        });
    }
}

/// Runs the history's sampler until dropped: drains counters every second, reads the
/// provider every 5 s.
pub struct HistorySampler {
    task: tokio::task::JoinHandle<()>,
}

impl HistorySampler {
    /// Starts the task. Needs a tokio runtime.
    pub fn spawn(history: Arc<History>, provider: Arc<dyn Provider>) -> HistorySampler {
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(1));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut looked = None;
            loop {
                interval.tick().await;
                let now = unix_now();
                let period = now / Resolution::Fine.step();
                if looked != Some(period) {
                    history.observe(provider.as_ref(), now).await;
                    looked = Some(period);
                }
                history.sample(now);
            }
        });
        HistorySampler { task }
    }
}

impl Drop for HistorySampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_microseconds_to_a_minute() {
        assert_eq!(bucket(Duration::from_micros(10)), 0);
        assert_eq!(bucket(Duration::from_micros(50)), 0);
        assert_eq!(bucket(Duration::from_micros(51)), 1);
        assert_eq!(bucket(Duration::from_micros(100)), 2);
        assert_eq!(bucket(Duration::from_millis(1)), 9);
        assert_eq!(bucket(Duration::from_secs(3600)), LAST_BUCKET);
        for i in 1..LAST_BUCKET {
            assert!(bound_ms(i) > bound_ms(i - 1));
        }
    }

    #[test]
    fn percentiles_are_within_a_bucket_of_the_truth() {
        let mut histogram = [0u32; BUCKETS];
        histogram[bucket(Duration::from_millis(2))] += 90;
        histogram[bucket(Duration::from_millis(200))] += 10;
        let p50 = f64::from(quantile(&histogram, 0.5));
        let p99 = f64::from(quantile(&histogram, 0.99));
        assert!((2.0 / 1.42..=2.0 * 1.42).contains(&p50), "p50 {p50}");
        assert!((200.0 / 1.42..=200.0 * 1.42).contains(&p99), "p99 {p99}");
        assert!(quantile(&[0; BUCKETS], 0.5).is_nan());
    }

    #[test]
    fn calls_land_in_the_point_of_their_period() {
        let start = 1_000_000; // a multiple of 5 and 30 s
        let history = History::default();
        let f = history.function_at("ns", "f", start);
        for _ in 0..10 {
            f.record_call(StatusCode::OK, Duration::from_millis(3));
        }
        f.record_call(StatusCode::INTERNAL_SERVER_ERROR, Duration::from_millis(3));
        f.record_call(StatusCode::NOT_FOUND, Duration::from_millis(3));
        f.record_cold_start();
        history.sample(start + 1);
        // Not closed yet: the newest point of the window is still the empty one before.
        let series = f.window(Window::FiveMinutes);
        assert_eq!(series.points.len(), 60);
        assert_eq!(series.points.last().unwrap().requests, [0; 4]);
        history.sample(start + 5);
        let series = f.window(Window::FiveMinutes);
        assert_eq!(series.step, 5);
        assert_eq!(series.start, start + 5 - 60 * 5);
        let newest = series.points.last().unwrap();
        assert_eq!(newest.requests, [10, 0, 1, 1]);
        assert_eq!(newest.cold_starts, 1);
        assert!((2.0..=4.3).contains(&newest.p50), "{}", newest.p50);
        assert_eq!(newest.desired, UNKNOWN_REPLICAS);
        // The hour's ring closes its point at the next 30 s.
        assert_eq!(
            f.window(Window::OneHour).points.last().unwrap().requests,
            [0; 4]
        );
        history.sample(start + 30);
        let hour = f.window(Window::OneHour);
        assert_eq!(hour.step, 30);
        assert_eq!(hour.points.len(), 120);
        assert_eq!(hour.points.last().unwrap().requests, [10, 0, 1, 1]);
        // The 5 s points after the call saw nothing.
        let fine = f.window(Window::FifteenMinutes);
        assert_eq!(fine.points.len(), 180);
        assert_eq!(fine.points[179].requests, [0; 4]);
        assert_eq!(fine.points[174].requests, [10, 0, 1, 1]);
    }

    #[test]
    fn a_long_pause_leaves_empty_points_and_never_grows() {
        let history = History::default();
        let f = history.function_at("ns", "f", 0);
        f.observe(3, 2, Some((0.5, 1e6)), None);
        f.record_call(StatusCode::OK, Duration::from_millis(1));
        history.sample(5);
        let first = f.window(Window::FifteenMinutes).points[179];
        assert_eq!((first.desired, first.ready), (3, 2));
        assert_eq!((first.cpu, first.memory), (0.5, 1e6));
        history.sample(1_000_000);
        let series = f.window(Window::FifteenMinutes);
        assert_eq!(series.points.len(), 180);
        assert!(series.points.iter().all(|p| p.requests == [0; 4]));
        assert!(series.points.iter().all(|p| p.desired == 3));
    }

    #[test]
    fn restarts_count_in_the_point_where_they_were_seen() {
        let history = History::default();
        let f = history.function_at("ns", "f", 0);
        // The first count is not placed in time: it happened before anyone looked.
        f.observe(1, 0, None, Some(4));
        history.sample(5);
        f.observe(1, 0, None, Some(6));
        history.sample(10);
        // Not reported this time: nothing new, the count is remembered.
        f.observe(1, 0, None, None);
        history.sample(15);
        // Went down: the restarted replica was replaced; the new one restarted once.
        f.observe(1, 0, None, Some(1));
        history.sample(20);
        let points = f.window(Window::FiveMinutes).points;
        let restarts: Vec<u16> = points[56..].iter().map(|p| p.restarts).collect();
        assert_eq!(restarts, [0, 2, 0, 1]);
        assert_eq!(f.window(Window::OneHour).points.last().unwrap().restarts, 0);
        history.sample(30);
        assert_eq!(f.window(Window::OneHour).points.last().unwrap().restarts, 3);
    }

    #[test]
    fn a_point_stays_44_bytes() {
        assert_eq!(std::mem::size_of::<Point>(), 44);
    }

    #[test]
    fn only_the_last_decisions_are_kept() {
        let f = FunctionHistory::new(0);
        for to in 0..20 {
            f.record_decision(to, to + 1, "load");
        }
        let kept = f.decisions();
        assert_eq!(kept.len(), DECISIONS);
        assert_eq!(kept.last().unwrap().to, 20);
        assert_eq!(kept[0].from, 12);
    }

    #[test]
    fn the_table_forgets_deleted_functions() {
        let history = History::default();
        history.function_at("ns", "b", 0);
        history.function_at("ns", "a", 0);
        history.function_at("other", "c", 0);
        let names: Vec<_> = history
            .namespace("ns")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["a", "b"]);
        history.forget("ns", "a");
        history.forget("other", "c");
        assert!(history.get("ns", "a").is_none());
        assert!(history.namespace("other").is_empty());
        assert!(history.get("ns", "b").is_some());
    }
}
