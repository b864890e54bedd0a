//! Optimistic, serialisable write transactions over a [`Map`].
//!
//! A [`Txn`] reads the live state as it goes, remembers every value it read (or that a key was
//! absent), and keeps its writes to itself. [`Txn::commit`] takes the map's writer lock, checks
//! that every key read still holds the value the transaction saw, and if so applies all the
//! writes at once; otherwise it fails with [`Error::Conflict`] and changes nothing. Because the
//! check and the writes happen under the writer lock, a committed transaction has the effect of
//! running entirely at its commit: committed transactions are serialisable. A transaction holds
//! no lock between calls, so it never blocks other readers or writers, and a long one only
//! risks a conflict.
//!
//! Reads inside a transaction see its own writes, and reading a key twice gives the same answer
//! (the first read is remembered). Reads of different keys are not one snapshot: a transaction
//! may see one key before a concurrent write and another after it, but then its commit fails,
//! so no committed transaction acted on such a mix. Use [`Map::read_with`] or a snapshot for a
//! consistent read that need not commit.

use std::ops::Deref;

use crate::engine::journal::Change;
use crate::engine::map::Map;
#[cfg(doc)]
use crate::engine::map::Value;
use crate::engine::rw_set::{Observed, Reads, RwSet, Seen, Writes};
use crate::error::{Error, Result, check_entry, check_key};

