//! The holes LQFT 1.2.2 has (reference §7.2) are closed, and every rejection carries LQFT's
//! policy code and exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use lqft::formats::engine_manifest::{CheckpointPolicy, StorageEngineManifest};
use lqft::formats::file_io::read_json_file;
use lqft::formats::inspect::{InspectOptions, inspect_persisted_file};
use lqft::formats::python_json::{TextLayout, to_python_json};
use lqft::formats::trust_store::{ManifestSigner, TrustStoreManifest};
use lqft::formats::validity::format_utc_micros;
use lqft::formats::{
    Ed25519PrivateKey, Ed25519PublicKey, ErrorKind, Limits, PolicyCode, SignKey, SnapshotMetadata,
    SnapshotPayload, TrustStore, TrustStoreOptions, Validity, VerifyKey, VerifyOptions,
    WriteOptions, read_persisted_file, write_persisted_file,
};
use serde_json::Value;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lqft-1.2.2")
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "lqft-formats-security-{tag}-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn snapshot_payload() -> serde_json::Map<String, Value> {
    let meta = SnapshotMetadata {
        snapshot_id: 7,
        generation: 7,
        parent_snapshot_id: Some(6),
        created_at_ns: 1_700_000_000_000_000_000,
        mutation_count: 2,
        delta_size: 2,
        size: 2,
    };
    SnapshotPayload::new(
        meta,
        vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"b\xff".to_vec(), b"2".to_vec()),
        ],
    )
    .to_json()
}

fn key(seed: u8) -> Ed25519PrivateKey {
    Ed25519PrivateKey::from_seed(&[seed; 32])
}

fn iso(offset_secs: i64) -> String {
    let now = lqft::formats::validity::now_micros();
    format_utc_micros(now + offset_secs * 1_000_000)
}

fn window(not_before: i64, expires: i64) -> Validity {
    Validity {
        not_before: Some(iso(not_before)),
        expires_at: Some(iso(expires)),
        warn_before_expiry_seconds: None,
    }
}

fn write(path: &Path, sign: Option<&SignKey>, validity: Option<&Validity>) {
    let options = WriteOptions {
        sign_key: sign,
        validity,
        ..WriteOptions::default()
    };
    write_persisted_file(path, snapshot_payload(), &options).unwrap();
}

fn open(
    path: &Path,
    verify: Option<&VerifyKey>,
    store: Option<&TrustStore>,
    floor: Option<i64>,
) -> lqft::formats::Result<lqft::formats::OpenedFile> {
    let options = VerifyOptions {
        verify_key: verify,
        trusted_signers: store,
        min_remaining_validity_seconds: floor,
    };
    read_persisted_file(path, &options, &Limits::default())
}

fn code(result: lqft::formats::Result<lqft::formats::OpenedFile>) -> (PolicyCode, i32) {
    let err = result.unwrap_err();
    (
        err.policy_code()
            .unwrap_or_else(|| panic!("no policy code: {err}")),
        err.exit_code(),
    )
}

#[test]
fn raw_payload_is_rejected_whenever_verification_is_requested() {
    let dir = TempDir::new("raw");
    let raw = dir.path("raw.json");
    let doc = read_json_file(&samples().join("snap.ed.json"), &Limits::default()).unwrap();
    let mut payload = doc["payload"].clone();
    payload["items"][0]["value"] = "FORGED".into();
    std::fs::write(&raw, to_python_json(&payload, TextLayout::default())).unwrap();
    let public = VerifyKey::from_file(&samples().join("pub.pem")).unwrap();
    assert_eq!(
        code(open(&raw, Some(&public), None, None)),
        (PolicyCode::VerificationUnsigned, 12)
    );
    let store = TrustStore::load(&samples().join("trust"), &TrustStoreOptions::default()).unwrap();
    assert_eq!(
        code(open(&raw, None, Some(&store), None)),
        (PolicyCode::VerificationUnsigned, 12)
    );
    assert_eq!(
        code(open(&raw, None, None, Some(1))),
        (PolicyCode::FreshnessMissingExpiresAt, 10)
    );
    let opened = open(&raw, None, None, None).unwrap();
    assert!(!opened.check.is_envelope);

    let report = inspect_persisted_file(
        &raw,
        &InspectOptions {
            verify_key: Some(&std::fs::read(samples().join("pub.pem")).unwrap()),
            ..InspectOptions::default()
        },
    )
    .unwrap();
    assert_eq!(report["source_type"], "raw-payload");
    assert_eq!(report["effective_policy"]["allowed"], false);
    assert_eq!(report["effective_policy"]["verification"]["passed"], false);
}

