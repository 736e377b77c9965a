//! `usage` of container functions from the engine's stats, sampled off the request path: one
//! task per provider lists this server's running containers every `USAGE_INTERVAL`, asks the
//! engine for each one's stats (one-shot, `stream=false`: no wait for a second reading; up to
//! `PARALLEL` at once), and stores each function's sum in the function, where a status reads
//! it.
//!
//! Memory is the working set (usage less inactive file pages, as `docker stats` shows it);
//! CPU is cores, from the growth of each container's CPU time since the previous sample (a
//! container's first sample counts no CPU).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bollard::models::{ContainerStatsResponse, ContainerSummaryStateEnum};
use faas_types::FunctionUsage;
use futures_util::StreamExt;

use crate::spec::label;
use crate::DockerProvider;

/// How often usage is sampled.
pub(crate) const USAGE_INTERVAL: Duration = Duration::from_secs(3);
/// Stats calls in flight at once. Docker's one-shot stats answer at its stats collector's next
/// pass (once a second, for every container asked about meanwhile): calls in parallel share a
/// pass, so a round over 100 containers takes two passes, not one per container.
const PARALLEL: usize = 64;

/// One container's counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Reading {
    /// CPU time used since the container started, in nanoseconds.
    pub cpu_ns: u64,
    /// Working set, in bytes.
    pub memory: u64,
    pub at: Instant,
}

impl Reading {
    /// The counters in an engine's stats answer; `None` when it has no CPU counter (a
    /// container that stopped meanwhile).
    pub(crate) fn from_stats(stats: &ContainerStatsResponse, at: Instant) -> Option<Reading> {
        let cpu_ns = stats.cpu_stats.as_ref()?.cpu_usage.as_ref()?.total_usage?;
        let memory = stats.memory_stats.as_ref().map_or(0, |m| {
            let usage = m.usage.unwrap_or(0);
            // cgroup v2 names it inactive_file, v1 total_inactive_file.
            let inactive = m.stats.as_ref().and_then(|s| {
                s.get("inactive_file")
                    .or_else(|| s.get("total_inactive_file"))
                    .copied()
            });
            usage.saturating_sub(inactive.unwrap_or(0))
        });
        Some(Reading { cpu_ns, memory, at })
    }

    /// Cores used between `previous` and this reading.
    pub(crate) fn cores_since(&self, previous: &Reading) -> f64 {
        let elapsed = self.at.saturating_duration_since(previous.at).as_nanos() as f64;
        if elapsed <= 0.0 {
            return 0.0;
        }
        self.cpu_ns.saturating_sub(previous.cpu_ns) as f64 / elapsed
    }
}

/// Sums per function over samples, remembering each container's last reading.
#[derive(Debug, Default)]
pub(crate) struct Sampler {
    previous: HashMap<String, Reading>,
}

impl Sampler {
    /// Folds one round of readings (container id, (namespace, function), reading) into
    /// per-function usage; containers not in this round are forgotten.
    pub(crate) fn round(
        &mut self,
        readings: Vec<(String, (String, String), Reading)>,
    ) -> HashMap<(String, String), FunctionUsage> {
        let mut sums: HashMap<(String, String), FunctionUsage> = HashMap::new();
        let mut seen = HashSet::new();
        for (id, key, reading) in readings {
            let sum = sums.entry(key).or_default();
            sum.total_memory_bytes += reading.memory as f64;
            if let Some(previous) = self.previous.get(&id) {
                sum.cpu += reading.cores_since(previous);
            }
            self.previous.insert(id.clone(), reading);
            seen.insert(id);
        }
        self.previous.retain(|id, _| seen.contains(id));
        sums
    }
}

/// Samples every function's usage until the provider is gone.
pub(crate) async fn sample_forever(provider: Weak<DockerProvider>) {
    let mut sampler = Sampler::default();
    loop {
        {
            let Some(provider) = provider.upgrade() else {
                return;
            };
            sample_once(&provider, &mut sampler).await;
        }
        tokio::time::sleep(USAGE_INTERVAL).await;
    }
}

