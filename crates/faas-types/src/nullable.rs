//! Serde helpers for Go's JSON habits: `null` means absent, empty means absent.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// Reads `null` (or a missing field, with `#[serde(default)]`) as the type's default.
pub(crate) fn default_on_null<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads `null` and `""` as `None`: Go cannot tell an empty string from an absent one.
pub(crate) fn empty_as_none<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(Option::<String>::deserialize(deserializer)?.filter(|s| !s.is_empty()))
}

pub(crate) fn is_none_or_empty(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(str::is_empty)
}

pub(crate) fn is_none_or_empty_map(value: &Option<BTreeMap<String, String>>) -> bool {
    value.as_ref().is_none_or(BTreeMap::is_empty)
}

pub(crate) fn is_none_or_empty_vec<T>(value: &Option<Vec<T>>) -> bool {
    value.as_ref().is_none_or(Vec::is_empty)
}

pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

pub(crate) fn is_zero(value: &f64) -> bool {
    *value == 0.0
}
