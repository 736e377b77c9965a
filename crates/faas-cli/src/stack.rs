//! stack.yml, read as OpenFaaS's faas-cli reads it: `${VAR}` and `${VAR:-default}` substituted
//! over the raw text, several files merged (later files win per function), `--filter` and
//! `--regex` applied to function names. A malformed file gives an error naming the file, the
//! line and column, and the field at that spot.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// The gateway faas-cli talks to when nothing else names one.
pub const DEFAULT_GATEWAY: &str = "http://127.0.0.1:8080";

/// A stack file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// No `-f` and neither stack.yml nor stack.yaml here.
    #[error("no stack file: there is no stack.yml or stack.yaml in this folder; pass one with -f FILE, or create one with `faas-cli new --lang python3 NAME`")]
    NoDefaultFile,
    /// The file cannot be read.
    #[error("cannot read stack file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML is malformed or a field has the wrong type.
    #[error("{path}:{line}:{column}: {message}{field}\n{snippet}", field = field.as_deref().map(|f| format!(" (field `{f}`)")).unwrap_or_default())]
    Parse {
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// What is wrong.
        message: String,
        /// The dotted path of the key at that line, e.g. `functions.hello.environment`.
        field: Option<String>,
        /// The offending line with a caret under the column.
        snippet: String,
    },
    /// A rule OpenFaaS also enforces.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// `--regex` is not a valid regular expression.
    #[error("invalid --regex {pattern:?}: {message}")]
    Regex {
        /// The pattern.
        pattern: String,
        /// Why.
        message: String,
    },
    /// An `environment_file` cannot be used.
    #[error("environment_file {path} of function {function}: {message}")]
    EnvironmentFile {
        /// The function.
        function: String,
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// A whole stack (one file, or several merged).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    /// Schema version, `1.0`.
    #[serde(default, deserialize_with = "scalar_string")]
    pub version: String,
    /// The provider and its gateway.
    #[serde(default)]
    pub provider: Provider,
    /// Functions by name.
    #[serde(default)]
    pub functions: BTreeMap<String, Function>,
    /// Templates to fetch and files to copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Configuration>,
    /// The files this stack was read from.
    #[serde(skip)]
    pub files: Vec<PathBuf>,
}

/// `provider:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    /// `openfaas`.
    #[serde(default, deserialize_with = "scalar_string")]
    pub name: String,
    /// The gateway URL.
    #[serde(default, deserialize_with = "scalar_string")]
    pub gateway: String,
}

/// `configuration:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Configuration {
    /// Extra templates: `name` and `source` (a git URL in OpenFaaS; here a local folder).
    #[serde(default)]
    pub templates: Vec<TemplateSource>,
    /// Extra files copied into every function's build folder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copy: Vec<String>,
}

/// One `configuration.templates` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplateSource {
    /// The template's name (its `lang`).
    #[serde(default, deserialize_with = "scalar_string")]
    pub name: String,
    /// Where it comes from.
    #[serde(default, deserialize_with = "scalar_string")]
    pub source: String,
}

/// CPU and memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// e.g. `128Mi`.
    #[serde(
        default,
        deserialize_with = "opt_scalar_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory: Option<String>,
    /// e.g. `100m`.
    #[serde(
        default,
        deserialize_with = "opt_scalar_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu: Option<String>,
}

/// One `functions.<name>` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Function {
    /// The function's name (the key it is listed under).
    #[serde(skip)]
    pub name: String,
    /// Template (language).
    #[serde(
        default,
        deserialize_with = "scalar_string",
        skip_serializing_if = "String::is_empty"
    )]
    pub lang: String,
    /// The handler folder.
    #[serde(
        default,
        deserialize_with = "scalar_string",
        skip_serializing_if = "String::is_empty"
    )]
    pub handler: String,
    /// Image (or package `name:tag`).
    #[serde(
        default,
        deserialize_with = "scalar_string",
        skip_serializing_if = "String::is_empty"
    )]
    pub image: String,
    /// The function's process.
    #[serde(
        default,
        deserialize_with = "opt_scalar_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub fprocess: Option<String>,
    /// Environment variables.
    #[serde(
        default,
        deserialize_with = "scalar_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub environment: BTreeMap<String, String>,
    /// YAML files with an `environment:` map, merged under `environment`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment_file: Vec<String>,
    /// Secret names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// Labels.
    #[serde(
        default,
        deserialize_with = "scalar_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(
        default,
        deserialize_with = "scalar_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    /// Limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Resources>,
    /// Requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Resources>,
    /// Placement constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    /// Read-only root filesystem.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub readonly_root_filesystem: bool,
    /// Build arguments, given to build steps as environment.
    #[serde(
        default,
        deserialize_with = "scalar_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub build_args: BTreeMap<String, String>,
    /// Named build options of the template (`build_options` in template.yml).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_options: Vec<String>,
    /// Do not build (deploy the image as it is).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_build: bool,
    /// Namespace.
    #[serde(
        default,
        deserialize_with = "opt_scalar_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub namespace: Option<String>,
}

