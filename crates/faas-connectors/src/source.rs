//! Where a connector finds functions, and which of them subscribe to a topic.

use std::collections::BTreeMap;

use async_trait::async_trait;
use faas_types::labels::TOPIC;
use faas_types::{FunctionStatus, DEFAULT_NAMESPACE};

/// Listing functions failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot list functions: {0}")]
pub struct SourceError(pub String);

/// Every deployed function, in every namespace (each with its `namespace` set).
#[async_trait]
pub trait FunctionSource: Send + Sync {
    /// The functions as they are now.
    async fn functions(&self) -> Result<Vec<FunctionStatus>, SourceError>;
}

/// The topics in `function`'s `topic` annotation (comma-separated, spaces ignored).
pub fn topics(function: &FunctionStatus) -> impl Iterator<Item = &str> {
    function
        .annotations
        .as_ref()
        .and_then(|a| a.get(TOPIC))
        .map(|topics| topics.split(','))
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Whether `function`'s `topic` annotation names `topic`.
pub fn subscribes(function: &FunctionStatus, topic: &str) -> bool {
    topics(function).any(|t| t == topic)
}

/// How a connector names a function in its call: `name.namespace`.
pub fn function_key(function: &FunctionStatus) -> String {
    format!(
        "{}.{}",
        function.name,
        function.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    )
}

/// Every topic named by some function, with its subscribers (`name.namespace`, sorted).
pub fn topic_map(functions: &[FunctionStatus]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for function in functions {
        for topic in topics(function) {
            map.entry(topic.to_owned())
                .or_default()
                .push(function_key(function));
        }
    }
    for subscribers in map.values_mut() {
        subscribers.sort();
        subscribers.dedup();
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_topic(topic: &str) -> FunctionStatus {
        FunctionStatus {
            annotations: Some([(TOPIC.to_owned(), topic.to_owned())].into()),
            ..FunctionStatus::default()
        }
    }

    #[test]
    fn topics_are_a_comma_separated_list() {
        assert!(subscribes(&with_topic("cron-function"), "cron-function"));
        assert!(subscribes(
            &with_topic("orders, cron-function"),
            "cron-function"
        ));
        assert!(!subscribes(&with_topic("cron-functions"), "cron-function"));
        assert!(!subscribes(&FunctionStatus::default(), "cron-function"));
    }

    #[test]
    fn the_topic_map_lists_subscribers_by_topic() {
        let mut a = with_topic("orders, payments");
        a.name = "a".into();
        let mut b = with_topic("orders,");
        b.name = "b".into();
        b.namespace = Some("dev".into());
        let map = topic_map(&[b, a, FunctionStatus::default()]);
        assert_eq!(map.len(), 2);
        assert_eq!(map["orders"], ["a.openfaas-fn", "b.dev"]);
        assert_eq!(map["payments"], ["a.openfaas-fn"]);
    }
}
