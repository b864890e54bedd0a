//! A stable-toolchain byte-mutation fuzz run of every parser over LQFT's sample files:
//! deterministic xorshift mutations, thousands of iterations, no panics allowed.

use std::path::{Path, PathBuf};

use lqft::formats::der_pem::{parse_pem, parse_private_key_der, parse_public_key_der};
use lqft::formats::engine_manifest::{ShardedStorageEngineManifest, StorageEngineManifest};
use lqft::formats::envelope::open_document;
use lqft::formats::file_io::{gunzip_capped, parse_json};
use lqft::formats::inspect::{InspectOptions, inspect_persisted_file, inspect_signer_trust_store};
use lqft::formats::validity::parse_iso8601_micros;
use lqft::formats::{
    BundlePayload, CurrentStatePayload, Limits, SnapshotPayload, TrustStore, TrustStoreOptions,
    VerifyKey, VerifyOptions, base64,
};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\"", b"\\", b"{", b"}", b"[", b"]", b",", b":", b"0", b"-1", b"1e999", b"null", b"true",
    b"\\u0000", b"\\ud800", b"\xff", b"=", b"-----",
];

fn mutate(rng: &mut XorShift, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] = rng.next() as u8;
            }
            2 => out.insert(at, rng.next() as u8),
            3 if at < out.len() => {
                let end = (at + rng.below(16) + 1).min(out.len());
                out.drain(at..end);
            }
            4 => {
                let token = INTERESTING[rng.below(INTERESTING.len())];
                out.splice(at..at, token.iter().copied());
            }
            5 if !out.is_empty() => {
                let start = rng.below(out.len());
                let end = (start + rng.below(32) + 1).min(out.len());
                let chunk = out[start..end].to_vec();
                out.splice(at..at, chunk);
            }
            _ => out.truncate(at),
        }
    }
    out
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lqft-1.2.2")
}

fn parse_everything(bytes: &[u8], keys: &[Option<VerifyKey>]) {
    let limits = Limits {
        max_file_bytes: 1 << 20,
        max_decompressed_bytes: 1 << 20,
        max_json_depth: 64,
    };
    let _ = gunzip_capped(bytes, 1 << 20);
    let Ok(doc) = parse_json(bytes, &limits) else {
        return;
    };
    for key in keys {
        let options = VerifyOptions {
            verify_key: key.as_ref(),
            min_remaining_validity_seconds: Some(0),
            ..VerifyOptions::default()
        };
        let _ = open_document(doc.clone(), &options);
    }
    if let Ok(opened) = open_document(doc.clone(), &VerifyOptions::default()) {
        let payload = opened.payload;
        let _ = SnapshotPayload::from_json(&payload, 0);
        let _ = BundlePayload::from_json(&payload, 0);
        let _ = CurrentStatePayload::from_json(&payload);
        let _ = StorageEngineManifest::from_json(&payload);
        let _ = ShardedStorageEngineManifest::from_json(&payload);
    }
    if let Some(text) = doc.pointer("/validity/expires_at").and_then(|v| v.as_str()) {
        let _ = parse_iso8601_micros(text);
    }
}

#[test]
fn json_documents_never_panic() {
    let dir = samples();
    let keys = [
        None,
        Some(VerifyKey::from_file(&dir.join("pub.pem")).unwrap()),
        Some(VerifyKey::from_material(b"shared-secret").unwrap()),
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut iterations = 0;
    for name in [
        "snap.json",
        "snap.hmac.json",
        "snap.ed.json",
        "bundle.json",
        "engine-manifest.json",
        "sharded-manifest.json",
        "trusted-signers.json",
        "snap.json.gz",
    ] {
        let original = std::fs::read(dir.join(name)).unwrap();
        for _ in 0..1500 {
            parse_everything(&mutate(&mut rng, &original), &keys);
            iterations += 1;
        }
    }
    assert_eq!(iterations, 12_000);
}

#[test]
fn keys_timestamps_and_base64_never_panic() {
    let dir = samples();
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    let inputs = [
        std::fs::read(dir.join("pub.pem")).unwrap(),
        std::fs::read(dir.join("priv.pem")).unwrap(),
        b"2020-01-01T00:00:00.123456+05:30".to_vec(),
        b"ElrILDfAPO28+EbWs9zVYvWo3/sjhsplvTdZmHqsy6kOnQMpr95gIKX9KVFHqSNL/OYm0mtVTW7oUyjXf8T1CA=="
            .to_vec(),
    ];
    for input in &inputs {
        for _ in 0..3000 {
            let m = mutate(&mut rng, input);
            let _ = VerifyKey::from_material(&m);
            let _ = lqft::formats::SignKey::from_material(&m);
            if let Some(block) = parse_pem(&m) {
                let _ = parse_private_key_der(&block.der);
                let _ = parse_public_key_der(&block.der);
            }
            let _ = parse_private_key_der(&m);
            let _ = parse_public_key_der(&m);
            let text = String::from_utf8_lossy(&m);
            let _ = parse_iso8601_micros(&text);
            let _ = base64::decode(&text);
        }
    }
}

#[test]
fn file_level_readers_never_panic() {
    let dir = samples();
    let scratch = std::env::temp_dir().join(format!("lqft-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(scratch.join("trust")).unwrap();
    std::fs::copy(
        dir.join("trust/producer-a.pem"),
        scratch.join("trust/producer-a.pem"),
    )
    .unwrap();
    let public = std::fs::read(dir.join("pub.pem")).unwrap();
    let mut rng = XorShift(0xdead_beef_cafe_f00d);
    for name in ["trusted-signers.json", "snap.ed.json"] {
        let original = std::fs::read(dir.join(name)).unwrap();
        let target = scratch.join(name);
        for _ in 0..300 {
            std::fs::write(&target, mutate(&mut rng, &original)).unwrap();
            let key = VerifyKey::from_material(&public).unwrap();
            let options = TrustStoreOptions {
                verify_key: Some(&key),
                ..TrustStoreOptions::default()
            };
            let _ = TrustStore::load(&target, &options);
            let _ = TrustStore::load(&target, &TrustStoreOptions::default());
            let inspect = InspectOptions {
                verify_key: Some(&public),
                ..InspectOptions::default()
            };
            let _ = inspect_signer_trust_store(&target, &inspect);
            let _ = inspect_persisted_file(&target, &inspect);
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
