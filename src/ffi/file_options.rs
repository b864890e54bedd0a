//! The sized option structs of portable files: keys given as bytes (or paths) and explicit
//! validity windows. Each struct starts with its own size, so later versions can add fields.

use std::ffi::c_char;
use std::path::Path;

use super::args::input;
use super::error::Fail;
use super::files::optional_path;
use crate::formats::TrustStore;
use crate::formats::keys::read_key_material;
use crate::formats::validity::format_utc_micros;
use crate::formats::{SignKey, TrustStoreOptions, Validity, VerifyKey, VerifyOptions};

/// How a file (or its bytes in memory) is written: the signing key and the validity window.
/// Pass `NULL` for an unsigned document without a window.
///
/// The key is given either as bytes (`sign_key`, `sign_key_len`: the content of a key file,
/// so a secret never has to be written to a file) or as a path (`sign_key_path`), not both.
/// Timestamps are seconds since the Unix epoch (UTC) within years 1 to 9999; the window is
/// written into the signed payload as well as into the envelope.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lqft_write_options {
    /// Must be `sizeof(lqft_write_options)` (lets later versions add fields).
    pub size: usize,
    /// Key material: an Ed25519 private key in PKCS#8 PEM (text starting with
    /// `-----BEGIN `), or any other non-empty bytes as an HMAC-SHA256 secret. Borrowed for
    /// the call; `NULL` (with length 0) for none.
    pub sign_key: *const u8,
    /// Length of `sign_key` in bytes.
    pub sign_key_len: usize,
    /// Path of a file holding the key material; `NULL` for none.
    pub sign_key_path: *const c_char,
    /// Whether `not_before` is written.
    pub has_not_before: bool,
    /// The file is not valid before this time (seconds since the Unix epoch).
    pub not_before: i64,
    /// Whether `expires_at` is written.
    pub has_expires_at: bool,
    /// The file is expired from this time on (seconds since the Unix epoch); after
    /// `not_before` when both are given.
    pub expires_at: i64,
    /// Whether `warn_before_expiry_seconds` is written.
    pub has_warn_before_expiry: bool,
    /// Readers report `expiring-soon` when no more than this many seconds remain; a non-zero
    /// value requires `expires_at`.
    pub warn_before_expiry_seconds: u64,
}

/// What reading a file (or its bytes) requires of it. Pass `NULL` for no verification.
///
/// The verification key is given either as bytes (`verify_key`, `verify_key_len`) or as a
/// path (`verify_key_path`), not both.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lqft_verification {
    /// Must be `sizeof(lqft_verification)` (lets later versions add fields).
    pub size: usize,
    /// Key material: an Ed25519 public key PEM, or the HMAC-SHA256 secret. Borrowed for the
    /// call; `NULL` (with length 0) for none.
    pub verify_key: *const u8,
    /// Length of `verify_key` in bytes.
    pub verify_key_len: usize,
    /// Path of a file holding the key material; `NULL` for none.
    pub verify_key_path: *const c_char,
    /// Path of a trust store (a directory of public keys or a trust-store manifest): the
    /// document must carry an Ed25519 signature by one of its non-revoked signers. `NULL`
    /// for none.
    pub trusted_signers_path: *const c_char,
    /// Whether `min_remaining_validity_seconds` applies.
    pub require_freshness: bool,
    /// With `require_freshness`: at least this many seconds of signed, verified validity must
    /// remain.
    pub min_remaining_validity_seconds: i64,
}

/// Reads a sized struct: `NULL` gives `None`; a wrong `size` is refused.
///
/// # Safety
/// `ptr` is `NULL` or points to a readable `T` whose first field is its `size_t` size (the
/// rest is read only when the size is right).
pub(super) unsafe fn read_sized<T: Copy>(ptr: *const T, name: &str) -> Result<Option<T>, Fail> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and readable per the contract; `size` is the first field.
    let size = unsafe { ptr.cast::<usize>().read_unaligned() };
    let expected = std::mem::size_of::<T>();
    if size != expected {
        return Err(Fail::invalid(format!(
            "{name}.size is {size}, expected {expected} (set it to sizeof({name}))"
        )));
    }
    // SAFETY: the caller's struct has this version's size, so it is readable whole.
    Ok(Some(unsafe { ptr.read_unaligned() }))
}

/// Key material given as bytes or as a path (never both): `None` when neither is given.
///
/// # Safety
/// `bytes` is `NULL` or readable for `len` bytes; `path` is `NULL` or NUL-terminated.
unsafe fn key_material(
    bytes: *const u8,
    len: usize,
    path: *const c_char,
    what: &str,
) -> Result<Option<Vec<u8>>, Fail> {
    // SAFETY: forwarded contract.
    let (bytes, path) = unsafe {
        (
            input(bytes, len, what)?,
            optional_path(path, &format!("{what}_path"))?,
        )
    };
    match (bytes.is_empty(), path) {
        (true, None) => Ok(None),
        (false, None) => Ok(Some(bytes.to_vec())),
        (true, Some(path)) => Ok(Some(read_key_material(path)?)),
        (false, Some(_)) => Err(Fail::invalid(format!(
            "`{what}` and `{what}_path` are both given: pass the key one way"
        ))),
    }
}

