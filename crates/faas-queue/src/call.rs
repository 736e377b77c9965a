//! What is queued ([`QueuedCall`]), what a consumer receives ([`Delivery`]), what is kept
//! when a call gives up ([`DeadLetter`]), and the checks a call passes before it is queued.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use faas_types::labels;
use serde::{Deserialize, Serialize};

use crate::QueueError;

/// The queue a call goes to when its function has no `com.openfaas.queue` annotation.
pub const DEFAULT_QUEUE: &str = "default";

/// Longest queue name: it becomes part of NATS subjects and consumer names.
const MAX_QUEUE_NAME: usize = 64;

/// One asynchronous call, as the gateway accepted it.
///
/// `path` is what followed the function name in `/async-function/{name}{path}` (empty or
/// starting with `/`); `query` is the raw query string without `?` (empty when none).
/// `annotations` carries the function's annotations that steer the worker
/// (`com.openfaas.retry.*`), copied when the call is queued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedCall {
    /// The `X-Call-Id`: given by the caller or made by the gateway.
    pub id: String,
    /// Function name.
    pub function: String,
    /// Function namespace.
    pub namespace: String,
    /// HTTP method of the original request.
    pub method: String,
    /// Path after the function name.
    #[serde(default)]
    pub path: String,
    /// Raw query string, without the `?`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// Request headers, in order, repeated names kept.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Request body.
    #[serde(default, with = "body_base64")]
    pub body: Bytes,
    /// Where the result is posted (`X-Callback-Url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// When the gateway accepted the call.
    pub queued_at: DateTime<Utc>,
    /// Attempts already made to invoke the function (0 until the first one finishes).
    #[serde(default)]
    pub attempt: u32,
    /// Queue name, from the function's `com.openfaas.queue` annotation.
    pub queue: String,
    /// The function's annotations that steer the worker (`com.openfaas.retry.*`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl QueuedCall {
    /// A `POST /` call to `function` in `namespace` with a fresh id, no body, queued now on the
    /// default queue. Set the other fields directly.
    pub fn new(function: impl Into<String>, namespace: impl Into<String>) -> Self {
        QueuedCall {
            id: uuid::Uuid::new_v4().to_string(),
            function: function.into(),
            namespace: namespace.into(),
            method: "POST".to_string(),
            path: String::new(),
            query: String::new(),
            headers: Vec::new(),
            body: Bytes::new(),
            callback_url: None,
            queued_at: Utc::now(),
            attempt: 0,
            queue: DEFAULT_QUEUE.to_string(),
            annotations: BTreeMap::new(),
        }
    }

    /// Takes what the worker needs from the function's annotations: the queue name
    /// (`com.openfaas.queue`, default [`DEFAULT_QUEUE`]) and the `com.openfaas.retry.*`
    /// settings.
    pub fn apply_function_annotations<'a>(
        &mut self,
        annotations: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) {
        self.queue = DEFAULT_QUEUE.to_string();
        for (key, value) in annotations {
            if key == labels::QUEUE {
                let value = value.trim();
                if !value.is_empty() {
                    self.queue = value.to_string();
                }
            } else if key.starts_with("com.openfaas.retry.") {
                self.annotations.insert(key.clone(), value.clone());
            }
        }
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The function as the caller named it: `name` in the default namespace, else
    /// `name.namespace` (the value of `X-Function-Name`).
    pub fn function_ref(&self) -> String {
        if self.namespace.is_empty() || self.namespace == faas_types::DEFAULT_NAMESPACE {
            self.function.clone()
        } else {
            format!("{}.{}", self.function, self.namespace)
        }
    }

    /// Checks what a backend relies on: a queue name, a function name, a usable callback URL.
    pub fn validate(&self) -> Result<(), QueueError> {
        validate_queue_name(&self.queue)?;
        if self.function.is_empty() {
            return Err(QueueError::InvalidCall("the function name is empty".into()));
        }
        if self.id.is_empty() {
            return Err(QueueError::InvalidCall("the call id is empty".into()));
        }
        if let Some(url) = &self.callback_url {
            validate_callback_url(url).map_err(|err| QueueError::InvalidCall(err.to_string()))?;
        }
        Ok(())
    }
}

/// A queue name is 1 to 64 ASCII letters, digits, `-` or `_` (it becomes a NATS subject token
/// and consumer name).
pub fn validate_queue_name(name: &str) -> Result<(), QueueError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_QUEUE_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(QueueError::InvalidCall(format!(
            "queue name {name:?} must be 1 to {MAX_QUEUE_NAME} letters, digits, '-' or '_'"
        )))
    }
}

/// Why an `X-Callback-Url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("X-Callback-Url {url:?} {problem}")]
pub struct InvalidCallbackUrl {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub problem: String,
}

