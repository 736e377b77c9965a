//! `fwatchdog`: the HTTP front of a function, a drop-in for OpenFaaS's classic watchdog and
//! of-watchdog.
//!
//! It reads the same environment variables (`fprocess`, `mode`, `upstream_url`, the timeouts,
//! `max_inflight`, ...) and answers with the same status codes, so images and templates built
//! for OpenFaaS run unchanged. With `mode` unset it runs in `classic` mode, because images
//! built for the classic watchdog never set `mode` while of-watchdog templates always do.
//!
//! A call flows: [`config`] (read once) -> [`server`] (health, readiness, in-flight limit,
//! metrics) -> [`executor`] (`fork` for classic/streaming/serializing, `http` for a
//! long-running process, `static_files` for files).

pub mod body;
pub mod cgi_env;
pub mod config;
pub use faas_types::duration;

pub mod executor;
pub mod isolation;
pub mod log;
pub mod metrics;
pub mod parent_death;
pub mod process;
pub mod server;

pub use config::{Config, ConfigError, Mode};
pub use server::{ServeError, Shutdown, Watchdog};
