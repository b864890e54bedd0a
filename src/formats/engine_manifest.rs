//! Storage-engine manifests: `lqft-storage-engine-manifest-v1` and
//! `lqft-sharded-storage-engine-manifest-v1`.
//!
//! Every path in a manifest is relative to the manifest's own directory and may not leave
//! it, once every symlink on the way is followed (LQFT resolved them against the process's
//! working directory and accepted anything). Decoding checks the form (plain relative names);
//! `check_paths` checks, against the file system, where they lead.
//! Key fields only ever hold paths: [`CheckpointPolicy::load_keys`] reads them and a missing
//! file is an error (LQFT used a missing path's text as an HMAC secret), and writing a
//! manifest checks that each named key file exists.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::envelope::{WriteOptions, write_persisted_file};
use super::error::{Error, Result};
use super::file_io::path_uses_gzip;
use super::keys::{SignKey, VerifyKey, read_key_file};
use super::limits::Limits;
use super::policy::PolicyCode;
use super::trust_store::{TrustStore, TrustStoreOptions, manifest_dir, resolve_inside};
use super::validity::{Validity, now_micros, summarize};
use crate::file::confine::is_plain_relative;
use crate::file::read::Links;

/// `format` of a storage-engine manifest.
pub const STORAGE_ENGINE_MANIFEST_FORMAT: &str = "lqft-storage-engine-manifest-v1";
/// `format` of a sharded storage-engine manifest.
pub const SHARDED_STORAGE_ENGINE_MANIFEST_FORMAT: &str = "lqft-sharded-storage-engine-manifest-v1";

/// An invalid manifest, with LQFT's code for it.
fn err(message: impl Into<String>) -> Error {
    Error::policy(PolicyCode::SchemaInvalidStorageEngineManifest, message)
}

/// An invalid manifest whose LQFT message matches none of LQFT's classification rules, so
/// LQFT reports it with its fallback code; kept for scripts that match on it.
fn unclassified(message: impl Into<String>) -> Error {
    Error::policy(PolicyCode::PolicyError, message)
}

/// How checkpoints are signed and verified.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Private key (PEM) or HMAC secret file that signs checkpoints.
    pub sign_key_path: Option<String>,
    /// Public key (PEM) or HMAC secret file that verifies checkpoints.
    pub verify_key_path: Option<String>,
    /// Trust store (directory or manifest) that verifies checkpoints.
    pub trusted_signers_path: Option<String>,
    /// Freshness floor for checkpoints.
    pub min_remaining_validity_seconds: Option<u64>,
    /// Validity written into checkpoints.
    pub validity: Option<Validity>,
}

/// Keys named by a [`CheckpointPolicy`], read from disk.
#[derive(Debug, Default)]
pub struct CheckpointKeys {
    /// From `sign_key_path`.
    pub sign_key: Option<SignKey>,
    /// From `verify_key_path`.
    pub verify_key: Option<VerifyKey>,
    /// From `trusted_signers_path`.
    pub trusted_signers: Option<TrustStore>,
}

