//! What a transaction read and wrote: one slot per key it touched, in the order it first
//! touched them, with the key, what it saw and what it writes.
//!
//! A transaction touches few keys as a rule, so the set is built for that: keys and values go
//! back to back into one byte buffer and slots into a list, and a key is found by comparing it
//! with each slot's. Past [`INDEX_FROM`] slots a hash index of the keys takes over the search,
//! so a transaction of n keys costs O(n), not O(n²).
//!
//! A finished set leaves its two buffers, emptied, to the next set its thread creates (unless
//! they grew past [`SPARE_BYTES`] or [`SPARE_SLOTS`]), so a thread running transactions one
//! after another allocates nothing for their bookkeeping. Inline buffers would avoid the
//! allocation too, but make a transaction a struct of several hundred bytes that is zeroed
//! and moved whole on every commit; measured by `scripts/instructions.sh`, that costs more
//! than taking and returning the spare buffers.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use crate::engine::map::Value;

/// Slots from which a hash index finds keys; below it, comparing keys one by one is cheaper
/// than hashing the key.
pub(crate) const INDEX_FROM: usize = 16;
/// The largest byte buffer a thread keeps for its next transaction. With [`SPARE_SLOTS`], a
/// thread keeps at most ~36 KiB, and only as much as its largest transaction below the caps
/// needed.
const SPARE_BYTES: usize = 16 * 1024;
/// The most slots a thread keeps for its next transaction.
const SPARE_SLOTS: usize = 256;

thread_local! {
    /// The buffers of this thread's last finished set, empty, for its next one.
    static SPARE: Cell<(Vec<u8>, Vec<Slot>)> = const { Cell::new((Vec::new(), Vec::new())) };
}

/// No slot (the end of an index chain).
const NONE: usize = usize::MAX;

/// Where some bytes are in the byte buffer.
#[derive(Clone, Copy, Default)]
pub(crate) struct Span {
    start: usize,
    end: usize,
}

/// What a transaction saw of a key when it first read it from the map.
#[derive(Clone, Copy, Default)]
pub(crate) enum Seen {
    /// Not read from the map (only written, or read from the transaction's own write).
    #[default]
    Unread,
    Absent,
    /// A value copied into the byte buffer.
    Copied(Span),
    /// A value too large to copy: `shared[i]`.
    Shared(usize),
}

/// What a transaction writes to a key.
#[derive(Clone, Copy, Default)]
enum Write {
    #[default]
    Keep,
    /// The value, in the byte buffer.
    Put(Span),
    Delete,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    key: Span,
    seen: Seen,
    /// The version of the live state the read saw (meaningful unless `seen` is `Unread`).
    version: u64,
    write: Write,
    /// With an index: the previous slot whose key has the same hash, or [`NONE`].
    next: usize,
}

/// What a transaction's read of a key found in its map.
pub enum Observed<'a> {
    /// No entry.
    Absent,
    /// A value of at most [`Value::INLINE`] bytes, to copy.
    Small(&'a [u8]),
    /// A larger value, shared with the map's entry.
    Large(Value),
}

/// The hash function of an index, and the hash of a key to the last slot with that hash.
type Index = (RandomState, HashMap<u64, usize>);

/// Every key a transaction touched; see the [module docs](self).
pub(crate) struct RwSet {
    bytes: Vec<u8>,
    slots: Vec<Slot>,
    /// Values read that were too large to copy.
    shared: Vec<Value>,
    /// Past [`INDEX_FROM`] slots: the hash of a key to the last slot with that hash.
    index: Option<Box<Index>>,
    reads: usize,
    /// The version every read saw, while they all saw one (with no read: 0).
    read_version: u64,
    /// Whether two reads saw different versions.
    mixed_versions: bool,
    writes: usize,
}

impl RwSet {
    #[inline]
    pub(crate) fn new() -> RwSet {
        // During the thread's exit (the spare buffers already dropped) a set starts empty.
        let (bytes, slots) = SPARE.try_with(Cell::take).unwrap_or_default();
        RwSet {
            bytes,
            slots,
            shared: Vec::new(),
            index: None,
            reads: 0,
            read_version: 0,
            mixed_versions: false,
            writes: 0,
        }
    }

    fn bytes(&self, span: Span) -> &[u8] {
        &self.bytes[span.start..span.end]
    }

    fn key(&self, slot: &Slot) -> &[u8] {
        self.bytes(slot.key)
    }

    /// The slot of `key`, if the transaction touched it.
    #[inline]
    pub(crate) fn find(&self, key: &[u8]) -> Option<usize> {
        match self.index.as_deref() {
            None => self.slots.iter().position(|slot| self.key(slot) == key),
            Some(index) => self.find_indexed(index, key),
        }
    }

