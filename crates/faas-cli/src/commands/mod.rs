//! One module per command group. Commands print what OpenFaaS's faas-cli prints and return
//! `anyhow` errors whose text says what to do next.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::{bail, Context as _};

use crate::args::{Cli, Command};
use crate::context::Context;
use crate::env::CliEnv;

pub mod auth;
pub mod build;
pub mod deploy;
pub mod functions;
pub mod generate;
pub mod invoke;
pub mod local_run;
pub mod logs;
pub mod new;
pub mod registry;
pub mod secret;
pub mod store;
pub mod system;
pub mod template;

/// Runs one command line.
pub async fn run(cli: Cli, env: CliEnv, cwd: PathBuf) -> anyhow::Result<()> {
    let ctx = Context::new(cli.global, env, cwd);
    match cli.command {
        Command::New(args) => new::run(&ctx, args),
        Command::Build(args) => build::build(&ctx, &args).map(|_| ()),
        Command::Push(args) => build::push(&ctx, &args).await,
        Command::Publish(args) => build::publish(&ctx, &args).await,
        Command::Deploy(args) => deploy::run(&ctx, args).await,
        Command::Up(args) => build::up(&ctx, args).await,
        Command::Invoke(args) => invoke::run(&ctx, args).await,
        Command::List(args) => functions::list(&ctx, args).await,
        Command::Describe(args) => functions::describe(&ctx, args).await,
        Command::Remove(args) => functions::remove(&ctx, args).await,
        Command::Logs(args) => logs::run(&ctx, args).await,
        Command::Secret(args) => secret::run(&ctx, args).await,
        Command::Store(args) => store::run(&ctx, args).await,
        Command::Template(args) => template::run(&ctx, args).await,
        Command::Login(args) => auth::login(&ctx, args).await,
        Command::Logout(args) => auth::logout(&ctx, args),
        Command::RegistryLogin(args) => registry::login(&ctx, args),
        Command::Namespaces(args) => system::namespaces(&ctx, args).await,
        Command::Version(args) => system::version(&ctx, args).await,
        Command::Ready(args) => system::ready(&ctx, args).await,
        Command::LocalRun(args) => local_run::run(&ctx, args).await,
        Command::Generate(args) => generate::run(&ctx, args).await,
        Command::Completion(args) => generate::completion(args),
    }
}

/// Parses repeated `KEY=VALUE` flags; `flag` names the flag in errors.
pub fn parse_pairs(values: &[String], flag: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for value in values {
        let Some((key, val)) = value.split_once('=') else {
            bail!("{flag} {value:?} must be KEY=VALUE");
        };
        let key = key.trim();
        if key.is_empty() {
            bail!("{flag} {value:?} has an empty key: use KEY=VALUE");
        }
        out.insert(key.to_owned(), val.to_owned());
    }
    Ok(out)
}

/// Reads all of stdin; when stdin is a terminal, first says how to end the input (as
/// OpenFaaS does).
pub fn read_stdin(prompt: bool) -> anyhow::Result<Vec<u8>> {
    let stdin = std::io::stdin();
    if prompt && stdin.is_terminal() {
        eprintln!("Reading from STDIN - hit (Control + D) to stop.");
    }
    let mut buffer = Vec::new();
    stdin
        .lock()
        .read_to_end(&mut buffer)
        .context("cannot read stdin")?;
    Ok(buffer)
}

/// Whether stdin is a terminal.
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Whether stderr is a terminal (progress spinners).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A size for people: `512 B`, `1.4 KiB`, `3.2 MiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        let parsed = parse_pairs(&["a=1".into(), "b=x=y".into(), "c=".into()], "-e").unwrap();
        assert_eq!(parsed["a"], "1");
        assert_eq!(parsed["b"], "x=y");
        assert_eq!(parsed["c"], "");
        assert!(parse_pairs(&["nokey".into()], "-e").is_err());
        assert!(parse_pairs(&["=v".into()], "-e").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(10), "10 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
    }
}
