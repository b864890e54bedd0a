//! Atomic, durable replacement of a file.
//!
//! [`Staged::create`] makes a temporary file in the target's own directory (so the final
//! rename never crosses a file system) under a short name (`.lqft-<pid>-<n>.tmp`, whatever
//! the length of the target's name, so a target name of up to `NAME_MAX` bytes works); the
//! caller writes it; [`Staged::publish`] fsyncs it, renames it over the target (or links it
//! to a new name, refusing an existing one) and fsyncs the directory. Until it is published,
//! the target is untouched; a staged file that is dropped unpublished is removed.
//!
//! Rules:
//! - the target's directory must exist: nothing creates directories behind the caller;
//! - the target must be a regular file or absent: a directory, device, FIFO, socket or
//!   symbolic link is refused, never replaced (write to a link's target by naming it);
//! - the new file keeps the permission bits of the file it replaces (owner and group are
//!   those of the writing process), a new file gets `0666 & ~umask`, and a private file is
//!   always `0600`.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{FileError, describe};

/// Who may read a new file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// The replaced file's permission bits, or the umask's default for a new file.
    Inherit,
    /// Owner read/write only (`0600`), whatever was there: for private keys.
    Private,
}

/// How a staged file takes its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Publish {
    /// Atomically replace whatever regular file has the name (`rename`).
    Replace,
    /// Take the name only if nothing has it (`link`, which fails on an existing name), so a
    /// file created meanwhile by someone else is never overwritten.
    CreateNew,
}

/// The directory holding `path` and the file name in it, refusing paths that name no file
/// (`""`, `"/"`, `"d/"`, `"d/."`, `"d/.."`).
fn split(path: &Path) -> Result<(PathBuf, &OsStr), FileError> {
    let bytes = path.as_os_str().as_bytes();
    let names_dir = bytes.ends_with(b"/") || bytes.ends_with(b"/.") || bytes == b".";
    match path.file_name() {
        Some(name) if !names_dir => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            Ok((dir, name))
        }
        _ => Err(FileError::io(
            path,
            "write",
            io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
        )),
    }
}

/// Checks that `dir` exists and is a directory.
fn existing_dir(path: &Path, dir: &Path) -> Result<fs::Metadata, FileError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(meta),
        Ok(_) => Err(FileError::io(
            path,
            "write",
            io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(FileError::MissingDirectory {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        }),
        Err(e) => Err(FileError::io(dir, "inspect", e)),
    }
}

/// What is at `path` now: `None` if nothing, the metadata of a regular file, or an error for
/// anything else (links are not followed).
pub(crate) fn replaceable(path: &Path) -> Result<Option<fs::Metadata>, FileError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => Ok(Some(meta)),
        Ok(meta) => Err(FileError::NotRegular {
            path: path.to_path_buf(),
            found: describe(meta.file_type()),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FileError::io(path, "inspect", e)),
    }
}