/// Flips every byte of every JSON token inside `payload` and `validity` of a signed file;
/// each variant that still parses and differs must be rejected.
fn assert_every_byte_change_rejected(path: &Path, verify: &VerifyKey, with_validity: bool) {
    let original = std::fs::read(path).unwrap();
    let doc: Value = serde_json::from_slice(&original).unwrap();
    let text = String::from_utf8(original.clone()).unwrap();
    let start = text.find("\"payload\":").unwrap();
    let end = if with_validity {
        text.find("\"signature\":")
    } else {
        text.find("\"validity\":").or(text.find("\"signature\":"))
    };
    let end = end.unwrap();
    let scratch = path.with_extension("mutated.json");
    let mut checked = 0;
    for i in start..end {
        if original[i].is_ascii_whitespace() {
            continue;
        }
        for flip in [0x01u8, 0x02, 0x20] {
            let mut bytes = original.clone();
            bytes[i] ^= flip;
            let Ok(mutated) = serde_json::from_slice::<Value>(&bytes) else {
                continue;
            };
            if mutated["payload"] == doc["payload"]
                && mutated.get("validity") == doc.get("validity")
            {
                continue;
            }
            std::fs::write(&scratch, &bytes).unwrap();
            let result = open(&scratch, Some(verify), None, None);
            assert!(
                result.is_err(),
                "{}: byte {i} ^ {flip:#x} was accepted: {}",
                path.display(),
                String::from_utf8_lossy(&bytes[i.saturating_sub(40)..i + 20])
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} variants checked");
}

#[test]
fn every_single_byte_change_in_payload_or_validity_is_rejected() {
    let dir = TempDir::new("bytes");
    let ed = SignKey::from(key(1));
    let path = dir.path("signed.json");
    write(&path, Some(&ed), Some(&window(-60, 3600)));
    let public: VerifyKey = key(1).public_key().clone().into();
    assert_every_byte_change_rejected(&path, &public, true);

    let hmac = SignKey::from_material(b"secret").unwrap();
    let path = dir.path("hmac.json");
    write(&path, Some(&hmac), Some(&window(-60, 3600)));
    assert_every_byte_change_rejected(&path, &VerifyKey::from_material(b"secret").unwrap(), true);

    let copy = dir.path("lqft.json");
    std::fs::copy(samples().join("snap.ed.json"), &copy).unwrap();
    let public = VerifyKey::from_file(&samples().join("pub.pem")).unwrap();
    assert_every_byte_change_rejected(&copy, &public, false);
}

#[test]
fn wrong_key_algorithm_and_signer_give_lqft_codes() {
    let s = samples();
    let public = VerifyKey::from_file(&s.join("pub.pem")).unwrap();
    let other: VerifyKey = key(9).public_key().clone().into();
    let wrong_secret = VerifyKey::from_material(b"not-the-secret").unwrap();
    assert_eq!(
        code(open(
            &s.join("snap.hmac.json"),
            Some(&wrong_secret),
            None,
            None
        )),
        (PolicyCode::VerificationSignatureMismatch, 12)
    );
    assert_eq!(
        code(open(&s.join("snap.ed.json"), Some(&other), None, None)),
        (PolicyCode::VerificationSignerIdentityMismatch, 12)
    );
    assert_eq!(
        code(open(&s.join("snap.hmac.json"), Some(&public), None, None)),
        (PolicyCode::VerificationAlgorithmMismatch, 12)
    );
    assert_eq!(
        code(open(
            &s.join("snap.ed.json"),
            Some(&wrong_secret),
            None,
            None
        )),
        (PolicyCode::VerificationAlgorithmMismatch, 12)
    );
    assert_eq!(
        code(open(&s.join("snap.json"), Some(&public), None, None)),
        (PolicyCode::VerificationUnsigned, 12)
    );

    let stranger = TrustStore::from_keys([key(9).public_key().clone()]).unwrap();
    assert_eq!(
        code(open(&s.join("snap.ed.json"), None, Some(&stranger), None)),
        (PolicyCode::SignerUntrusted, 11)
    );
    assert_eq!(
        code(open(&s.join("snap.hmac.json"), None, Some(&stranger), None)),
        (PolicyCode::VerificationTrustedSignersUnsupported, 13)
    );
    // A verify key and a trust store together must both accept the signer.
    assert_eq!(
        code(open(
            &s.join("snap.ed.json"),
            Some(&public),
            Some(&stranger),
            None
        )),
        (PolicyCode::SignerUntrusted, 11)
    );
}

#[test]
fn revoked_signer_is_untrusted() {
    let dir = TempDir::new("revoked");
    std::fs::create_dir_all(dir.path("keys")).unwrap();
    std::fs::write(dir.path("keys/a.pem"), key(1).public_key().to_pem()).unwrap();
    std::fs::write(dir.path("keys/b.pem"), key(2).public_key().to_pem()).unwrap();
    let manifest = TrustStoreManifest {
        validity: None,
        signers: vec![
            ManifestSigner {
                key_id: Some(key(1).public_key().key_id()),
                path: "keys/a.pem".into(),
                metadata: None,
                revoked: true,
                revocation_reason: Some("leaked".into()),
            },
            ManifestSigner {
                key_id: None,
                path: "keys/b.pem".into(),
                metadata: None,
                revoked: false,
                revocation_reason: None,
            },
        ],
    };
    let admin = SignKey::from(key(3));
    manifest
        .write(
            &dir.path("signers.json"),
            Some(&admin),
            TextLayout::default(),
        )
        .unwrap();
    let admin_public: VerifyKey = key(3).public_key().clone().into();
    let options = TrustStoreOptions {
        verify_key: Some(&admin_public),
        ..TrustStoreOptions::default()
    };
    let store = TrustStore::load(&dir.path("signers.json"), &options).unwrap();
    assert_eq!(store.len(), 1);
    let with_revoked = TrustStore::load(
        &dir.path("signers.json"),
        &TrustStoreOptions {
            include_revoked: true,
            ..options
        },
    )
    .unwrap();
    assert_eq!(with_revoked.len(), 2);

    let file = dir.path("snap.json");
    write(&file, Some(&SignKey::from(key(1))), None);
    assert_eq!(
        code(open(&file, None, Some(&store), None)),
        (PolicyCode::SignerUntrusted, 11)
    );
    assert!(open(&file, None, Some(&with_revoked), None).is_ok());

    // An unsigned manifest cannot pass a signature requirement, and another signer's key fails.
    manifest
        .write(&dir.path("unsigned.json"), None, TextLayout::default())
        .unwrap();
    let err = TrustStore::load(&dir.path("unsigned.json"), &options).unwrap_err();
    assert_eq!(err.policy_code(), Some(PolicyCode::VerificationUnsigned));
    let other: VerifyKey = key(4).public_key().clone().into();
    let err = TrustStore::load(
        &dir.path("signers.json"),
        &TrustStoreOptions {
            verify_key: Some(&other),
            ..TrustStoreOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err.policy_code(),
        Some(PolicyCode::VerificationSignerIdentityMismatch)
    );
}

#[test]
fn validity_windows_and_floor() {
    let dir = TempDir::new("validity");
    let ed = SignKey::from(key(1));
    let public: VerifyKey = key(1).public_key().clone().into();
    let cases = [
        (
            "expired.json",
            window(-7200, -3600),
            None,
            PolicyCode::FreshnessNotCurrentlyValid,
        ),
        (
            "future.json",
            window(3600, 7200),
            None,
            PolicyCode::FreshnessNotCurrentlyValid,
        ),
        (
            "short.json",
            window(-60, 100),
            Some(3600),
            PolicyCode::FreshnessBelowMinRemainingValidity,
        ),
    ];
    for (name, validity, floor, expected) in cases {
        let path = dir.path(name);
        write(&path, Some(&ed), Some(&validity));
        assert_eq!(
            code(open(&path, Some(&public), None, floor)),
            (expected, 10),
            "{name}"
        );
    }
    let fresh = dir.path("fresh.json");
    write(&fresh, Some(&ed), Some(&window(-60, 7200)));
    let opened = open(&fresh, Some(&public), None, Some(3600)).unwrap();
    assert!(opened.check.validity_in_payload);
    assert_eq!(
        code(open(&fresh, Some(&public), None, Some(-1))),
        (PolicyCode::FreshnessInvalidMinRemainingValidity, 10)
    );

    let unbounded = dir.path("unbounded.json");
    write(&unbounded, Some(&ed), None);
    assert_eq!(
        code(open(&unbounded, Some(&public), None, Some(1))),
        (PolicyCode::FreshnessMissingExpiresAt, 10)
    );
}

#[test]
fn unsigned_validity_cannot_satisfy_a_floor_and_signed_validity_cannot_be_edited() {
    let s = samples();
    let public = VerifyKey::from_file(&s.join("pub.pem")).unwrap();
    // LQFT's snap.ed.json carries expires_at 2099 outside the signature.
    assert!(open(&s.join("snap.ed.json"), Some(&public), None, None).is_ok());
    assert_eq!(
        code(open(&s.join("snap.ed.json"), Some(&public), None, Some(60))),
        (PolicyCode::FreshnessMissingExpiresAt, 10)
    );

    let dir = TempDir::new("edit");
    let ed = SignKey::from(key(1));
    let our_public: VerifyKey = key(1).public_key().clone().into();
    let path = dir.path("expired.json");
    write(&path, Some(&ed), Some(&window(-7200, -3600)));
    let mut doc = read_json_file(&path, &Limits::default()).unwrap();
    doc["validity"]["expires_at"] = "2099-01-01T00:00:00Z".into();
    std::fs::write(&path, to_python_json(&doc, TextLayout::default())).unwrap();
    assert_eq!(
        code(open(&path, Some(&our_public), None, None)),
        (PolicyCode::SchemaInvalidValidityBlock, 16)
    );
    doc.as_object_mut().unwrap().remove("validity");
    std::fs::write(&path, to_python_json(&doc, TextLayout::default())).unwrap();
    assert_eq!(
        code(open(&path, Some(&our_public), None, None)),
        (PolicyCode::SchemaInvalidValidityBlock, 16)
    );
    // Without verification, the payload's window is not trusted for a floor either.
    let fresh = dir.path("fresh.json");
    write(&fresh, Some(&ed), Some(&window(-60, 7200)));
    assert_eq!(
        code(open(&fresh, None, None, Some(60))),
        (PolicyCode::FreshnessMissingExpiresAt, 10)
    );
}

#[test]
fn ed25519_is_verified_strictly() {
    // The identity point is a small-order key: with R = identity and S = 0 the cofactorless
    // equation holds for every message, so a lax verifier accepts this forgery.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = Ed25519PublicKey::from_bytes(&identity).unwrap();
    let mut forged_sig = [0u8; 64];
    forged_sig[0] = 1;
    let dir = TempDir::new("strict");
    let path = dir.path("forged.json");
    write(&path, None, None);
    let mut doc = read_json_file(&path, &Limits::default()).unwrap();
    doc["signature"] = serde_json::json!({
        "algorithm": "ed25519",
        "key_id": weak.key_id(),
        "public_key_sha256": weak.public_key_sha256(),
        "payload_ed25519": lqft::formats::base64::encode(&forged_sig),
    });
    std::fs::write(&path, to_python_json(&doc, TextLayout::default())).unwrap();
    let verify: VerifyKey = weak.into();
    assert_eq!(
        code(open(&path, Some(&verify), None, None)),
        (PolicyCode::VerificationSignatureMismatch, 12)
    );
}

#[test]
fn hmac_mismatch_in_the_last_byte_and_uppercase_hex_are_rejected() {
    let dir = TempDir::new("hmac");
    let path = dir.path("h.json");
    write(&path, Some(&SignKey::from_material(b"k").unwrap()), None);
    let secret = VerifyKey::from_material(b"k").unwrap();
    let doc = read_json_file(&path, &Limits::default()).unwrap();
    let mac = doc["signature"]["payload_hmac_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    for bad in [
        format!(
            "{}{}",
            &mac[..63],
            if mac.ends_with('0') { '1' } else { '0' }
        ),
        mac.to_uppercase(),
    ] {
        if bad == mac {
            continue;
        }
        let mut d = doc.clone();
        d["signature"]["payload_hmac_sha256"] = bad.into();
        std::fs::write(&path, to_python_json(&d, TextLayout::default())).unwrap();
        assert_eq!(
            code(open(&path, Some(&secret), None, None)),
            (PolicyCode::VerificationSignatureMismatch, 12)
        );
    }
}

#[test]
fn missing_key_files_are_errors_and_secrets_stay_out_of_manifests_and_reports() {
    let dir = TempDir::new("keys");
    let missing = dir.path("no-such-key.pem");
    assert_eq!(
        VerifyKey::from_file(&missing).unwrap_err().kind(),
        ErrorKind::Io
    );
    assert_eq!(
        SignKey::from_file(&missing).unwrap_err().kind(),
        ErrorKind::Io
    );

    let manifest = StorageEngineManifest {
        checkpoint_path: Some("ckpt/checkpoint.json".into()),
        wal_path: None,
        wal_fsync: true,
        checkpoint_retain_last: None,
        checkpoint_policy: CheckpointPolicy {
            sign_key_path: Some("no-such-key.pem".into()),
            ..CheckpointPolicy::default()
        },
        indent: 2,
        sort_keys: false,
        exported_at_ns: 1,
    };
    let path = dir.path("engine.json");
    assert!(manifest.write(&path, &WriteOptions::default()).is_err());
    assert!(!path.exists());
    // A manifest naming a missing key (written by someone else) fails to load its keys.
    let mut payload = manifest.to_json();
    payload["checkpoint_policy"]["sign_key_path"] = "hunter2".into();
    write_persisted_file(&path, payload, &WriteOptions::default()).unwrap();
    let opened = read_persisted_file(&path, &VerifyOptions::default(), &Limits::default()).unwrap();
    let parsed = StorageEngineManifest::from_json(&opened.payload).unwrap();
    assert_eq!(
        parsed
            .checkpoint_policy
            .load_keys(&dir.0, &Limits::default())
            .unwrap_err()
            .kind(),
        ErrorKind::Io
    );

    // Reports never echo a secret or a MAC.
    let secret = b"correct horse battery staple";
    let signed = dir.path("signed.json");
    write(
        &signed,
        Some(&SignKey::from_material(secret).unwrap()),
        None,
    );
    let mac =
        read_json_file(&signed, &Limits::default()).unwrap()["signature"]["payload_hmac_sha256"]
            .as_str()
            .unwrap()
            .to_owned();
    for verify in [&secret[..], b"wrong secret text"] {
        let report = inspect_persisted_file(
            &signed,
            &InspectOptions {
                verify_key: Some(verify),
                ..InspectOptions::default()
            },
        )
        .unwrap();
        let text = report.to_string();
        assert!(
            !text.contains("correct horse")
                && !text.contains("wrong secret")
                && !text.contains(&mac),
            "{text}"
        );
    }
    let err = open(
        &signed,
        Some(&VerifyKey::from_material(b"wrong secret text").unwrap()),
        None,
        None,
    )
    .unwrap_err();
    assert!(!err.to_string().contains("wrong secret"));
    assert!(!format!("{:?}", VerifyKey::from_material(secret).unwrap()).contains("horse"));
}

#[test]
fn private_keys_are_written_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("perm");
    let files = lqft::formats::keypair::write_ed25519_keypair(
        &dir.path("k.pem"),
        &dir.path("k.pub.pem"),
        false,
    )
    .unwrap();
    let mode = std::fs::metadata(&files.private_path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let private =
        Ed25519PrivateKey::from_pem(&std::fs::read(&files.private_path).unwrap()).unwrap();
    assert_eq!(private.public_key().key_id(), files.key_id);
    let public = Ed25519PublicKey::from_pem(&std::fs::read(&files.public_path).unwrap()).unwrap();
    assert_eq!(public.key_id(), files.key_id);
    assert!(
        lqft::formats::keypair::write_ed25519_keypair(
            &dir.path("k.pem"),
            &dir.path("x.pem"),
            false
        )
        .is_err()
    );
}

#[test]
fn caps_bound_gzip_bombs_deep_json_and_oversize_files() {
    let dir = TempDir::new("caps");
    let limits = Limits {
        max_file_bytes: 1 << 20,
        max_decompressed_bytes: 1 << 20,
        max_json_depth: 64,
    };
    let bomb = dir.path("bomb.json.gz");
    // One gzip member of 1 MiB of spaces, repeated: 256 MiB once inflated.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![b' '; 1 << 20]).unwrap();
    let member = encoder.finish().unwrap();
    std::fs::write(&bomb, member.repeat(256)).unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < limits.max_file_bytes);
    let err = read_persisted_file(&bomb, &VerifyOptions::default(), &limits).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit, "{err}");

    let deep = dir.path("deep.json");
    std::fs::write(
        &deep,
        format!("{}{}", "[".repeat(200_000), "]".repeat(200_000)),
    )
    .unwrap();
    let err =
        read_persisted_file(&deep, &VerifyOptions::default(), &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit);

    let big = dir.path("big.json");
    std::fs::write(&big, vec![b' '; (2 << 20) as usize]).unwrap();
    let err = read_persisted_file(&big, &VerifyOptions::default(), &limits).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit);
}

