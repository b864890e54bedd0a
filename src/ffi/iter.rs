//! Ordered iteration, range and prefix scans over a map's live state or a snapshot.

use std::ops::Bound;

use super::args::{Out, Packed, Record, free_handle, handle, handle_mut, input, new_handle};
use super::error::Fail;
use super::guard::{Outcome, call, call_value};
use super::map::lqft_map;
use super::read::Version;
use super::snapshot::lqft_snapshot;
use super::status::*;
use crate::engine::prefix_end;
use crate::engine::{Entry, Merged, TryEntries};

/// The entries of one version in key order: one tree's (whose stored nodes, in a store-backed
/// version, load as the walk reaches them), or a sharded version's merged (in memory).
pub(crate) enum Walk {
    One(TryEntries),
    Merged(Merged),
}

impl Walk {
    /// The next entry from the front, or from the back with `back`. A failed load changes
    /// nothing: the next call tries it again.
    fn step(&mut self, back: bool) -> crate::Result<Option<Entry>> {
        match self {
            Walk::One(entries) if back => entries.try_next_back(),
            Walk::One(entries) => entries.try_next(),
            Walk::Merged(merged) if back => Ok(merged.next_back()),
            Walk::Merged(merged) => Ok(merged.next()),
        }
    }
}

impl Record<2> for Entry {
    const NAME: &'static str = "entry";
    fn pieces(&self) -> [&[u8]; 2] {
        [self.key(), self.value()]
    }
}

/// An ordered walk over one version, owning that version: it stays valid after the map or
/// snapshot it came from is freed, and later writes to the map do not affect it.
///
/// On a store-backed map (`lqft_store_map`) the walk loads nodes from disk as it reaches them.
/// A step whose load fails returns `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT` with the message,
/// writes nothing and consumes nothing: the iterator stays usable where it was, and the next
/// step tries the load again (a passing I/O error may then succeed; corrupt data fails again).
///
/// Thread safety: use an iterator from one thread at a time.
pub struct lqft_iter {
    entries: Walk,
    /// The entry last returned, which the borrowed views in `lqft_entry` point into.
    current: Option<Entry>,
    /// An entry taken from the front that did not fit a packed step's buffer: the smallest key
    /// not yet returned, given before anything `entries` still holds.
    held_front: Option<Entry>,
    /// The same from the back: the largest key not yet returned.
    held_back: Option<Entry>,
}

impl lqft_iter {
    /// The next entry from the front (`back` false) or the back. The held entries sit outside
    /// `entries` at its two ends, so each end takes its own held entry first and the other
    /// end's last. A failed load changes nothing.
    fn take(&mut self, back: bool) -> crate::Result<Option<Entry>> {
        let (this, other) = if back {
            (&mut self.held_back, &mut self.held_front)
        } else {
            (&mut self.held_front, &mut self.held_back)
        };
        if let Some(entry) = this.take() {
            return Ok(Some(entry));
        }
        Ok(self.entries.step(back)?.or_else(|| other.take()))
    }

    /// Puts back an entry just taken from the end `back`.
    fn hold(&mut self, entry: Entry, back: bool) {
        if back {
            self.held_back = Some(entry);
        } else {
            self.held_front = Some(entry);
        }
    }
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

/// How a range bound applies to the bytes given with it: `LQFT_BOUND_INCLUDED`,
/// `LQFT_BOUND_EXCLUDED` or `LQFT_BOUND_UNBOUNDED`.
pub type lqft_bound = u32;
/// The bound's key belongs to the range.
pub const LQFT_BOUND_INCLUDED: lqft_bound = 0;
/// The bound's key does not belong to the range.
pub const LQFT_BOUND_EXCLUDED: lqft_bound = 1;
/// No bound: the range is open on this side and the bytes given with it are ignored (they may
/// be `NULL`).
pub const LQFT_BOUND_UNBOUNDED: lqft_bound = 2;

/// The bound `(ptr, len)` of the kind `kind`.
///
/// # Safety
/// Unless `kind` is `LQFT_BOUND_UNBOUNDED`, `ptr` is `NULL` (with length 0) or points to `len`
/// readable bytes that stay unchanged for `'a`.
unsafe fn bound<'a>(
    ptr: *const u8,
    len: usize,
    kind: lqft_bound,
    what: &str,
) -> Result<Bound<&'a [u8]>, Fail> {
    match kind {
        // SAFETY: forwarded contract.
        LQFT_BOUND_INCLUDED => Ok(Bound::Included(unsafe { input(ptr, len, what) }?)),
        // SAFETY: forwarded contract.
        LQFT_BOUND_EXCLUDED => Ok(Bound::Excluded(unsafe { input(ptr, len, what) }?)),
        LQFT_BOUND_UNBOUNDED => Ok(Bound::Unbounded),
        other => Err(Fail::invalid(format!(
            "`{what}_bound` is {other}, not one of LQFT_BOUND_INCLUDED, LQFT_BOUND_EXCLUDED, \
             LQFT_BOUND_UNBOUNDED"
        ))),
    }
}

