//! The `lqft` command's usage: version, help, exit codes without a command, and `verify` /
//! `inspect-persisted-file` on signed files and Merkle roots.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{TempDir, run_lqft};
use lqft::Map;
use lqft::formats::WriteOptions;
use lqft::formats::map_files::{save_bundle, save_snapshot};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lqft-1.2.2")
}

fn lqft(args: &[&str]) -> Output {
    run_lqft(args, &samples())
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            stdout(out),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn version_prints_the_crate_version() {
    for flag in ["--version", "-V"] {
        let out = lqft(&[flag]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            stdout(&out),
            format!("lqft {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn no_command_exits_1_as_lqft_does_and_the_usage_says_so() {
    let out = lqft(&[]);
    assert_eq!(out.status.code(), Some(1));
    let usage = String::from_utf8_lossy(&out.stderr);
    assert!(
        usage.contains("1 error, or no command given (as in LQFT 1.2.2)"),
        "{usage}"
    );
}

#[test]
fn help_with_a_command_prints_that_commands_help() {
    for command in ["export", "verify", "import", "inspect-persisted-file"] {
        let out = lqft(&["help", command]);
        assert_eq!(out.status.code(), Some(0), "{command}");
        assert_eq!(stdout(&out), stdout(&lqft(&[command, "--help"])));
        assert!(stdout(&out).starts_with(&format!("usage: lqft {command}")));
    }
    assert_eq!(lqft(&["help", "no-such-command"]).status.code(), Some(2));
    assert_eq!(lqft(&["help", "export", "import"]).status.code(), Some(2));
}

#[test]
fn every_option_in_every_help_is_indented_alike() {
    for command in [
        "verify",
        "export",
        "inspect-persisted-file",
        "inspect-signer-trust-store",
    ] {
        let help = stdout(&lqft(&[command, "--help"]));
        for line in help.lines().filter(|l| l.trim_start().starts_with("--")) {
            assert!(line.starts_with("  --"), "{command}: {line:?}");
        }
        assert!(
            help.contains("\n  --verify-key-file FILE  "),
            "{command}: {help}"
        );
    }
}

#[test]
fn verify_refuses_a_signed_file_it_was_given_no_key_for() {
    let out = lqft(&["verify", "snap.ed.json"]);
    assert_eq!(out.status.code(), Some(13), "{}", stdout(&out));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("--no-verify-signature"), "{message}");
    assert!(
        message.contains("verification_configuration_error"),
        "{message}"
    );

    let out = lqft(&["verify", "snap.ed.json", "--no-verify-signature"]);
    assert_eq!(out.status.code(), Some(0));
    let summary = json(&out);
    assert_eq!(summary["signature_checked"], false);
    assert_eq!(summary["verified"], false);

    let out = lqft(&["verify", "snap.ed.json", "--verify-key-file", "pub.pem"]);
    assert_eq!(out.status.code(), Some(0));
    let summary = json(&out);
    assert_eq!(
        (
            summary["signature_checked"].clone(),
            summary["verified"].clone()
        ),
        (true.into(), true.into())
    );

    // An unsigned file has no signature to check: integrity is all there is.
    let out = lqft(&["verify", "snap.json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["signature_checked"], true);
}

#[test]
fn verify_and_inspect_print_the_merkle_root_of_each_snapshot() {
    let dir = TempDir::new("cli-roots");
    let map = Map::new();
    map.put(b"a", b"1").unwrap();
    let first = map.snapshot();
    map.put(b"b", b"\xff").unwrap();
    let second = map.snapshot();
    let hex = |s: &lqft::Snapshot| lqft::formats::hex::encode(&s.root_hash());
    let snapshot_file = dir.path("snap.json");
    let bundle_file = dir.path("bundle.json");
    save_snapshot(&snapshot_file, &second, &WriteOptions::default()).unwrap();
    save_bundle(&bundle_file, &map, None, &WriteOptions::default()).unwrap();
    let path = |p: &Path| p.to_string_lossy().into_owned();

    let out = run_lqft(&["verify", &path(&snapshot_file)], dir.dir());
    assert_eq!(json(&out)["root_hash"], hex(&second));
    let out = run_lqft(
        &["inspect-persisted-file", &path(&snapshot_file)],
        dir.dir(),
    );
    assert_eq!(json(&out)["payload"]["root_hash"], hex(&second));

    let expected = serde_json::json!([
        {"snapshot_id": first.id(), "root_hash": hex(&first)},
        {"snapshot_id": second.id(), "root_hash": hex(&second)},
    ]);
    let out = run_lqft(&["verify", &path(&bundle_file)], dir.dir());
    assert_eq!(json(&out)["snapshot_roots"], expected);
    let out = run_lqft(&["inspect-persisted-file", &path(&bundle_file)], dir.dir());
    assert_eq!(json(&out)["payload"]["snapshot_roots"], expected);
}
