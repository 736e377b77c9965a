//! A function's scaling policy, read from its `com.openfaas.scale.*` labels with OpenFaaS's
//! defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use faas_types::labels::{DEFAULT_SCALE_FACTOR, SCALE_DOWN_WINDOW, SCALE_PREFIX};
use faas_types::labels::{
    DEFAULT_SCALE_MAX, DEFAULT_SCALE_MIN, DEFAULT_SCALE_TARGET, DEFAULT_SCALE_TARGET_PROPORTION,
    SCALE_FACTOR, SCALE_MAX, SCALE_MIN, SCALE_TARGET, SCALE_TARGET_PROPORTION, SCALE_TYPE,
    SCALE_ZERO, SCALE_ZERO_DURATION,
};
use faas_types::FunctionStatus;

/// OpenFaaS's default idle time before scaling to zero.
pub const DEFAULT_ZERO_DURATION: Duration = Duration::from_secs(15 * 60);

/// What load means for a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalingType {
    /// Requests per second through the gateway.
    Rps,
    /// Calls in flight.
    Capacity,
    /// CPU, in millicores (the provider's `usage.cpu` × 1000).
    Cpu,
}

impl ScalingType {
    /// The label value, also the `scaling_type` metric label.
    pub fn name(self) -> &'static str {
        match self {
            ScalingType::Rps => "rps",
            ScalingType::Capacity => "capacity",
            ScalingType::Cpu => "cpu",
        }
    }
}

/// A function's scaling settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingPolicy {
    /// Fewest replicas under load (`com.openfaas.scale.min`, 1).
    pub min: u64,
    /// Most replicas (`com.openfaas.scale.max`, 20).
    pub max: u64,
    /// Target load per replica (`com.openfaas.scale.target`, 50).
    pub target: f64,
    /// What load is (`com.openfaas.scale.type`, rps).
    pub kind: ScalingType,
    /// Fraction of the target to aim at (`com.openfaas.scale.target-proportion`, 0.90).
    pub proportion: f64,
    /// May scale to zero when idle (`com.openfaas.scale.zero`, false).
    pub zero: bool,
    /// Idle time before scaling to zero (`com.openfaas.scale.zero-duration`, 15m).
    pub zero_duration: Duration,
    /// AlertManager step in percent of `max` (`com.openfaas.scale.factor`, 20).
    pub factor: u64,
    /// Scale-down stabilisation (`com.openfaas.scale.down.window`), when set.
    pub down_window: Option<Duration>,
    /// No `type` and no `target` label: scaled as OpenFaaS CE scales such functions, by its
    /// bundled `APIHighInvocationRate` alert (see [`super::alert_rule`]), not by target load.
    pub alerting: bool,
}

impl Default for ScalingPolicy {
    fn default() -> Self {
        ScalingPolicy {
            min: DEFAULT_SCALE_MIN,
            max: DEFAULT_SCALE_MAX,
            target: DEFAULT_SCALE_TARGET as f64,
            kind: ScalingType::Rps,
            proportion: DEFAULT_SCALE_TARGET_PROPORTION,
            zero: false,
            zero_duration: DEFAULT_ZERO_DURATION,
            factor: DEFAULT_SCALE_FACTOR,
            down_window: None,
            alerting: false,
        }
    }
}

