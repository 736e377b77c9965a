//! What every replica supervisor shares: configuration, paths, cgroups, ports, secrets, and
//! the registry of live replicas (so shutdown can wait for all of them, including replicas
//! still draining after a delete or an update).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::cgroup::Cgroups;
use super::health::PortRegistry;
use super::layout::Layout;
use super::replica::Slot;
use super::sandbox::Sandbox;
use super::secrets::SecretStore;
use super::ProcessConfig;

/// Shared by the provider and every replica supervisor.
pub(crate) struct Runtime {
    pub(crate) config: ProcessConfig,
    pub(crate) layout: Layout,
    /// Short hash of the data directory: tags this provider's processes and cgroups.
    pub(crate) provider_id: String,
    /// The few server variables replicas inherit (PATH, LANG, LC_ALL), read once at open.
    pub(crate) host_env: Vec<(String, String)>,
    pub(crate) cgroups: Cgroups,
    pub(crate) sandbox: Sandbox,
    pub(crate) ports: PortRegistry,
    pub(crate) secrets: SecretStore,
    /// Replicas get `secrets_bind_from` only when the server runs as root.
    pub(crate) is_root: bool,
    shutting_down: AtomicBool,
    live: Mutex<HashMap<u64, Arc<Slot>>>,
    live_changed: Notify,
    next_slot: AtomicU64,
    /// Instance numbers per function; kept after a delete so a redeploy never reuses the
    /// name (and run directory) of a replica that is still draining.
    instance_numbers: Mutex<HashMap<(String, String), u64>>,
    /// Running replicas per package digest, so the sweep never removes a package in use.
    package_users: Mutex<HashMap<String, usize>>,
    /// The data directory's lock, held while any supervisor runs: a second server on the same
    /// directory would kill this one's replicas.
    _lock: nix::fcntl::Flock<std::fs::File>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("data_dir", &self.layout.root())
            .field("provider_id", &self.provider_id)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: ProcessConfig,
        layout: Layout,
        provider_id: String,
        host_env: Vec<(String, String)>,
        cgroups: Cgroups,
        sandbox: Sandbox,
        secrets: SecretStore,
        is_root: bool,
        lock: nix::fcntl::Flock<std::fs::File>,
    ) -> Runtime {
        Runtime {
            config,
            layout,
            provider_id,
            host_env,
            cgroups,
            sandbox,
            ports: PortRegistry::default(),
            secrets,
            is_root,
            shutting_down: AtomicBool::new(false),
            live: Mutex::new(HashMap::new()),
            live_changed: Notify::new(),
            next_slot: AtomicU64::new(1),
            instance_numbers: Mutex::new(HashMap::new()),
            package_users: Mutex::new(HashMap::new()),
            _lock: lock,
        }
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// The marker value of one replica's processes (see `procfs`).
    pub(crate) fn marker(&self, namespace: &str, name: &str, instance: &str) -> String {
        format!("{}/{namespace}/{name}/{instance}", self.provider_id)
    }

    pub(crate) fn next_slot_id(&self) -> u64 {
        self.next_slot.fetch_add(1, Ordering::SeqCst)
    }

    /// The next instance name of a function: `<name>-<n>`, n counting from 1.
    pub(crate) fn next_instance(&self, namespace: &str, name: &str) -> String {
        let mut numbers = self
            .instance_numbers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let n = numbers
            .entry((namespace.to_owned(), name.to_owned()))
            .or_insert(0);
        *n += 1;
        format!("{name}-{n}")
    }

    pub(crate) fn register(&self, slot: Arc<Slot>) {
        lock(&self.live).insert(slot.id, slot);
    }

    pub(crate) fn unregister(&self, id: u64) {
        lock(&self.live).remove(&id);
        self.live_changed.notify_waiters();
    }

    pub(crate) fn live_slots(&self) -> Vec<Arc<Slot>> {
        lock(&self.live).values().cloned().collect()
    }

    /// Waits until no replica supervisor is left, or `limit` passes; returns whether none is.
    pub(crate) async fn wait_all_finished(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.live_changed.notified();
            if lock(&self.live).is_empty() {
                return true;
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(deadline) => return lock(&self.live).is_empty(),
                // Belt and braces against a missed wake-up.
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    /// Counts a running replica of a package until the guard drops.
    pub(crate) fn use_package(self: &Arc<Self>, hex: Option<String>) -> PackageUse {
        if let Some(hex) = &hex {
            *lock(&self.package_users).entry(hex.clone()).or_insert(0) += 1;
        }
        PackageUse {
            runtime: self.clone(),
            hex,
        }
    }

    /// Digests of packages that running replicas use.
    pub(crate) fn packages_in_use(&self) -> Vec<String> {
        lock(&self.package_users).keys().cloned().collect()
    }
}

/// Holds a package as in use (see [`Runtime::use_package`]).
#[derive(Debug)]
pub(crate) struct PackageUse {
    runtime: Arc<Runtime>,
    hex: Option<String>,
}

impl Drop for PackageUse {
    fn drop(&mut self) {
        if let Some(hex) = &self.hex {
            let mut users = lock(&self.runtime.package_users);
            if let Some(count) = users.get_mut(hex) {
                *count -= 1;
                if *count == 0 {
                    users.remove(hex);
                }
            }
        }
    }
}

/// Locks a std mutex, ignoring poisoning (state stays consistent: no code panics while
/// holding these locks).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
