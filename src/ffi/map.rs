//! The live map, plain or sharded: create, free, put, get, delete, contains, len, clear.

use super::args::{Out, free_handle, handle, key_input, new_handle, value_input};
use super::bytes::{lqft_bytes, lqft_value_buf};
use super::error::Fail;
use super::guard::{call, call_value};
use super::read;
use super::status::*;
use std::sync::Arc;

use crate::{Map, ShardedMap};

/// Longest key accepted, in bytes.
pub const LQFT_MAX_KEY_LEN: usize = 65535;
/// Longest value accepted, in bytes.
pub const LQFT_MAX_VALUE_LEN: u64 = 4294967295;

/// Most shards a map may have (`lqft_map_options.shards`).
pub const LQFT_MAX_SHARDS: u32 = 4096;

/// A versioned, ordered map from byte strings to byte strings: a live state plus a registry of
/// snapshots. Plain, or split into shards (`lqft_map_new_with`); the same functions serve both.
///
/// A sharded map routes each key to one of its shards by a fixed hash of the key. Writers of
/// different shards run in parallel; a batch, transaction or clear that spans shards is atomic
/// (every reader and every snapshot sees all of it or none); snapshots, views, iterators, stats
/// and root hashes of a sharded map are one consistent cut across all shards. Its snapshots
/// are sharded snapshots: they roll back, pin, diff and compare only with versions of a map of
/// the same shard count (`LQFT_ERR_INVALID_ARGUMENT` otherwise). Its Merkle root is the hash of
/// the shard roots in order, not the root of a plain map of the same contents. Snapshot files
/// (`lqft_snapshot_save`, `lqft_map_save_bundle`, `lqft_map_load_*`) hold plain maps only: on a
/// sharded map or snapshot they return `LQFT_ERR_INVALID_ARGUMENT`.
///
/// Thread safety: internally synchronised (readers run in parallel and scale with cores; writers
/// of one map, or of one shard, are serialised); every function taking a `const lqft_map *` may
/// be called from any number of threads at once. Only `lqft_map_free` needs exclusive access.
pub struct lqft_map {
    /// Shared with the transactions begun on the map, which outlive the handle.
    pub(crate) kind: MapKind,
}

/// What an `lqft_map` handle holds.
pub(crate) type MapKind = Kind<Arc<Map>, Arc<ShardedMap>>;

/// `$body` with `$m` bound to the map (or another two-kind handle's value) whichever kind it
/// is: for the operations plain and sharded maps both have under one name.
macro_rules! either {
    ($kind:expr, $m:ident => $body:expr) => {
        match $kind {
            $crate::ffi::map::Kind::Plain($m) => $body,
            $crate::ffi::map::Kind::Sharded($m) => $body,
        }
    };
}
pub(crate) use either;

/// The two kinds every handle that can come from either map has.
#[derive(Clone)]
pub(crate) enum Kind<P, S> {
    Plain(P),
    Sharded(S),
}

impl lqft_map {
    /// A handle on the plain (unsharded) map `map`, which it shares with whoever else holds it
    /// (a store, say).
    pub(crate) fn plain(map: Arc<Map>) -> lqft_map {
        lqft_map {
            kind: Kind::Plain(map),
        }
    }

    /// The plain map, or the refusal of an operation (`what`) that only a plain map has.
    pub(crate) fn plain_only(&self, what: &str) -> Result<&Arc<Map>, Fail> {
        match &self.kind {
            Kind::Plain(map) => Ok(map),
            Kind::Sharded(map) => Err(Fail::invalid(format!(
                "{what} works on plain maps only; this map has {} shards",
                map.shard_count()
            ))),
        }
    }
}

/// How `lqft_map_new_with` makes a map. Zero-initialise it, then set `size`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lqft_map_options {
    /// Must be `sizeof(lqft_map_options)` (lets later versions add fields).
    pub size: usize,
    /// Number of shards: 0 or 1 make a plain map; 2 to `LQFT_MAX_SHARDS` a sharded one.
    pub shards: u32,
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

/// Creates an empty map as `options` says (`NULL`: a plain map, as `lqft_map_new`) and stores it
/// in `*out`.
///
/// Ownership: the caller owns the map and releases it with `lqft_map_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT` when `out` is `NULL`; `LQFT_ERR_INVALID_ARGUMENT` when
/// `options->size` is not `sizeof(lqft_map_options)` or `shards` is over `LQFT_MAX_SHARDS`.
///
/// # Safety
/// `options` is `NULL` or points to a readable `lqft_map_options` whose `size` field is
/// readable (the rest is read only when `size` is right); `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_new_with(
    options: *const lqft_map_options,
    out: *mut *mut lqft_map,
) -> lqft_status {
    call("lqft_map_new_with", || {
        // SAFETY: the caller promised `out` is NULL or writable.
        let out = unsafe { Out::new(out, "out") }?;
        let shards = if options.is_null() {
            1
        } else {
            // SAFETY: non-NULL and readable per the contract; `size` is the first field.
            let size = unsafe { options.cast::<usize>().read_unaligned() };
            if size != size_of::<lqft_map_options>() {
                return Err(Fail::invalid(format!(
                    "lqft_map_options.size is {size}, expected {} (set it to \
                     sizeof(lqft_map_options))",
                    size_of::<lqft_map_options>()
                )));
            }
            // SAFETY: the caller's struct has this version's size, so it is readable whole.
            unsafe { options.read_unaligned() }.shards
        };
        if shards > LQFT_MAX_SHARDS {
            return Err(Fail::invalid(format!(
                "{shards} shards is over LQFT_MAX_SHARDS ({LQFT_MAX_SHARDS})"
            )));
        }
        out.write(new_handle(lqft_map {
            kind: if shards <= 1 {
                Kind::Plain(Arc::new(Map::new()))
            } else {
                Kind::Sharded(Arc::new(ShardedMap::new(shards as usize)))
            },
        }));
        Ok(LQFT_OK)
    })
}

