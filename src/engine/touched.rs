//! The writes made since the live state last equalled the current snapshot.
//!
//! While they are few, every write to the live state goes through [`Touched`], which keeps the
//! key, the leaf the write replaced and the leaf it left. A snapshot then counts its
//! `delta_size` from the log alone: a key changed when the value before its first write differs
//! from the value after its last. Past the bounds below the log gives up, writes go straight to
//! the tree, and the snapshot diffs the trees instead; either way the count is exact.

use crate::tree::{LeafRef, Tree};

/// Writes recorded at most (a write that would pass either bound ends recording).
const MAX_WRITES: usize = 64;
/// Key bytes recorded at most.
const MAX_BYTES: usize = 16 * 1024;

/// One recorded write.
struct Write {
    /// Where the key ends in [`Touched::bytes`].
    end: usize,
    /// The entry before the write.
    old: Option<LeafRef>,
    /// The entry after the write.
    new: Option<LeafRef>,
}

/// A bounded log of writes. Invariant: unless `overflowed`, every write since the live state
/// last equalled the current snapshot is in the log, in order.
#[derive(Default)]
pub(crate) struct Touched {
    /// The written keys, back to back.
    bytes: Vec<u8>,
    writes: Vec<Write>,
    overflowed: bool,
}

impl Touched {
    /// Sets `key` to `value` in `live` (both checked against the limits), recording the write.
    /// Returns whether the entry changed: false when `key` already held `value`.
    pub(crate) fn put(&mut self, live: &mut Tree, key: &[u8], value: &[u8]) -> bool {
        let changed = |old: &Option<LeafRef>| old.as_ref().is_none_or(|o| o.value() != value);
        if self.overflowed {
            changed(&live.insert_replacing(key, value))
        } else {
            let (new, old) = live.insert_tracked(key, value);
            let changed = changed(&old);
            self.record(key, old, Some(new));
            changed
        }
    }

    /// [`put`](Touched::put) of an entry made before ([`LeafRef::entry`]).
    pub(crate) fn put_entry(&mut self, live: &mut Tree, leaf: LeafRef) -> bool {
        let old = live.insert_entry(&leaf);
        let changed = old.as_ref().is_none_or(|o| o.value() != leaf.value());
        if !self.overflowed {
            self.record(leaf.key(), old, Some(leaf.clone()));
        }
        changed
    }

    /// Removes `key` from `live`, recording the write; returns whether the key was present.
    pub(crate) fn delete(&mut self, live: &mut Tree, key: &[u8]) -> bool {
        let Some(old) = live.remove_leaf(key) else {
            return false;
        };
        self.record(key, Some(old), None);
        true
    }

    fn record(&mut self, key: &[u8], old: Option<LeafRef>, new: Option<LeafRef>) {
        if self.overflowed {
            return;
        }
        if self.writes.len() == MAX_WRITES || self.bytes.len() + key.len() > MAX_BYTES {
            self.overflow();
            return;
        }
        self.bytes.extend_from_slice(key);
        let end = self.bytes.len();
        self.writes.push(Write { end, old, new });
    }

    /// Records a change that the log cannot describe write by write.
    pub(crate) fn overflow(&mut self) {
        self.bytes.clear();
        self.writes.clear();
        self.overflowed = true;
    }

    /// Starts over: the live state equals the current snapshot again.
    pub(crate) fn reset(&mut self) {
        self.bytes.clear();
        self.writes.clear();
        self.overflowed = false;
    }

    /// The number of keys whose entries differ between the current snapshot and the live state,
    /// or `None` when the log overflowed.
    pub(crate) fn delta(&self) -> Option<u64> {
        if self.overflowed {
            return None;
        }
        let key = |i: usize| {
            let start = i.checked_sub(1).map_or(0, |p| self.writes[p].end);
            &self.bytes[start..self.writes[i].end]
        };
        // Write indices grouped by key, each group in write order.
        let mut order: Vec<usize> = (0..self.writes.len()).collect();
        order.sort_by(|&a, &b| key(a).cmp(key(b)).then(a.cmp(&b)));
        let changed = order
            .chunk_by(|&a, &b| key(a) == key(b))
            .filter(|group| {
                let before = &self.writes[group[0]].old;
                let after = &self.writes[group[group.len() - 1]].new;
                match (before, after) {
                    (None, None) => false,
                    (Some(a), Some(b)) => a.value() != b.value(),
                    _ => true,
                }
            })
            .count();
        Some(changed as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_keys_whose_first_and_last_values_differ() {
        let mut live = Tree::new();
        for (key, value) in [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")] {
            live.insert(key, value).unwrap();
        }
        let old = live.clone();
        let mut touched = Touched::default();
        touched.put(&mut live, b"a", b"9");
        touched.put(&mut live, b"a", b"1"); // back to its old value: unchanged
        touched.put(&mut live, b"b", b"8");
        touched.put(&mut live, b"b", b"7");
        assert!(touched.delete(&mut live, b"c"));
        assert!(!touched.delete(&mut live, b"c"));
        touched.put(&mut live, b"d", b"4");
        touched.put(&mut live, b"e", b"5");
        assert!(touched.delete(&mut live, b"e")); // added then removed: unchanged
        assert_eq!(touched.delta(), Some(3));
        assert_eq!(touched.delta(), Some(old.diff(&live).count() as u64));
    }

    #[test]
    fn gives_up_past_its_bounds_and_starts_over_on_reset() {
        let mut live = Tree::new();
        let mut touched = Touched::default();
        for i in 0..MAX_WRITES {
            touched.put(&mut live, &i.to_be_bytes(), b"v");
        }
        assert_eq!(touched.delta(), Some(MAX_WRITES as u64));
        touched.put(&mut live, b"one more", b"v");
        assert_eq!(touched.delta(), None);
        assert_eq!(live.len(), MAX_WRITES as u64 + 1);
        touched.reset();
        assert_eq!(touched.delta(), Some(0));
        touched.put(&mut live, &vec![0u8; MAX_BYTES + 1], b"v");
        assert_eq!(touched.delta(), None);
    }
}
