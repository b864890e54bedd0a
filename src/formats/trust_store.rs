//! Signer trust stores: the Ed25519 public keys allowed to sign files.
//!
//! Two sources, as in LQFT:
//! - a directory of `*.pem` files (case-insensitive suffix, regular files, sorted by name);
//! - a manifest, raw JSON or inside a (signed) envelope, in the signers-list form
//!   `{"validity"?, "signers": [{"key_id"?, "path", "metadata"?, "revoked"?,
//!   "revocation_reason"?}]}` or the legacy mapping form `{"<key_id>": "<pem path>", …}`.
//!
//! Differences from LQFT: entries must be public keys; manifest paths, and the `.pem`
//! entries of a directory, must stay inside their directory once every symlink is followed;
//! a missing source is an error with LQFT's `source_` code; and a
//! manifest's validity only satisfies a freshness floor when a verified signature covers it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::envelope::{
    PERSISTED_FILE_FORMAT, VerifyOptions, WriteOptions, open_document_as, write_persisted_file,
};
use super::error::{Error, Result};
use super::file_io::read_json_file;
use super::keys::{Ed25519PublicKey, SignKey, VerifyKey, trusted_signer_from_file};
use super::limits::Limits;
use super::policy::PolicyCode;
use super::python_json::TextLayout;
use super::validity::{
    Validity, ValiditySummary, enforce_floor, now_micros, summarize, validate_floor,
};
use crate::file::FileError;
use crate::file::confine;
use crate::file::read::Links;

const SUBJECT: &str = "trust store manifest";

/// One trusted signer.
#[derive(Clone, Debug)]
pub struct TrustedSigner {
    /// The signer's public key.
    pub key: Ed25519PublicKey,
    /// Whether the manifest marks it revoked (revoked signers are only present when loaded
    /// with `include_revoked`).
    pub revoked: bool,
    /// LQFT's entry metadata: `{source_path, revoked, revocation_reason, metadata}` for
    /// manifest entries, `{source_path, source_name, revoked}` for directory entries.
    pub metadata: Value,
}

/// A set of trusted Ed25519 signers keyed by `key_id`.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    signers: BTreeMap<String, TrustedSigner>,
}

/// How [`TrustStore::load`] treats its source.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrustStoreOptions<'a> {
    /// Keep revoked manifest entries.
    pub include_revoked: bool,
    /// Require the manifest to be signed by this key.
    pub verify_key: Option<&'a VerifyKey>,
    /// Require the manifest to be signed by one of these signers.
    pub trusted_manifest_signers: Option<&'a TrustStore>,
    /// Require at least this many seconds of signed, verified manifest validity.
    pub min_remaining_validity_seconds: Option<i64>,
    /// Caps on reading the manifest.
    pub limits: Limits,
}

impl TrustStore {
    /// A store of the given keys. Duplicates are refused.
    pub fn from_keys(keys: impl IntoIterator<Item = Ed25519PublicKey>) -> Result<TrustStore> {
        let mut store = TrustStore::default();
        for key in keys {
            store.insert(TrustedSigner {
                key,
                revoked: false,
                metadata: Value::Object(Map::new()),
            })?;
        }
        Ok(store)
    }

    fn insert(&mut self, signer: TrustedSigner) -> Result<()> {
        let key_id = signer.key.key_id();
        if self.signers.contains_key(&key_id) {
            return Err(Error::policy(
                PolicyCode::SchemaDuplicateTrustedSignerKeyId,
                format!("duplicate trusted signer key_id: {key_id}"),
            ));
        }
        self.signers.insert(key_id, signer);
        Ok(())
    }

    /// The key of an active signer.
    pub fn get(&self, key_id: &str) -> Option<&Ed25519PublicKey> {
        self.signers.get(key_id).map(|s| &s.key)
    }

    /// A signer with its metadata.
    pub fn signer(&self, key_id: &str) -> Option<&TrustedSigner> {
        self.signers.get(key_id)
    }

    /// Number of signers.
    pub fn len(&self) -> usize {
        self.signers.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.signers.is_empty()
    }