/// Whether writing `a` and `b` would write one file: the same name in the same directory
/// (compared by the directories' identity, so `d/k` and `d/../d/k` or a symlinked directory
/// are one), or two names of one existing file.
pub(crate) fn same_target(a: &Path, b: &Path) -> Result<bool, FileError> {
    let (dir_a, name_a) = split(a)?;
    let (dir_b, name_b) = split(b)?;
    let (meta_a, meta_b) = (existing_dir(a, &dir_a)?, existing_dir(b, &dir_b)?);
    if (meta_a.dev(), meta_a.ino(), name_a) == (meta_b.dev(), meta_b.ino(), name_b) {
        return Ok(true);
    }
    Ok(match (fs::metadata(a), fs::metadata(b)) {
        (Ok(fa), Ok(fb)) => (fa.dev(), fa.ino()) == (fb.dev(), fb.ino()),
        _ => false,
    })
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file waiting to replace its target; removed if dropped unpublished.
#[derive(Debug)]
pub(crate) struct Staged {
    target: PathBuf,
    dir: PathBuf,
    temp: PathBuf,
    file: File,
    published: bool,
}

impl Staged {
    /// Checks the target (its directory exists; it is a regular file or absent) and creates
    /// the temporary file beside it with the permissions `access` gives.
    pub(crate) fn create(target: &Path, access: Access) -> Result<Staged, FileError> {
        let (dir, _) = split(target)?;
        existing_dir(target, &dir)?;
        let existing = replaceable(target)?;
        let mode = match access {
            Access::Private => Some(0o600),
            Access::Inherit => existing.map(|m| m.permissions().mode() & 0o777),
        };
        let (temp, file) = create_temp(&dir, mode.unwrap_or(0o666))?;
        let staged = Staged {
            target: target.to_path_buf(),
            dir,
            temp,
            file,
            published: false,
        };
        if let Some(mode) = mode {
            // Set explicitly: the creation mode above is narrowed by the umask.
            staged
                .file
                .set_permissions(Permissions::from_mode(mode))
                .map_err(|e| FileError::io(&staged.temp, "set the mode of", e))?;
        }
        Ok(staged)
    }

    /// The temporary file, for writing.
    pub(crate) fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The temporary file's path, for error messages.
    pub(crate) fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Makes the written file durable and gives it the target's name: fsync the file, rename
    /// (or link, for [`Publish::CreateNew`]) it, fsync the directory. On an error before the
    /// rename the target is untouched; an error from the directory fsync means the new file
    /// is in place but may not survive a crash.
    pub(crate) fn publish(mut self, how: Publish) -> Result<(), FileError> {
        self.file
            .sync_all()
            .map_err(|e| FileError::io(&self.temp, "fsync", e))?;
        match how {
            Publish::Replace => {
                // The target may have changed kind since `create`; never replace a non-file.
                replaceable(&self.target)?;
                fs::rename(&self.temp, &self.target)
                    .map_err(|e| FileError::io(&self.target, "rename into", e))?;
            }
            Publish::CreateNew => match fs::hard_link(&self.temp, &self.target) {
                Ok(()) => {
                    // The data now has both names; the temporary one goes.
                    let _ = fs::remove_file(&self.temp);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(FileError::io(&self.target, "create", e));
                }
                // A file system without hard links: a rename that refuses an existing name.
                Err(link_error) => rename_no_replace(&self.temp, &self.target, link_error)?,
            },
        }
        self.published = true;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| FileError::io(&self.dir, "fsync", e))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Renames `temp` to `target` unless `target` exists, atomically (`renameat2` with
/// `RENAME_NOREPLACE`): never a check followed by a rename, which another writer creating
/// `target` in between would lose its file to. Where the kernel or file system cannot refuse
/// atomically, fails with `link_error` (why the hard link, the first choice, failed).
fn rename_no_replace(temp: &Path, target: &Path, link_error: io::Error) -> Result<(), FileError> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, temp, CWD, target, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::EXIST) => Err(FileError::io(
            target,
            "create",
            io::Error::from(io::ErrorKind::AlreadyExists),
        )),
        Err(_) => Err(FileError::io(target, "create", link_error)),
    }
}

