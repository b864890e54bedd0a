//! Ordered iteration, range and prefix scans over a map's live state or a snapshot.

use std::ops::Bound;

use super::args::{Out, free_handle, handle, handle_mut, input, new_handle};
use super::guard::{Outcome, call, call_value};
use super::map::lqft_map;
use super::read::Version;
use super::snapshot::lqft_snapshot;
use super::status::*;
use crate::engine::{Entries, Entry};

/// An ordered walk over one version, owning that version: it stays valid after the map or
/// snapshot it came from is freed, and later writes to the map do not affect it.
///
/// Thread safety: use an iterator from one thread at a time.
pub struct lqft_iter {
    entries: Entries,
    /// The entry last returned, which the borrowed views in `lqft_entry` point into.
    current: Option<Entry>,
}

/// One entry returned by `lqft_iter_next`: borrowed views, valid until the next
/// `lqft_iter_next` / `lqft_iter_next_back` or `lqft_iter_free` on the same iterator. Pointers
/// are non-NULL even for empty keys or values.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lqft_entry {
    /// The key's bytes.
    pub key: *const u8,
    /// The key's length.
    pub key_len: usize,
    /// The value's bytes.
    pub value: *const u8,
    /// The value's length.
    pub value_len: usize,
}

/// Hands a new iterator over `entries` to C.
fn give(out: Out<*mut lqft_iter>, entries: Entries) -> Outcome {
    out.write(new_handle(lqft_iter {
        entries,
        current: None,
    }));
    Ok(LQFT_OK)
}

/// The body of `lqft_map_iter` / `lqft_snapshot_iter`: every entry of the version.
///
/// # Safety
/// `version` is `NULL` or a live handle; `out` is `NULL` or writable.
unsafe fn open_all<V: Version>(version: *const V, out: *mut *mut lqft_iter) -> Outcome {
    // SAFETY: forwarded contract.
    let (version, out) = unsafe { (handle(version, V::NAME)?, Out::new(out, "out")?) };
    let entries = Entries::new(&version.tree(), Bound::Unbounded, Bound::Unbounded);
    give(out, entries)
}

/// The body of `lqft_map_range` / `lqft_snapshot_range`: the entries with `start <= key < end`.
///
/// # Safety
/// `version` is `NULL` or a live handle; `start`/`end` are `NULL` (with length 0) or point to
/// `start_len`/`end_len` readable bytes; `out` is `NULL` or writable.
unsafe fn open_range<V: Version>(
    version: *const V,
    start: *const u8,
    start_len: usize,
    end: *const u8,
    end_len: usize,
    out: *mut *mut lqft_iter,
) -> Outcome {
    // SAFETY: forwarded contract.
    let (version, start, end, out) = unsafe {
        (
            handle(version, V::NAME)?,
            input(start, start_len, "start")?,
            input(end, end_len, "end")?,
            Out::new(out, "out")?,
        )
    };
    let entries = Entries::new(
        &version.tree(),
        Bound::Included(start),
        Bound::Excluded(end),
    );
    give(out, entries)
}

/// The body of `lqft_map_prefix` / `lqft_snapshot_prefix`: the entries whose key starts with
/// `prefix`.
///
/// # Safety
/// `version` is `NULL` or a live handle; `prefix` is `NULL` (with length 0) or points to
/// `prefix_len` readable bytes; `out` is `NULL` or writable.
unsafe fn open_prefix<V: Version>(
    version: *const V,
    prefix: *const u8,
    prefix_len: usize,
    out: *mut *mut lqft_iter,
) -> Outcome {
    // SAFETY: forwarded contract.
    let (version, prefix, out) = unsafe {
        (
            handle(version, V::NAME)?,
            input(prefix, prefix_len, "prefix")?,
            Out::new(out, "out")?,
        )
    };
    give(out, Entries::prefix(&version.tree(), prefix))
}

/// Stores in `*out` an iterator over every entry of the map's live state, in key byte order,
/// as of this call (later writes do not show). O(1).
///
/// Ownership: the caller owns the iterator and releases it with `lqft_iter_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_iter(
    map: *const lqft_map,
    out: *mut *mut lqft_iter,
) -> lqft_status {
    // SAFETY: the caller promised a live map and a writable `out`.
    call("lqft_map_iter", || unsafe { open_all(map, out) })
}

/// Stores in `*out` an iterator over the entries of the map's live state with
/// `start <= key < end` (byte order), as of this call. Empty when `start >= end`. O(log n) to
/// start. The bounds are copied.
///
/// Ownership: the caller owns the iterator and releases it with `lqft_iter_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `start`/`end` are `NULL` (with length 0) or point to
/// `start_len`/`end_len` readable bytes; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_range(
    map: *const lqft_map,
    start: *const u8,
    start_len: usize,
    end: *const u8,
    end_len: usize,
    out: *mut *mut lqft_iter,
) -> lqft_status {
    // SAFETY: the caller promised a live map, readable bounds and a writable `out`.
    call("lqft_map_range", || unsafe {
        open_range(map, start, start_len, end, end_len, out)
    })
}

