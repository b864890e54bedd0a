//! Walks over trees with stored nodes, which load what they read and fail with the load's
//! error instead of panicking: lookups, the nodes an edit reads, and ordered scans from both
//! ends.
//!
//! Each walk reads a stored slot through [`Child::resolve`], which loads the node once (the
//! slot's reference keeps it) and then costs one more load per level than a node in memory.
//! The scans move only after a load succeeded, so a step that fails can be taken again (a
//! passing I/O error may not recur); their iterators end after the first error.

use std::ops::Bound;

use crate::error::Result;
use crate::tree::diff::Hold;
use crate::tree::node::{
    Child, LeafRef, closest_difference, digit, fingerprint, first_difference, leaf_entry, leaf_key,
    locate, touch_value,
};
use crate::tree::{OwnedRange, Tree};

/// The entry under `key` below `root`, loading the nodes on its path: the slot of its leaf (a
/// loaded node, never a stored reference) and the leaf's bytes.
pub(crate) fn find<'a>(root: &'a Child, key: &[u8]) -> Result<Option<(&'a Child, &'a [u8])>> {
    let tag = fingerprint(key);
    let mut slot = root;
    loop {
        let node = slot.resolve()?;
        let Some((branch, route)) = node.as_branch() else {
            if node.leaf_tag() != tag {
                return Ok(None);
            }
            let (leaf, _) = node.leaf();
            touch_value(leaf);
            return Ok((leaf_key(leaf) == key).then_some((node, leaf)));
        };
        let (pos, bitmap, pairs) = route.read(branch);
        let Some((index, pair)) = digit(key, pos).and_then(|d| locate(bitmap, pairs, d)) else {
            return Ok(None);
        };
        if pair {
            for slot in &branch.slots[index..index + 2] {
                let node = slot.resolve()?;
                if node.leaf_tag() == tag {
                    let (leaf, _) = node.leaf();
                    touch_value(leaf);
                    if leaf_key(leaf) == key {
                        return Ok(Some((node, leaf)));
                    }
                }
            }
            return Ok(None);
        }
        slot = &branch.slots[index];
    }
}

/// Loads every stored node that an insert or remove of `key` below `root` reads: the nodes
/// on the key's path (and, where the key leaves the tree, on down the first child, as
/// [`closest_difference`] walks), the children of every branch on the path with at most three
/// children (a remove there may fold the branch and looks at them), both leaves of a pair, and
/// the leftmost path of the subtree an insert splits.
pub(crate) fn load_path(root: &Child, key: &[u8]) -> Result<()> {
    let mut slot = root;
    loop {
        let node = slot.resolve()?;
        let Some((branch, route)) = node.as_branch() else {
            break;
        };
        let (pos, bitmap, pairs) = route.read(branch);
        if bitmap.count_ones() <= 3 {
            for child in branch.children() {
                child.resolve()?;
            }
        }
        match digit(key, pos).and_then(|d| locate(bitmap, pairs, d)) {
            Some((index, true)) => {
                branch.slots[index].resolve()?;
                branch.slots[index + 1].resolve()?;
                break;
            }
            Some((index, false)) => slot = &branch.slots[index],
            None => slot = &branch.slots[0],
        }
    }
    // Every node `closest_difference` reads is loaded now.
    let Some(at) = closest_difference::<true>(root, key, false) else {
        return Ok(());
    };
    // An insert splits the first subtree on the key's path that the key leaves (its branch
    // sits past `at`) and reads that subtree's leftmost leaf.
    let mut node = root.resolve()?;
    while let Some((branch, route)) = node.as_branch() {
        let (pos, bitmap, pairs) = route.read(branch);
        if pos > at {
            break;
        }
        match digit(key, pos).and_then(|d| locate(bitmap, pairs, d)) {
            Some((index, false)) => node = branch.slots[index].resolve()?,
            _ => return Ok(()),
        }
    }
    leftmost(node).map(drop)
}

/// The leftmost leaf below `node`, loading the path to it.
pub(crate) fn leftmost(node: &Child) -> Result<&Child> {
    let mut node = node.resolve()?;
    while let Some((branch, _)) = node.as_branch() {
        node = branch.slots[0].resolve()?;
    }
    Ok(node)
}

/// Loads every stored node below `root`.
pub(crate) fn load_all(root: &Child) -> Result<()> {
    let mut pending = vec![root];
    while let Some(slot) = pending.pop() {
        if let Some((branch, _)) = slot.resolve()?.as_branch() {
            pending.extend(branch.children());
        }
    }
    Ok(())
}

