//! Docker's `config.json` for image pushes: the one the `docker` program reads
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, as `docker login` writes it)
//! and the one `faas-cli registry-login` writes where OpenFaaS's faas-cli puts it,
//! `./credentials/config.json` (`{"auths": {SERVER: {"auth": base64(user:password)}}}`).
//!
//! A push runs `docker push` with `DOCKER_CONFIG` pointing at a private temporary folder
//! whose `config.json` is Docker's own with the registry-login file's `auths` laid over it,
//! so credentials from either place work and neither file is changed (`docker` runs the
//! credential helpers the config names). `--send-registry-auth` reads the same two files and
//! runs the helper itself when the registry has one (`faas-registry-auth`).

pub use faas_registry_auth::{registry_of, same_registry};
use std::path::{Path, PathBuf};

use std::ffi::OsString;

use base64::Engine as _;
use faas_registry_auth::helper::Helpers;
use faas_registry_auth::DockerConfig;
use serde_json::{Map, Value};

use crate::env::CliEnv;

/// Where `registry-login` writes, relative to the project folder (as OpenFaaS does).
pub const LOGIN_FILE: &str = "credentials/config.json";

/// A config file cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DockerConfigError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The credentials cannot be found (a credential helper failed, a bad `auth`).
    #[error(transparent)]
    Auth(#[from] faas_registry_auth::AuthError),
    /// The registry's credentials are an identity token, which `registryAuth` cannot carry.
    #[error("the credentials for {0} are an identity token; registryAuth takes a user and password (run `faas-cli registry-login`)")]
    TokenOnly(String),
    /// The file is not a JSON object.
    #[error("{path} is not a Docker config.json (a JSON object): {why}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DockerConfigError + '_ {
    move |source| DockerConfigError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The config.json the `docker` program reads.
pub fn docker_config_path(env: &CliEnv) -> Option<PathBuf> {
    match env.vars.get("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        Some(dir) => Some(Path::new(dir).join("config.json")),
        None => env.home.as_ref().map(|h| h.join(".docker/config.json")),
    }
}

/// A config file as a JSON object (empty when the file does not exist).
fn read(path: &Path) -> Result<Map<String, Value>, DockerConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(err) => return Err(io(path)(err)),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(DockerConfigError::Parse {
            path: path.display().to_string(),
            why: "not an object".to_owned(),
        }),
        Err(err) => Err(DockerConfigError::Parse {
            path: path.display().to_string(),
            why: err.to_string(),
        }),
    }
}

/// Writes a JSON object to `path` with mode 0600 (its folder 0700 when made here), whole or
/// not at all.
fn write(path: &Path, config: &Map<String, Value>) -> Result<(), DockerConfigError> {
    let text = serde_json::to_string_pretty(config).unwrap_or_default() + "\n";
    crate::private_file::write(path, text.as_bytes()).map_err(io(path))
}

/// `registry-login`: adds (or replaces) `server`'s entry in `project/credentials/config.json`.
pub fn save_login(
    project: &Path,
    server: &str,
    username: &str,
    password: &str,
) -> Result<PathBuf, DockerConfigError> {
    let path = project.join(LOGIN_FILE);
    let mut config = read(&path)?;
    let auths = config
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    if let Value::Object(auths) = auths {
        auths.insert(server.to_owned(), serde_json::json!({ "auth": token }));
    }
    write(&path, &config)?;
    Ok(path)
}

/// The `auths` entries of Docker's config and the registry-login file together.
fn merged(project: &Path, env: &CliEnv) -> Result<Map<String, Value>, DockerConfigError> {
    let mut config = match docker_config_path(env) {
        Some(path) => read(&path)?,
        None => Map::new(),
    };
    let login = read(&project.join(LOGIN_FILE))?;
    if let Some(Value::Object(extra)) = login.get("auths") {
        let auths = config
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        if let Value::Object(auths) = auths {
            for (server, entry) in extra {
                // One entry per registry: the registry-login one replaces Docker's.
                auths.retain(|key, _| !same_registry(key, registry_host(server)));
                auths.insert(server.clone(), entry.clone());
            }
        }
    }
    Ok(config)
}

fn registry_host(key: &str) -> &str {
    key.trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
}

/// Where a push's credentials come from: `None` when the registry-login file does not exist
/// (`docker push` reads Docker's own config), else a private `DOCKER_CONFIG` folder with both.
pub fn push_config(project: &Path, env: &CliEnv) -> Result<Option<PushConfig>, DockerConfigError> {
    if !project.join(LOGIN_FILE).is_file() {
        return Ok(None);
    }
    let config = merged(project, env)?;
    let dir = tempfile::Builder::new()
        .prefix("faas-cli-docker-config")
        .tempdir()
        .map_err(io(Path::new("a temporary folder")))?;
    write(&dir.path().join("config.json"), &config)?;
    // Docker contexts live beside config.json: keep the user's reachable.
    if let Some(contexts) = docker_config_path(env)
        .and_then(|p| p.parent().map(|d| d.join("contexts")))
        .filter(|c| c.is_dir())
    {
        let _ = std::os::unix::fs::symlink(contexts, dir.path().join("contexts"));
    }
    Ok(Some(PushConfig { dir }))
}

