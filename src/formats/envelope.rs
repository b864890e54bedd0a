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

use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::base64;
use super::canonical_json::{canonical_bytes, canonical_split, write_canonical};
use super::error::{Error, Result};
use super::file_io::{
    CappedWriter, path_uses_gzip, read_json_file, write_atomic_with, write_error,
};
use super::hex;
use super::keys::{ED25519, HMAC_SHA256, SignKey, VerifyKey};
use super::limits::Limits;
use super::policy::PolicyCode;
use super::python_json::{TextLayout, to_python_json, to_python_json_split, write_value_at};
use super::trust_store::TrustStore;
use super::validity::{
    Validity, ValiditySummary, enforce_floor, now_micros, summarize, validate_floor,
};
use crate::file::replace::Access;

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
    /// The caps of the readers the file is meant for: a file (or, for gzip, a decompressed
    /// document) larger than they accept is refused with an [`super::ErrorKind::Limit`] error
    /// and nothing is written.
    pub limits: Limits,
}

impl Default for WriteOptions<'_> {
    fn default() -> Self {
        WriteOptions {
            sign_key: None,
            validity: None,
            layout: TextLayout::default(),
            gzip_level: 6,
            limits: Limits::default(),
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
    mut payload: Map<String, Value>,
    compression: &str,
    sign_key: Option<&SignKey>,
    validity: Option<&Validity>,
) -> Result<Map<String, Value>> {
    let validity_json = bind_validity(&mut payload, validity)?;
    let payload = Value::Object(payload);
    let canonical = canonical_bytes(&payload);
    let mut doc = envelope(compression, sha256_hex(&canonical), payload, validity_json);
    if let Some(key) = sign_key {
        doc.insert("signature".into(), signature_block(key, &canonical));
    }
    Ok(doc)
}

/// Checks `validity` and copies it into `payload` (refusing a different block already
/// there), so that it is signed; returns the block for the envelope.
fn bind_validity(
    payload: &mut Map<String, Value>,
    validity: Option<&Validity>,
) -> Result<Option<Value>> {
    let Some(v) = validity else {
        return Ok(None);
    };
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
    Ok(Some(block))
}

/// The unsigned envelope in LQFT's member order; a signature goes last.
fn envelope(
    compression: &str,
    payload_sha256: String,
    payload: Value,
    validity: Option<Value>,
) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("format".into(), PERSISTED_FILE_FORMAT.into());
    doc.insert("compression".into(), compression.into());
    doc.insert("integrity".into(), integrity_block(payload_sha256));
    doc.insert("payload".into(), payload);
    if let Some(block) = validity {
        doc.insert("validity".into(), block);
    }
    doc
}

