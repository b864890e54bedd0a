//! The persistent, canonical, ordered Merkle trie.
//!
//! [`Tree`] is a value: cloning it is O(1) and the clone is an immutable version that shares
//! every node with the original. Writes copy only the path they change, and edit in place when
//! no other version shares the path.
//!
//! | operation | cost |
//! |---|---|
//! | [`Tree::clone`] | O(1) |
//! | [`Tree::get`], [`Tree::contains_key`] | O(d) |
//! | [`Tree::insert`], [`Tree::remove`] | O(d), copies at most the d nodes on the path |
//! | [`Tree::len`], [`Tree::is_empty`] | O(1) |
//! | [`Tree::iter`] | O(1) to start, O(1) amortised per entry |
//! | [`Tree::range`], [`Tree::prefix`] | O(d) to start, O(1) amortised per entry |
//! | [`Tree::diff`] | O(c · d) for c changed keys, skipping shared and hash-equal subtrees |
//! | [`Tree::root_hash`] | O(changed nodes since the last hash), cached per branch |
//!
//! d is the depth of the trie: about log₁₆ n for random keys, at most twice the key length in
//! bytes. No operation recurses, so the deepest tree the key limit allows is safe.

mod census;
pub(crate) mod codec;
mod cursor;
mod diff;
mod edit;
mod fallible;
pub(crate) mod hash;
pub(crate) mod node;
mod preload;
mod stored;

use std::ops::Bound;
use std::sync::Arc;

use crate::error::{Error, Result, check_entry, check_key};
pub(crate) use census::{Census, census};
pub use codec::{NODE_FORMAT_VERSION, decode_tree, encode_tree};
pub(crate) use cursor::OwnedRange;
pub use cursor::{Iter, Range};
pub use diff::{Diff, DiffEntry, DiffKind, OwnedDiff, TryDiff, TryOwnedDiff};
pub(crate) use fallible::TryOwnedRange;
pub use fallible::TryRange;
pub use hash::Hash;
/// An owned, shared handle on one entry of a version: keeps the entry alive, reads its key and
/// value.
pub(crate) use node::LeafRef;
use node::{Child, digit, fingerprint, leaf_key, leaf_value, locate, new_leaf, touch_value};
use stored::Stored;
pub use stored::{Location, NodeSource, STORED_NODE_FORMAT_VERSION};

/// A persistent, ordered map from byte strings to byte strings with a Merkle root.
///
/// The shape of the trie depends only on its contents, so equal contents always give an equal
/// [`root_hash`](Tree::root_hash), whatever order of inserts and removes produced them.
#[derive(Clone, Default)]
pub struct Tree {
    root: Option<Child>,
    len: u64,
    key_bytes: u64,
    value_bytes: u64,
    /// Whether this version may hold stored node references: set by the constructors that
    /// attach stored nodes ([`Tree::from_stored`], [`Tree::unload`]) and kept by every
    /// version made from it. A tree built in memory never does, and its reads and edits run
    /// walks in which the stored arms of the node accessors compile away.
    stored: bool,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the tree has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total bytes of all keys.
    pub fn key_bytes(&self) -> u64 {
        self.key_bytes
    }

    /// Total bytes of all values.
    pub fn value_bytes(&self) -> u64 {
        self.value_bytes
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.find(key).map(|found| found.value())
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// The entry under `key`, borrowed from this version.
    #[inline]
    pub(crate) fn find(&self, key: &[u8]) -> Option<Found<'_>> {
        let root = self.root.as_ref()?;
        if self.stored {
            find::<true>(root, key)
        } else {
            find::<false>(root, key)
        }
    }

