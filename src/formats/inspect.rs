//! Inspection reports with LQFT's keys: what a file is, whether it would load under a
//! policy, and why not. Policy failures are reported, not raised; only unreadable files
//! (I/O, malformed JSON or gzip, caps) are errors.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::engine_manifest::{ShardedStorageEngineManifest, StorageEngineManifest};
use super::envelope::{PERSISTED_FILE_FORMAT, Verification, VerifyOptions, check_document};
use super::error::{Error, Result};
use super::file_io::read_json_file;
use super::keys::VerifyKey;
use super::limits::Limits;
use super::policy::{PolicyCode, classify_policy_error};
use super::trust_store::{
    TrustStore, TrustStoreOptions, TrustedSigner, load_directory, load_manifest_payload,
    manifest_dir, manifest_signers, missing_source,
};
use super::validity::{ValiditySummary, now_micros, summarize, validate_floor};

/// The policy an inspection evaluates.
#[derive(Clone, Copy, Debug, Default)]
pub struct InspectOptions<'a> {
    /// Verify-key material (PEM public key or HMAC secret), parsed during the check so that
    /// a bad key is reported like any other policy failure.
    pub verify_key: Option<&'a [u8]>,
    /// Trust store path: the file's trusted signers, or for a trust-store inspection the
    /// trusted manifest signers.
    pub trusted_signers: Option<&'a Path>,
    /// Freshness floor.
    pub min_remaining_validity_seconds: Option<i64>,
    /// Caps on reading.
    pub limits: Limits,
}

impl InspectOptions<'_> {
    fn verification_requested(&self) -> bool {
        self.verify_key.is_some() || self.trusted_signers.is_some()
    }

    fn mode(&self, trusted_mode: &str) -> String {
        if self.trusted_signers.is_some() {
            trusted_mode.to_owned()
        } else if self.verify_key.is_some() {
            "direct-key".to_owned()
        } else {
            "none".to_owned()
        }
    }
}

fn code_of(error: &Error) -> PolicyCode {
    error
        .policy_code()
        .unwrap_or_else(|| classify_policy_error(error.message()))
}

fn python_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn policy_check(options: &InspectOptions<'_>, error: Option<&Error>) -> Value {
    json!({
        "verification_requested": options.verification_requested(),
        "min_remaining_validity_seconds": options.min_remaining_validity_seconds,
        "loadable": error.is_none(),
        "error": error.map(Error::message),
        "error_code": error.map(|e| code_of(e).as_str()),
        "error_code_is_fallback": error.is_some_and(|e| code_of(e).is_fallback()),
    })
}

fn effective_policy(
    options: &InspectOptions<'_>,
    mode: &str,
    freshness_required: bool,
    validity: &ValiditySummary,
    error: Option<&Error>,
) -> Value {
    let verification_required = mode != "none";
    let signer_trust_required = options.trusted_signers.is_some();
    let code = error.map(code_of);
    let component = code.map(PolicyCode::component);
    let verdict = |required: bool, failed: bool| -> Value {
        if !required {
            Value::Null
        } else {
            Value::Bool(!failed)
        }
    };
    let verification_error = matches!(component, Some("verification" | "signer_trust"));
    let signer_error = component == Some("signer_trust");
    let freshness_error = component == Some("freshness");
    let code_if = |cond: bool| {
        if cond {
            code.map(PolicyCode::as_str)
        } else {
            None
        }
    };
    json!({
        "status": if error.is_none() { "pass" } else { "fail" },
        "allowed": error.is_none(),
        "reason": error.map(Error::message),
        "reason_code": code.map(PolicyCode::as_str),
        "reason_code_is_fallback": code.is_some_and(PolicyCode::is_fallback),
        "verification": {
            "required": verification_required,
            "mode": mode,
            "passed": verdict(verification_required, verification_error),
            "code": code_if(verification_error && verification_required),
        },
        "signer_trust": {
            "required": signer_trust_required,
            "passed": verdict(signer_trust_required, signer_error),
            "code": code_if(signer_error && signer_trust_required),
        },
        "freshness": {
            "required": freshness_required,
            "passed": verdict(freshness_required, freshness_error),
            "min_remaining_validity_seconds": options.min_remaining_validity_seconds,
            "current_status": validity.status.as_str(),
            "code": code_if(freshness_error && freshness_required),
        },
    })
}

