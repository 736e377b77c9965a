//! `registry-login`: a registry's credentials in `./credentials/config.json`, where OpenFaaS's
//! faas-cli writes them, in Docker's config.json format; `push` and `up` use them.

use anyhow::{bail, Context as _};

use crate::args::RegistryLoginArgs;
use crate::commands::{read_stdin, stdin_is_terminal};
use crate::context::Context;
use crate::docker_config;

/// Runs `registry-login`.
pub fn login(ctx: &Context, args: RegistryLoginArgs) -> anyhow::Result<()> {
    if args.ecr || args.account_id.is_some() || args.region.is_some() {
        bail!(
            "--ecr, --account-id and --region are not supported: they set up the ecr-login credential helper, which this faas-cli and the docker provider do not run; use --username and --password-stdin with a token (`aws ecr get-login-password | faas-cli registry-login --server ACCOUNT.dkr.ecr.REGION.amazonaws.com -u AWS --password-stdin`)"
        );
    }
    let username = args.username.as_deref().map(str::trim).unwrap_or_default();
    if username.is_empty() {
        bail!("you must give --username (-u)");
    }
    if username.contains(':') {
        bail!("--username {username:?} cannot contain ':' (the credentials are stored as user:password)");
    }
    let password = match (&args.password, args.password_stdin) {
        (Some(_), true) => bail!("--password and --password-stdin are mutually exclusive"),
        (Some(password), false) => {
            eprintln!("WARNING! Using --password is insecure, consider using: cat ~/registry_pass.txt | faas-cli registry-login -u {username} --password-stdin");
            password.clone()
        }
        (None, true) => {
            if stdin_is_terminal() {
                println!("Enter your password, hit enter then type Ctrl+D\n\nPassword: ");
            }
            String::from_utf8(read_stdin(false)?)
                .context("the password on stdin is not UTF-8")?
                .trim()
                .to_owned()
        }
        (None, false) => bail!("both --username and (--password-stdin or --password) are required"),
    };
    if password.is_empty() {
        bail!("both --username and (--password-stdin or --password) are required: the password is empty");
    }
    let server = args.server.trim();
    if server.is_empty() || server.chars().any(char::is_whitespace) {
        bail!(
            "--server {:?} is not a registry address (e.g. 127.0.0.1:5000 or ghcr.io)",
            args.server
        );
    }
    docker_config::save_login(&ctx.cwd, server, username, &password)?;
    println!("\nWrote ./{}..OK", docker_config::LOGIN_FILE);
    Ok(())
}
