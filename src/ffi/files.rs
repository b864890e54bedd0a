//! Portable snapshot files (LQFT 1.2.2's `lqft-persisted-file-v1`): save, load with
//! verification, inspect, and Ed25519 key pairs. A thin skin over [`crate::formats`].
//!
//! How files are written and read (the header says it on each function):
//!
//! - Written files are replaced atomically and durably: a temporary file in the same
//!   directory, fsync, rename, fsync of the directory. A failing call leaves the old file
//!   as it was and no temporary file behind.
//! - The replaced file's permission bits are kept (a 0600 file stays 0600); a new file gets
//!   0666 minus the umask; private keys are always 0600.
//! - The directory must exist (it is never created), and the path must name a regular file
//!   or nothing: a symbolic link, directory, device, FIFO or socket is refused with
//!   `LQFT_ERR_IO`, never replaced. To write through a link, pass its target.
//! - Files read (snapshots, bundles, keys, trust stores) must be regular files (symbolic
//!   links to them are followed); a FIFO or device is refused at once with `LQFT_ERR_IO`,
//!   never waited on. Sizes are capped before reading (`LQFT_ERR_LIMIT`).

use std::ffi::c_char;
use std::path::Path;
use std::time::SystemTime;

use super::args::{Out, handle, path};
use super::bytes::{lqft_bytes, lqft_ids};
use super::error::Fail;
use super::file_options::{
    Verifier, lqft_verification, lqft_write_options, read_sized, write_inputs,
};
use super::guard::{Outcome, call};
use super::map::lqft_map;
use super::snapshot::{
    LQFT_ROLLBACK_FAIL, give, lqft_rollback_policy, lqft_snapshot, rollback_policy,
};
use super::status::*;
use crate::SnapshotIds;
use crate::formats::inspect::{InspectOptions, inspect_persisted_file};
use crate::formats::keypair::write_ed25519_keypair;
use crate::formats::keys::read_key_material;
use crate::formats::map_files::{
    LoadOptions, Source, load_bundle, load_snapshot, save_bundle, save_snapshot,
};
use crate::formats::{
    Error as FileError, ErrorKind, SignKey, TrustStore, TrustStoreOptions, Validity, VerifyKey,
    WriteOptions,
};

/// How a file is written. Pass `NULL` for an unsigned file without a validity window.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lqft_save_options {
    /// Path of the signing key file (an Ed25519 private key in PKCS#8 PEM, or an HMAC secret);
    /// `NULL` writes an unsigned file (sha256 integrity only).
    pub sign_key_path: *const c_char,
    /// When non-zero, the file is valid from now for this many seconds (the window is signed).
    /// A window that would end after 9999-12-31T23:59:59Z is refused with
    /// `LQFT_ERR_INVALID_ARGUMENT`.
    pub valid_for_seconds: u64,
}

/// What loading or inspecting a file requires of it. Pass `NULL` for no verification.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lqft_verify_options {
    /// Path of the key that must verify the signature (Ed25519 public key PEM or HMAC secret);
    /// `NULL` for none.
    pub verify_key_path: *const c_char,
    /// Path of a trust store (a directory of public keys or a trust-store manifest): the file
    /// must carry an Ed25519 signature by one of its non-revoked signers. `NULL` for none.
    pub trusted_signers_path: *const c_char,
    /// Whether `min_remaining_validity_seconds` applies.
    pub require_freshness: bool,
    /// With `require_freshness`: at least this many seconds of signed, verified validity must
    /// remain.
    pub min_remaining_validity_seconds: i64,
}

/// An optional path: `NULL` means none.
///
/// # Safety
/// As for [`path`].
pub(super) unsafe fn optional_path<'a>(
    ptr: *const c_char,
    what: &str,
) -> Result<Option<&'a Path>, Fail> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { path(ptr, what) }.map(Some)
    }
}

