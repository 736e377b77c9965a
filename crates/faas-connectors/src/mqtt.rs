//! The MQTT connector (feature `mqtt`): subscribes to the configured topics on an MQTT broker
//! and, for each message, calls every function whose `topic` annotation names the message's
//! topic, with the payload as the body, as OpenFaaS's mqtt-connector does. Subscriptions are
//! made again each time the client (re)connects, so a restarted broker is picked up.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

use crate::caller::GatewayCaller;
use crate::dispatch::Topics;
use crate::source::FunctionSource;
use crate::ConnectorHandle;

/// The name the connector gives itself in `X-Connector`.
pub const CONNECTOR_NAME: &str = "mqtt-connector";

/// Where the connector listens.
#[derive(Debug, Clone)]
pub struct MqttConnectorConfig {
    /// `tcp://host:port` or `mqtt://host:port` (port 1883 when absent).
    pub url: String,
    /// The topics (or topic filters, with `+` and `#`) to subscribe to.
    pub topics: Vec<String>,
    /// How often the topic map is read again.
    pub rebuild_interval: Duration,
}

/// The connector could not start.
#[derive(Debug, thiserror::Error)]
pub enum MqttConnectorError {
    /// No topic to listen on.
    #[error("the MQTT connector needs at least one topic to subscribe to")]
    NoTopics,
    /// The broker URL is not usable.
    #[error("MQTT broker {0:?}: use tcp://host:port or mqtt://host:port (TLS is not supported)")]
    BadUrl(String),
}

/// `tcp://host:port` or `mqtt://host:port` -> host and port.
pub fn parse_broker(url: &str) -> Result<(String, u16), MqttConnectorError> {
    let bad = || MqttConnectorError::BadUrl(url.to_owned());
    let rest = url
        .strip_prefix("tcp://")
        .or_else(|| url.strip_prefix("mqtt://"))
        .ok_or_else(bad)?
        .trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().map_err(|_| bad())?),
        None => (rest, 1883),
    };
    if host.is_empty() || host.contains('/') || port == 0 {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// Calls functions for MQTT messages.
pub struct MqttConnector {
    source: Arc<dyn FunctionSource>,
    caller: Arc<GatewayCaller>,
    config: MqttConnectorConfig,
}

impl MqttConnector {
    /// A connector reading functions from `source` and calling them with `caller`.
    pub fn new(
        source: Arc<dyn FunctionSource>,
        caller: GatewayCaller,
        config: MqttConnectorConfig,
    ) -> MqttConnector {
        MqttConnector {
            source,
            caller: Arc::new(caller),
            config,
        }
    }

    /// Reads the topic map and starts the client on the current runtime (it connects, and
    /// reconnects, in the background); runs until the handle drops.
    pub async fn start(self) -> Result<ConnectorHandle, MqttConnectorError> {
        if self.config.topics.is_empty() {
            return Err(MqttConnectorError::NoTopics);
        }
        let (host, port) = parse_broker(&self.config.url)?;
        let topics = Topics::default();
        topics.rebuild(self.source.as_ref(), "mqtt").await;
        let mut options = MqttOptions::new(
            format!("rustfaas-mqtt-connector-{}", std::process::id()),
            host,
            port,
        );
        options.set_keep_alive(Duration::from_secs(30));
        options.set_clean_session(true);
        let (client, mut events) = AsyncClient::new(options, 64);
        let subscriptions = self.config.topics.clone();
        let (listening, caller, url) = (topics.clone(), self.caller.clone(), self.config.url);
        let subscriber = client.clone();
        let event_loop = tokio::spawn(async move {
            let mut reported = false;
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        reported = false;
                        tracing::info!("mqtt: connected to {url}");
                        for topic in &subscriptions {
                            if let Err(err) =
                                subscriber.try_subscribe(topic.clone(), QoS::AtLeastOnce)
                            {
                                tracing::warn!("mqtt: cannot subscribe to {topic}: {err}");
                            }
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(message))) => {
                        listening.dispatch(&caller, &message.topic, &message.payload, "mqtt");
                    }
                    Ok(_) => {}
                    Err(err) => {
                        if !reported {
                            tracing::warn!("mqtt: {url}: {err}; retrying every second");
                            reported = true;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        let rebuild = topics.rebuild_every(
            self.source.clone(),
            self.config.rebuild_interval,
            "mqtt",
            client,
        );
        Ok(ConnectorHandle::new(vec![event_loop, rebuild]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        assert_eq!(
            parse_broker("tcp://127.0.0.1:18830").unwrap(),
            ("127.0.0.1".to_owned(), 18830)
        );
        assert_eq!(
            parse_broker("mqtt://broker.local").unwrap(),
            ("broker.local".to_owned(), 1883)
        );
        for bad in [
            "127.0.0.1:1883",
            "ssl://x:8883",
            "tcp://",
            "tcp://x:port",
            "tcp://x:0",
        ] {
            assert!(parse_broker(bad).is_err(), "{bad}");
        }
    }
}
