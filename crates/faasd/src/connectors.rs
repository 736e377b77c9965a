//! The connectors faasd runs in-process: the cron connector, reading functions straight from
//! the provider and calling them through faasd's own gateway.

use std::sync::Arc;

use async_trait::async_trait;
use faas_connectors::{FunctionSource, SourceError};
use faas_provider::Provider;
use faas_types::FunctionStatus;

/// Every function of every namespace, from the provider.
pub struct ProviderFunctions(pub Arc<dyn Provider>);

#[async_trait]
impl FunctionSource for ProviderFunctions {
    async fn functions(&self) -> Result<Vec<FunctionStatus>, SourceError> {
        let namespaces = self
            .0
            .list_namespaces()
            .await
            .map_err(|e| SourceError(e.to_string()))?;
        let mut all = Vec::new();
        for namespace in namespaces {
            let functions = self
                .0
                .list(&namespace)
                .await
                .map_err(|e| SourceError(e.to_string()))?;
            all.extend(functions.into_iter().map(|mut f| {
                f.namespace.get_or_insert_with(|| namespace.clone());
                f
            }));
        }
        Ok(all)
    }
}
