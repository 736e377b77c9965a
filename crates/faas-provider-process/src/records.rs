//! Function records and namespace records on disk.
//!
//! `functions/<ns>/<name>.json` holds what is needed to bring a function back after a restart:
//! the deployment as sent, when it was created, its desired replicas and the package digest it
//! pinned. `namespaces.json` holds namespace labels and annotations. Corrupt files are
//! reported and skipped, never fatal.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use chrono::{DateTime, Utc};
use faas_types::{FunctionDeployment, NamespaceRequest, DEFAULT_NAMESPACE};
use serde::{Deserialize, Serialize};

use super::fsutil;
use super::layout::Layout;
use super::package::PackagePin;

/// A deployed function as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FunctionRecord {
    /// The deployment as last deployed or updated, its namespace filled in.
    pub(crate) deployment: FunctionDeployment,
    /// When it was first deployed.
    #[serde(with = "faas_types::rfc3339")]
    pub(crate) created_at: DateTime<Utc>,
    /// Desired replicas.
    pub(crate) replicas: u64,
    /// The package it runs; `None` for a host image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) package: Option<PackagePin>,
}

impl FunctionRecord {
    pub(crate) fn namespace(&self) -> &str {
        self.deployment.namespace_or_default()
    }

    pub(crate) fn name(&self) -> &str {
        &self.deployment.service
    }

    /// Writes the record atomically.
    pub(crate) fn save(&self, layout: &Layout) -> io::Result<()> {
        let path = layout.function_record(self.namespace(), self.name());
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        fsutil::write_json_atomic(&path, self)
    }

    /// Removes a function's record.
    pub(crate) fn remove(layout: &Layout, namespace: &str, name: &str) -> io::Result<()> {
        let path = layout.function_record(namespace, name);
        fsutil::remove_file_if_exists(&path)?;
        if let Some(dir) = path.parent() {
            fsutil::sync_dir(dir)?;
        }
        Ok(())
    }

    /// Every readable record; bad ones are logged and skipped.
    pub(crate) fn load_all(layout: &Layout) -> io::Result<Vec<FunctionRecord>> {
        let root = layout.functions_dir();
        let mut records = Vec::new();
        for namespace in fsutil::list_names(&root)? {
            let dir = root.join(&namespace);
            if !dir.is_dir() {
                continue;
            }
            fsutil::remove_temp_files(&dir);
            for file in fsutil::list_names(&dir)? {
                let path = dir.join(&file);
                match read_record(&path, &namespace, &file) {
                    Ok(record) => records.push(record),
                    Err(reason) => {
                        tracing::warn!("skipping function record {}: {reason}", path.display())
                    }
                }
            }
        }
        Ok(records)
    }
}

fn read_record(path: &Path, namespace: &str, file: &str) -> Result<FunctionRecord, String> {
    let name = file.strip_suffix(".json").ok_or("not a .json file")?;
    let bytes = fs::read(path).map_err(|e| e.to_string())?;
    let record: FunctionRecord = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    record.deployment.validate().map_err(|e| e.to_string())?;
    if record.name() != name || record.namespace() != namespace {
        return Err(format!(
            "it describes {}.{}, not {name}.{namespace}",
            record.name(),
            record.namespace()
        ));
    }
    Ok(record)
}

/// The namespaces and their metadata; `openfaas-fn` always exists.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Namespaces {
    records: BTreeMap<String, NamespaceRequest>,
}

#[derive(Serialize, Deserialize)]
struct NamespacesFile {
    namespaces: Vec<NamespaceRequest>,
}

impl Namespaces {
    /// Reads `namespaces.json` (a corrupt file is logged and treated as empty).
    pub(crate) fn load(layout: &Layout) -> io::Result<Namespaces> {
        let path = layout.namespaces_file();
        let mut records = BTreeMap::new();
        match fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<NamespacesFile>(&bytes) {
                Ok(file) => {
                    for record in file.namespaces {
                        match record.validate() {
                            Ok(()) => {
                                records.insert(record.name.clone(), record);
                            }
                            Err(e) => tracing::warn!("skipping namespace record: {e}"),
                        }
                    }
                }
                Err(e) => tracing::warn!("ignoring corrupt {}: {e}", path.display()),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut namespaces = Namespaces { records };
        namespaces.ensure(DEFAULT_NAMESPACE);
        Ok(namespaces)
    }

    /// Adds a namespace with no metadata if it is missing; returns whether it was added.
    pub(crate) fn ensure(&mut self, name: &str) -> bool {
        if self.records.contains_key(name) {
            return false;
        }
        self.records.insert(
            name.to_owned(),
            NamespaceRequest {
                name: name.to_owned(),
                ..NamespaceRequest::default()
            },
        );
        true
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.records.contains_key(name)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&NamespaceRequest> {
        self.records.get(name)
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.records.keys().cloned().collect()
    }

    pub(crate) fn insert(&mut self, record: NamespaceRequest) {
        self.records.insert(record.name.clone(), record);
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<NamespaceRequest> {
        self.records.remove(name)
    }

    /// Writes `namespaces.json` atomically.
    pub(crate) fn save(&self, layout: &Layout) -> io::Result<()> {
        fsutil::write_json_atomic(
            &layout.namespaces_file(),
            &NamespacesFile {
                namespaces: self.records.values().cloned().collect(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().to_path_buf());
        let record = FunctionRecord {
            deployment: FunctionDeployment {
                service: "wc".into(),
                image: "functions/alpine:latest".into(),
                namespace: Some("openfaas-fn".into()),
                env_process: Some("wc".into()),
                ..FunctionDeployment::default()
            },
            created_at: Utc::now(),
            replicas: 2,
            package: Some(PackagePin {
                image: "x:latest".into(),
                digest: format!("sha256:{}", "a".repeat(64)),
            }),
        };
        record.save(&layout).unwrap();
        let ns_dir = layout.functions_dir().join("openfaas-fn");
        fs::write(ns_dir.join("broken.json"), b"{not json").unwrap();
        fs::write(
            ns_dir.join("other.json"),
            fs::read(ns_dir.join("wc.json")).unwrap(),
        )
        .unwrap();
        let loaded = FunctionRecord::load_all(&layout).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].replicas, 2);
        assert_eq!(loaded[0].deployment, record.deployment);

        FunctionRecord::remove(&layout, "openfaas-fn", "wc").unwrap();
        assert!(!ns_dir.join("wc.json").exists());
    }

    #[test]
    fn namespaces_always_hold_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().to_path_buf());
        fs::write(layout.namespaces_file(), b"garbage").unwrap();
        let mut namespaces = Namespaces::load(&layout).unwrap();
        assert_eq!(namespaces.names(), vec![DEFAULT_NAMESPACE]);
        namespaces.ensure("dev");
        namespaces.save(&layout).unwrap();
        assert_eq!(
            Namespaces::load(&layout).unwrap().names(),
            vec!["dev", DEFAULT_NAMESPACE]
        );
    }
}
