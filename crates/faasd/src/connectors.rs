//! The connectors faasd runs in-process (cron, and NATS and MQTT when configured), reading
//! functions straight from the provider and calling them through faasd's own gateway.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use faas_connectors::{ConnectorHandle, FunctionSource, GatewayCaller, SourceError};
use faas_provider::Provider;
use faas_types::FunctionStatus;

use crate::config::Config;

/// Starts the configured connectors; they stop when the handles drop.
pub async fn start(
    config: &Config,
    provider: Arc<dyn Provider>,
    address: SocketAddr,
) -> anyhow::Result<Vec<ConnectorHandle>> {
    let source: Arc<dyn FunctionSource> = Arc::new(ProviderFunctions(provider));
    let caller = |name: &str| {
        GatewayCaller::new(
            &format!("http://{address}"),
            name,
            config.upstream_timeout + Duration::from_secs(5),
        )
        .map(|caller| {
            if config.connector_async {
                caller.asynchronous()
            } else {
                caller
            }
        })
    };
    let mut handles = Vec::new();
    if config.cron {
        handles.push(
            faas_connectors::CronConnector::new(
                source.clone(),
                caller(faas_connectors::cron::CONNECTOR_NAME)?,
                faas_connectors::CronConfig {
                    rebuild_interval: config.connector_rebuild_interval,
                },
            )
            .start(),
        );
    }
    if let Some((url, subjects)) = &config.nats_connector {
        #[cfg(feature = "nats")]
        {
            let connector = faas_connectors::NatsConnector::new(
                source.clone(),
                caller(faas_connectors::nats::CONNECTOR_NAME)?,
                faas_connectors::NatsConnectorConfig {
                    url: url.clone(),
                    subjects: subjects.clone(),
                    rebuild_interval: config.connector_rebuild_interval,
                },
            );
            handles.push(connector.start().await?);
            tracing::info!("NATS connector: {} on {url}", subjects.join(", "));
        }
        #[cfg(not(feature = "nats"))]
        anyhow::bail!(
            "--nats-connector-url {url} ({}): this faasd was built without NATS support: rebuild with `--features nats`",
            subjects.join(", ")
        );
    }
    if let Some((url, topics)) = &config.mqtt_connector {
        #[cfg(feature = "mqtt")]
        {
            let connector = faas_connectors::MqttConnector::new(
                source.clone(),
                caller(faas_connectors::mqtt::CONNECTOR_NAME)?,
                faas_connectors::MqttConnectorConfig {
                    url: url.clone(),
                    topics: topics.clone(),
                    rebuild_interval: config.connector_rebuild_interval,
                },
            );
            handles.push(connector.start().await?);
            tracing::info!("MQTT connector: {} on {url}", topics.join(", "));
        }
        #[cfg(not(feature = "mqtt"))]
        anyhow::bail!(
            "--mqtt-connector-url {url} ({}): this faasd was built without MQTT support: rebuild with `--features mqtt`",
            topics.join(", ")
        );
    }
    Ok(handles)
}

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
