//! What the watchdog does for the platform that runs it, before it serves: make the function's
//! secrets readable at OpenFaaS's path, bound its open files, give up root for the function's
//! own user, and exit when its parent server dies.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where OpenFaaS functions read their secrets.
pub const OPENFAAS_SECRETS: &str = "/var/openfaas/secrets";

/// Why the secrets could not be bind-mounted.
#[derive(Debug, thiserror::Error)]
pub enum IsolationError {
    #[error("not running as root")]
    NotRoot,
    #[error("refusing to run functions as root")]
    RootTarget,
    #[error("{step}: {source}")]
    Syscall {
        step: &'static str,
        source: nix::Error,
    },
    #[error("{0} does not exist on this host, and the watchdog does not create it there")]
    NoMountPoint(&'static str),
}

/// Moves this process into each cgroup whose `cgroup.procs` file is given (writing `0` names
/// the writer), before it starts anything, so all it starts is inside as well.
pub fn join_cgroups(procs: &[PathBuf]) -> Result<(), std::io::Error> {
    for file in procs {
        std::fs::write(file, "0").map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot join {}: {e}", file.display()))
        })?;
    }
    Ok(())
}

/// In a private mount namespace of this process (and the function processes it starts),
/// bind-mounts `source` at `/var/openfaas/secrets`. Must run before any thread is started:
/// a mount namespace is unshared for the calling thread only.
///
/// The mount point must already exist: a private mount namespace still shares the host's
/// files, so creating it would leave `/var/openfaas/secrets` behind on the host (a sandbox
/// that builds the replica's own filesystem view provides it). Without it the secrets stay
/// where they are, and the function is told that path.
pub fn bind_secrets(source: &Path) -> Result<PathBuf, IsolationError> {
    use nix::mount::{mount, MsFlags};
    use nix::sched::{unshare, CloneFlags};

    if !nix::unistd::geteuid().is_root() {
        return Err(IsolationError::NotRoot);
    }
    if !Path::new(OPENFAAS_SECRETS).is_dir() {
        return Err(IsolationError::NoMountPoint(OPENFAAS_SECRETS));
    }
    unshare(CloneFlags::CLONE_NEWNS).map_err(|source| IsolationError::Syscall {
        step: "unshare(CLONE_NEWNS)",
        source,
    })?;
    // Keep our mounts from propagating back to the host's namespace.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|source| IsolationError::Syscall {
        step: "make / private",
        source,
    })?;
    mount(
        Some(source),
        OPENFAAS_SECRETS,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|source| IsolationError::Syscall {
        step: "bind-mount the secrets",
        source,
    })?;
    Ok(PathBuf::from(OPENFAAS_SECRETS))
}

/// Sets the soft and hard limit on open files of this process (and so of every function
/// process it starts). Lowering is always allowed; the function cannot raise it again.
pub fn limit_open_files(limit: u64) -> Result<(), IsolationError> {
    use nix::sys::resource::{setrlimit, Resource};
    setrlimit(Resource::RLIMIT_NOFILE, limit, limit).map_err(|source| IsolationError::Syscall {
        step: "setrlimit(RLIMIT_NOFILE)",
        source,
    })
}

/// Becomes `uid`:`gid` with no supplementary groups, for good: as root this also drops every
/// capability. Must run before any thread is started, like [`bind_secrets`].
pub fn run_as(uid: u32, gid: u32) -> Result<(), IsolationError> {
    use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};
    if uid == 0 {
        return Err(IsolationError::RootTarget);
    }
    let step = |step: &'static str| move |source| IsolationError::Syscall { step, source };
    setgroups(&[]).map_err(step("setgroups"))?;
    setgid(Gid::from_raw(gid)).map_err(step("setgid"))?;
    setuid(Uid::from_raw(uid)).map_err(step("setuid"))?;
    // setuid(0) must now fail: the switch is for good.
    if setuid(Uid::from_raw(0)).is_ok() {
        return Err(IsolationError::RootTarget);
    }
    Ok(())
}

/// Resolves when this process's parent has gone (it was re-parented), checked every 250 ms.
pub async fn parent_gone() {
    let original = nix::unistd::getppid();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if nix::unistd::getppid() != original {
            return;
        }
    }
}
