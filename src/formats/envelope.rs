//! The `lqft-persisted-file-v1` envelope: integrity, signatures and validity around a payload.
//!
//! Reading follows LQFT's loader step by step (so LQFT's files load and LQFT's policy codes
//! come out), with its holes closed:
//! - a document that is not an envelope is refused whenever verification was requested;
//! - a `validity` block copied inside the payload is covered by the checksum and signature,
//!   must equal the envelope's block when both exist, and only such a signed, verified window
//!   can satisfy `min_remaining_validity_seconds` (LQFT ignores the extra payload member, so
//!   it still reads our files);
//! - Ed25519 is verified strictly and HMACs are compared in constant time;
//! - a verify key and a trust store given together must both accept the signer.

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::base64;
use super::canonical_json::canonical_bytes;
use super::error::{Error, Result};
use super::file_io::{FileMode, path_uses_gzip, read_json_file, write_atomic};
use super::hex;
use super::keys::{ED25519, HMAC_SHA256, SignKey, VerifyKey};
use super::limits::Limits;
use super::policy::PolicyCode;
use super::python_json::{TextLayout, append_last_member, to_python_json};
use super::trust_store::TrustStore;
use super::validity::{
    Validity, ValiditySummary, enforce_floor, now_micros, summarize, validate_floor,
};

/// The envelope's `format` string.
pub const PERSISTED_FILE_FORMAT: &str = "lqft-persisted-file-v1";

/// How a file is written.
#[derive(Clone, Copy, Debug)]
pub struct WriteOptions<'a> {
    /// Sign with this key (HMAC-SHA256 or Ed25519); unsigned when `None`.
    pub sign_key: Option<&'a SignKey>,
    /// Validity window, written both as the envelope's `validity` (for LQFT) and inside the
    /// payload (so it is signed).
    pub validity: Option<&'a Validity>,
    /// Layout of the file text.
    pub layout: TextLayout,
    /// gzip level 0–9 for paths ending in `.gz`.
    pub gzip_level: u32,
}

impl Default for WriteOptions<'_> {
    fn default() -> Self {
        WriteOptions {
            sign_key: None,
            validity: None,
            layout: TextLayout::default(),
            gzip_level: 6,
        }
    }
}

/// What a reader requires of a file.
#[derive(Clone, Copy, Debug, Default)]
pub struct VerifyOptions<'a> {
    /// Verify the signature with this key.
    pub verify_key: Option<&'a VerifyKey>,
    /// Require an Ed25519 signature by one of these signers.
    pub trusted_signers: Option<&'a TrustStore>,
    /// Require at least this many seconds of signed, verified validity left.
    pub min_remaining_validity_seconds: Option<i64>,
}

impl VerifyOptions<'_> {
    /// Whether a key or a trust store was supplied.
    pub fn verification_requested(&self) -> bool {
        self.verify_key.is_some() || self.trusted_signers.is_some()
    }
}

/// Which check a signature passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// No key or trust store was supplied, so no signature was checked.
    NotRequested,
    /// The HMAC-SHA256 matched the supplied secret.
    Hmac,
    /// The Ed25519 signature verified under this key id.
    Ed25519 {
        /// `"sha256:<hex>"` of the signer.
        key_id: String,
    },
}

/// The outcome of checking a document, without its payload.
#[derive(Clone, Debug)]
pub struct EnvelopeCheck {
    /// False for a bare payload (not an envelope), which is accepted only without
    /// verification.
    pub is_envelope: bool,
    /// The signature's `algorithm`, if the document is signed.
    pub signature_algorithm: Option<String>,
    /// What was verified.
    pub verification: Verification,
    /// The window in force: the signed copy inside the payload when there is one, else the
    /// envelope's block.
    pub validity: ValiditySummary,
    /// Whether [`EnvelopeCheck::validity`] is covered by the checksum and signature.
    pub validity_in_payload: bool,
}

/// A verified payload with its check.
#[derive(Clone, Debug)]
pub struct OpenedFile {
    /// The payload document.
    pub payload: Value,
    /// What was checked.
    pub check: EnvelopeCheck,
}

fn classified(code: PolicyCode, message: impl Into<String>) -> Error {
    Error::policy(code, message)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes))
}

/// Wraps `payload` in an envelope: integrity, optional signature and validity.
pub fn seal(
    payload: Map<String, Value>,
    compression: &str,
    sign_key: Option<&SignKey>,
    validity: Option<&Validity>,
) -> Result<Map<String, Value>> {
    let (mut doc, canonical) = seal_unsigned(payload, compression, validity)?;
    if let Some(key) = sign_key {
        doc.insert("signature".into(), signature_block(key, &canonical));
    }
    Ok(doc)
}

