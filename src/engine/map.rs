//! The versioned map: a live state, a registry of snapshots, pins and counters.

use std::collections::{BTreeMap, HashMap};
use std::ops::{Bound, Deref};
use std::sync::{Arc, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crossbeam_utils::sync::{ShardedLock, ShardedLockReadGuard, ShardedLockWriteGuard};
use parking_lot::{Mutex, MutexGuard};

use crate::engine::batch::{Batch, Op};
use crate::engine::snapshot::{MAX_SNAPSHOT_ID, MapId, Snapshot, SnapshotMeta};
use crate::engine::touched::Touched;
use crate::error::{Error, Result, check_entry, check_key};
use crate::tree::{Diff, Found, LeafRef, OwnedDiff, OwnedRange, Tree, prefix_end};

/// What [`Map::rollback`] does with mutations no snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackPolicy {
    /// Refuse with [`Error::PendingChanges`] and change nothing.
    Fail,
    /// Drop them and report how many were dropped.
    Discard,
}

/// The result of a rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackOutcome {
    /// Mutations that were pending and are now gone.
    pub discarded: u64,
}

/// The result of [`Map::compact`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompactReport {
    /// Ids removed from the registry, ascending.
    pub pruned: Vec<u64>,
    /// Ids still registered, ascending.
    pub retained: Vec<u64>,
}

/// Which ids [`Map::import_snapshots`] registers snapshots under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotIds {
    /// The ids they carry. Each must be above every id the map has used (ids are never
    /// reused, so an id from elsewhere cannot name a second snapshot here) and at most
    /// [`MAX_SNAPSHOT_ID`](crate::MAX_SNAPSHOT_ID); a snapshot whose `meta.id` is 0 (none
    /// recorded) gets a fresh id.
    #[default]
    Recorded,
    /// Fresh ids from this map, in the order given, whatever they carry. A parent id is kept
    /// (translated) when the parent is imported in the same call, and dropped otherwise: it
    /// named a snapshot of another id space.
    Fresh,
}

/// How [`Map::import_snapshots`] registers snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    /// Which ids they get.
    pub ids: SnapshotIds,
    /// The position (in the order given) of the snapshot to make current, if any.
    pub activate: Option<usize>,
    /// What activation does with pending mutations.
    pub pending: RollbackPolicy,
}

impl Default for ImportOptions {
    fn default() -> ImportOptions {
        ImportOptions {
            ids: SnapshotIds::Recorded,
            activate: None,
            pending: RollbackPolicy::Fail,
        }
    }
}

/// The result of [`Map::import_snapshots`].
#[derive(Debug, Clone)]
pub struct Imported {
    /// The registered snapshots, in the order given.
    pub snapshots: Vec<Snapshot>,
    /// Pending mutations discarded by the activation.
    pub discarded: u64,
}

/// A value read from a map; derefs to the value bytes.
///
/// A value of up to [`Value::INLINE`] bytes is copied into the handle; a larger one is shared
/// with the map's entry, which the handle keeps alive. Sharing means a reference-count update,
/// a write to memory that every reader of the entry reads, which costs more than copying a few
/// cache lines and makes readers of the same key on different cores contend for its line.
#[derive(Clone)]
pub struct Value(Held);

#[derive(Clone)]
enum Held {
    Copied { len: u8, bytes: [u8; Value::INLINE] },
    Shared(LeafRef),
}

impl Value {
    /// The largest value copied into a `Value` rather than shared with the map.
    pub const INLINE: usize = 128;

    /// The value of the entry `found`.
    fn of(found: &Found<'_>) -> Value {
        let value = found.value();
        Value(match u8::try_from(value.len()) {
            Ok(len) if value.len() <= Value::INLINE => {
                let mut bytes = [0; Value::INLINE];
                bytes[..value.len()].copy_from_slice(value);
                Held::Copied { len, bytes }
            }
            _ => Held::Shared(found.share()),
        })
    }
}

