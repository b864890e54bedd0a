//! Snapshots: taking them, reading them, the registry, rollback and compaction.

use super::args::{Out, free_handle, handle, key_input, new_handle};
use super::bytes::{lqft_bytes, lqft_ids, lqft_value_buf};
use super::error::Fail;
use super::guard::{Outcome, call, call_value};
use super::map::{Kind, either, lqft_map};
use super::read::{self, Version};
use super::status::*;
use crate::{RollbackPolicy, ShardedSnapshot, Snapshot};

/// Length of a Merkle root hash in bytes.
pub const LQFT_HASH_LEN: usize = 32;

/// An immutable version of a map, with its metadata: of a plain map, or of every shard of a
/// sharded map as one consistent cut.
///
/// Lifetime: readable for as long as the handle lives, even after the registry pruned the
/// snapshot or the map was freed. Thread safety: immutable; may be used from any number of
/// threads at once (only `lqft_snapshot_free` needs exclusive access).
pub struct lqft_snapshot {
    pub(crate) kind: SnapshotKind,
}

/// What an `lqft_snapshot` handle holds.
pub(crate) type SnapshotKind = Kind<Snapshot, ShardedSnapshot>;

impl From<Snapshot> for SnapshotKind {
    fn from(snapshot: Snapshot) -> SnapshotKind {
        Kind::Plain(snapshot)
    }
}

impl From<ShardedSnapshot> for SnapshotKind {
    fn from(snapshot: ShardedSnapshot) -> SnapshotKind {
        Kind::Sharded(snapshot)
    }
}

impl lqft_snapshot {
    /// The plain snapshot, or the refusal of an operation (`what`) that only a plain one has.
    pub(crate) fn plain_only(&self, what: &str) -> Result<&Snapshot, Fail> {
        match &self.kind {
            Kind::Plain(snapshot) => Ok(snapshot),
            Kind::Sharded(_) => Err(Fail::invalid(format!(
                "{what} works on snapshots of plain maps only; this is a sharded snapshot"
            ))),
        }
    }
}

/// The refusal to use a version of one kind of map with the other.
pub(crate) fn mixed_kinds(what: &str) -> Fail {
    Fail::invalid(format!(
        "{what}: a plain map's versions and a sharded map's cannot be used together"
    ))
}

/// Hands a new handle on `snapshot` to C through `out`.
pub(crate) fn give(out: Out<*mut lqft_snapshot>, snapshot: impl Into<SnapshotKind>) -> Outcome {
    out.write(new_handle(lqft_snapshot {
        kind: snapshot.into(),
    }));
    Ok(LQFT_OK)
}

/// What `lqft_map_rollback` does with mutations no snapshot holds: `LQFT_ROLLBACK_FAIL` or
/// `LQFT_ROLLBACK_DISCARD`.
pub type lqft_rollback_policy = u32;
/// Refuse with `LQFT_ERR_PENDING_CHANGES` and change nothing.
pub const LQFT_ROLLBACK_FAIL: lqft_rollback_policy = 0;
/// Drop the pending mutations and report how many were dropped.
pub const LQFT_ROLLBACK_DISCARD: lqft_rollback_policy = 1;

pub(crate) fn rollback_policy(policy: lqft_rollback_policy) -> Result<RollbackPolicy, Fail> {
    match policy {
        LQFT_ROLLBACK_FAIL => Ok(RollbackPolicy::Fail),
        LQFT_ROLLBACK_DISCARD => Ok(RollbackPolicy::Discard),
        other => Err(Fail::invalid(format!("unknown rollback policy {other}"))),
    }
}

/// What was recorded about a snapshot when it was taken.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lqft_snapshot_meta {
    /// Names this snapshot and no other of its map, ever (ids are never reused); a snapshot
    /// registered later has a larger id.
    pub id: u64,
    /// Snapshots on the path from the first one to this one (the first is 1).
    pub generation: u64,
    /// The id of the snapshot the live state derived from when this one was taken; 0 when
    /// `has_parent` is false.
    pub parent_id: u64,
    /// Wall-clock time of the snapshot, nanoseconds since the Unix epoch.
    pub created_at_ns: u64,
    /// Mutations applied to the live state between the parent and this snapshot.
    pub mutation_count: u64,
    /// Keys added, removed or changed between the parent and this snapshot.
    pub delta_size: u64,
    /// Entries in this snapshot.
    pub size: u64,
    /// Whether `parent_id` names a parent (false for the first snapshot).
    pub has_parent: bool,
}

