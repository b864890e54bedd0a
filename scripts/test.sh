#!/usr/bin/env bash
# Runs the complete test suite, stage by stage, and ends with an "N passed, N failed" line.
# Exits non-zero when any stage failed. Stages:
#   fmt, clippy, rustdoc (cargo doc --no-deps with warnings denied: every intra-doc link in the
#   public docs resolves), rust-tests (cargo test --release: unit, model, format and header tests),
#   rust-checked (the same tests with debug assertions and overflow checks on: cargo test
#   --profile checked), header (include/lqft.h is up to date), c-plain, c-asan (AddressSanitizer + UBSan),
#   c-valgrind (memcheck: no errors, no definite leaks), bench-smoke (every bench in benches/ and
#   the durable bench in benches/anchors),
#   fuzz (each store decoder, and damaged node records read back, under cargo-fuzz on nightly for LQFT_FUZZ_SECONDS, default 60),
#   python (the `lqft` package in python/: pip install into a venv, pytest, mypy --strict),
#   lqft-1.2.2 (LQFT 1.2.2's own tests, from its sdist pinned by sha256, on lqft.lqft122).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$root"

ensure_rust || exit 1
ensure_tools cc=gcc c++=g++ cmake=cmake ctest=cmake valgrind=valgrind pkg-config=pkg-config \
  readelf=binutils strip=binutils || exit 1

passed=0
failed=0
failures=()

# stage NAME COMMAND...: runs one stage and records its outcome.
stage() {
  local name=$1 start=$SECONDS
  shift
  echo
  echo "=== stage $name: $* ==="
  if "$@"; then
    passed=$((passed + 1))
    echo "=== stage $name passed ($((SECONDS - start)) s) ==="
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== stage $name FAILED ($((SECONDS - start)) s) ==="
  fi
}

# c_suite MODE CMAKE_OPTIONS...: configures, builds and runs the C suite in its own build dir.
c_suite() {
  local mode=$1
  shift
  local build="$target_dir/c_tests/$mode"
  rm -rf "$build" # a fresh configure: no stale cache from another checkout or mode
  cmake -S "$root/c_tests" -B "$build" -DLQFT_LIB_DIR="$lib_dir" "$@" >/dev/null &&
    cmake --build "$build" -j "$(nproc)" &&
    ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
}

# Every bench in benches/ takes `--smoke` (tiny N, one repetition); benches sized by the
# LQFT_BENCH_N environment variable get a small N too. The durable bench against LMDB, redb and
# SQLite (its own crate in benches/anchors) runs its smoke size too.
bench_smoke() {
  local bench ok=0
  for bench in "$root"/benches/*.rs; do
    bench=$(basename "$bench" .rs)
    echo "--- cargo bench --bench $bench -- --smoke"
    LQFT_BENCH_N=${LQFT_BENCH_N:-2000} cargo bench --bench "$bench" -- --smoke || ok=1
  done
  echo "--- cargo bench --manifest-path benches/anchors/Cargo.toml --bench durable -- --smoke"
  cargo bench --manifest-path "$root/benches/anchors/Cargo.toml" --bench durable -- \
    --smoke --dir "$root/target/durable-smoke" || ok=1
  rm -rf "$root/target/durable-smoke"
  return $ok
}

# Every target in fuzz/ runs for LQFT_FUZZ_SECONDS from the committed seed corpus; new inputs
# go to a scratch directory, so the committed corpus stays as blessed. Installs cargo-fuzz
# from crates.io and the nightly toolchain (cargo-fuzz needs it) when missing.
fuzz() {
  local target ok=0 scratch seconds=${LQFT_FUZZ_SECONDS:-60}
  rustup run nightly rustc --version >/dev/null 2>&1 ||
    rustup toolchain install nightly --profile minimal || return 1
  command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked || return 1
  for target in wal pack manifest records; do
    scratch=$(mktemp -d)
    echo "--- cargo +nightly fuzz run $target (${seconds} s)"
    cargo +nightly fuzz run "$target" "$scratch" "$root/fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 || ok=1
    rm -rf "$scratch"
  done
  return $ok
}

# The Python package: built by maturin (cffi over the C ABI) and installed with pip into a venv
# of its own, then its tests (including the Hypothesis model test, >= 20,000 steps) and
# `mypy --strict` (configured in python/pyproject.toml).
python_suite() {
  ensure_tools python3=python3 || return 1
  # Debian splits venv and ensurepip out of python3.
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || install_packages python3-venv || return 1
  local venv="$target_dir/python-venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || return 1
  "$venv/bin/python" -m pip uninstall -q -y lqft >/dev/null 2>&1
  "$venv/bin/python" -m pip install -q "$root/python[test]" &&
    (cd "$target_dir" && "$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/python/tests") &&
    (cd "$root/python" && "$venv/bin/python" -m mypy lqft)
}

# LQFT 1.2.2's own three test files, unchanged, run by its own wrapper (lqft_engine.py from the
# published sdist, pinned by sha256) on liblqft's backend (`lqft.lqft122.install()`); the
# wrapper's dependencies (cryptography, psutil) go into the python stage's venv.
lqft122_sha256=aaa1aa7fb986c54c68559464613d2ff81ce72fa8232390cc09b97d4de30c54b0
lqft122_suite() {
  local venv="$target_dir/python-venv" dir="$target_dir/lqft-1.2.2"
  local sdist="$dir/lqft_python_engine-1.2.2.tar.gz"
  [ -x "$venv/bin/python" ] || { echo "the python stage's venv is missing"; return 1; }
  mkdir -p "$dir"
  if ! echo "$lqft122_sha256  $sdist" | sha256sum -c --status 2>/dev/null; then
    "$venv/bin/python" -m pip download -q --no-deps --no-binary :all: -d "$dir" \
      lqft-python-engine==1.2.2 || return 1
  fi
  echo "$lqft122_sha256  $sdist" | sha256sum -c || return 1
  rm -rf "$dir/src" && mkdir "$dir/src" && tar -xzf "$sdist" -C "$dir/src" --strip-components=1 ||
    return 1
  "$venv/bin/python" -m pip install -q cryptography psutil || return 1
  (cd "$dir/src" && "$venv/bin/python" -c '
import sys, unittest
import lqft.lqft122
lqft.lqft122.install()
sys.exit(unittest.main(module=None, argv=["lqft-1.2.2", "discover", "-s", "tests", "-v"]))')
}

stage fmt cargo fmt --check
stage clippy cargo clippy --all-targets -- -D warnings
stage rustdoc env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps
stage rust-tests cargo test --release
stage rust-checked cargo test --profile checked
stage header cargo test --release --test header
if cargo build --release --lib; then
  stage c-plain c_suite plain
  stage c-asan c_suite asan -DLQFT_SANITIZE=ON
  stage c-valgrind c_suite valgrind -DLQFT_VALGRIND=ON
else
  failed=$((failed + 3))
  failures+=("c-plain c-asan c-valgrind (library build failed)")
fi
stage bench-smoke bench_smoke
stage fuzz fuzz

stage python python_suite
stage lqft-1.2.2 lqft122_suite

echo
[ $failed -gt 0 ] && echo "failed stages: ${failures[*]}"
echo "stages: $passed passed, $failed failed"
[ $failed -eq 0 ]
