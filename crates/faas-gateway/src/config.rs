//! The gateway's settings, built once by whoever starts it (`faasd`, or a test).

use std::time::Duration;

use faas_types::VersionInfo;

/// A user name and password for HTTP basic auth on `/system/*`.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    /// The user name, e.g. `admin`.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Everything the gateway needs to know besides its provider.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Basic auth for `/system/*`; `None` turns auth off.
    pub auth: Option<BasicCredentials>,
    /// How long a function call may wait for the response headers of its replica (then 504).
    pub upstream_timeout: Duration,
    /// How long a call waits for a ready replica when the function wants replicas but none is
    /// ready yet (just deployed, restarting), before 503.
    pub ready_wait: Duration,
    /// Largest JSON body accepted on `/system/*` (413 above it).
    pub max_json_bytes: usize,
    /// Largest package upload accepted on `/system/packages/{name}` (413 above it).
    pub max_package_bytes: usize,
    /// The gateway's own version for `/system/info` (`sha` must not be empty).
    pub version: VersionInfo,
}

impl Default for GatewayConfig {
    /// Auth off, 60 s upstream timeout, 5 s ready wait, 1 MiB JSON, 512 MiB packages.
    fn default() -> Self {
        GatewayConfig {
            auth: None,
            upstream_timeout: Duration::from_secs(60),
            ready_wait: Duration::from_secs(5),
            max_json_bytes: 1 << 20,
            max_package_bytes: 512 << 20,
            version: VersionInfo {
                commit_message: String::new(),
                sha: "unknown".to_owned(),
                release: env!("CARGO_PKG_VERSION").to_owned(),
            },
        }
    }
}
