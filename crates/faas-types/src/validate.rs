//! Rules a request must pass before anything acts on it: names, sizes and limits.
//!
//! Function names and namespaces are DNS-1123 labels and secret names DNS-1123
//! subdomains, as on Kubernetes (and so on every OpenFaaS provider). Names end up in
//! paths, container names and DNS, so these rules also shut out path traversal.
//! Free-form metadata (labels, annotations, environment) is only checked for sanity
//! and size; [`validate_label_key`] offers Kubernetes' stricter rule to providers that
//! need it.

use std::collections::BTreeMap;

use crate::function::{DeleteFunctionRequest, FunctionDeployment, FunctionResources};
use crate::logs::LogRequest;
use crate::namespace::NamespaceRequest;
use crate::scale::ScaleServiceRequest;
use crate::secret::Secret;

/// Longest function name or namespace (a DNS label).
pub const MAX_NAME_LEN: usize = 63;
/// Longest secret name (a DNS subdomain).
pub const MAX_SECRET_NAME_LEN: usize = 253;
/// Longest image reference.
pub const MAX_IMAGE_LEN: usize = 512;
/// Most entries in any one collection of a request: environment variables, labels,
/// annotations, constraints, secrets, resources.
pub const MAX_ENTRIES: usize = 1024;
/// Longest label or annotation key: a 253-character prefix, `/`, a 63-character name.
pub const MAX_KEY_LEN: usize = 317;
/// Most bytes in all of a function's keys and values together (`envProcess`,
/// environment, labels, annotations, constraints, secret names): 1 MiB.
pub const MAX_METADATA_BYTES: usize = 1 << 20;
/// Largest secret value: 1 MiB, Kubernetes' limit.
pub const MAX_SECRET_BYTES: usize = 1 << 20;
/// Longest resource quantity, e.g. `128Mi`.
pub const MAX_QUANTITY_LEN: usize = 64;

const DNS_LABEL_RULE: &str = "must be a DNS-1123 label (lowercase letters, digits and '-', \
     start and end with a letter or digit, at most 63 characters)";

/// What is wrong with a request. The message says exactly what, for a 400 answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A function name breaks the DNS-1123 label rule.
    #[error("invalid function name {0:?}: {DNS_LABEL_RULE}")]
    FunctionName(String),
    /// A namespace breaks the DNS-1123 label rule.
    #[error("invalid namespace {0:?}: {DNS_LABEL_RULE}")]
    Namespace(String),
    /// A secret name breaks the DNS-1123 subdomain rule.
    #[error(
        "invalid secret name {0:?}: must be a DNS-1123 subdomain (lowercase letters, digits, \
         '-' and '.', each dot-separated part starting and ending with a letter or digit, \
         at most 253 characters)"
    )]
    SecretName(String),
    /// A label key breaks Kubernetes' qualified-name rule.
    #[error(
        "invalid label key {0:?}: must be a name of at most 63 letters, digits, '-', '_' or '.' \
         starting and ending with a letter or digit, optionally after a DNS-1123 subdomain \
         prefix and '/'"
    )]
    LabelKey(String),
    /// The image is empty.
    #[error("image must not be empty")]
    EmptyImage,
    /// The image is too long.
    #[error("image is {len} bytes long, at most {MAX_IMAGE_LEN} are allowed")]
    ImageTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The image has whitespace or control characters.
    #[error("invalid image {0:?}: must not contain whitespace or control characters")]
    Image(String),
    /// `envProcess` contains NUL.
    #[error("envProcess must not contain a NUL character")]
    EnvProcess,
    /// A key of a map (environment variable, label, annotation, resource) is bad.
    #[error("invalid {kind} name {key:?}: {reason}")]
    Key {
        /// What the key names, e.g. `environment variable`, `label`.
        kind: &'static str,
        /// The key.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A value of a map is bad.
    #[error("invalid value for {kind} {key:?}: {reason}")]
    Value {
        /// What the key names, e.g. `environment variable`, `limits`.
        kind: &'static str,
        /// The key whose value is bad.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A constraint contains a control character.
    #[error("invalid constraint {0:?}: must not contain control characters")]
    Constraint(String),
    /// A collection has too many entries.
    #[error("too many {kind}: {count}, at most {max} are allowed")]
    TooMany {
        /// What is counted, e.g. `labels`.
        kind: &'static str,
        /// How many were sent.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// All metadata together is too large.
    #[error(
        "function metadata (envProcess, environment, labels, annotations, constraints, secrets) \
         is {size} bytes, at most {MAX_METADATA_BYTES} are allowed"
    )]
    MetadataTooLarge {
        /// The size in bytes.
        size: usize,
    },
    /// A secret value is too large.
    #[error("secret value is {size} bytes, at most {MAX_SECRET_BYTES} are allowed")]
    SecretTooLarge {
        /// The size in bytes.
        size: usize,
    },
    /// Too many replicas were asked for.
    #[error("replicas {requested} is above the maximum of {max}")]
    TooManyReplicas {
        /// The replicas asked for.
        requested: u64,
        /// The limit.
        max: u64,
    },
}

