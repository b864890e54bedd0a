//! Write transactions and compare-and-swap.

use std::sync::Arc;

use super::args::{
    Out, free_handle, handle, handle_mut, key_input, new_handle, value_buf, value_input,
};
use super::bytes::{lqft_bytes, lqft_value_buf};
use super::error::Fail;
use super::guard::{call, call_value};
use super::map::{Kind, either, lqft_map};
use super::status::*;
use crate::{Error, Map, ShardedMap, Txn};

/// An optimistic write transaction on a map.
///
/// Reads see the transaction's own writes and remember what they saw; writes stay in the
/// transaction until `lqft_txn_commit`, which applies all of them at once if no key the
/// transaction read has changed since, and otherwise returns `LQFT_CONFLICT` and changes
/// nothing. Committed transactions are serialisable: each has the effect of running entirely
/// at its commit. A transaction holds no lock between calls, so it never blocks other threads;
/// reads of different keys are not one snapshot, but a transaction that saw a mix of states
/// fails its commit.
///
/// Lifetime: independent of the map (freeing the map first is allowed; the transaction keeps
/// it alive). Thread safety: used by one thread at a time; any number of transactions may run
/// on one map at once.
pub struct lqft_txn {
    /// `None` once committed.
    txn: Option<AnyTxn>,
}

/// A transaction on a plain or a sharded map.
type AnyTxn = Kind<Txn<Arc<Map>>, Txn<Arc<ShardedMap>>>;

impl lqft_txn {
    fn open(&mut self) -> Result<&mut AnyTxn, Fail> {
        self.txn.as_mut().ok_or_else(committed)
    }
}

fn committed() -> Fail {
    Fail::invalid("the transaction was committed; begin a new one with lqft_txn_begin")
}

/// Begins a transaction on `map` and stores it in `*out`.
///
/// Ownership: the caller owns the transaction and releases it with `lqft_txn_free` (which
/// abandons it if it was not committed).
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` is `NULL` or a live map; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_txn_begin(
    map: *const lqft_map,
    out: *mut *mut lqft_txn,
) -> lqft_status {
    call("lqft_txn_begin", || {
        // SAFETY: the caller promised a live map and a writable `out`.
        let (map, out) = unsafe { (handle(map, "map")?, Out::new(out, "out")?) };
        out.write(new_handle(lqft_txn {
            txn: Some(match &map.kind {
                Kind::Plain(map) => Kind::Plain(Txn::new(map.clone())),
                Kind::Sharded(map) => Kind::Sharded(Txn::new(map.clone())),
            }),
        }));
        Ok(LQFT_OK)
    })
}

/// Copies the value under `key`, as the transaction sees it, into a new buffer in `*out`: its
/// own last write to the key, else what it read before, else the map's live value now (which
/// the commit checks is unchanged).
///
/// Returns `LQFT_OK`, or `LQFT_NOT_FOUND` (nothing written) when the key is absent or deleted
/// by the transaction.
/// Ownership: on `LQFT_OK` the caller owns `*out` and releases it with `lqft_bytes_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`, `LQFT_ERR_INVALID_ARGUMENT` after
/// `lqft_txn_commit`.
///
/// # Safety
/// `txn` is `NULL` or a live transaction; `key` is `NULL` (with length 0) or points to
/// `key_len` readable bytes; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_txn_get(
    txn: *mut lqft_txn,
    key: *const u8,
    key_len: usize,
    out: *mut lqft_bytes,
) -> lqft_status {
    call("lqft_txn_get", || {
        // SAFETY: the caller promised a live transaction, a readable key and a writable `out`.
        let (txn, key, out) = unsafe {
            (
                handle_mut(txn, "txn")?,
                key_input(key, key_len)?,
                Out::new(out, "out")?,
            )
        };
        Ok(match either!(txn.open()?, t => t.try_get(key))? {
            Some(value) => {
                out.write(lqft_bytes::copy_of(value));
                LQFT_OK
            }
            None => LQFT_NOT_FOUND,
        })
    })
}

/// Copies the value under `key`, as the transaction sees it (as `lqft_txn_get`), into the
/// caller's reusable buffer `*buf`, as `lqft_map_get_buf` does: no allocation. The key counts
/// as read whatever the outcome.
///
/// Returns `LQFT_OK` with the value in `buf->data` and its length in `buf->len`;
/// `LQFT_NOT_FOUND` (nothing written) when the key is absent or deleted by the transaction;
/// `LQFT_ERR_BUFFER_TOO_SMALL` with the length needed in `buf->len` and `buf->data` untouched
/// when `buf->cap` is too small (grow the buffer and call again).
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (`buf->size` smaller than
/// `sizeof(lqft_value_buf)`, `buf` misaligned, or after `lqft_txn_commit`),
/// `LQFT_ERR_KEY_TOO_LONG`, `LQFT_ERR_BUFFER_TOO_SMALL`; `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT`
/// when a node of a store-backed map fails to load.
///
/// # Safety
/// `txn` is `NULL` or a live transaction; `key` is `NULL` (with length 0) or points to
/// `key_len` readable bytes; `buf` is `NULL` or points to an `lqft_value_buf` as for
/// `lqft_map_get_buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_txn_get_buf(
    txn: *mut lqft_txn,
    key: *const u8,
    key_len: usize,
    buf: *mut lqft_value_buf,
) -> lqft_status {
    call("lqft_txn_get_buf", || {
        // SAFETY: the caller promised a live transaction, a readable key and a valid `buf`.
        let (txn, key, (buf, out_len)) = unsafe {
            (
                handle_mut(txn, "txn")?,
                key_input(key, key_len)?,
                value_buf(buf)?,
            )
        };
        match either!(txn.open()?, t => t.try_get(key))? {
            Some(value) => buf.fill(value, out_len),
            None => Ok(LQFT_NOT_FOUND),
        }
    })
}

