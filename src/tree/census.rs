//! Counting and checking nodes: the figures behind `stats()` and `Tree::verify`.
//!
//! Everything here is counted by walking nodes; nothing is estimated. Allocation sizes are the
//! exact layouts the nodes were allocated with (reference counts included).

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::tree::hash::{Hash, branch_hash_of, empty_hash, leaf_hash, pair_hash};
use crate::tree::node::{
    Branch, Child, Kids, Node, Route, digit, fingerprint, first_difference, leaf_key, leaf_value,
    pair_route,
};
use crate::tree::{Location, Tree};

/// Node figures for a set of versions, each node counted once by identity.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Census {
    /// Distinct leaf nodes.
    pub(crate) leaves: u64,
    /// Distinct branch nodes.
    pub(crate) branches: u64,
    /// Bytes allocated for all distinct nodes, key and value bytes included.
    pub(crate) node_bytes: u64,
    /// Key and value bytes held in distinct leaves.
    pub(crate) payload_bytes: u64,
    /// Distinct nodes reachable from more than one of the versions.
    pub(crate) shared_nodes: u64,
    /// Longest root-to-leaf path, in nodes.
    pub(crate) max_depth: u64,
}

/// Counts the nodes of `versions` in one walk and returns two sets of figures: those of the
/// first `first` versions alone (what a walk of only them would count) and those of all of
/// them. A node reached from a second version is shared, and so is everything below it.
///
/// Stored nodes are loaded as the walk reaches them; a failed load is the error (the walk
/// never panics on a store-backed version). A stored slot is identified by its location, so
/// that versions attached from a manifest one by one, each holding its own references to the
/// nodes they share on disk, count those nodes once, as the same versions in memory do (and
/// the walk loads a shared subtree once, below its first sighting); any other slot by its
/// allocation. Neither changes while the walk runs, whatever a concurrent checkpoint records.
/// A node's bytes are those of its loaded form.
///
/// A shared node can sit at different depths in different versions, so depth is not recorded
/// where the walk meets a node: each distinct node's height (nodes on its longest downward path)
/// is computed once, children first, and the deepest version is the tallest root.
pub(crate) fn census(versions: &[&Tree], first: usize) -> Result<(Census, Census)> {
    // For each node seen: the version that first reached it, whether it is known shared, and
    // its height once its subtree is done.
    let mut seen: HashMap<Identity, Seen<'_>> = HashMap::new();
    let mut out = Census::default();
    let mut head = Census::default();
    for (version, tree) in versions.iter().enumerate() {
        if version == first {
            head = out.clone();
        }
        let Some(root) = tree.root() else { continue };
        let mut stack: Vec<Visit<'_>> = vec![Visit::Slot(root)];
        while let Some(visit) = stack.pop() {
            let slot = match visit {
                Visit::Slot(slot) => slot,
                Visit::Done(id, children) => {
                    let tallest = children
                        .iter()
                        .map(|child| seen[&identity(child)].height)
                        .max()
                        .unwrap_or(0);
                    seen.get_mut(&id).expect("seen before").height = tallest + 1;
                    continue;
                }
            };
            let id = identity(slot);
            if let Some(known) = seen.get_mut(&id) {
                if known.version == version || known.shared {
                    continue;
                }
                known.shared = true;
                out.shared_nodes += 1;
                // Below, through the children of its first sighting: the node this slot
                // refers to may be a copy of it that is not loaded.
                stack.extend(known.children.unwrap_or_default().iter().map(Visit::Slot));
                continue;
            }
            let node = slot.resolve()?;
            let children = node.as_branch().map(|(branch, _)| branch.children());
            seen.insert(
                id,
                Seen {
                    version,
                    shared: false,
                    height: u64::from(children.is_none()),
                    children,
                },
            );
            out.node_bytes += node.allocated_bytes() as u64;
            match children {
                Some(children) => {
                    out.branches += 1;
                    stack.push(Visit::Done(id, children));
                    stack.extend(children.iter().map(Visit::Slot));
                }
                None => {
                    let (leaf, _) = node.leaf();
                    out.leaves += 1;
                    out.payload_bytes += (leaf_key(leaf).len() + leaf_value(leaf).len()) as u64;
                }
            }
        }
        out.max_depth = out.max_depth.max(seen[&identity(root)].height);
    }
    if first >= versions.len() {
        head = out.clone();
    }
    Ok((head, out))
}

