//! Function bodies: what a client sends to deploy, what the gateway answers when listing,
//! and how `/function/{name}.{namespace}` names one.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::namespace::DEFAULT_NAMESPACE;
use crate::nullable;

/// Body of `POST` (deploy) and `PUT` (update) on `/system/functions`
/// (Go: `types.FunctionDeployment`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeployment {
    /// The function's name.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub service: String,
    /// Container image reference.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub image: String,
    /// Namespace; `None` means [`DEFAULT_NAMESPACE`].
    #[serde(
        default,
        deserialize_with = "nullable::empty_as_none",
        skip_serializing_if = "nullable::is_none_or_empty"
    )]
    pub namespace: Option<String>,
    /// Overrides the watchdog's `fprocess`.
    #[serde(
        default,
        deserialize_with = "nullable::empty_as_none",
        skip_serializing_if = "nullable::is_none_or_empty"
    )]
    pub env_process: Option<String>,
    /// Environment variables for the function process.
    #[serde(default, skip_serializing_if = "nullable::is_none_or_empty_map")]
    pub env_vars: Option<BTreeMap<String, String>>,
    /// Provider-specific placement constraints.
    #[serde(default, skip_serializing_if = "nullable::is_none_or_empty_vec")]
    pub constraints: Option<Vec<String>>,
    /// Names of secrets to mount into the function.
    #[serde(default, skip_serializing_if = "nullable::is_none_or_empty_vec")]
    pub secrets: Option<Vec<String>>,
    /// Labels (see [`crate::labels`] for the ones with meaning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations (see [`crate::labels`] for the ones with meaning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Resource limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<FunctionResources>,
    /// Resource requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<FunctionResources>,
    /// Mount the root filesystem read-only.
    #[serde(
        default,
        deserialize_with = "nullable::default_on_null",
        skip_serializing_if = "nullable::is_false"
    )]
    pub read_only_root_filesystem: bool,
    /// Base64 of `user:password` for pulling `image` from a registry that asks for
    /// credentials (OpenFaaS's `registryAuth`, as `faas-cli deploy --send-registry-auth`
    /// sends it). Providers that pull images use it for the pull and do not keep it.
    #[serde(
        default,
        deserialize_with = "nullable::empty_as_none",
        skip_serializing_if = "nullable::is_none_or_empty"
    )]
    pub registry_auth: Option<String>,
}

impl FunctionDeployment {
    /// The namespace, or [`DEFAULT_NAMESPACE`] when none was given.
    pub fn namespace_or_default(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }
}

/// CPU, memory and other resources (Go: `types.FunctionResources`).
///
/// Keys other than `memory` and `cpu` (such as `nvidia.com/gpu`) are kept in `other`.
/// Values may be sent as strings or numbers; numbers are kept as their decimal text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FunctionResources {
    /// Memory, e.g. `128Mi`.
    pub memory: Option<String>,
    /// CPU, e.g. `100m` or `0.5`.
    pub cpu: Option<String>,
    /// Any other resource, e.g. `"nvidia.com/gpu": "1"`.
    pub other: BTreeMap<String, String>,
}

impl FunctionResources {
    /// True when no resource is set.
    pub fn is_empty(&self) -> bool {
        nullable::is_none_or_empty(&self.memory)
            && nullable::is_none_or_empty(&self.cpu)
            && self.other.is_empty()
    }
}

impl Serialize for FunctionResources {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(memory) = self.memory.as_deref().filter(|m| !m.is_empty()) {
            map.serialize_entry("memory", memory)?;
        }
        if let Some(cpu) = self.cpu.as_deref().filter(|c| !c.is_empty()) {
            map.serialize_entry("cpu", cpu)?;
        }
        for (key, value) in &self.other {
            if key != "memory" && key != "cpu" {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for FunctionResources {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ResourcesVisitor;

        impl<'de> Visitor<'de> for ResourcesVisitor {
            type Value = FunctionResources;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of resource names to quantities")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut resources = FunctionResources::default();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map
                        .next_value::<Option<Quantity>>()?
                        .map(|q| q.0)
                        .filter(|v| !v.is_empty());
                    match key.as_str() {
                        "memory" => resources.memory = value,
                        "cpu" => resources.cpu = value,
                        _ => {
                            if let Some(value) = value {
                                resources.other.insert(key, value);
                            }
                        }
                    }
                }
                Ok(resources)
            }
        }

        deserializer.deserialize_map(ResourcesVisitor)
    }
}

