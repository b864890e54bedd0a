//! Reading ahead: plain loads that start the cache misses of nodes a walk is about to visit, so
//! that those misses overlap instead of following one another down the tree.
//!
//! Safe Rust has no prefetch instruction, only loads, and a load that misses keeps its place in
//! the processor's reorder window until its line arrives. So reading ahead works in bursts:
//! first collect a reference into every cache line to read (computing an address reads
//! nothing), then load them all in a loop of a few instructions per line, which keeps as many
//! misses in flight as the core can track.

use crate::tree::node::{Branch, Child, Route};

/// Slots in a 64-byte cache line.
const SLOTS_PER_LINE: usize = 64 / size_of::<Child>();

/// Bytes in a cache line.
const LINE: usize = 64;

/// A set of nodes whose cache lines are to be loaded at once.
pub(crate) struct Burst<'a> {
    nodes: Vec<&'a Child>,
    /// Whether a leaf's every line is loaded, not only its first (its key).
    whole_leaves: bool,
}

impl<'a> Burst<'a> {
    pub(crate) fn new(whole_leaves: bool) -> Burst<'a> {
        Burst {
            nodes: Vec::new(),
            whole_leaves,
        }
    }

    /// Adds `node`, whose lines a walk will read: a branch's header and the slots of its
    /// children; a leaf's key or all of it.
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
                    let first = leaf.first().map_or(0, |&b| usize::from(b));
                    if self.whole_leaves {
                        leaf.iter()
                            .skip(LINE)
                            .step_by(LINE)
                            .chain(leaf.last())
                            .fold(first, |sum, &b| sum.wrapping_add(usize::from(b)))
                    } else {
                        first
                    }
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
