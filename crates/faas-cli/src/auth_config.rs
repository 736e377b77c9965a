//! The credentials file OpenFaaS's faas-cli keeps: `~/.openfaas/config.yml` (the folder may be
//! moved with `OPENFAAS_CONFIG`), mode 0600, holding
//! `auths: [{gateway, auth: basic, token: base64(user:password)}]`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::env::CliEnv;

/// The file's name inside its folder.
pub const CONFIG_FILE: &str = "config.yml";

/// The config file cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// Neither OPENFAAS_CONFIG nor HOME is set.
    #[error("cannot find the faas-cli config folder: set HOME or OPENFAAS_CONFIG")]
    NoLocation,
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid config.
    #[error("{0}")]
    Parse(#[from] crate::stack::StackError),
    /// A token is not base64 of `user:password`.
    #[error("the saved credentials for {gateway} are not valid base64 of user:password; run `faas-cli login -g {gateway}` again")]
    BadToken {
        /// The gateway.
        gateway: String,
    },
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFile {
    /// One entry per gateway.
    #[serde(default)]
    pub auths: Vec<AuthEntry>,
}

/// One gateway's credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthEntry {
    /// The gateway URL (no trailing slash).
    pub gateway: String,
    /// `basic` (or `oauth2`, whose token is sent as a bearer token).
    pub auth: String,
    /// base64 of `user:password` for basic auth.
    pub token: String,
}

/// Credentials to send to a gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP basic auth.
    Basic {
        /// User.
        user: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

/// Where the config file is: `$OPENFAAS_CONFIG/config.yml`, else `~/.openfaas/config.yml`.
pub fn config_path(env: &CliEnv) -> Result<PathBuf, AuthConfigError> {
    if let Some(location) = &env.openfaas_config {
        let is_file = location
            .extension()
            .is_some_and(|e| e == "yml" || e == "yaml");
        return Ok(if is_file {
            location.clone()
        } else {
            location.join(CONFIG_FILE)
        });
    }
    let home = env.home.as_ref().ok_or(AuthConfigError::NoLocation)?;
    Ok(home.join(".openfaas").join(CONFIG_FILE))
}

/// The gateway as stored: no trailing slash.
pub fn normalize_gateway(gateway: &str) -> String {
    gateway.trim().trim_end_matches('/').to_owned()
}

impl ConfigFile {
    /// Reads the file; a missing file is an empty config.
    pub fn read(path: &Path) -> Result<ConfigFile, AuthConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => Ok(ConfigFile::default()),
            Ok(text) => Ok(crate::stack::parse_yaml(&text, path)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
            Err(source) => Err(AuthConfigError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Writes the file with mode 0600 (its folder 0700), replacing it atomically.
    pub fn write(&self, path: &Path) -> Result<(), AuthConfigError> {
        let io = |source| AuthConfigError::Io {
            path: path.display().to_string(),
            source,
        };
        let text = serde_saphyr::to_string(self).map_err(|e| io(std::io::Error::other(e)))?;
        crate::private_file::write(path, text.as_bytes()).map_err(io)
    }

    /// Saves basic-auth credentials for `gateway`, replacing any there were.
    pub fn set_basic(&mut self, gateway: &str, user: &str, password: &str) {
        let gateway = normalize_gateway(gateway);
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.auths
            .retain(|a| normalize_gateway(&a.gateway) != gateway);
        self.auths.push(AuthEntry {
            gateway,
            auth: "basic".to_owned(),
            token,
        });
    }

    /// Forgets `gateway`; true when there was an entry.
    pub fn remove(&mut self, gateway: &str) -> bool {
        let gateway = normalize_gateway(gateway);
        let before = self.auths.len();
        self.auths
            .retain(|a| normalize_gateway(&a.gateway) != gateway);
        self.auths.len() != before
    }

    /// The credentials saved for `gateway`.
    pub fn credentials(&self, gateway: &str) -> Result<Option<Credentials>, AuthConfigError> {
        let gateway = normalize_gateway(gateway);
        let Some(entry) = self
            .auths
            .iter()
            .find(|a| normalize_gateway(&a.gateway) == gateway)
        else {
            return Ok(None);
        };
        if entry.auth != "basic" {
            return Ok(Some(Credentials::Bearer(entry.token.clone())));
        }
        let bad = || AuthConfigError::BadToken {
            gateway: gateway.clone(),
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(entry.token.trim())
            .map_err(|_| bad())?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (user, password) = text.split_once(':').ok_or_else(bad)?;
        Ok(Some(Credentials::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn round_trip_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg").join(CONFIG_FILE);
        let mut config = ConfigFile::default();
        config.set_basic("http://127.0.0.1:8080/", "admin", "s3cr:et");
        config.set_basic("http://other:8080", "bob", "pw");
        config.write(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("auth: basic"), "{text}");
        let read = ConfigFile::read(&path).unwrap();
        assert_eq!(
            read.credentials("http://127.0.0.1:8080").unwrap(),
            Some(Credentials::Basic {
                user: "admin".into(),
                password: "s3cr:et".into()
            })
        );
        let mut read = read;
        assert!(read.remove("http://other:8080/"));
        assert_eq!(read.auths.len(), 1);
    }

    #[test]
    fn reads_openfaas_written_files() {
        let text =
            "auths:\n- gateway: http://127.0.0.1:8080\n  auth: basic\n  token: YWRtaW46cGFzcw==\n";
        let config: ConfigFile = crate::stack::parse_yaml(text, Path::new("c.yml")).unwrap();
        assert_eq!(
            config.credentials("http://127.0.0.1:8080").unwrap(),
            Some(Credentials::Basic {
                user: "admin".into(),
                password: "pass".into()
            })
        );
    }

    #[test]
    fn openfaas_config_is_a_folder() {
        let mut env = CliEnv {
            openfaas_config: Some(PathBuf::from("/tmp/x")),
            ..CliEnv::default()
        };
        assert_eq!(
            config_path(&env).unwrap(),
            PathBuf::from("/tmp/x/config.yml")
        );
        env.openfaas_config = Some(PathBuf::from("/tmp/x/my.yaml"));
        assert_eq!(config_path(&env).unwrap(), PathBuf::from("/tmp/x/my.yaml"));
        env.openfaas_config = None;
        env.home = Some(PathBuf::from("/home/u"));
        assert_eq!(
            config_path(&env).unwrap(),
            PathBuf::from("/home/u/.openfaas/config.yml")
        );
    }
}