/// The envelope without its signature, and the canonical payload bytes to sign.
fn seal_unsigned(
    mut payload: Map<String, Value>,
    compression: &str,
    validity: Option<&Validity>,
) -> Result<(Map<String, Value>, Vec<u8>)> {
    let validity_json = match validity {
        Some(v) => {
            v.check("persisted file")?;
            let block = v.to_json();
            match payload.get("validity") {
                Some(existing) if *existing != block => {
                    return Err(Error::payload(
                        "payload already holds a different validity block",
                    ));
                }
                Some(_) => {}
                None => {
                    payload.insert("validity".into(), block.clone());
                }
            }
            Some(block)
        }
        None => None,
    };
    let payload = Value::Object(payload);
    let canonical = canonical_bytes(&payload);
    let mut doc = Map::new();
    doc.insert("format".into(), PERSISTED_FILE_FORMAT.into());
    doc.insert("compression".into(), compression.into());
    doc.insert(
        "integrity".into(),
        serde_json::json!({"algorithm": "sha256", "payload_sha256": sha256_hex(&canonical)}),
    );
    doc.insert("payload".into(), payload);
    if let Some(block) = validity_json {
        doc.insert("validity".into(), block);
    }
    Ok((doc, canonical))
}

fn signature_block(key: &SignKey, canonical: &[u8]) -> Value {
    match key {
        SignKey::Hmac(secret) => serde_json::json!({
            "algorithm": HMAC_SHA256,
            "payload_hmac_sha256": secret.mac_hex(canonical),
        }),
        SignKey::Ed25519(key) => {
            let public = key.public_key();
            serde_json::json!({
                "algorithm": ED25519,
                "key_id": public.key_id(),
                "public_key_sha256": public.public_key_sha256(),
                "payload_ed25519": base64::encode(&key.sign(canonical)),
            })
        }
    }
}

/// Seals `payload` and writes it atomically to `path` (gzip when the name ends in `.gz`).
///
/// The signature is computed while the file text is laid out (it is the last member unless
/// keys are sorted), so a large file costs roughly the larger of the two, not their sum.
pub fn write_persisted_file(
    path: &Path,
    payload: Map<String, Value>,
    options: &WriteOptions<'_>,
) -> Result<()> {
    let gzip = path_uses_gzip(path);
    let compression = if gzip { "gzip" } else { "none" };
    let (mut doc, canonical) = seal_unsigned(payload, compression, options.validity)?;
    let text = match options.sign_key {
        None => to_python_json(&Value::Object(doc), options.layout),
        Some(key) if options.layout.sort_keys => {
            doc.insert("signature".into(), signature_block(key, &canonical));
            to_python_json(&Value::Object(doc), options.layout)
        }
        Some(key) => {
            let doc = Value::Object(doc);
            let (signature, text) = std::thread::scope(|scope| {
                let signer = scope.spawn(|| signature_block(key, &canonical));
                let text = to_python_json(&doc, options.layout);
                let signature = signer
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (signature, text)
            });
            super::map_files::drop_in_background(doc);
            append_last_member(text, "signature", &signature, options.layout)
        }
    };
    let bytes = if gzip {
        let mut encoder = GzEncoder::new(
            Vec::with_capacity(text.len() / 4),
            Compression::new(options.gzip_level.min(9)),
        );
        encoder
            .write_all(&text)
            .and_then(|()| encoder.finish())
            .map_err(|e| Error::io(path, "compress", e))?
    } else {
        text
    };
    write_atomic(path, &bytes, FileMode::Public)
}

/// Reads `path` within `limits` and opens it with [`open_document`].
pub fn read_persisted_file(
    path: &Path,
    options: &VerifyOptions<'_>,
    limits: &Limits,
) -> Result<OpenedFile> {
    open_document(read_json_file(path, limits)?, options)
}

/// Checks a parsed document and returns its payload.
pub fn open_document(document: Value, options: &VerifyOptions<'_>) -> Result<OpenedFile> {
    open_document_as(document, options, "persisted file")
}

/// [`open_document`] where the payload's own `validity` is reported as `payload_subject`.
pub(crate) fn open_document_as(
    document: Value,
    options: &VerifyOptions<'_>,
    payload_subject: &str,
) -> Result<OpenedFile> {
    let check = check_document(&document, options, payload_subject)?;
    let payload = match document {
        Value::Object(mut doc) if check.is_envelope => doc.remove("payload").unwrap_or_default(),
        other => other,
    };
    Ok(OpenedFile { payload, check })
}

