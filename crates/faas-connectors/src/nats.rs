//! The NATS connector (feature `nats`): subscribes to the configured subjects on a NATS
//! server and, for each message, calls every function whose `topic` annotation names the
//! message's subject, with the message's payload as the body, as OpenFaaS's nats-connector
//! does. The map of topics to functions is read again every `rebuild_interval`; a message on
//! a subject no function names is dropped. The connection is kept up by the client:
//! subscriptions come back after the server restarts.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::StreamExt as _;

use crate::caller::GatewayCaller;
use crate::source::{topic_map, FunctionSource};
use crate::ConnectorHandle;

/// The name the connector gives itself in `X-Connector`.
pub const CONNECTOR_NAME: &str = "nats-connector";

/// Where the connector listens.
#[derive(Debug, Clone)]
pub struct NatsConnectorConfig {
    /// `nats://host:port`.
    pub url: String,
    /// The subjects to subscribe to (OpenFaaS's `topics`).
    pub subjects: Vec<String>,
    /// How often the topic map is read again.
    pub rebuild_interval: Duration,
}

/// The connector could not start.
#[derive(Debug, thiserror::Error)]
pub enum NatsConnectorError {
    /// No subject to listen on.
    #[error("the NATS connector needs at least one subject to subscribe to")]
    NoSubjects,
    /// The client could not be set up.
    #[error("NATS connector: cannot connect to {url}: {reason}")]
    Connect {
        /// The server.
        url: String,
        /// Why.
        reason: String,
    },
    /// A subscription was refused.
    #[error("NATS connector: cannot subscribe to {subject}: {reason}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// Why.
        reason: String,
    },
}

type TopicMap = Arc<RwLock<BTreeMap<String, Vec<String>>>>;

/// Calls functions for NATS messages.
pub struct NatsConnector {
    source: Arc<dyn FunctionSource>,
    caller: Arc<GatewayCaller>,
    config: NatsConnectorConfig,
}

impl NatsConnector {
    /// A connector reading functions from `source` and calling them with `caller`.
    pub fn new(
        source: Arc<dyn FunctionSource>,
        caller: GatewayCaller,
        config: NatsConnectorConfig,
    ) -> NatsConnector {
        NatsConnector {
            source,
            caller: Arc::new(caller),
            config,
        }
    }

    /// Reads the topic map, connects (retrying in the background while the server is away)
    /// and subscribes; messages are handled on the current runtime until the handle drops.
    pub async fn start(self) -> Result<ConnectorHandle, NatsConnectorError> {
        if self.config.subjects.is_empty() {
            return Err(NatsConnectorError::NoSubjects);
        }
        let topics: TopicMap = Arc::default();
        rebuild(self.source.as_ref(), &topics).await;
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(self.config.url.as_str())
            .await
            .map_err(|e| NatsConnectorError::Connect {
                url: self.config.url.clone(),
                reason: e.to_string(),
            })?;
        let mut tasks = Vec::new();
        for subject in &self.config.subjects {
            let mut subscriber = client.subscribe(subject.clone()).await.map_err(|e| {
                NatsConnectorError::Subscribe {
                    subject: subject.clone(),
                    reason: e.to_string(),
                }
            })?;
            let (topics, caller) = (topics.clone(), self.caller.clone());
            tasks.push(tokio::spawn(async move {
                while let Some(message) = subscriber.next().await {
                    let subject = message.subject.to_string();
                    let subscribers = topics
                        .read()
                        .map(|map| map.get(&subject).cloned().unwrap_or_default())
                        .unwrap_or_default();
                    for function in subscribers {
                        let (caller, subject) = (caller.clone(), subject.clone());
                        let body = message.payload.to_vec();
                        tokio::spawn(async move {
                            match caller.call(&function, &subject, body).await {
                                Ok(status) => {
                                    tracing::info!("nats: {subject} -> {function}: {status}")
                                }
                                Err(err) => tracing::warn!("nats: {err}"),
                            }
                        });
                    }
                }
            }));
        }
        let (source, interval) = (self.source.clone(), self.config.rebuild_interval);
        tasks.push(tokio::spawn(async move {
            // Holds the client (and with it the connection) for as long as the connector runs.
            let _client = client;
            loop {
                tokio::time::sleep(interval).await;
                rebuild(source.as_ref(), &topics).await;
            }
        }));
        Ok(ConnectorHandle::new(tasks))
    }
}

async fn rebuild(source: &dyn FunctionSource, topics: &TopicMap) {
    match source.functions().await {
        Ok(functions) => {
            let map = topic_map(&functions);
            if let Ok(mut current) = topics.write() {
                *current = map;
            }
        }
        Err(err) => tracing::warn!("nats: {err}"),
    }
}
