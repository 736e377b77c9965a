//! A function's logs from the engine's log stream of each of its containers, as OpenFaaS's
//! NDJSON lines (`name`, `namespace`, `instance`, `timestamp`, `text`): oldest first, `tail`
//! over all replicas, `since`, and `follow` (merged as lines arrive).

use std::sync::Arc;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use chrono::{DateTime, Utc};
use faas_provider::{LogStream, ProviderError};
use faas_types::{LogMessage, LogRequest};
use futures_util::stream::{self, StreamExt};

use crate::engine::Engine;
use crate::spec::label;

/// Lines of one function's containers.
pub(crate) async fn read(
    engine: Arc<Engine>,
    owner: &str,
    request: &LogRequest,
) -> Result<LogStream, ProviderError> {
    let namespace = request.namespace_or_default().to_owned();
    let mut filters = vec![
        (label::OWNER, owner),
        (label::NAMESPACE, namespace.as_str()),
        (label::FUNCTION, request.name.as_str()),
    ];
    if let Some(instance) = &request.instance {
        filters.push((label::INSTANCE, instance.as_str()));
    }
    let containers = engine.containers(&filters).await?;
    let tail = request.tail_lines();
    let options = LogsOptions {
        follow: request.follow,
        stdout: true,
        stderr: true,
        timestamps: true,
        since: request
            .since
            .map_or(0, |t| i32::try_from(t.timestamp()).unwrap_or(0)),
        tail: tail.map_or_else(|| "all".to_owned(), |n| n.to_string()),
        ..Default::default()
    };
    let docker = engine.raw().await?;
    let mut streams = Vec::new();
    for container in containers {
        let Some(id) = container.id else { continue };
        let instance = container
            .labels
            .and_then(|l| l.get(label::INSTANCE).cloned())
            .unwrap_or_else(|| id.chars().take(12).collect());
        let (name, namespace, since) = (request.name.clone(), namespace.clone(), request.since);
        let lines = docker
            .logs(&id, Some(options.clone()))
            .filter_map(move |item| {
                let message = item.ok().and_then(|output| {
                    line(&output).and_then(|(timestamp, text)| {
                        // The engine's `since` is in whole seconds.
                        (since.is_none_or(|s| timestamp >= s)).then(|| LogMessage {
                            name: name.clone(),
                            namespace: namespace.clone(),
                            instance: instance.clone(),
                            timestamp,
                            text,
                        })
                    })
                });
                std::future::ready(message)
            })
            .boxed();
        streams.push(lines);
    }
    if request.follow {
        return Ok(stream::select_all(streams).boxed());
    }
    let mut all: Vec<LogMessage> = stream::iter(streams).flatten().collect().await;
    all.sort_by_key(|m| m.timestamp);
    if let Some(n) = tail {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        let skip = all.len().saturating_sub(n);
        all.drain(..skip);
    }
    Ok(stream::iter(all).boxed())
}

/// `2026-01-01T00:00:00.123456789Z text` (the engine's timestamps) split in two.
fn line(output: &LogOutput) -> Option<(DateTime<Utc>, String)> {
    let bytes: &[u8] = output.as_ref();
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end_matches(['\n', '\r']);
    let (stamp, rest) = text.split_once(' ').unwrap_or((text, ""));
    let timestamp = DateTime::parse_from_rfc3339(stamp)
        .ok()?
        .with_timezone(&Utc);
    Some((timestamp, rest.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_lines_split_into_time_and_text() {
        let output = LogOutput::StdErr {
            message: bytes::Bytes::from_static(
                b"2026-12-06T04:03:36.123456789Z Forking fprocess.\n",
            ),
        };
        let (timestamp, text) = line(&output).unwrap();
        assert_eq!(text, "Forking fprocess.");
        assert_eq!(timestamp.timestamp_subsec_nanos(), 123_456_789);
        let junk = LogOutput::StdOut {
            message: bytes::Bytes::from_static(b"no time here"),
        };
        assert!(line(&junk).is_none());
    }
}
