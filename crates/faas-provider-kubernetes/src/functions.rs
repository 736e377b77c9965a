//! Functions as Deployments and Services: deploy (Deployment, then Service; the Deployment
//! is removed again if the Service cannot be made), update (a read-modify-replace retried
//! on resourceVersion conflicts), delete, list, status and scale (the `scale` subresource).

use faas_provider::ProviderError;
use faas_types::{FunctionDeployment, FunctionStatus, LogRequest, DEFAULT_NAMESPACE};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Api;

use crate::error::{api_error, is_conflict, is_not_found};
use crate::objects::{self, FUNCTION_LABEL};
use crate::status::function_status;
use crate::KubernetesProvider;

/// Tries of a read-modify-replace before a conflict is given back to the caller.
const REPLACE_TRIES: usize = 5;

impl KubernetesProvider {
    pub(crate) fn deployments(&self, namespace: &str) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), namespace)
    }

    pub(crate) fn services(&self, namespace: &str) -> Api<Service> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Refuses a namespace that is not for functions (400), creating `openfaas-fn` when the
    /// cluster lacks it.
    pub(crate) async fn check_function_namespace(
        &self,
        namespace: &str,
    ) -> Result<(), ProviderError> {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let what = format!("namespace {namespace}");
        match namespaces.get_opt(namespace).await {
            Ok(Some(found)) if crate::namespaces::is_function_namespace(&found) => Ok(()),
            Ok(Some(_)) if namespace == DEFAULT_NAMESPACE => Ok(()),
            Ok(Some(_)) => Err(ProviderError::Invalid(format!(
                "namespace {namespace} is not for functions: annotate it openfaas=1"
            ))),
            Ok(None) if namespace == DEFAULT_NAMESPACE => {
                let object = objects::namespace(namespace, None, None);
                match namespaces.create(&PostParams::default(), &object).await {
                    Ok(_) => Ok(()),
                    Err(err) if is_conflict(&err) => Ok(()),
                    Err(err) => Err(api_error(&what, err)),
                }
            }
            Ok(None) => Err(ProviderError::Invalid(format!(
                "namespace {namespace} does not exist"
            ))),
            Err(err) => Err(api_error(&what, err)),
        }
    }

    /// 400 when a secret the function names is missing from its namespace.
    async fn check_secrets(&self, request: &FunctionDeployment) -> Result<(), ProviderError> {
        let namespace = request.namespace_or_default();
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        for name in request.secrets.iter().flatten() {
            let what = format!("secret {name}.{namespace}");
            if secrets
                .get_opt(name)
                .await
                .map_err(|err| api_error(&what, err))?
                .is_none()
            {
                return Err(ProviderError::Invalid(format!(
                    "secret {name} not found in namespace {namespace}"
                )));
            }
        }
        Ok(())
    }

    fn build(&self, request: &FunctionDeployment) -> Result<Deployment, ProviderError> {
        objects::deployment(request, &self.config.objects).map_err(ProviderError::Invalid)
    }

    pub(crate) async fn deploy_function(
        &self,
        mut request: FunctionDeployment,
    ) -> Result<(), ProviderError> {
        request.validate()?;
        let namespace = request.namespace_or_default().to_owned();
        request.namespace = Some(namespace.clone());
        let name = request.service.clone();
        let what = format!("function {name}.{namespace}");
        let deployment = self.build(&request)?;
        self.check_function_namespace(&namespace).await?;
        self.check_secrets(&request).await?;
        if self.config.operator {
            return self.deploy_function_object(request).await;
        }

        let deployments = self.deployments(&namespace);
        deployments
            .create(&PostParams::default(), &deployment)
            .await
            .map_err(|err| api_error(&what, err))?;
        if let Err(err) = self.ensure_service(&request).await {
            // No half-created function: without its Service it goes again.
            if let Err(cleanup) = deployments.delete(&name, &DeleteParams::default()).await {
                tracing::warn!(
                    "cannot remove the deployment of {what} after a failed deploy: {cleanup}"
                );
            }
            return Err(err);
        }
        self.cache.note_function(&namespace, &name);
        Ok(())
    }

    /// Creates the function's Service, or replaces the spec of one left behind.
    async fn ensure_service(&self, request: &FunctionDeployment) -> Result<(), ProviderError> {
        let namespace = request.namespace_or_default();
        let what = format!("service {}.{namespace}", request.service);
        let services = self.services(namespace);
        let mut service = objects::service(request);
        match services.create(&PostParams::default(), &service).await {
            Ok(_) => Ok(()),
            Err(err) if is_conflict(&err) => {
                let existing = services
                    .get(&request.service)
                    .await
                    .map_err(|err| api_error(&what, err))?;
                service.metadata.resource_version = existing.metadata.resource_version;
                if let (Some(new), Some(old)) = (service.spec.as_mut(), existing.spec) {
                    // Immutable once allocated.
                    new.cluster_ip = old.cluster_ip;
                    new.cluster_ips = old.cluster_ips;
                }
                services
                    .replace(&request.service, &PostParams::default(), &service)
                    .await
                    .map(|_| ())
                    .map_err(|err| api_error(&what, err))
            }
            Err(err) => Err(api_error(&what, err)),
        }
    }

    pub(crate) async fn update_function(
        &self,
        mut request: FunctionDeployment,
    ) -> Result<(), ProviderError> {
        request.validate()?;
        let namespace = request.namespace_or_default().to_owned();
        request.namespace = Some(namespace.clone());
        let name = request.service.clone();
        let what = format!("function {name}.{namespace}");
        let mut wanted = self.build(&request)?;
        self.check_secrets(&request).await?;
        if self.config.operator {
            return self.update_function_object(request).await;
        }
        let deployments = self.deployments(&namespace);
        let mut tries = 0;
        loop {
            tries += 1;
            let existing = deployments
                .get(&name)
                .await
                .map_err(|err| api_error(&what, err))?;
            if function_status(&existing).is_none() {
                return Err(ProviderError::NotFound(format!("{what} not found")));
            }
            // The replica count is the autoscaler's; an update raises it to the new minimum.
            let current = existing.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            if let Some(spec) = wanted.spec.as_mut() {
                let min = objects::initial_replicas(&request);
                let keep_zero = current == 0;
                spec.replicas = Some(if keep_zero { 0 } else { current.max(min) });
            }
            wanted.metadata.resource_version = existing.metadata.resource_version;
            match deployments
                .replace(&name, &PostParams::default(), &wanted)
                .await
            {
                Ok(_) => break,
                Err(err) if is_conflict(&err) && tries < REPLACE_TRIES => continue,
                Err(err) => return Err(api_error(&what, err)),
            }
        }
        self.ensure_service(&request).await
    }

    pub(crate) async fn delete_function(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<(), ProviderError> {
        if self.config.operator {
            match self.delete_function_object(namespace, name).await {
                // Deployed before operator mode: removed as a plain Deployment.
                Err(ProviderError::NotFound(_)) => {}
                other => return other,
            }
        }
        let what = format!("function {name}.{namespace}");
        let deployments = self.deployments(namespace);
        let existing = deployments
            .get(name)
            .await
            .map_err(|err| api_error(&what, err))?;
        if function_status(&existing).is_none() {
            return Err(ProviderError::NotFound(format!("{what} not found")));
        }
        let background = DeleteParams::background();
        deployments
            .delete(name, &background)
            .await
            .map_err(|err| api_error(&what, err))?;
        match self.services(namespace).delete(name, &background).await {
            Ok(_) => {}
            Err(err) if is_not_found(&err) => {}
            Err(err) => return Err(api_error(&format!("service {name}.{namespace}"), err)),
        }
        self.cache.forget_function(namespace, name);
        Ok(())
    }

    pub(crate) async fn list_functions(
        &self,
        namespace: &str,
    ) -> Result<Vec<FunctionStatus>, ProviderError> {
        let list = self
            .deployments(namespace)
            .list(&ListParams::default().labels(FUNCTION_LABEL))
            .await
            .map_err(|err| api_error(&format!("functions in {namespace}"), err))?;
        let mut functions: Vec<FunctionStatus> =
            list.items.iter().filter_map(function_status).collect();
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        if !functions.is_empty() {
            let usage = crate::usage::namespace_usage(&self.client, namespace).await;
            for function in &mut functions {
                function.usage = usage.get(&function.name).copied();
            }
        }
        Ok(functions)
    }

    pub(crate) async fn function_status(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<FunctionStatus, ProviderError> {
        let what = format!("function {name}.{namespace}");
        let deployment = self
            .deployments(namespace)
            .get(name)
            .await
            .map_err(|err| api_error(&what, err))?;
        let mut status = function_status(&deployment)
            .ok_or_else(|| ProviderError::NotFound(format!("{what} not found")))?;
        status.usage = crate::usage::namespace_usage(&self.client, namespace)
            .await
            .get(name)
            .copied();
        Ok(status)
    }

    pub(crate) async fn scale_function(
        &self,
        namespace: &str,
        name: &str,
        replicas: u64,
    ) -> Result<(), ProviderError> {
        let what = format!("function {name}.{namespace}");
        let replicas = i32::try_from(replicas)
            .map_err(|_| ProviderError::Invalid(format!("{replicas} replicas is too many")))?;
        let patch = serde_json::json!({"spec": {"replicas": replicas}});
        self.deployments(namespace)
            .patch_scale(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|err| api_error(&what, err))
    }

    pub(crate) async fn function_logs(
        &self,
        request: LogRequest,
    ) -> Result<faas_provider::LogStream, ProviderError> {
        request.validate()?;
        let namespace = request
            .namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        // 404 for an unknown function, as the other providers answer.
        self.function_status(&namespace, &request.name).await?;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        crate::logs::function_logs(pods, &namespace, request).await
    }
}