    /// Signers in `key_id` order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &TrustedSigner)> {
        self.signers.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Loads a directory or manifest trust store.
    pub fn load(source: &Path, options: &TrustStoreOptions<'_>) -> Result<TrustStore> {
        let floor = validate_floor(options.min_remaining_validity_seconds)?;
        if !source.exists() {
            return Err(missing_source(source));
        }
        if source.is_dir() {
            if options.verify_key.is_some() || options.trusted_manifest_signers.is_some() {
                return Err(Error::policy(
                    PolicyCode::VerificationUnsupportedForDirectoryTrustStore,
                    "directory trust stores do not support manifest signature verification",
                ));
            }
            return load_directory(source);
        }
        let manifest = load_manifest_payload(source, options, floor)?;
        let mut store = TrustStore::default();
        for signer in manifest_signers(&manifest.payload, manifest_dir(source))? {
            if !signer.revoked || options.include_revoked {
                store.insert(signer)?;
            }
        }
        if store.is_empty() {
            return Err(Error::policy(
                PolicyCode::SchemaEmptyTrustStoreManifest,
                "trust store manifest does not contain any active signers",
            ));
        }
        Ok(store)
    }
}

pub(crate) fn missing_source(source: &Path) -> Error {
    Error::policy(
        PolicyCode::SourceMissingTrustedSignersPath,
        format!(
            "trusted_signers string inputs must point to an existing trust-store path: {}",
            source.display()
        ),
    )
}

pub(crate) fn manifest_dir(source: &Path) -> &Path {
    source.parent().unwrap_or(Path::new(""))
}

/// A directory store: every `*.pem` entry that is (or links to) a regular file, in name
/// order. An entry that is a symlink leading out of the directory is refused: the store is
/// what the directory holds.
pub(crate) fn load_directory(dir: &Path) -> Result<TrustStore> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, "list", e))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.to_lowercase().ends_with(".pem"))
        .collect();
    names.sort();
    let mut keys = Vec::with_capacity(names.len());
    for name in names {
        let Some(resolved) = resolve_inside(dir, &name)? else {
            return Err(Error::policy(
                PolicyCode::SchemaInvalidTrustedSigners,
                format!(
                    "trust store directory entry {name} is a symbolic link leading outside {}; \
                     copy the key into the directory instead",
                    dir.display()
                ),
            ));
        };
        if std::fs::symlink_metadata(&resolved).is_ok_and(|m| m.is_file()) {
            keys.push((dir.join(&name), name, resolved));
        }
    }
    let mut store = TrustStore::default();
    for (path, name, resolved) in keys {
        let key = trusted_signer_from_file(&resolved, Links::Refuse)?;
        store.insert(TrustedSigner {
            key,
            revoked: false,
            metadata: serde_json::json!({
                "source_path": path.to_string_lossy(),
                "source_name": name,
                "revoked": false,
            }),
        })?;
    }
    if store.is_empty() {
        return Err(Error::policy(
            PolicyCode::SourceEmptyTrustStoreDirectory,
            format!(
                "trust store directory does not contain any .pem public keys: {}",
                dir.display()
            ),
        ));
    }
    Ok(store)
}

/// A manifest's payload and what its envelope (if any) proved.
pub(crate) struct ManifestPayload {
    pub payload: Map<String, Value>,
    pub validity: ValiditySummary,
}

