//! The data directory: its schema version and the server's own admin credentials
//! (`secrets/basic-auth-user`, `secrets/basic-auth-password`, OpenFaaS's file names).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The layout version this faasd writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Why the data directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("data directory {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("data directory {path} was written by a newer faasd (schema {found}, this one reads up to {SCHEMA_VERSION}); upgrade faasd or use another --data-dir")]
    Newer { path: String, found: u32 },
    #[error("{path} is empty (or only whitespace): faasd will not serve its API with an empty admin {what}; write one into the file, or delete the file to have a random password made")]
    EmptyCredential { path: String, what: &'static str },
    #[error("data directory {path} has an unreadable VERSION file ({content:?}); it may not be a faasd data directory")]
    BadVersion { path: String, content: String },
}

/// Admin credentials for the API.
pub struct Credentials {
    pub user: String,
    pub password: String,
    /// Where the password is kept, to tell the operator.
    pub password_file: PathBuf,
    /// Whether this start created them.
    pub created: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Creates the directory if needed and checks (or writes) its schema version.
pub fn prepare(dir: &Path) -> Result<(), DataDirError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let version_file = dir.join("VERSION");
    match std::fs::read_to_string(&version_file) {
        Ok(content) => {
            let found: u32 = content
                .trim()
                .parse()
                .map_err(|_| DataDirError::BadVersion {
                    path: dir.display().to_string(),
                    content: content.trim().to_string(),
                })?;
            if found > SCHEMA_VERSION {
                return Err(DataDirError::Newer {
                    path: dir.display().to_string(),
                    found,
                });
            }
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => write_atomic(
            &version_file,
            format!("{SCHEMA_VERSION}\n").as_bytes(),
            0o644,
        ),
        Err(err) => Err(io(&version_file)(err)),
    }
}

/// Reads the admin credentials, creating them (a random password, mode 0600) on first start.
pub fn credentials(dir: &Path) -> Result<Credentials, DataDirError> {
    let secrets = dir.join("secrets");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&secrets)
        .map_err(io(&secrets))?;
    let user_file = secrets.join("basic-auth-user");
    let password_file = secrets.join("basic-auth-password");
    let mut created = false;
    if !user_file.exists() {
        write_atomic(&user_file, b"admin", 0o600)?;
    }
    if !password_file.exists() {
        let password = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        write_atomic(&password_file, &password.as_bytes()[..40], 0o600)?;
        created = true;
    }
    let user = read_credential(&user_file, "user name")?;
    let password = read_credential(&password_file, "password")?;
    Ok(Credentials {
        user,
        password,
        password_file,
        created,
    })
}

/// A credential file's content without surrounding whitespace; never empty.
fn read_credential(path: &Path, what: &'static str) -> Result<String, DataDirError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(DataDirError::EmptyCredential {
            path: path.display().to_string(),
            what,
        });
    }
    Ok(text.to_string())
}

/// Writes a file whole or not at all: a temporary file in the same directory, synced, renamed.
fn write_atomic(path: &Path, content: &[u8], mode: u32) -> Result<(), DataDirError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let temporary = parent.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .map_err(io(&temporary))?;
    file.write_all(content).map_err(io(&temporary))?;
    file.sync_all().map_err(io(&temporary))?;
    std::fs::rename(&temporary, path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_version_and_credentials_once() {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("VERSION")).unwrap(),
            "1\n"
        );
        let first = credentials(dir.path()).unwrap();
        assert!(first.created);
        assert_eq!(first.user, "admin");
        assert_eq!(first.password.len(), 40);
        let mode = std::fs::metadata(&first.password_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = credentials(dir.path()).unwrap();
        assert!(!second.created);
        assert_eq!(second.password, first.password);
    }

    #[test]
    fn refuses_empty_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets");
        std::fs::create_dir_all(&secrets).unwrap();
        std::fs::write(secrets.join("basic-auth-user"), "admin\n").unwrap();
        for empty in ["", " \n\t "] {
            std::fs::write(secrets.join("basic-auth-password"), empty).unwrap();
            let err = credentials(dir.path()).err().expect("refused").to_string();
            assert!(err.contains("empty admin password"), "{err}");
        }
        std::fs::write(secrets.join("basic-auth-password"), "pw\n").unwrap();
        std::fs::write(secrets.join("basic-auth-user"), "").unwrap();
        let err = credentials(dir.path()).err().expect("refused").to_string();
        assert!(err.contains("empty admin user name"), "{err}");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("VERSION"), "7\n").unwrap();
        let err = prepare(dir.path()).unwrap_err().to_string();
        assert!(err.contains("newer faasd"), "{err}");
        std::fs::write(dir.path().join("VERSION"), "banana").unwrap();
        assert!(prepare(dir.path()).is_err());
    }
}
