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

//!
//! # History
//!
//! A sharded map has its own registry of [`ShardedSnapshot`]s, with ids, retention, pins and
//! compaction that behave as [`Map`]'s do: an id names one sharded snapshot of one map, ever.
//! Each shard keeps the shard snapshot of the current cut as its own current snapshot, so a
//! rollback under [`RollbackPolicy::Fail`] refuses exactly when some shard's live state differs
//! from its part of the current cut.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard};

use crate::engine::batch::{Batch, Op};
use crate::engine::map::{
    CompactReport, Counters, Map, Pins, ReadSession, RollbackOutcome, RollbackPolicy, Value,
    now_ns, prune_plan_of,
};
use crate::engine::merge::{Merged, MergedDiff};
use crate::engine::rw_set::{Observed, Reads, Writes};
use crate::engine::sharded_version::{ShardedSnapshot, ShardedView, check_shards};
use crate::engine::snapshot::{MapId, Snapshot, SnapshotMeta};
use crate::engine::txn::{Txn, TxnTarget};
use crate::error::{Error, Result};
use crate::tree::Hash;

/// The shard of `key` among `shards` (at least 1); see the module docs of `crate::engine::sharded`.
#[inline]
pub fn shard_of(key: &[u8], shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    let h = route_hash(key);
    // The same shard as `h % shards`, without the division when the count is a power of two.
    if shards.is_power_of_two() {
        (h & (shards as u64 - 1)) as usize
    } else {
        (h % shards as u64) as usize
    }
}