    /// Sets `key` to `value`. Returns whether the key is new.
    ///
    /// Fails, leaving the tree unchanged, when the key is longer than
    /// [`MAX_KEY_LEN`](crate::MAX_KEY_LEN) or the value longer than
    /// [`MAX_VALUE_LEN`](crate::MAX_VALUE_LEN).
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        check_entry(key, value)?;
        Ok(self.insert_checked(key, value))
    }

    /// [`insert`](Tree::insert) for an entry already checked against the limits.
    pub(crate) fn insert_checked(&mut self, key: &[u8], value: &[u8]) -> bool {
        self.insert_leaf(key, new_leaf(key, value)).is_none()
    }

    /// [`insert_checked`](Tree::insert_checked) that returns the leaf it replaced, if any.
    pub(crate) fn insert_replacing(&mut self, key: &[u8], value: &[u8]) -> Option<LeafRef> {
        self.insert_leaf(key, new_leaf(key, value))
    }

    /// [`insert_checked`](Tree::insert_checked) that also returns the new leaf and the leaf it
    /// replaced, if any.
    pub(crate) fn insert_tracked(
        &mut self,
        key: &[u8],
        value: &[u8],
    ) -> (LeafRef, Option<LeafRef>) {
        let leaf = new_leaf(key, value);
        let new = LeafRef::new(leaf.clone());
        (new, self.insert_leaf(key, leaf))
    }

    /// Inserts the entry `leaf` (a [`LeafRef::entry`]; the tree shares it) and returns the
    /// leaf it replaced, if any.
    pub(crate) fn insert_entry(&mut self, leaf: &LeafRef) -> Option<LeafRef> {
        self.insert_leaf(leaf.key(), leaf.slot().clone())
    }

    /// Inserts the leaf slot `leaf` (whose key is `key`) and returns the leaf it replaced.
    fn insert_leaf(&mut self, key: &[u8], leaf: Child) -> Option<LeafRef> {
        self.value_bytes += leaf_value(leaf.leaf_of::<false>().0).len() as u64;
        let replaced = match &mut self.root {
            None => {
                self.root = Some(leaf);
                None
            }
            Some(root) if self.stored => edit::insert::<true>(root, key, leaf),
            Some(root) => edit::insert::<false>(root, key, leaf),
        };
        match &replaced {
            Some(old) => self.value_bytes -= leaf_value(old).len() as u64,
            None => {
                self.len += 1;
                self.key_bytes += key.len() as u64;
            }
        }
        replaced
    }

    /// Removes `key`. Returns whether it was present.
    pub fn remove(&mut self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        Ok(self.remove_checked(key))
    }

    /// [`remove`](Tree::remove) for a key already checked against the limit.
    pub(crate) fn remove_checked(&mut self, key: &[u8]) -> bool {
        self.remove_leaf(key).is_some()
    }

    /// Removes `key` and returns its leaf, if it was present.
    pub(crate) fn remove_leaf(&mut self, key: &[u8]) -> Option<LeafRef> {
        let root = self.root.as_mut()?;
        let (leaf, was_root) = if self.stored {
            edit::remove::<true>(root, key)?
        } else {
            edit::remove::<false>(root, key)?
        };
        if was_root {
            self.root = None;
        }
        self.len -= 1;
        self.key_bytes -= key.len() as u64;
        self.value_bytes -= leaf_value(&leaf).len() as u64;
        Some(leaf)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        *self = Tree::new();
    }

    /// All entries in key byte order.
    pub fn iter(&self) -> Iter<'_> {
        Iter::new(self)
    }

    /// Entries with `start <= key < end`, in key order; `.rev()` walks them backwards.
    /// An empty range when `start >= end`.
    pub fn range(&self, start: &[u8], end: &[u8]) -> Range<'_> {
        Range::new(self, Bound::Included(start), Bound::Excluded(end))
    }

    /// Entries within arbitrary bounds, in key order.
    pub fn range_bounds(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Range<'_> {
        Range::new(self, start, end)
    }

    /// Entries whose key starts with `prefix`, in key order.
    pub fn prefix(&self, prefix: &[u8]) -> Range<'_> {
        let end = prefix_end(prefix);
        let end = match &end {
            Some(end) => Bound::Excluded(end.as_slice()),
            None => Bound::Unbounded,
        };
        Range::new(self, Bound::Included(prefix), end)
    }

    /// The changes that turn `self` into `other`, in key order.
    pub fn diff<'a>(&'a self, other: &'a Tree) -> Diff<'a> {
        Diff::new(self.root.as_ref(), other.root.as_ref())
    }

    /// [`diff`](Tree::diff) that holds its own references to both versions.
    pub fn diff_owned(&self, other: &Tree) -> OwnedDiff {
        OwnedDiff::new(self.root.clone(), other.root.clone())
    }

    /// The blake3 Merkle root. Hashes only branches changed since the last call.
    pub fn root_hash(&self) -> Hash {
        match &self.root {
            None => hash::empty_hash(),
            Some(root) => hash::child_hash(root),
        }
    }

    /// Checks every node's structure and recomputes every hash from scratch; returns the root.
    /// A tree with stored nodes loads them all first.
    ///
    /// Fails with [`Error::Corrupt`] if a cached hash disagrees with the contents or the
    /// canonical form is broken, or with the error of a load that failed.
    pub fn verify(&self) -> Result<Hash> {
        self.load_all()?;
        census::verify(self)
    }

    /// A tree whose root node is stored at `root` in `source`, not loaded: O(1), reads
    /// nothing. `hash` is the root's Merkle hash and the counts are the tree's (all as the
    /// writer recorded them); every node is checked against the hash its parent holds when it
    /// is loaded, so `hash` authenticates everything read. The tree must not be empty (an
    /// empty tree has no stored root: use [`Tree::new`]).
    ///
    /// Nodes are loaded on first use and kept by the reference that reached them for as long
    /// as the tree (or a version sharing that part of it) lives. Reads that may load use the
    /// `try_` methods, which return a failed load as an error; the other read methods load too,
    /// but panic if a load fails.
    pub fn from_stored(
        root: Location,
        hash: Hash,
        len: u64,
        key_bytes: u64,
        value_bytes: u64,
        source: Arc<dyn NodeSource>,
    ) -> Tree {
        Tree {
            stored: true,
            ..Tree::from_parts(
                Some(Stored::one(hash, root, source)),
                len,
                key_bytes,
                value_bytes,
            )
        }
    }

    /// Writes every node that has no location yet, children before parents, through `sink`,
    /// which stores one record and returns where; returns the root's location (`None` for the
    /// empty tree).
    ///
    /// Nodes remember where they were written (and loaded nodes where they were read), so a
    /// later call writes only the nodes changed since: after k writes to a stored tree, about
    /// k · depth records. A tree is written to one store: a location means the same thing to
    /// every version sharing the node. Record layout: `docs/FORMAT.md`, "Stored node records".
    ///
    /// Fails with the sink's error (nodes written before it keep their locations, which stay
    /// valid if the sink's records do), or with [`Error::InvalidArgument`] if the sink returns
    /// [`Location::RESERVED`].
    pub fn store_new_nodes(
        &self,
        sink: &mut dyn FnMut(&[u8]) -> Result<Location>,
    ) -> Result<Option<Location>> {
        let Some(root) = &self.root else {
            return Ok(None);
        };
        stored::store_new_nodes(root, &mut |record: &[u8]| match sink(record)? {
            Location::RESERVED => Err(Error::InvalidArgument(
                "a node sink returned the reserved location (u32::MAX, u32::MAX)".into(),
            )),
            at => Ok(at),
        })
        .map(Some)
    }

    /// Replaces, in this version's nodes, every reference to a stored node that is loaded by
    /// the node itself, so that later reads of this version cost what reads of a tree built in
    /// memory cost (a read through a reference costs one more dependent load per level). Loads
    /// nothing: references not loaded yet stay. Copies the branches it changes (keeping their
    /// hashes and locations, so nothing is written again); other versions are untouched. O(n)
    /// in the nodes in memory.
    pub fn inline_loaded(&mut self) {
        if let Some(root) = &self.root
            && let Some(new) = stored::rebuild(root, &stored::Rebuild::Inline)
        {
            self.root = Some(new);
        }
    }

    /// Makes every stored subtree at least `depth` levels below the root (one whose nodes all
    /// have locations: written or loaded and unchanged since) an unloaded reference into
    /// `source` again, so the memory its loaded or written nodes take is freed once no other
    /// version holds them; nodes not stored yet stay. The way to bound the memory of a
    /// store-backed version: reads of what was unloaded load it again. Loads nothing; O(n) in
    /// the nodes in memory.
    pub fn unload(&mut self, depth: usize, source: &Arc<dyn NodeSource>) {
        if let Some(root) = &self.root
            && let Some(new) = stored::rebuild(root, &stored::Rebuild::Unload { depth, source })
        {
            self.root = Some(new);
            self.stored = true;
        }
    }

    /// [`get`](Tree::get) that loads the stored nodes on the key's path, failing with the
    /// error of a load that fails.
    pub fn try_get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        Ok(self.try_find(key)?.map(|found| found.value()))
    }

    /// [`find`](Tree::find) that loads the stored nodes on the key's path, failing with the
    /// load's error: one walk, and the in-memory one when the version holds no stored node.
    #[inline]
    pub(crate) fn try_find(&self, key: &[u8]) -> Result<Option<Found<'_>>> {
        match &self.root {
            None => Ok(None),
            Some(root) if self.stored => {
                Ok(fallible::find(root, key)?.map(|(slot, leaf)| Found { slot, leaf }))
            }
            // Nothing to load: the in-memory walk.
            Some(_) => Ok(self.find(key)),
        }
    }

    /// [`contains_key`](Tree::contains_key) that loads, as [`try_get`](Tree::try_get).
    pub fn try_contains_key(&self, key: &[u8]) -> Result<bool> {
        Ok(self.try_get(key)?.is_some())
    }

    /// Loads every stored node of this version, failing with the error of a load that fails:
    /// once it succeeds, every read of this version loads nothing (and so cannot fail), for as
    /// long as the version lives. The way to read a version whole through walks that cannot
    /// report a failed load, such as a file save's. O(n) for a tree with stored nodes; O(1)
    /// for one built in memory.
    pub fn load_all(&self) -> Result<()> {
        match &self.root {
            Some(root) if self.stored => fallible::load_all(root),
            _ => Ok(()),
        }
    }

    /// Loads every stored node that an insert or remove of `key` reads; once it succeeds, an
    /// insert, remove or get of `key` on this tree loads nothing more (and so cannot fail to).
    pub fn load_path(&self, key: &[u8]) -> Result<()> {
        match &self.root {
            Some(root) if self.stored => fallible::load_path(root, key),
            _ => Ok(()),
        }
    }

    /// [`insert`](Tree::insert) on a tree with stored nodes: loads what the insert reads
    /// first ([`load_path`](Tree::load_path)); a failed load leaves the tree unchanged.
    pub fn try_insert(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        check_entry(key, value)?;
        self.load_path(key)?;
        Ok(self.insert_checked(key, value))
    }

    /// [`remove`](Tree::remove) on a tree with stored nodes: loads what the remove reads
    /// first; a failed load leaves the tree unchanged.
    pub fn try_remove(&mut self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        self.load_path(key)?;
        Ok(self.remove_checked(key))
    }

    /// [`iter`](Tree::iter) on a tree with stored nodes: entries in key order (`.rev()` walks
    /// them backwards), each a `Result`; a failed load is yielded once and ends the walk.
    pub fn try_iter(&self) -> TryRange<'_> {
        TryRange::new(self.root.as_ref(), Bound::Unbounded, Bound::Unbounded)
    }

    /// [`range_bounds`](Tree::range_bounds) on a tree with stored nodes, as
    /// [`try_iter`](Tree::try_iter). Loads O(d) nodes to start and each node once as the walk
    /// reaches it.
    pub fn try_range(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> TryRange<'_> {
        TryRange::new(self.root.as_ref(), start, end)
    }

    /// [`prefix`](Tree::prefix) on a tree with stored nodes, as [`try_iter`](Tree::try_iter).
    pub fn try_prefix(&self, prefix: &[u8]) -> TryRange<'_> {
        let end = prefix_end(prefix);
        let end = match &end {
            Some(end) => Bound::Excluded(end.as_slice()),
            None => Bound::Unbounded,
        };
        TryRange::new(self.root.as_ref(), Bound::Included(prefix), end)
    }

    /// [`try_diff`](Tree::try_diff) that holds its own references to both versions.
    pub fn try_diff_owned(&self, other: &Tree) -> TryOwnedDiff {
        TryOwnedDiff::new(
            self.root.clone(),
            other.root.clone(),
            self.stored || other.stored,
        )
    }

    /// [`diff`](Tree::diff) between versions with stored nodes: loads only the paths where
    /// the versions differ (subtrees with equal hashes are skipped without loading); a failed
    /// load is yielded once and ends the walk.
    pub fn try_diff<'a>(&'a self, other: &'a Tree) -> TryDiff<'a> {
        TryDiff::new(self.root.as_ref(), other.root.as_ref())
    }

    pub(crate) fn root(&self) -> Option<&Child> {
        self.root.as_ref()
    }

    pub(crate) fn from_parts(
        root: Option<Child>,
        len: u64,
        key_bytes: u64,
        value_bytes: u64,
    ) -> Tree {
        Tree {
            root,
            len,
            key_bytes,
            value_bytes,
            stored: false,
        }
    }

    /// Whether two trees are the same version (share their root node).
    pub fn ptr_eq(&self, other: &Tree) -> bool {
        match (&self.root, &other.root) {
            (None, None) => true,
            (Some(a), Some(b)) => a.ptr_eq(b),
            _ => false,
        }
    }

    /// An owned range over this version, for handles that outlive a borrow.
    pub(crate) fn owned_range(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> OwnedRange {
        OwnedRange::new(self, start, end)
    }

    /// [`owned_range`](Tree::owned_range) for a version that may have stored nodes: each step
    /// a `Result`; a failed load can be retried.
    pub(crate) fn try_owned_range(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> TryOwnedRange {
        TryOwnedRange::new(self, start, end)
    }
}

/// The entry under `key` below `root`, in a walk that meets stored slots (`S`) or knows it
/// meets none.
#[inline(always)]
fn find<'a, const S: bool>(root: &'a Child, key: &[u8]) -> Option<Found<'a>> {
    let mut slot = root;
    let tag = fingerprint(key);
    while let Some((branch, route)) = slot.as_branch_of::<S>() {
        let (pos, bitmap, pairs) = route.read(branch);
        let (index, pair) = locate(bitmap, pairs, digit(key, pos)?)?;
        if pair {
            // The two leaves of a pair sit side by side: the fingerprints pick one.
            return branch.slots[index..index + 2].iter().find_map(|slot| {
                let leaf = (slot.leaf_tag_of::<S>() == tag).then(|| slot.leaf_of::<S>().0)?;
                touch_value(leaf);
                (leaf_key(leaf) == key).then_some(Found { slot, leaf })
            });
        }
        slot = &branch.slots[index];
    }
    // Most absent keys end here, on the fingerprint kept in the slot.
    if slot.leaf_tag_of::<S>() != tag {
        return None;
    }
    let (leaf, _) = slot.leaf_of::<S>();
    touch_value(leaf);
    (leaf_key(leaf) == key).then_some(Found { slot, leaf })
}

/// An entry found by [`Tree::find`]: its bytes borrowed from the version, and a way to share it.
pub(crate) struct Found<'a> {
    slot: &'a Child,
    leaf: &'a [u8],
}

impl<'a> Found<'a> {
    /// The entry's value, borrowed from the version.
    #[inline]
    pub(crate) fn value(&self) -> &'a [u8] {
        leaf_value(self.leaf)
    }

    /// A handle on the entry that keeps it alive past the borrow (a reference-count update).
    pub(crate) fn share(&self) -> LeafRef {
        LeafRef::new(self.slot.clone())
    }
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Tree {
    /// Equal contents; decided by the Merkle roots.
    fn eq(&self, other: &Tree) -> bool {
        self.len == other.len && (self.ptr_eq(other) || self.root_hash() == other.root_hash())
    }
}

impl Eq for Tree {}

/// The smallest key greater than every key starting with `prefix`; `None` when no such key
/// exists (the prefix is empty or all 0xFF).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&b| b != 0xff)?;
    let mut end = prefix[..=last].to_vec();
    end[last] += 1;
    Some(end)
}

impl<'a> IntoIterator for &'a Tree {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}
