//! The library version, at compile time (macros) and at run time.

use std::ffi::c_char;

use super::guard::call_value;

/// Major version of the liblqft this header belongs to (the crate version).
pub const LQFT_VERSION_MAJOR: u32 = 0;
/// Minor version of the liblqft this header belongs to.
pub const LQFT_VERSION_MINOR: u32 = 1;
/// Patch version of the liblqft this header belongs to.
pub const LQFT_VERSION_PATCH: u32 = 0;

/// The version of the linked library as static NUL-terminated text, `"MAJOR.MINOR.PATCH"`.
/// Compare it with the `LQFT_VERSION_*` macros to detect a header/library mismatch. On-disk
/// format versions are separate numbers.
///
/// Ownership: static; never free it. Thread safety: callable from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn lqft_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    call_value(c"".as_ptr(), || VERSION.as_ptr().cast())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macros_follow_the_crate_version() {
        let parts = [LQFT_VERSION_MAJOR, LQFT_VERSION_MINOR, LQFT_VERSION_PATCH]
            .map(|n| n.to_string())
            .join(".");
        assert_eq!(
            parts,
            env!("CARGO_PKG_VERSION"),
            "update LQFT_VERSION_* in src/ffi/version.rs, then regenerate include/lqft.h"
        );
        // SAFETY: lqft_version returns a static NUL-terminated string.
        let text = unsafe { std::ffi::CStr::from_ptr(lqft_version()) };
        assert_eq!(text.to_str(), Ok(env!("CARGO_PKG_VERSION")));
    }
}
