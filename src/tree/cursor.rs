//! Ordered traversal: cursors, ranges and iterators.
//!
//! A cursor is the stack of branches from the root to its current leaf, each with the index of
//! the child taken. Moving to the next or previous leaf pops to the nearest branch with a sibling
//! on that side and descends the sibling's outer edge, so a full walk costs O(1) amortised per
//! entry and the stack (heap) grows with depth, never the call stack.
//!
//! The walk is written once over [`Link`], implemented by borrowed branches (for iterators that
//! borrow a tree) and by owned references (for handles that must outlive any borrow).

use std::ops::{Bound, Deref};

use crate::tree::Tree;
use crate::tree::node::{
    Branch, BranchRef, Child, LeafRef, Node, closest_difference, digit, leaf_key, leaf_value,
    preload,
};
use crate::tree::preload::touch_branch;

/// What a cursor holds on to: a branch, by reference or by ownership.
pub(crate) trait Link<'a>: Clone + Deref<Target = Branch> {
    /// How a leaf is held.
    type Leaf: Clone + Deref<Target = [u8]>;
    /// The child of this branch at `index`.
    fn child(&self, index: usize) -> Step<'a, Self>;
}

pub(crate) enum Step<'a, L: Link<'a>> {
    Leaf(L::Leaf),
    Branch(L),
}

impl<'a, L: Link<'a>> Clone for Step<'a, L> {
    fn clone(&self) -> Self {
        match self {
            Step::Leaf(leaf) => Step::Leaf(leaf.clone()),
            Step::Branch(branch) => Step::Branch(branch.clone()),
        }
    }
}

fn borrowed(child: &Child) -> Step<'_, &Branch> {
    match child.node() {
        Node::Leaf(leaf) => Step::Leaf(leaf),
        Node::Branch(branch, _) => Step::Branch(branch),
    }
}

fn owned<'a>(child: &Child) -> Step<'a, BranchRef> {
    match child.node() {
        Node::Leaf(..) => Step::Leaf(LeafRef::new(child.clone())),
        Node::Branch(..) => Step::Branch(BranchRef::new(child)),
    }
}

impl<'a> Link<'a> for &'a Branch {
    type Leaf = &'a [u8];
    fn child(&self, index: usize) -> Step<'a, Self> {
        let branch: &'a Branch = self;
        borrowed(&branch.slots[index])
    }
}

impl<'a> Link<'a> for BranchRef {
    type Leaf = LeafRef;
    fn child(&self, index: usize) -> Step<'a, Self> {
        owned(&self.slots[index])
    }
}

/// The root of a walk: as the cursor holds it, and as a plain reference for read-only probes.
struct Root<'a, 'r, L: Link<'a>> {
    step: Step<'a, L>,
    node: &'r Child,
}

struct Cursor<'a, L: Link<'a>> {
    stack: Vec<Frame<L>>,
    leaf: Option<L::Leaf>,
    /// Stack depth of the branch whose whole subtree was last preloaded: the walk is inside it
    /// while the stack is deeper. `usize::MAX` when no subtree is.
    preloaded: usize,
    /// Leaves the cursor has moved past, up to [`LONG_WALK`].
    steps: usize,
}

/// A branch on a cursor's path, the index of the child taken, and its child count (kept so that
/// a step to a sibling reads no branch header).
struct Frame<L> {
    branch: L,
    index: usize,
    count: usize,
}

impl<'a, L: Link<'a>> Frame<L> {
    fn at(branch: L, index: usize) -> Frame<L> {
        let count = branch.count();
        Frame {
            branch,
            index,
            count,
        }
    }
}

/// Steps after which a walk counts as long and preloads whole subtrees: a short range would
/// read only part of what it preloaded.
const LONG_WALK: usize = 128;

/// The most nodes a cursor preloads at once: a subtree this small fits in the L2 cache of any
/// current core, and preloading it costs about one miss's latency instead of one per level.
const PRELOAD_BUDGET: usize = 512;

/// Starts the cache misses of every node below `branch`, breadth first, so that the misses of a
/// whole level overlap instead of following one another down the tree. Stops early, returning
/// `false`, when the subtree has more than [`PRELOAD_BUDGET`] nodes.
fn preload_subtree(branch: &Branch) -> bool {
    let mut queue = Vec::with_capacity(64);
    queue.push(branch);
    let (mut next, mut nodes, mut sum) = (0, 0, 0usize);
    let fits = loop {
        let Some(&branch) = queue.get(next) else {
            break true;
        };
        next += 1;
        let children = branch.children();
        nodes += children.len();
        if nodes > PRELOAD_BUDGET {
            break false;
        }
        for child in children {
            sum = sum.wrapping_add(match child.as_branch() {
                Some((branch, route)) => {
                    queue.push(branch);
                    touch_branch(branch, route)
                }
                None => child.preload(),
            });
        }
    };
    std::hint::black_box(sum);
    fits
}

