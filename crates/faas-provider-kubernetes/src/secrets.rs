//! Function secrets as Kubernetes Secrets in the function's namespace, labelled
//! `app.kubernetes.io/managed-by: openfaas`; their values are never read back.

use faas_provider::ProviderError;
use k8s_openapi::api::core::v1::Secret as KubeSecret;
use k8s_openapi::ByteString;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::Api;

use crate::error::{api_error, is_conflict};
use crate::objects::{self, MANAGED_BY, MANAGED_BY_LABEL};
use crate::KubernetesProvider;

impl KubernetesProvider {
    fn secrets(&self, namespace: &str) -> Api<KubeSecret> {
        Api::namespaced(self.client.clone(), namespace)
    }

    pub(crate) async fn list_function_secrets(
        &self,
        namespace: &str,
    ) -> Result<Vec<faas_types::Secret>, ProviderError> {
        let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY}");
        let list = self
            .secrets(namespace)
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|err| api_error(&format!("secrets in {namespace}"), err))?;
        let mut names: Vec<String> = list
            .items
            .into_iter()
            .filter_map(|s| s.metadata.name)
            .collect();
        names.sort();
        Ok(names
            .into_iter()
            .map(|name| faas_types::Secret {
                name,
                namespace: Some(namespace.to_owned()),
                ..faas_types::Secret::default()
            })
            .collect())
    }

    pub(crate) async fn create_function_secret(
        &self,
        secret: faas_types::Secret,
    ) -> Result<(), ProviderError> {
        secret.validate()?;
        let namespace = secret.namespace_or_default().to_owned();
        self.check_function_namespace(&namespace).await?;
        let what = format!("secret {}.{namespace}", secret.name);
        let object = objects::secret(&namespace, &secret.name, secret.bytes());
        self.secrets(&namespace)
            .create(&PostParams::default(), &object)
            .await
            .map(|_| ())
            .map_err(|err| api_error(&what, err))
    }

    pub(crate) async fn update_function_secret(
        &self,
        secret: faas_types::Secret,
    ) -> Result<(), ProviderError> {
        secret.validate()?;
        let namespace = secret.namespace_or_default().to_owned();
        let what = format!("secret {}.{namespace}", secret.name);
        let secrets = self.secrets(&namespace);
        for _ in 0..5 {
            let mut existing = secrets
                .get(&secret.name)
                .await
                .map_err(|err| api_error(&what, err))?;
            existing.data = Some(
                [(secret.name.clone(), ByteString(secret.bytes()))]
                    .into_iter()
                    .collect(),
            );
            existing.string_data = None;
            match secrets
                .replace(&secret.name, &PostParams::default(), &existing)
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

    pub(crate) async fn delete_function_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<(), ProviderError> {
        self.secrets(namespace)
            .delete(name, &DeleteParams::default())
            .await
            .map(|_| ())
            .map_err(|err| api_error(&format!("secret {name}.{namespace}"), err))
    }
}