impl Deref for Value {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Held::Copied { len, bytes } => &bytes[..usize::from(*len)],
            Held::Shared(leaf) => leaf.value(),
        }
    }
}

impl AsRef<[u8]> for Value {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Value").field(&&**self).finish()
    }
}

/// One entry of an owned iteration. Holds the entry alive.
#[derive(Clone)]
pub struct Entry(LeafRef);

impl Entry {
    /// The key.
    pub fn key(&self) -> &[u8] {
        self.0.key()
    }
    /// The value.
    pub fn value(&self) -> &[u8] {
        self.0.value()
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Entry")
            .field(&self.key())
            .field(&self.value())
            .finish()
    }
}

/// An iteration that owns the version it walks, so it needs no borrow of the map or snapshot.
pub struct Entries(OwnedRange);

impl Entries {
    pub(crate) fn new(tree: &Tree, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Entries {
        Entries(tree.owned_range(start, end))
    }

    pub(crate) fn prefix(tree: &Tree, prefix: &[u8]) -> Entries {
        let end = prefix_end(prefix);
        let end = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        Entries::new(tree, Bound::Included(prefix), end)
    }
}

impl Iterator for Entries {
    type Item = Entry;
    #[inline]
    fn next(&mut self) -> Option<Entry> {
        self.0.next().map(Entry)
    }
}

impl DoubleEndedIterator for Entries {
    #[inline]
    fn next_back(&mut self) -> Option<Entry> {
        self.0.next_back().map(Entry)
    }
}

/// Counters of what a map has done, reported by [`Map::stats`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    pub(crate) puts: u64,
    pub(crate) deletes: u64,
    pub(crate) clears: u64,
    pub(crate) batches: u64,
    pub(crate) snapshots_taken: u64,
    pub(crate) snapshots_imported: u64,
    pub(crate) rollbacks: u64,
    pub(crate) discarded_mutations: u64,
    pub(crate) compactions: u64,
    pub(crate) snapshots_pruned: u64,
}

/// What writers keep beside the live state; guarded by [`Map`]'s writer lock.
pub(crate) struct State {
    /// Writes that changed an entry since the live state last equalled a snapshot.
    pub(crate) pending: u64,
    /// The snapshot the live state derives from (the current snapshot).
    pub(crate) current: Option<Snapshot>,
    /// The writes since the live state last equalled `current`.
    pub(crate) touched: Touched,
    pub(crate) registry: BTreeMap<u64, Snapshot>,
    /// How many of the newest snapshots every new snapshot keeps registered, if set.
    pub(crate) retention: Option<usize>,
    /// Above every snapshot id this map has used; at most `MAX_SNAPSHOT_ID + 1`.
    pub(crate) next_id: u64,
    pub(crate) counters: Counters,
}

/// Pin counts by snapshot id, shared with the read sessions that hold them.
pub(crate) type Pins = Mutex<HashMap<u64, u64>>;

