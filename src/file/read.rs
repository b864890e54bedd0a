//! Opening files for reading: never blocking, regular files only, capped before reading.
//!
//! The open uses `O_NONBLOCK`, so a FIFO (or a device that waits for a peer) returns at once
//! instead of hanging the caller; the type is then checked on the open handle, so what is
//! checked is what is read. `O_NONBLOCK` has no effect on reads of a regular file.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::{FileError, describe};

/// Whether the last component of a path may be a symbolic link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Links {
    /// Follow it (paths a user typed: a key file may well be a link).
    Follow,
    /// Refuse it (`O_NOFOLLOW`): for paths already resolved by [`super::confine`], so a link
    /// swapped in after the resolution is not followed out of the directory.
    Refuse,
}

/// Opens `path` for reading if it is a regular file; returns it with its size.
pub(crate) fn open_regular(path: &Path, links: Links) -> Result<(File, u64), FileError> {
    open_existing(path, false, links)
}

/// Opens the existing regular file `path` for reading, and for writing too when `write`
/// (without creating or truncating it); returns it with its size.
pub(crate) fn open_existing(
    path: &Path,
    write: bool,
    links: Links,
) -> Result<(File, u64), FileError> {
    let mut flags = libc::O_NONBLOCK;
    if links == Links::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let opened = OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(flags)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) => {
            // A socket fails to open (ENXIO) and a refused link fails with ELOOP: name what
            // the path is rather than the errno.
            let meta = match links {
                Links::Follow => std::fs::metadata(path),
                Links::Refuse => std::fs::symlink_metadata(path),
            };
            if let Ok(meta) = meta
                && !meta.file_type().is_file()
            {
                return Err(FileError::NotRegular {
                    path: path.to_path_buf(),
                    found: describe(meta.file_type()),
                });
            }
            return Err(FileError::io(path, "open", e));
        }
    };
    let meta = file
        .metadata()
        .map_err(|e| FileError::io(path, "inspect", e))?;
    if !meta.file_type().is_file() {
        return Err(FileError::NotRegular {
            path: path.to_path_buf(),
            found: describe(meta.file_type()),
        });
    }
    Ok((file, meta.len()))
}

/// Reads the regular file `path` whole if it holds at most `cap` bytes; a larger file is
/// [`FileError::TooLarge`], found from its size before anything is read (and again while
/// reading, should it grow). `what` names the file in messages ("key file").
pub(crate) fn read_capped(
    path: &Path,
    cap: u64,
    what: &'static str,
    links: Links,
) -> Result<Vec<u8>, FileError> {
    let too_large = || FileError::TooLarge {
        path: path.to_path_buf(),
        what,
        cap,
    };
    let (file, len) = open_regular(path, links)?;
    if len > cap {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::io(path, "read", e))?;
    if bytes.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::TempDir;

    #[test]
    fn directories_devices_and_fifos_are_refused_without_blocking() {
        let dir = TempDir::new("read-kinds");
        let fifo = dir.path("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        for (path, found) in [
            (dir.0.as_path(), "a directory"),
            (Path::new("/dev/zero"), "a character device"),
            (fifo.as_path(), "a FIFO"),
        ] {
            match read_capped(path, 10, "file", Links::Follow) {
                Err(FileError::NotRegular { found: f, .. }) => assert_eq!(f, found),
                other => panic!("{}: {other:?}", path.display()),
            }
        }
    }

    #[test]
    fn the_cap_is_checked_before_reading_and_links_are_refused_on_request() {
        let dir = TempDir::new("read-cap");
        let file = dir.path("f");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(
            read_capped(&file, 5, "file", Links::Follow).unwrap(),
            b"12345"
        );
        assert!(matches!(
            read_capped(&file, 4, "file", Links::Follow),
            Err(FileError::TooLarge { cap: 4, .. })
        ));
        let link = dir.path("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(read_capped(&link, 5, "file", Links::Follow).is_ok());
        assert!(matches!(
            read_capped(&link, 5, "file", Links::Refuse),
            Err(FileError::NotRegular {
                found: "a symbolic link",
                ..
            })
        ));
    }
}