/// Hands a new iterator over `entries` to C.
pub(crate) fn give(out: Out<*mut lqft_iter>, entries: Walk) -> Outcome {
    out.write(new_handle(lqft_iter {
        entries,
        current: None,
        held_front: None,
        held_back: None,
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
    give(out, version.walk(Bound::Unbounded, Bound::Unbounded))
}

/// The body of the `*_range` and `*_range_bounds` exports: the entries between the bounds.
///
/// # Safety
/// `version` is `NULL` or a live handle; each bound that is not `LQFT_BOUND_UNBOUNDED` is `NULL`
/// (with length 0) or points to its length of readable bytes; `out` is `NULL` or writable.
#[allow(clippy::too_many_arguments)]
unsafe fn open_range<V: Version>(
    version: *const V,
    start: *const u8,
    start_len: usize,
    start_bound: lqft_bound,
    end: *const u8,
    end_len: usize,
    end_bound: lqft_bound,
    out: *mut *mut lqft_iter,
) -> Outcome {
    // SAFETY: forwarded contract.
    let (version, start, end, out) = unsafe {
        (
            handle(version, V::NAME)?,
            bound(start, start_len, start_bound, "start")?,
            bound(end, end_len, end_bound, "end")?,
            Out::new(out, "out")?,
        )
    };
    give(out, version.walk(start, end))
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
    let end = prefix_end(prefix);
    let end = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    give(out, version.walk(Bound::Included(prefix), end))
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
        open_range(
            map,
            start,
            start_len,
            LQFT_BOUND_INCLUDED,
            end,
            end_len,
            LQFT_BOUND_EXCLUDED,
            out,
        )
    })
}

/// Stores in `*out` an iterator over the entries of the map's live state between two bounds,
/// each included, excluded or absent (`lqft_bound`), in key order, as of this call. Empty when
/// the bounds admit no key. O(log n) to start. The bounds are copied.
///
/// For example `(start "k", LQFT_BOUND_EXCLUDED, end NULL, LQFT_BOUND_UNBOUNDED)` walks every
/// key after `"k"`.
/// Ownership: the caller owns the iterator and releases it with `lqft_iter_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (unknown bound kind).
///
/// # Safety
/// `map` is `NULL` or a live map; a bound that is not `LQFT_BOUND_UNBOUNDED` is `NULL` (with
/// length 0) or points to its length of readable bytes; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn lqft_map_range_bounds(
    map: *const lqft_map,
    start: *const u8,
    start_len: usize,
    start_bound: lqft_bound,
    end: *const u8,
    end_len: usize,
    end_bound: lqft_bound,
    out: *mut *mut lqft_iter,
) -> lqft_status {
    // SAFETY: the caller promised a live map, readable bounds and a writable `out`.
    call("lqft_map_range_bounds", || unsafe {
        open_range(
            map,
            start,
            start_len,
            start_bound,
            end,
            end_len,
            end_bound,
            out,
        )
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
        open_range(
            snapshot,
            start,
            start_len,
            LQFT_BOUND_INCLUDED,
            end,
            end_len,
            LQFT_BOUND_EXCLUDED,
            out,
        )
    })
}

