//! Finding and killing replica processes through `/proc`.
//!
//! Every replica's environment carries [`MARKER_VAR`]`=<provider id>/<ns>/<name>/<instance>`,
//! and children inherit it, so a replica's whole tree can be found even after the watchdog
//! died and its children were re-parented (the watchdog puts each function process in its own
//! process group, so killing the watchdog's group alone would miss them). Pid files carry the
//! process start time, so a pid reused by an unrelated process is never signalled.

use std::fs;
use std::time::Duration;

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// The environment variable that tags a replica's processes.
pub(crate) const MARKER_VAR: &str = "RUSTFAAS_REPLICA";

/// The few fields of `/proc/<pid>/stat` this backend needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub(crate) state: char,
    pub(crate) ppid: i32,
    pub(crate) pgid: i32,
    /// Clock ticks since boot when the process started (field 22).
    pub(crate) start_time: u64,
}

/// Reads `/proc/<pid>/stat`; `None` when the process does not exist.
pub(crate) fn stat(pid: i32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<ProcStat> {
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgid: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// The process's start time, for pid files.
pub(crate) fn start_time(pid: i32) -> Option<u64> {
    stat(pid).map(|s| s.start_time)
}

/// True when the process exists and is not a zombie.
pub(crate) fn is_alive(pid: i32) -> bool {
    stat(pid).is_some_and(|s| s.state != 'Z' && s.state != 'X')
}

/// Pids of live processes whose marker value satisfies `matches`.
pub(crate) fn marked_processes(matches: impl Fn(&str) -> bool) -> Vec<i32> {
    let own = i32::try_from(std::process::id()).unwrap_or(0);
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let prefix = format!("{MARKER_VAR}=");
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == own {
            continue;
        }
        let Ok(environ) = fs::read(entry.path().join("environ")) else {
            continue;
        };
        let marked = environ
            .split(|b| *b == 0)
            .filter_map(|var| std::str::from_utf8(var).ok())
            .filter_map(|var| var.strip_prefix(prefix.as_str()))
            .any(&matches);
        if marked {
            found.push(pid);
        }
    }
    found
}

/// Pids of `parent`'s children (one pass over `/proc`).
pub(crate) fn children(parent: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| stat(pid).is_some_and(|s| s.ppid == parent))
        .collect()
}

/// Pids of every process below `root` (one pass over `/proc`).
pub(crate) fn descendants(root: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let all: Vec<(i32, i32)> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?.ppid)))
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            all.iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// Inodes of the TCP sockets listening on `port`, whatever their address (IPv4 and IPv6,
/// from `/proc/net/tcp` and `/proc/net/tcp6`). The kernel lists listening sockets first:
/// reading stops at the first other one, so a host with thousands of connections costs no
/// more than one with none (the whole table took ~10 ms to generate with 1,200 of them).
pub(crate) fn listener_inodes(port: u16) -> Vec<u64> {
    use std::io::BufRead;
    let suffix = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(file) = fs::File::open(table) else {
            continue;
        };
        for line in std::io::BufReader::with_capacity(4096, file)
            .lines()
            .skip(1)
        {
            let Ok(line) = line else {
                break;
            };
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address, state (0A = LISTEN), inode is the tenth field.
            if fields.get(3) != Some(&"0A") {
                break;
            }
            if fields.get(1).is_some_and(|local| local.ends_with(&suffix)) {
                inodes.extend(fields.get(9).and_then(|inode| inode.parse::<u64>().ok()));
            }
        }
    }
    inodes
}

/// Whether process `pid` has the socket `inode` open.
pub(crate) fn holds_socket(pid: i32, inode: u64) -> bool {
    let wanted = format!("socket:[{inode}]");
    let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    entries.flatten().any(|fd| {
        fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == wanted.as_str())
    })
}

/// SIGKILLs every process whose marker satisfies `matches`, with its process group when it
/// leads one; returns the pids signalled.
pub(crate) fn kill_marked(matches: impl Fn(&str) -> bool) -> Vec<i32> {
    let pids = marked_processes(matches);
    for &pid in &pids {
        sigkill_tree(pid);
    }
    pids
}

/// SIGKILLs `pid`, and its process group when it leads one (replicas are started as group
/// leaders).
pub(crate) fn sigkill_tree(pid: i32) {
    if pid <= 1 {
        return;
    }
    if stat(pid).is_some_and(|s| s.pgid == pid) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
}

/// SIGKILLs a process recorded in a pid file if it is still the same process (same start
/// time); returns whether it was signalled.
pub(crate) fn kill_if_same(pid: i32, recorded_start: u64) -> bool {
    match stat(pid) {
        Some(s) if s.start_time == recorded_start && pid > 1 => {
            sigkill_tree(pid);
            true
        }
        _ => false,
    }
}

/// Sends SIGTERM to one process.
pub(crate) fn sigterm(pid: i32) {
    if pid > 1 {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
}

/// Waits until none of `pids` is alive, or `limit` passes; returns whether all are gone.
pub(crate) async fn wait_gone(pids: &[i32], limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if pids.iter().all(|&p| !is_alive(p)) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A pid file's content: `<pid> <start time>`.
pub(crate) fn pid_file_content(pid: i32, start_time: u64) -> String {
    format!("{pid} {start_time}\n")
}

/// Reads a pid file's content.
pub(crate) fn parse_pid_file(text: &str) -> Option<(i32, u64)> {
    let mut parts = text.split_whitespace();
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    Some((pid, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_socket_is_found_with_its_holder() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let inodes = listener_inodes(port);
        assert_eq!(inodes.len(), 1, "{inodes:?}");
        let own = i32::try_from(std::process::id()).unwrap();
        assert!(holds_socket(own, inodes[0]));
        // Another process does not hold it.
        let mut other = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let other_pid = i32::try_from(other.id()).unwrap();
        assert!(!holds_socket(other_pid, inodes[0]));
        assert!(children(own).contains(&other_pid));
        assert!(descendants(own).contains(&other_pid));
        let _ = other.kill();
        let _ = other.wait();
        drop(listener);
        assert!(listener_inodes(port).is_empty());
    }

    #[test]
    fn stat_with_odd_command_names() {
        let text = "1234 (a b) c)) S 1 1234 1234 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 98765 0 0";
        let s = parse_stat(text).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.pgid, 1234);
        assert_eq!(s.start_time, 98765);
    }

    #[test]
    fn own_process_is_visible() {
        let pid = i32::try_from(std::process::id()).unwrap();
        assert!(is_alive(pid));
        assert!(start_time(pid).is_some());
        assert_eq!(parse_pid_file(&pid_file_content(7, 42)), Some((7, 42)));
        assert_eq!(parse_pid_file("x"), None);
    }
}
