//! `template store list` (the templates `new --lang` accepts) and `template pull` (a git
//! repository's templates into ./template/).

use std::io::Write as _;

use anyhow::bail;

use crate::args::{
    TemplateArgs, TemplateCommand, TemplatePullCommand, TemplatePullFlags, TemplateStoreCommand,
};
use crate::context::Context;
use crate::stack::Stack;
use crate::template_pull::{self, PullError, Pulled, Repository};
use crate::templates::{self, TemplateOrigin, TemplateSources};

/// Runs `template`.
pub fn run(ctx: &Context, args: TemplateArgs) -> anyhow::Result<()> {
    match args.command {
        TemplateCommand::Store(store) => match store.command {
            TemplateStoreCommand::List => list(ctx),
        },
        TemplateCommand::Pull(pull) => match pull.command {
            Some(TemplatePullCommand::Stack { flags }) => pull_stack(ctx, flags),
            None => {
                let repository = pull
                    .repository
                    .or_else(|| ctx.env.openfaas_template_url.clone())
                    .unwrap_or_else(|| template_pull::DEFAULT_TEMPLATE_REPOSITORY.to_owned());
                pull_repository(ctx, &repository, pull.template_path.as_deref(), pull.flags)
                    .map(|_| ())
            }
        },
    }
}

/// Pulls `repository`'s templates into ./template/, saying what OpenFaaS's faas-cli says.
pub fn pull_repository(
    ctx: &Context,
    repository: &str,
    template_path: Option<&str>,
    flags: TemplatePullFlags,
) -> anyhow::Result<Pulled> {
    let repository = Repository::parse(repository, &ctx.cwd)?;
    let git = ctx.env.which("git").ok_or(PullError::NoGit)?;
    println!(
        "Fetch templates from repository: {}{}",
        repository.url,
        repository.at()
    );
    let (pulled, clone) = template_pull::pull(
        &git,
        &repository,
        template_path,
        &ctx.cwd.join("template"),
        flags.overwrite,
        flags.debug,
    )?;
    if let Some(clone) = clone {
        println!("Temp files in {}", clone.display());
    }
    if !pulled.kept.is_empty() {
        println!(
            "Cannot overwrite the following {} template(s): [{}] (pass --overwrite to replace them)",
            pulled.kept.len(),
            pulled.kept.join(" ")
        );
    }
    println!(
        "Fetched {} template(s) : [{}] from {}",
        pulled.fetched.len(),
        pulled.fetched.join(" "),
        repository.url
    );
    Ok(pulled)
}

/// `template pull stack`: every `configuration.templates` entry with a git source.
fn pull_stack(ctx: &Context, flags: TemplatePullFlags) -> anyhow::Result<()> {
    let stack = ctx.require_stack()?;
    let files = super::build::stack_names(&stack);
    let configured = stack
        .configuration
        .as_ref()
        .map(|c| c.templates.as_slice())
        .unwrap_or_default();
    if configured.is_empty() {
        bail!(
            "{files} configures no templates to pull: add `configuration.templates` entries with a `name` and a git `source`"
        );
    }
    for entry in configured {
        println!(
            "Pulling template: {} from configuration file: {files}",
            entry.name
        );
        if entry.source.is_empty() {
            if templates::load_embedded(&entry.name).is_some() {
                println!("{}: built into faas-cli, nothing to pull", entry.name);
                continue;
            }
            bail!(
                "template {:?} in {files} has no `source`: give the git repository it comes from",
                entry.name
            );
        }
        if !template_pull::is_git_remote(&entry.source) {
            println!(
                "{}: the local folder {} is used where it is",
                entry.name, entry.source
            );
            continue;
        }
        pull_repository(ctx, &entry.source, None, flags)?;
    }
    Ok(())
}

/// Before a build: pulls the git-sourced `configuration.templates` that the functions in
/// `langs` use and ./template/ lacks (OpenFaaS's build does the same unless told
/// `--disable-stack-pull`).
pub fn pull_missing(ctx: &Context, stack: &Stack, langs: &[&str]) -> anyhow::Result<()> {
    let Some(configuration) = &stack.configuration else {
        return Ok(());
    };
    for entry in &configuration.templates {
        let wanted = langs.contains(&entry.name.as_str());
        let missing = !ctx.cwd.join("template").join(&entry.name).is_dir();
        if wanted && missing && template_pull::is_git_remote(&entry.source) {
            pull_repository(ctx, &entry.source, None, TemplatePullFlags::default())?;
        }
    }
    Ok(())
}

fn list(ctx: &Context) -> anyhow::Result<()> {
    let sources = TemplateSources::new(&ctx.cwd);
    let mut w = tabwriter::TabWriter::new(Vec::new()).padding(1).minwidth(0);
    writeln!(w, "NAME\tSOURCE\tMODE\tDESCRIPTION")?;
    for name in sources.names() {
        let Ok(template) = sources.load(&name) else {
            continue;
        };
        let source = match &template.origin {
            TemplateOrigin::Embedded => "built-in".to_owned(),
            TemplateOrigin::Folder(path) => path
                .strip_prefix(&ctx.cwd)
                .unwrap_or(path)
                .display()
                .to_string(),
        };
        let description = template
            .meta
            .welcome_message
            .as_deref()
            .and_then(|w| w.split(['.', '\n']).next())
            .unwrap_or("")
            .trim()
            .to_owned();
        let mode = template
            .meta
            .mode
            .clone()
            .unwrap_or_else(|| "classic".into());
        writeln!(w, "{name}\t{source}\t{mode}\t{description}")?;
    }
    w.flush()?;
    print!("{}", String::from_utf8(w.into_inner()?)?);
    Ok(())
}
