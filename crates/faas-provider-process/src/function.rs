//! A deployed function: its record, the launch spec of its current generation, and its
//! replicas (slots). Keeps the number of current-generation replicas at the desired count and
//! retires replicas of older generations once enough new ones are ready (a rolling update
//! that drops no calls).

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use faas_types::{labels, FunctionStatus, FunctionUsage};

use super::logs::FunctionLog;
use super::records::FunctionRecord;
use super::replica::{LaunchSpec, Slot, SlotObserver};
use super::runtime::{lock, Runtime};
use super::ReplicaInfo;
use faas_provider::{ReplicaAddress, ReplicaEndpoint, ReplicaRoute};

/// SIGTERM-to-SIGKILL grace for replicas stopped by scale-down, update and delete.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(10);
/// Annotation telling that `limits` are not enforced, and why.
pub const LIMITS_ANNOTATION: &str = "com.openfaas.limits";
/// Set on a function's status when its replicas lack some of the sandbox's guarantees:
/// `not enforced: <what, and why>`.
pub const SANDBOX_ANNOTATION: &str = "com.rustfaas.sandbox";
/// Set on a function's status: how many times its replicas in service were restarted after
/// dying or failing to become ready (the portal calls a function that keeps restarting
/// failing). A replaced replica (scale down, update) takes its count with it.
pub const RESTARTS_ANNOTATION: &str = "com.rustfaas.restarts";
/// Set on a packaged function's status: the `sha256:<hex>` digest of the package it runs.
pub const DIGEST_ANNOTATION: &str = "com.rustfaas.digest";
/// Shortest interval over which CPU use is averaged.
const MIN_CPU_SAMPLE: Duration = Duration::from_millis(500);

/// A deployed function and its replicas.
pub(crate) struct Function {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) log: Arc<FunctionLog>,
    runtime: Arc<Runtime>,
    me: Weak<Function>,
    state: Mutex<FunctionState>,
}

struct FunctionState {
    record: FunctionRecord,
    spec: Arc<LaunchSpec>,
    generation: u64,
    /// Replicas in service or starting; stopping ones have been handed to their supervisor.
    slots: Vec<Arc<Slot>>,
    deleted: bool,
    cpu_sample: Option<(u64, Instant)>,
    cpu_cores: f64,
}

impl Function {
    /// Creates the function and starts its desired replicas.
    pub(crate) fn start(
        runtime: Arc<Runtime>,
        record: FunctionRecord,
        spec: Arc<LaunchSpec>,
    ) -> Arc<Function> {
        let namespace = record.namespace().to_owned();
        let name = record.name().to_owned();
        let log = Arc::new(FunctionLog::open(
            &namespace,
            &name,
            runtime.layout.log_file(&namespace, &name),
            runtime.config.log_max_bytes,
        ));
        let function = Arc::new_cyclic(|me| Function {
            namespace,
            name,
            log,
            runtime,
            me: me.clone(),
            state: Mutex::new(FunctionState {
                record,
                spec,
                generation: 1,
                slots: Vec::new(),
                deleted: false,
                cpu_sample: None,
                cpu_cores: 0.0,
            }),
        });
        function.reconcile(&mut lock(&function.state));
        function
    }

    pub(crate) fn record(&self) -> FunctionRecord {
        lock(&self.state).record.clone()
    }

    /// Sets the desired replicas (the record is already saved).
    pub(crate) fn set_record(&self, record: FunctionRecord) {
        let mut state = lock(&self.state);
        state.record = record;
        self.reconcile(&mut state);
    }

    /// Starts a new generation; the old one is retired once the new one is ready.
    pub(crate) fn replace(&self, record: FunctionRecord, spec: Arc<LaunchSpec>) {
        let mut state = lock(&self.state);
        state.record = record;
        state.spec = spec;
        state.generation += 1;
        self.reconcile(&mut state);
    }

    /// Stops every replica; with `delete`, the function is gone for good (log removed).
    pub(crate) fn stop_all(&self, grace: Duration, delete: bool) {
        let slots = {
            let mut state = lock(&self.state);
            state.deleted = true;
            std::mem::take(&mut state.slots)
        };
        for slot in slots {
            slot.stop(grace);
        }
        if delete {
            self.log.close_and_remove();
        }
    }

