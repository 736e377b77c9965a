//! Credentials for image pulls. A deployment's `registryAuth` (OpenFaaS's field: base64 of
//! `user:password`) wins; else the `auths` entry for the image's registry in a Docker
//! `config.json`: the file [`crate::DockerConfig::registry_config`] names (faasd's
//! `--docker-config`), else `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, as the
//! `docker` client looks for it. The file is read at each pull, so a `docker login` on the
//! server applies without a restart. Credential helpers (`credsStore`, `credHelpers`) are
//! programs this server does not run: their registries need an `auth` entry in the file.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use faas_provider::ProviderError;
pub(crate) use faas_types::registry::{registry_of, same_registry};

/// The credentials to pull `image` with, if any.
pub(crate) fn for_pull(
    image: &str,
    registry_auth: Option<&str>,
    config: Option<&Path>,
) -> Result<Option<DockerCredentials>, ProviderError> {
    let registry = registry_of(image);
    if let Some(token) = registry_auth.filter(|t| !t.trim().is_empty()) {
        let (username, password) = decode(token).ok_or_else(|| {
            ProviderError::Invalid(
                "registryAuth is not base64 of user:password (as `echo -n user:password | base64` makes it)"
                    .to_owned(),
            )
        })?;
        return Ok(Some(credentials(registry, username, password)));
    }
    let Some(path) = config.map(Path::to_path_buf).or_else(default_config) else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && config.is_none() => {
            return Ok(None)
        }
        Err(err) => {
            return Err(ProviderError::Unavailable(format!(
                "cannot read the Docker config {} for registry credentials: {err}",
                path.display()
            )))
        }
    };
    from_config(&text, registry).map_err(|why| {
        ProviderError::Unavailable(format!(
            "the Docker config {} cannot be used for registry credentials: {why}",
            path.display()
        ))
    })
}

/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
fn default_config() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".docker/config.json"))
}

/// The `auths` entry of a config.json for `registry`.
fn from_config(text: &str, registry: &str) -> Result<Option<DockerCredentials>, String> {
    let config: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let auths = config.get("auths").and_then(|a| a.as_object());
    let entry = auths.and_then(|auths| {
        auths
            .iter()
            .find(|(key, _)| same_registry(key, registry))
            .map(|(_, entry)| entry)
    });
    let Some(entry) = entry else {
        let helper = config
            .get("credHelpers")
            .and_then(|h| h.as_object())
            .is_some_and(|h| h.keys().any(|k| same_registry(k, registry)));
        if helper || config.get("credsStore").is_some() {
            tracing::warn!(
                registry,
                "the Docker config names a credential helper, which this server does not run: pulling without credentials"
            );
        }
        return Ok(None);
    };
    let field = |name: &str| {
        entry
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
    };
    if let Some(token) = field("auth") {
        let (username, password) = decode(token)
            .ok_or_else(|| format!("its auth for {registry} is not base64 of user:password"))?;
        return Ok(Some(credentials(registry, username, password)));
    }
    match (field("username"), field("password"), field("identitytoken")) {
        (Some(user), Some(password), _) => Ok(Some(credentials(
            registry,
            user.to_owned(),
            password.to_owned(),
        ))),
        (_, _, Some(token)) => Ok(Some(DockerCredentials {
            identitytoken: Some(token.to_owned()),
            serveraddress: Some(registry.to_owned()),
            ..Default::default()
        })),
        _ => Ok(None),
    }
}

fn decode(token: &str) -> Option<(String, String)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    (!user.is_empty()).then(|| (user.to_owned(), password.to_owned()))
}

fn credentials(registry: &str, username: String, password: String) -> DockerCredentials {
    DockerCredentials {
        username: Some(username),
        password: Some(password),
        serveraddress: Some(registry.to_owned()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_of_images() {
        assert_eq!(registry_of("127.0.0.1:5000/fn:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("ghcr.io/me/fn"), "ghcr.io");
        assert_eq!(registry_of("me/fn"), "docker.io");
        assert_eq!(registry_of("fn"), "docker.io");
    }

    #[test]
    fn registry_auth_wins_and_must_be_user_password() {
        let c = for_pull("127.0.0.1:5000/fn", Some("YWxpY2U6czNjcmV0"), None)
            .unwrap()
            .unwrap();
        assert_eq!(c.username.as_deref(), Some("alice"));
        assert_eq!(c.password.as_deref(), Some("s3cret"));
        assert_eq!(c.serveraddress.as_deref(), Some("127.0.0.1:5000"));
        for bad in ["not base64!", "bm9jb2xvbg=="] {
            let err = for_pull("127.0.0.1:5000/fn", Some(bad), None).unwrap_err();
            assert!(matches!(err, ProviderError::Invalid(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn config_entries_by_host() {
        let text = r#"{"auths":{
            "127.0.0.1:5000":{"auth":"YWxpY2U6czNjcmV0"},
            "https://index.docker.io/v1/":{"username":"bob","password":"pw"}}}"#;
        let local = from_config(text, "127.0.0.1:5000").unwrap().unwrap();
        assert_eq!(local.username.as_deref(), Some("alice"));
        let hub = from_config(text, "docker.io").unwrap().unwrap();
        assert_eq!(hub.username.as_deref(), Some("bob"));
        assert!(from_config(text, "ghcr.io").unwrap().is_none());
        assert!(from_config("{", "ghcr.io").is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, text).unwrap();
        let c = for_pull("127.0.0.1:5000/fn:1", None, Some(&path))
            .unwrap()
            .unwrap();
        assert_eq!(c.password.as_deref(), Some("s3cret"));
        // A file named on purpose that is missing is an error, not a pull without credentials.
        let err = for_pull("127.0.0.1:5000/fn:1", None, Some(&dir.path().join("no"))).unwrap_err();
        assert!(err.to_string().contains("cannot read"), "{err}");
    }
}