/// One end of a [`Walk`]: the front walks up in key order, the back down.
struct End<H> {
    forward: bool,
    /// The root, until the end is positioned. Positioning waits for the first step, so that
    /// making a walk loads nothing and a failed positioning is tried again by the next step.
    root: Option<H>,
    /// Where this end starts. Leaves on the near side of it are skipped as they come (only the
    /// first few, around where the end was positioned).
    bound: Bound<Vec<u8>>,
    /// Branches (resolved) on the path to the end's position, each with how far into its slots
    /// the end has come: forward, the index of the next slot to visit; backward, one past it.
    stack: Vec<(H, usize)>,
    /// A subtree to walk before the stack's next slot.
    pending: Option<H>,
}

/// The number of slots of the branch `node` holds (resolved).
fn slot_count<H: Hold>(node: &H) -> usize {
    node.slot()
        .as_branch()
        .map_or(0, |(branch, _)| branch.count())
}

/// The key of the leaf `node` holds (resolved).
fn key_of<H: Hold>(node: &H) -> &[u8] {
    leaf_key(node.slot().leaf().0)
}

impl<H: Hold> End<H> {
    fn new(root: Option<H>, bound: Bound<&[u8]>, forward: bool) -> Self {
        End {
            forward,
            root,
            bound: bound.map(<[u8]>::to_vec),
            stack: Vec::new(),
            pending: None,
        }
    }

    /// Whether `key` lies on the near side of this end's bound: before it for the front,
    /// after it for the back.
    fn before_bound(&self, key: &[u8]) -> bool {
        match &self.bound {
            Bound::Unbounded => false,
            Bound::Included(bound) if self.forward => key < bound.as_slice(),
            Bound::Included(bound) => key > bound.as_slice(),
            Bound::Excluded(bound) if self.forward => key <= bound.as_slice(),
            Bound::Excluded(bound) => key >= bound.as_slice(),
        }
    }

    /// Positions the end at its bound, if it is not yet; changes nothing when a load fails.
    fn position(&mut self) -> Result<()> {
        let Some(root) = &self.root else {
            return Ok(());
        };
        let (stack, pending) = match &self.bound {
            Bound::Unbounded => (Vec::new(), Some(root.again())),
            Bound::Included(key) | Bound::Excluded(key) => seek(root, key, self.forward)?,
        };
        (self.stack, self.pending, self.root) = (stack, pending, None);
        Ok(())
    }

    /// The next leaf from this end (resolved), `None` past the last one. A failed load changes
    /// nothing: the next call tries it again.
    fn step(&mut self) -> Result<Option<H>> {
        self.position()?;
        loop {
            let slot = match &self.pending {
                Some(pending) => pending.again(),
                None => {
                    let Some((branch, next)) = self.stack.last() else {
                        return Ok(None);
                    };
                    let index = if self.forward {
                        (*next < slot_count(branch)).then_some(*next)
                    } else {
                        next.checked_sub(1)
                    };
                    let Some(index) = index else {
                        self.stack.pop();
                        continue;
                    };
                    branch.child(index)
                }
            };
            let node = slot.resolved()?;
            // Loaded: only now does the end move past the slot.
            if self.pending.take().is_none() {
                let (_, next) = self.stack.last_mut().expect("the slot came from the stack");
                *next = if self.forward { *next + 1 } else { *next - 1 };
            }
            if node.slot().as_branch().is_none() {
                return Ok(Some(node));
            }
            let start = if self.forward { 0 } else { slot_count(&node) };
            self.stack.push((node, start));
        }
    }
}

/// Where an end stands: its stack and the subtree to walk first (see [`End`]).
type Place<H> = (Vec<(H, usize)>, Option<H>);

/// The path from `root` towards `key` for an end walking `forward` (or backward): the stack of
/// branches with the slots still to visit, and a subtree to walk first. The first leaves it
/// reaches may lie on the near side of `key` (a pair's, or `key`'s own): the end skips them.
fn seek<H: Hold>(root: &H, key: &[u8], forward: bool) -> Result<Place<H>> {
    // The key of a leaf where `key` leaves the tree: following the key's digits, then the
    // first child. Every key there shares the prefix up to the split.
    let sample = {
        let mut node = root.resolved()?;
        loop {
            let index = match node.slot().as_branch() {
                None => break key_of(&node).to_vec(),
                Some((branch, _)) => digit(key, branch.pos)
                    .and_then(|d| branch.locate(d))
                    .map_or(0, |(index, _)| index),
            };
            node = node.child(index).resolved()?;
        }
    };
    let split = first_difference(&sample, key);
    let mut stack = Vec::new();
    let mut node = root.again();
    loop {
        let resolved = node.resolved()?;
        let Some((branch, _)) = resolved.slot().as_branch() else {
            break;
        };
        // Past the split, the whole subtree lies on one side of the key; at it, the key's
        // digit is absent (or a pair's) and the children after it (before it, backward) follow.
        if split.is_some_and(|at| branch.pos > at) {
            break;
        }
        let d = digit(key, branch.pos).expect("the key shares this branch's prefix");
        let rank = branch.rank(d);
        match branch.locate(d) {
            Some((index, false)) => {
                node = resolved.child(index);
                stack.push((resolved, if forward { index + 1 } else { index }));
            }
            // A pair's leaves are checked against the bound as they come.
            Some((index, true)) => {
                stack.push((resolved, if forward { index } else { index + 2 }));
                return Ok((stack, None));
            }
            None => {
                stack.push((resolved, rank));
                return Ok((stack, None));
            }
        }
    }
    // `node` is the subtree where the key leaves the tree (or the key's own leaf): all of it
    // sorts before or after the key, as the sample's digit there (every key's) says.
    let pending = match split {
        None => Some(node),
        Some(at) => {
            let (mine, theirs) = (digit(key, at), digit(&sample, at));
            (if forward {
                mine < theirs
            } else {
                mine > theirs
            })
            .then_some(node)
        }
    };
    Ok((stack, pending))
}