/// A resource quantity sent as a string or a number.
struct Quantity(String);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct QuantityVisitor;

        impl Visitor<'_> for QuantityVisitor {
            type Value = Quantity;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a resource quantity as a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Quantity, E> {
                Ok(Quantity(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
        }

        deserializer.deserialize_any(QuantityVisitor)
    }
}

/// One function as `/system/functions` lists it and `/system/function/{name}` answers
/// (Go: `types.FunctionStatus`). Fields are declared in Go's order so the JSON matches
/// the gateway's byte for byte.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionStatus {
    /// The function's name (called `service` when deploying).
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub name: String,
    /// Container image reference.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub image: String,
    /// Namespace.
    #[serde(
        default,
        deserialize_with = "nullable::empty_as_none",
        skip_serializing_if = "nullable::is_none_or_empty"
    )]
    pub namespace: Option<String>,
    /// The watchdog's `fprocess` override.
    #[serde(
        default,
        deserialize_with = "nullable::empty_as_none",
        skip_serializing_if = "nullable::is_none_or_empty"
    )]
    pub env_process: Option<String>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "nullable::is_none_or_empty_map")]
    pub env_vars: Option<BTreeMap<String, String>>,
    /// Placement constraints.
    #[serde(default, skip_serializing_if = "nullable::is_none_or_empty_vec")]
    pub constraints: Option<Vec<String>>,
    /// Secret names.
    #[serde(default, skip_serializing_if = "nullable::is_none_or_empty_vec")]
    pub secrets: Option<Vec<String>>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Resource limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<FunctionResources>,
    /// Resource requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<FunctionResources>,
    /// Root filesystem mounted read-only.
    #[serde(
        default,
        deserialize_with = "nullable::default_on_null",
        skip_serializing_if = "nullable::is_false"
    )]
    pub read_only_root_filesystem: bool,
    /// Calls so far (a float in OpenFaaS, as read from Prometheus). Always written.
    #[serde(
        default,
        deserialize_with = "nullable::default_on_null",
        serialize_with = "crate::go_float::serialize"
    )]
    pub invocation_count: f64,
    /// Desired replicas. Always written.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub replicas: u64,
    /// Replicas ready to take calls. Always written.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub available_replicas: u64,
    /// When the function was created.
    #[serde(
        default,
        with = "crate::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<DateTime<Utc>>,
    /// CPU and memory used by all replicas together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<FunctionUsage>,
}

impl FunctionStatus {
    /// The namespace, or [`DEFAULT_NAMESPACE`] when none is set.
    pub fn namespace_or_default(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }
}

impl From<FunctionDeployment> for FunctionStatus {
    /// The status of a just-deployed function: its deployment fields, no calls, no replicas.
    fn from(d: FunctionDeployment) -> Self {
        FunctionStatus {
            name: d.service,
            image: d.image,
            namespace: d.namespace,
            env_process: d.env_process,
            env_vars: d.env_vars,
            constraints: d.constraints,
            secrets: d.secrets,
            labels: d.labels,
            annotations: d.annotations,
            limits: d.limits,
            requests: d.requests,
            read_only_root_filesystem: d.read_only_root_filesystem,
            ..FunctionStatus::default()
        }
    }
}

impl From<FunctionStatus> for FunctionDeployment {
    /// The deployment that would recreate this function.
    fn from(s: FunctionStatus) -> Self {
        FunctionDeployment {
            service: s.name,
            image: s.image,
            namespace: s.namespace,
            env_process: s.env_process,
            env_vars: s.env_vars,
            constraints: s.constraints,
            secrets: s.secrets,
            labels: s.labels,
            annotations: s.annotations,
            limits: s.limits,
            requests: s.requests,
            read_only_root_filesystem: s.read_only_root_filesystem,
            registry_auth: None,
        }
    }
}

