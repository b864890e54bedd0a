//! Gives the shared library a SONAME on ELF targets, so that programs linked against it record
//! a versioned name and a later incompatible release can be installed beside it.
//!
//! The name follows the package's compatibility rule (the CMake package config's too): from
//! 1.0 on, releases with the same major version are compatible (`liblqft.so.MAJOR`); before
//! 1.0, only releases with the same minor version are (`liblqft.so.0.MINOR`).
//! `scripts/install.sh` installs the library as `liblqft.so.VERSION` with the SONAME and
//! `liblqft.so` as symbolic links to it.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if !matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd"
    ) {
        return;
    }
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let minor = env!("CARGO_PKG_VERSION_MINOR");
    let soname = if major == "0" {
        format!("liblqft.so.0.{minor}")
    } else {
        format!("liblqft.so.{major}")
    };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
}