/// True for a DNS-1123 label: 1 to 63 of `a-z`, `0-9`, `-`, starting and ending with a
/// letter or digit.
pub fn is_dns1123_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    matches!((bytes.first(), bytes.last()), (Some(first), Some(last)) if alnum(first) && alnum(last))
        && bytes.len() <= MAX_NAME_LEN
        && bytes.iter().all(|b| alnum(b) || *b == b'-')
}

/// True for a DNS-1123 subdomain: DNS-1123 labels joined by `.`, at most 253 characters.
/// This excludes `.`, `..`, `/` and so any path traversal.
pub fn is_dns1123_subdomain(name: &str) -> bool {
    name.len() <= MAX_SECRET_NAME_LEN && name.split('.').all(is_dns1123_label)
}

/// Checks a function name (a DNS-1123 label).
pub fn validate_function_name(name: &str) -> Result<(), ValidationError> {
    if is_dns1123_label(name) {
        Ok(())
    } else {
        Err(ValidationError::FunctionName(name.to_owned()))
    }
}

/// Checks a namespace (a DNS-1123 label).
pub fn validate_namespace(namespace: &str) -> Result<(), ValidationError> {
    if is_dns1123_label(namespace) {
        Ok(())
    } else {
        Err(ValidationError::Namespace(namespace.to_owned()))
    }
}

/// Checks a secret name (a DNS-1123 subdomain, so also safe as a file name).
pub fn validate_secret_name(name: &str) -> Result<(), ValidationError> {
    if is_dns1123_subdomain(name) {
        Ok(())
    } else {
        Err(ValidationError::SecretName(name.to_owned()))
    }
}

/// Checks a label key by Kubernetes' rule: `[prefix/]name`, the prefix a DNS-1123
/// subdomain, the name 1 to 63 of letters, digits, `-`, `_`, `.` starting and ending with
/// a letter or digit. OpenFaaS's own keys (`com.openfaas.scale.min`) pass.
/// [`FunctionDeployment::validate`] does not require this; providers that hand labels to
/// Kubernetes can.
pub fn validate_label_key(key: &str) -> Result<(), ValidationError> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let bytes = name.as_bytes();
    let name_ok = matches!((bytes.first(), bytes.last()),
            (Some(first), Some(last)) if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric())
        && bytes.len() <= MAX_NAME_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if name_ok && prefix.is_none_or(is_dns1123_subdomain) {
        Ok(())
    } else {
        Err(ValidationError::LabelKey(key.to_owned()))
    }
}

/// Checks an image reference: not empty, at most [`MAX_IMAGE_LEN`] bytes, no whitespace or
/// control characters. Its syntax is left to the registry.
pub fn validate_image(image: &str) -> Result<(), ValidationError> {
    if image.is_empty() {
        return Err(ValidationError::EmptyImage);
    }
    if image.len() > MAX_IMAGE_LEN {
        return Err(ValidationError::ImageTooLong { len: image.len() });
    }
    if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::Image(image.to_owned()));
    }
    Ok(())
}

