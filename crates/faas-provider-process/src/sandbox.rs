//! The sandbox every replica runs in, built with Debian's `bubblewrap` (`bwrap`): a small,
//! setuid-free program (Flatpak's) that sets up namespaces and mounts, then execs the watchdog.
//!
//! What each guarantee rests on:
//! - **its own user**: as root, each function gets a uid/gid of its own from
//!   [`SandboxConfig::uids`]; the watchdog starts as root inside the sandbox with only
//!   `CAP_SETUID`/`CAP_SETGID` and switches to that uid before it serves or starts the function
//!   (`run_as_uid`/`run_as_gid`, `setgroups`+`setgid`+`setuid`). Not root, the server cannot
//!   hand out uids: replicas get a user namespace (`CLONE_NEWUSER`) in which they are that uid,
//!   mapped to the server's own uid outside.
//! - **its own view of the filesystem**: a mount namespace (`CLONE_NEWNS`) on an empty tmpfs
//!   root holding the host's system directories read-only (`/usr`, `/bin`, `/lib*`, `/sbin`,
//!   `/etc`, `/opt`), a fresh `/proc` and a minimal `/dev`, its package read-only at
//!   [`PACKAGE_DIR`], its own writable `/tmp` and home ([`HOME_DIR`]) and its secrets at
//!   `/var/openfaas/secrets` (files of its own uid, mode 0400). The data directory, other
//!   functions' packages, secrets, run directories and `/sys` (so every cgroup file) are not
//!   in that view.
//! - **its own processes**: a PID namespace (`CLONE_NEWPID`); bwrap's init is pid 1 and the
//!   kernel kills everything in the namespace when it dies, so nothing (not even a `setsid`
//!   daemon) outlives its replica. IPC and UTS namespaces too (hostname = instance name).
//! - **no way back up**: `no_new_privs` (bwrap always sets it), every capability dropped,
//!   `--new-session` (no terminal to inject into), `--die-with-parent`.
//! - **bounded resources**: memory, CPU and pids limits in a cgroup the replica joins before its
//!   first instruction (bwrap blocks on `--block-fd` until the provider has moved it), and
//!   `RLIMIT_NOFILE` set by the watchdog before it drops root.
//! - **an endpoint no function can reach or squat**: the watchdog listens on a Unix socket
//!   ([`SOCKET_NAME`]) in a directory of the replica's run directory (`listen/`, root's or
//!   the server's, mode 0700), bound into the sandbox at [`SOCKET_DIR`]. As root the watchdog
//!   binds it before it switches to the function's uid, so that uid can neither connect to it
//!   nor put another socket in its place; other replicas' `listen/` directories are not in
//!   the sandbox at all. The network namespace stays the host's (functions reach the
//!   network); an http-mode function's own server still listens on a loopback port, and a
//!   replica is ready only once the socket listening there is held inside its sandbox
//!   (`/proc/net/tcp` inode found among its processes' fds), and is restarted on new ports
//!   when a check (every second) finds another process listening there. With
//!   [`SandboxConfig::tcp`] the watchdog listens on a loopback port instead, checked the
//!   same way.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use faas_types::SandboxInfo;
use sha2::{Digest, Sha256};

use super::cgroup::Cgroups;

/// Where a replica finds its package (read-only; the working directory).
pub(crate) const PACKAGE_DIR: &str = "/home/app/function";
/// The replica's writable home (host images run here).
pub(crate) const HOME_DIR: &str = "/home/app";
/// Where the watchdog binary is mounted.
const WATCHDOG_IN_SANDBOX: &str = "/run/rustfaas/fwatchdog";
/// Where the watchdog's call socket directory is mounted (the replica's `listen/`).
pub(crate) const SOCKET_DIR: &str = "/run/rustfaas/listen";
/// The watchdog's call socket in [`SOCKET_DIR`] (and in the replica's `listen/`).
pub(crate) const SOCKET_NAME: &str = "watchdog.sock";
/// Where OpenFaaS functions read their secrets.
pub(crate) const SECRETS_DIR: &str = "/var/openfaas/secrets";
/// Host directories a replica sees read-only (symlinks, as on merged-/usr systems, are kept
/// as symlinks).
const HOST_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt",
];
/// How long the sandbox may take to appear after bwrap starts.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether replicas must, may or must not run sandboxed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SandboxMode {
    /// Refuse to start unless every guarantee can be given.
    Required,
    /// Give every guarantee the host allows; say which are missing.
    #[default]
    Auto,
    /// Run replicas as plain child processes of the server.
    Off,
}

