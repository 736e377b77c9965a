//! `store list|describe|deploy`.

use std::collections::BTreeMap;

use anyhow::bail;

use crate::args::{StoreArgs, StoreCommand};
use crate::commands::{deploy, human_size};
use crate::context::Context;
use crate::store::{self, Catalog, StoreError, StoreFunction};

/// The catalog `--url`, else `OPENFAAS_STORE`, else the built-in one, names.
pub async fn catalog(ctx: &Context, url: Option<&str>) -> anyhow::Result<Catalog> {
    let location = url
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .or_else(|| ctx.env.openfaas_store.clone());
    Ok(match location {
        Some(location) => Catalog::load(&location, ctx.global.tls_no_verify).await?,
        None => Catalog::builtin(),
    })
}

/// Runs `store`.
pub async fn run(ctx: &Context, args: StoreArgs) -> anyhow::Result<()> {
    let catalog = catalog(ctx, args.url.as_deref()).await?;
    match args.command {
        StoreCommand::List(list) => {
            let items: Vec<StoreFunction> = catalog
                .functions
                .iter()
                .filter(|f| f.image_for(&args.platform).is_ok())
                .cloned()
                .collect();
            if items.is_empty() {
                bail!(
                    "no store functions for platform {} in this catalog",
                    args.platform
                );
            }
            print!(
                "{}",
                crate::output::store_table(&items, &args.platform, list.verbose)
            );
        }
        StoreCommand::Describe(item) => {
            let entry = catalog.find(&item.name)?;
            print!("{}", crate::output::store_item(entry, &args.platform));
        }
        StoreCommand::Deploy(deploy_args) => {
            let entry = catalog.find(&deploy_args.item)?.clone();
            let image = entry.image_for(&args.platform)?;
            let stack = ctx.optional_stack()?;
            let client = ctx.client(stack.as_ref())?;
            if let Some(package) = &entry.package {
                let files = store::package_files(package).ok_or_else(|| StoreError::NoPackage {
                    name: entry.name.clone(),
                    package: package.clone(),
                })?;
                let mut env = BTreeMap::new();
                env.insert("fprocess".to_owned(), entry.fprocess.clone());
                let archive = crate::package::archive_from_files(&files, &env)?;
                let info = client.push_package(&image, archive).await?;
                println!("Pushed {} ({}).", info.image, human_size(info.size));
            }
            let function = crate::stack::Function {
                name: deploy_args
                    .name
                    .clone()
                    .unwrap_or_else(|| entry.name.clone()),
                image,
                fprocess: Some(entry.fprocess.clone()).filter(|p| !p.is_empty()),
                environment: entry.environment.clone(),
                labels: entry.labels.clone(),
                annotations: entry.annotations.clone(),
                readonly_root_filesystem: entry.read_only_root_filesystem,
                ..Default::default()
            };
            let deployment = deploy::deployment(ctx, &function, &deploy_args.flags)?;
            deploy::deploy_one(&client, deployment, &deploy_args.flags).await?;
        }
    }
    Ok(())
}
