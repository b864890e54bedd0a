//! Read views: the live state of a map at one moment, registered nowhere.

use std::ops::Bound;

use super::args::{Out, free_handle, handle, new_handle};
use super::bytes::{lqft_bytes, lqft_value_buf};
use super::guard::{call, call_value};
use super::iter::Walk;
use super::map::{Kind, either, lqft_map};
use super::read::{self, Version};
use super::snapshot::write_hash;
use super::status::*;
use crate::engine::{ShardedView, TryEntries};
use crate::{Result, Tree};

/// The live state of a map as of `lqft_map_view`: a consistent read of several keys and a root
/// hash, without registering a snapshot (no id, no metadata, never in the registry, nothing for
/// compaction to keep). O(1) to take (O(shards) for a sharded map: one cut across all of
/// them); unaffected by later writes.
///
/// Lifetime: independent of the map (freeing the map first is allowed). Thread safety:
/// immutable; may be read from any number of threads; only `lqft_view_free` needs exclusive
/// access.
pub struct lqft_view {
    pub(crate) view: Kind<Tree, ShardedView>,
}

impl Version for lqft_view {
    const NAME: &'static str = "view";
    fn read_value<R>(&self, key: &[u8], read: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        match &self.view {
            Kind::Plain(tree) => Ok(tree.try_get(key)?.map(read)),
            Kind::Sharded(view) => Ok(view.get(key).map(read)),
        }
    }
    fn contains_key(&self, key: &[u8]) -> Result<bool> {
        match &self.view {
            Kind::Plain(tree) => tree.try_contains_key(key),
            Kind::Sharded(view) => Ok(view.contains_key(key)),
        }
    }
    fn len(&self) -> u64 {
        either!(&self.view, v => v.len())
    }
    fn walk(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Walk {
        match &self.view {
            Kind::Plain(tree) => Walk::One(TryEntries::new(tree, start, end)),
            Kind::Sharded(view) => Walk::Merged(view.range_bounds(start, end)),
        }
    }
}

/// Stores in `*out` a read view of the map's live state as of this call.
///
/// While the view lives, the next write to each part of the map it shares copies that part,
/// as for a snapshot.
/// Ownership: the caller owns the view and releases it with `lqft_view_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_view(
    map: *const lqft_map,
    out: *mut *mut lqft_view,
) -> lqft_status {
    call("lqft_map_view", || {
        // SAFETY: the caller promised a live map and a writable `out`.
        let (map, out) = unsafe { (handle(map, "map")?, Out::new(out, "out")?) };
        let view = match &map.kind {
            Kind::Plain(map) => Kind::Plain(map.view()),
            Kind::Sharded(map) => Kind::Sharded(map.view()),
        };
        out.write(new_handle(lqft_view { view }));
        Ok(LQFT_OK)
    })
}

/// Copies the value under `key` in the view into a new buffer stored in `*out`.
///
/// Returns `LQFT_OK`, or `LQFT_NOT_FOUND` (and leaves `*out` alone) when the key is absent.
/// Ownership: on `LQFT_OK` the caller owns `*out` and releases it with `lqft_bytes_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`.
///
/// # Safety
/// `view` is `NULL` or a live view; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_view_get(
    view: *const lqft_view,
    key: *const u8,
    key_len: usize,
    out: *mut lqft_bytes,
) -> lqft_status {
    // SAFETY: the caller promised a live view, a readable key and a writable `out`.
    call("lqft_view_get", || unsafe {
        read::get(view, key, key_len, out)
    })
}

/// Copies the value under `key` in the view into the caller's buffer `(buf, cap)`, as
/// `lqft_map_get_into` does.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`, `LQFT_ERR_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `view` is `NULL` or a live view; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes; `buf` is `NULL` or valid for writing `cap` bytes; `out_len` is `NULL` or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_view_get_into(
    view: *const lqft_view,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> lqft_status {
    // SAFETY: the caller promised a live view, a readable key, `cap` writable bytes at `buf` and
    // a writable `out_len`.
    call("lqft_view_get_into", || unsafe {
        read::get_into(view, key, key_len, buf, cap, out_len)
    })
}

