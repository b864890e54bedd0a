//! Reads that a map's live state and a snapshot answer alike, and the one body each pair of
//! exports (`lqft_map_get` / `lqft_snapshot_get`, ...) shares.

use std::ops::Bound;

use super::args::{Buffer, Out, handle, key_input, value_buf};
use super::bytes::{lqft_bytes, lqft_value_buf};
use super::guard::Outcome;
use super::iter::Walk;
use super::map::{Kind, either, lqft_map};
use super::snapshot::lqft_snapshot;
use super::status::*;
use crate::Result;
use crate::engine::TryEntries;

/// A handle on one readable version: the live state of an `lqft_map` or an `lqft_snapshot`.
pub(crate) trait Version {
    /// The handle's argument name in error messages (`` `map` is NULL ``).
    const NAME: &'static str;
    /// `read` applied to the value under `key`, while the version cannot change. Fails when a
    /// stored node on the key's path (a store-backed version) cannot be loaded.
    fn read_value<R>(&self, key: &[u8], read: impl FnOnce(&[u8]) -> R) -> Result<Option<R>>;
    /// Whether `key` is present; fails as [`read_value`](Version::read_value).
    fn contains_key(&self, key: &[u8]) -> Result<bool>;
    /// Number of entries. O(1) (O(shards) for a sharded version).
    fn len(&self) -> u64;
    /// The entries between the bounds, in key order: of a map's live state as of this call,
    /// of a snapshot's own version.
    fn walk(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Walk;
}

impl Version for lqft_map {
    const NAME: &'static str = "map";
    fn read_value<R>(&self, key: &[u8], read: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        match &self.kind {
            // A store's map may have to load nodes, which can fail: its reads take the
            // fallible walk. An in-memory map keeps the faster infallible one.
            Kind::Plain(map) if map.is_journaled() => {
                map.read_with(|tree| Ok(tree.try_get(key)?.map(read)))
            }
            Kind::Plain(map) => Ok(map.read_value(key, read)),
            Kind::Sharded(map) => Ok(map.read_value(key, read)),
        }
    }
    fn contains_key(&self, key: &[u8]) -> Result<bool> {
        match &self.kind {
            Kind::Plain(map) if map.is_journaled() => map.try_contains_key(key),
            Kind::Plain(map) => Ok(map.contains_key(key)),
            Kind::Sharded(map) => Ok(map.contains_key(key)),
        }
    }
    fn len(&self) -> u64 {
        either!(&self.kind, m => m.len())
    }
    fn walk(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Walk {
        match &self.kind {
            Kind::Plain(map) => Walk::One(map.try_range_bounds(start, end)),
            Kind::Sharded(map) => Walk::Merged(map.range_bounds(start, end)),
        }
    }
}

impl Version for lqft_snapshot {
    const NAME: &'static str = "snapshot";
    fn read_value<R>(&self, key: &[u8], read: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        match &self.kind {
            Kind::Plain(snapshot) => Ok(snapshot.tree().try_get(key)?.map(read)),
            Kind::Sharded(snapshot) => Ok(snapshot.get(key).map(read)),
        }
    }
    fn contains_key(&self, key: &[u8]) -> Result<bool> {
        match &self.kind {
            Kind::Plain(snapshot) => snapshot.tree().try_contains_key(key),
            Kind::Sharded(snapshot) => Ok(snapshot.contains_key(key)),
        }
    }
    fn len(&self) -> u64 {
        either!(&self.kind, s => s.len())
    }
    fn walk(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Walk {
        match &self.kind {
            Kind::Plain(snapshot) => Walk::One(TryEntries::new(snapshot.tree(), start, end)),
            Kind::Sharded(snapshot) => Walk::Merged(snapshot.range_bounds(start, end)),
        }
    }
}

/// The body of `lqft_map_get` / `lqft_snapshot_get`: a copy of the value under `key` in `*out`,
/// or `LQFT_NOT_FOUND` with nothing written.
///
/// # Safety
/// `version` is `NULL` or a live handle; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes; `out` is `NULL` or writable.
pub(crate) unsafe fn get<V: Version>(
    version: *const V,
    key: *const u8,
    key_len: usize,
    out: *mut lqft_bytes,
) -> Outcome {
    // SAFETY: forwarded contract.
    let (version, key, out) = unsafe {
        (
            handle(version, V::NAME)?,
            key_input(key, key_len)?,
            Out::new(out, "out")?,
        )
    };
    Ok(match version.read_value(key, lqft_bytes::copy_of)? {
        Some(bytes) => {
            out.write(bytes);
            LQFT_OK
        }
        None => LQFT_NOT_FOUND,
    })
}

/// The body of `lqft_map_get_into` / `lqft_snapshot_get_into`: the value under `key` copied
/// into `(buf, cap)` as [`Buffer::fill`] does, or `LQFT_NOT_FOUND` with nothing written.
///
/// # Safety
/// `version` is `NULL` or a live handle; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes; `buf` is `NULL` or valid for writing `cap` bytes; `out_len` is `NULL` or
/// writable.
pub(crate) unsafe fn get_into<V: Version>(
    version: *const V,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> Outcome {
    // SAFETY: forwarded contract.
    let (version, key, buf, out_len) = unsafe {
        (
            handle(version, V::NAME)?,
            key_input(key, key_len)?,
            Buffer::new(buf, cap)?,
            Out::new(out_len, "out_len")?,
        )
    };
    version
        .read_value(key, |value| buf.fill(value, out_len))?
        .unwrap_or(Ok(LQFT_NOT_FOUND))
}

/// The body of the `*_get_buf` exports: [`get_into`] with the buffer and length output that
/// `buf` holds.
///
/// # Safety
/// `version` is `NULL` or a live handle; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes; `buf` is `NULL` or an `lqft_value_buf` as [`value_buf`] requires.
pub(crate) unsafe fn get_buf<V: Version>(
    version: *const V,
    key: *const u8,
    key_len: usize,
    buf: *mut lqft_value_buf,
) -> Outcome {
    // SAFETY: forwarded contract.
    let (version, key, (buf, out_len)) = unsafe {
        (
            handle(version, V::NAME)?,
            key_input(key, key_len)?,
            value_buf(buf)?,
        )
    };
    version
        .read_value(key, |value| buf.fill(value, out_len))?
        .unwrap_or(Ok(LQFT_NOT_FOUND))
}

/// The body of `lqft_map_contains` / `lqft_snapshot_contains`.
///
/// # Safety
/// `version` is `NULL` or a live handle; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes; `out` is `NULL` or writable.
pub(crate) unsafe fn contains<V: Version>(
    version: *const V,
    key: *const u8,
    key_len: usize,
    out: *mut bool,
) -> Outcome {
    // SAFETY: forwarded contract.
    let (version, key, out) = unsafe {
        (
            handle(version, V::NAME)?,
            key_input(key, key_len)?,
            Out::new(out, "out")?,
        )
    };
    out.write(version.contains_key(key)?);
    Ok(LQFT_OK)
}

/// The body of `lqft_map_len` / `lqft_snapshot_len`.
///
/// # Safety
/// `version` is `NULL` or a live handle; `out` is `NULL` or writable.
pub(crate) unsafe fn len<V: Version>(version: *const V, out: *mut u64) -> Outcome {
    // SAFETY: forwarded contract.
    let (version, out) = unsafe { (handle(version, V::NAME)?, Out::new(out, "out")?) };
    out.write(version.len());
    Ok(LQFT_OK)
}