fn freshness_required(options: &InspectOptions<'_>, validity: &ValiditySummary) -> bool {
    options.min_remaining_validity_seconds.is_some()
        || validity.not_before.is_some()
        || validity.expires_at.is_some()
}

/// Runs LQFT's loader on `document` with the keys of `options` (parsed here, so key and
/// trust-store errors are reported as load errors).
fn check(document: &Value, options: &InspectOptions<'_>) -> Result<super::envelope::EnvelopeCheck> {
    validate_floor(options.min_remaining_validity_seconds)?;
    let verify_key = options
        .verify_key
        .map(VerifyKey::from_material)
        .transpose()?;
    let store = options
        .trusted_signers
        .map(|p| {
            let trust_options = TrustStoreOptions {
                limits: options.limits,
                ..TrustStoreOptions::default()
            };
            TrustStore::load(p, &trust_options)
        })
        .transpose()?;
    let verify = VerifyOptions {
        verify_key: verify_key.as_ref(),
        trusted_signers: store.as_ref(),
        min_remaining_validity_seconds: options.min_remaining_validity_seconds,
    };
    check_document(document, &verify, "persisted file")
}

fn signature_summary(document: &Value) -> (bool, Value) {
    match document.get("signature") {
        Some(Value::Object(block)) => {
            let mut summary: Map<String, Value> = block
                .iter()
                .filter(|(k, _)| *k != "payload_hmac_sha256" && *k != "payload_ed25519")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            summary.insert(
                "algorithm".into(),
                block.get("algorithm").cloned().unwrap_or(Value::Null),
            );
            (true, Value::Object(summary))
        }
        _ => (false, Value::Null),
    }
}

fn is_envelope(document: &Value) -> bool {
    document.get("format").and_then(Value::as_str) == Some(PERSISTED_FILE_FORMAT)
}

fn envelope_validity(document: &Value) -> ValiditySummary {
    if !is_envelope(document) {
        return ValiditySummary::unbounded();
    }
    let block = document
        .get("payload")
        .and_then(|p| p.get("validity"))
        .filter(|v| !v.is_null());
    let block = block.or_else(|| document.get("validity").filter(|v| !v.is_null()));
    summarize(block, "persisted file", now_micros()).unwrap_or_else(|_| ValiditySummary::invalid())
}

fn field(map: Option<&Value>, name: &str) -> Value {
    map.filter(|m| m.is_object())
        .and_then(|m| m.get(name))
        .cloned()
        .unwrap_or(Value::Null)
}

/// LQFT's payload summary.
pub fn payload_summary(payload: &Value) -> Value {
    let Value::Object(map) = payload else {
        return json!({"payload_format": null, "payload_type": python_type_name(payload)});
    };
    let format = map.get("format").cloned().unwrap_or(Value::Null);
    let mut out = Map::new();
    out.insert("payload_format".into(), format.clone());
    out.insert("payload_type".into(), "dict".into());
    let metadata = map.get("metadata");
    let storage = map.get("storage");
    let policy = map.get("checkpoint_policy");
    let mut put = |k: &str, v: Value| {
        out.insert(k.into(), v);
    };
    match format.as_str() {
        Some(super::snapshot::SNAPSHOT_FORMAT) => {
            put("snapshot_id", field(metadata, "snapshot_id"));
            put("generation", field(metadata, "generation"));
            put("size", field(metadata, "size"));
            put(
                "item_count",
                map.get("items")
                    .and_then(Value::as_array)
                    .map_or(Value::Null, |a| a.len().into()),
            );
        }
        Some(super::snapshot::BUNDLE_FORMAT) => {
            put(
                "snapshot_count",
                map.get("snapshots")
                    .and_then(Value::as_array)
                    .map_or(Value::Null, |a| a.len().into()),
            );
            put(
                "current_snapshot_id",
                field(metadata, "current_snapshot_id"),
            );
            put("exported_at_ns", field(metadata, "exported_at_ns"));
        }
        Some(super::engine_manifest::STORAGE_ENGINE_MANIFEST_FORMAT) => {
            put("checkpoint_path", field(storage, "checkpoint_path"));
            put("wal_path", field(storage, "wal_path"));
            put(
                "checkpoint_retain_last",
                field(storage, "checkpoint_retain_last"),
            );
            put("verify_key_path", field(policy, "verify_key_path"));
            put(
                "trusted_signers_path",
                field(policy, "trusted_signers_path"),
            );
        }
        Some(super::engine_manifest::SHARDED_STORAGE_ENGINE_MANIFEST_FORMAT) => {
            put(
                "shard_count",
                map.get("shard_count").cloned().unwrap_or(Value::Null),
            );
            put("checkpoint_dir", field(storage, "checkpoint_dir"));
            put("wal_dir", field(storage, "wal_dir"));
            put(
                "checkpoint_retain_last",
                field(storage, "checkpoint_retain_last"),
            );
            put("verify_key_path", field(policy, "verify_key_path"));
            put(
                "trusted_signers_path",
                field(policy, "trusted_signers_path"),
            );
        }
        _ => {}
    }
    Value::Object(out)
}

