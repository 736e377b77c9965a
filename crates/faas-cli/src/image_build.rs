//! Container image builds, as OpenFaaS's faas-cli makes them: the template's Dockerfile with
//! the handler in `./build/NAME/`, built by the `docker` program (the classic builder,
//! `DOCKER_BUILDKIT=0`, which needs nothing from a registry when the base images are local),
//! then `docker push` to the registry the image name points at (credentials from Docker's own
//! `config.json`, as `docker login` leaves them, and `faas-cli registry-login`'s
//! `./credentials/config.json`).
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
use crate::docker_config;
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

static CHOSEN: OnceLock<(Artifact, String)> = OnceLock::new();

/// Images or packages for this run (decided once, printed once).
pub fn choose(ctx: &Context, stack: &Stack, flag: Option<Artifact>) -> anyhow::Result<Artifact> {
    if let Some((chosen, _)) = CHOSEN.get() {
        return Ok(*chosen);
    }
    let (chosen, why) = match flag.unwrap_or(Artifact::Auto) {
        Artifact::Image => (Artifact::Image, "--artifact image".to_owned()),
        Artifact::Package => (Artifact::Package, "--artifact package".to_owned()),
        Artifact::Auto => {
            let Ok(client) = ctx.client(Some(stack)) else {
                let why = "no gateway to ask what it runs".to_owned();
                return Ok(CHOSEN.get_or_init(|| (Artifact::Package, why)).0);
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
    Ok(CHOSEN.get_or_init(|| (chosen, why)).0)
}

/// Why this run builds what it builds (empty before [`choose`]).
fn chosen_because() -> &'static str {
    CHOSEN.get().map_or("", |(_, why)| why.as_str())
}

/// The watchdog images of OpenFaaS's own templates: a template whose Dockerfile copies one
/// runs only as a container image.
const OPENFAAS_WATCHDOGS: [&str; 2] = ["openfaas/of-watchdog", "openfaas/classic-watchdog"];

/// Refuses, before anything is built, a template that runs only as a container image when
/// this run makes packages for the process runtime: its package would deploy and then fail
/// at its first call. OpenFaaS's templates (whose Dockerfile copies OpenFaaS's watchdog) are
/// such; the `dockerfile` template is, unless the stack gives the function a `fprocess`
/// (then its folder runs as the package: `package::build` says so when it has none).
pub fn refuse_container_only(function: &Function, template: &Template) -> anyhow::Result<()> {
    let Some(dockerfile) = template
        .files
        .iter()
        .find(|f| f.path == Path::new("Dockerfile"))
    else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&dockerfile.bytes);
    let Some(watchdog) = text.lines().find_map(|line| {
        let line = line.trim();
        if line.starts_with('#') {
            return None;
        }
        line.split_whitespace()
            .find(|word| OPENFAAS_WATCHDOGS.iter().any(|w| word.contains(w)))
    }) else {
        return Ok(());
    };
    bail!(
        "{}: the {} template needs a container: its Dockerfile copies OpenFaaS's watchdog ({watchdog}), so it runs only as an image, and this build makes packages for the process runtime ({}). A package of it would deploy and then fail at its first call. Build it as an image for a gateway that runs containers (faasd --provider docker; --artifact image), or use a rustfaas template of the same language (faas-cli new --list).",
        function.name,
        template.name,
        chosen_because()
    )
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
    /// `--build-option` names (besides the stack's `build_options`).
    pub build_options: &'a [String],
}

/// The build argument OpenFaaS's templates install extra packages from.
const ADDITIONAL_PACKAGE: &str = "ADDITIONAL_PACKAGE";

/// The build arguments of one image build: the stack's `build_args`, then `--build-arg`,
/// then the packages of the named build options (the stack's `build_options` and
/// `--build-option`, looked up in the template's `build_options`) joined with those of any
/// `ADDITIONAL_PACKAGE` given, as OpenFaaS's faas-cli does.
pub fn build_args(
    function: &Function,
    template: &Template,
    options: &ImageOptions<'_>,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let mut args = function.build_args.clone();
    args.extend(options.build_args.clone());
    let mut wanted: Vec<&str> = function.build_options.iter().map(String::as_str).collect();
    wanted.extend(options.build_options.iter().map(String::as_str));
    if wanted.is_empty() {
        return Ok(args);
    }
    let available: Vec<(String, Vec<String>)> = template
        .meta
        .build_options
        .iter()
        .filter_map(|option| {
            let name = option.get("name")?.as_str()?.to_owned();
            let packages = option
                .get("packages")
                .and_then(|p| p.as_array())
                .map(|p| {
                    p.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            Some((name, packages))
        })
        .collect();
    let mut packages: Vec<String> = Vec::new();
    for name in wanted {
        let Some((_, more)) = available.iter().find(|(n, _)| n == name) else {
            let names: Vec<&str> = available.iter().map(|(n, _)| n.as_str()).collect();
            bail!(
                "{}: build option {name:?} is not one of the {} template's ({}): see its template.yml's build_options",
                function.name,
                template.name,
                if names.is_empty() { "it has none".to_owned() } else { names.join(", ") }
            );
        };
        packages.extend(more.iter().cloned());
    }
    if let Some(given) = args.get(ADDITIONAL_PACKAGE) {
        packages.extend(given.split_whitespace().map(str::to_owned));
    }
    let mut seen = std::collections::BTreeSet::new();
    packages.retain(|p| seen.insert(p.clone()));
    args.insert(ADDITIONAL_PACKAGE.to_owned(), packages.join(" "));
    Ok(args)
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
    for (key, value) in build_args(function, template, options)? {
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

/// Pushes the stack's images (`only` when given) to their registries, with the credentials
/// of Docker's `config.json` and of `faas-cli registry-login` (see [`crate::docker_config`]).
pub fn push(
    ctx: &Context,
    stack: &Stack,
    only: Option<&std::collections::BTreeSet<String>>,
) -> anyhow::Result<()> {
    let config = docker_config::push_config(&ctx.cwd, &ctx.env)?;
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
        if let Some(config) = &config {
            command.env("DOCKER_CONFIG", config.dir());
        }
        run_docker(command, false, &format!("pushing {image}"))
            .map_err(|err| explain_push_error(ctx, &image, err))?;
        println!("Pushed {image}.");
    }
    Ok(())
}

/// A push the registry refused for want of credentials says where credentials come from.
fn explain_push_error(ctx: &Context, image: &str, err: anyhow::Error) -> anyhow::Error {
    let text = format!("{err:#}").to_lowercase();
    let refused = [
        "no basic auth credentials",
        "unauthorized",
        "authentication required",
        "denied",
    ]
    .iter()
    .any(|needle| text.contains(needle));
    if !refused {
        return err;
    }
    let registry = docker_config::registry_of(image);
    let why = if docker_config::has_entry(&ctx.cwd, &ctx.env, registry) {
        format!("the registry {registry} refused the saved credentials for it")
    } else {
        format!(
            "the registry {registry} asks for credentials and none are saved for it (in {} or {})",
            docker_config::LOGIN_FILE,
            docker_config::docker_config_path(&ctx.env)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "~/.docker/config.json".to_owned())
        )
    };
    err.context(format!(
        "{why}: run `faas-cli registry-login --server {registry} --username USER --password-stdin` (or `docker login {registry}`), then push again"
    ))
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
    use super::*;

    #[test]
    fn build_options_become_additional_packages() {
        let template: Template = crate::templates::load_embedded("bash").unwrap();
        let mut template = template;
        template.meta.build_options = serde_json::from_str(
            r#"[{"name":"dev","packages":["make","gcc"]},{"name":"x","packages":["gcc","jq"]}]"#,
        )
        .unwrap();
        let mut function = Function {
            name: "f".into(),
            build_options: vec!["dev".into()],
            ..Default::default()
        };
        function
            .build_args
            .insert("ADDITIONAL_PACKAGE".into(), "curl".into());
        let given = std::collections::BTreeMap::from([("A".to_owned(), "1".to_owned())]);
        let flags = ["x".to_owned()];
        let options = ImageOptions {
            shrinkwrap: false,
            no_cache: false,
            pull: false,
            verbose: false,
            build_args: &given,
            build_options: &flags,
        };
        let args = build_args(&function, &template, &options).unwrap();
        assert_eq!(args["ADDITIONAL_PACKAGE"], "make gcc jq curl");
        assert_eq!(args["A"], "1");
        function.build_options = vec!["nope".into()];
        let err = build_args(&function, &template, &options).unwrap_err();
        assert!(err.to_string().contains("(dev, x)"), "{err}");
    }

    #[test]
    fn registry_hosts() {
        assert!(super::names_registry("127.0.0.1:5000/hello:latest"));
        assert!(super::names_registry("ghcr.io/me/hello"));
        assert!(super::names_registry("localhost/hello"));
        assert!(!super::names_registry("me/hello:latest"));
        assert!(!super::names_registry("hello"));
    }
}
