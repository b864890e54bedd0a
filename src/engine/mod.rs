//! The versioned map engine: [`Map`], [`Snapshot`], batches, transactions, retention and stats.

mod batch;
pub mod journal;
mod live;
mod map;
mod merge;
mod rw_set;
mod sharded;
mod sharded_version;
mod snapshot;
mod stats;
mod touched;
mod txn;

/// The least key above every key that starts with `prefix` (`None`: no such key), which ends a
/// prefix scan.
pub(crate) use crate::tree::prefix_end;
pub use batch::{Batch, BatchOp};
pub use map::{
    CompactReport, Entries, Entry, ImportOptions, Imported, Map, ReadSession, RollbackOutcome,
    RollbackPolicy, SnapshotIds, TryEntries, Value,
};
pub use merge::{Keyed, Merge, Merged, MergedDiff};
pub use rw_set::{Observed, Read, Reads, Writes};
pub use sharded::{ShardedMap, route_hash, shard_of};
pub use sharded_version::{ShardedSnapshot, ShardedView};
pub use snapshot::{MAX_SNAPSHOT_ID, Snapshot, SnapshotMeta};
pub use txn::{Txn, TxnTarget};
