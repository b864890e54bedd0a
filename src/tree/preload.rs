//! Reading ahead: plain loads that start the cache misses of nodes a walk is about to visit, so
//! that those misses overlap instead of following one another down the tree.
//!
//! Safe Rust has no prefetch instruction, only loads, and a load that misses keeps its place in
//! the processor's reorder window until its line arrives. A walk whose work per node is short
//! (a cursor) loads as it goes; one whose work per node is long (a diff expanding pairs) first
//! collects the nodes of a level in a [`Burst`] (naming a node reads nothing), then loads their
//! lines in one loop of a few instructions per line, which keeps as many misses in flight as
//! the core can track.

use crate::tree::node::{Branch, Child, Route};

/// Slots in a 64-byte cache line.
const SLOTS_PER_LINE: usize = 64 / size_of::<Child>();

/// Bytes in a cache line.
const LINE: usize = 64;

/// A set of nodes whose cache lines are to be loaded at once: every line of a leaf (its key and
/// value), a branch's header and the lines of its children's slots.
#[derive(Default)]
pub(crate) struct Burst<'a> {
    nodes: Vec<&'a Child>,
}

impl<'a> Burst<'a> {
    /// Adds `node`.
    #[inline]
    pub(crate) fn push(&mut self, node: &'a Child) {
        self.nodes.push(node);
    }

    /// Loads the lines of every node added since the last call, then forgets them.
    pub(crate) fn fire(&mut self) {
        let mut sum = 0usize;
        for &node in &self.nodes {
            sum = sum.wrapping_add(match node.as_branch() {
                Some((branch, route)) => touch_branch(branch, route),
                None => {
                    let (leaf, _) = node.leaf();
                    leaf.iter()
                        .step_by(LINE)
                        .chain(leaf.last())
                        .fold(0, |sum, &b| sum.wrapping_add(usize::from(b)))
                }
            });
        }
        std::hint::black_box(sum);
        self.nodes.clear();
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
