//! The bodies of rustfaas's fuzz targets, one module each, as plain functions of the input
//! bytes: `fuzz/` (a cargo-fuzz crate outside the workspace) wraps each in libFuzzer's
//! `fuzz_target!`, and this crate's `tests/replay.rs` runs every seed in `fuzz/corpus/<target>/`
//! and every kept crash in `fuzz/regressions/<target>/` through the same function on stable
//! Rust, so a fixed bug that comes back fails `cargo nextest` without a fuzzer.
//!
//! Each body feeds the input to the code that meets it in production, through that crate's
//! public API (or its `#[doc(hidden)] fuzzing` entry where the code is private), and panics
//! when something is wrong beyond "no panic": a round trip that changes a value, a refusal
//! that would be a 500 instead of a 400, a file unpacked outside its directory.
//!
//! - [`api_json`] — the API's JSON bodies (deploy/update, secrets, scale, delete, namespaces)
//!   and their validation.
//! - [`stack_yml`] — `faas-cli`'s stack.yml parsing with `${VAR}` substitution.
//! - [`package_unpack`] — the process backend's package inspection and unpacking.
//! - [`watchdog_env`] — the watchdog's request-to-environment mapping (`Http_*`).
//! - [`queue_record`] — the embedded queue's stored records and the calls in them.

pub mod api_json;
pub mod package_unpack;
pub mod queue_record;
pub mod stack_yml;
pub mod watchdog_env;

/// A target's body: the input bytes in, a panic when something is wrong.
pub type Body = fn(&[u8]);

/// Every target: its name (the directory under `fuzz/corpus/` and `fuzz/regressions/`, and
/// the binary in `fuzz/fuzz_targets/`) and its body.
pub const TARGETS: [(&str, Body); 5] = [
    ("api_json", api_json::run),
    ("stack_yml", stack_yml::run),
    ("package_unpack", package_unpack::run),
    ("watchdog_env", watchdog_env::run),
    ("queue_record", queue_record::run),
];
