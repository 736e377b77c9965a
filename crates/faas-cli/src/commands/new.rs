//! `new`: a handler folder from a template and a stack file that names it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use crate::args::NewArgs;
use crate::context::Context;
use crate::templates::{Template, TemplateSources};

/// The schema version written into new stack files.
pub const SCHEMA_VERSION: &str = "1.0";

/// Runs `new`.
pub fn run(ctx: &Context, args: NewArgs) -> anyhow::Result<()> {
    let sources = TemplateSources::new(&ctx.cwd);
    if args.list {
        print_templates(&sources);
        return Ok(());
    }
    let Some(lang) = args.lang.as_deref().filter(|l| !l.is_empty()) else {
        bail!(
            "you must supply a function language with the --lang flag (one of: {}; see `faas-cli new --list`)",
            sources.names().join(", ")
        );
    };
    let Some(name) = args.name.as_deref() else {
        bail!("please provide a name for the function: faas-cli new NAME --lang {lang}");
    };
    if faas_types::validate::validate_function_name(name).is_err() {
        bail!("function name can only contain a-z, 0-9 and dashes (got {name:?})");
    }
    let template = sources.load(lang)?;

    let append = args.append.as_deref();
    let stack_path = stack_path(ctx, append, name)?;

    let handler_dir = args.handler.clone().unwrap_or_else(|| PathBuf::from(name));
    if ctx.path(&handler_dir).exists() {
        bail!("folder: {} already exists", handler_dir.display());
    }
    if append.is_none() && ctx.path(&stack_path).exists() {
        bail!(
            "file: {} already exists (use --append to add the function to it)",
            stack_path.display()
        );
    }

    write_handler(ctx, &template, &handler_dir)?;

    let entry = stack_entry(ctx, &args, name, lang, &handler_dir);
    let message = write_stack(ctx, append.is_some(), &stack_path, entry)?;
    println!("{message}");

    if !args.quiet {
        if let Some(welcome) = template
            .meta
            .welcome_message
            .as_deref()
            .filter(|w| !w.trim().is_empty())
        {
            println!("\nNotes:\n{}", welcome.trim_end());
        }
        println!(
            "\nNext: faas-cli up -f {} && echo hi | faas-cli invoke {name}",
            stack_path.display()
        );
    }
    Ok(())
}

/// `new --list`: every template's name with its one-line summary.
fn print_templates(sources: &TemplateSources) {
    println!("Languages available as templates:");
    let rows: Vec<(String, String)> = sources
        .names()
        .into_iter()
        .map(|name| {
            let summary = sources
                .load(&name)
                .map(|t| t.meta.summary())
                .unwrap_or_default();
            (name, summary)
        })
        .collect();
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, summary) in rows {
        if summary.is_empty() {
            println!("- {name}");
        } else {
            println!("- {name:width$}  {summary}");
        }
    }
}

/// The stack file to write: `NAME.yml`, or the `--append` file once it is known to exist and
/// not to name the function already.
fn stack_path(ctx: &Context, append: Option<&Path>, name: &str) -> anyhow::Result<PathBuf> {
    let Some(file) = append else {
        return Ok(PathBuf::from(format!("{name}.yml")));
    };
    let ext_ok = file.extension().is_some_and(|e| e == "yml" || e == "yaml");
    if !ext_ok {
        bail!("when appending to a stack the suffix should be .yml or .yaml");
    }
    let path = ctx.path(file);
    if !path.is_file() {
        bail!("unable to find file: {}", file.display());
    }
    let existing = crate::stack::load(
        std::slice::from_ref(&path),
        &ctx.cwd,
        &ctx.env.vars,
        ctx.global.envsubst,
        &crate::stack::Selection::default(),
    )?;
    if existing.functions.contains_key(name) {
        bail!(
            "function {name} already exists in {} file: cannot have duplicate function names in the same stack file",
            file.display()
        );
    }
    Ok(file.to_path_buf())
}

