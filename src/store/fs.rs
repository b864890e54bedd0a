//! The one file-system interface every store file access goes through.
//!
//! Small on purpose: positioned reads and writes, `fdatasync`, truncation, create-only publish,
//! listing, removal, directory sync and the writer lock. [`RealFs`] maps it onto the operating
//! system; [`SimFs`](super::sim::SimFs) keeps files in memory and injects faults and crashes for
//! tests; an object-store back-end fits the same shape (packs and manifests are written once and
//! published create-only, which is what conditional puts offer).
//!
//! Paths are relative to the store's directory and use `/` (for example `wal/00000001.wal`).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::file::read::{self, Links};

/// How [`FileSystem::open`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// An existing file, read only.
    Read,
    /// An existing file, read and write (the WAL tail that recovery may truncate).
    ReadWrite,
    /// A new file for writing; fails with [`io::ErrorKind::AlreadyExists`] if the name is taken.
    CreateNew,
}

/// An open file.
pub trait FsFile: Send + Sync {
    /// Reads `buf.len()` bytes at `offset`; fails with [`io::ErrorKind::UnexpectedEof`] if the
    /// file ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `bytes` at `offset`.
    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()>;
    /// `fdatasync`: makes the file's written bytes (and its size) durable.
    fn sync_data(&self) -> io::Result<()>;
    /// Sets the file's length (truncating or zero-extending).
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// The file's current length.
    fn size(&self) -> io::Result<u64>;
}

/// A held writer lock; released when dropped (or when the process dies).
pub trait FsLock: Send + Sync {}

/// The operations a store needs from where its files live.
pub trait FileSystem: Send + Sync {
    /// Creates `dir` (and its parents) if missing; every directory it created is durable (its
    /// entry synced in its parent) when this returns.
    fn create_dir_all(&self, dir: &str) -> io::Result<()>;
    /// Opens `path`.
    fn open(&self, path: &str, mode: OpenMode) -> io::Result<Arc<dyn FsFile>>;
    /// The names (not paths) of the files in `dir`, in no particular order.
    fn list(&self, dir: &str) -> io::Result<Vec<String>>;
    /// Gives the fully written and synced file `from` the name `to`, failing with
    /// [`io::ErrorKind::AlreadyExists`] if `to` exists (create-only publish); `from` is gone
    /// afterwards. The new name is durable after [`sync_dir`](FileSystem::sync_dir).
    fn publish(&self, from: &str, to: &str) -> io::Result<()>;
    /// Removes the file `path`.
    fn remove(&self, path: &str) -> io::Result<()>;
    /// Makes `dir`'s entries (created, published and removed names) durable.
    fn sync_dir(&self, dir: &str) -> io::Result<()>;
    /// Takes the exclusive writer lock on `path` without waiting; `Ok(None)` when another writer
    /// holds it.
    fn try_lock(&self, path: &str) -> io::Result<Option<Box<dyn FsLock>>>;
}

/// The operating system's file system, rooted at a directory.
///
/// Reads and writes are positioned (`pread`/`pwrite`), never memory-mapped, so an I/O error
/// reaches the caller as an error rather than a signal.
#[derive(Debug, Clone)]
pub struct RealFs {
    root: PathBuf,
}

impl RealFs {
    /// The file system below `root`.
    pub fn new(root: impl Into<PathBuf>) -> RealFs {
        RealFs { root: root.into() }
    }

    fn path(&self, relative: &str) -> PathBuf {
        if relative.is_empty() {
            self.root.clone()
        } else {
            self.root.join(relative)
        }
    }
}

struct RealFile(File);

