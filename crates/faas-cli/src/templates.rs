//! Language templates: the ones built into the binary (the repository's `templates/`), a
//! `./template/<lang>/` folder as OpenFaaS's `template pull` leaves it, or a local folder named
//! in a stack file's `configuration.templates`.
//!
//! `template.yml` holds OpenFaaS's keys (`language`, `fprocess`, `welcome_message`,
//! `handler_folder`, `build_options`) and ours for the process runtime: `mode` (the watchdog
//! mode), `env` (more package environment), `build` (steps run in the build folder),
//! `requires` (programs the steps need), `package_root: handler` (the handler folder itself is
//! the package, as for `dockerfile`), `exclude` (paths left out of the package) and
//! `no_fprocess_message` (what to say when neither the template nor the stack gives a
//! `fprocess`), `description` (one line for `template store list` and `new --list`),
//! `checks` (commands that tell whether a library the template needs is installed) and
//! `extends` (a built-in template whose files this one starts from, as `node18` does `node`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A file built into the binary.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedFile {
    /// Path relative to the embedded folder, `/`-separated.
    pub path: &'static str,
    /// Contents.
    pub bytes: &'static [u8],
    /// Whether it had an execute bit.
    pub executable: bool,
}

mod embedded {
    use super::EmbeddedFile;
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

pub use embedded::{STORE_FILES, TEMPLATE_FILES};

/// A template cannot be found or read.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// No template of that name anywhere.
    #[error("template {lang:?} is unavailable: choose one of {available} (see `faas-cli new --list`), or put one in ./template/{lang}/")]
    Unknown {
        /// The language asked for.
        lang: String,
        /// The ones there are.
        available: String,
    },
    /// A `configuration.templates` entry from git is not in ./template/.
    #[error("template {name:?} comes from {source_url:?} but ./template/{name}/ is missing: run `faas-cli template pull stack` (build and up pull it themselves unless given --disable-stack-pull), and check that the repository has a template/{name}/ folder")]
    Remote {
        /// The template's name.
        name: String,
        /// Where it should come from.
        source_url: String,
    },
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// template.yml is malformed.
    #[error("{0}")]
    Parse(#[from] crate::stack::StackError),
}

/// One build step of a template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildStep {
    /// What the step does, shown while it runs.
    pub name: String,
    /// A shell command run with `sh -c` in the build folder.
    pub run: String,
    /// Run only when this file (relative to the build folder) exists and declares something:
    /// a requirements-style file needs a line that is not blank or a comment, a
    /// `package.json` a non-empty `dependencies`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_file: Option<String>,
    /// A folder the step fills, kept between builds keyed on the step and its `if_file`, so an
    /// unchanged dependency list is not installed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    /// Programs this step needs, checked only when it will run (its `if_file` declares
    /// something).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
}

/// A check that something the template needs, beyond a program on PATH, is installed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolchainCheck {
    /// A shell command that exits 0 when it is there.
    pub run: String,
    /// What it checks for ("Flask for python3").
    pub needs: String,
    /// How to get it.
    #[serde(default)]
    pub hint: String,
}

/// `template.yml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateMeta {
    /// The language's name.
    #[serde(default)]
    pub language: String,
    /// One line about the template.
    #[serde(default)]
    pub description: Option<String>,
    /// A built-in template whose files this one starts from (its own files win).
    #[serde(default)]
    pub extends: Option<String>,
    /// The function's process.
    #[serde(default)]
    pub fprocess: Option<String>,
    /// Printed after `new`.
    #[serde(default)]
    pub welcome_message: Option<String>,
    /// Where the handler goes inside the build folder (default `function`).
    #[serde(default)]
    pub handler_folder: Option<String>,
    /// OpenFaaS's named build options (kept for compatibility; not used by the process runtime).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_options: Vec<serde_json::Value>,
    /// The watchdog mode (`classic`, `streaming`, `http`, ...).
    #[serde(default)]
    pub mode: Option<String>,
    /// More package environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Build steps for the process runtime.
    #[serde(default)]
    pub build: Vec<BuildStep>,
    /// Programs the build steps or the function need on this machine.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Other things the function needs on this machine (a library of its language).
    #[serde(default)]
    pub checks: Vec<ToolchainCheck>,
    /// `handler`: the handler folder is the package (no scaffolding).
    #[serde(default)]
    pub package_root: Option<String>,
    /// The function writes into its own directory: its package asks the process runtime for a
    /// writable copy per replica (`"writable": true` in `faas-package.json`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub writable: bool,
    /// Paths (relative to the build folder) left out of the package.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Said when neither the template nor the stack gives a `fprocess`.
    #[serde(default)]
    pub no_fprocess_message: Option<String>,
}

