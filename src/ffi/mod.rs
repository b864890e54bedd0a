//! The C ABI: the only module with `extern "C"` functions and almost all of the crate's `unsafe`.
//!
//! Every export is a thin skin over the safe Rust API ([`crate::Map`], [`crate::Snapshot`], ...).
//! The conventions every function follows are written once in the header preamble
//! (`cbindgen.toml`) and repeated where a function deviates:
//!
//! - every fallible function returns an [`lqft_status`]: `LQFT_OK`, a positive non-error outcome
//!   (`LQFT_NOT_FOUND`, `LQFT_DONE`) or a negative error, with the detail of the last error in
//!   [`lqft_last_error_message`] — except [`lqft_reader_get`], which returns the value's length
//!   where the others would return `LQFT_OK`;
//! - inputs are `(const uint8_t *ptr, size_t len)` pairs borrowed for the call (`NULL` only with
//!   `len == 0`); outputs are written only on success;
//! - a panic is caught at every export and reported as `LQFT_ERR_PANIC`.
//!
//! Invariant shared by every handle type: a handle pointer handed to C was made by
//! `Box::into_raw` in this module and is turned back into a `Box` only by the matching `_free`.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]

mod args;
mod batch;
mod bytes;
mod diff;
mod error;
mod file_options;
mod files;
mod guard;
mod iter;
mod map;
mod payload;
mod read;
mod reader;
mod session;
mod snapshot;
mod stats;
mod status;
mod store;
mod txn;
mod version;
mod view;

pub use batch::*;
pub use bytes::*;
pub use diff::*;
pub use error::{lqft_last_error_message, status_of};
pub use file_options::*;
pub use files::*;
pub use iter::*;
pub use map::*;
pub use payload::*;
pub use reader::*;
pub use session::*;
pub use snapshot::*;
pub use stats::*;
pub use status::*;
pub use store::*;
pub use txn::*;
pub use version::*;
pub use view::*;
