//! Label and annotation keys OpenFaaS gives meaning to, and the defaults it applies.

/// The prefix of the scaling labels: a function with any of them is autoscaled.
pub const SCALE_PREFIX: &str = "com.openfaas.scale.";
/// Minimum replicas (default [`DEFAULT_SCALE_MIN`]).
pub const SCALE_MIN: &str = "com.openfaas.scale.min";
/// Maximum replicas (default [`DEFAULT_SCALE_MAX`]).
pub const SCALE_MAX: &str = "com.openfaas.scale.max";
/// `true` lets the function scale to zero when idle.
pub const SCALE_ZERO: &str = "com.openfaas.scale.zero";
/// Idle time before scaling to zero, a Go duration (default [`DEFAULT_SCALE_ZERO_DURATION`]).
pub const SCALE_ZERO_DURATION: &str = "com.openfaas.scale.zero-duration";
/// Target load per replica (default [`DEFAULT_SCALE_TARGET`]).
pub const SCALE_TARGET: &str = "com.openfaas.scale.target";
/// What load means: `rps`, `capacity` (in-flight calls) or `cpu`.
pub const SCALE_TYPE: &str = "com.openfaas.scale.type";
/// Fraction of the target to aim at (default [`DEFAULT_SCALE_TARGET_PROPORTION`]).
pub const SCALE_TARGET_PROPORTION: &str = "com.openfaas.scale.target-proportion";
/// AlertManager scaling step, in percent of the maximum (default [`DEFAULT_SCALE_FACTOR`]).
pub const SCALE_FACTOR: &str = "com.openfaas.scale.factor";
/// How long load must stay low before replicas are removed (OpenFaaS Pro's label; a Go
/// duration). The gateway's `scale_down_window` when absent.
pub const SCALE_DOWN_WINDOW: &str = "com.openfaas.scale.down.window";

/// Label OpenFaaS puts on every function, with the function's name as value.
pub const FUNCTION_NAME: &str = "faas_function";

/// Annotation naming the async queue a function's calls go to.
pub const QUEUE: &str = "com.openfaas.queue";
/// Annotation listing the topics a function subscribes to (comma-separated).
pub const TOPIC: &str = "topic";
/// Annotation with a cron schedule, used with `topic: cron-function`.
pub const SCHEDULE: &str = "schedule";
/// The topic the cron connector reads.
pub const CRON_TOPIC: &str = "cron-function";

/// Async retry: number of attempts.
pub const RETRY_ATTEMPTS: &str = "com.openfaas.retry.attempts";
/// Async retry: HTTP codes that are retried, comma-separated.
pub const RETRY_CODES: &str = "com.openfaas.retry.codes";
/// Async retry: first wait, a Go duration.
pub const RETRY_MIN_WAIT: &str = "com.openfaas.retry.min_wait";
/// Async retry: longest wait, a Go duration.
pub const RETRY_MAX_WAIT: &str = "com.openfaas.retry.max_wait";

/// OpenFaaS's default for [`SCALE_MIN`].
pub const DEFAULT_SCALE_MIN: u64 = 1;
/// OpenFaaS's default for [`SCALE_MAX`].
pub const DEFAULT_SCALE_MAX: u64 = 20;
/// OpenFaaS's default for [`SCALE_TARGET`].
pub const DEFAULT_SCALE_TARGET: u64 = 50;
/// OpenFaaS's default for [`SCALE_TARGET_PROPORTION`].
pub const DEFAULT_SCALE_TARGET_PROPORTION: f64 = 0.90;
/// OpenFaaS's default for [`SCALE_FACTOR`].
pub const DEFAULT_SCALE_FACTOR: u64 = 20;
/// OpenFaaS's default for [`SCALE_ZERO_DURATION`].
pub const DEFAULT_SCALE_ZERO_DURATION: &str = "15m";