/// Checks one environment variable: a name that is not empty and has no `=` or NUL, a value
/// without NUL.
pub fn validate_env_var(name: &str, value: &str) -> Result<(), ValidationError> {
    const KIND: &str = "environment variable";
    let reason = if name.is_empty() {
        Some("must not be empty")
    } else if name.contains('=') {
        Some("must not contain '='")
    } else if name.contains('\0') {
        Some("must not contain a NUL character")
    } else {
        None
    };
    if let Some(reason) = reason {
        return Err(ValidationError::Key {
            kind: KIND,
            key: name.to_owned(),
            reason,
        });
    }
    if value.contains('\0') {
        return Err(ValidationError::Value {
            kind: KIND,
            key: name.to_owned(),
            reason: "must not contain a NUL character",
        });
    }
    Ok(())
}

/// Checks a label or annotation entry for sanity: a key that is not empty, at most
/// [`MAX_KEY_LEN`] bytes, with no whitespace or control characters; a value without NUL.
fn validate_metadata_entry(
    kind: &'static str,
    key: &str,
    value: &str,
) -> Result<(), ValidationError> {
    let reason = if key.is_empty() {
        Some("must not be empty")
    } else if key.len() > MAX_KEY_LEN {
        Some("must be at most 317 bytes long")
    } else if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("must not contain whitespace or control characters")
    } else {
        None
    };
    if let Some(reason) = reason {
        return Err(ValidationError::Key {
            kind,
            key: key.to_owned(),
            reason,
        });
    }
    if value.contains('\0') {
        return Err(ValidationError::Value {
            kind,
            key: key.to_owned(),
            reason: "must not contain a NUL character",
        });
    }
    Ok(())
}

fn validate_count(kind: &'static str, count: usize) -> Result<(), ValidationError> {
    if count > MAX_ENTRIES {
        Err(ValidationError::TooMany {
            kind,
            count,
            max: MAX_ENTRIES,
        })
    } else {
        Ok(())
    }
}

fn validate_metadata_map(
    kind: &'static str,
    plural: &'static str,
    map: Option<&BTreeMap<String, String>>,
) -> Result<(), ValidationError> {
    let Some(map) = map else { return Ok(()) };
    validate_count(plural, map.len())?;
    map.iter()
        .try_for_each(|(key, value)| validate_metadata_entry(kind, key, value))
}

fn validate_resources(
    kind: &'static str,
    resources: Option<&FunctionResources>,
) -> Result<(), ValidationError> {
    let Some(resources) = resources else {
        return Ok(());
    };
    validate_count("resources", resources.other.len())?;
    let fixed = [("memory", &resources.memory), ("cpu", &resources.cpu)];
    let fixed = fixed
        .into_iter()
        .filter_map(|(key, value)| value.as_deref().map(|v| (key, v)));
    let other = resources
        .other
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()));
    for (key, value) in fixed.chain(other) {
        if key.is_empty()
            || key.len() > MAX_KEY_LEN
            || key.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ValidationError::Key {
                kind,
                key: key.to_owned(),
                reason: "must be 1 to 317 bytes without whitespace or control characters",
            });
        }
        if value.len() > MAX_QUANTITY_LEN
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ValidationError::Value {
                kind,
                key: key.to_owned(),
                reason: "must be at most 64 bytes without whitespace or control characters",
            });
        }
    }
    Ok(())
}

fn map_bytes(map: Option<&BTreeMap<String, String>>) -> usize {
    map.map_or(0, |m| m.iter().map(|(k, v)| k.len() + v.len()).sum())
}

fn list_bytes(list: Option<&Vec<String>>) -> usize {
    list.map_or(0, |l| l.iter().map(String::len).sum())
}

impl FunctionDeployment {
    /// Checks the whole deployment: the name, the namespace if given, the image, every
    /// secret name, environment variable, label, annotation, constraint and resource, the
    /// entry counts ([`MAX_ENTRIES`]) and the total size ([`MAX_METADATA_BYTES`]).
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_function_name(&self.service)?;
        if let Some(namespace) = &self.namespace {
            validate_namespace(namespace)?;
        }
        validate_image(&self.image)?;

