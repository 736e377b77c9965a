//! `local-run`: builds a function and runs it here under fwatchdog, with no gateway: the built
//! package folder is the working directory and its `faas-package.json` env the environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::args::{BuildArgs, LocalRunArgs};
use crate::commands::build::build_stack;
use crate::commands::parse_pairs;
use crate::context::Context;

/// Runs `local-run`.
pub async fn run(ctx: &Context, args: LocalRunArgs) -> anyhow::Result<()> {
    let stack = ctx.require_stack()?;
    let function = match &args.name {
        Some(name) => stack.functions.get(name).cloned().with_context(|| {
            format!(
                "function {name} is not in the stack file (it has: {})",
                stack
                    .functions
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?,
        None if stack.functions.len() == 1 => {
            stack.functions.values().next().cloned().unwrap_or_default()
        }
        None => bail!(
            "the stack file has several functions: name one, e.g. faas-cli local-run {}",
            stack.functions.keys().next().cloned().unwrap_or_default()
        ),
    };
    let name = function.name.clone();
    if args.build {
        let only = std::iter::once(name.clone()).collect();
        build_stack(ctx, &stack, &BuildArgs::default(), Some(&only))?;
    }
    let dir = ctx.cwd.join("build").join(&name);
    if !dir.is_dir() {
        bail!("./build/{name} not found: build it with `faas-cli build` (or drop --build=false)");
    }
    let watchdog = find_watchdog(ctx)?;

    let mut env = package_env(&dir)?;
    if let Some(fprocess) = &function.fprocess {
        env.insert("fprocess".to_owned(), fprocess.clone());
    }
    env.extend(function.merged_environment()?);
    env.extend(parse_pairs(&args.env, "--env")?);
    if std::net::TcpListener::bind(("127.0.0.1", args.port)).is_err() {
        bail!(
            "port {} on 127.0.0.1 is in use (faasd listens on 8080 by default): pick another with --port",
            args.port
        );
    }
    env.insert("port".to_owned(), args.port.to_string());
    env.insert("bind_address".to_owned(), "127.0.0.1".to_owned());
    env.insert("metrics_port".to_owned(), "off".to_owned());
    env.insert("die_with_parent".to_owned(), "true".to_owned());
    let http_mode = env.get("mode").is_some_and(|m| m.trim() == "http");
    if http_mode && !env.contains_key("upstream_url") && !env.contains_key("http_upstream_url") {
        let upstream = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("cannot find a free port for the function's server")?
            .port();
        env.insert("PORT".to_owned(), upstream.to_string());
        env.insert(
            "upstream_url".to_owned(),
            format!("http://127.0.0.1:{upstream}"),
        );
    }

    let mut child = tokio::process::Command::new(&watchdog)
        .current_dir(&dir)
        .envs(&env)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", watchdog.display()))?;
    let url = format!("http://127.0.0.1:{}", args.port);
    let health = format!("{url}/_/health");
    let client = reqwest::Client::builder().no_proxy().build()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("fwatchdog exited ({status}) before {name} was ready: see its output above");
        }
        if let Ok(response) = client
            .get(&health)
            .timeout(Duration::from_secs(1))
            .send()
            .await
        {
            if response.status().is_success() {
                break;
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill().await;
            bail!("{name} did not become ready within 30s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("Function {name} is running at {url}/ (Ctrl+C to stop)");
    println!("Try: curl -d 'hi' {url}/");
    let status = tokio::select! {
        status = child.wait() => status?,
        _ = tokio::signal::ctrl_c() => {
            let _ = child.kill().await;
            return Ok(());
        }
    };
    if !status.success() {
        bail!("fwatchdog exited with {status}");
    }
    Ok(())
}

fn package_env(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let path = dir.join(crate::package::MANIFEST);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(BTreeMap::new());
    };
    #[derive(serde::Deserialize)]
    struct Manifest {
        #[serde(default)]
        env: BTreeMap<String, String>,
    }
    let manifest: Manifest =
        serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
    Ok(manifest.env)
}

/// fwatchdog: `FAAS_WATCHDOG`, else next to faas-cli, else on PATH.
fn find_watchdog(ctx: &Context) -> anyhow::Result<PathBuf> {
    if let Some(path) = &ctx.env.faas_watchdog {
        if path.is_file() {
            return Ok(path.clone());
        }
        bail!("FAAS_WATCHDOG={} is not a file", path.display());
    }
    if let Ok(exe) = std::env::current_exe() {
        let beside = exe.with_file_name("fwatchdog");
        if beside.is_file() {
            return Ok(beside);
        }
    }
    ctx.env.which("fwatchdog").context(
        "cannot find fwatchdog next to faas-cli or on PATH: build it with `cargo build -p faas-watchdog` or set FAAS_WATCHDOG",
    )
}