/// A versioned, ordered map from byte strings to byte strings.
///
/// All methods take `&self`: the map synchronises internally, so it can be shared between
/// threads as it is.
///
/// # Concurrency
///
/// Writers (puts, deletes, batches, snapshots, rollbacks, registry changes) are serialised by
/// one writer lock. Readers of the live state (`get`, `contains_key`, `len`, `view`,
/// `read_with`, the start of `iter`, `range` and `prefix`) take a sharded reader lock: each
/// thread read-locks the shard its thread index picks, a lock word on a cache line of its own,
/// so readers on different cores write no memory in common and scale with cores. A writer
/// edits the live state in place (no copying of nodes that no snapshot shares) while it holds
/// every shard, which costs a write a fixed number of uncontended lock operations. Owned
/// iterations and [`view`](Map::view) take one reference on the root node, a write that every
/// such reader makes; [`read_with`](Map::read_with) reads under the shard lock without it.
///
/// | operation | cost |
/// |---|---|
/// | `get`, `contains_key`, `put`, `delete` | O(d) (d: trie depth, ~log₁₆ n) |
/// | `len`, `is_empty`, `pending_mutations` | O(1) |
/// | `snapshot` | O(w log w) for the w writes since the parent (past 64 writes, O(c · d) for the c keys changed), plus O(p · log s) to prune p snapshots under a retention policy |
/// | `rollback` | O(1) |
/// | `diff` | O(c · d) for c changed keys |
/// | `iter`, `range`, `prefix` | O(d) to start, O(1) amortised per entry |
/// | `write_batch` | O(b · d) for b operations |
/// | `compact` | O(s) for s registered snapshots |
/// | `stats` | O(nodes) across the live state and retained snapshots |
///
/// # Snapshot identity
///
/// A snapshot id names one snapshot of one map, ever: every snapshot the map takes or
/// registers gets an id above every id the map has used before (pruned ones included), so an
/// id never comes back. A snapshot of another map (or from a file) enters the registry only
/// through [`import_snapshots`](Map::import_snapshots) (under its own id when that id is still
/// unused here, or under a fresh one) or through [`rollback`](Map::rollback), which registers
/// it under a fresh id.
pub struct Map {
    /// The live state. Replaced or edited only by a writer that holds `state`'s lock (lock
    /// order: `state`, then `live`).
    live: ShardedLock<Tree>,
    pub(super) state: Mutex<State>,
    pub(super) pins: Arc<Pins>,
    /// The id space of this map's snapshot ids.
    id: MapId,
}

impl Default for Map {
    fn default() -> Map {
        Map::new()
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Map {
    /// An empty map with no snapshots.
    pub fn new() -> Map {
        Map {
            live: ShardedLock::new(Tree::new()),
            state: Mutex::new(State {
                pending: 0,
                current: None,
                touched: Touched::default(),
                registry: BTreeMap::new(),
                retention: None,
                next_id: 1,
                counters: Counters::default(),
            }),
            pins: Arc::new(Mutex::new(HashMap::new())),
            id: MapId::unique(),
        }
    }

    /// The live state under this thread's reader shard.
    #[inline]
    pub(super) fn live(&self) -> ShardedLockReadGuard<'_, Tree> {
        // A writer that panicked left a whole tree: every edit is all or nothing.
        self.live.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live state for a writer, who holds the writer lock already.
    fn live_mut(&self) -> ShardedLockWriteGuard<'_, Tree> {
        self.live.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets `key` to `value`. Setting a key to the value it holds is not a mutation.
    ///
    /// Fails with [`Error::KeyTooLong`] or [`Error::ValueTooLong`], changing nothing.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        check_entry(key, value)?;
        let state = &mut *self.state.lock();
        let changed = state.touched.put(&mut self.live_mut(), key, value);
        state.pending += u64::from(changed);
        state.counters.puts += 1;
        Ok(())
    }

    /// The value under `key` in the live state.
    pub fn get(&self, key: &[u8]) -> Option<Value> {
        Some(Value::of(&self.live().find(key)?))
    }

    /// `read` applied to the live state as of this call: a consistent read of several keys, a
    /// scan or a root hash with no snapshot registered and no reference taken on the root.
    /// Writers wait until `read` returns, so keep it short; `read` must not write to this map.
    pub fn read_with<R>(&self, read: impl FnOnce(&Tree) -> R) -> R {
        read(&self.live())
    }

    /// `read` applied to the value under `key` in the live state, under the read lock: for
    /// callers that copy the value out (the C ABI), with no [`Value`] in between. `read` must
    /// not use the map.
    pub(crate) fn read_value<R>(&self, key: &[u8], read: impl FnOnce(&[u8]) -> R) -> Option<R> {
        Some(read(self.live().find(key)?.value()))
    }

    /// Whether `key` is present in the live state.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.live().contains_key(key)
    }