impl From<FileError> for Fail {
    fn from(error: FileError) -> Fail {
        let status = match error.kind() {
            ErrorKind::Io => LQFT_ERR_IO,
            ErrorKind::Policy => LQFT_ERR_POLICY,
            ErrorKind::Limit => LQFT_ERR_LIMIT,
            ErrorKind::Parse | ErrorKind::Payload => LQFT_ERR_CORRUPT,
            ErrorKind::Key => LQFT_ERR_INVALID_ARGUMENT,
            // The engine refused: report its own status (duplicate snapshot, pending changes).
            ErrorKind::Engine => {
                let engine = std::error::Error::source(&error)
                    .and_then(|source| source.downcast_ref::<crate::Error>());
                if let Some(engine) = engine {
                    return Fail::from(engine.clone());
                }
                LQFT_ERR_INVALID_ARGUMENT
            }
        };
        // Policy failures name LQFT's policy code after the function name;
        // `lqft_last_policy_code()` gives it alone.
        match error.policy_code() {
            Some(code) => Fail::policy(code, format!("{}: {}", code.as_str(), error.message())),
            None => Fail::new(status, error.to_string()),
        }
    }
}

/// Reads the signing key and validity of `options` (`NULL`: defaults).
///
/// # Safety
/// `options` is `NULL` or points to a readable `lqft_save_options` whose paths are `NULL` or
/// NUL-terminated.
unsafe fn save_inputs(
    options: *const lqft_save_options,
) -> Result<(Option<SignKey>, Option<Validity>), Fail> {
    // SAFETY: forwarded contract.
    let Some(options) = (unsafe { options.as_ref() }) else {
        return Ok((None, None));
    };
    // SAFETY: forwarded contract.
    let key = match unsafe { optional_path(options.sign_key_path, "sign_key_path") }? {
        Some(p) => Some(SignKey::from_file(p)?),
        None => None,
    };
    let validity = match options.valid_for_seconds {
        0 => None,
        seconds => Some(
            Validity::for_seconds_from(SystemTime::now(), seconds).ok_or_else(|| {
                Fail::invalid(format!(
                    "valid_for_seconds {seconds} ends the window after \
                     9999-12-31T23:59:59Z, the latest time a validity window can name"
                ))
            })?,
        ),
    };
    Ok((key, validity))
}

/// The body of the saves: checks the handle named `what` and the path, reads the signing key
/// and window with `inputs`, then writes the file with `write_file`.
///
/// # Safety
/// `handle` is `NULL` or a live handle; `path` is `NULL` or NUL-terminated.
unsafe fn save<H>(
    handle: *const H,
    what: &str,
    path: *const c_char,
    inputs: impl FnOnce() -> Result<(Option<SignKey>, Option<Validity>), Fail>,
    write_file: impl FnOnce(&H, &Path, &WriteOptions<'_>) -> Result<(), Fail>,
) -> Outcome {
    // SAFETY: forwarded contract.
    let (handle, path) = unsafe { (self::handle(handle, what)?, self::path(path, "path")?) };
    let (key, validity) = inputs()?;
    let write = WriteOptions {
        sign_key: key.as_ref(),
        validity: validity.as_ref(),
        ..WriteOptions::default()
    };
    write_file(handle, path, &write)?;
    Ok(LQFT_OK)
}

impl lqft_verify_options {
    /// The verification key path and the trust store path, each `None` when `NULL`.
    ///
    /// # Safety
    /// The paths are `NULL` or NUL-terminated strings readable for `'a`.
    unsafe fn paths<'a>(&self) -> Result<(Option<&'a Path>, Option<&'a Path>), Fail> {
        // SAFETY: forwarded contract.
        unsafe {
            Ok((
                optional_path(self.verify_key_path, "verify_key_path")?,
                optional_path(self.trusted_signers_path, "trusted_signers_path")?,
            ))
        }
    }

    /// The validity that must remain, when freshness is required.
    fn freshness(&self) -> Option<i64> {
        self.require_freshness
            .then_some(self.min_remaining_validity_seconds)
    }
}

impl Verifier<'_> {
    /// The keys named by the path-based `options`, loaded; `NULL` options verify nothing.
    ///
    /// # Safety
    /// `options` is `NULL` or points to a readable `lqft_verify_options` whose paths are
    /// `NULL` or NUL-terminated.
    unsafe fn load(options: *const lqft_verify_options) -> Result<Verifier<'static>, Fail> {
        // SAFETY: forwarded contract.
        let Some(options) = (unsafe { options.as_ref() }) else {
            return Ok(Verifier::none());
        };
        // SAFETY: forwarded contract.
        let (key_path, signers_path) = unsafe { options.paths() }?;
        let key = key_path.map(VerifyKey::from_file).transpose()?;
        let signers = signers_path
            .map(|p| TrustStore::load(p, &TrustStoreOptions::default()))
            .transpose()?;
        Ok(Verifier::loaded(key, signers, options.freshness()))
    }
}

