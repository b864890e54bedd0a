//! Checks of the raw arguments C hands in: byte ranges, handles and output pointers.
//!
//! Each `unsafe fn` here states what the caller of the export promised (the pointer, if not
//! `NULL`, is valid for the access); what can be checked (`NULL`, alignment, sizes) is checked
//! and reported as a status instead of being trusted.

use std::ffi::{CStr, OsStr, c_char};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::NonNull;

use super::bytes::lqft_value_buf;
use super::error::Fail;
use crate::Error;

/// The borrowed input byte range `(ptr, len)`; `NULL` is accepted only with `len == 0`.
///
/// # Safety
/// When `ptr` is not `NULL`, it must point to `len` readable bytes that stay unchanged for `'a`.
pub(crate) unsafe fn input<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], Fail> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Fail::null(what))
        };
    }
    if len > isize::MAX as usize {
        return Err(Fail::invalid(format!(
            "`{what}` length {len} is impossible"
        )));
    }
    // SAFETY: non-NULL and the length fits an allocation; the caller promised `len` readable
    // bytes for the duration of the call, which `'a` does not exceed.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A key argument: an [`input`] no longer than [`crate::MAX_KEY_LEN`]. The length is checked
/// before any byte is touched, so an over-long length is reported, never read.
///
/// # Safety
/// As for [`input`].
pub(crate) unsafe fn key_input<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Fail> {
    if !ptr.is_null() && len > crate::MAX_KEY_LEN {
        return Err(Error::KeyTooLong { len }.into());
    }
    // SAFETY: forwarded contract.
    unsafe { input(ptr, len, "key") }
}

/// A value argument: an [`input`] no longer than [`crate::MAX_VALUE_LEN`], checked before any
/// byte is touched.
///
/// # Safety
/// As for [`input`].
pub(crate) unsafe fn value_input<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Fail> {
    if !ptr.is_null() && len > crate::MAX_VALUE_LEN {
        return Err(Error::ValueTooLong { len }.into());
    }
    // SAFETY: forwarded contract.
    unsafe { input(ptr, len, "value") }
}

/// The path `ptr` names, as bytes (no encoding is assumed).
///
/// # Safety
/// `ptr` is `NULL` or a NUL-terminated string readable for the call.
pub(crate) unsafe fn path<'a>(ptr: *const c_char, what: &str) -> Result<&'a Path, Fail> {
    if ptr.is_null() {
        return Err(Fail::null(what));
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    if bytes.is_empty() {
        return Err(Fail::invalid(format!("`{what}` is empty")));
    }
    Ok(Path::new(OsStr::from_bytes(bytes)))
}

/// The handle behind `ptr`.
///
/// # Safety
/// When `ptr` is not `NULL`, it must be a live handle of type `T` made by this library, not used
/// mutably elsewhere during `'a`.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Fail> {
    // SAFETY: forwarded contract: a non-NULL `ptr` is a live `Box<T>` allocation.
    unsafe { ptr.as_ref() }.ok_or_else(|| Fail::null(what))
}

/// The handle behind `ptr`, for exclusive use.
///
/// # Safety
/// When `ptr` is not `NULL`, it must be a live handle of type `T` made by this library that no
/// other thread uses during `'a`.
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Fail> {
    // SAFETY: forwarded contract: a non-NULL `ptr` is a live `Box<T>` allocation used by this
    // thread alone.
    unsafe { ptr.as_mut() }.ok_or_else(|| Fail::null(what))
}

