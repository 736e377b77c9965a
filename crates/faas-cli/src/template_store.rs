//! The template store: OpenFaaS's `templates.json`, a list of templates and the git
//! repositories they live in (`[{"template","platform","language","source","description",
//! "repo","official"}]`). `template store list --url` shows one, `template store pull NAME`
//! pulls the named template's repository with `template pull`.

use serde::{Deserialize, Serialize};

/// OpenFaaS's template store, where `template store pull` looks when given no other.
pub const DEFAULT_TEMPLATE_STORE: &str =
    "https://raw.githubusercontent.com/openfaas/store/master/templates.json";

/// One entry of `templates.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreTemplate {
    /// The template's name (its `lang`).
    #[serde(default)]
    pub template: String,
    /// e.g. `x86_64`, `armhf`, `arm64`.
    #[serde(default)]
    pub platform: String,
    /// e.g. `Python`.
    #[serde(default)]
    pub language: String,
    /// Who publishes it.
    #[serde(default)]
    pub source: String,
    /// One line about it.
    #[serde(default)]
    pub description: String,
    /// The git repository holding it (in its `template/` folder).
    #[serde(default)]
    pub repo: String,
    /// `"true"` or `"false"`, a string in OpenFaaS's file.
    #[serde(default)]
    pub official: String,
}

/// A template store that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateStoreError {
    /// Not a JSON list of templates.
    #[error("the template store {source_name} is not a list of templates: {reason}")]
    Parse {
        /// Where it came from.
        source_name: String,
        /// Why.
        reason: String,
    },
    /// No such template for this platform.
    #[error("template {name:?} is not in the template store {store} for platform {platform}: see `faas-cli template store list --url {store} --platform {platform}`")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The store.
        store: String,
        /// The platform.
        platform: String,
    },
}

/// Parses `templates.json`.
pub fn parse(bytes: &[u8], source_name: &str) -> Result<Vec<StoreTemplate>, TemplateStoreError> {
    serde_json::from_slice(bytes).map_err(|e| TemplateStoreError::Parse {
        source_name: source_name.to_owned(),
        reason: e.to_string(),
    })
}

/// The entry for `name` on `platform`: `name` is a template's name, or `source/name` when
/// several publishers use one name.
pub fn find<'a>(
    templates: &'a [StoreTemplate],
    name: &str,
    platform: &str,
    store: &str,
) -> Result<&'a StoreTemplate, TemplateStoreError> {
    let (source, template) = match name.split_once('/') {
        Some((source, template)) => (Some(source), template),
        None => (None, name),
    };
    templates
        .iter()
        .filter(|t| t.platform.is_empty() || t.platform.eq_ignore_ascii_case(platform))
        .find(|t| t.template == template && source.is_none_or(|s| t.source == s))
        .ok_or_else(|| TemplateStoreError::Unknown {
            name: name.to_owned(),
            store: store.to_owned(),
            platform: platform.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORE: &str = r#"[
      {"template":"python3","platform":"x86_64","language":"Python","source":"openfaas",
       "description":"Official Python 3 template","repo":"https://github.com/openfaas/templates","official":"true"},
      {"template":"python3","platform":"x86_64","language":"Python","source":"someone",
       "description":"Another","repo":"https://example.com/t","official":"false"},
      {"template":"python3-armhf","platform":"armhf","language":"Python","source":"openfaas",
       "description":"armhf","repo":"https://github.com/openfaas/templates","official":"true"}
    ]"#;

    #[test]
    fn finds_by_name_source_and_platform() {
        let store = parse(STORE.as_bytes(), "s").unwrap();
        assert_eq!(store.len(), 3);
        assert_eq!(
            find(&store, "python3", "x86_64", "s").unwrap().source,
            "openfaas"
        );
        assert_eq!(
            find(&store, "someone/python3", "x86_64", "s").unwrap().repo,
            "https://example.com/t"
        );
        assert!(find(&store, "python3-armhf", "x86_64", "s").is_err());
        assert!(find(&store, "python3-armhf", "armhf", "s").is_ok());
        let err = find(&store, "cobol", "x86_64", "s")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"cobol\" is not in the template store s"),
            "{err}"
        );
        assert!(parse(b"{\"functions\":[]}", "x").is_err());
    }
}