impl CheckpointPolicy {
    fn from_json(map: &Map<String, Value>, what: &str) -> Result<CheckpointPolicy> {
        let path = |field: &str| path_field(map, field, what);
        let min_remaining_validity_seconds = match map.get("min_remaining_validity_seconds") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                err(format!(
                    "{what} min_remaining_validity_seconds must be a non-negative integer"
                ))
            })?),
        };
        let validity = match map.get("validity") {
            None | Some(Value::Null) => None,
            Some(block) => {
                let subject = format!("{what} checkpoint");
                summarize(Some(block), &subject, now_micros())?;
                let text = |f: &str| block.get(f).and_then(Value::as_str).map(str::to_owned);
                Some(Validity {
                    not_before: text("not_before"),
                    expires_at: text("expires_at"),
                    warn_before_expiry_seconds: block
                        .get("warn_before_expiry_seconds")
                        .and_then(Value::as_u64),
                })
            }
        };
        Ok(CheckpointPolicy {
            sign_key_path: path("sign_key_path")?,
            verify_key_path: path("verify_key_path")?,
            trusted_signers_path: path("trusted_signers_path")?,
            min_remaining_validity_seconds,
            validity,
        })
    }

    fn to_json(&self) -> Value {
        serde_json::json!({
            "sign_key_path": self.sign_key_path,
            "verify_key_path": self.verify_key_path,
            "trusted_signers_path": self.trusted_signers_path,
            "min_remaining_validity_seconds": self.min_remaining_validity_seconds,
            "validity": self.validity.as_ref().map(Validity::to_json),
        })
    }

    fn key_paths(&self) -> [(&'static str, Option<&String>); 3] {
        [
            ("sign_key_path", self.sign_key_path.as_ref()),
            ("verify_key_path", self.verify_key_path.as_ref()),
            ("trusted_signers_path", self.trusted_signers_path.as_ref()),
        ]
    }

    /// Reads the named keys relative to `manifest_dir`. A named file that does not exist is
    /// an error; nothing is ever used as key material except a file's content.
    pub fn load_keys(&self, manifest_dir: &Path, limits: &Limits) -> Result<CheckpointKeys> {
        let resolve = |p: &String| inside(manifest_dir, p, "checkpoint_policy");
        let key = |p: &String| read_key_file(&resolve(p)?, Links::Refuse);
        Ok(CheckpointKeys {
            sign_key: self
                .sign_key_path
                .as_ref()
                .map(|p| SignKey::from_material(&key(p)?))
                .transpose()?,
            verify_key: self
                .verify_key_path
                .as_ref()
                .map(|p| VerifyKey::from_material(&key(p)?))
                .transpose()?,
            trusted_signers: self
                .trusted_signers_path
                .as_ref()
                .map(|p| {
                    let options = TrustStoreOptions {
                        limits: *limits,
                        ..TrustStoreOptions::default()
                    };
                    TrustStore::load(&resolve(p)?, &options)
                })
                .transpose()?,
        })
    }

    fn check_key_files(&self, manifest_dir: &Path) -> Result<()> {
        for (field, path) in self.key_paths() {
            if let Some(p) = path {
                let resolved = inside(manifest_dir, p, "checkpoint_policy")?;
                if !resolved.exists() {
                    return Err(Error::key(format!(
                        "{field} names a file that does not exist: {}",
                        resolved.display()
                    )));
                }
            }
        }
        Ok(())
    }
}

fn escapes(field: &str, relative: &str) -> Error {
    err(format!(
        "storage engine manifest path escapes the manifest directory: {field} = {relative:?}"
    ))
}

/// The real path `relative` names inside `dir`, every symlink followed.
fn inside(dir: &Path, relative: &str, field: &str) -> Result<PathBuf> {
    resolve_inside(dir, relative)?.ok_or_else(|| escapes(field, relative))
}

/// Checks that every present path of `fields` stays inside `dir`.
fn confine_all(dir: &Path, fields: &[(&str, Option<&String>)]) -> Result<()> {
    for (field, path) in fields {
        if let Some(p) = path {
            inside(dir, p, field)?;
        }
    }
    Ok(())
}

/// A path member: a non-empty relative path of plain names (its confinement to the manifest's
/// directory, which needs the file system, is [`StorageEngineManifest::check_paths`]).
fn path_field(map: &Map<String, Value>, field: &str, what: &str) -> Result<Option<String>> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(p)) if !p.is_empty() => {
            if !is_plain_relative(Path::new(p)) {
                return Err(escapes(field, p));
            }
            Ok(Some(p.clone()))
        }
        Some(_) => Err(err(format!(
            "{what} {field} must be a non-empty path string or null"
        ))),
    }
}

fn object<'a>(
    map: &'a Map<String, Value>,
    field: &str,
    what: &str,
) -> Result<&'a Map<String, Value>> {
    match map.get(field) {
        Some(Value::Object(m)) => Ok(m),
        _ => Err(err(format!("{what} must include a {field} dictionary"))),
    }
}

fn bool_field(map: &Map<String, Value>, field: &str, default: bool, what: &str) -> Result<bool> {
    match map.get(field) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(err(format!("{what} {field} must be a boolean"))),
    }
}

fn retain_last(storage: &Map<String, Value>) -> Result<Option<u64>> {
    match storage.get("checkpoint_retain_last") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            unclassified("checkpoint_retain_last must be a non-negative integer or null")
        }),
    }
}

fn serialization(map: &Map<String, Value>, what: &str) -> Result<(u64, bool)> {
    let s = object(map, "serialization", what)?;
    let indent = match s.get("indent") {
        None => 2,
        Some(v) => v.as_u64().ok_or_else(|| {
            err(format!(
                "{what} serialization.indent must be a non-negative integer"
            ))
        })?,
    };
    Ok((indent, bool_field(s, "sort_keys", false, what)?))
}

