//! Signing and verification keys: HMAC-SHA256 secrets and Ed25519 key pairs.
//!
//! Key material is classified as LQFT does: bytes that start (after leading whitespace) with
//! `-----BEGIN ` are a PEM key, anything else non-empty is an HMAC secret. Unlike LQFT,
//! verification takes public keys only (a private PEM is refused rather than silently
//! accepted), keys are only ever read from files that exist, and secrets never appear in
//! `Debug` output or error messages.

use std::fmt;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::der_pem::{self, PRIVATE_KEY_LABEL, PUBLIC_KEY_LABEL};
use super::error::{Error, Result};
use super::hex;
use super::limits::MAX_KEY_FILE_BYTES;
use super::policy::PolicyCode;
use crate::file::read::{self, Links};

/// The `algorithm` string of HMAC-SHA256 signatures.
pub const HMAC_SHA256: &str = "hmac-sha256";
/// The `algorithm` string of Ed25519 signatures.
pub const ED25519: &str = "ed25519";

/// An HMAC-SHA256 secret. Its bytes are never printed.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A non-empty secret.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Secret> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Err(Error::key("an HMAC secret must not be empty"));
        }
        Ok(Secret(bytes))
    }

    pub(crate) fn mac_hex(&self, message: &[u8]) -> String {
        hex::encode(&self.mac(message).finalize().into_bytes())
    }

    fn mac(&self, message: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        mac.update(message);
        mac
    }

    /// Constant-time check of a lowercase-hex MAC over `message`.
    pub(crate) fn verify_hex(&self, message: &[u8], mac_hex: &str) -> bool {
        match hex::decode_lower(mac_hex) {
            Some(tag) => self.mac(message).verify_slice(&tag).is_ok(),
            None => false,
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.fill(0);
        std::hint::black_box(&self.0);
    }
}

/// An Ed25519 public key with its LQFT identity.
#[derive(Clone, PartialEq, Eq)]
pub struct Ed25519PublicKey {
    key: VerifyingKey,
    sha256_hex: String,
}

impl Ed25519PublicKey {
    /// A key from its 32 raw bytes; invalid curve points are refused.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Ed25519PublicKey> {
        let key = VerifyingKey::from_bytes(bytes)
            .map_err(|_| Error::key("not a valid Ed25519 public key"))?;
        Ok(Ed25519PublicKey::from_verifying_key(key))
    }

    fn from_verifying_key(key: VerifyingKey) -> Ed25519PublicKey {
        let sha256_hex = hex::encode(&Sha256::digest(key.as_bytes()));
        Ed25519PublicKey { key, sha256_hex }
    }

    /// A key from SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_pem(pem: &[u8]) -> Result<Ed25519PublicKey> {
        let block = der_pem::parse_pem(pem).ok_or_else(|| Error::key("not a PEM key"))?;
        match block.label.as_str() {
            PUBLIC_KEY_LABEL => {
                let raw = der_pem::parse_public_key_der(&block.der)
                    .ok_or_else(|| Error::key("PEM public key is not an Ed25519 key"))?;
                Ed25519PublicKey::from_bytes(&raw)
            }
            PRIVATE_KEY_LABEL => Err(Error::key(
                "PEM holds a private key where a public key is required",
            )),
            other => Err(Error::key(format!("unsupported PEM block {other:?}"))),
        }
    }

    /// SubjectPublicKeyInfo PEM text.
    pub fn to_pem(&self) -> String {
        der_pem::to_pem(
            PUBLIC_KEY_LABEL,
            &der_pem::public_key_der(self.key.as_bytes()),
        )
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// Lowercase hex SHA-256 of the raw key (LQFT's `public_key_sha256`).
    pub fn public_key_sha256(&self) -> &str {
        &self.sha256_hex
    }

    /// `"sha256:" + public_key_sha256` (LQFT's `key_id`).
    pub fn key_id(&self) -> String {
        format!("sha256:{}", self.sha256_hex)
    }

    /// Strict verification (RFC 8032 §5.1.7 with canonical `S` and no small-order keys or
    /// `R`), so a signature cannot be malleated into another valid one.
    pub(crate) fn verify_strict(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.key
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    }
}

impl fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519PublicKey({})", self.key_id())
    }
}

/// An Ed25519 private key.
#[derive(Clone)]
pub struct Ed25519PrivateKey {
    key: SigningKey,
    public: Ed25519PublicKey,
}

impl Ed25519PrivateKey {
    /// The key for a 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Ed25519PrivateKey {
        let key = SigningKey::from_bytes(seed);
        let public = Ed25519PublicKey::from_verifying_key(key.verifying_key());
        Ed25519PrivateKey { key, public }
    }

    /// A key from PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, unencrypted).
    pub fn from_pem(pem: &[u8]) -> Result<Ed25519PrivateKey> {
        let block = der_pem::parse_pem(pem).ok_or_else(|| Error::key("not a PEM key"))?;
        if block.label != PRIVATE_KEY_LABEL {
            return Err(Error::key(format!(
                "expected an unencrypted PKCS#8 Ed25519 private key, found PEM block {:?}",
                block.label
            )));
        }
        let (seed, embedded_public) = der_pem::parse_private_key_der(&block.der)
            .ok_or_else(|| Error::key("PEM private key is not an Ed25519 PKCS#8 key"))?;
        let key = Ed25519PrivateKey::from_seed(&seed);
        if embedded_public.is_some_and(|p| &p != key.public.as_bytes()) {
            return Err(Error::key(
                "PKCS#8 private key embeds a public key that does not belong to it",
            ));
        }
        Ok(key)
    }

    /// Unencrypted PKCS#8 v1 PEM text, as LQFT writes private keys.
    pub fn to_pem(&self) -> String {
        der_pem::to_pem(
            PRIVATE_KEY_LABEL,
            &der_pem::private_key_der(&self.key.to_bytes()),
        )
    }

    /// The matching public key.
    pub fn public_key(&self) -> &Ed25519PublicKey {
        &self.public
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for Ed25519PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519PrivateKey(<redacted>, {})", self.public.key_id())
    }
}

