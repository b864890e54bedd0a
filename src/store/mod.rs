//! The durable store: a directory holding a write-ahead log, immutable node packs and numbered
//! manifests (see `docs/DESIGN.md` and `docs/FORMAT.md`).
//!
//! Every file access goes through the [`FileSystem`] trait: [`RealFs`] for the operating
//! system, [`sim::SimFs`] for crash and fault tests.
//!
//! [`FileSystem`]: crate::store::FileSystem
//! [`RealFs`]: crate::store::RealFs
//! [`sim::SimFs`]: crate::store::sim::SimFs

mod backup;
mod changes;
mod fs;
mod handle;
pub mod log;
pub mod manifest;
mod open_packs;
pub mod pack;
pub mod record;
pub mod sim;
mod stats;
pub mod wal;

pub use backup::BackupReport;
pub use fs::{FileSystem, FsFile, FsLock, OpenMode, RealFs};
pub use handle::{DEFAULT_CACHE_BYTES, Store, StoreCounters, StoreOptions};
pub use log::Durability;
