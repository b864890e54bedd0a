//! Walks over trees with stored nodes, which load what they read and fail with the load's
//! error instead of panicking: lookups, the nodes an edit reads, and ordered scans.
//!
//! Each walk reads a stored slot through [`Child::resolve`], which loads the node once (the
//! slot's reference keeps it) and then costs one more load per level than a node in memory.

use std::ops::Bound;

use crate::error::Result;
use crate::tree::node::{
    Branch, Child, closest_difference, digit, fingerprint, first_difference, leaf_entry, leaf_key,
    locate,
};

/// The leaf holding `key` below `root`, loading the nodes on its path.
pub(crate) fn leaf<'a>(root: &'a Child, key: &[u8]) -> Result<Option<&'a [u8]>> {
    let tag = fingerprint(key);
    let mut slot = root;
    loop {
        let node = slot.resolve()?;
        let Some((branch, route)) = node.as_branch() else {
            if node.leaf_tag() != tag {
                return Ok(None);
            }
            let (leaf, _) = node.leaf();
            return Ok((leaf_key(leaf) == key).then_some(leaf));
        };
        let (pos, bitmap, pairs) = route.read(branch);
        let Some((index, pair)) = digit(key, pos).and_then(|d| locate(bitmap, pairs, d)) else {
            return Ok(None);
        };
        if pair {
            for slot in &branch.slots[index..index + 2] {
                let node = slot.resolve()?;
                if node.leaf_tag() == tag && leaf_key(node.leaf().0) == key {
                    return Ok(Some(node.leaf().0));
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

/// The walk of [`TryRange`]: forward, loading stored nodes as it
/// reaches them; yields the first load error and then ends.
struct Walk<'a> {
    /// Branches (in memory) on the path to the walk's position, each with the slot to visit
    /// next.
    stack: Vec<(&'a Branch, usize)>,
    /// A subtree to walk before the stack's next slot.
    pending: Option<&'a Child>,
    /// Leaves before this bound are skipped (only the first few, near the start).
    start: Option<(Vec<u8>, bool)>,
    end: Bound<Vec<u8>>,
    /// An error met while positioning, given before anything else.
    error: Option<crate::Error>,
    done: bool,
}

impl<'a> Walk<'a> {
    fn new(root: Option<&'a Child>, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Self {
        let mut walk = Walk {
            stack: Vec::new(),
            pending: None,
            start: None,
            end: end.map(<[u8]>::to_vec),
            error: None,
            done: root.is_none(),
        };
        if let Some(root) = root {
            let seek = match start {
                Bound::Unbounded => {
                    walk.pending = Some(root);
                    Ok(())
                }
                Bound::Included(key) => walk.seek(root, key, false),
                Bound::Excluded(key) => walk.seek(root, key, true),
            };
            walk.error = seek.err();
        }
        walk
    }

    /// Positions the walk at the first leaf not below `key` (or above it when `exclusive`).
    fn seek(&mut self, root: &'a Child, key: &[u8], exclusive: bool) -> Result<()> {
        self.start = Some((key.to_vec(), exclusive));
        // The key of the leaf closest to `key`: following the key's digits, then the first
        // child.
        let sample = {
            let mut node = root.resolve()?;
            loop {
                let Some((branch, _)) = node.as_branch() else {
                    break leaf_key(node.leaf().0).to_vec();
                };
                let index = digit(key, branch.pos)
                    .and_then(|d| branch.locate(d))
                    .map_or(0, |(index, _)| index);
                node = branch.slots[index].resolve()?;
            }
        };
        let split = first_difference(&sample, key);
        let mut node = root;
        while let Some((branch, _)) = node.resolve()?.as_branch() {
            let pos = branch.pos;
            // Past the split, the whole subtree lies on one side of the key; at it, the key's
            // digit is absent (or a pair's) and the children after it follow.
            if split.is_some_and(|at| pos > at) {
                break;
            }
            let d = digit(key, pos).expect("the key shares this branch's prefix");
            match branch.locate(d) {
                Some((index, false)) => {
                    node = &branch.slots[index];
                    self.stack.push((branch, index + 1));
                }
                // A pair's leaves are checked against the start as they come.
                Some((index, true)) => {
                    self.stack.push((branch, index));
                    return Ok(());
                }
                None => {
                    let rank = branch.rank(d);
                    self.stack.push((branch, rank));
                    return Ok(());
                }
            }
        }
        // `node` is the subtree where the key leaves the tree (or its own leaf): all of it
        // sorts before or after the key, as the sample's digit there (every key's) says.
        match split {
            None => self.pending = Some(node),
            Some(at) if digit(key, at) < digit(&sample, at) => self.pending = Some(node),
            Some(_) => {}
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<&'a [u8]>> {
        loop {
            let slot = match self.pending.take() {
                Some(slot) => slot,
                None => {
                    let Some((branch, next)) = self.stack.last_mut() else {
                        return Ok(None);
                    };
                    let branch: &'a Branch = branch;
                    if *next >= branch.count() {
                        self.stack.pop();
                        continue;
                    }
                    *next += 1;
                    &branch.slots[*next - 1]
                }
            };
            let node = slot.resolve()?;
            match node.as_branch() {
                Some((branch, _)) => self.stack.push((branch, 0)),
                None => return Ok(Some(node.leaf().0)),
            }
        }
    }

    /// The next leaf in range; after an error, none.
    fn next(&mut self) -> Option<Result<&'a [u8]>> {
        if let Some(error) = self.error.take() {
            self.done = true;
            return Some(Err(error));
        }
        while !self.done {
            let leaf = match self.step() {
                Ok(Some(leaf)) => leaf,
                Ok(None) => break,
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            };
            let key = leaf_key(leaf);
            if let Some((start, exclusive)) = &self.start {
                if key < start.as_slice() || (*exclusive && key == start.as_slice()) {
                    continue;
                }
                self.start = None;
            }
            let inside = match &self.end {
                Bound::Unbounded => true,
                Bound::Included(end) => key <= end.as_slice(),
                Bound::Excluded(end) => key < end.as_slice(),
            };
            if !inside {
                break;
            }
            return Some(Ok(leaf));
        }
        self.done = true;
        None
    }
}

/// Entries of a tree within bounds, in key order, loading stored nodes as the walk reaches
/// them. Yields the first load error and then ends.
pub struct TryRange<'a> {
    walk: Walk<'a>,
}

impl<'a> TryRange<'a> {
    pub(crate) fn new(root: Option<&'a Child>, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Self {
        TryRange {
            walk: Walk::new(root, start, end),
        }
    }
}

impl<'a> Iterator for TryRange<'a> {
    type Item = Result<(&'a [u8], &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        self.walk.next().map(|leaf| leaf.map(leaf_entry))
    }
}