/// Reads a manifest, verifies it as requested and enforces its validity and floor.
pub(crate) fn load_manifest_payload(
    source: &Path,
    options: &TrustStoreOptions<'_>,
    floor: Option<u64>,
) -> Result<ManifestPayload> {
    let document = read_json_file(source, &options.limits)?;
    let is_envelope = document.get("format").and_then(Value::as_str) == Some(PERSISTED_FILE_FORMAT);
    let (payload, validity) = if is_envelope {
        let verify = VerifyOptions {
            verify_key: options.verify_key,
            trusted_signers: options.trusted_manifest_signers,
            min_remaining_validity_seconds: floor.map(|f| i64::try_from(f).unwrap_or(i64::MAX)),
        };
        let opened = open_document_as(document, &verify, SUBJECT)?;
        (opened.payload, opened.check.validity)
    } else {
        if options.verify_key.is_some() || options.trusted_manifest_signers.is_some() {
            return Err(Error::policy(
                PolicyCode::VerificationUnsigned,
                "trust store manifest is unsigned",
            ));
        }
        let validity = match &document {
            Value::Object(map) => summarize(map.get("validity"), SUBJECT, now_micros())?,
            _ => ValiditySummary::unbounded(),
        };
        if !validity.currently_valid {
            return Err(Error::policy(
                PolicyCode::FreshnessNotCurrentlyValid,
                format!(
                    "trust store manifest is not currently valid: {}",
                    validity.status.as_str()
                ),
            ));
        }
        if let Some(floor) = floor {
            if validity.expires_at.is_some() {
                return Err(Error::policy(
                    PolicyCode::FreshnessMissingExpiresAt,
                    "trust store manifest does not declare expires_at required by \
                     min_remaining_validity_seconds under a verified signature (the manifest \
                     is unsigned)",
                ));
            }
            enforce_floor(&validity, SUBJECT, floor)?;
        }
        (document, validity)
    };
    match payload {
        Value::Object(payload) => Ok(ManifestPayload { payload, validity }),
        _ => Err(Error::policy(
            PolicyCode::SchemaInvalidTrustStoreManifest,
            "trust store manifest must decode to a dictionary",
        )),
    }
}

fn schema(message: impl Into<String>) -> Error {
    Error::policy(PolicyCode::SchemaInvalidTrustStoreManifest, message)
}

/// The real path a manifest-relative path names (every symlink followed, see
/// [`crate::file::confine`]); `Ok(None)` when it is absolute, uses `..` or leads out of
/// `dir`.
pub(crate) fn resolve_inside(dir: &Path, relative: &str) -> Result<Option<PathBuf>> {
    match confine::resolve_inside(dir, Path::new(relative)) {
        Ok(path) => Ok(Some(path)),
        Err(FileError::Escapes { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The signer key a manifest names, read from its file confined to the manifest's directory;
/// with the path as the manifest spells it under `dir` (for reports, as LQFT's).
fn manifest_key(dir: &Path, relative: &str) -> Result<(PathBuf, Ed25519PublicKey)> {
    let resolved = resolve_inside(dir, relative)?.ok_or_else(|| {
        schema(format!(
            "trust store manifest signer path escapes the manifest directory: {relative}"
        ))
    })?;
    let key = trusted_signer_from_file(&resolved, Links::Refuse)?;
    Ok((dir.join(relative), key))
}

/// Every signer a manifest names, revoked ones included.
pub(crate) fn manifest_signers(
    payload: &Map<String, Value>,
    dir: &Path,
) -> Result<Vec<TrustedSigner>> {
    if let Some(signers) = payload.get("signers") {
        let list = match signers {
            Value::Array(list) if !list.is_empty() => list,
            _ => {
                return Err(schema(
                    "trust store manifest signers must be a non-empty list",
                ));
            }
        };
        let mut out = Vec::with_capacity(list.len());
        for entry in list {
            let Value::Object(entry) = entry else {
                return Err(schema(
                    "trust store manifest signers must contain dictionaries",
                ));
            };
            out.push(signer_entry(entry, dir)?);
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    for (key_id, path) in payload {
        if key_id == "validity" {
            continue;
        }
        if key_id.is_empty() {
            return Err(schema(
                "trust store manifest keys must be non-empty signer key_id strings",
            ));
        }
        let Some(path) = path.as_str().filter(|p| !p.is_empty()) else {
            return Err(schema(
                "trust store manifest values must be non-empty signer paths",
            ));
        };
        let (_, key) = manifest_key(dir, path)?;
        if &key.key_id() != key_id {
            return Err(Error::policy(
                PolicyCode::VerificationTrustedSignerIdentityMismatch,
                "trusted signer key_id does not match supplied verification key",
            ));
        }
        out.push(TrustedSigner {
            key,
            revoked: false,
            metadata: Value::Object(Map::new()),
        });
    }
    if out.is_empty() {
        return Err(
            if payload.keys().all(|k| k == "validity") && !payload.is_empty() {
                Error::policy(
                    PolicyCode::SchemaEmptyTrustStoreManifest,
                    "trust store manifest does not contain any active signers",
                )
            } else {
                schema(
                    "trust store manifest must be a non-empty mapping or contain a non-empty signers list",
                )
            },
        );
    }
    Ok(out)
}

fn signer_entry(entry: &Map<String, Value>, dir: &Path) -> Result<TrustedSigner> {
    let path = match entry.get("path") {
        None | Some(Value::Null) => {
            return Err(schema(
                "trust store manifest signer entries must include a path",
            ));
        }
        Some(Value::String(p)) if !p.is_empty() => p,
        Some(_) => {
            return Err(schema(
                "trust store manifest signer paths must be non-empty strings",
            ));
        }
    };
    let revoked = match entry.get("revoked") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(schema(
                "trust store manifest signer revoked must be a boolean",
            ));
        }
    };
    let metadata = match entry.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(schema(
                "trust store manifest signer metadata must be a dictionary or null",
            ));
        }
    };
    let reason = match entry.get("revocation_reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(schema(
                "trust store manifest signer revocation_reason must be a string or null",
            ));
        }
    };
    let (source_path, key) = manifest_key(dir, path)?;
    match entry.get("key_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(id)) if !id.is_empty() => {
            if *id != key.key_id() {
                return Err(schema(
                    "trust store manifest signer key_id does not match supplied verification key",
                ));
            }
        }
        Some(_) => {
            return Err(schema(
                "trust store manifest signer key_id must be a non-empty string or null",
            ));
        }
    }
    Ok(TrustedSigner {
        key,
        revoked,
        metadata: serde_json::json!({
            "source_path": source_path.to_string_lossy(),
            "revoked": revoked,
            "revocation_reason": reason,
            "metadata": metadata,
        }),
    })
}

