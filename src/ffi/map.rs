//! The live map: create, free, put, get, delete, contains, len, clear.

use super::args::{Out, free_handle, handle, key_input, new_handle, value_input};
use super::bytes::lqft_bytes;
use super::guard::{call, call_value};
use super::read;
use super::status::*;
use std::sync::Arc;

use crate::Map;

/// Longest key accepted, in bytes.
pub const LQFT_MAX_KEY_LEN: usize = 65535;
/// Longest value accepted, in bytes.
pub const LQFT_MAX_VALUE_LEN: u64 = 4294967295;

/// A versioned, ordered map from byte strings to byte strings: a live state plus a registry of
/// snapshots.
///
/// Thread safety: internally synchronised (readers run in parallel and scale with cores; writers
/// are serialised); every
/// function taking a `const lqft_map *` may be called from any number of threads at once.
/// Only `lqft_map_free` needs exclusive access.
pub struct lqft_map {
    /// Shared with the transactions begun on the map, which outlive the handle.
    pub(crate) map: Arc<Map>,
}

impl lqft_map {
    /// A handle on the plain (unsharded) map `map`, which it shares with whoever else holds it
    /// (a store, say).
    pub(crate) fn plain(map: Arc<Map>) -> lqft_map {
        lqft_map { map }
    }
}

/// Creates an empty map with no snapshots and stores it in `*out`.
///
/// Ownership: the caller owns the map and releases it with `lqft_map_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT` when `out` is `NULL`.
///
/// # Safety
/// `out` is `NULL` or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_new(out: *mut *mut lqft_map) -> lqft_status {
    call("lqft_map_new", || {
        // SAFETY: the caller promised `out` is NULL or writable.
        let out = unsafe { Out::new(out, "out") }?;
        out.write(new_handle(lqft_map::plain(Arc::new(Map::new()))));
        Ok(LQFT_OK)
    })
}

/// Destroys a map. `NULL` is a no-op.
///
/// Snapshots, iterators, diffs and read sessions made from the map keep their own reference to
/// the data they need and stay valid after it is freed.
///
/// Thread safety: no other thread may use `map` during or after this call.
///
/// # Safety
/// `map` is `NULL` or a map from `lqft_map_new` that is not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_free(map: *mut lqft_map) {
    // SAFETY: the caller passes NULL or a live map no one else is using.
    call_value((), || unsafe { free_handle(map) })
}

/// Sets `key` to `value` in the live state. Both are copied; the caller keeps its buffers.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG` (over `LQFT_MAX_KEY_LEN`),
/// `LQFT_ERR_VALUE_TOO_LONG` (over `LQFT_MAX_VALUE_LEN`); the map is unchanged on error.
/// Thread safety: any thread; writers are serialised.
///
/// # Safety
/// `map` is `NULL` or a live map; `key`/`value` are `NULL` (with length 0) or point to
/// `key_len`/`value_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_put(
    map: *const lqft_map,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> lqft_status {
    call("lqft_map_put", || {
        // SAFETY: the caller promised a live map and readable inputs.
        let (map, key, value) = unsafe {
            (
                handle(map, "map")?,
                key_input(key, key_len)?,
                value_input(value, value_len)?,
            )
        };
        map.map.put(key, value)?;
        Ok(LQFT_OK)
    })
}

/// Copies the value under `key` in the live state into a new buffer stored in `*out`.
///
/// Returns `LQFT_OK`, or `LQFT_NOT_FOUND` (and leaves `*out` alone) when the key is absent.
/// Ownership: on `LQFT_OK` the caller owns `*out` and releases it with `lqft_bytes_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`.
///
/// # Safety
/// `map` is `NULL` or a live map; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_get(
    map: *const lqft_map,
    key: *const u8,
    key_len: usize,
    out: *mut lqft_bytes,
) -> lqft_status {
    // SAFETY: the caller promised a live map, a readable key and a writable `out`.
    call("lqft_map_get", || unsafe {
        read::get(map, key, key_len, out)
    })
}

