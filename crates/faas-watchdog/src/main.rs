//! The `fwatchdog` binary: reads its configuration from the environment and serves until
//! SIGTERM or SIGINT.

use std::process::ExitCode;

use faas_watchdog::config::ProcessEnv;
use faas_watchdog::{Config, Mode, Shutdown, Watchdog};

fn main() -> ExitCode {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if raw
        .first()
        .is_some_and(|a| a == faas_watchdog::parent_death::ARG)
    {
        // The http-mode function's process, in the moment before it becomes the function.
        return faas_watchdog::parent_death::exec(&raw[1..]);
    }
    faas_watchdog::parent_death::enable();
    let args: Vec<String> = raw
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.iter().any(|a| a == "--version" || a == "-version") {
        println!("fwatchdog {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("fwatchdog: {err}");
            return ExitCode::from(2);
        }
    };
    if args
        .iter()
        .any(|a| a == "--run-healthcheck" || a == "-run-healthcheck")
    {
        // The same check OpenFaaS's watchdogs offer for container health probes.
        return if config.lock_path().exists() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    if let Some(unknown) = args.first() {
        eprintln!("fwatchdog: unknown argument {unknown:?} (configuration comes from the environment; flags: --version, --run-healthcheck)");
        return ExitCode::from(2);
    }

    // First: whatever starts from here on (the http-mode upstream) is in the cgroup too.
    if let Err(err) = faas_watchdog::isolation::join_cgroups(&config.cgroup_procs) {
        eprintln!("fwatchdog: {err}");
    }
    if let Some(source) = config.secrets_bind_from.clone() {
        // Before any thread starts: the mount namespace is per thread until then.
        let readable_at = match faas_watchdog::isolation::bind_secrets(&source) {
            Ok(path) => path,
            Err(err) => {
                eprintln!("fwatchdog: secrets stay at {} ({err})", source.display());
                source
            }
        };
        // Functions find their secrets through this variable; set before threads exist.
        std::env::set_var("secret_mount_path", &readable_at);
    }
    // As root still: a Unix call socket (and its directory) stays root's, so the function's
    // uid can neither connect to it nor put another socket in its place.
    let socket = match faas_watchdog::server::CallSocket::bind(&config) {
        Ok(socket) => socket,
        Err(err) => {
            eprintln!("fwatchdog: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Still before any thread: the limit and the uid are per thread until then, and the
    // function must never see root.
    if let Some(limit) = config.max_open_files {
        if let Err(err) = faas_watchdog::isolation::limit_open_files(limit) {
            eprintln!("fwatchdog: {err}");
            return ExitCode::FAILURE;
        }
    }
    if let Some((uid, gid)) = config.run_as {
        if let Err(err) = faas_watchdog::isolation::run_as(uid, gid) {
            eprintln!("fwatchdog: cannot switch to uid {uid} gid {gid}: {err}");
            return ExitCode::FAILURE;
        }
    }
    if config.kill_strays && !faas_watchdog::process::kill_strays_with_calls() {
        eprintln!("fwatchdog: kill_strays ignored: not alone in a PID namespace");
    }
    let die_with_parent = config.die_with_parent;

    // A proxy or file server does little work per call and gains most from staying on one
    // thread (no cross-thread wake-ups); forking modes spend their time in the kernel.
    let threads = match (config.threads, config.mode) {
        (0, Mode::Http | Mode::Static) => 1,
        (n, _) => n,
    };
    let runtime = match build_runtime(threads) {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("fwatchdog: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let watchdog = Watchdog::bind_with(config, socket).await?;
        watchdog.serve(shutdown_signal(die_with_parent)).await
    });
    faas_watchdog::log::flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("fwatchdog: {err}");
            ExitCode::FAILURE
        }
    }
}

fn build_runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let threads = if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        threads
    };
    if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .max_blocking_threads(4)
            .thread_stack_size(256 * 1024)
            .enable_all()
            .build()
    }
}

async fn shutdown_signal(die_with_parent: bool) -> Shutdown {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    let parent = async {
        if die_with_parent {
            faas_watchdog::isolation::parent_gone().await
        } else {
            std::future::pending().await
        }
    };
    tokio::select! {
        _ = term.recv() => Shutdown::Drain,
        _ = int.recv() => Shutdown::Drain,
        _ = parent => Shutdown::Immediate,
    }
}
