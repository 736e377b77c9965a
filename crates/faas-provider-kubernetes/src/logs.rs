//! Function logs from its pods' log streams (`timestamps=true`), as OpenFaaS's log
//! messages: one per line, `instance` the pod's name.

use chrono::{DateTime, Utc};
use faas_provider::{LogStream, ProviderError};
use faas_types::{LogMessage, LogRequest};
use futures_util::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, LogParams};
use kube::Api;

use crate::error::api_error;
use crate::objects::FUNCTION_LABEL;

/// A line as the kubelet writes it with `timestamps=true`: `<RFC3339Nano> <text>`.
pub fn parse_line(line: &str) -> (Option<DateTime<Utc>>, &str) {
    match line.split_once(' ') {
        Some((stamp, text)) => match DateTime::parse_from_rfc3339(stamp) {
            Ok(time) => (Some(time.with_timezone(&Utc)), text),
            Err(_) => (None, line),
        },
        None => match DateTime::parse_from_rfc3339(line) {
            Ok(time) => (Some(time.with_timezone(&Utc)), ""),
            Err(_) => (None, line),
        },
    }
}

fn log_params(request: &LogRequest) -> LogParams {
    LogParams {
        container: Some(request.name.clone()),
        follow: request.follow,
        tail_lines: (request.tail > 0).then_some(request.tail),
        // kube rounds sinceTime to the nearest second, which could drop the lines of the
        // second `since` falls in: ask from its start and filter the rest here.
        since_time: request
            .since
            .and_then(|since| Timestamp::new(since.timestamp(), 0).ok()),
        timestamps: true,
        ..LogParams::default()
    }
}

/// The function's pods (or the one named by `instance`) and a stream of their lines:
/// merged as they come when following, else sorted by time.
pub async fn function_logs(
    pods: Api<Pod>,
    namespace: &str,
    request: LogRequest,
) -> Result<LogStream, ProviderError> {
    let what = format!("pods of {}.{namespace}", request.name);
    let selector = format!("{FUNCTION_LABEL}={}", request.name);
    let list = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|err| api_error(&what, err))?;
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .filter_map(|pod| pod.metadata.name)
        .filter(|pod| request.instance.as_deref().is_none_or(|i| i == pod))
        .collect();
    names.sort();
    let params = log_params(&request);
    let mut streams = Vec::new();
    for pod in names {
        let reader = match pods.log_stream(&pod, &params).await {
            Ok(reader) => reader,
            // A pod that went away between the list and now has no more lines to give.
            Err(err) if crate::error::is_not_found(&err) => continue,
            Err(err) => return Err(api_error(&format!("logs of pod {pod}"), err)),
        };
        let (name, namespace) = (request.name.clone(), namespace.to_owned());
        let since = request.since;
        let lines = reader.lines().filter_map(move |line| {
            let message = line.ok().map(|line| {
                let (time, text) = parse_line(&line);
                LogMessage {
                    name: name.clone(),
                    namespace: namespace.clone(),
                    instance: pod.clone(),
                    timestamp: time.unwrap_or_else(Utc::now),
                    text: text.to_owned(),
                }
            });
            let message = message.filter(|m| since.is_none_or(|since| m.timestamp >= since));
            std::future::ready(message)
        });
        streams.push(lines.boxed());
    }
    if request.follow {
        return Ok(futures_util::stream::select_all(streams).boxed());
    }
    let mut messages = Vec::new();
    for stream in streams {
        messages.extend(stream.collect::<Vec<_>>().await);
    }
    messages.sort_by_key(|m| m.timestamp);
    Ok(futures_util::stream::iter(messages).boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_lines_split_into_time_and_text() {
        let (time, text) = parse_line("2026-12-06T04:00:00.123456789Z hello world");
        assert_eq!(
            time.unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "2026-12-06T04:00:00.123456789Z"
        );
        assert_eq!(text, "hello world");
        assert_eq!(parse_line("no stamp here"), (None, "no stamp here"));
    }
}
