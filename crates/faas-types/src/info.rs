//! The answer of `/system/info` (Go: `types.GatewayInfo`, `ProviderInfo`, `VersionInfo`).

use serde::{Deserialize, Serialize};

use crate::nullable;

/// A build's version. OpenFaaS clients expect `sha` not to be empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Left out when empty (the provider's version has none).
    #[serde(
        default,
        deserialize_with = "nullable::default_on_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub commit_message: String,
    /// Commit SHA.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub sha: String,
    /// Release, e.g. `0.1.0`.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub release: String,
}

/// The provider behind the gateway. Fields follow Go's order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProviderInfo {
    /// The provider's name (JSON `provider`), e.g. `rustfaas`.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub provider: String,
    /// The provider's version.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub version: VersionInfo,
    /// What runs the functions, e.g. `process`, `docker`, `kubernetes`.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub orchestration: String,
}

/// How the provider confines function replicas (ours; absent where the provider has no
/// such notion, e.g. containers).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SandboxInfo {
    /// `required`, `auto` or `off`, as configured.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub mode: String,
    /// Whether replicas run sandboxed at all.
    #[serde(default)]
    pub active: bool,
    /// Each guarantee given, and how.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub enforced: Vec<String>,
    /// Each guarantee this host cannot give, and why.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub missing: Vec<String>,
}

/// The whole `/system/info` answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GatewayInfo {
    /// The provider.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub provider: ProviderInfo,
    /// The gateway's version.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub version: VersionInfo,
    /// CPU architecture of the gateway's host, e.g. `x86_64`.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub arch: String,
    /// How replicas are confined (ours: not in OpenFaaS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxInfo>,
}
