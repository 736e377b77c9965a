//! The environment faas-cli reads, taken once at start-up so that nothing below `main` calls
//! `std::env::var` and tests can build it directly.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Environment variables faas-cli gives meaning to.
#[derive(Debug, Clone, Default)]
pub struct CliEnv {
    /// `OPENFAAS_URL`: the gateway when neither `-g` nor a stack file names one.
    pub openfaas_url: Option<String>,
    /// `OPENFAAS_CONFIG`: the folder holding `config.yml` (a path ending in `.yml`/`.yaml` is
    /// taken as the file itself).
    pub openfaas_config: Option<PathBuf>,
    /// `OPENFAAS_PREFIX`: image prefix for `new`.
    pub openfaas_prefix: Option<String>,
    /// `OPENFAAS_STORE`: the store catalog to read.
    pub openfaas_store: Option<String>,
    /// `OPENFAAS_TEMPLATE_URL`: the repository `template pull` fetches from by default.
    pub openfaas_template_url: Option<String>,
    /// `OPENFAAS_TEMPLATE_STORE_URL`: the template store `template store` reads.
    pub openfaas_template_store_url: Option<String>,
    /// `FAAS_WATCHDOG`: the fwatchdog binary `local-run` starts.
    pub faas_watchdog: Option<PathBuf>,
    /// `HOME`.
    pub home: Option<PathBuf>,
    /// `PATH`, to find programs.
    pub path: Option<String>,
    /// Every variable, for `${VAR}` substitution in stack files.
    pub vars: BTreeMap<String, String>,
}

impl CliEnv {
    /// Reads the process environment.
    pub fn from_process() -> CliEnv {
        let vars: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        CliEnv::from_map(vars)
    }

    /// Builds the environment from a map (tests).
    pub fn from_map(vars: BTreeMap<String, String>) -> CliEnv {
        let get = |name: &str| vars.get(name).filter(|v| !v.is_empty()).cloned();
        CliEnv {
            openfaas_url: get("OPENFAAS_URL"),
            openfaas_config: get("OPENFAAS_CONFIG").map(PathBuf::from),
            openfaas_prefix: get("OPENFAAS_PREFIX"),
            openfaas_store: get("OPENFAAS_STORE"),
            openfaas_template_url: get("OPENFAAS_TEMPLATE_URL"),
            openfaas_template_store_url: get("OPENFAAS_TEMPLATE_STORE_URL"),
            faas_watchdog: get("FAAS_WATCHDOG").map(PathBuf::from),
            home: get("HOME").map(PathBuf::from),
            path: get("PATH"),
            vars,
        }
    }

    /// Finds `program` on `PATH`.
    pub fn which(&self, program: &str) -> Option<PathBuf> {
        let path = self.path.as_deref()?;
        std::env::split_paths(path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    }
}
