//! Docker's credential-helper protocol: `docker-credential-<name> get` reads a server name on
//! its standard input and answers `{"ServerURL": ..., "Username": ..., "Secret": ...}`, or
//! exits non-zero saying `credentials not found in native keychain`. A user name of
//! `<token>` makes the secret an identity token.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{AuthError, Credentials};

/// What the helpers print when they hold nothing for a server.
const NOT_FOUND: &str = "credentials not found";
/// A helper answering later than this is stopped (a locked keychain waiting for a prompt).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes read from a helper's output.
const MAX_OUTPUT: u64 = 1 << 20;

/// How helpers are run.
#[derive(Debug, Clone)]
pub struct Helpers {
    /// The `PATH` helpers are looked up in; `None` is this process's own.
    pub path: Option<OsString>,
    /// How long a helper may take.
    pub timeout: Duration,
}

impl Default for Helpers {
    fn default() -> Self {
        Helpers {
            path: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Helpers {
    /// Runs `docker-credential-<name> get` for `server`: its credentials, or `None` when it
    /// has none.
    pub fn get(&self, name: &str, server: &str) -> Result<Option<Credentials>, AuthError> {
        let fail = |why: String| AuthError::Helper {
            helper: name.to_owned(),
            server: server.to_owned(),
            why,
        };
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if name.is_empty() || !name.chars().all(valid) || name.starts_with('.') {
            return Err(fail(
                "not a helper name (letters, digits, '-', '_', '.')".to_owned(),
            ));
        }
        let program = format!("docker-credential-{name}");
        let mut command = Command::new(&program);
        if let Some(path) = &self.path {
            command.env("PATH", path);
        }
        let mut child = command
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => fail(format!("{program} is not on PATH")),
                _ => fail(format!("cannot run {program}: {e}")),
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading is judged by its answer below.
            let _ = stdin.write_all(server.as_bytes());
        }
        let read = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                if let Some(pipe) = pipe {
                    let _ = pipe.take(MAX_OUTPUT).read_to_string(&mut text);
                }
                text
            })
        };
        let stdout = read(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let stderr = read(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(fail(format!("no answer within {:?}", self.timeout)));
                }
                Err(e) => return Err(fail(format!("cannot wait for it: {e}"))),
            }
        };
        let out = stdout.join().unwrap_or_default();
        let err = stderr.join().unwrap_or_default();
        if !status.success() {
            if out.contains(NOT_FOUND) || err.contains(NOT_FOUND) {
                return Ok(None);
            }
            let said = [out.trim(), err.trim()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(fail(format!("{status}: {said}")));
        }
        parse_answer(&out).map(Some).map_err(fail)
    }
}

/// A helper's JSON answer as credentials.
fn parse_answer(text: &str) -> Result<Credentials, String> {
    let answer: Value =
        serde_json::from_str(text.trim()).map_err(|e| format!("answered no JSON: {e}"))?;
    let field = |name: &str| answer.get(name).and_then(Value::as_str).unwrap_or_default();
    let (username, secret) = (field("Username"), field("Secret"));
    if secret.is_empty() {
        return Err("answered no Secret".to_owned());
    }
    Ok(if username == "<token>" {
        Credentials::IdentityToken(secret.to_owned())
    } else if username.is_empty() {
        return Err("answered no Username".to_owned());
    } else {
        Credentials::Basic {
            username: username.to_owned(),
            password: secret.to_owned(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A real helper program on a private PATH: answers for `127.0.0.1:5000` from a
    /// "store", says "not found" for others, and fails or hangs for two special servers.
    fn helpers_with_script() -> (tempfile::TempDir, Helpers) {
        let dir = tempfile::tempdir().unwrap();
        let script = r#"#!/bin/sh
[ "$1" = get ] || { echo "unknown action $1" >&2; exit 2; }
server=$(cat)
case "$server" in
  127.0.0.1:5000) echo '{"ServerURL":"127.0.0.1:5000","Username":"alice","Secret":"s3cret"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"x","Username":"<token>","Secret":"refresh"}' ;;
  broken.io) echo 'keychain is locked' >&2; exit 1 ;;
  slow.io) sleep 5 ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
"#;
        let path = dir.path().join("docker-credential-test");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let system = std::env::var_os("PATH").unwrap_or_default();
        let mut search = OsString::from(dir.path());
        search.push(":");
        search.push(system);
        let helpers = Helpers {
            path: Some(search),
            timeout: Duration::from_millis(500),
        };
        (dir, helpers)
    }

    #[test]
    fn a_helper_answers_as_docker_runs_it() {
        let (_dir, helpers) = helpers_with_script();
        assert_eq!(
            helpers.get("test", "127.0.0.1:5000").unwrap(),
            Some(Credentials::Basic {
                username: "alice".into(),
                password: "s3cret".into()
            })
        );
        assert_eq!(
            helpers.get("test", "https://index.docker.io/v1/").unwrap(),
            Some(Credentials::IdentityToken("refresh".into()))
        );
        assert_eq!(helpers.get("test", "ghcr.io").unwrap(), None);
        let locked = helpers.get("test", "broken.io").unwrap_err().to_string();
        assert!(locked.contains("keychain is locked"), "{locked}");
        let started = Instant::now();
        let slow = helpers.get("test", "slow.io").unwrap_err().to_string();
        assert!(slow.contains("no answer within"), "{slow}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the helper was not stopped"
        );
        let missing = helpers.get("absent", "ghcr.io").unwrap_err().to_string();
        assert!(missing.contains("not on PATH"), "{missing}");
        for bad in ["../../bin/sh", "", ".x", "a b"] {
            assert!(helpers.get(bad, "ghcr.io").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn answers_are_checked() {
        assert!(parse_answer("nope").is_err());
        assert!(parse_answer(r#"{"Username":"a"}"#).is_err());
        assert!(parse_answer(r#"{"Secret":"s"}"#).is_err());
    }

    #[test]
    fn a_config_runs_its_helper() {
        let (_dir, helpers) = helpers_with_script();
        let config = crate::DockerConfig::parse(
            r#"{"credHelpers":{"127.0.0.1:5000":"test"},"auths":{"127.0.0.1:5000":{"auth":"b2xkOm9sZA=="}}}"#,
            std::path::Path::new("config.json"),
        )
        .unwrap();
        let found = config
            .credentials(
                "127.0.0.1:5000",
                &helpers,
                std::path::Path::new("config.json"),
            )
            .unwrap();
        assert!(
            matches!(found, Some(Credentials::Basic { ref username, .. }) if username == "alice"),
            "the helper wins over auths, as in Docker: {found:?}"
        );
        let store = crate::DockerConfig::parse(
            r#"{"credsStore":"test"}"#,
            std::path::Path::new("config.json"),
        )
        .unwrap();
        assert_eq!(
            store
                .credentials("docker.io", &helpers, std::path::Path::new("config.json"))
                .unwrap(),
            Some(Credentials::IdentityToken("refresh".into()))
        );
    }
}
