//! The autoscaler's arithmetic for one function, free of I/O: samples in, a decision out.
//!
//! - Load comes from a sliding window of the gateway's own counters (`rps`: calls started
//!   per second; `capacity`: the time-average of calls in flight, or the calls in flight now if
//!   higher) or from the provider (`cpu`).
//! - Up at once: a recommendation above the current count is applied on the next look.
//! - Down slowly: the highest recommendation of the scale-down window is applied, so load
//!   must stay low for the whole window before replicas go. Replica counts set from outside
//!   (the API, an alert) count as recommendations too, so they hold for a window.
//! - Zero: with `com.openfaas.scale.zero=true`, a function with no call started and none in
//!   flight for `zero-duration` goes to 0 replicas; a call brings it back.
//! - Never outside `min..=max`, except that zero rule.
//! - Functions with no `type` or `target` label ([`ScalingPolicy::alerting`]) scale as
//!   OpenFaaS CE scales them instead: a step of `factor`% of max on each firing of
//!   [`API_HIGH_INVOCATION_RATE`], back to min when it resolves; counts set from outside
//!   are left alone within min..max.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use super::alert_rule::{AlertNotification, AlertRuleState, API_HIGH_INVOCATION_RATE};
use super::policy::{ScalingPolicy, ScalingType};
use crate::functions::CallStats;

/// What the autoscaler decided for one function, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleDecision {
    /// The function's namespace.
    pub namespace: String,
    /// The function's name.
    pub name: String,
    /// Desired replicas before.
    pub from: u64,
    /// Desired replicas after.
    pub to: u64,
    /// Why, in words, for the log.
    pub reason: String,
}

impl fmt::Display for ScaleDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}: {} -> {} replicas: {}",
            self.name, self.namespace, self.from, self.to, self.reason
        )
    }
}

/// What the autoscaler sees of a function at one look.
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    /// When.
    pub now: Instant,
    /// Desired replicas (the provider's `replicas`).
    pub replicas: u64,
    /// Ready replicas (`availableReplicas`).
    pub ready: u64,
    /// The gateway's counters for the function.
    pub stats: CallStats,
    /// CPU in cores over all replicas, when the provider measures it.
    pub cpu: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    started: u64,
    busy: Duration,
}

/// One function's memory between looks.
#[derive(Debug)]
pub struct FunctionScaleState {
    samples: VecDeque<Sample>,
    recommendations: VecDeque<(Instant, u64)>,
    last_started: u64,
    last_busy: Duration,
    last_active: Instant,
    /// The count this autoscaler last asked for; a different current count was set from
    /// outside.
    last_set: Option<u64>,
    /// The load measured at the last look.
    pub last_load: Option<f64>,
    /// The CE alert rule's state, for [`ScalingPolicy::alerting`] functions.
    alert: AlertRuleState,
}

impl FunctionScaleState {
    /// A function first seen at `now` (counted as active then: nothing scales to zero
    /// before it was watched for `zero-duration`).
    pub fn new(now: Instant, stats: CallStats) -> FunctionScaleState {
        FunctionScaleState {
            samples: VecDeque::new(),
            recommendations: VecDeque::new(),
            last_started: stats.started,
            last_busy: stats.busy,
            last_active: now,
            last_set: None,
            last_load: None,
            alert: AlertRuleState::default(),
        }
    }

    /// Takes one look; `Some` when the replica count should change.
    pub fn observe(
        &mut self,
        at: &Observation,
        policy: &ScalingPolicy,
        load_window: Duration,
        down_window: Duration,
    ) -> Option<(u64, String)> {
        let now = at.now;
        let stats = at.stats;
        if stats.started != self.last_started || stats.busy != self.last_busy || stats.in_flight > 0
        {
            self.last_active = now;
        }
        self.last_started = stats.started;
        self.last_busy = stats.busy;
        self.samples.push_back(Sample {
            at: now,
            started: stats.started,
            busy: stats.busy,
        });
        // Keep the newest sample that is at least `load_window` old as the window's base.
        while self.samples.len() > 2 && now.duration_since(self.samples[1].at) >= load_window {
            self.samples.pop_front();
        }
        let load = self.load(at, policy.kind);
        self.last_load = load;

        let current = at.replicas;
        if current == 0 {
            // Parked at zero: a call scales it up (the proxy's cold start), not load.
            self.recommendations.clear();
            self.last_set = Some(0);
            return None;
        }
        let idle = now.duration_since(self.last_active);
        if policy.zero && stats.in_flight == 0 && idle >= policy.zero_duration {
            self.recommendations.clear();
            self.last_set = Some(0);
            return Some((
                0,
                format!(
                    "idle for {:.1?} (zero-duration {:?}): scaling to zero",
                    idle, policy.zero_duration
                ),
            ));
        }

        if policy.alerting {
            return self.observe_alert_rule(at, policy);
        }
        if self.last_set != Some(current) {
            // Set from outside (or first seen): hold it for a scale-down window.
            self.recommendations.push_back((now, policy.clamp(current)));
        }
        let recommended = match load {
            Some(load) => policy.replicas_for(load),
            None => policy.clamp(current),
        };
        self.recommendations.push_back((now, recommended));
        while self
            .recommendations
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > down_window)
        {
            self.recommendations.pop_front();
        }
        let stable = self
            .recommendations
            .iter()
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(recommended);

