//! `faasd`: the rustfaas server. One process holds the OpenFaaS-compatible gateway, the
//! provider that runs function replicas (processes, containers or a Kubernetes cluster),
//! and the state under the data directory.

mod async_api;
mod autoscaler_lease;
mod config;
mod connectors;
mod data_dir;
mod limits;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use faas_gateway::{AutoscalerConfig, BasicCredentials, Gateway, GatewayConfig};
use faas_provider::Provider;
use faas_provider_process::{ProcessConfig, ProcessProvider};
use faas_types::VersionInfo;
use tokio::net::TcpListener;

use crate::config::{Args, Config, ProviderChoice, QueueChoice};

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
    let config = match Config::resolve(args, &config::ProcessEnvironment) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("faasd: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut builder = match config.threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        threads => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(threads);
            builder
        }
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("faasd: cannot start the runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("faasd: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let open_files = limits::raise_open_file_limit();
    data_dir::prepare(&config.data_dir)?;
    let credentials = data_dir::credentials(&config.data_dir)?;

    let election = autoscaler_lease::election(&config).await?;
    let provider = open_provider(&config, election.as_ref()).await?;

    let gateway = Gateway::new(provider.clone(), gateway_config(&config, &credentials));
    // Runs until faasd exits; an interval of 0 turns autoscaling (and scale to zero) off.
    let _autoscaler = (!config.autoscale_interval.is_zero())
        .then(|| {
            let auth = config.auth.then(|| BasicCredentials {
                user: credentials.user.clone(),
                password: credentials.password.clone(),
            });
            let source = autoscaler_lease::load_source(&config, &gateway, auth)?;
            autoscaler_lease::start(&gateway, source, election.as_ref())
        })
        .transpose()?;
    let _history = gateway.start_history();

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    announce(&config, &credentials, address);

    let mut queue_registry = prometheus_client::registry::Registry::default();
    let queue_metrics = faas_queue::QueueMetrics::register(&mut queue_registry);
    let queue = open_queue(&config, queue_metrics.clone()).await?;
    let async_api = async_api::AsyncApi {
        queue: queue.clone(),
        provider: provider.clone(),
        max_body_bytes: 32 * 1024 * 1024,
        known: Arc::default(),
    };
    let workers = start_workers(&config, queue, queue_metrics, address)?;
    // Event connectors (cron; NATS and MQTT when configured), calling functions through this
    // gateway like any caller.
    let _connectors = connectors::start(&config, provider.clone(), address).await?;
    let queue_registry = Arc::new(queue_registry);
    let router = gateway.router().merge(async_api.router(gateway.auth()));
    // The queue's series appear on the gateway's /metrics, after its own.
    gateway.expose_metrics(queue_registry);

    serve_until_signal(&config, listener, router, open_files).await;
    if let Some(workers) = workers {
        workers.shutdown(Duration::from_secs(5)).await;
    }
    provider.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// The gateway's settings from faasd's.
fn gateway_config(config: &Config, credentials: &data_dir::Credentials) -> GatewayConfig {
    GatewayConfig {
        auth: config.auth.then(|| BasicCredentials {
            user: credentials.user.clone(),
            password: credentials.password.clone(),
        }),
        upstream_timeout: config.upstream_timeout,
        ready_wait: config.ready_wait,
        max_json_bytes: 1024 * 1024,
        max_package_bytes: usize::try_from(config.limits.max_package_bytes).unwrap_or(usize::MAX),
        max_package_unpacked_bytes: config.limits.max_package_unpacked_bytes,
        max_package_ratio: config.limits.max_package_ratio,
        version: VersionInfo {
            commit_message: String::new(),
            sha: option_env!("RUSTFAAS_GIT_SHA").unwrap_or("dev").to_string(),
            release: env!("CARGO_PKG_VERSION").to_string(),
        },
        metrics: config.metrics,
        history: config.history,
        prometheus_url: config.prometheus_url.clone(),
        cold_start_timeout: config.cold_start_timeout,
        idle_connection_timeout: config.idle_connection_timeout,
        autoscaler: AutoscalerConfig {
            interval: config.autoscale_interval,
            load_window: config.load_window,
            scale_down_window: config.scale_down_window,
        },
        ..GatewayConfig::default()
    }
}

/// Says where faasd listens and how to log in.
fn announce(config: &Config, credentials: &data_dir::Credentials, address: SocketAddr) {
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
}

/// The queue workers, calling functions through this gateway at `address`; none when
/// `queue_worker` is off.
fn start_workers(
    config: &Config,
    queue: Arc<dyn faas_queue::Queue>,
    metrics: faas_queue::QueueMetrics,
    address: SocketAddr,
) -> anyhow::Result<Option<faas_queue::WorkerPool>> {
    if !config.queue_worker {
        tracing::warn!("queue worker is off: asynchronous calls are accepted and kept, not run");
        return Ok(None);
    }
    let invoker = faas_queue::GatewayInvoker::new(
        format!("http://{address}"),
        config.upstream_timeout + Duration::from_secs(5),
    )
    .map_err(|err| anyhow::anyhow!("queue worker: {err}"))?
    .with_max_answer_bytes(config.limits.queue_max_answer_bytes);
    let mut worker = faas_queue::WorkerConfig {
        max_inflight: config.queue_max_inflight,
        ..faas_queue::WorkerConfig::default()
    };
    worker.retry.attempts = config.queue_retry_attempts;
    worker.retry.min_wait = config.queue_retry_min_wait;
    worker.retry.max_wait = config.queue_retry_max_wait;
    let pool = faas_queue::WorkerPool::start(
        queue,
        Arc::new(invoker),
        faas_queue::WorkerPoolConfig::new(worker),
        metrics,
    )
    .map_err(|err| anyhow::anyhow!("queue worker: {err}"))?;
    Ok(Some(pool))
}

/// Serves `router` until the server stops or SIGTERM/SIGINT: then stops accepting and waits
/// up to `shutdown_timeout` for the calls in flight.
async fn serve_until_signal(
    config: &Config,
    listener: TcpListener,
    router: axum::Router,
    open_files: u64,
) {
    let (stop_tx, mut stopped) = tokio::sync::watch::channel(false);
    let server = faas_gateway::listener::serve(
        listener,
        router,
        config.limits.listener(open_files),
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        },
    );
    let mut server = std::pin::pin!(server);
    tokio::select! {
        () = &mut server => {}
        _ = shutdown_signal() => {
            tracing::info!("shutting down: draining in-flight calls for up to {:?}", config.shutdown_timeout);
            let _ = stop_tx.send(true);
            if tokio::time::timeout(config.shutdown_timeout, &mut server).await.is_err() {
                tracing::warn!("shutdown_timeout passed with calls still open");
            }
        }
    }
}

