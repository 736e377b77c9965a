//! One replica: an `fwatchdog` child process listening on a Unix socket in its run directory
//! (sandboxed) or a loopback port, supervised.
//!
//! A [`Slot`] is a replica's place in a function: its instance name (`<name>-<n>`), the
//! launch spec of the generation it belongs to, and whether it is ready. Its supervisor task
//! prepares the replica directory, starts the watchdog with a clean environment, moves it
//! into its cgroup, relays its output to the function log, probes `/_/health` until it
//! answers 200 (then the replica is ready), keeps probing while it runs, and restarts it with
//! exponential backoff when it dies or never becomes ready. Stopping sends SIGTERM, then
//! SIGKILL to everything carrying the replica's marker after a grace period.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use faas_provider::ReplicaAddress;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Child;
use tokio::sync::watch;

use super::cgroup::{CgroupLimits, Cgroups, ReplicaCgroup};
use super::fsutil;
use super::health;
use super::logs::{FunctionLog, LineSplitter};
use super::package::PackagePin;
use super::procfs::{self, MARKER_VAR};
use super::runtime::{lock, Runtime};
use super::sandbox::{self, ReplicaMounts};

/// First restart delay; doubles up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// A replica that ran this long before dying restarts after [`BACKOFF_MIN`] again.
const BACKOFF_RESET: Duration = Duration::from_secs(30);
/// Health probes of a running replica.
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Failed probes in a row before a running replica is taken out of service.
const UNHEALTHY_AFTER: u32 = 3;
/// The watchdog's `healthcheck_interval` unless the package or deployment sets one: how long
/// it keeps serving after SIGTERM. The provider takes a replica out of `endpoints()` before
/// signalling it, so this only covers calls already routed to it.
const DEFAULT_HEALTHCHECK_INTERVAL: &str = "1s";
/// The replica's directory holding its watchdog's Unix socket.
const LISTEN_DIR: &str = "listen";
/// The replica's writable copy of its package, when the package asks for one.
const PACKAGE_COPY_DIR: &str = "package";
/// `PATH` when the server has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything needed to start replicas of one function generation.
#[derive(Debug)]
pub(crate) struct LaunchSpec {
    pub(crate) namespace: String,
    pub(crate) name: String,
    /// The pinned package and its unpacked directory (the working directory); `None` runs a
    /// host image in the replica directory.
    pub(crate) package: Option<(PackagePin, PathBuf)>,
    /// The package asked (`"writable": true`) for a writable copy of its own in each replica,
    /// made fresh at every start in the replica's `package/`.
    pub(crate) writable_package: bool,
    /// Package defaults, then `fprocess` from `envProcess`, then the deployment's `envVars`.
    pub(crate) env: BTreeMap<String, String>,
    /// http mode without an explicit `upstream_url`: give each replica its own `PORT`.
    pub(crate) allocate_upstream: bool,
    /// Secrets copied into the replica's `secrets/`.
    pub(crate) secrets: Vec<String>,
    pub(crate) limits: CgroupLimits,
}

/// Told when a replica's readiness changes (the function retires old replicas then).
pub(crate) trait SlotObserver: Send + Sync {
    fn readiness_changed(&self);
}

/// A replica's place in a function.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) id: u64,
    pub(crate) instance: String,
    pub(crate) generation: u64,
    pub(crate) spec: Arc<LaunchSpec>,
    status: Mutex<SlotStatus>,
    /// `Some(grace)` once asked to stop.
    stop: watch::Sender<Option<Duration>>,
}

/// What a slot's supervisor last saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct SlotStatus {
    pub(crate) ready: bool,
    pub(crate) address: Option<ReplicaAddress>,
    pub(crate) pid: Option<u32>,
    pub(crate) restarts: u64,
    pub(crate) cgroup_dirs: Vec<PathBuf>,
    /// Why limits are not enforced on this replica, if they are not.
    pub(crate) cgroup_error: Option<String>,
}

impl Slot {
    /// Creates a slot and starts its supervisor.
    pub(crate) fn launch(
        runtime: &Arc<Runtime>,
        observer: Weak<dyn SlotObserver>,
        log: Arc<FunctionLog>,
        instance: String,
        generation: u64,
        spec: Arc<LaunchSpec>,
    ) -> Arc<Slot> {
        let slot = Arc::new(Slot {
            id: runtime.next_slot_id(),
            instance,
            generation,
            spec,
            status: Mutex::new(SlotStatus::default()),
            stop: watch::channel(None).0,
        });
        runtime.register(slot.clone());
        tokio::spawn(supervise(runtime.clone(), slot.clone(), log, observer));
        slot
    }

    pub(crate) fn status(&self) -> SlotStatus {
        lock(&self.status).clone()
    }