/// Hands a new handle to C. It comes back to Rust only through [`free_handle`].
pub(crate) fn new_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Destroys a handle made by [`new_handle`]; `NULL` is a no-op.
///
/// # Safety
/// `ptr` is `NULL` or a handle of type `T` made by [`new_handle`] and not freed yet, which no
/// other thread is using.
pub(crate) unsafe fn free_handle<T: ?Sized>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: per the contract, `ptr` came from `Box::into_raw` and is freed only here.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// The borrowed input array `(ptr, len)` of `T`: non-`NULL` (even when `len` is 0) and aligned.
///
/// # Safety
/// When `ptr` is not `NULL` and aligned, it must point to `len` initialised `T`s that stay
/// unchanged for `'a`.
pub(crate) unsafe fn input_array<'a, T>(
    ptr: *const T,
    len: usize,
    what: &str,
) -> Result<&'a [T], Fail> {
    if ptr.is_null() {
        return Err(Fail::null(what));
    }
    if !ptr.is_aligned() {
        return Err(Fail::invalid(format!("`{what}` is misaligned")));
    }
    if len > isize::MAX as usize / size_of::<T>().max(1) {
        return Err(Fail::invalid(format!(
            "`{what}` length {len} is impossible"
        )));
    }
    // SAFETY: non-NULL, aligned, and the length fits an allocation; the caller promised `len`
    // initialised elements for `'a`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A caller's output array of `len` `T`s: non-`NULL` and aligned; element `i < len` is written
/// at most by [`OutArray::write`].
pub(crate) struct OutArray<T> {
    ptr: NonNull<T>,
    len: usize,
}

impl<T> OutArray<T> {
    /// # Safety
    /// When `ptr` is not `NULL` and aligned, it must be valid for writes of `len` `T`s for the
    /// call.
    pub(crate) unsafe fn new(ptr: *mut T, len: usize, what: &str) -> Result<OutArray<T>, Fail> {
        let ptr = NonNull::new(ptr).ok_or_else(|| Fail::null(what))?;
        if !ptr.as_ptr().is_aligned() {
            return Err(Fail::invalid(format!("`{what}` is misaligned")));
        }
        Ok(OutArray { ptr, len })
    }

    /// Stores `value` at `index` without reading or dropping what was there.
    pub(crate) fn write(&mut self, index: usize, value: T) {
        assert!(
            index < self.len,
            "an output array is written within its length"
        );
        // SAFETY: `index < len`, and `new`'s caller promised `len` writable elements.
        unsafe { self.ptr.as_ptr().add(index).write(value) }
    }
}