impl FsFile for RealFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.0.read_exact_at(buf, offset)
    }

    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_all_at(bytes, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

/// An open file with an exclusive `flock`; the kernel drops the lock when the file closes,
/// including when the process dies.
struct RealLock {
    _file: File,
}

impl FsLock for RealLock {}

impl FileSystem for RealFs {
    fn create_dir_all(&self, dir: &str) -> io::Result<()> {
        // A new directory's name is durable only once its parent is synced; without that a
        // crash may take `wal/` away with the synced segments in it.
        let mut created = Vec::new();
        let mut path = self.path(dir);
        while !path.as_os_str().is_empty() && !path.is_dir() {
            created.push(path.clone());
            path.pop();
        }
        fs::create_dir_all(self.path(dir))?;
        for new in created.iter().rev() {
            let parent = new.parent().filter(|p| !p.as_os_str().is_empty());
            File::open(parent.unwrap_or(Path::new(".")))?.sync_all()?;
        }
        Ok(())
    }

    fn open(&self, path: &str, mode: OpenMode) -> io::Result<Arc<dyn FsFile>> {
        let path = self.path(path);
        // An existing file is opened without blocking and must be a regular file, so a FIFO
        // or device under a store file's name is an error, never a hang.
        let file = match mode {
            OpenMode::Read => read::open_existing(&path, false, Links::Follow)?.0,
            OpenMode::ReadWrite => read::open_existing(&path, true, Links::Follow)?.0,
            OpenMode::CreateNew => OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(path)?,
        };
        Ok(Arc::new(RealFile(file)))
    }

    fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(self.path(dir))? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(names)
    }

    fn publish(&self, from: &str, to: &str) -> io::Result<()> {
        // link(2) fails if `to` exists, which rename(2) would silently replace.
        fs::hard_link(self.path(from), self.path(to))?;
        fs::remove_file(self.path(from))
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        fs::remove_file(self.path(path))
    }

    fn sync_dir(&self, dir: &str) -> io::Result<()> {
        File::open(self.path(dir))?.sync_all()
    }

    fn try_lock(&self, path: &str) -> io::Result<Option<Box<dyn FsLock>>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.path(path))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Box::new(RealLock { _file: file }))),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(error)) => Err(error),
        }
    }
}

/// The parent directory of a relative store path (`""` for a top-level name).
pub(crate) fn parent(path: &str) -> &str {
    Path::new(path)
        .parent()
        .and_then(Path::to_str)
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lqft-fs-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn real_fs_refuses_fifos_and_directories_without_blocking() {
        let dir = temp_dir("kinds");
        let fs = RealFs::new(&dir);
        fs.create_dir_all("packs/sub").unwrap();
        let fifo = dir.join("packs/fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        for path in ["packs/fifo", "packs/sub"] {
            for mode in [OpenMode::Read, OpenMode::ReadWrite] {
                let error = fs.open(path, mode).err().expect(path);
                assert!(error.to_string().contains("not a regular file"), "{error}");
            }
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn real_fs_publish_refuses_an_existing_name() {
        let dir = temp_dir("publish");
        let fs = RealFs::new(&dir);
        fs.create_dir_all("m").unwrap();
        for name in ["m/a.tmp", "m/b.tmp"] {
            let file = fs.open(name, OpenMode::CreateNew).unwrap();
            file.write_all_at(name.as_bytes(), 0).unwrap();
            file.sync_data().unwrap();
        }
        fs.publish("m/a.tmp", "m/1").unwrap();
        let error = fs.publish("m/b.tmp", "m/1").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        let mut names = fs.list("m").unwrap();
        names.sort();
        assert_eq!(names, ["1", "b.tmp"]);
        let mut buf = [0; 6];
        fs.open("m/1", OpenMode::Read)
            .unwrap()
            .read_exact_at(&mut buf, 0)
            .unwrap();
        assert_eq!(&buf, b"m/a.tm");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn real_fs_lock_is_exclusive_until_dropped() {
        let dir = temp_dir("lock");
        let fs = RealFs::new(&dir);
        let held = fs.try_lock("LOCK").unwrap().expect("first lock");
        assert!(fs.try_lock("LOCK").unwrap().is_none());
        drop(held);
        assert!(fs.try_lock("LOCK").unwrap().is_some());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn real_fs_creates_nested_directories_and_syncs_their_parents() {
        let dir = temp_dir("mkdir");
        let fs = RealFs::new(dir.join("store"));
        fs.create_dir_all("wal/a/b").unwrap();
        fs.create_dir_all("wal/a/b").unwrap();
        assert!(dir.join("store/wal/a/b").is_dir());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn parent_of_a_store_path() {
        assert_eq!(parent("wal/00000001.wal"), "wal");
        assert_eq!(parent("LOCK"), "");
    }
}
