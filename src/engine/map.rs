//! The versioned map: a live state, a registry of snapshots, pins and counters.

use std::collections::{BTreeMap, HashMap};
use std::ops::{Bound, Deref};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, MutexGuard};

use crate::engine::batch::{Batch, Op};
use crate::engine::journal::{Change, Journal, MapImage, Ticket};
use crate::engine::live::{Live, LiveRead, LiveWrite};
use crate::engine::rw_set::Observed;
use crate::engine::snapshot::{MAX_SNAPSHOT_ID, MapId, Snapshot, SnapshotMeta};
use crate::engine::touched::Touched;
use crate::error::{Error, Result, check_entry, check_key};
use crate::tree::{
    Diff, Found, LeafRef, NodeSource, OwnedDiff, OwnedRange, Tree, TryDiff, TryOwnedDiff,
    TryOwnedRange, prefix_end,
};

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
    /// [`MAX_SNAPSHOT_ID`]; a snapshot whose `meta.id` is 0 (none recorded) gets a fresh id.
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

/// An iteration that owns the version it walks, for versions with stored nodes: entries in
/// key order (and backwards with `.rev()`), each a `Result`; a failed load of a stored node is
/// yielded once and ends the iteration. [`try_next`](TryEntries::try_next) and
/// [`try_next_back`](TryEntries::try_next_back) step without ending at an error, for callers
/// that may retry. A version built in memory never fails, and walks as fast as [`Entries`].
pub struct TryEntries {
    range: TryOwnedRange,
    failed: bool,
}

impl TryEntries {
    /// The entries of `tree` between the bounds. O(1): the walk loads what it needs (O(d)
    /// nodes to start) at its first step from each end.
    pub fn new(tree: &Tree, start: Bound<&[u8]>, end: Bound<&[u8]>) -> TryEntries {
        TryEntries {
            range: tree.try_owned_range(start, end),
            failed: false,
        }
    }

    pub(crate) fn prefix(tree: &Tree, prefix: &[u8]) -> TryEntries {
        let end = prefix_end(prefix);
        let end = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        TryEntries::new(tree, Bound::Included(prefix), end)
    }

    /// The next entry in key order (`None` when no entry is left), or the error of a load
    /// that failed. An error does not end the walk: it stays where it was, and the next call
    /// tries the load again (a passing I/O error may succeed; corrupt data fails again).
    pub fn try_next(&mut self) -> Result<Option<Entry>> {
        Ok(self.range.step(true)?.map(Entry))
    }

    /// [`try_next`](TryEntries::try_next) from the back: the last entry not yet returned.
    /// The two ends meet in the middle and never return an entry twice.
    pub fn try_next_back(&mut self) -> Result<Option<Entry>> {
        Ok(self.range.step(false)?.map(Entry))
    }

    /// `step` as the iterator yields it: an error ends the iteration.
    fn fused(&mut self, step: Result<Option<Entry>>) -> Option<Result<Entry>> {
        step.inspect_err(|_| self.failed = true).transpose()
    }
}

impl Iterator for TryEntries {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let step = self.try_next();
        self.fused(step)
    }
}

impl DoubleEndedIterator for TryEntries {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let step = self.try_next_back();
        self.fused(step)
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
/// one writer lock, and edit the live state in place (no copying of nodes that no snapshot
/// shares) under a reader-writer lock on it. Readers of the live state (`get`,
/// `contains_key`, `len`, `view`, `read_with`, the start of `iter`, `range` and `prefix`)
/// read a published copy of it when the map has not been written since the copy was made:
/// loading the copy writes only to a slot of the reading thread, so readers on different
/// cores write no memory in common and scale with cores. Otherwise they read under the lock,
/// and after a few such reads one of them publishes a copy (O(1): the root is shared), which
/// the next write withdraws (see `crate::engine::live`). So a write costs one
/// uncontended lock beside the writer lock, a map that is only read scales, and a map that
/// alternates writes with a few reads is read under the lock. Owned iterations and
/// [`view`](Map::view) take one reference on the root node, a write that every such reader
/// makes; [`read_with`](Map::read_with) reads without it.
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
/// # Store-backed maps
///
/// A map a [`Store`](crate::store::Store) gives out ([`Store::map`](crate::store::Store::map))
/// has a [journal](crate::engine::journal): every change is logged before it is applied and
/// acknowledged as the store's durability says, and survives reopening with the registry,
/// snapshot metadata, current snapshot, retention, pending count and next id. Its versions'
/// nodes load from disk on first use, so on such a map use the `try_` forms: reads
/// ([`try_get`](Map::try_get), [`try_iter`](Map::try_iter), [`try_range`](Map::try_range),
/// [`try_prefix`](Map::try_prefix), [`try_diff`](Map::try_diff),
/// [`try_stats`](Map::try_stats)) report a failed load, and writes that return no `Result`
/// ([`try_snapshot`](Map::try_snapshot), [`try_write_batch`](Map::try_write_batch),
/// [`try_clear`](Map::try_clear), [`try_compact`](Map::try_compact),
/// [`try_set_retention`](Map::try_set_retention)) report a failed log write or sync. The other
/// forms load too, and panic where they cannot report. Pins are read sessions of the process:
/// not persisted. A rollback must name a registered snapshot (a pruned one is no longer on
/// disk: [`Error::UnknownSnapshot`]).
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
    /// The live state and its version. Replaced or edited only by a writer that holds
    /// `state`'s lock (lock order: `state`, then `live`). The version advances with every
    /// writer that takes the live state for writing, so while it is unchanged so is the live
    /// state (what lets a transaction's commit skip looking its reads up again).
    live: Live,
    pub(super) state: Mutex<State>,
    pub(super) pins: Arc<Pins>,
    /// The id space of this map's snapshot ids.
    id: MapId,
    /// Where every change goes before it is applied, for a store-backed map (see
    /// [`journal`](crate::engine::journal)).
    journal: Option<Arc<dyn Journal>>,
}

impl Drop for Map {
    fn drop(&mut self) {
        if let Some(journal) = &self.journal {
            journal.map_dropped(self);
        }
    }
}

impl Default for Map {
    fn default() -> Map {
        Map::new()
    }
}