    pub(crate) fn is_ready(&self) -> bool {
        lock(&self.status).ready
    }

    /// The address of a ready replica.
    pub(crate) fn ready_address(&self) -> Option<ReplicaAddress> {
        let status = lock(&self.status);
        if status.ready {
            status.address.clone()
        } else {
            None
        }
    }

    /// The instance number (`<name>-<n>`).
    pub(crate) fn number(&self) -> u64 {
        self.instance
            .rsplit_once('-')
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or(0)
    }

    /// Takes the replica out of service at once and stops it: SIGTERM, then SIGKILL after
    /// `grace` (a later, shorter grace wins).
    pub(crate) fn stop(&self, grace: Duration) {
        self.stop.send_if_modified(|current| match current {
            Some(existing) if *existing <= grace => false,
            _ => {
                *current = Some(grace);
                true
            }
        });
        lock(&self.status).ready = false;
    }

    fn stop_requested(&self) -> bool {
        self.stop.borrow().is_some()
    }

    /// Records readiness; returns whether it changed. A stopping slot never becomes ready.
    fn set_ready(&self, ready: bool) -> bool {
        let mut status = lock(&self.status);
        let ready = ready && !self.stop_requested();
        let changed = status.ready != ready;
        status.ready = ready;
        changed
    }

    fn update(&self, change: impl FnOnce(&mut SlotStatus)) {
        change(&mut lock(&self.status));
    }

    /// The replica's run directory.
    pub(crate) fn dir(&self, runtime: &Runtime) -> PathBuf {
        runtime
            .layout
            .replica_dir(&self.spec.namespace, &self.spec.name, &self.instance)
    }
}

enum Outcome {
    Stopped,
    Failed(String),
}

async fn supervise(
    runtime: Arc<Runtime>,
    slot: Arc<Slot>,
    log: Arc<FunctionLog>,
    observer: Weak<dyn SlotObserver>,
) {
    let _package = runtime.use_package(slot.spec.package.as_ref().map(|(p, _)| p.hex().to_owned()));
    let mut stop_rx = slot.stop.subscribe();
    let mut cgroup: Option<ReplicaCgroup> = None;
    let mut backoff = BACKOFF_MIN;
    let notify = |slot: &Slot, ready: bool| {
        if slot.set_ready(ready) {
            if let Some(observer) = observer.upgrade() {
                observer.readiness_changed();
            }
        }
    };

    loop {
        if slot.stop_requested() || runtime.is_shutting_down() {
            break;
        }
        let started = Instant::now();
        let outcome = run_once(&runtime, &slot, &log, &notify, &mut stop_rx, &mut cgroup).await;
        notify(&slot, false);
        slot.update(|s| {
            s.pid = None;
            s.address = None;
        });
        let reason = match outcome {
            Outcome::Stopped => break,
            Outcome::Failed(reason) => reason,
        };
        if slot.stop_requested() || runtime.is_shutting_down() {
            break;
        }
        if started.elapsed() >= BACKOFF_RESET {
            backoff = BACKOFF_MIN;
        }
        tracing::warn!(
            function = %slot.spec.name, namespace = %slot.spec.namespace,
            instance = %slot.instance, "{reason}; restarting in {backoff:?}"
        );
        log.append(
            &slot.instance,
            &format!("rustfaas: {reason}; restarting in {backoff:?}"),
        );
        slot.update(|s| s.restarts += 1);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = wait_stop(&mut stop_rx) => break,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }

    if let Some(group) = &cgroup {
        Cgroups::remove_replica(group).await;
    }
    let dir = slot.dir(&runtime);
    blocking(move || {
        if let Err(e) = fsutil::remove_tree(&dir) {
            tracing::warn!("cannot remove replica directory {}: {e}", dir.display());
        }
        if let Some(function_dir) = dir.parent() {
            fsutil::remove_dir_if_empty(function_dir);
            if let Some(namespace_dir) = function_dir.parent() {
                fsutil::remove_dir_if_empty(namespace_dir);
            }
        }
    })
    .await;
    runtime.unregister(slot.id);
}

/// Starts the watchdog once and watches it until it stops or fails.
async fn run_once(
    runtime: &Arc<Runtime>,
    slot: &Arc<Slot>,
    log: &Arc<FunctionLog>,
    notify: &impl Fn(&Slot, bool),
    stop_rx: &mut watch::Receiver<Option<Duration>>,
    cgroup: &mut Option<ReplicaCgroup>,
) -> Outcome {
    // Files, secrets (fsync'd) and cgroup writes: off the serving thread.
    let (prepared, group) = {
        let (runtime, slot, log) = (runtime.clone(), slot.clone(), log.clone());
        let mut group = cgroup.take();
        blocking(move || {
            let prepared = prepare(&runtime, &slot, &log);
            if prepared.is_ok() {
                ensure_cgroup(&runtime, &slot, &log, &mut group);
            }
            (prepared, group)
        })
        .await
    };
    *cgroup = group;
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(reason) => return Outcome::Failed(reason),
    };
    let mut replica = match start(runtime, slot, log, cgroup.as_ref(), prepared).await {
        Ok(replica) => replica,
        Err(reason) => return Outcome::Failed(reason),
    };
    if let Err(outcome) = wait_ready(runtime, &mut replica, stop_rx).await {
        return outcome;
    }
    notify(slot, true);
    watch_running(slot, log, notify, stop_rx, &mut replica).await
}

