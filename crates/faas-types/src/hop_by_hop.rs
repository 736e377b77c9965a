//! Headers that belong to one connection, not to the call (RFC 9110 section 7.6.1): every hop
//! (gateway, watchdog, queue worker) drops them before passing a call or its answer on.

use http::header::{HeaderMap, HeaderName, CONNECTION};

/// The fixed hop-by-hop names (lower case), plus anything starting with `proxy-`.
pub const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether `name` (any case) is hop-by-hop by itself (not counting names a `Connection` header
/// lists).
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|hop| name.eq_ignore_ascii_case(hop))
        || name
            .get(..6)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("proxy-"))
}

/// The hop-by-hop rule for one message: the fixed names ([`is_hop_by_hop`]) and the names its
/// `Connection` headers list. The one rule every path uses: the sync proxy
/// ([`strip_hop_by_hop`]), the async route storing a call, the queue worker replaying it and
/// posting its result.
#[derive(Clone, Debug, Default)]
pub struct HopByHop {
    /// Names listed in `Connection`, lower case.
    listed: Vec<String>,
}

impl HopByHop {
    /// The rule for a message with these headers (any case, in order).
    pub fn of<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> HopByHop {
        let listed = headers
            .into_iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, value)| value.split(','))
            .map(|name| name.trim().to_ascii_lowercase())
            .filter(|name| !name.is_empty())
            .collect();
        HopByHop { listed }
    }

    /// The rule for a [`HeaderMap`].
    pub fn of_map(headers: &HeaderMap) -> HopByHop {
        HopByHop::of(
            headers
                .get_all(CONNECTION)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .map(|value| ("connection", value)),
        )
    }

    /// Whether the header `name` (any case) is dropped before passing the message on.
    pub fn drops(&self, name: &str) -> bool {
        is_hop_by_hop(name)
            || self
                .listed
                .iter()
                .any(|listed| name.eq_ignore_ascii_case(listed))
    }
}

/// Removes the hop-by-hop headers and those the `Connection` header lists ([`HopByHop`]).
/// Usually there are none: then it is one pass over the names, with no lookups or allocation.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if !headers.keys().any(|name| is_hop_by_hop(name.as_str())) {
        return;
    }
    let rule = HopByHop::of_map(headers);
    // The listed names, then the fixed ones (the removal order keeps the rest in order).
    let mut doomed: Vec<HeaderName> = rule
        .listed
        .iter()
        .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
        .collect();
    doomed.extend(
        headers
            .keys()
            .filter(|name| is_hop_by_hop(name.as_str()))
            .cloned(),
    );
    for name in doomed {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn strips_fixed_listed_and_proxy_headers_only() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "close, x-listed"),
            ("x-listed", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "x"),
            ("proxy-connection", "keep-alive"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("upgrade", "h2c"),
            ("x-kept", "yes"),
            ("content-type", "text/plain"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        strip_hop_by_hop(&mut headers);
        let left: Vec<&str> = headers.keys().map(|n| n.as_str()).collect();
        assert_eq!(left, vec!["x-kept", "content-type"]);
    }

    #[test]
    fn the_rule_on_pairs_matches_the_rule_on_maps() {
        let pairs = [
            ("Connection", "close, X-Listed"),
            ("x-listed", "1"),
            ("X-Kept", "2"),
            ("Keep-Alive", "timeout=5"),
        ];
        let rule = HopByHop::of(pairs);
        let kept: Vec<&str> = pairs
            .iter()
            .filter(|(name, _)| !rule.drops(name))
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(kept, vec!["X-Kept"]);
    }

    #[test]
    fn names_in_any_case() {
        assert!(is_hop_by_hop("Keep-Alive"));
        assert!(is_hop_by_hop("Proxy-Anything"));
        assert!(!is_hop_by_hop("proxy"));
        assert!(!is_hop_by_hop("x-call-id"));
    }
}
