//! Entry points for the fuzz targets (`fuzz/`, replayed on stable by `crates/faas-fuzz`): the
//! package store's checks and unpacking, reachable without a running provider. Not an API.

use std::fs;
use std::path::{Path, PathBuf};

use faas_provider::ProviderError;

use super::layout::Layout;
use super::package::{store_archive_file, PackageStore};

/// Stores `archive` under the data directory `data_dir` the way an upload is stored (staged in
/// a file, inspected, moved into the blob store, unpacked once) and returns the unpacked
/// directory, or the error the upload would get.
pub fn store_package(data_dir: &Path, archive: &[u8]) -> Result<PathBuf, ProviderError> {
    let layout = Layout::new(data_dir.to_path_buf());
    let store = PackageStore::open(layout.clone())?;
    let staged = store.staging_dir().join(".tmp-upload");
    fs::write(&staged, archive)?;
    let (hex, _size) = store_archive_file(&layout, &staged)?;
    Ok(layout.unpacked(&hex))
}