/// A step of [`census`]'s walk.
enum Visit<'a> {
    /// A slot to count (and walk below).
    Slot(&'a Child),
    /// A branch whose children are counted: its height can be taken.
    Done(Identity, &'a [Child]),
}

/// What makes two slots the same node for [`census`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Identity {
    /// Where the store holds it.
    Stored(Location),
    /// Its allocation, for a node no store holds.
    Memory(usize),
}

/// The identity of the node `slot` refers to, without loading it.
fn identity(slot: &Child) -> Identity {
    match (slot, slot.location()) {
        (Child::Stored(..), Some(at)) => Identity::Stored(at),
        _ => Identity::Memory(slot.address()),
    }
}

/// What [`census`] knows of a node it has met.
struct Seen<'a> {
    /// The first version that reached the node.
    version: usize,
    /// Whether a second version reached it.
    shared: bool,
    /// Nodes on the longest path down from it, itself included; 0 until its subtree is done.
    height: u64,
    /// Its children's slots, for a branch (as the first version to reach it holds them).
    children: Option<&'a [Child]>,
}

/// Recomputes every hash from scratch and checks the canonical form; returns the root hash.
pub(crate) fn verify(tree: &Tree) -> Result<Hash> {
    let Some(root) = tree.root() else {
        return if tree.is_empty() && tree.key_bytes() == 0 && tree.value_bytes() == 0 {
            Ok(empty_hash())
        } else {
            Err(Error::Corrupt("an empty tree reports entries".into()))
        };
    };
    // A finished subtree: its hash and one of its keys (all keys below share its prefix).
    struct Done<'a> {
        hash: Hash,
        key: &'a [u8],
    }
    // Entries, key bytes and value bytes of the leaves checked.
    let mut counts = (0u64, 0u64, 0u64);
    let mut frames: Vec<(&Branch, Kids<'_>, usize)> = Vec::new();
    let mut done: Vec<Done<'_>> = Vec::new();
    let mut next = Some(root);
    loop {
        if let Some(node) = next.take() {
            match node.node() {
                Node::Branch(branch, route) => {
                    if route != Route::new(branch.pos, branch.bitmap, branch.pairs) {
                        return Err(Error::Corrupt(
                            "a slot's route does not match its branch".into(),
                        ));
                    }
                    frames.push((branch, branch.kids(), done.len()));
                }
                Node::Leaf(..) => {
                    let bytes = check_leaf(node, &mut counts)?;
                    done.push(Done {
                        hash: leaf_hash(bytes),
                        key: leaf_key(bytes),
                    });
                }
            }
        }
        let Some((branch, kids, base)) = frames.last_mut() else {
            break;
        };
        match kids.next() {
            Some((_, [child])) => {
                next = Some(child);
                continue;
            }
            Some((_, pair)) => {
                let keys = [
                    check_leaf(&pair[0], &mut counts)?,
                    check_leaf(&pair[1], &mut counts)?,
                ]
                .map(leaf_key);
                let (pos, bitmap) = pair_route(pair);
                check_branch(pos, bitmap, 0, pair, &keys, false)?;
                done.push(Done {
                    hash: pair_hash(pair),
                    key: keys[0],
                });
                continue;
            }
            None => {}
        }
        let (branch, base) = (*branch, *base);
        frames.pop();
        let keys: Vec<&[u8]> = done[base..].iter().map(|d| d.key).collect();
        check_branch(
            branch.pos,
            branch.bitmap,
            branch.pairs,
            branch.children(),
            &keys,
            true,
        )?;
        if branch.pairs & 1 != 0 || branch.pairs & !branch.bitmap != 0 {
            return Err(Error::Corrupt(format!(
                "branch at nibble {}: a pair under a digit it does not have",
                branch.pos
            )));
        }
        let two_leaves = keys.len() == 2
            && branch.pairs == 0
            && branch.children().iter().all(|c| !c.is_branch());
        if two_leaves && !frames.is_empty() {
            return Err(Error::Corrupt(format!(
                "branch at nibble {}: two leaves below the root, not a pair",
                branch.pos
            )));
        }
        let hashes: Vec<Hash> = done[base..].iter().map(|d| d.hash).collect();
        let hash = branch_hash_of(branch.pos, branch.bitmap, &hashes);
        if branch.hash.get().is_some_and(|cached| *cached != hash) {
            return Err(Error::Corrupt("a cached branch hash is stale".into()));
        }
        let key = done[base].key;
        done.truncate(base);
        done.push(Done { hash, key });
    }
    if counts != (tree.len(), tree.key_bytes(), tree.value_bytes()) {
        return Err(Error::Corrupt(
            "the tree's counters do not match its leaves".into(),
        ));
    }
    Ok(done[0].hash)
}

