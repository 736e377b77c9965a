//! Embeds `templates/` (at the workspace root) and `store/` into the binary: writes a table of
//! `include_bytes!` entries to `$OUT_DIR/embedded.rs`. Cargo re-runs this when a file under
//! either folder changes, and rustc tracks each included file.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const SKIP: &[&str] = &[
    "__pycache__",
    "node_modules",
    "target",
    ".DS_Store",
    "build",
    "Cargo.lock",
];

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf, bool)>) {
    let mut entries: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(Result::ok).collect(),
        Err(_) => return,
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if SKIP.contains(&name.as_str()) || name.ends_with(".pyc") {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            collect(root, &path, out);
        } else if meta.is_file() {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let executable = meta.permissions().mode() & 0o111 != 0;
            out.push((relative, path, executable));
        }
    }
}

fn table(name: &str, root: &Path, code: &mut String) {
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(root, root, &mut files);
    writeln!(code, "/// Files under `{}`.", root.display()).unwrap();
    writeln!(code, "pub static {name}: &[EmbeddedFile] = &[").unwrap();
    for (relative, path, executable) in files {
        writeln!(
            code,
            "    EmbeddedFile {{ path: {relative:?}, bytes: include_bytes!({:?}), executable: {executable} }},",
            path.canonicalize().unwrap().display().to_string()
        )
        .unwrap();
    }
    writeln!(code, "];").unwrap();
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let mut code = String::new();
    table(
        "TEMPLATE_FILES",
        &manifest.join("../../templates"),
        &mut code,
    );
    table("STORE_FILES", &manifest.join("store"), &mut code);
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded.rs");
    std::fs::write(out, code).unwrap();
}