/// Seconds since the Unix epoch as the format's timestamp, within years 1 to 9999.
fn timestamp(seconds: i64, what: &str) -> Result<String, Fail> {
    // 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    const EARLIEST: i64 = -62_135_596_800;
    const LATEST: i64 = 253_402_300_799;
    if !(EARLIEST..=LATEST).contains(&seconds) {
        return Err(Fail::invalid(format!(
            "`{what}` {seconds} is outside years 1 to 9999, the times the format can name"
        )));
    }
    Ok(format_utc_micros(seconds * 1_000_000))
}

/// The signing key and validity window of `options` (`NULL`: unsigned, no window).
///
/// # Safety
/// `options` is `NULL` or points to a readable `lqft_write_options` (see [`read_sized`])
/// whose key bytes and path are readable as documented.
pub(super) unsafe fn write_inputs(
    options: *const lqft_write_options,
) -> Result<(Option<SignKey>, Option<Validity>), Fail> {
    // SAFETY: forwarded contract.
    let Some(o) = (unsafe { read_sized(options, "lqft_write_options") })? else {
        return Ok((None, None));
    };
    // SAFETY: forwarded contract.
    let material =
        unsafe { key_material(o.sign_key, o.sign_key_len, o.sign_key_path, "sign_key") }?;
    let key = material.map(|m| SignKey::from_material(&m)).transpose()?;
    if o.has_not_before && o.has_expires_at && o.expires_at <= o.not_before {
        return Err(Fail::invalid(format!(
            "expires_at {} is not after not_before {}",
            o.expires_at, o.not_before
        )));
    }
    if o.has_warn_before_expiry && o.warn_before_expiry_seconds != 0 && !o.has_expires_at {
        return Err(Fail::invalid(
            "warn_before_expiry_seconds needs expires_at: set has_expires_at",
        ));
    }
    let validity = Validity {
        not_before: o
            .has_not_before
            .then(|| timestamp(o.not_before, "not_before"))
            .transpose()?,
        expires_at: o
            .has_expires_at
            .then(|| timestamp(o.expires_at, "expires_at"))
            .transpose()?,
        warn_before_expiry_seconds: o
            .has_warn_before_expiry
            .then_some(o.warn_before_expiry_seconds),
    };
    let validity = (validity != Validity::default()).then_some(validity);
    Ok((key, validity))
}

/// The verification requirements of a read, with the keys and trust store loaded.
pub(super) struct Verifier<'a> {
    /// The verification key material as given (inspection parses it itself, so that a bad
    /// key is reported like any other policy failure).
    pub(super) material: Option<Vec<u8>>,
    key: Option<VerifyKey>,
    signers: Option<TrustStore>,
    pub(super) signers_path: Option<&'a Path>,
    pub(super) freshness: Option<i64>,
}

impl<'a> Verifier<'a> {
    /// No verification.
    pub(super) fn none() -> Verifier<'a> {
        Verifier {
            material: None,
            key: None,
            signers: None,
            signers_path: None,
            freshness: None,
        }
    }

    /// Reads `options` (`NULL`: no verification). With `load_keys`, also parses the key and
    /// loads the trust store (a load needs them; an inspection reports their failures).
    ///
    /// # Safety
    /// `options` is `NULL` or points to a readable `lqft_verification` (see
    /// [`read_sized`]) whose key bytes stay readable and whose paths are NUL-terminated
    /// strings that stay readable for the rest of the call.
    pub(super) unsafe fn from_verification(
        options: *const lqft_verification,
        load_keys: bool,
    ) -> Result<Verifier<'a>, Fail> {
        // SAFETY: forwarded contract.
        let Some(o) = (unsafe { read_sized(options, "lqft_verification") })? else {
            return Ok(Verifier::none());
        };
        // SAFETY: forwarded contract; the paths stay readable for `'a`.
        let (material, signers_path) = unsafe {
            (
                key_material(
                    o.verify_key,
                    o.verify_key_len,
                    o.verify_key_path,
                    "verify_key",
                )?,
                optional_path(o.trusted_signers_path, "trusted_signers_path")?,
            )
        };
        let mut verifier = Verifier {
            material,
            key: None,
            signers: None,
            signers_path,
            freshness: o
                .require_freshness
                .then_some(o.min_remaining_validity_seconds),
        };
        if load_keys {
            verifier.key = verifier
                .material
                .as_deref()
                .map(VerifyKey::from_material)
                .transpose()?;
            verifier.signers = signers_path
                .map(|p| TrustStore::load(p, &TrustStoreOptions::default()))
                .transpose()?;
        }
        Ok(verifier)
    }

    /// A verifier of already loaded keys (the path-based `lqft_verify_options`).
    pub(super) fn loaded(
        key: Option<VerifyKey>,
        signers: Option<TrustStore>,
        freshness: Option<i64>,
    ) -> Verifier<'a> {
        Verifier {
            material: None,
            key,
            signers,
            signers_path: None,
            freshness,
        }
    }

    /// What the formats layer checks.
    pub(super) fn options(&self) -> VerifyOptions<'_> {
        VerifyOptions {
            verify_key: self.key.as_ref(),
            trusted_signers: self.signers.as_ref(),
            min_remaining_validity_seconds: self.freshness,
        }
    }
}
