//! Reading ahead: plain loads that start the cache misses of nodes a walk is about to visit, so
//! that those misses overlap instead of following one another down the tree.
//!
//! Safe Rust has no prefetch instruction, only loads, and a load that misses keeps its place in
//! the processor's reorder window until its line arrives. A walk whose work per node is short
//! (a cursor) loads as it goes; one whose work per node is long (a diff expanding pairs) first
//! queues the nodes of a whole level (naming a node reads nothing), then loads their lines in
//! one loop of a few instructions per line ([`load_lines`]), which keeps as many misses in
//! flight as the core can track.

use crate::tree::node::{Branch, Child, Route};

/// Slots in a 64-byte cache line.
const SLOTS_PER_LINE: usize = 64 / size_of::<Child>();

/// Bytes in a cache line.
const LINE: usize = 64;

/// Loads every line of `node` a walk reads: a leaf's key and value, a branch's header and the
/// lines of its children's slots.
pub(crate) fn load_lines(node: &Child) -> usize {
    match node.as_branch() {
        Some((branch, route)) => touch_branch(branch, route),
        None => {
            let (leaf, _) = node.leaf();
            leaf.iter()
                .step_by(LINE)
                .chain(leaf.last())
                .fold(0, |sum, &b| sum.wrapping_add(usize::from(b)))
        }
    }
}

/// Loads the header of `branch` and one slot of every line its children span (`route` is the
/// branch's): for walks whose loads between two branches are few enough to overlap anyway.
pub(crate) fn touch_branch(branch: &Branch, route: Route) -> usize {
    let count = Route::count(route).unwrap_or(branch.slots.len());
    let slots = &branch.slots[..count];
    slots
        .iter()
        .step_by(SLOTS_PER_LINE)
        .chain(slots.last())
        .fold(branch.pos as usize, |sum, slot| {
            sum.wrapping_add(usize::from(matches!(slot, Child::Vacant)))
        })
}
