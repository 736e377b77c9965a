//! `template pull`: copies the `template/` folder of a git repository into the project's
//! `./template/`, where `new`, `build` and `up` find templates, as OpenFaaS's faas-cli does.
//!
//! The repository is cloned with the `git` program (so the user's credentials, SSH keys and
//! proxies work as they do for git itself), shallowly, at the branch or tag named after a `#`
//! (`https://host/repo#1.0`). Each folder under the repository's `template/` (or the folder
//! given) becomes `./template/<name>/`; a folder already there is kept unless `overwrite` is
//! set, and then it is replaced whole: the new copy is written beside it and renamed into
//! place, so an interrupted pull never leaves a half-copied template.

use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use crate::package;

/// Where `template pull` fetches from when given no repository and `OPENFAAS_TEMPLATE_URL`
/// is unset (OpenFaaS's default).
pub const DEFAULT_TEMPLATE_REPOSITORY: &str = "https://github.com/openfaas/templates.git";

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// Neither a git URL nor a local folder.
    #[error("{0:?} is not a git repository URL (https://, http://, ssh://, git://, file://, user@host:path) or a local folder")]
    NotARepository(String),
    /// The `#ref` part is not a valid branch or tag name.
    #[error("invalid tag or branch name {0:?} (see `git help check-ref-format` for the rules git enforces)")]
    BadRef(String),
    /// The template path escapes the repository.
    #[error("template path {0:?} must be a folder inside the repository (relative, without `..`)")]
    BadPath(String),
    /// git is not installed.
    #[error("`git` was not found on PATH: faas-cli template pull clones with git; install it (e.g. `apt-get install git`)")]
    NoGit,
    /// `git clone` failed.
    #[error("git clone of {url}{at} failed: {detail}")]
    Clone {
        /// The repository.
        url: String,
        /// ` at <ref>` or empty.
        at: String,
        /// What git said.
        detail: String,
    },
    /// The repository has no template folder.
    #[error("{url} has no {path}/ folder: there are no templates to pull from it")]
    NoTemplates {
        /// The repository.
        url: String,
        /// The folder looked for.
        path: String,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Copying a template failed.
    #[error(transparent)]
    Copy(#[from] package::BuildError),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PullError + '_ {
    move |source| PullError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A repository to pull from: its URL (or folder) and the branch or tag to check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// What `git clone` is given.
    pub url: String,
    /// The branch or tag after `#`, if any.
    pub reference: Option<String>,
}

impl Repository {
    /// Parses `url[#ref]`. A local folder (relative to `base`) is accepted as it is, even
    /// when its name holds a `#`, and given to git as an absolute path.
    pub fn parse(text: &str, base: &Path) -> Result<Repository, PullError> {
        if text.is_empty() || text.starts_with('-') {
            return Err(PullError::NotARepository(text.to_owned()));
        }
        let local = |path: &str| {
            let folder = base.join(path);
            folder.is_dir().then(|| Repository {
                url: folder.display().to_string(),
                reference: None,
            })
        };
        if !is_git_remote(text) {
            if let Some(repository) = local(text) {
                return Ok(repository);
            }
        }
        let (url, reference) = match text.split_once('#') {
            Some((url, reference)) => (url, Some(reference.to_owned())),
            None => (text, None),
        };
        if let Some(reference) = &reference {
            if !is_valid_ref(reference) {
                return Err(PullError::BadRef(reference.clone()));
            }
        }
        if is_git_remote(url) {
            return Ok(Repository {
                url: url.to_owned(),
                reference,
            });
        }
        match local(url) {
            Some(folder) => Ok(Repository {
                reference,
                ..folder
            }),
            None => Err(PullError::NotARepository(text.to_owned())),
        }
    }

    /// ` at <ref>`, or nothing.
    pub fn at(&self) -> String {
        self.reference
            .as_deref()
            .map(|r| format!(" at {r}"))
            .unwrap_or_default()
    }
}

/// Whether `url` names a remote git repository: a URL with a scheme git clones, or scp-like
/// `user@host:path`.
pub fn is_git_remote(url: &str) -> bool {
    const SCHEMES: [&str; 5] = ["https://", "http://", "ssh://", "git://", "file://"];
    if SCHEMES
        .iter()
        .any(|s| url.len() > s.len() && url[..s.len()].eq_ignore_ascii_case(s))
    {
        return true;
    }
    match url.split_once('@') {
        Some((user, rest)) => match rest.split_once(':') {
            Some((host, path)) => {
                !user.is_empty()
                    && !host.is_empty()
                    && !path.is_empty()
                    && !user.contains('/')
                    && !host.contains('/')
            }
            None => false,
        },
        None => false,
    }
}

/// git's rules for a branch or tag name (`git check-ref-format --allow-onelevel`), checked
/// here so a bad name gets a clear error before anything is cloned.
pub fn is_valid_ref(name: &str) -> bool {
    if name.is_empty()
        || name == "@"
        || name.starts_with('-')
        || name.starts_with('/')
        || name.ends_with('/')
        || name.ends_with('.')
        || name.contains("..")
        || name.contains("@{")
        || name.contains("//")
    {
        return false;
    }
    if name
        .chars()
        .any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c))
    {
        return false;
    }
    name.split('/')
        .all(|part| !part.starts_with('.') && !part.ends_with(".lock"))
}

