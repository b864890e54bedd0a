#!/usr/bin/env bash
# Installs liblqft into PREFIX: lib/liblqft.a, lib/liblqft.so, include/lqft.h, the CMake package
# (lib/cmake/lqft/lqftConfig.cmake: targets lqft::lqft and lqft::lqft_static) and the pkg-config
# file (lib/pkgconfig/lqft.pc).
#
# usage: scripts/install.sh PREFIX [LIB_DIR]
#   LIB_DIR  directory holding the cargo-built libraries; when omitted, `cargo build --release`
#            builds them first.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 PREFIX [LIB_DIR]" >&2
  exit 2
fi
mkdir -p "$1"
prefix=$(cd "$1" && pwd)
if [ $# -eq 2 ]; then
  lib_dir=$2
else
  (cd "$root" && cargo build --release --lib)
  lib_dir=${CARGO_TARGET_DIR:-$root/target}/release
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}

install -d "$prefix/lib/cmake/lqft" "$prefix/lib/pkgconfig" "$prefix/include"
install -m 644 "$lib_dir/liblqft.a" "$prefix/lib/"
install -m 755 "$lib_dir/liblqft.so" "$prefix/lib/"
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
    IMPORTED_LOCATION "\${_lqft_prefix}/lib/liblqft.so"
    IMPORTED_NO_SONAME TRUE
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

echo "installed liblqft $version into $prefix"
