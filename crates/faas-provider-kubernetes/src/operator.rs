//! Operator mode: `Function` objects (`openfaas.com/v1`) reconciled by a kube-runtime
//! controller into the same Deployment and Service the REST API makes, owned by the Function
//! (deleting it deletes them), with `Deployed` and `Ready` conditions in its status and drift
//! repaired (a deleted or edited Service or Deployment is put back). The replica count stays
//! the autoscaler's. With the operator on, the REST API writes Function objects.

use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use faas_provider::ProviderError;
use faas_types::FunctionDeployment;
use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use tokio::task::JoinHandle;

use crate::crd::{Function, FunctionCondition, FunctionObjectStatus, FunctionSpec};
use crate::error::{api_error, is_conflict};
use crate::objects::{self, ObjectSettings, FUNCTION_LABEL};
use crate::KubernetesProvider;

/// How often a Function is looked at again when nothing changed.
const RESYNC: Duration = Duration::from_secs(300);

struct Context {
    client: Client,
    settings: ObjectSettings,
}

/// Starts the controller; it runs until the handle is aborted.
pub fn start_operator(client: Client, settings: ObjectSettings) -> JoinHandle<()> {
    let context = Arc::new(Context {
        client: client.clone(),
        settings,
    });
    let owned = watcher::Config::default().labels(FUNCTION_LABEL);
    let controller = Controller::new(
        Api::<Function>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(Api::<Deployment>::all(client.clone()), owned.clone())
    .owns(Api::<Service>::all(client), owned);
    tokio::spawn(async move {
        controller
            .run(reconcile, error_policy, context)
            .for_each(|result| async move {
                if let Err(err) = result {
                    tracing::warn!("function operator: {err}");
                }
            })
            .await;
    })
}

/// Runs the controller while `leader` says this replica holds the Lease, and stops it when
/// the Lease is lost, so that of several server replicas one reconciles at a time. Runs until
/// the handle is aborted (which stops the controller too) or the election ends.
pub fn start_while_leading(
    client: Client,
    settings: ObjectSettings,
    mut leader: tokio::sync::watch::Receiver<bool>,
) -> JoinHandle<()> {
    /// Aborts the running controller when the gate's task ends or is aborted.
    struct Running(Option<JoinHandle<()>>);
    impl Drop for Running {
        fn drop(&mut self) {
            if let Some(task) = self.0.take() {
                task.abort();
            }
        }
    }
    tokio::spawn(async move {
        let mut running = Running(None);
        loop {
            let holds = *leader.borrow_and_update();
            match (holds, running.0.is_some()) {
                (true, false) => {
                    tracing::info!("function operator: running (this replica holds the Lease)");
                    running.0 = Some(start_operator(client.clone(), settings.clone()));
                }
                (false, true) => {
                    tracing::info!("function operator: stopped (the Lease was lost)");
                    running = Running(None);
                }
                _ => {}
            }
            if leader.changed().await.is_err() {
                return;
            }
        }
    })
}

fn error_policy(_: Arc<Function>, err: &ProviderError, _: Arc<Context>) -> Action {
    tracing::warn!("function operator: {err}; trying again in 5s");
    Action::requeue(Duration::from_secs(5))
}

fn condition(type_: &str, ok: bool, reason: &str, message: String) -> FunctionCondition {
    FunctionCondition {
        type_: type_.to_owned(),
        status: if ok { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message,
        last_transition_time: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    }
}

/// Writes the status when it changed (keeping each condition's transition time while its
/// status holds), so a reconcile of an unchanged Function writes nothing.
async fn report(
    functions: &Api<Function>,
    function: &Function,
    mut status: FunctionObjectStatus,
) -> Result<(), ProviderError> {
    let old = function.status.clone().unwrap_or_default();
    for condition in &mut status.conditions {
        if let Some(previous) = old.conditions.iter().find(|c| c.type_ == condition.type_) {
            if previous.status == condition.status {
                condition.last_transition_time = previous.last_transition_time.clone();
            }
        }
    }
    if status == old {
        return Ok(());
    }
    let patch = serde_json::json!({ "status": status });
    functions
        .patch_status(
            &function.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map(|_| ())
        .map_err(|err| api_error(&format!("status of Function {}", function.name_any()), err))
}

async fn reconcile(
    function: Arc<Function>,
    context: Arc<Context>,
) -> Result<Action, ProviderError> {
    let namespace = function
        .namespace()
        .unwrap_or_else(|| "openfaas-fn".to_owned());
    let functions: Api<Function> = Api::namespaced(context.client.clone(), &namespace);
    let generation = function.meta().generation;
    let failed = |reason: &str, message: String| FunctionObjectStatus {
        observed_generation: generation,
        conditions: vec![condition("Deployed", false, reason, message)],
        ..FunctionObjectStatus::default()
    };
    let request = function.spec.to_deployment(&namespace);
    if let Err(err) = request.validate() {
        report(&functions, &function, failed("Invalid", err.to_string())).await?;
        return Ok(Action::await_change());
    }
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), &namespace);
    for secret in request.secrets.iter().flatten() {
        let found = secrets
            .get_opt(secret)
            .await
            .map_err(|err| api_error("secret", err))?;
        if found.is_none() {
            let message = format!("secret {secret} not found in namespace {namespace}");
            report(&functions, &function, failed("SecretNotFound", message)).await?;
            return Ok(Action::requeue(Duration::from_secs(30)));
        }
    }
    let Some(owner) = function.controller_owner_ref(&()) else {
        return Ok(Action::await_change());
    };
    let applied = apply_objects(&context, &request, owner).await;
    let deployment = match applied {
        Ok(deployment) => deployment,
        Err(ProviderError::Invalid(message)) | Err(ProviderError::Conflict(message)) => {
            report(&functions, &function, failed("Rejected", message)).await?;
            return Ok(Action::requeue(Duration::from_secs(30)));
        }
        Err(err) => return Err(err),
    };
    let desired = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let available = deployment
        .status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0);
    let ready = if desired == 0 {
        condition(
            "Ready",
            true,
            "ScaledToZero",
            "scaled to zero; a call starts a replica".to_owned(),
        )
    } else if available > 0 {
        condition(
            "Ready",
            true,
            "ReplicasAvailable",
            format!("{available}/{desired} replicas available"),
        )
    } else {
        condition(
            "Ready",
            false,
            "NoReplicaAvailable",
            format!("0/{desired} replicas available"),
        )
    };
    let status = FunctionObjectStatus {
        observed_generation: generation,
        conditions: vec![
            condition(
                "Deployed",
                true,
                "Reconciled",
                "Deployment and Service are as the Function asks".to_owned(),
            ),
            ready,
        ],
        replicas: Some(desired),
        available_replicas: Some(available),
    };
    report(&functions, &function, status).await?;
    Ok(Action::requeue(RESYNC))
}