/// What a replica start needs once its directory is ready.
struct Prepared {
    dir: PathBuf,
    workdir: PathBuf,
    /// Held until the replica's process is gone.
    ports: PortsGuard,
    listen: Listen,
    upstream_port: Option<u16>,
    marker: String,
    env: BTreeMap<String, String>,
    /// The sandbox's uid for the function, when sandboxed.
    uid: Option<u32>,
}

/// A started replica's process.
struct Started {
    child: Child,
    pid: i32,
    /// The sandbox's init, when sandboxed.
    init: Option<i32>,
    address: ReplicaAddress,
    /// Loopback ports that must be held inside the sandbox before it serves: the watchdog's
    /// (on TCP) and the http-mode function's upstream.
    owned_ports: Vec<u16>,
    marker: String,
    _ports: PortsGuard,
}

/// Where a replica's watchdog listens.
#[derive(Debug, Clone)]
enum Listen {
    /// A loopback port.
    Tcp(u16),
    /// The Unix socket in the replica's `listen/`, by its host path.
    Unix(PathBuf),
}

impl Listen {
    fn address(&self) -> ReplicaAddress {
        match self {
            Listen::Tcp(port) => SocketAddr::from((Ipv4Addr::LOCALHOST, *port)).into(),
            Listen::Unix(path) => ReplicaAddress::unix(path),
        }
    }
}

/// Prepares the replica directory and picks the ports and environment of one start.
fn prepare(runtime: &Arc<Runtime>, slot: &Slot, log: &FunctionLog) -> Result<Prepared, String> {
    let spec = &slot.spec;
    let dir = slot.dir(runtime);
    let uid = if runtime.sandbox.is_active() {
        Some(runtime.sandbox.uid_for(&spec.namespace, &spec.name)?)
    } else {
        None
    };
    // Files the function must own: only when the server hands out uids (as root).
    let owner = uid.filter(|_| runtime.sandbox.assigns_uids());
    let unix_socket = listens_on_unix_socket(runtime, uid);
    prepare_dir(runtime, spec, &dir, log, &slot.instance, owner, unix_socket)
        .map_err(|e| format!("cannot prepare {}: {e}", dir.display()))?;
    let workdir = match &spec.package {
        Some((pin, path)) if !path.is_dir() => {
            return Err(format!(
                "package {} ({}) is missing from the store",
                pin.image, pin.digest
            ))
        }
        Some((pin, path)) if spec.writable_package => {
            let copy = dir.join(PACKAGE_COPY_DIR);
            fsutil::copy_tree(path, &copy, owner).map_err(|e| {
                format!(
                    "cannot copy package {} ({}) to {}: {e}",
                    pin.image,
                    pin.digest,
                    copy.display()
                )
            })?;
            copy
        }
        Some((_, path)) => path.clone(),
        None => dir.clone(),
    };

    let mut ports = PortsGuard {
        runtime: runtime.clone(),
        ports: Vec::new(),
    };
    let mut allocate = || {
        runtime
            .ports
            .allocate()
            .map(|port| ports.keep(port))
            .map_err(|e| format!("cannot find a free port: {e}"))
    };
    let listen = if unix_socket {
        Listen::Unix(dir.join(LISTEN_DIR).join(sandbox::SOCKET_NAME))
    } else {
        Listen::Tcp(allocate()?)
    };
    let upstream_port = if spec.allocate_upstream {
        Some(allocate()?)
    } else {
        None
    };
    let marker = runtime.marker(&spec.namespace, &spec.name, &slot.instance);
    let env = replica_env(runtime, spec, &dir, &listen, upstream_port, &marker, uid);
    Ok(Prepared {
        dir,
        workdir,
        ports,
        listen,
        upstream_port,
        marker,
        env,
        uid,
    })
}