    /// [`find`](RwSet::find) through the index.
    #[inline(never)]
    fn find_indexed(&self, (hasher, index): &Index, key: &[u8]) -> Option<usize> {
        let mut at = *index.get(&hasher.hash_one(key))?;
        while at != NONE {
            let slot = &self.slots[at];
            if self.key(slot) == key {
                return Some(at);
            }
            at = slot.next;
        }
        None
    }

    /// A new slot for `key`, which the transaction has not touched, holding `slot` (whose
    /// `key` and `next` it sets).
    #[inline]
    fn add(&mut self, key: &[u8], slot: Slot) -> usize {
        let key = push(&mut self.bytes, key);
        let at = self.slots.len();
        self.slots.push(Slot {
            key,
            next: NONE,
            ..slot
        });
        if self.index.is_some() {
            self.link(at);
        } else if at + 1 == INDEX_FROM {
            self.build_index();
        }
        at
    }

    /// Indexes every slot.
    #[cold]
    fn build_index(&mut self) {
        let hasher = RandomState::new();
        let index = HashMap::with_capacity(2 * INDEX_FROM);
        self.index = Some(Box::new((hasher, index)));
        for at in 0..self.slots.len() {
            self.link(at);
        }
    }

    /// Enters slot `at` into the index.
    fn link(&mut self, at: usize) {
        let Some((hasher, index)) = self.index.as_deref_mut() else {
            return;
        };
        let slots = &mut self.slots;
        let key = slots[at].key;
        let hash = hasher.hash_one(&self.bytes[key.start..key.end]);
        slots[at].next = index.insert(hash, at).unwrap_or(NONE);
    }

    /// The value of slot `at` as the transaction sees it: its write, else what it read.
    #[inline]
    pub(crate) fn value(&self, at: usize) -> Option<&[u8]> {
        let slot = &self.slots[at];
        match &slot.write {
            Write::Put(value) => Some(self.bytes(*value)),
            Write::Delete => None,
            // Every slot was written or read.
            Write::Keep => self.seen(slot).flatten(),
        }
    }

    /// What the transaction read of `slot` (`None`: it did not read it).
    fn seen(&self, slot: &Slot) -> Option<Option<&[u8]>> {
        match &slot.seen {
            Seen::Unread => None,
            Seen::Absent => Some(None),
            Seen::Copied(value) => Some(Some(self.bytes(*value))),
            Seen::Shared(i) => Some(Some(&self.shared[*i])),
        }
    }

    /// Keeps what a read found, for [`record_read`](RwSet::record_read).
    #[inline]
    pub(crate) fn keep(&mut self, observed: Observed<'_>) -> Seen {
        match observed {
            Observed::Absent => Seen::Absent,
            Observed::Small(value) => Seen::Copied(push(&mut self.bytes, value)),
            Observed::Large(value) => {
                self.shared.push(value);
                Seen::Shared(self.shared.len() - 1)
            }
        }
    }

    /// Records that the transaction read `key`, which it had not touched, from the map and
    /// saw `seen` (as [`keep`](RwSet::keep) kept it) at `version`; returns its slot.
    #[inline]
    pub(crate) fn record_read(&mut self, key: &[u8], seen: Seen, version: u64) -> usize {
        let at = self.add(
            key,
            Slot {
                seen,
                version,
                ..Slot::default()
            },
        );
        if self.reads == 0 {
            self.read_version = version;
        } else if version != self.read_version {
            self.mixed_versions = true;
        }
        self.reads += 1;
        at
    }

    /// Records a put of `value` (`None`: a delete) to `key`, replacing an earlier write.
    pub(crate) fn write(&mut self, key: &[u8], value: Option<&[u8]>) {
        let at = self.find(key);
        let write = match value {
            Some(value) => Write::Put(push(&mut self.bytes, value)),
            None => Write::Delete,
        };
        match at {
            Some(at) => {
                let slot = &mut self.slots[at];
                self.writes += usize::from(matches!(slot.write, Write::Keep));
                slot.write = write;
            }
            None => {
                self.add(
                    key,
                    Slot {
                        write,
                        ..Slot::default()
                    },
                );
                self.writes += 1;
            }
        }
    }

    /// The keys the transaction read from the map.
    pub(crate) fn reads(&self) -> Reads<'_> {
        Reads(self)
    }

    /// The transaction's writes.
    pub(crate) fn writes(&self) -> Writes<'_> {
        Writes(self)
    }
}

impl Drop for RwSet {
    fn drop(&mut self) {
        if self.bytes.capacity() <= SPARE_BYTES && self.slots.capacity() <= SPARE_SLOTS {
            let mut bytes = std::mem::take(&mut self.bytes);
            let mut slots = std::mem::take(&mut self.slots);
            bytes.clear();
            slots.clear();
            // Replaces (and frees) the spare buffers of a set that finished before this one;
            // during the thread's exit, the buffers are freed.
            let _ = SPARE.try_with(|spare| spare.set((bytes, slots)));
        }
    }
}

