# Shared by demo.sh and test.sh: repository paths and installation of missing system tools.
# shellcheck shell=bash

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
lib_dir="$target_dir/release"

# ensure_rust: fails, saying what to do, when cargo or rustc is missing or older than the
# rust-version of Cargo.toml (Debian's packaged Rust is older; rustup installs a current one).
ensure_rust() {
  local need tool have
  need=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' "$root/Cargo.toml")
  for tool in cargo rustc; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "error: $tool not found: liblqft needs Rust $need or newer; install it with rustup" \
        "(https://rustup.rs: curl -sSf https://sh.rustup.rs | sh), then open a new shell" >&2
      return 1
    fi
    have=$("$tool" --version | awk '{print $2}')
    if ! printf '%s\n%s\n' "$need" "$have" | sort -V -C; then
      echo "error: $tool $have is too old: liblqft needs Rust $need or newer (Debian's" \
        "packaged Rust is older); install a current toolchain with rustup" \
        "(https://rustup.rs), or run 'rustup update stable'" >&2
      return 1
    fi
  done
}

# ensure_tools TOOL=PACKAGE...: installs (apt-get) the Debian package of every missing tool.
ensure_tools() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%=*}" >/dev/null 2>&1 || missing+=("${pair#*=}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  install_packages "${missing[@]}"
}

# install_packages PACKAGE...: installs Debian packages with apt-get (as root or with sudo).
install_packages() {
  echo "installing missing system packages: $*"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "error: need root or sudo to install $*" >&2
      return 1
    }
    sudo="sudo"
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null
}
