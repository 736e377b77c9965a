//! `generate`: Kubernetes custom resources (`openfaas.com/v1`, kind `Function`, as the
//! OpenFaaS operator reads them) for the functions of a stack file.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::stack::{Function, Resources, StackError};

/// The API versions `generate --api` knows.
pub const SUPPORTED_APIS: &[&str] = &["openfaas.com/v1", "openfaas.com/v1alpha2"];

/// A resource that cannot be generated.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    /// `--api` names something else.
    #[error("unsupported --api {0:?}: use one of {list}", list = SUPPORTED_APIS.join(", "))]
    UnsupportedApi(String),
    /// An environment file is broken.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// Writing YAML failed.
    #[error("cannot write YAML: {0}")]
    Yaml(String),
}

/// One `Function` resource.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionResource {
    /// API version.
    pub api_version: String,
    /// `Function`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: Metadata,
    /// The function.
    pub spec: FunctionSpec,
}

/// `metadata`.
#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
}

/// `spec` of an `openfaas.com/v1` Function.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionSpec {
    /// Name.
    pub name: String,
    /// Image.
    pub image: String,
    /// Environment (with `fprocess` when the stack sets one).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Resources>,
    /// Requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<Resources>,
    /// Constraints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    /// Secrets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// Read-only root filesystem.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only_root_filesystem: bool,
}

/// The resource for one function.
pub fn resource(
    function: &Function,
    api: &str,
    default_namespace: &str,
) -> Result<FunctionResource, CrdError> {
    if !SUPPORTED_APIS.contains(&api) {
        return Err(CrdError::UnsupportedApi(api.to_owned()));
    }
    let mut environment = function.merged_environment()?;
    if let Some(fprocess) = &function.fprocess {
        environment.insert("fprocess".to_owned(), fprocess.clone());
    }
    let namespace = function
        .namespace
        .clone()
        .unwrap_or_else(|| default_namespace.to_owned());
    Ok(FunctionResource {
        api_version: api.to_owned(),
        kind: "Function".to_owned(),
        metadata: Metadata {
            name: function.name.clone(),
            namespace,
        },
        spec: FunctionSpec {
            name: function.name.clone(),
            image: function.image.clone(),
            environment,
            labels: function.labels.clone(),
            annotations: function.annotations.clone(),
            limits: function.limits.clone(),
            requests: function.requests.clone(),
            constraints: function.constraints.clone(),
            secrets: function.secrets.clone(),
            read_only_root_filesystem: function.readonly_root_filesystem,
        },
    })
}

/// Every function's resource as YAML documents, each opened with `---`.
pub fn generate<'a>(
    functions: impl IntoIterator<Item = &'a Function>,
    api: &str,
    default_namespace: &str,
) -> Result<String, CrdError> {
    let mut out = String::new();
    for function in functions {
        let resource = resource(function, api, default_namespace)?;
        let yaml = serde_saphyr::to_string(&resource).map_err(|e| CrdError::Yaml(e.to_string()))?;
        out.push_str("---\n");
        out.push_str(&yaml);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}