/// Stores in `*out` an iterator over the entries of the map's live state whose key starts with
/// `prefix`, in key order, as of this call. An empty prefix walks everything. The prefix is
/// copied.
///
/// Ownership: the caller owns the iterator and releases it with `lqft_iter_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `prefix` is `NULL` (with length 0) or points to `prefix_len`
/// readable bytes; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_prefix(
    map: *const lqft_map,
    prefix: *const u8,
    prefix_len: usize,
    out: *mut *mut lqft_iter,
) -> lqft_status {
    // SAFETY: the caller promised a live map, a readable prefix and a writable `out`.
    call("lqft_map_prefix", || unsafe {
        open_prefix(map, prefix, prefix_len, out)
    })
}

/// Stores in `*out` an iterator over every entry of the snapshot, in key byte order.
///
/// Ownership: the caller owns the iterator (release with `lqft_iter_free`); it keeps the
/// version alive on its own, so the snapshot handle may be freed first.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_iter(
    snapshot: *const lqft_snapshot,
    out: *mut *mut lqft_iter,
) -> lqft_status {
    // SAFETY: the caller promised a live snapshot and a writable `out`.
    call("lqft_snapshot_iter", || unsafe { open_all(snapshot, out) })
}

/// Stores in `*out` an iterator over the snapshot's entries with `start <= key < end`.
/// Empty when `start >= end`. The bounds are copied.
///
/// Ownership: the caller owns the iterator (release with `lqft_iter_free`); it outlives the
/// snapshot handle.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `start`/`end` are `NULL` (with length 0) or point
/// to `start_len`/`end_len` readable bytes; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_range(
    snapshot: *const lqft_snapshot,
    start: *const u8,
    start_len: usize,
    end: *const u8,
    end_len: usize,
    out: *mut *mut lqft_iter,
) -> lqft_status {
    // SAFETY: the caller promised a live snapshot, readable bounds and a writable `out`.
    call("lqft_snapshot_range", || unsafe {
        open_range(snapshot, start, start_len, end, end_len, out)
    })
}

/// Stores in `*out` an iterator over the snapshot's entries whose key starts with `prefix`.
///
/// Ownership: the caller owns the iterator (release with `lqft_iter_free`); it outlives the
/// snapshot handle.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `prefix` is `NULL` (with length 0) or points to
/// `prefix_len` readable bytes; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_prefix(
    snapshot: *const lqft_snapshot,
    prefix: *const u8,
    prefix_len: usize,
    out: *mut *mut lqft_iter,
) -> lqft_status {
    // SAFETY: the caller promised a live snapshot, a readable prefix and a writable `out`.
    call("lqft_snapshot_prefix", || unsafe {
        open_prefix(snapshot, prefix, prefix_len, out)
    })
}

/// Takes the next entry from the front or the back of the iterator.
///
/// # Safety
/// `iter` is `NULL` or a live iterator no other thread is using; `out` is `NULL` or writable.
unsafe fn step(iter: *mut lqft_iter, out: *mut lqft_entry, back: bool) -> Outcome {
    // SAFETY: forwarded contract.
    let (iter, out) = unsafe { (handle_mut(iter, "iter")?, Out::new(out, "out")?) };
    let next = if back {
        iter.entries.next_back()
    } else {
        iter.entries.next()
    };
    let Some(entry) = next else {
        return Ok(LQFT_DONE);
    };
    // The views point into the leaf `current` now owns; it is replaced only by the next step or
    // dropped by `lqft_iter_free`, which is exactly the lifetime the header promises.
    let entry = iter.current.insert(entry);
    out.write(lqft_entry {
        key: entry.key().as_ptr(),
        key_len: entry.key().len(),
        value: entry.value().as_ptr(),
        value_len: entry.value().len(),
    });
    Ok(LQFT_OK)
}

/// Stores the next entry in key order in `*out`.
///
/// Returns `LQFT_OK`, or `LQFT_DONE` (nothing written) when the walk is over; it then keeps
/// returning `LQFT_DONE`.
/// Lifetime: the views in `*out` stay valid until the next `lqft_iter_next` /
/// `lqft_iter_next_back` or `lqft_iter_free` on this iterator; copy what you keep.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
/// Thread safety: one thread at a time per iterator.
///
/// # Safety
/// `iter` is `NULL` or a live iterator no other thread is using; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_iter_next(iter: *mut lqft_iter, out: *mut lqft_entry) -> lqft_status {
    // SAFETY: the caller promised a live, unshared iterator and a writable `out`.
    call("lqft_iter_next", || unsafe { step(iter, out, false) })
}

/// Stores the last entry not yet returned (walking backwards from the end) in `*out`. Front and
/// back walks meet in the middle and never return an entry twice.
///
/// Returns `LQFT_OK`, or `LQFT_DONE` when no entry is left. Views live as for
/// `lqft_iter_next`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `iter` is `NULL` or a live iterator no other thread is using; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_iter_next_back(
    iter: *mut lqft_iter,
    out: *mut lqft_entry,
) -> lqft_status {
    // SAFETY: the caller promised a live, unshared iterator and a writable `out`.
    call("lqft_iter_next_back", || unsafe { step(iter, out, true) })
}

/// Releases an iterator and the views it lent. `NULL` is a no-op.
///
/// # Safety
/// `iter` is `NULL` or a live iterator no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_iter_free(iter: *mut lqft_iter) {
    // SAFETY: the caller passes NULL or a live iterator no one else is using.
    call_value((), || unsafe { free_handle(iter) })
}
