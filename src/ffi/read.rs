//! Reads that a map's live state and a snapshot answer alike, and the one body each pair of
//! exports (`lqft_map_get` / `lqft_snapshot_get`, ...) shares.

use std::borrow::Cow;

use super::args::{Buffer, Out, handle, key_input};
use super::bytes::lqft_bytes;
use super::guard::Outcome;
use super::map::lqft_map;
use super::snapshot::lqft_snapshot;
use super::status::*;
use crate::{Result, Tree};

/// A handle on one readable version: the live state of an `lqft_map` or an `lqft_snapshot`.
pub(crate) trait Version {
    /// The handle's argument name in error messages (`` `map` is NULL ``).
    const NAME: &'static str;
    /// `read` applied to the value under `key`, while the version cannot change. Fails when a
    /// stored node on the key's path (a store-backed version) cannot be loaded.
    fn read_value<R>(&self, key: &[u8], read: impl FnOnce(&[u8]) -> R) -> Result<Option<R>>;
    /// Whether `key` is present; fails as [`read_value`](Version::read_value).
    fn contains_key(&self, key: &[u8]) -> Result<bool>;
    /// Number of entries. O(1).
    fn len(&self) -> u64;
    /// The version's tree: a map's live state as of this call, a snapshot's own tree.
    fn tree(&self) -> Cow<'_, Tree>;
}

impl Version for lqft_map {
    const NAME: &'static str = "map";
    fn read_value<R>(&self, key: &[u8], read: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        // A store's map may have to load nodes, which can fail: its reads take the fallible
        // walk. An in-memory map keeps the faster infallible one.
        if self.map.is_journaled() {
            self.map.read_with(|tree| Ok(tree.try_get(key)?.map(read)))
        } else {
            Ok(self.map.read_value(key, read))
        }
    }
    fn contains_key(&self, key: &[u8]) -> Result<bool> {
        if self.map.is_journaled() {
            self.map.try_contains_key(key)
        } else {
            Ok(self.map.contains_key(key))
        }
    }
    fn len(&self) -> u64 {
        self.map.len()
    }
    fn tree(&self) -> Cow<'_, Tree> {
        Cow::Owned(self.map.view())
    }
}

impl Version for lqft_snapshot {
    const NAME: &'static str = "snapshot";
    fn read_value<R>(&self, key: &[u8], read: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        Ok(self.snapshot.tree().try_get(key)?.map(read))
    }
    fn contains_key(&self, key: &[u8]) -> Result<bool> {
        self.snapshot.tree().try_contains_key(key)
    }
    fn len(&self) -> u64 {
        self.snapshot.len()
    }
    fn tree(&self) -> Cow<'_, Tree> {
        Cow::Borrowed(self.snapshot.tree())
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