/// Creates the replica's cgroup once (it outlives restarts); a failure is recorded, not fatal.
fn ensure_cgroup(
    runtime: &Runtime,
    slot: &Slot,
    log: &FunctionLog,
    cgroup: &mut Option<ReplicaCgroup>,
) {
    if cgroup.is_some() || runtime.cgroups.unavailable_reason().is_some() {
        return;
    }
    let spec = &slot.spec;
    let max_pids = runtime.sandbox.max_pids();
    match runtime.cgroups.create_replica(
        &spec.namespace,
        &spec.name,
        &slot.instance,
        spec.limits,
        max_pids,
    ) {
        Ok(group) => {
            slot.update(|s| {
                s.cgroup_dirs = group.dirs.clone();
                s.cgroup_error = None;
            });
            *cgroup = Some(group);
        }
        Err(e) => cgroup_failed(slot, log, e),
    }
}

/// Starts the watchdog, puts it in its cgroup, writes the pid file and records the
/// replica's pid and address.
async fn start(
    runtime: &Runtime,
    slot: &Arc<Slot>,
    log: &Arc<FunctionLog>,
    cgroup: Option<&ReplicaCgroup>,
    prepared: Prepared,
) -> Result<Started, String> {
    let Prepared {
        dir,
        workdir,
        ports,
        listen,
        upstream_port,
        marker,
        env,
        uid,
    } = prepared;
    let launch = Launch {
        dir: &dir,
        workdir: &workdir,
        env,
        uid,
        cgroup,
    };
    let (child, pid, gate) = spawn(runtime, slot, launch, log)?;
    let init = match gate {
        // Sandboxed: bwrap waits on its gate until the sandbox's init is in the cgroup.
        Some(gate) => {
            let init = match sandbox::sandbox_init(pid).await {
                Ok(init) => init,
                Err(e) => {
                    procfs::sigkill_tree(pid);
                    return Err(e);
                }
            };
            let (slot, log, cgroup) = (slot.clone(), log.clone(), cgroup.cloned());
            let opened = blocking(move || {
                // bwrap itself too, so the replica's pid is found in its cgroup.
                join_cgroup(&slot, &log, cgroup.as_ref(), pid);
                join_cgroup(&slot, &log, cgroup.as_ref(), init);
                let opened = open_gate(gate);
                write_pid_file(&dir, pid);
                opened
            })
            .await;
            if let Err(e) = opened {
                procfs::sigkill_tree(pid);
                return Err(format!("cannot start the sandbox: {e}"));
            }
            Some(init)
        }
        None => {
            let (slot, log, cgroup) = (slot.clone(), log.clone(), cgroup.cloned());
            blocking(move || {
                join_cgroup(&slot, &log, cgroup.as_ref(), pid);
                write_pid_file(&dir, pid);
            })
            .await;
            None
        }
    };
    let address = listen.address();
    slot.update(|s| {
        s.pid = Some(u32::try_from(pid).unwrap_or(0));
        s.address = Some(address.clone());
    });
    let owned_ports = match listen {
        Listen::Tcp(port) => Some(port),
        Listen::Unix(_) => None,
    }
    .into_iter()
    .chain(upstream_port)
    .collect();
    Ok(Started {
        child,
        pid,
        init,
        address,
        owned_ports,
        marker,
        _ports: ports,
    })
}

/// Records the replica's pid and start time, so a restarted server finds it.
fn write_pid_file(dir: &Path, pid: i32) {
    if let Some(start) = procfs::start_time(pid) {
        let pid_file = dir.join("pid");
        if let Err(e) = std::fs::write(&pid_file, procfs::pid_file_content(pid, start)) {
            tracing::warn!("cannot write {}: {e}", pid_file.display());
        }
    }
}

/// Starting: probes often until the replica is healthy. `Err` is how the start ended
/// otherwise (stopped, exited, squatted port, or not healthy in time).
async fn wait_ready(
    runtime: &Runtime,
    replica: &mut Started,
    stop_rx: &mut watch::Receiver<Option<Duration>>,
) -> Result<(), Outcome> {
    let started = Instant::now();
    loop {
        let pause = health::startup_poll_interval(started.elapsed());
        tokio::select! {
            grace = wait_stop(stop_rx) => {
                terminate(&mut replica.child, replica.pid, replica.init, grace, stop_rx, &replica.marker).await;
                return Err(Outcome::Stopped);
            }
            status = replica.child.wait() => {
                kill_leftovers(&replica.marker).await;
                return Err(Outcome::Failed(format!(
                    "watchdog exited before it was ready ({})",
                    describe_exit(status)
                )));
            }
            _ = tokio::time::sleep(pause) => {}
        }
        if health::probe(&replica.address, PROBE_TIMEOUT).await {
            let squatted = match replica.init {
                Some(init) if !replica.owned_ports.is_empty() => {
                    let ports = replica.owned_ports.clone();
                    blocking(move || squatted_port(init, &ports)).await
                }
                _ => None,
            };
            match squatted {
                Some(port) => {
                    kill_replica(replica).await;
                    return Err(Outcome::Failed(format!(
                        "port {port} answers, but not from this replica (another process holds it)"
                    )));
                }
                None => return Ok(()),
            }
        }
        if started.elapsed() >= runtime.config.ready_timeout {
            procfs::sigkill_tree(replica.pid);
            let _ = replica.child.wait().await;
            kill_leftovers(&replica.marker).await;
            return Err(Outcome::Failed(format!(
                "not healthy within {:?}",
                runtime.config.ready_timeout
            )));
        }
    }
}

