//! The panic guard around every export: no unwinding ever crosses the C ABI.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::error::{Fail, set_last_error};
use super::status::*;

/// What the body of a status-returning export gives back.
pub(crate) type Outcome = Result<lqft_status, Fail>;

/// Runs the body of the export `name`: a failure records the last error and returns its status;
/// a panic records its message and returns `LQFT_ERR_PANIC`.
///
/// Unwind safety: every operation of the safe API is all or nothing and the map's locks do not
/// poison, so state observed after a caught panic is a state the API could have produced.
pub(crate) fn call(name: &str, body: impl FnOnce() -> Outcome) -> lqft_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(status)) => status,
        Ok(Err(fail)) => {
            set_last_error(&format!("{name}: {}", fail.message), fail.policy);
            fail.status
        }
        Err(payload) => {
            set_last_error(&format!("{name}: panic: {}", panic_text(&*payload)), None);
            LQFT_ERR_PANIC
        }
    }
}

/// Runs the body of the export `name` that returns a length (`>= 0`) or a negative code: a
/// failure records the last error and returns its (negative) status; a panic records its
/// message and returns `LQFT_ERR_PANIC`.
pub(crate) fn call_length(name: &str, body: impl FnOnce() -> Result<i64, Fail>) -> i64 {
    call_value(i64::from(LQFT_ERR_PANIC), || match body() {
        Ok(length) => length,
        Err(fail) => {
            set_last_error(&format!("{name}: {}", fail.message), fail.policy);
            i64::from(fail.status)
        }
    })
}

/// Runs the body of an export that returns a plain value; a panic gives `fallback`.
pub(crate) fn call_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        set_last_error(&format!("panic: {}", panic_text(&*payload)), None);
        fallback
    })
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::lqft_last_error_message;
    use std::ffi::CStr;

    fn last() -> String {
        // SAFETY: the pointer is this thread's NUL-terminated message, read before any other call.
        unsafe { CStr::from_ptr(lqft_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = call("lqft_test", || panic!("boom {}", 7));
        assert_eq!(status, LQFT_ERR_PANIC);
        assert_eq!(last(), "lqft_test: panic: boom 7");
        assert_eq!(call_value(5, || panic!("static")), 5);
        assert_eq!(last(), "panic: static");
    }

    #[test]
    fn a_failure_sets_the_message_and_success_keeps_it() {
        let status = call("lqft_test", || Err(Fail::null("map")));
        assert_eq!(status, LQFT_ERR_NULL_ARGUMENT);
        assert_eq!(last(), "lqft_test: `map` is NULL");
        assert_eq!(call("lqft_test", || Ok(LQFT_NOT_FOUND)), LQFT_NOT_FOUND);
        assert_eq!(last(), "lqft_test: `map` is NULL");
        call("lqft_test", || Err(Fail::invalid("a\0b")));
        assert_eq!(last(), "lqft_test: a\\0b");
    }
}
