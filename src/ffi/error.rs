//! The thread-local last error and the failure type every export's body returns.

use std::cell::{Cell, RefCell};
use std::ffi::{CString, c_char};

use super::guard::call_value;
use super::status::*;
use crate::Error;
use crate::formats::PolicyCode;

/// A failed call: the status to return and the detail for `lqft_last_error_message()`.
#[derive(Debug)]
pub(crate) struct Fail {
    pub(crate) status: lqft_status,
    pub(crate) message: String,
    /// LQFT's policy code, for `LQFT_ERR_POLICY` failures.
    pub(crate) policy: Option<PolicyCode>,
}

impl Fail {
    pub(crate) fn new(status: lqft_status, message: impl Into<String>) -> Fail {
        Fail {
            status,
            message: message.into(),
            policy: None,
        }
    }

    /// A policy failure with LQFT's code.
    pub(crate) fn policy(code: PolicyCode, message: impl Into<String>) -> Fail {
        Fail {
            status: LQFT_ERR_POLICY,
            message: message.into(),
            policy: Some(code),
        }
    }

    pub(crate) fn null(what: &str) -> Fail {
        Fail::new(LQFT_ERR_NULL_ARGUMENT, format!("`{what}` is NULL"))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Fail {
        Fail::new(LQFT_ERR_INVALID_ARGUMENT, message)
    }
}

/// The C status an [`Error`] is reported with (what every `lqft_*` function returns for it);
/// for Rust callers that hand errors on to C code or compare them with C results.
pub fn status_of(error: &Error) -> lqft_status {
    match error {
        Error::KeyTooLong { .. } => LQFT_ERR_KEY_TOO_LONG,
        Error::ValueTooLong { .. } => LQFT_ERR_VALUE_TOO_LONG,
        Error::PendingChanges { .. } => LQFT_ERR_PENDING_CHANGES,
        Error::UnknownSnapshot { .. } => LQFT_ERR_UNKNOWN_SNAPSHOT,
        Error::DuplicateSnapshot { .. } => LQFT_ERR_DUPLICATE_SNAPSHOT,
        Error::InvalidArgument(_) => LQFT_ERR_INVALID_ARGUMENT,
        Error::Corrupt(_) => LQFT_ERR_CORRUPT,
        Error::Io(_) => LQFT_ERR_IO,
        Error::Conflict => LQFT_CONFLICT,
        Error::Locked { .. } => LQFT_ERR_LOCKED,
        Error::Poisoned { .. } => LQFT_ERR_POISONED,
    }
}

impl From<Error> for Fail {
    fn from(error: Error) -> Fail {
        Fail::new(status_of(&error), error.to_string())
    }
}

thread_local! {
    /// The message of the last failed call on this thread. Replaced (never appended to) by the
    /// next failure, so the pointer handed out stays valid until then.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    /// The policy code of the last failed call on this thread, if it was a policy failure.
    static LAST_POLICY: Cell<Option<PolicyCode>> = const { Cell::new(None) };
}

/// Records `message` (and `policy`, the failure's policy code if any) as this thread's last
/// error. Interior NUL bytes (possible when a message quotes user data) are replaced so the C
/// string is never cut short.
pub(crate) fn set_last_error(message: &str, policy: Option<PolicyCode>) {
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|last| *last.borrow_mut() = text);
    LAST_POLICY.with(|last| last.set(policy));
}

/// The detail of the last call that returned a negative status on the calling thread, as a
/// NUL-terminated UTF-8 string; `""` if no call on this thread has failed.
///
/// Calls that succeed (or return `LQFT_NOT_FOUND` / `LQFT_DONE`) leave the message as it was.
///
/// Ownership and lifetime: owned by the library; valid until the next failing `lqft_*` call on
/// the same thread, or the thread's exit. Copy it if you need it longer; never free it.
/// Thread safety: each thread has its own message.
#[unsafe(no_mangle)]
pub extern "C" fn lqft_last_error_message() -> *const c_char {
    call_value(c"".as_ptr(), || {
        LAST_ERROR.with(|last| {
            // The CString lives in this thread's slot until `set_last_error` replaces it, which
            // only a later failing call on this same thread does.
            last.borrow().as_ptr()
        })
    })
}

/// LQFT's policy code of the last failed call on the calling thread, as a static
/// NUL-terminated string (for example `"verification_signature_mismatch"`, the codes of
/// LQFT 1.2.2's table, see docs/FORMAT.md); `NULL` when that failure was not a policy failure
/// (its status was not `LQFT_ERR_POLICY`) or no call on this thread has failed.
///
/// Like `lqft_last_error_message()`, it changes only when a call fails. Ownership: static,
/// never freed. Thread safety: each thread has its own.
#[unsafe(no_mangle)]
pub extern "C" fn lqft_last_policy_code() -> *const c_char {
    call_value(std::ptr::null(), || {
        LAST_POLICY.with(|last| {
            last.get()
                .map_or(std::ptr::null(), |code| code.as_c_str().as_ptr())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_have_their_own_status_codes() {
        let io = Error::io("open LOCK", &std::io::Error::from_raw_os_error(libc::EIO));
        assert_eq!(Fail::from(io.clone()).status, LQFT_ERR_IO);
        let locked = Error::Locked {
            path: "db/LOCK".into(),
        };
        assert_eq!(Fail::from(locked).status, LQFT_ERR_LOCKED);
        let poisoned = Error::Poisoned {
            cause: Box::new(io),
        };
        let fail = Fail::from(poisoned);
        assert_eq!(fail.status, LQFT_ERR_POISONED);
        assert!(fail.message.contains("open LOCK"), "{}", fail.message);
    }
}
