//! The NATS connector (feature `nats`): subscribes to the configured subjects on a NATS
//! server and, for each message, calls every function whose `topic` annotation names the
//! message's subject, with the message's payload as the body, as OpenFaaS's nats-connector
//! does. The map of topics to functions is read again every `rebuild_interval`; a message on
//! a subject no function names is dropped. The connection is kept up by the client:
//! subscriptions come back after the server restarts.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;

use crate::caller::GatewayCaller;
use crate::dispatch::Topics;
use crate::source::FunctionSource;
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
        let topics = Topics::default();
        topics.rebuild(self.source.as_ref(), "nats").await;
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
                    topics.dispatch(&caller, message.subject.as_str(), &message.payload, "nats");
                }
            }));
        }
        tasks.push(topics.rebuild_every(
            self.source.clone(),
            self.config.rebuild_interval,
            "nats",
            client,
        ));
        Ok(ConnectorHandle::new(tasks))
    }
}
