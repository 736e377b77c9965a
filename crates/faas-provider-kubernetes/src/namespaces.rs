//! Function namespaces: Kubernetes Namespaces annotated `openfaas` (faas-netes' mark);
//! creating one through the API annotates it, and only annotated ones are shown or changed.

use faas_provider::ProviderError;
use faas_types::{NamespaceRequest, DEFAULT_NAMESPACE};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::Api;

use crate::error::api_error;
use crate::objects::{self, FUNCTION_LABEL, NAMESPACE_ANNOTATION};
use crate::KubernetesProvider;

/// True for a namespace annotated `openfaas: "1"` (or `"true"`).
pub(crate) fn is_function_namespace(namespace: &Namespace) -> bool {
    namespace
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(NAMESPACE_ANNOTATION))
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

impl KubernetesProvider {
    fn namespaces(&self) -> Api<Namespace> {
        Api::all(self.client.clone())
    }

    async fn annotated(&self, name: &str) -> Result<Namespace, ProviderError> {
        let what = format!("namespace {name}");
        let namespace = self
            .namespaces()
            .get(name)
            .await
            .map_err(|err| api_error(&what, err))?;
        if is_function_namespace(&namespace) {
            Ok(namespace)
        } else {
            Err(ProviderError::NotFound(format!(
                "{what} is not a function namespace (annotation openfaas=1)"
            )))
        }
    }

    pub(crate) async fn function_namespaces(&self) -> Result<Vec<String>, ProviderError> {
        let list = self
            .namespaces()
            .list(&ListParams::default())
            .await
            .map_err(|err| api_error("namespaces", err))?;
        let mut names: Vec<String> = list
            .items
            .iter()
            .filter(|ns| is_function_namespace(ns))
            .filter_map(|ns| ns.metadata.name.clone())
            .collect();
        if !names.iter().any(|n| n == DEFAULT_NAMESPACE) {
            names.push(DEFAULT_NAMESPACE.to_owned());
        }
        names.sort();
        Ok(names)
    }

    pub(crate) async fn function_namespace(
        &self,
        name: &str,
    ) -> Result<NamespaceRequest, ProviderError> {
        let namespace = self.annotated(name).await?;
        Ok(NamespaceRequest {
            name: name.to_owned(),
            labels: namespace.metadata.labels.filter(|l| !l.is_empty()),
            annotations: namespace.metadata.annotations.filter(|a| !a.is_empty()),
        })
    }

    pub(crate) async fn create_function_namespace(
        &self,
        request: NamespaceRequest,
    ) -> Result<(), ProviderError> {
        request.validate()?;
        let object = objects::namespace(&request.name, request.labels, request.annotations);
        self.namespaces()
            .create(&PostParams::default(), &object)
            .await
            .map(|_| ())
            .map_err(|err| api_error(&format!("namespace {}", request.name), err))
    }

    pub(crate) async fn update_function_namespace(
        &self,
        request: NamespaceRequest,
    ) -> Result<(), ProviderError> {
        request.validate()?;
        let existing = self.annotated(&request.name).await?;
        let mut wanted = objects::namespace(&request.name, request.labels, request.annotations);
        // The API server keeps its own labels (kubernetes.io/metadata.name) on every namespace.
        let mut labels = existing
            .metadata
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| k.starts_with("kubernetes.io/"))
            .collect::<std::collections::BTreeMap<_, _>>();
        labels.extend(wanted.metadata.labels.take().unwrap_or_default());
        wanted.metadata.labels = Some(labels);
        wanted.metadata.resource_version = existing.metadata.resource_version;
        wanted.spec = existing.spec;
        self.namespaces()
            .replace(&request.name, &PostParams::default(), &wanted)
            .await
            .map(|_| ())
            .map_err(|err| api_error(&format!("namespace {}", request.name), err))
    }

    pub(crate) async fn delete_function_namespace(&self, name: &str) -> Result<(), ProviderError> {
        self.annotated(name).await?;
        let functions = self
            .deployments(name)
            .list(&ListParams::default().labels(FUNCTION_LABEL).limit(1))
            .await
            .map_err(|err| api_error(&format!("functions in {name}"), err))?;
        if !functions.items.is_empty() {
            return Err(ProviderError::Conflict(format!(
                "namespace {name} still has functions; delete them first"
            )));
        }
        self.namespaces()
            .delete(name, &DeleteParams::default())
            .await
            .map(|_| ())
            .map_err(|err| api_error(&format!("namespace {name}"), err))
    }
}
