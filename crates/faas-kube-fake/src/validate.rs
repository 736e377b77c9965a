//! What the API server rejects (422 Invalid): malformed names and labels, missing required
//! fields, a Deployment whose selector does not match its template, a Service without ports.

use serde_json::Value;

use crate::kinds::{self, Kind, NameRule};
use crate::selector::LabelSelector;
use crate::status::FieldError;

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

pub fn is_label(name: &str) -> bool {
    let b = name.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 63
        && alnum(&b[0])
        && alnum(&b[b.len() - 1])
        && b.iter().all(|c| alnum(c) || *c == b'-')
}

pub fn is_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_label)
}

fn is_dns1035(name: &str) -> bool {
    is_label(name) && name.as_bytes()[0].is_ascii_lowercase()
}

/// A label value, or the name part of a qualified key.
fn is_label_value(value: &str) -> bool {
    let b = value.as_bytes();
    let alnum = |c: &u8| c.is_ascii_alphanumeric();
    b.is_empty()
        || (b.len() <= 63
            && alnum(&b[0])
            && alnum(&b[b.len() - 1])
            && b.iter()
                .all(|c| alnum(c) || matches!(c, b'-' | b'_' | b'.')))
}

fn is_qualified_name(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_subdomain(prefix) && !name.is_empty() && is_label_value(name),
        None => !key.is_empty() && is_label_value(key),
    }
}

/// Checks an object's name by its kind's rule.
pub fn name(kind: &Kind, name: &str) -> Option<FieldError> {
    let (ok, message) = match kind.names {
        NameRule::Subdomain => (is_subdomain(name), SUBDOMAIN_MSG),
        NameRule::Label => (is_label(name), LABEL_MSG),
        NameRule::Dns1035 => (is_dns1035(name), DNS1035_MSG),
    };
    (!ok).then(|| FieldError::invalid("metadata.name", &Value::String(name.to_owned()), message))
}

fn labels(field: &str, labels: Option<&Value>, errors: &mut Vec<FieldError>) {
    let Some(labels) = labels.and_then(Value::as_object) else {
        return;
    };
    for (key, value) in labels {
        if !is_qualified_name(key) {
            errors.push(FieldError::invalid(
                field,
                &Value::String(key.clone()),
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            ));
        }
        match value.as_str() {
            Some(v) if is_label_value(v) => {}
            _ => errors.push(FieldError::invalid(field, value, LABEL_VALUE_MSG)),
        }
    }
}

