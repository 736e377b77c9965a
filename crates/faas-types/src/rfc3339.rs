//! Timestamps as Go's `encoding/json` writes `time.Time`: RFC 3339 with as many
//! fractional digits as needed (none for whole seconds), `Z` for UTC.
//!
//! Use with `#[serde(with = "faas_types::rfc3339")]` on a `DateTime<Utc>`, or
//! `#[serde(with = "faas_types::rfc3339::option")]` on an `Option<DateTime<Utc>>`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Formats a time like Go's `time.RFC3339Nano` in UTC, e.g. `2024-03-01T10:20:30.5Z`.
pub fn format(time: &DateTime<Utc>) -> String {
    let text = time.to_rfc3339_opts(SecondsFormat::Nanos, true);
    // "...:30.500000000Z" -> "...:30.5Z"; "...:30.000000000Z" -> "...:30Z".
    match text.strip_suffix('Z').and_then(|t| t.rsplit_once('.')) {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                format!("{whole}Z")
            } else {
                format!("{whole}.{fraction}Z")
            }
        }
        None => text,
    }
}

/// Parses an RFC 3339 time with any offset, e.g. `2006-01-02T15:04:05+07:00`.
pub fn parse(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc))
}

/// Serde `serialize_with` for `DateTime<Utc>`.
pub fn serialize<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(time))
}

/// Serde `deserialize_with` for `DateTime<Utc>`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text)
        .map_err(|e| serde::de::Error::custom(format_args!("invalid RFC 3339 time {text:?}: {e}")))
}

/// The same for `Option<DateTime<Utc>>`, where `null` is `None`.
pub mod option {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serde `serialize_with` for `Option<DateTime<Utc>>`.
    pub fn serialize<S: Serializer>(
        time: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => super::serialize(time, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Serde `deserialize_with` for `Option<DateTime<Utc>>`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(None),
            Some(text) => super::parse(&text).map(Some).map_err(|e| {
                serde::de::Error::custom(format_args!("invalid RFC 3339 time {text:?}: {e}"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_like_go() {
        let whole = Utc.with_ymd_and_hms(2024, 3, 1, 10, 20, 30).unwrap();
        assert_eq!(format(&whole), "2024-03-01T10:20:30Z");
        let half = whole + chrono::Duration::milliseconds(500);
        assert_eq!(format(&half), "2024-03-01T10:20:30.5Z");
        let nanos = whole + chrono::Duration::nanoseconds(123_456_789);
        assert_eq!(format(&nanos), "2024-03-01T10:20:30.123456789Z");
    }

    #[test]
    fn parses_offsets_into_utc() {
        let t = parse("2024-03-01T12:20:30+02:00").unwrap();
        assert_eq!(format(&t), "2024-03-01T10:20:30Z");
        assert!(parse("yesterday").is_err());
    }
}