#[test]
fn manifest_paths_cannot_escape_their_directory() {
    let dir = TempDir::new("paths");
    std::fs::create_dir_all(dir.path("inner")).unwrap();
    std::fs::write(dir.path("outside.pem"), key(1).public_key().to_pem()).unwrap();
    for bad in ["../outside.pem", "/etc/passwd", "a/../../outside.pem"] {
        let payload = serde_json::json!({"signers": [{"path": bad}]});
        let path = dir.path("inner/signers.json");
        std::fs::write(&path, payload.to_string()).unwrap();
        let err = TrustStore::load(&path, &TrustStoreOptions::default()).unwrap_err();
        assert_eq!(
            err.policy_code(),
            Some(PolicyCode::SchemaInvalidTrustStoreManifest),
            "{bad}: {err}"
        );
    }
    std::os::unix::fs::symlink(dir.path("outside.pem"), dir.path("inner/link.pem")).unwrap();
    let path = dir.path("inner/signers.json");
    std::fs::write(
        &path,
        serde_json::json!({"signers": [{"path": "link.pem"}]}).to_string(),
    )
    .unwrap();
    assert!(TrustStore::load(&path, &TrustStoreOptions::default()).is_err());

    let mut payload = read_json_file(&samples().join("engine-manifest.json"), &Limits::default())
        .unwrap()["payload"]
        .clone();
    payload["storage"]["wal_path"] = "../../var/wal.jsonl".into();
    let err = StorageEngineManifest::from_json(&payload).unwrap_err();
    assert_eq!(
        err.policy_code(),
        Some(PolicyCode::SchemaInvalidStorageEngineManifest)
    );
    assert_eq!(err.exit_code(), 16);
}

#[test]
fn non_envelope_documents_and_bad_blocks_get_schema_codes() {
    let dir = TempDir::new("schema");
    let list = dir.path("list.json");
    std::fs::write(&list, "[1, 2]").unwrap();
    assert_eq!(
        code(open(&list, None, None, None)),
        (PolicyCode::SchemaInvalidDocument, 16)
    );
    let mut doc = read_json_file(&samples().join("snap.json"), &Limits::default()).unwrap();
    doc["integrity"]["payload_sha256"] = "00".into();
    let path = dir.path("sum.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    assert_eq!(
        code(open(&path, None, None, None)),
        (PolicyCode::IntegrityChecksumMismatch, 15)
    );
    doc["integrity"] = "x".into();
    std::fs::write(&path, doc.to_string()).unwrap();
    assert_eq!(
        code(open(&path, None, None, None)),
        (PolicyCode::SchemaInvalidIntegrityBlock, 16)
    );
    let _ = Duration::ZERO;
}