fn deployment(object: &Value, errors: &mut Vec<FieldError>) {
    let spec = object.get("spec");
    let Some(spec) = spec.filter(|s| s.is_object()) else {
        errors.push(FieldError::required("spec.selector"));
        errors.push(FieldError::required("spec.template.spec.containers"));
        return;
    };
    if let Some(replicas) = spec.get("replicas").and_then(Value::as_i64) {
        if replicas < 0 {
            errors.push(FieldError::invalid(
                "spec.replicas",
                &Value::from(replicas),
                "must be greater than or equal to 0",
            ));
        }
    }
    let template_labels = spec.pointer("/template/metadata/labels");
    labels("spec.template.labels", template_labels, errors);
    match spec
        .pointer("/selector/matchLabels")
        .and_then(Value::as_object)
    {
        None => errors.push(FieldError::required("spec.selector")),
        Some(match_labels) => {
            let wanted = match_labels
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            let template = serde_json::json!({"metadata": {"labels": template_labels}});
            if !LabelSelector::from_labels(&wanted).matches(&template) {
                errors.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    template_labels.unwrap_or(&Value::Null),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    let containers = spec
        .pointer("/template/spec/containers")
        .and_then(Value::as_array);
    match containers {
        None => errors.push(FieldError::required("spec.template.spec.containers")),
        Some(list) if list.is_empty() => {
            errors.push(FieldError::required("spec.template.spec.containers"))
        }
        Some(list) => {
            for (i, container) in list.iter().enumerate() {
                let field = format!("spec.template.spec.containers[{i}]");
                match container.get("name").and_then(Value::as_str) {
                    None | Some("") => errors.push(FieldError::required(format!("{field}.name"))),
                    Some(n) if !is_label(n) => errors.push(FieldError::invalid(
                        format!("{field}.name"),
                        &Value::String(n.to_owned()),
                        LABEL_MSG,
                    )),
                    Some(_) => {}
                }
                if container
                    .get("image")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    errors.push(FieldError::required(format!("{field}.image")));
                }
            }
        }
    }
}

fn service(object: &Value, errors: &mut Vec<FieldError>) {
    match object.pointer("/spec/ports").and_then(Value::as_array) {
        Some(ports) if !ports.is_empty() => {
            for (i, port) in ports.iter().enumerate() {
                let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
                if !(1..=65535).contains(&number) {
                    errors.push(FieldError::invalid(
                        format!("spec.ports[{i}].port"),
                        &Value::from(number),
                        "must be between 1 and 65535, inclusive",
                    ));
                }
            }
        }
        _ => errors.push(FieldError::required("spec.ports")),
    }
}

fn secret(object: &Value, errors: &mut Vec<FieldError>) {
    use base64::Engine;
    for (key, value) in object
        .get("data")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let key_ok = !key.is_empty()
            && key.len() <= 253
            && key
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
        if !key_ok {
            errors.push(FieldError::invalid(
                format!("data[{key}]"),
                &Value::String(key.clone()),
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            ));
        }
        let decodes = value
            .as_str()
            .is_some_and(|v| base64::engine::general_purpose::STANDARD.decode(v).is_ok());
        if !decodes {
            errors.push(FieldError::invalid(
                format!("data[{key}]"),
                value,
                "illegal base64 data",
            ));
        }
    }
}

fn function(object: &Value, errors: &mut Vec<FieldError>) {
    for field in ["name", "image"] {
        if object
            .pointer(&format!("/spec/{field}"))
            .and_then(Value::as_str)
            .is_none()
        {
            errors.push(FieldError::required(format!("spec.{field}")));
        }
    }
}

/// Everything wrong with an object about to be stored.
pub fn object(kind: &Kind, object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() {
        errors.push(FieldError::required("metadata.name"));
    } else if let Some(err) = self::name(kind, name) {
        errors.push(err);
    }
    labels(
        "metadata.labels",
        object.pointer("/metadata/labels"),
        &mut errors,
    );
    if std::ptr::eq(kind, &kinds::DEPLOYMENTS) {
        deployment(object, &mut errors);
    } else if std::ptr::eq(kind, &kinds::SERVICES) {
        service(object, &mut errors);
    } else if std::ptr::eq(kind, &kinds::SECRETS) {
        secret(object, &mut errors);
    } else if std::ptr::eq(kind, &kinds::FUNCTIONS) {
        function(object, &mut errors);
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_their_kinds_rules() {
        assert!(name(&kinds::DEPLOYMENTS, "1abc").is_none());
        assert!(name(&kinds::SERVICES, "1abc").is_some());
        assert!(name(&kinds::NAMESPACES, "a.b").is_some());
        assert!(name(&kinds::SECRETS, "a.b").is_none());
        assert!(name(&kinds::DEPLOYMENTS, "Hello").is_some());
    }

    #[test]
    fn a_deployment_must_select_its_own_pods() {
        let d = json!({
            "metadata": {"name": "x"},
            "spec": {
                "selector": {"matchLabels": {"app": "x"}},
                "template": {"metadata": {"labels": {"app": "y"}},
                             "spec": {"containers": [{"name": "x"}]}}
            }
        });
        let errors = object(&kinds::DEPLOYMENTS, &d);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "spec.template.metadata.labels",
                "spec.template.spec.containers[0].image"
            ]
        );
    }

    #[test]
    fn label_values_are_checked() {
        let s = json!({"metadata": {"name": "x", "labels": {"team": "has spaces"}},
                       "spec": {"ports": [{"port": 8080}]}});
        assert_eq!(object(&kinds::SERVICES, &s).len(), 1);
    }
}
