//! The `Function` custom resource (`openfaas.com/v1`), as OpenFaaS's operator and
//! `faas-cli generate` write it, and its translation to a `FunctionDeployment`.

use std::collections::BTreeMap;

use faas_types::{FunctionDeployment, FunctionResources};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Resources as OpenFaaS's CRD has them: `cpu` and `memory` quantities.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FunctionResourcesSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// What a `Function` asks for.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "openfaas.com",
    version = "v1",
    kind = "Function",
    plural = "functions",
    singular = "function",
    shortname = "fn",
    namespaced,
    status = "FunctionObjectStatus",
    printcolumn = r#"{"name":"Image","type":"string","jsonPath":".spec.image"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct FunctionSpec {
    /// The function's name (its Deployment's and Service's).
    pub name: String,
    /// The container image.
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<FunctionResourcesSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<FunctionResourcesSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_root_filesystem: Option<bool>,
}

/// One condition of a Function (`Deployed`, `Ready`), as Kubernetes conditions are shaped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCondition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_transition_time: String,
}

/// What the operator reports on a Function.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionObjectStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<FunctionCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
}

fn resources(spec: Option<&FunctionResourcesSpec>) -> Option<FunctionResources> {
    let spec = spec?;
    let resources = FunctionResources {
        memory: spec.memory.clone(),
        cpu: spec.cpu.clone(),
        other: BTreeMap::new(),
    };
    (!resources.is_empty()).then_some(resources)
}

fn from_resources(resources: Option<&FunctionResources>) -> Option<FunctionResourcesSpec> {
    let r = resources.filter(|r| !r.is_empty())?;
    Some(FunctionResourcesSpec {
        cpu: r.cpu.clone(),
        memory: r.memory.clone(),
    })
}

impl FunctionSpec {
    /// The deployment request this spec stands for, in `namespace`: `environment`'s
    /// `fprocess` becomes `envProcess` (as `faas-cli generate` writes it).
    pub fn to_deployment(&self, namespace: &str) -> FunctionDeployment {
        let mut environment = self.environment.clone().unwrap_or_default();
        let env_process = environment.remove("fprocess");
        FunctionDeployment {
            service: self.name.clone(),
            image: self.image.clone(),
            namespace: Some(namespace.to_owned()),
            env_process,
            env_vars: (!environment.is_empty()).then_some(environment),
            constraints: self.constraints.clone().filter(|c| !c.is_empty()),
            secrets: self.secrets.clone().filter(|s| !s.is_empty()),
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            limits: resources(self.limits.as_ref()),
            requests: resources(self.requests.as_ref()),
            read_only_root_filesystem: self.read_only_root_filesystem.unwrap_or(false),
            registry_auth: None,
        }
    }

    /// The spec a REST deploy writes in operator mode.
    pub fn from_deployment(request: &FunctionDeployment) -> FunctionSpec {
        let mut environment = request.env_vars.clone().unwrap_or_default();
        if let Some(process) = &request.env_process {
            environment.insert("fprocess".to_owned(), process.clone());
        }
        FunctionSpec {
            name: request.service.clone(),
            image: request.image.clone(),
            environment: (!environment.is_empty()).then_some(environment),
            labels: request.labels.clone(),
            annotations: request.annotations.clone(),
            constraints: request.constraints.clone(),
            secrets: request.secrets.clone(),
            limits: from_resources(request.limits.as_ref()),
            requests: from_resources(request.requests.as_ref()),
            read_only_root_filesystem: request.read_only_root_filesystem.then_some(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn a_generated_function_becomes_the_deployment_it_names() {
        // What `faas-cli generate` writes.
        let function: Function = serde_json::from_value(serde_json::json!({
            "apiVersion": "openfaas.com/v1", "kind": "Function",
            "metadata": {"name": "hello", "namespace": "openfaas-fn"},
            "spec": {"name": "hello", "image": "ghcr.io/me/hello:0.1",
                     "environment": {"fprocess": "python3 index.py", "mode": "x"},
                     "labels": {"com.openfaas.scale.min": "2"},
                     "limits": {"memory": "128Mi"}, "secrets": ["db"],
                     "readOnlyRootFilesystem": true}
        }))
        .unwrap();
        let request = function.spec.to_deployment("openfaas-fn");
        assert_eq!(request.service, "hello");
        assert_eq!(request.env_process.as_deref(), Some("python3 index.py"));
        assert_eq!(request.env_vars.as_ref().unwrap()["mode"], "x");
        assert_eq!(
            request.limits.as_ref().unwrap().memory.as_deref(),
            Some("128Mi")
        );
        assert!(request.read_only_root_filesystem);
        assert_eq!(FunctionSpec::from_deployment(&request), function.spec);
    }

    #[test]
    fn the_crd_in_the_repository_is_the_one_the_code_defines() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/kubernetes/crd.yaml"
        );
        let generated = serde_json::to_value(Function::crd()).unwrap();
        if std::env::var_os("UPDATE_CRD").is_some() {
            let yaml = serde_saphyr::to_string(&generated).unwrap();
            std::fs::write(path, format!("# Generated from crates/faas-provider-kubernetes/src/crd.rs: UPDATE_CRD=1 cargo test -p faas-provider-kubernetes crd\n{yaml}")).unwrap();
        }
        let text = std::fs::read_to_string(path).expect("deploy/kubernetes/crd.yaml");
        let stored: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(
            stored, generated,
            "run UPDATE_CRD=1 cargo test -p faas-provider-kubernetes crd"
        );
        assert_eq!(generated["metadata"]["name"], "functions.openfaas.com");
    }
}
