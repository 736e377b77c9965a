//! `build`, `push` and `up` (with `--watch`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context as _};

use crate::args::{BuildArgs, PublishArgs, PushArgs, UpArgs};
use crate::commands::{deploy, human_size, parse_pairs, stderr_is_terminal};
use crate::context::Context;
use crate::image_build::{self, Artifact, ImageOptions};
use crate::image_tag::{self, TagFormat};
use crate::package::{self, BuildOptions, BuiltPackage};
use crate::stack::{Function, Stack};
use crate::templates::{Template, TemplateSources};

/// The image a function deploys: its `image:`, else `<name>:latest`.
pub fn image_of(function: &Function) -> String {
    if function.image.trim().is_empty() {
        format!("{}:latest", function.name)
    } else {
        function.image.trim().to_owned()
    }
}

pub(crate) fn stack_names(stack: &Stack) -> String {
    if stack.files.is_empty() {
        "the stack file".to_owned()
    } else {
        stack
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn require_functions(stack: &Stack) -> anyhow::Result<()> {
    if stack.functions.is_empty() {
        bail!(
            "no functions to act on in {} (check `functions:` and any --filter/--regex)",
            stack_names(stack)
        );
    }
    Ok(())
}

/// The stack, with `--tag` applied to the images of the functions faas-cli builds
/// (`skip_build` functions keep the image they name).
pub fn tagged_stack(ctx: &Context, tag: Option<TagFormat>) -> anyhow::Result<Stack> {
    let mut stack = ctx.require_stack()?;
    let format = tag.unwrap_or_default();
    if format == TagFormat::Latest {
        return Ok(stack);
    }
    let git = ctx.env.which("git").context(
        "--tag reads git metadata, but `git` was not found on PATH: install git or leave out --tag",
    )?;
    let suffix = format.suffix(&git, &ctx.cwd)?;
    for function in stack.functions.values_mut() {
        if !function.skip_build {
            function.image = image_tag::tagged(&image_of(function), &suffix);
        }
    }
    Ok(stack)
}

/// Runs `build`.
pub fn build(ctx: &Context, args: &BuildArgs) -> anyhow::Result<Vec<BuiltPackage>> {
    let stack = tagged_stack(ctx, args.tag)?;
    build_stack(ctx, &stack, args, None)
}

/// Builds the stack's functions (only those in `only` when given).
pub fn build_stack(
    ctx: &Context,
    stack: &Stack,
    args: &BuildArgs,
    only: Option<&BTreeSet<String>>,
) -> anyhow::Result<Vec<BuiltPackage>> {
    require_functions(stack)?;
    let started = Instant::now();
    let mut sources = TemplateSources::new(&ctx.cwd);
    if let Some(configuration) = &stack.configuration {
        sources.configured = configuration
            .templates
            .iter()
            .map(|t| (t.name.clone(), t.source.clone()))
            .collect();
    }
    if !args.disable_stack_pull {
        let langs: Vec<&str> = stack
            .functions
            .values()
            .filter(|f| !f.skip_build && only.is_none_or(|o| o.contains(&f.name)))
            .map(|f| f.lang.as_str())
            .collect();
        super::template::pull_missing(ctx, stack, &langs)?;
    }
    let workers = args.parallel.max(1);
    let mut options = BuildOptions {
        shrinkwrap: args.shrinkwrap,
        no_cache: args.no_cache,
        verbose: args.verbose,
        // Progress bars of builds running side by side would overwrite each other.
        progress: workers == 1 && stderr_is_terminal(),
        build_args: parse_pairs(&args.build_arg, "--build-arg")?,
        copy: stack
            .configuration
            .as_ref()
            .map(|c| c.copy.clone())
            .unwrap_or_default(),
        stack_names: stack_names(stack),
        path: ctx.env.path.clone(),
        toolchain_checked: false,
    };
    let mut jobs = Vec::new();
    for (index, function) in stack.functions.values().enumerate() {
        if only.is_some_and(|o| !o.contains(&function.name)) {
            continue;
        }
        if function.skip_build {
            println!("Skipping build of: {}.", function.name);
            continue;
        }
        if function.lang.is_empty() {
            bail!(
                "function {} has no `lang`, so there is no template to build it with: add `lang:` or `skip_build: true` (to deploy its image as it is)",
                function.name
            );
        }
        jobs.push((index, function, sources.load(&function.lang)?));
    }
    if image_build::choose(ctx, stack, args.artifact)? == Artifact::Image {
        let images = ImageOptions {
            shrinkwrap: args.shrinkwrap,
            no_cache: args.no_cache,
            pull: args.pull,
            verbose: args.verbose,
            build_args: &options.build_args,
            build_options: &args.build_option,
        };
        for (_, function, template) in &jobs {
            image_build::build(&ctx.cwd, function, template, &images)?;
        }
        return Ok(Vec::new());
    }
    // A template that runs only as an image, and a missing toolchain, are reported before
    // any function is built.
    for (_, function, template) in &jobs {
        image_build::refuse_container_only(function, template)?;
        package::check_toolchain(&ctx.cwd, function, template, &options)?;
    }
    options.toolchain_checked = true;
    let build = |(index, function, template): &(usize, &Function, Template)| {
        build_one(ctx, *index, function, template, &options)
    };
    let built = if workers == 1 || jobs.len() < 2 {
        jobs.iter().map(build).collect::<anyhow::Result<Vec<_>>>()?
    } else {
        in_parallel(&jobs, workers, build)?
    };
    if built.len() > 1 {
        println!("Total build time: {:.2}s", started.elapsed().as_secs_f64());
    }
    Ok(built)
}

fn build_one(
    ctx: &Context,
    index: usize,
    function: &Function,
    template: &Template,
    options: &BuildOptions,
) -> anyhow::Result<BuiltPackage> {
    println!("[{index}] > Building {}.", function.name);
    let package = package::build(&ctx.cwd, function, template, options)?;
    if options.shrinkwrap {
        println!(
            "{} shrink-wrapped to ./build/{}",
            function.name, function.name
        );
    } else {
        println!(
            "Image: {} built: ./build/{}.tar.gz ({}, {:.2}s).",
            image_of(function),
            function.name,
            human_size(package.size),
            package.elapsed.as_secs_f64()
        );
    }
    Ok(package)
}

/// `--parallel N`: N threads take the builds in stack order; every build runs to its end,
/// then the failures (if any) are reported together.
fn in_parallel<J: Sync>(
    jobs: &[J],
    workers: usize,
    build: impl Fn(&J) -> anyhow::Result<BuiltPackage> + Sync,
) -> anyhow::Result<Vec<BuiltPackage>> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<anyhow::Result<BuiltPackage>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers.min(jobs.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let result = build(job);
                *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            });
        }
    });
    let mut built = Vec::new();
    let mut failed = Vec::new();
    for slot in results {
        match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(Ok(package)) => built.push(package),
            Some(Err(err)) => failed.push(format!("{err:#}")),
            None => failed.push("a build did not run".to_owned()),
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} builds failed:\n{}",
            failed.len(),
            jobs.len(),
            failed.join("\n")
        );
    }
    Ok(built)
}

