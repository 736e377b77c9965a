//! What every command resolves the same way: the stack file(s), the gateway URL (flag, then a
//! stack file's non-default `provider.gateway`, then `OPENFAAS_URL`, then the default), the
//! credentials saved for it, and the namespace.

use std::path::{Path, PathBuf};

use crate::args::GlobalArgs;
use crate::auth_config::{self, ConfigFile, Credentials};
use crate::env::CliEnv;
use crate::gateway::{GatewayClient, GatewayError};
use crate::stack::{self, Selection, Stack, StackError, DEFAULT_GATEWAY};

/// A command's surroundings.
#[derive(Debug, Clone)]
pub struct Context {
    /// Global flags.
    pub global: GlobalArgs,
    /// The environment.
    pub env: CliEnv,
    /// The working directory (the project folder).
    pub cwd: PathBuf,
}

/// Resolution failures.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// A stack file problem.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// A config file problem.
    #[error(transparent)]
    Config(#[from] auth_config::AuthConfigError),
    /// A gateway URL problem.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
}

impl Context {
    /// A context for `global` flags in `cwd`.
    pub fn new(global: GlobalArgs, env: CliEnv, cwd: PathBuf) -> Context {
        Context { global, env, cwd }
    }

    fn selection(&self) -> Selection {
        Selection {
            filter: self.global.filter.clone(),
            regex: self.global.regex.clone(),
        }
    }

    /// The stack: the `-f` files, else stack.yml/stack.yaml; an error when there is none.
    pub fn require_stack(&self) -> Result<Stack, StackError> {
        let files = stack::stack_files(&self.global.yaml, &self.cwd)?;
        stack::load(
            &files,
            &self.cwd,
            &self.env.vars,
            self.global.envsubst,
            &self.selection(),
        )
    }

    /// The stack when one is given or present (used for its gateway), else none.
    pub fn optional_stack(&self) -> Result<Option<Stack>, StackError> {
        let files = stack::optional_stack_files(&self.global.yaml, &self.cwd);
        if files.is_empty() {
            return Ok(None);
        }
        let stack = stack::load(
            &files,
            &self.cwd,
            &self.env.vars,
            self.global.envsubst,
            &self.selection(),
        )?;
        Ok(Some(stack))
    }

    /// The gateway URL, by OpenFaaS's precedence.
    pub fn gateway_url(&self, stack: Option<&Stack>) -> String {
        let from_stack = stack
            .map(|s| s.provider.gateway.trim())
            .filter(|g| !g.is_empty() && normalize(g) != DEFAULT_GATEWAY);
        let chosen = self
            .global
            .gateway
            .as_deref()
            .filter(|g| !g.trim().is_empty())
            .or(from_stack)
            .or(self.env.openfaas_url.as_deref())
            .unwrap_or(DEFAULT_GATEWAY);
        normalize(chosen)
    }

    /// The config file's path.
    pub fn config_path(&self) -> Result<PathBuf, auth_config::AuthConfigError> {
        auth_config::config_path(&self.env)
    }

    /// Credentials for `gateway`: `--token`, else the config file's.
    pub fn credentials(&self, gateway: &str) -> Result<Option<Credentials>, ContextError> {
        if let Some(token) = self.global.token.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Some(Credentials::Bearer(token.to_owned())));
        }
        let path = self.config_path()?;
        Ok(ConfigFile::read(&path)?.credentials(gateway)?)
    }

    /// A client for the gateway this command talks to.
    pub fn client(&self, stack: Option<&Stack>) -> Result<GatewayClient, ContextError> {
        let gateway = self.gateway_url(stack);
        let credentials = self.credentials(&gateway)?;
        Ok(GatewayClient::new(
            &gateway,
            credentials,
            self.global.tls_no_verify,
        )?)
    }

    /// A client, reading the stack (when present) only for its gateway.
    pub fn client_with_optional_stack(&self) -> Result<GatewayClient, ContextError> {
        let stack = self.optional_stack()?;
        self.client(stack.as_ref())
    }

    /// The `-n` namespace.
    pub fn namespace(&self) -> Option<&str> {
        self.global.namespace.as_deref().filter(|n| !n.is_empty())
    }

    /// A path relative to the project folder.
    pub fn path(&self, relative: &Path) -> PathBuf {
        self.cwd.join(relative)
    }
}

/// Lower-case, no trailing slash, `http://` added when no scheme is given (as OpenFaaS does).
pub fn normalize(gateway: &str) -> String {
    let trimmed = gateway.trim().trim_end_matches('/');
    let lowered = trimmed.to_lowercase();
    if lowered.starts_with("http://") || lowered.starts_with("https://") {
        lowered
    } else {
        format!("http://{lowered}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(flag: Option<&str>, env_url: Option<&str>) -> Context {
        let env = CliEnv {
            openfaas_url: env_url.map(str::to_owned),
            ..CliEnv::default()
        };
        Context::new(
            GlobalArgs {
                gateway: flag.map(str::to_owned),
                ..GlobalArgs::default()
            },
            env,
            PathBuf::from("/tmp"),
        )
    }

    fn stack(gateway: &str) -> Stack {
        let mut stack = Stack::default();
        stack.provider.gateway = gateway.to_owned();
        stack
    }

    #[test]
    fn gateway_precedence() {
        assert_eq!(context(None, None).gateway_url(None), DEFAULT_GATEWAY);
        assert_eq!(
            context(None, Some("http://env:1")).gateway_url(None),
            "http://env:1"
        );
        assert_eq!(
            context(None, Some("http://env:1")).gateway_url(Some(&stack("http://yaml:2"))),
            "http://yaml:2"
        );
        // The default in a stack file does not hide OPENFAAS_URL.
        assert_eq!(
            context(None, Some("http://env:1")).gateway_url(Some(&stack("http://127.0.0.1:8080/"))),
            "http://env:1"
        );
        assert_eq!(
            context(Some("http://flag:3/"), Some("http://env:1"))
                .gateway_url(Some(&stack("http://yaml:2"))),
            "http://flag:3"
        );
        assert_eq!(
            context(Some("gw:8080"), None).gateway_url(None),
            "http://gw:8080"
        );
    }
}