/// Kills a replica's whole sandbox at once and waits for it.
async fn kill_replica(replica: &mut Started) {
    procfs::sigkill_tree(replica.pid);
    if let Some(init) = replica.init {
        procfs::sigkill_tree(init);
    }
    let _ = replica.child.wait().await;
    kill_leftovers(&replica.marker).await;
}

/// A running sandboxed replica's port (its TCP watchdog's, its http-mode upstream) that
/// another process listens on now; checked every [`HEALTH_INTERVAL`], so a function that binds
/// the port while the replica's own server restarts gets calls for a second at most.
async fn recheck_ports(replica: &Started) -> Option<u16> {
    let init = replica.init?;
    if replica.owned_ports.is_empty() {
        return None;
    }
    let ports = replica.owned_ports.clone();
    blocking(move || taken_port(init, &ports)).await
}

/// Running: probes now and then; leaves service after a few failures in a row or when
/// another process took one of its ports.
async fn watch_running(
    slot: &Slot,
    log: &FunctionLog,
    notify: &impl Fn(&Slot, bool),
    stop_rx: &mut watch::Receiver<Option<Duration>>,
    replica: &mut Started,
) -> Outcome {
    let mut failures = 0u32;
    loop {
        tokio::select! {
            grace = wait_stop(stop_rx) => {
                terminate(&mut replica.child, replica.pid, replica.init, grace, stop_rx, &replica.marker).await;
                return Outcome::Stopped;
            }
            status = replica.child.wait() => {
                notify(slot, false);
                kill_leftovers(&replica.marker).await;
                return Outcome::Failed(format!("watchdog exited ({})", describe_exit(status)));
            }
            _ = tokio::time::sleep(HEALTH_INTERVAL) => {}
        }
        if let Some(port) = recheck_ports(replica).await {
            notify(slot, false);
            kill_replica(replica).await;
            return Outcome::Failed(format!(
                "port {port} was taken by another process; starting again on new ports"
            ));
        }
        if health::probe(&replica.address, PROBE_TIMEOUT).await {
            if failures >= UNHEALTHY_AFTER {
                log.append(&slot.instance, "rustfaas: healthy again; back in service");
            }
            failures = 0;
            notify(slot, true);
        } else {
            failures += 1;
            if failures == UNHEALTHY_AFTER {
                notify(slot, false);
                log.append(
                    &slot.instance,
                    "rustfaas: /_/health is failing; out of service until it passes",
                );
            }
        }
    }
}

/// Starts the watchdog: directly, or under bwrap in the replica's sandbox. Returns the child,
/// its pid and, sandboxed, the gate bwrap waits on before it starts the watchdog.
fn spawn(
    runtime: &Runtime,
    slot: &Slot,
    launch: Launch<'_>,
    log: &Arc<FunctionLog>,
) -> Result<(Child, i32, Option<std::os::unix::net::UnixStream>), String> {
    let Launch {
        dir,
        workdir,
        mut env,
        uid,
        cgroup,
    } = launch;
    if let (None, Some(group)) = (uid, cgroup) {
        // Unsandboxed, the watchdog joins its cgroup itself before it starts anything, so an
        // http-mode upstream it starts at once is inside too (the server's move after the
        // spawn would miss it); sandboxed, bwrap waits at its gate for that move instead.
        let procs: Vec<String> = group
            .dirs
            .iter()
            .map(|dir| dir.join("cgroup.procs").display().to_string())
            .collect();
        env.insert("cgroup_procs".to_owned(), procs.join(":"));
    }
    let watchdog = &runtime.config.watchdog_path;
    let (tmp, home, secrets) = (dir.join("tmp"), dir.join("home"), dir.join("secrets"));
    let listen = dir.join(LISTEN_DIR);
    let mounts = ReplicaMounts {
        tmp: &tmp,
        home: &home,
        secrets: &secrets,
        package: slot.spec.package.as_ref().map(|_| workdir),
        package_writable: slot.spec.writable_package,
        listen: listens_on_unix_socket(runtime, uid).then_some(listen.as_path()),
    };
    let sandboxed = uid.and_then(|uid| {
        runtime
            .sandbox
            .command(watchdog, &mounts, uid, &slot.instance)
    });
    let (mut command, gate) = match sandboxed {
        Some(mut command) => {
            let (ours, theirs) = std::os::unix::net::UnixStream::pair()
                .map_err(|e| format!("cannot make the sandbox's gate: {e}"))?;
            command
                .current_dir("/")
                .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)));
            (command, Some(ours))
        }
        None => {
            let mut command = tokio::process::Command::new(watchdog);
            command.current_dir(workdir).stdin(Stdio::null());
            (command, None)
        }
    };
    command
        .env_clear()
        .envs(env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", watchdog.display()))?;
    // From the start: bwrap's own complaints belong in the function log too.
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(relay(stdout, log.clone(), slot.instance.clone()));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(relay(stderr, log.clone(), slot.instance.clone()));
    }
    // Our copy of the gate's other end must go, so bwrap sees it close if we die.
    drop(command);
    let pid = child
        .id()
        .and_then(|pid| i32::try_from(pid).ok())
        .ok_or("the watchdog exited at once")?;
    Ok((child, pid, gate))
}

