//! The package store: function code uploaded as a gzip'd tar, stored content-addressed and
//! unpacked once, with `name:tag` references pointing at digests (like an image registry on
//! one disk).
//!
//! Package format: the archive's root is the function's directory (the replica's working
//! directory). An optional `faas-package.json` at the root gives the package's default
//! environment, as an image's config does:
//! `{"env": {"fprocess": "python3 index.py", "mode": "http"}}`. A deployment's `envProcess`
//! and `envVars` override it. `"writable": true` asks for a per-replica writable copy of the
//! package instead of the shared read-only one.
//!
//! Archives are checked before anything is written: entries must be regular files,
//! directories, or links that stay inside the package; no absolute paths, no `..`, no entry
//! below or in place of a symlink, no devices.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use flate2::read::GzDecoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, MutexGuard};

use super::fsutil;
use super::layout::Layout;
use faas_provider::PackageInfo;
use faas_provider::ProviderError;

/// Name of the optional manifest at the package's root.
pub(crate) const MANIFEST: &str = "faas-package.json";
/// Most bytes an archive may unpack to.
const MAX_UNPACKED_BYTES: u64 = 4 << 30;
/// Most entries an archive may hold.
const MAX_ENTRIES: usize = 200_000;
/// Largest manifest.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// Longest image reference.
const MAX_REFERENCE_LEN: usize = 255;

/// A package reference: a lowercase repository name like Docker's and a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageRef {
    name: String,
    tag: String,
}

impl ImageRef {
    /// Parses `name[:tag]` (the tag defaults to `latest`); the error says what is wrong.
    pub(crate) fn parse(text: &str) -> Result<ImageRef, String> {
        if text.is_empty() {
            return Err("package name must not be empty".into());
        }
        if text.len() > MAX_REFERENCE_LEN {
            return Err(format!(
                "package name is {} bytes long, at most {MAX_REFERENCE_LEN} are allowed",
                text.len()
            ));
        }
        if text.contains('@') {
            return Err(format!(
                "invalid package name {text:?}: digests (@sha256:...) cannot be uploaded to; use name:tag"
            ));
        }
        let (name, tag) = match text.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, tag),
            _ => (text, "latest"),
        };
        let bad_name = || {
            format!(
                "invalid package name {text:?}: use a lowercase repository name like \
                 `functions/hello` (letters, digits, and '.', '_', '-' between them, parts \
                 separated by '/') with an optional :tag"
            )
        };
        if name.split('/').any(|part| !is_name_component(part)) {
            return Err(bad_name());
        }
        if !is_tag(tag) {
            return Err(format!(
                "invalid tag {tag:?} in package name {text:?}: use letters, digits, '_', '.' and '-' \
                 (at most 128, not starting with '.' or '-')"
            ));
        }
        Ok(ImageRef {
            name: name.to_owned(),
            tag: tag.to_owned(),
        })
    }

    /// `name:tag`.
    pub(crate) fn full(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }
}

