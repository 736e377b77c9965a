//! The watchdog's configuration, read once from the environment under the variable names
//! OpenFaaS's classic watchdog and of-watchdog use.
//!
//! Code below this module never reads the environment: tests build a [`Config`] from a map.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::duration;

/// How the watchdog runs the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Classic watchdog: fork per call, whole response buffered, 408 on `exec_timeout`.
    Classic,
    /// of-watchdog streaming: fork per call, stdout streamed to the caller as it is written.
    Streaming,
    /// of-watchdog serializing: fork per call, request and response buffered.
    Serializing,
    /// of-watchdog http: start `fprocess` once and reverse-proxy to `upstream_url`.
    Http,
    /// of-watchdog static: serve files from `static_path`.
    Static,
}

impl Mode {
    /// The name used in the `mode` variable.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Classic => "classic",
            Mode::Streaming => "streaming",
            Mode::Serializing => "serializing",
            Mode::Http => "http",
            Mode::Static => "static",
        }
    }

    /// Modes that fork one process per call.
    pub fn forks(self) -> bool {
        matches!(self, Mode::Classic | Mode::Streaming | Mode::Serializing)
    }
}

/// A configuration error; its text names the variable at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("fprocess (or function_process) must be set for mode {0}")]
    MissingProcess(&'static str),
    #[error("unknown mode {0:?}: use classic, streaming, serializing, http or static")]
    UnknownMode(String),
    #[error("{name}={value:?} is not a duration: use Go syntax such as 10s, 1m30s, 500ms, or whole seconds")]
    BadDuration { name: &'static str, value: String },
    #[error("{name}={value:?} is not a whole number")]
    BadNumber { name: &'static str, value: String },
    #[error("{name}={value:?} is not a boolean: use true or false")]
    BadBool { name: &'static str, value: String },
    #[error("{name}={value:?} is not an IP address")]
    BadAddress { name: &'static str, value: String },
    #[error("{name}={value:?} is not an http:// URL with a host and port")]
    BadUrl { name: &'static str, value: String },
    #[error("fprocess={0:?} cannot be split into words: {1}")]
    BadProcess(String, String),
}

/// Everything the watchdog needs to know, read once at start.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub bind_address: IpAddr,
    pub port: u16,
    /// *ours*: listen for calls on this Unix socket instead of `bind_address:port` (the
    /// process provider's sandbox: no TCP port another function could reach or squat).
    pub unix_socket: Option<PathBuf>,
    /// `None` switches the metrics listener off; `Some(0)` picks a free port.
    pub metrics_port: Option<u16>,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    /// Zero means no limit.
    pub exec_timeout: Duration,
    pub healthcheck_interval: Duration,
    /// `fprocess` split into program and arguments.
    pub process: Vec<String>,
    pub upstream_url: Option<http::Uri>,
    pub buffer_http: bool,
    pub ready_path: Option<String>,
    pub static_path: PathBuf,
    pub content_type: Option<String>,
    pub combine_output: bool,
    pub write_debug: bool,
    pub marshal_request: bool,
    pub cgi_headers: bool,
    /// Zero means no limit.
    pub max_inflight: usize,
    pub suppress_lock: bool,
    /// Directory that holds the `.lock` file (`$TMPDIR`).
    pub lock_dir: PathBuf,
    pub prefix_logs: bool,
    pub log_buffer_size: usize,
    pub log_callid: bool,
    /// Most bytes of output buffered in `classic` and `serializing` modes before the process is
    /// killed; keeps a flooding function from exhausting memory.
    pub response_buffer_limit: usize,
    /// Most bytes of a request body buffered (`buffer_http`, `marshal_request`); 413 past it.
    /// Zero means no limit.
    pub request_buffer_limit: usize,
    /// *ours*: exit when the parent process (the platform's server) dies.
    pub die_with_parent: bool,
    /// *ours*: as root, bind-mount this directory at `/var/openfaas/secrets` for the function.
    pub secrets_bind_from: Option<PathBuf>,
    /// *ours*: as root, switch to this uid and gid (no supplementary groups) before serving;
    /// the platform's sandbox starts the watchdog as root only to let it do this.
    pub run_as: Option<(u32, u32)>,
    /// *ours*: the soft and hard limit on open files, set before serving (the function
    /// inherits it and cannot raise it).
    pub max_open_files: Option<u64>,
    /// *ours*: in fork modes, a call killed on timeout takes every other process of the
    /// watchdog's PID namespace not in a call in flight with it (the process provider's
    /// sandbox sets it; ignored unless the watchdog's parent is pid 1).
    pub kill_strays: bool,
    /// *ours*: `cgroup.procs` files (`:`-separated) the watchdog moves itself into before it
    /// starts anything, so that every process it starts is inside them (the process
    /// provider sets it when it runs replicas without its sandbox).
    pub cgroup_procs: Vec<PathBuf>,
    /// Worker threads of the runtime; 0 means one per core.
    pub threads: usize,
}

/// Reads variables by name; the process environment in production, a map in tests.
pub trait EnvSource {
    fn get(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl EnvSource for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

impl Config {
    /// Reads the configuration from `env`, applying OpenFaaS's defaults for the chosen mode.
    pub fn from_env(env: &dyn EnvSource) -> Result<Config, ConfigError> {
        let lookup = |name: &str| env.get(name).filter(|v| !v.trim().is_empty());

        let mode = read_mode(&lookup)?;
        let classic = mode == Mode::Classic;
        let process = read_process(&lookup, mode)?;
        let (read_timeout, write_timeout, exec_timeout, healthcheck_interval) =
            read_timeouts(&lookup, classic)?;
        let upstream_url = read_upstream(&lookup, mode)?;

        let buffer_http = match lookup("buffer_http") {
            Some(_) => read_bool(&lookup, "buffer_http", false)?,
            None => read_bool(&lookup, "http_buffer_req_body", false)?,
        };

        let bind_address = read_bind_address(&lookup)?;
        let metrics_port = read_metrics_port(&lookup)?;

        let lock_dir = lookup("TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));

        let ready_path = lookup("ready_path").map(|p| {
            if p.starts_with('/') {
                p
            } else {
                format!("/{p}")
            }
        });

        Ok(Config {
            mode,
            bind_address,
            port: port_number(&lookup, "port", 8080)?,
            unix_socket: lookup("unix_socket").map(PathBuf::from),
            metrics_port,
            read_timeout,
            write_timeout,
            exec_timeout,
            healthcheck_interval,
            process,
            upstream_url,
            buffer_http,
            ready_path,
            static_path: lookup("static_path")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/home/app/public")),
            content_type: lookup("content_type").or_else(|| {
                (!classic && mode != Mode::Static).then(|| "application/octet-stream".to_string())
            }),
            combine_output: read_bool(&lookup, "combine_output", true)?,
            write_debug: read_bool(&lookup, "write_debug", false)?,
            marshal_request: read_bool(&lookup, "marshal_request", false)?,
            cgi_headers: read_bool(&lookup, "cgi_headers", true)?,
            max_inflight: read_number(&lookup, "max_inflight", 0)? as usize,
            suppress_lock: read_bool(&lookup, "suppress_lock", false)?,
            lock_dir,
            prefix_logs: read_bool(&lookup, "prefix_logs", true)?,
            log_buffer_size: read_number(&lookup, "log_buffer_size", 64 * 1024)? as usize,
            log_callid: read_bool(&lookup, "log_callid", false)?,
            response_buffer_limit: read_number(&lookup, "response_buffer_limit", 512 << 20)?
                as usize,
            request_buffer_limit: read_number(&lookup, "request_buffer_limit", 64 << 20)? as usize,
            die_with_parent: read_bool(&lookup, "die_with_parent", false)?,
            secrets_bind_from: lookup("secrets_bind_from").map(PathBuf::from),
            run_as: match (lookup("run_as_uid"), lookup("run_as_gid")) {
                (None, None) => None,
                _ => Some((
                    id_number(&lookup, "run_as_uid")?,
                    id_number(&lookup, "run_as_gid")?,
                )),
            },
            max_open_files: match lookup("max_open_files") {
                None => None,
                Some(_) => Some(read_number(&lookup, "max_open_files", 0)?),
            },
            kill_strays: read_bool(&lookup, "kill_strays", false)?,
            cgroup_procs: lookup("cgroup_procs")
                .map(|list| {
                    list.split(':')
                        .filter(|p| !p.trim().is_empty())
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default(),
            threads: read_number(&lookup, "watchdog_threads", 0)? as usize,
        })
    }

    /// Path of the lock file that marks the watchdog healthy.
    pub fn lock_path(&self) -> PathBuf {
        self.lock_dir.join(".lock")
    }
}

/// `mode`: classic when unset.
fn read_mode(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Mode, ConfigError> {
    Ok(match lookup("mode").as_deref().map(str::trim) {
        None => Mode::Classic,
        Some("classic") => Mode::Classic,
        Some("streaming") => Mode::Streaming,
        Some("serializing") => Mode::Serializing,
        Some("http") => Mode::Http,
        Some("static") => Mode::Static,
        Some(other) => return Err(ConfigError::UnknownMode(other.to_string())),
    })
}

/// `function_process` (or `fprocess`) split into words; required by the modes that fork.
fn read_process(
    lookup: &dyn Fn(&str) -> Option<String>,
    mode: Mode,
) -> Result<Vec<String>, ConfigError> {
    let process_text = lookup("function_process").or_else(|| lookup("fprocess"));
    let process = match &process_text {
        Some(text) => shell_words::split(text)
            .map_err(|e| ConfigError::BadProcess(text.clone(), e.to_string()))?,
        None => Vec::new(),
    };
    if process.is_empty() && mode.forks() {
        return Err(ConfigError::MissingProcess(mode.name()));
    }
    Ok(process)
}

/// `read_timeout`, `write_timeout`, `exec_timeout` (or `hard_timeout`) and
/// `healthcheck_interval`, with the classic watchdog's defaults or of-watchdog's.
fn read_timeouts(
    lookup: &dyn Fn(&str) -> Option<String>,
    classic: bool,
) -> Result<(Duration, Duration, Duration, Duration), ConfigError> {
    let default_timeout = if classic {
        Duration::from_secs(5)
    } else {
        Duration::from_secs(10)
    };
    let read_timeout = read_duration(lookup, "read_timeout", default_timeout)?;
    let write_timeout = read_duration(lookup, "write_timeout", default_timeout)?;
    let exec_default = if classic {
        Duration::ZERO
    } else {
        Duration::from_secs(10)
    };
    let exec_timeout = match lookup("exec_timeout") {
        Some(_) => read_duration(lookup, "exec_timeout", exec_default)?,
        None => read_duration(lookup, "hard_timeout", exec_default)?,
    };
    let healthcheck_interval = read_duration(lookup, "healthcheck_interval", write_timeout)?;
    Ok((
        read_timeout,
        write_timeout,
        exec_timeout,
        healthcheck_interval,
    ))
}

/// `upstream_url` (or `http_upstream_url`); required in http mode.
fn read_upstream(
    lookup: &dyn Fn(&str) -> Option<String>,
    mode: Mode,
) -> Result<Option<http::Uri>, ConfigError> {
    let upstream_text = lookup("upstream_url").or_else(|| lookup("http_upstream_url"));
    let upstream_url = match upstream_text {
        Some(text) => Some(parse_upstream(&text)?),
        None => None,
    };
    if mode == Mode::Http && upstream_url.is_none() {
        return Err(ConfigError::BadUrl {
            name: "upstream_url",
            value: String::new(),
        });
    }
    Ok(upstream_url)
}

/// `bind_address`: every address when unset.
fn read_bind_address(lookup: &dyn Fn(&str) -> Option<String>) -> Result<IpAddr, ConfigError> {
    Ok(match lookup("bind_address") {
        Some(text) => text.trim().parse().map_err(|_| ConfigError::BadAddress {
            name: "bind_address",
            value: text,
        })?,
        None => IpAddr::from([0, 0, 0, 0]),
    })
}

/// `metrics_port`: 8081 when unset, `None` for `off` or `false`.
fn read_metrics_port(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<u16>, ConfigError> {
    Ok(match lookup("metrics_port").as_deref().map(str::trim) {
        Some("off") | Some("false") => None,
        Some(_) => Some(read_number(lookup, "metrics_port", 8081)? as u16),
        None => Some(8081),
    })
}

fn read_duration(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match lookup(name) {
        None => Ok(default),
        Some(value) => duration::parse(&value).ok_or(ConfigError::BadDuration { name, value }),
    }
}

fn read_bool(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match lookup(name) {
        None => Ok(default),
        Some(value) => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::BadBool { name, value }),
        },
    }
}

fn read_number(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match lookup(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|_| ConfigError::BadNumber { name, value }),
    }
}

/// A uid or gid: present and within 32 bits.
fn id_number(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<u32, ConfigError> {
    let value = lookup(name).unwrap_or_default();
    value
        .trim()
        .parse()
        .map_err(|_| ConfigError::BadNumber { name, value })
}

fn port_number(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: u16,
) -> Result<u16, ConfigError> {
    let number = read_number(lookup, name, u64::from(default))?;
    u16::try_from(number).map_err(|_| ConfigError::BadNumber {
        name,
        value: number.to_string(),
    })
}

fn parse_upstream(text: &str) -> Result<http::Uri, ConfigError> {
    let bad = || ConfigError::BadUrl {
        name: "upstream_url",
        value: text.to_string(),
    };
    let uri: http::Uri = text.trim().parse().map_err(|_| bad())?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(bad());
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn classic_is_the_default_mode() {
        let config = Config::from_env(&env(&[("fprocess", "cat")])).unwrap();
        assert_eq!(config.mode, Mode::Classic);
        assert_eq!(config.read_timeout, Duration::from_secs(5));
        assert_eq!(config.exec_timeout, Duration::ZERO);
        assert_eq!(config.healthcheck_interval, config.write_timeout);
        assert!(config.combine_output);
        assert_eq!(config.content_type, None);
    }

    #[test]
    fn of_watchdog_defaults() {
        let config =
            Config::from_env(&env(&[("mode", "streaming"), ("function_process", "cat")])).unwrap();
        assert_eq!(config.exec_timeout, Duration::from_secs(10));
        assert_eq!(
            config.content_type.as_deref(),
            Some("application/octet-stream")
        );
    }

    #[test]
    fn cgroup_procs_is_a_colon_separated_list() {
        let none = Config::from_env(&env(&[("fprocess", "cat")])).unwrap();
        assert!(none.cgroup_procs.is_empty());
        let two = Config::from_env(&env(&[
            ("fprocess", "cat"),
            (
                "cgroup_procs",
                "/sys/fs/cgroup/memory/r/cgroup.procs::/sys/fs/cgroup/cpu/r/cgroup.procs",
            ),
        ]))
        .unwrap();
        assert_eq!(
            two.cgroup_procs,
            vec![
                PathBuf::from("/sys/fs/cgroup/memory/r/cgroup.procs"),
                PathBuf::from("/sys/fs/cgroup/cpu/r/cgroup.procs")
            ]
        );
    }

    #[test]
    fn fprocess_splits_like_a_shell() {
        let config = Config::from_env(&env(&[("fprocess", r#"sh -c "echo 'a b'; cat""#)])).unwrap();
        assert_eq!(config.process, vec!["sh", "-c", "echo 'a b'; cat"]);
    }

    #[test]
    fn errors_name_the_variable() {
        let cases = [
            (env(&[]), "fprocess"),
            (env(&[("fprocess", "cat"), ("mode", "turbo")]), "turbo"),
            (
                env(&[("fprocess", "cat"), ("exec_timeout", "soon")]),
                "exec_timeout",
            ),
            (env(&[("fprocess", "cat"), ("port", "99999")]), "port"),
            (
                env(&[("fprocess", "cat"), ("combine_output", "maybe")]),
                "combine_output",
            ),
            (env(&[("mode", "http")]), "upstream_url"),
            (
                env(&[("mode", "http"), ("upstream_url", "ftp://x")]),
                "upstream_url",
            ),
            (env(&[("fprocess", "echo 'unclosed")]), "fprocess"),
        ];
        for (vars, needle) in cases {
            let err = Config::from_env(&vars).unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} should name {needle}");
        }
    }
}