/// Takes an immutable snapshot of the live state (O(1)), registers it, makes it current and
/// stores a new handle on it in `*out`.
///
/// Ownership: the caller owns the handle and releases it with `lqft_snapshot_free`; the
/// registry keeps its own reference until `lqft_map_compact` prunes it.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_snapshot(
    map: *const lqft_map,
    out: *mut *mut lqft_snapshot,
) -> lqft_status {
    call("lqft_map_snapshot", || {
        // SAFETY: the caller promised a live map and a writable `out`.
        let (map, out) = unsafe { (handle(map, "map")?, Out::new(out, "out")?) };
        match &map.kind {
            Kind::Plain(map) => give(out, map.try_snapshot()?),
            Kind::Sharded(map) => give(out, map.snapshot()),
        }
    })
}

/// Stores in `*out` a second handle on the same snapshot (O(1)), for example to hand one to
/// another thread. Each handle is freed on its own.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_clone(
    snapshot: *const lqft_snapshot,
    out: *mut *mut lqft_snapshot,
) -> lqft_status {
    call("lqft_snapshot_clone", || {
        // SAFETY: the caller promised a live snapshot and a writable `out`.
        let (snapshot, out) = unsafe { (handle(snapshot, "snapshot")?, Out::new(out, "out")?) };
        either!(&snapshot.kind, s => give(out, s.clone()))
    })
}

/// Releases a snapshot handle. `NULL` is a no-op. Views returned by `lqft_snapshot_get_view`
/// on this handle become invalid; other handles on the same snapshot are unaffected.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot handle that no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_free(snapshot: *mut lqft_snapshot) {
    // SAFETY: the caller passes NULL or a live handle no one else is using.
    call_value((), || unsafe { free_handle(snapshot) })
}

/// Copies the value under `key` in the snapshot into a new buffer stored in `*out`.
///
/// Returns `LQFT_OK`, or `LQFT_NOT_FOUND` (nothing written).
/// Ownership: on `LQFT_OK` the caller owns `*out` and releases it with `lqft_bytes_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `key` is `NULL` (with length 0) or points to
/// `key_len` readable bytes; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_get(
    snapshot: *const lqft_snapshot,
    key: *const u8,
    key_len: usize,
    out: *mut lqft_bytes,
) -> lqft_status {
    // SAFETY: the caller promised a live snapshot, a readable key and a writable `out`.
    call("lqft_snapshot_get", || unsafe {
        read::get(snapshot, key, key_len, out)
    })
}

/// Finds `key` in the snapshot and stores a borrowed view of its value in `*out_value` /
/// `*out_len`, without copying.
///
/// Returns `LQFT_OK`, or `LQFT_NOT_FOUND` (nothing written).
/// Lifetime: the view points into the snapshot and stays valid until this snapshot handle is
/// freed (and no longer); never free or modify it. `*out_value` is non-NULL even for an empty
/// value.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `key` is `NULL` (with length 0) or points to
/// `key_len` readable bytes; `out_value` and `out_len` are `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_get_view(
    snapshot: *const lqft_snapshot,
    key: *const u8,
    key_len: usize,
    out_value: *mut *const u8,
    out_len: *mut usize,
) -> lqft_status {
    call("lqft_snapshot_get_view", || {
        // SAFETY: the caller promised a live snapshot, a readable key and writable outputs.
        let (snapshot, key, out_value, out_len) = unsafe {
            (
                handle(snapshot, "snapshot")?,
                key_input(key, key_len)?,
                Out::new(out_value, "out_value")?,
                Out::new(out_len, "out_len")?,
            )
        };
        // The value lives in a leaf the snapshot's tree holds; the handle owns that tree, so the
        // bytes stay put until the handle is freed.
        let found = snapshot.read_value(key, |value| (value.as_ptr(), value.len()))?;
        Ok(match found {
            Some((value, len)) => {
                out_value.write(value);
                out_len.write(len);
                LQFT_OK
            }
            None => LQFT_NOT_FOUND,
        })
    })
}

