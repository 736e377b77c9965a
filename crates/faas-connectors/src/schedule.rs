//! When a scheduled function runs: a cron pattern (5 fields as crontab, or 6 with seconds
//! first, and nicknames such as `@hourly`), or `@every <duration>` (Go syntax: `30s`, `5m`).

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A schedule that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// Not a cron pattern.
    #[error("{pattern:?} is not a cron schedule ({reason}): use 5 fields such as \"*/5 * * * *\", 6 with seconds first, @hourly/@daily/..., or @every 30s")]
    Pattern {
        /// The text.
        pattern: String,
        /// What croner said.
        reason: String,
    },
    /// `@every` without a positive duration.
    #[error("{0:?}: @every needs a positive duration such as 30s or 5m")]
    Every(String),
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// A cron pattern, in UTC.
    Cron(Box<croner::Cron>),
    /// A fixed period, counted from when the connector first saw the function.
    Every(Duration),
}

impl Schedule {
    /// Parses the `schedule` annotation.
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let text = text.trim();
        if let Some(period) = text.strip_prefix("@every") {
            return faas_types::duration::parse(period)
                .filter(|d| !d.is_zero())
                .map(Schedule::Every)
                .ok_or_else(|| ScheduleError::Every(text.to_owned()));
        }
        let mut cron = croner::Cron::new(text);
        cron.with_seconds_optional();
        let cron = cron.parse().map_err(|e| ScheduleError::Pattern {
            pattern: text.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Schedule::Cron(Box::new(cron)))
    }

    /// The first time strictly after `after` when the function runs; `None` when the pattern
    /// never matches again.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(period) => chrono::Duration::from_std(*period)
                .ok()
                .and_then(|p| after.checked_add_signed(p)),
            Schedule::Cron(cron) => cron.find_next_occurrence(&after, false).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_time::at;

    #[test]
    fn crontab_patterns_and_nicknames() {
        let every_five = Schedule::parse("*/5 * * * *").unwrap();
        assert_eq!(
            every_five.next_after(at("2026-11-23T10:02:30Z")),
            Some(at("2026-11-23T10:05:00Z"))
        );
        assert_eq!(
            every_five.next_after(at("2026-11-23T10:05:00Z")),
            Some(at("2026-11-23T10:10:00Z")),
            "strictly after"
        );
        let hourly = Schedule::parse("@hourly").unwrap();
        assert_eq!(
            hourly.next_after(at("2026-11-23T10:02:30Z")),
            Some(at("2026-11-23T11:00:00Z"))
        );
        let seconds = Schedule::parse("*/10 * * * * *").unwrap();
        assert_eq!(
            seconds.next_after(at("2026-11-23T10:02:31Z")),
            Some(at("2026-11-23T10:02:40Z"))
        );
    }

    #[test]
    fn every_is_a_period() {
        let every = Schedule::parse("@every 90s").unwrap();
        assert_eq!(
            every.next_after(at("2026-11-23T10:00:00Z")),
            Some(at("2026-11-23T10:01:30Z"))
        );
        for bad in ["@every", "@every 0s", "@every soon"] {
            assert!(
                matches!(Schedule::parse(bad), Err(ScheduleError::Every(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_patterns_say_what_is_accepted() {
        for bad in ["", "* * *", "61 * * * *", "every minute"] {
            let err = Schedule::parse(bad).unwrap_err().to_string();
            assert!(err.contains("5 fields"), "{bad}: {err}");
        }
    }
}