/// Runs `push`.
pub async fn push(ctx: &Context, args: &PushArgs) -> anyhow::Result<()> {
    let stack = tagged_stack(ctx, args.tag)?;
    require_functions(&stack)?;
    image_build::choose(ctx, &stack, args.artifact)?;
    let client = ctx.client(Some(&stack))?;
    push_stack(ctx, &client, &stack, None).await
}

/// Runs `publish`: `build` then `push`, for this machine's platform (packages run on the
/// machine that built them; OpenFaaS cross-builds container images with buildx).
pub async fn publish(ctx: &Context, args: &PublishArgs) -> anyhow::Result<()> {
    let here = host_platform();
    let others: Vec<&str> = args
        .platforms
        .as_deref()
        .unwrap_or(&here)
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != here)
        .collect();
    if !others.is_empty() {
        bail!(
            "publish builds packages for this machine ({here}) only, not {}: the process runtime runs a package where it was built; run publish on a {} machine, or use --platforms {here}",
            others.join(", "),
            others.join(" / ")
        );
    }
    let stack = tagged_stack(ctx, args.build.tag)?;
    build_stack(ctx, &stack, &args.build, None)?;
    if args.build.shrinkwrap {
        return Ok(());
    }
    let client = ctx.client(Some(&stack))?;
    push_stack(ctx, &client, &stack, None).await
}

