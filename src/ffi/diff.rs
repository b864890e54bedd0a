//! Diffs between two versions, in key order, costing O(changes).

use super::args::{Out, Packed, Record, free_handle, handle, handle_mut, new_handle};
use super::error::Fail;
use super::guard::{Outcome, call, call_value};
use super::map::{Kind, lqft_map};
use super::snapshot::{lqft_snapshot, mixed_kinds};
use super::status::*;
use crate::engine::MergedDiff;
use crate::{DiffEntry, DiffKind, TryOwnedDiff};

/// The changes between two versions of one kind: plain (whose stored nodes, in versions of a
/// store-backed map, load as the walk reaches them), or sharded (merged over the shards, in
/// memory).
type Changes = Kind<TryOwnedDiff, MergedDiff>;

/// The changes that turn one version into another, in key order. Owns what it needs: it stays
/// valid after the snapshots and map it came from are freed.
///
/// On versions of a store-backed map (`lqft_store_map`) the walk loads the nodes where the
/// versions differ from disk as it reaches them. A step whose load fails returns
/// `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT` with the message, writes nothing and consumes nothing:
/// the diff stays usable where it was, and the next step tries the load again (a passing I/O
/// error may then succeed; corrupt data fails again).
///
/// Thread safety: use a diff from one thread at a time.
pub struct lqft_diff {
    diff: Changes,
    /// The entry last returned, which the views in `lqft_diff_entry` point into.
    current: Option<DiffEntry>,
    /// An entry taken that did not fit a packed step's buffer; the next step returns it first.
    held: Option<DiffEntry>,
}

impl lqft_diff {
    /// The next difference: the held one, else the walk's. A failed load changes nothing.
    fn take(&mut self) -> crate::Result<Option<DiffEntry>> {
        if let Some(entry) = self.held.take() {
            return Ok(Some(entry));
        }
        match &mut self.diff {
            Kind::Plain(diff) => diff.try_next(),
            Kind::Sharded(diff) => Ok(diff.next()),
        }
    }
}

impl Record<3> for DiffEntry {
    const NAME: &'static str = "difference";
    fn pieces(&self) -> [&[u8]; 3] {
        [
            self.key(),
            self.old_value().unwrap_or_default(),
            self.new_value().unwrap_or_default(),
        ]
    }
}

fn kind(entry: &DiffEntry) -> lqft_diff_kind {
    match entry.kind() {
        DiffKind::Added => LQFT_DIFF_ADDED,
        DiffKind::Removed => LQFT_DIFF_REMOVED,
        DiffKind::Changed => LQFT_DIFF_CHANGED,
    }
}

/// What happened to a key: `LQFT_DIFF_ADDED`, `LQFT_DIFF_REMOVED` or `LQFT_DIFF_CHANGED`.
pub type lqft_diff_kind = u32;
/// Present only in the newer version.
pub const LQFT_DIFF_ADDED: lqft_diff_kind = 1;
/// Present only in the older version.
pub const LQFT_DIFF_REMOVED: lqft_diff_kind = 2;
/// Present in both with different values.
pub const LQFT_DIFF_CHANGED: lqft_diff_kind = 3;

/// One difference, returned by `lqft_diff_next`: borrowed views valid until the next
/// `lqft_diff_next` or `lqft_diff_free` on the same diff.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lqft_diff_entry {
    /// What happened to the key.
    pub kind: lqft_diff_kind,
    /// The key's bytes (non-NULL).
    pub key: *const u8,
    /// The key's length.
    pub key_len: usize,
    /// The value in the older version; `NULL` for `LQFT_DIFF_ADDED`.
    pub old_value: *const u8,
    /// Its length; 0 when `old_value` is `NULL`.
    pub old_value_len: usize,
    /// The value in the newer version; `NULL` for `LQFT_DIFF_REMOVED`.
    pub new_value: *const u8,
    /// Its length; 0 when `new_value` is `NULL`.
    pub new_value_len: usize,
}