impl FromStr for SandboxMode {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "required" => Ok(SandboxMode::Required),
            "auto" => Ok(SandboxMode::Auto),
            "off" => Ok(SandboxMode::Off),
            other => Err(format!("sandbox mode {other:?}: use required, auto or off")),
        }
    }
}

impl fmt::Display for SandboxMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SandboxMode::Required => "required",
            SandboxMode::Auto => "auto",
            SandboxMode::Off => "off",
        })
    }
}

/// How replicas are confined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    pub mode: SandboxMode,
    /// First and last uid (and gid) handed to functions when the server runs as root.
    pub uids: (u32, u32),
    /// Most processes (threads count) a replica may have, where a pids cgroup exists.
    pub max_pids: u64,
    /// `RLIMIT_NOFILE` of every replica process.
    pub max_open_files: u64,
    /// The bwrap binary; `None` looks in `/usr/bin`, `/bin` and `PATH`.
    pub bwrap: Option<PathBuf>,
    /// Sandboxed replicas listen on a loopback TCP port instead of a Unix socket in their run
    /// directory (unsandboxed ones always listen on TCP).
    pub tcp: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            mode: SandboxMode::Auto,
            uids: (200_000, 265_535),
            max_pids: 1024,
            max_open_files: 1024,
            bwrap: None,
            tcp: false,
        }
    }
}

/// Parses `first-last` (e.g. `200000-265535`); root (0) is never allowed.
pub fn parse_uid_range(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("uid range {text:?}: use FIRST-LAST, e.g. 200000-265535");
    let (first, last) = text.split_once('-').ok_or_else(bad)?;
    let first: u32 = first.trim().parse().map_err(|_| bad())?;
    let last: u32 = last.trim().parse().map_err(|_| bad())?;
    if first == 0 || last < first || last == u32::MAX {
        return Err(format!(
            "uid range {text:?}: FIRST must be above 0 and not above LAST"
        ));
    }
    Ok((first, last))
}

/// What this host lets the provider do.
#[derive(Debug)]
pub(crate) struct Sandbox {
    config: SandboxConfig,
    /// Set when replicas run under bwrap.
    bwrap: Option<PathBuf>,
    is_root: bool,
    host_dirs: Vec<(String, Option<String>)>,
    info: SandboxInfo,
    uids: Mutex<HashMap<(String, String), u32>>,
    id_salt: String,
}

/// The host paths one replica's sandbox is made of.
pub(crate) struct ReplicaMounts<'a> {
    pub(crate) tmp: &'a Path,
    pub(crate) home: &'a Path,
    pub(crate) secrets: &'a Path,
    pub(crate) package: Option<&'a Path>,
    /// The package is the replica's own copy: bound writable, not read-only.
    pub(crate) package_writable: bool,
    /// The replica's `listen/` (its call socket's directory), when it listens on one.
    pub(crate) listen: Option<&'a Path>,
}