/// Checks an `X-Callback-Url` before its call is accepted: an absolute `http` or `https` URL
/// with a host. The gateway answers 400 with the error's text when this fails. Returns the URL
/// as it will be used.
///
/// The worker's callback client speaks plain HTTP only; an `https` URL is accepted here (as
/// OpenFaaS does) and its call is dead-lettered with a clear reason when the result cannot be
/// delivered.
pub fn validate_callback_url(url: &str) -> Result<String, InvalidCallbackUrl> {
    let refuse = |problem: &str| InvalidCallbackUrl {
        url: url.to_string(),
        problem: problem.to_string(),
    };
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return Err(refuse("is empty"));
    }
    let parsed =
        reqwest::Url::parse(trimmed).map_err(|err| refuse(&format!("is not a URL: {err}")))?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => {
            return Err(refuse(&format!(
                "has scheme {other:?}; only http and https are allowed"
            )))
        }
    }
    match parsed.host_str() {
        Some(host) if !host.is_empty() => {}
        _ => return Err(refuse("has no host")),
    }
    Ok(parsed.to_string())
}

/// A consumed call, leased to its consumer until it is settled ([`crate::Queue::ack`],
/// [`crate::Queue::retry_later`], [`crate::Queue::dead_letter`]) or the lease expires.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The call. A consumer may change it (the worker raises `attempt`) before
    /// [`crate::Queue::retry_later`], which stores it as changed.
    pub call: QueuedCall,
    /// How many times this call has been handed out since it was queued (or since the backend
    /// restarted, for the embedded queue); above 1 means an earlier lease expired.
    pub deliveries: u32,
    /// The backend's handle on this lease.
    pub receipt: Receipt,
}

/// A backend's handle on one lease. Opaque outside the backends, except for
/// [`Receipt::from_token`], which lets other crates' test doubles make deliveries.
#[derive(Clone, Debug)]
pub struct Receipt(pub(crate) ReceiptInner);

#[derive(Clone, Debug)]
pub(crate) enum ReceiptInner {
    Token(u64),
    #[cfg(feature = "embedded")]
    Embedded {
        seq: u64,
        lease: u64,
    },
    #[cfg(feature = "nats")]
    Nats(Box<async_nats::jetstream::Message>),
}

impl Receipt {
    /// A receipt holding a number, for queue implementations outside this crate.
    pub fn from_token(token: u64) -> Self {
        Receipt(ReceiptInner::Token(token))
    }

    /// The number given to [`Receipt::from_token`], if this receipt was made that way.
    pub fn token(&self) -> Option<u64> {
        match &self.0 {
            ReceiptInner::Token(token) => Some(*token),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

/// A call that will not be tried again until someone replays it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The call as it was last tried (its `attempt` says how often).
    pub call: QueuedCall,
    /// Why it was given up: the last status, or why its callback could not be delivered.
    pub reason: String,
    /// When it was given up.
    pub dead_at: DateTime<Utc>,
}

/// What a queue holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    /// Calls waiting for a consumer.
    pub ready: u64,
    /// Calls waiting for a retry delay to pass.
    pub delayed: u64,
    /// Calls leased to a consumer and not yet settled.
    pub leased: u64,
    /// Dead letters.
    pub dead_letters: u64,
}

impl QueueStats {
    /// Calls accepted and not yet settled: ready, delayed and leased.
    pub fn depth(&self) -> u64 {
        self.ready + self.delayed + self.leased
    }
}

mod body_base64 {
    use base64::Engine;
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(body: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(body))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Bytes::from)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn callback_urls() {
        assert_eq!(
            validate_callback_url("http://127.0.0.1:9000/cb").unwrap(),
            "http://127.0.0.1:9000/cb"
        );
        assert!(validate_callback_url("https://example.com/x?y=1").is_ok());
        for bad in [
            "",
            "   ",
            "not a url",
            "ftp://host/x",
            "file:///etc/passwd",
            "http://",
            "/relative",
            "mailto:a@b",
        ] {
            let err = validate_callback_url(bad).unwrap_err();
            assert!(err.to_string().contains("X-Callback-Url"), "{bad}: {err}");
        }
    }

    #[test]
    fn queue_names() {
        for good in ["default", "slow-fns", "q_1"] {
            validate_queue_name(good).unwrap();
        }
        for bad in ["", "a.b", "a b", "a>", "*", &"x".repeat(65)] {
            assert!(validate_queue_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn annotations_pick_queue_and_retry() {
        let mut call = QueuedCall::new("fn", "openfaas-fn");
        let annotations: HashMap<String, String> = [
            (labels::QUEUE, "slow"),
            (labels::RETRY_ATTEMPTS, "3"),
            ("topic", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        call.apply_function_annotations(&annotations);
        assert_eq!(call.queue, "slow");
        assert_eq!(call.annotations.len(), 1);
        assert_eq!(call.function_ref(), "fn");
        call.namespace = "dev".into();
        assert_eq!(call.function_ref(), "fn.dev");
    }

    #[test]
    fn round_trips_as_json_with_base64_body() {
        let mut call = QueuedCall::new("fn", "openfaas-fn");
        call.body = Bytes::from_static(b"\x00\xffhello");
        call.headers.push(("X-A".into(), "1".into()));
        let text = serde_json::to_string(&call).unwrap();
        assert!(text.contains("AP9oZWxsbw=="), "{text}");
        let back: QueuedCall = serde_json::from_str(&text).unwrap();
        assert_eq!(back, call);
    }
}
