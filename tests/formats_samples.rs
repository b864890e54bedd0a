//! LQFT 1.2.2's own sample files load and verify, byte for byte.

use std::path::{Path, PathBuf};

use lqft::formats::canonical_json::canonical_bytes;
use lqft::formats::engine_manifest::{ShardedStorageEngineManifest, StorageEngineManifest};
use lqft::formats::file_io::{read_document_bytes, read_json_file};
use lqft::formats::python_json::{TextLayout, to_python_json};
use lqft::formats::{
    BundlePayload, Limits, PolicyCode, SnapshotPayload, TrustStore, TrustStoreOptions,
    Verification, VerifyKey, VerifyOptions, read_persisted_file,
};
use sha2::{Digest, Sha256};

/// The in-repo copy, and the shared reference copy when it is present beside the repo.
fn sample_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("tests/data/lqft-1.2.2")];
    let shared = root.join("../shared/reference/lqft-1.2.2-samples");
    if shared.is_dir() {
        dirs.push(shared);
    }
    dirs
}

const ENVELOPES: [&str; 8] = [
    "snap.json",
    "snap.json.gz",
    "snap.hmac.json",
    "snap.ed.json",
    "bundle.json",
    "engine-manifest.json",
    "sharded-manifest.json",
    "trusted-signers.json",
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn key(material: &[u8]) -> VerifyKey {
    VerifyKey::from_material(material).unwrap()
}

fn pub_key(dir: &Path) -> VerifyKey {
    VerifyKey::from_file(&dir.join("pub.pem")).unwrap()
}

#[test]
fn every_payload_sha256_recomputes_exactly() {
    for dir in sample_dirs() {
        for name in ENVELOPES {
            let doc = read_json_file(&dir.join(name), &Limits::default()).unwrap();
            let declared = doc["integrity"]["payload_sha256"].as_str().unwrap();
            let actual = hex(&Sha256::digest(canonical_bytes(&doc["payload"])));
            assert_eq!(actual, declared, "{name}");
        }
    }
}

#[test]
fn file_text_layout_is_byte_identical_to_lqft() {
    for dir in sample_dirs() {
        for name in ENVELOPES.iter().filter(|n| !n.ends_with(".gz")) {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).unwrap();
            let doc = read_json_file(&path, &Limits::default()).unwrap();
            assert_eq!(to_python_json(&doc, TextLayout::default()), bytes, "{name}");
        }
        let gz = read_document_bytes(&dir.join("snap.json.gz"), &Limits::default()).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&gz).unwrap();
        assert_eq!(doc["compression"], "gzip");
        assert_eq!(to_python_json(&doc, TextLayout::default()), gz);
    }
}

fn snapshot_2(payload: serde_json::Value) {
    let snap = SnapshotPayload::from_json(&payload, 0).unwrap();
    assert_eq!(snap.metadata.snapshot_id, 2);
    assert_eq!(snap.metadata.parent_snapshot_id, Some(1));
    assert_eq!(snap.metadata.created_at_ns, 1_795_420_394_902_089_498);
    assert_eq!(snap.items, vec![(b"beta".to_vec(), b"value-b2".to_vec())]);
    assert_eq!(
        serde_json::Value::Object(snap.to_json()),
        serde_json::from_str::<serde_json::Value>(
            r#"{"format":"lqft-snapshot-v1","metadata":{"snapshot_id":2,"generation":2,
            "parent_snapshot_id":1,"created_at_ns":1795420394902089498,
            "created_at":"2026-11-23T07:53:14.902090+00:00","mutation_count":2,"delta_size":2,
            "size":1},"items":[{"key":"beta","value":"value-b2"}]}"#
        )
        .unwrap()
    );
}

#[test]
fn snapshots_load_and_verify_with_their_keys() {
    let limits = Limits::default();
    for dir in sample_dirs() {
        for name in ["snap.json", "snap.json.gz"] {
            let opened =
                read_persisted_file(&dir.join(name), &VerifyOptions::default(), &limits).unwrap();
            assert_eq!(opened.check.verification, Verification::NotRequested);
            snapshot_2(opened.payload);
        }
        let secret = key(b"shared-secret");
        let options = VerifyOptions {
            verify_key: Some(&secret),
            ..VerifyOptions::default()
        };
        let opened = read_persisted_file(&dir.join("snap.hmac.json"), &options, &limits).unwrap();
        assert_eq!(opened.check.verification, Verification::Hmac);
        snapshot_2(opened.payload);

        let public = pub_key(&dir);
        let options = VerifyOptions {
            verify_key: Some(&public),
            ..VerifyOptions::default()
        };
        let opened = read_persisted_file(&dir.join("snap.ed.json"), &options, &limits).unwrap();
        let key_id = "sha256:b43865f45c3ea18fe644f93cf3881d792f39fb0ec81c6e4ec4eab72ce2857558";
        assert_eq!(
            opened.check.verification,
            Verification::Ed25519 {
                key_id: key_id.into()
            }
        );
        assert!(!opened.check.validity_in_payload);
        assert_eq!(
            opened.check.validity.expires_at.as_deref(),
            Some("2099-01-01T00:00:00+00:00")
        );
        snapshot_2(opened.payload);

        let store = TrustStore::load(&dir.join("trust"), &TrustStoreOptions::default()).unwrap();
        assert_eq!(store.len(), 1);
        assert!(store.get(key_id).is_some());
        let options = VerifyOptions {
            trusted_signers: Some(&store),
            ..VerifyOptions::default()
        };
        snapshot_2(
            read_persisted_file(&dir.join("snap.ed.json"), &options, &limits)
                .unwrap()
                .payload,
        );
    }
}

