//! Readers: repeated point reads of one map, snapshot or view into one caller-owned value
//! buffer, in as few arguments as a get can take.

use super::args::{Out, free_handle, handle, key_input, new_handle, value_buf};
use super::bytes::lqft_value_buf;
use super::guard::{Outcome, call, call_length, call_value};
use super::map::lqft_map;
use super::read::Version;
use super::snapshot::lqft_snapshot;
use super::status::*;
use super::view::lqft_view;
use crate::Result;

/// What `lqft_reader_get` returns when the key is absent: below every `lqft_status`, so it is
/// told apart from both a length and an error.
pub const LQFT_READER_NOT_FOUND: i64 = -4_294_967_296;

/// Point reads of one version — a map's live state, a snapshot or a view — that copy values
/// into one caller-owned `lqft_value_buf`: a get passes three arguments (`reader`, `key`,
/// `key_len`) and returns the value's length, where `lqft_map_get_buf` passes four and leaves
/// the length in memory. For callers that pay per argument and per output read back, such as
/// the libffi calls of cffi's ABI mode; C callers gain nothing over `lqft_map_get_buf`.
///
/// Made by `lqft_map_reader`, `lqft_snapshot_reader` or `lqft_view_reader`. A reader of a map
/// reads its live state as of each call; of a snapshot or view, that version.
///
/// Lifetime: independent of the handle it was made from (freeing the map, snapshot or view
/// first is allowed); the reader keeps its version readable, and a reader of a store's map
/// keeps the store open, until `lqft_reader_free`. It keeps a pointer to its `lqft_value_buf`,
/// which the caller keeps valid and in place for every `lqft_reader_get`; the caller may change
/// the buffer's `data` and `cap` between calls (to grow it).
/// Thread safety: `lqft_reader_get` writes the buffer, so one get at a time per reader (give
/// each thread its own); `lqft_reader_contains` writes nothing and may run on any number of
/// threads at once, alongside a get. Only `lqft_reader_free` needs exclusive access.
pub struct lqft_reader {
    source: Source,
    buf: *mut lqft_value_buf,
}

/// The version a reader reads: a handle sharing the one it was made from.
enum Source {
    Map(lqft_map),
    Snapshot(lqft_snapshot),
    View(lqft_view),
}

impl Source {
    fn read_value<R>(&self, key: &[u8], read: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        match self {
            Source::Map(map) => map.read_value(key, read),
            Source::Snapshot(snapshot) => snapshot.read_value(key, read),
            Source::View(view) => view.read_value(key, read),
        }
    }

    fn contains_key(&self, key: &[u8]) -> Result<bool> {
        match self {
            Source::Map(map) => map.contains_key(key),
            Source::Snapshot(snapshot) => snapshot.contains_key(key),
            Source::View(view) => view.contains_key(key),
        }
    }
}

/// The body of the `*_reader` exports: a reader of `source` over `buf` in `*out`.
///
/// # Safety
/// `buf` is `NULL` or an `lqft_value_buf` as [`value_buf`] requires; `out` is `NULL` or
/// writable.
unsafe fn new_reader(
    source: Source,
    buf: *mut lqft_value_buf,
    out: *mut *mut lqft_reader,
) -> Outcome {
    // SAFETY: forwarded contract. The buffer is checked now so that a wrong `size` fails here,
    // and again at each get, since the caller may change it between calls.
    let out = unsafe {
        value_buf(buf)?;
        Out::new(out, "out")?
    };
    out.write(new_handle(lqft_reader { source, buf }));
    Ok(LQFT_OK)
}

/// Makes a reader of the live state of `map` (each get reads the state as of that call) that
/// copies values into `*buf`, and stores it in `*out`.
///
/// Ownership: the caller owns the reader and releases it with `lqft_reader_free`; `buf` stays
/// the caller's.
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (`buf->size` smaller than
/// `sizeof(lqft_value_buf)`, or `buf` misaligned).
///
/// # Safety
/// `map` is `NULL` or a live map; `buf` is `NULL` or points to an `lqft_value_buf` as for
/// `lqft_map_get_buf` that stays valid and in place for every `lqft_reader_get` of the reader;
/// `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_map_reader(
    map: *const lqft_map,
    buf: *mut lqft_value_buf,
    out: *mut *mut lqft_reader,
) -> lqft_status {
    call("lqft_map_reader", || {
        // SAFETY: the caller promised a live map, a valid `buf` and a writable `out`.
        unsafe {
            let map = handle(map, "map")?;
            let source = Source::Map(lqft_map {
                kind: map.kind.clone(),
            });
            new_reader(source, buf, out)
        }
    })
}

