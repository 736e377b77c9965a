//! A function's status read back from its Deployment, as faas-netes reads it: replicas,
//! available replicas, image, `fprocess`, env, labels and annotations of the pod template,
//! secrets from the projected volume, constraints from the node selector, `createdAt`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use faas_types::{FunctionResources, FunctionStatus};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// A Kubernetes timestamp as chrono's.
pub(crate) fn to_chrono(time: &Time) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(time.0.as_second(), time.0.subsec_nanosecond().max(0) as u32)
}

fn resources(map: Option<&BTreeMap<String, Quantity>>) -> Option<FunctionResources> {
    let map = map.filter(|m| !m.is_empty())?;
    let mut resources = FunctionResources::default();
    for (key, Quantity(value)) in map {
        match key.as_str() {
            "memory" => resources.memory = Some(value.clone()),
            "cpu" => resources.cpu = Some(value.clone()),
            _ => {
                resources.other.insert(key.clone(), value.clone());
            }
        }
    }
    Some(resources)
}

/// The function a Deployment runs, or `None` when it is not a function's
/// (no `faas_function` label, no container).
pub fn function_status(deployment: &Deployment) -> Option<FunctionStatus> {
    let meta = &deployment.metadata;
    let name = meta.name.clone()?;
    meta.labels.as_ref()?.get(crate::objects::FUNCTION_LABEL)?;
    let spec = deployment.spec.as_ref()?;
    let template = spec.template.metadata.clone().unwrap_or_default();
    let pod = spec.template.spec.as_ref()?;
    let container = pod.containers.first()?;

    let mut env_process = None;
    let mut env_vars = BTreeMap::new();
    for var in container.env.iter().flatten() {
        let value = var.value.clone().unwrap_or_default();
        if var.name == "fprocess" {
            env_process = Some(value);
        } else {
            env_vars.insert(var.name.clone(), value);
        }
    }
    let secrets: Vec<String> = pod
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.projected.as_ref())
        .flat_map(|p| p.sources.iter().flatten())
        .filter_map(|s| s.secret.as_ref().map(|s| s.name.clone()))
        .collect();
    let constraints: Vec<String> = pod
        .node_selector
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let read_only = container
        .security_context
        .as_ref()
        .and_then(|s| s.read_only_root_filesystem)
        .unwrap_or(false);
    let container_resources = container.resources.as_ref();
    Some(FunctionStatus {
        name,
        image: container.image.clone().unwrap_or_default(),
        namespace: meta.namespace.clone(),
        env_process,
        env_vars: (!env_vars.is_empty()).then_some(env_vars),
        constraints: (!constraints.is_empty()).then_some(constraints),
        secrets: (!secrets.is_empty()).then_some(secrets),
        labels: template.labels,
        annotations: template.annotations.or_else(|| meta.annotations.clone()),
        limits: resources(container_resources.and_then(|r| r.limits.as_ref())),
        requests: resources(container_resources.and_then(|r| r.requests.as_ref())),
        read_only_root_filesystem: read_only,
        invocation_count: 0.0,
        replicas: spec.replicas.unwrap_or(1).max(0) as u64,
        available_replicas: deployment
            .status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0)
            .max(0) as u64,
        created_at: meta.creation_timestamp.as_ref().and_then(to_chrono),
        usage: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::{deployment, ObjectSettings};
    use faas_types::FunctionDeployment;
    use k8s_openapi::api::apps::v1::DeploymentStatus;

    #[test]
    fn a_function_reads_back_as_it_was_deployed() {
        let request: FunctionDeployment = serde_json::from_value(serde_json::json!({
            "service": "hello", "image": "img:1", "namespace": "team-a",
            "envProcess": "cat", "envVars": {"A": "1"},
            "constraints": ["disktype=ssd"], "secrets": ["db-pass"],
            "labels": {"team": "blue"}, "annotations": {"topic": "orders"},
            "limits": {"memory": "128Mi"}, "requests": {"cpu": "100m"},
            "readOnlyRootFilesystem": true
        }))
        .unwrap();
        let mut deployment = deployment(&request, &ObjectSettings::default()).unwrap();
        deployment.metadata.creation_timestamp =
            Some(Time("2026-01-02T03:04:05Z".parse().unwrap()));
        deployment.status = Some(DeploymentStatus {
            available_replicas: Some(1),
            ..DeploymentStatus::default()
        });
        let status = function_status(&deployment).unwrap();
        assert_eq!(status.name, "hello");
        assert_eq!(status.image, "img:1");
        assert_eq!(status.namespace.as_deref(), Some("team-a"));
        assert_eq!(status.env_process.as_deref(), Some("cat"));
        assert_eq!(status.env_vars.unwrap()["A"], "1");
        assert_eq!(status.constraints.unwrap(), vec!["disktype=ssd"]);
        assert_eq!(status.secrets.unwrap(), vec!["db-pass"]);
        let labels = status.labels.unwrap();
        assert_eq!(labels["team"], "blue");
        assert_eq!(labels["faas_function"], "hello");
        let annotations = status.annotations.unwrap();
        assert_eq!(annotations["topic"], "orders");
        assert_eq!(status.limits.unwrap().memory.as_deref(), Some("128Mi"));
        assert_eq!(status.requests.unwrap().cpu.as_deref(), Some("100m"));
        assert!(status.read_only_root_filesystem);
        assert_eq!(status.replicas, 1);
        assert_eq!(status.available_replicas, 1);
        assert_eq!(
            status.created_at.unwrap().to_rfc3339(),
            "2026-01-02T03:04:05+00:00"
        );
    }

    #[test]
    fn a_deployment_without_the_function_label_is_not_a_function() {
        let deployment = Deployment::default();
        assert!(function_status(&deployment).is_none());
    }
}
