//! `template store list` (the templates `new --lang` accepts, or a template store's),
//! `template store describe|pull` (OpenFaaS's templates.json) and `template pull` (a git
//! repository's templates into ./template/).

use std::io::Write as _;

use anyhow::bail;

use crate::args::{
    TemplateArgs, TemplateCommand, TemplatePullCommand, TemplatePullFlags, TemplateStoreCommand,
};
use crate::context::Context;
use crate::stack::Stack;
use crate::template_pull::{self, PullError, Pulled, Repository};
use crate::template_store::{self, StoreTemplate, DEFAULT_TEMPLATE_STORE};
use crate::templates::{self, TemplateOrigin, TemplateSources};

/// Runs `template`.
pub async fn run(ctx: &Context, args: TemplateArgs) -> anyhow::Result<()> {
    match args.command {
        TemplateCommand::Store(store) => {
            let url = store
                .url
                .clone()
                .filter(|u| !u.is_empty())
                .or_else(|| ctx.env.openfaas_template_store_url.clone());
            match (store.command, url) {
                (TemplateStoreCommand::List, None) => list(ctx),
                (TemplateStoreCommand::List, Some(url)) => {
                    store_list(ctx, &url, &store.platform).await
                }
                (TemplateStoreCommand::Describe { name }, url) => {
                    let url = url.unwrap_or_else(|| DEFAULT_TEMPLATE_STORE.to_owned());
                    store_describe(ctx, &url, &name, &store.platform).await
                }
                (TemplateStoreCommand::Pull { name, flags }, url) => {
                    if url.is_none() && templates::load_embedded(&name).is_some() {
                        println!("{name} is built into faas-cli: `faas-cli new --lang {name}` uses it, there is nothing to pull (give --url to pull a store's {name} into ./template/)");
                        return Ok(());
                    }
                    let url = url.unwrap_or_else(|| DEFAULT_TEMPLATE_STORE.to_owned());
                    let entry = store_entry(ctx, &url, &name, &store.platform).await?;
                    pull_repository(ctx, &entry.repo, None, flags).map(|_| ())
                }
            }
        }
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

async fn store_templates(ctx: &Context, url: &str) -> anyhow::Result<Vec<StoreTemplate>> {
    let (bytes, source_name) = crate::store::fetch(url, ctx.global.tls_no_verify).await?;
    Ok(template_store::parse(&bytes, &source_name)?)
}

async fn store_entry(
    ctx: &Context,
    url: &str,
    name: &str,
    platform: &str,
) -> anyhow::Result<StoreTemplate> {
    let templates = store_templates(ctx, url).await?;
    Ok(template_store::find(&templates, name, platform, url)?.clone())
}

/// `template store list --url`: the store's templates for `platform`, as OpenFaaS prints them.
async fn store_list(ctx: &Context, url: &str, platform: &str) -> anyhow::Result<()> {
    let templates = store_templates(ctx, url).await?;
    let mut w = tabwriter::TabWriter::new(Vec::new()).padding(1).minwidth(0);
    writeln!(w, "NAME\tSOURCE\tDESCRIPTION")?;
    for t in templates
        .iter()
        .filter(|t| t.platform.is_empty() || t.platform.eq_ignore_ascii_case(platform))
    {
        writeln!(w, "{}\t{}\t{}", t.template, t.source, t.description)?;
    }
    w.flush()?;
    print!("{}", String::from_utf8(w.into_inner()?)?);
    Ok(())
}

/// `template store describe NAME`.
async fn store_describe(
    ctx: &Context,
    url: &str,
    name: &str,
    platform: &str,
) -> anyhow::Result<()> {
    let t = store_entry(ctx, url, name, platform).await?;
    let official = if t.official == "true" {
        "true"
    } else {
        "false"
    };
    let mut w = tabwriter::TabWriter::new(Vec::new()).padding(1).minwidth(0);
    writeln!(w, "Name:\t{}", t.template)?;
    writeln!(w, "Platform:\t{}", t.platform)?;
    writeln!(w, "Language:\t{}", t.language)?;
    writeln!(w, "Source:\t{}", t.source)?;
    writeln!(w, "Description:\t{}", t.description)?;
    writeln!(w, "Repository:\t{}", t.repo)?;
    writeln!(w, "Official Template:\t{official}")?;
    w.flush()?;
    print!("{}", String::from_utf8(w.into_inner()?)?);
    Ok(())
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
        let description = template.meta.summary();
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
