//! `/system/logs`: the query a client sends and the NDJSON lines it gets back
//! (Go: `logs.Request`, `logs.Message`).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::namespace::DEFAULT_NAMESPACE;
use crate::{nullable, rfc3339};

/// What logs to read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LogRequest {
    /// The function.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub name: String,
    /// Its namespace; `None` means [`DEFAULT_NAMESPACE`].
    #[serde(
        default,
        deserialize_with = "nullable::empty_as_none",
        skip_serializing_if = "nullable::is_none_or_empty"
    )]
    pub namespace: Option<String>,
    /// Only this replica.
    #[serde(
        default,
        deserialize_with = "nullable::empty_as_none",
        skip_serializing_if = "nullable::is_none_or_empty"
    )]
    pub instance: Option<String>,
    /// Only lines written at or after this time.
    #[serde(
        default,
        with = "crate::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub since: Option<DateTime<Utc>>,
    /// Only the last `tail` lines; zero or less means all.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub tail: i64,
    /// Keep the stream open for new lines.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub follow: bool,
}

/// A query string parameter of `/system/logs` that is missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogQueryError {
    /// A required parameter is absent or empty.
    #[error("missing query parameter {0:?}")]
    Missing(&'static str),
    /// A parameter's value cannot be read.
    #[error("invalid value {value:?} for query parameter {parameter:?}: {expected}")]
    Invalid {
        /// The parameter, e.g. `since`.
        parameter: &'static str,
        /// The value as sent (decoded).
        value: String,
        /// What the value should look like.
        expected: &'static str,
    },
    /// A parameter's value is not valid percent-encoded UTF-8.
    #[error("query parameter {parameter:?} is not valid percent-encoded UTF-8")]
    Encoding {
        /// The parameter, e.g. `name`.
        parameter: &'static str,
    },
}

/// The parameters [`LogRequest::from_query`] reads.
const PARAMETERS: [&str; 6] = ["name", "namespace", "instance", "since", "tail", "follow"];

impl LogRequest {
    /// Reads a request from a URL query string such as
    /// `name=figlet&namespace=openfaas-fn&tail=10&follow=true&since=2024-03-01T10:20:30Z`
    /// (a leading `?` is allowed).
    ///
    /// As OpenFaaS does: when a parameter repeats, the last one counts; empty values count as
    /// absent; unknown parameters are ignored. `name` is required. `since` is RFC 3339
    /// (a `+` offset sent unencoded, which decodes to a space, is accepted too); `tail` is an
    /// integer; `follow` is a Go boolean (`true`, `false`, `1`, `0`, `t`, `f`, ...).
    pub fn from_query(query: &str) -> Result<Self, LogQueryError> {
        let query = query.strip_prefix('?').unwrap_or(query);
        let mut values: [Option<&str>; PARAMETERS.len()] = [None; PARAMETERS.len()];
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            // A key that cannot be decoded is not one of ours; Go drops such pairs too.
            let Some(key) = percent_decode(key) else {
                continue;
            };
            if let Some(slot) = PARAMETERS.iter().position(|p| *p == key) {
                values[slot] = Some(value);
            }
        }

        let mut decoded: [Option<String>; PARAMETERS.len()] = Default::default();
        for (slot, raw) in values.iter().enumerate() {
            if let Some(raw) = raw {
                let parameter = PARAMETERS[slot];
                let value = percent_decode(raw).ok_or(LogQueryError::Encoding { parameter })?;
                decoded[slot] = Some(value).filter(|v| !v.is_empty());
            }
        }
        let [name, namespace, instance, since, tail, follow] = decoded;

        let since = since.map(|text| parse_since(&text)).transpose()?;
        let tail = match tail {
            Some(text) => text.parse::<i64>().map_err(|_| LogQueryError::Invalid {
                parameter: "tail",
                value: text,
                expected: "must be an integer (0 or less means all lines)",
            })?,
            None => 0,
        };
        let follow = match follow {
            Some(text) => parse_go_bool(&text).ok_or(LogQueryError::Invalid {
                parameter: "follow",
                value: text,
                expected: "must be true or false",
            })?,
            None => false,
        };
        Ok(LogRequest {
            name: name.ok_or(LogQueryError::Missing("name"))?,
            namespace,
            instance,
            since,
            tail,
            follow,
        })
    }

    /// Writes the request as a query string (without `?`) that [`LogRequest::from_query`]
    /// and OpenFaaS read back; empty and default parameters are left out.
    pub fn to_query(&self) -> String {
        let mut query = String::new();
        let mut push = |key: &str, value: &str| {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(key);
            query.push('=');
            percent_encode_into(&mut query, value);
        };
        push("name", &self.name);
        if let Some(namespace) = self.namespace.as_deref().filter(|n| !n.is_empty()) {
            push("namespace", namespace);
        }
        if let Some(instance) = self.instance.as_deref().filter(|i| !i.is_empty()) {
            push("instance", instance);
        }
        if let Some(since) = &self.since {
            push("since", &rfc3339::format(since));
        }
        if self.tail != 0 {
            push("tail", &self.tail.to_string());
        }
        if self.follow {
            push("follow", "true");
        }
        query
    }

    /// The namespace, or [`DEFAULT_NAMESPACE`] when none was given.
    pub fn namespace_or_default(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }

    /// The number of last lines wanted, or `None` for all of them.
    pub fn tail_lines(&self) -> Option<u64> {
        u64::try_from(self.tail).ok().filter(|n| *n > 0)
    }
}

/// One line of the NDJSON stream `/system/logs` answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogMessage {
    /// The function.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub name: String,
    /// Its namespace.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub namespace: String,
    /// The replica that wrote the line.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub instance: String,
    /// When the line was written.
    #[serde(with = "crate::rfc3339")]
    pub timestamp: DateTime<Utc>,
    /// The line, without its line break.
    #[serde(default, deserialize_with = "nullable::default_on_null")]
    pub text: String,
}

fn parse_since(text: &str) -> Result<DateTime<Utc>, LogQueryError> {
    rfc3339::parse(text)
        .or_else(|e| {
            // `+07:00` sent unencoded arrives as ` 07:00`.
            if text.contains(' ') {
                rfc3339::parse(&text.replace(' ', "+"))
            } else {
                Err(e)
            }
        })
        .map_err(|_| LogQueryError::Invalid {
            parameter: "since",
            value: text.to_owned(),
            expected: "must be an RFC 3339 time such as 2006-01-02T15:04:05Z",
        })
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Decodes `+` as a space and `%XX` as a byte; `None` when a `%` escape is broken or the
/// bytes are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let high = hex_value(*bytes.get(i + 1)?)?;
                let low = hex_value(*bytes.get(i + 2)?)?;
                out.push(high << 4 | low);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode_into(out: &mut String, text: &str) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a+b%20c%2Bd").as_deref(), Some("a b c+d"));
        assert_eq!(percent_decode("%e2%9c%93").as_deref(), Some("\u{2713}"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn percent_encoding_round_trips() {
        let mut out = String::new();
        percent_encode_into(&mut out, "a b+c/é&=");
        assert_eq!(out, "a%20b%2Bc%2F%C3%A9%26%3D");
        assert_eq!(percent_decode(&out).as_deref(), Some("a b+c/é&="));
    }

    #[test]
    fn go_booleans() {
        assert_eq!(parse_go_bool("True"), Some(true));
        assert_eq!(parse_go_bool("0"), Some(false));
        assert_eq!(parse_go_bool("yes"), None);
    }
}