    /// Removes `key`. Returns whether it existed; deleting a missing key is not a mutation.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        let state = &mut *self.state.lock();
        let existed = state.touched.delete(&mut self.live_mut(), key);
        if existed {
            state.pending += 1;
            state.counters.deletes += 1;
        }
        Ok(existed)
    }

    /// Number of entries in the live state.
    pub fn len(&self) -> u64 {
        self.live().len()
    }

    /// Whether the live state is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry from the live state; snapshots keep theirs. Returns how many entries
    /// were removed. Clearing an empty map is not a mutation.
    pub fn clear(&self) -> u64 {
        let mut state = self.state.lock();
        let mut live = self.live_mut();
        let removed = live.len();
        if removed > 0 {
            live.clear();
            state.touched.overflow();
            state.pending += 1;
            state.counters.clears += 1;
        }
        removed
    }

    /// Runs `write` as one atomic change if `check` accepts the live state, both under the
    /// writer lock, then lets `tally` count it; readers see all of the change or none. Returns
    /// the number of writes that changed the live state, or `None` (nothing changed) when
    /// `check` refused. A refused check never blocks readers.
    pub(super) fn write_if(
        &self,
        check: impl FnOnce(&Tree) -> bool,
        write: impl FnOnce(&mut Writer<'_>),
        tally: impl FnOnce(&mut Counters),
    ) -> Option<u64> {
        let state = &mut *self.state.lock();
        if !check(&self.live()) {
            return None;
        }
        let mut writer = Writer {
            touched: &mut state.touched,
            live: &mut self.live_mut(),
            applied: 0,
        };
        write(&mut writer);
        let applied = writer.applied;
        state.pending += applied;
        tally(&mut state.counters);
        Some(applied)
    }

    /// Applies every operation of `batch` in order, atomically: readers see all of it or none.
    /// Returns the number of operations that changed an entry (a put of the value a key holds
    /// and a delete of a missing key change none).
    pub fn write_batch(&self, batch: &Batch) -> u64 {
        let state = &mut *self.state.lock();
        let live = &mut *self.live_mut();
        let mut applied = 0;
        for op in &batch.ops {
            match op {
                Op::Put(key, value) => {
                    applied += u64::from(state.touched.put(live, key, value));
                }
                Op::Delete(key) => {
                    applied += u64::from(state.touched.delete(live, key));
                }
            }
        }
        state.pending += applied;
        state.counters.batches += 1;
        applied
    }

    /// A point-in-time view of the live state: O(1), immutable, unaffected by later writes,
    /// registered nowhere. While it lives, the next write to each path it shares copies that
    /// path, as for a snapshot.
    pub fn view(&self) -> Tree {
        self.live().clone()
    }

    /// All entries of the live state, in key order, as of this call.
    pub fn iter(&self) -> Entries {
        Entries::new(&self.view(), Bound::Unbounded, Bound::Unbounded)
    }

    /// Entries with `start <= key < end` in the live state, as of this call.
    pub fn range(&self, start: &[u8], end: &[u8]) -> Entries {
        Entries::new(&self.view(), Bound::Included(start), Bound::Excluded(end))
    }

    /// Entries whose key starts with `prefix` in the live state, as of this call.
    pub fn prefix(&self, prefix: &[u8]) -> Entries {
        Entries::prefix(&self.view(), prefix)
    }

    /// The id the next snapshot will get: above every id this map has ever used, pruned ones
    /// included.
    pub fn next_snapshot_id(&self) -> u64 {
        self.state.lock().next_id
    }

    /// Writes that changed an entry since the live state last equalled a snapshot (a put of
    /// the value a key holds and a delete of a missing key are not counted).
    pub fn pending_mutations(&self) -> u64 {
        self.state.lock().pending
    }

    /// Takes an immutable snapshot of the live state, registers it and makes it current.
    pub fn snapshot(&self) -> Snapshot {
        let mut state = self.state.lock();
        let snapshot = self.snapshot_locked(&mut state);
        state.counters.snapshots_taken += 1;
        state.registry.insert(snapshot.id(), snapshot.clone());
        if let Some(retain_last) = state.retention {
            prune(&mut state, &self.pins, retain_last);
        }
        snapshot
    }

    /// The writer lock, for operations that span several maps (a sharded map's cuts).
    pub(super) fn lock_writer(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// The writer lock and the live state held together, for writes that span several maps.
    /// Lock order: every map's writer lock and live state, map by map in a fixed order.
    pub(super) fn lock_all(&self) -> Locked<'_> {
        let state = self.state.lock();
        Locked {
            state,
            live: self.live_mut(),
        }
    }

    /// A snapshot of the live state that becomes current, taken by a writer holding `state`;
    /// not registered.
    pub(super) fn snapshot_locked(&self, state: &mut State) -> Snapshot {
        // Writers hold `state`, so the live state cannot change before this snapshot is taken.
        let live = self.view();
        let parent = state.current.clone();
        let delta_size = match &parent {
            Some(parent) => state
                .touched
                .delta()
                .unwrap_or_else(|| parent.tree().diff(&live).count() as u64),
            None => live.len(),
        };
        let meta = SnapshotMeta {
            id: state.next_id,
            generation: parent.as_ref().map_or(1, |p| p.meta().generation + 1),
            parent_id: parent.as_ref().map(Snapshot::id),
            created_at_ns: now_ns(),
            mutation_count: state.pending,
            delta_size,
            size: live.len(),
        };
        let snapshot = Snapshot::new(meta, live, self.id);
        // No overflow: imports never take an id above MAX_SNAPSHOT_ID, so reaching u64::MAX
        // would take 2^63 snapshots.
        state.next_id += 1;
        state.pending = 0;
        state.touched.reset();
        state.current = Some(snapshot.clone());
        snapshot
    }

    /// Makes the live state equal to `target` and makes it current. No other snapshot is
    /// touched. A snapshot of this map need not be registered (it may have been pruned); a
    /// snapshot of another map is registered here under a fresh id (its parent id, which
    /// named a snapshot of the other map, is dropped), and that new snapshot becomes current.
    ///
    /// With pending mutations that left the live state different from the current snapshot,
    /// [`RollbackPolicy::Fail`] refuses with [`Error::PendingChanges`]; otherwise the pending
    /// mutations are dropped and counted.
    pub fn rollback(&self, target: &Snapshot, policy: RollbackPolicy) -> Result<RollbackOutcome> {
        let mut state = self.state.lock();
        let discarded = check_pending(&state, &self.live(), policy)?;
        let target = if target.map_id() == self.id {
            target.clone()
        } else {
            let meta = SnapshotMeta {
                parent_id: None,
                ..target.meta().clone()
            };
            let mut adopted = self.register_fresh(&mut state, vec![(meta, target.tree().clone())]);
            adopted.remove(0)
        };
        make_current(&mut state, &mut self.live_mut(), &target, discarded);
        Ok(RollbackOutcome { discarded })
    }

    /// [`rollback`](Map::rollback) to a registered snapshot by id.
    pub fn rollback_to(&self, id: u64, policy: RollbackPolicy) -> Result<RollbackOutcome> {
        let target = self
            .snapshot_by_id(id)
            .ok_or(Error::UnknownSnapshot { id })?;
        self.rollback(&target, policy)
    }

    /// The changes from `old` to `new`, in key order.
    pub fn diff<'a>(&self, old: &'a Snapshot, new: &'a Snapshot) -> Diff<'a> {
        old.diff(new)
    }

    /// The changes from `old` to the live state as of this call, in key order.
    pub fn diff_live(&self, old: &Snapshot) -> OwnedDiff {
        old.tree().diff_owned(&self.view())
    }

    /// The registered snapshots, by ascending id.
    pub fn snapshots(&self) -> Vec<Snapshot> {
        self.state.lock().registry.values().cloned().collect()
    }

    /// Number of registered snapshots.
    pub fn snapshot_count(&self) -> usize {
        self.state.lock().registry.len()
    }

    /// The registered snapshot at position `index` in ascending id order (0 is the oldest).
    /// O(index).
    pub fn snapshot_at(&self, index: usize) -> Option<Snapshot> {
        self.state.lock().registry.values().nth(index).cloned()
    }

    /// The ids of the registered snapshots, ascending.
    pub fn snapshot_ids(&self) -> Vec<u64> {
        self.state.lock().registry.keys().copied().collect()
    }

    /// The registered snapshot with this id.
    pub fn snapshot_by_id(&self, id: u64) -> Option<Snapshot> {
        self.state.lock().registry.get(&id).cloned()
    }

    /// The snapshot the live state derives from: the last one taken, rolled back to or
    /// activated.
    pub fn current_snapshot(&self) -> Option<Snapshot> {
        self.state.lock().current.clone()
    }

    /// Pins `snapshot` for a read session: [`compact`](Map::compact) keeps it registered until
    /// every session on it is dropped.
    ///
    /// Fails with [`Error::InvalidArgument`] when `snapshot` belongs to another map (its id
    /// means nothing here; roll back to it or import it first).
    pub fn pin(&self, snapshot: &Snapshot) -> Result<ReadSession> {
        if snapshot.map_id() != self.id {
            return Err(Error::InvalidArgument(format!(
                "snapshot {} belongs to another map; pin it on that map, or register it here \
                 first (rollback or import)",
                snapshot.id()
            )));
        }
        *self.pins.lock().entry(snapshot.id()).or_insert(0) += 1;
        Ok(ReadSession {
            snapshot: snapshot.clone(),
            pins: self.pins.clone(),
        })
    }

    /// Prunes the registry to the newest `retain_last` snapshots plus the current one and every
    /// pinned one. Pruned snapshots stay readable through the handles that exist.
    pub fn compact(&self, retain_last: usize) -> CompactReport {
        let mut state = self.state.lock();
        let pruned = prune(&mut state, &self.pins, retain_last);
        state.counters.compactions += 1;
        CompactReport {
            pruned,
            retained: state.registry.keys().copied().collect(),
        }
    }

    /// Sets the retention policy: with `Some(n)`, the registry is pruned to the newest `n`
    /// snapshots plus the current and every pinned one, as [`compact`](Map::compact) would,
    /// now and by every later [`snapshot`](Map::snapshot); `None` stops the automatic pruning.
    /// Returns the ids pruned now, ascending.
    pub fn set_retention(&self, retain_last: Option<usize>) -> Vec<u64> {
        let mut state = self.state.lock();
        state.retention = retain_last;
        match retain_last {
            Some(n) => prune(&mut state, &self.pins, n),
            None => Vec::new(),
        }
    }

    /// The retention policy set by [`set_retention`](Map::set_retention).
    pub fn retention(&self) -> Option<usize> {
        self.state.lock().retention
    }

    /// Registers snapshots made elsewhere (for example loaded from files), all or none, under
    /// the ids `options.ids` says, and makes `options.activate` current if given. Returns the
    /// registered snapshots (with the ids they got) in the order given.
    ///
    /// Fails, changing nothing: with [`Error::DuplicateSnapshot`] when a recorded id is
    /// repeated or not above every id this map has used; with [`Error::InvalidArgument`] when
    /// a recorded id is above [`MAX_SNAPSHOT_ID`](crate::MAX_SNAPSHOT_ID), when a `meta.size`
    /// disagrees with its tree or when `activate` is out of range; with
    /// [`Error::PendingChanges`] when activation meets pending mutations under
    /// [`RollbackPolicy::Fail`].
    pub fn import_snapshots(
        &self,
        snapshots: Vec<(SnapshotMeta, Tree)>,
        options: &ImportOptions,
    ) -> Result<Imported> {
        for (meta, tree) in &snapshots {
            if meta.size != tree.len() {
                return Err(Error::InvalidArgument(format!(
                    "snapshot {} declares {} entries but holds {}",
                    meta.id,
                    meta.size,
                    tree.len()
                )));
            }
        }
        if let Some(index) = options.activate
            && index >= snapshots.len()
        {
            return Err(Error::InvalidArgument(format!(
                "cannot activate snapshot {index} of {}",
                snapshots.len()
            )));
        }
        let mut state = self.state.lock();
        if options.ids == SnapshotIds::Recorded {
            let mut ids = std::collections::BTreeSet::new();
            for (meta, _) in &snapshots {
                if meta.id == 0 {
                    continue;
                }
                if meta.id > MAX_SNAPSHOT_ID {
                    return Err(Error::InvalidArgument(format!(
                        "snapshot id {} is above the largest id a map accepts ({MAX_SNAPSHOT_ID}); \
                         load it under a fresh id",
                        meta.id
                    )));
                }
                if meta.id < state.next_id || !ids.insert(meta.id) {
                    return Err(Error::DuplicateSnapshot { id: meta.id });
                }
            }
        }
        let discarded = match options.activate {
            Some(_) => check_pending(&state, &self.live(), options.pending)?,
            None => 0,
        };
        let snapshots = match options.ids {
            SnapshotIds::Recorded => self.register_recorded(&mut state, snapshots),
            SnapshotIds::Fresh => self.register_fresh(&mut state, snapshots),
        };
        if let Some(index) = options.activate {
            make_current(
                &mut state,
                &mut self.live_mut(),
                &snapshots[index],
                discarded,
            );
        }
        Ok(Imported {
            snapshots,
            discarded,
        })
    }

    /// Registers checked snapshots under their recorded ids (fresh ones for id 0, which also
    /// stands for generation 0), in order.
    fn register_recorded(
        &self,
        state: &mut State,
        snapshots: Vec<(SnapshotMeta, Tree)>,
    ) -> Vec<Snapshot> {
        // Recorded ids go first, so that a fresh id given to a snapshot without one cannot
        // take an id recorded later in the same call.
        let top = snapshots.iter().map(|(meta, _)| meta.id).max().unwrap_or(0);
        state.next_id = state.next_id.max(top.saturating_add(1));
        let registered: Vec<Snapshot> = snapshots
            .into_iter()
            .map(|(mut meta, tree)| {
                if meta.id == 0 {
                    meta.id = state.next_id;
                    state.next_id += 1;
                }
                if meta.generation == 0 {
                    meta.generation = meta.id;
                }
                Snapshot::new(meta, tree, self.id)
            })
            .collect();
        register(state, &registered);
        registered
    }

    /// Registers snapshots under fresh ids in order, translating parent ids that name one of
    /// them and dropping the others.
    fn register_fresh(
        &self,
        state: &mut State,
        snapshots: Vec<(SnapshotMeta, Tree)>,
    ) -> Vec<Snapshot> {
        let mut given: HashMap<u64, u64> = HashMap::new();
        let registered: Vec<Snapshot> = snapshots
            .into_iter()
            .map(|(mut meta, tree)| {
                let id = state.next_id;
                state.next_id += 1;
                if meta.id != 0 {
                    given.insert(meta.id, id);
                }
                if meta.generation == 0 {
                    meta.generation = id;
                }
                meta.id = id;
                (meta, tree)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|(mut meta, tree)| {
                meta.parent_id = meta.parent_id.and_then(|p| given.get(&p).copied());
                Snapshot::new(meta, tree, self.id)
            })
            .collect();
        register(state, &registered);
        registered
    }
}

/// Adds snapshots with checked ids to the registry and counts them as imported.
fn register(state: &mut State, snapshots: &[Snapshot]) {
    for snapshot in snapshots {
        state.registry.insert(snapshot.id(), snapshot.clone());
    }
    state.counters.snapshots_imported += snapshots.len() as u64;
}

/// A map's writer lock and live state, held together.
pub(super) struct Locked<'a> {
    pub(super) state: MutexGuard<'a, State>,
    live: ShardedLockWriteGuard<'a, Tree>,
}