impl Sandbox {
    /// Looks at the host (bwrap present and working, root or not, cgroup controllers) and
    /// says what can be enforced. With [`SandboxMode::Required`], anything missing is an error.
    pub(crate) async fn detect(
        config: &SandboxConfig,
        is_root: bool,
        cgroups: &Cgroups,
        watchdog: &Path,
        provider_id: &str,
    ) -> Result<Sandbox, String> {
        let host_dirs = host_dirs();
        let mut enforced = Vec::new();
        let mut missing = Vec::new();
        let mut bwrap = None;
        if config.mode != SandboxMode::Off {
            match find_bwrap(config.bwrap.as_deref()) {
                None => missing.push(
                    "namespaces, own user, private filesystem: bwrap (Debian package bubblewrap) is not installed"
                        .to_owned(),
                ),
                Some(path) => match probe(&path, is_root, &host_dirs, watchdog).await {
                    Ok(()) => bwrap = Some(path),
                    Err(e) => missing.push(format!(
                        "namespaces, own user, private filesystem: {} does not work here: {e}",
                        path.display()
                    )),
                },
            }
        }
        if bwrap.is_some() {
            if is_root {
                enforced.push(format!(
                    "own user: a uid/gid per function from {}-{}",
                    config.uids.0, config.uids.1
                ));
            } else {
                enforced.push(
                    "own user: a user namespace (outside it, replicas are the server's own uid)"
                        .to_owned(),
                );
            }
            enforced.extend(
                [
                    "mount namespace: system directories read-only, package read-only, own /tmp, home and secrets; no data directory, no /sys",
                    "pid, ipc and uts namespaces: sees and signals only its own processes",
                    "no_new_privs, no capabilities, new session, clean environment",
                ]
                .map(str::to_owned),
            );
            enforced.push(if config.tcp {
                "endpoint: a loopback port, served only once its own watchdog holds it (--sandbox-tcp)".to_owned()
            } else {
                "endpoint: a Unix socket in the replica's run directory, out of every function's reach".to_owned()
            });
            enforced.push(format!("open files: at most {}", config.max_open_files));
        }
        match cgroups.unavailable_reason() {
            None => enforced.push("memory and cpu limits: cgroups".to_owned()),
            Some(reason) => missing.push(format!("memory and cpu limits: {reason}")),
        }
        if config.mode == SandboxMode::Off {
            missing.push(
                "own user, namespaces, private filesystem, pids and open-files limits: --sandbox off"
                    .to_owned(),
            );
        } else {
            match cgroups.pids_unavailable_reason() {
                None => enforced.push(format!(
                    "processes: at most {} (pids cgroup)",
                    config.max_pids
                )),
                Some(reason) => missing.push(format!("processes limit: {reason}")),
            }
        }
        let info = SandboxInfo {
            mode: config.mode.to_string(),
            active: bwrap.is_some(),
            enforced,
            missing,
        };
        if config.mode == SandboxMode::Required && !info.missing.is_empty() {
            return Err(format!(
                "--sandbox required, but this host cannot give: {}",
                info.missing.join("; ")
            ));
        }
        Ok(Sandbox {
            config: config.clone(),
            bwrap,
            is_root,
            host_dirs,
            info,
            uids: Mutex::new(HashMap::new()),
            id_salt: provider_id.to_owned(),
        })
    }

    /// Replicas run under bwrap.
    pub(crate) fn is_active(&self) -> bool {
        self.bwrap.is_some()
    }

    pub(crate) fn info(&self) -> &SandboxInfo {
        &self.info
    }

    pub(crate) fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// The pids limit of a replica's cgroup (`None` with the sandbox off).
    pub(crate) fn max_pids(&self) -> Option<u64> {
        (self.config.mode != SandboxMode::Off).then_some(self.config.max_pids)
    }

    /// One line for the function status annotation: what is missing, or `None`.
    pub(crate) fn missing_summary(&self) -> Option<String> {
        (!self.info.missing.is_empty()).then(|| self.info.missing.join("; "))
    }

    /// The function's uid (and gid): stable for the server's life, never shared by two
    /// functions. Chosen by a hash of the provider and function names, then the next free one.
    pub(crate) fn uid_for(&self, namespace: &str, name: &str) -> Result<u32, String> {
        let mut uids = self.uids.lock().unwrap_or_else(|e| e.into_inner());
        let key = (namespace.to_owned(), name.to_owned());
        if let Some(uid) = uids.get(&key) {
            return Ok(*uid);
        }
        let (first, last) = self.config.uids;
        let size = u64::from(last - first) + 1;
        if uids.len() as u64 >= size {
            return Err(format!("no free uid left in {first}-{last}"));
        }
        let digest = Sha256::digest(format!("{}/{namespace}/{name}", self.id_salt));
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        let mut offset = u64::from_le_bytes(bytes) % size;
        let taken: std::collections::HashSet<u32> = uids.values().copied().collect();
        loop {
            let uid = first + u32::try_from(offset).unwrap_or(0);
            if !taken.contains(&uid) {
                uids.insert(key, uid);
                return Ok(uid);
            }
            offset = (offset + 1) % size;
        }
    }