/// What a pull did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pulled {
    /// Templates written to `./template/`.
    pub fetched: Vec<String>,
    /// Templates already there and kept (no `overwrite`).
    pub kept: Vec<String>,
}

/// Clones `repository` with the `git` at `git` into a temporary folder and installs its
/// templates (from `template_path`, default `template`) into `templates_dir`. With `keep_clone`
/// the clone is left on disk and its path returned.
pub fn pull(
    git: &Path,
    repository: &Repository,
    template_path: Option<&str>,
    templates_dir: &Path,
    overwrite: bool,
    keep_clone: bool,
) -> Result<(Pulled, Option<PathBuf>), PullError> {
    let source = checked_template_path(template_path)?;
    let clone = tempfile::Builder::new()
        .prefix("faas-cli-templates-")
        .tempdir()
        .map_err(io_error(&std::env::temp_dir()))?;
    let checkout = clone.path().join("repository");
    clone_repository(git, repository, &checkout)?;
    let from = checkout.join(&source);
    if !from.is_dir() {
        return Err(PullError::NoTemplates {
            url: repository.url.clone(),
            path: source.display().to_string(),
        });
    }
    let pulled = install(&from, templates_dir, overwrite)?;
    let kept = keep_clone.then(|| clone.keep());
    Ok((pulled, kept))
}

fn checked_template_path(path: Option<&str>) -> Result<PathBuf, PullError> {
    let Some(path) = path.filter(|p| !p.is_empty()) else {
        return Ok(PathBuf::from("template"));
    };
    let relative = Path::new(path);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(PullError::BadPath(path.to_owned()));
    }
    Ok(relative.to_path_buf())
}

fn clone_repository(git: &Path, repository: &Repository, into: &Path) -> Result<(), PullError> {
    let mut command = Command::new(git);
    command
        .args(["-c", "advice.detachedHead=false", "clone", "--quiet"])
        .arg("--depth=1");
    if let Some(reference) = &repository.reference {
        command.arg("--branch").arg(reference);
    }
    let output = command
        .arg("--")
        .arg(&repository.url)
        .arg(into)
        // A private repository without credentials fails instead of waiting for a password.
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PullError::NoGit,
            _ => PullError::Io {
                path: git.display().to_string(),
                source: e,
            },
        })?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let detail = said
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("warning:"))
        .collect::<Vec<_>>()
        .join("; ");
    Err(PullError::Clone {
        url: repository.url.clone(),
        at: repository.at(),
        detail: if detail.is_empty() {
            output.status.to_string()
        } else {
            detail
        },
    })
}

/// Copies every folder of `from` into `templates_dir/<name>/`, keeping existing ones unless
/// `overwrite`. Names come out sorted.
pub fn install(from: &Path, templates_dir: &Path, overwrite: bool) -> Result<Pulled, PullError> {
    let mut names: Vec<String> = std::fs::read_dir(from)
        .map_err(io_error(from))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    std::fs::create_dir_all(templates_dir).map_err(io_error(templates_dir))?;
    let mut pulled = Pulled::default();
    for name in names {
        let target = templates_dir.join(&name);
        if target.exists() && !overwrite {
            pulled.kept.push(name);
            continue;
        }
        replace_folder(&from.join(&name), &target, templates_dir, &name)?;
        pulled.fetched.push(name);
    }
    Ok(pulled)
}