        let size = self.env_process.as_deref().map_or(0, str::len)
            + map_bytes(self.env_vars.as_ref())
            + map_bytes(self.labels.as_ref())
            + map_bytes(self.annotations.as_ref())
            + list_bytes(self.constraints.as_ref())
            + list_bytes(self.secrets.as_ref());
        if size > MAX_METADATA_BYTES {
            return Err(ValidationError::MetadataTooLarge { size });
        }

        if self
            .env_process
            .as_deref()
            .is_some_and(|p| p.contains('\0'))
        {
            return Err(ValidationError::EnvProcess);
        }
        if let Some(env_vars) = &self.env_vars {
            validate_count("environment variables", env_vars.len())?;
            env_vars
                .iter()
                .try_for_each(|(name, value)| validate_env_var(name, value))?;
        }
        if let Some(secrets) = &self.secrets {
            validate_count("secrets", secrets.len())?;
            secrets.iter().try_for_each(|s| validate_secret_name(s))?;
        }
        if let Some(constraints) = &self.constraints {
            validate_count("constraints", constraints.len())?;
            if let Some(bad) = constraints.iter().find(|c| c.chars().any(char::is_control)) {
                return Err(ValidationError::Constraint(bad.clone()));
            }
        }
        validate_metadata_map("label", "labels", self.labels.as_ref())?;
        validate_metadata_map("annotation", "annotations", self.annotations.as_ref())?;
        validate_resources("limits", self.limits.as_ref())?;
        validate_resources("requests", self.requests.as_ref())?;
        Ok(())
    }
}

impl Secret {
    /// Checks the name, the namespace if given, and the value's size
    /// ([`MAX_SECRET_BYTES`]). An empty value is allowed (deletes send only a name).
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_secret_name(&self.name)?;
        if let Some(namespace) = &self.namespace {
            validate_namespace(namespace)?;
        }
        // Both fields are kept, so both count against the limit.
        let size = self.value.as_deref().map_or(0, str::len)
            + self.raw_value.as_deref().map_or(0, <[u8]>::len);
        if size > MAX_SECRET_BYTES {
            return Err(ValidationError::SecretTooLarge { size });
        }
        Ok(())
    }
}

impl ScaleServiceRequest {
    /// Checks the function name, the namespace if given, and that `replicas` is at most
    /// `max_replicas`.
    pub fn validate(&self, max_replicas: u64) -> Result<(), ValidationError> {
        validate_function_name(&self.service_name)?;
        if let Some(namespace) = &self.namespace {
            validate_namespace(namespace)?;
        }
        if self.replicas > max_replicas {
            return Err(ValidationError::TooManyReplicas {
                requested: self.replicas,
                max: max_replicas,
            });
        }
        Ok(())
    }
}

impl DeleteFunctionRequest {
    /// Checks the function name and the namespace if given.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_function_name(&self.function_name)?;
        if let Some(namespace) = &self.namespace {
            validate_namespace(namespace)?;
        }
        Ok(())
    }
}

impl NamespaceRequest {
    /// Checks the name and the labels and annotations.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_namespace(&self.name)?;
        validate_metadata_map("label", "labels", self.labels.as_ref())?;
        validate_metadata_map("annotation", "annotations", self.annotations.as_ref())?;
        Ok(())
    }
}

impl LogRequest {
    /// Checks the function name and the namespace if given.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_function_name(&self.name)?;
        if let Some(namespace) = &self.namespace {
            validate_namespace(namespace)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_label_edges() {
        assert!(is_dns1123_label("a"));
        assert!(is_dns1123_label(&"a".repeat(63)));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(!is_dns1123_label(""));
        assert!(!is_dns1123_label("-a"));
        assert!(!is_dns1123_label("a-"));
    }

    #[test]
    fn subdomain_edges() {
        assert!(is_dns1123_subdomain("a.b-c.d"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(!is_dns1123_subdomain(".a"));
        assert!(!is_dns1123_subdomain(&format!("{}.b", "a".repeat(253))));
    }
}
