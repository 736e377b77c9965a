//! The Kubernetes objects a function becomes, shaped as faas-netes shapes them: pure
//! functions from a `FunctionDeployment` to a Deployment, a Service, Secrets and Namespaces.

use std::collections::BTreeMap;

use faas_types::{FunctionDeployment, FunctionResources};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, EnvVar, HTTPGetAction, Namespace, PodSpec,
    PodTemplateSpec, Probe, ProjectedVolumeSource, ResourceRequirements, Secret, SecretProjection,
    SecurityContext, Service, ServicePort, ServiceSpec, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::ByteString;

/// The label every function's objects and pods carry (OpenFaaS's name).
pub const FUNCTION_LABEL: &str = "faas_function";
/// The annotation that marks a namespace as usable for functions.
pub const NAMESPACE_ANNOTATION: &str = "openfaas";
/// The label faas-netes puts on the Secrets it manages.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value.
pub const MANAGED_BY: &str = "openfaas";
/// The watchdog's port in every function container.
pub const WATCHDOG_PORT: i32 = 8080;
/// Where secrets are mounted in the container.
pub const SECRETS_MOUNT: &str = "/var/openfaas/secrets";
const PROMETHEUS_SCRAPE: &str = "prometheus.io.scrape";
const MIN_SCALE_LABEL: &str = "com.openfaas.scale.min";

/// The settings that shape every function's objects beyond its own definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSettings {
    /// `Always`, `IfNotPresent` or `Never` (faas-netes' default: `Always`).
    pub image_pull_policy: String,
    /// The user the function runs as; `None` keeps the image's user.
    pub run_as_user: Option<i64>,
    /// Seconds before the first probe.
    pub probe_initial_delay: i32,
    /// Seconds between probes.
    pub probe_period: i32,
    /// Seconds a probe may take.
    pub probe_timeout: i32,
}

impl Default for ObjectSettings {
    fn default() -> Self {
        ObjectSettings {
            image_pull_policy: "Always".to_owned(),
            run_as_user: Some(12000),
            probe_initial_delay: 2,
            probe_period: 2,
            probe_timeout: 1,
        }
    }
}

fn function_selector(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(FUNCTION_LABEL.to_owned(), name.to_owned())])
}

/// The function's annotations, with `prometheus.io.scrape: "false"` unless it sets one.
pub fn function_annotations(request: &FunctionDeployment) -> BTreeMap<String, String> {
    let mut annotations = request.annotations.clone().unwrap_or_default();
    annotations
        .entry(PROMETHEUS_SCRAPE.to_owned())
        .or_insert_with(|| "false".to_owned());
    annotations
}

/// `com.openfaas.scale.min` when it is a number above 0, else 1.
pub fn initial_replicas(request: &FunctionDeployment) -> i32 {
    request
        .labels
        .as_ref()
        .and_then(|labels| labels.get(MIN_SCALE_LABEL))
        .and_then(|min| min.trim().parse::<i32>().ok())
        .filter(|min| *min > 0)
        .unwrap_or(1)
}

/// `constraints` (`key=value`, also `key==value` as Swarm wrote them) as a node selector.
pub fn node_selector(constraints: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut selector = BTreeMap::new();
    for constraint in constraints {
        let (key, value) = constraint
            .split_once("==")
            .or_else(|| constraint.split_once('='))
            .ok_or_else(|| format!("constraint {constraint:?} is not key=value"))?;
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(format!("constraint {constraint:?} has no key"));
        }
        selector.insert(key.to_owned(), value.to_owned());
    }
    Ok(selector)
}

fn quantities(resources: Option<&FunctionResources>) -> Option<BTreeMap<String, Quantity>> {
    let resources = resources.filter(|r| !r.is_empty())?;
    let mut map = BTreeMap::new();
    if let Some(memory) = resources.memory.as_deref().filter(|m| !m.is_empty()) {
        map.insert("memory".to_owned(), Quantity(memory.to_owned()));
    }
    if let Some(cpu) = resources.cpu.as_deref().filter(|c| !c.is_empty()) {
        map.insert("cpu".to_owned(), Quantity(cpu.to_owned()));
    }
    for (key, value) in &resources.other {
        map.insert(key.clone(), Quantity(value.clone()));
    }
    Some(map)
}

fn environment(request: &FunctionDeployment) -> Vec<EnvVar> {
    let mut env = BTreeMap::new();
    for (key, value) in request.env_vars.iter().flatten() {
        env.insert(key.clone(), value.clone());
    }
    if let Some(process) = request.env_process.as_deref().filter(|p| !p.is_empty()) {
        env.insert("fprocess".to_owned(), process.to_owned());
    }
    env.into_iter()
        .map(|(name, value)| EnvVar {
            name,
            value: Some(value),
            ..EnvVar::default()
        })
        .collect()
}

