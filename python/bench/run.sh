#!/usr/bin/env bash
# Builds the bench venv (target/bench-venv: lqft from python/, py-lmdb, immutables, and LQFT
# 1.2.2 from its sdist pinned by sha256, its C extension compiled here) and runs both Python
# benches, printing each command with its table.
#   python/bench/run.sh [--n N] [--reps R]      (the arguments go to bench_map.py)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv="$root/target/bench-venv"
sha=aaa1aa7fb986c54c68559464613d2ff81ce72fa8232390cc09b97d4de30c54b0
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q "$root/python[bench]"
if ! "$venv/bin/python" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("lqft_c_engine") is None)'; then
  dl="$root/target/lqft-1.2.2"
  mkdir -p "$dl"
  sdist="$dl/lqft_python_engine-1.2.2.tar.gz"
  echo "$sha  $sdist" | sha256sum -c --status 2>/dev/null ||
    "$venv/bin/python" -m pip download -q --no-deps --no-binary :all: -d "$dl" lqft-python-engine==1.2.2
  echo "$sha  $sdist" | sha256sum -c
  "$venv/bin/python" -m pip install -q "$sdist"
fi
cd "$root"
"$venv/bin/python" python/bench/bench_map.py "$@"
echo
"$venv/bin/python" python/bench/bench_lqft122.py
