//! `list`, `describe` and `remove`.

use anyhow::bail;

use crate::args::{DescribeArgs, ListArgs, RemoveArgs};
use crate::context::Context;
use crate::gateway::GatewayError;
use crate::output;

/// Runs `list`.
pub async fn list(ctx: &Context, args: ListArgs) -> anyhow::Result<()> {
    let client = ctx.client_with_optional_stack()?;
    let mut functions = client.list_functions(ctx.namespace()).await?;
    output::sort_functions(&mut functions, args.sort);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&functions)?);
    } else if args.quiet {
        for f in &functions {
            println!("{}", f.name);
        }
    } else {
        print!("{}", output::list_table(&functions, args.verbose));
    }
    Ok(())
}

/// Runs `describe`.
pub async fn describe(ctx: &Context, args: DescribeArgs) -> anyhow::Result<()> {
    let client = ctx.client_with_optional_stack()?;
    let (name, namespace) = split_ref(&args.name, ctx.namespace());
    let function = client.function_status(name, namespace).await?;
    // As OpenFaaS: the invocation count comes from the list, which the gateway fills in.
    let invocations = client
        .list_functions(namespace)
        .await
        .ok()
        .and_then(|list| list.into_iter().find(|f| f.name == function.name))
        .map(|f| f.invocation_count)
        .unwrap_or(function.invocation_count);
    print!(
        "{}",
        output::describe(
            &function,
            invocations as i64,
            &client.function_url(name, namespace),
            &client.async_function_url(name, namespace),
        )
    );
    Ok(())
}

/// `name.namespace` or `name` with `-n`.
fn split_ref<'a>(reference: &'a str, namespace: Option<&'a str>) -> (&'a str, Option<&'a str>) {
    match faas_types::parse_function_ref(reference) {
        (name, Some(ns)) => (name, Some(ns)),
        (name, None) => (name, namespace),
    }
}

/// Runs `remove`.
pub async fn remove(ctx: &Context, args: RemoveArgs) -> anyhow::Result<()> {
    let (names, stack) = if args.names.is_empty() {
        let stack = ctx.require_stack().map_err(|e| {
            anyhow::anyhow!("{e}\n(or name the functions to remove: faas-cli remove NAME...)")
        })?;
        let names: Vec<(String, Option<String>)> = stack
            .functions
            .values()
            .map(|f| (f.name.clone(), f.namespace.clone()))
            .collect();
        (names, Some(stack))
    } else {
        let names = args.names.iter().map(|n| (n.clone(), None)).collect();
        (names, ctx.optional_stack()?)
    };
    if names.is_empty() {
        bail!("no functions to remove");
    }
    let client = ctx.client(stack.as_ref())?;
    let mut missing = Vec::new();
    for (reference, stack_namespace) in &names {
        let (name, namespace) =
            split_ref(reference, stack_namespace.as_deref().or(ctx.namespace()));
        println!("Deleting: {name}.");
        match client.delete_function(name, namespace).await {
            Ok(()) => println!("Removing old function."),
            Err(GatewayError::NotFound { .. }) => {
                println!("No existing function to remove");
                missing.push(name.to_owned());
            }
            Err(err) => return Err(err.into()),
        }
    }
    if !missing.is_empty() {
        bail!(
            "function {} not found: see `faas-cli list` for what is deployed",
            missing.join(", ")
        );
    }
    Ok(())
}