fn owned_by(
    meta: &kube::api::ObjectMeta,
    owner: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == owner.uid)
}

/// Creates or replaces the Deployment and the Service, owned by the Function; the
/// Deployment's replica count is kept. Returns the Deployment as stored.
async fn apply_objects(
    context: &Context,
    request: &FunctionDeployment,
    owner: k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> Result<Deployment, ProviderError> {
    let namespace = request.namespace_or_default();
    let name = &request.service;
    let what = format!("deployment {name}.{namespace}");
    let deployments: Api<Deployment> = Api::namespaced(context.client.clone(), namespace);
    let mut wanted =
        objects::deployment(request, &context.settings).map_err(ProviderError::Invalid)?;
    objects::set_owner(&mut wanted.metadata, owner.clone());
    let stored = match deployments
        .get_opt(name)
        .await
        .map_err(|e| api_error(&what, e))?
    {
        None => deployments
            .create(&PostParams::default(), &wanted)
            .await
            .map_err(|e| api_error(&what, e))?,
        Some(existing) if !owned_by(&existing.metadata, &owner) => {
            return Err(ProviderError::Conflict(format!(
                "{what} exists and is not this Function's"
            )))
        }
        Some(existing) => {
            if let (Some(spec), Some(old)) = (wanted.spec.as_mut(), existing.spec.as_ref()) {
                spec.replicas = old.replicas;
            }
            wanted.metadata.resource_version = existing.metadata.resource_version;
            deployments
                .replace(name, &PostParams::default(), &wanted)
                .await
                .map_err(|e| api_error(&what, e))?
        }
    };
    let what = format!("service {name}.{namespace}");
    let services: Api<Service> = Api::namespaced(context.client.clone(), namespace);
    let mut service = objects::service(request);
    objects::set_owner(&mut service.metadata, owner.clone());
    match services
        .get_opt(name)
        .await
        .map_err(|e| api_error(&what, e))?
    {
        None => {
            services
                .create(&PostParams::default(), &service)
                .await
                .map_err(|e| api_error(&what, e))?;
        }
        Some(existing) if !owned_by(&existing.metadata, &owner) => {
            return Err(ProviderError::Conflict(format!(
                "{what} exists and is not this Function's"
            )))
        }
        Some(existing) => {
            service.metadata.resource_version = existing.metadata.resource_version;
            if let (Some(new), Some(old)) = (service.spec.as_mut(), existing.spec) {
                new.cluster_ip = old.cluster_ip;
                new.cluster_ips = old.cluster_ips;
            }
            services
                .replace(name, &PostParams::default(), &service)
                .await
                .map_err(|e| api_error(&what, e))?;
        }
    }
    Ok(stored)
}

impl KubernetesProvider {
    fn functions(&self, namespace: &str) -> Api<Function> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Deploy in operator mode: a Function object; waits (bounded) until the operator has
    /// made its Deployment, so a call right after the deploy finds the function.
    pub(crate) async fn deploy_function_object(
        &self,
        request: FunctionDeployment,
    ) -> Result<(), ProviderError> {
        let namespace = request.namespace_or_default().to_owned();
        let name = request.service.clone();
        let function = Function::new(&name, FunctionSpec::from_deployment(&request));
        self.functions(&namespace)
            .create(&PostParams::default(), &function)
            .await
            .map_err(|err| api_error(&format!("function {name}.{namespace}"), err))?;
        self.cache
            .wait_for_function(&namespace, &name, self.config.sync_wait)
            .await;
        Ok(())
    }

    /// Update in operator mode: the Function's spec replaced.
    pub(crate) async fn update_function_object(
        &self,
        request: FunctionDeployment,
    ) -> Result<(), ProviderError> {
        let namespace = request.namespace_or_default().to_owned();
        let name = request.service.clone();
        let what = format!("function {name}.{namespace}");
        let functions = self.functions(&namespace);
        for _ in 0..5 {
            let mut function = functions
                .get(&name)
                .await
                .map_err(|err| api_error(&what, err))?;
            function.spec = FunctionSpec::from_deployment(&request);
            match functions
                .replace(&name, &PostParams::default(), &function)
                .await
            {
                Ok(_) => return Ok(()),
                Err(err) if is_conflict(&err) => continue,
                Err(err) => return Err(api_error(&what, err)),
            }
        }
        Err(ProviderError::Conflict(format!(
            "{what} kept changing while it was updated; try again"
        )))
    }

    /// Delete in operator mode: the Function; its Deployment and Service go with it.
    pub(crate) async fn delete_function_object(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<(), ProviderError> {
        self.functions(namespace)
            .delete(name, &DeleteParams::background())
            .await
            .map_err(|err| api_error(&format!("function {name}.{namespace}"), err))?;
        self.cache.forget_function(namespace, name);
        Ok(())
    }
}