/// Checks a leaf's fingerprint and adds it to `counts` (entries, key bytes, value bytes).
fn check_leaf<'a>(leaf: &'a Child, counts: &mut (u64, u64, u64)) -> Result<&'a [u8]> {
    let (bytes, tag) = leaf.leaf();
    if tag != fingerprint(leaf_key(bytes)) {
        return Err(Error::Corrupt(
            "a leaf's fingerprint does not match its key".into(),
        ));
    }
    counts.0 += 1;
    counts.1 += leaf_key(bytes).len() as u64;
    counts.2 += leaf_value(bytes).len() as u64;
    Ok(bytes)
}

/// Checks a branch that splits at `pos` (or the branch a pair stands for) against its `slots`
/// and a sample key of each child, in digit order.
///
/// With `check_next`, also checks the next digits of the leaf slots (the slots of a pair keep
/// those of the branch that holds them, not of the pair's own position).
fn check_branch(
    pos: u32,
    bitmap: u32,
    pairs: u32,
    slots: &[Child],
    keys: &[&[u8]],
    check_next: bool,
) -> Result<()> {
    let bad = |why: &str| Err(Error::Corrupt(format!("branch at nibble {pos}: {why}")));
    if keys.len() < 2 || bitmap.count_ones() as usize != keys.len() {
        return bad("fewer than two children or a bitmap that does not match them");
    }
    let mut at = 0;
    for (key, d) in keys.iter().zip((0..32).filter(|d| bitmap & (1 << d) != 0)) {
        if digit(key, pos) != Some(d) {
            return bad("a child sits under the wrong digit");
        }
        if first_difference(key, keys[0]).is_some_and(|at| at < pos) {
            return bad("children do not share the branch prefix");
        }
        let width = 1 + (pairs >> d & 1) as usize;
        let Some(child) = slots.get(at..at + width) else {
            return bad("fewer slots than children");
        };
        at += width;
        let child_pos = match child {
            [single] => single.pos(),
            pair => pair_route(pair).0,
        };
        if child_pos <= pos {
            return bad("a child branch does not split below its parent");
        }
        // Every leaf slot, a pair's too, keeps its key's digit just past this branch.
        let wrong_next = child.iter().any(|leaf| {
            !leaf.is_branch()
                && leaf
                    .next()
                    .get()
                    .is_some_and(|next| Some(next) != digit(leaf_key(leaf.leaf().0), pos + 1))
        });
        if check_next && wrong_next {
            return bad("a leaf slot keeps a next digit its key does not have");
        }
    }
    Ok(())
}
