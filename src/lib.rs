//! liblqft: an embeddable, versioned, verifiable key-value engine.
//!
//! The core is a persistent, canonical, ordered Merkle trie ([`Tree`]) and a versioned map built
//! on it ([`Map`]) with O(1) snapshots, rollback, O(changes) diff, retention and counted stats.
//! Keys and values are arbitrary bytes.
//!
//! ```
//! use lqft::{Map, RollbackPolicy};
//!
//! let map = Map::new();
//! map.put(b"alpha", b"1").unwrap();
//! let first = map.snapshot();
//! map.put(b"alpha", b"2").unwrap();
//! assert_eq!(first.get(b"alpha"), Some(&b"1"[..]));
//! map.rollback(&first, RollbackPolicy::Discard).unwrap();
//! assert_eq!(map.get(b"alpha").as_deref(), Some(&b"1"[..]));
//! ```

// The C API is `ffi` alone: maturin (python/) runs cbindgen over the whole crate, so every
// other module is hidden from it (tests/header.rs checks the result).
/// cbindgen:ignore
pub mod engine;
/// cbindgen:ignore
mod error;
#[doc(hidden)]
pub mod ffi;
/// cbindgen:ignore
mod file;
/// cbindgen:ignore
pub mod formats;
/// cbindgen:ignore
pub mod store;
/// cbindgen:ignore
pub mod tree;

/// cbindgen:ignore
mod varint;

pub use engine::{
    Batch, BatchOp, CompactReport, ImportOptions, Imported, MAX_SNAPSHOT_ID, Map, ReadSession,
    RollbackOutcome, RollbackPolicy, ShardedMap, ShardedSnapshot, Snapshot, SnapshotIds,
    SnapshotMeta, TryEntries, Txn, Value,
};
pub use error::{Error, IoError, MAX_KEY_LEN, MAX_VALUE_LEN, Result};
pub use tree::{
    Diff, DiffEntry, DiffKind, Hash, Iter, OwnedDiff, Range, Tree, TryDiff, TryOwnedDiff, TryRange,
};