impl Locked<'_> {
    /// Runs `write` on the live state and counts it as a batch; returns the writes that
    /// changed it.
    pub(super) fn write(&mut self, write: impl FnOnce(&mut Writer<'_>)) -> u64 {
        let state = &mut *self.state;
        let mut writer = Writer {
            touched: &mut state.touched,
            live: &mut self.live,
            applied: 0,
        };
        write(&mut writer);
        let applied = writer.applied;
        state.pending += applied;
        state.counters.batches += 1;
        applied
    }

    /// The live state.
    pub(super) fn live(&self) -> &Tree {
        &self.live
    }

    /// Makes the live state `target`'s and `target` current, counting `discarded` mutations
    /// as dropped.
    pub(super) fn make_current(&mut self, target: &Snapshot, discarded: u64) {
        make_current(&mut self.state, &mut self.live, target, discarded);
    }
}

/// Writes to the live state under the writer lock, counting those that changed it.
pub(super) struct Writer<'a> {
    touched: &'a mut Touched,
    live: &'a mut Tree,
    applied: u64,
}

impl Writer<'_> {
    /// Sets `key` to `value` (both checked against the limits); setting a key to the value it
    /// holds is not a mutation.
    pub(super) fn put(&mut self, key: &[u8], value: &[u8]) {
        self.applied += u64::from(self.touched.put(self.live, key, value));
    }

    /// Removes `key`; removing an absent key is not a mutation.
    pub(super) fn delete(&mut self, key: &[u8]) {
        self.applied += u64::from(self.touched.delete(self.live, key));
    }
}