impl TemplateMeta {
    /// The handler folder's name inside the build folder.
    pub fn handler_folder(&self) -> &str {
        self.handler_folder
            .as_deref()
            .filter(|h| !h.is_empty())
            .unwrap_or("function")
    }

    /// Whether the handler folder is the whole package.
    pub fn handler_is_package(&self) -> bool {
        self.package_root.as_deref() == Some("handler")
    }

    /// The template's one-line description: `description`, else the first sentence of its
    /// welcome message.
    pub fn summary(&self) -> String {
        if let Some(description) = self.description.as_deref().filter(|d| !d.trim().is_empty()) {
            return description.trim().to_owned();
        }
        let welcome = self.welcome_message.as_deref().unwrap_or("");
        let flat = welcome.split_whitespace().collect::<Vec<_>>().join(" ");
        match flat.find(". ") {
            Some(end) => flat[..=end].to_owned(),
            None => flat,
        }
    }
}

/// One file of a template.
#[derive(Debug, Clone)]
pub struct TemplateFile {
    /// Path relative to the template's folder.
    pub path: PathBuf,
    /// Contents.
    pub bytes: Vec<u8>,
    /// Executable.
    pub executable: bool,
}

/// Where a template came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateOrigin {
    /// Built into faas-cli.
    Embedded,
    /// A folder on disk.
    Folder(PathBuf),
}

/// A loaded template.
#[derive(Debug, Clone)]
pub struct Template {
    /// Its name (the `lang`).
    pub name: String,
    /// template.yml.
    pub meta: TemplateMeta,
    /// Every file, template.yml included.
    pub files: Vec<TemplateFile>,
    /// Where it came from.
    pub origin: TemplateOrigin,
}

impl Template {
    /// The files of the starter handler (under `handler_folder`), relative to it.
    pub fn handler_files(&self) -> Vec<TemplateFile> {
        let folder = Path::new(self.meta.handler_folder());
        self.files
            .iter()
            .filter_map(|f| {
                let relative = if folder == Path::new(".") {
                    Some(f.path.as_path())
                } else {
                    f.path.strip_prefix(folder).ok()
                };
                let relative = relative?;
                if relative == Path::new("template.yml") && folder == Path::new(".") {
                    return None;
                }
                Some(TemplateFile {
                    path: relative.to_path_buf(),
                    ..f.clone()
                })
            })
            .collect()
    }
}

/// Where to look for templates, in order: stack `configuration.templates` folders, then
/// `<dir>/template/`, then the built-in ones.
#[derive(Debug, Clone, Default)]
pub struct TemplateSources {
    /// `configuration.templates` entries: name and source.
    pub configured: Vec<(String, String)>,
    /// The project folder holding `template/`.
    pub dir: PathBuf,
}

impl TemplateSources {
    /// Sources for a project in `dir`.
    pub fn new(dir: &Path) -> TemplateSources {
        TemplateSources {
            configured: Vec::new(),
            dir: dir.to_path_buf(),
        }
    }

    /// Finds and loads `lang`.
    pub fn load(&self, lang: &str) -> Result<Template, TemplateError> {
        if let Some((name, source)) = self.configured.iter().find(|(n, _)| n == lang) {
            if crate::template_pull::is_git_remote(source) {
                let local = self.dir.join("template").join(name);
                if local.is_dir() {
                    return load_folder(name, &local);
                }
                return Err(TemplateError::Remote {
                    name: name.clone(),
                    source_url: source.clone(),
                });
            }
            let folder = self.dir.join(source);
            let folder = if folder.join("template.yml").is_file() {
                folder
            } else {
                folder.join("template").join(name)
            };
            return load_folder(name, &folder);
        }
        let local = self.dir.join("template").join(lang);
        if local.join("template.yml").is_file() {
            return load_folder(lang, &local);
        }
        load_embedded(lang).ok_or_else(|| TemplateError::Unknown {
            lang: lang.to_owned(),
            available: self.names().join(", "),
        })
    }