/// LQFT's loader algorithm with the fixes listed in the module documentation.
pub fn check_document(
    document: &Value,
    options: &VerifyOptions<'_>,
    payload_subject: &str,
) -> Result<EnvelopeCheck> {
    let Value::Object(doc) = document else {
        return Err(classified(
            PolicyCode::SchemaInvalidDocument,
            "persisted file must decode to a dictionary payload",
        ));
    };
    let floor = validate_floor(options.min_remaining_validity_seconds)?;
    let now = now_micros();
    if doc.get("format").and_then(Value::as_str) != Some(PERSISTED_FILE_FORMAT) {
        if options.verification_requested() {
            return Err(classified(
                PolicyCode::VerificationUnsigned,
                "persisted file is not an lqft-persisted-file-v1 envelope, so it is unsigned \
                 and cannot be verified",
            ));
        }
        if let Some(floor) = floor {
            enforce_floor(&ValiditySummary::unbounded(), "persisted file", floor)?;
        }
        return Ok(EnvelopeCheck {
            is_envelope: false,
            signature_algorithm: None,
            verification: Verification::NotRequested,
            validity: ValiditySummary::unbounded(),
            validity_in_payload: false,
        });
    }
    let envelope_validity_block = doc.get("validity").filter(|v| !v.is_null());
    let envelope_validity = summarize(envelope_validity_block, "persisted file", now)?;
    let Some(Value::Object(payload_map)) = doc.get("payload") else {
        return Err(classified(
            PolicyCode::SchemaInvalidPayload,
            "persisted file payload must be a dictionary",
        ));
    };
    let Some(Value::Object(integrity)) = doc.get("integrity") else {
        return Err(classified(
            PolicyCode::SchemaInvalidIntegrityBlock,
            "persisted file integrity block must be a dictionary",
        ));
    };
    let declared = integrity.get("payload_sha256").and_then(Value::as_str);
    let declared = match (integrity.get("algorithm").and_then(Value::as_str), declared) {
        (Some("sha256"), Some(d)) if !d.is_empty() => d,
        _ => {
            return Err(classified(
                PolicyCode::SchemaInvalidIntegrityBlock,
                "persisted file integrity block is invalid",
            ));
        }
    };
    let payload = doc.get("payload").unwrap_or(&Value::Null);
    let canonical = canonical_bytes(payload);
    if sha256_hex(&canonical) != declared {
        return Err(classified(
            PolicyCode::IntegrityChecksumMismatch,
            "persisted file checksum mismatch",
        ));
    }
    let (signature_algorithm, verification) = match doc.get("signature") {
        None | Some(Value::Null) => {
            if options.verification_requested() {
                return Err(classified(
                    PolicyCode::VerificationUnsigned,
                    "persisted file is unsigned",
                ));
            }
            (None, Verification::NotRequested)
        }
        Some(Value::Object(signature)) => {
            let algorithm = signature.get("algorithm").and_then(Value::as_str);
            let verification = match algorithm {
                Some(HMAC_SHA256) => check_hmac(signature, &canonical, options)?,
                Some(ED25519) => check_ed25519(signature, &canonical, options)?,
                _ => return Err(invalid_signature_block()),
            };
            (algorithm.map(str::to_owned), verification)
        }
        Some(_) => {
            return Err(classified(
                PolicyCode::SchemaInvalidSignatureBlock,
                "persisted file signature block must be a dictionary",
            ));
        }
    };
    let bound_block = payload_map.get("validity").filter(|v| !v.is_null());
    let bound = bound_block
        .map(|b| summarize(Some(b), payload_subject, now))
        .transpose()?;
    match (envelope_validity_block, bound_block) {
        (Some(outer), Some(inner)) if outer != inner => {
            return Err(classified(
                PolicyCode::SchemaInvalidValidityBlock,
                "persisted file validity does not match the validity signed inside the payload",
            ));
        }
        // Trust-store manifests keep their window only in the payload (LQFT's layout); every
        // other writer puts the same block in both places, so a missing envelope copy means
        // the block was stripped to hide the window from LQFT readers.
        (None, Some(_)) if payload_subject == "persisted file" => {
            return Err(classified(
                PolicyCode::SchemaInvalidValidityBlock,
                "persisted file validity is missing although the payload declares one",
            ));
        }
        _ => {}
    }
    if !envelope_validity.currently_valid {
        return Err(classified(
            PolicyCode::FreshnessNotCurrentlyValid,
            format!(
                "persisted file is not currently valid: {}",
                envelope_validity.status.as_str()
            ),
        ));
    }
    if let Some(inner) = bound.as_ref().filter(|inner| !inner.currently_valid) {
        return Err(classified(
            PolicyCode::FreshnessNotCurrentlyValid,
            format!(
                "{payload_subject} is not currently valid: {}",
                inner.status.as_str()
            ),
        ));
    }
    let signed_and_verified = verification != Verification::NotRequested;
    if let Some(floor) = floor {
        match &bound {
            Some(inner) if signed_and_verified => enforce_floor(inner, payload_subject, floor)?,
            None if envelope_validity.expires_at.is_none() => {
                enforce_floor(&envelope_validity, "persisted file", floor)?;
            }
            _ => {
                return Err(classified(
                    PolicyCode::FreshnessMissingExpiresAt,
                    format!(
                        "{payload_subject} does not declare expires_at required by \
                         min_remaining_validity_seconds under a verified signature (an \
                         expires_at that no verified signature covers does not count)"
                    ),
                ));
            }
        }
    }
    let validity_in_payload = bound.is_some();
    Ok(EnvelopeCheck {
        is_envelope: true,
        signature_algorithm,
        verification,
        validity: bound.unwrap_or(envelope_validity),
        validity_in_payload,
    })
}