impl Function {
    /// `environment` with every `environment_file` merged under it (the inline map wins),
    /// as OpenFaaS does.
    pub fn merged_environment(&self) -> Result<BTreeMap<String, String>, StackError> {
        let mut env = BTreeMap::new();
        for file in &self.environment_file {
            env.extend(read_environment_file(&self.name, Path::new(file))?);
        }
        env.extend(self.environment.clone());
        Ok(env)
    }
}

/// Reads an `environment_file`: YAML with an `environment:` map.
fn read_environment_file(
    function: &str,
    path: &Path,
) -> Result<BTreeMap<String, String>, StackError> {
    #[derive(Deserialize)]
    struct EnvironmentFile {
        #[serde(default, deserialize_with = "scalar_map")]
        environment: BTreeMap<String, String>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| StackError::EnvironmentFile {
        function: function.to_owned(),
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let parsed: EnvironmentFile =
        parse_yaml(&text, path).map_err(|e| StackError::EnvironmentFile {
            function: function.to_owned(),
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
    Ok(parsed.environment)
}

/// How to pick functions from a stack.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Wildcard on names (`*`, `?`).
    pub filter: Option<String>,
    /// Regular expression on names.
    pub regex: Option<String>,
}

/// Which stack files to read: the given ones, else stack.yml or stack.yaml in `dir`.
pub fn stack_files(given: &[PathBuf], dir: &Path) -> Result<Vec<PathBuf>, StackError> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    for name in ["stack.yml", "stack.yaml"] {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(vec![PathBuf::from(name)]);
        }
    }
    Err(StackError::NoDefaultFile)
}

/// The default stack file when one exists, or none (commands that only may read a stack).
pub fn optional_stack_files(given: &[PathBuf], dir: &Path) -> Vec<PathBuf> {
    stack_files(given, dir).unwrap_or_default()
}

/// Reads and merges `files` (relative to `base`; messages name them as given), substituting
/// `${VAR}` from `vars` when `envsubst`, then keeps the functions `selection` picks.
pub fn load(
    files: &[PathBuf],
    base: &Path,
    vars: &BTreeMap<String, String>,
    envsubst: bool,
    selection: &Selection,
) -> Result<Stack, StackError> {
    let mut merged = Stack::default();
    for path in files {
        let text = std::fs::read_to_string(base.join(path)).map_err(|source| StackError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let stack = parse(&text, path, vars, envsubst)?;
        merge(&mut merged, stack);
    }
    select(&mut merged, selection)?;
    Ok(merged)
}

/// Parses one stack file's text.
pub fn parse(
    text: &str,
    path: &Path,
    vars: &BTreeMap<String, String>,
    envsubst: bool,
) -> Result<Stack, StackError> {
    let text = if envsubst {
        substitute(text, vars)
    } else {
        text.to_owned()
    };
    let mut stack: Stack = parse_yaml(&text, path)?;
    for (name, function) in &mut stack.functions {
        function.name = name.clone();
    }
    validate(&stack, path)?;
    stack.files = vec![path.to_path_buf()];
    Ok(stack)
}

fn validate(stack: &Stack, path: &Path) -> Result<(), StackError> {
    let invalid = |message: String| StackError::Invalid {
        path: path.display().to_string(),
        message,
    };
    if !stack.provider.name.is_empty() && stack.provider.name != "openfaas" {
        return Err(invalid(format!(
            "provider.name must be `openfaas`, not {:?} (OpenFaaS rejects other names too)",
            stack.provider.name
        )));
    }
    for (name, function) in &stack.functions {
        if faas_types::validate::validate_function_name(name).is_err() {
            return Err(invalid(format!(
                "function name {name:?} is not valid: use lowercase letters, digits and dashes (a DNS-1123 label)"
            )));
        }
        if function.lang.is_empty() && function.image.is_empty() {
            return Err(invalid(format!(
                "function {name} needs a `lang` (a template to build with) or an `image` to deploy"
            )));
        }
    }
    Ok(())
}

fn merge(into: &mut Stack, stack: Stack) {
    if !stack.version.is_empty() {
        into.version = stack.version;
    }
    if !stack.provider.name.is_empty() {
        into.provider.name = stack.provider.name;
    }
    if !stack.provider.gateway.is_empty() {
        into.provider.gateway = stack.provider.gateway;
    }
    into.functions.extend(stack.functions);
    if let Some(configuration) = stack.configuration {
        let target = into
            .configuration
            .get_or_insert_with(Configuration::default);
        target.templates.extend(configuration.templates);
        target.copy.extend(configuration.copy);
    }
    into.files.extend(stack.files);
}

fn select(stack: &mut Stack, selection: &Selection) -> Result<(), StackError> {
    if let Some(filter) = &selection.filter {
        stack
            .functions
            .retain(|name, _| wildcard_match(filter, name));
    }
    if let Some(pattern) = &selection.regex {
        let regex = regex::Regex::new(pattern).map_err(|e| StackError::Regex {
            pattern: pattern.clone(),
            message: e.to_string(),
        })?;
        stack.functions.retain(|name, _| regex.is_match(name));
    }
    Ok(())
}

/// `*` matches any run of characters, `?` one character; everything else itself.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Replaces `${VAR}` with the variable's value (unset: empty) and `${VAR:-default}` with the
/// value or, when unset or empty, the default. Anything else is left as written.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        if !is_var_name(name) {
            out.push_str("${");
            rest = after;
            continue;
        }
        let value = vars.get(name).map(String::as_str).unwrap_or("");
        match default {
            Some(default) if value.is_empty() => out.push_str(default),
            _ => out.push_str(value),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses YAML into `T`; errors carry the file, line, column, the field there and a snippet.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, StackError> {
    if text.trim().is_empty() {
        return Err(StackError::Invalid {
            path: path.display().to_string(),
            message: "the file is empty".to_owned(),
        });
    }
    serde_saphyr::from_str(text).map_err(|err| {
        let (line, column) = err
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        let message = clean_message(&err.without_snippet().to_string());
        StackError::Parse {
            path: path.display().to_string(),
            line,
            column,
            field: field_at(text, line as usize),
            snippet: snippet(text, line as usize, column as usize),
            message,
        }
    })
}

/// The library's message without its own location suffix (we print ours first).
fn clean_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    let first = match first.find(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    first.trim_end_matches('.').to_owned()
}

/// The dotted key path of the mapping key on `line` (1-based), found by walking up to the
/// lines with less indentation: `functions.hello.environment`.
pub fn field_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    if line == 0 || line > lines.len() {
        return None;
    }
    let key_of = |l: &str| -> Option<(usize, String)> {
        let trimmed = l.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return None;
        }
        let indent = l.len() - trimmed.len();
        let body = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        let key = body.split_once(':')?.0.trim();
        if key.is_empty() || key.contains(' ') && !key.starts_with('"') {
            return None;
        }
        Some((indent, key.trim_matches(['"', '\'']).to_owned()))
    };
    let mut path = Vec::new();
    let mut limit = usize::MAX;
    let mut index = line - 1;
    // The line itself may be a value inside a flow sequence or a continuation: walk up to the
    // first line that holds a key.
    loop {
        if let Some((indent, key)) = key_of(lines[index]) {
            if indent < limit {
                path.push(key);
                limit = indent;
                if indent == 0 {
                    break;
                }
            }
        }
        if index == 0 {
            break;
        }
        index -= 1;
    }
    if path.is_empty() {
        return None;
    }
    path.reverse();
    Some(path.join("."))
}

