//! A map split into shards that accept writes in parallel, with atomic cross-shard batches and
//! snapshots that are one consistent cut across every shard.
//!
//! # Routing
//!
//! A key lives in shard [`shard_of`]`(key, n)`: a 64-bit hash of the key reduced modulo the
//! shard count. The hash is defined here, byte by byte, so it is the same on every platform
//! and in every version (test vectors pin it):
//!
//! ```text
//! h = 0x9e3779b97f4a7c15 ^ len(key)
//! for each 8-byte chunk of the key, little-endian, the last one padded with zero bytes:
//!     h = (h ^ chunk) * 0xbf58476d1ce4e5b9 (mod 2^64);  h ^= h >> 31
//! h ^= h >> 30;  h *= 0x94d049bb133111eb;  h ^= h >> 31      (splitmix64's finaliser)
//! shard = h mod n
//! ```
//!
//! It costs a multiply per 8 key bytes: a hot path can afford it, unlike LQFT's sha256. Data
//! sharded by another rule (LQFT's) is imported by routing each key again.
//!
//! # Consistency
//!
//! Every shard is a [`Map`]. A write to one key locks its shard only, so writers of different
//! shards run in parallel. A batch that spans shards locks each shard it touches (writer lock
//! and live state) in shard order, applies everything, then releases: a reader of one key sees
//! the batch all or not, and a reader of several shards ([`ShardedMap::iter`], a snapshot)
//! holds every shard it reads at once, so it sees a cut that no batch straddles. Locks are
//! always taken in shard order, so no two operations wait for each other in a cycle.
//!
//! # Merkle root
//!
//! The root of a sharded version is `blake3("lqft-sharded-root-v1" || n as u32 LE ||
//! root(shard 0) || ... || root(shard n-1))`: it depends on the contents and the shard count.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::engine::batch::{Batch, Op};
use crate::engine::map::{Entries, Entry, Map, Value};
use crate::engine::snapshot::{Snapshot, SnapshotMeta};
use crate::engine::txn::{Reads, Txn, TxnTarget, Writes};
use crate::engine::{RollbackOutcome, RollbackPolicy};
use crate::error::{Error, Result};
use crate::tree::{DiffEntry, Hash, Tree, prefix_end};

/// The shard of `key` among `shards` (at least 1); see the [module docs](self).
pub fn shard_of(key: &[u8], shards: usize) -> usize {
    (route_hash(key) % shards.max(1) as u64) as usize
}

/// The routing hash of `key`; see the [module docs](self).
pub fn route_hash(key: &[u8]) -> u64 {
    let mut h = 0x9e37_79b9_7f4a_7c15 ^ key.len() as u64;
    for chunk in key.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 31;
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The Merkle root of a sharded version whose shards have `roots`, in shard order.
fn sharded_root(roots: impl ExactSizeIterator<Item = Hash>) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"lqft-sharded-root-v1");
    hasher.update(&(roots.len() as u32).to_le_bytes());
    for root in roots {
        hasher.update(&root);
    }
    *hasher.finalize().as_bytes()
}

/// An immutable version of every shard, taken as one consistent cut.
#[derive(Clone, Debug)]
pub struct ShardedSnapshot {
    meta: SnapshotMeta,
    shards: Vec<Snapshot>,
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

    /// Number of entries in all shards.
    pub fn len(&self) -> u64 {
        self.meta.size
    }

    /// Whether the snapshot has no entries.
    pub fn is_empty(&self) -> bool {
        self.meta.size == 0
    }

    /// Every shard's version, in shard order.
    pub fn shards(&self) -> &[Snapshot] {
        &self.shards
    }

    /// All entries of all shards, in key order.
    pub fn iter(&self) -> Merged {
        Merged::new(
            self.shards.iter().map(Snapshot::tree),
            Bound::Unbounded,
            Bound::Unbounded,
        )
    }

