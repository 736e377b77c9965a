//! The watchdog's request-to-environment mapping ([`faas_watchdog::cgi_env::request_env`]):
//! the `Http_*` variables a forked function sees.
//!
//! The input is a request head in a simple form: `METHOD URI` on the first line, then one
//! `Name: value` header a line. Heads the `http` crate refuses (as hyper would) are skipped.
//! Every variable must be one the process can be given (a name without `=` or NUL, a value
//! without NUL), and the last `Http_Method` and `Http_Path` (the ones the process sees) must be
//! the request's own, whatever headers the caller sent.

use faas_watchdog::cgi_env::{canonical_env_name, request_env};

/// The target's body.
pub fn run(data: &[u8]) {
    let Some(parts) = request_head(data) else {
        return;
    };
    let vars = request_env(&parts);
    for (name, value) in &vars {
        assert!(
            name.starts_with("Http_"),
            "{name:?} is not an Http_ variable"
        );
        assert!(
            !name.contains(['=', '\0']) && name.len() > "Http_".len(),
            "{name:?} cannot be an environment variable's name"
        );
        assert!(!value.contains('\0'), "{name}={value:?} holds a NUL");
    }
    let last = |key: &str| {
        vars.iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    };
    assert_eq!(last("Http_Method"), Some(parts.method.as_str()));
    assert_eq!(last("Http_Path"), Some(parts.uri.path()));
    let length = last("Http_Content_Length").expect("Http_Content_Length is always set");
    assert!(
        length.parse::<i64>().is_ok(),
        "Http_Content_Length={length:?}"
    );
    assert_eq!(last("Http_ContentLength"), Some(length));
    for name in parts.headers.keys() {
        let env = canonical_env_name(name.as_str());
        assert_eq!(env.len(), name.as_str().len(), "{name} became {env}");
    }
}

/// `METHOD URI\nName: value\n...` as a request head, if the `http` crate takes it.
fn request_head(data: &[u8]) -> Option<http::request::Parts> {
    let mut lines = data.split(|&b| b == b'\n');
    let first = lines.next()?;
    let space = first.iter().position(|&b| b == b' ')?;
    let mut request = http::Request::builder()
        .method(&first[..space])
        .uri(&first[space + 1..]);
    for line in lines {
        let colon = line.iter().position(|&b| b == b':')?;
        let value = line[colon + 1..].trim_ascii();
        request = request.header(&line[..colon], value);
    }
    Some(request.body(()).ok()?.into_parts().0)
}