/// Sets `key` to `value` within the transaction. Both are copied.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`, `LQFT_ERR_VALUE_TOO_LONG`,
/// `LQFT_ERR_INVALID_ARGUMENT` after `lqft_txn_commit`; the transaction is unchanged on error.
///
/// # Safety
/// `txn` is `NULL` or a live transaction; `key`/`value` are `NULL` (with length 0) or point to
/// `key_len`/`value_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_txn_put(
    txn: *mut lqft_txn,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> lqft_status {
    call("lqft_txn_put", || {
        // SAFETY: the caller promised a live transaction and readable inputs.
        let (txn, key, value) = unsafe {
            (
                handle_mut(txn, "txn")?,
                key_input(key, key_len)?,
                value_input(value, value_len)?,
            )
        };
        either!(txn.open()?, t => t.put(key, value))?;
        Ok(LQFT_OK)
    })
}

/// Deletes `key` within the transaction (an absent key is allowed: on commit it is not a
/// mutation).
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`, `LQFT_ERR_INVALID_ARGUMENT` after
/// `lqft_txn_commit`; the transaction is unchanged on error.
///
/// # Safety
/// `txn` is `NULL` or a live transaction; `key` is `NULL` (with length 0) or points to
/// `key_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_txn_delete(
    txn: *mut lqft_txn,
    key: *const u8,
    key_len: usize,
) -> lqft_status {
    call("lqft_txn_delete", || {
        // SAFETY: the caller promised a live transaction and a readable key.
        let (txn, key) = unsafe { (handle_mut(txn, "txn")?, key_input(key, key_len)?) };
        either!(txn.open()?, t => t.delete(key))?;
        Ok(LQFT_OK)
    })
}

