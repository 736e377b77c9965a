//! Credentials for image pulls. A deployment's `registryAuth` (OpenFaaS's field: base64 of
//! `user:password`) wins; else what a Docker `config.json` names for the image's registry
//! (its credential helper, else its `auths` entry; `faas-registry-auth`): the file
//! [`crate::DockerConfig::registry_config`] names (faasd's `--docker-config`), else
//! `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, as the `docker` client looks
//! for it. The file is read at each pull, so a `docker login` on the server applies without a
//! restart. Helpers (`docker-credential-*`) are looked up on the server's `PATH`; this blocks,
//! so callers run it off the async threads.

use std::path::Path;

use bollard::auth::DockerCredentials;
use faas_provider::ProviderError;
use faas_registry_auth::helper::Helpers;
pub(crate) use faas_registry_auth::registry_of;
use faas_registry_auth::{decode_basic, default_config_path, Credentials, DockerConfig};

/// The credentials to pull `image` with, if any.
pub(crate) fn for_pull(
    image: &str,
    registry_auth: Option<&str>,
    config: Option<&Path>,
) -> Result<Option<DockerCredentials>, ProviderError> {
    let registry = registry_of(image);
    if let Some(token) = registry_auth.filter(|t| !t.trim().is_empty()) {
        let found = decode_basic(token).ok_or_else(|| {
            ProviderError::Invalid(
                "registryAuth is not base64 of user:password (as `echo -n user:password | base64` makes it)"
                    .to_owned(),
            )
        })?;
        return Ok(Some(credentials(registry, found)));
    }
    let Some(path) = config
        .map(Path::to_path_buf)
        .or_else(|| default_config_path(|name| std::env::var_os(name)))
    else {
        return Ok(None);
    };
    let unavailable = |err: faas_registry_auth::AuthError| {
        ProviderError::Unavailable(format!("registry credentials: {err}"))
    };
    let parsed = match DockerConfig::read(&path).map_err(unavailable)? {
        Some(parsed) => parsed,
        // A file named on purpose that is missing is an error, not a pull without credentials.
        None if config.is_some() => {
            return Err(ProviderError::Unavailable(format!(
                "cannot read the Docker config {} for registry credentials: it does not exist",
                path.display()
            )))
        }
        None => return Ok(None),
    };
    let found = parsed
        .credentials(registry, &Helpers::default(), &path)
        .map_err(unavailable)?;
    Ok(found.map(|found| credentials(registry, found)))
}

fn credentials(registry: &str, found: Credentials) -> DockerCredentials {
    let serveraddress = Some(registry.to_owned());
    match found {
        Credentials::Basic { username, password } => DockerCredentials {
            username: Some(username),
            password: Some(password),
            serveraddress,
            ..Default::default()
        },
        Credentials::IdentityToken(token) => DockerCredentials {
            identitytoken: Some(token),
            serveraddress,
            ..Default::default()
        },
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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, text).unwrap();
        let c = for_pull("127.0.0.1:5000/fn:1", None, Some(&path))
            .unwrap()
            .unwrap();
        assert_eq!(c.password.as_deref(), Some("s3cret"));
        let hub = for_pull("me/fn", None, Some(&path)).unwrap().unwrap();
        assert_eq!(hub.username.as_deref(), Some("bob"));
        assert!(for_pull("ghcr.io/me/fn", None, Some(&path))
            .unwrap()
            .is_none());
        std::fs::write(&path, "{").unwrap();
        assert!(for_pull("ghcr.io/me/fn", None, Some(&path)).is_err());
        // A file named on purpose that is missing is an error, not a pull without credentials.
        let err = for_pull("127.0.0.1:5000/fn:1", None, Some(&dir.path().join("no"))).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}