fn watchdog_probe(settings: &ObjectSettings) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/_/health".to_owned()),
            port: IntOrString::Int(WATCHDOG_PORT),
            scheme: Some("HTTP".to_owned()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(settings.probe_initial_delay),
        period_seconds: Some(settings.probe_period),
        timeout_seconds: Some(settings.probe_timeout),
        ..Probe::default()
    }
}

/// The name of the projected volume holding a function's secrets.
fn secrets_volume(name: &str) -> String {
    format!("{name}-projected-secrets")
}

fn volumes(request: &FunctionDeployment) -> (Vec<Volume>, Vec<VolumeMount>) {
    let name = &request.service;
    let (mut volumes, mut mounts) = (Vec::new(), Vec::new());
    let secrets = request.secrets.as_deref().unwrap_or_default();
    if !secrets.is_empty() {
        volumes.push(Volume {
            name: secrets_volume(name),
            projected: Some(ProjectedVolumeSource {
                sources: Some(
                    secrets
                        .iter()
                        .map(|secret| VolumeProjection {
                            secret: Some(SecretProjection {
                                name: secret.clone(),
                                ..SecretProjection::default()
                            }),
                            ..VolumeProjection::default()
                        })
                        .collect(),
                ),
                ..ProjectedVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: secrets_volume(name),
            mount_path: SECRETS_MOUNT.to_owned(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    if request.read_only_root_filesystem {
        volumes.push(Volume {
            name: "temp".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: "temp".to_owned(),
            mount_path: "/tmp".to_owned(),
            ..VolumeMount::default()
        });
    }
    (volumes, mounts)
}

fn container(request: &FunctionDeployment, settings: &ObjectSettings) -> Container {
    let (_, mounts) = volumes(request);
    let resources = ResourceRequirements {
        limits: quantities(request.limits.as_ref()),
        requests: quantities(request.requests.as_ref()),
        ..ResourceRequirements::default()
    };
    Container {
        name: request.service.clone(),
        image: Some(request.image.clone()),
        image_pull_policy: Some(settings.image_pull_policy.clone()),
        ports: Some(vec![ContainerPort {
            container_port: WATCHDOG_PORT,
            name: Some("http".to_owned()),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        env: Some(environment(request)),
        resources: (resources.limits.is_some() || resources.requests.is_some())
            .then_some(resources),
        liveness_probe: Some(watchdog_probe(settings)),
        readiness_probe: Some(watchdog_probe(settings)),
        security_context: Some(SecurityContext {
            read_only_root_filesystem: Some(request.read_only_root_filesystem),
            run_as_user: settings.run_as_user,
            run_as_non_root: settings.run_as_user.map(|uid| uid != 0),
            allow_privilege_escalation: Some(false),
            ..SecurityContext::default()
        }),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        ..Container::default()
    }
}

/// The function's Deployment (its namespace already resolved in `request.namespace`).
/// Fails only on a malformed constraint.
pub fn deployment(
    request: &FunctionDeployment,
    settings: &ObjectSettings,
) -> Result<Deployment, String> {
    let name = &request.service;
    let annotations = function_annotations(request);
    let mut pod_labels = request.labels.clone().unwrap_or_default();
    pod_labels.insert(FUNCTION_LABEL.to_owned(), name.clone());
    let selector = node_selector(request.constraints.as_deref().unwrap_or_default())?;
    let (volumes, _) = volumes(request);
    Ok(Deployment {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(request.namespace_or_default().to_owned()),
            labels: Some(function_selector(name)),
            annotations: Some(annotations.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(initial_replicas(request)),
            selector: LabelSelector {
                match_labels: Some(function_selector(name)),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(0)),
                    max_surge: Some(IntOrString::Int(1)),
                }),
            }),
            revision_history_limit: Some(10),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    name: Some(name.clone()),
                    labels: Some(pod_labels),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container(request, settings)],
                    node_selector: (!selector.is_empty()).then_some(selector),
                    restart_policy: Some("Always".to_owned()),
                    dns_policy: Some("ClusterFirst".to_owned()),
                    volumes: (!volumes.is_empty()).then_some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    })
}

/// The function's ClusterIP Service: port 8080 named `http` to the pods' 8080.
pub fn service(request: &FunctionDeployment) -> Service {
    let name = &request.service;
    Service {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(request.namespace_or_default().to_owned()),
            labels: Some(function_selector(name)),
            annotations: Some(BTreeMap::from([(
                PROMETHEUS_SCRAPE.to_owned(),
                "false".to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(function_selector(name)),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: WATCHDOG_PORT,
                target_port: Some(IntOrString::Int(WATCHDOG_PORT)),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// A function secret: one key named after the secret, so the mounted file is
/// `/var/openfaas/secrets/<name>`.
pub fn secret(namespace: &str, name: &str, value: Vec<u8>) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(
                MANAGED_BY_LABEL.to_owned(),
                MANAGED_BY.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(name.to_owned(), ByteString(value))])),
        type_: Some("Opaque".to_owned()),
        ..Secret::default()
    }
}

/// A namespace for functions: the given labels and annotations plus `openfaas: "1"`.
pub fn namespace(
    name: &str,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
) -> Namespace {
    let mut annotations = annotations.unwrap_or_default();
    annotations.insert(NAMESPACE_ANNOTATION.to_owned(), "1".to_owned());
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: labels.filter(|l| !l.is_empty()),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// Marks `metadata` as owned by `owner` (the operator's Function), so deleting the owner
/// deletes the object.
pub fn set_owner(metadata: &mut ObjectMeta, owner: OwnerReference) {
    metadata.owner_references = Some(vec![owner]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> FunctionDeployment {
        serde_json::from_value(serde_json::json!({
            "service": "hello",
            "image": "ghcr.io/openfaas/alpine:latest",
            "namespace": "team-a",
            "envProcess": "cat",
            "envVars": {"B": "2", "A": "1"},
            "constraints": ["disktype=ssd", "node.kubernetes.io/instance-type==m5"],
            "secrets": ["db-pass", "api-key"],
            "labels": {"com.openfaas.scale.min": "3", "team": "blue"},
            "annotations": {"topic": "orders"},
            "limits": {"memory": "128Mi", "cpu": "500m", "nvidia.com/gpu": "1"},
            "requests": {"memory": "64Mi"},
            "readOnlyRootFilesystem": true
        }))
        .unwrap()
    }

    #[test]
    fn deployment_is_shaped_as_faas_netes_shapes_it() {
        let deployment = deployment(&request(), &ObjectSettings::default()).unwrap();
        let meta = &deployment.metadata;
        assert_eq!(meta.name.as_deref(), Some("hello"));
        assert_eq!(meta.namespace.as_deref(), Some("team-a"));
        assert_eq!(meta.labels.as_ref().unwrap()["faas_function"], "hello");
        let annotations = meta.annotations.as_ref().unwrap();
        assert_eq!(annotations["topic"], "orders");
        assert_eq!(annotations["prometheus.io.scrape"], "false");

        let spec = deployment.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(spec.revision_history_limit, Some(10));
        assert_eq!(
            spec.selector.match_labels.as_ref().unwrap(),
            &BTreeMap::from([("faas_function".to_owned(), "hello".to_owned())])
        );
        let strategy = spec.strategy.as_ref().unwrap();
        assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
        let rolling = strategy.rolling_update.as_ref().unwrap();
        assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
        assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));

        let template = spec.template.metadata.as_ref().unwrap();
        let pod_labels = template.labels.as_ref().unwrap();
        assert_eq!(pod_labels["faas_function"], "hello");
        assert_eq!(pod_labels["team"], "blue");
        assert_eq!(template.annotations.as_ref().unwrap()["topic"], "orders");

        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Always"));
        let selector = pod.node_selector.as_ref().unwrap();
        assert_eq!(selector["disktype"], "ssd");
        assert_eq!(selector["node.kubernetes.io/instance-type"], "m5");
        assert_eq!(pod.containers.len(), 1);
    }

    #[test]
    fn the_container_runs_the_watchdog_on_8080_with_probes_and_resources() {
        let deployment = deployment(&request(), &ObjectSettings::default()).unwrap();
        let pod = deployment.spec.unwrap().template.spec.unwrap();
        let container = &pod.containers[0];
        assert_eq!(container.name, "hello");
        assert_eq!(
            container.image.as_deref(),
            Some("ghcr.io/openfaas/alpine:latest")
        );
        assert_eq!(container.image_pull_policy.as_deref(), Some("Always"));
        let port = &container.ports.as_ref().unwrap()[0];
        assert_eq!(port.container_port, 8080);
        assert_eq!(port.name.as_deref(), Some("http"));
        assert_eq!(port.protocol.as_deref(), Some("TCP"));

        let env: Vec<(&str, &str)> = container
            .env
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_deref().unwrap()))
            .collect();
        assert_eq!(env, vec![("A", "1"), ("B", "2"), ("fprocess", "cat")]);

        for probe in [&container.liveness_probe, &container.readiness_probe] {
            let get = probe.as_ref().unwrap().http_get.as_ref().unwrap();
            assert_eq!(get.path.as_deref(), Some("/_/health"));
            assert_eq!(get.port, IntOrString::Int(8080));
        }
        let resources = container.resources.as_ref().unwrap();
        let limits = resources.limits.as_ref().unwrap();
        assert_eq!(limits["memory"], Quantity("128Mi".to_owned()));
        assert_eq!(limits["cpu"], Quantity("500m".to_owned()));
        assert_eq!(limits["nvidia.com/gpu"], Quantity("1".to_owned()));
        let requests = resources.requests.as_ref().unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests["memory"], Quantity("64Mi".to_owned()));

        let security = container.security_context.as_ref().unwrap();
        assert_eq!(security.read_only_root_filesystem, Some(true));
        assert_eq!(security.run_as_user, Some(12000));
        assert_eq!(security.run_as_non_root, Some(true));
        assert_eq!(security.allow_privilege_escalation, Some(false));
    }

    #[test]
    fn secrets_are_projected_read_only_and_tmp_is_writable() {
        let deployment = deployment(&request(), &ObjectSettings::default()).unwrap();
        let pod = deployment.spec.unwrap().template.spec.unwrap();
        let volumes = pod.volumes.as_ref().unwrap();
        let projected = volumes[0].projected.as_ref().unwrap();
        let names: Vec<&str> = projected
            .sources
            .as_ref()
            .unwrap()
            .iter()
            .map(|s| s.secret.as_ref().unwrap().name.as_str())
            .collect();
        assert_eq!(names, vec!["db-pass", "api-key"]);
        assert_eq!(volumes[1].name, "temp");
        assert!(volumes[1].empty_dir.is_some());
        let mounts = pod.containers[0].volume_mounts.as_ref().unwrap();
        assert_eq!(mounts[0].mount_path, "/var/openfaas/secrets");
        assert_eq!(mounts[0].read_only, Some(true));
        assert_eq!(mounts[0].name, volumes[0].name);
        assert_eq!(mounts[1].mount_path, "/tmp");
        assert_eq!(mounts[1].read_only, None);
    }

    #[test]
    fn a_bare_function_gets_one_replica_and_no_volumes() {
        let request = FunctionDeployment {
            service: "bare".to_owned(),
            image: "img".to_owned(),
            ..FunctionDeployment::default()
        };
        let deployment = deployment(&request, &ObjectSettings::default()).unwrap();
        assert_eq!(
            deployment.metadata.namespace.as_deref(),
            Some("openfaas-fn")
        );
        let spec = deployment.spec.unwrap();
        assert_eq!(spec.replicas, Some(1));
        let pod = spec.template.spec.unwrap();
        assert!(pod.volumes.is_none());
        assert!(pod.node_selector.is_none());
        assert!(pod.containers[0].resources.is_none());
        assert!(pod.containers[0].env.as_ref().unwrap().is_empty());
    }

    #[test]
    fn scale_min_zero_or_garbage_means_one_replica() {
        for min in ["0", "-2", "many"] {
            let request = FunctionDeployment {
                labels: Some(BTreeMap::from([(
                    MIN_SCALE_LABEL.to_owned(),
                    min.to_owned(),
                )])),
                ..FunctionDeployment::default()
            };
            assert_eq!(initial_replicas(&request), 1, "min {min}");
        }
    }

    #[test]
    fn a_scrape_annotation_given_is_kept() {
        let request = FunctionDeployment {
            annotations: Some(BTreeMap::from([(
                PROMETHEUS_SCRAPE.to_owned(),
                "true".to_owned(),
            )])),
            ..FunctionDeployment::default()
        };
        assert_eq!(function_annotations(&request)[PROMETHEUS_SCRAPE], "true");
    }

    #[test]
    fn malformed_constraints_are_refused() {
        assert!(node_selector(&["nokey".to_owned()]).is_err());
        assert!(node_selector(&["=v".to_owned()]).is_err());
    }

    #[test]
    fn the_service_is_cluster_ip_on_8080_named_http() {
        let service = service(&request());
        assert_eq!(service.metadata.name.as_deref(), Some("hello"));
        assert_eq!(service.metadata.namespace.as_deref(), Some("team-a"));
        assert_eq!(
            service.metadata.labels.as_ref().unwrap()["faas_function"],
            "hello"
        );
        let spec = service.spec.unwrap();
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(spec.selector.as_ref().unwrap()["faas_function"], "hello");
        let port = &spec.ports.as_ref().unwrap()[0];
        assert_eq!(port.name.as_deref(), Some("http"));
        assert_eq!(port.port, 8080);
        assert_eq!(port.target_port, Some(IntOrString::Int(8080)));
        assert_eq!(port.protocol.as_deref(), Some("TCP"));
    }

    #[test]
    fn secrets_and_namespaces_carry_openfaas_marks() {
        let secret = secret("openfaas-fn", "db-pass", b"s3cr3t".to_vec());
        assert_eq!(secret.data.as_ref().unwrap()["db-pass"].0, b"s3cr3t");
        assert_eq!(
            secret.metadata.labels.as_ref().unwrap()[MANAGED_BY_LABEL],
            "openfaas"
        );
        let namespace = namespace("team-a", None, None);
        assert_eq!(namespace.metadata.annotations.unwrap()["openfaas"], "1");
    }
}
