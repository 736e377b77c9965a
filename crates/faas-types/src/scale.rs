//! The body of `/system/scale-function/{name}` (Go: `types.ScaleServiceRequest`).

use serde::{Deserialize, Serialize};

use crate::namespace::DEFAULT_NAMESPACE;
use crate::nullable;

/// Sets a function's desired replicas.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleServiceRequest {
    /// The function; some clients send it as `service`, which is accepted too.
    #[serde(
        default,
        alias = "service",
        deserialize_with = "nullable::default_on_null"
    )]
    pub service_name: String,
    /// Desired replicas (0 is allowed).
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub replicas: u64,
    /// Namespace; `None` means [`DEFAULT_NAMESPACE`].
    #[serde(
        default,
        deserialize_with = "nullable::empty_as_none",
        skip_serializing_if = "nullable::is_none_or_empty"
    )]
    pub namespace: Option<String>,
}

impl ScaleServiceRequest {
    /// The namespace, or [`DEFAULT_NAMESPACE`] when none was given.
    pub fn namespace_or_default(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }
}
