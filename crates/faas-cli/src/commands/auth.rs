//! `login` and `logout`: credentials in the config file, checked against the gateway first.

use anyhow::{bail, Context as _};

use crate::args::{LoginArgs, LogoutArgs};
use crate::auth_config::{ConfigFile, Credentials};
use crate::commands::{read_stdin, stdin_is_terminal};
use crate::context::Context;
use crate::gateway::{GatewayClient, GatewayError};

/// Runs `login`.
pub async fn login(ctx: &Context, args: LoginArgs) -> anyhow::Result<()> {
    let stack = ctx.optional_stack()?;
    let gateway = ctx.gateway_url(stack.as_ref());
    let password = match (&args.password, args.password_stdin) {
        (Some(_), true) => bail!("--password and --password-stdin are mutually exclusive"),
        (Some(password), false) => {
            eprintln!("WARNING! Using --password is insecure, consider using: cat ~/faas_pass.txt | faas-cli login -u {} --password-stdin", args.username);
            password.clone()
        }
        (None, true) => {
            if stdin_is_terminal() {
                bail!("--password-stdin reads the password from stdin: pipe it in, e.g. `cat <data-dir>/secrets/basic-auth-password | faas-cli login --password-stdin`");
            }
            let bytes = read_stdin(false)?;
            String::from_utf8(bytes)
                .context("the password on stdin is not UTF-8")?
                .trim()
                .to_owned()
        }
        (None, false) => bail!(
            "must provide --password or --password-stdin (faasd keeps the admin password in <data-dir>/secrets/basic-auth-password: `cat <data-dir>/secrets/basic-auth-password | faas-cli login -g {gateway} --password-stdin`)"
        ),
    };
    if password.is_empty() {
        bail!("must provide a non-empty password via --password or --password-stdin");
    }
    let username = args.username.trim();
    if username.is_empty() {
        bail!("must provide --username or -u");
    }

    println!("Calling the OpenFaaS server to validate the credentials...");
    let client = GatewayClient::new(
        &gateway,
        Some(Credentials::Basic {
            user: username.to_owned(),
            password: password.clone(),
        }),
        ctx.global.tls_no_verify,
    )?;
    match client.list_functions(None).await {
        Ok(_) => {}
        Err(GatewayError::Unauthorized { .. }) => {
            bail!("unable to login, either username or password is incorrect (gateway {gateway})")
        }
        Err(err) => return Err(err.into()),
    }
    let path = ctx.config_path()?;
    let mut config = ConfigFile::read(&path)?;
    config.set_basic(&gateway, username, &password);
    config.write(&path)?;
    println!("credentials saved for {username} {gateway}");
    Ok(())
}

/// Runs `logout`.
pub fn logout(ctx: &Context, _args: LogoutArgs) -> anyhow::Result<()> {
    let stack = ctx.optional_stack()?;
    let gateway = ctx.gateway_url(stack.as_ref());
    let path = ctx.config_path()?;
    let mut config = ConfigFile::read(&path)?;
    if !config.remove(&gateway) {
        bail!("you are not logged in to {gateway}");
    }
    config.write(&path)?;
    println!("credentials removed for {gateway}");
    Ok(())
}
