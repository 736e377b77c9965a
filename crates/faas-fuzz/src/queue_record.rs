//! The embedded queue's stored records ([`faas_queue::fuzzing::decode_record`]) and the calls
//! and dead letters in them, as a queue opened on a damaged or older file reads them, then what
//! the worker does with a call before sending it: validation, the retry policy from its
//! annotations, the backoff, the gateway URL.
//!
//! A record that decodes must encode back to the same bytes; a call or dead letter that
//! decodes must survive its own round trip unchanged.

use std::sync::OnceLock;
use std::time::Duration;

use faas_queue::retry::{RetryPolicy, DEFAULT_RETRY_CODES};
use faas_queue::{DeadLetter, GatewayInvoker, QueuedCall};

/// The target's body.
pub fn run(data: &[u8]) {
    let Ok(record) = faas_queue::fuzzing::decode_record(data) else {
        return;
    };
    assert_eq!(
        faas_queue::fuzzing::encode_record(record.stamp_ms, record.queue, record.json),
        data,
        "a decoded record encodes to other bytes"
    );
    if let Ok(call) = serde_json::from_slice::<QueuedCall>(record.json) {
        round_trip(&call);
        worker_steps(&call);
    }
    if let Ok(letter) = serde_json::from_slice::<DeadLetter>(record.json) {
        round_trip(&letter);
        worker_steps(&letter.call);
    }
}

fn round_trip<T>(value: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_vec(value).expect("a decoded value encodes");
    let again: T = serde_json::from_slice(&json).unwrap_or_else(|e| {
        panic!(
            "re-encoded value does not decode: {e}: {}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(&again, value, "a round trip changed the value");
}

/// What the worker does with a call it took from the queue, short of sending it.
fn worker_steps(call: &QueuedCall) {
    let _ = call.validate();
    let _ = call.function_ref();
    let _ = call.header("X-Callback-Url");
    let policy = RetryPolicy::default().with_annotations(&call.annotations);
    assert!(policy.attempts >= 1);
    assert!(policy.min_wait <= policy.max_wait);
    let _ = policy.retries_status(DEFAULT_RETRY_CODES[0]);
    for attempt in [0, 1, call.attempt, call.attempt.saturating_add(1), u32::MAX] {
        assert!(policy.delay(attempt, None) <= policy.max_wait);
    }
    let url = invoker().url_for(call);
    assert!(url.starts_with("http://127.0.0.1:8080/function/"), "{url}");
}

/// One invoker for every input: building its HTTP client is not what is fuzzed.
fn invoker() -> &'static GatewayInvoker {
    static INVOKER: OnceLock<GatewayInvoker> = OnceLock::new();
    INVOKER.get_or_init(|| {
        GatewayInvoker::new("http://127.0.0.1:8080", Duration::from_secs(1)).expect("an invoker")
    })
}
