//! The autoscaler: a task that looks at every function each `interval` and sets the replica
//! count of those that carry a `com.openfaas.scale.*` label (others keep the count the API
//! set). Its arithmetic is in [`decision`], the label parsing in [`policy`], OpenFaaS CE's
//! alert rule (for functions with no `type` or `target` label) in [`alert_rule`]; time comes
//! from a [`Clock`] and replicas from the [`Provider`], so tests drive it with fakes.
//!
//! With a [`cluster::LoadSource`] ([`Autoscaler::with_cluster_load`]) the counters are those of
//! every server replica together, not only this one's (see [`cluster`]).
//!
//! Each decision is logged with its reason (`tracing::info!`). Scale-from-zero is not here: a
//! call to a function at zero replicas starts one itself (see [`crate::proxy`]).

pub mod alert_rule;
pub mod clock;
pub mod cluster;
pub mod decision;
pub mod policy;

use std::collections::HashMap;
use std::sync::Arc;

use faas_provider::{Provider, ProviderError};
use faas_types::{FunctionStatus, DEFAULT_NAMESPACE};

pub use clock::{Clock, ManualClock, SystemClock};
pub use cluster::{ClusterLoad, LoadSource};
pub use decision::{FunctionScaleState, Observation, ScaleDecision};
pub use policy::{ScalingPolicy, ScalingType};

use crate::balancer::InFlight;
use crate::config::AutoscalerConfig;
use crate::functions::FunctionTable;
use crate::metrics::GatewayMetrics;

/// Every function in every namespace, each with its namespace set.
pub async fn list_all(provider: &dyn Provider) -> Result<Vec<FunctionStatus>, ProviderError> {
    let mut all = Vec::new();
    for namespace in provider.list_namespaces().await? {
        let functions = match provider.list(&namespace).await {
            Ok(functions) => functions,
            // Deleted between the two calls.
            Err(ProviderError::NotFound(_)) => continue,
            Err(err) => return Err(err),
        };
        for mut status in functions {
            if status.namespace.as_deref().is_none_or(str::is_empty) {
                status.namespace = Some(namespace.clone());
            }
            all.push(status);
        }
    }
    Ok(all)
}

struct Tracked {
    state: FunctionScaleState,
    /// The label problems last reported, so each is logged once.
    problems: Vec<String>,
}

/// The autoscaler's state; [`Autoscaler::tick`] takes one look at every function.
pub struct Autoscaler {
    provider: Arc<dyn Provider>,
    functions: Arc<FunctionTable>,
    in_flight: Arc<InFlight>,
    metrics: Option<Arc<GatewayMetrics>>,
    clock: Arc<dyn Clock>,
    config: AutoscalerConfig,
    tracked: HashMap<(String, String), Tracked>,
    /// The other replicas' load, when this autoscaler scales for several.
    cluster: Option<(Arc<dyn LoadSource>, ClusterLoad)>,
    /// The failures last logged, so each is logged once.
    cluster_failures: Vec<String>,
}

impl Autoscaler {
    pub(crate) fn new(
        provider: Arc<dyn Provider>,
        functions: Arc<FunctionTable>,
        in_flight: Arc<InFlight>,
        metrics: Option<Arc<GatewayMetrics>>,
        clock: Arc<dyn Clock>,
        config: AutoscalerConfig,
    ) -> Autoscaler {
        Autoscaler {
            provider,
            functions,
            in_flight,
            metrics,
            clock,
            config,
            tracked: HashMap::new(),
            cluster: None,
            cluster_failures: Vec::new(),
        }
    }

    /// Scales on the load of every server replica: this one's counters and those `source`
    /// reads from the others (or `source`'s alone when it counts this replica too).
    pub fn with_cluster_load(mut self, source: Arc<dyn LoadSource>) -> Autoscaler {
        let load = ClusterLoad::new(source.includes_self());
        self.cluster = Some((source, load));
        self
    }

    /// Reads the other replicas' counters; a look that fails keeps the last totals.
    async fn look_at_cluster(&mut self) {
        let Some((source, load)) = &mut self.cluster else {
            return;
        };
        let failures = match source.fetch().await {
            Ok(fetched) => {
                load.update(&fetched, self.clock.now());
                fetched.failures
            }
            Err(err) => vec![err],
        };
        if failures != self.cluster_failures {
            for failure in &failures {
                tracing::warn!("autoscaler: cannot read a server replica's load: {failure}");
            }
            self.cluster_failures = failures;
        }
    }

    /// Runs [`Autoscaler::tick`] every `interval` until the task is aborted.
    pub async fn run(mut self) {
        let mut interval = tokio::time::interval(self.config.interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            self.tick().await;
        }
    }