/// Writes `snapshot` to `path` as an `lqft-snapshot-v1` file (gzip-compressed when the path
/// ends in `.gz`), signed and with a validity window as `options` says (`NULL`: unsigned, no
/// window).
///
/// Files: the file is replaced atomically and durably (a temporary file in the same
/// directory, fsync, rename, fsync of the directory); on an error the old file is as it was
/// and no temporary file is left (only a failed fsync of the directory, after the rename,
/// leaves the new file in place but not known to be durable). The replaced file's permission bits are kept (a 0600 file
/// stays 0600); a new file gets 0666 minus the umask. The directory must exist (it is never
/// created) and `path` must name a regular file or nothing: a symbolic link, directory,
/// device, FIFO or socket is refused with `LQFT_ERR_IO`, never replaced (to write through a
/// link, pass its target). A file larger than readers accept (1 GiB, or 1 GiB decompressed
/// for `.gz`) is refused with `LQFT_ERR_LIMIT` rather than written unreadable.
///
/// A snapshot of a store-backed map (`lqft_store_map`) is loaded whole from disk first, so a
/// damaged or unreadable node fails the save before anything is written.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (unusable key, a
/// `valid_for_seconds` window ending after year 9999, or a sharded snapshot: snapshot files
/// hold plain maps only), `LQFT_ERR_IO` (also a node of a store-backed snapshot that could
/// not be read), `LQFT_ERR_CORRUPT` (a node of a store-backed snapshot that fails its check),
/// `LQFT_ERR_LIMIT`.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `path` is `NULL` or NUL-terminated; `options` is
/// `NULL` or readable, with `NULL` or NUL-terminated paths.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_save(
    snapshot: *const lqft_snapshot,
    path: *const c_char,
    options: *const lqft_save_options,
) -> lqft_status {
    // SAFETY: the caller promised a live snapshot, a C-string path and readable options.
    call("lqft_snapshot_save", || unsafe {
        save(
            snapshot,
            "snapshot",
            path,
            || save_inputs(options),
            |snapshot, path, write| {
                let snapshot = snapshot.plain_only("saving a snapshot")?;
                Ok(save_snapshot(path, snapshot, write)?)
            },
        )
    })
}

/// Writes every registered snapshot of `map` (with the current snapshot id) to `path` as one
/// `lqft-snapshot-bundle-v1` file, signed and with a validity window as `options` says.
///
/// Files and errors: as `lqft_snapshot_save` (which loads each snapshot of a store-backed map
/// whole first); `LQFT_ERR_INVALID_ARGUMENT` when the map is sharded (snapshot files hold
/// plain maps only).
///
/// # Safety
/// `map` is `NULL` or a live map; `path` is `NULL` or NUL-terminated; `options` is `NULL` or
/// readable, with `NULL` or NUL-terminated paths.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_save_bundle(
    map: *const lqft_map,
    path: *const c_char,
    options: *const lqft_save_options,
) -> lqft_status {
    // SAFETY: the caller promised a live map, a C-string path and readable options.
    call("lqft_map_save_bundle", || unsafe {
        save(
            map,
            "map",
            path,
            || save_inputs(options),
            |map, path, write| {
                let map = map.plain_only("saving a bundle")?;
                Ok(save_bundle(path, map, None, write)?)
            },
        )
    })
}