    /// Entries with `start <= key < end`, in key order.
    pub fn range(&self, start: &[u8], end: &[u8]) -> Merged {
        let trees = self.shards.iter().map(Snapshot::tree);
        Merged::new(trees, Bound::Included(start), Bound::Excluded(end))
    }

    /// The Merkle root of the whole; see the [module docs](self).
    pub fn root_hash(&self) -> Hash {
        sharded_root(self.shards.iter().map(Snapshot::root_hash))
    }

    /// The changes that turn this snapshot into `newer` (of the same shard count), in key
    /// order.
    pub fn diff(&self, newer: &ShardedSnapshot) -> Result<Vec<DiffEntry>> {
        if self.shards.len() != newer.shards.len() {
            return Err(Error::InvalidArgument(format!(
                "cannot diff snapshots of {} and {} shards",
                self.shards.len(),
                newer.shards.len()
            )));
        }
        let mut changes: Vec<DiffEntry> = self
            .shards
            .iter()
            .zip(&newer.shards)
            .flat_map(|(old, new)| old.diff_owned(new))
            .collect();
        changes.sort_by(|a, b| a.key().cmp(b.key()));
        Ok(changes)
    }
}

/// Entries of several shards' versions merged into key order (keys are disjoint across
/// shards). O(s) per entry for s shards.
pub struct Merged {
    walks: Vec<Entries>,
    heads: Vec<Option<Entry>>,
}

impl Merged {
    fn new<'a>(
        trees: impl Iterator<Item = &'a Tree>,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Merged {
        let mut walks: Vec<Entries> = trees.map(|tree| Entries::new(tree, start, end)).collect();
        let heads = walks.iter_mut().map(Iterator::next).collect();
        Merged { walks, heads }
    }
}

impl Iterator for Merged {
    type Item = Entry;
    fn next(&mut self) -> Option<Entry> {
        let (first, _) = self
            .heads
            .iter()
            .enumerate()
            .filter_map(|(i, head)| head.as_ref().map(|entry| (i, entry.key())))
            .min_by(|a, b| a.1.cmp(b.1))?;
        let next = self.walks[first].next();
        std::mem::replace(&mut self.heads[first], next)
    }
}

impl TxnTarget for ShardedMap {
    fn read(&self, key: &[u8]) -> Option<Value> {
        self.get(key)
    }

    fn commit_if(&self, reads: &Reads, writes: &Writes) -> Result<Option<u64>> {
        let n = self.shards.len();
        let mut involved: Vec<usize> = reads
            .keys()
            .chain(writes.keys())
            .map(|key| shard_of(key, n))
            .collect();
        involved.sort_unstable();
        involved.dedup();
        let mut locked: Vec<_> = involved
            .iter()
            .map(|&i| self.shards[i].lock_all())
            .collect();
        let lock_of = |key: &[u8]| involved.binary_search(&shard_of(key, n)).ok();
        let holds = reads.iter().all(|(key, seen)| {
            lock_of(key).is_some_and(|i| locked[i].live().get(key) == seen.as_deref())
        });
        if !holds {
            return Ok(None);
        }
        let mut applied = 0;
        for (i, lock) in locked.iter_mut().enumerate() {
            let mine = writes.iter().filter(|(key, _)| lock_of(key) == Some(i));
            let mut mine = mine.peekable();
            if mine.peek().is_none() {
                continue;
            }
            applied += lock.write(|writer| {
                for (key, value) in mine {
                    match value {
                        Some(value) => writer.put(key, value),
                        None => writer.delete(key),
                    }
                }
            });
        }
        Ok(Some(applied))
    }
}

/// The sharded map's own history: its snapshots and the one the live state derives from.
#[derive(Default)]
struct History {
    registry: BTreeMap<u64, ShardedSnapshot>,
    current: Option<ShardedSnapshot>,
    next_id: u64,
}