fn invalid_signature_block() -> Error {
    classified(
        PolicyCode::SchemaInvalidSignatureBlock,
        "persisted file signature block is invalid",
    )
}

fn algorithm_mismatch() -> Error {
    classified(
        PolicyCode::VerificationAlgorithmMismatch,
        "persisted file signature algorithm does not match verify_key",
    )
}

fn signature_mismatch() -> Error {
    classified(
        PolicyCode::VerificationSignatureMismatch,
        "persisted file signature mismatch",
    )
}

fn non_empty_str<'a>(block: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    block
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn check_hmac(
    signature: &Map<String, Value>,
    canonical: &[u8],
    options: &VerifyOptions<'_>,
) -> Result<Verification> {
    let mac =
        non_empty_str(signature, "payload_hmac_sha256").ok_or_else(invalid_signature_block)?;
    match (options.verify_key, options.trusted_signers) {
        (Some(VerifyKey::Hmac(secret)), None) => {
            if secret.verify_hex(canonical, mac) {
                Ok(Verification::Hmac)
            } else {
                Err(signature_mismatch())
            }
        }
        (Some(VerifyKey::Ed25519(_)), _) => Err(algorithm_mismatch()),
        (_, Some(_)) => Err(classified(
            PolicyCode::VerificationTrustedSignersUnsupported,
            "persisted file signature algorithm does not support trusted_signers",
        )),
        (None, None) => Ok(Verification::NotRequested),
    }
}

fn check_ed25519(
    signature: &Map<String, Value>,
    canonical: &[u8],
    options: &VerifyOptions<'_>,
) -> Result<Verification> {
    let (Some(key_id), Some(public_sha), Some(encoded)) = (
        non_empty_str(signature, "key_id"),
        non_empty_str(signature, "public_key_sha256"),
        non_empty_str(signature, "payload_ed25519"),
    ) else {
        return Err(invalid_signature_block());
    };
    if key_id.strip_prefix("sha256:") != Some(public_sha) {
        return Err(invalid_signature_block());
    }
    let trusted = match options.trusted_signers {
        Some(store) => Some(store.get(key_id).ok_or_else(|| {
            classified(
                PolicyCode::SignerUntrusted,
                "persisted file signer is untrusted",
            )
        })?),
        None => None,
    };
    let verifier = match options.verify_key {
        Some(VerifyKey::Ed25519(key)) => key,
        Some(VerifyKey::Hmac(_)) => return Err(algorithm_mismatch()),
        None => match trusted {
            Some(signer) => signer,
            None => return Ok(Verification::NotRequested),
        },
    };
    if verifier.public_key_sha256() != public_sha {
        return Err(classified(
            PolicyCode::VerificationSignerIdentityMismatch,
            "persisted file signer identity mismatch",
        ));
    }
    let bytes: [u8; 64] = base64::decode(encoded)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(invalid_signature_block)?;
    if !verifier.verify_strict(canonical, &bytes) {
        return Err(signature_mismatch());
    }
    Ok(Verification::Ed25519 {
        key_id: key_id.to_owned(),
    })
}