/// The backend that runs replicas, as configured.
async fn open_provider(
    config: &Config,
    election: Option<&autoscaler_lease::Election>,
) -> anyhow::Result<Arc<dyn Provider>> {
    #[cfg(not(feature = "kubernetes"))]
    let _ = election;
    Ok(match &config.provider {
        ProviderChoice::Process => ProcessProvider::open(ProcessConfig {
            data_dir: config.data_dir.clone(),
            watchdog_path: config.watchdog.clone(),
            max_replicas: config.max_replicas,
            ready_timeout: Duration::from_secs(30),
            log_max_bytes: 10 * 1024 * 1024,
            package_grace: Duration::from_secs(3600),
            sandbox: config.sandbox.clone(),
        })
        .await
        .context("cannot open the process provider")?,
        #[cfg(feature = "kubernetes")]
        ProviderChoice::Kubernetes { operator, .. } => {
            faas_provider_kubernetes::KubernetesProvider::connect(
                faas_provider_kubernetes::KubernetesConfig {
                    operator: *operator,
                    // Of several replicas, the one holding the Lease runs the controller.
                    operator_leader: election.map(|e| e.subscribe()),
                    ..faas_provider_kubernetes::KubernetesConfig::default()
                },
            )
            .await
            .context("cannot open the kubernetes provider")?
        }
        #[cfg(not(feature = "kubernetes"))]
        ProviderChoice::Kubernetes { .. } => anyhow::bail!(
            "this faasd was built without the kubernetes provider: rebuild with `--features kubernetes`"
        ),
        #[cfg(feature = "docker")]
        ProviderChoice::Docker {
            host,
            image_pull,
            docker_config,
        } => {
            faas_provider_docker::DockerProvider::open(faas_provider_docker::DockerConfig {
                data_dir: config.data_dir.clone(),
                docker_host: host.clone(),
                max_replicas: config.max_replicas,
                ready_timeout: Duration::from_secs(30),
                image_pull: image_pull.parse().map_err(|e: String| anyhow::anyhow!(e))?,
                pull_timeout: Duration::from_secs(300),
                registry_config: docker_config.clone(),
            })
            .await
            .context("cannot open the docker provider")?
        }
        #[cfg(not(feature = "docker"))]
        ProviderChoice::Docker { .. } => anyhow::bail!(
            "this faasd was built without the docker provider: rebuild with `--features docker`"
        ),
    })
}

async fn open_queue(
    config: &Config,
    metrics: faas_queue::QueueMetrics,
) -> anyhow::Result<Arc<dyn faas_queue::Queue>> {
    let inner: Arc<dyn faas_queue::Queue> = match &config.queue {
        QueueChoice::Embedded => Arc::new(
            faas_queue::EmbeddedQueue::open(faas_queue::EmbeddedConfig::new(
                config.data_dir.join("queue"),
            ))
            .await
            .context("cannot open the embedded queue")?,
        ),
        #[cfg(feature = "nats")]
        QueueChoice::Nats(url) => Arc::new(
            faas_queue::NatsQueue::connect(faas_queue::NatsConfig::new(url.clone()))
                .await
                .with_context(|| format!("cannot connect to NATS at {url}"))?,
        ),
        #[cfg(not(feature = "nats"))]
        QueueChoice::Nats(_) => anyhow::bail!(
            "this faasd was built without NATS support: rebuild with `--features nats`"
        ),
    };
    Ok(Arc::new(faas_queue::MeteredQueue::new(inner, metrics)))
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
