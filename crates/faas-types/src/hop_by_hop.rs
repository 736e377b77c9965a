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

/// Removes the hop-by-hop headers and those the `Connection` header lists. Usually there are
/// none: then it is one pass over the names, with no lookups or allocation.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if !headers.keys().any(|name| is_hop_by_hop(name.as_str())) {
        return;
    }
    let mut doomed: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
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
    fn names_in_any_case() {
        assert!(is_hop_by_hop("Keep-Alive"));
        assert!(is_hop_by_hop("Proxy-Anything"));
        assert!(!is_hop_by_hop("proxy"));
        assert!(!is_hop_by_hop("x-call-id"));
    }
}