/// One signer of a manifest being written.
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestSigner {
    /// The signer's `key_id`, checked against the key file when the manifest is read.
    pub key_id: Option<String>,
    /// PEM public key path, relative to the manifest's directory.
    pub path: String,
    /// Free-form metadata.
    pub metadata: Option<Map<String, Value>>,
    /// Whether the signer is revoked.
    pub revoked: bool,
    /// Why it was revoked.
    pub revocation_reason: Option<String>,
}

/// A signers-list trust-store manifest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrustStoreManifest {
    /// Window of the manifest itself, written inside the (signed) payload.
    pub validity: Option<Validity>,
    /// The signers.
    pub signers: Vec<ManifestSigner>,
}

impl TrustStoreManifest {
    /// The manifest payload. Paths must be relative and stay inside the manifest directory.
    pub fn to_payload(&self) -> Result<Map<String, Value>> {
        if self.signers.is_empty() {
            return Err(schema(
                "trust store manifest signers must be a non-empty list",
            ));
        }
        let mut payload = Map::new();
        if let Some(v) = &self.validity {
            v.check(SUBJECT)?;
            payload.insert("validity".into(), v.to_json());
        }
        let mut signers = Vec::with_capacity(self.signers.len());
        for s in &self.signers {
            if !confine::is_plain_relative(Path::new(&s.path)) {
                return Err(schema(format!(
                    "trust store manifest signer path escapes the manifest directory: {}",
                    s.path
                )));
            }
            let mut entry = Map::new();
            entry.insert("key_id".into(), s.key_id.clone().into());
            entry.insert("path".into(), s.path.clone().into());
            entry.insert(
                "metadata".into(),
                s.metadata.clone().map_or(Value::Null, Value::Object),
            );
            entry.insert("revoked".into(), s.revoked.into());
            if let Some(r) = &s.revocation_reason {
                entry.insert("revocation_reason".into(), r.clone().into());
            }
            signers.push(Value::Object(entry));
        }
        payload.insert("signers".into(), Value::Array(signers));
        Ok(payload)
    }

    /// Writes the manifest in an envelope, signed when `sign_key` is given. Every signer path
    /// must stay inside `path`'s directory once symlinks are followed.
    pub fn write(&self, path: &Path, sign_key: Option<&SignKey>, layout: TextLayout) -> Result<()> {
        let payload = self.to_payload()?;
        for s in &self.signers {
            if resolve_inside(manifest_dir(path), &s.path)?.is_none() {
                return Err(schema(format!(
                    "trust store manifest signer path escapes the manifest directory: {}",
                    s.path
                )));
            }
        }
        let options = WriteOptions {
            sign_key,
            layout,
            ..WriteOptions::default()
        };
        write_persisted_file(path, payload, &options)
    }
}