/// Resources used by a function's replicas (Go: `types.FunctionUsage`); zero fields are
/// left out, as Go's `omitempty` does.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionUsage {
    /// CPU used, in cores (summed over replicas).
    #[serde(
        default,
        deserialize_with = "nullable::default_on_null",
        serialize_with = "crate::go_float::serialize",
        skip_serializing_if = "nullable::is_zero"
    )]
    pub cpu: f64,
    /// Memory used, in bytes (summed over replicas).
    #[serde(
        default,
        deserialize_with = "nullable::default_on_null",
        serialize_with = "crate::go_float::serialize",
        skip_serializing_if = "nullable::is_zero"
    )]
    pub total_memory_bytes: f64,
}

/// Body of `DELETE /system/functions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteFunctionRequest {
    /// The function to delete.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub function_name: String,
    /// Its namespace; `None` means [`DEFAULT_NAMESPACE`].
    #[serde(
        default,
        deserialize_with = "nullable::empty_as_none",
        skip_serializing_if = "nullable::is_none_or_empty"
    )]
    pub namespace: Option<String>,
}

impl DeleteFunctionRequest {
    /// The namespace, or [`DEFAULT_NAMESPACE`] when none was given.
    pub fn namespace_or_default(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }
}

/// Splits the `{name}[.{namespace}]` of `/function/figlet.openfaas-fn` into name and
/// namespace.
///
/// Function names cannot contain `.`, so the split is at the first `.`, as OpenFaaS does.
/// An empty namespace (`figlet.`) is `None`. Neither part is validated here.
pub fn parse_function_ref(reference: &str) -> (&str, Option<&str>) {
    match reference.split_once('.') {
        Some((name, namespace)) if !namespace.is_empty() => (name, Some(namespace)),
        Some((name, _)) => (name, None),
        None => (reference, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_ref_splits_at_first_dot() {
        assert_eq!(parse_function_ref("figlet"), ("figlet", None));
        assert_eq!(
            parse_function_ref("figlet.openfaas-fn"),
            ("figlet", Some("openfaas-fn"))
        );
        assert_eq!(parse_function_ref("figlet."), ("figlet", None));
        assert_eq!(parse_function_ref("a.b.c"), ("a", Some("b.c")));
        assert_eq!(parse_function_ref(""), ("", None));
    }

    #[test]
    fn resources_keep_gpu_keys_and_accept_numbers() {
        let r: FunctionResources =
            serde_json::from_str(r#"{"memory":"128Mi","cpu":0.5,"nvidia.com/gpu":1,"x":null}"#)
                .unwrap();
        assert_eq!(r.memory.as_deref(), Some("128Mi"));
        assert_eq!(r.cpu.as_deref(), Some("0.5"));
        assert_eq!(r.other.get("nvidia.com/gpu").map(String::as_str), Some("1"));
        assert!(!r.other.contains_key("x"));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"memory":"128Mi","cpu":"0.5","nvidia.com/gpu":"1"}"#
        );
        assert!(serde_json::from_str::<FunctionResources>(r#"{"cpu":[1]}"#).is_err());
    }

    #[test]
    fn empty_resources_serialize_as_empty_object() {
        let r = FunctionResources::default();
        assert!(r.is_empty());
        assert_eq!(serde_json::to_string(&r).unwrap(), "{}");
    }

    #[test]
    fn status_from_deployment_renames_service() {
        let d = FunctionDeployment {
            service: "figlet".into(),
            image: "functions/figlet".into(),
            ..Default::default()
        };
        let s = FunctionStatus::from(d.clone());
        assert_eq!(s.name, "figlet");
        assert_eq!(s.namespace_or_default(), DEFAULT_NAMESPACE);
        assert_eq!(FunctionDeployment::from(s), d);
    }
}
