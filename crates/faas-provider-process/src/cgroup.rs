//! Resource limits and usage through Linux control groups, where the host lets us.
//!
//! Each replica gets its own cgroup, `rustfaas-<provider id>/<ns>/<name>/<instance>`, nested
//! under the server's own cgroup in every hierarchy used (so replicas stay inside whatever
//! limits the server itself runs under, and two servers on one host never share a tree).
//!
//! - cgroup v2 (a unified hierarchy whose `cgroup.controllers` offers `memory` and `cpu`):
//!   `memory.max`, `cpu.max`; usage from `cpu.stat` and `memory.current`. The server's cgroup
//!   must let us enable controllers below it (true at the root, or in a delegated cgroup whose
//!   own processes live in a leaf).
//! - cgroup v1 (writable `memory` and `cpu` hierarchies): `memory.limit_in_bytes`,
//!   `cpu.cfs_quota_us`/`cpu.cfs_period_us`; usage from `cpuacct.usage` and
//!   `memory.usage_in_bytes`.
//!
//! Memory usage is the working set (usage minus inactive file cache), as Kubernetes reports
//! it. When neither works, [`Cgroups::Unavailable`] says why and replicas run without limits.
//!
//! A replica is moved into its cgroup right after it is spawned (the watchdog starts its
//! function process only after that, once it is listening).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::procfs;

/// CFS period used for CPU limits (100 ms, the kernel's default).
const CPU_PERIOD_US: u64 = 100_000;
/// Smallest quota the kernel accepts (1 ms).
const MIN_CPU_QUOTA_US: u64 = 1_000;

/// Limits to enforce on one replica.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CgroupLimits {
    /// Bytes.
    pub(crate) memory: Option<u64>,
    /// Millicores.
    pub(crate) cpu_millis: Option<u64>,
}

impl CgroupLimits {
    pub(crate) fn is_empty(&self) -> bool {
        self.memory.is_none() && self.cpu_millis.is_none()
    }
}

/// What this host offers.
#[derive(Debug)]
pub(crate) enum Cgroups {
    /// Unified hierarchy; `base` is `<server's cgroup>/rustfaas-<id>`; `pids` when the pids
    /// controller is enabled too.
    V2 { base: PathBuf, pids: bool },
    /// Legacy hierarchies; each field is `<server's cgroup in it>/rustfaas-<id>`.
    V1 {
        memory: PathBuf,
        cpu: PathBuf,
        /// Where `cpuacct.usage` is read (the `cpu` base when co-mounted).
        cpuacct: Option<PathBuf>,
        /// The `pids` hierarchy's base, when one is mounted and writable.
        pids: Option<PathBuf>,
    },
    /// Not usable; the text says why.
    Unavailable(String),
}

/// The cgroup directories of one replica.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReplicaCgroup {
    pub(crate) dirs: Vec<PathBuf>,
}

impl Cgroups {
    /// Finds a usable hierarchy and creates this provider's base directories in it.
    pub(crate) fn detect(provider_id: &str) -> Cgroups {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let membership = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mounts = parse_mountinfo(&mountinfo);
        let own = parse_proc_cgroup(&membership);
        let base_name = format!("rustfaas-{provider_id}");

        let v2_reason = match try_v2(&mounts, &own, &base_name) {
            Ok(cgroups) => return cgroups,
            Err(reason) => reason,
        };
        match try_v1(&mounts, &own, &base_name) {
            Ok(cgroups) => cgroups,
            Err(v1_reason) => Cgroups::Unavailable(format!("{v2_reason}; {v1_reason}")),
        }
    }

    /// Why limits are not enforced, if they are not.
    pub(crate) fn unavailable_reason(&self) -> Option<&str> {
        match self {
            Cgroups::Unavailable(reason) => Some(reason),
            _ => None,
        }
    }

    /// Why a replica's number of processes cannot be limited, if it cannot.
    pub(crate) fn pids_unavailable_reason(&self) -> Option<String> {
        match self {
            Cgroups::V2 { pids: true, .. } | Cgroups::V1 { pids: Some(_), .. } => None,
            Cgroups::V2 { .. } => Some("cgroup v2: the pids controller is not available".into()),
            Cgroups::V1 { .. } => Some("cgroup v1: no writable pids hierarchy".into()),
            Cgroups::Unavailable(reason) => Some(reason.clone()),
        }
    }

    /// One line for the server log.
    pub(crate) fn describe(&self) -> String {
        match self {
            Cgroups::V2 { base, .. } => format!("cgroup v2 at {}", base.display()),
            Cgroups::V1 { memory, cpu, .. } => {
                format!("cgroup v1 at {} and {}", memory.display(), cpu.display())
            }
            Cgroups::Unavailable(reason) => format!("no cgroups ({reason})"),
        }
    }

