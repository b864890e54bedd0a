//! The error type of the safe Rust API.

use std::{fmt, io};

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
    /// The id of a snapshot to import is already used in the map (registered now or before,
    /// or repeated in the import).
    DuplicateSnapshot {
        /// The clashing id.
        id: u64,
    },
    /// Input that is well typed but not acceptable; the text says why.
    InvalidArgument(String),
    /// Encoded data that does not decode or does not match its hash; the text says where.
    Corrupt(String),
    /// Reading, writing, syncing or renaming a file failed.
    Io(IoError),
    /// A transaction's commit found that another writer had changed a key it read; nothing
    /// was changed. Run the transaction again (its reads will see the new values).
    Conflict,
    /// Another writer holds the store's lock; the store is open for writing elsewhere.
    Locked {
        /// The lock file that could not be taken.
        path: String,
    },
    /// An earlier write, sync or rename of this store failed, so the writer refuses further
    /// writes until the store is reopened (a failed sync is never retried: the kernel may have
    /// dropped the dirty pages it reported). Reads go on.
    Poisoned {
        /// The failure that poisoned the writer.
        cause: Box<Error>,
    },
}

/// An I/O failure: what liblqft was doing, and what the operating system reported.
///
/// Holds the [`io::ErrorKind`] and OS error number rather than the [`io::Error`] itself, so
/// [`Error`] stays `Clone` and comparable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoError {
    context: String,
    kind: io::ErrorKind,
    os_code: Option<i32>,
    detail: String,
}

impl IoError {
    /// What liblqft was doing (for example `"fdatasync wal/00000001.wal"`).
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The kind of the underlying [`io::Error`].
    pub fn kind(&self) -> io::ErrorKind {
        self.kind
    }

    /// The operating system's error number (`errno`), when the failure came from the OS.
    pub fn os_code(&self) -> Option<i32> {
        self.os_code
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.detail)
    }
}

impl Error {
    /// An [`Error::Io`] for `error`, met while doing `context`.
    pub fn io(context: impl Into<String>, error: &io::Error) -> Error {
        Error::Io(IoError {
            context: context.into(),
            kind: error.kind(),
            os_code: error.raw_os_error(),
            detail: error.to_string(),
        })
    }
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
            Error::DuplicateSnapshot { id } => write!(
                f,
                "snapshot id {id} is already used in this map (ids are never reused); load it \
                 under a fresh id (SnapshotIds::Fresh, LQFT_IDS_FRESH)"
            ),
            Error::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            Error::Corrupt(why) => write!(f, "corrupt data: {why}"),
            Error::Io(error) => write!(f, "i/o error: {error}"),
            Error::Conflict => write!(
                f,
                "another writer changed a key this transaction read; nothing was committed, \
                 run the transaction again"
            ),
            Error::Locked { path } => write!(
                f,
                "{path} is locked by another writer; close it there, or open this store read-only"
            ),
            Error::Poisoned { cause } => write!(
                f,
                "the store refuses writes after an earlier failure ({cause}); \
                 reopen it to recover every acknowledged write"
            ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_keeps_kind_errno_and_context() {
        let os = io::Error::from_raw_os_error(libc::ENOSPC);
        let error = Error::io("write wal/00000001.wal", &os);
        let Error::Io(io_error) = &error else {
            panic!("not an i/o error: {error:?}");
        };
        assert_eq!(io_error.kind(), io::ErrorKind::StorageFull);
        assert_eq!(io_error.os_code(), Some(libc::ENOSPC));
        assert_eq!(io_error.context(), "write wal/00000001.wal");
        assert!(error.to_string().contains("write wal/00000001.wal"));
        assert_eq!(error.clone(), error);
    }

    #[test]
    fn poisoned_error_names_its_cause_and_what_to_do() {
        let cause = Error::io("fdatasync wal", &io::Error::from_raw_os_error(libc::EIO));
        let error = Error::Poisoned {
            cause: Box::new(cause),
        };
        let text = error.to_string();
        assert!(text.contains("fdatasync wal"), "{text}");
        assert!(text.contains("reopen"), "{text}");
    }
}
