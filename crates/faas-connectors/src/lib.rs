//! Event connectors: sources of events that call functions by the `topic` annotation, as
//! OpenFaaS's connector-sdk does. A function subscribes with `topic: <name>` (several topics
//! separated by commas); a connector rebuilds its map of topics to functions every few
//! seconds from a [`FunctionSource`] and calls each subscriber through the gateway's
//! `/function/{name}.{namespace}` route with `X-Topic` and `X-Connector` headers, so calls are
//! counted, scaled from zero and logged like any other.
//!
//! - [`source`] — where functions come from, and who subscribes to a topic.
//! - [`caller`] — calling a function through the gateway.
//! - [`schedule`] — cron patterns and `@every <duration>`.
//! - [`cron`] — the cron connector: `topic: cron-function` plus `schedule: "*/5 * * * *"`.
//! - `nats` (feature `nats`) — the NATS connector: a message on a subscribed subject calls
//!   the functions whose `topic` names that subject, with the message as the body.
//! - `mqtt` (feature `mqtt`) — the MQTT connector, the same for an MQTT broker's topics.

pub mod caller;
pub mod cron;
#[cfg(any(feature = "nats", feature = "mqtt"))]
mod dispatch;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "nats")]
pub mod nats;
pub mod schedule;
pub mod source;

pub use caller::{CallError, GatewayCaller};
pub use cron::{CronConfig, CronConnector};
#[cfg(feature = "mqtt")]
pub use mqtt::{MqttConnector, MqttConnectorConfig, MqttConnectorError};
#[cfg(feature = "nats")]
pub use nats::{NatsConnector, NatsConnectorConfig, NatsConnectorError};
pub use schedule::{Schedule, ScheduleError};
pub use source::{function_key, subscribes, topic_map, FunctionSource, SourceError};

#[cfg(test)]
mod test_time {
    use chrono::{DateTime, Utc};

    /// An RFC 3339 time, for tests on fixed times.
    pub(crate) fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("an RFC 3339 time")
            .with_timezone(&Utc)
    }
}

/// A running connector's tasks; they stop when it is dropped.
#[derive(Debug)]
pub struct ConnectorHandle(Vec<tokio::task::JoinHandle<()>>);

impl ConnectorHandle {
    fn new(tasks: Vec<tokio::task::JoinHandle<()>>) -> ConnectorHandle {
        ConnectorHandle(tasks)
    }
}

impl Drop for ConnectorHandle {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}