/// What one start of a replica's watchdog runs with.
struct Launch<'a> {
    /// The replica's run directory.
    dir: &'a Path,
    /// Its package (or its writable copy), or `dir` for a host image.
    workdir: &'a Path,
    env: BTreeMap<String, String>,
    /// The sandbox's uid for the function, when sandboxed.
    uid: Option<u32>,
    cgroup: Option<&'a ReplicaCgroup>,
}

/// Whether a replica's watchdog listens on a Unix socket in its `listen/`: sandboxed (it has
/// a sandbox `uid`) and not asked for TCP.
fn listens_on_unix_socket(runtime: &Runtime, uid: Option<u32>) -> bool {
    uid.is_some() && runtime.sandbox.uses_unix_socket()
}

/// Lets a sandbox waiting on its gate go on to start the watchdog.
fn open_gate(mut gate: std::os::unix::net::UnixStream) -> std::io::Result<()> {
    use std::io::Write;
    gate.write_all(b"1")
}

fn join_cgroup(slot: &Slot, log: &FunctionLog, cgroup: Option<&ReplicaCgroup>, pid: i32) {
    if let Some(group) = cgroup {
        if let Err(e) = Cgroups::add_process(group, u32::try_from(pid).unwrap_or(0)) {
            cgroup_failed(slot, log, e);
        }
    }
}

/// The first of `ports` (the watchdog's on TCP, the function's upstream in http mode) whose
/// listening socket is not held inside the replica's sandbox (below its init) but by a
/// process that bound it first, or on which nothing listens; `None` when all are the
/// replica's own.
fn squatted_port(init: i32, ports: &[u16]) -> Option<u16> {
    let inside = procfs::descendants(init);
    ports
        .iter()
        .copied()
        .find(|port| port_holder(&inside, *port) != PortHolder::Own)
}

/// The first of `ports` on which a process outside the replica's sandbox listens: one that
/// bound it while the replica's own listener was gone (an http-mode function's server
/// restarting). Nothing listening is not taken: the watchdog is restarting its server.
fn taken_port(init: i32, ports: &[u16]) -> Option<u16> {
    // Most seconds every port is held by its own server: /proc is scanned only then.
    if ports
        .iter()
        .all(|port| procfs::listener_inodes(*port).is_empty())
    {
        return None;
    }
    let inside = procfs::descendants(init);
    ports
        .iter()
        .copied()
        .find(|port| port_holder(&inside, *port) == PortHolder::Foreign)
}

/// Who holds the sockets listening on a port of a replica whose processes are `inside`.
#[derive(Debug, PartialEq, Eq)]
enum PortHolder {
    Nobody,
    /// Every listening socket is held by a process inside.
    Own,
    Foreign,
}

fn port_holder(inside: &[i32], port: u16) -> PortHolder {
    let inodes = procfs::listener_inodes(port);
    if inodes.is_empty() {
        PortHolder::Nobody
    } else if inodes
        .iter()
        .all(|inode| inside.iter().any(|pid| procfs::holds_socket(*pid, *inode)))
    {
        PortHolder::Own
    } else {
        PortHolder::Foreign
    }
}

fn cgroup_failed(slot: &Slot, log: &FunctionLog, reason: String) {
    tracing::warn!(
        function = %slot.spec.name, instance = %slot.instance,
        "running without a cgroup: {reason}"
    );
    if !slot.spec.limits.is_empty() {
        log.append(
            &slot.instance,
            &format!("rustfaas: limits not enforced: {reason}"),
        );
    }
    slot.update(|s| s.cgroup_error = Some(reason));
}