    fn bases(&self) -> Vec<&Path> {
        match self {
            Cgroups::V2 { base, .. } => vec![base],
            Cgroups::V1 {
                memory,
                cpu,
                cpuacct,
                pids,
            } => {
                let mut bases = vec![memory.as_path(), cpu.as_path()];
                if let Some(acct) = cpuacct.as_deref().filter(|a| *a != cpu.as_path()) {
                    bases.push(acct);
                }
                bases.extend(pids.as_deref());
                bases
            }
            Cgroups::Unavailable(_) => Vec::new(),
        }
    }

    /// Creates a replica's cgroup with its limits; `max_pids` where a pids controller exists.
    pub(crate) fn create_replica(
        &self,
        namespace: &str,
        name: &str,
        instance: &str,
        limits: CgroupLimits,
        max_pids: Option<u64>,
    ) -> Result<ReplicaCgroup, String> {
        let relative = Path::new(namespace).join(name).join(instance);
        match self {
            Cgroups::Unavailable(reason) => Err(reason.clone()),
            Cgroups::V2 { base, pids } => {
                let controllers = if *pids {
                    "+memory +cpu +pids"
                } else {
                    "+memory +cpu"
                };
                // Controllers must be enabled at every level above the replica.
                let mut dir = base.clone();
                for part in [namespace, name] {
                    dir.push(part);
                    make_dir(&dir)?;
                    write(&dir.join("cgroup.subtree_control"), controllers)?;
                }
                let dir = base.join(&relative);
                make_dir(&dir)?;
                if let Some(bytes) = limits.memory {
                    write(&dir.join("memory.max"), &bytes.to_string())?;
                }
                if let Some(millis) = limits.cpu_millis {
                    let quota = cpu_quota_us(millis);
                    write(&dir.join("cpu.max"), &format!("{quota} {CPU_PERIOD_US}"))?;
                }
                if let (true, Some(max)) = (*pids, max_pids) {
                    write(&dir.join("pids.max"), &max.to_string())?;
                }
                Ok(ReplicaCgroup { dirs: vec![dir] })
            }
            Cgroups::V1 {
                memory, cpu, pids, ..
            } => {
                let dirs: Vec<PathBuf> = self.bases().iter().map(|b| b.join(&relative)).collect();
                for dir in &dirs {
                    make_dir(dir)?;
                }
                let memory_dir = memory.join(&relative);
                let cpu_dir = cpu.join(&relative);
                if let Some(bytes) = limits.memory {
                    write(
                        &memory_dir.join("memory.limit_in_bytes"),
                        &bytes.to_string(),
                    )?;
                }
                if let Some(millis) = limits.cpu_millis {
                    write(
                        &cpu_dir.join("cpu.cfs_period_us"),
                        &CPU_PERIOD_US.to_string(),
                    )?;
                    write(
                        &cpu_dir.join("cpu.cfs_quota_us"),
                        &cpu_quota_us(millis).to_string(),
                    )?;
                }
                if let (Some(pids), Some(max)) = (pids, max_pids) {
                    write(&pids.join(&relative).join("pids.max"), &max.to_string())?;
                }
                Ok(ReplicaCgroup { dirs })
            }
        }
    }