fn snippet(text: &str, line: usize, column: usize) -> String {
    let Some(source) = line.checked_sub(1).and_then(|i| text.lines().nth(i)) else {
        return String::new();
    };
    let gutter = format!("{line} | ");
    let caret = " ".repeat(gutter.len() + column.saturating_sub(1));
    format!("{gutter}{source}\n{caret}^")
}

/// A scalar (string, number, bool) as text; null as "".
struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ScalarText, E> {
                Ok(ScalarText(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ScalarText, E> {
                Ok(ScalarText(String::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<ScalarText, E> {
                Ok(ScalarText(String::new()))
            }
        }
        deserializer.deserialize_str(ScalarVisitor)
    }
}

fn scalar_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(ScalarText::deserialize(deserializer)?.0)
}

fn opt_scalar_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(Some(ScalarText::deserialize(deserializer)?.0).filter(|s| !s.is_empty()))
}

fn scalar_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    struct MapVisitor;
    impl<'de> Visitor<'de> for MapVisitor {
        type Value = BTreeMap<String, String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map of names to values")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<ScalarText>()? {
                let value = map.next_value::<ScalarText>()?;
                out.insert(key.0, value.0);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(MapVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn substitutes_variables_and_defaults() {
        let v = vars(&[("USER", "ana"), ("EMPTY", "")]);
        assert_eq!(substitute("a ${USER} b", &v), "a ana b");
        assert_eq!(substitute("${MISSING}", &v), "");
        assert_eq!(substitute("${MISSING:-x y}", &v), "x y");
        assert_eq!(substitute("${EMPTY:-d}", &v), "d");
        assert_eq!(substitute("${USER:-d}", &v), "ana");
        assert_eq!(
            substitute("$USER ${not valid} ${", &v),
            "$USER ${not valid} ${"
        );
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "abc"));
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("*-fn", "hello-fn"));
        assert!(!wildcard_match("*-fn", "hello"));
    }

    #[test]
    fn parses_a_full_function() {
        let text = r#"
version: 1.0
provider:
  name: openfaas
  gateway: ${GW:-http://127.0.0.1:8080}
functions:
  hello:
    lang: python3
    handler: ./hello
    image: hello:latest
    fprocess: python3 index.py
    environment:
      write_debug: true
      count: 3
    secrets: [db]
    labels:
      com.openfaas.scale.min: 2
    annotations:
      topic: cron-function
    limits:
      memory: 128Mi
      cpu: 0.5
    requests:
      memory: 64Mi
    constraints: ["node=a"]
    readonly_root_filesystem: true
    build_args:
      ADDITIONAL_PACKAGE: curl
    skip_build: false
    namespace: staging
configuration:
  templates:
    - name: python3
      source: ./my-templates
"#;
        let stack = parse(text, Path::new("stack.yml"), &BTreeMap::new(), true).unwrap();
        assert_eq!(stack.version, "1.0");
        assert_eq!(stack.provider.gateway, "http://127.0.0.1:8080");
        let f = &stack.functions["hello"];
        assert_eq!(f.name, "hello");
        assert_eq!(f.environment["write_debug"], "true");
        assert_eq!(f.environment["count"], "3");
        assert_eq!(f.labels["com.openfaas.scale.min"], "2");
        assert_eq!(f.limits.as_ref().unwrap().cpu.as_deref(), Some("0.5"));
        assert_eq!(f.namespace.as_deref(), Some("staging"));
        assert!(f.readonly_root_filesystem);
        assert_eq!(f.build_args["ADDITIONAL_PACKAGE"], "curl");
        assert_eq!(stack.configuration.unwrap().templates[0].name, "python3");
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let text =
            "version: 1.0\nfunctions:\n  hello:\n    lang: python3\n    environment: [1, 2]\n";
        let err = parse(text, Path::new("bad.yml"), &BTreeMap::new(), true).unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with("bad.yml:5:"), "{shown}");
        assert!(shown.contains("functions.hello.environment"), "{shown}");
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let text = "functions:\n  hello:\n    lang: python3\n   image: [oops\n";
        let err = parse(text, Path::new("bad.yml"), &BTreeMap::new(), true).unwrap_err();
        match err {
            StackError::Parse { line, .. } => assert!(line >= 4, "line {line}"),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn field_paths() {
        let text = "a:\n  b:\n    c: 1\n  d: [x]\n";
        assert_eq!(field_at(text, 3).as_deref(), Some("a.b.c"));
        assert_eq!(field_at(text, 4).as_deref(), Some("a.d"));
        assert_eq!(field_at(text, 1).as_deref(), Some("a"));
    }

    #[test]
    fn later_files_win() {
        let a = parse(
            "provider:\n  name: openfaas\n  gateway: http://a\nfunctions:\n  x:\n    image: one\n  y:\n    image: y\n",
            Path::new("a.yml"),
            &BTreeMap::new(),
            true,
        )
        .unwrap();
        let b = parse(
            "functions:\n  x:\n    image: two\n",
            Path::new("b.yml"),
            &BTreeMap::new(),
            true,
        )
        .unwrap();
        let mut merged = Stack::default();
        merge(&mut merged, a);
        merge(&mut merged, b);
        assert_eq!(merged.functions["x"].image, "two");
        assert_eq!(merged.functions["y"].image, "y");
        assert_eq!(merged.provider.gateway, "http://a");
    }

    #[test]
    fn rejects_bad_names_and_providers() {
        let err = parse(
            "functions:\n  Hello:\n    image: x\n",
            Path::new("s.yml"),
            &BTreeMap::new(),
            true,
        )
        .unwrap_err();
        assert!(err.to_string().contains("Hello"));
        let err = parse(
            "provider:\n  name: faas\nfunctions: {}\n",
            Path::new("s.yml"),
            &BTreeMap::new(),
            true,
        )
        .unwrap_err();
        assert!(err.to_string().contains("openfaas"));
    }
}