/// LQFT's `inspect_persisted_file` report, plus `validity_in_payload` (whether the reported
/// window is covered by the checksum and signature) and `verified_signer`.
pub fn inspect_persisted_file(path: &Path, options: &InspectOptions<'_>) -> Result<Value> {
    let document = read_json_file(path, &options.limits)?;
    let (signed, signature) = signature_summary(&document);
    let validity = envelope_validity(&document);
    let mut report = Map::new();
    report.insert("source".into(), path.to_string_lossy().into());
    if is_envelope(&document) {
        let payload = document.get("payload").unwrap_or(&Value::Null);
        let integrity = document.get("integrity");
        let declared = field(integrity, "payload_sha256");
        let verified = match (payload, declared.as_str()) {
            (Value::Object(_), Some(d)) if !d.is_empty() => {
                use sha2::Digest;
                let digest = sha2::Sha256::digest(super::canonical_json::canonical_bytes(payload));
                super::hex::encode(&digest) == d
            }
            _ => false,
        };
        report.insert("source_type".into(), "persisted-file".into());
        report.insert(
            "compression".into(),
            document.get("compression").cloned().unwrap_or(Value::Null),
        );
        report.insert("signed".into(), signed.into());
        report.insert("signature".into(), signature);
        report.insert(
            "integrity".into(),
            json!({"algorithm": field(integrity, "algorithm"), "payload_sha256": declared, "verified": verified}),
        );
        report.insert("payload".into(), payload_summary(payload));
    } else {
        report.insert("source_type".into(), "raw-payload".into());
        report.insert("compression".into(), "none".into());
        report.insert("signed".into(), false.into());
        report.insert("signature".into(), Value::Null);
        report.insert(
            "integrity".into(),
            json!({"algorithm": null, "payload_sha256": null, "verified": false}),
        );
        report.insert("payload".into(), payload_summary(&document));
    }
    report.insert("validity".into(), validity.to_json());
    let outcome = check(&document, options);
    let error = outcome.as_ref().err();
    let (in_payload, signer) = match &outcome {
        Ok(c) => (
            c.validity_in_payload,
            match &c.verification {
                Verification::Ed25519 { key_id } => Value::String(key_id.clone()),
                _ => Value::Null,
            },
        ),
        Err(_) => (false, Value::Null),
    };
    report.insert("validity_in_payload".into(), in_payload.into());
    report.insert("verified_signer".into(), signer);
    report.insert("policy_check".into(), policy_check(options, error));
    let mode = options.mode("trusted-signers");
    report.insert(
        "effective_policy".into(),
        effective_policy(
            options,
            &mode,
            freshness_required(options, &validity),
            &validity,
            error,
        ),
    );
    Ok(Value::Object(report))
}

/// Which storage-engine manifest an inspection validates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestKind {
    /// `lqft-storage-engine-manifest-v1`.
    Single,
    /// `lqft-sharded-storage-engine-manifest-v1`.
    Sharded,
}

