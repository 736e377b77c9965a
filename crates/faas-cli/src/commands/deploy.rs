//! `deploy`: from a stack file, or one function from `--image`/`--name`/`--fprocess`. With
//! `--update` (the default) it updates a function that exists (PUT) and creates one that does
//! not (POST on 404); `--replace` removes it first; `--update=false` only creates.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;
use faas_types::{FunctionDeployment, FunctionResources};
use reqwest::StatusCode;

use crate::args::{DeployArgs, DeployFlags};
use crate::commands::build::image_of;
use crate::commands::parse_pairs;
use crate::context::Context;
use crate::gateway::{GatewayClient, GatewayError};
use crate::stack::{Resources, Stack};

/// Runs `deploy`.
pub async fn run(ctx: &Context, args: DeployArgs) -> anyhow::Result<()> {
    if let Some(image) = args.image.as_deref() {
        let Some(name) = args.name.as_deref() else {
            bail!("--name is required with --image: faas-cli deploy --image {image} --name NAME [--fprocess CMD]");
        };
        if args.tag.is_some() {
            bail!("--tag tags the images of a stack file's functions; with --image, give the tag in the image: --image NAME:TAG");
        }
        let stack = ctx.optional_stack()?;
        let client = ctx.client(stack.as_ref())?;
        let function = crate::stack::Function {
            name: name.to_owned(),
            image: image.to_owned(),
            fprocess: args.fprocess.clone(),
            ..Default::default()
        };
        let deployment = deployment(ctx, &function, &args.flags)?;
        return deploy_one(&client, deployment, &args.flags).await;
    }
    if args.name.is_some() || args.fprocess.is_some() {
        bail!("--name and --fprocess need --image: faas-cli deploy --image IMAGE --name NAME [--fprocess CMD], or use a stack file with -f");
    }
    let stack = crate::commands::build::tagged_stack(ctx, args.tag)?;
    let client = ctx.client(Some(&stack))?;
    deploy_stack(ctx, &client, &stack, &args.flags, None).await
}

/// Deploys the stack's functions (only those in `only` when given).
pub async fn deploy_stack(
    ctx: &Context,
    client: &GatewayClient,
    stack: &Stack,
    flags: &DeployFlags,
    only: Option<&BTreeSet<String>>,
) -> anyhow::Result<()> {
    if stack.functions.is_empty() {
        bail!("no functions to deploy (check `functions:` and any --filter/--regex)");
    }
    let mut failed = Vec::new();
    for function in stack.functions.values() {
        if only.is_some_and(|o| !o.contains(&function.name)) {
            continue;
        }
        let deployment = deployment(ctx, function, flags)?;
        if let Err(err) = deploy_one(client, deployment, flags).await {
            if matches!(
                err.downcast_ref::<GatewayError>(),
                Some(GatewayError::Unreachable { .. } | GatewayError::Unauthorized { .. })
            ) {
                return Err(err);
            }
            eprintln!("Error: {err:#}");
            failed.push(function.name.clone());
        }
    }
    if !failed.is_empty() {
        bail!("deploying failed for: {}", failed.join(", "));
    }
    Ok(())
}

fn resources(
    stack: Option<&Resources>,
    cpu: &Option<String>,
    memory: &Option<String>,
) -> Option<FunctionResources> {
    let mut out = FunctionResources {
        memory: stack.and_then(|r| r.memory.clone()),
        cpu: stack.and_then(|r| r.cpu.clone()),
        other: BTreeMap::new(),
    };
    if memory.is_some() {
        out.memory = memory.clone();
    }
    if cpu.is_some() {
        out.cpu = cpu.clone();
    }
    (!out.is_empty()).then_some(out)
}