/// Copies the value under `key` in the view into the caller's reusable buffer `*buf`, as
/// `lqft_map_get_buf` does.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`,
/// `LQFT_ERR_BUFFER_TOO_SMALL`.
/// Thread safety: the view as for any read; `buf` is used by one call at a time.
///
/// # Safety
/// `view` is `NULL` or a live view; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes; `buf` is `NULL` or a valid `lqft_value_buf` as for `lqft_map_get_buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_view_get_buf(
    view: *const lqft_view,
    key: *const u8,
    key_len: usize,
    buf: *mut lqft_value_buf,
) -> lqft_status {
    // SAFETY: the caller promised a live view, a readable key and a valid `buf`.
    call("lqft_view_get_buf", || unsafe {
        read::get_buf(view, key, key_len, buf)
    })
}

/// Looks up `count` keys in the view in one call, as `lqft_map_get_many` does (every key sees
/// the view's one version).
///
/// Errors: as `lqft_map_get_many`.
/// Thread safety: the view as for any read; the outputs one call at a time.
///
/// # Safety
/// `view` is `NULL` or a live view; `key_lens` is `NULL` or points to `count` lengths
/// and `keys` to their sum of readable bytes (`NULL` when that is 0); `buf` is `NULL` (with
/// `cap` 0) or valid for writes of `cap` bytes; `value_ends` and `found` are `NULL` or valid
/// for writes of `count` elements; `out_done` and `out_len` are `NULL` or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn lqft_view_get_many(
    view: *const lqft_view,
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
    // SAFETY: the caller promised a live view, readable keys and lengths, and writable outputs.
    call("lqft_view_get_many", || unsafe {
        read::get_many(
            view, keys, key_lens, count, buf, cap, value_ends, found, out_done, out_len,
        )
    })
}

/// Stores in `*out` whether `key` is present in the view.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`.
///
/// # Safety
/// `view` is `NULL` or a live view; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_view_contains(
    view: *const lqft_view,
    key: *const u8,
    key_len: usize,
    out: *mut bool,
) -> lqft_status {
    // SAFETY: the caller promised a live view, a readable key and a writable `out`.
    call("lqft_view_contains", || unsafe {
        read::contains(view, key, key_len, out)
    })
}

/// Stores the number of entries in the view in `*out`. O(1).
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `view` is `NULL` or a live view; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_view_len(view: *const lqft_view, out: *mut u64) -> lqft_status {
    // SAFETY: the caller promised a live view and a writable `out`.
    call("lqft_view_len", || unsafe { read::len(view, out) })
}

/// Writes the view's blake3 Merkle root (`LQFT_HASH_LEN` bytes) to `out`: the root a snapshot
/// of the same contents has.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`; `LQFT_ERR_BUFFER_TOO_SMALL` when `cap < LQFT_HASH_LEN`
/// (nothing written).
///
/// # Safety
/// `view` is `NULL` or a live view; `out` is `NULL` or valid for writing `cap` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_view_root_hash(
    view: *const lqft_view,
    out: *mut u8,
    cap: usize,
) -> lqft_status {
    call("lqft_view_root_hash", || {
        // SAFETY: the caller promised a live view and `cap` writable bytes at `out`.
        unsafe {
            let view = handle(view, "view")?;
            write_hash(&either!(&view.view, v => v.root_hash()), out, cap)
        }
    })
}

/// Releases a view. `NULL` is a no-op.
///
/// # Safety
/// `view` is `NULL` or a live view that no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_view_free(view: *mut lqft_view) {
    // SAFETY: the caller passes NULL or a live view no one else is using.
    call_value((), || unsafe { free_handle(view) })
}
