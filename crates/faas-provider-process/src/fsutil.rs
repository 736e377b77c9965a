//! File helpers for the data directory: every state file is replaced atomically (temporary
//! file in the same directory, fsync, rename, fsync of the directory), so a crash leaves either
//! the old or the new content, never a torn one.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Writes `bytes` to `path` atomically with the given mode (e.g. `0o600`).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no parent directory", path.display()),
        )
    })?;
    let mut file = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Writes a replica's copy of a secret: mode 0400, owned by whoever owns `dir` (the
/// function's own uid in a sandbox), replaced atomically so a reader sees old or new.
pub(crate) fn write_secret_copy(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let owner = fs::metadata(dir)?.uid();
    let mut file = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(fs::Permissions::from_mode(0o400))
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    std::os::unix::fs::fchown(file.as_file(), Some(owner), Some(owner))?;
    file.persist(dir.join(name)).map_err(|e| e.error)?;
    Ok(())
}

/// Serializes `value` as pretty JSON and writes it atomically with mode 0600.
pub(crate) fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes, 0o600)
}

/// Flushes a directory's entries (a rename or unlink in it) to disk.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Creates a directory and its parents; the ones created get `mode`. An existing directory's
/// mode is set to `mode` too, so a secrets directory is private whatever made it.
pub(crate) fn create_dir_with_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Removes a file, treating "already gone" as success.
pub(crate) fn remove_file_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes a directory tree, treating "already gone" as success.
pub(crate) fn remove_dir_all_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes a directory if it is empty; anything else (not empty, missing) is ignored.
pub(crate) fn remove_dir_if_empty(path: &Path) {
    let _ = fs::remove_dir(path);
}

/// The names of the entries of a directory (empty when it does not exist), skipping names that
/// are not UTF-8 and hidden ones (temporary files start with `.`).
pub(crate) fn list_names(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry?;
        if let Ok(name) = entry.file_name().into_string() {
            if !name.starts_with('.') {
                names.push(name);
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Removes leftover temporary files (`.tmp-*`) of interrupted atomic writes in `dir`.
pub(crate) fn remove_temp_files(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                let path = entry.path();
                let _ = if path.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
            }
        }
    }
}

/// Gives the owner write access to every directory below `dir`, so it can be removed even if
/// an archive (or a function, in its writable copy) made some read-only. Symlinks are not
/// followed.
pub(crate) fn make_writable(dir: &Path) {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let mode = meta.permissions().mode();
    if mode & 0o700 != 0o700 {
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o700));
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                make_writable(&entry.path());
            }
        }
    }
}

/// Removes a tree its owner may have made read-only (see [`make_writable`]); "already gone"
/// is success.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    make_writable(path);
    remove_dir_all_if_exists(path)
}

/// Copies the tree at `from` to `to` (which must not exist): directories, regular files and
/// symlinks (as links, never followed), keeping permission bits without set-id bits, every
/// entry owned by `owner` when given. The copy is made private (0700) until it is whole, so
/// nobody sees it half-written, then gets the mode of `from`.
pub(crate) fn copy_tree(from: &Path, to: &Path, owner: Option<u32>) -> io::Result<()> {
    let root_mode = fs::symlink_metadata(from)?.permissions().mode() & 0o777;
    fs::DirBuilder::new().mode(0o700).create(to)?;
    copy_entries(from, to, owner)?;
    std::os::unix::fs::lchown(to, owner, owner)?;
    fs::set_permissions(to, fs::Permissions::from_mode(root_mode | 0o200))
}

fn copy_entries(from: &Path, to: &Path, owner: Option<u32>) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let meta = fs::symlink_metadata(&source)?;
        let mode = meta.permissions().mode() & 0o777;
        let kind = meta.file_type();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&source)?, &target)?;
        } else if kind.is_dir() {
            fs::DirBuilder::new().mode(0o700).create(&target)?;
            copy_entries(&source, &target, owner)?;
            fs::set_permissions(&target, fs::Permissions::from_mode(mode | 0o200))?;
        } else if kind.is_file() {
            fs::copy(&source, &target)?;
            fs::set_permissions(&target, fs::Permissions::from_mode(mode | 0o200))?;
        } else {
            continue;
        }
        std::os::unix::fs::lchown(&target, owner, owner)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"one", 0o600).unwrap();
        write_atomic(&path, b"two", 0o400).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o400);
        assert_eq!(list_names(dir.path()).unwrap(), vec!["state.json"]);
    }

    #[test]
    fn copy_tree_keeps_files_links_and_modes_and_is_writable() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        fs::create_dir_all(from.join("lib")).unwrap();
        fs::write(from.join("run.sh"), "echo hi").unwrap();
        fs::set_permissions(from.join("run.sh"), fs::Permissions::from_mode(0o4555)).unwrap();
        fs::write(from.join("lib/data"), "data").unwrap();
        fs::set_permissions(from.join("lib"), fs::Permissions::from_mode(0o555)).unwrap();
        std::os::unix::fs::symlink("lib/data", from.join("link")).unwrap();
        let to = dir.path().join("to");
        let me = fs::metadata(dir.path()).unwrap().uid();
        copy_tree(&from, &to, Some(me)).unwrap();

        assert_eq!(fs::read_to_string(to.join("lib/data")).unwrap(), "data");
        assert_eq!(
            fs::read_link(to.join("link")).unwrap(),
            Path::new("lib/data")
        );
        let mode = |p: &str| {
            fs::symlink_metadata(to.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(
            mode("run.sh"),
            0o755,
            "set-id bits dropped, owner may write"
        );
        assert_eq!(mode("lib"), 0o755);
        fs::write(to.join("lib/new"), "written").unwrap();
        assert!(to.join("lib/new").exists());
        assert!(
            !from.join("lib/new").exists(),
            "the copy is not the original"
        );

        fs::set_permissions(to.join("lib"), fs::Permissions::from_mode(0o500)).unwrap();
        remove_tree(&to).unwrap();
        assert!(!to.exists());
        fs::set_permissions(from.join("lib"), fs::Permissions::from_mode(0o755)).unwrap();
    }
}
