//! Starting the long-running function process (http mode) so that it dies with the watchdog,
//! even when the watchdog is killed with SIGKILL and runs no cleanup.
//!
//! The kernel's parent-death signal (`PR_SET_PDEATHSIG`) must be set in the child between
//! fork and exec, which std allows only through `unsafe` `pre_exec`. Instead the watchdog
//! starts itself (`/proc/self/exe`) with [`ARG`]: that child sets the signal on itself (a safe
//! call), checks that its parent has not already gone, and execs the function in its own
//! place: same pid, same process group, and the signal survives the exec.

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

static UNDERSTOOD: AtomicBool = AtomicBool::new(false);

/// Called by a binary whose `main` hands [`ARG`] to [`exec`] (the `fwatchdog` binary): from
/// then on [`wrap`] starts functions through it. A program that uses this library without
/// doing so starts them directly.
pub fn enable() {
    UNDERSTOOD.store(true, Ordering::Relaxed);
}

/// The argument that makes `fwatchdog` exec a function instead of serving:
/// `fwatchdog ARG <parent pid> -- program args...`.
pub const ARG: &str = "--exec-dying-with-parent";

/// The program and arguments that run `argv` as a child of this process which the kernel
/// SIGKILLs when this process dies (`argv` itself unless [`enable`] was called).
pub fn wrap(argv: &[String]) -> (String, Vec<String>) {
    if !UNDERSTOOD.load(Ordering::Relaxed) {
        return (argv[0].clone(), argv[1..].to_vec());
    }
    let mut args = vec![
        ARG.to_owned(),
        std::process::id().to_string(),
        "--".to_owned(),
    ];
    args.extend(argv.iter().cloned());
    ("/proc/self/exe".to_owned(), args)
}

/// The child's side, given the arguments after [`ARG`]: returns only when the function
/// could not be started (or the parent is already gone), with the exit code to use.
pub fn exec(args: &[OsString]) -> ExitCode {
    let (Some(parent), Some(separator)) = (args.first(), args.get(1)) else {
        eprintln!("fwatchdog: {ARG} needs <parent pid> -- program [args]");
        return ExitCode::from(2);
    };
    let Some(parent) = parent.to_str().and_then(|p| p.parse::<i32>().ok()) else {
        eprintln!("fwatchdog: {ARG}: bad parent pid {parent:?}");
        return ExitCode::from(2);
    };
    let Some(program) = args.get(2).filter(|_| separator == "--") else {
        eprintln!("fwatchdog: {ARG} needs <parent pid> -- program [args]");
        return ExitCode::from(2);
    };
    if let Err(err) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL) {
        eprintln!("fwatchdog: cannot ask to die with the watchdog: {err}");
    }
    // The watchdog may have died between our fork and the line above: then nobody would
    // send the signal, and the function must not start.
    if nix::unistd::getppid().as_raw() != parent {
        return ExitCode::from(1);
    }
    let err = std::process::Command::new(program).args(&args[3..]).exec();
    eprintln!("fwatchdog: cannot start fprocess {program:?}: {err}");
    ExitCode::from(127)
}