/// Makes a reader of `snapshot` that copies values into `*buf`, and stores it in `*out`, as
/// `lqft_map_reader` does.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `snapshot` is `NULL` or a live snapshot; `buf` and `out` as for `lqft_map_reader`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_snapshot_reader(
    snapshot: *const lqft_snapshot,
    buf: *mut lqft_value_buf,
    out: *mut *mut lqft_reader,
) -> lqft_status {
    call("lqft_snapshot_reader", || {
        // SAFETY: the caller promised a live snapshot, a valid `buf` and a writable `out`.
        unsafe {
            let snapshot = handle(snapshot, "snapshot")?;
            let source = Source::Snapshot(lqft_snapshot {
                kind: snapshot.kind.clone(),
            });
            new_reader(source, buf, out)
        }
    })
}

/// Makes a reader of `view` that copies values into `*buf`, and stores it in `*out`, as
/// `lqft_map_reader` does.
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `view` is `NULL` or a live view; `buf` and `out` as for `lqft_map_reader`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_view_reader(
    view: *const lqft_view,
    buf: *mut lqft_value_buf,
    out: *mut *mut lqft_reader,
) -> lqft_status {
    call("lqft_view_reader", || {
        // SAFETY: the caller promised a live view, a valid `buf` and a writable `out`.
        unsafe {
            let view = handle(view, "view")?;
            let source = Source::View(lqft_view {
                view: view.view.clone(),
            });
            new_reader(source, buf, out)
        }
    })
}

/// Copies the value under `key` into the reader's buffer and returns its length: the value is
/// then at `buf->data` (its length also in `buf->len`). No allocation.
///
/// Returns, unlike the functions that return an `lqft_status`: the value's length (`>= 0`) when
/// `key` is present; `LQFT_READER_NOT_FOUND` (nothing written) when it is absent; otherwise a
/// negative `lqft_status`: `LQFT_ERR_BUFFER_TOO_SMALL` with the length needed in `buf->len` and
/// `buf->data` untouched when `buf->cap` is too small (grow the buffer, set `data` and `cap`,
/// and call again), `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_INVALID_ARGUMENT` (`buf->size` smaller
/// than `sizeof(lqft_value_buf)`), `LQFT_ERR_KEY_TOO_LONG`; `LQFT_ERR_IO` or `LQFT_ERR_CORRUPT`
/// when a node of a store-backed map fails to load.
/// Thread safety: one get at a time per reader (it writes the buffer).
///
/// # Safety
/// `reader` is `NULL` or a live reader that no other thread is getting with, whose buffer is
/// valid as `lqft_map_reader` requires; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_reader_get(
    reader: *mut lqft_reader,
    key: *const u8,
    key_len: usize,
) -> i64 {
    call_length("lqft_reader_get", || {
        // SAFETY: the caller promised a live reader used by this get alone, a buffer that is
        // valid per `lqft_map_reader`'s contract and a readable key.
        let (reader, key) = unsafe {
            (
                handle(reader.cast_const(), "reader")?,
                key_input(key, key_len)?,
            )
        };
        // SAFETY: as above: the reader's buffer is valid and no other get uses it.
        let (buffer, out_len) = unsafe { value_buf(reader.buf)? };
        let filled = reader.source.read_value(key, |value| {
            let length = value.len();
            buffer.fill(value, out_len).map(|_| length)
        })?;
        match filled {
            // A value is at most `LQFT_MAX_VALUE_LEN` (4 GiB) long, far below `i64::MAX`.
            Some(length) => Ok(length? as i64),
            None => Ok(LQFT_READER_NOT_FOUND),
        }
    })
}

/// Whether `key` is present in the reader's version, as the status: `LQFT_OK` when present,
/// `LQFT_NOT_FOUND` when absent (no output to read back, where `lqft_map_contains` writes a
/// `bool`).
///
/// Errors: `LQFT_ERR_NULL_ARGUMENT`, `LQFT_ERR_KEY_TOO_LONG`; `LQFT_ERR_IO` or
/// `LQFT_ERR_CORRUPT` when a node of a store-backed map fails to load.
/// Thread safety: writes nothing; any number of threads at once, alongside a get.
///
/// # Safety
/// `reader` is `NULL` or a live reader; `key` is `NULL` (with length 0) or points to `key_len`
/// readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_reader_contains(
    reader: *const lqft_reader,
    key: *const u8,
    key_len: usize,
) -> lqft_status {
    call("lqft_reader_contains", || {
        // SAFETY: the caller promised a live reader and a readable key.
        let (reader, key) = unsafe { (handle(reader, "reader")?, key_input(key, key_len)?) };
        Ok(if reader.source.contains_key(key)? {
            LQFT_OK
        } else {
            LQFT_NOT_FOUND
        })
    })
}

/// Releases a reader (and its share of the version it reads; the buffer stays the caller's).
/// `NULL` is a no-op.
///
/// # Safety
/// `reader` is `NULL` or a live reader no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lqft_reader_free(reader: *mut lqft_reader) {
    // SAFETY: the caller passes NULL or a live reader no one else is using.
    call_value((), || unsafe { free_handle(reader) })
}
