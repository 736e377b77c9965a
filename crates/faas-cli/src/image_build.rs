//! Container image builds, as OpenFaaS's faas-cli makes them: the template's Dockerfile with
//! the handler in `./build/NAME/`, built by the `docker` program (the classic builder,
//! `DOCKER_BUILDKIT=0`, which needs nothing from a registry when the base images are local),
//! then `docker push` to the registry the image name points at (credentials from Docker's own
//! `config.json`, as `docker login` leaves them).
//!
//! Whether `build`, `push`, `up` and `publish` make images or packages: `--artifact image` or
//! `--artifact package` force it; `auto` (the default) asks the gateway's `/system/info`:
//! `orchestration` `process` means packages, anything else (docker, kubernetes) images, and a
//! gateway that does not answer means packages. The choice and its reason are printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::context::Context;
use crate::stack::{Function, Stack};
use crate::templates::Template;

/// What a build makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Artifact {
    /// Images when the gateway runs containers, packages when it runs processes.
    Auto,
    /// Container images (docker build, docker push).
    Image,
    /// Packages for the process runtime (tar.gz uploaded to the gateway).
    Package,
}

static CHOSEN: OnceLock<Artifact> = OnceLock::new();

/// Images or packages for this run (decided once, printed once).
pub fn choose(ctx: &Context, stack: &Stack, flag: Option<Artifact>) -> anyhow::Result<Artifact> {
    if let Some(chosen) = CHOSEN.get() {
        return Ok(*chosen);
    }
    let (chosen, why) = match flag.unwrap_or(Artifact::Auto) {
        Artifact::Image => (Artifact::Image, "--artifact image".to_owned()),
        Artifact::Package => (Artifact::Package, "--artifact package".to_owned()),
        Artifact::Auto => {
            let Ok(client) = ctx.client(Some(stack)) else {
                return Ok(*CHOSEN.get_or_init(|| Artifact::Package));
            };
            let base = client.base().to_owned();
            match orchestration(client) {
                Some(kind) if kind == "process" => (
                    Artifact::Package,
                    format!("the gateway at {base} runs processes"),
                ),
                Some(kind) => (
                    Artifact::Image,
                    format!("the gateway at {base} runs containers (orchestration {kind})"),
                ),
                None => (
                    Artifact::Package,
                    format!("the gateway at {base} did not say what it runs"),
                ),
            }
        }
    };
    let what = match chosen {
        Artifact::Image => "container images",
        _ => "packages",
    };
    println!("Building {what}: {why} (--artifact image|package to choose).");
    Ok(*CHOSEN.get_or_init(|| chosen))
}

/// `/system/info`'s `orchestration`, asked on a thread of its own (the commands that build
/// are synchronous), within 5 s.
fn orchestration(client: crate::gateway::GatewayClient) -> Option<String> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), client.info())
                .await
                .ok()?
                .ok()
                .map(|info| info.provider.orchestration)
        })
    })
    .join()
    .ok()
    .flatten()
    .filter(|kind| !kind.is_empty())
}

/// What an image build needs besides the function and its template.
pub struct ImageOptions<'a> {
    pub shrinkwrap: bool,
    pub no_cache: bool,
    pub pull: bool,
    pub verbose: bool,
    /// `--build-arg` pairs (over the stack's `build_args`).
    pub build_args: &'a std::collections::BTreeMap<String, String>,
}

