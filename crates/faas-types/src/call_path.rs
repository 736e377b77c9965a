//! The path a call carries after `/function/NAME` or `/async-function/NAME`: it must stay
//! inside function NAME. A dot segment (`.` or `..`, also written `%2e`) would let a client
//! or a URL normaliser on the way (reqwest's, a proxy's) climb out of it and reach another
//! function or a gateway page, so such paths are refused rather than rewritten.

/// Why a call's path was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the path {path:?} has a dot segment ('.' or '..', also written %2e); a call's path must stay inside its function")]
pub struct DotSegmentError {
    /// The refused path.
    pub path: String,
}

/// Checks the sub-path of a call (empty, or starting with `/`): no segment may be `.` or
/// `..`, in any mix of `.` and its percent-encodings `%2e` / `%2E`.
pub fn check_call_path(path: &str) -> Result<(), DotSegmentError> {
    // A backslash is a separator for some normalisers (WHATWG URLs of special schemes).
    if path.split(['/', '\\']).any(is_dot_segment) {
        return Err(DotSegmentError {
            path: path.to_string(),
        });
    }
    Ok(())
}

/// `.` or `..`, each dot possibly written `%2e`.
fn is_dot_segment(segment: &str) -> bool {
    let mut dots = 0;
    let mut rest = segment.as_bytes();
    while !rest.is_empty() {
        match rest {
            [b'.', tail @ ..] => rest = tail,
            [b'%', b'2', b'e' | b'E', tail @ ..] => rest = tail,
            _ => return false,
        }
        dots += 1;
    }
    dots == 1 || dots == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_refused_in_every_spelling() {
        for path in [
            "/..",
            "/../b",
            "/a/../../metrics",
            "/.",
            "/./x",
            "/%2e%2e/b",
            "/%2E%2e",
            "/.%2e/x",
            "/%2e",
            "/a\\..\\b",
            "/a/..",
        ] {
            assert!(check_call_path(path).is_err(), "{path}");
        }
    }

    #[test]
    fn other_paths_pass() {
        for path in [
            "",
            "/",
            "/a/b",
            "/...",
            "/a..b",
            "/.hidden",
            "/%2e%2e%2e",
            "/%2ex",
            "/a%2f..",
            "//x",
        ] {
            assert!(check_call_path(path).is_ok(), "{path}");
        }
    }
}