fn looks_like_pem(material: &[u8]) -> bool {
    material.trim_ascii_start().starts_with(b"-----BEGIN ")
}

/// A key that signs files.
#[derive(Clone, Debug)]
pub enum SignKey {
    /// HMAC-SHA256 with a shared secret.
    Hmac(Secret),
    /// Ed25519 with a private key (boxed: it is much larger than a secret handle).
    Ed25519(Box<Ed25519PrivateKey>),
}

impl SignKey {
    /// Classifies key material as LQFT does: a PEM private key or an HMAC secret.
    pub fn from_material(material: &[u8]) -> Result<SignKey> {
        if material.is_empty() {
            return Err(Error::key("sign_key must not be empty"));
        }
        if looks_like_pem(material) {
            return Ed25519PrivateKey::from_pem(material)
                .map(|key| SignKey::Ed25519(Box::new(key)))
                .map_err(|e| Error::key(format!("sign_key: {}", e.message())));
        }
        Ok(SignKey::Hmac(Secret::new(material)?))
    }

    /// Reads key material from a file that must exist (a missing file is an error, never
    /// a secret).
    pub fn from_file(path: &Path) -> Result<SignKey> {
        SignKey::from_material(&read_key_file(path, Links::Follow)?)
    }

    /// The `algorithm` string of signatures made with this key.
    pub fn algorithm(&self) -> &'static str {
        match self {
            SignKey::Hmac(_) => HMAC_SHA256,
            SignKey::Ed25519(_) => ED25519,
        }
    }
}

/// A key that verifies files.
#[derive(Clone, Debug)]
pub enum VerifyKey {
    /// HMAC-SHA256 with a shared secret.
    Hmac(Secret),
    /// Ed25519 with a public key.
    Ed25519(Ed25519PublicKey),
}

impl VerifyKey {
    /// Classifies key material as LQFT does (a PEM key or an HMAC secret), except that a PEM
    /// private key is refused: verification needs only the public key.
    pub fn from_material(material: &[u8]) -> Result<VerifyKey> {
        let config_error =
            |message: String| Error::policy(PolicyCode::VerificationConfigurationError, message);
        if material.is_empty() {
            return Err(config_error("verify_key must not be empty".to_owned()));
        }
        if looks_like_pem(material) {
            return Ed25519PublicKey::from_pem(material)
                .map(VerifyKey::Ed25519)
                .map_err(|e| config_error(format!("verify_key: {}", e.message())));
        }
        Ok(VerifyKey::Hmac(Secret(material.to_vec())))
    }

    /// Reads key material from a file that must exist.
    pub fn from_file(path: &Path) -> Result<VerifyKey> {
        VerifyKey::from_material(&read_key_file(path, Links::Follow)?)
    }

    /// The `algorithm` string of signatures this key verifies.
    pub fn algorithm(&self) -> &'static str {
        match self {
            VerifyKey::Hmac(_) => HMAC_SHA256,
            VerifyKey::Ed25519(_) => ED25519,
        }
    }
}

/// Reads key material (PEM or HMAC secret) from `path`: a regular file of at most
/// [`MAX_KEY_FILE_BYTES`] that must exist (a FIFO or device is refused without blocking).
pub fn read_key_material(path: &Path) -> Result<Vec<u8>> {
    read_key_file(path, Links::Follow)
}

/// [`read_key_material`], refusing a final symlink on request.
pub(crate) fn read_key_file(path: &Path, links: Links) -> Result<Vec<u8>> {
    Ok(read::read_capped(
        path,
        MAX_KEY_FILE_BYTES,
        "key file",
        links,
    )?)
}

/// Reads an Ed25519 public key for a trust store from a file that must exist.
pub(crate) fn trusted_signer_from_file(path: &Path, links: Links) -> Result<Ed25519PublicKey> {
    let material = read_key_file(path, links)?;
    if !looks_like_pem(&material) {
        return Err(Error::policy(
            PolicyCode::VerificationTrustedSignersNonEd25519,
            format!(
                "trusted_signers only supports Ed25519 verification keys: {} is not a PEM key",
                path.display()
            ),
        ));
    }
    Ed25519PublicKey::from_pem(&material).map_err(|e| {
        Error::policy(
            PolicyCode::VerificationTrustedSignersNonEd25519,
            format!(
                "trusted_signers only supports Ed25519 verification keys: {}: {}",
                path.display(),
                e.message()
            ),
        )
    })
}

impl From<Ed25519PublicKey> for VerifyKey {
    fn from(key: Ed25519PublicKey) -> VerifyKey {
        VerifyKey::Ed25519(key)
    }
}

impl From<Ed25519PrivateKey> for SignKey {
    fn from(key: Ed25519PrivateKey) -> SignKey {
        SignKey::Ed25519(Box::new(key))
    }
}
