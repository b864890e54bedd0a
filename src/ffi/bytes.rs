//! Byte buffers and id arrays owned by the library and lent to C, and the caller-owned buffer
//! that repeated gets copy values into.

use super::args::free_handle;
use super::guard::call_value;

/// Frees the library-owned array `(*ptr, *len)` and resets it to `{NULL, 0}`, so it cannot be
/// freed twice; a `NULL` `*ptr` is only reset.
///
/// # Safety
/// `*ptr` is `NULL` or the start of a boxed slice of `*len + extra` elements made by this
/// library and not freed yet.
unsafe fn release<E>(ptr: &mut *mut E, len: &mut usize, extra: usize) {
    if !ptr.is_null() {
        let whole = std::ptr::slice_from_raw_parts_mut(*ptr, *len + extra);
        // SAFETY: per the contract `whole` is exactly the boxed slice, freed only here; the pair
        // is reset below.
        unsafe { free_handle(whole) };
    }
    *ptr = std::ptr::null_mut();
    *len = 0;
}

/// A byte buffer allocated by liblqft (for example a value copied out of a map).
///
/// `ptr` points to `len` bytes followed by one NUL byte that is not counted in `len`, so text
/// (such as stats JSON) can be used directly as a C string. A filled buffer never has a `NULL`
/// `ptr`, even when `len` is 0.
///
/// Ownership: the caller owns the buffer and must release it with `lqft_bytes_free` exactly
/// once; never with `free()`. Initialise unfilled buffers to `{NULL, 0}`.
#[repr(C)]
#[derive(Debug)]
pub struct lqft_bytes {
    /// The first byte; `NULL` only in an empty, unfilled or freed buffer.
    pub ptr: *mut u8,
    /// Number of bytes, not counting the trailing NUL.
    pub len: usize,
}

impl lqft_bytes {
    /// A NUL-terminated copy of `data`.
    pub(crate) fn copy_of(data: &[u8]) -> lqft_bytes {
        let mut buffer = Vec::with_capacity(data.len() + 1);
        buffer.extend_from_slice(data);
        buffer.push(0);
        let len = data.len();
        let ptr = Box::into_raw(buffer.into_boxed_slice()).cast::<u8>();
        lqft_bytes { ptr, len }
    }
}

/// Releases a buffer filled by liblqft and resets it to `{NULL, 0}`, so a second call is a
/// no-op. `bytes == NULL` and `bytes->ptr == NULL` are no-ops.
///
/// Thread safety: a buffer may be freed from any thread, but by one thread only.
///
/// # Safety
/// `bytes` is `NULL` or points to an `lqft_bytes` that is `{NULL, 0}` or was filled by liblqft
/// and is not freed yet, with `ptr` and `len` unmodified.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_bytes_free(bytes: *mut lqft_bytes) {
    call_value((), || {
        // SAFETY: the caller passes NULL or a valid, exclusively used `lqft_bytes`.
        if let Some(bytes) = unsafe { bytes.as_mut() } {
            // SAFETY: a non-NULL `ptr` with `len` came from `copy_of`, a boxed slice of `len + 1`
            // bytes (the NUL), not freed yet per the contract.
            unsafe { release(&mut bytes.ptr, &mut bytes.len, 1) }
        }
    })
}

/// A caller-owned buffer that the `*_get_buf` functions (`lqft_map_get_buf`,
/// `lqft_snapshot_get_buf`, `lqft_view_get_buf`) and readers (`lqft_reader_get`) copy values
/// into: the arguments of a get into a reusable buffer in one place, so a loop of gets passes
/// one pointer instead of three (which matters to callers that pay per argument, such as the
/// libffi calls of cffi's ABI mode).
///
/// The caller sets `size` to `sizeof(lqft_value_buf)` (so the struct can grow in later
/// versions), and `data` and `cap`; the library only reads those three and writes `len`.
/// Ownership: the caller owns the struct and `data`; the library never frees them, and keeps a
/// pointer to the struct only in a reader (`lqft_map_reader`) made over it, until that reader
/// is freed.
/// Thread safety: one call at a time per buffer (give each thread its own).
#[repr(C)]
#[derive(Debug)]
pub struct lqft_value_buf {
    /// `sizeof(lqft_value_buf)` as the caller compiled it; a smaller value is
    /// `LQFT_ERR_INVALID_ARGUMENT`.
    pub size: usize,
    /// Where a value is copied: `cap` writable bytes; `NULL` only when `cap` is 0.
    pub data: *mut u8,
    /// Bytes available at `data`.
    pub cap: usize,
    /// Written by the library: the value's length on `LQFT_OK`, the bytes needed on
    /// `LQFT_ERR_BUFFER_TOO_SMALL`; left alone otherwise.
    pub len: usize,
}

/// An array of snapshot ids allocated by liblqft, ascending.
///
/// Ownership: the caller owns it and releases it with `lqft_ids_free`. An empty array is
/// `{NULL, 0}`.
#[repr(C)]
#[derive(Debug)]
pub struct lqft_ids {
    /// The first id; `NULL` when `len` is 0.
    pub ptr: *mut u64,
    /// Number of ids.
    pub len: usize,
}

impl lqft_ids {
    pub(crate) fn from_vec(ids: Vec<u64>) -> lqft_ids {
        if ids.is_empty() {
            return lqft_ids {
                ptr: std::ptr::null_mut(),
                len: 0,
            };
        }
        let len = ids.len();
        let ptr = Box::into_raw(ids.into_boxed_slice()).cast::<u64>();
        lqft_ids { ptr, len }
    }
}

/// Releases an id array filled by liblqft and resets it to `{NULL, 0}`. `ids == NULL` and
/// `ids->ptr == NULL` are no-ops.
///
/// # Safety
/// `ids` is `NULL` or points to an `lqft_ids` that is `{NULL, 0}` or was filled by liblqft and
/// is not freed yet, with `ptr` and `len` unmodified.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_ids_free(ids: *mut lqft_ids) {
    call_value((), || {
        // SAFETY: the caller passes NULL or a valid, exclusively used `lqft_ids`.
        if let Some(ids) = unsafe { ids.as_mut() } {
            // SAFETY: a non-NULL `ptr` with `len` came from `from_vec`, a boxed slice of `len`
            // ids, not freed yet per the contract.
            unsafe { release(&mut ids.ptr, &mut ids.len, 0) }
        }
    })
}
