//! Log lines in the format of Go's standard `log` package (`2006/01/02 15:04:05 message`),
//! which OpenFaaS's watchdogs write and log-based tooling parses.
//!
//! A line per call in classic and http modes makes logging the hot path, so lines are not
//! written one `write(2)` each: they are appended to one in-memory buffer, and a small flusher
//! thread writes the buffer to stderr at most [`FLUSH_DELAY`] after its first line, in one
//! call. Lines keep their order; a buffer past [`FLUSH_NOW_BYTES`] is written at once by the
//! caller (so a slow reader slows the watchdog rather than growing its memory); [`flush`]
//! writes what is pending before the process exits. Under load this turns thousands of writes
//! a second (and as many wake-ups of whoever reads the log) into a hundred at most.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, Once};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest a line waits in the buffer before it is written.
pub const FLUSH_DELAY: Duration = Duration::from_millis(10);

/// A buffer this large is written by the caller without waiting for the flusher.
pub const FLUSH_NOW_BYTES: usize = 256 * 1024;

/// Lines not yet written.
static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// The batch being written. Whoever writes holds it from taking the pending lines until they
/// are out, so batches reach stderr in the order their lines were logged.
static WRITING: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static WAKE: Condvar = Condvar::new();
static FLUSHER: Once = Once::new();
/// Set when the flusher thread could not start: every line is then written as it comes.
static UNBUFFERED: AtomicBool = AtomicBool::new(false);

/// Appends one timestamped line.
pub fn line(message: std::fmt::Arguments<'_>) {
    let mut pending = lock();
    let was_empty = pending.is_empty();
    push_timestamp(&mut pending, SystemTime::now());
    pending.push(b' ');
    let _ = pending.write_fmt(message);
    pending.push(b'\n');
    queued(pending, was_empty);
}

/// Appends one line as it is, with no timestamp (used for relayed function output when
/// `prefix_logs=false`).
pub fn raw(message: &[u8]) {
    let mut pending = lock();
    let was_empty = pending.is_empty();
    pending.extend_from_slice(message);
    pending.push(b'\n');
    queued(pending, was_empty);
}

/// Writes every pending line now; call before the process exits.
pub fn flush() {
    let mut batch = WRITING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    std::mem::swap(&mut *lock(), &mut *batch);
    if !batch.is_empty() {
        let _ = std::io::stderr().write_all(&batch);
        batch.clear();
    }
    // Keep a buffer's worth of capacity, not the largest burst ever seen.
    batch.shrink_to(64 * 1024);
}

/// Logs a formatted line with a timestamp.
#[macro_export]
macro_rules! log_line {
    ($($arg:tt)*) => { $crate::log::line(format_args!($($arg)*)) };
}

fn lock() -> MutexGuard<'static, Vec<u8>> {
    // A panic while holding the lock leaves only log bytes behind: keep using them.
    PENDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn queued(pending: MutexGuard<'static, Vec<u8>>, was_empty: bool) {
    let now = pending.len() >= FLUSH_NOW_BYTES || UNBUFFERED.load(Ordering::Relaxed);
    drop(pending);
    if now {
        flush();
    } else if was_empty {
        start_flusher();
        WAKE.notify_one();
    }
}

fn start_flusher() {
    FLUSHER.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("log-flush".into())
            .stack_size(64 * 1024)
            .spawn(flusher);
        if spawned.is_err() {
            UNBUFFERED.store(true, Ordering::Relaxed);
            flush();
        }
    });
}

fn flusher() {
    loop {
        {
            let mut pending = lock();
            while pending.is_empty() {
                pending = WAKE
                    .wait(pending)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        }
        std::thread::sleep(FLUSH_DELAY);
        flush();
    }
}

/// A duration written as seconds with a fixed number of decimals (`0.0012s` style, without
/// the unit), from integers: float formatting is the dearest part of a per-call log line.
#[derive(Debug, Clone, Copy)]
pub struct Seconds<const DECIMALS: u32>(pub Duration);

impl<const DECIMALS: u32> std::fmt::Display for Seconds<DECIMALS> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scale = 10u128.pow(DECIMALS);
        // Round half up to the last decimal shown.
        let units = (self.0.as_nanos() * scale + 500_000_000) / 1_000_000_000;
        let (whole, fraction) = (units / scale, units % scale);
        if DECIMALS == 0 {
            write!(f, "{whole}")
        } else {
            write!(f, "{whole}.{fraction:0width$}", width = DECIMALS as usize)
        }
    }
}

/// Appends the timestamp of `at`, formatting it at most once per second per thread.
fn push_timestamp(out: &mut Vec<u8>, at: SystemTime) {
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
        out.extend_from_slice(last.1.as_bytes());
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
    fn seconds_with_fixed_decimals() {
        assert_eq!(
            Seconds::<4>(Duration::from_micros(1_234)).to_string(),
            "0.0012"
        );
        assert_eq!(
            Seconds::<4>(Duration::from_micros(1_250)).to_string(),
            "0.0013"
        );
        assert_eq!(
            Seconds::<6>(Duration::from_nanos(2_500_000_400)).to_string(),
            "2.500000"
        );
        assert_eq!(Seconds::<6>(Duration::ZERO).to_string(), "0.000000");
        assert_eq!(Seconds::<4>(Duration::from_secs(12)).to_string(), "12.0000");
        assert_eq!(
            Seconds::<4>(Duration::from_micros(99_999_960)).to_string(),
            "100.0000"
        );
        assert_eq!(
            Seconds::<6>(Duration::from_nanos(1_234_567_891)).to_string(),
            format!("{:.6}", 1.234_567_891_f64)
        );
    }

    #[test]
    fn formats_like_go_log() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(timestamp(at), "2023/11/14 22:13:20");
        assert_eq!(timestamp(UNIX_EPOCH), "1970/01/01 00:00:00");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "2000/02/29 00:00:00");
    }
}
