//! Walks over several disjoint key sets (a sharded version's shards) merged into key order.

use crate::engine::map::{Entries, Entry};
use crate::tree::{DiffEntry, OwnedDiff};

/// An item a [`Merge`] orders: anything with a key.
pub trait Keyed {
    /// The key the merge orders by.
    fn key(&self) -> &[u8];
}

impl Keyed for Entry {
    fn key(&self) -> &[u8] {
        Entry::key(self)
    }
}

impl Keyed for DiffEntry {
    fn key(&self) -> &[u8] {
        DiffEntry::key(self)
    }
}

/// One walk with the items taken from its two ends but not yet returned.
///
/// Invariant: `front` holds the smallest item of the walk not yet returned (when filled),
/// `back` the largest, and `walk` everything strictly between them; an item is in exactly
/// one of the three places.
struct Ends<I: Iterator> {
    walk: I,
    front: Option<I::Item>,
    back: Option<I::Item>,
}

impl<I: Iterator> Ends<I> {
    /// The smallest item not yet returned, filling `front` if it is empty.
    fn fill_front(&mut self) {
        if self.front.is_none() {
            self.front = self.walk.next().or_else(|| self.back.take());
        }
    }
}

impl<I: DoubleEndedIterator> Ends<I> {
    fn fill_back(&mut self) {
        if self.back.is_none() {
            self.back = self.walk.next_back().or_else(|| self.front.take());
        }
    }
}

/// Items of several walks whose keys are disjoint (one walk per shard), in key order: O(s) per
/// item for s walks. Walked from the back as well (when the walks are), the two ends meet in
/// the middle and never return an item twice.
pub struct Merge<I: Iterator<Item: Keyed>> {
    walks: Vec<Ends<I>>,
}

/// Entries of a sharded version in key order.
pub type Merged = Merge<Entries>;
/// The changes between two sharded versions, in key order.
pub type MergedDiff = Merge<OwnedDiff>;

impl<I: Iterator<Item: Keyed>> Merge<I> {
    /// The merge of `walks`, each in key order and with keys no other walk has.
    pub(crate) fn new(walks: impl IntoIterator<Item = I>) -> Merge<I> {
        Merge {
            walks: walks
                .into_iter()
                .map(|walk| Ends {
                    walk,
                    front: None,
                    back: None,
                })
                .collect(),
        }
    }
}

impl<I: Iterator<Item: Keyed>> Iterator for Merge<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        let mut best: Option<usize> = None;
        for i in 0..self.walks.len() {
            self.walks[i].fill_front();
            let Some(item) = &self.walks[i].front else {
                continue;
            };
            if best.is_none_or(|b| {
                let held = self.walks[b].front.as_ref();
                held.is_some_and(|held| item.key() < held.key())
            }) {
                best = Some(i);
            }
        }
        self.walks[best?].front.take()
    }
}

impl<I: DoubleEndedIterator<Item: Keyed>> DoubleEndedIterator for Merge<I> {
    fn next_back(&mut self) -> Option<I::Item> {
        let mut best: Option<usize> = None;
        for i in 0..self.walks.len() {
            self.walks[i].fill_back();
            let Some(item) = &self.walks[i].back else {
                continue;
            };
            if best.is_none_or(|b| {
                let held = self.walks[b].back.as_ref();
                held.is_some_and(|held| item.key() > held.key())
            }) {
                best = Some(i);
            }
        }
        self.walks[best?].back.take()
    }
}
