//! `Status` objects as the API server writes them for failures.

use serde_json::{json, Value};

use crate::kinds::Kind;

/// A failed request: its HTTP code and the Status body.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: u16,
    pub body: Value,
}

fn status(code: u16, reason: &str, message: String, details: Value) -> Failure {
    Failure {
        code,
        body: json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "details": details,
            "code": code,
        }),
    }
}

fn details(kind: &Kind, name: &str) -> Value {
    let mut details = json!({"name": name, "kind": kind.plural});
    if !kind.group.is_empty() {
        details["group"] = json!(kind.group);
    }
    details
}

/// 404 `deployments.apps "x" not found`.
pub fn not_found(kind: &Kind, name: &str) -> Failure {
    status(
        404,
        "NotFound",
        format!("{} \"{name}\" not found", kind.qualified()),
        details(kind, name),
    )
}

/// 409 `deployments.apps "x" already exists`.
pub fn already_exists(kind: &Kind, name: &str) -> Failure {
    status(
        409,
        "AlreadyExists",
        format!("{} \"{name}\" already exists", kind.qualified()),
        details(kind, name),
    )
}

/// 409 for a write with a stale resourceVersion.
pub fn conflict(kind: &Kind, name: &str) -> Failure {
    status(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again",
            kind.qualified()
        ),
        details(kind, name),
    )
}

/// One field error of an Invalid status.
#[derive(Debug, Clone)]
pub struct FieldError {
    pub field: String,
    /// `FieldValueInvalid`, `FieldValueRequired`, ...
    pub reason: &'static str,
    /// `Invalid value: "X": must be ...`, `Required value`.
    pub message: String,
}

impl FieldError {
    pub fn invalid(field: impl Into<String>, value: &Value, detail: &str) -> FieldError {
        let shown = match value {
            Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        FieldError {
            field: field.into(),
            reason: "FieldValueInvalid",
            message: format!("Invalid value: {shown}: {detail}"),
        }
    }

    pub fn required(field: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            reason: "FieldValueRequired",
            message: "Required value".to_owned(),
        }
    }
}

/// 422 `Deployment.apps "x" is invalid: <field>: <message>[, ...]`.
pub fn invalid(kind: &Kind, name: &str, errors: &[FieldError]) -> Failure {
    let text: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    let message = if text.len() == 1 {
        text[0].clone()
    } else {
        format!("[{}]", text.join(", "))
    };
    let mut details = json!({"name": name, "kind": kind.kind});
    if !kind.group.is_empty() {
        details["group"] = json!(kind.group);
    }
    details["causes"] = errors
        .iter()
        .map(|e| json!({"reason": e.reason, "message": e.message, "field": e.field}))
        .collect();
    status(
        422,
        "Invalid",
        format!("{} \"{name}\" is invalid: {message}", kind.qualified_kind()),
        details,
    )
}

/// 400 with a message (malformed body, namespace mismatch, bad selector).
pub fn bad_request(message: impl Into<String>) -> Failure {
    status(400, "BadRequest", message.into(), json!({}))
}

/// 405 for a verb a resource does not take.
pub fn method_not_allowed(message: impl Into<String>) -> Failure {
    status(405, "MethodNotAllowed", message.into(), json!({}))
}

/// 415 for a patch type the fake does not apply.
pub fn unsupported_media_type(content_type: &str) -> Failure {
    status(
        415,
        "UnsupportedMediaType",
        format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {content_type})"),
        json!({}),
    )
}

/// 410 for a watch from a resourceVersion older than the kept history.
pub fn expired(resource_version: u64) -> Failure {
    status(
        410,
        "Expired",
        format!("too old resource version: {resource_version}"),
        json!({}),
    )
}