/// Commits the transaction: if every key it read still holds the value it saw, applies all its
/// writes at once (readers and snapshots see all of them or none) and stores in `*out_applied`
/// (unless `NULL`) how many changed the live state.
///
/// Returns `LQFT_OK`, or `LQFT_CONFLICT` when another writer changed a key the transaction
/// read: nothing was changed; begin a new transaction and run it again. Either way the
/// transaction is finished; release it with `lqft_txn_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` when already committed.
///
/// # Safety
/// `txn` is `NULL` or a live transaction; `out_applied` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_txn_commit(txn: *mut lqft_txn, out_applied: *mut u64) -> lqft_status {
    call("lqft_txn_commit", || {
        // SAFETY: the caller promised a live transaction and a writable or NULL `out_applied`.
        let (txn, out) = unsafe {
            (
                handle_mut(txn, "txn")?,
                Out::optional(out_applied, "out_applied")?,
            )
        };
        match either!(txn.txn.take().ok_or_else(committed)?, t => t.commit()) {
            Ok(applied) => {
                if let Some(out) = out {
                    out.write(applied);
                }
                Ok(LQFT_OK)
            }
            Err(Error::Conflict) => Ok(LQFT_CONFLICT),
            Err(error) => Err(error.into()),
        }
    })
}

/// Releases a transaction; one not committed is abandoned and changes nothing. `NULL` is a
/// no-op.
///
/// # Safety
/// `txn` is `NULL` or a live transaction that no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_txn_free(txn: *mut lqft_txn) {
    // SAFETY: the caller passes NULL or a live transaction no one else is using.
    call_value((), || unsafe { free_handle(txn) })
}

/// Flags of `lqft_map_compare_and_swap`: 0, or `LQFT_CAS_EXPECT_ABSENT` and/or
/// `LQFT_CAS_DELETE`.
pub type lqft_cas_flags = u32;
/// Swap only if the key is absent (`expected` is ignored).
pub const LQFT_CAS_EXPECT_ABSENT: lqft_cas_flags = 1;
/// On a match, delete the key (`value` is ignored).
pub const LQFT_CAS_DELETE: lqft_cas_flags = 2;

/// Atomically: if the value under `key` equals `expected` (or, with `LQFT_CAS_EXPECT_ABSENT`,
/// the key is absent), sets it to `value` (or, with `LQFT_CAS_DELETE`, deletes it).
///
/// Returns `LQFT_OK` when it swapped, `LQFT_CONFLICT` when the current value is not the one
/// expected (nothing changed; read again and retry).
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (unknown flag bits),
/// `LQFT_ERR_KEY_TOO_LONG`, `LQFT_ERR_VALUE_TOO_LONG`; the map is unchanged on error.
/// Thread safety: any thread; writers are serialised.
///
/// # Safety
/// `map` is `NULL` or a live map; `key`, `expected` and `value` are `NULL` (with length 0) or
/// point to that many readable bytes.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn lqft_map_compare_and_swap(
    map: *const lqft_map,
    key: *const u8,
    key_len: usize,
    expected: *const u8,
    expected_len: usize,
    value: *const u8,
    value_len: usize,
    flags: lqft_cas_flags,
) -> lqft_status {
    call("lqft_map_compare_and_swap", || {
        if flags & !(LQFT_CAS_EXPECT_ABSENT | LQFT_CAS_DELETE) != 0 {
            return Err(Fail::invalid(format!(
                "unknown compare-and-swap flags {flags:#x}; use LQFT_CAS_EXPECT_ABSENT and/or \
                 LQFT_CAS_DELETE"
            )));
        }
        // SAFETY: the caller promised a live map and readable inputs.
        let (map, key, expected, value) = unsafe {
            (
                handle(map, "map")?,
                key_input(key, key_len)?,
                value_input(expected, expected_len)?,
                value_input(value, value_len)?,
            )
        };
        let expected = (flags & LQFT_CAS_EXPECT_ABSENT == 0).then_some(expected);
        let value = (flags & LQFT_CAS_DELETE == 0).then_some(value);
        Ok(
            if either!(&map.kind, m => m.compare_and_swap(key, expected, value))? {
                LQFT_OK
            } else {
                LQFT_CONFLICT
            },
        )
    })
}