/// Copies the value under `key` in the snapshot into the caller's buffer `(buf, cap)`.
///
/// Returns `LQFT_OK` with the value's length in `*out_len`; `LQFT_NOT_FOUND` (nothing written);
/// or `LQFT_ERR_BUFFER_TOO_SMALL` with the length needed in `*out_len` and `buf` untouched.
/// `buf` may be `NULL` when `cap` is 0 (a size query).
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`, `LQFT_ERR_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `key` is `NULL` (with length 0) or points to
/// `key_len` readable bytes; `buf` is `NULL` or valid for writing `cap` bytes; `out_len` is
/// `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_get_into(
    snapshot: *const lqft_snapshot,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> lqft_status {
    // SAFETY: the caller promised a live snapshot, a readable key, `cap` writable bytes at `buf`
    // and a writable `out_len`.
    call("lqft_snapshot_get_into", || unsafe {
        read::get_into(snapshot, key, key_len, buf, cap, out_len)
    })
}

/// Copies the value under `key` in the snapshot into the caller's reusable buffer `*buf`, as
/// `lqft_map_get_buf` does.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`,
/// `LQFT_ERR_BUFFER_TOO_SMALL`; `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT` when a node of a
/// store-backed snapshot fails to load.
/// Thread safety: the snapshot as for any read; `buf` is used by one call at a time.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `key` is `NULL` (with length 0) or points to
/// `key_len` readable bytes; `buf` is `NULL` or a valid `lqft_value_buf` as for
/// `lqft_map_get_buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_get_buf(
    snapshot: *const lqft_snapshot,
    key: *const u8,
    key_len: usize,
    buf: *mut lqft_value_buf,
) -> lqft_status {
    // SAFETY: the caller promised a live snapshot, a readable key and a valid `buf`.
    call("lqft_snapshot_get_buf", || unsafe {
        read::get_buf(snapshot, key, key_len, buf)
    })
}

/// Looks up `count` keys in the snapshot in one call, as `lqft_map_get_many` does (every key
/// sees the snapshot's one version).
///
/// Errors: as `lqft_map_get_many`.
/// Thread safety: the snapshot as for any read; the outputs one call at a time.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `key_lens` is `NULL` or points to `count` lengths
/// and `keys` to their sum of readable bytes (`NULL` when that is 0); `buf` is `NULL` (with
/// `cap` 0) or valid for writes of `cap` bytes; `value_ends` and `found` are `NULL` or valid
/// for writes of `count` elements; `out_done` and `out_len` are `NULL` or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn lqft_snapshot_get_many(
    snapshot: *const lqft_snapshot,
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
    // SAFETY: the caller promised a live snapshot, readable keys and lengths, and writable outputs.
    call("lqft_snapshot_get_many", || unsafe {
        read::get_many(
            snapshot, keys, key_lens, count, buf, cap, value_ends, found, out_done, out_len,
        )
    })
}

/// Stores in `*out` whether `key` is present in the snapshot.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `key` is `NULL` (with length 0) or points to
/// `key_len` readable bytes; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_contains(
    snapshot: *const lqft_snapshot,
    key: *const u8,
    key_len: usize,
    out: *mut bool,
) -> lqft_status {
    // SAFETY: the caller promised a live snapshot, a readable key and a writable `out`.
    call("lqft_snapshot_contains", || unsafe {
        read::contains(snapshot, key, key_len, out)
    })
}

/// Stores the number of entries in the snapshot in `*out`. O(1).
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_len(
    snapshot: *const lqft_snapshot,
    out: *mut u64,
) -> lqft_status {
    // SAFETY: the caller promised a live snapshot and a writable `out`.
    call("lqft_snapshot_len", || unsafe { read::len(snapshot, out) })
}