fn integrity_block(payload_sha256: String) -> Value {
    serde_json::json!({"algorithm": "sha256", "payload_sha256": payload_sha256})
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

/// A part of a payload whose canonical bytes and file text are written straight from its
/// source instead of being laid out from a `Value`: a whole payload, or one member of it
/// (a snapshot's `items`).
pub(crate) trait StreamedPart: Sync {
    /// Appends the part's canonical bytes (as [`canonical_bytes`] of its `Value` would).
    fn write_canonical(&self, out: &mut Vec<u8>);
    /// Writes the part's file text nested `level` deep (as the file text of its `Value`
    /// inside a document would be laid out).
    fn write_text(
        &self,
        layout: TextLayout,
        level: usize,
        out: &mut dyn Write,
    ) -> std::io::Result<()>;
}

/// A payload held as a `Value`.
struct WholePayload(Value);

impl StreamedPart for WholePayload {
    fn write_canonical(&self, out: &mut Vec<u8>) {
        write_canonical(&self.0, out);
    }

    fn write_text(
        &self,
        layout: TextLayout,
        level: usize,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        let mut text = Vec::new();
        write_value_at(&self.0, layout, level, &mut text);
        out.write_all(&text)
    }
}

/// Bytes buffered between the text writer and the file (or the gzip encoder).
const WRITE_BUFFER: usize = 1 << 20;

/// Stands for the payload checksum in the head of an uncompressed file until the checksum is
/// known; it has the length of every SHA-256 hex digest, so the real head overwrites it in
/// place.
const CHECKSUM_PLACEHOLDER: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Seals `payload` and writes it atomically to `path` (gzip when the name ends in `.gz`).
pub fn write_persisted_file(
    path: &Path,
    payload: Map<String, Value>,
    options: &WriteOptions<'_>,
) -> Result<()> {
    write_streamed(path, payload, None, options)
}

/// [`write_persisted_file`] where the payload member `streamed.0` (a placeholder in
/// `payload`, so that the member order is known) is written from `streamed.1`.
///
/// One thread builds the canonical bytes, hashes and signs them; the other lays out the file
/// text straight into the file: the head (with a placeholder checksum when uncompressed),
/// the payload, then, once the signature is known, the tail (the signature follows the
/// payload in both member orders) and the real head over the placeholder. A large file costs
/// roughly the larger of the two, not their sum. The gzip stream cannot be patched, so there
/// the text waits for the checksum (not the signature).
pub(crate) fn write_streamed(
    path: &Path,
    mut payload: Map<String, Value>,
    streamed: Option<(&str, &dyn StreamedPart)>,
    options: &WriteOptions<'_>,
) -> Result<()> {
    let gzip = path_uses_gzip(path);
    let compression = if gzip { "gzip" } else { "none" };
    let validity = bind_validity(&mut payload, options.validity)?;
    let whole;
    let (part, payload_slot, hole, canonical_head, canonical_tail): (
        &dyn StreamedPart,
        _,
        _,
        _,
        _,
    ) = match streamed {
        Some((name, part)) => {
            let (head, tail) = canonical_split(&payload, name)
                .ok_or_else(|| Error::payload(format!("payload has no {name} member")))?;
            (
                part,
                Value::Object(payload),
                vec!["payload", name],
                head,
                tail,
            )
        }
        None => {
            whole = WholePayload(Value::Object(payload));
            (&whole, Value::Null, vec!["payload"], Vec::new(), Vec::new())
        }
    };
    let mut doc = Value::Object(envelope(
        compression,
        CHECKSUM_PLACEHOLDER.to_owned(),
        payload_slot,
        validity,
    ));
    let layout = options.layout;
    let split = |doc: &Value| {
        to_python_json_split(doc, layout, &hole)
            .ok_or_else(|| Error::payload("envelope has no payload member"))
    };
    let (checksum_tx, checksum_rx) = std::sync::mpsc::sync_channel(1);
    std::thread::scope(|scope| {
        let sealer = scope.spawn(move || {
            let mut canonical = canonical_head;
            part.write_canonical(&mut canonical);
            canonical.extend_from_slice(&canonical_tail);
            let checksum = sha256_hex(&canonical);
            // The receiver is gone only if writing already failed.
            let _ = checksum_tx.send(checksum.clone());
            let signature = options.sign_key.map(|key| signature_block(key, &canonical));
            (checksum, signature)
        });
        let finish = move |doc: &mut Value| -> Result<(Vec<u8>, Vec<u8>)> {
            let (checksum, signature) = join(sealer);
            if let Value::Object(map) = doc {
                map.insert("integrity".into(), integrity_block(checksum));
                if let Some(signature) = signature {
                    map.insert("signature".into(), signature);
                }
            }
            split(doc)
        };
        let limits = options.limits;
        write_atomic_with(path, Access::Inherit, |file, temp| {
            let io = |e: std::io::Error| write_error(temp, e);
            let file_cap = limits.max_file_bytes;
            if gzip {
                let Ok(checksum) = checksum_rx.recv() else {
                    // The sealer drops its sender unsent only by panicking, which `finish`
                    // re-raises.
                    finish(&mut doc)?;
                    return Err(Error::payload("payload checksum is unavailable"));
                };
                if let Value::Object(map) = &mut doc {
                    map.insert("integrity".into(), integrity_block(checksum));
                }
                let (head, _) = split(&doc)?;
                let encoder = GzEncoder::new(
                    CappedWriter::new(&mut *file, file_cap, "file"),
                    Compression::new(options.gzip_level.min(9)),
                );
                let text = CappedWriter::new(
                    encoder,
                    limits.max_decompressed_bytes,
                    "decompressed document",
                );
                let mut out = BufWriter::with_capacity(WRITE_BUFFER, text);
                out.write_all(&head).map_err(io)?;
                part.write_text(layout, hole.len(), &mut out).map_err(io)?;
                let (_, tail) = finish(&mut doc)?;
                out.write_all(&tail).map_err(io)?;
                let text = out.into_inner().map_err(|e| io(e.into_error()))?;
                text.into_inner().finish().map_err(io)?;
            } else {
                let (head, _) = split(&doc)?;
                let mut out = BufWriter::with_capacity(
                    WRITE_BUFFER,
                    CappedWriter::new(&mut *file, file_cap, "file"),
                );
                out.write_all(&head).map_err(io)?;
                part.write_text(layout, hole.len(), &mut out).map_err(io)?;
                let mut capped = out.into_inner().map_err(|e| io(e.into_error()))?;
                // Most of the disk write happens here, while the signature is computed.
                capped
                    .get_mut()
                    .sync_data()
                    .map_err(|e| Error::io(temp, "fsync", e))?;
                let (real_head, tail) = finish(&mut doc)?;
                if real_head.len() != head.len() {
                    return Err(Error::payload("payload checksum changed the head's length"));
                }
                capped.write_all(&tail).map_err(io)?;
                let file = capped.get_mut();
                file.seek(SeekFrom::Start(0)).map_err(io)?;
                file.write_all(&real_head).map_err(io)?;
            }
            Ok(())
        })
    })
}

/// The text of the file [`write_persisted_file`] writes for `payload` to a path without
/// `.gz`, in memory: the same bytes, under the same cap (`options.limits.max_file_bytes`,
/// an [`ErrorKind::Limit`](super::ErrorKind::Limit) error past it).
pub fn persisted_file_bytes(
    payload: Map<String, Value>,
    options: &WriteOptions<'_>,
) -> Result<Vec<u8>> {
    let document = seal(payload, "none", options.sign_key, options.validity)?;
    let text = to_python_json(&Value::Object(document), options.layout);
    let cap = options.limits.max_file_bytes;
    if text.len() as u64 > cap {
        return Err(Error::new(
            super::ErrorKind::Limit,
            format!(
                "the document would be {} bytes, over the cap of {cap} bytes that readers \
                 apply, so it could not be read back",
                text.len()
            ),
        ));
    }
    Ok(text)
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