    /// Moves a process into a replica's cgroup.
    pub(crate) fn add_process(group: &ReplicaCgroup, pid: u32) -> Result<(), String> {
        for dir in &group.dirs {
            write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Kills whatever is left in a replica's cgroup and removes it.
    pub(crate) async fn remove_replica(group: &ReplicaCgroup) {
        for dir in &group.dirs {
            remove_cgroup_dir(dir).await;
        }
    }

    /// Removes a function's (now empty) cgroup directories.
    pub(crate) fn remove_function(&self, namespace: &str, name: &str) {
        for base in self.bases() {
            let dir = base.join(namespace).join(name);
            let _ = fs::remove_dir(&dir);
            let _ = fs::remove_dir(base.join(namespace));
        }
    }

    /// CPU time used so far (nanoseconds, all replicas ever, from the function's cgroup) and
    /// the working set of its replicas now (bytes).
    pub(crate) fn usage(&self, namespace: &str, name: &str) -> Option<(u64, u64)> {
        let relative = Path::new(namespace).join(name);
        match self {
            Cgroups::Unavailable(_) => None,
            Cgroups::V2 { base, .. } => {
                let dir = base.join(&relative);
                let cpu_usec = read_keyed(&dir.join("cpu.stat"), "usage_usec").unwrap_or(0);
                let current = read_number(&dir.join("memory.current")).unwrap_or(0);
                let inactive = read_keyed(&dir.join("memory.stat"), "inactive_file").unwrap_or(0);
                Some((
                    cpu_usec.saturating_mul(1000),
                    current.saturating_sub(inactive),
                ))
            }
            Cgroups::V1 {
                memory,
                cpu,
                cpuacct,
                ..
            } => {
                let acct = cpuacct.as_deref().unwrap_or(cpu);
                let cpu_ns = read_number(&acct.join(&relative).join("cpuacct.usage")).unwrap_or(0);
                let mut bytes = 0u64;
                if let Ok(entries) = fs::read_dir(memory.join(&relative)) {
                    for entry in entries.flatten() {
                        let dir = entry.path();
                        if !dir.is_dir() {
                            continue;
                        }
                        let usage = read_number(&dir.join("memory.usage_in_bytes")).unwrap_or(0);
                        let stat = dir.join("memory.stat");
                        let inactive = read_keyed(&stat, "total_inactive_file")
                            .or_else(|| read_keyed(&stat, "inactive_file"))
                            .unwrap_or(0);
                        bytes = bytes.saturating_add(usage.saturating_sub(inactive));
                    }
                }
                Some((cpu_ns, bytes))
            }
        }
    }

    /// Removes this provider's (empty) cgroup directories, bases included: at shutdown, when
    /// every replica is gone.
    pub(crate) fn remove_empty(&self) {
        let mut dirs = Vec::new();
        for base in self.bases() {
            collect_dirs(base, &mut dirs);
        }
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            let _ = fs::remove_dir(&dir);
        }
    }

    /// Kills every process left in this provider's cgroups (replicas of a previous run) and
    /// removes the directories; returns the pids signalled.
    pub(crate) async fn reap_all(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        let mut dirs = Vec::new();
        for base in self.bases() {
            collect_dirs(base, &mut dirs);
        }
        for dir in &dirs {
            for pid in read_procs(dir) {
                procfs::sigkill_tree(pid);
                pids.push(pid);
            }
        }
        // Deepest first, so parents are empty when their turn comes; keep the bases.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            if !self.bases().contains(&dir.as_path()) {
                remove_cgroup_dir(&dir).await;
            }
        }
        pids
    }
}

fn cpu_quota_us(millis: u64) -> u64 {
    millis
        .saturating_mul(CPU_PERIOD_US)
        .div_euclid(1000)
        .max(MIN_CPU_QUOTA_US)
}

fn make_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create cgroup {}: {e}", dir.display()))
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    fs::write(path, value).map_err(|e| format!("cannot write {value:?} to {}: {e}", path.display()))
}

fn read_number(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A `key value` line of a cgroup stat file.
fn read_keyed(path: &Path, key: &str) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn read_procs(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    if !dir.is_dir() {
        return;
    }
    out.push(dir.to_path_buf());
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&entry.path(), out);
            }
        }
    }
}

