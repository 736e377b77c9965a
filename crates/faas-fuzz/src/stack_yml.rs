//! `faas-cli`'s stack.yml: [`faas_cli::stack::parse`] with and without `${VAR}` substitution,
//! and the wildcard filter (`--filter`) over the names it finds.
//!
//! A stack that parses must hold only valid function names, each function named by its key.
//! Substitution must leave text without `${` as it is.

use std::collections::BTreeMap;
use std::path::Path;

use faas_cli::stack;

/// The target's body.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let vars: BTreeMap<String, String> = [
        ("OPENFAAS_URL", "http://127.0.0.1:8080"),
        ("TAG", "1.0.0"),
        ("EMPTY", ""),
        ("DOLLAR", "${TAG}"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();

    let substituted = stack::substitute(text, &vars);
    if !text.contains("${") {
        assert_eq!(substituted, text, "substitution changed text without ${{");
    }
    for envsubst in [false, true] {
        let Ok(parsed) = stack::parse(text, Path::new("stack.yml"), &vars, envsubst) else {
            continue;
        };
        for (name, function) in &parsed.functions {
            assert_eq!(&function.name, name, "a function is named by its key");
            assert!(
                faas_types::validate::validate_function_name(name).is_ok(),
                "an invalid function name was accepted: {name:?}"
            );
            assert!(stack::wildcard_match("*", name));
            assert!(stack::wildcard_match(name, name));
        }
    }
    // The first line as a --filter pattern over the rest.
    if let Some((pattern, rest)) = text.split_once('\n') {
        for line in rest.lines().take(64) {
            let _ = stack::wildcard_match(pattern, line);
        }
    }
}
