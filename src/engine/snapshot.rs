//! Immutable versions and their metadata.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Result;
use crate::tree::{Diff, Hash, Iter, OwnedDiff, Range, Tree, TryDiff, TryOwnedDiff, TryRange};

/// What is recorded about a snapshot when it is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// Names this snapshot and no other within its map, ever: ids are never reused, not even
    /// after pruning, and a snapshot registered later has a larger id. At most
    /// [`MAX_SNAPSHOT_ID`]; 0 is no snapshot's id.
    pub id: u64,
    /// Number of snapshots on the path from the first one to this one (the first is 1).
    pub generation: u64,
    /// The snapshot the live state derived from when this one was taken (`None` for the first).
    pub parent_id: Option<u64>,
    /// Wall-clock time of the snapshot, nanoseconds since the Unix epoch.
    pub created_at_ns: u64,
    /// Mutations applied to the live state between the parent and this snapshot.
    pub mutation_count: u64,
    /// Keys whose value differs between the parent and this snapshot (added, removed or
    /// changed), counted by diffing the two versions.
    pub delta_size: u64,
    /// Entries in this snapshot.
    pub size: u64,
}

/// The largest snapshot id a map takes or accepts: 2^63 − 1, so that a map's ids can never
/// run out (it would take 2^63 snapshots) and fit a signed 64-bit integer in every binding.
pub const MAX_SNAPSHOT_ID: u64 = i64::MAX as u64;

/// An immutable version of a map: O(1) to take, cheap to clone, readable from any thread for as
/// long as a handle exists, even after the map's registry has pruned it or the map is gone.
#[derive(Clone)]
pub struct Snapshot {
    inner: Arc<Inner>,
}

struct Inner {
    meta: SnapshotMeta,
    tree: Tree,
    /// The map whose id space `meta.id` belongs to (see [`MapId`]).
    map: MapId,
}

/// Identifies a map for as long as the process runs: a snapshot's id is meaningful only in
/// the map that registered it, so each snapshot records which map that is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MapId(u64);

impl MapId {
    /// An id no other map of this process has (a u64 counter cannot wrap in practice).
    pub(crate) fn unique() -> MapId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        MapId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl Snapshot {
    pub(crate) fn new(meta: SnapshotMeta, tree: Tree, map: MapId) -> Snapshot {
        Snapshot {
            inner: Arc::new(Inner { meta, tree, map }),
        }
    }

    /// The map whose registry gave this snapshot its id.
    pub(crate) fn map_id(&self) -> MapId {
        self.inner.map
    }

    /// The metadata recorded when the snapshot was taken.
    pub fn meta(&self) -> &SnapshotMeta {
        &self.inner.meta
    }

    /// The snapshot's id.
    pub fn id(&self) -> u64 {
        self.inner.meta.id
    }

    /// The version itself.
    pub fn tree(&self) -> &Tree {
        &self.inner.tree
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.inner.tree.get(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.inner.tree.contains_key(key)
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.inner.tree.len()
    }

    /// Whether the snapshot has no entries.
    pub fn is_empty(&self) -> bool {
        self.inner.tree.is_empty()
    }

    /// All entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        self.inner.tree.iter()
    }

    /// Entries with `start <= key < end`, in key order.
    pub fn range(&self, start: &[u8], end: &[u8]) -> Range<'_> {
        self.inner.tree.range(start, end)
    }

    /// Entries within arbitrary bounds, in key order.
    pub fn range_bounds(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Range<'_> {
        self.inner.tree.range_bounds(start, end)
    }

    /// Entries whose key starts with `prefix`, in key order.
    pub fn prefix(&self, prefix: &[u8]) -> Range<'_> {
        self.inner.tree.prefix(prefix)
    }

    /// The blake3 Merkle root of this version.
    pub fn root_hash(&self) -> Hash {
        self.inner.tree.root_hash()
    }

    /// The changes that turn this snapshot into `newer`, in key order.
    pub fn diff<'a>(&'a self, newer: &'a Snapshot) -> Diff<'a> {
        self.inner.tree.diff(&newer.inner.tree)
    }

    /// [`get`](Snapshot::get) for a snapshot of a store: loads the nodes on the key's path and
    /// reports a failed load as an error (the infallible reads load too, but panic on one).
    pub fn try_get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        self.inner.tree.try_get(key)
    }

    /// [`contains_key`](Snapshot::contains_key) for a snapshot of a store, as
    /// [`try_get`](Snapshot::try_get).
    pub fn try_contains_key(&self, key: &[u8]) -> Result<bool> {
        self.inner.tree.try_contains_key(key)
    }

    /// [`iter`](Snapshot::iter) for a snapshot of a store: each entry a `Result`, a failed
    /// load yielded once and ending the walk.
    pub fn try_iter(&self) -> TryRange<'_> {
        self.inner.tree.try_iter()
    }

    /// [`range_bounds`](Snapshot::range_bounds) for a snapshot of a store, as
    /// [`try_iter`](Snapshot::try_iter).
    pub fn try_range(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> TryRange<'_> {
        self.inner.tree.try_range(start, end)
    }

    /// [`prefix`](Snapshot::prefix) for a snapshot of a store, as
    /// [`try_iter`](Snapshot::try_iter).
    pub fn try_prefix(&self, prefix: &[u8]) -> TryRange<'_> {
        self.inner.tree.try_prefix(prefix)
    }

    /// [`diff`](Snapshot::diff) for snapshots of a store: loads only the paths where the two
    /// differ; a failed load is yielded once and ends the walk.
    pub fn try_diff<'a>(&'a self, newer: &'a Snapshot) -> TryDiff<'a> {
        self.inner.tree.try_diff(&newer.inner.tree)
    }

    /// [`diff`](Snapshot::diff) that holds its own references to both versions.
    pub fn diff_owned(&self, newer: &Snapshot) -> OwnedDiff {
        self.inner.tree.diff_owned(&newer.inner.tree)
    }

    /// [`try_diff`](Snapshot::try_diff) that holds its own references to both versions, so it
    /// outlives both handles.
    pub fn try_diff_owned(&self, newer: &Snapshot) -> TryOwnedDiff {
        self.inner.tree.try_diff_owned(&newer.inner.tree)
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("meta", self.meta())
            .finish_non_exhaustive()
    }
}