fn manifest_summary(payload: &Value, kind: ManifestKind) -> Value {
    let Value::Object(map) = payload else {
        return json!({"manifest_format": null, "manifest_type": python_type_name(payload)});
    };
    let storage = map.get("storage");
    let policy = map.get("checkpoint_policy");
    let serialization = map.get("serialization");
    let mut out = Map::new();
    out.insert(
        "manifest_format".into(),
        map.get("format").cloned().unwrap_or(Value::Null),
    );
    if kind == ManifestKind::Sharded {
        out.insert(
            "shard_count".into(),
            map.get("shard_count").cloned().unwrap_or(Value::Null),
        );
        out.insert("checkpoint_dir".into(), field(storage, "checkpoint_dir"));
        out.insert("wal_dir".into(), field(storage, "wal_dir"));
    } else {
        out.insert("checkpoint_path".into(), field(storage, "checkpoint_path"));
        out.insert("wal_path".into(), field(storage, "wal_path"));
    }
    out.insert("wal_fsync".into(), field(storage, "wal_fsync"));
    out.insert(
        "checkpoint_retain_last".into(),
        field(storage, "checkpoint_retain_last"),
    );
    for key in [
        "sign_key_path",
        "verify_key_path",
        "trusted_signers_path",
        "min_remaining_validity_seconds",
    ] {
        out.insert(key.into(), field(policy, key));
    }
    out.insert(
        "has_validity_policy".into(),
        (!field(policy, "validity").is_null()).into(),
    );
    out.insert("indent".into(), field(serialization, "indent"));
    out.insert("sort_keys".into(), field(serialization, "sort_keys"));
    if kind == ManifestKind::Sharded {
        out.insert(
            "shard_manifest_count".into(),
            map.get("shards")
                .and_then(Value::as_array)
                .map_or(Value::Null, |a| a.len().into()),
        );
    }
    Value::Object(out)
}