/// `lqft_snapshot_save` with its key and validity in `options` (`NULL`: unsigned, no
/// window): the signing key as bytes (so no secret has to go through a file) or a path, and
/// the window as explicit `not_before` / `expires_at` / `warn_before_expiry_seconds`.
///
/// Files: as `lqft_snapshot_save`.
///
/// Errors: as `lqft_snapshot_save`; `LQFT_ERR_INVALID_ARGUMENT` when `options->size` is not
/// `sizeof(lqft_write_options)`, the key is given both ways or is unusable, or the window
/// is impossible (`expires_at` not after `not_before`, a warning without `expires_at`, a
/// time outside years 1 to 9999).
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `path` is `NULL` or NUL-terminated; `options` is
/// `NULL` or readable, its key bytes readable for `sign_key_len` bytes and its path `NULL` or
/// NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_save_with(
    snapshot: *const lqft_snapshot,
    path: *const c_char,
    options: *const lqft_write_options,
) -> lqft_status {
    // SAFETY: the caller promised a live snapshot, a C-string path and readable options.
    call("lqft_snapshot_save_with", || unsafe {
        save(
            snapshot,
            "snapshot",
            path,
            || write_inputs(options),
            |snapshot, path, write| {
                let snapshot = snapshot.plain_only("saving a snapshot")?;
                Ok(save_snapshot(path, snapshot, write)?)
            },
        )
    })
}

/// `lqft_map_save_bundle` with its key and validity in `options`, as
/// `lqft_snapshot_save_with`.
///
/// Files and errors: as `lqft_snapshot_save_with`; `LQFT_ERR_INVALID_ARGUMENT` when the map
/// is sharded (snapshot files hold plain maps only).
///
/// # Safety
/// `map` is `NULL` or a live map; `path` and `options` as for `lqft_snapshot_save_with`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_save_bundle_with(
    map: *const lqft_map,
    path: *const c_char,
    options: *const lqft_write_options,
) -> lqft_status {
    // SAFETY: the caller promised a live map, a C-string path and readable options.
    call("lqft_map_save_bundle_with", || unsafe {
        save(
            map,
            "map",
            path,
            || write_inputs(options),
            |map, path, write| {
                let map = map.plain_only("saving a bundle")?;
                Ok(save_bundle(path, map, None, write)?)
            },
        )
    })
}

/// Which ids a load registers snapshots under: `LQFT_IDS_RECORDED` or `LQFT_IDS_FRESH`.
pub type lqft_snapshot_ids = u32;
/// The ids the file records. Each must be unused in the map: above every id the map has
/// used (`LQFT_ERR_DUPLICATE_SNAPSHOT` otherwise) and at most 2^63 − 1
/// (`LQFT_ERR_INVALID_ARGUMENT` otherwise). A snapshot that records no id gets a fresh one.
pub const LQFT_IDS_RECORDED: lqft_snapshot_ids = 0;
/// Fresh ids from the map, in file order, whatever the file records. Parent ids are
/// translated when the parent is in the same file and dropped otherwise.
pub const LQFT_IDS_FRESH: lqft_snapshot_ids = 1;

/// How `lqft_map_load_snapshot_with` / `lqft_map_load_bundle_with` register what they load.
/// Pass `NULL` for the defaults (recorded ids, no activation).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lqft_load_options {
    /// Must be `sizeof(lqft_load_options)` (lets later versions add fields).
    pub size: usize,
    /// Make the loaded snapshot (a bundle's current snapshot, else its last) current.
    pub activate: bool,
    /// What activation does with uncommitted writes.
    pub pending: lqft_rollback_policy,
    /// Which ids the snapshots get.
    pub ids: lqft_snapshot_ids,
}

/// The loading choices in `options` (`NULL`: defaults).
///
/// # Safety
/// `options` is `NULL` or points to a readable `lqft_load_options` whose `size` field is
/// readable (the rest is read only when `size` is right).
pub(super) unsafe fn load_choices(options: *const lqft_load_options) -> Result<LoadChoices, Fail> {
    // SAFETY: forwarded contract.
    let Some(options) = (unsafe { read_sized(options, "lqft_load_options") })? else {
        return Ok((false, LQFT_ROLLBACK_FAIL, SnapshotIds::Recorded));
    };
    let ids = match options.ids {
        LQFT_IDS_RECORDED => SnapshotIds::Recorded,
        LQFT_IDS_FRESH => SnapshotIds::Fresh,
        other => {
            return Err(Fail::invalid(format!(
                "unknown lqft_snapshot_ids value {other}"
            )));
        }
    };
    Ok((options.activate, options.pending, ids))
}

/// What a load does: activate, with which rollback policy, under which ids.
pub(super) type LoadChoices = (bool, lqft_rollback_policy, SnapshotIds);

