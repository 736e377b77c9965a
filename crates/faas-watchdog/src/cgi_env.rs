//! Request metadata passed to a forked process as environment variables, named as OpenFaaS's
//! watchdogs name them: `Http_<Header_Name>`, `Http_Method`, `Http_Path`, `Http_Query`,
//! `Http_Host`, `Http_Content_Length`, `Http_ContentLength`, `Http_Transfer_Encoding`.

use http::request::Parts;

/// The `Http_*` variables for one request.
pub fn request_env(parts: &Parts) -> Vec<(String, String)> {
    let mut vars = Vec::with_capacity(parts.headers.keys_len() + 6);
    let mut seen = std::collections::HashSet::new();
    for (name, value) in &parts.headers {
        // Go moves Host and Transfer-Encoding out of the header map; they get their own
        // variables below. Only each header's first value is passed, as in Go.
        if name == http::header::HOST
            || name == http::header::TRANSFER_ENCODING
            || name == http::header::CONTENT_LENGTH
        {
            continue;
        }
        if !seen.insert(name.as_str()) {
            continue;
        }
        let Ok(value) = value.to_str() else { continue };
        if value.contains('\0') {
            continue;
        }
        vars.push((
            format!("Http_{}", canonical_env_name(name.as_str())),
            value.to_string(),
        ));
    }
    vars.push(("Http_Method".into(), parts.method.as_str().to_string()));
    let content_length = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        // Go's ContentLength is an int64: a length beyond it is reported as unknown (-1),
        // as a function written against OpenFaaS's watchdog could not read it otherwise.
        .map(|n| i64::try_from(n).map_or_else(|_| "-1".to_string(), |n| n.to_string()))
        .unwrap_or_else(|| {
            if parts.headers.contains_key(http::header::TRANSFER_ENCODING) {
                "-1".to_string()
            } else {
                "0".to_string()
            }
        });
    vars.push(("Http_ContentLength".into(), content_length.clone()));
    vars.push(("Http_Content_Length".into(), content_length));
    if let Some(te) = parts
        .headers
        .get(http::header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
    {
        vars.push(("Http_Transfer_Encoding".into(), te.to_string()));
    }
    if let Some(query) = parts.uri.query().filter(|q| !q.is_empty()) {
        vars.push(("Http_Query".into(), query.to_string()));
    }
    vars.push(("Http_Path".into(), parts.uri.path().to_string()));
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()));
    if let Some(host) = host.filter(|h| !h.is_empty()) {
        vars.push(("Http_Host".into(), host));
    }
    vars
}

/// `x-custom-header` becomes `X_Custom_Header`: Go's canonical header form with dashes as
/// underscores.
pub fn canonical_env_name(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    let mut upper = true;
    for c in header.chars() {
        if c == '-' {
            out.push('_');
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_as_openfaas() {
        let (parts, _) = http::Request::post("http://fn.local/a/b?x=1&y=2")
            .header("Content-Type", "text/plain")
            .header("x-custom-header", "one")
            .header("x-custom-header", "two")
            .header("content-length", "5")
            .body(())
            .unwrap()
            .into_parts();
        let vars = request_env(&parts);
        let get = |k: &str| {
            vars.iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("Http_Content_Type"), Some("text/plain"));
        assert_eq!(get("Http_X_Custom_Header"), Some("one"));
        assert_eq!(get("Http_Method"), Some("POST"));
        assert_eq!(get("Http_Path"), Some("/a/b"));
        assert_eq!(get("Http_Query"), Some("x=1&y=2"));
        assert_eq!(get("Http_Host"), Some("fn.local"));
        assert_eq!(get("Http_Content_Length"), Some("5"));
        assert_eq!(get("Http_ContentLength"), Some("5"));
    }

    #[test]
    fn a_content_length_beyond_int64_is_unknown() {
        // Found by the watchdog_env fuzz target (fuzz/regressions/watchdog_env/).
        let (parts, _) = http::Request::post("/")
            .header("content-length", "0000000009951008448976298895")
            .body(())
            .unwrap()
            .into_parts();
        let vars = request_env(&parts);
        let get = |k: &str| {
            vars.iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("Http_Content_Length"), Some("-1"));
        assert_eq!(get("Http_ContentLength"), Some("-1"));
    }

    #[test]
    fn no_query_variable_when_empty() {
        let (parts, _) = http::Request::get("/").body(()).unwrap().into_parts();
        assert!(request_env(&parts).iter().all(|(k, _)| k != "Http_Query"));
    }
}