/// Removes from the registry the snapshots older than the newest `retain_last`, except the
/// current one and pinned ones; returns their ids, ascending. The registry is ordered by id, so
/// the candidates are its first entries and the cost is O(candidates · log s).
fn prune(state: &mut State, pins: &Pins, retain_last: usize) -> Vec<u64> {
    let current = state.current.as_ref().map(Snapshot::id);
    let excess = state.registry.len().saturating_sub(retain_last);
    if excess == 0 {
        return Vec::new();
    }
    let pins = pins.lock();
    let pruned: Vec<u64> = state
        .registry
        .keys()
        .take(excess)
        .copied()
        .filter(|id| Some(*id) != current && pins.get(id).is_none_or(|&n| n == 0))
        .collect();
    drop(pins);
    for id in &pruned {
        state.registry.remove(id);
    }
    state.counters.snapshots_pruned += pruned.len() as u64;
    pruned
}

/// The pending mutations a rollback under `policy` drops, or the refusal.
fn check_pending(state: &State, live: &Tree, policy: RollbackPolicy) -> Result<u64> {
    match (state.pending, policy) {
        (0, _) => Ok(0),
        (count, RollbackPolicy::Fail) if !undone(state, live) => {
            Err(Error::PendingChanges { count })
        }
        (count, _) => Ok(count),
    }
}