    /// Every template's name: built-in and `./template/*`, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names = embedded_names();
        if let Ok(entries) = std::fs::read_dir(self.dir.join("template")) {
            for entry in entries.flatten() {
                if entry.path().join("template.yml").is_file() {
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
        names.extend(self.configured.iter().map(|(n, _)| n.clone()));
        names.sort();
        names.dedup();
        names
    }
}

/// The built-in templates' names.
pub fn embedded_names() -> Vec<String> {
    let mut names: Vec<String> = TEMPLATE_FILES
        .iter()
        .filter_map(|f| f.path.strip_suffix("/template.yml"))
        .filter(|n| !n.contains('/'))
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

/// A built-in template; one that `extends` another starts from that one's files.
pub fn load_embedded(lang: &str) -> Option<Template> {
    let mut template = load_embedded_alone(lang)?;
    if let Some(base) = template.meta.extends.clone().filter(|b| b != lang) {
        let base = load_embedded_alone(&base)?;
        let own: Vec<PathBuf> = template.files.iter().map(|f| f.path.clone()).collect();
        let inherited = base
            .files
            .into_iter()
            .filter(|f| !own.contains(&f.path) && f.path != Path::new("template.yml"));
        template.files.extend(inherited);
        template.files.sort_by(|a, b| a.path.cmp(&b.path));
    }
    Some(template)
}

fn load_embedded_alone(lang: &str) -> Option<Template> {
    let prefix = format!("{lang}/");
    let files: Vec<TemplateFile> = TEMPLATE_FILES
        .iter()
        .filter_map(|f| {
            Some(TemplateFile {
                path: PathBuf::from(f.path.strip_prefix(&prefix)?),
                bytes: f.bytes.to_vec(),
                executable: f.executable,
            })
        })
        .collect();
    let meta_file = files.iter().find(|f| f.path == Path::new("template.yml"))?;
    let text = String::from_utf8_lossy(&meta_file.bytes);
    let meta: TemplateMeta =
        crate::stack::parse_yaml(&text, Path::new(&format!("<built-in>/{lang}/template.yml")))
            .ok()?;
    Some(Template {
        name: lang.to_owned(),
        meta,
        files,
        origin: TemplateOrigin::Embedded,
    })
}

/// A template folder on disk.
pub fn load_folder(name: &str, folder: &Path) -> Result<Template, TemplateError> {
    let meta_path = folder.join("template.yml");
    let text = std::fs::read_to_string(&meta_path).map_err(|source| TemplateError::Io {
        path: meta_path.display().to_string(),
        source,
    })?;
    let meta: TemplateMeta = crate::stack::parse_yaml(&text, &meta_path)?;
    let mut files = Vec::new();
    read_tree(folder, folder, &mut files)?;
    Ok(Template {
        name: name.to_owned(),
        meta,
        files,
        origin: TemplateOrigin::Folder(folder.to_path_buf()),
    })
}

fn read_tree(root: &Path, dir: &Path, out: &mut Vec<TemplateFile>) -> Result<(), TemplateError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |path: &Path, source| TemplateError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        if name == "__pycache__" || name == "node_modules" || name == "target" || name == ".git" {
            continue;
        }
        let linked = entry.file_type().is_ok_and(|t| t.is_symlink());
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            // A link to nothing is not part of the template.
            Err(_) if linked => continue,
            Err(e) => return Err(io(&path, e)),
        };
        if meta.is_dir() {
            // A linked folder may point back up the tree (`loop -> .`): only real folders
            // are walked.
            if !linked {
                read_tree(root, &path, out)?;
            }
        } else if meta.is_file() {
            out.push(TemplateFile {
                path: path.strip_prefix(root).unwrap_or(&path).to_path_buf(),
                bytes: std::fs::read(&path).map_err(|e| io(&path, e))?,
                executable: meta.permissions().mode() & 0o111 != 0,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_template_loads_with_a_handler() {
        let names = embedded_names();
        for expected in [
            "bash",
            "dockerfile",
            "go",
            "golang-http",
            "golang-middleware",
            "java11",
            "java17",
            "node",
            "node18",
            "node20",
            "php8",
            "python3",
            "python3-flask",
            "python3-http",
            "ruby",
            "rust",
        ] {
            assert!(names.contains(&expected.to_string()), "{names:?}");
        }
        for name in names {
            let template = load_embedded(&name).unwrap_or_else(|| panic!("{name} loads"));
            assert_eq!(template.meta.language, name);
            assert!(!template.handler_files().is_empty(), "{name} has a handler");
            assert!(
                !template.meta.summary().is_empty() && !template.meta.summary().contains('\n'),
                "{name} has a one-line description"
            );
            assert!(
                template
                    .files
                    .iter()
                    .any(|f| f.path.ends_with("Dockerfile")),
                "{name} has a Dockerfile"
            );
        }
    }

    #[test]
    fn an_extending_template_has_its_base_files_and_its_own() {
        let node18 = load_embedded("node18").unwrap();
        let paths: Vec<_> = node18.files.iter().map(|f| f.path.clone()).collect();
        assert!(paths.contains(&PathBuf::from("index.js")), "{paths:?}");
        assert!(
            paths.contains(&PathBuf::from("function/handler.js")),
            "{paths:?}"
        );
        assert_eq!(node18.meta.language, "node18");
        let http = load_embedded("golang-http").unwrap();
        let main = http
            .files
            .iter()
            .find(|f| f.path == Path::new("main.go"))
            .unwrap();
        assert!(
            String::from_utf8_lossy(&main.bytes).contains("templates-sdk/go-http"),
            "golang-http's own main.go wins over go's"
        );
        assert!(http.files.iter().any(|f| f.path == Path::new("build.sh")));
    }

    #[test]
    fn summaries_are_whole_descriptions() {
        let go = load_embedded("go").unwrap();
        assert_eq!(go.meta.summary(), "Classic Golang template");
        let meta = TemplateMeta {
            welcome_message: Some("Handles calls. Really\nwell.".into()),
            ..TemplateMeta::default()
        };
        assert_eq!(meta.summary(), "Handles calls.");
    }

    #[test]
    fn local_template_folder_wins() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("template/python3");
        std::fs::create_dir_all(t.join("function")).unwrap();
        std::fs::write(
            t.join("template.yml"),
            "language: python3\nfprocess: mine\n",
        )
        .unwrap();
        std::fs::write(t.join("function/handler.py"), "x").unwrap();
        let sources = TemplateSources::new(dir.path());
        let template = sources.load("python3").unwrap();
        assert_eq!(template.meta.fprocess.as_deref(), Some("mine"));
        assert!(matches!(template.origin, TemplateOrigin::Folder(_)));
        assert!(sources
            .load("cobol")
            .unwrap_err()
            .to_string()
            .contains("python3"));
    }

    #[test]
    fn linked_folders_and_dangling_links_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("template/looped");
        std::fs::create_dir_all(t.join("function")).unwrap();
        std::fs::write(t.join("template.yml"), "language: looped\n").unwrap();
        std::fs::write(t.join("function/handler.sh"), "cat\n").unwrap();
        std::os::unix::fs::symlink(".", t.join("function/loop")).unwrap();
        std::os::unix::fs::symlink("/no/such/file", t.join("dangling")).unwrap();
        std::os::unix::fs::symlink("handler.sh", t.join("function/alias.sh")).unwrap();
        let template = TemplateSources::new(dir.path()).load("looped").unwrap();
        let mut paths: Vec<_> = template.files.iter().map(|f| f.path.clone()).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                PathBuf::from("function/alias.sh"),
                PathBuf::from("function/handler.sh"),
                PathBuf::from("template.yml")
            ]
        );
    }
}
