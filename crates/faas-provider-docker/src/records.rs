//! What this backend keeps on disk under `<data dir>/docker/`, so that functions at zero
//! replicas, secrets and namespaces survive a restart (containers alone cannot hold them):
//!
//! ```text
//! owner                       this server's id, in every container's and network's labels
//! namespaces.json             namespace records
//! functions/<ns>/<name>.json  FunctionRecord: the deployment, replicas, pinned image id
//! secrets/<ns>/<name>         secret values (0444 in 0700 directories), bind-mounted read-only
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use faas_provider::ProviderError;
use faas_types::{FunctionDeployment, NamespaceRequest, DEFAULT_NAMESPACE};
use serde::{Deserialize, Serialize};

/// One function as deployed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FunctionRecord {
    pub deployment: FunctionDeployment,
    pub created_at: DateTime<Utc>,
    /// Desired replicas.
    pub replicas: u64,
    /// The image id (`sha256:...`) the deployment pinned when it was made.
    pub image_id: String,
    /// The user containers run as.
    pub user: String,
    /// 1 at deploy, one more per update: containers of older generations are replaced.
    pub generation: u64,
}

/// The directory tree above.
#[derive(Debug, Clone)]
pub(crate) struct Records {
    root: PathBuf,
}

impl Records {
    /// Creates the tree (0700) if missing.
    pub(crate) fn open(data_dir: &Path) -> Result<Records, ProviderError> {
        let root = data_dir.join("docker");
        for dir in [&root, &root.join("functions"), &root.join("secrets")] {
            fs::create_dir_all(dir)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(Records { root })
    }

    /// This server's id: made once, kept in `owner`.
    pub(crate) fn owner(&self) -> Result<String, ProviderError> {
        let path = self.root.join("owner");
        if let Ok(id) = fs::read_to_string(&path) {
            let id = id.trim();
            if !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(id.to_owned());
            }
        }
        let mut bytes = [0u8; 6];
        std::io::Read::read_exact(&mut fs::File::open("/dev/urandom")?, &mut bytes)?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        write_atomic(&path, id.as_bytes(), 0o600)?;
        Ok(id)
    }

    fn function_path(&self, namespace: &str, name: &str) -> PathBuf {
        self.root
            .join("functions")
            .join(namespace)
            .join(format!("{name}.json"))
    }

    pub(crate) fn save_function(&self, record: &FunctionRecord) -> Result<(), ProviderError> {
        let namespace = record.deployment.namespace_or_default();
        let path = self.function_path(namespace, &record.deployment.service);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| ProviderError::Internal(e.to_string()))?;
        write_atomic(&path, &json, 0o600)
    }

    pub(crate) fn remove_function(&self, namespace: &str, name: &str) -> Result<(), ProviderError> {
        match fs::remove_file(self.function_path(namespace, name)) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
            _ => Ok(()),
        }
    }

    /// Every saved function; unreadable records are logged and skipped.
    pub(crate) fn functions(&self) -> Vec<FunctionRecord> {
        let mut records = Vec::new();
        let Ok(namespaces) = fs::read_dir(self.root.join("functions")) else {
            return records;
        };
        for namespace in namespaces.flatten() {
            let Ok(files) = fs::read_dir(namespace.path()) else {
                continue;
            };
            for file in files.flatten() {
                let path = file.path();
                if path.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                match fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
                {
                    Ok(record) => records.push(record),
                    Err(err) => tracing::warn!("skipping {}: {err}", path.display()),
                }
            }
        }
        records
    }

    pub(crate) fn namespaces(&self) -> BTreeMap<String, NamespaceRequest> {
        let mut namespaces: BTreeMap<String, NamespaceRequest> =
            fs::read(self.root.join("namespaces.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
        namespaces
            .entry(DEFAULT_NAMESPACE.to_owned())
            .or_insert_with(|| NamespaceRequest {
                name: DEFAULT_NAMESPACE.to_owned(),
                ..NamespaceRequest::default()
            });
        namespaces
    }

    pub(crate) fn save_namespaces(
        &self,
        namespaces: &BTreeMap<String, NamespaceRequest>,
    ) -> Result<(), ProviderError> {
        let json = serde_json::to_vec_pretty(namespaces)
            .map_err(|e| ProviderError::Internal(e.to_string()))?;
        write_atomic(&self.root.join("namespaces.json"), &json, 0o600)
    }

    /// Where a secret's value is (and what containers bind-mount).
    pub(crate) fn secret_path(&self, namespace: &str, name: &str) -> PathBuf {
        self.root.join("secrets").join(namespace).join(name)
    }

    pub(crate) fn secret_names(&self, namespace: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.root.join("secrets").join(namespace))
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Writes a secret in place: running containers bind-mount the file, so its inode stays.
    /// Readable by all (0444) so the container's unprivileged user reads it; the 0700
    /// directories above keep it from the host's other users.
    pub(crate) fn write_secret(
        &self,
        namespace: &str,
        name: &str,
        value: &[u8],
    ) -> Result<(), ProviderError> {
        let path = self.secret_path(namespace, name);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o444)
            .open(&path)?;
        file.write_all(value)?;
        file.sync_all()?;
        Ok(())
    }

    pub(crate) fn remove_secret(&self, namespace: &str, name: &str) -> Result<(), ProviderError> {
        fs::remove_file(self.secret_path(namespace, name))?;
        Ok(())
    }

    pub(crate) fn remove_namespace_secrets(&self, namespace: &str) -> Result<(), ProviderError> {
        match fs::remove_dir_all(self.root.join("secrets").join(namespace)) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
            _ => Ok(()),
        }
    }
}

/// Writes `path` whole or not at all (temp file, fsync, rename).
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ProviderError> {
    let temp = path.with_extension("tmp");
    {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&temp, path)?;
    Ok(())
}
