#!/usr/bin/env bash
# Builds liblqft (Rust library, static + shared C library, the lqft command) and the C
# examples, then runs the quickstart demo.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$root"

ensure_rust
ensure_tools cc=gcc
cargo build --release

mkdir -p "$target_dir/examples_c"
for example in quickstart iterate; do
  cc -std=c99 -O2 -Wall -Wextra -Werror -I"$root/include" "$root/examples_c/$example.c" \
    "$lib_dir/liblqft.a" -lpthread -ldl -lm -o "$target_dir/examples_c/$example"
done

echo "== examples_c/quickstart.c =="
"$target_dir/examples_c/quickstart"
echo
echo "(also built: $target_dir/examples_c/iterate, $lib_dir/liblqft.{a,so}, $lib_dir/lqft)"