/// Appends `bytes` to `buffer`; returns where they went.
#[inline]
fn push(buffer: &mut Vec<u8>, bytes: &[u8]) -> Span {
    let start = buffer.len();
    buffer.extend_from_slice(bytes);
    Span {
        start,
        end: buffer.len(),
    }
}

/// One key a transaction read from its map.
#[derive(Debug, Clone, Copy)]
pub struct Read<'a> {
    /// The key.
    pub key: &'a [u8],
    /// What it held (`None`: absent).
    pub seen: Option<&'a [u8]>,
    /// The version of the live state (of the key's shard in a sharded map) that the read saw:
    /// if the live state's version is still this, the key still holds `seen`.
    pub version: u64,
}

/// Every key a transaction read from its map (not from its own writes), with what it saw, in
/// the order it first touched them.
#[derive(Clone, Copy)]
pub struct Reads<'a>(&'a RwSet);

impl<'a> Reads<'a> {
    /// The reads.
    pub fn iter(self) -> impl Iterator<Item = Read<'a>> {
        let set = self.0;
        set.slots.iter().filter_map(move |slot| {
            Some(Read {
                key: set.key(slot),
                seen: set.seen(slot)?,
                version: slot.version,
            })
        })
    }

    /// The keys read.
    pub fn keys(self) -> impl Iterator<Item = &'a [u8]> {
        self.iter().map(|read| read.key)
    }

    /// The number of keys read.
    pub fn len(self) -> usize {
        self.0.reads
    }

    /// Whether every read saw `version` (true with no read): a check of one number that
    /// stands for every read's check when they all read one map.
    pub fn all_at(self, version: u64) -> bool {
        let set = self.0;
        set.reads == 0 || (!set.mixed_versions && set.read_version == version)
    }

    /// Whether no key was read.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// The last write of a transaction to each key it wrote, in the order it first touched them:
/// `Some(value)` for a put, `None` for a delete.
#[derive(Clone, Copy)]
pub struct Writes<'a>(&'a RwSet);

impl<'a> Writes<'a> {
    /// The writes.
    pub fn iter(self) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> {
        let set = self.0;
        set.slots.iter().filter_map(move |slot| match &slot.write {
            Write::Keep => None,
            Write::Put(value) => Some((set.key(slot), Some(set.bytes(*value)))),
            Write::Delete => Some((set.key(slot), None)),
        })
    }

    /// The keys written.
    pub fn keys(self) -> impl Iterator<Item = &'a [u8]> {
        self.iter().map(|(key, _)| key)
    }

    /// The number of keys written.
    pub fn len(self) -> usize {
        self.0.writes
    }

    /// Whether no key was written.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for Reads<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl std::fmt::Debug for Writes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_key_before_and_after_the_index_takes_over() {
        let mut set = RwSet::new();
        let keys: Vec<Vec<u8>> = (0..3 * INDEX_FROM as u32)
            .map(|i| i.to_be_bytes().repeat(1 + i as usize % 3))
            .collect();
        for (i, key) in keys.iter().enumerate() {
            if i % 2 == 0 {
                set.record_read(key, Seen::Absent, 1);
            }
            set.write(key, Some(key));
            for (j, earlier) in keys[..=i].iter().enumerate() {
                let at = set.find(earlier).expect("a touched key is found");
                assert_eq!(set.value(at), Some(&earlier[..]), "key {j} of {i}");
            }
            assert_eq!(set.find(b"never touched"), None);
        }
        assert_eq!(set.writes().len(), keys.len());
        assert_eq!(set.reads().len(), keys.len().div_ceil(2));
        let written: Vec<&[u8]> = set.writes().keys().collect();
        assert_eq!(written, keys.iter().map(|k| &k[..]).collect::<Vec<_>>());
    }

    #[test]
    fn finds_keys_whose_hashes_collide() {
        let mut set = RwSet::new();
        for i in 0..INDEX_FROM as u8 {
            set.write(&[i], None);
        }
        // As if every key had one hash: each key's entry names the last slot, whose chain runs
        // through all the others.
        for (at, slot) in set.slots.iter_mut().enumerate() {
            slot.next = at.checked_sub(1).unwrap_or(NONE);
        }
        let (_, index) = set.index.as_deref_mut().expect("indexed");
        index.values_mut().for_each(|at| *at = INDEX_FROM - 1);
        for i in 0..INDEX_FROM as u8 {
            assert_eq!(set.find(&[i]), Some(usize::from(i)));
        }
        assert_eq!(set.find(&[INDEX_FROM as u8]), None);
    }
}
