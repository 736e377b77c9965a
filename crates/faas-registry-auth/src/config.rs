//! A Docker `config.json`: where it is, and which of its entries names a registry.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::helper::Helpers;
use crate::{decode_basic, same_registry, AuthError, Credentials};

/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`, as the `docker` program
/// looks for it; `var` reads the environment (the process's, or a CLI's own view of it).
pub fn default_config_path(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    if let Some(dir) = var("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    var("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".docker/config.json"))
}

/// A parsed `config.json` (a JSON object).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DockerConfig {
    /// The whole object, other keys (`psFormat`, `proxies`, ...) kept.
    pub map: Map<String, Value>,
}

impl DockerConfig {
    /// Parses a config file's text; `path` is for the error.
    pub fn parse(text: &str, path: &Path) -> Result<DockerConfig, AuthError> {
        let bad = |why: String| AuthError::Config {
            path: path.display().to_string(),
            why,
        };
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(DockerConfig { map }),
            Ok(_) => Err(bad("not a JSON object".to_owned())),
            Err(err) => Err(bad(format!("not JSON: {err}"))),
        }
    }

    /// Reads `path`; a missing file is `None`.
    pub fn read(path: &Path) -> Result<Option<DockerConfig>, AuthError> {
        match std::fs::read_to_string(path) {
            Ok(text) => DockerConfig::parse(&text, path).map(Some),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(AuthError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    fn object(&self, key: &str) -> Option<&Map<String, Value>> {
        self.map.get(key).and_then(Value::as_object)
    }

    /// The `auths` key and entry that name `registry`.
    pub fn auths_entry(&self, registry: &str) -> Option<(&str, &Value)> {
        self.object("auths")?
            .iter()
            .find(|(key, _)| same_registry(key, registry))
            .map(|(key, entry)| (key.as_str(), entry))
    }

    /// The credential helper Docker would run for `registry`: its `credHelpers` entry, else
    /// `credsStore`.
    pub fn helper_for(&self, registry: &str) -> Option<&str> {
        let own = self.object("credHelpers").and_then(|helpers| {
            helpers
                .iter()
                .find(|(key, _)| same_registry(key, registry))
                .and_then(|(_, name)| name.as_str())
        });
        own.or_else(|| self.map.get("credsStore").and_then(Value::as_str))
            .filter(|name| !name.trim().is_empty())
    }

    /// Whether the config has anything for `registry`: an `auths` entry or a helper.
    pub fn names(&self, registry: &str) -> bool {
        self.auths_entry(registry).is_some() || self.helper_for(registry).is_some()
    }

    /// `registry`'s credentials, in Docker's order: its helper, else its `auths` entry.
    /// `path` is for errors.
    pub fn credentials(
        &self,
        registry: &str,
        helpers: &Helpers,
        path: &Path,
    ) -> Result<Option<Credentials>, AuthError> {
        if let Some(helper) = self.helper_for(registry) {
            let server = self
                .auths_entry(registry)
                .map(|(key, _)| key.to_owned())
                .unwrap_or_else(|| server_url(registry));
            return helpers.get(helper, &server);
        }
        let Some((_, entry)) = self.auths_entry(registry) else {
            return Ok(None);
        };
        let field = |name: &str| {
            entry
                .get(name)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        if let Some(token) = field("auth") {
            return decode_basic(token)
                .map(Some)
                .ok_or_else(|| AuthError::Config {
                    path: path.display().to_string(),
                    why: format!("its auth for {registry} is not base64 of user:password"),
                });
        }
        Ok(
            match (field("username"), field("password"), field("identitytoken")) {
                (Some(user), Some(password), _) => Some(Credentials::Basic {
                    username: user.to_owned(),
                    password: password.to_owned(),
                }),
                (_, _, Some(token)) => Some(Credentials::IdentityToken(token.to_owned())),
                _ => None,
            },
        )
    }
}

/// The server name Docker gives a helper: Docker Hub's historical URL, else the host.
fn server_url(registry: &str) -> String {
    if same_registry("docker.io", registry) {
        "https://index.docker.io/v1/".to_owned()
    } else {
        registry.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> DockerConfig {
        DockerConfig::parse(text, Path::new("config.json")).unwrap()
    }

    #[test]
    fn auths_entries_by_host() {
        let c = config(
            r#"{"auths":{
            "127.0.0.1:5000":{"auth":"YWxpY2U6czNjcmV0"},
            "https://index.docker.io/v1/":{"username":"bob","password":"pw"},
            "quay.io":{"identitytoken":"tok"},
            "bad.io":{"auth":"bm9jb2xvbg=="}}}"#,
        );
        let none = Helpers::default();
        let get = |r: &str| c.credentials(r, &none, Path::new("config.json"));
        assert_eq!(
            get("127.0.0.1:5000").unwrap(),
            Some(Credentials::Basic {
                username: "alice".into(),
                password: "s3cret".into()
            })
        );
        assert!(
            matches!(get("docker.io").unwrap(), Some(Credentials::Basic { username, .. }) if username == "bob")
        );
        assert_eq!(
            get("quay.io").unwrap(),
            Some(Credentials::IdentityToken("tok".into()))
        );
        assert_eq!(get("ghcr.io").unwrap(), None);
        assert!(get("bad.io").is_err());
        assert!(DockerConfig::parse("[1]", Path::new("c")).is_err());
        assert!(DockerConfig::parse("{", Path::new("c")).is_err());
    }

    #[test]
    fn helpers_in_dockers_order() {
        let c = config(
            r#"{"credsStore":"desktop","credHelpers":{"ghcr.io":"gh"},"auths":{"127.0.0.1:5000":{}}}"#,
        );
        assert_eq!(c.helper_for("ghcr.io"), Some("gh"));
        assert_eq!(c.helper_for("127.0.0.1:5000"), Some("desktop"));
        assert_eq!(c.helper_for("docker.io"), Some("desktop"));
        assert!(c.names("quay.io"), "credsStore covers every registry");
        let plain = config(r#"{"auths":{"127.0.0.1:5000":{}}}"#);
        assert_eq!(plain.helper_for("127.0.0.1:5000"), None);
        assert!(plain.names("127.0.0.1:5000"));
        assert!(!plain.names("ghcr.io"));
        assert_eq!(server_url("docker.io"), "https://index.docker.io/v1/");
        assert_eq!(server_url("ghcr.io"), "ghcr.io");
    }

    #[test]
    fn config_path_as_docker_finds_it() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert_eq!(
            default_config_path(env(&[("DOCKER_CONFIG", "/d"), ("HOME", "/h")])),
            Some(PathBuf::from("/d/config.json"))
        );
        assert_eq!(
            default_config_path(env(&[("HOME", "/h")])),
            Some(PathBuf::from("/h/.docker/config.json"))
        );
        assert_eq!(default_config_path(env(&[])), None);
    }
}
