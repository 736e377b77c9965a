//! Where a connector finds functions, and which of them subscribe to a topic.

use async_trait::async_trait;
use faas_types::labels::TOPIC;
use faas_types::FunctionStatus;

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

/// Whether `function`'s `topic` annotation names `topic` (comma-separated, spaces ignored).
pub fn subscribes(function: &FunctionStatus, topic: &str) -> bool {
    function
        .annotations
        .as_ref()
        .and_then(|a| a.get(TOPIC))
        .is_some_and(|topics| topics.split(',').any(|t| t.trim() == topic))
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
}