    /// Ready replicas that listen on TCP, by instance number.
    pub(crate) fn endpoints(&self) -> Vec<ReplicaEndpoint> {
        self.routes()
            .into_iter()
            .filter_map(|route| match route.address {
                ReplicaAddress::Tcp(address) => Some(ReplicaEndpoint {
                    instance: route.instance,
                    address,
                }),
                ReplicaAddress::Unix(_) => None,
            })
            .collect()
    }

    /// Ready replicas, over TCP or their Unix socket, by instance number.
    pub(crate) fn routes(&self) -> Vec<ReplicaRoute> {
        let state = lock(&self.state);
        let mut routes: Vec<(u64, ReplicaRoute)> = state
            .slots
            .iter()
            .filter_map(|slot| {
                slot.ready_address().map(|address| {
                    (
                        slot.number(),
                        ReplicaRoute {
                            instance: slot.instance.clone(),
                            address,
                        },
                    )
                })
            })
            .collect();
        routes.sort_by_key(|(n, _)| *n);
        routes.into_iter().map(|(_, route)| route).collect()
    }

    /// Every replica in service or starting, for diagnostics.
    pub(crate) fn replicas(&self) -> Vec<ReplicaInfo> {
        let state = lock(&self.state);
        let mut replicas: Vec<ReplicaInfo> = state
            .slots
            .iter()
            .map(|slot| {
                let status = slot.status();
                ReplicaInfo {
                    instance: slot.instance.clone(),
                    generation: slot.generation,
                    ready: status.ready,
                    pid: status.pid,
                    address: status.address,
                    restarts: status.restarts,
                    directory: slot.dir(&self.runtime),
                    cgroups: status.cgroup_dirs,
                }
            })
            .collect();
        replicas.sort_by_key(|r| (r.generation, r.instance.len(), r.instance.clone()));
        replicas
    }

    /// Run directories of the replicas in service, for refreshing secrets.
    pub(crate) fn secret_dirs(&self, secret: &str) -> Vec<std::path::PathBuf> {
        let state = lock(&self.state);
        state
            .slots
            .iter()
            .filter(|slot| slot.spec.secrets.iter().any(|s| s == secret))
            .map(|slot| slot.dir(&self.runtime).join("secrets"))
            .collect()
    }

    /// The package digests the definition and every replica in service pin.
    pub(crate) fn pinned_packages(&self) -> Vec<String> {
        let state = lock(&self.state);
        let mut pins: Vec<String> = state
            .slots
            .iter()
            .filter_map(|slot| slot.spec.package.as_ref().map(|(p, _)| p.hex().to_owned()))
            .collect();
        if let Some(pin) = &state.record.package {
            pins.push(pin.hex().to_owned());
        }
        pins
    }

    /// The function as `/system/function/{name}` answers.
    pub(crate) fn status(&self) -> FunctionStatus {
        let usage = self.sample_usage();
        let state = lock(&self.state);
        let record = &state.record;
        let mut status = FunctionStatus::from(record.deployment.clone());
        status.namespace = Some(self.namespace.clone());
        status
            .labels
            .get_or_insert_with(Default::default)
            .insert(labels::FUNCTION_NAME.to_owned(), self.name.clone());
        let limited = record
            .deployment
            .limits
            .as_ref()
            .is_some_and(|l| l.memory.is_some() || l.cpu.is_some());
        if limited {
            let reason = self
                .runtime
                .cgroups
                .unavailable_reason()
                .map(str::to_owned)
                .or_else(|| state.slots.iter().find_map(|s| s.status().cgroup_error));
            if let Some(reason) = reason {
                status
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert(
                        LIMITS_ANNOTATION.to_owned(),
                        format!("not enforced: {reason}"),
                    );
            }
        }
        if let Some(missing) = self.runtime.sandbox.missing_summary() {
            status
                .annotations
                .get_or_insert_with(Default::default)
                .insert(
                    SANDBOX_ANNOTATION.to_owned(),
                    format!("not enforced: {missing}"),
                );
        }
        let annotations = status.annotations.get_or_insert_with(Default::default);
        let restarts: u64 = state.slots.iter().map(|s| s.status().restarts).sum();
        annotations.insert(RESTARTS_ANNOTATION.to_owned(), restarts.to_string());
        if let Some(pin) = &record.package {
            annotations.insert(DIGEST_ANNOTATION.to_owned(), pin.digest.clone());
        }
        status.replicas = record.replicas;
        status.available_replicas = state.slots.iter().filter(|s| s.is_ready()).count() as u64;
        status.created_at = Some(record.created_at);
        status.usage = usage;
        // A packaged function runs its package's process (faas-package.json) unless the
        // deployment names one: answer the one that runs.
        if status
            .env_process
            .as_deref()
            .is_none_or(|p| p.trim().is_empty())
        {
            status.env_process = ["fprocess", "function_process"]
                .iter()
                .find_map(|key| state.spec.env.get(*key).filter(|p| !p.trim().is_empty()))
                .cloned();
        }
        status
    }

