//! OpenFaaS Community Edition's way of scaling, replayed in process for functions whose labels
//! set `com.openfaas.scale.min`/`max` (or `factor`, `zero`) but no `type` or `target`.
//!
//! CE ships Prometheus with one alert rule and AlertManager with one route:
//! `APIHighInvocationRate` is `sum(rate(gateway_function_invocation_total{code="200"}[10s]))
//! by (function_name) > 5` held `for: 5s`; AlertManager waits `group_wait: 5s` before the first
//! notification, repeats it every `repeat_interval: 30s` while the alert fires, and sends
//! `resolved` when it stops. The gateway's `/system/alert` adds a step on each firing
//! notification and goes back to min on resolved. [`AlertRuleState::evaluate`] is that chain,
//! free of I/O, fed each look the count of calls the function answered 200 (the rule's
//! `code="200"`): a function failing under load is not scaled up by this rule, as in CE.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The rule and the route's timings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertRule {
    /// Fires above this many calls per second.
    pub threshold: f64,
    /// The rate's window (`[10s]`).
    pub window: Duration,
    /// How long the rate must stay above the threshold (`for: 5s`).
    pub hold: Duration,
    /// From firing to the first notification (`group_wait`).
    pub group_wait: Duration,
    /// Between notifications while it fires (`repeat_interval`).
    pub repeat: Duration,
}

/// CE's `APIHighInvocationRate` with its AlertManager route.
pub const API_HIGH_INVOCATION_RATE: AlertRule = AlertRule {
    threshold: 5.0,
    window: Duration::from_secs(10),
    hold: Duration::from_secs(5),
    group_wait: Duration::from_secs(5),
    repeat: Duration::from_secs(30),
};

/// What AlertManager would post to `/system/alert`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AlertNotification {
    /// The alert fires; the rate that made it.
    Firing {
        /// Calls per second over the window.
        rate: f64,
    },
    /// It fired and has stopped.
    Resolved,
}

/// One function's alert: its recent call counts and where it is in pending -> firing.
#[derive(Debug, Default)]
pub struct AlertRuleState {
    samples: VecDeque<(Instant, u64)>,
    pending_since: Option<Instant>,
    firing_since: Option<Instant>,
    last_notified: Option<Instant>,
}

impl AlertRuleState {
    /// Takes one look at the function's calls answered 200 so far; answers a notification
    /// when AlertManager would send one now.
    pub fn evaluate(
        &mut self,
        now: Instant,
        answered_ok: u64,
        rule: &AlertRule,
    ) -> Option<AlertNotification> {
        let rate = self.rate(now, answered_ok, rule.window);
        if rate <= rule.threshold {
            self.pending_since = None;
            self.firing_since = None;
            // Only an alert that was sent is resolved.
            return self
                .last_notified
                .take()
                .map(|_| AlertNotification::Resolved);
        }
        let pending = *self.pending_since.get_or_insert(now);
        if now.duration_since(pending) < rule.hold {
            return None;
        }
        let firing = *self.firing_since.get_or_insert(now);
        let due = match self.last_notified {
            None => now.duration_since(firing) >= rule.group_wait,
            Some(last) => now.duration_since(last) >= rule.repeat,
        };
        if !due {
            return None;
        }
        self.last_notified = Some(now);
        Some(AlertNotification::Firing { rate })
    }

    /// Calls per second over the last `window`: the calls counted since the newest sample
    /// at least `window` old (or the oldest there is), over the whole window, so a function
    /// watched for less than a window is not overestimated.
    fn rate(&mut self, now: Instant, counted: u64, window: Duration) -> f64 {
        self.samples.push_back((now, counted));
        while self.samples.len() > 2 && now.duration_since(self.samples[1].0) >= window {
            self.samples.pop_front();
        }
        let (_, base) = self.samples.front().copied().unwrap_or((now, counted));
        counted.saturating_sub(base) as f64 / window.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    /// Feeds `rps` calls per second for `seconds`; answers (second, notification) pairs.
    fn run(
        state: &mut AlertRuleState,
        clock: &mut (Instant, u64),
        rps: u64,
        seconds: u64,
    ) -> Vec<(u64, AlertNotification)> {
        let mut out = Vec::new();
        for second in 1..=seconds {
            clock.0 += SECOND;
            clock.1 += rps;
            if let Some(n) = state.evaluate(clock.0, clock.1, &API_HIGH_INVOCATION_RATE) {
                out.push((second, n));
            }
        }
        out
    }

    #[test]
    fn ten_calls_a_second_fire_after_rate_hold_and_group_wait_then_repeat() {
        let mut state = AlertRuleState::default();
        let mut clock = (Instant::now(), 0);
        assert!(run(&mut state, &mut clock, 0, 3).is_empty());
        let sent = run(&mut state, &mut clock, 10, 50);
        // The rate passes 5/s after 6 s of load, holds 5 s, then group_wait 5 s: second 16;
        // then every 30 s.
        let seconds: Vec<u64> = sent.iter().map(|(s, _)| *s).collect();
        assert_eq!(seconds, [16, 46], "{sent:?}");
        assert!(matches!(sent[0].1, AlertNotification::Firing { rate } if rate > 5.0));
        // Load stops: resolved once the rate is 5/s or less again.
        let sent = run(&mut state, &mut clock, 0, 20);
        assert_eq!(sent, [(5, AlertNotification::Resolved)]);
    }

    #[test]
    fn five_a_second_or_a_short_burst_never_fires() {
        let mut state = AlertRuleState::default();
        let mut clock = (Instant::now(), 0);
        assert!(run(&mut state, &mut clock, 5, 60).is_empty());
        // A burst of 60 calls in one second: 6/s over the window for 9 s, pending 5 s of
        // them, firing, but gone before group_wait ends.
        let mut state = AlertRuleState::default();
        let mut clock = (Instant::now(), 0);
        run(&mut state, &mut clock, 0, 10);
        let burst = run(&mut state, &mut clock, 60, 1);
        let after = run(&mut state, &mut clock, 0, 20);
        assert!(burst.is_empty());
        assert!(
            after.is_empty(),
            "60 calls in 1 s: 6/s for 9 s, pending 5 s, gone before group_wait: {after:?}"
        );
    }

    #[test]
    fn nothing_is_resolved_that_was_not_sent() {
        let mut state = AlertRuleState::default();
        let mut clock = (Instant::now(), 0);
        // 10 calls a second for 6 s: the rate is 6/s from the sixth second until the first
        // calls leave the window 4 s later, short of the 5 s hold.
        let sent = run(&mut state, &mut clock, 10, 6);
        assert!(sent.is_empty(), "{sent:?}");
        assert!(run(&mut state, &mut clock, 0, 20).is_empty());
        // 10 calls a second for 8 s: pending long enough to fire (the calls stay in the
        // window after they stop), but the rate falls before group_wait: never sent, so
        // nothing to resolve.
        let mut state = AlertRuleState::default();
        let sent = run(&mut state, &mut clock, 10, 8);
        let after = run(&mut state, &mut clock, 0, 20);
        assert!(sent.is_empty() && after.is_empty(), "{sent:?} {after:?}");
    }
}