/// Writes the snapshot's blake3 Merkle root (`LQFT_HASH_LEN` bytes) to `out`. Equal contents
/// give equal roots, whatever sequence of writes produced them. Computed lazily, hashing only
/// nodes changed since the last root was computed. A sharded snapshot's root is
/// `blake3("lqft-sharded-root-v1" || shard count as u32 LE || root of shard 0 || ...)`.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`; `LQFT_ERR_BUFFER_TOO_SMALL` when `cap < LQFT_HASH_LEN`
/// (nothing written).
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `out` is `NULL` or valid for writing `cap` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_root_hash(
    snapshot: *const lqft_snapshot,
    out: *mut u8,
    cap: usize,
) -> lqft_status {
    call("lqft_snapshot_root_hash", || {
        // SAFETY: the caller promised a live snapshot.
        let snapshot = unsafe { handle(snapshot, "snapshot") }?;
        // SAFETY: forwarded contract.
        unsafe { write_hash(&either!(&snapshot.kind, s => s.root_hash()), out, cap) }
    })
}

/// Writes `hash` to `(out, cap)`: the body of every `_root_hash` export.
///
/// # Safety
/// `out` is `NULL` or valid for writing `cap` bytes.
pub(crate) unsafe fn write_hash(hash: &crate::Hash, out: *mut u8, cap: usize) -> Outcome {
    if out.is_null() {
        return Err(Fail::null("out"));
    }
    if cap < LQFT_HASH_LEN {
        return Err(Fail::new(
            LQFT_ERR_BUFFER_TOO_SMALL,
            format!("a root hash needs {LQFT_HASH_LEN} bytes, the buffer holds {cap}"),
        ));
    }
    // SAFETY: `out` is not NULL and the caller promised `cap >= LQFT_HASH_LEN` writable bytes
    // there; `hash` is the caller's value, not in the C buffer, so the ranges cannot overlap.
    unsafe { std::ptr::copy_nonoverlapping(hash.as_ptr(), out, LQFT_HASH_LEN) };
    Ok(LQFT_OK)
}

/// Stores the snapshot's metadata in `*out`.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_metadata(
    snapshot: *const lqft_snapshot,
    out: *mut lqft_snapshot_meta,
) -> lqft_status {
    call("lqft_snapshot_metadata", || {
        // SAFETY: the caller promised a live snapshot and a writable `out`.
        let (snapshot, out) = unsafe { (handle(snapshot, "snapshot")?, Out::new(out, "out")?) };
        let meta = either!(&snapshot.kind, s => s.meta());
        out.write(lqft_snapshot_meta {
            id: meta.id,
            generation: meta.generation,
            parent_id: meta.parent_id.unwrap_or(0),
            created_at_ns: meta.created_at_ns,
            mutation_count: meta.mutation_count,
            delta_size: meta.delta_size,
            size: meta.size,
            has_parent: meta.parent_id.is_some(),
        });
        Ok(LQFT_OK)
    })
}

/// Makes the live state equal to `snapshot` (O(1), O(shards) for a sharded map, atomically
/// across shards) and makes it current. No other snapshot is touched. A snapshot of this map need not be registered (it may have been pruned); a
/// snapshot of another map is registered in this one under a fresh id (without its parent id)
/// and that new snapshot becomes current (`lqft_map_current_snapshot` returns it).
///
/// With uncommitted writes that changed the live state, `LQFT_ROLLBACK_FAIL` refuses with
/// `LQFT_ERR_PENDING_CHANGES` and changes nothing; `LQFT_ROLLBACK_DISCARD` drops them. Writes
/// that changed nothing (a key set to the value it held, writes that cancel out) are dropped
/// under either policy. On success the number of writes dropped
/// is stored in `*out_discarded` unless it is `NULL`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (unknown policy; a plain
/// map's snapshot with a sharded map or the reverse; a sharded snapshot of another shard
/// count), `LQFT_ERR_PENDING_CHANGES`.
///
/// # Safety
/// `map` and `snapshot` are `NULL` or live handles; `out_discarded` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_rollback(
    map: *const lqft_map,
    snapshot: *const lqft_snapshot,
    policy: lqft_rollback_policy,
    out_discarded: *mut u64,
) -> lqft_status {
    call("lqft_map_rollback", || {
        // SAFETY: the caller promised live handles and a writable or NULL `out_discarded`.
        let (map, snapshot, out) = unsafe {
            (
                handle(map, "map")?,
                handle(snapshot, "snapshot")?,
                Out::optional(out_discarded, "out_discarded")?,
            )
        };
        let policy = rollback_policy(policy)?;
        let outcome = match (&map.kind, &snapshot.kind) {
            (Kind::Plain(map), Kind::Plain(snapshot)) => map.rollback(snapshot, policy)?,
            (Kind::Sharded(map), Kind::Sharded(snapshot)) => map.rollback(snapshot, policy)?,
            _ => return Err(mixed_kinds("rollback")),
        };
        if let Some(out) = out {
            out.write(outcome.discarded);
        }
        Ok(LQFT_OK)
    })
}

