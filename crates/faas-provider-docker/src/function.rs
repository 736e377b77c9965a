//! One deployed function and the task that keeps its containers as its record says: it lists
//! the function's containers by their labels (so containers a previous run left are adopted),
//! replaces those that exited (with backoff, the reason logged and shown in the status),
//! starts or removes containers until the desired count runs, probes their `/_/health`, and
//! rolls an update: containers of the new generation first, the old ones removed once the new
//! ones are ready.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use faas_provider::{ProviderError, ReplicaEndpoint};
use faas_types::{FunctionStatus, FunctionUsage};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::health::healthy;
use crate::records::FunctionRecord;
use crate::spec::{self, label, Placement};
use crate::Shared;

/// How long a replica has to drain when it is removed (scale down, update, delete).
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(10);
/// The supervisor's pace when nothing is starting, and while something is.
const IDLE_TICK: Duration = Duration::from_secs(1);
const BUSY_TICK: Duration = Duration::from_millis(15);
/// Waits between replacing replicas that keep failing: doubling from the first to the last.
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// A deployed function.
pub(crate) struct Function {
    pub namespace: String,
    pub name: String,
    record: Mutex<FunctionRecord>,
    ready: RwLock<Vec<ReplicaEndpoint>>,
    /// Why the last replica went away unasked (exit code, OOM, not ready in time).
    last_exit: Mutex<Option<String>>,
    /// Replicas replaced unasked so far (`com.rustfaas.restarts` in the status).
    restarts: AtomicU64,
    /// The replicas' usage at the last sample (`usage.rs`); `None` before the first.
    usage: Mutex<Option<FunctionUsage>>,
    wake: Notify,
    stopped: AtomicBool,
    /// Containers being stopped in the background: not counted, not stopped twice.
    removing: Arc<Mutex<HashSet<String>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Function {
    /// Starts supervising the record's containers.
    pub(crate) fn start(shared: Arc<Shared>, record: FunctionRecord) -> Arc<Function> {
        let function = Arc::new(Function {
            namespace: record.deployment.namespace_or_default().to_owned(),
            name: record.deployment.service.clone(),
            record: Mutex::new(record),
            ready: RwLock::default(),
            last_exit: Mutex::default(),
            restarts: AtomicU64::new(0),
            usage: Mutex::default(),
            wake: Notify::new(),
            stopped: AtomicBool::new(false),
            removing: Arc::default(),
            task: Mutex::default(),
        });
        let task = tokio::spawn(supervise(shared, Arc::downgrade(&function)));
        *lock(&function.task) = Some(task);
        function
    }

    pub(crate) fn record(&self) -> FunctionRecord {
        lock(&self.record).clone()
    }

    /// Replaces the record (scale, update) and has the supervisor act on it now.
    pub(crate) fn set_record(&self, record: FunctionRecord) {
        *lock(&self.record) = record;
        self.wake.notify_one();
    }

    /// Keeps the usage the sampler measured, for the status.
    pub(crate) fn set_usage(&self, usage: FunctionUsage) {
        *lock(&self.usage) = Some(usage);
    }

    pub(crate) fn endpoints(&self) -> Vec<ReplicaEndpoint> {
        self.ready.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn status(&self) -> FunctionStatus {
        let record = self.record();
        let d = record.deployment;
        let mut annotations = d.annotations.clone();
        if let Some(exit) = lock(&self.last_exit).clone() {
            annotations
                .get_or_insert_with(Default::default)
                .insert("com.rustfaas.last-exit".to_owned(), exit);
        }
        // The same names as the process backend's: how often replicas were replaced unasked,
        // and the image id the deployment pinned.
        let extra = annotations.get_or_insert_with(Default::default);
        extra.insert(
            "com.rustfaas.restarts".to_owned(),
            self.restarts.load(Ordering::Relaxed).to_string(),
        );
        extra.insert("com.rustfaas.digest".to_owned(), record.image_id.clone());
        FunctionStatus {
            name: d.service.clone(),
            image: d.image.clone(),
            namespace: Some(self.namespace.clone()),
            env_process: d.env_process.clone(),
            env_vars: d.env_vars.clone(),
            constraints: d.constraints.clone(),
            secrets: d.secrets.clone(),
            labels: d.labels.clone(),
            annotations,
            limits: d.limits.clone(),
            requests: d.requests.clone(),
            read_only_root_filesystem: d.read_only_root_filesystem,
            invocation_count: 0.0,
            replicas: record.replicas,
            available_replicas: self.endpoints().len() as u64,
            created_at: Some(record.created_at),
            usage: *lock(&self.usage),
        }
    }

    /// Stops supervising; the caller removes the containers.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
        self.ready
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Doubling waits between replacements of replicas that fail.
struct Backoff {
    wait: Duration,
    not_before: Instant,
}

impl Backoff {
    fn failed(&mut self) {
        self.not_before = Instant::now() + self.wait;
        self.wait = (self.wait * 2).min(BACKOFF_MAX);
    }
    fn reset(&mut self) {
        self.wait = BACKOFF_FIRST;
    }
    fn allows(&self) -> bool {
        Instant::now() >= self.not_before
    }
}

async fn supervise(shared: Arc<Shared>, function: std::sync::Weak<Function>) {
    let mut backoff = Backoff {
        wait: BACKOFF_FIRST,
        not_before: Instant::now(),
    };
    let mut last_error = String::new();
    loop {
        let Some(f) = function.upgrade() else { return };
        if f.stopped.load(Ordering::Acquire) {
            return;
        }
        let busy = match reconcile(&shared, &f, &mut backoff).await {
            Ok(busy) => {
                last_error.clear();
                busy
            }
            Err(err) => {
                let text = err.to_string();
                if text != last_error {
                    tracing::warn!(function = %f.name, namespace = %f.namespace, "{text}");
                    last_error = text;
                }
                false
            }
        };
        let pause = if busy { BUSY_TICK } else { IDLE_TICK };
        let woken = async { f.wake.notified().await };
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// A running container of this function as the engine listed it.
struct Replica {
    id: String,
    instance: String,
    generation: u64,
    address: Option<SocketAddr>,
    created: Instant,
}

/// One look at the function's containers and what follows from it. Returns whether a
/// replica is starting (the next look comes soon).
async fn reconcile(
    shared: &Arc<Shared>,
    f: &Arc<Function>,
    backoff: &mut Backoff,
) -> Result<bool, ProviderError> {
    let record = f.record();
    let listed = shared
        .engine
        .containers(&[
            (label::OWNER, &shared.owner),
            (label::NAMESPACE, &f.namespace),
            (label::FUNCTION, &f.name),
        ])
        .await?;
    let removing = lock(&f.removing).clone();
    let mut current = Vec::new();
    let mut old = Vec::new();
    for container in listed {
        let Some(id) = container.id.clone() else {
            continue;
        };
        if removing.contains(&id) {
            continue;
        }
        match container.state {
            Some(ContainerSummaryStateEnum::RUNNING) => {
                let replica = replica(id, &container);
                if replica.generation == record.generation {
                    current.push(replica);
                } else {
                    old.push(replica);
                }
            }
            Some(ContainerSummaryStateEnum::EXITED | ContainerSummaryStateEnum::DEAD) => {
                note_exit(shared, f, &id, &container).await;
                backoff.failed();
                shared.engine.remove(&id).await?;
            }
            // Created but never started, paused, restarting: not ours to keep.
            Some(ContainerSummaryStateEnum::REMOVING) => {}
            _ => shared.engine.remove(&id).await?,
        }
    }

    // Probe every running replica; drop those that never became ready.
    let mut ready = Vec::new();
    let mut starting = 0usize;
    let mut current_ready = Vec::new();
    let mut current_starting = Vec::new();
    for replica in current {
        match replica.address {
            Some(address) if healthy(address).await => current_ready.push((replica, address)),
            _ if replica.created.elapsed() > shared.config.ready_timeout => {
                let reason = format!(
                    "replica {} was not ready within {:?}",
                    replica.instance, shared.config.ready_timeout
                );
                tracing::warn!(function = %f.name, namespace = %f.namespace, "{reason}: replacing it");
                *lock(&f.last_exit) = Some(reason);
                f.restarts.fetch_add(1, Ordering::Relaxed);
                backoff.failed();
                shared.engine.remove(&replica.id).await?;
            }
            _ => current_starting.push(replica),
        }
    }
    starting += current_starting.len();

    let desired = usize::try_from(record.replicas).unwrap_or(usize::MAX);
    let running = current_ready.len() + current_starting.len();
    if running < desired && backoff.allows() {
        for _ in running..desired {
            start_replica(shared, f, &record).await?;
            starting += 1;
        }
    } else if running > desired {
        // Starting ones go first, then the newest ready ones.
        let mut extra = running - desired;
        while extra > 0 {
            let victim = match current_starting.pop() {
                Some(replica) => replica,
                None => match current_ready.pop() {
                    Some((replica, _)) => replica,
                    None => break,
                },
            };
            remove_in_background(shared, f, victim.id);
            extra -= 1;
        }
    }
    if current_ready.len() >= desired {
        backoff.reset();
    }
    for (replica, address) in &current_ready {
        ready.push(ReplicaEndpoint {
            instance: replica.instance.clone(),
            address: *address,
        });
    }

    // An update keeps the previous generation serving until the new one is ready.
    let rolled = current_ready.len() >= desired;
    for replica in old {
        if rolled {
            remove_in_background(shared, f, replica.id);
        } else if let Some(address) = replica.address {
            if healthy(address).await {
                ready.push(ReplicaEndpoint {
                    instance: replica.instance,
                    address,
                });
            }
        }
    }
    if !f.stopped.load(Ordering::Acquire) {
        *f.ready.write().unwrap_or_else(|e| e.into_inner()) = ready;
    }
    Ok(starting > 0)
}

fn replica(id: String, container: &ContainerSummary) -> Replica {
    let labels = container.labels.clone().unwrap_or_default();
    let address = container.ports.iter().flatten().find_map(|p| {
        let loopback = p.ip.as_deref() == Some("127.0.0.1");
        (p.private_port == 8080 && loopback)
            .then_some(p.public_port)
            .flatten()
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
    });
    let age = container
        .created
        .and_then(|created| {
            let now = chrono::Utc::now().timestamp();
            u64::try_from(now.saturating_sub(created)).ok()
        })
        .unwrap_or(0);
    Replica {
        instance: labels
            .get(label::INSTANCE)
            .cloned()
            .unwrap_or_else(|| id.chars().take(12).collect()),
        generation: labels
            .get(label::GENERATION)
            .and_then(|g| g.parse().ok())
            .unwrap_or(0),
        address,
        created: Instant::now()
            .checked_sub(Duration::from_secs(age))
            .unwrap_or_else(Instant::now),
        id,
    }
}

/// Logs why a replica stopped and keeps it for the status.
async fn note_exit(shared: &Shared, f: &Function, id: &str, container: &ContainerSummary) {
    let instance = container
        .labels
        .as_ref()
        .and_then(|l| l.get(label::INSTANCE).cloned())
        .unwrap_or_else(|| id.to_owned());
    let state = shared
        .engine
        .inspect_container(id)
        .await
        .ok()
        .and_then(|c| c.state);
    let (code, oom) = state
        .map(|s| (s.exit_code.unwrap_or(-1), s.oom_killed.unwrap_or(false)))
        .unwrap_or((-1, false));
    let reason = if oom {
        format!("replica {instance} was killed: out of memory (OOMKilled, exit code {code})")
    } else {
        format!("replica {instance} exited with code {code}")
    };
    tracing::warn!(function = %f.name, namespace = %f.namespace, "{reason}: replacing it");
    *lock(&f.last_exit) = Some(reason);
    f.restarts.fetch_add(1, Ordering::Relaxed);
}

static INSTANCES: AtomicU64 = AtomicU64::new(0);

/// A short name unique enough for this server: `<function>-<6 hex>`.
fn instance_name(function: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = INSTANCES.fetch_add(1, Ordering::Relaxed);
    let mixed = (nanos ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    format!("{function}-{:06x}", mixed >> 40)
}

async fn start_replica(
    shared: &Shared,
    f: &Function,
    record: &FunctionRecord,
) -> Result<(), ProviderError> {
    let instance = instance_name(&f.name);
    let secrets = record
        .deployment
        .secrets
        .iter()
        .flatten()
        .map(|name| (name.clone(), shared.records.secret_path(&f.namespace, name)))
        .filter(|(_, path)| path.is_file())
        .collect();
    let network = shared.network_name(&f.namespace);
    shared.ensure_network(&f.namespace).await?;
    let body = spec::container(
        record,
        &Placement {
            owner: &shared.owner,
            network: &network,
            instance: &instance,
            secrets,
        },
    )?;
    let name = format!("rustfaas-{}-{}-{instance}", shared.owner, f.namespace);
    shared.engine.run(&name, body).await?;
    tracing::info!(function = %f.name, namespace = %f.namespace, %instance, "replica started");
    Ok(())
}

/// Takes a replica out of service now and stops it (draining) in the background.
fn remove_in_background(shared: &Arc<Shared>, f: &Function, id: String) {
    if !lock(&f.removing).insert(id.clone()) {
        return;
    }
    let (shared, removing) = (shared.clone(), f.removing.clone());
    tokio::spawn(async move {
        if let Err(err) = shared.engine.stop_and_remove(&id, STOP_GRACE).await {
            tracing::warn!("cannot remove container {id}: {err}");
        }
        lock(&removing).remove(&id);
    });
}