/// The routing hash of `key`; see the module docs of `crate::engine::sharded`.
#[inline]
pub fn route_hash(key: &[u8]) -> u64 {
    let mut h = 0x9e37_79b9_7f4a_7c15 ^ key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        h = (h ^ word).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 31;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(word)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 31;
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl TxnTarget for ShardedMap {
    #[inline]
    fn read(&self, key: &[u8], keep: impl FnOnce(Observed<'_>)) -> u64 {
        self.shards[shard_of(key, self.shards.len())].read_versioned(key, keep)
    }

    fn commit_if(&self, reads: Reads<'_>, writes: Writes<'_>) -> Result<Option<u64>> {
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
        // A read at its shard's version when locked still holds without a lookup.
        let holds = reads.iter().all(|read| {
            lock_of(read.key).is_some_and(|i| {
                locked[i].unchanged_since(read.version)
                    || locked[i].live().get(read.key) == read.seen
            })
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
        self.batches.fetch_add(1, Ordering::Relaxed);
        Ok(Some(applied))
    }
}

/// The sharded map's own history: its snapshots and the one the live state derives from.
pub(super) struct History {
    pub(super) registry: BTreeMap<u64, ShardedSnapshot>,
    pub(super) current: Option<ShardedSnapshot>,
    /// How many of the newest snapshots every new snapshot keeps registered, if set.
    retention: Option<usize>,
    /// Above every sharded snapshot id this map has used.
    pub(super) next_id: u64,
    /// The history's counters: snapshots, rollbacks, compaction (the shards count writes).
    pub(super) counters: Counters,
}

/// A versioned, ordered map split into shards; the module docs of `crate::engine::sharded` give
/// the routing, consistency, history and Merkle rules.
///
/// | operation | cost |
/// |---|---|
/// | `get`, `contains_key`, `put`, `delete`, `compare_and_swap` | routing (one multiply per 8 key bytes) + `Map`'s |
/// | `write_batch` | O(b · d), locking each shard the batch touches |
/// | `len`, `pending_mutations`, `view` | O(s) for s shards |
/// | `snapshot`, `rollback` | O(s) plus each shard's |
/// | `iter`, `range`, `prefix` | O(s · d) to start, O(s) per entry |
/// | `compact` | O(r) for r registered snapshots |
/// | `stats` | O(nodes) across the live state and retained snapshots |
pub struct ShardedMap {
    pub(super) shards: Box<[Map]>,
    /// Taken before any shard's lock by operations on the history (snapshot, rollback,
    /// registry, stats).
    pub(super) history: Mutex<History>,
    pub(super) pins: Arc<Pins>,
    /// Cross-shard write operations: batches and committed transactions, and clears.
    pub(super) batches: AtomicU64,
    pub(super) clears: AtomicU64,
    /// The id space of this map's sharded snapshot ids.
    id: MapId,
}

impl ShardedMap {
    /// An empty map of `shards` shards (at least 1).
    pub fn new(shards: usize) -> ShardedMap {
        ShardedMap {
            shards: (0..shards.max(1)).map(|_| Map::new()).collect(),
            history: Mutex::new(History {
                registry: BTreeMap::new(),
                current: None,
                retention: None,
                next_id: 1,
                counters: Counters::default(),
            }),
            pins: Arc::new(Mutex::new(Default::default())),
            batches: AtomicU64::new(0),
            clears: AtomicU64::new(0),
            id: MapId::unique(),
        }
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    #[inline]
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

    /// `read` applied to the value under `key`, under its shard's read lock (for the C ABI).
    pub(crate) fn read_value<R>(&self, key: &[u8], read: impl FnOnce(&[u8]) -> R) -> Option<R> {
        self.shard(key).read_value(key, read)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.shard(key).contains_key(key)
    }

    /// Removes `key`; returns whether it existed.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.shard(key).delete(key)
    }

    /// Removes every entry of every shard, atomically; snapshots keep theirs. Returns how many
    /// entries were removed. Each shard that held entries counts one pending mutation.
    pub fn clear(&self) -> u64 {
        let mut locked: Vec<_> = self.shards.iter().map(Map::lock_all).collect();
        let removed = locked.iter_mut().map(|lock| lock.clear()).sum();
        if removed > 0 {
            self.clears.fetch_add(1, Ordering::Relaxed);
        }
        removed
    }

    /// Number of entries, as of one consistent cut.
    pub fn len(&self) -> u64 {
        self.view().len()
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
        self.batches.fetch_add(1, Ordering::Relaxed);
        applied
    }

    /// The live state of every shard as of one cut, registered nowhere.
    ///
    /// First optimistically: every shard read as any reader reads it (a shard nobody wrote
    /// lately through its published copy, without a lock), kept when no shard's version moved
    /// by the time all were read. Then every shard held what was read at the moment the last
    /// version was checked, and no write spanning shards was half applied, because such a
    /// write advances every shard it touches before it changes any, and a shard it holds is
    /// read only after it finished. Otherwise every shard is held under its read lock at once,
    /// in shard order (the order cross-shard writers lock them in), which no writer can cut.
    pub fn view(&self) -> ShardedView {
        let read: Vec<_> = self.shards.iter().map(Map::live_versioned).collect();
        let unchanged = (self.shards.iter().zip(&read))
            .all(|(shard, (_, version))| shard.live_version() == *version);
        let trees = if unchanged {
            read.iter().map(|(live, _)| (**live).clone()).collect()
        } else {
            drop(read);
            let held: Vec<_> = self.shards.iter().map(Map::live_held).collect();
            held.iter().map(|live| (**live).clone()).collect()
        };
        ShardedView { trees }
    }

    /// All entries, in key order, as of one consistent cut.
    pub fn iter(&self) -> Merged {
        self.view().iter()
    }

    /// Entries with `start <= key < end`, in key order, as of one consistent cut.
    pub fn range(&self, start: &[u8], end: &[u8]) -> Merged {
        self.view().range(start, end)
    }

    /// Entries within arbitrary bounds, in key order, as of one consistent cut.
    pub fn range_bounds(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Merged {
        self.view().range_bounds(start, end)
    }

    /// Entries whose key starts with `prefix`, in key order, as of one consistent cut.
    pub fn prefix(&self, prefix: &[u8]) -> Merged {
        self.view().prefix(prefix)
    }

    /// The Merkle root of the live state as of one cut; see the module docs of
    /// `crate::engine::sharded`.
    pub fn root_hash(&self) -> Hash {
        self.view().root_hash()
    }

    /// The changes from `old` to the live state as of one cut, in key order.
    ///
    /// Fails with [`Error::InvalidArgument`] when `old` has another shard count.
    pub fn diff_live(&self, old: &ShardedSnapshot) -> Result<MergedDiff> {
        self.view().diff_from(old)
    }

    /// Takes a snapshot of every shard as one consistent cut, registers it and makes it
    /// current; under a retention policy, prunes the registry as [`compact`](Self::compact)
    /// would.
    pub fn snapshot(&self) -> ShardedSnapshot {
        let mut history = self.history.lock();
        let created_at_ns = now_ns();
        // Every shard's writer lock, in shard order: no batch is half applied while they are
        // all held.
        let mut states: Vec<_> = self.shards.iter().map(Map::lock_writer).collect();
        let shards: Arc<[Snapshot]> = self
            .shards
            .iter()
            .zip(&mut states)
            .map(|(shard, state)| shard.snapshot_locked(state, created_at_ns))
            .collect();
        drop(states);
        let sum = |field: fn(&SnapshotMeta) -> u64| shards.iter().map(|s| field(s.meta())).sum();
        let parent = history.current.as_ref();
        let meta = SnapshotMeta {
            id: history.next_id,
            generation: parent.map_or(1, |p| p.meta.generation + 1),
            parent_id: parent.map(ShardedSnapshot::id),
            created_at_ns,
            mutation_count: sum(|m| m.mutation_count),
            delta_size: sum(|m| m.delta_size),
            size: sum(|m| m.size),
        };
        let snapshot = ShardedSnapshot {
            meta,
            shards,
            map: self.id,
        };
        let history = &mut *history;
        history.next_id += 1;
        history.counters.snapshots_taken += 1;
        history.registry.insert(snapshot.id(), snapshot.clone());
        history.current = Some(snapshot.clone());
        if let Some(retain_last) = history.retention {
            self.prune(history, retain_last);
        }
        snapshot
    }

    /// Makes every shard's live state equal to `target`'s, atomically, and makes `target`
    /// current. A snapshot of another sharded map (of the same shard count) is registered here
    /// under a fresh id first, without its parent id, as [`Map::rollback`] does.
    ///
    /// With pending mutations that left some shard's live state different from the current
    /// cut, [`RollbackPolicy::Fail`] refuses with [`Error::PendingChanges`] and changes
    /// nothing (writes that cancel out do not count); otherwise the pending mutations are
    /// dropped and counted. Fails with [`Error::InvalidArgument`] when `target` has another
    /// shard count.
    pub fn rollback(
        &self,
        target: &ShardedSnapshot,
        policy: RollbackPolicy,
    ) -> Result<RollbackOutcome> {
        check_shards(self.shards.len(), target.shards.len())?;
        let mut history = self.history.lock();
        let mut locked: Vec<_> = self.shards.iter().map(Map::lock_all).collect();
        let mut discarded = 0;
        let mut refused = false;
        for lock in &locked {
            match lock.pending(policy) {
                Ok(count) => discarded += count,
                Err(Error::PendingChanges { count }) => {
                    discarded += count;
                    refused = true;
                }
                Err(error) => return Err(error),
            }
        }
        if refused {
            return Err(Error::PendingChanges { count: discarded });
        }
        let history = &mut *history;
        let target = if target.map == self.id {
            target.clone()
        } else {
            let adopted = ShardedSnapshot {
                meta: SnapshotMeta {
                    id: history.next_id,
                    parent_id: None,
                    ..target.meta.clone()
                },
                shards: target.shards.clone(),
                map: self.id,
            };
            history.next_id += 1;
            history.counters.snapshots_imported += 1;
            history.registry.insert(adopted.id(), adopted.clone());
            adopted
        };
        for (lock, snapshot) in locked.iter_mut().zip(target.shards.iter()) {
            let pending = lock.state.pending;
            lock.make_current(snapshot, pending);
        }
        drop(locked);
        history.current = Some(target);
        history.counters.rollbacks += 1;
        history.counters.discarded_mutations += discarded;
        Ok(RollbackOutcome { discarded })
    }

    /// [`rollback`](Self::rollback) to a registered snapshot by id.
    pub fn rollback_to(&self, id: u64, policy: RollbackPolicy) -> Result<RollbackOutcome> {
        let target = self
            .snapshot_by_id(id)
            .ok_or(Error::UnknownSnapshot { id })?;
        self.rollback(&target, policy)
    }

    fn history(&self) -> MutexGuard<'_, History> {
        self.history.lock()
    }

    /// The registered sharded snapshots, by ascending id.
    pub fn snapshots(&self) -> Vec<ShardedSnapshot> {
        self.history().registry.values().cloned().collect()
    }

    /// Number of registered snapshots.
    pub fn snapshot_count(&self) -> usize {
        self.history().registry.len()
    }

    /// The registered snapshot at position `index` in ascending id order. O(index).
    pub fn snapshot_at(&self, index: usize) -> Option<ShardedSnapshot> {
        self.history().registry.values().nth(index).cloned()
    }

    /// The ids of the registered snapshots, ascending.
    pub fn snapshot_ids(&self) -> Vec<u64> {
        self.history().registry.keys().copied().collect()
    }

    /// The registered sharded snapshot with this id.
    pub fn snapshot_by_id(&self, id: u64) -> Option<ShardedSnapshot> {
        self.history().registry.get(&id).cloned()
    }

    /// The snapshot the live state derives from: the last one taken or rolled back to.
    pub fn current_snapshot(&self) -> Option<ShardedSnapshot> {
        self.history().current.clone()
    }

    /// The id the next snapshot will get.
    pub fn next_snapshot_id(&self) -> u64 {
        self.history().next_id
    }

    /// Pins `snapshot` for a read session: [`compact`](Self::compact) and the retention policy
    /// keep it registered until every session on it is dropped.
    ///
    /// Fails with [`Error::InvalidArgument`] when `snapshot` belongs to another map.
    pub fn pin(&self, snapshot: &ShardedSnapshot) -> Result<ReadSession<ShardedSnapshot>> {
        if snapshot.map != self.id {
            return Err(Error::InvalidArgument(format!(
                "sharded snapshot {} belongs to another map; pin it on that map, or roll back \
                 to it here first",
                snapshot.id()
            )));
        }
        Ok(ReadSession::new(
            snapshot.clone(),
            snapshot.id(),
            &self.pins,
        ))
    }

    fn prune(&self, history: &mut History, retain_last: usize) -> Vec<u64> {
        let current = history.current.as_ref().map(ShardedSnapshot::id);
        let pruned = prune_plan_of(&history.registry, current, &self.pins, retain_last, None);
        for id in &pruned {
            history.registry.remove(id);
        }
        history.counters.snapshots_pruned += pruned.len() as u64;
        pruned
    }

    /// Prunes the registry to the newest `retain_last` snapshots plus the current one and every
    /// pinned one. Pruned snapshots stay readable through the handles that exist.
    pub fn compact(&self, retain_last: usize) -> CompactReport {
        let mut history = self.history();
        let pruned = self.prune(&mut history, retain_last);
        history.counters.compactions += 1;
        CompactReport {
            pruned,
            retained: history.registry.keys().copied().collect(),
        }
    }

    /// Sets the retention policy, as [`Map::set_retention`] does; returns the ids pruned now.
    pub fn set_retention(&self, retain_last: Option<usize>) -> Vec<u64> {
        let mut history = self.history();
        history.retention = retain_last;
        match retain_last {
            Some(n) => self.prune(&mut history, n),
            None => Vec::new(),
        }
    }

    /// The retention policy set by [`set_retention`](Self::set_retention).
    pub fn retention(&self) -> Option<usize> {
        self.history().retention
    }
}
