//! `faasd`: the rustfaas server. One process holds the OpenFaaS-compatible gateway, the
//! process provider that runs function replicas, and the state under the data directory.

mod config;
mod data_dir;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use faas_gateway::{BasicCredentials, Gateway, GatewayConfig};
use faas_provider::{ProcessConfig, ProcessProvider, Provider};
use faas_types::VersionInfo;
use tokio::net::TcpListener;

use crate::config::{Args, Config};

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("faasd: cannot start the runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("faasd: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let config = Config::resolve(args)?;
    data_dir::prepare(&config.data_dir)?;
    let credentials = data_dir::credentials(&config.data_dir)?;

    let provider = ProcessProvider::open(ProcessConfig {
        data_dir: config.data_dir.clone(),
        watchdog_path: config.watchdog.clone(),
        max_replicas: config.max_replicas,
        ready_timeout: Duration::from_secs(30),
        log_max_bytes: 10 * 1024 * 1024,
        package_grace: Duration::from_secs(3600),
    })
    .await
    .context("cannot open the process provider")?;

    let gateway = Gateway::new(
        provider.clone() as Arc<dyn Provider>,
        GatewayConfig {
            auth: config.auth.then(|| BasicCredentials {
                user: credentials.user.clone(),
                password: credentials.password.clone(),
            }),
            upstream_timeout: config.upstream_timeout,
            ready_wait: config.ready_wait,
            max_json_bytes: 1024 * 1024,
            max_package_bytes: 512 * 1024 * 1024,
            version: VersionInfo {
                commit_message: String::new(),
                sha: option_env!("RUSTFAAS_GIT_SHA").unwrap_or("dev").to_string(),
                release: env!("CARGO_PKG_VERSION").to_string(),
            },
        },
    );

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    println!(
        "faasd listening on http://{address} (data in {})",
        config.data_dir.display()
    );
    if config.auth {
        let note = if credentials.created {
            "created"
        } else {
            "kept"
        };
        println!(
            "admin password {note} in {} (user {}); log in with:\n  cat {} | faas-cli login -g http://{address} -u {} --password-stdin",
            credentials.password_file.display(),
            credentials.user,
            credentials.password_file.display(),
            credentials.user
        );
    } else {
        println!("basic auth is OFF: anyone who can reach {address} can deploy functions");
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let service = gateway
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    let mut stopped = stop_rx.clone();
    let server = axum::serve(listener, service).with_graceful_shutdown(async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => result.context("server failed")?,
        _ = shutdown_signal() => {
            tracing::info!("shutting down: draining in-flight calls for up to {:?}", config.shutdown_timeout);
            let _ = stop_tx.send(true);
            if tokio::time::timeout(config.shutdown_timeout, &mut server).await.is_err() {
                tracing::warn!("shutdown_timeout passed with calls still open");
            }
        }
    }
    provider.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
