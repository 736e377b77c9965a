//! Starting function processes: each in its own process group so that a timeout kills it with
//! its children, its stderr relayed to the watchdog's log line by line, and its exit described
//! as Go describes it (`exit status 1`, `signal: killed`).

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, BufReader};

/// Whether a killed call takes the strays with it (see [`kill_strays_with_calls`]).
static KILL_STRAYS: AtomicBool = AtomicBool::new(false);
/// Process groups of the calls in flight (armed [`GroupKiller`]s), with a count each.
static IN_FLIGHT: Mutex<BTreeMap<i32, usize>> = Mutex::new(BTreeMap::new());

/// From now on, killing a call's process group also kills every *stray*: a process of this
/// PID namespace that is neither this watchdog, nor its init (pid 1), nor in the group of a
/// call still in flight (so a `setsid` daemon a timed-out call left behind dies with it).
/// Only takes effect when this watchdog's parent is pid 1: alone in a PID namespace of its own
/// (the process provider's sandbox); returns whether it did.
pub fn kill_strays_with_calls() -> bool {
    let alone = nix::unistd::getppid().as_raw() == 1;
    KILL_STRAYS.store(alone, Ordering::SeqCst);
    alone
}

fn in_flight() -> std::sync::MutexGuard<'static, BTreeMap<i32, usize>> {
    IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner())
}

/// SIGKILLs every stray (see [`kill_strays_with_calls`]); `killed` is the group of the call
/// being killed, no longer one to keep.
fn kill_strays(killed: i32) {
    let own = i32::try_from(std::process::id()).unwrap_or(0);
    let mut keep = in_flight().clone();
    if keep.get(&killed) == Some(&1) {
        keep.remove(&killed);
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid <= 1 || pid == own {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the command name: state, ppid, pgid.
        let pgid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2)?.parse::<i32>().ok());
        if pgid.is_some_and(|pgid| !keep.contains_key(&pgid)) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Kills a process group when dropped, unless disarmed after the leader was reaped.
///
/// The leader is not reaped while the guard is armed, so its group id cannot have been reused.
pub struct GroupKiller {
    pgid: Option<i32>,
}

impl GroupKiller {
    pub fn new(pid: Option<u32>) -> GroupKiller {
        let pgid = pid.and_then(|p| i32::try_from(p).ok());
        if let Some(pgid) = pgid {
            *in_flight().entry(pgid).or_insert(0) += 1;
        }
        GroupKiller { pgid }
    }

    fn forget(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            let mut groups = in_flight();
            if let Some(count) = groups.get_mut(&pgid) {
                *count -= 1;
                if *count == 0 {
                    groups.remove(&pgid);
                }
            }
        }
    }

    /// Kills the whole group now (the leader must not have been reaped yet), and the strays
    /// when [`kill_strays_with_calls`] is on.
    pub fn kill(&mut self) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            if KILL_STRAYS.load(Ordering::SeqCst) {
                kill_strays(pgid);
            }
        }
    }

    /// Sends a signal to the group, leaving the guard armed.
    pub fn signal(&self, signal: Signal) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(Pid::from_raw(pgid), signal);
        }
    }

    /// Called once the leader has been reaped: nothing left to kill by this id.
    pub fn disarm(&mut self) {
        self.forget();
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
        self.forget();
    }
}

/// Describes an exit the way Go's `exec.ExitError` does.
pub fn describe_exit(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(signal) => {
            let name = match signal {
                1 => "hangup",
                2 => "interrupt",
                6 => "aborted",
                9 => "killed",
                11 => "segmentation fault",
                13 => "broken pipe",
                15 => "terminated",
                other => return format!("signal: {other}"),
            };
            format!("signal: {name}")
        }
        None => "exited".to_string(),
    }
}

/// How relayed output lines are written.
#[derive(Clone, Copy)]
pub struct LogRelay {
    /// Go-log timestamp and stream name before each line (of-watchdog's `prefix_logs`).
    pub prefix: bool,
    /// Longest line kept whole; longer lines are split (of-watchdog's `log_buffer_size`).
    pub max_line: usize,
}

impl LogRelay {
    /// Copies `stream` to the watchdog's log, line by line, until it closes.
    pub async fn relay(self, stream: impl AsyncRead + Unpin, name: &'static str) {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match read_line_limited(&mut reader, &mut line, self.max_line.max(1)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    while line.last() == Some(&b'\n') || line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if self.prefix {
                        crate::log::line(format_args!(
                            "{name}: {}",
                            String::from_utf8_lossy(&line)
                        ));
                    } else {
                        crate::log::raw(&line);
                    }
                }
            }
        }
    }
}

/// Reads one line of at most `limit` bytes; the rest of a longer line comes on the next call.
async fn read_line_limited<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    out: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let (used, finished) = {
            let available = reader.fill_buf().await?;
            if available.is_empty() {
                return Ok(total);
            }
            let room = limit.saturating_sub(out.len());
            let window = &available[..available.len().min(room)];
            match window.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    out.extend_from_slice(&window[..=i]);
                    (i + 1, true)
                }
                None => {
                    out.extend_from_slice(window);
                    (window.len(), out.len() >= limit)
                }
            }
        };
        reader.consume(used);
        total += used;
        if finished {
            return Ok(total);
        }
    }
}
