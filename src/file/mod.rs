//! File-system primitives: every file liblqft reads, replaces or resolves goes through them.
//!
//! - [`read`]: open for reading without blocking, only regular files, size cap before reading.
//! - [`replace`]: atomic, durable replacement (temporary file in the same directory, fsync,
//!   rename or create-only link, fsync of the directory), keeping the replaced file's mode.
//! - [`confine`]: resolving a relative path inside a directory, following every symlink.
//!
//! They return [`FileError`], whose variants say what the caller needs to know (a cap, a
//! non-regular file, a missing directory, an escape) without parsing messages.
//!
//! [`read`]: crate::file::read
//! [`replace`]: crate::file::replace
//! [`confine`]: crate::file::confine
//! [`FileError`]: crate::file::FileError

pub(crate) mod confine;
pub(crate) mod read;
pub(crate) mod replace;

use std::fmt;
use std::fs::FileType;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// A failed file operation.
#[derive(Debug)]
pub(crate) enum FileError {
    /// A system call failed.
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    /// The path names something other than a regular file (a directory, FIFO, device,
    /// socket, or a symbolic link where links are not followed).
    NotRegular { path: PathBuf, found: &'static str },
    /// The file is larger than the cap its reader applies.
    TooLarge {
        path: PathBuf,
        what: &'static str,
        cap: u64,
    },
    /// The directory that should hold a new file does not exist.
    MissingDirectory { path: PathBuf, dir: PathBuf },
    /// A path leads outside the directory it must stay in.
    Escapes { path: PathBuf, base: PathBuf },
}

impl FileError {
    pub(crate) fn io(path: &Path, action: &'static str, source: io::Error) -> FileError {
        FileError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }

    /// The operating system's error, if a system call failed.
    pub(crate) fn io_source(&self) -> Option<&io::Error> {
        match self {
            FileError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io {
                path,
                action,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            FileError::NotRegular { path, found } => write!(
                f,
                "{} is {found}, not a regular file (liblqft reads and replaces regular files only)",
                path.display()
            ),
            FileError::TooLarge { path, what, cap } => write!(
                f,
                "{what} {} is over the cap of {cap} bytes",
                path.display()
            ),
            FileError::MissingDirectory { path, dir } => write!(
                f,
                "cannot write {}: directory {} does not exist (create it first)",
                path.display(),
                dir.display()
            ),
            FileError::Escapes { path, base } => {
                write!(f, "{} leads outside {}", path.display(), base.display())
            }
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.io_source()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// For callers whose errors are `io::Error`: the system's error when a call failed, else an
/// error of the nearest kind carrying this error's message.
impl From<FileError> for io::Error {
    fn from(error: FileError) -> io::Error {
        let kind = match &error {
            FileError::Io { source, .. } => source.kind(),
            FileError::TooLarge { .. } => io::ErrorKind::FileTooLarge,
            FileError::MissingDirectory { .. } => io::ErrorKind::NotFound,
            FileError::NotRegular { .. } | FileError::Escapes { .. } => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, error)
    }
}

/// What a file type is, for messages ("a directory", "a FIFO", ...).
pub(crate) fn describe(file_type: FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A fresh directory under the system temp dir, removed on drop.
    pub(crate) struct TempDir(pub PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> TempDir {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "lqft-file-{tag}-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        pub(crate) fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
