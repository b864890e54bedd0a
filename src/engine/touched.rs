//! The keys written since the live state last equalled the current snapshot.
//!
//! While they are few, a snapshot counts its `delta_size` by looking each of them up in the
//! parent and in the live state, O(k · d), instead of diffing the two trees. Past the bounds
//! below the log gives up and the snapshot diffs the trees; either way the count is exact.

use crate::tree::Tree;

/// Keys recorded at most (a write that would pass either bound ends recording).
const MAX_KEYS: usize = 64;
/// Key bytes recorded at most.
const MAX_BYTES: usize = 16 * 1024;

/// A bounded log of written keys. Invariant: unless `overflowed`, every key whose entry may
/// differ between the current snapshot and the live state is in the log (possibly repeated).
#[derive(Default)]
pub(crate) struct Touched {
    /// The recorded keys, back to back.
    bytes: Vec<u8>,
    /// Where each recorded key ends in `bytes`.
    ends: Vec<usize>,
    overflowed: bool,
}

impl Touched {
    /// Records a write to `key`.
    pub(crate) fn record(&mut self, key: &[u8]) {
        if self.overflowed {
            return;
        }
        if self.ends.len() == MAX_KEYS || self.bytes.len() + key.len() > MAX_BYTES {
            self.overflow();
            return;
        }
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len());
    }

    /// Records a change that the log cannot describe key by key.
    pub(crate) fn overflow(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.overflowed = true;
    }

    /// Starts over: the live state equals the current snapshot again.
    pub(crate) fn reset(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.overflowed = false;
    }

    /// The number of keys whose entries differ between `old` (the current snapshot's tree) and
    /// `new` (the live state), or `None` when the log overflowed.
    pub(crate) fn delta(&self, old: &Tree, new: &Tree) -> Option<u64> {
        if self.overflowed {
            return None;
        }
        let mut keys: Vec<&[u8]> = self
            .ends
            .iter()
            .scan(0, |start, &end| {
                let key = &self.bytes[*start..end];
                *start = end;
                Some(key)
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let changed = keys
            .into_iter()
            .filter(|key| old.get(key) != new.get(key))
            .count();
        Some(changed as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(entries: &[(&[u8], &[u8])]) -> Tree {
        let mut tree = Tree::new();
        for (key, value) in entries {
            tree.insert(key, value).unwrap();
        }
        tree
    }

    #[test]
    fn counts_distinct_changed_keys() {
        let old = tree(&[(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]);
        let new = tree(&[(b"a", b"1"), (b"b", b"9"), (b"d", b"4")]);
        let mut touched = Touched::default();
        // "a" was rewritten with its old value: no change. "b" twice, "c" deleted, "d" added.
        for key in [b"a", b"b", b"b", b"c", b"d"] {
            touched.record(key);
        }
        assert_eq!(touched.delta(&old, &new), Some(3));
        assert_eq!(
            touched.delta(&old, &new),
            Some(old.diff(&new).count() as u64)
        );
    }

    #[test]
    fn gives_up_past_its_bounds_and_starts_over_on_reset() {
        let empty = Tree::new();
        let mut touched = Touched::default();
        for i in 0..MAX_KEYS {
            touched.record(&i.to_be_bytes());
        }
        assert_eq!(touched.delta(&empty, &empty), Some(0));
        touched.record(b"one more");
        assert_eq!(touched.delta(&empty, &empty), None);
        touched.reset();
        assert_eq!(touched.delta(&empty, &empty), Some(0));
        touched.record(&vec![0u8; MAX_BYTES + 1]);
        assert_eq!(touched.delta(&empty, &empty), None);
    }
}
