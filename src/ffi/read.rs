//! Reads that a map's live state and a snapshot answer alike, and the one body each pair of
//! exports (`lqft_map_get` / `lqft_snapshot_get`, ...) shares.

use std::ops::Bound;

use super::args::{
    Buffer, Out, OutArray, Packed, handle, input, input_array, key_input, value_buf,
};
use super::bytes::{lqft_bytes, lqft_value_buf};
use super::error::Fail;
use super::guard::Outcome;
use super::iter::Walk;
use super::map::{Kind, either, lqft_map};
use super::snapshot::lqft_snapshot;
use super::status::*;
use crate::engine::TryEntries;
use crate::{Error, Result};

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

/// The body of the `*_get_many` exports: the values of `count` keys, looked up in order,
/// copied back to back into `(buf, cap)` with their end offsets in `value_ends` and whether each
/// key was found in `found`, until the keys or the buffer run out.
///
/// # Safety
/// `version` is `NULL` or a live handle; `key_lens` is `NULL` or points to `count` lengths and
/// `keys` to their sum of readable bytes (`NULL` when that is 0); `buf` is `NULL` or valid for
/// writes of `cap` bytes; `value_ends` and `found` are `NULL` or valid for writes of `count`
/// elements; `out_done` and `out_len` are `NULL` or writable.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn get_many<V: Version>(
    version: *const V,
    keys: *const u8,
    key_lens: *const usize,
    count: usize,
    buf: *mut u8,
    cap: usize,
    value_ends: *mut usize,
    found: *mut bool,
    out_done: *mut usize,
    out_len: *mut usize,
) -> Outcome {
    if count == 0 {
        return Err(Fail::invalid("`count` is 0"));
    }
    // SAFETY: forwarded contract.
    let (version, lens, mut packed, mut found, out_done, out_len) = unsafe {
        (
            handle(version, V::NAME)?,
            input_array(key_lens, count, "key_lens")?,
            Packed::new(buf, cap, value_ends, count)?,
            OutArray::new(found, count, "found")?,
            Out::new(out_done, "out_done")?,
            Out::new(out_len, "out_len")?,
        )
    };
    // Every length is checked before any key byte is read.
    let mut total = 0usize;
    for &len in lens {
        if len > crate::MAX_KEY_LEN {
            return Err(Error::KeyTooLong { len }.into());
        }
        total = total
            .checked_add(len)
            .ok_or_else(|| Fail::invalid("the key lengths add up to more than memory holds"))?;
    }
    // SAFETY: the caller promised `total` readable bytes at `keys`.
    let keys = unsafe { input(keys, total, "keys")? };
    let mut done = 0;
    let mut start = 0;
    for &len in lens {
        let key = &keys[start..start + len];
        // `Some(true)` copied, `Some(false)` no room left, `None` absent.
        let copied = match version.read_value(key, |value| match packed.fits(&[value]) {
            Ok(true) => {
                packed.push(&[value]);
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(needed) => Err(needed),
        }) {
            Ok(copied) => copied,
            Err(_) if done > 0 => break,
            Err(error) => return Err(error.into()),
        };
        match copied {
            Some(Ok(true)) => found.write(done, true),
            None => {
                packed.push(&[&[]]);
                found.write(done, false);
            }
            Some(Ok(false)) => break,
            Some(Err(_)) if done > 0 => break,
            Some(Err(needed)) => {
                out_len.write(needed);
                return Err(Fail::new(
                    LQFT_ERR_BUFFER_TOO_SMALL,
                    format!("the value of key 0 needs {needed} bytes, the buffer holds {cap}"),
                ));
            }
        }
        done += 1;
        start += len;
    }
    out_done.write(done);
    out_len.write(packed.used());
    Ok(LQFT_OK)
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
