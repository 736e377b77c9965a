//! Posting a call's result to its `X-Callback-Url`, with bounded retries. Plain HTTP only:
//! the workspace's reqwest has no TLS, so an `https` callback cannot be delivered and its call
//! is dead-lettered saying so.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::invoker::end_to_end;
use crate::metrics::QueueMetrics;
use crate::retry::{backoff_delay, parse_retry_after, Backoff};
use crate::QueuedCall;

/// How hard the worker tries to deliver a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackPolicy {
    /// Posts in all before the call is dead-lettered.
    pub attempts: u32,
    /// First wait between posts (doubled each time).
    pub min_wait: Duration,
    /// Longest wait between posts, also the cap on the receiver's `Retry-After`.
    pub max_wait: Duration,
    /// Time allowed for one post.
    pub timeout: Duration,
}

impl Default for CallbackPolicy {
    /// 5 posts over about 15 seconds, 10 seconds each.
    fn default() -> Self {
        CallbackPolicy {
            attempts: 5,
            min_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The result of one call, as the callback reports it.
pub(crate) struct CallResult {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub started: SystemTime,
    pub duration: Duration,
    /// Retries made before this result (`X-Retry`).
    pub retry: u32,
    /// Most retries allowed (`X-Retry-Max`).
    pub retry_max: u32,
}

/// Headers the worker sets itself; the function's own values for them are dropped.
const OWN_HEADERS: [&str; 7] = [
    "x-call-id",
    "x-function-status",
    "x-function-name",
    "x-duration-seconds",
    "x-start-time",
    "x-retry",
    "x-retry-max",
];

/// The headers of the callback post: the function's response headers, then the worker's.
pub(crate) fn callback_headers(call: &QueuedCall, result: &CallResult) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = end_to_end(&result.headers)
        .filter(|(name, _)| !OWN_HEADERS.iter().any(|own| name.eq_ignore_ascii_case(own)))
        .cloned()
        .collect();
    let start_nanos = result
        .started
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    headers.extend([
        ("X-Call-Id".to_string(), call.id.clone()),
        ("X-Function-Status".to_string(), result.status.to_string()),
        ("X-Function-Name".to_string(), call.function_ref()),
        (
            "X-Duration-Seconds".to_string(),
            format!("{:.6}", result.duration.as_secs_f64()),
        ),
        ("X-Start-Time".to_string(), start_nanos.to_string()),
        ("X-Retry".to_string(), result.retry.to_string()),
        ("X-Retry-Max".to_string(), result.retry_max.to_string()),
    ]);
    headers
}

/// Posts results; one per worker pool.
#[derive(Clone)]
pub(crate) struct CallbackClient {
    client: reqwest::Client,
}

impl CallbackClient {
    pub fn new() -> Result<Self, reqwest::Error> {
        // No proxy from the environment and no redirects: the result goes where the caller
        // said, and nowhere else.
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(CallbackClient { client })
    }

    /// Posts until the receiver answers below 400, answers a status that will not change
    /// (a 4xx other than 408 and 429), or the attempts run out. `Err` says why it was not
    /// delivered.
    pub async fn deliver(
        &self,
        url: &str,
        call: &QueuedCall,
        result: &CallResult,
        policy: &CallbackPolicy,
        metrics: &QueueMetrics,
    ) -> Result<u16, String> {
        if url.starts_with("https:") {
            metrics.callback(&call.queue, "error");
            return Err(format!(
                "callback to {url} not delivered: this build posts callbacks over plain http only"
            ));
        }
        let headers = callback_headers(call, result);
        let attempts = policy.attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            let mut request = self
                .client
                .post(url)
                .timeout(policy.timeout)
                .body(result.body.clone());
            for (name, value) in &headers {
                request = request.header(name.as_str(), value.as_str());
            }
            let mut retry_after = None;
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    metrics.callback(&call.queue, &status.to_string());
                    if status < 400 {
                        return Ok(status);
                    }
                    last = format!("the receiver answered {status}");
                    if status != 408 && status != 429 && status < 500 {
                        return Err(format!("callback to {url} refused: {last}"));
                    }
                    retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                }
                Err(err) => {
                    metrics.callback(&call.queue, "error");
                    last = error_chain(&err);
                }
            }
            if attempt < attempts {
                let wait = retry_after.map_or_else(
                    || {
                        backoff_delay(
                            Backoff::Exponential,
                            policy.min_wait,
                            policy.max_wait,
                            attempt,
                        )
                    },
                    |wait| wait.min(policy.max_wait),
                );
                tracing::warn!(
                    call_id = %call.id,
                    "callback to {url} failed ({last}); post {attempt} of {attempts}, next in {wait:?}"
                );
                tokio::time::sleep(wait).await;
            }
        }
        Err(format!(
            "callback to {url} failed after {attempts} attempts: {last}"
        ))
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_put_ours_last_and_drop_spoofed_ones() {
        let mut call = QueuedCall::new("echo", "dev");
        call.id = "abc".into();
        let result = CallResult {
            status: 201,
            headers: vec![
                ("Content-Type".into(), "text/plain".into()),
                ("X-Call-Id".into(), "spoofed".into()),
                ("Content-Length".into(), "3".into()),
            ],
            body: Bytes::from_static(b"hey"),
            started: UNIX_EPOCH + Duration::from_nanos(1_500_000_000_123),
            duration: Duration::from_millis(1500),
            retry: 2,
            retry_max: 4,
        };
        let headers = callback_headers(&call, &result);
        let get = |name: &str| {
            headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("content-type"), ["text/plain"]);
        assert_eq!(get("x-call-id"), ["abc"]);
        assert!(get("content-length").is_empty());
        assert_eq!(get("x-function-status"), ["201"]);
        assert_eq!(get("x-function-name"), ["echo.dev"]);
        assert_eq!(get("x-duration-seconds"), ["1.500000"]);
        assert_eq!(get("x-start-time"), ["1500000000123"]);
        assert_eq!(get("x-retry"), ["2"]);
        assert_eq!(get("x-retry-max"), ["4"]);
    }
}