/// Creates a new temporary file in `dir` with a name no other writer holds.
fn create_temp(dir: &Path, mode: u32) -> Result<(PathBuf, File), FileError> {
    let mut attempts = 0;
    loop {
        let name = format!(
            ".lqft-{}-{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let temp = dir.join(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)
        {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => attempts += 1,
            Err(e) => return Err(FileError::io(&temp, "create", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::TempDir;
    use std::io::Write;

    /// Replaces `target` with `bytes`.
    fn replace_with_bytes(target: &Path, access: Access, bytes: &[u8]) -> Result<(), FileError> {
        let mut staged = Staged::create(target, access)?;
        let temp = staged.temp_path().to_path_buf();
        staged
            .file()
            .write_all(bytes)
            .map_err(|e| FileError::io(&temp, "write", e))?;
        staged.publish(Publish::Replace)
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn an_unpublished_file_leaves_the_target_and_directory_as_they_were() {
        let dir = TempDir::new("replace-drop");
        let target = dir.path("t");
        fs::write(&target, b"old").unwrap();
        let mut staged = Staged::create(&target, Access::Inherit).unwrap();
        staged.file().write_all(b"new").unwrap();
        drop(staged);
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(entries(&dir.0), ["t"]);
    }

    #[test]
    fn create_new_refuses_a_name_taken_after_staging() {
        let dir = TempDir::new("replace-new");
        let target = dir.path("t");
        let mut staged = Staged::create(&target, Access::Inherit).unwrap();
        staged.file().write_all(b"mine").unwrap();
        fs::write(&target, b"theirs").unwrap();
        assert!(staged.publish(Publish::CreateNew).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"theirs");
        assert_eq!(entries(&dir.0), ["t"]);

        let mut staged = Staged::create(&dir.path("u"), Access::Inherit).unwrap();
        staged.file().write_all(b"mine").unwrap();
        staged.publish(Publish::CreateNew).unwrap();
        assert_eq!(fs::read(dir.path("u")).unwrap(), b"mine");
        assert_eq!(entries(&dir.0), ["t", "u"]);
    }

    #[test]
    fn without_hard_links_create_new_never_replaces_a_file_another_writer_created() {
        // Two writers race to create the same name through the no-hard-link path, many times:
        // exactly one wins each time and the file is the winner's.
        let dir = TempDir::new("replace-race");
        for round in 0..300 {
            let target = dir.path(&format!("t{round}"));
            let wins: Vec<bool> = std::thread::scope(|scope| {
                let racers: Vec<_> = [b"first", b"other"]
                    .into_iter()
                    .map(|data| {
                        let (target, dir) = (&target, &dir);
                        scope.spawn(move || {
                            let temp = dir.path(&format!("{round}-{}.tmp", data[0]));
                            fs::write(&temp, data).unwrap();
                            let unsupported = io::Error::from_raw_os_error(libc::EPERM);
                            let won = rename_no_replace(&temp, target, unsupported).is_ok();
                            let _ = fs::remove_file(&temp);
                            won
                        })
                    })
                    .collect();
                racers.into_iter().map(|r| r.join().unwrap()).collect()
            });
            assert_eq!(wins.iter().filter(|w| **w).count(), 1, "round {round}");
            let expected: &[u8] = if wins[0] { b"first" } else { b"other" };
            assert_eq!(fs::read(&target).unwrap(), expected, "round {round}");
        }
    }

    #[test]
    fn modes_are_kept_private_or_inherited_exactly() {
        let dir = TempDir::new("replace-mode");
        let target = dir.path("t");
        fs::write(&target, b"old").unwrap();
        for mode in [0o600, 0o640, 0o604, 0o666] {
            fs::set_permissions(&target, Permissions::from_mode(mode)).unwrap();
            replace_with_bytes(&target, Access::Inherit, b"new").unwrap();
            let got = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
            assert_eq!(got, mode);
        }
        replace_with_bytes(&target, Access::Private, b"key").unwrap();
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn paths_that_name_no_file_are_refused() {
        for path in ["", "/", "d/", "d/.", "."] {
            assert!(
                Staged::create(Path::new(path), Access::Inherit).is_err(),
                "{path:?}"
            );
        }
    }

    #[test]
    fn one_file_by_two_spellings_is_one_target() {
        let dir = TempDir::new("replace-same");
        fs::create_dir(dir.path("d")).unwrap();
        std::os::unix::fs::symlink(dir.path("d"), dir.path("link")).unwrap();
        let a = dir.path("d/k.pem");
        for b in ["d/../d/k.pem", "link/k.pem", "d/./k.pem"] {
            assert!(same_target(&a, &dir.path(b)).unwrap(), "{b}");
        }
        assert!(!same_target(&a, &dir.path("d/k2.pem")).unwrap());
        fs::write(&a, b"k").unwrap();
        std::os::unix::fs::symlink(&a, dir.path("alias.pem")).unwrap();
        assert!(same_target(&a, &dir.path("alias.pem")).unwrap());
    }
}
