//! liblqft's store and the durable engines it is measured against, behind one small trait, and
//! the workloads that measure them. `benches/durable.rs` runs the workloads side by side.
//!
//! Every engine runs with its durable default: LMDB (`heed`) syncs the data file on each commit,
//! redb commits with `Durability::Immediate`, SQLite runs in WAL mode with `synchronous=FULL`.

use std::path::Path;
use std::sync::Mutex;

mod engines;
mod lqft_store;

pub use engines::{Lmdb, Redb, Sqlite};
pub use lqft_store::Lqft;

/// A key-value engine that keeps its data in a directory.
pub trait Engine: Sync + Sized {
    /// The name printed in tables.
    const NAME: &'static str;

    /// Creates an empty database in the empty directory `dir`.
    fn create(dir: &Path) -> Self;

    /// Opens the database a previous [`create`](Engine::create) left in `dir` (after a clean
    /// close: the value was dropped).
    fn open(dir: &Path) -> Self;

    /// One durable transaction that puts one entry; returns once the commit is on disk.
    fn put_durable(&self, key: &[u8], value: &[u8]);

    /// One durable transaction that puts every entry.
    fn batch_durable(&self, entries: &[(&[u8], &[u8])]);

    /// Loads every entry as fast as the engine allows, durable when it returns.
    fn bulk_load(&self, entries: &[(&[u8], &[u8])]);

    /// Runs `read` with a reader that looks up keys (returning the value's length), in the
    /// engine's cheapest way to make many point reads (one read transaction for all of them).
    fn with_reader<R>(&self, read: impl FnOnce(&dyn Fn(&[u8]) -> Option<usize>) -> R) -> R;
}

/// Bytes the files below `dir` take on disk (allocated blocks, so sparse files count what they
/// really use).
pub fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read bench directory") {
            let entry = entry.expect("read bench directory entry");
            let meta = entry.metadata().expect("stat bench file");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    total
}

/// A `Sync` wrapper for engines whose handle may move between threads but not be shared.
pub(crate) struct Shared<T>(Mutex<T>);

impl<T> Shared<T> {
    pub(crate) fn new(inner: T) -> Shared<T> {
        Shared(Mutex::new(inner))
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.lock().expect("engine mutex poisoned"))
    }
}