#[test]
fn bundle_and_manifests_load() {
    let limits = Limits::default();
    for dir in sample_dirs() {
        let opened =
            read_persisted_file(&dir.join("bundle.json"), &VerifyOptions::default(), &limits)
                .unwrap();
        let bundle = BundlePayload::from_json(&opened.payload, 0).unwrap();
        assert_eq!(bundle.current_snapshot_id, Some(2));
        assert_eq!(bundle.snapshots.len(), 2);
        assert_eq!(bundle.snapshots[0].items.len(), 2);
        assert_eq!(bundle.exported_at_ns, 1_795_420_394_935_970_154);

        let public = pub_key(&dir);
        let options = VerifyOptions {
            verify_key: Some(&public),
            ..VerifyOptions::default()
        };
        let opened =
            read_persisted_file(&dir.join("engine-manifest.json"), &options, &limits).unwrap();
        let manifest = StorageEngineManifest::from_json(&opened.payload).unwrap();
        assert_eq!(
            manifest.checkpoint_path.as_deref(),
            Some("ckpt/checkpoint.json.gz")
        );
        assert_eq!(manifest.checkpoint_retain_last, Some(2));
        assert_eq!(
            manifest.checkpoint_policy.sign_key_path.as_deref(),
            Some("priv.pem")
        );
        assert_eq!(
            serde_json::Value::Object(manifest.to_json()),
            opened.payload
        );
        let keys = manifest.checkpoint_policy.load_keys(&dir, &limits).unwrap();
        assert!(keys.sign_key.is_some() && keys.verify_key.is_some());

        let secret = VerifyKey::from_material(b"s3cret").unwrap();
        let options = VerifyOptions {
            verify_key: Some(&secret),
            ..VerifyOptions::default()
        };
        let opened =
            read_persisted_file(&dir.join("sharded-manifest.json"), &options, &limits).unwrap();
        let sharded = ShardedStorageEngineManifest::from_json(&opened.payload).unwrap();
        assert_eq!(sharded.shard_count, 2);
        let mut rebuilt = sharded.to_json();
        let mut original = opened.payload.as_object().unwrap().clone();
        // Each shard manifest carries its own export time, which a re-export does not keep.
        for doc in [&mut rebuilt, &mut original] {
            for shard in doc["shards"].as_array_mut().unwrap() {
                shard.as_object_mut().unwrap().remove("exported_at_ns");
            }
        }
        assert_eq!(rebuilt, original);
    }
}

#[test]
fn signed_trust_store_manifest_loads_with_its_key() {
    for dir in sample_dirs() {
        let public = pub_key(&dir);
        let options = TrustStoreOptions {
            verify_key: Some(&public),
            ..TrustStoreOptions::default()
        };
        let store = TrustStore::load(&dir.join("trusted-signers.json"), &options).unwrap();
        let (key_id, signer) = store.iter().next().unwrap();
        assert_eq!(
            key_id,
            "sha256:b43865f45c3ea18fe644f93cf3881d792f39fb0ec81c6e4ec4eab72ce2857558"
        );
        assert_eq!(signer.metadata["metadata"]["label"], "primary");
        assert_eq!(signer.metadata["revoked"], false);

        let by_store = TrustStore::load(&dir.join("trust"), &TrustStoreOptions::default()).unwrap();
        let options = TrustStoreOptions {
            trusted_manifest_signers: Some(&by_store),
            ..TrustStoreOptions::default()
        };
        assert_eq!(
            TrustStore::load(&dir.join("trusted-signers.json"), &options)
                .unwrap()
                .len(),
            1
        );

        let wrong = VerifyKey::from_material(b"not-the-key").unwrap();
        let options = TrustStoreOptions {
            verify_key: Some(&wrong),
            ..TrustStoreOptions::default()
        };
        let err = TrustStore::load(&dir.join("trusted-signers.json"), &options).unwrap_err();
        assert_eq!(
            err.policy_code(),
            Some(PolicyCode::VerificationAlgorithmMismatch)
        );
    }
}

#[test]
fn a_private_key_is_refused_for_verification() {
    for dir in sample_dirs() {
        let err = VerifyKey::from_file(&dir.join("priv.pem")).unwrap_err();
        assert_eq!(
            err.policy_code(),
            Some(PolicyCode::VerificationConfigurationError)
        );
        assert_eq!(err.exit_code(), 13);
    }
}
