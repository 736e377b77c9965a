//! A deployment turned into a container definition (no I/O): the image's own entrypoint (its
//! watchdog), `fprocess` and `envVars`, OpenFaaS labels plus this backend's own, port 8080
//! published on 127.0.0.1 only, secrets bind-mounted read-only, limits, a read-only root with
//! a tmpfs `/tmp` when asked, a pids limit, no capabilities, no new privileges, an
//! unprivileged user, and the namespace's network.

use std::collections::HashMap;
use std::path::PathBuf;

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use faas_provider::ProviderError;
use faas_types::labels::FUNCTION_NAME;

use crate::quantity;
use crate::records::FunctionRecord;

/// The port every OpenFaaS watchdog listens on inside its container.
pub(crate) const WATCHDOG_PORT: &str = "8080/tcp";
/// Where OpenFaaS functions read their secrets.
pub(crate) const SECRETS_DIR: &str = "/var/openfaas/secrets";
/// Processes one container may have (a fork bomb stops here).
pub(crate) const PIDS_LIMIT: i64 = 256;
/// The user containers run as when the image names none or root.
pub(crate) const NOBODY: &str = "65534:65534";

/// This backend's labels on containers and networks.
pub(crate) mod label {
    /// The server (its data directory) that owns the container.
    pub(crate) const OWNER: &str = "com.rustfaas.owner";
    pub(crate) const NAMESPACE: &str = "com.rustfaas.namespace";
    pub(crate) const FUNCTION: &str = "com.rustfaas.function";
    pub(crate) const GENERATION: &str = "com.rustfaas.generation";
    pub(crate) const INSTANCE: &str = "com.rustfaas.instance";
    /// Annotations become labels under this prefix, as faasd does.
    pub(crate) const ANNOTATION_PREFIX: &str = "com.openfaas.annotations.";
}

/// What a container needs besides the record.
pub(crate) struct Placement<'a> {
    pub owner: &'a str,
    pub network: &'a str,
    pub instance: &'a str,
    /// `(name, host file)` of each secret the deployment lists.
    pub secrets: Vec<(String, PathBuf)>,
}

/// The user to run as: the image's, unless it is empty or root.
pub(crate) fn run_as(image_user: Option<&str>) -> String {
    match image_user.map(str::trim).unwrap_or("") {
        "" => NOBODY.to_owned(),
        user => {
            let name = user.split(':').next().unwrap_or(user);
            if name == "root" || name == "0" {
                NOBODY.to_owned()
            } else {
                user.to_owned()
            }
        }
    }
}

/// Checks the limits parse, before anything is saved.
pub(crate) fn check_resources(record: &FunctionRecord) -> Result<(), ProviderError> {
    host_resources(record).map(|_| ())
}

/// The container to create for one replica.
pub(crate) fn container(
    record: &FunctionRecord,
    place: &Placement<'_>,
) -> Result<ContainerCreateBody, ProviderError> {
    let deployment = &record.deployment;
    let namespace = deployment.namespace_or_default();
    let mut env: Vec<String> = Vec::new();
    if let Some(process) = &deployment.env_process {
        env.push(format!("fprocess={process}"));
    }
    for (key, value) in deployment.env_vars.iter().flatten() {
        env.push(format!("{key}={value}"));
    }

    let mut labels: HashMap<String, String> = deployment
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, value) in deployment.annotations.iter().flatten() {
        labels.insert(format!("{}{key}", label::ANNOTATION_PREFIX), value.clone());
    }
    labels.insert(FUNCTION_NAME.to_owned(), deployment.service.clone());
    labels.insert(label::OWNER.to_owned(), place.owner.to_owned());
    labels.insert(label::NAMESPACE.to_owned(), namespace.to_owned());
    labels.insert(label::FUNCTION.to_owned(), deployment.service.clone());
    labels.insert(label::GENERATION.to_owned(), record.generation.to_string());
    labels.insert(label::INSTANCE.to_owned(), place.instance.to_owned());

    let mut host = host_resources(record)?;
    host.port_bindings = Some(HashMap::from([(
        WATCHDOG_PORT.to_owned(),
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".to_owned()),
            host_port: Some(String::new()),
        }]),
    )]));
    host.binds = Some(
        place
            .secrets
            .iter()
            .map(|(name, file)| format!("{}:{SECRETS_DIR}/{name}:ro", file.display()))
            .collect(),
    );
    host.readonly_rootfs = Some(deployment.read_only_root_filesystem);
    if deployment.read_only_root_filesystem {
        host.tmpfs = Some(HashMap::from([(
            "/tmp".to_owned(),
            "rw,nosuid,nodev,size=64m,mode=1777".to_owned(),
        )]));
    }
    host.pids_limit = Some(PIDS_LIMIT);
    host.cap_drop = Some(vec!["ALL".to_owned()]);
    host.security_opt = Some(vec!["no-new-privileges".to_owned()]);
    host.privileged = Some(false);
    host.network_mode = Some(place.network.to_owned());
    host.init = Some(false);

    Ok(ContainerCreateBody {
        image: Some(record.image_id.clone()),
        env: Some(env),
        labels: Some(labels),
        user: Some(record.user.clone()),
        exposed_ports: Some(vec![WATCHDOG_PORT.to_owned()]),
        hostname: Some(deployment.service.clone()),
        host_config: Some(host),
        ..Default::default()
    })
}

