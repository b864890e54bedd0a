//! Reading ahead: plain loads that start the cache misses of nodes a walk is about to visit, so
//! that those misses overlap instead of following one another down the tree.
//!
//! Safe Rust has no prefetch instruction, only loads, and a load that misses keeps its place in
//! the processor's reorder window until its line arrives. So a walk first names the nodes it
//! will read (which reads nothing behind them): a diff queues the nodes of a whole level, a
//! cursor a batch of leaves; then it loads their lines in one loop of a few instructions per
//! line ([`load_lines`], [`touch_branch`]), which keeps as many misses in flight as the core
//! can track.

use crate::tree::node::{Branch, Child};

/// Slots in a 64-byte cache line.
const SLOTS_PER_LINE: usize = 64 / size_of::<Child>();

/// Bytes in a cache line.
const LINE: usize = 64;

/// Loads every line of `node` a walk reads: a leaf's key and value, a branch's header and the
/// lines of its children's slots.
#[inline]
pub(crate) fn load_lines(node: &Child) -> usize {
    if let Child::Stored(..) = node {
        return loaded_lines(node);
    }
    node_lines(node)
}

/// [`load_lines`] of a node in memory (not a stored slot).
#[inline(always)]
fn node_lines(node: &Child) -> usize {
    match node.as_branch_of::<false>() {
        Some((branch, _)) => touch_branch(branch),
        None => {
            let (leaf, _) = node.leaf_of::<false>();
            leaf.iter()
                .step_by(LINE)
                .chain(leaf.last())
                .fold(0, |sum, &b| sum.wrapping_add(usize::from(b)))
        }
    }
}

/// [`load_lines`] of a stored slot: of its node if loaded (a loaded node is in memory). One
/// not loaded yet is not read ahead: reading it is a load from its source.
#[cold]
#[inline(never)]
fn loaded_lines(node: &Child) -> usize {
    node.peek().map_or(0, node_lines)
}

/// Loads the header of `branch` and one slot of every line its slots span, vacant ones
/// included (a branch's class is at most a few slots wider than its children): for walks whose
/// loads between two branches are few enough to overlap anyway.
pub(crate) fn touch_branch(branch: &Branch) -> usize {
    let slots = &branch.slots;
    let mut sum = branch.pos as usize;
    let mut at = 0;
    while let Some(slot) = slots.get(at) {
        sum = sum.wrapping_add(usize::from(matches!(slot, Child::Vacant)));
        at += SLOTS_PER_LINE;
    }
    let last = slots
        .last()
        .is_some_and(|slot| matches!(slot, Child::Vacant));
    sum.wrapping_add(usize::from(last))
}
