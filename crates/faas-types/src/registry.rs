//! Which registry an image name points at, and whether a Docker `config.json` `auths` key
//! names it: shared by faas-cli (pushes) and the docker provider (pulls).

/// The registry host an image name points at (`docker.io` for names without one).
pub fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

/// Whether a config.json key (`127.0.0.1:5000`, `https://ghcr.io`,
/// `https://index.docker.io/v1/`) names `registry`.
pub fn same_registry(key: &str, registry: &str) -> bool {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    let hub = |h: &str| matches!(h, "docker.io" | "index.docker.io" | "registry-1.docker.io");
    host == registry || (hub(host) && hub(registry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_name_their_registry_and_keys_match_it() {
        assert_eq!(registry_of("127.0.0.1:5000/fn:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("ghcr.io/me/fn"), "ghcr.io");
        assert_eq!(registry_of("localhost/fn"), "localhost");
        assert_eq!(registry_of("me/fn"), "docker.io");
        assert_eq!(registry_of("fn"), "docker.io");
        assert!(same_registry("https://index.docker.io/v1/", "docker.io"));
        assert!(same_registry("http://127.0.0.1:5000", "127.0.0.1:5000"));
        assert!(!same_registry("127.0.0.1:5001", "127.0.0.1:5000"));
    }
}
