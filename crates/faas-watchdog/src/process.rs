//! Starting function processes: each in its own process group so that a timeout kills it with
//! its children, its stderr relayed to the watchdog's log line by line, and its exit described
//! as Go describes it (`exit status 1`, `signal: killed`).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, BufReader};

/// Kills a process group when dropped, unless disarmed after the leader was reaped.
///
/// The leader is not reaped while the guard is armed, so its group id cannot have been reused.
pub struct GroupKiller {
    pgid: Option<i32>,
}

impl GroupKiller {
    pub fn new(pid: Option<u32>) -> GroupKiller {
        GroupKiller {
            pgid: pid.and_then(|p| i32::try_from(p).ok()),
        }
    }

    /// Kills the whole group now (the leader must not have been reaped yet).
    pub fn kill(&mut self) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
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
        self.pgid = None;
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
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