impl ScalingPolicy {
    /// Every scaling type's name, for metric labels.
    pub const TYPE_NAMES: [&'static str; 3] = ["rps", "capacity", "cpu"];

    /// True when a function carries any `com.openfaas.scale.*` label: only those are
    /// autoscaled.
    pub fn is_autoscaled(labels: Option<&BTreeMap<String, String>>) -> bool {
        labels.is_some_and(|labels| labels.keys().any(|key| key.starts_with(SCALE_PREFIX)))
    }

    /// The policy of an autoscaled function; `None` for the others.
    pub fn from_status(status: &FunctionStatus) -> Option<ScalingPolicy> {
        Self::is_autoscaled(status.labels.as_ref()).then(|| Self::parse(status.labels.as_ref()).0)
    }

    /// Reads the labels; values that cannot be used fall back to the default and are
    /// described in the returned list.
    pub fn parse(labels: Option<&BTreeMap<String, String>>) -> (ScalingPolicy, Vec<String>) {
        let mut policy = ScalingPolicy::default();
        let mut problems = Vec::new();
        let Some(labels) = labels else {
            return (policy, problems);
        };
        let mut bad = |key: &str, value: &str, want: &str| {
            problems.push(format!("{key}={value:?} is not {want}; using the default"));
        };
        let get = |key: &str| labels.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        policy.alerting = get(SCALE_TYPE).is_none() && get(SCALE_TARGET).is_none();

        if let Some(value) = get(SCALE_MIN) {
            match value.parse() {
                Ok(min) => policy.min = min,
                Err(_) => bad(SCALE_MIN, value, "a whole number"),
            }
        }
        if let Some(value) = get(SCALE_MAX) {
            match value.parse::<u64>() {
                Ok(max) if max > 0 => policy.max = max,
                _ => bad(SCALE_MAX, value, "a whole number above 0"),
            }
        }
        if let Some(value) = get(SCALE_TARGET) {
            match value.parse::<f64>() {
                Ok(target) if target > 0.0 && target.is_finite() => policy.target = target,
                _ => bad(SCALE_TARGET, value, "a number above 0"),
            }
        }
        if let Some(value) = get(SCALE_TYPE) {
            match value {
                "rps" => policy.kind = ScalingType::Rps,
                "capacity" => policy.kind = ScalingType::Capacity,
                "cpu" => policy.kind = ScalingType::Cpu,
                _ => bad(SCALE_TYPE, value, "rps, capacity or cpu"),
            }
        }
        if let Some(value) = get(SCALE_TARGET_PROPORTION) {
            match value.parse::<f64>() {
                Ok(p) if p > 0.0 && p.is_finite() => policy.proportion = p,
                _ => bad(SCALE_TARGET_PROPORTION, value, "a number above 0"),
            }
        }
        if let Some(value) = get(SCALE_ZERO) {
            match value.to_ascii_lowercase().as_str() {
                "true" | "1" => policy.zero = true,
                "false" | "0" => policy.zero = false,
                _ => bad(SCALE_ZERO, value, "true or false"),
            }
        }
        if let Some(value) = get(SCALE_ZERO_DURATION) {
            match faas_types::duration::parse(value) {
                Some(duration) => policy.zero_duration = duration,
                None => bad(SCALE_ZERO_DURATION, value, "a duration such as 15m"),
            }
        }
        if let Some(value) = get(SCALE_FACTOR) {
            match value.parse::<u64>() {
                Ok(factor) if factor <= 100 => policy.factor = factor,
                _ => bad(SCALE_FACTOR, value, "a percentage from 0 to 100"),
            }
        }
        if let Some(value) = get(SCALE_DOWN_WINDOW) {
            match faas_types::duration::parse(value) {
                Some(window) => policy.down_window = Some(window),
                None => bad(SCALE_DOWN_WINDOW, value, "a duration such as 5m"),
            }
        }
        if policy.max < policy.min {
            problems.push(format!(
                "{SCALE_MAX}={} is below {SCALE_MIN}={}; using {} for both",
                policy.max, policy.min, policy.min
            ));
            policy.max = policy.min;
        }
        (policy, problems)
    }

    /// `n` kept within `min..=max`.
    pub fn clamp(&self, n: u64) -> u64 {
        n.clamp(self.min, self.max)
    }

    /// Replicas for `load` (all replicas together): OpenFaaS's
    /// `ceil(ready × (load / ready) / (target × proportion))`, which is
    /// `ceil(load / (target × proportion))`, within `min..=max`.
    pub fn replicas_for(&self, load: f64) -> u64 {
        let per_replica = self.target * self.proportion;
        let wanted = (load / per_replica).ceil();
        let wanted = if wanted.is_finite() && wanted > 0.0 {
            wanted.min(u64::MAX as f64) as u64
        } else {
            0
        };
        self.clamp(wanted)
    }

    /// The AlertManager step: `factor` percent of `max`, at least 1 (0 when `factor` is 0).
    pub fn alert_step(&self) -> u64 {
        if self.factor == 0 {
            return 0;
        }
        (self.max * self.factor).div_ceil(100).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_openfaas_defaults() {
        let (policy, problems) = ScalingPolicy::parse(None);
        assert!(problems.is_empty());
        assert_eq!((policy.min, policy.max), (1, 20));
        assert_eq!(policy.target, 50.0);
        assert_eq!(policy.kind, ScalingType::Rps);
        assert_eq!(policy.proportion, 0.9);
        assert!(!policy.zero);
        assert_eq!(policy.zero_duration, Duration::from_secs(900));
        assert_eq!(policy.alert_step(), 4);
    }

    #[test]
    fn labels_are_read_and_bad_ones_reported() {
        let l = labels(&[
            ("com.openfaas.scale.min", "2"),
            ("com.openfaas.scale.max", "8"),
            ("com.openfaas.scale.target", "5"),
            ("com.openfaas.scale.type", "capacity"),
            ("com.openfaas.scale.target-proportion", "0.5"),
            ("com.openfaas.scale.zero", "true"),
            ("com.openfaas.scale.zero-duration", "3s"),
            ("com.openfaas.scale.factor", "50"),
            ("com.openfaas.scale.down.window", "2s"),
        ]);
        let (policy, problems) = ScalingPolicy::parse(Some(&l));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!((policy.min, policy.max), (2, 8));
        assert_eq!(policy.kind, ScalingType::Capacity);
        assert!(policy.zero);
        assert_eq!(policy.zero_duration, Duration::from_secs(3));
        assert_eq!(policy.down_window, Some(Duration::from_secs(2)));
        assert_eq!(policy.alert_step(), 4);

        let l = labels(&[
            ("com.openfaas.scale.min", "-1"),
            ("com.openfaas.scale.type", "memory"),
            ("com.openfaas.scale.zero-duration", "soon"),
            ("com.openfaas.scale.max", "0"),
        ]);
        let (policy, problems) = ScalingPolicy::parse(Some(&l));
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert_eq!(policy, ScalingPolicy::default());
        assert!(ScalingPolicy::is_autoscaled(Some(&l)));
        assert!(!ScalingPolicy::is_autoscaled(Some(&labels(&[(
            "faas_function",
            "x"
        )]))));

        let (policy, problems) = ScalingPolicy::parse(Some(&labels(&[
            ("com.openfaas.scale.min", "5"),
            ("com.openfaas.scale.max", "3"),
        ])));
        assert_eq!((policy.min, policy.max, problems.len()), (5, 5, 1));
    }

    #[test]
    fn min_and_max_without_type_or_target_scale_by_the_alert_rule() {
        let parse = |pairs: &[(&str, &str)]| ScalingPolicy::parse(Some(&labels(pairs))).0;
        assert!(
            parse(&[
                ("com.openfaas.scale.min", "1"),
                ("com.openfaas.scale.max", "2")
            ])
            .alerting
        );
        assert!(parse(&[("com.openfaas.scale.zero", "true")]).alerting);
        assert!(!parse(&[("com.openfaas.scale.type", "rps")]).alerting);
        assert!(!parse(&[("com.openfaas.scale.target", "10")]).alerting);
        assert!(!ScalingPolicy::parse(None).0.alerting);
    }

    #[test]
    fn the_openfaas_formula() {
        let policy = ScalingPolicy {
            target: 5.0,
            proportion: 1.0,
            max: 10,
            ..Default::default()
        };
        // OpenFaaS's example: capacity target 5, 15 in flight, 1 replica -> 3.
        assert_eq!(policy.replicas_for(15.0), 3);
        assert_eq!(policy.replicas_for(16.0), 4);
        assert_eq!(policy.replicas_for(0.0), 1);
        assert_eq!(policy.replicas_for(1000.0), 10);
        let policy = ScalingPolicy {
            target: 10.0,
            ..Default::default()
        };
        // 0.9 of the target: 9 per replica.
        assert_eq!(policy.replicas_for(18.0), 2);
        assert_eq!(policy.replicas_for(18.5), 3);
    }
}
