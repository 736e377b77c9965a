//! When a failed call is tried again: which outcomes count as failures worth retrying, how
//! long to wait, and how often — OpenFaaS Pro's queue-worker settings, overridable per
//! function by the `com.openfaas.retry.*` annotations.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use faas_types::labels;

/// How the wait grows between attempts (OpenFaaS Pro's `backoff`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Backoff {
    /// `min_wait * 2^(n-1)`, capped at `max_wait`.
    #[default]
    Exponential,
    /// A random wait between 0 and the exponential one ("full jitter").
    Full,
    /// Half the exponential wait plus a random part of the other half ("equal jitter").
    Equal,
}

impl std::str::FromStr for Backoff {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "exponential" => Ok(Backoff::Exponential),
            "full" => Ok(Backoff::Full),
            "equal" => Ok(Backoff::Equal),
            other => Err(format!(
                "backoff {other:?} is not one of exponential, full, equal"
            )),
        }
    }
}

/// Which results are retried and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (`com.openfaas.retry.attempts`). 1 = no retry.
    pub attempts: u32,
    /// Function statuses that are retried (`com.openfaas.retry.codes`).
    pub codes: Vec<u16>,
    /// Whether a refused or failed connection to the function is retried.
    pub retry_connection_errors: bool,
    /// First wait (`com.openfaas.retry.min_wait`).
    pub min_wait: Duration,
    /// Longest wait, also the cap on `Retry-After` (`com.openfaas.retry.max_wait`).
    pub max_wait: Duration,
    /// How the wait grows.
    pub backoff: Backoff,
}

/// OpenFaaS's retried statuses: 408, 429, 500, 502, 503, 504.
pub const DEFAULT_RETRY_CODES: [u16; 6] = [408, 429, 500, 502, 503, 504];

impl Default for RetryPolicy {
    /// OpenFaaS Pro's queue-worker defaults: 10 attempts, 10s first wait, 120s longest.
    fn default() -> Self {
        RetryPolicy {
            attempts: 10,
            codes: DEFAULT_RETRY_CODES.to_vec(),
            retry_connection_errors: true,
            min_wait: Duration::from_secs(10),
            max_wait: Duration::from_secs(120),
            backoff: Backoff::Exponential,
        }
    }
}

impl RetryPolicy {
    /// This policy with the function's `com.openfaas.retry.*` annotations applied. Values that
    /// do not parse are ignored with a warning (the call is not refused for them).
    pub fn with_annotations(&self, annotations: &BTreeMap<String, String>) -> RetryPolicy {
        let mut policy = self.clone();
        let warn = |key: &str, value: &str| {
            tracing::warn!("ignoring annotation {key}={value:?}: not understood");
        };
        if let Some(value) = annotations.get(labels::RETRY_ATTEMPTS) {
            match value.trim().parse::<u32>() {
                Ok(n) if n >= 1 => policy.attempts = n,
                _ => warn(labels::RETRY_ATTEMPTS, value),
            }
        }
        if let Some(value) = annotations.get(labels::RETRY_CODES) {
            let codes: Result<Vec<u16>, _> = value
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::parse::<u16>)
                .collect();
            match codes {
                Ok(codes) => policy.codes = codes,
                Err(_) => warn(labels::RETRY_CODES, value),
            }
        }
        if let Some(value) = annotations.get(labels::RETRY_MIN_WAIT) {
            match faas_types::duration::parse(value) {
                Some(wait) => policy.min_wait = wait,
                None => warn(labels::RETRY_MIN_WAIT, value),
            }
        }
        if let Some(value) = annotations.get(labels::RETRY_MAX_WAIT) {
            match faas_types::duration::parse(value) {
                Some(wait) => policy.max_wait = wait,
                None => warn(labels::RETRY_MAX_WAIT, value),
            }
        }
        if policy.max_wait < policy.min_wait {
            policy.max_wait = policy.min_wait;
        }
        policy
    }

    /// Whether a function status is retried.
    pub fn retries_status(&self, status: u16) -> bool {
        self.codes.contains(&status)
    }

    /// The wait after attempt number `attempt` (1 = the first attempt) failed: the
    /// `Retry-After` the function gave if any, else the backoff; never more than `max_wait`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_wait);
        }
        backoff_delay(self.backoff, self.min_wait, self.max_wait, attempt)
    }
}

/// The backoff wait after attempt `attempt` (1-based).
pub fn backoff_delay(
    backoff: Backoff,
    min_wait: Duration,
    max_wait: Duration,
    attempt: u32,
) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let exponential = min_wait
        .checked_mul(1u32 << exponent)
        .unwrap_or(max_wait)
        .min(max_wait);
    match backoff {
        Backoff::Exponential => exponential,
        Backoff::Full => exponential.mul_f64(random_fraction()),
        Backoff::Equal => exponential / 2 + (exponential / 2).mul_f64(random_fraction()),
    }
}

fn random_fraction() -> f64 {
    // uuid v4 is filled from the OS's random source; 53 bits make an f64 in [0, 1).
    (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}

/// Parses a `Retry-After` value: seconds, or an HTTP date (the wait until then).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn exponential_backoff_is_capped() {
        let policy = RetryPolicy {
            min_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        let waits: Vec<u64> = (1..=6).map(|n| policy.delay(n, None).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(policy.delay(100, None), Duration::from_secs(10));
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(300))),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            let full = backoff_delay(
                Backoff::Full,
                Duration::from_secs(1),
                Duration::from_secs(60),
                3,
            );
            assert!(full <= Duration::from_secs(4));
            let equal = backoff_delay(
                Backoff::Equal,
                Duration::from_secs(1),
                Duration::from_secs(60),
                3,
            );
            assert!(equal >= Duration::from_secs(2) && equal <= Duration::from_secs(4));
        }
        assert_eq!("full".parse::<Backoff>(), Ok(Backoff::Full));
        assert!("linear".parse::<Backoff>().is_err());
    }

    #[test]
    fn annotations_override() {
        let policy = RetryPolicy::default().with_annotations(&annotations(&[
            (labels::RETRY_ATTEMPTS, "3"),
            (labels::RETRY_CODES, "500, 503"),
            (labels::RETRY_MIN_WAIT, "250ms"),
            (labels::RETRY_MAX_WAIT, "2s"),
        ]));
        assert_eq!(policy.attempts, 3);
        assert_eq!(policy.codes, [500, 503]);
        assert_eq!(policy.min_wait, Duration::from_millis(250));
        assert_eq!(policy.max_wait, Duration::from_secs(2));
        assert!(policy.retries_status(503) && !policy.retries_status(429));

        let kept = RetryPolicy::default().with_annotations(&annotations(&[
            (labels::RETRY_ATTEMPTS, "0"),
            (labels::RETRY_CODES, "5xx"),
            (labels::RETRY_MIN_WAIT, "soon"),
        ]));
        assert_eq!(kept, RetryPolicy::default());
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = (Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = parse_retry_after(&later).unwrap();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
