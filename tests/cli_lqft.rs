//! The `lqft` command: LQFT's commands, flags, JSON and exit codes, plus verify/export/import.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lqft-1.2.2")
}

fn lqft(args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_lqft"))
        .args(args)
        .current_dir(samples())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn rc(args: &[&str]) -> i32 {
    lqft(args, None).status.code().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("lqft-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const INSPECT: &str = "inspect-persisted-file";
const FAIL: &str = "--fail-on-policy-fail";

#[test]
fn help_everywhere_and_usage_errors() {
    let out = lqft(&[], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(rc(&["--help"]), 0);
    for command in [
        "generate-ed25519-keypair",
        INSPECT,
        "inspect-signer-trust-store",
        "inspect-storage-engine-manifest",
        "inspect-sharded-storage-engine-manifest",
        "verify",
        "export",
        "import",
    ] {
        let out = lqft(&[command, "--help"], None);
        assert_eq!(out.status.code(), Some(0), "{command}");
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("usage: lqft {command}")));
    }
    assert_eq!(rc(&["no-such-command"]), 2);
    assert_eq!(rc(&[INSPECT, "snap.json", "--bogus"]), 2);
    assert_eq!(
        rc(&[
            INSPECT,
            "snap.hmac.json",
            "--verify-key-text",
            "a",
            "--verify-key-file",
            "pub.pem"
        ]),
        2
    );
    assert_eq!(
        rc(&[
            INSPECT,
            "snap.json",
            "--min-remaining-validity-seconds",
            "x"
        ]),
        2
    );
}

#[test]
fn samples_pass_with_their_keys() {
    for args in [
        vec![INSPECT, "snap.json", FAIL],
        vec![INSPECT, "snap.json.gz", FAIL],
        vec![
            INSPECT,
            "snap.hmac.json",
            "--verify-key-text",
            "shared-secret",
            FAIL,
        ],
        vec![
            INSPECT,
            "snap.ed.json",
            "--verify-key-file",
            "pub.pem",
            FAIL,
        ],
        vec![INSPECT, "snap.ed.json", "--trusted-signers", "trust", FAIL],
        vec![
            INSPECT,
            "snap.ed.json",
            "--trusted-signers",
            "trusted-signers.json",
            FAIL,
        ],
        vec![
            "inspect-storage-engine-manifest",
            "engine-manifest.json",
            "--verify-key-file",
            "pub.pem",
            FAIL,
        ],
        vec![
            "inspect-sharded-storage-engine-manifest",
            "sharded-manifest.json",
            "--verify-key-text",
            "s3cret",
            FAIL,
        ],
        vec![
            "inspect-signer-trust-store",
            "trusted-signers.json",
            "--verify-key-file",
            "pub.pem",
            FAIL,
        ],
        vec![
            "inspect-signer-trust-store",
            "trusted-signers.json",
            "--trusted-manifest-signers",
            "trust",
            FAIL,
        ],
        vec!["inspect-signer-trust-store", "trust", FAIL],
        vec!["verify", "snap.ed.json", "--verify-key-file", "pub.pem"],
        vec!["verify", "bundle.json"],
        vec![
            "verify",
            "engine-manifest.json",
            "--verify-key-file",
            "pub.pem",
        ],
    ] {
        let out = lqft(&args, None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = json(&out);
        if args[0] != "verify" {
            assert_eq!(report["effective_policy"]["status"], "pass", "{args:?}");
        }
    }
}

#[test]
fn policy_failures_exit_with_lqft_codes() {
    let dir = TempDir::new("codes");
    let raw = dir.path("raw.json");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(samples().join("snap.ed.json")).unwrap()).unwrap();
    std::fs::write(&raw, doc["payload"].to_string()).unwrap();
    let mut tampered = doc.clone();
    tampered["payload"]["items"][0]["value"] = "FORGED".into();
    let tampered_path = dir.path("tampered.json");
    std::fs::write(&tampered_path, tampered.to_string()).unwrap();
    let list = dir.path("list.json");
    std::fs::write(&list, "[]").unwrap();
    let other_trust = dir.path("other-trust");
    std::fs::create_dir_all(&other_trust).unwrap();
    let out = lqft(
        &[
            "generate-ed25519-keypair",
            "--private-out",
            &dir.path("o.pem"),
            "--public-out",
            &format!("{other_trust}/o.pem"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let empty = dir.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let revoked = dir.path("revoked.json");
    std::fs::copy(
        samples().join("trust/producer-a.pem"),
        dir.path("producer-a.pem"),
    )
    .unwrap();
    std::fs::write(
        &revoked,
        serde_json::json!({"signers": [
            {"path": "producer-a.pem", "revoked": true, "revocation_reason": "rotated"},
            {"path": "other-trust/o.pem"},
        ]})
        .to_string(),
    )
    .unwrap();

    let other_key = format!("{other_trust}/o.pem");
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec![INSPECT, &raw, "--verify-key-file", "pub.pem"],
            12,
            "verification_unsigned",
        ),
        (
            vec![INSPECT, &tampered_path, "--verify-key-file", "pub.pem"],
            15,
            "integrity_checksum_mismatch",
        ),
        (
            vec![INSPECT, "snap.hmac.json", "--verify-key-text", "wrong"],
            12,
            "verification_signature_mismatch",
        ),
        (
            vec![INSPECT, "snap.hmac.json", "--verify-key-file", "pub.pem"],
            12,
            "verification_algorithm_mismatch",
        ),
        (
            vec![INSPECT, "snap.ed.json", "--verify-key-file", &other_key],
            12,
            "verification_signer_identity_mismatch",
        ),
        (
            vec![INSPECT, "snap.ed.json", "--trusted-signers", &other_trust],
            11,
            "signer_untrusted",
        ),
        (
            vec![INSPECT, "snap.hmac.json", "--trusted-signers", "trust"],
            13,
            "verification_trusted_signers_unsupported",
        ),
        (
            vec![INSPECT, "snap.ed.json", "--trusted-signers", &empty],
            17,
            "source_empty_trust_store_directory",
        ),
        (
            vec![INSPECT, "snap.ed.json", "--trusted-signers", "no-such-dir"],
            17,
            "source_missing_trusted_signers_path",
        ),
        (
            vec![
                INSPECT,
                "snap.ed.json",
                "--verify-key-file",
                "pub.pem",
                "--min-remaining-validity-seconds",
                "60",
            ],
            10,
            "freshness_missing_expires_at",
        ),
        (
            vec![
                INSPECT,
                "snap.json",
                "--min-remaining-validity-seconds",
                "-1",
            ],
            10,
            "freshness_invalid_min_remaining_validity",
        ),
        (vec![INSPECT, &list], 16, "schema_invalid_document"),
        (
            vec![
                "inspect-signer-trust-store",
                "trust",
                "--verify-key-file",
                "pub.pem",
            ],
            13,
            "verification_unsupported_for_directory_trust_store",
        ),
    ];
    for (args, expected, code) in cases {
        let mut with_fail = args.clone();
        with_fail.push(FAIL);
        let out = lqft(&with_fail, None);
        let report = json(&out);
        assert_eq!(report["effective_policy"]["reason_code"], code, "{args:?}");
        assert_eq!(out.status.code(), Some(expected), "{args:?}");
        assert_eq!(rc(&args), 0, "without {FAIL}: {args:?}");
    }
    // The producer of snap.ed.json is revoked in this manifest.
    let out = lqft(&["inspect-signer-trust-store", &revoked, FAIL], None);
    let report = json(&out);
    assert_eq!(
        (
            report["active_signer_count"].clone(),
            report["revoked_signer_count"].clone()
        ),
        (1.into(), 1.into())
    );
    let out = lqft(
        &[INSPECT, "snap.ed.json", "--trusted-signers", &revoked, FAIL],
        None,
    );
    assert_eq!(
        json(&out)["effective_policy"]["reason_code"],
        "signer_untrusted"
    );
    assert_eq!(out.status.code(), Some(11));
    // verify exits with the same codes.
    assert_eq!(rc(&["verify", &raw, "--verify-key-file", "pub.pem"]), 12);
    assert_eq!(
        rc(&["verify", "snap.ed.json", "--trusted-signers", &other_trust]),
        11
    );
    assert_eq!(rc(&["verify", &tampered_path]), 15);
    assert_eq!(rc(&["verify", "no-such-file.json"]), 1);
}

#[test]
fn expired_and_not_yet_valid_files_exit_10() {
    let dir = TempDir::new("validity");
    let (key, public) = (dir.path("k.pem"), dir.path("k.pub.pem"));
    assert_eq!(
        rc(&[
            "generate-ed25519-keypair",
            "--private-out",
            &key,
            "--public-out",
            &public
        ]),
        0
    );
    for (name, flags) in [
        ("expired.json", ["--expires-at", "2001-01-01T00:00:00Z"]),
        ("future.json", ["--not-before", "2999-01-01T00:00:00+00:00"]),
    ] {
        let path = dir.path(name);
        let out = lqft(
            &[
                "import",
                "--out",
                &path,
                "--sign-key-file",
                &key,
                flags[0],
                flags[1],
            ],
            Some(b"{\"key\":\"a\",\"value\":\"b\"}\n"),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = lqft(&[INSPECT, &path, "--verify-key-file", &public, FAIL], None);
        assert_eq!(
            json(&out)["effective_policy"]["reason_code"],
            "freshness_not_currently_valid"
        );
        assert_eq!(out.status.code(), Some(10));
        assert_eq!(rc(&["verify", &path, "--verify-key-file", &public]), 10);
    }
    let path = dir.path("short.json");
    let soon = lqft::formats::validity::format_utc_micros(
        lqft::formats::validity::now_micros() + 600_000_000,
    );
    lqft(
        &[
            "import",
            "--out",
            &path,
            "--sign-key-file",
            &key,
            "--expires-at",
            &soon,
        ],
        Some(b"[\"a\",\"b\"]\n"),
    );
    assert_eq!(
        rc(&[
            "verify",
            &path,
            "--verify-key-file",
            &public,
            "--min-remaining-validity-seconds",
            "60"
        ]),
        0
    );
    assert_eq!(
        rc(&[
            "verify",
            &path,
            "--verify-key-file",
            &public,
            "--min-remaining-validity-seconds",
            "3600"
        ]),
        10
    );
}

#[test]
fn keypair_import_export_round_trip_with_binary_data() {
    let dir = TempDir::new("roundtrip");
    let (key, public) = (dir.path("k.pem"), dir.path("k.pub.pem"));
    let out = lqft(
        &[
            "generate-ed25519-keypair",
            "--private-out",
            &key,
            "--public-out",
            &public,
        ],
        None,
    );
    let files = json(&out);
    assert!(files["key_id"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(files["algorithm"], "ed25519");
    assert_eq!(
        rc(&[
            "generate-ed25519-keypair",
            "--private-out",
            &key,
            "--public-out",
            &public
        ]),
        1
    );
    assert_eq!(
        rc(&[
            "generate-ed25519-keypair",
            "--private-out",
            &key,
            "--public-out",
            &public,
            "--force"
        ]),
        0
    );

    let input = b"{\"key\":\"b\",\"value\":\"2\"}\n{\"key_b64\":\"/wA=\",\"value\":\"bin\"}\n{\"key\":\"a\",\"value_b64\":\"AP8=\"}\n\n{\"key\":\"b\",\"value\":\"3\"}\n";
    for name in ["snap.json", "snap.json.gz"] {
        let path = dir.path(name);
        let out = lqft(
            &["import", "--out", &path, "--sign-key-file", &key],
            Some(input),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(json(&out)["size"], 3);
        let out = lqft(&["export", &path, "--verify-key-file", &public], None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "{\"key\":\"a\",\"value_b64\":\"AP8=\"}\n{\"key\":\"b\",\"value\":\"3\"}\n{\"key_b64\":\"/wA=\",\"value\":\"bin\"}\n"
        );
    }
    assert_eq!(
        rc(&[
            "export",
            &dir.path("snap.json"),
            "--verify-key-text",
            "wrong"
        ]),
        12
    );
    assert_eq!(rc(&["import", "--out", &dir.path("x.json")]), 0);
    let bad = lqft(
        &["import", "--out", &dir.path("y.json")],
        Some(b"{\"key\":1}\n"),
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("line 1"));
}

/// Runs `lqft` like [`lqft`] with no input, killing it (and failing) after `secs` seconds.
fn lqft_within(args: &[&str], secs: u64) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lqft"))
        .args(args)
        .current_dir(samples())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("lqft {args:?} still runs after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn key_files_are_capped_and_devices_refused_by_verify_and_inspect() {
    let dir = TempDir::new("keycap");
    let big = dir.path("big.key");
    std::fs::write(&big, vec![b'k'; 64 * 1024 + 1]).unwrap();
    for command in ["verify", "inspect-persisted-file", "export"] {
        for (key, says) in [("/dev/zero", "character device"), (big.as_str(), "cap")] {
            let out = lqft_within(&[command, "snap.json", "--verify-key-file", key], 60);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{command} {key}: {stderr}");
            assert!(stderr.contains(says), "{command} {key}: {stderr}");
        }
    }
}

#[test]
fn a_failed_export_leaves_the_previous_output_file() {
    let dir = TempDir::new("export-atomic");
    let snap = dir.path("snap.json");
    let lines: String = (0..300)
        .map(|i| {
            format!(
                "{{\"key\":\"k{i:04}\",\"value\":\"{}\"}}\n",
                "v".repeat(100)
            )
        })
        .collect();
    let out = lqft(&["import", "--out", &snap], Some(lines.as_bytes()));
    assert_eq!(out.status.code(), Some(0));
    let previous = dir.path("out.jsonl");
    std::fs::write(&previous, "previous output\n").unwrap();
    // A file-size limit of 8 blocks makes the export's writes fail (EFBIG) part way.
    let out = Command::new("sh")
        .args([
            "-c",
            "trap '' XFSZ; ulimit -f 8; exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_lqft"),
            "export",
            &snap,
            "--out",
            &previous,
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&previous).unwrap(),
        "previous output\n"
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["out.jsonl", "snap.json"]);
    // Without the limit the export replaces the file.
    assert_eq!(rc(&["export", &snap, "--out", &previous]), 0);
    assert_eq!(std::fs::read_to_string(&previous).unwrap(), lines);
}

#[test]
fn import_stops_at_the_input_cap() {
    let dir = TempDir::new("import-cap");
    let out_path = dir.path("out.json");
    let endless = vec![b'a'; 10_000];
    let out = lqft(
        &["import", "--out", &out_path, "--max-input-bytes", "1000"],
        Some(&endless),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("over the cap of 1000 bytes"), "{stderr}");
    assert!(!Path::new(&out_path).exists());
    let out = lqft(
        &["import", "--out", &out_path, "--max-input-bytes", "1000"],
        Some(b"{\"key\":\"a\",\"value\":\"1\"}\n"),
    );
    assert_eq!(out.status.code(), Some(0));
}
