//! `generate` (Kubernetes CRD YAML) and `completion` (shell scripts).

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::args::{Cli, CompletionArgs, GenerateArgs, Shell};
use crate::context::Context;
use crate::crd;

/// Runs `generate`.
pub async fn run(ctx: &Context, args: GenerateArgs) -> anyhow::Result<()> {
    let namespace = ctx.namespace().unwrap_or(faas_types::DEFAULT_NAMESPACE);
    let functions: Vec<crate::stack::Function> = match &args.from_store {
        Some(name) => {
            let catalog = crate::commands::store::catalog(ctx, None).await?;
            let entry = catalog.find(name)?;
            vec![crate::stack::Function {
                name: entry.name.clone(),
                image: entry.image_for(std::env::consts::ARCH)?,
                fprocess: Some(entry.fprocess.clone()).filter(|p| !p.is_empty()),
                environment: entry.environment.clone(),
                labels: entry.labels.clone(),
                annotations: entry.annotations.clone(),
                readonly_root_filesystem: entry.read_only_root_filesystem,
                ..Default::default()
            }]
        }
        None => {
            let stack = ctx.require_stack()?;
            stack.functions.into_values().collect()
        }
    };
    let yaml = crd::generate(&functions, &args.api, namespace)?;
    print!("{yaml}");
    Ok(())
}

/// Runs `completion`.
pub fn completion(args: CompletionArgs) -> anyhow::Result<()> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "faas-cli", &mut out);
    use std::io::Write as _;
    std::io::stdout()
        .write_all(&out)
        .context("cannot write the completion script")?;
    Ok(())
}
