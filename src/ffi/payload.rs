//! Snapshot and bundle documents in memory: the bytes a file would hold, produced and read
//! without touching the file system, with the same format, signatures, validity, caps and
//! checks as the files of [`super::files`].

use super::args::{Out, handle, input};
use super::bytes::{lqft_bytes, lqft_ids};
use super::file_options::{Verifier, lqft_verification, lqft_write_options, write_inputs};
use super::files::{load_bundle_from, load_choices, load_snapshot_from, lqft_load_options};
use super::guard::{Outcome, call};
use super::map::lqft_map;
use super::snapshot::lqft_snapshot;
use super::status::*;
use crate::formats::WriteOptions;
use crate::formats::map_files::{Source, bundle_file_bytes, snapshot_file_bytes};

/// The body of the exports: reads the options, makes the document with `make` and hands its
/// bytes to `out`.
///
/// # Safety
/// `options` is `NULL` or readable as `lqft_write_options` documents; `out` is `NULL` or
/// writable.
unsafe fn export(
    options: *const lqft_write_options,
    out: *mut lqft_bytes,
    make: impl FnOnce(&WriteOptions<'_>) -> crate::formats::Result<Vec<u8>>,
) -> Outcome {
    // SAFETY: forwarded contract.
    let (out, (key, validity)) = unsafe { (Out::new(out, "out")?, write_inputs(options)?) };
    let write = WriteOptions {
        sign_key: key.as_ref(),
        validity: validity.as_ref(),
        ..WriteOptions::default()
    };
    let bytes = make(&write)?;
    out.write(lqft_bytes::copy_of(&bytes));
    Ok(LQFT_OK)
}

/// Stores in `*out` the `lqft-snapshot-v1` document of `snapshot` (an
/// `lqft-persisted-file-v1` envelope, signed and with a validity window as `options` says):
/// the bytes `lqft_snapshot_save_with` writes to a path not ending in `.gz`.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (as
/// `lqft_snapshot_save_with`, a sharded snapshot among others), `LQFT_ERR_LIMIT` (a document
/// over the 1 GiB readers accept), `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT` (a node of a
/// store-backed snapshot that could not be read or fails its check: the snapshot is loaded
/// whole first, and nothing is written).
/// Ownership: the caller owns `*out` (JSON text, NUL-terminated) and releases it with
/// `lqft_bytes_free`.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `options` as for `lqft_snapshot_save_with`;
/// `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_export(
    snapshot: *const lqft_snapshot,
    options: *const lqft_write_options,
    out: *mut lqft_bytes,
) -> lqft_status {
    call("lqft_snapshot_export", || {
        // SAFETY: the caller promised a live snapshot, readable options and a writable `out`.
        unsafe {
            let snapshot = handle(snapshot, "snapshot")?.plain_only("exporting a snapshot")?;
            export(options, out, |write| snapshot_file_bytes(snapshot, write))
        }
    })
}

/// Stores in `*out` the `lqft-snapshot-bundle-v1` document of every registered snapshot of
/// `map` (with the current snapshot id): the bytes `lqft_map_save_bundle_with` writes to a
/// path not ending in `.gz`.
///
/// Errors: as `lqft_snapshot_export`; `LQFT_ERR_CORRUPT` also when the map has no snapshot
/// to export; `LQFT_ERR_INVALID_ARGUMENT` when the map is sharded.
/// Ownership: as `lqft_snapshot_export`.
///
/// # Safety
/// `map` is `NULL` or a live map; `options` and `out` as for `lqft_snapshot_export`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_export_bundle(
    map: *const lqft_map,
    options: *const lqft_write_options,
    out: *mut lqft_bytes,
) -> lqft_status {
    call("lqft_map_export_bundle", || {
        // SAFETY: the caller promised a live map, readable options and a writable `out`.
        unsafe {
            let map = handle(map, "map")?.plain_only("exporting a bundle")?;
            export(options, out, |write| bundle_file_bytes(map, None, write))
        }
    })
}

/// Reads, verifies and registers the snapshot in the document `(data, len)`: the content of
/// an `lqft-snapshot-v1` file, as JSON text or gzip-compressed (recognised by its magic
/// bytes). Checks, ids, activation and errors are those of `lqft_map_load_snapshot_verified`
/// on a file of these bytes; `options` `NULL` means recorded id, no activation. Stores a
/// handle on the snapshot in `*out` unless `out` is `NULL`.
///
/// Errors: as `lqft_map_load_snapshot_verified` (`LQFT_ERR_LIMIT` for a document over 1 GiB,
/// or 1 GiB decompressed), except `LQFT_ERR_IO`, which only a key file or trust store given
/// by path can cause; `LQFT_ERR_INVALID_ARGUMENT` when the map is sharded. The map is
/// unchanged on error.
/// Ownership: `data` is borrowed for the call; the caller owns `*out` and releases it with
/// `lqft_snapshot_free`.
///
/// # Safety
/// `map` is `NULL` or a live map; `data` is `NULL` (with `len` 0) or readable for `len`
/// bytes; `verify` as for `lqft_map_load_snapshot_verified`; `options` is `NULL` or readable;
/// `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_import_snapshot(
    map: *const lqft_map,
    data: *const u8,
    len: usize,
    verify: *const lqft_verification,
    options: *const lqft_load_options,
    out: *mut *mut lqft_snapshot,
) -> lqft_status {
    call("lqft_map_import_snapshot", || {
        // SAFETY: the caller promised live or NULL arguments as documented.
        let (map, data, verifier, choices, out) = unsafe {
            (
                handle(map, "map")?,
                input(data, len, "data")?,
                Verifier::from_verification(verify, true)?,
                load_choices(options)?,
                Out::optional(out, "out")?,
            )
        };
        load_snapshot_from(map, Source::Bytes(data), &verifier, choices, out)
    })
}

/// Reads, verifies and registers every snapshot of the `lqft-snapshot-bundle-v1` document
/// `(data, len)`, all or none, as `lqft_map_load_bundle_verified` does for a file of these
/// bytes. Stores the registered ids in `*out_ids` unless it is `NULL`.
///
/// Errors: as `lqft_map_import_snapshot` (`LQFT_ERR_INVALID_ARGUMENT` when the map is
/// sharded, among others).
/// Ownership: `data` is borrowed for the call; the caller releases `*out_ids` with
/// `lqft_ids_free`.
///
/// # Safety
/// As for `lqft_map_import_snapshot`; `out_ids` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_import_bundle(
    map: *const lqft_map,
    data: *const u8,
    len: usize,
    verify: *const lqft_verification,
    options: *const lqft_load_options,
    out_ids: *mut lqft_ids,
) -> lqft_status {
    call("lqft_map_import_bundle", || {
        // SAFETY: the caller promised live or NULL arguments as documented.
        let (map, data, verifier, choices, out) = unsafe {
            (
                handle(map, "map")?,
                input(data, len, "data")?,
                Verifier::from_verification(verify, true)?,
                load_choices(options)?,
                Out::optional(out_ids, "out_ids")?,
            )
        };
        load_bundle_from(map, Source::Bytes(data), &verifier, choices, out)
    })
}