impl<'a, L: Link<'a>> Cursor<'a, L> {
    fn new() -> Self {
        Cursor {
            stack: Vec::new(),
            leaf: None,
            preloaded: usize::MAX,
            steps: 0,
        }
    }

    fn descend(&mut self, mut step: Step<'a, L>, leftmost: bool) {
        loop {
            match step {
                Step::Leaf(leaf) => {
                    self.leaf = Some(leaf);
                    return;
                }
                Step::Branch(branch) => {
                    // Entering a subtree not preloaded yet: on a long walk, start the cache
                    // misses of all of it if it is small; else of every child, which the walk
                    // visits in turn.
                    let depth = self.stack.len();
                    if depth <= self.preloaded {
                        if self.steps >= LONG_WALK && preload_subtree(&branch) {
                            self.preloaded = depth;
                        } else {
                            self.preloaded = usize::MAX;
                            preload(branch.children());
                        }
                    }
                    let frame = Frame::at(branch, 0);
                    let index = if leftmost { 0 } else { frame.count - 1 };
                    step = frame.branch.child(index);
                    self.stack.push(Frame { index, ..frame });
                }
            }
        }
    }

    /// Moves to the next leaf (`forward`) or the previous one; clears the leaf at either end.
    fn advance(&mut self, forward: bool) {
        self.steps = (self.steps + 1).min(LONG_WALK);
        while let Some(frame) = self.stack.last_mut() {
            let next = if forward {
                (frame.index + 1 < frame.count).then(|| frame.index + 1)
            } else {
                frame.index.checked_sub(1)
            };
            if let Some(next) = next {
                frame.index = next;
                match frame.branch.child(next) {
                    // Most steps go to a sibling leaf: no descent to set up.
                    Step::Leaf(leaf) => self.leaf = Some(leaf),
                    step => self.descend(step, forward),
                }
                return;
            }
            self.stack.pop();
        }
        self.leaf = None;
    }

    /// Positions on the first leaf whose key is `>= key` (or `> key` when `exclusive`).
    fn seek(&mut self, root: &Root<'a, '_, L>, key: &[u8], exclusive: bool) {
        self.stack.clear();
        self.leaf = None;
        self.preloaded = usize::MAX;
        self.steps = 0;
        let split = closest_difference(root.node, key, false);
        let mut step = root.step.clone();
        // Follow the key while the subtree still agrees with it.
        loop {
            let (next, pair) = match &step {
                Step::Branch(branch) if split.is_none_or(|at| branch.pos < at) => {
                    let d = digit(key, branch.pos).expect("the key shares this prefix");
                    branch.locate(d).expect("the key's path exists")
                }
                _ => break,
            };
            let Step::Branch(branch) = step else {
                unreachable!()
            };
            if pair {
                // The subtree is the pair's two leaves: the first one past the key is the place.
                let past = |leaf: &[u8]| match leaf_key(leaf).cmp(key) {
                    std::cmp::Ordering::Less => false,
                    std::cmp::Ordering::Equal => !exclusive,
                    std::cmp::Ordering::Greater => true,
                };
                for index in [next, next + 1] {
                    let Step::Leaf(leaf) = branch.child(index) else {
                        unreachable!("a pair holds leaves")
                    };
                    if past(&leaf) {
                        self.stack.push(Frame::at(branch, index));
                        self.leaf = Some(leaf);
                        return;
                    }
                }
                self.stack.push(Frame::at(branch, next + 1));
                self.stack_after_current();
                return;
            }
            step = branch.child(next);
            self.stack.push(Frame::at(branch, next));
        }
        let Some(at) = split else {
            // The key itself is present, at this leaf.
            let Step::Leaf(leaf) = step else {
                unreachable!("no split means the key was found")
            };
            self.leaf = Some(leaf);
            if exclusive {
                self.advance(true);
            }
            return;
        };
        let key_digit = digit(key, at).expect("the split lies within the key");
        match step {
            Step::Branch(branch) if branch.pos == at => {
                // The key's digit is absent here: go to the first child after it.
                let index = branch.rank(key_digit);
                if index < branch.children().len() {
                    let child = branch.child(index);
                    self.stack.push(Frame::at(branch, index));
                    self.descend(child, true);
                } else {
                    self.leaf = None;
                    self.stack_after_current();
                }
            }
            subtree => {
                let sample = match &subtree {
                    Step::Leaf(leaf) => digit(leaf_key(leaf), at),
                    Step::Branch(branch) => {
                        let b: &Branch = branch;
                        digit(leaf_key(any_leaf(b)), at)
                    }
                };
                let subtree_digit = sample.expect("keys below share the split");
                if key_digit < subtree_digit {
                    self.descend(subtree, true);
                } else {
                    self.stack_after_current();
                }
            }
        }
    }

    /// Moves past the subtree the top of the stack points at.
    fn stack_after_current(&mut self) {
        self.advance(true);
    }

    /// Positions on the last leaf whose key is `< key` (or `<= key` when `inclusive`).
    fn seek_before(&mut self, root: &Root<'a, '_, L>, key: &[u8], inclusive: bool) {
        self.seek(root, key, inclusive);
        if self.leaf.is_some() {
            self.advance(false);
        } else {
            self.stack.clear();
            self.descend(root.step.clone(), false);
        }
    }
}