/// Whether the pending mutations cancel out (the live state equals the current snapshot, or
/// is empty with none), so that dropping them loses nothing. O(w log w) for w logged writes,
/// else O(c · d) for the c keys changed.
fn undone(state: &State, live: &Tree) -> bool {
    match (state.touched.delta(), &state.current) {
        (Some(changed), _) => changed == 0,
        (None, Some(current)) => current.tree().diff(live).next().is_none(),
        (None, None) => live.is_empty(),
    }
}

fn make_current(state: &mut State, live: &mut Tree, target: &Snapshot, discarded: u64) {
    *live = target.tree().clone();
    state.current = Some(target.clone());
    state.pending = 0;
    state.touched.reset();
    state.counters.rollbacks += 1;
    state.counters.discarded_mutations += discarded;
}

/// A pinned snapshot: [`Map::compact`] keeps it registered while the session lives.
/// Derefs to the [`Snapshot`].
pub struct ReadSession {
    snapshot: Snapshot,
    pins: Arc<Pins>,
}

impl Deref for ReadSession {
    type Target = Snapshot;
    fn deref(&self) -> &Snapshot {
        &self.snapshot
    }
}

impl Drop for ReadSession {
    fn drop(&mut self) {
        let mut pins = self.pins.lock();
        if let Some(count) = pins.get_mut(&self.snapshot.id()) {
            *count -= 1;
            if *count == 0 {
                pins.remove(&self.snapshot.id());
            }
        }
    }
}