    /// CPU (cores, averaged since the previous sample) and memory (bytes, now) of all
    /// replicas, when cgroups are in use.
    pub(crate) fn sample_usage(&self) -> Option<FunctionUsage> {
        let (cpu_ns, memory) = self.runtime.cgroups.usage(&self.namespace, &self.name)?;
        let now = Instant::now();
        let mut state = lock(&self.state);
        match state.cpu_sample {
            Some((previous, at)) if now.duration_since(at) >= MIN_CPU_SAMPLE => {
                let elapsed = now.duration_since(at).as_nanos() as f64;
                state.cpu_cores = cpu_ns.saturating_sub(previous) as f64 / elapsed;
                state.cpu_sample = Some((cpu_ns, now));
            }
            Some(_) => {}
            None => state.cpu_sample = Some((cpu_ns, now)),
        }
        Some(FunctionUsage {
            cpu: state.cpu_cores,
            total_memory_bytes: memory as f64,
        })
    }

    /// Starts or stops current-generation replicas to match the desired count, and retires
    /// older generations once enough current ones are ready.
    fn reconcile(&self, state: &mut FunctionState) {
        if state.deleted {
            return;
        }
        let desired = usize::try_from(state.record.replicas).unwrap_or(usize::MAX);
        let generation = state.generation;
        let mut current: Vec<Arc<Slot>> = state
            .slots
            .iter()
            .filter(|s| s.generation == generation)
            .cloned()
            .collect();
        if current.len() < desired {
            let observer: Weak<dyn SlotObserver> = self.me.clone();
            for _ in current.len()..desired {
                let instance = self.runtime.next_instance(&self.namespace, &self.name);
                state.slots.push(Slot::launch(
                    &self.runtime,
                    observer.clone(),
                    self.log.clone(),
                    instance,
                    generation,
                    state.spec.clone(),
                ));
            }
        } else if current.len() > desired {
            // Replicas not serving go first, then the newest.
            current.sort_by_key(|s| (s.is_ready(), std::cmp::Reverse(s.number())));
            let victims: Vec<u64> = current[..current.len() - desired]
                .iter()
                .map(|s| s.id)
                .collect();
            self.stop_slots(state, |s| victims.contains(&s.id));
        }
        let ready_current = state
            .slots
            .iter()
            .filter(|s| s.generation == generation && s.is_ready())
            .count();
        self.stop_slots(state, |s| {
            s.generation != generation && (!s.is_ready() || ready_current >= desired)
        });
    }

    fn stop_slots(&self, state: &mut FunctionState, which: impl Fn(&Slot) -> bool) {
        let (stop, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut state.slots)
            .into_iter()
            .partition(|s| which(s));
        state.slots = keep;
        for slot in stop {
            slot.stop(STOP_GRACE);
        }
    }
}

impl SlotObserver for Function {
    fn readiness_changed(&self) {
        let mut state = lock(&self.state);
        self.reconcile(&mut state);
    }
}