pub(super) fn load_options<'v>(
    verifier: &'v Verifier<'_>,
    activate: bool,
    pending: lqft_rollback_policy,
    ids: SnapshotIds,
) -> Result<LoadOptions<'v>, Fail> {
    Ok(LoadOptions {
        verify: verifier.options(),
        activate,
        pending: rollback_policy(pending)?,
        ids,
        ..LoadOptions::default()
    })
}

/// Registers the snapshot `source` holds, verified by `verifier`, and hands it to `out`.
pub(super) fn load_snapshot_from(
    map: &lqft_map,
    source: Source<'_>,
    verifier: &Verifier<'_>,
    (activate, pending, ids): LoadChoices,
    out: Option<Out<*mut lqft_snapshot>>,
) -> Outcome {
    let options = load_options(verifier, activate, pending, ids)?;
    let snapshot = load_snapshot(map.plain_only("loading a snapshot")?, source, &options)?;
    match out {
        Some(out) => give(out, snapshot),
        None => Ok(LQFT_OK),
    }
}

/// Registers every snapshot of the bundle `source` holds, verified by `verifier`, and lists
/// their ids in `out`.
pub(super) fn load_bundle_from(
    map: &lqft_map,
    source: Source<'_>,
    verifier: &Verifier<'_>,
    (activate, pending, ids): LoadChoices,
    out: Option<Out<lqft_ids>>,
) -> Outcome {
    let options = load_options(verifier, activate, pending, ids)?;
    let loaded = load_bundle(map.plain_only("loading a bundle")?, source, &options)?;
    if let Some(out) = out {
        out.write(lqft_ids::from_vec(loaded.iter().map(|s| s.id()).collect()));
    }
    Ok(LQFT_OK)
}

/// The body of the path-based snapshot loads.
///
/// # Safety
/// As for `lqft_map_load_snapshot`.
unsafe fn load_snapshot_file(
    map: *const lqft_map,
    path: *const c_char,
    verify: *const lqft_verify_options,
    choices: LoadChoices,
    out: *mut *mut lqft_snapshot,
) -> Outcome {
    // SAFETY: forwarded contract.
    let (map, path, verifier, out) = unsafe {
        (
            handle(map, "map")?,
            self::path(path, "path")?,
            Verifier::load(verify)?,
            Out::optional(out, "out")?,
        )
    };
    load_snapshot_from(map, Source::File(path), &verifier, choices, out)
}

/// The body of the path-based bundle loads.
///
/// # Safety
/// As for `lqft_map_load_bundle`.
unsafe fn load_bundle_file(
    map: *const lqft_map,
    path: *const c_char,
    verify: *const lqft_verify_options,
    choices: LoadChoices,
    out_ids: *mut lqft_ids,
) -> Outcome {
    // SAFETY: forwarded contract.
    let (map, path, verifier, out) = unsafe {
        (
            handle(map, "map")?,
            self::path(path, "path")?,
            Verifier::load(verify)?,
            Out::optional(out_ids, "out_ids")?,
        )
    };
    load_bundle_from(map, Source::File(path), &verifier, choices, out)
}