/// `lqft_map_rollback` to the registered snapshot with id `id`.
///
/// Errors: as `lqft_map_rollback`, plus `LQFT_ERR_UNKNOWN_SNAPSHOT` when no registered snapshot
/// has that id.
///
/// # Safety
/// `map` is `NULL` or a live map; `out_discarded` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_rollback_to(
    map: *const lqft_map,
    id: u64,
    policy: lqft_rollback_policy,
    out_discarded: *mut u64,
) -> lqft_status {
    call("lqft_map_rollback_to", || {
        // SAFETY: the caller promised a live map and a writable or NULL `out_discarded`.
        let (map, out) = unsafe {
            (
                handle(map, "map")?,
                Out::optional(out_discarded, "out_discarded")?,
            )
        };
        let policy = rollback_policy(policy)?;
        let outcome = either!(&map.kind, m => m.rollback_to(id, policy))?;
        if let Some(out) = out {
            out.write(outcome.discarded);
        }
        Ok(LQFT_OK)
    })
}

/// Stores the number of registered snapshots in `*out`.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_snapshot_count(
    map: *const lqft_map,
    out: *mut usize,
) -> lqft_status {
    call("lqft_map_snapshot_count", || {
        // SAFETY: the caller promised a live map and a writable `out`.
        let (map, out) = unsafe { (handle(map, "map")?, Out::new(out, "out")?) };
        out.write(either!(&map.kind, m => m.snapshot_count()));
        Ok(LQFT_OK)
    })
}

/// Stores in `*out` a new handle on the registered snapshot at position `index` in ascending id
/// order (0 is the oldest). O(index).
///
/// Returns `LQFT_OK`, or `LQFT_NOT_FOUND` when `index` is past the end (the registry may have
/// shrunk since `lqft_map_snapshot_count` if another thread compacted it).
/// Ownership: the caller owns `*out` and releases it with `lqft_snapshot_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_snapshot_at(
    map: *const lqft_map,
    index: usize,
    out: *mut *mut lqft_snapshot,
) -> lqft_status {
    call("lqft_map_snapshot_at", || {
        // SAFETY: the caller promised a live map and a writable `out`.
        let (map, out) = unsafe { (handle(map, "map")?, Out::new(out, "out")?) };
        either!(&map.kind, m => m
            .snapshot_at(index)
            .map_or(Ok(LQFT_NOT_FOUND), |snapshot| give(out, snapshot)))
    })
}

/// Stores in `*out` a new handle on the registered snapshot with id `id`.
///
/// Returns `LQFT_OK`, or `LQFT_NOT_FOUND` when no registered snapshot has that id.
/// Ownership: the caller owns `*out` and releases it with `lqft_snapshot_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_snapshot_by_id(
    map: *const lqft_map,
    id: u64,
    out: *mut *mut lqft_snapshot,
) -> lqft_status {
    call("lqft_map_snapshot_by_id", || {
        // SAFETY: the caller promised a live map and a writable `out`.
        let (map, out) = unsafe { (handle(map, "map")?, Out::new(out, "out")?) };
        either!(&map.kind, m => m
            .snapshot_by_id(id)
            .map_or(Ok(LQFT_NOT_FOUND), |snapshot| give(out, snapshot)))
    })
}

