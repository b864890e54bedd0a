//! Write batches: puts and deletes applied to a map atomically.

use super::args::{Out, free_handle, handle, handle_mut, key_input, new_handle, value_input};
use super::guard::{call, call_value};
use super::map::{Kind, lqft_map};
use super::status::*;
use crate::Batch;

/// A list of puts and deletes that `lqft_map_write_batch` applies all together, in order.
///
/// Thread safety: a batch is built by one thread at a time; a finished batch may be applied
/// from several threads at once (`lqft_map_write_batch` only reads it).
pub struct lqft_batch {
    pub(super) batch: Batch,
}

/// Creates an empty batch and stores it in `*out`.
///
/// Ownership: the caller owns the batch and releases it with `lqft_batch_free`.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_batch_new(out: *mut *mut lqft_batch) -> lqft_status {
    call("lqft_batch_new", || {
        // SAFETY: the caller promised a writable `out`.
        let out = unsafe { Out::new(out, "out") }?;
        out.write(new_handle(lqft_batch {
            batch: Batch::new(),
        }));
        Ok(LQFT_OK)
    })
}

/// Destroys a batch. `NULL` is a no-op.
///
/// # Safety
/// `batch` is `NULL` or a live batch no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_batch_free(batch: *mut lqft_batch) {
    // SAFETY: the caller passes NULL or a live batch no one else is using.
    call_value((), || unsafe { free_handle(batch) })
}

/// Appends "set `key` to `value`" to the batch. Both are copied.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`, `LQFT_ERR_VALUE_TOO_LONG`; the
/// batch is unchanged on error.
///
/// # Safety
/// `batch` is `NULL` or a live batch no other thread is using; `key`/`value` are `NULL` (with
/// length 0) or point to `key_len`/`value_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_batch_put(
    batch: *mut lqft_batch,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> lqft_status {
    call("lqft_batch_put", || {
        // SAFETY: the caller promised an unshared live batch and readable inputs.
        let (batch, key, value) = unsafe {
            (
                handle_mut(batch, "batch")?,
                key_input(key, key_len)?,
                value_input(value, value_len)?,
            )
        };
        batch.batch.put(key, value)?;
        Ok(LQFT_OK)
    })
}

/// Appends "remove `key`" to the batch. The key is copied.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`; the batch is unchanged on error.
///
/// # Safety
/// `batch` is `NULL` or a live batch no other thread is using; `key` is `NULL` (with length 0)
/// or points to `key_len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_batch_delete(
    batch: *mut lqft_batch,
    key: *const u8,
    key_len: usize,
) -> lqft_status {
    call("lqft_batch_delete", || {
        // SAFETY: the caller promised an unshared live batch and a readable key.
        let (batch, key) = unsafe { (handle_mut(batch, "batch")?, key_input(key, key_len)?) };
        batch.batch.delete(key)?;
        Ok(LQFT_OK)
    })
}

/// Stores the number of operations in the batch in `*out`.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `batch` is `NULL` or a live batch; `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_batch_len(batch: *const lqft_batch, out: *mut usize) -> lqft_status {
    call("lqft_batch_len", || {
        // SAFETY: the caller promised a live batch and a writable `out`.
        let (batch, out) = unsafe { (handle(batch, "batch")?, Out::new(out, "out")?) };
        out.write(batch.batch.len());
        Ok(LQFT_OK)
    })
}

/// Removes every operation from the batch so it can be reused.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `batch` is `NULL` or a live batch no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_batch_clear(batch: *mut lqft_batch) -> lqft_status {
    call("lqft_batch_clear", || {
        // SAFETY: the caller promised an unshared live batch.
        let batch = unsafe { handle_mut(batch, "batch") }?;
        batch.batch = Batch::new();
        Ok(LQFT_OK)
    })
}

/// Applies every operation of `batch` to the map's live state, in order and atomically: other
/// threads see all of it or none. The batch is left as it was and may be applied again.
/// Stores the number of operations that changed the state in `*out_applied` unless it is
/// `NULL` (deletes of absent keys do not count).
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `map` and `batch` are `NULL` or live handles; `out_applied` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_write_batch(
    map: *const lqft_map,
    batch: *const lqft_batch,
    out_applied: *mut u64,
) -> lqft_status {
    call("lqft_map_write_batch", || {
        // SAFETY: the caller promised live handles and a writable or NULL `out_applied`.
        let (map, batch, out) = unsafe {
            (
                handle(map, "map")?,
                handle(batch, "batch")?,
                Out::optional(out_applied, "out_applied")?,
            )
        };
        let applied = match &map.kind {
            Kind::Plain(map) => map.try_write_batch(&batch.batch)?,
            Kind::Sharded(map) => map.write_batch(&batch.batch),
        };
        if let Some(out) = out {
            out.write(applied);
        }
        Ok(LQFT_OK)
    })
}