/// This machine's platform as Docker names platforms (`linux/amd64`, `linux/arm64`, ...).
fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm/v7",
        other => other,
    };
    format!("{}/{arch}", std::env::consts::OS)
}

/// Uploads the built packages of the stack's functions.
pub async fn push_stack(
    ctx: &Context,
    client: &crate::gateway::GatewayClient,
    stack: &Stack,
    only: Option<&BTreeSet<String>>,
) -> anyhow::Result<()> {
    if image_build::choose(ctx, stack, None)? == Artifact::Image {
        return image_build::push(ctx, stack, only);
    }
    for function in stack.functions.values() {
        if only.is_some_and(|o| !o.contains(&function.name)) {
            continue;
        }
        if function.skip_build {
            println!("Skipping push of: {} (skip_build).", function.name);
            continue;
        }
        let archive = ctx
            .cwd
            .join("build")
            .join(format!("{}.tar.gz", function.name));
        if !archive.is_file() {
            bail!(
                "./build/{}.tar.gz not found: build it first with `faas-cli build` (or run `faas-cli up`, which builds, pushes and deploys)",
                function.name
            );
        }
        let bytes = std::fs::read(&archive)
            .with_context(|| format!("cannot read {}", archive.display()))?;
        let image = image_of(function);
        let info = client.push_package(&image, bytes).await?;
        let digest = info.digest.strip_prefix("sha256:").unwrap_or(&info.digest);
        println!(
            "Pushed {} to {} (sha256:{}, {}).",
            if info.image.is_empty() {
                &image
            } else {
                &info.image
            },
            client.base(),
            &digest[..digest.len().min(12)],
            human_size(info.size)
        );
    }
    Ok(())
}

/// Runs `up`: build, push, deploy; with `--watch`, again on every change.
pub async fn up(ctx: &Context, args: UpArgs) -> anyhow::Result<()> {
    let stack = tagged_stack(ctx, args.build.tag)?;
    let result = up_once(ctx, &stack, &args, None).await;
    if !args.watch {
        return result;
    }
    if let Err(err) = result {
        eprintln!("Error: {err:#}");
    }
    watch(ctx, &args).await
}

async fn up_once(
    ctx: &Context,
    stack: &Stack,
    args: &UpArgs,
    only: Option<&BTreeSet<String>>,
) -> anyhow::Result<()> {
    build_stack(ctx, stack, &args.build, only)?;
    if args.build.shrinkwrap {
        return Ok(());
    }
    let client = ctx.client(Some(stack))?;
    if !args.skip_push {
        push_stack(ctx, &client, stack, only).await?;
    }
    if !args.skip_deploy {
        deploy::deploy_stack(ctx, &client, stack, &args.deploy, only).await?;
    }
    Ok(())
}

/// Files whose changes trigger a rebuild, with their modification times.
type Snapshot = BTreeMap<PathBuf, (SystemTime, u64)>;

fn snapshot(ctx: &Context, stack: &Stack) -> Snapshot {
    let mut out = Snapshot::new();
    for file in &stack.files {
        record(&ctx.path(file), &mut out);
    }
    for function in stack.functions.values() {
        if !function.handler.is_empty() {
            walk(&ctx.path(Path::new(&function.handler)), &mut out);
        }
    }
    out
}