/// A checked output location: non-`NULL` and aligned, written at most once and only on success.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// A required output.
    ///
    /// # Safety
    /// When `ptr` is not `NULL` and aligned, it must be valid for a write of `T` for the
    /// duration of the call.
    pub(crate) unsafe fn new(ptr: *mut T, what: &str) -> Result<Out<T>, Fail> {
        let ptr = NonNull::new(ptr).ok_or_else(|| Fail::null(what))?;
        if !ptr.as_ptr().is_aligned() {
            return Err(Fail::invalid(format!("`{what}` is misaligned")));
        }
        Ok(Out(ptr))
    }

    /// An optional output: `NULL` means the caller does not want it.
    ///
    /// # Safety
    /// As for [`Out::new`].
    pub(crate) unsafe fn optional(ptr: *mut T, what: &str) -> Result<Option<Out<T>>, Fail> {
        if ptr.is_null() {
            Ok(None)
        } else {
            // SAFETY: forwarded contract.
            unsafe { Out::new(ptr, what) }.map(Some)
        }
    }

    /// The location, non-NULL and aligned, for reading fields the caller set (such as a size
    /// field) before the output is written.
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.0.as_ptr()
    }

    /// Stores `value` without reading or dropping what was there.
    pub(crate) fn write(self, value: T) {
        // SAFETY: `new` checked non-NULL and alignment, and its caller promised the location is
        // writable for the call, which is still running.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// The buffer and the length output that a caller's [`lqft_value_buf`] holds.
///
/// # Safety
/// When `ptr` is not `NULL` and aligned, it must point to an `lqft_value_buf` readable for the
/// call whose `len` is writable and, when its `data` is not `NULL`, valid for writes of `cap`
/// bytes, none of which overlaps the struct.
pub(crate) unsafe fn value_buf(ptr: *mut lqft_value_buf) -> Result<(Buffer, Out<usize>), Fail> {
    // SAFETY: forwarded contract (non-NULL and aligned are checked by `Out::new`).
    let out = unsafe { Out::new(ptr, "buf") }?;
    let ptr = out.0.as_ptr();
    // SAFETY: `ptr` is non-NULL, aligned and readable per the contract; `size` comes first, so
    // it is read before the caller's declared size is known to cover the rest.
    let size = unsafe { (*ptr).size };
    if size < size_of::<lqft_value_buf>() {
        return Err(Fail::invalid(format!(
            "`buf->size` is {size}; set it to sizeof(lqft_value_buf), {}",
            size_of::<lqft_value_buf>()
        )));
    }
    // SAFETY: the whole struct is readable (its size says so, per the contract) and `len` is
    // writable; `(data, cap)` is the caller's promise forwarded to `Buffer::new`.
    unsafe {
        let buffer = Buffer::new((*ptr).data, (*ptr).cap)?;
        let len = Out::new(&raw mut (*ptr).len, "buf->len")?;
        Ok((buffer, len))
    }
}

/// A caller's output buffer `(buf, cap)`: `buf` may be `NULL` only when `cap` is 0.
pub(crate) struct Buffer {
    buf: *mut u8,
    cap: usize,
}

impl Buffer {
    /// # Safety
    /// When `buf` is not `NULL`, it must be valid for writes of `cap` bytes for the call.
    pub(crate) unsafe fn new(buf: *mut u8, cap: usize) -> Result<Buffer, Fail> {
        if buf.is_null() && cap > 0 {
            return Err(Fail::null("buf"));
        }
        Ok(Buffer { buf, cap })
    }

    /// Copies `value` into the buffer and reports its length through `out_len`: `LQFT_OK` when
    /// it fits; `LQFT_ERR_BUFFER_TOO_SMALL` with the length needed in `out_len` and the buffer
    /// untouched when it does not.
    pub(crate) fn fill(self, value: &[u8], out_len: Out<usize>) -> super::guard::Outcome {
        use super::status::{LQFT_ERR_BUFFER_TOO_SMALL, LQFT_OK};
        if value.len() > self.cap {
            out_len.write(value.len());
            return Err(Fail::new(
                LQFT_ERR_BUFFER_TOO_SMALL,
                format!(
                    "the value needs {} bytes, the buffer holds {}",
                    value.len(),
                    self.cap
                ),
            ));
        }
        if !value.is_empty() {
            // SAFETY: `0 < value.len() <= cap`, so `buf` is not NULL (checked in `new`) and the
            // caller promised `cap` writable bytes there; the source is library memory, so the
            // two ranges cannot overlap.
            unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), self.buf, value.len()) };
        }
        out_len.write(value.len());
        Ok(LQFT_OK)
    }
}

/// What a packed step copies: a record of `N` pieces of bytes.
pub(crate) trait Record<const N: usize> {
    /// What a record is called in messages ("entry", "difference").
    const NAME: &'static str;
    /// The pieces, in order.
    fn pieces(&self) -> [&[u8]; N];
}

/// A caller's packed output: pieces of bytes copied back to back into `(buf, cap)`, with the
/// end offset of each piece in `ends` (room for `ends_cap` offsets). Whole records (a key and
/// its value, say) are added only when all their pieces fit, so the caller never sees half a
/// record.
pub(crate) struct Packed {
    buf: *mut u8,
    cap: usize,
    used: usize,
    ends: *mut usize,
    ends_cap: usize,
    pieces: usize,
}

impl Packed {
    /// # Safety
    /// When `buf` is not `NULL`, it must be valid for writes of `cap` bytes for the call; when
    /// `ends` is not `NULL` and aligned, it must be valid for writes of `ends_cap` `size_t`s.
    pub(crate) unsafe fn new(
        buf: *mut u8,
        cap: usize,
        ends: *mut usize,
        ends_cap: usize,
    ) -> Result<Packed, Fail> {
        if buf.is_null() && cap > 0 {
            return Err(Fail::null("buf"));
        }
        if ends.is_null() {
            return Err(Fail::null("ends"));
        }
        if !ends.is_aligned() {
            return Err(Fail::invalid("`ends` is misaligned"));
        }
        if cap > isize::MAX as usize || ends_cap > isize::MAX as usize / size_of::<usize>() {
            return Err(Fail::invalid("a buffer length no allocation can have"));
        }
        Ok(Packed {
            buf,
            cap,
            used: 0,
            ends,
            ends_cap,
            pieces: 0,
        })
    }