/// LQFT's `inspect_storage_engine_manifest` / `inspect_sharded_storage_engine_manifest`; a
/// path that leads out of the manifest's directory (through `..`, an absolute path or a
/// symlink) fails the policy.
pub fn inspect_storage_engine_manifest(
    path: &Path,
    kind: ManifestKind,
    options: &InspectOptions<'_>,
) -> Result<Value> {
    let document = read_json_file(path, &options.limits)?;
    let (signed, signature) = signature_summary(&document);
    let validity = envelope_validity(&document);
    let mut payload = if is_envelope(&document) {
        document.get("payload").cloned().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let outcome = check(&document, options).and_then(|c| {
        let extracted = if c.is_envelope {
            document.get("payload").cloned().unwrap_or(Value::Null)
        } else {
            document.clone()
        };
        let dir = manifest_dir(path);
        match kind {
            ManifestKind::Single => StorageEngineManifest::from_json(&extracted)?.check_paths(dir),
            ManifestKind::Sharded => {
                ShardedStorageEngineManifest::from_json(&extracted)?.check_paths(dir)
            }
        }?;
        Ok(extracted)
    });
    let error = match outcome {
        Ok(extracted) => {
            payload = extracted;
            None
        }
        Err(e) => Some(e),
    };
    let source_type = match kind {
        ManifestKind::Single => "storage-engine-manifest",
        ManifestKind::Sharded => "sharded-storage-engine-manifest",
    };
    let mode = options.mode("trusted-signers");
    Ok(json!({
        "path": path.to_string_lossy(),
        "source_type": source_type,
        "signed": signed,
        "signature": signature,
        "validity": validity.to_json(),
        "manifest": manifest_summary(&payload, kind),
        "payload": payload_summary(&payload),
        "policy_check": policy_check(options, error.as_ref()),
        "effective_policy": effective_policy(options, &mode, freshness_required(options, &validity), &validity, error.as_ref()),
    }))
}

fn signer_summaries(signers: &[&TrustedSigner]) -> Value {
    let mut list: Vec<(String, &TrustedSigner)> =
        signers.iter().map(|s| (s.key.key_id(), *s)).collect();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(
        list.into_iter()
            .map(|(key_id, s)| {
                json!({
                    "key_id": key_id,
                    "algorithm": "ed25519",
                    "public_key_sha256": s.key.public_key_sha256(),
                    "metadata": s.metadata,
                })
            })
            .collect(),
    )
}

/// LQFT's `inspect_signer_trust_store`; `options.trusted_signers` is the trust store of
/// manifest signers.
pub fn inspect_signer_trust_store(source: &Path, options: &InspectOptions<'_>) -> Result<Value> {
    let verification_error = |options: &InspectOptions<'_>| -> Result<Option<VerifyKey>> {
        options.verify_key.map(VerifyKey::from_material).transpose()
    };
    let load_trusted = |options: &InspectOptions<'_>| -> Result<Option<TrustStore>> {
        options
            .trusted_signers
            .map(|p| {
                let o = TrustStoreOptions {
                    limits: options.limits,
                    ..TrustStoreOptions::default()
                };
                TrustStore::load(p, &o)
            })
            .transpose()
    };
    let mode = options.mode("trusted-manifest-signers");
    if source.is_dir() {
        let outcome = (|| {
            let key = verification_error(options)?;
            let trusted = load_trusted(options)?;
            let o = TrustStoreOptions {
                verify_key: key.as_ref(),
                trusted_manifest_signers: trusted.as_ref(),
                min_remaining_validity_seconds: options.min_remaining_validity_seconds,
                limits: options.limits,
                include_revoked: false,
            };
            TrustStore::load(source, &o)
        })();
        let store = match &outcome {
            Ok(s) => s.clone(),
            Err(_) => load_directory(source).unwrap_or_default(),
        };
        let error = outcome.err();
        let signers: Vec<&TrustedSigner> = store.iter().map(|(_, s)| s).collect();
        let validity = ValiditySummary::unbounded();
        return Ok(json!({
            "source": source.to_string_lossy(),
            "source_type": "directory",
            "signed": false,
            "signature": null,
            "validity": validity.to_json(),
            "active_signer_count": signers.len(),
            "revoked_signer_count": 0,
            "active_signers": signer_summaries(&signers),
            "revoked_signers": [],
            "policy_check": policy_check(options, error.as_ref()),
            "effective_policy": effective_policy(options, &mode, false, &validity, error.as_ref()),
        }));
    }
    if !source.exists() {
        return Err(missing_source(source));
    }
    let document = read_json_file(source, &options.limits)?;
    let (signed, signature) = if is_envelope(&document) {
        signature_summary(&document)
    } else {
        (false, Value::Null)
    };
    let outcome = (|| {
        let floor = validate_floor(options.min_remaining_validity_seconds)?;
        let key = verification_error(options)?;
        let trusted = load_trusted(options)?;
        let o = TrustStoreOptions {
            verify_key: key.as_ref(),
            trusted_manifest_signers: trusted.as_ref(),
            min_remaining_validity_seconds: options.min_remaining_validity_seconds,
            limits: options.limits,
            include_revoked: false,
        };
        let manifest = load_manifest_payload(source, &o, floor)?;
        let all = manifest_signers(&manifest.payload, manifest_dir(source))?;
        TrustStore::load(source, &o)?;
        Ok::<_, Error>((manifest.validity, all))
    })();
    let (validity, all, error) = match outcome {
        Ok((validity, all)) => (validity, all, None),
        Err(e) => {
            let candidate = if is_envelope(&document) {
                document.get("payload").cloned().unwrap_or(Value::Null)
            } else {
                document.clone()
            };
            match candidate {
                Value::Object(payload) => {
                    let validity = summarize(
                        payload.get("validity"),
                        "trust store manifest",
                        now_micros(),
                    )
                    .unwrap_or_else(|_| ValiditySummary::invalid());
                    let all = manifest_signers(&payload, manifest_dir(source)).unwrap_or_default();
                    (validity, all, Some(e))
                }
                _ => (ValiditySummary::invalid(), Vec::new(), Some(e)),
            }
        }
    };
    let active: Vec<&TrustedSigner> = all.iter().filter(|s| !s.revoked).collect();
    let revoked: Vec<&TrustedSigner> = all.iter().filter(|s| s.revoked).collect();
    Ok(json!({
        "source": source.to_string_lossy(),
        "source_type": "manifest",
        "signed": signed,
        "signature": signature,
        "validity": validity.to_json(),
        "active_signer_count": active.len(),
        "revoked_signer_count": revoked.len(),
        "active_signers": signer_summaries(&active),
        "revoked_signers": signer_summaries(&revoked),
        "policy_check": policy_check(options, error.as_ref()),
        "effective_policy": effective_policy(options, &mode, freshness_required(options, &validity), &validity, error.as_ref()),
    }))
}