/// A single-map storage engine's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageEngineManifest {
    /// Checkpoint bundle file.
    pub checkpoint_path: Option<String>,
    /// Write-ahead log file (never `.gz`).
    pub wal_path: Option<String>,
    /// fsync every WAL append.
    pub wal_fsync: bool,
    /// Snapshots kept at checkpoint.
    pub checkpoint_retain_last: Option<u64>,
    /// Checkpoint signing and verification.
    pub checkpoint_policy: CheckpointPolicy,
    /// Checkpoint file indent.
    pub indent: u64,
    /// Checkpoint file key sorting.
    pub sort_keys: bool,
    /// Export time, nanoseconds since the Unix epoch.
    pub exported_at_ns: u64,
}

impl StorageEngineManifest {
    /// Decodes and validates a payload (LQFT's `from_manifest` plus path confinement).
    pub fn from_json(payload: &Value) -> Result<StorageEngineManifest> {
        const WHAT: &str = "storage engine manifest";
        let Value::Object(map) = payload else {
            return Err(err("storage engine manifest payload must be a dictionary"));
        };
        if map.get("format").and_then(Value::as_str) != Some(STORAGE_ENGINE_MANIFEST_FORMAT) {
            return Err(err("unsupported storage engine manifest format"));
        }
        let storage = object(map, "storage", WHAT)?;
        let policy = object(map, "checkpoint_policy", WHAT)?;
        let (indent, sort_keys) = serialization(map, WHAT)?;
        let checkpoint_path = path_field(storage, "checkpoint_path", WHAT)?;
        let wal_path = path_field(storage, "wal_path", WHAT)?;
        if checkpoint_path.is_none() && wal_path.is_none() {
            return Err(unclassified(
                "storage engine requires at least one of checkpoint_path or wal_path",
            ));
        }
        if wal_path
            .as_deref()
            .is_some_and(|p| path_uses_gzip(Path::new(p)))
        {
            return Err(unclassified("storage engine WAL paths must not use gzip"));
        }
        Ok(StorageEngineManifest {
            checkpoint_path,
            wal_path,
            wal_fsync: bool_field(storage, "wal_fsync", true, WHAT)?,
            checkpoint_retain_last: retain_last(storage)?,
            checkpoint_policy: CheckpointPolicy::from_json(policy, WHAT)?,
            indent,
            sort_keys,
            exported_at_ns: map
                .get("exported_at_ns")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        })
    }

    /// The payload document.
    pub fn to_json(&self) -> Map<String, Value> {
        let value = serde_json::json!({
            "format": STORAGE_ENGINE_MANIFEST_FORMAT,
            "storage": {
                "checkpoint_path": self.checkpoint_path,
                "wal_path": self.wal_path,
                "wal_fsync": self.wal_fsync,
                "checkpoint_retain_last": self.checkpoint_retain_last,
            },
            "checkpoint_policy": self.checkpoint_policy.to_json(),
            "serialization": {"indent": self.indent, "sort_keys": self.sort_keys},
            "exported_at_ns": self.exported_at_ns,
        });
        match value {
            Value::Object(map) => map,
            _ => unreachable!("json! of an object literal is an object"),
        }
    }

    /// Validates and writes the manifest to `path`; every path it names must stay inside
    /// `path`'s directory and every key file it names must exist there.
    pub fn write(&self, path: &Path, options: &WriteOptions<'_>) -> Result<()> {
        let payload = Value::Object(self.to_json());
        StorageEngineManifest::from_json(&payload)?;
        self.check_paths(manifest_dir(path))?;
        self.checkpoint_policy.check_key_files(manifest_dir(path))?;
        write_persisted_file(path, self.to_json(), options)
    }

    /// Checks that every path of the manifest, once every symlink on the way is followed,
    /// stays inside `manifest_dir` (the directory of the manifest file, whatever the working
    /// directory).
    pub fn check_paths(&self, manifest_dir: &Path) -> Result<()> {
        confine_all(
            manifest_dir,
            &[
                ("checkpoint_path", self.checkpoint_path.as_ref()),
                ("wal_path", self.wal_path.as_ref()),
            ],
        )?;
        confine_all(manifest_dir, &self.checkpoint_policy.key_paths())
    }

    /// The real path (every symlink followed) that `relative` names from the manifest file's
    /// directory; a path that leads out of that directory is refused.
    pub fn resolve(manifest_path: &Path, relative: &str) -> Result<PathBuf> {
        inside(manifest_dir(manifest_path), relative, "path")
    }
}