    /// Whether replicas listen on a Unix socket in their run directory (sandboxed, and not
    /// asked for TCP).
    pub(crate) fn uses_unix_socket(&self) -> bool {
        self.is_active() && !self.config.tcp
    }

    /// Whether the server hands out uids (root) rather than relying on a user namespace.
    pub(crate) fn assigns_uids(&self) -> bool {
        self.is_active() && self.is_root
    }

    /// The bwrap command that runs `watchdog` in a replica's sandbox; it waits on its stdin
    /// (`--block-fd 0`) before the watchdog starts. `None` when the sandbox is off.
    pub(crate) fn command(
        &self,
        watchdog: &Path,
        mounts: &ReplicaMounts<'_>,
        uid: u32,
        hostname: &str,
    ) -> Option<tokio::process::Command> {
        let bwrap = self.bwrap.as_ref()?;
        let mut command = tokio::process::Command::new(bwrap);
        command.args(self.args(watchdog, mounts, uid, hostname));
        Some(command)
    }

    fn args(
        &self,
        watchdog: &Path,
        mounts: &ReplicaMounts<'_>,
        uid: u32,
        hostname: &str,
    ) -> Vec<String> {
        let mut args = base_args(self.is_root, &self.host_dirs);
        if !self.is_root {
            args.extend([
                "--uid".into(),
                uid.to_string(),
                "--gid".into(),
                uid.to_string(),
            ]);
        }
        let path = |p: &Path| p.display().to_string();
        args.extend([
            "--hostname".into(),
            hostname.to_owned(),
            "--block-fd".into(),
            "0".into(),
            "--bind".into(),
            path(mounts.tmp),
            "/tmp".into(),
            "--bind".into(),
            path(mounts.home),
            HOME_DIR.into(),
            "--ro-bind".into(),
            path(mounts.secrets),
            SECRETS_DIR.into(),
        ]);
        if let Some(listen) = mounts.listen {
            args.extend(["--bind".into(), path(listen), SOCKET_DIR.into()]);
        }
        let workdir = match mounts.package {
            Some(package) => {
                let bind = if mounts.package_writable {
                    "--bind"
                } else {
                    "--ro-bind"
                };
                args.extend([bind.into(), path(package), PACKAGE_DIR.into()]);
                PACKAGE_DIR
            }
            None => HOME_DIR,
        };
        args.extend([
            "--ro-bind".into(),
            path(watchdog),
            WATCHDOG_IN_SANDBOX.into(),
            "--chdir".into(),
            workdir.into(),
            "--".into(),
            WATCHDOG_IN_SANDBOX.into(),
        ]);
        args
    }
}

/// What every sandbox shares: namespaces, capabilities, the host's system directories,
/// `/proc`, `/dev` and the directories bind mounts go into (made 0755 so the function's uid
/// can pass through them).
fn base_args(is_root: bool, host_dirs: &[(String, Option<String>)]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
    ]
    .map(str::to_owned)
    .to_vec();
    if is_root {
        // Only what the watchdog needs to become the function's uid; gone after setuid.
        args.extend(
            [
                "--cap-drop",
                "ALL",
                "--cap-add",
                "CAP_SETUID",
                "--cap-add",
                "CAP_SETGID",
            ]
            .map(str::to_owned),
        );
    } else {
        args.extend(["--unshare-user", "--cap-drop", "ALL"].map(str::to_owned));
    }
    for (dir, symlink) in host_dirs {
        match symlink {
            Some(target) => args.extend(["--symlink".into(), target.clone(), dir.clone()]),
            None => args.extend(["--ro-bind".into(), dir.clone(), dir.clone()]),
        }
    }
    args.extend(["--proc", "/proc", "--dev", "/dev"].map(str::to_owned));
    for dir in ["/home", "/run", "/run/rustfaas", "/var", "/var/openfaas"] {
        args.extend([
            "--perms".into(),
            "0755".into(),
            "--dir".into(),
            dir.to_owned(),
        ]);
    }
    args
}