/// Stores in `*out` a new handle on the current snapshot: the one the live state derives from
/// (the last one taken or rolled back to).
///
/// Returns `LQFT_OK`, or `LQFT_NOT_FOUND` when the map has no snapshot yet.
/// Ownership: the caller owns `*out` and releases it with `lqft_snapshot_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_current_snapshot(
    map: *const lqft_map,
    out: *mut *mut lqft_snapshot,
) -> lqft_status {
    call("lqft_map_current_snapshot", || {
        // SAFETY: the caller promised a live map and a writable `out`.
        let (map, out) = unsafe { (handle(map, "map")?, Out::new(out, "out")?) };
        either!(&map.kind, m => m
            .current_snapshot()
            .map_or(Ok(LQFT_NOT_FOUND), |snapshot| give(out, snapshot)))
    })
}

/// Stores the ids of every registered snapshot, ascending, in `*out`.
///
/// Ownership: the caller owns `*out` and releases it with `lqft_ids_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_snapshot_ids(
    map: *const lqft_map,
    out: *mut lqft_ids,
) -> lqft_status {
    call("lqft_map_snapshot_ids", || {
        // SAFETY: the caller promised a live map and a writable `out`.
        let (map, out) = unsafe { (handle(map, "map")?, Out::new(out, "out")?) };
        let ids = either!(&map.kind, m => m.snapshot_ids());
        out.write(lqft_ids::from_vec(ids));
        Ok(LQFT_OK)
    })
}

/// Prunes the registry to the newest `retain_last` snapshots plus the current one and every
/// pinned one (see `lqft_map_pin`). Pruned snapshots stay readable through existing handles.
///
/// Unless `NULL`, `*out_pruned` receives the pruned ids and `*out_retained` the ids still
/// registered, both ascending; the caller releases them with `lqft_ids_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out_pruned` and `out_retained` are `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_compact(
    map: *const lqft_map,
    retain_last: usize,
    out_pruned: *mut lqft_ids,
    out_retained: *mut lqft_ids,
) -> lqft_status {
    call("lqft_map_compact", || {
        // SAFETY: the caller promised a live map and writable or NULL outputs.
        let (map, pruned, retained) = unsafe {
            (
                handle(map, "map")?,
                Out::optional(out_pruned, "out_pruned")?,
                Out::optional(out_retained, "out_retained")?,
            )
        };
        let report = match &map.kind {
            Kind::Plain(map) => map.try_compact(retain_last)?,
            Kind::Sharded(map) => map.compact(retain_last),
        };
        if let Some(out) = pruned {
            out.write(lqft_ids::from_vec(report.pruned));
        }
        if let Some(out) = retained {
            out.write(lqft_ids::from_vec(report.retained));
        }
        Ok(LQFT_OK)
    })
}

/// Sets the retention policy. With `enabled`, the registry is pruned to the newest
/// `retain_last` snapshots plus the current one and every pinned one, now (as
/// `lqft_map_compact` would) and after every `lqft_map_snapshot`, one snapshot at a time.
/// Without, automatic pruning stops and `retain_last` is ignored. Pruned snapshots stay
/// readable through existing handles.
///
/// Unless `NULL`, `*out_pruned` receives the ids pruned now, ascending; the caller releases them
/// with `lqft_ids_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out_pruned` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_set_retention(
    map: *const lqft_map,
    enabled: bool,
    retain_last: usize,
    out_pruned: *mut lqft_ids,
) -> lqft_status {
    call("lqft_map_set_retention", || {
        // SAFETY: the caller promised a live map and a writable or NULL output.
        let (map, pruned) = unsafe {
            (
                handle(map, "map")?,
                Out::optional(out_pruned, "out_pruned")?,
            )
        };
        let retain_last = enabled.then_some(retain_last);
        let ids = match &map.kind {
            Kind::Plain(map) => map.try_set_retention(retain_last)?,
            Kind::Sharded(map) => map.set_retention(retain_last),
        };
        if let Some(out) = pruned {
            out.write(lqft_ids::from_vec(ids));
        }
        Ok(LQFT_OK)
    })
}
