//! `template store list`: the templates `new --lang` accepts.

use std::io::Write as _;

use crate::args::{TemplateArgs, TemplateCommand, TemplateStoreCommand};
use crate::context::Context;
use crate::templates::{TemplateOrigin, TemplateSources};

/// Runs `template`.
pub fn run(ctx: &Context, args: TemplateArgs) -> anyhow::Result<()> {
    match args.command {
        TemplateCommand::Store(store) => match store.command {
            TemplateStoreCommand::List => list(ctx),
        },
    }
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
