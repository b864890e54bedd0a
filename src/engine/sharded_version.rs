//! Versions of a sharded map: every shard's tree as of one consistent cut, registered
//! ([`ShardedSnapshot`]) or not ([`ShardedView`]).

use std::ops::Bound;
use std::sync::Arc;

use crate::engine::map::Entries;
use crate::engine::merge::{Merge, Merged, MergedDiff};
use crate::engine::sharded::shard_of;
use crate::engine::snapshot::{MapId, Snapshot, SnapshotMeta};
use crate::error::{Error, Result};
use crate::tree::{Hash, Tree, prefix_end};

/// The Merkle root of a sharded version whose shards have `roots`, in shard order; see the
/// [sharded map's docs](crate::engine::ShardedMap).
pub(super) fn sharded_root(roots: impl ExactSizeIterator<Item = Hash>) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"lqft-sharded-root-v1");
    hasher.update(&(roots.len() as u32).to_le_bytes());
    for root in roots {
        hasher.update(&root);
    }
    *hasher.finalize().as_bytes()
}

/// The entries of `trees` (one per shard) between the bounds, merged into key order.
fn merged<'a>(
    trees: impl Iterator<Item = &'a Tree>,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
) -> Merged {
    Merge::new(trees.map(|tree| Entries::new(tree, start, end)))
}

/// An immutable version of every shard, taken as one consistent cut.
///
/// Cheap to clone; readable from any thread for as long as a handle exists, even after the
/// registry pruned it or the map is gone.
#[derive(Clone, Debug)]
pub struct ShardedSnapshot {
    pub(super) meta: SnapshotMeta,
    /// Shared by the clones (the registry's, the current one, the caller's).
    pub(super) shards: Arc<[Snapshot]>,
    /// The sharded map whose id space `meta.id` belongs to.
    pub(super) map: MapId,
}

impl ShardedSnapshot {
    /// The metadata: id, generation and parent among this map's sharded snapshots; counts
    /// summed over the shards.
    pub fn meta(&self) -> &SnapshotMeta {
        &self.meta
    }

    /// The snapshot's id.
    pub fn id(&self) -> u64 {
        self.meta.id
    }

    /// The value under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.shards[shard_of(key, self.shards.len())].get(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.shards[shard_of(key, self.shards.len())].contains_key(key)
    }

    /// Number of entries in all shards.
    pub fn len(&self) -> u64 {
        self.meta.size
    }

    /// Whether the snapshot has no entries.
    pub fn is_empty(&self) -> bool {
        self.meta.size == 0
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Every shard's version, in shard order.
    pub fn shards(&self) -> &[Snapshot] {
        &self.shards
    }

    /// All entries of all shards, in key order. O(s · d) to start, O(s) per entry.
    pub fn iter(&self) -> Merged {
        self.range_bounds(Bound::Unbounded, Bound::Unbounded)
    }

    /// Entries with `start <= key < end`, in key order.
    pub fn range(&self, start: &[u8], end: &[u8]) -> Merged {
        self.range_bounds(Bound::Included(start), Bound::Excluded(end))
    }

    /// Entries within arbitrary bounds, in key order.
    pub fn range_bounds(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Merged {
        merged(self.shards.iter().map(Snapshot::tree), start, end)
    }

    /// Entries whose key starts with `prefix`, in key order.
    pub fn prefix(&self, prefix: &[u8]) -> Merged {
        let end = prefix_end(prefix);
        let end = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        self.range_bounds(Bound::Included(prefix), end)
    }

    /// The Merkle root of the whole; see the [sharded map's docs](crate::engine::ShardedMap).
    pub fn root_hash(&self) -> Hash {
        sharded_root(self.shards.iter().map(Snapshot::root_hash))
    }

    /// The changes that turn this snapshot into `newer` (of the same shard count), in key
    /// order, costing O(changes) to walk.
    ///
    /// Fails with [`Error::InvalidArgument`] when the shard counts differ.
    pub fn diff(&self, newer: &ShardedSnapshot) -> Result<MergedDiff> {
        check_shards(self.shards.len(), newer.shards.len())?;
        Ok(Merge::new(
            self.shards
                .iter()
                .zip(newer.shards.iter())
                .map(|(old, new)| old.diff_owned(new)),
        ))
    }
}

/// Refuses to relate versions of different shard counts: their keys are routed differently.
pub(super) fn check_shards(ours: usize, theirs: usize) -> Result<()> {
    if ours == theirs {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "a version of {theirs} shards cannot be used with one of {ours}: keys are routed by \
         the shard count"
    )))
}

/// The live state of every shard as of one consistent cut, registered nowhere: a consistent
/// read of several keys, scans and a root hash without a snapshot. O(s) to take.
#[derive(Clone)]
pub struct ShardedView {
    pub(super) trees: Box<[Tree]>,
}

impl ShardedView {
    /// The value under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.trees[shard_of(key, self.trees.len())].get(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.trees[shard_of(key, self.trees.len())].contains_key(key)
    }

    /// Number of entries. O(s).
    pub fn len(&self) -> u64 {
        self.trees.iter().map(Tree::len).sum()
    }

    /// Whether the view has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every shard's tree, in shard order.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// All entries, in key order.
    pub fn iter(&self) -> Merged {
        self.range_bounds(Bound::Unbounded, Bound::Unbounded)
    }

    /// Entries with `start <= key < end`, in key order.
    pub fn range(&self, start: &[u8], end: &[u8]) -> Merged {
        self.range_bounds(Bound::Included(start), Bound::Excluded(end))
    }

    /// Entries within arbitrary bounds, in key order.
    pub fn range_bounds(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Merged {
        merged(self.trees.iter(), start, end)
    }

    /// Entries whose key starts with `prefix`, in key order.
    pub fn prefix(&self, prefix: &[u8]) -> Merged {
        let end = prefix_end(prefix);
        let end = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        self.range_bounds(Bound::Included(prefix), end)
    }

    /// The Merkle root: the one a sharded snapshot of the same contents and shard count has.
    pub fn root_hash(&self) -> Hash {
        sharded_root(self.trees.iter().map(Tree::root_hash))
    }

    /// The changes that turn `old` into this view, in key order.
    ///
    /// Fails with [`Error::InvalidArgument`] when the shard counts differ.
    pub fn diff_from(&self, old: &ShardedSnapshot) -> Result<MergedDiff> {
        check_shards(self.trees.len(), old.shards.len())?;
        Ok(Merge::new(
            old.shards
                .iter()
                .zip(self.trees.iter())
                .map(|(old, new)| old.tree().diff_owned(new)),
        ))
    }
}