/// Stores in `*out` an iterator over the snapshot's entries between two bounds, each included,
/// excluded or absent (see `lqft_map_range_bounds`). The bounds are copied.
///
/// Ownership: the caller owns the iterator (release with `lqft_iter_free`); it outlives the
/// snapshot handle.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (unknown bound kind).
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; a bound that is not `LQFT_BOUND_UNBOUNDED` is
/// `NULL` (with length 0) or points to its length of readable bytes; `out` is `NULL` or
/// writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn lqft_snapshot_range_bounds(
    snapshot: *const lqft_snapshot,
    start: *const u8,
    start_len: usize,
    start_bound: lqft_bound,
    end: *const u8,
    end_len: usize,
    end_bound: lqft_bound,
    out: *mut *mut lqft_iter,
) -> lqft_status {
    // SAFETY: the caller promised a live snapshot, readable bounds and a writable `out`.
    call("lqft_snapshot_range_bounds", || unsafe {
        open_range(
            snapshot,
            start,
            start_len,
            start_bound,
            end,
            end_len,
            end_bound,
            out,
        )
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
    let Some(entry) = iter.take(back)? else {
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
/// `lqft_iter_next_back` or `lqft_iter_free` on this iterator; copy what you keep (a failed
/// step leaves them valid).
/// Errors: `LQFT_ERR_NULL_ARGUMENT`; `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT` when a node of a
/// store-backed version fails to load (nothing written, nothing consumed: see `lqft_iter`).
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
/// Errors: `LQFT_ERR_NULL_ARGUMENT`; `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT` when a node of a
/// store-backed version fails to load (nothing written, nothing consumed: see `lqft_iter`).
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

/// Copies entries from the front or the back of the iterator into the caller's packed output.
///
/// # Safety
/// `iter` is `NULL` or a live iterator no other thread is using; `buf` is `NULL` or valid for
/// writes of `cap` bytes; `ends` is `NULL` or valid for writes of `2 * max_entries` `size_t`s;
/// `out_count` and `out_len` are `NULL` or writable.
#[allow(clippy::too_many_arguments)]
unsafe fn step_packed(
    iter: *mut lqft_iter,
    buf: *mut u8,
    cap: usize,
    ends: *mut usize,
    max_entries: usize,
    out_count: *mut usize,
    out_len: *mut usize,
    back: bool,
) -> Outcome {
    if max_entries == 0 {
        return Err(Fail::invalid("`max_entries` is 0"));
    }
    let ends_cap = max_entries
        .checked_mul(2)
        .ok_or_else(|| Fail::invalid(format!("`max_entries` {max_entries} is impossible")))?;
    // SAFETY: forwarded contract.
    let (iter, packed, out_count, out_len) = unsafe {
        (
            handle_mut(iter, "iter")?,
            Packed::new(buf, cap, ends, ends_cap)?,
            Out::new(out_count, "out_count")?,
            Out::new(out_len, "out_len")?,
        )
    };
    packed.fill(
        max_entries,
        out_count,
        out_len,
        iter,
        |iter| Ok(iter.take(back)?),
        |iter, entry| iter.hold(entry, back),
        |_, _| {},
    )
}

/// Copies up to `max_entries` next entries, in key order, into the caller's buffer: many
/// entries per call, for bindings where each call costs more than copying.
///
/// Layout: keys and values back to back in `buf` (key 0, value 0, key 1, value 1, ...);
/// `ends[2*i]` is the offset just past key `i` and `ends[2*i + 1]` the offset just past value
/// `i`, so entry `i` starts where entry `i - 1` ended (entry 0 at offset 0). `ends` has room
/// for `2 * max_entries` offsets.
///
/// Returns `LQFT_OK` with the number of entries copied (at least 1) in `*out_count` and the
/// bytes used in `*out_len`; `LQFT_DONE` when no entry is left (nothing written); or
/// `LQFT_ERR_BUFFER_TOO_SMALL` when the next entry alone needs more than `cap` bytes, with
/// the bytes it needs in `*out_len`. An entry that does not fit is not lost: the next step
/// returns it. Steps mix freely with `lqft_iter_next` and the backward functions.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (`max_entries` 0),
/// `LQFT_ERR_BUFFER_TOO_SMALL`; `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT` when a node of a
/// store-backed version fails to load (nothing written, nothing consumed: see `lqft_iter`). A
/// load that fails after some entries were copied ends the step early with `LQFT_OK` and
/// those entries; the next step meets the failure.
/// Thread safety: one thread at a time per iterator.
///
/// # Safety
/// `iter` is `NULL` or a live iterator no other thread is using; `buf` is `NULL` (with `cap`
/// 0) or valid for writes of `cap` bytes; `ends` is `NULL` or valid for writes of
/// `2 * max_entries` `size_t`s; `out_count` and `out_len` are `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_iter_next_packed(
    iter: *mut lqft_iter,
    buf: *mut u8,
    cap: usize,
    ends: *mut usize,
    max_entries: usize,
    out_count: *mut usize,
    out_len: *mut usize,
) -> lqft_status {
    // SAFETY: the caller promised a live, unshared iterator and writable outputs.
    call("lqft_iter_next_packed", || unsafe {
        step_packed(iter, buf, cap, ends, max_entries, out_count, out_len, false)
    })
}

/// `lqft_iter_next_packed` walking backwards: the entries not yet returned, from the largest
/// key down, packed in that (descending) order.
///
/// Errors and thread safety: as `lqft_iter_next_packed`.
///
/// # Safety
/// As for `lqft_iter_next_packed`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_iter_next_back_packed(
    iter: *mut lqft_iter,
    buf: *mut u8,
    cap: usize,
    ends: *mut usize,
    max_entries: usize,
    out_count: *mut usize,
    out_len: *mut usize,
) -> lqft_status {
    // SAFETY: the caller promised a live, unshared iterator and writable outputs.
    call("lqft_iter_next_back_packed", || unsafe {
        step_packed(iter, buf, cap, ends, max_entries, out_count, out_len, true)
    })
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
