//! The cron connector: functions annotated `topic: cron-function` and `schedule: <pattern>`
//! are called at the times their schedule names, as OpenFaaS's cron-connector calls them.
//!
//! Every `rebuild_interval` the connector lists the functions and updates its jobs (a new or
//! changed schedule starts counting from then; a function that is gone or unsubscribed stops);
//! in between it sleeps until the next job is due. A time missed while faasd was busy or
//! stopped is not made up: the job moves to its next time after now. Each call runs on its own
//! task, so a slow function does not delay the others.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use faas_types::labels::{CRON_TOPIC, SCHEDULE};
use faas_types::FunctionStatus;

use crate::caller::GatewayCaller;
use crate::schedule::Schedule;
use crate::source::{function_key, subscribes, FunctionSource};
use crate::ConnectorHandle;

/// The name the connector gives itself in `X-Connector`.
pub const CONNECTOR_NAME: &str = "cron-connector";

/// How the connector runs.
#[derive(Debug, Clone)]
pub struct CronConfig {
    /// How often the list of scheduled functions is read again.
    pub rebuild_interval: Duration,
}

impl Default for CronConfig {
    /// The list is read every 5 s.
    fn default() -> Self {
        CronConfig {
            rebuild_interval: Duration::from_secs(5),
        }
    }
}

/// One scheduled function.
#[derive(Debug, Clone)]
struct Job {
    pattern: String,
    schedule: Schedule,
    next: Option<DateTime<Utc>>,
}

/// The scheduled functions by `name.namespace`, and the schedules already reported as bad.
#[derive(Debug, Default)]
pub struct Jobs {
    jobs: BTreeMap<String, Job>,
    rejected: BTreeMap<String, String>,
}

impl Jobs {
    /// Updates the jobs from `functions` at `now`; answers the problems to report (each bad
    /// schedule once, until it changes).
    pub fn rebuild(&mut self, functions: &[FunctionStatus], now: DateTime<Utc>) -> Vec<String> {
        let mut problems = Vec::new();
        let mut seen = BTreeMap::new();
        for function in functions.iter().filter(|f| subscribes(f, CRON_TOPIC)) {
            let key = function_key(function);
            let pattern = function
                .annotations
                .as_ref()
                .and_then(|a| a.get(SCHEDULE))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default();
            seen.insert(key.clone(), ());
            if self
                .jobs
                .get(&key)
                .is_some_and(|job| job.pattern == pattern)
            {
                continue;
            }
            self.jobs.remove(&key);
            match Schedule::parse(&pattern) {
                Ok(schedule) => {
                    self.rejected.remove(&key);
                    let next = schedule.next_after(now);
                    self.jobs.insert(
                        key,
                        Job {
                            pattern,
                            schedule,
                            next,
                        },
                    );
                }
                Err(err) => {
                    if self.rejected.get(&key) != Some(&pattern) {
                        problems.push(format!("{key} is not scheduled: {err}"));
                        self.rejected.insert(key, pattern);
                    }
                }
            }
        }
        self.jobs.retain(|key, _| seen.contains_key(key));
        self.rejected.retain(|key, _| seen.contains_key(key));
        problems
    }

    /// The functions due at `now`, each moved on to its next time after `now`.
    pub fn take_due(&mut self, now: DateTime<Utc>) -> Vec<String> {
        let mut due = Vec::new();
        for (key, job) in &mut self.jobs {
            if job.next.is_some_and(|next| next <= now) {
                due.push(key.clone());
                job.next = job.schedule.next_after(now);
            }
        }
        due
    }

    /// When the next job is due.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.jobs.values().filter_map(|job| job.next).min()
    }

    /// How many functions are scheduled.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}

/// Calls scheduled functions through the gateway.
pub struct CronConnector {
    source: Arc<dyn FunctionSource>,
    caller: Arc<GatewayCaller>,
    config: CronConfig,
}