    /// One look at every function: measures load, decides, scales. Returns what it changed.
    pub async fn tick(&mut self) -> Vec<ScaleDecision> {
        let functions = match list_all(self.provider.as_ref()).await {
            Ok(functions) => functions,
            Err(err) => {
                tracing::warn!(error = %err, "autoscaler: cannot list functions");
                return Vec::new();
            }
        };
        self.forget_gone(&functions);
        self.look_at_cluster().await;

        let mut decisions = Vec::new();
        for status in functions {
            let namespace = status
                .namespace
                .clone()
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
            let key = (namespace, status.name.clone());
            if !ScalingPolicy::is_autoscaled(status.labels.as_ref()) {
                self.tracked.remove(&key);
                continue;
            }
            let (policy, problems) = ScalingPolicy::parse(status.labels.as_ref());
            let entry = self.functions.get(&key.0, &key.1);
            let local = entry.as_ref().map(|e| e.stats()).unwrap_or_default();
            let stats = match &self.cluster {
                Some((_, load)) => load.combine(&key.0, &key.1, local),
                None => local,
            };
            let now = self.clock.now();
            let tracked = self.tracked.entry(key.clone()).or_insert_with(|| Tracked {
                state: FunctionScaleState::new(now, stats),
                problems: Vec::new(),
            });
            if tracked.problems != problems {
                for problem in &problems {
                    tracing::warn!(function = %format_args!("{}.{}", key.1, key.0), "autoscaler: {problem}");
                }
                tracked.problems = problems;
            }
            let cpu = if policy.kind == ScalingType::Cpu {
                // The list may carry an old sample; a status call measures afresh.
                match self.provider.status(&key.0, &key.1).await {
                    Ok(fresh) => fresh.usage.map(|u| u.cpu),
                    Err(_) => status.usage.as_ref().map(|u| u.cpu),
                }
            } else {
                None
            };
            let observation = Observation {
                now,
                replicas: status.replicas,
                ready: status.available_replicas,
                stats,
                cpu,
            };
            let down_window = policy.down_window.unwrap_or(self.config.scale_down_window);
            let decided =
                tracked
                    .state
                    .observe(&observation, &policy, self.config.load_window, down_window);
            if let (Some(metrics), Some(load)) = (&self.metrics, tracked.state.last_load) {
                metrics.set_load(&key.0, &key.1, policy.kind.name(), load);
            }
            let Some((to, reason)) = decided else {
                continue;
            };
            let decision = ScaleDecision {
                namespace: key.0.clone(),
                name: key.1.clone(),
                from: status.replicas,
                to,
                reason,
            };
            if to == 0 {
                if let Some(entry) = &entry {
                    // A call may have arrived since the look: then it is not idle.
                    let now_stats = entry.stats();
                    if now_stats.started != local.started || now_stats.in_flight > 0 {
                        continue;
                    }
                    entry.invalidate_replicas();
                }
            }
            match self.provider.scale(&key.0, &key.1, to).await {
                Ok(()) => {
                    tracing::info!(
                        function = %format_args!("{}.{}", key.1, key.0),
                        from = decision.from,
                        to,
                        "autoscaler: {}",
                        decision.reason
                    );
                    // The portal shows a function's last decisions with their reasons.
                    if let Some(history) = entry.as_ref().and_then(|e| e.history.as_ref()) {
                        history.record_decision(decision.from, to, &decision.reason);
                    }
                    decisions.push(decision);
                }
                Err(err) => {
                    tracing::warn!(%decision, error = %err, "autoscaler: scaling failed");
                }
            }
        }
        decisions
    }

    /// Drops the state of functions that no longer exist (deleted, maybe by another gateway).
    fn forget_gone(&mut self, functions: &[FunctionStatus]) {
        let present: std::collections::HashSet<(&str, &str)> = functions
            .iter()
            .map(|s| {
                (
                    s.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE),
                    s.name.as_str(),
                )
            })
            .collect();
        self.tracked
            .retain(|(ns, name), _| present.contains(&(ns.as_str(), name.as_str())));
        if let Some((_, load)) = &mut self.cluster {
            load.retain(|ns, name| present.contains(&(ns, name)));
        }
        for entry in self.functions.entries() {
            if !present.contains(&(entry.namespace(), entry.name())) {
                self.functions.remove(entry.namespace(), entry.name());
                if let Some(metrics) = &self.metrics {
                    metrics.forget(entry.namespace(), entry.name());
                }
            }
        }
        self.in_flight.prune();
    }
}

/// The running autoscaler task; dropping it stops the task.
pub struct AutoscalerTask {
    handle: tokio::task::JoinHandle<()>,
}

impl AutoscalerTask {
    pub(crate) fn spawn(autoscaler: Autoscaler) -> AutoscalerTask {
        AutoscalerTask {
            handle: tokio::spawn(autoscaler.run()),
        }
    }
}

impl Drop for AutoscalerTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}
