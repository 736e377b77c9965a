//! The process backend's packages: an upload is staged, inspected, stored and unpacked
//! through [`faas_provider_process::fuzzing::store_package`], in a fresh data directory under
//! a temporary sandbox directory for each input.
//!
//! An input that does not start with gzip's magic bytes is taken as the tar inside and
//! compressed first, so that the fuzzer's mutations reach the tar entries instead of breaking
//! the gzip stream (one that does start with them is stored as it is).
//!
//! A package is either refused as the client's mistake (400: `ProviderError::Invalid`), or
//! unpacked so that nothing escapes its directory: only regular files, directories and
//! symlinks; every symlink's target stays inside (read as the kernel would, from the link's
//! directory); every hard link's other names are inside too; and nothing is written anywhere
//! else in the sandbox but the package store. Any other error is a finding: inspection let
//! through an archive that unpacking then failed on, which the server answers with a 500.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use faas_provider::ProviderError;
use flate2::write::GzEncoder;
use flate2::Compression;

/// What the sandbox holds beside the data directory, to see that it is left alone.
const BYSTANDER: &[u8] = b"not part of any package\n";

/// The target's body.
pub fn run(data: &[u8]) {
    let sandbox = tempfile::tempdir().expect("a temporary directory");
    let data_dir = sandbox.path().join("data");
    let bystander = sandbox.path().join("outside").join("keep");
    fs::create_dir_all(&data_dir).expect("the data directory");
    fs::create_dir_all(bystander.parent().unwrap()).expect("a directory beside it");
    fs::write(&bystander, BYSTANDER).expect("a file beside it");

    let archive = if data.starts_with(&[0x1f, 0x8b]) {
        data.to_vec()
    } else {
        gzip(data)
    };
    match faas_provider_process::fuzzing::store_package(&data_dir, &archive) {
        Ok(dir) => {
            assert!(
                dir.starts_with(data_dir.join("packages").join("unpacked")),
                "unpacked into {}",
                dir.display()
            );
            check_contained(&dir);
        }
        Err(ProviderError::Invalid(_)) => {}
        Err(other) => panic!("a package got a server error instead of a 400: {other:?}"),
    }

    check_only_store_written(sandbox.path(), &bystander);
}

fn gzip(tar: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(tar).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// Every entry below `root` is a file, directory or symlink that stays inside `root`.
fn check_contained(root: &Path) {
    let mut inodes: HashMap<u64, (u64, u64)> = HashMap::new();
    for (path, meta) in walk(root) {
        let kind = meta.file_type();
        let relative = path.strip_prefix(root).expect("below the root");
        if kind.is_symlink() {
            let target = fs::read_link(&path).expect("a symlink's target");
            let parent = relative.parent().unwrap_or(Path::new(""));
            assert!(
                stays_inside(&parent.join(&target)),
                "symlink {} points outside its package: {}",
                relative.display(),
                target.display()
            );
        } else if kind.is_file() {
            let seen = inodes.entry(meta.ino()).or_insert((0, meta.nlink()));
            seen.0 += 1;
        } else {
            assert!(
                kind.is_dir(),
                "{} is not a file, directory or symlink",
                relative.display()
            );
        }
    }
    for (inode, (inside, links)) in inodes {
        assert_eq!(
            inside, links,
            "inode {inode} has {links} names but only {inside} in the package: a hard link leaves it"
        );
    }
}

/// Whether a relative path, its `..` taken lexically, never climbs above its start.
fn stays_inside(path: &Path) -> bool {
    let mut depth = 0usize;
    for component in path.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Outside `data/packages/`, the sandbox holds what it held before.
fn check_only_store_written(sandbox: &Path, bystander: &Path) {
    let store = sandbox.join("data").join("packages");
    for (path, meta) in walk(sandbox) {
        if path.starts_with(&store) {
            continue;
        }
        let expected = [
            sandbox.join("data"),
            bystander.parent().unwrap().to_path_buf(),
            bystander.to_path_buf(),
        ];
        assert!(
            expected.contains(&path),
            "written outside the store: {}",
            path.display()
        );
        assert!(
            !meta.file_type().is_symlink(),
            "{} became a symlink",
            path.display()
        );
    }
    assert_eq!(fs::read(bystander).expect("the file beside it"), BYSTANDER);
}

/// Every entry below `root` (not `root` itself), symlinks not followed. Directories are
/// made the owner's to read and remove first (an archive may make them read-only).
fn walk(root: &Path) -> Vec<(PathBuf, fs::Metadata)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let mode = fs::symlink_metadata(&dir).map_or(0o700, |m| m.permissions().mode());
        if mode & 0o700 != 0o700 {
            let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(mode | 0o700));
        }
        for entry in fs::read_dir(&dir).expect("a readable directory").flatten() {
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).expect("an entry's metadata");
            if meta.is_dir() {
                dirs.push(path.clone());
            }
            out.push((path, meta));
        }
    }
    out
}