/// The body of `lqft_diff_new` / `lqft_map_diff_live`: checks the handles `first` and `second`
/// (named `first_what` and `second_what` in errors) and `out`, then hands C the diff `make`
/// builds from the two handles.
///
/// # Safety
/// `first` and `second` are `NULL` or live handles; `out` is `NULL` or writable.
unsafe fn open<A, B>(
    first: *const A,
    first_what: &str,
    second: *const B,
    second_what: &str,
    out: *mut *mut lqft_diff,
    make: impl FnOnce(&A, &B) -> Result<Changes, Fail>,
) -> Outcome {
    // SAFETY: forwarded contract.
    let (first, second, out) = unsafe {
        (
            handle(first, first_what)?,
            handle(second, second_what)?,
            Out::new(out, "out")?,
        )
    };
    out.write(new_handle(lqft_diff {
        diff: make(first, second)?,
        current: None,
        held: None,
    }));
    Ok(LQFT_OK)
}

/// Stores in `*out` the changes that turn snapshot `old` into snapshot `new`, in key order.
/// O(1) to create (O(shards) for sharded snapshots); walking it costs O(changes), skipping
/// every subtree the versions share.
///
/// Ownership: the caller owns the diff and releases it with `lqft_diff_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (a plain and a sharded
/// snapshot, or sharded snapshots of different shard counts).
///
/// # Safety
/// `old` and `new` are `NULL` or live snapshots; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_diff_new(
    old: *const lqft_snapshot,
    new: *const lqft_snapshot,
    out: *mut *mut lqft_diff,
) -> lqft_status {
    // SAFETY: the caller promised live snapshots and a writable `out`.
    call("lqft_diff_new", || unsafe {
        open(
            old,
            "old",
            new,
            "new",
            out,
            |old: &lqft_snapshot, new| match (&old.kind, &new.kind) {
                (Kind::Plain(old), Kind::Plain(new)) => Ok(Kind::Plain(old.try_diff_owned(new))),
                (Kind::Sharded(old), Kind::Sharded(new)) => Ok(Kind::Sharded(old.diff(new)?)),
                _ => Err(mixed_kinds("diff")),
            },
        )
    })
}

/// Stores in `*out` the changes that turn snapshot `old` into the map's live state as of this
/// call (for example the uncommitted writes since the current snapshot).
///
/// Ownership: the caller owns the diff and releases it with `lqft_diff_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (as for `lqft_diff_new`).
///
/// # Safety
/// `map` and `old` are `NULL` or live handles; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_diff_live(
    map: *const lqft_map,
    old: *const lqft_snapshot,
    out: *mut *mut lqft_diff,
) -> lqft_status {
    // SAFETY: the caller promised live handles and a writable `out`.
    call("lqft_map_diff_live", || unsafe {
        open(
            map,
            "map",
            old,
            "old",
            out,
            |map: &lqft_map, old: &lqft_snapshot| match (&map.kind, &old.kind) {
                (Kind::Plain(map), Kind::Plain(old)) => Ok(Kind::Plain(map.try_diff_live(old))),
                (Kind::Sharded(map), Kind::Sharded(old)) => Ok(Kind::Sharded(map.diff_live(old)?)),
                _ => Err(mixed_kinds("diff")),
            },
        )
    })
}

/// Stores the next difference in key order in `*out`.
///
/// Returns `LQFT_OK`, or `LQFT_DONE` (nothing written) when there are no more.
/// Lifetime: the views in `*out` stay valid until the next `lqft_diff_next` or `lqft_diff_free`
/// on this diff (a failed step leaves them valid).
/// Errors: `LQFT_ERR_NULL_ARGUMENT`; `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT` when a node of a
/// store-backed version fails to load (nothing written, nothing consumed: see `lqft_diff`).
/// Thread safety: one thread at a time per diff.
///
/// # Safety
/// `diff` is `NULL` or a live diff no other thread is using; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_diff_next(
    diff: *mut lqft_diff,
    out: *mut lqft_diff_entry,
) -> lqft_status {
    call("lqft_diff_next", || {
        // SAFETY: the caller promised a live, unshared diff and a writable `out`.
        let (diff, out) = unsafe { (handle_mut(diff, "diff")?, Out::new(out, "out")?) };
        let Some(entry) = diff.take()? else {
            return Ok(LQFT_DONE);
        };
        // The views point into the leaves `current` now holds alive until the next call or free.
        let entry = diff.current.insert(entry);
        let (old_value, old_value_len) = view(entry.old_value());
        let (new_value, new_value_len) = view(entry.new_value());
        out.write(lqft_diff_entry {
            kind: kind(entry),
            key: entry.key().as_ptr(),
            key_len: entry.key().len(),
            old_value,
            old_value_len,
            new_value,
            new_value_len,
        });
        Ok(LQFT_OK)
    })
}