pub(super) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Map {
    /// An empty map with no snapshots.
    pub fn new() -> Map {
        Map {
            live: Live::new(Tree::new()),
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
            journal: None,
        }
    }

    /// A map holding `image` (as [`image`](Map::image) took it, or as a store read it), with
    /// no journal. Stored trees stay unloaded: O(s) for s snapshots, nothing read.
    ///
    /// Fails with [`Error::InvalidArgument`] when the snapshots are not ascending by id, an id
    /// is 0, at or above `next_id` or above [`MAX_SNAPSHOT_ID`], or `current` is not one of
    /// them.
    pub fn from_image(image: MapImage) -> Result<Map> {
        let map = Map::new();
        map.restore(image)?;
        Ok(map)
    }

    /// Replaces this map's whole state (live state, registry, current snapshot, retention,
    /// pending count, next id) with `image`'s, as one change readers see all of or none; the
    /// journal, the counters and the pins stay. Snapshots taken before remain readable through
    /// their handles. For a read-only store moving to a newer committed state; fails as
    /// [`from_image`](Map::from_image), changing nothing.
    pub fn restore(&self, image: MapImage) -> Result<()> {
        let bad = |why: String| Err(Error::InvalidArgument(format!("map image: {why}")));
        let mut last = 0;
        for (meta, _) in &image.snapshots {
            if meta.id <= last || meta.id >= image.next_id || meta.id > MAX_SNAPSHOT_ID {
                return bad(format!("snapshot id {} out of order or range", meta.id));
            }
            last = meta.id;
        }
        if image.next_id == 0 || image.next_id > MAX_SNAPSHOT_ID + 1 {
            return bad(format!("next snapshot id {}", image.next_id));
        }
        let registry: BTreeMap<u64, Snapshot> = image
            .snapshots
            .into_iter()
            .map(|(meta, tree)| (meta.id, Snapshot::new(meta, tree, self.id)))
            .collect();
        let current = match image.current {
            None => None,
            Some(id) => match registry.get(&id) {
                Some(snapshot) => Some(snapshot.clone()),
                None => return bad(format!("current snapshot {id} is not registered")),
            },
        };
        let retention = match image.retention.map(usize::try_from) {
            Some(Err(_)) => return bad("retention past usize".into()),
            Some(Ok(n)) => Some(n),
            None => None,
        };
        let mut state = self.state.lock();
        let mut live = self.live_mut();
        *live = image.live;
        state.registry = registry;
        state.current = current;
        state.retention = retention;
        state.pending = image.pending;
        state.next_id = image.next_id;
        state.touched.reset();
        if image.pending > 0 {
            // Which keys the pending mutations changed is not known: the next snapshot
            // counts its delta by diffing.
            state.touched.overflow();
        }
        Ok(())
    }

    /// This map's whole state as of this call (O(s) for s registered snapshots), and what
    /// `also` returns, run under the writer lock: a journal reads its position there, so the
    /// image is exactly the journal's changes up to that position.
    pub fn image_with<R>(&self, also: impl FnOnce() -> R) -> (MapImage, R) {
        let state = self.state.lock();
        let image = image_of(&state, self.live_held().clone(), state.pending);
        (image, also())
    }

    /// Sets every key of `entries` to its value (a key given twice takes its last value) as
    /// one change, and hands the map's whole state with it to `publish`, all under the writer
    /// lock: the change is made visible to readers only once `publish` returns `Ok`, and no
    /// other write is applied between the two. Returns the number of entries that changed (a
    /// put of the value a key holds changes none); a load that changes nothing publishes
    /// nothing.
    ///
    /// This is the bulk load of a journal that persists the state `publish` is given instead
    /// of logging the change (a store's [`load`](crate::store::Store::load)): the change is not
    /// handed to the journal, so on a store-backed map only the store calls it. On an
    /// in-memory map, `|_| Ok(())` makes it a plain bulk load. Readers go on reading the state
    /// before the load until it is published: the entries are applied to a copy (sorted by
    /// key), which shares the unchanged nodes.
    ///
    /// Fails, changing nothing, with [`Error::KeyTooLong`] or [`Error::ValueTooLong`] when an
    /// entry is past the limits (before anything is applied), with the error of a failed load of a
    /// stored node, or with `publish`'s error.
    pub fn load_with<'e>(
        &self,
        entries: impl IntoIterator<Item = (&'e [u8], &'e [u8])>,
        publish: impl FnOnce(&MapImage) -> Result<()>,
    ) -> Result<u64> {
        // Sorted by key, then by position (a key's last value wins): the tree is built in key
        // order, which keeps each path in cache while its keys go in.
        let mut sorted: Vec<(u64, &[u8], usize, &[u8])> = Vec::new();
        for (at, (key, value)) in entries.into_iter().enumerate() {
            check_entry(key, value)?;
            let mut head = [0u8; 8];
            let n = key.len().min(8);
            head[..n].copy_from_slice(&key[..n]);
            sorted.push((u64::from_be_bytes(head), key, at, value));
        }
        sorted.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        let mut state = self.state.lock();
        let mut live = self.live_held().clone();
        let mut changed = 0u64;
        for (i, &(_, key, _, value)) in sorted.iter().enumerate() {
            if sorted.get(i + 1).is_some_and(|next| next.1 == key) {
                continue;
            }
            live.load_path(key)?;
            let old = live.insert_replacing(key, value);
            changed += u64::from(old.is_none_or(|old| old.value() != value));
        }
        drop(sorted);
        if changed == 0 {
            return Ok(0);
        }
        publish(&image_of(&state, live.clone(), state.pending + changed))?;
        // Which keys changed is not recorded: the next snapshot counts its delta by diffing.
        state.touched.overflow();
        state.pending += changed;
        state.counters.batches += 1;
        let old = std::mem::replace(&mut *self.live_mut(), live);
        drop(state);
        // What only the old live state held is freed outside the locks.
        drop(old);
        Ok(changed)
    }

    /// [`image_with`](Map::image_with) with nothing else.
    pub fn image(&self) -> MapImage {
        self.image_with(|| ()).0
    }

    /// Makes every stored subtree `depth` or more levels below the root of the live state and
    /// of every registered snapshot an unloaded reference into `source` again
    /// ([`Tree::unload`]), so that the memory of what those versions loaded is freed once no
    /// other holder (a [`Snapshot`] handle, a pin, an iterator, a view) shares it. Versions
    /// with the same root are rebuilt once and stay shared. Runs under the writer lock, so no
    /// write is lost or reordered; readers wait only for the swap of the live state, not for
    /// the rebuild. Loads nothing; O(n) in the nodes the versions hold in memory. Must not be
    /// called from inside a read of this map (the swap waits for every reader).
    pub fn unload_stored(&self, depth: usize, source: &Arc<dyn NodeSource>) {
        let mut state = self.state.lock();
        let mut rebuilt: Vec<(Tree, Tree)> = Vec::new();
        let mut unload = |tree: &Tree| -> Tree {
            if let Some((_, new)) = rebuilt.iter().find(|(old, _)| old.ptr_eq(tree)) {
                return new.clone();
            }
            let mut new = tree.clone();
            new.unload(depth, source);
            rebuilt.push((tree.clone(), new.clone()));
            new
        };
        // Writers hold `state`, so the live state cannot change until the swap below.
        let live = self.live_held().clone();
        let live = unload(&live);
        let registry: BTreeMap<u64, Snapshot> = state
            .registry
            .values()
            .map(|s| {
                let tree = unload(s.tree());
                (s.id(), Snapshot::new(s.meta().clone(), tree, self.id))
            })
            .collect();
        let current = state.current.as_ref().map(|c| match registry.get(&c.id()) {
            Some(registered) => registered.clone(),
            None => Snapshot::new(c.meta().clone(), unload(c.tree()), self.id),
        });
        let old_registry = std::mem::replace(&mut state.registry, registry);
        let old_current = std::mem::replace(&mut state.current, current);
        let old_live = std::mem::replace(&mut *self.live_mut(), live);
        drop(state);
        // What only the old versions held is freed here, outside the locks.
        drop((old_registry, old_current, old_live, rebuilt));
    }

    /// Makes `journal` receive every later change of this map (see
    /// [`journal`](crate::engine::journal)). Set once, before the map is shared.
    pub fn set_journal(&mut self, journal: Arc<dyn Journal>) {
        self.journal = Some(journal);
    }

    /// The journal's counters, when the map has one.
    pub(super) fn journal_stats(&self) -> Option<serde_json::Value> {
        self.journal.as_ref().map(|j| j.stats())
    }

    /// Hands `change` to the journal, if any, after `load` loaded the stored nodes the change
    /// reads (so that applying it cannot fail). Called under the writer lock; an error
    /// changes nothing.
    #[inline]
    fn journal<'c>(
        &self,
        change: impl FnOnce() -> Change<'c>,
        load: impl FnOnce(&Tree) -> Result<()>,
    ) -> Result<Option<Ticket>> {
        match &self.journal {
            None => Ok(None),
            Some(journal) => append(&**journal, &self.live_held(), change(), load).map(Some),
        }
    }

    /// Waits for the journal to make the change of `ticket` durable.
    #[inline]
    fn commit(&self, ticket: Option<Ticket>) -> Result<()> {
        match (ticket, &self.journal) {
            (Some(ticket), Some(journal)) => journal.commit(ticket),
            _ => Ok(()),
        }
    }

    /// Whether changes go to a journal (the map is store-backed).
    pub fn is_journaled(&self) -> bool {
        self.journal.is_some()
    }

    /// The live state as of this call (see [`live`](crate::engine::live)).
    #[inline]
    pub(super) fn live(&self) -> LiveRead<'_> {
        self.live.read().0
    }

    /// The live state under its read lock, so unchanged while held, and not counted towards a
    /// publication (see [`Live::read_held`]): for writers, who hold the writer lock, and for
    /// cuts across shards.
    #[inline]
    pub(super) fn live_held(&self) -> LiveRead<'_> {
        self.live.read_held()
    }

    /// The live state for a writer, who holds the writer lock already; advances its version.
    #[inline]
    fn live_mut(&self) -> LiveWrite<'_> {
        self.live.write()
    }

    /// The live state's version: read by a writer who holds the writer lock (and so sees
    /// every writer's advance before it), a read made at this version still holds; read by a
    /// reader after a read, it shows whether a writer has taken the live state since.
    pub(super) fn live_version(&self) -> u64 {
        self.live.version()
    }

    /// The live state and its version as a reader sees them (see [`live`](crate::engine::live)).
    #[inline]
    pub(super) fn live_versioned(&self) -> (LiveRead<'_>, u64) {
        self.live.read()
    }

    /// A transaction's read of `key` (see [`TxnTarget::read`](crate::engine::TxnTarget::read)):
    /// hands what the live state holds to `keep` and returns the version it read, under one
    /// read lock.
    #[inline]
    pub(super) fn read_versioned(&self, key: &[u8], keep: impl FnOnce(Observed<'_>)) -> u64 {
        let (live, version) = self.live.read();
        keep(observe(live.find(key)));
        version
    }

    /// [`read_versioned`](Map::read_versioned) that reports a failed load of a stored node.
    pub(super) fn try_read_versioned(
        &self,
        key: &[u8],
        keep: impl FnOnce(Observed<'_>),
    ) -> Result<u64> {
        let (live, version) = self.live.read();
        live.load_path(key)?;
        keep(observe(live.find(key)));
        Ok(version)
    }

    /// Sets `key` to `value`. Setting a key to the value it holds is not a mutation.
    ///
    /// Fails with [`Error::KeyTooLong`] or [`Error::ValueTooLong`], changing nothing.
    ///
    /// On a store-backed map the put is logged first and acknowledged as the store's
    /// durability says; a failed load or log write fails the put, changing nothing, and a
    /// failed sync fails it after the change (the store is then poisoned).
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        check_entry(key, value)?;
        let ticket = {
            let state = &mut *self.state.lock();
            let ticket = self.journal(|| Change::Put { key, value }, |t| t.load_path(key))?;
            let changed = state.touched.put(&mut self.live_mut(), key, value);
            state.pending += u64::from(changed);
            state.counters.puts += 1;
            ticket
        };
        self.commit(ticket)
    }

    /// The value under `key` in the live state, copied out (a value larger than
    /// [`Value::INLINE`] is shared instead).
    ///
    /// For many reads in a row, read from one [`view`](Map::view): its `get` borrows each
    /// value and takes nothing per call, where this takes the live state for each call.
    ///
    /// On a store-backed map this loads the nodes on the key's path and panics if a load
    /// fails: use [`try_get`](Map::try_get) there.
    pub fn get(&self, key: &[u8]) -> Option<Value> {
        Some(Value::of(&self.live().find(key)?))
    }

    /// [`get`](Map::get) that reports a failed load of a stored node as an error.
    pub fn try_get(&self, key: &[u8]) -> Result<Option<Value>> {
        Ok(self.live().try_find(key)?.map(|found| Value::of(&found)))
    }

    /// [`contains_key`](Map::contains_key) that reports a failed load as an error.
    pub fn try_contains_key(&self, key: &[u8]) -> Result<bool> {
        self.live().try_contains_key(key)
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
    ///
    /// On a store-backed map, logged and acknowledged as [`put`](Map::put) is.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        let (existed, ticket) = {
            let state = &mut *self.state.lock();
            let ticket = self.journal(|| Change::Delete { key }, |t| t.load_path(key))?;
            let existed = state.touched.delete(&mut self.live_mut(), key);
            if existed {
                state.pending += 1;
                state.counters.deletes += 1;
            }
            (existed, ticket)
        };
        self.commit(ticket)?;
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
    ///
    /// Panics if the journal of a store-backed map fails: use [`try_clear`](Map::try_clear)
    /// there.
    pub fn clear(&self) -> u64 {
        self.try_clear()
            .expect("clear of a store-backed map failed; use try_clear")
    }

    /// [`clear`](Map::clear) that reports a failed journal write or sync (a store-backed map).
    pub fn try_clear(&self) -> Result<u64> {
        let (removed, ticket) = {
            let mut state = self.state.lock();
            let ticket = self.journal(|| Change::Clear, |_| Ok(()))?;
            let removed = clear(&mut state, &mut self.live_mut());
            (removed, ticket)
        };
        self.commit(ticket)?;
        Ok(removed)
    }

    /// Runs `write` as one atomic change if `check` accepts this map's live state (it reads it
    /// with [`live`](Map::live) and [`live_version`](Map::live_version)), both under the
    /// writer lock, then lets `tally` count it; readers see all of the change or none. Returns
    /// the number of writes that changed the live state, or `None` (nothing changed) when
    /// `check` refused. A refused check never blocks readers.
    ///
    /// On a store-backed map, `load` first loads every stored node `check` and `write` read,
    /// and `change` (what `write` does) is journaled once `check` accepted; a failed load or
    /// journal write is an error that changes nothing.
    pub(super) fn write_if<'c>(
        &self,
        load: impl FnOnce(&Tree) -> Result<()>,
        check: impl FnOnce(&Map) -> bool,
        change: impl FnOnce() -> Change<'c>,
        write: impl FnOnce(&mut Writer<'_>),
        tally: impl FnOnce(&mut Counters),
    ) -> Result<Option<u64>> {
        let (applied, ticket) = {
            let state = &mut *self.state.lock();
            if self.journal.is_some() {
                load(&self.live_held())?;
            }
            if !check(self) {
                return Ok(None);
            }
            let ticket = self.journal(change, |_| Ok(()))?;
            let mut writer = Writer {
                touched: &mut state.touched,
                live: &mut self.live_mut(),
                applied: 0,
            };
            write(&mut writer);
            let applied = writer.applied;
            state.pending += applied;
            tally(&mut state.counters);
            (applied, ticket)
        };
        self.commit(ticket)?;
        Ok(Some(applied))
    }

    /// Applies every operation of `batch` in order, atomically: readers see all of it or none.
    /// Returns the number of operations that changed an entry (a put of the value a key holds
    /// and a delete of a missing key change none).
    ///
    /// Panics if the journal of a store-backed map fails: use
    /// [`try_write_batch`](Map::try_write_batch) there.
    pub fn write_batch(&self, batch: &Batch) -> u64 {
        self.try_write_batch(batch)
            .expect("batch on a store-backed map failed; use try_write_batch")
    }

    /// [`write_batch`](Map::write_batch) that reports a failed load or journal write (changing
    /// nothing) or a failed sync (a store-backed map).
    pub fn try_write_batch(&self, batch: &Batch) -> Result<u64> {
        let (applied, ticket) = {
            let state = &mut *self.state.lock();
            let ticket = self.journal(
                || Change::Batch(batch),
                |t| batch.ops.iter().try_for_each(|op| t.load_path(op.key())),
            )?;
            let applied = apply_batch(&mut state.touched, &mut self.live_mut(), &batch.ops);
            state.pending += applied;
            state.counters.batches += 1;
            (applied, ticket)
        };
        self.commit(ticket)?;
        Ok(applied)
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

    /// [`iter`](Map::iter) for a store-backed map: each entry a `Result`, a failed load of a
    /// stored node yielded once and ending the walk.
    pub fn try_iter(&self) -> TryEntries {
        TryEntries::new(&self.view(), Bound::Unbounded, Bound::Unbounded)
    }

    /// [`range`](Map::range) for a store-backed map, as [`try_iter`](Map::try_iter).
    pub fn try_range(&self, start: &[u8], end: &[u8]) -> TryEntries {
        TryEntries::new(&self.view(), Bound::Included(start), Bound::Excluded(end))
    }

    /// Entries of the live state within arbitrary bounds, as of this call, as
    /// [`try_iter`](Map::try_iter).
    pub fn try_range_bounds(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> TryEntries {
        TryEntries::new(&self.view(), start, end)
    }

    /// [`prefix`](Map::prefix) for a store-backed map, as [`try_iter`](Map::try_iter).
    pub fn try_prefix(&self, prefix: &[u8]) -> TryEntries {
        TryEntries::prefix(&self.view(), prefix)
    }

    /// Applies a change a journal recorded (see [`journal`](crate::engine::journal)), as the
    /// map applied it then, without handing it to this map's journal: the way a store
    /// rebuilds a map from its log. Snapshots are registered with their recorded metadata
    /// and the replayed live state must have the recorded root hash.
    ///
    /// Fails with [`Error::Corrupt`] when the change does not fit the state (a root hash
    /// differs, a rollback names an unregistered snapshot, an activation is out of range),
    /// or with the error of a failed load.
    pub fn replay(&self, change: &Change<'_>) -> Result<()> {
        let corrupt = |why: String| Error::Corrupt(format!("replayed change: {why}"));
        let state = &mut *self.state.lock();
        let live = &mut *self.live_mut();
        match *change {
            Change::Put { key, value } => {
                check_entry(key, value)?;
                live.load_path(key)?;
                state.pending += u64::from(state.touched.put(live, key, value));
                state.counters.puts += 1;
            }
            Change::Delete { key } => {
                check_key(key)?;
                live.load_path(key)?;
                if state.touched.delete(live, key) {
                    state.pending += 1;
                    state.counters.deletes += 1;
                }
            }
            Change::Clear => {
                if !live.is_empty() {
                    live.clear();
                    state.touched.overflow();
                    state.pending += 1;
                    state.counters.clears += 1;
                }
            }
            Change::Batch(batch) => {
                for op in &batch.ops {
                    live.load_path(op.key())?;
                    state.pending += u64::from(match op {
                        Op::Put(key, value) => state.touched.put(live, key, value),
                        Op::Delete(key) => state.touched.delete(live, key),
                    });
                }
                state.counters.batches += 1;
            }
            Change::Writes(writes) => {
                for (key, value) in writes.iter() {
                    live.load_path(key)?;
                    state.pending += u64::from(match value {
                        Some(value) => state.touched.put(live, key, value),
                        None => state.touched.delete(live, key),
                    });
                }
                state.counters.batches += 1;
            }
            Change::Snapshot { meta, root, pruned } => {
                if meta.id < state.next_id || meta.id > MAX_SNAPSHOT_ID {
                    return Err(corrupt(format!("snapshot id {} is not fresh", meta.id)));
                }
                if live.root_hash() != root || live.len() != meta.size {
                    return Err(corrupt(format!(
                        "the live state replayed to snapshot {} differs from the one taken",
                        meta.id
                    )));
                }
                let snapshot = Snapshot::new(meta.clone(), live.clone(), self.id);
                make_snapshot_current(state, &snapshot);
                state.counters.snapshots_taken += 1;
                state.registry.insert(snapshot.id(), snapshot);
                remove_pruned(state, pruned);
            }
            Change::Rollback { id, discard: _ } => {
                let target =
                    state.registry.get(&id).cloned().ok_or_else(|| {
                        corrupt(format!("rollback to unregistered snapshot {id}"))
                    })?;
                let discarded = state.pending;
                make_current(state, live, &target, discarded);
            }
            Change::Retention { keep, pruned } => {
                state.retention = keep.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
                remove_pruned(state, pruned);
            }
            Change::Compact { pruned, .. } => {
                remove_pruned(state, pruned);
                state.counters.compactions += 1;
            }
            Change::Import {
                snapshots,
                activate,
            } => {
                if activate.is_some_and(|i| i >= snapshots.len()) {
                    return Err(corrupt("activation out of range".into()));
                }
                for (meta, _) in snapshots {
                    if meta.id == 0 || meta.id > MAX_SNAPSHOT_ID {
                        return Err(corrupt(format!("imported snapshot id {}", meta.id)));
                    }
                }
                let registered = self.register(state, snapshots.to_vec());
                if let Some(index) = activate {
                    let discarded = state.pending;
                    make_current(state, live, &registered[index], discarded);
                }
            }
        }
        Ok(())
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
    ///
    /// Panics if the journal of a store-backed map fails: use
    /// [`try_snapshot`](Map::try_snapshot) there.
    pub fn snapshot(&self) -> Snapshot {
        self.try_snapshot()
            .expect("snapshot of a store-backed map failed; use try_snapshot")
    }

    /// [`snapshot`](Map::snapshot) that reports a failed load or journal write (changing
    /// nothing) or a failed sync. On a store-backed map the snapshot is durable with its
    /// metadata once this returns (as the store's durability says), and so are the
    /// snapshots the retention policy pruned with it.
    pub fn try_snapshot(&self) -> Result<Snapshot> {
        let (snapshot, ticket) = {
            let mut state = self.state.lock();
            let snapshot = self.next_snapshot(&state, now_ns())?;
            let pruned = match state.retention {
                Some(n) => prune_plan(&state, &self.pins, n, Some(snapshot.id())),
                None => Vec::new(),
            };
            let ticket = self.journal(
                || Change::Snapshot {
                    meta: snapshot.meta(),
                    root: snapshot.root_hash(),
                    pruned: &pruned,
                },
                |_| Ok(()),
            )?;
            make_snapshot_current(&mut state, &snapshot);
            state.counters.snapshots_taken += 1;
            state.registry.insert(snapshot.id(), snapshot.clone());
            remove_pruned(&mut state, &pruned);
            (snapshot, ticket)
        };
        self.commit(ticket)?;
        Ok(snapshot)
    }

    /// The writer lock, for operations that span several maps (a sharded map's cuts).
    pub(super) fn lock_writer(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// The writer lock and the live state held together, for writes that span several maps.
    /// Lock order: every map's writer lock and live state, map by map in a fixed order.
    pub(super) fn lock_all(&self) -> Locked<'_> {
        let state = self.state.lock();
        let version = self.live_version();
        Locked {
            state,
            live: self.live_mut(),
            version,
        }
    }

    /// A snapshot of the live state that becomes current, taken by a writer holding `state`;
    /// not registered.
    /// `created_at_ns` is its time (one reading of the clock serves every shard of a cut).
    pub(super) fn snapshot_locked(&self, state: &mut State, created_at_ns: u64) -> Snapshot {
        let snapshot = self
            .next_snapshot(state, created_at_ns)
            .expect("a sharded map's shards hold no stored nodes");
        make_snapshot_current(state, &snapshot);
        snapshot
    }

    /// The snapshot of the live state the writer holding `state` would take; nothing changes.
    /// Fails only when a stored node it diffs fails to load.
    fn next_snapshot(&self, state: &State, created_at_ns: u64) -> Result<Snapshot> {
        // Writers hold `state`, so the live state cannot change before this snapshot is taken.
        let live = self.live_held().clone();
        let parent = state.current.clone();
        let delta_size = match (&parent, state.touched.delta()) {
            (None, _) => live.len(),
            (Some(_), Some(delta)) => delta,
            (Some(parent), None) if self.journal.is_none() => {
                parent.tree().diff(&live).count() as u64
            }
            (Some(parent), None) => count_diff(parent.tree(), &live)?,
        };
        let meta = SnapshotMeta {
            id: state.next_id,
            generation: parent.as_ref().map_or(1, |p| p.meta().generation + 1),
            parent_id: parent.as_ref().map(Snapshot::id),
            created_at_ns,
            mutation_count: state.pending,
            delta_size,
            size: live.len(),
        };
        Ok(Snapshot::new(meta, live, self.id))
    }

    /// Makes the live state equal to `target` and makes it current. No other snapshot is
    /// touched. A snapshot of this map need not be registered (it may have been pruned); a
    /// snapshot of another map is registered here under a fresh id (its parent id, which
    /// named a snapshot of the other map, is dropped), and that new snapshot becomes current.
    ///
    /// With pending mutations that left the live state different from the current snapshot,
    /// [`RollbackPolicy::Fail`] refuses with [`Error::PendingChanges`]; otherwise the pending
    /// mutations are dropped and counted.
    ///
    /// On a store-backed map the rollback is journaled (a snapshot of another map as an
    /// import of its entries), and a snapshot of this map must still be registered: the
    /// store keeps only registered snapshots, so one that was pruned fails with
    /// [`Error::UnknownSnapshot`].
    pub fn rollback(&self, target: &Snapshot, policy: RollbackPolicy) -> Result<RollbackOutcome> {
        let (discarded, ticket) = {
            let mut state = self.state.lock();
            let discarded = check_pending(&state, &self.live_held(), policy)?;
            let ticket = if target.map_id() == self.id {
                if self.journal.is_some() && !state.registry.contains_key(&target.id()) {
                    return Err(Error::UnknownSnapshot { id: target.id() });
                }
                let ticket = self.journal(
                    || Change::Rollback {
                        id: target.id(),
                        discard: discarded > 0,
                    },
                    |_| Ok(()),
                )?;
                make_current(&mut state, &mut self.live_mut(), target, discarded);
                ticket
            } else {
                let meta = SnapshotMeta {
                    parent_id: None,
                    ..target.meta().clone()
                };
                let adopted = fresh_ids(&state, vec![(meta, target.tree().clone())]);
                let ticket = self.journal(
                    || Change::Import {
                        snapshots: &adopted,
                        activate: Some(0),
                    },
                    |_| Ok(()),
                )?;
                let adopted = self.register(&mut state, adopted);
                make_current(&mut state, &mut self.live_mut(), &adopted[0], discarded);
                ticket
            };
            (discarded, ticket)
        };
        self.commit(ticket)?;
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

    /// [`diff`](Map::diff) for versions with stored nodes: loads only the paths where they
    /// differ; a failed load is yielded once and ends the walk.
    pub fn try_diff<'a>(&self, old: &'a Snapshot, new: &'a Snapshot) -> TryDiff<'a> {
        old.tree().try_diff(new.tree())
    }

    /// [`diff_live`](Map::diff_live) for versions with stored nodes, as
    /// [`try_diff`](Map::try_diff).
    pub fn try_diff_live(&self, old: &Snapshot) -> TryOwnedDiff {
        old.tree().try_diff_owned(&self.view())
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
        Ok(ReadSession::new(
            snapshot.clone(),
            snapshot.id(),
            &self.pins,
        ))
    }

    /// Prunes the registry to the newest `retain_last` snapshots plus the current one and every
    /// pinned one. Pruned snapshots stay readable through the handles that exist.
    ///
    /// Panics if the journal of a store-backed map fails: use [`try_compact`](Map::try_compact)
    /// there.
    pub fn compact(&self, retain_last: usize) -> CompactReport {
        self.try_compact(retain_last)
            .expect("compact of a store-backed map failed; use try_compact")
    }

    /// [`compact`](Map::compact) that reports a failed journal write (changing nothing) or
    /// sync.
    pub fn try_compact(&self, retain_last: usize) -> Result<CompactReport> {
        let (report, ticket) = {
            let mut state = self.state.lock();
            let pruned = prune_plan(&state, &self.pins, retain_last, None);
            let ticket = self.journal(
                || Change::Compact {
                    retain_last: retain_last as u64,
                    pruned: &pruned,
                },
                |_| Ok(()),
            )?;
            remove_pruned(&mut state, &pruned);
            state.counters.compactions += 1;
            let report = CompactReport {
                pruned,
                retained: state.registry.keys().copied().collect(),
            };
            (report, ticket)
        };
        self.commit(ticket)?;
        Ok(report)
    }

    /// Sets the retention policy: with `Some(n)`, the registry is pruned to the newest `n`
    /// snapshots plus the current and every pinned one, as [`compact`](Map::compact) would,
    /// now and by every later [`snapshot`](Map::snapshot); `None` stops the automatic pruning.
    /// Returns the ids pruned now, ascending.
    ///
    /// Panics if the journal of a store-backed map fails: use
    /// [`try_set_retention`](Map::try_set_retention) there.
    pub fn set_retention(&self, retain_last: Option<usize>) -> Vec<u64> {
        self.try_set_retention(retain_last)
            .expect("set_retention of a store-backed map failed; use try_set_retention")
    }

    /// [`set_retention`](Map::set_retention) that reports a failed journal write (changing
    /// nothing) or sync. On a store-backed map the policy survives reopening.
    pub fn try_set_retention(&self, retain_last: Option<usize>) -> Result<Vec<u64>> {
        let (pruned, ticket) = {
            let mut state = self.state.lock();
            let pruned = match retain_last {
                Some(n) => prune_plan(&state, &self.pins, n, None),
                None => Vec::new(),
            };
            let ticket = self.journal(
                || Change::Retention {
                    keep: retain_last.map(|n| n as u64),
                    pruned: &pruned,
                },
                |_| Ok(()),
            )?;
            state.retention = retain_last;
            remove_pruned(&mut state, &pruned);
            (pruned, ticket)
        };
        self.commit(ticket)?;
        Ok(pruned)
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
    /// a recorded id is above [`MAX_SNAPSHOT_ID`], when a `meta.size` disagrees with its tree
    /// or when `activate` is out of range; with [`Error::PendingChanges`] when activation meets
    /// pending mutations under [`RollbackPolicy::Fail`].
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
        let (imported, ticket) = {
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
                Some(_) => check_pending(&state, &self.live_held(), options.pending)?,
                None => 0,
            };
            let snapshots = match options.ids {
                SnapshotIds::Recorded => recorded_ids(&state, snapshots),
                SnapshotIds::Fresh => fresh_ids(&state, snapshots),
            };
            let ticket = self.journal(
                || Change::Import {
                    snapshots: &snapshots,
                    activate: options.activate,
                },
                |_| Ok(()),
            )?;
            let snapshots = self.register(&mut state, snapshots);
            if let Some(index) = options.activate {
                make_current(
                    &mut state,
                    &mut self.live_mut(),
                    &snapshots[index],
                    discarded,
                );
            }
            (
                Imported {
                    snapshots,
                    discarded,
                },
                ticket,
            )
        };
        self.commit(ticket)?;
        Ok(imported)
    }

    /// Registers snapshots whose ids are final (checked, or assigned here), counting them as
    /// imported; the next id moves past the largest.
    fn register(&self, state: &mut State, snapshots: Vec<(SnapshotMeta, Tree)>) -> Vec<Snapshot> {
        let registered: Vec<Snapshot> = snapshots
            .into_iter()
            .map(|(meta, tree)| Snapshot::new(meta, tree, self.id))
            .collect();
        for snapshot in &registered {
            state.next_id = state.next_id.max(snapshot.id() + 1);
            state.registry.insert(snapshot.id(), snapshot.clone());
        }
        state.counters.snapshots_imported += registered.len() as u64;
        registered
    }
}

/// Checked snapshots with their final ids: the recorded ones, and fresh ones for id 0 (which
/// also stands for generation 0), in order.
fn recorded_ids(state: &State, snapshots: Vec<(SnapshotMeta, Tree)>) -> Vec<(SnapshotMeta, Tree)> {
    // Recorded ids go first, so that a fresh id given to a snapshot without one cannot
    // take an id recorded later in the same call.
    let top = snapshots.iter().map(|(meta, _)| meta.id).max().unwrap_or(0);
    let mut next_id = state.next_id.max(top.saturating_add(1));
    snapshots
        .into_iter()
        .map(|(mut meta, tree)| {
            if meta.id == 0 {
                meta.id = next_id;
                next_id += 1;
            }
            if meta.generation == 0 {
                meta.generation = meta.id;
            }
            (meta, tree)
        })
        .collect()
}

/// Snapshots with fresh ids in order, their parent ids translated where they name one of
/// them and dropped otherwise.
fn fresh_ids(state: &State, snapshots: Vec<(SnapshotMeta, Tree)>) -> Vec<(SnapshotMeta, Tree)> {
    let mut next_id = state.next_id;
    let mut given: HashMap<u64, u64> = HashMap::new();
    snapshots
        .into_iter()
        .map(|(mut meta, tree)| {
            let id = next_id;
            next_id += 1;
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
            (meta, tree)
        })
        .collect()
}

/// Batches of at least this many operations are applied in key order: consecutive edits then
/// share most of their path, which stays in cache, where a large batch of random keys in the
/// given order misses the cache at nearly every level of every edit.
const SORTED_BATCH: usize = 256;

/// Applies `ops` to `live` through `touched`; returns how many changed an entry. The result is
/// that of applying them in the given order: sorted by key and then by position, the
/// operations on each key keep their order, and operations on different keys commute (the
/// tree's shape depends on its contents alone). The leaves of a sorted batch are made in the
/// given order first, so they lie in memory in the order they were written, as an unsorted
/// batch leaves them.
fn apply_batch(touched: &mut Touched, live: &mut Tree, ops: &[Op]) -> u64 {
    if ops.len() < SORTED_BATCH {
        let mut apply = |op: &Op| match op {
            Op::Put(key, value) => touched.put(live, key, value),
            Op::Delete(key) => touched.delete(live, key),
        };
        return ops.iter().map(|op| u64::from(apply(op))).sum();
    }
    // Sorted by key, then by position: the order of each key's operations stays. The first
    // eight bytes of the key, big-endian, order most pairs without reading the keys.
    let mut sorted: Vec<(u64, &[u8], usize, Option<LeafRef>)> = ops
        .iter()
        .enumerate()
        .map(|(at, op)| {
            let (key, leaf) = match op {
                Op::Put(key, value) => (&key[..], Some(LeafRef::entry(key, value))),
                Op::Delete(key) => (&key[..], None),
            };
            let mut head = [0u8; 8];
            let n = key.len().min(8);
            head[..n].copy_from_slice(&key[..n]);
            (u64::from_be_bytes(head), key, at, leaf)
        })
        .collect();
    sorted.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    sorted
        .into_iter()
        .map(|(_, key, _, leaf)| {
            u64::from(match leaf {
                Some(leaf) => touched.put_entry(live, leaf),
                None => touched.delete(live, key),
            })
        })
        .sum()
}

/// The image of a map whose writer holds `state`, with `live` as its live state and
/// `pending` as its pending count.
fn image_of(state: &State, live: Tree, pending: u64) -> MapImage {
    MapImage {
        live,
        snapshots: state
            .registry
            .values()
            .map(|s| (s.meta().clone(), s.tree().clone()))
            .collect(),
        current: state.current.as_ref().map(Snapshot::id),
        retention: state.retention.map(|n| n as u64),
        pending,
        next_id: state.next_id,
    }
}

/// A map's writer lock and live state, held together.
pub(super) struct Locked<'a> {
    pub(super) state: MutexGuard<'a, State>,
    live: LiveWrite<'a>,
    /// The live state's version when these locks were taken (taking them advanced it).
    version: u64,
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

    /// Whether a read made at `version` still holds: the live state is unchanged since.
    pub(super) fn unchanged_since(&self, version: u64) -> bool {
        self.version == version
    }

    /// Makes the live state `target`'s and `target` current, counting `discarded` mutations
    /// as dropped.
    pub(super) fn make_current(&mut self, target: &Snapshot, discarded: u64) {
        make_current(&mut self.state, &mut self.live, target, discarded);
    }

    /// The pending mutations a rollback under `policy` would drop, or its refusal: as
    /// [`Map::rollback`] decides.
    pub(super) fn pending(&self, policy: RollbackPolicy) -> Result<u64> {
        check_pending(&self.state, &self.live, policy)
    }

    /// [`Map::clear`] under these locks.
    pub(super) fn clear(&mut self) -> u64 {
        clear(&mut self.state, &mut self.live)
    }
}

/// What a transaction's read found.
#[inline]
fn observe<'a>(found: Option<Found<'a>>) -> Observed<'a> {
    match found {
        None => Observed::Absent,
        Some(found) if found.value().len() <= Value::INLINE => Observed::Small(found.value()),
        Some(found) => Observed::Large(Value::of(&found)),
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

/// The ids to prune to the newest `retain_last` snapshots plus the current one and every
/// pinned one, ascending, once a new snapshot `added` (above every
/// registered id) is registered and made current.
fn prune_plan(state: &State, pins: &Pins, retain_last: usize, added: Option<u64>) -> Vec<u64> {
    let current = added.or(state.current.as_ref().map(Snapshot::id));
    prune_plan_of(&state.registry, current, pins, retain_last, added)
}

/// [`prune_plan`] for any registry ordered by id, given the current snapshot's id. The
/// candidates are the registry's first entries, so the cost is O(candidates · log s).
pub(super) fn prune_plan_of<S>(
    registry: &BTreeMap<u64, S>,
    current: Option<u64>,
    pins: &Pins,
    retain_last: usize,
    added: Option<u64>,
) -> Vec<u64> {
    let total = registry.len() + usize::from(added.is_some());
    let excess = total.saturating_sub(retain_last);
    if excess == 0 {
        return Vec::new();
    }
    let pins = pins.lock();
    registry
        .keys()
        .copied()
        .chain(added)
        .take(excess)
        .filter(|id| Some(*id) != current && pins.get(id).is_none_or(|&n| n == 0))
        .collect()
}

fn remove_pruned(state: &mut State, pruned: &[u64]) {
    for id in pruned {
        state.registry.remove(id);
    }
    state.counters.snapshots_pruned += pruned.len() as u64;
}

/// Makes `snapshot` (taken of the live state by the writer holding `state`) current.
fn make_snapshot_current(state: &mut State, snapshot: &Snapshot) {
    // No overflow: imports never take an id above MAX_SNAPSHOT_ID, so reaching u64::MAX
    // would take 2^63 snapshots.
    state.next_id = state.next_id.max(snapshot.id() + 1);
    state.pending = 0;
    state.touched.reset();
    state.current = Some(snapshot.clone());
}

/// The number of keys that differ between two versions, loading stored nodes on differing
/// paths only.
fn count_diff(old: &Tree, new: &Tree) -> Result<u64> {
    old.try_diff(new)
        .try_fold(0, |n, entry| entry.map(|_| n + 1))
}

/// Loads what `change` reads and hands it to `journal`; kept out of line so that a map
/// without a journal pays one branch.
#[inline(never)]
fn append(
    journal: &dyn Journal,
    live: &Tree,
    change: Change<'_>,
    load: impl FnOnce(&Tree) -> Result<()>,
) -> Result<Ticket> {
    load(live)?;
    journal.append(&change)
}

/// The pending mutations a rollback under `policy` drops, or the refusal (or a failed load
/// of a stored node the check diffs).
fn check_pending(state: &State, live: &Tree, policy: RollbackPolicy) -> Result<u64> {
    match (state.pending, policy) {
        (0, _) => Ok(0),
        (count, RollbackPolicy::Fail) if !undone(state, live)? => {
            Err(Error::PendingChanges { count })
        }
        (count, _) => Ok(count),
    }
}

/// Whether the pending mutations cancel out (the live state equals the current snapshot, or
/// is empty with none), so that dropping them loses nothing. O(w log w) for w logged writes,
/// else O(c · d) for the c keys changed.
fn undone(state: &State, live: &Tree) -> Result<bool> {
    match (state.touched.delta(), &state.current) {
        (Some(changed), _) => Ok(changed == 0),
        (None, Some(current)) => Ok(current.tree().try_diff(live).next().transpose()?.is_none()),
        (None, None) => Ok(live.is_empty()),
    }
}

/// Empties `live`, counting one mutation when it held anything; returns the entries removed.
fn clear(state: &mut State, live: &mut Tree) -> u64 {
    let removed = live.len();
    if removed > 0 {
        live.clear();
        state.touched.overflow();
        state.pending += 1;
        state.counters.clears += 1;
    }
    removed
}

fn make_current(state: &mut State, live: &mut Tree, target: &Snapshot, discarded: u64) {
    *live = target.tree().clone();
    state.current = Some(target.clone());
    state.pending = 0;
    state.touched.reset();
    state.counters.rollbacks += 1;
    state.counters.discarded_mutations += discarded;
}

/// A pinned snapshot: [`Map::compact`] (or [`ShardedMap::compact`](crate::ShardedMap::compact)
/// for a [`ShardedSnapshot`](crate::ShardedSnapshot)) keeps it registered while the session
/// lives. Derefs to the snapshot.
pub struct ReadSession<S = Snapshot> {
    snapshot: S,
    id: u64,
    pins: Arc<Pins>,
}

impl<S> ReadSession<S> {
    /// Pins `snapshot`, whose id is `id`, in `pins` until the session is dropped.
    pub(super) fn new(snapshot: S, id: u64, pins: &Arc<Pins>) -> ReadSession<S> {
        *pins.lock().entry(id).or_insert(0) += 1;
        ReadSession {
            snapshot,
            id,
            pins: pins.clone(),
        }
    }
}

impl<S> Deref for ReadSession<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.snapshot
    }
}

impl<S> Drop for ReadSession<S> {
    fn drop(&mut self) {
        let mut pins = self.pins.lock();
        if let Some(count) = pins.get_mut(&self.id) {
            *count -= 1;
            if *count == 0 {
                pins.remove(&self.id);
            }
        }
    }
}
