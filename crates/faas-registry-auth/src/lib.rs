//! Registry credentials as the `docker` program finds them, shared by faas-cli (a deployment's
//! `registryAuth` for `--send-registry-auth`) and the docker provider (image pulls).
//!
//! A Docker `config.json` names a registry's credentials in one of three places, tried in
//! Docker's order: `credHelpers` (a helper program for that registry), then `credsStore` (one
//! helper for all), then `auths` (`auth` = base64 of `user:password`, or `username` and
//! `password`, or an `identitytoken`). A helper is the program `docker-credential-<name>` on
//! `PATH`, run as Docker runs it ([`helper`]). This crate reads and runs; it keeps nothing.
//!
//! Modules: [`config`] (the file, and which entry names a registry), [`helper`] (the
//! credential-helper protocol).

pub mod config;
pub mod helper;

pub use config::{default_config_path, DockerConfig};
pub use faas_types::registry::{registry_of, same_registry};

use base64::Engine as _;

/// A registry's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A user name and password (or a token used as a password).
    Basic { username: String, password: String },
    /// An OAuth refresh token (`identitytoken`, or a helper's `<token>` user name).
    IdentityToken(String),
}

impl Credentials {
    /// OpenFaaS's `registryAuth` form: base64 of `user:password` (`None` for a token, which
    /// that field cannot carry).
    pub fn registry_auth(&self) -> Option<String> {
        match self {
            Credentials::Basic { username, password } => Some(
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")),
            ),
            Credentials::IdentityToken(_) => None,
        }
    }
}

/// Decodes base64 of `user:password` (an `auths` entry's `auth`, or `registryAuth`).
pub fn decode_basic(token: &str) -> Option<Credentials> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (username, password) = text.split_once(':')?;
    (!username.is_empty()).then(|| Credentials::Basic {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

/// Why credentials could not be found.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The config file cannot be read.
    #[error("cannot read the Docker config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The config file is not what Docker writes.
    #[error("the Docker config {path} cannot be used: {why}")]
    Config { path: String, why: String },
    /// A credential helper failed (not "no credentials": that is `Ok(None)`).
    #[error("credential helper docker-credential-{helper} for {server}: {why}")]
    Helper {
        helper: String,
        server: String,
        why: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_tokens_decode_and_encode() {
        let alice = decode_basic("YWxpY2U6czNjcmV0").unwrap();
        assert_eq!(
            alice,
            Credentials::Basic {
                username: "alice".into(),
                password: "s3cret".into()
            }
        );
        assert_eq!(alice.registry_auth().as_deref(), Some("YWxpY2U6czNjcmV0"));
        assert_eq!(decode_basic("not base64!"), None);
        assert_eq!(decode_basic("bm9jb2xvbg=="), None, "no colon");
        assert_eq!(decode_basic("OnB3"), None, "empty user");
        assert_eq!(Credentials::IdentityToken("t".into()).registry_auth(), None);
    }
}