/// Kills what is left in a cgroup and removes it (a cgroup with processes cannot be removed).
async fn remove_cgroup_dir(dir: &Path) {
    for attempt in 0..50 {
        match fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(_) => {
                for pid in read_procs(dir) {
                    procfs::sigkill_tree(pid);
                }
                if attempt == 49 {
                    tracing::warn!("cannot remove cgroup {}", dir.display());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// A cgroup mount: its filesystem type, controllers (v1), root within the hierarchy and
/// where it is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CgroupMount {
    v2: bool,
    controllers: Vec<String>,
    root: String,
    mount_point: PathBuf,
}

fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut mounts = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(mount_point), Some(fstype)) =
            (left.get(3), left.get(4), right.first())
        else {
            continue;
        };
        let v2 = match *fstype {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let controllers = right
            .get(2)
            .map(|options| {
                options
                    .split(',')
                    .filter(|o| !matches!(*o, "rw" | "ro") && !o.contains('='))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        mounts.push(CgroupMount {
            v2,
            controllers,
            root: unescape(root),
            mount_point: PathBuf::from(unescape(mount_point)),
        });
    }
    mounts
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            if let Some(value) = std::str::from_utf8(&bytes[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
            {
                out.push(value);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `/proc/self/cgroup`: (controllers, path) per hierarchy; v2 has no controllers.
fn parse_proc_cgroup(text: &str) -> Vec<(Vec<String>, String)> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            let controllers = controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            Some((controllers, path.to_owned()))
        })
        .collect()
}

/// The server's own directory in a hierarchy.
fn own_dir(mount: &CgroupMount, own_path: &str) -> Option<PathBuf> {
    let relative = if mount.root == "/" {
        own_path
    } else {
        own_path.strip_prefix(mount.root.as_str())?
    };
    let relative = relative.trim_start_matches('/');
    if relative.split('/').any(|part| part == "..") {
        return None;
    }
    Some(mount.mount_point.join(relative))
}

fn try_v2(
    mounts: &[CgroupMount],
    own: &[(Vec<String>, String)],
    base_name: &str,
) -> Result<Cgroups, String> {
    let mount = mounts
        .iter()
        .find(|m| m.v2)
        .ok_or("cgroup v2: not mounted")?;
    let own_path = own
        .iter()
        .find(|(controllers, _)| controllers.is_empty())
        .map(|(_, path)| path.as_str())
        .ok_or("cgroup v2: the server is in no v2 cgroup")?;
    let own_dir =
        own_dir(mount, own_path).ok_or("cgroup v2: the server's cgroup is not visible")?;
    let available = fs::read_to_string(own_dir.join("cgroup.controllers")).unwrap_or_default();
    let available: Vec<&str> = available.split_whitespace().collect();
    if !(available.contains(&"memory") && available.contains(&"cpu")) {
        return Err(format!(
            "cgroup v2: the memory and cpu controllers are not available in {} (offered: {:?})",
            own_dir.display(),
            available
        ));
    }
    let pids = available.contains(&"pids");
    let controllers = if pids {
        "+memory +cpu +pids"
    } else {
        "+memory +cpu"
    };
    write(&own_dir.join("cgroup.subtree_control"), controllers).map_err(|e| {
        format!("cgroup v2: {e} (the server's cgroup must delegate controllers: run it in a cgroup whose own processes live in a leaf)")
    })?;
    let base = own_dir.join(base_name);
    make_dir(&base).map_err(|e| format!("cgroup v2: {e}"))?;
    write(&base.join("cgroup.subtree_control"), controllers)
        .map_err(|e| format!("cgroup v2: {e}"))?;
    Ok(Cgroups::V2 { base, pids })
}

fn try_v1(
    mounts: &[CgroupMount],
    own: &[(Vec<String>, String)],
    base_name: &str,
) -> Result<Cgroups, String> {
    let base_for = |controller: &str| -> Result<PathBuf, String> {
        let mount = mounts
            .iter()
            .find(|m| !m.v2 && m.controllers.iter().any(|c| c == controller))
            .ok_or_else(|| format!("cgroup v1: no {controller} hierarchy mounted"))?;
        let own_path = own
            .iter()
            .find(|(controllers, _)| controllers.iter().any(|c| c == controller))
            .map(|(_, path)| path.as_str())
            .ok_or_else(|| format!("cgroup v1: the server is in no {controller} cgroup"))?;
        let dir = own_dir(mount, own_path)
            .ok_or_else(|| format!("cgroup v1: the server's {controller} cgroup is not visible"))?;
        let base = dir.join(base_name);
        make_dir(&base).map_err(|e| format!("cgroup v1: {e}"))?;
        Ok(base)
    };
    let memory = base_for("memory")?;
    let cpu = base_for("cpu")?;
    if !memory.join("memory.limit_in_bytes").exists() || !cpu.join("cpu.cfs_quota_us").exists() {
        return Err("cgroup v1: memory.limit_in_bytes or cpu.cfs_quota_us is missing".into());
    }
    let cpuacct = if cpu.join("cpuacct.usage").exists() {
        Some(cpu.clone())
    } else {
        base_for("cpuacct").ok()
    };
    let pids = base_for("pids")
        .ok()
        .filter(|base| base.join("pids.max").exists());
    Ok(Cgroups::V1 {
        memory,
        cpu,
        cpuacct,
        pids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
34 30 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
36 30 0:32 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
37 30 0:33 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
38 30 0:34 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
";

    #[test]
    fn mounts_and_membership() {
        let mounts = parse_mountinfo(MOUNTINFO);
        assert_eq!(mounts.len(), 5);
        assert_eq!(mounts[0].controllers, vec!["memory"]);
        assert_eq!(mounts[1].controllers, vec!["cpu", "cpuacct"]);
        assert!(mounts[2].v2);
        assert_eq!(mounts[4].controllers, vec!["xattr"]);

        let own = parse_proc_cgroup("4:memory:/a/b\n2:cpu,cpuacct:/\n0::/user.slice\n");
        assert_eq!(own[0], (vec!["memory".to_owned()], "/a/b".to_owned()));
        assert_eq!(own[2].0.len(), 0);

        assert_eq!(
            own_dir(&mounts[0], "/a/b").unwrap(),
            PathBuf::from("/sys/fs/cgroup/memory/a/b")
        );
        assert_eq!(
            own_dir(&mounts[3], "/docker/abc/x").unwrap(),
            PathBuf::from("/sys/fs/cgroup/pids/x")
        );
        assert_eq!(own_dir(&mounts[3], "/elsewhere"), None);
    }

    #[test]
    fn escapes_and_quota() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain\\"), "/plain\\");
        assert_eq!(cpu_quota_us(500), 50_000);
        assert_eq!(cpu_quota_us(1), 1_000);
        assert_eq!(cpu_quota_us(2000), 200_000);
    }
}