/// Creates the handler folder with the template's handler files, and ignores `build`.
fn write_handler(ctx: &Context, template: &Template, handler_dir: &Path) -> anyhow::Result<()> {
    let target = ctx.path(handler_dir);
    std::fs::create_dir_all(&target)
        .with_context(|| format!("folder: could not create {}", handler_dir.display()))?;
    println!("Folder: {} created.", handler_dir.display());
    for file in template.handler_files() {
        let path = target.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &file.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        if file.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    update_gitignore(&ctx.cwd)?;
    println!("\nFunction created in folder: {}", handler_dir.display());
    Ok(())
}

/// The function's entry under `functions:` (lang, handler, image, requests and limits).
fn stack_entry(
    ctx: &Context,
    args: &NewArgs,
    name: &str,
    lang: &str,
    handler_dir: &Path,
) -> String {
    let prefix = args
        .prefix
        .clone()
        .or_else(|| ctx.env.openfaas_prefix.clone())
        .map(|p| p.trim().trim_end_matches('/').to_owned())
        .filter(|p| !p.is_empty());
    let image = match prefix {
        Some(prefix) => format!("{prefix}/{name}:latest"),
        None => format!("{name}:latest"),
    };
    let handler_text = handler_dir.display().to_string();
    let handler_text = if handler_dir.is_absolute()
        || handler_text.starts_with("./")
        || handler_text.starts_with("../")
    {
        handler_text
    } else {
        format!("./{handler_text}")
    };
    let mut yaml =
        format!("  {name}:\n    lang: {lang}\n    handler: {handler_text}\n    image: {image}\n");
    let resources = |title: &str, cpu: &Option<String>, memory: &Option<String>| {
        if cpu.is_none() && memory.is_none() {
            return String::new();
        }
        let mut s = format!("    {title}:\n");
        if let Some(cpu) = cpu {
            s.push_str(&format!("      cpu: {cpu}\n"));
        }
        if let Some(memory) = memory {
            s.push_str(&format!("      memory: {memory}\n"));
        }
        s
    };
    yaml.push_str(&resources(
        "requests",
        &args.cpu_request,
        &args.memory_request,
    ));
    yaml.push_str(&resources("limits", &args.cpu_limit, &args.memory_limit));
    yaml.push('\n');
    yaml
}

/// Writes the entry: appended to the existing stack file, or as a new stack file with its
/// header. Returns the line to print.
fn write_stack(
    ctx: &Context,
    append: bool,
    stack_path: &Path,
    entry: String,
) -> anyhow::Result<String> {
    let mut yaml = entry;
    let message = if append {
        format!("Stack file updated: {}", stack_path.display())
    } else {
        let gateway = ctx.gateway_url(None);
        yaml = format!(
            "version: {SCHEMA_VERSION}\nprovider:\n  name: openfaas\n  gateway: {gateway}\nfunctions:\n{yaml}"
        );
        format!("Stack file written: {}", stack_path.display())
    };
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(ctx.path(stack_path))
        .with_context(|| format!("could not open file {}", stack_path.display()))?;
    if append {
        let existing = std::fs::read_to_string(ctx.path(stack_path)).unwrap_or_default();
        if !existing.is_empty() && !existing.ends_with('\n') {
            file.write_all(b"\n")?;
        }
    }
    file.write_all(yaml.as_bytes())
        .with_context(|| format!("error writing stack file {}", stack_path.display()))?;
    Ok(message)
}

/// Adds `build` to `.gitignore` (creating it), as OpenFaaS adds its generated folders.
fn update_gitignore(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(".gitignore");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let mut lines: Vec<&str> = existing.lines().collect();
    let mut changed = false;
    for entry in ["build"] {
        if !lines.iter().any(|l| l.trim() == entry) {
            lines.push(entry);
            changed = true;
        }
    }
    if changed {
        std::fs::write(&path, lines.join("\n") + "\n")
            .with_context(|| format!("cannot update {}", path.display()))?;
    }
    Ok(())
}