fn record(path: &Path, out: &mut Snapshot) {
    if let Ok(meta) = std::fs::metadata(path) {
        if let Ok(modified) = meta.modified() {
            out.insert(path.to_path_buf(), (modified, meta.len()));
        }
    }
}

fn walk(dir: &Path, out: &mut Snapshot) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if matches!(
            name.as_ref(),
            "build" | "node_modules" | "target" | "__pycache__" | ".git"
        ) || name.ends_with(".swp")
            || name.ends_with('~')
        {
            continue;
        }
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, out),
            Ok(_) => record(&path, out),
            Err(_) => {}
        }
    }
}

/// What changed between two snapshots.
fn changes(before: &Snapshot, after: &Snapshot) -> Vec<PathBuf> {
    let mut changed: Vec<PathBuf> = after
        .iter()
        .filter(|(path, stamp)| before.get(*path) != Some(stamp))
        .map(|(path, _)| path.clone())
        .collect();
    changed.extend(before.keys().filter(|p| !after.contains_key(*p)).cloned());
    changed
}

async fn watch(ctx: &Context, args: &UpArgs) -> anyhow::Result<()> {
    let mut stack = tagged_stack(ctx, args.build.tag)?;
    let mut last = snapshot(ctx, &stack);
    println!(
        "Watching {} file(s) of {} for changes (Ctrl+C to stop)...",
        last.len(),
        stack_names(&stack)
    );
    loop {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let now = snapshot(ctx, &stack);
        let changed = changes(&last, &now);
        if changed.is_empty() {
            continue;
        }
        // Let an editor finish writing before building.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let stack_changed = changed
            .iter()
            .any(|p| stack.files.iter().any(|f| ctx.path(f) == *p));
        if stack_changed {
            match tagged_stack(ctx, args.build.tag) {
                Ok(reloaded) => stack = reloaded,
                Err(err) => {
                    eprintln!("Error: {err}");
                    last = snapshot(ctx, &stack);
                    continue;
                }
            }
        }
        let only: BTreeSet<String> = if stack_changed {
            stack.functions.keys().cloned().collect()
        } else {
            stack
                .functions
                .values()
                .filter(|f| {
                    let handler = ctx.path(Path::new(&f.handler));
                    changed.iter().any(|p| p.starts_with(&handler))
                })
                .map(|f| f.name.clone())
                .collect()
        };
        let shown: Vec<String> = changed
            .iter()
            .take(3)
            .map(|p| p.strip_prefix(&ctx.cwd).unwrap_or(p).display().to_string())
            .collect();
        println!(
            "\nChange detected in {}: rebuilding {}.",
            shown.join(", "),
            only.iter().cloned().collect::<Vec<_>>().join(", ")
        );
        let started = Instant::now();
        match up_once(ctx, &stack, args, Some(&only)).await {
            Ok(()) => println!(
                "Updated in {:.2}s. Watching for changes...",
                started.elapsed().as_secs_f64()
            ),
            Err(err) => eprintln!("Error: {err:#}\nWatching for changes..."),
        }
        last = snapshot(ctx, &stack);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_see_edits_and_deletions() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.py");
        std::fs::write(&a, "1").unwrap();
        std::fs::create_dir_all(dir.path().join("node_modules")).unwrap();
        std::fs::write(dir.path().join("node_modules/x"), "1").unwrap();
        let mut before = Snapshot::new();
        walk(dir.path(), &mut before);
        assert_eq!(before.len(), 1, "node_modules is ignored");
        std::fs::write(&a, "12").unwrap();
        let mut after = Snapshot::new();
        walk(dir.path(), &mut after);
        assert_eq!(changes(&before, &after), vec![a.clone()]);
        std::fs::remove_file(&a).unwrap();
        let mut gone = Snapshot::new();
        walk(dir.path(), &mut gone);
        assert_eq!(changes(&after, &gone), vec![a]);
    }
}