/// One round: the running containers of this server, their stats, each function's sum.
async fn sample_once(provider: &Arc<DockerProvider>, sampler: &mut Sampler) {
    let started = Instant::now();
    let shared = provider.shared.clone();
    let Ok(containers) = shared
        .engine
        .containers(&[(label::OWNER, &shared.owner)])
        .await
    else {
        return;
    };
    let running = containers.into_iter().filter_map(|c| {
        if c.state != Some(ContainerSummaryStateEnum::RUNNING) {
            return None;
        }
        let labels = c.labels.unwrap_or_default();
        let key = (
            labels.get(label::NAMESPACE)?.clone(),
            labels.get(label::FUNCTION)?.clone(),
        );
        Some((c.id?, key))
    });
    let readings: Vec<_> = futures_util::stream::iter(running)
        .map(|(id, key)| {
            let engine = shared.engine.clone();
            async move {
                let stats = engine.stats(&id).await.ok()?;
                let reading = Reading::from_stats(&stats, Instant::now())?;
                Some((id, key, reading))
            }
        })
        .buffer_unordered(PARALLEL)
        .filter_map(|r| async move { r })
        .collect()
        .await;
    tracing::debug!(
        containers = readings.len(),
        took = ?started.elapsed(),
        "usage sampled"
    );
    let mut sums = sampler.round(readings);
    for function in provider.all_functions() {
        let key = (function.namespace.clone(), function.name.clone());
        function.set_usage(sums.remove(&key).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(cpu_ns: u64, memory: u64, at: Instant) -> Reading {
        Reading { cpu_ns, memory, at }
    }

    #[test]
    fn sums_per_function_and_cpu_from_the_previous_round() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(2);
        let fa = ("ns".to_owned(), "a".to_owned());
        let fb = ("ns".to_owned(), "b".to_owned());
        let mut sampler = Sampler::default();
        let first = sampler.round(vec![
            ("1".into(), fa.clone(), reading(1_000, 10, t0)),
            ("2".into(), fa.clone(), reading(5_000, 20, t0)),
            ("3".into(), fb.clone(), reading(0, 7, t0)),
        ]);
        assert_eq!(first[&fa].total_memory_bytes, 30.0);
        assert_eq!(first[&fa].cpu, 0.0);
        // Container 1 used one core for 2 s, 2 half a core; 3 is gone, 4 is new.
        let second = sampler.round(vec![
            ("1".into(), fa.clone(), reading(2_000_001_000, 12, t1)),
            ("2".into(), fa.clone(), reading(1_000_005_000, 20, t1)),
            ("4".into(), fb.clone(), reading(9_000_000_000, 1, t1)),
        ]);
        assert!((second[&fa].cpu - 1.5).abs() < 1e-9, "{:?}", second[&fa]);
        assert_eq!(second[&fa].total_memory_bytes, 32.0);
        assert_eq!(second[&fb].cpu, 0.0);
        assert!(!sampler.previous.contains_key("3"));
    }

    #[test]
    fn memory_is_the_working_set() {
        let stats: ContainerStatsResponse = serde_json::from_value(serde_json::json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 42}},
            "memory_stats": {"usage": 1000, "stats": {"inactive_file": 300}},
        }))
        .unwrap();
        let r = Reading::from_stats(&stats, Instant::now()).unwrap();
        assert_eq!((r.cpu_ns, r.memory), (42, 700));
        let v1: ContainerStatsResponse = serde_json::from_value(serde_json::json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 1}},
            "memory_stats": {"usage": 1000, "stats": {"total_inactive_file": 999}},
        }))
        .unwrap();
        assert_eq!(Reading::from_stats(&v1, Instant::now()).unwrap().memory, 1);
        let stopped: ContainerStatsResponse =
            serde_json::from_value(serde_json::json!({"memory_stats": {}})).unwrap();
        assert!(Reading::from_stats(&stopped, Instant::now()).is_none());
    }
}
