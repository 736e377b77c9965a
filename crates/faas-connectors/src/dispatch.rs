//! What the message connectors (NATS, MQTT) share: the topic map, read again every
//! `rebuild_interval`, and handing a message to every function subscribed to its topic.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::caller::GatewayCaller;
use crate::source::{topic_map, FunctionSource};

/// Topic -> subscribed functions (`name.namespace`), shared by a connector's tasks.
#[derive(Clone, Default)]
pub(crate) struct Topics(Arc<RwLock<BTreeMap<String, Vec<String>>>>);

impl Topics {
    /// Reads the functions again; on failure the map stays as it was.
    pub(crate) async fn rebuild(&self, source: &dyn FunctionSource, connector: &str) {
        match source.functions().await {
            Ok(functions) => {
                let map = topic_map(&functions);
                if let Ok(mut current) = self.0.write() {
                    *current = map;
                }
            }
            Err(err) => tracing::warn!("{connector}: {err}"),
        }
    }

    /// A task that rebuilds the map every `interval`, holding `keep` (a client whose
    /// connection must live as long as the connector) until it is aborted.
    pub(crate) fn rebuild_every<K: Send + 'static>(
        &self,
        source: Arc<dyn FunctionSource>,
        interval: Duration,
        connector: &'static str,
        keep: K,
    ) -> tokio::task::JoinHandle<()> {
        let topics = self.clone();
        tokio::spawn(async move {
            let _keep = keep;
            loop {
                tokio::time::sleep(interval).await;
                topics.rebuild(source.as_ref(), connector).await;
            }
        })
    }

    /// Calls every function subscribed to `topic` with `body`, each on its own task; a topic
    /// nobody names is dropped.
    pub(crate) fn dispatch(
        &self,
        caller: &Arc<GatewayCaller>,
        topic: &str,
        body: &[u8],
        connector: &'static str,
    ) {
        let subscribers = self
            .0
            .read()
            .map(|map| map.get(topic).cloned().unwrap_or_default())
            .unwrap_or_default();
        for function in subscribers {
            let (caller, topic, body) = (caller.clone(), topic.to_owned(), body.to_vec());
            tokio::spawn(async move {
                match caller.call(&function, &topic, body).await {
                    Ok(status) => tracing::info!("{connector}: {topic} -> {function}: {status}"),
                    Err(err) => tracing::warn!("{connector}: {err}"),
                }
            });
        }
    }
}