fn any_leaf(branch: &Branch) -> &[u8] {
    branch.slots[0].any_leaf()
}

/// A double-ended walk between two cursors that stops when they meet.
struct Walk<'a, L: Link<'a>> {
    front: Cursor<'a, L>,
    back: Cursor<'a, L>,
    done: bool,
}

impl<'a, L: Link<'a>> Walk<'a, L> {
    fn new(root: Option<Root<'a, '_, L>>, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Self {
        let mut front = Cursor::new();
        let mut back = Cursor::new();
        if let Some(root) = root {
            match start {
                Bound::Unbounded => front.descend(root.step.clone(), true),
                Bound::Included(key) => front.seek(&root, key, false),
                Bound::Excluded(key) => front.seek(&root, key, true),
            }
            match end {
                Bound::Unbounded => back.descend(root.step.clone(), false),
                Bound::Excluded(key) => back.seek_before(&root, key, false),
                Bound::Included(key) => back.seek_before(&root, key, true),
            }
        }
        let done = match (&front.leaf, &back.leaf) {
            (Some(first), Some(last)) => leaf_key(first) > leaf_key(last),
            _ => true,
        };
        Walk { front, back, done }
    }

    fn next(&mut self) -> Option<L::Leaf> {
        if self.done {
            return None;
        }
        let leaf = self.front.leaf.clone()?;
        if self
            .back
            .leaf
            .as_ref()
            .is_some_and(|last| same(last, &leaf))
        {
            self.done = true;
        } else {
            self.front.advance(true);
        }
        Some(leaf)
    }

    fn next_back(&mut self) -> Option<L::Leaf> {
        if self.done {
            return None;
        }
        let leaf = self.back.leaf.clone()?;
        if self
            .front
            .leaf
            .as_ref()
            .is_some_and(|first| same(first, &leaf))
        {
            self.done = true;
        } else {
            self.back.advance(false);
        }
        Some(leaf)
    }
}

fn same(a: &[u8], b: &[u8]) -> bool {
    std::ptr::eq(a, b)
}

/// Entries of a [`Tree`] within bounds, in key order (and backwards with `.rev()`).
pub struct Range<'a> {
    walk: Walk<'a, &'a Branch>,
}

impl<'a> Range<'a> {
    pub(crate) fn new(tree: &'a Tree, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Range<'a> {
        let root = tree.root().map(|node| Root {
            step: borrowed(node),
            node,
        });
        Range {
            walk: Walk::new(root, start, end),
        }
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        self.walk
            .next()
            .map(|leaf| (leaf_key(leaf), leaf_value(leaf)))
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.walk
            .next_back()
            .map(|leaf| (leaf_key(leaf), leaf_value(leaf)))
    }
}

/// All entries of a [`Tree`] in key order; knows how many remain.
pub struct Iter<'a> {
    range: Range<'a>,
    remaining: u64,
}

impl<'a> Iter<'a> {
    pub(crate) fn new(tree: &'a Tree) -> Iter<'a> {
        Iter {
            range: Range::new(tree, Bound::Unbounded, Bound::Unbounded),
            remaining: tree.len(),
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let item = self.range.next()?;
        self.remaining -= 1;
        Some(item)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let item = self.range.next_back()?;
        self.remaining -= 1;
        Some(item)
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// A range that owns its path, for handles that must not borrow the tree (the C ABI).
/// Yields leaf allocations; [`leaf_key`] and [`leaf_value`] read them.
pub(crate) struct OwnedRange {
    walk: Walk<'static, BranchRef>,
}

impl OwnedRange {
    pub(crate) fn new(tree: &Tree, start: Bound<&[u8]>, end: Bound<&[u8]>) -> OwnedRange {
        // The walk clones what it keeps, so it borrows the root only while positioning.
        let root = tree.root().map(|node| Root {
            step: owned(node),
            node,
        });
        OwnedRange {
            walk: Walk::new(root, start, end),
        }
    }

    pub(crate) fn next(&mut self) -> Option<LeafRef> {
        self.walk.next()
    }

    pub(crate) fn next_back(&mut self) -> Option<LeafRef> {
        self.walk.next_back()
    }
}
