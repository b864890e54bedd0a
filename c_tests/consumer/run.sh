#!/usr/bin/env bash
# Installs liblqft into a temporary prefix, then builds and runs a consumer through the CMake
# package config (shared and static targets) and through pkg-config.
#
# usage: run.sh LIB_DIR WORK_DIR
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
lib_dir=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"

"$root/scripts/install.sh" "$prefix" "$lib_dir"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)

echo "== installed files =="
# The shared library: a SONAME, the link chain liblqft.so -> SONAME -> liblqft.so.VERSION.
soname=$(readelf -d "$prefix/lib/liblqft.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
case "$soname" in
  liblqft.so.0.*|liblqft.so.[1-9]*) ;;
  *) echo "unexpected SONAME '$soname'" >&2; exit 1 ;;
esac
test "$(readlink "$prefix/lib/liblqft.so")" = "$soname"
test "$(readlink "$prefix/lib/$soname")" = "liblqft.so.$version"
# No debug information (DWARF) in anything installed. (.debug_gdb_scripts, which Rust loads
# for debugger pretty-printers, is part of the program, not debug information.)
for file in "$prefix/lib/liblqft.so.$version" "$prefix/lib/liblqft.a" "$prefix/bin/lqft"; do
  if readelf -S -W "$file" | grep -q '\.debug_\(info\|line\|abbrev\|str\|ranges\|loc\)'; then
    echo "$file keeps debug information" >&2
    exit 1
  fi
done
# The tool runs and knows its version.
test "$("$prefix/bin/lqft" --version)" = "lqft $version"

echo "== find_package(lqft) =="
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/build"
"$work/build/consumer_shared"
"$work/build/consumer_static"
# The consumer records the SONAME, not the unversioned development link.
readelf -d "$work/build/consumer_shared" | grep -q "(NEEDED).*\[$soname\]"

echo "== pkg-config lqft =="
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
test "$(pkg-config --modversion lqft)" = "$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
# shellcheck disable=SC2046  # pkg-config output is a list of words
cc -std=c99 -Wall -Wextra -Werror -pedantic "$here/main.c" -o "$work/consumer_pkgconfig" \
  $(pkg-config --cflags --libs lqft) -Wl,-rpath,"$prefix/lib"
"$work/consumer_pkgconfig"