/// Copies the value under `key` in the live state into the caller's buffer `(buf, cap)`; no
/// allocation.
///
/// Returns `LQFT_OK` with the value's length in `*out_len`; `LQFT_NOT_FOUND` (nothing written)
/// when the key is absent; `LQFT_ERR_BUFFER_TOO_SMALL` with the length needed in `*out_len` and
/// `buf` untouched when `cap` is too small. `buf` may be `NULL` when `cap` is 0, which makes a
/// size query.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`, `LQFT_ERR_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `map` is `NULL` or a live map; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes; `buf` is `NULL` or valid for writing `cap` bytes; `out_len` is `NULL` or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_get_into(
    map: *const lqft_map,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> lqft_status {
    // SAFETY: the caller promised a live map, a readable key, `cap` writable bytes at `buf` and
    // a writable `out_len`.
    call("lqft_map_get_into", || unsafe {
        read::get_into(map, key, key_len, buf, cap, out_len)
    })
}

/// Removes `key` from the live state.
///
/// Returns `LQFT_OK` when the key existed and was removed, `LQFT_NOT_FOUND` when it was absent
/// (not a mutation).
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`.
///
/// # Safety
/// `map` is `NULL` or a live map; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_delete(
    map: *const lqft_map,
    key: *const u8,
    key_len: usize,
) -> lqft_status {
    call("lqft_map_delete", || {
        // SAFETY: the caller promised a live map and a readable key.
        let (map, key) = unsafe { (handle(map, "map")?, key_input(key, key_len)?) };
        Ok(if map.map.delete(key)? {
            LQFT_OK
        } else {
            LQFT_NOT_FOUND
        })
    })
}

/// Stores in `*out` whether `key` is present in the live state.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`.
///
/// # Safety
/// `map` is `NULL` or a live map; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_contains(
    map: *const lqft_map,
    key: *const u8,
    key_len: usize,
    out: *mut bool,
) -> lqft_status {
    // SAFETY: the caller promised a live map, a readable key and a writable `out`.
    call("lqft_map_contains", || unsafe {
        read::contains(map, key, key_len, out)
    })
}

/// Stores the number of entries in the live state in `*out`. O(1).
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_len(map: *const lqft_map, out: *mut u64) -> lqft_status {
    // SAFETY: the caller promised a live map and a writable `out`.
    call("lqft_map_len", || unsafe { read::len(map, out) })
}

/// Removes every entry from the live state; snapshots keep theirs. Stores the number of entries
/// removed in `*out_removed` unless it is `NULL`. Clearing an empty map is not a mutation.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out_removed` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_clear(
    map: *const lqft_map,
    out_removed: *mut u64,
) -> lqft_status {
    call("lqft_map_clear", || {
        // SAFETY: the caller promised a live map and a writable or NULL `out_removed`.
        let (map, out) = unsafe {
            (
                handle(map, "map")?,
                Out::optional(out_removed, "out_removed")?,
            )
        };
        let removed = map.map.try_clear()?;
        if let Some(out) = out {
            out.write(removed);
        }
        Ok(LQFT_OK)
    })
}

/// Stores in `*out` how many mutations the live state has that no snapshot holds (the writes a
/// rollback with `LQFT_ROLLBACK_DISCARD` would drop).
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_pending_mutations(
    map: *const lqft_map,
    out: *mut u64,
) -> lqft_status {
    call("lqft_map_pending_mutations", || {
        // SAFETY: the caller promised a live map and a writable `out`.
        let (map, out) = unsafe { (handle(map, "map")?, Out::new(out, "out")?) };
        out.write(map.map.pending_mutations());
        Ok(LQFT_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_match_the_rust_api() {
        assert_eq!(LQFT_MAX_KEY_LEN, crate::MAX_KEY_LEN);
        assert_eq!(LQFT_MAX_VALUE_LEN, crate::MAX_VALUE_LEN as u64);
    }
}
