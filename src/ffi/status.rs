//! Status codes and their static descriptions.

use std::ffi::{CStr, c_char};

use super::guard::call_value;

/// The result of every fallible `lqft_*` function: `LQFT_OK` (0), a positive non-error outcome
/// (`LQFT_NOT_FOUND`, `LQFT_DONE`, `LQFT_CONFLICT`) or a negative error code (`LQFT_ERR_*`). After a negative
/// code, `lqft_last_error_message()` describes what went wrong.
pub type lqft_status = i32;

/// Success.
pub const LQFT_OK: lqft_status = 0;
/// Not an error: the key, snapshot or index asked for does not exist. Outputs are not written.
pub const LQFT_NOT_FOUND: lqft_status = 1;
/// Not an error: an iterator or diff has no more entries. Outputs are not written.
pub const LQFT_DONE: lqft_status = 2;
/// Not an error: a compare-and-swap found a value other than the one expected, or a
/// transaction's commit found a key it read changed by another writer. Nothing was changed;
/// read again and retry.
pub const LQFT_CONFLICT: lqft_status = 3;

/// A required pointer argument was `NULL` (or a byte pointer was `NULL` with a non-zero length).
pub const LQFT_ERR_NULL_ARGUMENT: lqft_status = -1;
/// An argument is out of its domain (unknown enum value, misaligned pointer, a length that no
/// allocation can have, a wrong hash length...).
pub const LQFT_ERR_INVALID_ARGUMENT: lqft_status = -2;
/// A key is longer than `LQFT_MAX_KEY_LEN` bytes. Nothing was changed.
pub const LQFT_ERR_KEY_TOO_LONG: lqft_status = -3;
/// A value is longer than `LQFT_MAX_VALUE_LEN` bytes. Nothing was changed.
pub const LQFT_ERR_VALUE_TOO_LONG: lqft_status = -4;
/// The caller's buffer is too small; the size needed was written to the size output.
pub const LQFT_ERR_BUFFER_TOO_SMALL: lqft_status = -5;
/// A rollback with `LQFT_ROLLBACK_FAIL` met uncommitted writes. Nothing was changed.
pub const LQFT_ERR_PENDING_CHANGES: lqft_status = -6;
/// No registered snapshot has the id given.
pub const LQFT_ERR_UNKNOWN_SNAPSHOT: lqft_status = -7;
/// A snapshot with the same id is already registered.
pub const LQFT_ERR_DUPLICATE_SNAPSHOT: lqft_status = -8;
/// Data that does not decode or does not match its hash.
pub const LQFT_ERR_CORRUPT: lqft_status = -9;
/// Reading, writing, syncing or renaming a file failed; the last-error message names the file
/// and the operating system's reason.
pub const LQFT_ERR_IO: lqft_status = -10;
/// A file failed verification, trust, freshness or schema policy. `lqft_last_policy_code()`
/// gives LQFT's policy code (for example `"verification_signature_mismatch"`), and the
/// last-error message names it after the function name
/// (`lqft_map_load_snapshot: verification_signature_mismatch: ...`).
pub const LQFT_ERR_POLICY: lqft_status = -11;
/// A Rust panic was caught at the boundary. The handle involved stays usable and unchanged
/// (every operation is all or nothing), but this is a bug in liblqft: please report it.
pub const LQFT_ERR_PANIC: lqft_status = -12;
/// A store's writer lock is held by another writer (in this or another process). Returned at
/// once, never after waiting. Close the other writer, or open the store read-only.
pub const LQFT_ERR_LOCKED: lqft_status = -13;
/// A store's writer refused a write because an earlier write, sync or rename of the store failed
/// (a failed sync is never retried). Reads still work; close and reopen the store to recover
/// every acknowledged write.
pub const LQFT_ERR_POISONED: lqft_status = -14;
/// A size cap was exceeded: a file read is larger than the reader accepts (file size 1 GiB,
/// decompressed size 1 GiB, JSON nesting 64 levels, key file 64 KiB), or a file being written
/// would be, so it is refused rather than written unreadable. Nothing was changed.
pub const LQFT_ERR_LIMIT: lqft_status = -15;

/// A static, NUL-terminated English description of `status` (for example `"key too long"`).
/// Unknown codes give `"unknown status"`.
///
/// Ownership: the string is static; never free it. Thread safety: callable from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn lqft_status_str(status: lqft_status) -> *const c_char {
    call_value(c"panic".as_ptr(), || describe(status).as_ptr())
}

fn describe(status: lqft_status) -> &'static CStr {
    match status {
        LQFT_OK => c"ok",
        LQFT_NOT_FOUND => c"not found",
        LQFT_DONE => c"done",
        LQFT_CONFLICT => c"conflict: nothing changed, read again and retry",
        LQFT_ERR_NULL_ARGUMENT => c"null argument",
        LQFT_ERR_INVALID_ARGUMENT => c"invalid argument",
        LQFT_ERR_KEY_TOO_LONG => c"key too long",
        LQFT_ERR_VALUE_TOO_LONG => c"value too long",
        LQFT_ERR_BUFFER_TOO_SMALL => c"buffer too small",
        LQFT_ERR_PENDING_CHANGES => c"pending changes",
        LQFT_ERR_UNKNOWN_SNAPSHOT => c"unknown snapshot",
        LQFT_ERR_DUPLICATE_SNAPSHOT => c"duplicate snapshot",
        LQFT_ERR_CORRUPT => c"corrupt data",
        LQFT_ERR_IO => c"i/o error",
        LQFT_ERR_POLICY => c"verification policy failure",
        LQFT_ERR_PANIC => c"internal panic",
        LQFT_ERR_LOCKED => c"locked by another writer",
        LQFT_ERR_POISONED => c"writer poisoned by an earlier failure",
        LQFT_ERR_LIMIT => c"size limit exceeded",
        _ => c"unknown status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_text() {
        let codes = [
            LQFT_OK,
            LQFT_NOT_FOUND,
            LQFT_DONE,
            LQFT_CONFLICT,
            LQFT_ERR_NULL_ARGUMENT,
            LQFT_ERR_INVALID_ARGUMENT,
            LQFT_ERR_KEY_TOO_LONG,
            LQFT_ERR_VALUE_TOO_LONG,
            LQFT_ERR_BUFFER_TOO_SMALL,
            LQFT_ERR_PENDING_CHANGES,
            LQFT_ERR_UNKNOWN_SNAPSHOT,
            LQFT_ERR_DUPLICATE_SNAPSHOT,
            LQFT_ERR_CORRUPT,
            LQFT_ERR_IO,
            LQFT_ERR_POLICY,
            LQFT_ERR_PANIC,
            LQFT_ERR_LOCKED,
            LQFT_ERR_POISONED,
            LQFT_ERR_LIMIT,
        ];
        let texts: std::collections::HashSet<&CStr> = codes.iter().map(|&c| describe(c)).collect();
        assert_eq!(texts.len(), codes.len());
        assert!(!texts.contains(c"unknown status"));
        assert_eq!(describe(42), c"unknown status");
    }
}