    /// Whether a record of these pieces still fits; `Err(bytes needed)` when even an empty
    /// buffer would be too small for it.
    pub(crate) fn fits(&self, pieces: &[&[u8]]) -> Result<bool, usize> {
        let bytes = pieces
            .iter()
            .map(|p| p.len())
            .fold(0usize, usize::saturating_add);
        if bytes > self.cap {
            return Err(bytes);
        }
        Ok(bytes <= self.cap - self.used && pieces.len() <= self.ends_cap - self.pieces)
    }

    /// The loop of the packed steps (`lqft_iter_next_packed`, `lqft_diff_next_packed`, ...):
    /// copies whole records, as `take` gives them from `source`, until `max` are copied or the
    /// next does not fit, which goes back to `source` through `hold` for the next step;
    /// `pushed` hears of each record copied, with its index.
    ///
    /// Returns `LQFT_OK` with the count in `out_count` and the bytes used in `out_len`;
    /// `LQFT_DONE` (nothing written) when `take` has nothing left; `LQFT_ERR_BUFFER_TOO_SMALL`
    /// with the bytes needed in `out_len` when the first record alone is larger than the
    /// buffer; or the failure of `take` when it fails before anything was copied. A failure
    /// after some records were copied returns those: `take` changed nothing when it failed,
    /// so the next step meets the failure again (or, if it passed, goes on).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fill<S, T: Record<N>, const N: usize>(
        mut self,
        max: usize,
        out_count: Out<usize>,
        out_len: Out<usize>,
        source: &mut S,
        take: impl Fn(&mut S) -> Result<Option<T>, Fail>,
        hold: impl Fn(&mut S, T),
        mut pushed: impl FnMut(usize, &T),
    ) -> super::guard::Outcome {
        use super::status::{LQFT_DONE, LQFT_ERR_BUFFER_TOO_SMALL, LQFT_OK};
        let mut count = 0;
        while count < max {
            let record = match take(source) {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(_) if count > 0 => break,
                Err(fail) => return Err(fail),
            };
            let pieces = record.pieces();
            match self.fits(&pieces) {
                Ok(true) => {
                    self.push(&pieces);
                    pushed(count, &record);
                    count += 1;
                }
                Ok(false) => {
                    hold(source, record);
                    break;
                }
                Err(needed) => {
                    hold(source, record);
                    if count > 0 {
                        break;
                    }
                    out_len.write(needed);
                    return Err(Fail::new(
                        LQFT_ERR_BUFFER_TOO_SMALL,
                        format!(
                            "the next {} needs {needed} bytes, the buffer holds {}",
                            T::NAME,
                            self.cap
                        ),
                    ));
                }
            }
        }
        if count == 0 {
            return Ok(LQFT_DONE);
        }
        out_count.write(count);
        out_len.write(self.used);
        Ok(LQFT_OK)
    }

    /// Appends a record; the caller checked that it [`fits`](Packed::fits).
    /// Bytes copied so far.
    pub(crate) fn used(&self) -> usize {
        self.used
    }

    pub(crate) fn push(&mut self, pieces: &[&[u8]]) {
        debug_assert_eq!(self.fits(pieces), Ok(true));
        for piece in pieces {
            if !piece.is_empty() {
                // SAFETY: `fits` checked `used + len <= cap`, and `new`'s caller promised `cap`
                // writable bytes at `buf` (non-NULL since `cap >= len > 0`); the source is
                // library memory, so the ranges cannot overlap.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        piece.as_ptr(),
                        self.buf.add(self.used),
                        piece.len(),
                    )
                };
            }
            self.used += piece.len();
            // SAFETY: `fits` checked `pieces < ends_cap`, and `new`'s caller promised `ends_cap`
            // writable, aligned offsets at `ends`.
            unsafe { self.ends.add(self.pieces).write(self.used) };
            self.pieces += 1;
        }
    }
}
