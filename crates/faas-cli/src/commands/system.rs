//! `namespaces`, `version` and `ready`.

use std::time::Duration;

use anyhow::bail;
use faas_types::NamespaceRequest;
use reqwest::StatusCode;

use crate::args::{NamespaceChange, NamespacesArgs, NamespacesCommand, ReadyArgs, VersionArgs};
use crate::commands::parse_pairs;
use crate::context::Context;
use crate::gateway::GatewayError;
use crate::output;

/// Runs `namespaces` / `namespace`: list (the default), create, get, update, delete.
pub async fn namespaces(ctx: &Context, args: NamespacesArgs) -> anyhow::Result<()> {
    let client = ctx.client_with_optional_stack()?;
    match args.command.unwrap_or(NamespacesCommand::List) {
        NamespacesCommand::List => {
            let mut namespaces = client.namespaces().await?;
            namespaces.sort();
            println!("Namespaces:");
            for namespace in namespaces {
                println!(" - {namespace}");
            }
        }
        NamespacesCommand::Get { name } => {
            let namespace = client.namespace(&name).await?;
            print!("{}", output::namespace(&namespace));
        }
        NamespacesCommand::Create(change) => {
            let request = namespace_request(change)?;
            println!("Creating Namespace: {}", request.name);
            client.put_namespace(&request, false).await?;
            println!("Namespace Created: {}", request.name);
        }
        NamespacesCommand::Update(change) => {
            let request = namespace_request(change)?;
            println!("Updating Namespace: {}", request.name);
            client.put_namespace(&request, true).await?;
            println!("Namespace Updated: {}", request.name);
        }
        NamespacesCommand::Delete { name } => {
            println!("Deleting Namespace: {name}");
            client.delete_namespace(&name).await?;
            println!("Namespace Deleted: {name}");
        }
    }
    Ok(())
}

fn namespace_request(change: NamespaceChange) -> anyhow::Result<NamespaceRequest> {
    let request = NamespaceRequest {
        name: change.name,
        labels: Some(parse_pairs(&change.label, "--label")?).filter(|m| !m.is_empty()),
        annotations: Some(parse_pairs(&change.annotation, "--annotation")?)
            .filter(|m| !m.is_empty()),
    };
    request.validate()?;
    Ok(request)
}

/// Runs `version`: the client's version, then the gateway's and its provider's when it answers.
pub async fn version(ctx: &Context, args: VersionArgs) -> anyhow::Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    if args.short_version {
        println!("{version}");
        return Ok(());
    }
    println!("CLI:");
    println!(
        " commit:  {}",
        option_env!("RUSTFAAS_GIT_SHA").unwrap_or("dev")
    );
    println!(" version: {version}");
    let client = ctx.client_with_optional_stack()?;
    match client.info().await {
        Ok(info) => {
            println!("\nGateway");
            println!(" uri:     {}", client.base());
            println!(" version: {}", info.version.release);
            println!(" sha:     {}", info.version.sha);
            println!("\nProvider");
            println!(" name:          {}", info.provider.provider);
            println!(" orchestration: {}", info.provider.orchestration);
            println!(" version:       {}", info.provider.version.release);
            println!(" sha:           {}", info.provider.version.sha);
            Ok(())
        }
        Err(err @ GatewayError::Unreachable { .. }) => {
            eprintln!("\nGateway: {err}");
            Ok(())
        }
        Err(err) => Err(err.into()),
    }
}

/// Runs `ready`: polls `/healthz` (or a function's status) until it is ready.
pub async fn ready(ctx: &Context, args: ReadyArgs) -> anyhow::Result<()> {
    let Some(interval) = faas_types::duration::parse(&args.interval) else {
        bail!(
            "--interval {:?} is not a duration such as 1s or 500ms",
            args.interval
        );
    };
    let client = ctx.client_with_optional_stack()?;
    let attempts = args.attempts.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        match &args.name {
            None => match client.healthz(Duration::from_secs(5)).await {
                Ok(StatusCode::OK) => {
                    println!(
                        "[{attempt}/{attempts}] The gateway at {} is ready",
                        client.base()
                    );
                    return Ok(());
                }
                Ok(status) => last = format!("/healthz answered {status}"),
                Err(err) => last = err.to_string(),
            },
            Some(name) => match client.function_status(name, ctx.namespace()).await {
                Ok(status) if status.available_replicas > 0 => {
                    println!("[{attempt}/{attempts}] Function {name} is ready");
                    return Ok(());
                }
                Ok(_) => last = format!("function {name} has no ready replica yet"),
                Err(err @ GatewayError::Unauthorized { .. }) => return Err(err.into()),
                Err(err) => last = err.to_string(),
            },
        }
        if attempt < attempts {
            eprintln!("[{attempt}/{attempts}] Waiting: {last}");
            tokio::time::sleep(interval).await;
        }
    }
    bail!("not ready after {attempts} attempts: {last}")
}