/// Reads, verifies and registers the snapshot in the `lqft-snapshot-v1` file at `path` with
/// its metadata, under the id the file records (a fresh one if it records none); with
/// `activate`, also makes it current (rolling back the live state under `pending`). Stores a
/// handle on it in `*out` unless `out` is `NULL`. `lqft_map_load_snapshot_with` can load under
/// a fresh id instead.
///
/// A file that fails verification (bad signature, untrusted or revoked signer, not an
/// envelope while verification was requested, expired, below the freshness floor...) gives
/// `LQFT_ERR_POLICY`; `lqft_last_policy_code()` then gives LQFT's policy code, for example
/// `"verification_signature_mismatch"`, which the last-error message also names.
///
/// Files: `path`, the key file and the trust store's key files must be regular files (symbolic
/// links to them are followed); a FIFO, device or directory is refused at once with
/// `LQFT_ERR_IO`, never waited on. A file over 1 GiB (or 1 GiB decompressed, or nested deeper
/// than 64 levels) or a key file over 64 KiB is refused with `LQFT_ERR_LIMIT` before it is
/// read.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (also when the map is
/// sharded: snapshot files hold plain maps only), `LQFT_ERR_IO`, `LQFT_ERR_LIMIT`,
/// `LQFT_ERR_CORRUPT`, `LQFT_ERR_POLICY`, `LQFT_ERR_DUPLICATE_SNAPSHOT` (its id is already
/// used in this map: load it with `LQFT_IDS_FRESH`), `LQFT_ERR_PENDING_CHANGES`.
/// The map is unchanged on error.
/// Ownership: the caller owns `*out` and releases it with `lqft_snapshot_free`.
///
/// # Safety
/// `map` is `NULL` or a live map; `path` is `NULL` or NUL-terminated; `verify` is `NULL` or
/// readable, with `NULL` or NUL-terminated paths; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_load_snapshot(
    map: *const lqft_map,
    path: *const c_char,
    verify: *const lqft_verify_options,
    activate: bool,
    pending: lqft_rollback_policy,
    out: *mut *mut lqft_snapshot,
) -> lqft_status {
    call("lqft_map_load_snapshot", || {
        let choices = (activate, pending, SnapshotIds::Recorded);
        // SAFETY: the caller promised a live map, a C-string path, readable options and a
        // writable or NULL `out`.
        unsafe { load_snapshot_file(map, path, verify, choices, out) }
    })
}

/// `lqft_map_load_snapshot` with its choices in `options` (`NULL`: recorded id, no
/// activation), among them `ids`: `LQFT_IDS_FRESH` registers the snapshot under a fresh id of
/// this map, for example to load a file whose id this map already uses.
///
/// Errors: as `lqft_map_load_snapshot`; `LQFT_ERR_INVALID_ARGUMENT` when the map is sharded,
/// `options->size` is not `sizeof(lqft_load_options)` or a choice is unknown.
///
/// # Safety
/// As for `lqft_map_load_snapshot`; `options` is `NULL` or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_load_snapshot_with(
    map: *const lqft_map,
    path: *const c_char,
    verify: *const lqft_verify_options,
    options: *const lqft_load_options,
    out: *mut *mut lqft_snapshot,
) -> lqft_status {
    call("lqft_map_load_snapshot_with", || {
        // SAFETY: the caller promised live or NULL arguments as documented.
        unsafe { load_snapshot_file(map, path, verify, load_choices(options)?, out) }
    })
}

/// Reads, verifies and registers every snapshot of the `lqft-snapshot-bundle-v1` file at
/// `path`, all or none, under the ids the file records (fresh ones for snapshots that record
/// none); with `activate`, makes the bundle's current snapshot (else its last) current.
/// Stores the registered ids in `*out_ids` unless it is `NULL` (release with
/// `lqft_ids_free`). `lqft_map_load_bundle_with` can load under fresh ids instead.
///
/// Errors: as `lqft_map_load_snapshot`; `LQFT_ERR_INVALID_ARGUMENT` when the map is sharded.
///
/// # Safety
/// `map` is `NULL` or a live map; `path` is `NULL` or NUL-terminated; `verify` is `NULL` or
/// readable, with `NULL` or NUL-terminated paths; `out_ids` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_load_bundle(
    map: *const lqft_map,
    path: *const c_char,
    verify: *const lqft_verify_options,
    activate: bool,
    pending: lqft_rollback_policy,
    out_ids: *mut lqft_ids,
) -> lqft_status {
    call("lqft_map_load_bundle", || {
        let choices = (activate, pending, SnapshotIds::Recorded);
        // SAFETY: the caller promised a live map, a C-string path, readable options and a
        // writable or NULL `out_ids`.
        unsafe { load_bundle_file(map, path, verify, choices, out_ids) }
    })
}

/// `lqft_map_load_bundle` with its choices in `options` (`NULL`: recorded ids, no
/// activation). With `LQFT_IDS_FRESH` the snapshots get fresh ids of this map in file order,
/// and `*out_ids` lists them in that order.
///
/// Errors: as `lqft_map_load_snapshot_with` (`LQFT_ERR_INVALID_ARGUMENT` when the map is
/// sharded, among others).
///
/// # Safety
/// As for `lqft_map_load_bundle`; `options` is `NULL` or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_load_bundle_with(
    map: *const lqft_map,
    path: *const c_char,
    verify: *const lqft_verify_options,
    options: *const lqft_load_options,
    out_ids: *mut lqft_ids,
) -> lqft_status {
    call("lqft_map_load_bundle_with", || {
        // SAFETY: the caller promised live or NULL arguments as documented.
        unsafe { load_bundle_file(map, path, verify, load_choices(options)?, out_ids) }
    })
}

