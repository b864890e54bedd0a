#!/usr/bin/env bash
# Instructions per operation of the in-memory tree's hot paths, counted by callgrind, for one
# or more builds side by side:
#
#   scripts/instructions.sh [--n N] [REV...]
#
# Each REV is a git revision (its library built from `git archive` of it) or `.` (this working
# tree; the default). benches/instructions.rs of this checkout is built against each and run
# (N = 100,000 by default) under callgrind; every `phase_*`
# function's inclusive instruction count divided by the operations it ran is one cell, and
# every column after the first gives its change from the first in percent. Instruction counts
# do not depend on the machine's load, so builds compare exactly where wall-clock time cannot.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$root"

n=100000
revs=()
while [ $# -gt 0 ]; do
  case $1 in
  --n) n=$2; shift 2 ;;
  -h | --help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) revs+=("$1"); shift ;;
  esac
done
[ ${#revs[@]} -gt 0 ] || revs=(.)
ensure_rust
ensure_tools valgrind=valgrind callgrind_annotate=valgrind

work="$target_dir/instructions"
mkdir -p "$work"

# build REV: prints the path of the measurement binary built from REV: benches/instructions.rs
# of this checkout as the main program of a crate of its own that depends on REV's library
# only (so no dev-dependency is built), with REV's Cargo.lock and release profile.
build() {
  local rev=$1 dir lib
  if [ "$rev" = . ]; then
    dir="$work/worktree"
    lib=$root
  else
    dir="$work/$(git rev-parse --verify "$rev^{commit}")"
    lib="$dir/lib"
    if [ ! -d "$lib" ]; then
      mkdir -p "$lib.tmp"
      git archive "$rev^{commit}" | tar -x -C "$lib.tmp"
      mv "$lib.tmp" "$lib"
    fi
  fi
  mkdir -p "$dir/probe/src"
  cat >"$dir/probe/Cargo.toml.new" <<TOML
[package]
name = "instructions"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
liblqft = { path = "$lib" }

$(sed -n '/^\[profile.release\]/,/^$/p' "$lib/Cargo.toml")
TOML
  cmp -s "$dir/probe/Cargo.toml.new" "$dir/probe/Cargo.toml" ||
    mv "$dir/probe/Cargo.toml.new" "$dir/probe/Cargo.toml"
  [ -f "$dir/probe/Cargo.lock" ] || cp "$lib/Cargo.lock" "$dir/probe/Cargo.lock"
  cmp -s benches/instructions.rs "$dir/probe/src/main.rs" ||
    cp benches/instructions.rs "$dir/probe/src/main.rs"
  (cd "$dir/probe" && cargo build --release --quiet >&2)
  echo "$dir/probe/target/release/instructions"
}

# measure REV OUT: runs REV's binary under callgrind; writes "phase instructions-per-op" lines.
measure() {
  local rev=$1 out=$2 bin
  bin=$(build "$rev")
  valgrind --tool=callgrind --callgrind-out-file="$out.callgrind" "$bin" --n "$n" >"$out.ops" 2>"$out.log" || {
    cat "$out.log" >&2
    return 1
  }
  callgrind_annotate --inclusive=yes --threshold=100 "$out.callgrind" >"$out.annotate" 2>/dev/null
  while read -r phase count; do
    local ir
    ir=$(awk -v f="instructions::$phase" '$0 ~ "[: ]" f " \\[" { gsub(",", "", $1); print $1; exit }' "$out.annotate")
    [ -n "$ir" ] || { echo "error: no count for $phase in $out.annotate" >&2; return 1; }
    awk -v p="$phase" -v ir="$ir" -v c="$count" 'BEGIN { printf "%s %.1f\n", p, ir / c }'
  done <"$out.ops" >"$out"
}

echo "command: scripts/instructions.sh --n $n ${revs[*]}"
results=()
for rev in "${revs[@]}"; do
  name=${rev//\//_}
  [ "$rev" = . ] && name=worktree
  out="$work/result-$name"
  measure "$rev" "$out"
  results+=("$out")
done

# The table: one row per phase, one column per build, changes from the first build.
header="| phase (instructions per op) |"
rule="|---|"
for rev in "${revs[@]}"; do
  label=$rev
  [ "$rev" = . ] && label="working tree"
  [ "$rev" != . ] && label="$rev ($(git rev-parse --short "$rev^{commit}"))"
  header+=" $label |"
  rule+="---|"
done
echo
echo "$header"
echo "$rule"
while read -r phase base; do
  row="| ${phase#phase_} | $base |"
  for out in "${results[@]:1}"; do
    value=$(awk -v p="$phase" '$1 == p { print $2 }' "$out")
    row+=" $(awk -v v="$value" -v b="$base" 'BEGIN { printf "%s (%+.1f%%)", v, (v / b - 1) * 100 }') |"
  done
  echo "$row"
done <"${results[0]}"