/// Docker's path component rule: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn is_name_component(part: &str) -> bool {
    let bytes = part.as_bytes();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_alnum(bytes[i]) {
            i += 1;
        }
        let separator = &part[start..i];
        let ok = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn is_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `faas-package.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// The package's default environment (`fprocess`, `mode`, `upstream_url`, ...).
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// `"writable": true` gives each replica its own writable copy of the package, made at
    /// every start; otherwise the package is shared and read-only.
    #[serde(default)]
    pub(crate) writable: bool,
}

impl Manifest {
    fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| format!("{MANIFEST} is not valid: {e}"))?;
        for (name, value) in &manifest.env {
            faas_types::validate::validate_env_var(name, value)
                .map_err(|e| format!("{MANIFEST}: {e}"))?;
        }
        Ok(manifest)
    }
}

/// A deployment's pinned package: the reference it was deployed with and the digest that
/// reference named then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PackagePin {
    pub(crate) image: String,
    /// `sha256:<hex>`.
    pub(crate) digest: String,
}

impl PackagePin {
    /// The hex part of the digest.
    pub(crate) fn hex(&self) -> &str {
        self.digest.strip_prefix("sha256:").unwrap_or(&self.digest)
    }
}

/// Tags and the grace clock of unused packages; guarded by the store's lock.
#[derive(Debug, Default)]
pub(crate) struct StoreState {
    /// `name:tag` -> hex digest.
    tags: BTreeMap<String, String>,
    /// When each unpinned digest was first seen unused (or last uploaded).
    unused_since: HashMap<String, Instant>,
}

impl StoreState {
    /// The package an image names, if it is stored: `name` means `name:latest`.
    pub(crate) fn resolve(&self, image: &str) -> Option<PackagePin> {
        let reference = ImageRef::parse(image).ok()?.full();
        let hex = self.tags.get(&reference)?;
        Some(PackagePin {
            image: reference,
            digest: format!("sha256:{hex}"),
        })
    }
}

/// The content-addressed package store under `DATA/packages/`.
#[derive(Debug)]
pub(crate) struct PackageStore {
    layout: Layout,
    state: Mutex<StoreState>,
}

#[derive(Serialize, Deserialize)]
struct TagsFile {
    tags: BTreeMap<String, String>,
}

impl PackageStore {
    /// Opens the store, creating its directories and clearing interrupted uploads.
    pub(crate) fn open(layout: Layout) -> io::Result<PackageStore> {
        fs::create_dir_all(layout.blobs_dir())?;
        fs::create_dir_all(layout.unpacked_dir())?;
        fsutil::remove_temp_files(&layout.blobs_dir());
        fsutil::remove_temp_files(&layout.unpacked_dir());
        fsutil::remove_temp_files(&layout.packages_dir());
        let tags = match fs::read(layout.tags_file()) {
            Ok(bytes) => match serde_json::from_slice::<TagsFile>(&bytes) {
                Ok(file) => file
                    .tags
                    .into_iter()
                    .filter(|(image, hex)| {
                        let ok = ImageRef::parse(image).is_ok() && is_hex_digest(hex);
                        if !ok {
                            tracing::warn!("skipping bad package tag {image:?} -> {hex:?}");
                        }
                        ok
                    })
                    .collect(),
                Err(e) => {
                    tracing::warn!("ignoring corrupt {}: {e}", layout.tags_file().display());
                    BTreeMap::new()
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        Ok(PackageStore {
            layout,
            state: Mutex::new(StoreState {
                tags,
                unused_since: HashMap::new(),
            }),
        })
    }

    /// Locks the store: deploys hold it while they pin a package, the sweep while it deletes.
    pub(crate) async fn lock(&self) -> MutexGuard<'_, StoreState> {
        self.state.lock().await
    }

    /// Stores an uploaded package under `image`.
    pub(crate) async fn put(
        &self,
        image: &str,
        archive: Bytes,
    ) -> Result<PackageInfo, ProviderError> {
        let reference = ImageRef::parse(image).map_err(ProviderError::Invalid)?;
        let mut state = self.state.lock().await;
        let layout = self.layout.clone();
        let size = archive.len() as u64;
        let hex = tokio::task::spawn_blocking(move || store_archive(&layout, &archive))
            .await
            .map_err(|e| ProviderError::Internal(format!("package store task failed: {e}")))??;
        self.tag(&mut state, &reference, hex, size)
    }

    /// Where uploads are streamed before [`PackageStore::put_file`]: beside the blobs, so
    /// storing one is a rename; leftovers (`.tmp-*`) are cleared at open.
    pub(crate) fn staging_dir(&self) -> PathBuf {
        self.layout.packages_dir()
    }

    /// Stores the package in the file at `path` under `image`, reading it as a stream (an
    /// upload is never held in memory whole); the file is moved into the store.
    pub(crate) async fn put_file(
        &self,
        image: &str,
        path: &Path,
    ) -> Result<PackageInfo, ProviderError> {
        let reference = ImageRef::parse(image).map_err(ProviderError::Invalid)?;
        let mut state = self.state.lock().await;
        let layout = self.layout.clone();
        let path = path.to_path_buf();
        let (hex, size) = tokio::task::spawn_blocking(move || store_archive_file(&layout, &path))
            .await
            .map_err(|e| ProviderError::Internal(format!("package store task failed: {e}")))??;
        self.tag(&mut state, &reference, hex, size)
    }

    /// Points `reference` at the stored digest `hex`.
    fn tag(
        &self,
        state: &mut StoreState,
        reference: &ImageRef,
        hex: String,
        size: u64,
    ) -> Result<PackageInfo, ProviderError> {
        let full = reference.full();
        let previous = state.tags.insert(full.clone(), hex.clone());
        if let Err(e) = self.write_tags(&state.tags) {
            match previous {
                Some(old) => state.tags.insert(full, old),
                None => state.tags.remove(&full),
            };
            return Err(ProviderError::Internal(format!(
                "cannot record package tag: {e}"
            )));
        }
        state.unused_since.insert(hex.clone(), Instant::now());
        tracing::info!(image = %full, digest = %hex, size, "package stored");
        Ok(PackageInfo {
            image: full,
            digest: format!("sha256:{hex}"),
            size,
        })
    }

    /// Every tag with its digest and size.
    pub(crate) async fn list(&self) -> Vec<PackageInfo> {
        let state = self.state.lock().await;
        state
            .tags
            .iter()
            .map(|(image, hex)| PackageInfo {
                image: image.clone(),
                digest: format!("sha256:{hex}"),
                size: fs::metadata(self.layout.blob(hex))
                    .map(|m| m.len())
                    .unwrap_or(0),
            })
            .collect()
    }

    /// The unpacked directory of a digest, unpacking the blob again if the directory is gone
    /// (it is only a cache of the blob).
    pub(crate) fn ensure_unpacked(&self, pin: &PackagePin) -> Result<PathBuf, String> {
        let hex = pin.hex();
        let dir = self.layout.unpacked(hex);
        if dir.is_dir() {
            return Ok(dir);
        }
        let blob = self.layout.blob(hex);
        let file = fs::File::open(&blob).map_err(|e| {
            format!(
                "package {} ({}) is missing from the store: {e}",
                pin.image, pin.digest
            )
        })?;
        unpack_once(&self.layout, hex, io::BufReader::new(file))?;
        Ok(dir)
    }

    /// The manifest of an unpacked package (empty when it has none).
    pub(crate) fn manifest(dir: &Path) -> Result<Manifest, String> {
        let path = dir.join(MANIFEST);
        match fs::read(&path) {
            Ok(bytes) => Manifest::parse(&bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Deletes packages no one has pinned for `grace`; returns the digests removed.
    pub(crate) fn sweep(
        &self,
        state: &mut StoreState,
        pinned: &HashSet<String>,
        grace: Duration,
        now: Instant,
    ) -> Vec<String> {
        let mut all: HashSet<String> = state.tags.values().cloned().collect();
        for name in fsutil::list_names(&self.layout.blobs_dir()).unwrap_or_default() {
            if let Some(hex) = name.strip_suffix(".tar.gz") {
                all.insert(hex.to_owned());
            }
        }
        for name in fsutil::list_names(&self.layout.unpacked_dir()).unwrap_or_default() {
            all.insert(name);
        }
        let mut removed = Vec::new();
        for hex in all {
            if pinned.contains(&hex) {
                state.unused_since.remove(&hex);
                continue;
            }
            let since = *state.unused_since.entry(hex.clone()).or_insert(now);
            if now.saturating_duration_since(since) < grace {
                continue;
            }
            state.unused_since.remove(&hex);
            removed.push(hex);
        }
        if removed.is_empty() {
            return removed;
        }
        let before = state.tags.len();
        state.tags.retain(|_, hex| !removed.contains(hex));
        if state.tags.len() != before {
            if let Err(e) = self.write_tags(&state.tags) {
                tracing::warn!("cannot record package tags: {e}");
            }
        }
        for hex in &removed {
            if !is_hex_digest(hex) {
                continue;
            }
            let dir = self.layout.unpacked(hex);
            fsutil::make_writable(&dir);
            if let Err(e) = fsutil::remove_dir_all_if_exists(&dir) {
                tracing::warn!("cannot remove unused package {}: {e}", dir.display());
            }
            let _ = fsutil::remove_file_if_exists(&self.layout.blob(hex));
            tracing::info!(digest = %hex, "removed unused package");
        }
        removed
    }

    fn write_tags(&self, tags: &BTreeMap<String, String>) -> io::Result<()> {
        fsutil::write_json_atomic(&self.layout.tags_file(), &TagsFile { tags: tags.clone() })
    }
}

fn is_hex_digest(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks an archive, stores its blob and unpacks it (once per digest); returns the digest.
fn store_archive(layout: &Layout, archive: &[u8]) -> Result<String, ProviderError> {
    inspect_archive(archive)
        .map_err(|e| ProviderError::Invalid(format!("package is not usable: {e}")))?;
    let hex = hex::encode(Sha256::digest(archive));
    let blob = layout.blob(&hex);
    if !blob.exists() {
        fsutil::write_atomic(&blob, archive, 0o644)?;
    }
    unpack_once(layout, &hex, archive).map_err(ProviderError::Internal)?;
    Ok(hex)
}

/// [`store_archive`] for an archive in a file, read as a stream; the file becomes the blob.
/// Returns the digest and the archive's size.
pub(crate) fn store_archive_file(
    layout: &Layout,
    path: &Path,
) -> Result<(String, u64), ProviderError> {
    let open = || fs::File::open(path).map(io::BufReader::new);
    inspect_reader(open()?)
        .map_err(|e| ProviderError::Invalid(format!("package is not usable: {e}")))?;
    let mut hasher = Sha256::new();
    let size = io::copy(&mut open()?, &mut hasher)?;
    let hex = hex::encode(hasher.finalize());
    let blob = layout.blob(&hex);
    if !blob.exists() {
        fs::set_permissions(path, fs::Permissions::from_mode(0o644))?;
        fs::File::open(path)?.sync_all()?;
        fs::rename(path, &blob)?;
        fsutil::sync_dir(&layout.blobs_dir())?;
    }
    let blob_file = fs::File::open(&blob)?;
    unpack_once(layout, &hex, io::BufReader::new(blob_file)).map_err(ProviderError::Internal)?;
    Ok((hex, size))
}

/// Unpacks into `unpacked/<hex>` through a temporary directory, unless already there.
fn unpack_once(layout: &Layout, hex: &str, archive: impl Read) -> Result<(), String> {
    let dest = layout.unpacked(hex);
    if dest.is_dir() {
        return Ok(());
    }
    let parent = layout.unpacked_dir();
    let temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(&parent)
        .map_err(|e| format!("cannot unpack package: {e}"))?;
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    tar.set_preserve_permissions(false);
    tar.set_preserve_ownerships(false);
    tar.set_unpack_xattrs(false);
    tar.set_overwrite(true);
    tar.unpack(temp.path())
        .map_err(|e| format!("cannot unpack package: {e}"))?;
    check_unpacked_links(temp.path())?;
    fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot unpack package: {e}"))?;
    let path = temp.keep();
    if let Err(e) = fs::rename(&path, &dest) {
        fsutil::make_writable(&path);
        let _ = fs::remove_dir_all(&path);
        if !dest.is_dir() {
            return Err(format!("cannot unpack package: {e}"));
        }
    }
    let _ = fsutil::sync_dir(&parent);
    Ok(())
}

/// What a first pass over the archive learned.
#[derive(Debug, Default)]
pub(crate) struct ArchiveSummary {
    pub(crate) manifest: Option<Manifest>,
    pub(crate) entries: usize,
    pub(crate) bytes: u64,
}

/// Validates an archive without writing anything: gzip, tar, entry paths and types, link
/// targets, sizes, and the manifest if present.
pub(crate) fn inspect_archive(archive: &[u8]) -> Result<ArchiveSummary, String> {
    inspect_reader(archive)
}

/// [`inspect_archive`] reading the archive as a stream.
pub(crate) fn inspect_reader(mut archive: impl Read) -> Result<ArchiveSummary, String> {
    let mut magic = [0u8; 2];
    if archive.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
        return Err("package is not a tar.gz: it does not start with the gzip magic bytes".into());
    }
    let archive = io::Cursor::new(magic).chain(archive);
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    let mut summary = ArchiveSummary::default();
    let mut symlinks: HashSet<PathBuf> = HashSet::new();
    let mut seen: Vec<SeenEntry> = Vec::new();

    for entry in tar.entries().map_err(not_tar)? {
        let mut entry = entry.map_err(not_tar)?;
        summary.entries += 1;
        if summary.entries > MAX_ENTRIES {
            return Err(format!("package has more than {MAX_ENTRIES} entries"));
        }
        if let Some(seen_entry) = inspect_entry(&mut entry, &mut summary, &mut symlinks)? {
            seen.push(seen_entry);
        }
    }
    if summary.entries == 0 {
        return Err("package is not a tar.gz: the archive is empty".into());
    }
    check_symlink_crossings(&seen, &symlinks)?;
    check_entry_tree(&seen)?;
    Ok(summary)
}

/// An entry kept for the second pass: its path, type, and symlink or hard link target.
type SeenEntry = (PathBuf, tar::EntryType, Option<PathBuf>);

fn not_tar(e: io::Error) -> String {
    format!("package is not a tar.gz: {e}")
}

/// Checks one entry's path, type, size and link target, reading the manifest if this is it,
/// and remembers symlinks. Returns the entry for the second pass (`None` for the root).
fn inspect_entry(
    entry: &mut tar::Entry<impl Read>,
    summary: &mut ArchiveSummary,
    symlinks: &mut HashSet<PathBuf>,
) -> Result<Option<SeenEntry>, String> {
    let raw_path = entry.path().map_err(not_tar)?.into_owned();
    let path = clean_entry_path(&raw_path)?;
    let kind = entry.header().entry_type();
    let link = entry.link_name().map_err(not_tar)?.map(|l| l.into_owned());
    match kind {
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
            summary.bytes = summary.bytes.saturating_add(entry.size());
            if summary.bytes > MAX_UNPACKED_BYTES {
                return Err(format!(
                    "package unpacks to more than {} GiB",
                    MAX_UNPACKED_BYTES >> 30
                ));
            }
            if path == Path::new(MANIFEST) {
                if entry.size() > MAX_MANIFEST_BYTES {
                    return Err(format!("{MANIFEST} is larger than 1 MiB"));
                }
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(not_tar)?;
                summary.manifest = Some(Manifest::parse(&bytes)?);
            }
        }
        tar::EntryType::Directory => {}
        tar::EntryType::Symlink => {
            let target = link
                .clone()
                .ok_or_else(|| format!("symlink {} has no target", raw_path.display()))?;
            check_symlink_target(&path, &target)?;
            symlinks.insert(path.clone());
        }
        tar::EntryType::Link => {
            let target = link
                .clone()
                .ok_or_else(|| format!("hard link {} has no target", raw_path.display()))?;
            check_hard_link_target(&raw_path, &target)?;
        }
        other => {
            return Err(format!(
                "entry {} has a type packages cannot hold ({other:?}): only files, \
                 directories and links are allowed",
                raw_path.display()
            ))
        }
    }
    if path.as_os_str().is_empty() {
        return Ok(None);
    }
    Ok(Some((path, kind, link)))
}

/// A hard link must name an entry inside the package, and not its root.
fn check_hard_link_target(raw_path: &Path, target: &Path) -> Result<(), String> {
    let target = clean_entry_path(target).map_err(|_| {
        format!(
            "hard link {} points outside the package ({})",
            raw_path.display(),
            target.display()
        )
    })?;
    if target.as_os_str().is_empty() {
        return Err(format!(
            "hard link {} points at the package root",
            raw_path.display()
        ));
    }
    Ok(())
}

/// With every symlink known: nothing may be written through one or replace one, and link
/// targets may not pass through one (where a `..` after it could climb out).
fn check_symlink_crossings(seen: &[SeenEntry], symlinks: &HashSet<PathBuf>) -> Result<(), String> {
    for (path, kind, link) in seen {
        for ancestor in path.ancestors().skip(1) {
            if symlinks.contains(ancestor) {
                return Err(format!(
                    "entry {} lies below the symlink {}",
                    path.display(),
                    ancestor.display()
                ));
            }
        }
        if symlinks.contains(path) && *kind != tar::EntryType::Symlink {
            return Err(format!("entry {} replaces a symlink", path.display()));
        }
        if let Some(target) = link {
            let resolved = if *kind == tar::EntryType::Symlink {
                path.parent().unwrap_or(Path::new("")).join(target)
            } else {
                target.clone()
            };
            check_link_walk(path, &resolved, symlinks)?;
        }
    }
    Ok(())
}

/// With every entry known: each must unpack over the ones before it, or unpacking would fail
/// after the checks passed (a 500 for the client's mistake). Nothing lies below a file or
/// link, no path is both a directory and something else, and a hard link names a file (or a
/// hard link to one) that comes before it.
fn check_entry_tree(seen: &[SeenEntry]) -> Result<(), String> {
    let is_dir = |kind: &tar::EntryType| *kind == tar::EntryType::Directory;
    let non_dirs: HashSet<&Path> = seen
        .iter()
        .filter(|(_, kind, _)| !is_dir(kind))
        .map(|(path, _, _)| path.as_path())
        .collect();
    let dirs: HashSet<&Path> = seen
        .iter()
        .filter(|(_, kind, _)| is_dir(kind))
        .map(|(path, _, _)| path.as_path())
        .collect();
    let mut files: HashSet<&Path> = HashSet::new();
    for (path, kind, link) in seen {
        if let Some(above) = path.ancestors().skip(1).find(|a| non_dirs.contains(a)) {
            return Err(format!(
                "entry {} lies below {}, which is not a directory",
                path.display(),
                above.display()
            ));
        }
        if dirs.contains(path.as_path()) && non_dirs.contains(path.as_path()) {
            return Err(format!(
                "entry {} is both a directory and a file or link",
                path.display()
            ));
        }
        match kind {
            tar::EntryType::Link => {
                let target = link.as_deref().map(clean_entry_path).transpose()?;
                match target {
                    Some(target) if target != *path && files.contains(target.as_path()) => {}
                    _ => {
                        return Err(format!(
                            "hard link {} must name a file that comes before it in the package",
                            path.display()
                        ))
                    }
                }
                files.insert(path);
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                files.insert(path);
            }
            _ => {
                files.remove(path.as_path());
            }
        }
    }
    Ok(())
}

/// Walks a link's resolved target: no component before the last may be a symlink (other
/// than the link itself).
fn check_link_walk(
    path: &Path,
    resolved: &Path,
    symlinks: &HashSet<PathBuf>,
) -> Result<(), String> {
    let mut walked = PathBuf::new();
    let components: Vec<Component> = resolved.components().collect();
    for (i, component) in components.iter().enumerate() {
        match component {
            Component::Normal(part) => walked.push(part),
            Component::ParentDir => {
                walked.pop();
            }
            _ => {}
        }
        if i + 1 < components.len() && symlinks.contains(&walked) && walked != *path {
            return Err(format!(
                "link {} resolves through the symlink {}",
                path.display(),
                walked.display()
            ));
        }
    }
    Ok(())
}

/// An entry path as normal components only; refuses absolute paths and `..`.
fn clean_entry_path(path: &Path) -> Result<PathBuf, String> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                    "entry {} contains '..': entries must stay inside the package",
                    path.display()
                ))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "entry {} is an absolute path: entries must be relative to the package root",
                    path.display()
                ))
            }
        }
    }
    Ok(clean)
}

/// A symlink's target, read relative to its directory, must stay inside the package.
fn check_symlink_target(link: &Path, target: &Path) -> Result<(), String> {
    let outside = || {
        format!(
            "symlink {} points outside the package ({})",
            link.display(),
            target.display()
        )
    };
    let mut depth: Vec<&std::ffi::OsStr> = link
        .parent()
        .map(|p| {
            p.components()
                .filter_map(|c| match c {
                    Component::Normal(part) => Some(part),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    for component in target.components() {
        match component {
            Component::Normal(part) => depth.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if depth.pop().is_none() {
                    return Err(outside());
                }
            }
            Component::RootDir | Component::Prefix(_) => return Err(outside()),
        }
    }
    Ok(())
}

/// After unpacking: every symlink that resolves must resolve inside the package.
fn check_unpacked_links(root: &Path) -> Result<(), String> {
    let root = root
        .canonicalize()
        .map_err(|e| format!("cannot check package: {e}"))?;
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| format!("cannot check package: {e}"))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_symlink() {
                if let Ok(real) = path.canonicalize() {
                    if !real.starts_with(&root) {
                        return Err(format!(
                            "symlink {} points outside the package",
                            path.strip_prefix(&root).unwrap_or(&path).display()
                        ));
                    }
                }
            } else if kind.is_dir() {
                stack.push(path);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn references() {
        assert_eq!(ImageRef::parse("hello").unwrap().full(), "hello:latest");
        assert_eq!(
            ImageRef::parse("functions/alpine:3.19").unwrap().full(),
            "functions/alpine:3.19"
        );
        assert_eq!(
            ImageRef::parse("a.b/c_d/e__f/g--h:V1_x.y-z")
                .unwrap()
                .full(),
            "a.b/c_d/e__f/g--h:V1_x.y-z"
        );
        for bad in [
            "",
            "Hello",
            "../evil",
            "a/../b",
            "/abs",
            "a//b",
            "a/",
            "-a",
            "a-",
            "a..b",
            "a:",
            "a:-x",
            "a:.x",
            "a b",
            "a@sha256:00",
            "ghcr.io:443/x",
            "a\0b",
            "a:b/c",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    fn gz(tar_bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(tar_bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// A tar with raw header names (the tar crate's builder refuses `..`, so headers are
    /// written by hand).
    fn raw_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind, link, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            header.set_entry_type(*kind);
            header.set_mode(0o755);
            header.set_size(data.len() as u64);
            header.set_cksum();
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(data);
            let pad = (512 - data.len() % 512) % 512;
            out.extend(std::iter::repeat_n(0u8, pad));
        }
        out.extend(std::iter::repeat_n(0u8, 1024));
        out
    }

    use tar::EntryType::{Directory, Link, Regular, Symlink};

    #[test]
    fn good_archive_with_manifest() {
        let manifest = br#"{"env":{"fprocess":"sh run.sh","mode":"http"}}"#;
        let archive = gz(&raw_tar(&[
            ("./", Directory, "", b""),
            ("faas-package.json", Regular, "", manifest),
            ("bin/run.sh", Regular, "", b"echo hi\n"),
            ("lib", Symlink, "bin", b""),
            ("up", Symlink, "bin/../faas-package.json", b""),
            ("hard", Link, "bin/run.sh", b""),
        ]));
        let summary = inspect_archive(&archive).unwrap();
        assert_eq!(summary.entries, 6);
        let env = summary.manifest.unwrap().env;
        assert_eq!(env.get("mode").map(String::as_str), Some("http"));

        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().to_path_buf());
        fs::create_dir_all(layout.unpacked_dir()).unwrap();
        fs::create_dir_all(layout.blobs_dir()).unwrap();
        let hex = store_archive(&layout, &archive).unwrap();
        let unpacked = layout.unpacked(&hex);
        assert_eq!(fs::read(unpacked.join("lib/run.sh")).unwrap(), b"echo hi\n");
        assert!(layout.blob(&hex).exists());
    }

    #[test]
    fn a_manifest_may_ask_for_a_writable_copy() {
        let plain = Manifest::parse(br#"{"env":{"fprocess":"sh run.sh"}}"#).unwrap();
        assert!(!plain.writable, "read-only unless asked");
        let writable = Manifest::parse(br#"{"env":{},"writable":true}"#).unwrap();
        assert!(writable.writable);
        assert!(Manifest::parse(br#"{"writable":"yes"}"#).is_err());
    }

    #[test]
    fn hostile_archives() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"plain text".to_vec(), "not a tar.gz"),
            (gz(b"hello, not a tar"), "not a tar.gz"),
            (gz(&raw_tar(&[])), "empty"),
            (gz(&raw_tar(&[("../evil", Regular, "", b"x")])), "'..'"),
            (gz(&raw_tar(&[("a/../../evil", Regular, "", b"x")])), "'..'"),
            (
                gz(&raw_tar(&[("/etc/evil", Regular, "", b"x")])),
                "absolute",
            ),
            (gz(&raw_tar(&[("l", Symlink, "/etc", b"")])), "outside"),
            (gz(&raw_tar(&[("d/l", Symlink, "../../x", b"")])), "outside"),
            (gz(&raw_tar(&[("h", Link, "../x", b"")])), "outside"),
            (gz(&raw_tar(&[("h", Link, "/etc/passwd", b"")])), "outside"),
            (gz(&raw_tar(&[("l", Symlink, "", b"")])), "no target"),
            (
                gz(&raw_tar(&[
                    ("l", Symlink, ".", b""),
                    ("l/x", Regular, "", b"x"),
                ])),
                "below the symlink",
            ),
            (
                gz(&raw_tar(&[
                    ("s", Symlink, ".", b""),
                    ("a", Symlink, "s/../x", b""),
                ])),
                "through the symlink",
            ),
            (
                gz(&raw_tar(&[
                    ("a", Symlink, "b", b""),
                    ("a", Regular, "", b"x"),
                ])),
                "replaces a symlink",
            ),
            (
                gz(&raw_tar(&[
                    ("a", Regular, "", b"x"),
                    ("a/b", Regular, "", b"x"),
                ])),
                "not a directory",
            ),
            (
                gz(&raw_tar(&[
                    ("a/b", Regular, "", b"x"),
                    ("a", Regular, "", b"x"),
                ])),
                "not a directory",
            ),
            (
                gz(&raw_tar(&[
                    ("a", Directory, "", b""),
                    ("a/c", Regular, "", b"x"),
                    ("a", Regular, "", b"x"),
                ])),
                "both a directory",
            ),
            (
                gz(&raw_tar(&[
                    ("a", Regular, "", b"x"),
                    ("a", Directory, "", b""),
                ])),
                "both a directory",
            ),
            (
                gz(&raw_tar(&[
                    ("x", Regular, "", b"x"),
                    ("h", Link, "nothere", b""),
                ])),
                "comes before it",
            ),
            (
                gz(&raw_tar(&[("h", Link, "x", b""), ("x", Regular, "", b"x")])),
                "comes before it",
            ),
            (gz(&raw_tar(&[("h", Link, "h", b"")])), "comes before it"),
            (
                gz(&raw_tar(&[
                    ("d", Directory, "", b""),
                    ("h", Link, "d", b""),
                ])),
                "comes before it",
            ),
            (
                gz(&raw_tar(&[
                    ("d/l", Symlink, "../x", b""),
                    ("x", Regular, "", b"x"),
                    ("h", Link, "d/l", b""),
                ])),
                "comes before it",
            ),
            (
                gz(&raw_tar(&[("dev", tar::EntryType::Char, "", b"")])),
                "type packages cannot hold",
            ),
            (
                gz(&raw_tar(&[("faas-package.json", Regular, "", b"{nope")])),
                "faas-package.json",
            ),
            (
                gz(&raw_tar(&[(
                    "faas-package.json",
                    Regular,
                    "",
                    br#"{"env":{"a=b":"x"}}"#,
                )])),
                "faas-package.json",
            ),
        ];
        for (archive, needle) in cases {
            let err = inspect_archive(&archive).unwrap_err();
            assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        }
    }

    #[test]
    fn sweep_removes_unpinned_after_grace() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().to_path_buf());
        let store = PackageStore::open(layout.clone()).unwrap();
        let archive = gz(&raw_tar(&[("f", Regular, "", b"x")]));
        let hex = store_archive(&layout, &archive).unwrap();
        let mut state = StoreState::default();
        state.tags.insert("a:latest".into(), hex.clone());
        let t0 = Instant::now();
        let pinned = HashSet::from([hex.clone()]);
        let grace = Duration::from_secs(10);
        assert!(store.sweep(&mut state, &pinned, grace, t0).is_empty());
        assert!(store
            .sweep(&mut state, &HashSet::new(), grace, t0)
            .is_empty());
        assert!(store
            .sweep(
                &mut state,
                &HashSet::new(),
                grace,
                t0 + Duration::from_secs(5)
            )
            .is_empty());
        let removed = store.sweep(&mut state, &HashSet::new(), grace, t0 + grace);
        assert_eq!(removed, vec![hex.clone()]);
        assert!(state.tags.is_empty());
        assert!(!layout.blob(&hex).exists());
        assert!(!layout.unpacked(&hex).exists());
    }
}
