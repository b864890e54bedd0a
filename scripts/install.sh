#!/usr/bin/env bash
# Installs liblqft into PREFIX, stripped of debug information: lib/liblqft.a,
# lib/liblqft.so.VERSION with the symbolic links lib/SONAME and lib/liblqft.so, bin/lqft (the
# command-line tool), include/lqft.h, the CMake package (lib/cmake/lqft/lqftConfig.cmake:
# targets lqft::lqft and lqft::lqft_static) and the pkg-config file (lib/pkgconfig/lqft.pc).
#
# usage: scripts/install.sh PREFIX [LIB_DIR]
#   LIB_DIR  directory holding the cargo-built libraries and lqft tool; when omitted,
#            `cargo build --release` builds them first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 PREFIX [LIB_DIR]" >&2
  exit 2
fi
ensure_tools strip=binutils readelf=binutils
mkdir -p "$1"
prefix=$(cd "$1" && pwd)
if [ $# -eq 2 ]; then
  lib_dir=$2
else
  ensure_rust
  (cd "$root" && cargo build --release)
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}

# The SONAME the build gave the shared library (build.rs).
soname=$(readelf -d "$lib_dir/liblqft.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ -z "$soname" ]; then
  echo "error: $lib_dir/liblqft.so has no SONAME; rebuild it with cargo build --release" >&2
  exit 1
fi

install -d "$prefix/bin" "$prefix/lib/cmake/lqft" "$prefix/lib/pkgconfig" "$prefix/include"
# Debug information stays in the build tree: the static library keeps its symbols (a linker
# needs them), the shared library and the tool keep only what linking and loading need.
install -m 644 "$lib_dir/liblqft.a" "$prefix/lib/"
strip --strip-debug "$prefix/lib/liblqft.a"
install -m 755 "$lib_dir/liblqft.so" "$prefix/lib/liblqft.so.$version"
strip --strip-unneeded "$prefix/lib/liblqft.so.$version"
ln -sfn "liblqft.so.$version" "$prefix/lib/$soname"
ln -sfn "$soname" "$prefix/lib/liblqft.so"
if [ -f "$lib_dir/lqft" ]; then
  install -m 755 "$lib_dir/lqft" "$prefix/bin/"
  strip --strip-unneeded "$prefix/bin/lqft"
else
  echo "error: $lib_dir has no lqft tool; build it with cargo build --release" >&2
  exit 1
fi
install -m 644 "$root/include/lqft.h" "$prefix/include/"

cat > "$prefix/lib/cmake/lqft/lqftConfig.cmake" <<CMAKE
# CMake package for liblqft $version: find_package(lqft) gives the imported targets
#   lqft::lqft         the shared library
#   lqft::lqft_static  the static library (with the system libraries it needs)
include(CMakeFindDependencyMacro)
find_dependency(Threads)
get_filename_component(_lqft_prefix "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET lqft::lqft)
  add_library(lqft::lqft SHARED IMPORTED)
  set_target_properties(lqft::lqft PROPERTIES
    IMPORTED_LOCATION "\${_lqft_prefix}/lib/liblqft.so.$version"
    IMPORTED_SONAME "$soname"
    INTERFACE_INCLUDE_DIRECTORIES "\${_lqft_prefix}/include")
  add_library(lqft::lqft_static STATIC IMPORTED)
  set_target_properties(lqft::lqft_static PROPERTIES
    IMPORTED_LOCATION "\${_lqft_prefix}/lib/liblqft.a"
    INTERFACE_INCLUDE_DIRECTORIES "\${_lqft_prefix}/include"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;\${CMAKE_DL_LIBS};m")
endif()
unset(_lqft_prefix)
CMAKE

cat > "$prefix/lib/cmake/lqft/lqftConfigVersion.cmake" <<CMAKE
# Compatible when the major versions match (for 0.x: the minor versions too) and the version
# asked for is not newer than this one.
set(PACKAGE_VERSION "$version")
set(PACKAGE_VERSION_COMPATIBLE FALSE)
if(NOT PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
elseif(NOT PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION
       AND PACKAGE_FIND_VERSION_MAJOR EQUAL $major
       AND ($major GREATER 0 OR PACKAGE_FIND_VERSION_MINOR EQUAL $minor))
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
  set(PACKAGE_VERSION_EXACT TRUE)
endif()
CMAKE

cat > "$prefix/lib/pkgconfig/lqft.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: lqft
Description: Embeddable, versioned, verifiable key-value engine (C API)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -llqft
Libs.private: -lpthread -ldl -lm
PC

echo "installed liblqft $version (SONAME $soname) and the lqft tool into $prefix"