/// Writes a copy of `source` beside `target`, then swaps it in.
fn replace_folder(
    source: &Path,
    target: &Path,
    templates_dir: &Path,
    name: &str,
) -> Result<(), PullError> {
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.pull-"))
        .tempdir_in(templates_dir)
        .map_err(io_error(templates_dir))?;
    package::copy_tree(source, staging.path(), &[])?;
    // The staging folder was made private (0700); the template keeps its source's mode.
    let mode = std::fs::metadata(source)
        .map_err(io_error(source))?
        .permissions();
    std::fs::set_permissions(staging.path(), mode).map_err(io_error(staging.path()))?;
    if target.exists() {
        let old = tempfile::Builder::new()
            .prefix(&format!(".{name}.old-"))
            .tempdir_in(templates_dir)
            .map_err(io_error(templates_dir))?;
        let parked = old.path().join(name);
        std::fs::rename(target, &parked).map_err(io_error(target))?;
        std::fs::rename(staging.keep(), target).map_err(io_error(target))?;
        // `old` (with the previous copy inside) is removed when it drops.
        return Ok(());
    }
    std::fs::rename(staging.keep(), target).map_err(io_error(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_pinned_refs() {
        let here = Path::new(".");
        let pinned = Repository::parse("https://github.com/openfaas/templates#1.0", here).unwrap();
        assert_eq!(pinned.url, "https://github.com/openfaas/templates");
        assert_eq!(pinned.reference.as_deref(), Some("1.0"));
        assert_eq!(pinned.at(), " at 1.0");
        let plain = Repository::parse(DEFAULT_TEMPLATE_REPOSITORY, here).unwrap();
        assert_eq!(plain.reference, None);
        assert_eq!(plain.at(), "");
        for remote in [
            "git@github.com:openfaas/templates.git",
            "ssh://git@example.com/x.git",
            "file:///srv/templates",
            "HTTPS://example.com/x#feature/one",
        ] {
            Repository::parse(remote, here).unwrap_or_else(|e| panic!("{remote}: {e}"));
        }
        for bad in [
            "",
            "--upload-pack=touch",
            "no-such-folder-here",
            "github.com/openfaas/templates",
            "https://",
            "@host:path",
        ] {
            assert!(
                matches!(
                    Repository::parse(bad, here),
                    Err(PullError::NotARepository(_))
                ),
                "{bad:?}"
            );
        }
        for bad_ref in ["a..b", "-x", "x.lock", "a b", "x:y", ".hidden", "x/", "a~1"] {
            let text = format!("https://example.com/t#{bad_ref}");
            assert!(
                matches!(Repository::parse(&text, here), Err(PullError::BadRef(_))),
                "{bad_ref:?}"
            );
        }
    }

    #[test]
    fn local_folders_are_repositories_relative_to_the_project() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("repo#1")).unwrap();
        std::fs::create_dir(dir.path().join("repo")).unwrap();
        let odd = Repository::parse("repo#1", dir.path()).unwrap();
        assert_eq!(odd.reference, None);
        assert_eq!(Path::new(&odd.url), dir.path().join("repo#1"));
        let pinned = Repository::parse("repo#v2", dir.path()).unwrap();
        assert_eq!(pinned.reference.as_deref(), Some("v2"));
        assert_eq!(Path::new(&pinned.url), dir.path().join("repo"));
    }

    #[test]
    fn template_paths_stay_inside_the_repository() {
        assert_eq!(
            checked_template_path(None).unwrap(),
            PathBuf::from("template")
        );
        assert_eq!(
            checked_template_path(Some("a/b")).unwrap(),
            PathBuf::from("a/b")
        );
        for bad in ["../x", "/etc", "a/../../b"] {
            assert!(matches!(
                checked_template_path(Some(bad)),
                Err(PullError::BadPath(_))
            ));
        }
    }

    #[test]
    fn install_keeps_or_replaces_whole_folders() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        let to = dir.path().join("template");
        std::fs::create_dir_all(from.join("alpha/function")).unwrap();
        std::fs::create_dir_all(from.join(".github")).unwrap();
        std::fs::write(from.join("alpha/template.yml"), "language: alpha\n").unwrap();
        std::fs::write(from.join("alpha/function/handler.sh"), "cat\n").unwrap();
        std::fs::write(from.join("README.md"), "not a template").unwrap();

        let first = install(&from, &to, false).unwrap();
        assert_eq!(first.fetched, ["alpha"]);
        assert!(first.kept.is_empty());

        std::fs::write(to.join("alpha/template.yml"), "language: mine\n").unwrap();
        std::fs::write(to.join("alpha/extra"), "left over").unwrap();
        let second = install(&from, &to, false).unwrap();
        assert_eq!(second.kept, ["alpha"]);
        assert_eq!(
            std::fs::read_to_string(to.join("alpha/template.yml")).unwrap(),
            "language: mine\n"
        );

        let third = install(&from, &to, true).unwrap();
        assert_eq!(third.fetched, ["alpha"]);
        assert_eq!(
            std::fs::read_to_string(to.join("alpha/template.yml")).unwrap(),
            "language: alpha\n"
        );
        assert!(!to.join("alpha/extra").exists(), "replaced whole");
        let left: Vec<_> = std::fs::read_dir(&to)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["alpha"], "no staging folders left behind");
    }
}