/// What a transaction reads from and commits to: a [`Map`] or a
/// [`ShardedMap`](crate::ShardedMap).
pub trait TxnTarget {
    /// Reads `key` from the live state, handing what it found to `keep`, and returns the
    /// version of the live state it read (of the key's shard, for a sharded map): a number
    /// that changes whenever a writer takes that live state for writing, so the read still
    /// holds while it is unchanged.
    fn read(&self, key: &[u8], keep: impl FnOnce(Observed<'_>)) -> u64;
    /// [`read`](TxnTarget::read) that reports a failed load of a stored node.
    fn try_read(&self, key: &[u8], keep: impl FnOnce(Observed<'_>)) -> Result<u64> {
        Ok(self.read(key, keep))
    }
    /// Atomically, under the writer locks of every key involved: if every key of `reads` still
    /// holds what was seen, applies `writes` and returns how many changed the live state;
    /// otherwise changes nothing and returns `None`. Fails (changing nothing) when a stored
    /// node fails to load or a journal refuses the writes, or (after the change) when the
    /// journal fails to make them durable.
    fn commit_if(&self, reads: Reads<'_>, writes: Writes<'_>) -> Result<Option<u64>>;
}

impl TxnTarget for Map {
    #[inline]
    fn read(&self, key: &[u8], keep: impl FnOnce(Observed<'_>)) -> u64 {
        self.read_versioned(key, keep)
    }

    fn try_read(&self, key: &[u8], keep: impl FnOnce(Observed<'_>)) -> Result<u64> {
        self.try_read_versioned(key, keep)
    }

    fn commit_if(&self, reads: Reads<'_>, writes: Writes<'_>) -> Result<Option<u64>> {
        self.write_if(
            |live| {
                reads
                    .keys()
                    .chain(writes.keys())
                    .try_for_each(|key| live.load_path(key))
            },
            |map| {
                // A read at the current version still holds without a lookup.
                let version = map.live_version();
                reads.all_at(version) || {
                    let live = map.live_held();
                    reads
                        .iter()
                        .all(|read| read.version == version || live.get(read.key) == read.seen)
                }
            },
            || Change::Writes(writes),
            |writer| {
                for (key, value) in writes.iter() {
                    match value {
                        Some(value) => writer.put(key, value),
                        None => writer.delete(key),
                    }
                }
            },
            |counters| counters.batches += 1,
        )
    }
}

/// A write transaction on a map; see the module docs of `crate::engine::txn` for its semantics.
///
/// `M` is how the transaction reaches its map: `&Map` from [`Map::begin`], `&ShardedMap` from
/// [`ShardedMap::begin`](crate::ShardedMap::begin), or an owning handle such as `Arc<Map>`
/// through [`Txn::new`].
///
/// | operation | cost |
/// |---|---|
/// | `get`, `contains_key` | O(d) the first time a key is read, O(1) after |
/// | `put`, `delete` | O(1) |
/// | `commit` | O(w · d) under the writer lock (w: keys written), plus O(r · d) (r: keys read) when another writer wrote to the map since the reads |
///
/// The cost of a touched key is a comparison with each key touched before while they are
/// few, a hash past that. A transaction of a few keys with short values allocates nothing
/// for its bookkeeping.
pub struct Txn<M: Deref<Target: TxnTarget>> {
    map: M,
    /// Every key touched: what was read from the map (not from the transaction's own writes)
    /// and what is written.
    set: RwSet,
}

impl Map {
    /// Starts a write transaction on this map.
    pub fn begin(&self) -> Txn<&Map> {
        Txn::new(self)
    }

    /// Sets `key` to `new` (or deletes it, for `None`) if its value is `expected` (`None`:
    /// absent), atomically. Returns whether it swapped; when it did not, nothing changed.
    ///
    /// Fails with [`Error::KeyTooLong`] or [`Error::ValueTooLong`], changing nothing.
    pub fn compare_and_swap(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool> {
        match new {
            Some(value) => check_entry(key, value)?,
            None => check_key(key)?,
        }
        let swapped = self.write_if(
            |live| live.load_path(key),
            |map| map.live_held().get(key) == expected,
            || match new {
                Some(value) => Change::Put { key, value },
                None => Change::Delete { key },
            },
            |writer| match new {
                Some(value) => writer.put(key, value),
                None => writer.delete(key),
            },
            |counters| match new {
                Some(_) => counters.puts += 1,
                None => counters.deletes += 1,
            },
        )?;
        Ok(swapped.is_some())
    }
}

impl<M: Deref<Target: TxnTarget>> Txn<M> {
    /// A transaction on `map` with nothing read or written yet.
    pub fn new(map: M) -> Txn<M> {
        Txn {
            map,
            set: RwSet::new(),
        }
    }

    /// The map this transaction reads and commits to.
    pub fn map(&self) -> &M::Target {
        &self.map
    }

    /// The value under `key` as this transaction sees it: its own last write to the key, else
    /// what it read from the map before, else the map's live value now (remembered for commit).
    pub fn get(&mut self, key: &[u8]) -> Option<&[u8]> {
        if let Some(at) = self.set.find(key) {
            return self.set.value(at);
        }
        let mut seen = Seen::Absent;
        let version = self
            .map
            .read(key, |observed| seen = self.set.keep(observed));
        let at = self.set.record_read(key, seen, version);
        self.set.value(at)
    }

    /// [`get`](Txn::get) that reports a failed load of a stored node (a store-backed map).
    pub fn try_get(&mut self, key: &[u8]) -> Result<Option<&[u8]>> {
        if let Some(at) = self.set.find(key) {
            return Ok(self.set.value(at));
        }
        let mut seen = Seen::Absent;
        let version = self
            .map
            .try_read(key, |observed| seen = self.set.keep(observed))?;
        let at = self.set.record_read(key, seen, version);
        Ok(self.set.value(at))
    }

    /// Whether `key` is present as this transaction sees it (a read, as [`get`](Txn::get)).
    pub fn contains_key(&mut self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value` within the transaction.
    ///
    /// Fails with [`Error::KeyTooLong`] or [`Error::ValueTooLong`], changing nothing.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        check_entry(key, value)?;
        self.set.write(key, Some(value));
        Ok(())
    }

    /// Deletes `key` within the transaction (deleting an absent key is allowed and, on
    /// commit, not a mutation).
    ///
    /// Fails with [`Error::KeyTooLong`], changing nothing.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.set.write(key, None);
        Ok(())
    }

    /// Number of keys this transaction writes.
    pub fn writes(&self) -> usize {
        self.set.writes().len()
    }

    /// Applies every write at once if every key read still holds the value the transaction saw;
    /// returns the number of writes that changed the live state (as
    /// [`write_batch`](Map::write_batch) counts them).
    ///
    /// Fails with [`Error::Conflict`], changing nothing, when another writer changed a key this
    /// transaction read: read again in a new transaction and retry. A transaction with no
    /// reads never conflicts.
    #[inline]
    pub fn commit(self) -> Result<u64> {
        match self.map.commit_if(self.set.reads(), self.set.writes())? {
            Some(applied) => Ok(applied),
            None => Err(Error::Conflict),
        }
    }
}

impl<M: Deref<Target: TxnTarget>> std::fmt::Debug for Txn<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn")
            .field("reads", &self.set.reads().len())
            .field("writes", &self.set.writes().len())
            .finish_non_exhaustive()
    }
}
