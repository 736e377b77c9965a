//! Where the process backend keeps its state under the server's data directory.
//!
//! ```text
//! DATA/functions/<ns>/<name>.json          function records (deployment, replicas, package pin)
//! DATA/function-secrets/<ns>/<secret>      secret values (0600, dirs 0700)
//! DATA/namespaces.json                     namespace records
//! DATA/packages/blobs/sha256/<hex>.tar.gz  uploaded packages, content-addressed
//! DATA/packages/unpacked/<hex>/            each package unpacked once
//! DATA/packages/tags.json                  name:tag -> digest
//! DATA/run/<ns>/<name>/<instance>/         per replica: tmp/, secrets/, pid
//! DATA/logs/<ns>/<name>.log (+ .log.1)     every replica's output, one JSON line each
//! ```
//! `DATA/secrets/` and `DATA/VERSION` belong to faasd and are never touched here.

use std::path::{Path, PathBuf};

/// Paths of the process backend's state. Names passed in must already be validated
/// (DNS-1123 labels and subdomains cannot climb out of their directory).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    pub(crate) fn new(root: PathBuf) -> Layout {
        Layout { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn functions_dir(&self) -> PathBuf {
        self.root.join("functions")
    }

    pub(crate) fn function_record(&self, namespace: &str, name: &str) -> PathBuf {
        self.functions_dir()
            .join(namespace)
            .join(format!("{name}.json"))
    }

    pub(crate) fn secrets_dir(&self) -> PathBuf {
        self.root.join("function-secrets")
    }

    pub(crate) fn namespace_secrets(&self, namespace: &str) -> PathBuf {
        self.secrets_dir().join(namespace)
    }

    pub(crate) fn namespaces_file(&self) -> PathBuf {
        self.root.join("namespaces.json")
    }

    pub(crate) fn packages_dir(&self) -> PathBuf {
        self.root.join("packages")
    }

    pub(crate) fn blobs_dir(&self) -> PathBuf {
        self.packages_dir().join("blobs").join("sha256")
    }

    pub(crate) fn blob(&self, hex: &str) -> PathBuf {
        self.blobs_dir().join(format!("{hex}.tar.gz"))
    }

    pub(crate) fn unpacked_dir(&self) -> PathBuf {
        self.packages_dir().join("unpacked")
    }

    pub(crate) fn unpacked(&self, hex: &str) -> PathBuf {
        self.unpacked_dir().join(hex)
    }

    pub(crate) fn tags_file(&self) -> PathBuf {
        self.packages_dir().join("tags.json")
    }

    pub(crate) fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    pub(crate) fn function_run_dir(&self, namespace: &str, name: &str) -> PathBuf {
        self.run_dir().join(namespace).join(name)
    }

    pub(crate) fn replica_dir(&self, namespace: &str, name: &str, instance: &str) -> PathBuf {
        self.function_run_dir(namespace, name).join(instance)
    }

    pub(crate) fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub(crate) fn log_file(&self, namespace: &str, name: &str) -> PathBuf {
        self.logs_dir().join(namespace).join(format!("{name}.log"))
    }
}