/// Copies up to `max_entries` next differences, in key order, into the caller's buffers: many
/// per call, for bindings where each call costs more than copying.
///
/// Layout: for each difference `i`, its key, old value and new value back to back in `buf`;
/// `ends[3*i]`, `ends[3*i + 1]` and `ends[3*i + 2]` are the offsets just past each of the three
/// (difference 0 starts at offset 0, each next one where the previous ended); `kinds[i]` is its
/// `lqft_diff_kind`. An absent value (the old value of `LQFT_DIFF_ADDED`, the new value of
/// `LQFT_DIFF_REMOVED`) takes no bytes. `ends` has room for `3 * max_entries` offsets and
/// `kinds` for `max_entries` kinds.
///
/// Returns `LQFT_OK` with the number of differences copied (at least 1) in `*out_count` and the
/// bytes used in `*out_len`; `LQFT_DONE` when there are no more (nothing written); or
/// `LQFT_ERR_BUFFER_TOO_SMALL` when the next difference alone needs more than `cap` bytes, with
/// the bytes it needs in `*out_len`. A difference that does not fit is not lost: the next step
/// returns it. Steps mix freely with `lqft_diff_next`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (`max_entries` 0),
/// `LQFT_ERR_BUFFER_TOO_SMALL`; `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT` when a node of a
/// store-backed version fails to load (nothing written, nothing consumed). A load that fails
/// after some differences were copied ends the step early with `LQFT_OK` and those; the next
/// step meets the failure.
/// Thread safety: one thread at a time per diff.
///
/// # Safety
/// `diff` is `NULL` or a live diff no other thread is using; `buf` is `NULL` (with `cap` 0) or
/// valid for writes of `cap` bytes; `ends` is `NULL` or valid for writes of `3 * max_entries`
/// `size_t`s; `kinds` is `NULL` or valid for writes of `max_entries` kinds; `out_count` and
/// `out_len` are `NULL` or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn lqft_diff_next_packed(
    diff: *mut lqft_diff,
    buf: *mut u8,
    cap: usize,
    ends: *mut usize,
    kinds: *mut lqft_diff_kind,
    max_entries: usize,
    out_count: *mut usize,
    out_len: *mut usize,
) -> lqft_status {
    call("lqft_diff_next_packed", || {
        if max_entries == 0 {
            return Err(Fail::invalid("`max_entries` is 0"));
        }
        let ends_cap = max_entries
            .checked_mul(3)
            .ok_or_else(|| Fail::invalid(format!("`max_entries` {max_entries} is impossible")))?;
        if kinds.is_null() {
            return Err(Fail::null("kinds"));
        }
        if !kinds.is_aligned() {
            return Err(Fail::invalid("`kinds` is misaligned"));
        }
        // SAFETY: the caller promised a live, unshared diff, `cap` writable bytes at `buf`,
        // `3 * max_entries` writable offsets at `ends` and writable outputs.
        let (diff, packed, out_count, out_len) = unsafe {
            (
                handle_mut(diff, "diff")?,
                Packed::new(buf, cap, ends, ends_cap)?,
                Out::new(out_count, "out_count")?,
                Out::new(out_len, "out_len")?,
            )
        };
        packed.fill(
            max_entries,
            out_count,
            out_len,
            diff,
            |diff| Ok(diff.take()?),
            |diff, entry| diff.held = Some(entry),
            // SAFETY: `index < max_entries`, and the caller promised `max_entries` writable,
            // aligned (checked) kinds at `kinds`.
            |index, entry| unsafe { kinds.add(index).write(kind(entry)) },
        )
    })
}

fn view(value: Option<&[u8]>) -> (*const u8, usize) {
    value.map_or((std::ptr::null(), 0), |v| (v.as_ptr(), v.len()))
}

/// Releases a diff and the views it lent. `NULL` is a no-op.
///
/// # Safety
/// `diff` is `NULL` or a live diff no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_diff_free(diff: *mut lqft_diff) {
    // SAFETY: the caller passes NULL or a live diff no one else is using.
    call_value((), || unsafe { free_handle(diff) })
}