/// `lqft_map_load_snapshot_with` whose requirements are an `lqft_verification`: the
/// verification key as bytes (or a path), a trust store path, a freshness floor. `NULL`
/// verifies nothing (a signed file then loads unchecked, as in LQFT).
///
/// Errors: as `lqft_map_load_snapshot_with`; `LQFT_ERR_INVALID_ARGUMENT` when the map is
/// sharded, `verify->size` is not `sizeof(lqft_verification)` or the key is given both ways.
/// Ownership: the caller owns `*out` and releases it with `lqft_snapshot_free`.
///
/// # Safety
/// `map` is `NULL` or a live map; `path` is `NULL` or NUL-terminated; `verify` is `NULL` or
/// readable, its key bytes readable for `verify_key_len` bytes and its paths `NULL` or
/// NUL-terminated; `options` is `NULL` or readable; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_load_snapshot_verified(
    map: *const lqft_map,
    path: *const c_char,
    verify: *const lqft_verification,
    options: *const lqft_load_options,
    out: *mut *mut lqft_snapshot,
) -> lqft_status {
    call("lqft_map_load_snapshot_verified", || {
        // SAFETY: the caller promised live or NULL arguments as documented.
        let (map, path, verifier, choices, out) = unsafe {
            (
                handle(map, "map")?,
                self::path(path, "path")?,
                Verifier::from_verification(verify, true)?,
                load_choices(options)?,
                Out::optional(out, "out")?,
            )
        };
        load_snapshot_from(map, Source::File(path), &verifier, choices, out)
    })
}

/// `lqft_map_load_bundle_with` whose requirements are an `lqft_verification`, as
/// `lqft_map_load_snapshot_verified`.
///
/// Errors: as `lqft_map_load_snapshot_verified` (`LQFT_ERR_INVALID_ARGUMENT` when the map is
/// sharded, among others).
/// Ownership: the caller releases `*out_ids` with `lqft_ids_free`.
///
/// # Safety
/// As for `lqft_map_load_snapshot_verified`; `out_ids` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_load_bundle_verified(
    map: *const lqft_map,
    path: *const c_char,
    verify: *const lqft_verification,
    options: *const lqft_load_options,
    out_ids: *mut lqft_ids,
) -> lqft_status {
    call("lqft_map_load_bundle_verified", || {
        // SAFETY: the caller promised live or NULL arguments as documented.
        let (map, path, verifier, choices, out) = unsafe {
            (
                handle(map, "map")?,
                self::path(path, "path")?,
                Verifier::from_verification(verify, true)?,
                load_choices(options)?,
                Out::optional(out_ids, "out_ids")?,
            )
        };
        load_bundle_from(map, Source::File(path), &verifier, choices, out)
    })
}