/// A versioned, ordered map split into shards; the [module docs](self) give the routing,
/// consistency and Merkle rules.
///
/// | operation | cost |
/// |---|---|
/// | `get`, `contains_key`, `put`, `delete` | routing (one multiply per 8 key bytes) + `Map`'s |
/// | `write_batch` | O(b · d), locking each shard the batch touches |
/// | `len`, `pending_mutations` | O(s) for s shards |
/// | `snapshot`, `rollback` | O(s) plus each shard's |
/// | `iter`, `range`, `prefix` | O(s · d) to start, O(s) per entry |
pub struct ShardedMap {
    shards: Box<[Map]>,
    /// Taken before any shard's lock by operations on the history (snapshot, rollback).
    history: Mutex<History>,
}

impl ShardedMap {
    /// An empty map of `shards` shards (at least 1).
    pub fn new(shards: usize) -> ShardedMap {
        ShardedMap {
            shards: (0..shards.max(1)).map(|_| Map::new()).collect(),
            history: Mutex::new(History {
                next_id: 1,
                ..History::default()
            }),
        }
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The shard maps, in shard order (for per-shard stats and reads).
    pub fn shards(&self) -> &[Map] {
        &self.shards
    }

    fn shard(&self, key: &[u8]) -> &Map {
        &self.shards[shard_of(key, self.shards.len())]
    }

    /// Sets `key` to `value`, locking only its shard.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.shard(key).put(key, value)
    }

    /// The value under `key`.
    pub fn get(&self, key: &[u8]) -> Option<Value> {
        self.shard(key).get(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.shard(key).contains_key(key)
    }

    /// Removes `key`; returns whether it existed.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.shard(key).delete(key)
    }