        let described = |load: Option<f64>| match load {
            Some(load) => format!(
                "{} load {load:.2} (all replicas), target {} × {} per replica",
                policy.kind.name(),
                policy.target,
                policy.proportion
            ),
            None => format!("{} load unknown", policy.kind.name()),
        };
        let decision = if current > policy.max {
            Some((policy.max, format!("above max {}", policy.max)))
        } else if current < policy.min {
            Some((policy.min, format!("below min {}", policy.min)))
        } else if recommended > current {
            Some((
                recommended,
                format!("{}: scaling up to {recommended}", described(load)),
            ))
        } else if stable < current {
            Some((
                stable,
                format!(
                    "{}: highest recommendation in the last {down_window:?} is {stable}",
                    described(load)
                ),
            ))
        } else {
            None
        };
        if let Some((to, _)) = &decision {
            self.last_set = Some(*to);
        } else {
            self.last_set = Some(current);
        }
        decision
    }

    /// CE's way: min..max kept, a step up on each firing notification of the alert rule,
    /// min when it resolves, nothing else (counts set from outside stay).
    fn observe_alert_rule(
        &mut self,
        at: &Observation,
        policy: &ScalingPolicy,
    ) -> Option<(u64, String)> {
        let current = at.replicas;
        let notification =
            self.alert
                .evaluate(at.now, at.stats.answered_ok, &API_HIGH_INVOCATION_RATE);
        let rule = &API_HIGH_INVOCATION_RATE;
        let decision = if current > policy.max {
            Some((policy.max, format!("above max {}", policy.max)))
        } else if current < policy.min {
            Some((policy.min, format!("below min {}", policy.min)))
        } else {
            match notification {
                Some(AlertNotification::Firing { rate }) => {
                    let step = policy.alert_step();
                    let to = current.saturating_add(step).min(policy.max);
                    (to != current).then(|| {
                        (
                            to,
                            format!(
                                "APIHighInvocationRate firing ({rate:.2} calls/s over {:?} > {}): +{step} ({}% of max {})",
                                rule.window, rule.threshold, policy.factor, policy.max
                            ),
                        )
                    })
                }
                Some(AlertNotification::Resolved) => (current != policy.min).then(|| {
                    (
                        policy.min,
                        format!(
                            "APIHighInvocationRate resolved ({} calls/s or fewer over {:?}): back to min",
                            rule.threshold, rule.window
                        ),
                    )
                }),
                None => None,
            }
        };
        self.last_set = Some(decision.as_ref().map_or(current, |(to, _)| *to));
        decision
    }

    fn load(&self, at: &Observation, kind: ScalingType) -> Option<f64> {
        let (first, last) = (self.samples.front()?, self.samples.back()?);
        let span = last.at.duration_since(first.at).as_secs_f64();
        match kind {
            ScalingType::Cpu => at.cpu.map(|cores| cores * 1000.0),
            ScalingType::Rps if span > 0.0 => {
                Some(last.started.saturating_sub(first.started) as f64 / span)
            }
            ScalingType::Rps => None,
            ScalingType::Capacity => {
                let average = if span > 0.0 {
                    last.busy.saturating_sub(first.busy).as_secs_f64() / span
                } else {
                    0.0
                };
                Some(average.max(at.stats.in_flight as f64))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    struct Sim {
        state: FunctionScaleState,
        policy: ScalingPolicy,
        now: Instant,
        stats: CallStats,
        replicas: u64,
    }

    impl Sim {
        fn new(policy: ScalingPolicy, replicas: u64) -> Sim {
            let now = Instant::now();
            Sim {
                state: FunctionScaleState::new(now, CallStats::default()),
                policy,
                now,
                stats: CallStats::default(),
                replicas,
            }
        }

        /// One second passes with `rps` calls started and answered 200; applies and returns
        /// any decision.
        fn second(&mut self, rps: u64) -> Option<u64> {
            self.second_answering(rps, rps)
        }

        /// One second passes with `rps` calls started, `ok` of them answered 200.
        fn second_answering(&mut self, rps: u64, ok: u64) -> Option<u64> {
            self.now += SECOND;
            self.stats.started += rps;
            self.stats.answered_ok += ok;
            let observation = Observation {
                now: self.now,
                replicas: self.replicas,
                ready: self.replicas,
                stats: self.stats,
                cpu: None,
            };
            let decision = self.state.observe(
                &observation,
                &self.policy,
                Duration::from_secs(5),
                Duration::from_secs(10),
            );
            if let Some((to, _)) = decision {
                self.replicas = to;
            }
            decision.map(|(to, _)| to)
        }
    }

    fn rps_policy(target: f64) -> ScalingPolicy {
        ScalingPolicy {
            target,
            proportion: 1.0,
            max: 10,
            ..Default::default()
        }
    }

    #[test]
    fn scales_up_at_once_and_down_after_the_window() {
        let mut sim = Sim::new(rps_policy(10.0), 1);
        assert_eq!(sim.second(0), None);
        // 45 rps with a target of 10 per replica: 5 replicas on the first look with load.
        assert_eq!(sim.second(45), Some(5));
        for _ in 0..5 {
            sim.second(45);
        }
        assert_eq!(sim.replicas, 5);
        // Load stops: no change for the 10 s window, then down to min.
        let mut changes = Vec::new();
        for second in 0..20 {
            if let Some(to) = sim.second(0) {
                changes.push((second, to));
            }
        }
        assert!(!changes.is_empty());
        assert!(changes[0].0 >= 9, "scaled down too early: {changes:?}");
        assert_eq!(sim.replicas, 1, "{changes:?}");
    }

    #[test]
    fn a_brief_dip_does_not_flap() {
        let mut sim = Sim::new(rps_policy(10.0), 1);
        for _ in 0..6 {
            sim.second(30);
        }
        assert_eq!(sim.replicas, 3);
        let mut decisions = Vec::new();
        for second in 0..30 {
            // Load drops for 3 s, once.
            let rps = if (10..13).contains(&second) { 0 } else { 30 };
            decisions.extend(sim.second(rps));
        }
        assert!(decisions.is_empty(), "{decisions:?}");
        assert_eq!(sim.replicas, 3);
    }

    #[test]
    fn min_and_max_are_kept() {
        let policy = ScalingPolicy {
            min: 2,
            max: 4,
            ..rps_policy(1.0)
        };
        let mut sim = Sim::new(policy, 1);
        assert_eq!(sim.second(0), Some(2));
        assert_eq!(sim.second(1000), Some(4));
        for _ in 0..30 {
            sim.second(1000);
            assert!(sim.replicas <= 4);
        }
        for _ in 0..30 {
            sim.second(0);
            assert!(sim.replicas >= 2);
        }
        assert_eq!(sim.replicas, 2);
        // Set from outside above max: back to max at once.
        sim.replicas = 9;
        assert_eq!(sim.second(0), Some(4));
    }

    #[test]
    fn idle_functions_go_to_zero_only_with_the_label() {
        let policy = ScalingPolicy {
            zero: true,
            zero_duration: Duration::from_secs(3),
            ..rps_policy(10.0)
        };
        let mut sim = Sim::new(policy.clone(), 1);
        assert_eq!(sim.second(0), None);
        assert_eq!(sim.second(0), None);
        assert_eq!(sim.second(0), Some(0));
        // Parked: nothing more happens, even with time.
        assert_eq!(sim.second(0), None);
        // A call woke it (the proxy scaled it to 1): it stays while calls come.
        sim.replicas = 1;
        for _ in 0..5 {
            assert_eq!(sim.second(1), None);
        }
        assert_eq!(sim.second(0), None);
        assert_eq!(sim.second(0), None);
        assert_eq!(sim.second(0), Some(0));

        let mut sim = Sim::new(
            ScalingPolicy {
                zero: false,
                ..policy
            },
            1,
        );
        for _ in 0..10 {
            assert_eq!(sim.second(0), None);
        }
    }

    #[test]
    fn calls_in_flight_keep_a_function_awake_and_count_as_capacity() {
        let policy = ScalingPolicy {
            zero: true,
            zero_duration: Duration::from_secs(2),
            kind: ScalingType::Capacity,
            ..rps_policy(2.0)
        };
        let mut sim = Sim::new(policy.clone(), 1);
        sim.stats.in_flight = 8;
        assert_eq!(sim.second(0), Some(4));
        for _ in 0..5 {
            assert_eq!(sim.second(0), None, "calls in flight keep it awake");
        }
        // Little's law: 6 s of finished calls per second is 6 calls in flight on average.
        let mut sim = Sim::new(policy, 1);
        assert_eq!(sim.second(0), None);
        sim.stats.busy += Duration::from_secs(6);
        assert_eq!(sim.second(0), Some(3));
    }

    #[test]
    fn cpu_load_is_millicores_from_the_provider() {
        let policy = ScalingPolicy {
            kind: ScalingType::Cpu,
            target: 100.0,
            proportion: 1.0,
            ..Default::default()
        };
        let now = Instant::now();
        let mut state = FunctionScaleState::new(now, CallStats::default());
        let mut at = Observation {
            now,
            replicas: 1,
            ready: 1,
            stats: CallStats::default(),
            cpu: Some(0.45),
        };
        let window = Duration::from_secs(5);
        let (to, reason) = state.observe(&at, &policy, window, window).unwrap();
        assert_eq!(to, 5, "450 millicores / 100 per replica");
        assert!(reason.contains("cpu load 450.00"), "{reason}");
        // Unknown usage (no cgroups): nothing changes.
        at.now += SECOND;
        at.replicas = 5;
        at.cpu = None;
        assert!(state.observe(&at, &policy, window, window).is_none());
    }

    fn ce_policy(min: u64, max: u64) -> ScalingPolicy {
        ScalingPolicy {
            min,
            max,
            alerting: true,
            ..Default::default()
        }
    }

    #[test]
    fn ce_functions_at_ten_rps_step_up_within_30_s_and_return_to_min() {
        let mut sim = Sim::new(ce_policy(1, 2), 1);
        let mut up_at = None;
        for second in 1..=30 {
            if let Some(to) = sim.second(10) {
                up_at.get_or_insert((second, to));
            }
        }
        let (second, to) = up_at.expect("scaled up within 30 s");
        assert_eq!(to, 2, "1 + 20% of 2, rounded up");
        assert!(second <= 20, "{second}");
        // Load stops: back to min once the rate falls.
        let mut down_at = None;
        for second in 1..=30 {
            if let Some(to) = sim.second(0) {
                down_at.get_or_insert((second, to));
            }
        }
        assert_eq!(down_at.map(|(_, to)| to), Some(1));
        assert_eq!(sim.replicas, 1);
    }

    #[test]
    fn ce_functions_step_by_factor_percent_of_max_on_each_firing() {
        let policy = ScalingPolicy {
            factor: 30,
            ..ce_policy(1, 10)
        };
        let mut sim = Sim::new(policy, 1);
        let mut steps = Vec::new();
        for _ in 0..80 {
            steps.extend(sim.second(50));
        }
        // A step of 3 at the first notification, then one per repeat (30 s).
        assert_eq!(steps, [4, 7, 10], "{steps:?}");
        // Five calls a second is not above the threshold: nothing moves.
        let mut quiet = Sim::new(ce_policy(1, 10), 1);
        for _ in 0..60 {
            assert_eq!(quiet.second(5), None);
        }
    }

    #[test]
    fn ce_functions_count_only_calls_answered_200() {
        // CE's rule reads gateway_function_invocation_total{code="200"}: a function that
        // fails under load is not scaled up by it.
        let mut failing = Sim::new(ce_policy(1, 10), 1);
        for _ in 0..60 {
            assert_eq!(failing.second_answering(50, 4), None);
        }
        let mut mixed = Sim::new(ce_policy(1, 10), 1);
        let steps: Vec<u64> = (0..20)
            .filter_map(|_| mixed.second_answering(50, 10))
            .collect();
        assert_eq!(
            steps,
            [3],
            "10 of 50 calls a second answered 200: {steps:?}"
        );
    }

    #[test]
    fn ce_functions_keep_counts_set_from_outside_within_min_and_max() {
        let mut sim = Sim::new(ce_policy(2, 6), 2);
        assert_eq!(sim.second(0), None);
        sim.replicas = 5; // an AlertManager of the operator's own, or the API
        for _ in 0..60 {
            assert_eq!(sim.second(0), None);
        }
        sim.replicas = 9;
        assert_eq!(sim.second(0), Some(6));
        sim.replicas = 1;
        assert_eq!(sim.second(0), Some(2));
    }

    #[test]
    fn outside_changes_hold_for_a_window() {
        let mut sim = Sim::new(rps_policy(10.0), 1);
        sim.second(0);
        sim.replicas = 6; // an alert or the API
        let mut first_change = None;
        for second in 0..15 {
            if let Some(to) = sim.second(0) {
                first_change.get_or_insert((second, to));
            }
        }
        let (second, to) = first_change.expect("scaled down eventually");
        assert!(second >= 9, "{second}");
        assert_eq!(to, 1);
    }
}
