//! Secret values under `function-secrets/<ns>/<name>`: files of mode 0600 in directories of
//! mode 0700, kept apart from faasd's own `secrets/`. Replicas get copies in their own
//! directory (see `replica.rs`).

use std::fs;
use std::io;
use std::path::PathBuf;

use super::fsutil;
use super::layout::Layout;

/// Reads and writes secret values. Names must be validated secret names (DNS subdomains).
#[derive(Debug, Clone)]
pub(crate) struct SecretStore {
    layout: Layout,
}

impl SecretStore {
    /// Opens the store, clearing temporary files of interrupted writes.
    pub(crate) fn open(layout: Layout) -> io::Result<SecretStore> {
        fsutil::create_dir_with_mode(&layout.secrets_dir(), 0o700)?;
        for namespace in fsutil::list_names(&layout.secrets_dir())? {
            fsutil::remove_temp_files(&layout.namespace_secrets(&namespace));
        }
        Ok(SecretStore { layout })
    }

    fn path(&self, namespace: &str, name: &str) -> PathBuf {
        self.layout.namespace_secrets(namespace).join(name)
    }

    pub(crate) fn names(&self, namespace: &str) -> io::Result<Vec<String>> {
        let dir = self.layout.namespace_secrets(namespace);
        Ok(fsutil::list_names(&dir)?
            .into_iter()
            .filter(|name| faas_types::validate::validate_secret_name(name).is_ok())
            .collect())
    }

    pub(crate) fn exists(&self, namespace: &str, name: &str) -> bool {
        self.path(namespace, name).is_file()
    }

    pub(crate) fn read(&self, namespace: &str, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path(namespace, name))
    }

    pub(crate) fn write(&self, namespace: &str, name: &str, value: &[u8]) -> io::Result<()> {
        fsutil::create_dir_with_mode(&self.layout.namespace_secrets(namespace), 0o700)?;
        fsutil::write_atomic(&self.path(namespace, name), value, 0o600)
    }

    pub(crate) fn remove(&self, namespace: &str, name: &str) -> io::Result<()> {
        fsutil::remove_file_if_exists(&self.path(namespace, name))?;
        fsutil::sync_dir(&self.layout.namespace_secrets(namespace))
    }

    pub(crate) fn remove_namespace(&self, namespace: &str) -> io::Result<()> {
        fsutil::remove_dir_all_if_exists(&self.layout.namespace_secrets(namespace))
    }
}