    /// Number of entries, as of one consistent cut.
    pub fn len(&self) -> u64 {
        self.views().iter().map(Tree::len).sum()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Mutations since the live state last equalled a sharded snapshot, summed over shards.
    pub fn pending_mutations(&self) -> u64 {
        self.shards.iter().map(Map::pending_mutations).sum()
    }

    /// Starts a write transaction on this map: the semantics of [`Txn`], with reads, writes
    /// and the commit's check spanning any shards (the commit locks every shard it involves,
    /// in shard order).
    pub fn begin(&self) -> Txn<&ShardedMap> {
        Txn::new(self)
    }

    /// [`Map::compare_and_swap`] on the key's shard.
    pub fn compare_and_swap(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool> {
        self.shard(key).compare_and_swap(key, expected, new)
    }

    /// Applies every operation of `batch` in order, atomically across shards: every reader and
    /// every snapshot sees all of it or none. Returns the operations that changed the state.
    pub fn write_batch(&self, batch: &Batch) -> u64 {
        let n = self.shards.len();
        let mut by_shard: BTreeMap<usize, Vec<&Op>> = BTreeMap::new();
        for op in &batch.ops {
            let key = match op {
                Op::Put(key, _) | Op::Delete(key) => key,
            };
            by_shard.entry(shard_of(key, n)).or_default().push(op);
        }
        // Every shard touched, locked in shard order, before anything is applied.
        let mut locked: Vec<_> = by_shard
            .keys()
            .map(|&i| self.shards[i].lock_all())
            .collect();
        let mut applied = 0;
        for (lock, ops) in locked.iter_mut().zip(by_shard.values()) {
            applied += lock.write(|writer| {
                for op in ops {
                    match op {
                        Op::Put(key, value) => writer.put(key, value),
                        Op::Delete(key) => writer.delete(key),
                    }
                }
            });
        }
        applied
    }

    /// Every shard's live state as of one cut: all shards held at once, in shard order.
    pub fn views(&self) -> Vec<Tree> {
        let held: Vec<_> = self.shards.iter().map(Map::live).collect();
        held.iter().map(|live| (**live).clone()).collect()
    }

    /// All entries, in key order, as of one consistent cut.
    pub fn iter(&self) -> Merged {
        let views = self.views();
        Merged::new(views.iter(), Bound::Unbounded, Bound::Unbounded)
    }

    /// Entries with `start <= key < end`, in key order, as of one consistent cut.
    pub fn range(&self, start: &[u8], end: &[u8]) -> Merged {
        let views = self.views();
        Merged::new(views.iter(), Bound::Included(start), Bound::Excluded(end))
    }

    /// Entries whose key starts with `prefix`, in key order, as of one consistent cut.
    pub fn prefix(&self, prefix: &[u8]) -> Merged {
        let end = prefix_end(prefix);
        let end = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let views = self.views();
        Merged::new(views.iter(), Bound::Included(prefix), end)
    }

    /// The Merkle root of the live state as of one cut; see the [module docs](self).
    pub fn root_hash(&self) -> Hash {
        sharded_root(self.views().iter().map(Tree::root_hash))
    }

    /// Takes a snapshot of every shard as one consistent cut, registers it and makes it
    /// current.
    pub fn snapshot(&self) -> ShardedSnapshot {
        let mut history = self.history.lock();
        // Every shard's writer lock, in shard order: no batch is half applied while they are
        // all held.
        let mut states: Vec<_> = self.shards.iter().map(Map::lock_writer).collect();
        let shards: Vec<Snapshot> = self
            .shards
            .iter()
            .zip(&mut states)
            .map(|(shard, state)| shard.snapshot_locked(state))
            .collect();
        drop(states);
        let sum = |field: fn(&SnapshotMeta) -> u64| shards.iter().map(|s| field(s.meta())).sum();
        let parent = history.current.as_ref();
        let meta = SnapshotMeta {
            id: history.next_id,
            generation: parent.map_or(1, |p| p.meta.generation + 1),
            parent_id: parent.map(ShardedSnapshot::id),
            created_at_ns: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            mutation_count: sum(|m| m.mutation_count),
            delta_size: sum(|m| m.delta_size),
            size: sum(|m| m.size),
        };
        let snapshot = ShardedSnapshot { meta, shards };
        history.next_id += 1;
        history.registry.insert(snapshot.id(), snapshot.clone());
        history.current = Some(snapshot.clone());
        snapshot
    }

    /// Makes every shard's live state equal to `target`'s, atomically, and makes `target`
    /// current. With pending mutations in any shard, [`RollbackPolicy::Fail`] refuses with
    /// [`Error::PendingChanges`] and changes nothing; [`RollbackPolicy::Discard`] drops them.
    pub fn rollback(
        &self,
        target: &ShardedSnapshot,
        policy: RollbackPolicy,
    ) -> Result<RollbackOutcome> {
        if target.shards.len() != self.shards.len() {
            return Err(Error::InvalidArgument(format!(
                "a snapshot of {} shards cannot be rolled back to in a map of {}",
                target.shards.len(),
                self.shards.len()
            )));
        }
        let mut history = self.history.lock();
        let mut locked: Vec<_> = self.shards.iter().map(Map::lock_all).collect();
        let discarded: u64 = locked.iter().map(|lock| lock.state.pending).sum();
        if discarded > 0 && policy == RollbackPolicy::Fail {
            return Err(Error::PendingChanges { count: discarded });
        }
        for (lock, snapshot) in locked.iter_mut().zip(&target.shards) {
            let pending = lock.state.pending;
            lock.make_current(snapshot, pending);
        }
        drop(locked);
        history.current = Some(target.clone());
        Ok(RollbackOutcome { discarded })
    }

    /// The registered sharded snapshots, by ascending id.
    pub fn snapshots(&self) -> Vec<ShardedSnapshot> {
        self.history.lock().registry.values().cloned().collect()
    }

    /// The registered sharded snapshot with this id.
    pub fn snapshot_by_id(&self, id: u64) -> Option<ShardedSnapshot> {
        self.history.lock().registry.get(&id).cloned()
    }
}