/// The deployment for a stack function with the flags over it (flags win per key).
pub fn deployment(
    ctx: &Context,
    function: &crate::stack::Function,
    flags: &DeployFlags,
) -> anyhow::Result<FunctionDeployment> {
    let mut env = function.merged_environment()?;
    env.extend(parse_pairs(&flags.env, "--env")?);
    let mut labels = function.labels.clone();
    labels.extend(parse_pairs(&flags.label, "--label")?);
    let mut annotations = function.annotations.clone();
    annotations.extend(parse_pairs(&flags.annotation, "--annotation")?);
    let mut secrets = function.secrets.clone();
    for secret in &flags.secret {
        if !secrets.contains(secret) {
            secrets.push(secret.clone());
        }
    }
    let mut constraints = function.constraints.clone();
    constraints.extend(flags.constraint.iter().cloned());
    let namespace = function
        .namespace
        .clone()
        .or_else(|| ctx.namespace().map(str::to_owned));
    let registry_auth = if flags.send_registry_auth {
        Some(registry_auth_for(ctx, &image_of(function))?)
    } else {
        None
    };
    Ok(FunctionDeployment {
        service: function.name.clone(),
        image: image_of(function),
        namespace,
        env_process: function.fprocess.clone().filter(|p| !p.is_empty()),
        env_vars: (!env.is_empty()).then_some(env),
        constraints: (!constraints.is_empty()).then_some(constraints),
        secrets: (!secrets.is_empty()).then_some(secrets),
        labels: (!labels.is_empty()).then_some(labels),
        annotations: (!annotations.is_empty()).then_some(annotations),
        limits: resources(
            function.limits.as_ref(),
            &flags.cpu_limit,
            &flags.memory_limit,
        ),
        requests: resources(
            function.requests.as_ref(),
            &flags.cpu_request,
            &flags.memory_request,
        ),
        read_only_root_filesystem: function.readonly_root_filesystem || flags.readonly,
        registry_auth,
    })
}

/// `--send-registry-auth`: the image registry's credentials, base64 of `user:password`.
fn registry_auth_for(ctx: &Context, image: &str) -> anyhow::Result<String> {
    let registry = crate::docker_config::registry_of(image);
    crate::docker_config::registry_auth(&ctx.cwd, &ctx.env, registry)?.ok_or_else(|| {
        anyhow::anyhow!(
            "--send-registry-auth: no credentials for {registry} (the registry of {image}) in ./{} or Docker's config.json: run `faas-cli registry-login --server {registry} --username USER --password-stdin` first",
            crate::docker_config::LOGIN_FILE
        )
    })
}

/// Deploys one function as OpenFaaS's faas-cli does, printing `Deploying: NAME.` and then
/// `Deployed. 202 Accepted.` with its URL.
pub async fn deploy_one(
    client: &GatewayClient,
    deployment: FunctionDeployment,
    flags: &DeployFlags,
) -> anyhow::Result<()> {
    let name = deployment.service.clone();
    let namespace = deployment.namespace.clone();
    println!("Deploying: {name}.");
    let (status, body) = if flags.replace {
        match client.delete_function(&name, namespace.as_deref()).await {
            Ok(()) | Err(GatewayError::NotFound { .. }) => {}
            Err(err) => return Err(err.into()),
        }
        create_when_gone(client, &deployment).await?
    } else if flags.update {
        let (status, body) = client.deploy(&deployment, true).await?;
        if status == StatusCode::NOT_FOUND {
            client.deploy(&deployment, false).await?
        } else {
            (status, body)
        }
    } else {
        client.deploy(&deployment, false).await?
    };
    match status {
        StatusCode::OK | StatusCode::CREATED | StatusCode::ACCEPTED => {
            println!("\nDeployed. {status}.");
            println!(
                "URL: {}\n",
                client.function_url(&name, namespace.as_deref())
            );
            Ok(())
        }
        StatusCode::CONFLICT => bail!(
            "function {name} already exists{}: deploy with --update (the default) or --replace",
            if body.is_empty() {
                String::new()
            } else {
                format!(" ({body})")
            }
        ),
        StatusCode::BAD_REQUEST => bail!("the gateway rejected {name}: {body}"),
        _ => Err(GatewayError::Status {
            action: format!("deploying {name}"),
            status,
            body,
        }
        .into()),
    }
}

/// POST after a delete; a delete takes a moment to finish, so a 409 is retried briefly.
async fn create_when_gone(
    client: &GatewayClient,
    deployment: &FunctionDeployment,
) -> anyhow::Result<(StatusCode, String)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, body) = client.deploy(deployment, false).await?;
        if status != StatusCode::CONFLICT || std::time::Instant::now() > deadline {
            return Ok((status, body));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
