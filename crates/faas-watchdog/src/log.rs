//! Log lines in the format of Go's standard `log` package (`2006/01/02 15:04:05 message`),
//! which OpenFaaS's watchdogs write and log-based tooling parses.
//!
//! Each line is formatted into one buffer and written with a single `write` call (a line per
//! call in classic and http modes makes this the hot path), rather than through a tracing
//! subscriber, which would add size and work the watchdog does not need.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes one timestamped line to stderr.
pub fn line(message: std::fmt::Arguments<'_>) {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(96);
    push_timestamp(&mut text, SystemTime::now());
    text.push(' ');
    let _ = text.write_fmt(message);
    text.push('\n');
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// Writes one line as it is, with no timestamp (used for relayed function output when
/// `prefix_logs=false`).
pub fn raw(message: &[u8]) {
    let mut text = Vec::with_capacity(message.len() + 1);
    text.extend_from_slice(message);
    text.push(b'\n');
    let _ = std::io::stderr().write_all(&text);
}

/// Logs a formatted line with a timestamp.
#[macro_export]
macro_rules! log_line {
    ($($arg:tt)*) => { $crate::log::line(format_args!($($arg)*)) };
}

/// Appends the timestamp of `at`, formatting it at most once per second per thread.
fn push_timestamp(out: &mut String, at: SystemTime) {
    thread_local! {
        static LAST: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != secs {
            *last = (secs, timestamp(at));
        }
        out.push_str(&last.1);
    });
}

/// Formats a time as Go's `log.LstdFlags` does, in UTC.
pub fn timestamp(at: SystemTime) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}/{month:02}/{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) date in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_like_go_log() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(timestamp(at), "2023/11/14 22:13:20");
        assert_eq!(timestamp(UNIX_EPOCH), "1970/01/01 00:00:00");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "2000/02/29 00:00:00");
    }
}