/// `limits` and `requests` as the engine's: memory limit (no swap beyond it), reservation,
/// nano-CPUs, CPU shares.
fn host_resources(record: &FunctionRecord) -> Result<HostConfig, ProviderError> {
    let invalid = |e: String| ProviderError::Invalid(e);
    let mut host = HostConfig::default();
    let deployment = &record.deployment;
    if let Some(limits) = &deployment.limits {
        if let Some(memory) = &limits.memory {
            let bytes = i64::try_from(quantity::memory_bytes(memory).map_err(invalid)?)
                .map_err(|_| ProviderError::Invalid(format!("memory {memory:?} is too large")))?;
            host.memory = Some(bytes);
            host.memory_swap = Some(bytes);
        }
        if let Some(cpu) = &limits.cpu {
            host.nano_cpus = Some(quantity::nano_cpus(cpu).map_err(invalid)?);
        }
    }
    if let Some(requests) = &deployment.requests {
        if let Some(memory) = &requests.memory {
            let bytes = i64::try_from(quantity::memory_bytes(memory).map_err(invalid)?)
                .map_err(|_| ProviderError::Invalid(format!("memory {memory:?} is too large")))?;
            host.memory_reservation = Some(bytes);
        }
        if let Some(cpu) = &requests.cpu {
            // 1024 shares per core, as the engine counts them.
            let shares = quantity::nano_cpus(cpu).map_err(invalid)? / 1_000_000_000 * 1024;
            host.cpu_shares = Some(shares.max(2));
        }
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use faas_types::{FunctionDeployment, FunctionResources};

    fn record() -> FunctionRecord {
        FunctionRecord {
            deployment: FunctionDeployment {
                service: "wordcount".into(),
                image: "rustfaas/busybox:latest".into(),
                namespace: Some("openfaas-fn".into()),
                env_process: Some("wc".into()),
                env_vars: Some([("mode".to_owned(), "x".to_owned())].into()),
                labels: Some([("team".to_owned(), "a".to_owned())].into()),
                annotations: Some([("topic".to_owned(), "t".to_owned())].into()),
                limits: Some(FunctionResources {
                    memory: Some("64Mi".into()),
                    cpu: Some("500m".into()),
                    ..Default::default()
                }),
                read_only_root_filesystem: true,
                ..Default::default()
            },
            created_at: Utc::now(),
            replicas: 1,
            image_id: "sha256:abc".into(),
            user: run_as(None),
            generation: 3,
        }
    }

    #[test]
    fn a_container_is_locked_down_and_published_on_loopback_only() {
        let place = Placement {
            owner: "o1",
            network: "rustfaas-o1-openfaas-fn",
            instance: "wordcount-1",
            secrets: vec![("db".into(), "/data/secrets/openfaas-fn/db".into())],
        };
        let body = container(&record(), &place).unwrap();
        let host = body.host_config.clone().unwrap();
        let binding = &host.port_bindings.unwrap()[WATCHDOG_PORT].clone().unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(host.memory, Some(64 << 20));
        assert_eq!(host.memory_swap, Some(64 << 20));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert!(host.tmpfs.unwrap().contains_key("/tmp"));
        assert_eq!(host.cap_drop.unwrap(), ["ALL"]);
        assert_eq!(host.pids_limit, Some(PIDS_LIMIT));
        assert_eq!(
            host.binds.unwrap(),
            ["/data/secrets/openfaas-fn/db:/var/openfaas/secrets/db:ro"]
        );
        assert_eq!(
            host.network_mode.as_deref(),
            Some("rustfaas-o1-openfaas-fn")
        );
        assert_eq!(body.user.as_deref(), Some(NOBODY));
        assert_eq!(body.image.as_deref(), Some("sha256:abc"));
        let env = body.env.unwrap();
        assert!(env.contains(&"fprocess=wc".to_owned()));
        assert!(env.contains(&"mode=x".to_owned()));
        let labels = body.labels.unwrap();
        assert_eq!(labels["faas_function"], "wordcount");
        assert_eq!(labels["team"], "a");
        assert_eq!(labels["com.openfaas.annotations.topic"], "t");
        assert_eq!(labels[label::GENERATION], "3");
        assert_eq!(labels[label::OWNER], "o1");
    }

    #[test]
    fn users_and_bad_limits() {
        assert_eq!(run_as(Some("root")), NOBODY);
        assert_eq!(run_as(Some("0:0")), NOBODY);
        assert_eq!(run_as(Some("app")), "app");
        let mut bad = record();
        bad.deployment.limits.as_mut().unwrap().memory = Some("lots".into());
        assert!(matches!(
            check_resources(&bad),
            Err(ProviderError::Invalid(m)) if m.contains("lots")
        ));
    }
}