impl CronConnector {
    /// A connector reading functions from `source` and calling them with `caller`.
    pub fn new(
        source: Arc<dyn FunctionSource>,
        caller: GatewayCaller,
        config: CronConfig,
    ) -> CronConnector {
        CronConnector {
            source,
            caller: Arc::new(caller),
            config,
        }
    }

    /// Starts the connector on the current runtime.
    pub fn start(self) -> ConnectorHandle {
        ConnectorHandle::new(vec![tokio::spawn(self.run())])
    }

    async fn run(self) {
        let mut jobs = Jobs::default();
        let mut rebuild_at = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= rebuild_at {
                match self.source.functions().await {
                    Ok(functions) => {
                        for problem in jobs.rebuild(&functions, Utc::now()) {
                            tracing::warn!("cron: {problem}");
                        }
                    }
                    Err(err) => tracing::warn!("cron: {err}"),
                }
                rebuild_at = tokio::time::Instant::now() + self.config.rebuild_interval;
            }
            for function in jobs.take_due(Utc::now()) {
                let caller = self.caller.clone();
                tokio::spawn(async move {
                    match caller.call(&function, CRON_TOPIC, Vec::new()).await {
                        Ok(status) => tracing::info!("cron: invoked {function}: {status}"),
                        Err(err) => tracing::warn!("cron: {err}"),
                    }
                });
            }
            let mut wake = rebuild_at;
            if let Some(next) = jobs.next_due() {
                let until = (next - Utc::now()).to_std().unwrap_or_default();
                wake = wake.min(tokio::time::Instant::now() + until);
            }
            tokio::time::sleep_until(wake).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_time::at;

    fn scheduled(name: &str, topic: &str, schedule: &str) -> FunctionStatus {
        FunctionStatus {
            name: name.to_owned(),
            annotations: Some(
                [
                    ("topic".to_owned(), topic.to_owned()),
                    ("schedule".to_owned(), schedule.to_owned()),
                ]
                .into(),
            ),
            ..FunctionStatus::default()
        }
    }

    #[test]
    fn jobs_follow_the_functions_and_their_schedules() {
        let mut jobs = Jobs::default();
        let t0 = at("2026-11-23T10:00:30Z");
        let problems = jobs.rebuild(
            &[
                scheduled("every-minute", "cron-function", "* * * * *"),
                scheduled("other-topic", "orders", "* * * * *"),
                scheduled("broken", "cron-function", "not a schedule"),
            ],
            t0,
        );
        assert_eq!(jobs.len(), 1);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("broken.openfaas-fn is not scheduled"));
        assert_eq!(jobs.next_due(), Some(at("2026-11-23T10:01:00Z")));
        assert!(jobs.take_due(at("2026-11-23T10:00:59Z")).is_empty());
        assert_eq!(
            jobs.take_due(at("2026-11-23T10:01:00Z")),
            ["every-minute.openfaas-fn"]
        );
        // Missed times are not made up: next is after now.
        assert_eq!(
            jobs.take_due(at("2026-11-23T10:07:10Z")),
            ["every-minute.openfaas-fn"]
        );
        assert_eq!(jobs.next_due(), Some(at("2026-11-23T10:08:00Z")));

        // The same bad schedule is reported once; a rebuild keeps the job's next time.
        let same = [
            scheduled("every-minute", "cron-function", "* * * * *"),
            scheduled("broken", "cron-function", "not a schedule"),
        ];
        assert!(jobs.rebuild(&same, at("2026-11-23T10:07:30Z")).is_empty());
        assert_eq!(jobs.next_due(), Some(at("2026-11-23T10:08:00Z")));

        // A changed schedule restarts; a removed function stops.
        let changed = [scheduled("every-minute", "cron-function", "@every 10s")];
        jobs.rebuild(&changed, at("2026-11-23T10:07:35Z"));
        assert_eq!(jobs.next_due(), Some(at("2026-11-23T10:07:45Z")));
        jobs.rebuild(&[], at("2026-11-23T10:07:40Z"));
        assert!(jobs.is_empty());
        assert_eq!(jobs.next_due(), None);
    }
}