/// The host's system directories that exist: `(path, Some(symlink target))` for symlinks.
fn host_dirs() -> Vec<(String, Option<String>)> {
    let mut dirs = Vec::new();
    for dir in HOST_DIRS {
        let path = Path::new(dir);
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(path) {
                    dirs.push((dir.to_string(), Some(target.display().to_string())));
                }
            }
            Ok(meta) if meta.is_dir() => dirs.push((dir.to_string(), None)),
            _ => {}
        }
    }
    dirs
}

fn find_bwrap(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = configured {
        return path.is_file().then(|| path.to_path_buf());
    }
    let mut candidates = vec![PathBuf::from("/usr/bin/bwrap"), PathBuf::from("/bin/bwrap")];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join("bwrap")));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// Runs `fwatchdog --version` in a sandbox like a replica's: namespaces, mounts and (as
/// root) the capabilities the uid switch needs must all work.
async fn probe(
    bwrap: &Path,
    is_root: bool,
    host_dirs: &[(String, Option<String>)],
    watchdog: &Path,
) -> Result<(), String> {
    let mut args = base_args(is_root, host_dirs);
    args.extend([
        "--ro-bind".into(),
        watchdog.display().to_string(),
        WATCHDOG_IN_SANDBOX.into(),
        "--".into(),
        WATCHDOG_IN_SANDBOX.into(),
        "--version".into(),
    ]);
    let run = tokio::process::Command::new(bwrap)
        .args(&args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(SETUP_TIMEOUT, run)
        .await
        .map_err(|_| format!("no answer within {SETUP_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    if output.status.success() && output.stdout.starts_with(b"fwatchdog") {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// Waits until bwrap (our child `outer`) has forked the sandbox's init, and returns its pid.
/// bwrap blocks it on `--block-fd` until the provider writes a byte, so nothing of the
/// function runs yet.
pub(crate) async fn sandbox_init(outer: i32) -> Result<i32, String> {
    let deadline = tokio::time::Instant::now() + SETUP_TIMEOUT;
    loop {
        if let Some(init) = super::procfs::children(outer).into_iter().min() {
            return Ok(init);
        }
        if !super::procfs::is_alive(outer) {
            return Err("bwrap exited while setting up the sandbox".into());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("bwrap set up no sandbox within {SETUP_TIMEOUT:?}"));
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_ranges() {
        assert_eq!("auto".parse::<SandboxMode>(), Ok(SandboxMode::Auto));
        assert!("yes".parse::<SandboxMode>().is_err());
        assert_eq!(parse_uid_range("200000-265535"), Ok((200_000, 265_535)));
        assert!(parse_uid_range("0-10").is_err());
        assert!(parse_uid_range("10-5").is_err());
        assert!(parse_uid_range("10").is_err());
    }

    #[test]
    fn uids_are_stable_and_never_shared() {
        let sandbox = Sandbox {
            config: SandboxConfig {
                uids: (1000, 1002),
                ..SandboxConfig::default()
            },
            bwrap: None,
            is_root: true,
            host_dirs: Vec::new(),
            info: SandboxInfo::default(),
            uids: Mutex::new(HashMap::new()),
            id_salt: "x".into(),
        };
        let a = sandbox.uid_for("ns", "a").unwrap();
        let b = sandbox.uid_for("ns", "b").unwrap();
        let c = sandbox.uid_for("ns", "c").unwrap();
        assert_eq!(sandbox.uid_for("ns", "a").unwrap(), a);
        let mut all = vec![a, b, c];
        all.sort();
        assert_eq!(all, vec![1000, 1001, 1002]);
        assert!(sandbox.uid_for("ns", "d").is_err());
    }
}
