//! The body of `/system/secrets` (Go: `types.Secret`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::namespace::DEFAULT_NAMESPACE;
use crate::nullable;

/// A secret. `GET /system/secrets` answers with names (and namespaces) only;
/// `DELETE` sends just the name.
///
/// `Debug` does not print the value.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    /// The secret's name.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub name: String,
    /// Namespace; `None` means [`DEFAULT_NAMESPACE`].
    #[serde(
        default,
        deserialize_with = "nullable::empty_as_none",
        skip_serializing_if = "nullable::is_none_or_empty"
    )]
    pub namespace: Option<String>,
    /// The value as text.
    #[serde(
        default,
        deserialize_with = "nullable::empty_as_none",
        skip_serializing_if = "nullable::is_none_or_empty"
    )]
    pub value: Option<String>,
    /// The value as bytes, base64 in JSON like Go's `[]byte`; wins over `value`.
    #[serde(
        default,
        with = "base64_bytes",
        skip_serializing_if = "nullable::is_none_or_empty_vec"
    )]
    pub raw_value: Option<Vec<u8>>,
}

impl Secret {
    /// The secret's bytes: `rawValue` when it is not empty, else `value`'s (as OpenFaaS
    /// providers choose).
    pub fn bytes(&self) -> Vec<u8> {
        match &self.raw_value {
            Some(raw) if !raw.is_empty() => raw.clone(),
            _ => self
                .value
                .as_deref()
                .unwrap_or_default()
                .as_bytes()
                .to_vec(),
        }
    }

    /// The size of [`Secret::bytes`] without copying them.
    pub fn len(&self) -> usize {
        match &self.raw_value {
            Some(raw) if !raw.is_empty() => raw.len(),
            _ => self.value.as_deref().map_or(0, str::len),
        }
    }

    /// True when the secret carries no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The namespace, or [`DEFAULT_NAMESPACE`] when none was given.
    pub fn namespace_or_default(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("value", &self.value.as_ref().map(|_| "<redacted>"))
            .field(
                "raw_value",
                &self
                    .raw_value
                    .as_ref()
                    .map(|raw| format!("<{} bytes redacted>", raw.len())),
            )
            .finish()
    }
}

/// `Option<Vec<u8>>` as a base64 string (standard alphabet), `null` as `None`.
mod base64_bytes {
    use base64::alphabet::STANDARD;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes with padding, as Go does; reads with or without it.
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );

    pub(super) fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_str(&ENGINE.encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(None),
            Some(text) => {
                // Go's decoder skips line breaks inside the text.
                let text: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
                ENGINE.decode(text.as_bytes()).map(Some).map_err(|e| {
                    serde::de::Error::custom(format_args!("rawValue is not base64: {e}"))
                })
            }
        }
    }
}
