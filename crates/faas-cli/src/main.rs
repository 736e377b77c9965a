//! The `faas-cli` binary: parses the command line, reads the environment once, runs the
//! command, and prints `Error: ...` (exit status 1) when it fails.

use clap::Parser;
use faas_cli::args::Cli;
use faas_cli::env::CliEnv;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let env = CliEnv::from_process();
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(err) => {
            eprintln!("Error: cannot read the current folder: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("Error: cannot start the runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(faas_cli::commands::run(cli, env, cwd)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {}", render(&err));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each once (library errors often repeat their source's text).
fn render(err: &anyhow::Error) -> String {
    let mut out = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}