/// Makes the replica directory: `tmp/` fresh for every start, `secrets/` with current copies,
/// and with `unix_socket` an empty `listen/` for the watchdog's socket: the server's (root's
/// as root), mode 0700, so a watchdog that becomes the function's uid after binding leaves
/// that uid no way in.
fn prepare_dir(
    runtime: &Runtime,
    spec: &LaunchSpec,
    dir: &Path,
    log: &FunctionLog,
    instance: &str,
    owner: Option<u32>,
    unix_socket: bool,
) -> std::io::Result<()> {
    fsutil::create_dir_with_mode(dir, 0o700)?;
    // A writable package copy is made fresh at every start, like `tmp/`.
    fsutil::remove_tree(&dir.join(PACKAGE_COPY_DIR))?;
    let listen = dir.join(LISTEN_DIR);
    fsutil::remove_dir_all_if_exists(&listen)?;
    if unix_socket {
        fsutil::create_dir_with_mode(&listen, 0o700)?;
    }
    // The home is the working directory of host images: bwrap, root without
    // CAP_DAC_OVERRIDE by then, must be able to enter it (0711; no one else sees the path).
    for (fresh, mode) in [("tmp", 0o700), ("home", 0o711)] {
        let path = dir.join(fresh);
        fsutil::remove_dir_all_if_exists(&path)?;
        fsutil::create_dir_with_mode(&path, 0o700)?;
        std::os::unix::fs::chown(&path, owner, owner)?;
        fsutil::create_dir_with_mode(&path, mode)?;
    }
    let secrets = dir.join("secrets");
    fsutil::remove_dir_all_if_exists(&secrets)?;
    fsutil::create_dir_with_mode(&secrets, 0o700)?;
    if owner.is_some() {
        // The function's own: it may read, never change them.
        std::os::unix::fs::chown(&secrets, owner, owner)?;
        fsutil::create_dir_with_mode(&secrets, 0o500)?;
    }
    for name in &spec.secrets {
        match runtime.secrets.read(&spec.namespace, name) {
            Ok(value) => fsutil::write_secret_copy(&secrets, name, &value)?,
            Err(e) => log.append(
                instance,
                &format!("rustfaas: secret {name} is missing ({e}); starting without it"),
            ),
        }
    }
    Ok(())
}

/// The replica's whole environment, later entries winning: the host's PATH and locale,
/// HOME and TMPDIR, the package's defaults, `fprocess`, the deployment's `envVars`, then what
/// the provider must control (ports, addresses, secrets, the marker).
fn replica_env(
    runtime: &Runtime,
    spec: &LaunchSpec,
    dir: &Path,
    listen: &Listen,
    upstream_port: Option<u16>,
    marker: &str,
    sandbox_uid: Option<u32>,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("PATH".to_owned(), DEFAULT_PATH.to_owned());
    for (name, value) in &runtime.host_env {
        // The server's PATH names directories a sandbox does not have.
        if !(sandbox_uid.is_some() && name == "PATH") {
            env.insert(name.clone(), value.clone());
        }
    }
    let (home, tmp, secrets) = match sandbox_uid {
        Some(_) => (
            sandbox::HOME_DIR.to_owned(),
            "/tmp".to_owned(),
            sandbox::SECRETS_DIR.to_owned(),
        ),
        None => (
            dir.display().to_string(),
            dir.join("tmp").display().to_string(),
            dir.join("secrets").display().to_string(),
        ),
    };
    env.insert("HOME".to_owned(), home);
    env.insert("TMPDIR".to_owned(), tmp);
    env.insert(
        "healthcheck_interval".to_owned(),
        DEFAULT_HEALTHCHECK_INTERVAL.to_owned(),
    );
    env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));

    match listen {
        Listen::Tcp(port) => {
            env.insert("port".to_owned(), port.to_string());
            // Ours to set: a deployment's own would leave the port unserved.
            env.remove("unix_socket");
        }
        Listen::Unix(_) => {
            env.insert(
                "unix_socket".to_owned(),
                format!("{}/{}", sandbox::SOCKET_DIR, sandbox::SOCKET_NAME),
            );
        }
    }
    env.insert("bind_address".to_owned(), "127.0.0.1".to_owned());
    env.insert("metrics_port".to_owned(), "off".to_owned());
    env.insert("die_with_parent".to_owned(), "true".to_owned());
    env.insert("secret_mount_path".to_owned(), secrets.clone());
    match sandbox_uid {
        Some(uid) => {
            if runtime.sandbox.assigns_uids() {
                env.insert("run_as_uid".to_owned(), uid.to_string());
                env.insert("run_as_gid".to_owned(), uid.to_string());
            }
            env.insert(
                "max_open_files".to_owned(),
                runtime.sandbox.config().max_open_files.to_string(),
            );
            // Alone in its PID namespace, a call killed on timeout takes its setsid strays.
            env.insert("kill_strays".to_owned(), "true".to_owned());
        }
        None if runtime.is_root => {
            env.insert("secrets_bind_from".to_owned(), secrets);
        }
        None => {}
    }
    env.insert(MARKER_VAR.to_owned(), marker.to_owned());
    if let Some(upstream) = upstream_port {
        env.insert("PORT".to_owned(), upstream.to_string());
        env.insert(
            "upstream_url".to_owned(),
            format!("http://127.0.0.1:{upstream}"),
        );
    }
    env
}

