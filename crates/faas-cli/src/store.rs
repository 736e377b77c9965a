//! The function store: a catalog in OpenFaaS's store v2 shape
//! (`{"version":"0.2.0","functions":[{"title","name","description","images":{"x86_64":..},
//! "fprocess","network","repo_url","environment","labels","annotations",
//! "readOnlyRootFilesystem"}]}`). The built-in catalog's functions run on the process runtime
//! with nothing extra installed: host programs (`env`, `sha256sum`, `sh`) or small python3
//! programs shipped inside faas-cli as packages (our `package` key names the folder), which
//! `store deploy` builds and pushes first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::templates::STORE_FILES;

/// A catalog that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading a file failed.
    #[error("cannot read the store catalog {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Fetching a URL failed.
    #[error("cannot fetch the store catalog {url}: {reason}")]
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The catalog is not valid JSON of the right shape.
    #[error("the store catalog {source_name} is not a store v2 catalog: {reason}")]
    Parse {
        /// Where it came from.
        source_name: String,
        /// Why.
        reason: String,
    },
    /// No such entry.
    #[error("{name:?} is not in the store: see `faas-cli store list`")]
    Unknown {
        /// The name.
        name: String,
    },
    /// The entry has no image for this platform.
    #[error("store function {name} has no image for platform {platform} (it has: {available})")]
    NoImage {
        /// The entry.
        name: String,
        /// The platform.
        platform: String,
        /// The platforms it has.
        available: String,
    },
    /// The entry names a package that is not built in.
    #[error("store function {name} names package {package:?}, which this faas-cli does not carry")]
    NoPackage {
        /// The entry.
        name: String,
        /// The package.
        package: String,
    },
}

/// The whole catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// `0.2.0`.
    #[serde(default)]
    pub version: String,
    /// The entries.
    #[serde(default)]
    pub functions: Vec<StoreFunction>,
}

/// One entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreFunction {
    /// Display title.
    #[serde(default)]
    pub title: String,
    /// Name to deploy as.
    #[serde(default)]
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// Image per platform (`x86_64`, `aarch64`, `armhf`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub images: BTreeMap<String, String>,
    /// The process.
    #[serde(default)]
    pub fprocess: String,
    /// Old Swarm network (ignored).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network: String,
    /// Source.
    #[serde(default, rename = "repo_url", skip_serializing_if = "String::is_empty")]
    pub repo_url: String,
    /// Environment.
    #[serde(default, deserialize_with = "null_as_default")]
    pub environment: BTreeMap<String, String>,
    /// Labels.
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, deserialize_with = "null_as_default")]
    pub annotations: BTreeMap<String, String>,
    /// Read-only root filesystem.
    #[serde(default)]
    pub read_only_root_filesystem: bool,
    /// Ours: a package built into faas-cli (a folder under `store/packages/`), pushed as the
    /// entry's image before deploying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// Go writes `null` for empty maps and strings.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl StoreFunction {
    /// The image for `platform` (`x86_64`; Go's `amd64`/`arm64` names are accepted too).
    pub fn image_for(&self, platform: &str) -> Result<String, StoreError> {
        let aliases: &[&str] = match platform {
            "x86_64" | "amd64" => &["x86_64", "amd64"],
            "aarch64" | "arm64" => &["aarch64", "arm64"],
            "arm" | "armhf" | "armv7" => &["armhf", "arm"],
            other => &[other][..],
        };
        aliases
            .iter()
            .find_map(|p| self.images.get(*p).cloned())
            .filter(|i| !i.is_empty())
            .ok_or_else(|| StoreError::NoImage {
                name: self.name.clone(),
                platform: platform.to_owned(),
                available: self.images.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }
}

impl Catalog {
    /// The catalog built into faas-cli.
    pub fn builtin() -> Catalog {
        let file = STORE_FILES
            .iter()
            .find(|f| f.path == "catalog.json")
            .map(|f| f.bytes)
            .unwrap_or(b"{}");
        Catalog::parse(file, "<built-in>").unwrap_or_default()
    }

    /// Parses catalog JSON.
    pub fn parse(bytes: &[u8], source_name: &str) -> Result<Catalog, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Parse {
            source_name: source_name.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Reads a catalog from an http(s) URL or a file path.
    pub async fn load(location: &str, tls_no_verify: bool) -> Result<Catalog, StoreError> {
        let (bytes, source_name) = fetch(location, tls_no_verify).await?;
        Catalog::parse(&bytes, &source_name)
    }

    /// The entry called `name` (or titled so, ignoring case).
    pub fn find(&self, name: &str) -> Result<&StoreFunction, StoreError> {
        self.functions
            .iter()
            .find(|f| f.name == name)
            .or_else(|| {
                self.functions
                    .iter()
                    .find(|f| f.title.eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| StoreError::Unknown {
                name: name.to_owned(),
            })
    }
}

/// Reads a catalog's bytes from an http(s) URL, a `file://` URL or a path; answers them with
/// the name to use in messages.
pub async fn fetch(location: &str, tls_no_verify: bool) -> Result<(Vec<u8>, String), StoreError> {
    if location.starts_with("http://") || location.starts_with("https://") {
        let fetch = |reason: String| StoreError::Fetch {
            url: location.to_owned(),
            reason,
        };
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(tls_no_verify)
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| fetch(e.to_string()))?;
        let response = client
            .get(location)
            .send()
            .await
            .map_err(|e| fetch(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fetch(format!("the server answered {}", response.status())));
        }
        let bytes = response.bytes().await.map_err(|e| fetch(e.to_string()))?;
        return Ok((bytes.to_vec(), location.to_owned()));
    }
    let path = location.strip_prefix("file://").unwrap_or(location);
    let bytes = std::fs::read(path).map_err(|source| StoreError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok((bytes, path.to_owned()))
}

/// The files of a built-in store package: path, bytes, executable.
pub fn package_files(package: &str) -> Option<Vec<(PathBuf, Vec<u8>, bool)>> {
    let prefix = format!("packages/{package}/");
    let files: Vec<_> = STORE_FILES
        .iter()
        .filter_map(|f| {
            let relative = f.path.strip_prefix(&prefix)?;
            Some((
                Path::new(relative).to_path_buf(),
                f.bytes.to_vec(),
                f.executable,
            ))
        })
        .collect();
    (!files.is_empty()).then_some(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_is_complete() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.version, "0.2.0");
        for name in ["env", "sleep", "shasum", "nodeinfo", "markdown", "figlet"] {
            let entry = catalog.find(name).unwrap();
            assert!(!entry.fprocess.is_empty(), "{name}");
            assert!(entry.image_for("x86_64").is_ok(), "{name}");
            if let Some(package) = &entry.package {
                assert!(
                    package_files(package).is_some(),
                    "{name}'s package is built in"
                );
            }
        }
        assert!(catalog.find("nope").is_err());
    }

    #[test]
    fn reads_openfaas_store_json() {
        let json = br#"{"version":"0.2.0","functions":[{"icon":"x","title":"NodeInfo","name":"nodeinfo",
          "description":"d","images":{"arm64":"a","x86_64":"b"},"fprocess":"","network":"func_functions",
          "repo_url":"u","readOnlyRootFilesystem":true,"environment":null,"labels":{},"annotations":{}}]}"#;
        // OpenFaaS writes null for empty maps; that is accepted.
        let catalog = Catalog::parse(json, "t").unwrap();
        let entry = catalog.find("NodeInfo").unwrap();
        assert_eq!(entry.image_for("aarch64").unwrap(), "a");
        assert!(entry.read_only_root_filesystem);
    }
}
