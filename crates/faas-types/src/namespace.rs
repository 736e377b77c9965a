//! Namespaces: the default one and the body of `/system/namespace/{ns}`
//! (Go: `types.FunctionNamespace`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::nullable;

/// Where functions go when no namespace is given.
pub const DEFAULT_NAMESPACE: &str = "openfaas-fn";

/// Creates or updates a namespace. Fields follow Go's order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NamespaceRequest {
    /// The namespace's name.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub name: String,
    /// Annotations.
    #[serde(default, skip_serializing_if = "nullable::is_none_or_empty_map")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels.
    #[serde(default, skip_serializing_if = "nullable::is_none_or_empty_map")]
    pub labels: Option<BTreeMap<String, String>>,
}
