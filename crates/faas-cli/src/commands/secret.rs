//! `secret create|update|list|remove`.

use anyhow::{bail, Context as _};
use faas_types::Secret;

use crate::args::{SecretArgs, SecretCommand, SecretValueArgs};
use crate::commands::{read_stdin, stdin_is_terminal};
use crate::context::Context;
use crate::output;

/// Runs `secret`.
pub async fn run(ctx: &Context, args: SecretArgs) -> anyhow::Result<()> {
    let client = ctx.client_with_optional_stack()?;
    let namespace = ctx.namespace().map(str::to_owned);
    match args.command {
        SecretCommand::Create(value) => {
            let secret = secret_from(&value, namespace)?;
            println!(
                "Creating secret: {}.{}",
                secret.name,
                secret.namespace_or_default()
            );
            client.put_secret(&secret, false).await?;
            println!("Created: 202 Accepted");
        }
        SecretCommand::Update(value) => {
            let secret = secret_from(&value, namespace)?;
            println!(
                "Updating secret: {}.{}",
                secret.name,
                secret.namespace_or_default()
            );
            client.put_secret(&secret, true).await?;
            println!("Updated: 202 Accepted");
        }
        SecretCommand::List => {
            let secrets = client.list_secrets(namespace.as_deref()).await?;
            if secrets.is_empty() {
                println!(
                    "No secrets found in namespace {}.",
                    namespace
                        .as_deref()
                        .unwrap_or(faas_types::DEFAULT_NAMESPACE)
                );
                return Ok(());
            }
            let mut names: Vec<String> = secrets.into_iter().map(|s| s.name).collect();
            names.sort();
            print!("{}", output::secret_table(&names));
        }
        SecretCommand::Remove(name) => {
            client
                .delete_secret(&name.name, namespace.as_deref())
                .await?;
            println!("Removed.. OK.");
        }
    }
    Ok(())
}

fn secret_from(args: &SecretValueArgs, namespace: Option<String>) -> anyhow::Result<Secret> {
    if faas_types::validate::validate_function_name(&args.name).is_err() {
        bail!(
            "secret name {:?} is not valid: use lowercase letters, digits and dashes",
            args.name
        );
    }
    let mut secret = Secret {
        name: args.name.clone(),
        namespace,
        ..Secret::default()
    };
    if let Some(literal) = &args.from_literal {
        secret.value = Some(if args.trim {
            literal.trim().to_owned()
        } else {
            literal.clone()
        });
    } else if let Some(file) = &args.from_file {
        let bytes = std::fs::read(file)
            .with_context(|| format!("cannot read --from-file {}", file.display()))?;
        match String::from_utf8(bytes) {
            Ok(text) => secret.value = Some(text),
            Err(e) => secret.raw_value = Some(e.into_bytes()),
        }
    } else {
        if stdin_is_terminal() {
            bail!(
                "give the secret's value with --from-literal VALUE, --from-file FILE, or on stdin (e.g. `echo -n VALUE | faas-cli secret create {}`)",
                args.name
            );
        }
        let bytes = read_stdin(false)?;
        match String::from_utf8(bytes) {
            Ok(text) => {
                secret.value = Some(if args.trim {
                    text.trim().to_owned()
                } else {
                    text
                })
            }
            Err(e) => secret.raw_value = Some(e.into_bytes()),
        }
    }
    if secret.is_empty() {
        bail!("the value of secret {} is empty", args.name);
    }
    Ok(secret)
}
