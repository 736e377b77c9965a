//! Every seed (`fuzz/corpus/<target>/`) and every kept crash (`fuzz/regressions/<target>/`)
//! through its target's body, without a fuzzer: a bug the fuzzer once found fails here if it
//! comes back, on stable Rust, in the workspace's ordinary test run.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files in `dir` (none when it does not exist), README.md left out.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

/// Runs every input of every target in `kind` (`corpus` or `regressions`); returns how many
/// ran, and fails naming each input that panicked.
fn replay(kind: &str) -> usize {
    let mut ran = 0;
    let mut failed = Vec::new();
    for (target, body) in faas_fuzz::TARGETS {
        for path in inputs(&fuzz_dir().join(kind).join(target)) {
            let data = fs::read(&path).unwrap();
            ran += 1;
            if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
                failed.push(path.display().to_string());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "inputs that fail their target: {failed:#?}"
    );
    ran
}

#[test]
fn every_target_has_a_fuzz_binary_and_seeds() {
    for (target, _) in faas_fuzz::TARGETS {
        let binary = fuzz_dir().join("fuzz_targets").join(format!("{target}.rs"));
        assert!(binary.is_file(), "{} is missing", binary.display());
        let seeds = inputs(&fuzz_dir().join("corpus").join(target));
        assert!(!seeds.is_empty(), "fuzz/corpus/{target}/ has no seed");
    }
}

#[test]
fn seeds_pass_every_target() {
    assert!(replay("corpus") >= faas_fuzz::TARGETS.len());
}

#[test]
fn kept_crashes_stay_fixed() {
    let ran = replay("regressions");
    println!("{ran} kept crash inputs replayed");
}

/// The seeds reach past the first check: the valid package unpacks, the hostile one is the
/// client's mistake, the stack files parse. (A seed refused at its first byte would leave the
/// fuzzer to find the format on its own.)
#[test]
fn seeds_reach_the_code_behind_the_first_check() {
    let corpus = fuzz_dir().join("corpus");
    let data_dir = tempfile::tempdir().unwrap();
    for (seed, ok) in [
        ("handler-with-manifest.tar.gz", true),
        ("links-inside.tar.gz", true),
        ("symlink-outside.tar.gz", false),
    ] {
        let archive = fs::read(corpus.join("package_unpack").join(seed)).unwrap();
        let dir = data_dir.path().join(seed);
        let result = faas_provider_process::fuzzing::store_package(&dir, &archive);
        match (ok, result) {
            (true, Ok(unpacked)) => assert!(
                unpacked.join("index.py").is_file() || unpacked.join("handler.sh").is_file()
            ),
            (false, Err(faas_provider::ProviderError::Invalid(_))) => {}
            (_, other) => panic!("{seed}: {other:?}"),
        }
    }
    for seed in inputs(&corpus.join("stack_yml")) {
        let text = fs::read_to_string(&seed).unwrap();
        if text.contains("functions:") && !text.starts_with('*') {
            let vars = Default::default();
            faas_cli::stack::parse(&text, &seed, &vars, true)
                .unwrap_or_else(|e| panic!("{}: {e}", seed.display()));
        }
    }
    for seed in inputs(&corpus.join("queue_record")) {
        let data = fs::read(&seed).unwrap();
        let record = faas_queue::fuzzing::decode_record(&data).unwrap();
        let call = serde_json::from_slice::<faas_queue::QueuedCall>(record.json).or_else(|_| {
            serde_json::from_slice::<faas_queue::DeadLetter>(record.json).map(|l| l.call)
        });
        call.unwrap_or_else(|e| panic!("{}: {e}", seed.display()));
    }
}
