//! The scripts refuse a Rust toolchain older than Cargo.toml's rust-version, saying what to do.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::TempDir;

/// Runs `ensure_rust` from scripts/common.sh with fake `cargo` and `rustc` that report
/// `version`, first on PATH.
fn ensure_rust_with(version: &str) -> std::process::Output {
    let dir = TempDir::new(&format!("toolchain-{version}"));
    for tool in ["cargo", "rustc"] {
        let path = dir.path(tool);
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho \"{tool} {version} (fake)\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", dir.dir().display(), std::env::var("PATH").unwrap());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/common.sh");
    Command::new("bash")
        .args(["-c", &format!("source {script} && ensure_rust")])
        .env("PATH", path)
        .output()
        .unwrap()
}

#[test]
fn an_old_toolchain_is_refused_with_what_to_do() {
    let out = ensure_rust_with("1.63.0");
    assert!(!out.status.success());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("1.63.0 is too old"), "{message}");
    assert!(
        message.contains(env!("CARGO_PKG_RUST_VERSION")),
        "{message}"
    );
    assert!(message.contains("rustup"), "{message}");
}

#[test]
fn the_required_toolchain_and_newer_pass() {
    let need = env!("CARGO_PKG_RUST_VERSION");
    assert!(ensure_rust_with(&format!("{need}.0")).status.success());
    assert!(ensure_rust_with("2.0.0").status.success());
}
