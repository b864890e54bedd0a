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

use std::collections::BTreeMap;
use std::ops::Deref;

use crate::engine::journal::Change;
use crate::engine::map::{Map, Value};
use crate::error::{Error, Result, check_entry, check_key};

/// Every key a transaction read from its map, with what it saw.
pub type Reads = BTreeMap<Vec<u8>, Option<Value>>;
/// The last write of a transaction to each key: `Some(value)` for a put, `None` for a delete.
pub type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// What a transaction reads from and commits to: a [`Map`] or a
/// [`ShardedMap`](crate::ShardedMap).
pub trait TxnTarget {
    /// The live value under `key`.
    fn read(&self, key: &[u8]) -> Option<Value>;
    /// [`read`](TxnTarget::read) that reports a failed load of a stored node.
    fn try_read(&self, key: &[u8]) -> Result<Option<Value>> {
        Ok(self.read(key))
    }
    /// Atomically, under the writer locks of every key involved: if every key of `reads` still
    /// holds what was seen, applies `writes` and returns how many changed the live state;
    /// otherwise changes nothing and returns `None`. Fails (changing nothing) when a stored
    /// node fails to load or a journal refuses the writes, or (after the change) when the
    /// journal fails to make them durable.
    fn commit_if(&self, reads: &Reads, writes: &Writes) -> Result<Option<u64>>;
}

impl TxnTarget for Map {
    fn read(&self, key: &[u8]) -> Option<Value> {
        self.get(key)
    }

    fn try_read(&self, key: &[u8]) -> Result<Option<Value>> {
        self.try_get(key)
    }

    fn commit_if(&self, reads: &Reads, writes: &Writes) -> Result<Option<u64>> {
        self.write_if(
            |live| {
                reads
                    .keys()
                    .chain(writes.keys())
                    .try_for_each(|key| live.load_path(key))
            },
            |live| {
                reads
                    .iter()
                    .all(|(key, seen)| live.get(key) == seen.as_deref())
            },
            || Change::Writes(writes),
            |writer| {
                for (key, value) in writes {
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

/// A write transaction on a map; see the [module docs](self) for its semantics.
///
/// `M` is how the transaction reaches its map: `&Map` from [`Map::begin`], `&ShardedMap` from
/// [`ShardedMap::begin`](crate::ShardedMap::begin), or an owning handle such as `Arc<Map>`
/// through [`Txn::new`].
///
/// | operation | cost |
/// |---|---|
/// | `get`, `contains_key` | O(d) the first time a key is read, O(log r) after |
/// | `put`, `delete` | O(log w) (w: keys written) |
/// | `commit` | O(r · d + w · d) under the writer lock (r: keys read) |
pub struct Txn<M: Deref<Target: TxnTarget>> {
    map: M,
    /// Every key read from the map (not from the transaction's own writes), with what was seen.
    reads: Reads,
    writes: Writes,
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
            |live| live.get(key) == expected,
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
            reads: BTreeMap::new(),
            writes: BTreeMap::new(),
        }
    }

    /// The map this transaction reads and commits to.
    pub fn map(&self) -> &M::Target {
        &self.map
    }

    /// The value under `key` as this transaction sees it: its own last write to the key, else
    /// what it read from the map before, else the map's live value now (remembered for commit).
    pub fn get(&mut self, key: &[u8]) -> Option<&[u8]> {
        if let Some(written) = self.writes.get(key) {
            return written.as_deref();
        }
        if !self.reads.contains_key(key) {
            let seen = self.map.read(key);
            self.reads.insert(key.to_vec(), seen);
        }
        self.reads[key].as_deref()
    }

    /// [`get`](Txn::get) that reports a failed load of a stored node (a store-backed map).
    pub fn try_get(&mut self, key: &[u8]) -> Result<Option<&[u8]>> {
        if let Some(written) = self.writes.get(key) {
            return Ok(written.as_deref());
        }
        if !self.reads.contains_key(key) {
            let seen = self.map.try_read(key)?;
            self.reads.insert(key.to_vec(), seen);
        }
        Ok(self.reads[key].as_deref())
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
        self.writes.insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    /// Deletes `key` within the transaction (deleting an absent key is allowed and, on
    /// commit, not a mutation).
    ///
    /// Fails with [`Error::KeyTooLong`], changing nothing.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.writes.insert(key.to_vec(), None);
        Ok(())
    }

    /// Number of keys this transaction writes.
    pub fn writes(&self) -> usize {
        self.writes.len()
    }

    /// Applies every write at once if every key read still holds the value the transaction saw;
    /// returns the number of writes that changed the live state (as
    /// [`write_batch`](Map::write_batch) counts them).
    ///
    /// Fails with [`Error::Conflict`], changing nothing, when another writer changed a key this
    /// transaction read: read again in a new transaction and retry. A transaction with no
    /// reads never conflicts.
    pub fn commit(self) -> Result<u64> {
        self.map
            .commit_if(&self.reads, &self.writes)?
            .ok_or(Error::Conflict)
    }
}

impl<M: Deref<Target: TxnTarget>> std::fmt::Debug for Txn<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn")
            .field("reads", &self.reads.len())
            .field("writes", &self.writes.len())
            .finish_non_exhaustive()
    }
}