/// Inspects the persisted file at `path` and stores LQFT's JSON report (`signature`,
/// `integrity`, `validity`, `payload`, `policy_check`, `effective_policy`) in `*out`. A file
/// that fails the policy in `verify` still gives `LQFT_OK`: the report's `policy_check` says
/// why. Keys or secrets never appear in the report.
///
/// Files: as `lqft_map_load_snapshot` (regular files only, never blocking; the same caps).
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_IO` (unreadable file or key file),
/// `LQFT_ERR_LIMIT`, `LQFT_ERR_CORRUPT`.
/// Ownership: the caller owns `*out` (NUL-terminated JSON) and releases it with
/// `lqft_bytes_free`.
///
/// # Safety
/// `path` is `NULL` or NUL-terminated; `verify` is `NULL` or readable, with `NULL` or
/// NUL-terminated paths; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_file_inspect(
    path: *const c_char,
    verify: *const lqft_verify_options,
    out: *mut lqft_bytes,
) -> lqft_status {
    call("lqft_file_inspect", || {
        // SAFETY: the caller promised a C-string path, readable options and a writable `out`.
        let (path, out) = unsafe { (self::path(path, "path")?, Out::new(out, "out")?) };
        // SAFETY: as above; the options are read here, paths as raw bytes.
        let options = unsafe { verify.as_ref() };
        let key_material;
        let mut inspect = InspectOptions::default();
        if let Some(options) = options {
            // SAFETY: the caller promised NULL or NUL-terminated paths in the options.
            let (key_path, signers) = unsafe { options.paths() }?;
            key_material = key_path.map(read_key_material).transpose()?;
            inspect.verify_key = key_material.as_deref();
            inspect.trusted_signers = signers;
            inspect.min_remaining_validity_seconds = options.freshness();
        }
        let report = inspect_persisted_file(path, &inspect)?;
        out.write(lqft_bytes::copy_of(report.to_string().as_bytes()));
        Ok(LQFT_OK)
    })
}

/// `lqft_file_inspect` whose requirements are an `lqft_verification` (the verification key
/// as bytes or a path). A key that cannot be used is reported in the report's
/// `policy_check`, like any other policy failure.
///
/// Files and errors: as `lqft_file_inspect`; `LQFT_ERR_INVALID_ARGUMENT` when
/// `verify->size` is not `sizeof(lqft_verification)` or the key is given both ways.
/// Ownership: the caller releases `*out` with `lqft_bytes_free`.
///
/// # Safety
/// `path` is `NULL` or NUL-terminated; `verify` as for `lqft_map_load_snapshot_verified`;
/// `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_file_inspect_verified(
    path: *const c_char,
    verify: *const lqft_verification,
    out: *mut lqft_bytes,
) -> lqft_status {
    call("lqft_file_inspect_verified", || {
        // SAFETY: the caller promised live or NULL arguments as documented.
        let (path, verifier, out) = unsafe {
            (
                self::path(path, "path")?,
                Verifier::from_verification(verify, false)?,
                Out::new(out, "out")?,
            )
        };
        let inspect = InspectOptions {
            verify_key: verifier.material.as_deref(),
            trusted_signers: verifier.signers_path,
            min_remaining_validity_seconds: verifier.freshness,
            ..InspectOptions::default()
        };
        let report = inspect_persisted_file(path, &inspect)?;
        out.write(lqft_bytes::copy_of(report.to_string().as_bytes()));
        Ok(LQFT_OK)
    })
}

/// Generates an Ed25519 key pair and writes the private key (PKCS#8 PEM, file mode 0600) to
/// `private_path` and the public key (SubjectPublicKeyInfo PEM) to `public_path`. Existing
/// files are refused unless `overwrite`. Unless `out_json` is `NULL`, stores LQFT's result
/// object (`algorithm`, `key_id`, `public_key_sha256`, `private_path`, `public_path`) in it.
///
/// Files: both keys are written to temporary files and published only when both are written
/// (the public key first), so a failing call never loses an existing private key. Without
/// `overwrite`, a file created by someone else meanwhile is never replaced. The two paths
/// must name two different files, compared by identity (`d/k.pem`, `d/../d/k.pem` and a
/// symlinked directory's `link/k.pem` are one file). Otherwise as `lqft_snapshot_save`: the
/// directories must exist, the targets must be regular files or nothing (a symbolic link is
/// refused), and the public key file keeps the mode of the file it replaces.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (one file named twice),
/// `LQFT_ERR_IO`.
/// Ownership: the caller releases `*out_json` with `lqft_bytes_free`.
///
/// # Safety
/// `private_path` and `public_path` are `NULL` or NUL-terminated; `out_json` is `NULL` or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_keypair_generate(
    private_path: *const c_char,
    public_path: *const c_char,
    overwrite: bool,
    out_json: *mut lqft_bytes,
) -> lqft_status {
    call("lqft_keypair_generate", || {
        // SAFETY: the caller promised C-string paths and a writable or NULL `out_json`.
        let (private_path, public_path, out) = unsafe {
            (
                path(private_path, "private_path")?,
                path(public_path, "public_path")?,
                Out::optional(out_json, "out_json")?,
            )
        };
        let files = write_ed25519_keypair(private_path, public_path, overwrite)?;
        if let Some(out) = out {
            out.write(lqft_bytes::copy_of(files.to_json().to_string().as_bytes()));
        }
        Ok(LQFT_OK)
    })
}