/// A walk between two bounds from both ends, loading stored nodes as it reaches them. The
/// ends stop where they meet. A failed load changes nothing: the next step of that end tries
/// it again.
pub(crate) struct Walk<H> {
    front: End<H>,
    back: End<H>,
    /// The leaf each end gave last: the other end stops before it.
    front_last: Option<H>,
    back_last: Option<H>,
    done: bool,
}

impl<H: Hold> Walk<H> {
    pub(crate) fn new(root: Option<H>, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Self {
        Walk {
            front: End::new(root.as_ref().map(Hold::again), start, true),
            back: End::new(root, end, false),
            front_last: None,
            back_last: None,
            done: false,
        }
    }

    /// The next leaf (resolved) from the front (`forward`) or the back; `None` once the ends
    /// have met.
    pub(crate) fn step(&mut self, forward: bool) -> Result<Option<H>> {
        if self.done {
            return Ok(None);
        }
        let (this, other, this_last, other_last) = if forward {
            (
                &mut self.front,
                &self.back,
                &mut self.front_last,
                &self.back_last,
            )
        } else {
            (
                &mut self.back,
                &self.front,
                &mut self.back_last,
                &self.front_last,
            )
        };
        let leaf = loop {
            let Some(leaf) = this.step()? else {
                self.done = true;
                return Ok(None);
            };
            if !this.before_bound(key_of(&leaf)) {
                break leaf;
            }
        };
        let key = key_of(&leaf);
        let met = other_last.as_ref().is_some_and(|last| {
            let last = key_of(last);
            if forward { key >= last } else { key <= last }
        });
        if met || other.before_bound(key) {
            self.done = true;
            return Ok(None);
        }
        *this_last = Some(leaf.again());
        Ok(Some(leaf))
    }
}

/// Entries of a tree within bounds, in key order (and backwards with `.rev()`), loading
/// stored nodes as the walk reaches them. Yields the first load error and then ends.
pub struct TryRange<'a> {
    walk: Walk<&'a Child>,
    failed: bool,
}

impl<'a> TryRange<'a> {
    pub(crate) fn new(root: Option<&'a Child>, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Self {
        TryRange {
            walk: Walk::new(root, start, end),
            failed: false,
        }
    }

    fn step(&mut self, forward: bool) -> Option<Result<(&'a [u8], &'a [u8])>> {
        if self.failed {
            return None;
        }
        match self.walk.step(forward) {
            Ok(leaf) => leaf.map(|leaf: &'a Child| Ok(leaf_entry(leaf.leaf().0))),
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }
}

impl<'a> Iterator for TryRange<'a> {
    type Item = Result<(&'a [u8], &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(true)
    }
}

impl DoubleEndedIterator for TryRange<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(false)
    }
}

/// A range that owns its path, for handles that must not borrow the tree, over a tree that
/// may have stored nodes: the walk of [`Walk`] for such a tree, the faster in-memory cursor
/// for one built in memory (which never loads, so never fails).
pub(crate) enum TryOwnedRange {
    Memory(OwnedRange),
    Stored(Box<Walk<Child>>),
}

impl TryOwnedRange {
    pub(crate) fn new(tree: &Tree, start: Bound<&[u8]>, end: Bound<&[u8]>) -> TryOwnedRange {
        if tree.stored {
            TryOwnedRange::Stored(Box::new(Walk::new(tree.root().cloned(), start, end)))
        } else {
            TryOwnedRange::Memory(tree.owned_range(start, end))
        }
    }

    /// The next leaf from the front (`forward`) or the back. A failed load changes nothing:
    /// the next call tries it again.
    pub(crate) fn step(&mut self, forward: bool) -> Result<Option<LeafRef>> {
        match self {
            TryOwnedRange::Memory(range) if forward => Ok(range.next()),
            TryOwnedRange::Memory(range) => Ok(range.next_back()),
            TryOwnedRange::Stored(walk) => Ok(walk.step(forward)?.map(LeafRef::new)),
        }
    }
}