/// A temporary `DOCKER_CONFIG` folder, removed when dropped.
pub struct PushConfig {
    dir: tempfile::TempDir,
}

impl PushConfig {
    /// The folder to give `docker` as `DOCKER_CONFIG`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Whether Docker's config or the registry-login file names `registry` (an `auths` entry or
/// a credential helper).
pub fn has_entry(project: &Path, env: &CliEnv, registry: &str) -> bool {
    merged(project, env).is_ok_and(|map| DockerConfig { map }.names(registry))
}

/// base64 of `user:password` for `registry`, for a deployment's `registryAuth`: from the
/// registry-login file or Docker's config, running its credential helper (on the CLI's
/// `PATH`) when it names one, as `docker` would.
pub fn registry_auth(
    project: &Path,
    env: &CliEnv,
    registry: &str,
) -> Result<Option<String>, DockerConfigError> {
    let config = DockerConfig {
        map: merged(project, env)?,
    };
    let helpers = Helpers {
        path: env.vars.get("PATH").map(OsString::from),
        ..Helpers::default()
    };
    let found = config.credentials(registry, &helpers, Path::new("Docker's config.json"))?;
    match found {
        None => Ok(None),
        Some(found) => found
            .registry_auth()
            .map(Some)
            .ok_or_else(|| DockerConfigError::TokenOnly(registry.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn env_with(docker_config: &Path) -> CliEnv {
        CliEnv::from_map(
            [(
                "DOCKER_CONFIG".to_owned(),
                docker_config.display().to_string(),
            )]
            .into(),
        )
    }

    #[test]
    fn login_file_is_private_and_merged_over_dockers() {
        let project = tempfile::tempdir().unwrap();
        let docker = tempfile::tempdir().unwrap();
        std::fs::write(
            docker.path().join("config.json"),
            r#"{"auths":{"ghcr.io":{"auth":"Ym9iOnB3"},"127.0.0.1:5000":{"auth":"b2xkOm9sZA=="}},"psFormat":"x"}"#,
        )
        .unwrap();
        let env = env_with(docker.path());
        assert!(push_config(project.path(), &env).unwrap().is_none());
        let path = save_login(project.path(), "127.0.0.1:5000", "alice", "s3cret").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            written["auths"]["127.0.0.1:5000"]["auth"],
            "YWxpY2U6czNjcmV0"
        );

        let push = push_config(project.path(), &env).unwrap().unwrap();
        let merged: Value =
            serde_json::from_str(&std::fs::read_to_string(push.dir().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(
            merged["auths"]["127.0.0.1:5000"]["auth"],
            "YWxpY2U6czNjcmV0"
        );
        assert_eq!(merged["auths"]["ghcr.io"]["auth"], "Ym9iOnB3");
        assert_eq!(merged["psFormat"], "x");
        assert_eq!(
            registry_auth(project.path(), &env, "127.0.0.1:5000")
                .unwrap()
                .as_deref(),
            Some("YWxpY2U6czNjcmV0")
        );
        assert!(has_entry(project.path(), &env, "ghcr.io"));
        assert!(!has_entry(project.path(), &env, "quay.io"));
    }

    #[test]
    fn send_registry_auth_runs_the_configs_credential_helper() {
        use std::os::unix::fs::PermissionsExt as _;
        let project = tempfile::tempdir().unwrap();
        let docker = tempfile::tempdir().unwrap();
        let bin = tempfile::tempdir().unwrap();
        let helper = bin.path().join("docker-credential-rustfaas");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread server\n[ \"$server\" = ghcr.io ] || { echo 'credentials not found in native keychain'; exit 1; }\necho '{\"Username\":\"carol\",\"Secret\":\"pw\"}'\n",
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            docker.path().join("config.json"),
            r#"{"credHelpers":{"ghcr.io":"rustfaas","quay.io":"rustfaas"}}"#,
        )
        .unwrap();
        let path = format!("{}:/usr/bin:/bin", bin.path().display());
        let env = CliEnv::from_map(
            [
                (
                    "DOCKER_CONFIG".to_owned(),
                    docker.path().display().to_string(),
                ),
                ("PATH".to_owned(), path),
            ]
            .into(),
        );
        assert!(has_entry(project.path(), &env, "ghcr.io"));
        let carol = base64::engine::general_purpose::STANDARD.encode("carol:pw");
        assert_eq!(
            registry_auth(project.path(), &env, "ghcr.io").unwrap(),
            Some(carol)
        );
        assert_eq!(
            registry_auth(project.path(), &env, "quay.io").unwrap(),
            None
        );
        // A registry-login entry for the registry does not stop Docker's helper from
        // answering first, as in `docker` (helpers win over auths).
        save_login(project.path(), "quay.io", "dave", "pw2").unwrap();
        assert_eq!(
            registry_auth(project.path(), &env, "quay.io").unwrap(),
            None
        );
    }

    #[test]
    fn registries_and_keys() {
        assert_eq!(registry_of("127.0.0.1:5000/fn:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("me/fn"), "docker.io");
        assert!(same_registry("https://index.docker.io/v1/", "docker.io"));
        assert!(same_registry("http://127.0.0.1:5000", "127.0.0.1:5000"));
        assert!(!same_registry("127.0.0.1:5001", "127.0.0.1:5000"));
    }
}