/// Stores the map's number of shards in `*out`: 1 for a plain map.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_shard_count(map: *const lqft_map, out: *mut u32) -> lqft_status {
    call("lqft_map_shard_count", || {
        // SAFETY: the caller promised a live map and a writable `out`.
        let (map, out) = unsafe { (handle(map, "map")?, Out::new(out, "out")?) };
        out.write(match &map.kind {
            Kind::Plain(_) => 1,
            Kind::Sharded(map) => map.shard_count() as u32,
        });
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
        either!(&map.kind, m => m.put(key, value))?;
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

/// Copies the value under `key` in the live state into the caller's reusable buffer `*buf`:
/// `lqft_map_get_into` with its buffer, capacity and length output in one struct
/// (`lqft_value_buf`), for loops of gets where each argument costs (bindings that call through
/// libffi). No allocation.
///
/// Returns `LQFT_OK` with the value in `buf->data` and its length in `buf->len`;
/// `LQFT_NOT_FOUND` (nothing written) when the key is absent; `LQFT_ERR_BUFFER_TOO_SMALL` with
/// the length needed in `buf->len` and `buf->data` untouched when `buf->cap` is too small (grow
/// the buffer and call again).
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (`buf->size` smaller than
/// `sizeof(lqft_value_buf)`, or `buf` misaligned), `LQFT_ERR_KEY_TOO_LONG`,
/// `LQFT_ERR_BUFFER_TOO_SMALL`; `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT` when a node of a
/// store-backed map fails to load.
/// Thread safety: the map as for any read; `buf` is used by one call at a time.
///
/// # Safety
/// `map` is `NULL` or a live map; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes; `buf` is `NULL` or points to an `lqft_value_buf` with `size`, `data` and
/// `cap` set, `data` valid for writing `cap` bytes (or `NULL` with `cap` 0) and not
/// overlapping the struct.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_get_buf(
    map: *const lqft_map,
    key: *const u8,
    key_len: usize,
    buf: *mut lqft_value_buf,
) -> lqft_status {
    // SAFETY: the caller promised a live map, a readable key and a valid `buf`.
    call("lqft_map_get_buf", || unsafe {
        read::get_buf(map, key, key_len, buf)
    })
}

/// Looks up `count` keys in the live state in one call and copies their values into the
/// caller's buffer: many gets per call, for bindings where each call costs more than the
/// lookup (a get through libffi).
///
/// Input: the keys back to back in `keys`, key `i` being `key_lens[i]` bytes long. Output
/// layout (as the packed iterator steps): the values back to back in `buf`, `value_ends[i]`
/// the offset just past value `i`, so value `i` starts where value `i - 1` ended (value 0 at
/// offset 0); `found[i]` says whether key `i` is present (an absent key's value is empty).
/// Each key is looked up as `lqft_map_get_buf` does: writes made by other threads during the
/// call may be seen by some keys and not by others.
///
/// Returns `LQFT_OK` with the number of keys looked up (at least 1, the first ones) in
/// `*out_done` and the bytes used in `*out_len`: fewer than `count` when the next value did not
/// fit, so call again with the rest (`keys` advanced past the done keys, `key_lens`,
/// `value_ends` and `found` by `*out_done`). `LQFT_ERR_BUFFER_TOO_SMALL` when the first value
/// alone needs more than `cap` bytes, with the bytes it needs in `*out_len`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (`count` 0, a misaligned
/// array), `LQFT_ERR_KEY_TOO_LONG` (any key; checked before any lookup),
/// `LQFT_ERR_BUFFER_TOO_SMALL`; `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT` when a node of a
/// store-backed map fails to load (after some keys were looked up, the call returns those
/// with `LQFT_OK` and the next call meets the failure).
/// Thread safety: the map as for any read; the output arrays are the caller's, one call at a
/// time.
///
/// # Safety
/// `map` is `NULL` or a live map; `key_lens` is `NULL` or points to `count` lengths
/// and `keys` to their sum of readable bytes (`NULL` when that is 0); `buf` is `NULL` (with
/// `cap` 0) or valid for writes of `cap` bytes; `value_ends` and `found` are `NULL` or valid
/// for writes of `count` elements; `out_done` and `out_len` are `NULL` or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn lqft_map_get_many(
    map: *const lqft_map,
    keys: *const u8,
    key_lens: *const usize,
    count: usize,
    buf: *mut u8,
    cap: usize,
    value_ends: *mut usize,
    found: *mut bool,
    out_done: *mut usize,
    out_len: *mut usize,
) -> lqft_status {
    // SAFETY: the caller promised a live map, readable keys and lengths, and writable outputs.
    call("lqft_map_get_many", || unsafe {
        read::get_many(
            map, keys, key_lens, count, buf, cap, value_ends, found, out_done, out_len,
        )
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
        Ok(if either!(&map.kind, m => m.delete(key))? {
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

/// Stores the number of entries in the live state in `*out`. O(1) (O(shards) for a sharded
/// map).
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
        let removed = match &map.kind {
            Kind::Plain(map) => map.try_clear()?,
            Kind::Sharded(map) => map.clear(),
        };
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
        out.write(either!(&map.kind, m => m.pending_mutations()));
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
