//! The error type of the safe Rust API.

use std::fmt;

/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = u16::MAX as usize;

/// Longest value accepted, in bytes.
pub const MAX_VALUE_LEN: usize = u32::MAX as usize;

/// Everything that can go wrong in liblqft's Rust API.
///
/// Every failing operation leaves the state it was called on unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A key longer than [`MAX_KEY_LEN`] bytes.
    KeyTooLong {
        /// The rejected key's length.
        len: usize,
    },
    /// A value longer than [`MAX_VALUE_LEN`] bytes.
    ValueTooLong {
        /// The rejected value's length.
        len: usize,
    },
    /// A rollback was refused because the live state has writes no snapshot holds.
    PendingChanges {
        /// How many mutations would have been lost.
        count: u64,
    },
    /// No registered snapshot has this id.
    UnknownSnapshot {
        /// The id asked for.
        id: u64,
    },
    /// A snapshot with this id is already registered.
    DuplicateSnapshot {
        /// The clashing id.
        id: u64,
    },
    /// Input that is well typed but not acceptable; the text says why.
    InvalidArgument(String),
    /// Encoded data that does not decode or does not match its hash; the text says where.
    Corrupt(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::KeyTooLong { len } => {
                write!(
                    f,
                    "key of {len} bytes is longer than the limit of {MAX_KEY_LEN}"
                )
            }
            Error::ValueTooLong { len } => {
                write!(
                    f,
                    "value of {len} bytes is longer than the limit of {MAX_VALUE_LEN}"
                )
            }
            Error::PendingChanges { count } => write!(
                f,
                "{count} uncommitted mutation(s) would be lost; snapshot first or discard them"
            ),
            Error::UnknownSnapshot { id } => write!(f, "unknown snapshot id {id}"),
            Error::DuplicateSnapshot { id } => write!(f, "snapshot id {id} already exists"),
            Error::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            Error::Corrupt(why) => write!(f, "corrupt data: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Checks a key and value against the limits.
pub(crate) fn check_entry(key: &[u8], value: &[u8]) -> Result<()> {
    check_key(key)?;
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::ValueTooLong { len: value.len() });
    }
    Ok(())
}

/// Checks a key against the limit.
pub(crate) fn check_key(key: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(Error::KeyTooLong { len: key.len() });
    }
    Ok(())
}
