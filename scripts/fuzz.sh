#!/usr/bin/env bash
# Fuzzing: builds the cargo-fuzz crate in fuzz/ and runs each target for SECONDS (default 60),
# starting from its seeds in fuzz/corpus/<target>/. scripts/test.sh (and so CI) runs it after
# the tests; FUZZ_SECONDS there sets SECONDS, 0 skips it.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Stable Rust only: cargo-fuzz builds with `--sanitizer none`, whose flags (-Cpasses=sancov-module
# and -Cllvm-args=-sanitizer-coverage-*) are all stable; AddressSanitizer would need -Z flags
# (nightly). The crates fuzzed forbid unsafe code, so a bug shows as a panic (an abort under
# libFuzzer), a timeout or running out of memory, which libFuzzer reports without ASan.
#
# Installs what is missing (cargo-fuzz from crates.io, a C++ compiler for libFuzzer), one line
# each. New corpus entries go to fuzz/work/<target>/ (ignored by git); a crash is written to
# fuzz/artifacts/<target>/, its path printed, and the script exits non-zero. Keep a fixed
# crash's input in fuzz/regressions/<target>/ (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
[ $# -gt 0 ] && shift
case "$seconds" in
  '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;;
esac
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for file in fuzz/fuzz_targets/*.rs; do
    name="${file##*/}"
    targets+=("${name%.rs}")
  done
fi

# The version the fuzz crate was written against; its --sanitizer none needs no nightly.
cargo_fuzz_version=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
  cargo install --quiet --locked "cargo-fuzz@$cargo_fuzz_version"
  echo "installed $(cargo fuzz --version) (crates.io)"
fi
# libfuzzer-sys compiles libFuzzer's C++ sources.
command -v c++ >/dev/null 2>&1 || bash scripts/apt-install.sh --no-recommends g++

# Every package_unpack input is unpacked into a fresh temporary directory: on tmpfs, its fsyncs
# cost nothing.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm
fi

fuzz=(cargo fuzz)
build_flags=(--fuzz-dir fuzz --sanitizer none)
started=$SECONDS
mkdir -p fuzz/work
"${fuzz[@]}" build "${build_flags[@]}" 2>fuzz/work/build.log || {
  tail -n 40 fuzz/work/build.log >&2
  echo "fuzz.sh: building the fuzz targets failed (fuzz/work/build.log)" >&2
  exit 1
}
echo "fuzz.sh: built the fuzz targets in $((SECONDS - started)) s"

for target in "${targets[@]}"; do
  [ -f "fuzz/fuzz_targets/$target.rs" ] || { echo "fuzz.sh: no target '$target'" >&2; exit 2; }
done

# One target's run: libFuzzer with at most 10 s for one input and 2 GiB of memory (both count
# as a crash); its verdict goes to fuzz/work/<target>.verdict.
fuzz_one() {
  local target=$1 work="fuzz/work/$1" log="fuzz/work/$1.log"
  mkdir -p "$work"
  if "${fuzz[@]}" run "${build_flags[@]}" "$target" "$work" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1; then
    echo pass >"fuzz/work/$target.verdict"
  else
    echo crash >"fuzz/work/$target.verdict"
  fi
}

# libFuzzer runs on one core: FUZZ_JOBS targets at a time (default: one per core), each for
# the whole SECONDS, so CI's 60 s per target costs 60 s per core's share of the targets.
jobs="${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}"
case "$jobs" in
  '' | *[!0-9]* | 0) echo "fuzz.sh: FUZZ_JOBS must be a positive whole number, not '$jobs'" >&2; exit 2 ;;
esac
running=()
for target in "${targets[@]}"; do
  rm -f "fuzz/work/$target.verdict"
  fuzz_one "$target" &
  running+=($!)
  if [ "${#running[@]}" -ge "$jobs" ]; then
    wait "${running[0]}" || true
    running=("${running[@]:1}")
  fi
done
for pid in "${running[@]}"; do wait "$pid" || true; done

failed=0
passed=0
for target in "${targets[@]}"; do
  work="fuzz/work/$target"
  log="fuzz/work/$target.log"
  if [ "$(cat "fuzz/work/$target.verdict" 2>/dev/null)" = pass ]; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "fuzz.sh: $target: ${runs:-?} inputs in $seconds s, corpus $(find "$work" -type f | wc -l) entries, no crash"
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    tail -n 30 "$log" >&2
    crash=$(grep -o 'fuzz/artifacts/[^ ]*' "$log" | tail -n 1 || true)
    echo "fuzz.sh: $target: CRASH, input ${crash:-not written (see $log)}; replay: cargo fuzz run --fuzz-dir fuzz --sanitizer none $target ${crash:-}" >&2
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
