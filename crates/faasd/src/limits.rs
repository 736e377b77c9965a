//! What faasd allows its clients: the listener's timeouts and connection cap, package upload
//! sizes, and the open-file limit it raises for itself at start. Flags (with `FAASD_*` variables) or a `[limits]` table
//! in the TOML file.

use std::time::Duration;

use clap::Args as ClapArgs;
use faas_gateway::ListenerLimits;
use serde::Deserialize;

use crate::config::{duration, ConfigError};

/// The limit flags.
#[derive(Debug, Default, ClapArgs)]
pub struct LimitArgs {
    /// Longest time a client may take to send a request's head (then its connection is closed).
    #[arg(long, env = "FAASD_HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<String>,
    /// Keep-alive connections with nothing happening for this long are closed.
    #[arg(long, env = "FAASD_IDLE_TIMEOUT")]
    pub idle_timeout: Option<String>,
    /// Most client connections open at once; more are answered 503 (default: 10,000, or a
    /// quarter of the open-file limit when that is lower).
    #[arg(long, env = "FAASD_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Largest package upload in bytes (413 above it; 512 MiB).
    #[arg(long, env = "FAASD_MAX_PACKAGE_BYTES")]
    pub max_package_bytes: Option<u64>,
    /// Most bytes a package may unpack to (413 above it; 2 GiB).
    #[arg(long, env = "FAASD_MAX_PACKAGE_UNPACKED_BYTES")]
    pub max_package_unpacked_bytes: Option<u64>,
    /// Most times its own size a package may unpack to (413 above it; 100).
    #[arg(long, env = "FAASD_MAX_PACKAGE_RATIO")]
    pub max_package_ratio: Option<u64>,
    /// Most bytes of a function's answer the queue worker keeps (32 MiB); a longer answer
    /// dead-letters the call with 413.
    #[arg(long, env = "FAASD_QUEUE_MAX_ANSWER_BYTES")]
    pub queue_max_answer_bytes: Option<usize>,
}

/// The `[limits]` table of the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub header_read_timeout: Option<String>,
    pub idle_timeout: Option<String>,
    pub max_connections: Option<usize>,
    pub max_package_bytes: Option<u64>,
    pub max_package_unpacked_bytes: Option<u64>,
    pub max_package_ratio: Option<u64>,
    pub queue_max_answer_bytes: Option<usize>,
}

/// The limits, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    /// `None`: from the open-file limit once it is raised ([`Limits::listener`]).
    pub max_connections: Option<usize>,
    pub max_package_bytes: u64,
    pub max_package_unpacked_bytes: u64,
    pub max_package_ratio: u64,
    pub queue_max_answer_bytes: usize,
}

impl Limits {
    /// Flags and environment over the file over defaults.
    pub fn resolve(args: LimitArgs, file: Option<LimitsFile>) -> Result<Limits, ConfigError> {
        let file = file.unwrap_or_default();
        let defaults = ListenerLimits::default();
        Ok(Limits {
            header_read_timeout: duration(
                "header_read_timeout",
                args.header_read_timeout.or(file.header_read_timeout),
                defaults.header_read_timeout,
            )?,
            idle_timeout: duration(
                "idle_timeout",
                args.idle_timeout.or(file.idle_timeout),
                defaults.idle_timeout,
            )?,
            max_connections: args.max_connections.or(file.max_connections),
            max_package_bytes: args
                .max_package_bytes
                .or(file.max_package_bytes)
                .unwrap_or(512 << 20),
            max_package_unpacked_bytes: args
                .max_package_unpacked_bytes
                .or(file.max_package_unpacked_bytes)
                .unwrap_or(2 << 30),
            max_package_ratio: args
                .max_package_ratio
                .or(file.max_package_ratio)
                .unwrap_or(100)
                .max(1),
            queue_max_answer_bytes: args
                .queue_max_answer_bytes
                .or(file.queue_max_answer_bytes)
                .unwrap_or(faas_queue::GatewayInvoker::DEFAULT_MAX_ANSWER_BYTES),
        })
    }

    /// The listener's limits, given the open-file limit: replicas, packages and the queue
    /// need descriptors too, so client connections get at most a quarter of them by default.
    pub fn listener(&self, open_files: u64) -> ListenerLimits {
        let default = ListenerLimits::default().max_connections;
        let share = usize::try_from(open_files / 4).unwrap_or(usize::MAX);
        ListenerLimits {
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections.unwrap_or(default.min(share)).max(1),
        }
    }
}

/// Raises this process's open-file soft limit to its hard limit (the common soft limit of
/// 1,024 runs out at a few hundred functions and connections); returns the limit now in force.
pub fn raise_open_file_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    if soft >= hard {
        return soft;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => {
            tracing::info!("open-file limit raised from {soft} to {hard}");
            hard
        }
        Err(err) => {
            tracing::warn!("cannot raise the open-file limit from {soft} to {hard}: {err}");
            soft
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_flags_and_file() {
        let limits = Limits::resolve(LimitArgs::default(), None).unwrap();
        assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
        assert_eq!(limits.idle_timeout, Duration::from_secs(60));
        assert_eq!(limits.listener(1024).max_connections, 256);
        assert_eq!(limits.listener(1 << 20).max_connections, 10_000);

        let file = LimitsFile {
            header_read_timeout: Some("3s".into()),
            idle_timeout: Some("5s".into()),
            max_connections: Some(50),
            max_package_ratio: Some(10),
            ..LimitsFile::default()
        };
        let args = LimitArgs {
            idle_timeout: Some("2s".into()),
            ..LimitArgs::default()
        };
        let limits = Limits::resolve(args, Some(file)).unwrap();
        assert_eq!(limits.header_read_timeout, Duration::from_secs(3));
        assert_eq!(limits.idle_timeout, Duration::from_secs(2));
        assert_eq!(limits.listener(1024).max_connections, 50);
        assert_eq!(limits.max_package_ratio, 10);
        assert_eq!(limits.max_package_bytes, 512 << 20);

        let bad = LimitArgs {
            header_read_timeout: Some("soon".into()),
            ..LimitArgs::default()
        };
        let err = Limits::resolve(bad, None).unwrap_err().to_string();
        assert!(err.contains("header_read_timeout"), "{err}");
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        use nix::sys::resource::{getrlimit, Resource};
        let now = raise_open_file_limit();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(soft, hard);
        assert_eq!(now, hard);
    }
}