/// A sharded storage engine's configuration; shard paths derive from the directories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardedStorageEngineManifest {
    /// Number of shards (> 0).
    pub shard_count: u64,
    /// Directory of `shard-NNNN.checkpoint.json.gz` files.
    pub checkpoint_dir: Option<String>,
    /// Directory of `shard-NNNN.wal` files.
    pub wal_dir: Option<String>,
    /// fsync every WAL append.
    pub wal_fsync: bool,
    /// Snapshots kept at checkpoint.
    pub checkpoint_retain_last: Option<u64>,
    /// Checkpoint signing and verification.
    pub checkpoint_policy: CheckpointPolicy,
    /// Checkpoint file indent.
    pub indent: u64,
    /// Checkpoint file key sorting.
    pub sort_keys: bool,
    /// Export time, nanoseconds since the Unix epoch.
    pub exported_at_ns: u64,
}

impl ShardedStorageEngineManifest {
    /// Decodes and validates a payload. `shards` must hold `shard_count` entries; their
    /// contents are re-derived, as in LQFT.
    pub fn from_json(payload: &Value) -> Result<ShardedStorageEngineManifest> {
        const WHAT: &str = "sharded storage engine manifest";
        let Value::Object(map) = payload else {
            return Err(err(
                "sharded storage engine manifest payload must be a dictionary",
            ));
        };
        if map.get("format").and_then(Value::as_str) != Some(SHARDED_STORAGE_ENGINE_MANIFEST_FORMAT)
        {
            return Err(err("unsupported sharded storage engine manifest format"));
        }
        let shard_count = map
            .get("shard_count")
            .and_then(Value::as_u64)
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                err("sharded storage engine manifest must include a positive integer shard_count")
            })?;
        let storage = object(map, "storage", WHAT)?;
        let policy = object(map, "checkpoint_policy", WHAT)?;
        let (indent, sort_keys) = serialization(map, WHAT)?;
        match map.get("shards") {
            Some(Value::Array(shards)) if shards.len() as u64 == shard_count => {}
            _ => {
                return Err(err(
                    "sharded storage engine manifest must include one shard manifest per shard",
                ));
            }
        }
        let checkpoint_dir = path_field(storage, "checkpoint_dir", WHAT)?;
        let wal_dir = path_field(storage, "wal_dir", WHAT)?;
        if checkpoint_dir.is_none() && wal_dir.is_none() {
            return Err(unclassified(
                "sharded storage engine requires at least one of checkpoint_dir or wal_dir",
            ));
        }
        Ok(ShardedStorageEngineManifest {
            shard_count,
            checkpoint_dir,
            wal_dir,
            wal_fsync: bool_field(storage, "wal_fsync", true, WHAT)?,
            checkpoint_retain_last: retain_last(storage)?,
            checkpoint_policy: CheckpointPolicy::from_json(policy, WHAT)?,
            indent,
            sort_keys,
            exported_at_ns: map
                .get("exported_at_ns")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        })
    }

    /// The manifest of shard `index`, with LQFT's derived paths.
    pub fn shard(&self, index: u64) -> StorageEngineManifest {
        let join = |dir: &Option<String>, name: String| {
            dir.as_ref()
                .map(|d| Path::new(d).join(name).to_string_lossy().into_owned())
        };
        StorageEngineManifest {
            checkpoint_path: join(
                &self.checkpoint_dir,
                format!("shard-{index:04}.checkpoint.json.gz"),
            ),
            wal_path: join(&self.wal_dir, format!("shard-{index:04}.wal")),
            wal_fsync: self.wal_fsync,
            checkpoint_retain_last: self.checkpoint_retain_last,
            checkpoint_policy: self.checkpoint_policy.clone(),
            indent: self.indent,
            sort_keys: self.sort_keys,
            exported_at_ns: self.exported_at_ns,
        }
    }

    /// The payload document.
    pub fn to_json(&self) -> Map<String, Value> {
        let shards: Vec<Value> = (0..self.shard_count)
            .map(|i| Value::Object(self.shard(i).to_json()))
            .collect();
        let value = serde_json::json!({
            "format": SHARDED_STORAGE_ENGINE_MANIFEST_FORMAT,
            "shard_count": self.shard_count,
            "storage": {
                "checkpoint_dir": self.checkpoint_dir,
                "wal_dir": self.wal_dir,
                "wal_fsync": self.wal_fsync,
                "checkpoint_retain_last": self.checkpoint_retain_last,
            },
            "checkpoint_policy": self.checkpoint_policy.to_json(),
            "serialization": {"indent": self.indent, "sort_keys": self.sort_keys},
            "shards": shards,
            "exported_at_ns": self.exported_at_ns,
        });
        match value {
            Value::Object(map) => map,
            _ => unreachable!("json! of an object literal is an object"),
        }
    }

    /// Validates and writes the manifest; every path it names must stay inside `path`'s
    /// directory and every key file it names must exist there.
    pub fn write(&self, path: &Path, options: &WriteOptions<'_>) -> Result<()> {
        ShardedStorageEngineManifest::from_json(&Value::Object(self.to_json()))?;
        self.check_paths(manifest_dir(path))?;
        self.checkpoint_policy.check_key_files(manifest_dir(path))?;
        write_persisted_file(path, self.to_json(), options)
    }

    /// As [`StorageEngineManifest::check_paths`], for the two directories and the key paths
    /// (a shard's file is confined when it is opened).
    pub fn check_paths(&self, manifest_dir: &Path) -> Result<()> {
        confine_all(
            manifest_dir,
            &[
                ("checkpoint_dir", self.checkpoint_dir.as_ref()),
                ("wal_dir", self.wal_dir.as_ref()),
            ],
        )?;
        confine_all(manifest_dir, &self.checkpoint_policy.key_paths())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_manifests_carry_the_code_lqfts_classifier_gives_their_message() {
        use crate::formats::policy::classify_policy_error;
        use serde_json::json;
        let storage = json!({"checkpoint_path": "c.json", "wal_path": "w.jsonl"});
        let policy = json!({});
        let serialization = json!({"indent": 2, "sort_keys": false});
        let single = |edit: &dyn Fn(&mut Map<String, Value>)| {
            let mut m = Map::new();
            m.insert("format".into(), STORAGE_ENGINE_MANIFEST_FORMAT.into());
            m.insert("storage".into(), storage.clone());
            m.insert("checkpoint_policy".into(), policy.clone());
            m.insert("serialization".into(), serialization.clone());
            edit(&mut m);
            Value::Object(m)
        };
        let cases = [
            json!([]),
            single(&|m| drop(m.insert("format".into(), "x".into()))),
            single(&|m| drop(m.remove("storage"))),
            single(&|m| drop(m.insert("storage".into(), json!({})))),
            single(&|m| drop(m.insert("storage".into(), json!({"wal_path": "w.jsonl.gz"})))),
            single(&|m| drop(m.insert("storage".into(), json!({"wal_path": "../w"})))),
            single(&|m| drop(m.insert("storage".into(), json!({"wal_path": 5})))),
            single(&|m| {
                drop(m.insert(
                    "storage".into(),
                    json!({"wal_path": "w", "checkpoint_retain_last": -1}),
                ))
            }),
            single(&|m| drop(m.insert("storage".into(), json!({"wal_path": "w", "wal_fsync": 1})))),
            single(&|m| drop(m.insert("serialization".into(), json!({"indent": -1})))),
            single(&|m| {
                drop(m.insert(
                    "checkpoint_policy".into(),
                    json!({"min_remaining_validity_seconds": -1}),
                ))
            }),
            single(&|m| drop(m.insert("checkpoint_policy".into(), json!({"validity": []})))),
        ];
        for case in &cases {
            let error = StorageEngineManifest::from_json(case).unwrap_err();
            assert_eq!(
                error.policy_code(),
                Some(classify_policy_error(error.message())),
                "{error}"
            );
        }
        let sharded = [
            json!([]),
            json!({"format": "x"}),
            json!({"format": SHARDED_STORAGE_ENGINE_MANIFEST_FORMAT}),
            json!({"format": SHARDED_STORAGE_ENGINE_MANIFEST_FORMAT, "shard_count": 1,
                   "storage": {}, "checkpoint_policy": {}, "serialization": {}, "shards": []}),
            json!({"format": SHARDED_STORAGE_ENGINE_MANIFEST_FORMAT, "shard_count": 1,
                   "storage": {}, "checkpoint_policy": {}, "serialization": {}, "shards": [{}]}),
        ];
        for case in &sharded {
            let error = ShardedStorageEngineManifest::from_json(case).unwrap_err();
            assert_eq!(
                error.policy_code(),
                Some(classify_policy_error(error.message())),
                "{error}"
            );
        }
    }
}