/// Waits until the slot is asked to stop; returns the grace period.
async fn wait_stop(stop_rx: &mut watch::Receiver<Option<Duration>>) -> Duration {
    loop {
        if let Some(grace) = *stop_rx.borrow_and_update() {
            return grace;
        }
        if stop_rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// SIGTERM, then SIGKILL (the process group and everything marked) after the grace period;
/// a shorter grace asked for meanwhile (server shutdown) takes over.
async fn terminate(
    child: &mut Child,
    pid: i32,
    init: Option<i32>,
    grace: Duration,
    stop_rx: &mut watch::Receiver<Option<Duration>>,
    marker: &str,
) {
    // In a sandbox the watchdog is the init's first child; bwrap does not pass SIGTERM on.
    let watchdog = init.and_then(|init| procfs::children(init).into_iter().min());
    procfs::sigterm(watchdog.unwrap_or(pid));
    let mut deadline = tokio::time::Instant::now() + grace;
    loop {
        tokio::select! {
            _ = child.wait() => break,
            _ = tokio::time::sleep_until(deadline) => {
                procfs::sigkill_tree(pid);
                if let Some(init) = init {
                    // The whole PID namespace goes with its init.
                    procfs::sigkill_tree(init);
                }
                let _ = child.wait().await;
                break;
            }
            changed = stop_rx.changed() => {
                if changed.is_err() {
                    continue;
                }
                if let Some(shorter) = *stop_rx.borrow_and_update() {
                    deadline = deadline.min(tokio::time::Instant::now() + shorter);
                }
            }
        }
    }
    kill_leftovers(marker).await;
}

/// Kills processes of a replica that outlived its watchdog.
async fn kill_leftovers(marker: &str) {
    let marker = marker.to_owned();
    let _ = tokio::task::spawn_blocking(move || procfs::kill_marked(|m| m == marker)).await;
}

/// Copies a replica's output, line by line, into the function log.
async fn relay(mut output: impl AsyncRead + Unpin, log: Arc<FunctionLog>, instance: String) {
    let mut splitter = LineSplitter::default();
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match output.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let lines: Vec<String> = splitter
                    .feed(&buffer[..n])
                    .into_iter()
                    .map(|line| line.into_owned())
                    .collect();
                if lines.is_empty() {
                    continue;
                }
                // The file write and its lock: off the serving thread, in order.
                let (log, instance) = (log.clone(), instance.clone());
                blocking(move || log.append_many(&instance, lines.iter().map(String::as_str)))
                    .await;
            }
        }
    }
    if let Some(line) = splitter.finish() {
        blocking(move || log.append(&instance, &line)).await;
    }
}

/// Runs blocking work (files, fsync, cgroup and /proc) on tokio's blocking pool, so the
/// serving thread goes on with calls meanwhile; a panic there is a panic here.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(done) => done,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Cancelled: the runtime is shutting down, and this task with it.
        Err(_) => std::future::pending().await,
    }
}

fn describe_exit(status: std::io::Result<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            _ => "exited".to_owned(),
        },
        Err(e) => format!("cannot wait for it: {e}"),
    }
}

/// Returns a replica's ports to the registry when its process is gone.
struct PortsGuard {
    runtime: Arc<Runtime>,
    ports: Vec<u16>,
}

impl PortsGuard {
    fn keep(&mut self, port: u16) -> u16 {
        self.ports.push(port);
        port
    }
}

impl Drop for PortsGuard {
    fn drop(&mut self) {
        self.runtime.ports.release(&self.ports);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_is_taken_only_by_a_listener_outside_the_replica() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let own = i32::try_from(std::process::id()).unwrap();
        // A "replica" whose init is a child of ours: the listener is outside it.
        let mut other = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let other_init = i32::try_from(other.id()).unwrap();
        assert_eq!(taken_port(other_init, &[port]), Some(port));
        assert_eq!(squatted_port(other_init, &[port]), Some(port));
        // Held below the init (we are below our parent): the replica's own.
        let parent = procfs::stat(own).unwrap().ppid;
        assert_eq!(taken_port(parent, &[port]), None);
        assert_eq!(squatted_port(parent, &[port]), None);
        drop(listener);
        // Nobody listening: not taken (a server restarting), but not ready either.
        assert_eq!(taken_port(other_init, &[port]), None);
        assert_eq!(squatted_port(other_init, &[port]), Some(port));
        let _ = other.kill();
        let _ = other.wait();
    }
}