/// Builds one function's image (or, with `shrinkwrap`, only writes its build context).
pub fn build(
    project: &Path,
    function: &Function,
    template: &Template,
    options: &ImageOptions<'_>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let dir = write_context(project, function, template)?;
    if !dir.join("Dockerfile").is_file() {
        bail!(
            "the {} template has no Dockerfile, so {} cannot be built as an image: use --artifact package",
            template.name,
            function.name
        );
    }
    if options.shrinkwrap {
        println!(
            "{}: wrote ./build/{} (the image's build context; not built: --shrinkwrap).",
            function.name, function.name
        );
        return Ok(());
    }
    let image = crate::commands::build::image_of(function);
    let mut command = Command::new("docker");
    command
        .arg("build")
        .arg("--tag")
        .arg(&image)
        .env("DOCKER_BUILDKIT", "0")
        .current_dir(&dir);
    for (key, value) in &function.build_args {
        if !options.build_args.contains_key(key) {
            command.arg("--build-arg").arg(format!("{key}={value}"));
        }
    }
    for (key, value) in options.build_args {
        command.arg("--build-arg").arg(format!("{key}={value}"));
    }
    if options.no_cache {
        command.arg("--no-cache");
    }
    if options.pull {
        command.arg("--pull");
    }
    command.arg(".");
    run_docker(command, options.verbose, &format!("building {image}"))?;
    println!(
        "Image: {image} built in {:.2}s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Pushes the stack's images (`only` when given) to their registries.
pub fn push(
    stack: &Stack,
    only: Option<&std::collections::BTreeSet<String>>,
) -> anyhow::Result<()> {
    for function in stack.functions.values() {
        if only.is_some_and(|o| !o.contains(&function.name)) {
            continue;
        }
        if function.skip_build {
            println!("Skipping push of: {} (skip_build).", function.name);
            continue;
        }
        let image = crate::commands::build::image_of(function);
        if !names_registry(&image) {
            println!(
                "Not pushing {image}: it names no registry (a host such as registry.example.com/ or 127.0.0.1:5000/), so only an engine that built it has it."
            );
            continue;
        }
        let mut command = Command::new("docker");
        command.arg("push").arg(&image);
        run_docker(command, false, &format!("pushing {image}"))?;
        println!("Pushed {image}.");
    }
    Ok(())
}

/// Whether an image name starts with a registry host (`host.tld/`, `host:port/`, `localhost/`).
fn names_registry(image: &str) -> bool {
    match image.split_once('/') {
        Some((first, _)) => first.contains('.') || first.contains(':') || first == "localhost",
        None => false,
    }
}

fn run_docker(mut command: Command, verbose: bool, doing: &str) -> anyhow::Result<()> {
    if verbose {
        command.stdout(Stdio::inherit()).stderr(Stdio::inherit());
        let status = command.status().map_err(no_docker)?;
        if !status.success() {
            bail!("{doing} failed ({status})");
        }
        return Ok(());
    }
    let output = command.output().map_err(no_docker)?;
    if !output.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("{doing} failed ({}):\n{}", output.status, tail.join("\n"));
    }
    Ok(())
}

fn no_docker(err: std::io::Error) -> anyhow::Error {
    if err.kind() == std::io::ErrorKind::NotFound {
        anyhow::anyhow!(
            "the `docker` program was not found on PATH: image builds need Docker (or use --artifact package)"
        )
    } else {
        anyhow::anyhow!("cannot run docker: {err}")
    }
}

/// `./build/NAME/`: the template's files (template.yml aside) with the handler in its
/// `handler_folder`, or the handler alone for templates whose handler is the package (the
/// `dockerfile` template).
fn write_context(
    project: &Path,
    function: &Function,
    template: &Template,
) -> anyhow::Result<PathBuf> {
    let handler = project.join(&function.handler);
    if function.handler.is_empty() || !handler.is_dir() {
        bail!(
            "function {}: handler folder {:?} not found",
            function.name,
            function.handler
        );
    }
    let build_root = project.join("build");
    let dir = build_root.join(&function.name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let skip = build_root.canonicalize().unwrap_or(build_root);
    if template.meta.handler_is_package() {
        copy_tree(&handler, &dir, &skip)?;
        return Ok(dir);
    }
    for file in &template.files {
        if file.path == Path::new("template.yml") {
            continue;
        }
        let target = dir.join(&file.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, &file.bytes)
            .with_context(|| format!("cannot write {}", target.display()))?;
        if file.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    let handler_target = dir.join(template.meta.handler_folder());
    if handler_target.exists() {
        std::fs::remove_dir_all(&handler_target)?;
    }
    std::fs::create_dir_all(&handler_target)?;
    copy_tree(&handler, &handler_target, &skip)?;
    Ok(dir)
}

/// Copies a folder's files (links followed, `skip` and `.git` left out).
fn copy_tree(from: &Path, to: &Path, skip: &Path) -> anyhow::Result<()> {
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let path = entry.path();
        if path.canonicalize().is_ok_and(|p| p == skip) || entry.file_name() == ".git" {
            continue;
        }
        let target = to.join(entry.file_name());
        if path.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&path, &target, skip)?;
        } else {
            std::fs::copy(&path, &target)
                .with_context(|| format!("cannot copy {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn registry_hosts() {
        assert!(super::names_registry("127.0.0.1:5000/hello:latest"));
        assert!(super::names_registry("ghcr.io/me/hello"));
        assert!(super::names_registry("localhost/hello"));
        assert!(!super::names_registry("me/hello:latest"));
        assert!(!super::names_registry("hello"));
    }
}
