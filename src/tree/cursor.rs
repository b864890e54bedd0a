//! Ordered traversal: cursors, ranges and iterators.
//!
//! A cursor is the stack of branches from the root to its current leaf, each with the index of
//! the child taken. Moving on pops to the nearest branch with a sibling on that side and enters
//! the sibling, so a full walk costs O(1) amortised per entry and the stack (heap) grows with
//! depth, never the call stack.
//!
//! A cursor moves through leaves it gathered ahead: it walks its stack on past a batch of
//! leaves (runs of leaf slots, appended at once), then loads a byte of each in a loop of its
//! own, so that the cache misses of the whole batch overlap, and moves through one batch while
//! the misses of the next are in flight. A walk between two cursors steps through the leaves
//! gathered before the other end's without a check; the iterators' steps inline into the
//! caller's loop, and gathering stays out of line.
//!
//! The walk is written once over [`Link`], implemented by borrowed branches (for iterators that
//! borrow a tree) and by owned references (for handles that must outlive any borrow).

use std::ops::{Bound, Deref};

use crate::tree::Tree;
use crate::tree::node::{
    Branch, BranchRef, Child, LeafRef, Node, closest_difference, digit, leaf_entry, leaf_key,
};
use crate::tree::preload::touch_branch;

/// What a cursor holds on to: a branch, by reference or by ownership.
pub(crate) trait Link<'a>: Clone + Deref<Target = Branch> {
    /// How a leaf is held.
    type Leaf: Clone + Deref<Target = [u8]>;
    /// The child of this branch at `index` (`S`: in a walk that may meet stored slots).
    fn child<const S: bool>(&self, index: usize) -> Step<'a, Self>;
    /// Appends to `out` the leaves among this branch's first `count` children that follow the
    /// child at `index` in the walk's direction (a child branch of leaves only gives its
    /// leaves in turn, if all fit), until `out` holds `want` or the next child is a branch
    /// that does not give its leaves so; returns the index of the last child taken (`index`
    /// when none).
    fn leaves<const S: bool>(
        &self,
        index: usize,
        count: usize,
        forward: bool,
        out: &mut Vec<Self::Leaf>,
        want: usize,
    ) -> usize;
}

/// [`Link::leaves`] over `children`, `leaf` turning a slot into a leaf.
#[inline(always)]
fn leaves_of<'s, T, const S: bool>(
    children: &'s [Child],
    index: usize,
    forward: bool,
    out: &mut Vec<T>,
    want: usize,
    leaf: impl Fn(&'s Child) -> T + Copy,
) -> usize {
    let mut at = index;
    loop {
        // The run of leaf slots next in the walk's direction, then what ends it.
        let room = want - out.len();
        let (run, end) = if forward {
            let start = at.wrapping_add(1);
            let rest = children.get(start..).unwrap_or_default();
            let len = rest
                .iter()
                .take(room)
                .take_while(|c| !c.is_branch_of::<S>())
                .count();
            out.extend(rest[..len].iter().map(leaf));
            (len, children.get(start + len))
        } else {
            let rest = &children[..at.min(children.len())];
            let len = rest
                .iter()
                .rev()
                .take(room)
                .take_while(|c| !c.is_branch_of::<S>())
                .count();
            out.extend(rest[rest.len() - len..].iter().rev().map(leaf));
            (len, rest.len().checked_sub(len + 1).map(|i| &rest[i]))
        };
        at = if forward {
            at.wrapping_add(run)
        } else {
            at - run
        };
        let Some((branch, _)) = end.and_then(Child::as_branch_of::<S>) else {
            return at;
        };
        // A child branch of leaves only gives its leaves here, if all fit.
        let below = branch.children();
        if out.len() + below.len() > want || below.iter().any(Child::is_branch_of::<S>) {
            return at;
        }
        if forward {
            out.extend(below.iter().map(leaf));
            at = at.wrapping_add(1);
        } else {
            out.extend(below.iter().rev().map(leaf));
            at -= 1;
        }
    }
}

/// Bytes of a leaf whose cache lines a gather loads: enough for the key and a value of a few
/// hundred bytes, which a walk's caller usually reads whole (the C ABI's packed steps copy
/// them); beyond that a copy runs sequentially, which the hardware prefetches.
const TOUCHED: usize = 256;

/// Loads a byte of each 64-byte line of the first [`TOUCHED`] bytes of `leaf` and its last
/// byte within them, so that those cache misses start together with the other leaves': for
/// walks whose caller copies the values out.
#[inline(always)]
fn touch_lines(leaf: &[u8]) -> usize {
    let touched = &leaf[..leaf.len().min(TOUCHED)];
    let lines = touched
        .iter()
        .step_by(64)
        .fold(0usize, |sum, b| sum + usize::from(*b));
    lines + touched.last().map_or(0, |b| usize::from(*b))
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

fn borrowed<const S: bool>(child: &Child) -> Step<'_, &Branch> {
    match child.node_of::<S>() {
        Node::Leaf(leaf) => Step::Leaf(leaf),
        Node::Branch(branch, _) => Step::Branch(branch),
    }
}

fn owned<'a, const S: bool>(child: &Child) -> Step<'a, BranchRef> {
    match child.node_of::<S>() {
        Node::Leaf(..) => Step::Leaf(LeafRef::new(child.clone())),
        Node::Branch(..) => Step::Branch(BranchRef::new(child)),
    }
}

impl<'a> Link<'a> for &'a Branch {
    type Leaf = &'a [u8];
    fn child<const S: bool>(&self, index: usize) -> Step<'a, Self> {
        let branch: &'a Branch = self;
        borrowed::<S>(&branch.slots[index])
    }
    fn leaves<const S: bool>(
        &self,
        index: usize,
        count: usize,
        forward: bool,
        out: &mut Vec<&'a [u8]>,
        want: usize,
    ) -> usize {
        let branch: &'a Branch = self;
        leaves_of::<_, S>(&branch.slots[..count], index, forward, out, want, |child| {
            child.leaf_of::<S>().0
        })
    }
}

impl<'a> Link<'a> for BranchRef {
    type Leaf = LeafRef;
    fn child<const S: bool>(&self, index: usize) -> Step<'a, Self> {
        owned::<S>(&self.slots[index])
    }
    fn leaves<const S: bool>(
        &self,
        index: usize,
        count: usize,
        forward: bool,
        out: &mut Vec<LeafRef>,
        want: usize,
    ) -> usize {
        leaves_of::<_, S>(&self.slots[..count], index, forward, out, want, |child| {
            LeafRef::new(child.clone())
        })
    }
}

/// The root of a walk: as the cursor holds it, and as a plain reference for read-only probes.
struct Root<'a, 'r, L: Link<'a>> {
    step: Step<'a, L>,
    node: &'r Child,
}

struct Cursor<'a, L: Link<'a>> {
    /// Whether the tree may hold stored slots: the walks below run with the stored arms of
    /// the node accessors compiled away when it does not.
    stored: bool,
    /// Whether a gather loads the lines of each leaf's value ([`touch_lines`]) or only the
    /// line the leaf starts in: loading lines a caller does not read costs memory bandwidth.
    values: bool,
    stack: Vec<Frame<L>>,
    /// The leaf the cursor is at, `ahead[taken]` (none at either end), and the leaves gathered
    /// after it, in walk order; the stack is positioned at the last of them.
    ahead: Vec<L::Leaf>,
    taken: usize,
    /// The index in `ahead` at which to gather the next batch: while the cursor moves through
    /// the leaves before it, the cache misses of the batch after it are in flight.
    next_batch: usize,
    /// The size of the batch gathered last.
    batch: usize,
    /// Leaves moved past since the cursor was positioned, up to [`LONG_WALK`].
    moved: usize,
    /// How far the walk may move through `ahead` without checking for the other end: the
    /// position of the other cursor's leaf in it, or `next_batch`. Zero whenever that is not
    /// known (the other cursor moved).
    limit: usize,
}

/// A branch on a cursor's path, the index of the child taken, and its child count (kept so that
/// a step to a sibling reads no branch header). A branch entered but not stepped into yet has
/// the index before its first child in the walk's direction: `usize::MAX` forward, the count
/// backward.
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

    /// The frame of `branch`, just entered by a walk in the direction `forward`. Loads the
    /// lines of the branches among its children, so that their cache misses overlap with the
    /// walk through their siblings.
    fn entered<const S: bool>(branch: L, forward: bool) -> Frame<L> {
        let children = branch.children();
        let loaded = children.iter().fold(0usize, |sum, child| {
            let below = if S {
                child.loaded_branch()
            } else {
                child.as_branch_of::<false>()
            };
            match below {
                Some((child, _)) => sum.wrapping_add(touch_branch(child)),
                None => sum,
            }
        });
        std::hint::black_box(loaded);
        let count = children.len();
        let index = if forward { usize::MAX } else { count };
        Frame {
            branch,
            index,
            count,
        }
    }

    /// The index of the child after the current one in the walk's direction, if any.
    #[inline(always)]
    fn following(&self, forward: bool) -> Option<usize> {
        let next = if forward {
            self.index.wrapping_add(1)
        } else {
            self.index.wrapping_sub(1)
        };
        (next < self.count).then_some(next)
    }
}

/// Leaves after which a walk counts as long. Until then a cursor gathers [`SHORT_BATCH`]
/// leaves at a time and none ahead of those, so that a short range reads few leaves past its
/// end.
const LONG_WALK: usize = 128;
const SHORT_BATCH: usize = 8;

/// The fewest and the most leaves a cursor on a long walk gathers at once, a batch ahead of
/// the leaves it moves through: twice as many each time, up to as many cache misses in flight
/// as a core tracks and more, each started by a load a few instructions after the last.
const GATHER_MIN: usize = 16;
const GATHER_MAX: usize = 256;

impl<'a, L: Link<'a>> Cursor<'a, L> {
    fn new(stored: bool, values: bool) -> Self {
        Cursor {
            stored,
            values,
            stack: Vec::new(),
            ahead: Vec::new(),
            taken: 0,
            next_batch: 0,
            batch: 0,
            moved: 0,
            limit: 0,
        }
    }

    /// The leaf the cursor is at, if it has gathered it (see [`Cursor::known_leaf`]).
    #[inline]
    fn leaf(&self) -> Option<&L::Leaf> {
        self.ahead.get(self.taken)
    }

    /// The leaf the cursor is at, after gathering the next batch if the cursor has moved
    /// through those it had (steps without checks stop there, and [`Cursor::leaf`] then knows
    /// no leaf).
    fn known_leaf(&mut self, forward: bool) -> Option<&L::Leaf> {
        if self.taken >= self.next_batch {
            self.refill(forward);
        }
        self.leaf()
    }

    /// Makes `leaf`, where the stack is positioned, the cursor's leaf.
    fn set_leaf(&mut self, leaf: L::Leaf) {
        self.forget_ahead();
        self.ahead.push(leaf);
        self.next_batch = 1;
    }

    /// Positions on the outermost leaf of `step` (the leftmost or the rightmost), entering the
    /// branches on the way.
    fn descend(&mut self, step: Step<'a, L>, leftmost: bool) {
        if self.stored {
            self.descend_in::<true>(step, leftmost);
        } else {
            self.descend_in::<false>(step, leftmost);
        }
    }

    fn descend_in<const S: bool>(&mut self, mut step: Step<'a, L>, leftmost: bool) {
        loop {
            match step {
                Step::Leaf(leaf) => {
                    self.set_leaf(leaf);
                    return;
                }
                Step::Branch(branch) => {
                    let frame = Frame::at(branch, 0);
                    let index = if leftmost { 0 } else { frame.count - 1 };
                    step = frame.branch.child::<S>(index);
                    self.stack.push(Frame { index, ..frame });
                }
            }
        }
    }

    /// Moves to the next leaf (`forward`) or the previous one; clears the leaf at either end.
    fn advance(&mut self, forward: bool) {
        self.taken += 1;
        if self.taken >= self.next_batch {
            self.refill(forward);
        }
    }

    /// Drops the leaves moved past and, on a long walk, gathers the next batch behind those not
    /// moved through yet (two batches when there are none): the cursor moves through the older
    /// one while the misses of the newer one are in flight.
    fn refill(&mut self, forward: bool) {
        let passed = self.taken.min(self.ahead.len());
        self.ahead.drain(..passed);
        self.taken = 0;
        self.moved = (self.moved + passed).min(LONG_WALK);
        if self.moved < LONG_WALK {
            if self.ahead.is_empty() {
                self.gather(forward, SHORT_BATCH);
            }
            self.next_batch = self.ahead.len();
            return;
        }
        loop {
            let before = self.ahead.len();
            if self.stack.is_empty() {
                self.next_batch = before;
                return;
            }
            self.batch = (self.batch * 2).clamp(GATHER_MIN, GATHER_MAX);
            self.gather(forward, self.batch);
            if before > 0 {
                self.next_batch = before;
                return;
            }
        }
    }

    /// Moves to the next leaf (`forward`) or the previous one gathering none ahead, so that the
    /// stack is positioned at the leaf; clears the leaf at either end.
    fn step(&mut self, forward: bool) {
        debug_assert!(
            self.ahead.len() <= self.taken + 1,
            "the stack is positioned at the cursor's leaf"
        );
        self.forget_ahead();
        self.gather(forward, 1);
        self.next_batch = self.ahead.len();
    }

    /// Drops the leaf and those gathered ahead.
    fn forget_ahead(&mut self) {
        self.ahead.clear();
        self.taken = 0;
        self.next_batch = 0;
        self.batch = 0;
        self.moved = 0;
        self.limit = 0;
    }

    /// Walks the stack on past up to `want` leaves, appending them to `ahead` and loading a
    /// byte of each (and the lines of the branches below each branch entered), so that their
    /// cache misses overlap while the caller moves through the leaves before them.
    fn gather(&mut self, forward: bool, want: usize) {
        if self.stored {
            self.gather_in::<true>(forward, want);
        } else {
            self.gather_in::<false>(forward, want);
        }
    }

    fn gather_in<const S: bool>(&mut self, forward: bool, want: usize) {
        let start = self.ahead.len();
        let want = start + want;
        while let Some(frame) = self.stack.last_mut() {
            frame.index =
                frame
                    .branch
                    .leaves::<S>(frame.index, frame.count, forward, &mut self.ahead, want);
            if self.ahead.len() == want {
                break;
            }
            // The leaves ended at a branch with branches below it, or at the end of this one.
            let Some(next) = frame.following(forward) else {
                self.stack.pop();
                continue;
            };
            frame.index = next;
            let Step::Branch(branch) = frame.branch.child::<S>(next) else {
                unreachable!("the leaves end at a branch")
            };
            self.stack.push(Frame::entered::<S>(branch, forward));
        }
        let gathered = self.ahead[start..].iter();
        let loaded = if self.values {
            gathered.fold(0usize, |sum, leaf| sum.wrapping_add(touch_lines(leaf)))
        } else {
            gathered.fold(0usize, |sum, leaf| sum.wrapping_add(usize::from(leaf[0])))
        };
        std::hint::black_box(loaded);
    }

    /// Positions on the first leaf whose key is `>= key` (or `> key` when `exclusive`).
    fn seek(&mut self, root: &Root<'a, '_, L>, key: &[u8], exclusive: bool) {
        if self.stored {
            self.seek_in::<true>(root, key, exclusive);
        } else {
            self.seek_in::<false>(root, key, exclusive);
        }
    }

    fn seek_in<const S: bool>(&mut self, root: &Root<'a, '_, L>, key: &[u8], exclusive: bool) {
        self.stack.clear();
        self.forget_ahead();
        let split = closest_difference::<S>(root.node, key, false);
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
                    let Step::Leaf(leaf) = branch.child::<S>(index) else {
                        unreachable!("a pair holds leaves")
                    };
                    if past(&leaf) {
                        self.stack.push(Frame::at(branch, index));
                        self.set_leaf(leaf);
                        return;
                    }
                }
                self.stack.push(Frame::at(branch, next + 1));
                self.stack_after_current();
                return;
            }
            step = branch.child::<S>(next);
            self.stack.push(Frame::at(branch, next));
        }
        let Some(at) = split else {
            // The key itself is present, at this leaf.
            let Step::Leaf(leaf) = step else {
                unreachable!("no split means the key was found")
            };
            self.set_leaf(leaf);
            if exclusive {
                self.step(true);
            }
            return;
        };
        let key_digit = digit(key, at).expect("the split lies within the key");
        match step {
            Step::Branch(branch) if branch.pos == at => {
                // The key's digit is absent here: go to the first child after it.
                let index = branch.rank(key_digit);
                if index < branch.children().len() {
                    let child = branch.child::<S>(index);
                    self.stack.push(Frame::at(branch, index));
                    self.descend_in::<S>(child, true);
                } else {
                    self.stack_after_current();
                }
            }
            subtree => {
                let sample = match &subtree {
                    Step::Leaf(leaf) => digit(leaf_key(leaf), at),
                    Step::Branch(branch) => {
                        let b: &Branch = branch;
                        digit(leaf_key(b.slots[0].any_leaf_of::<S>()), at)
                    }
                };
                let subtree_digit = sample.expect("keys below share the split");
                if key_digit < subtree_digit {
                    self.descend_in::<S>(subtree, true);
                } else {
                    self.stack_after_current();
                }
            }
        }
    }

    /// Moves past the subtree the top of the stack points at.
    fn stack_after_current(&mut self) {
        self.step(true);
    }

    /// Positions on the last leaf whose key is `< key` (or `<= key` when `inclusive`).
    fn seek_before(&mut self, root: &Root<'a, '_, L>, key: &[u8], inclusive: bool) {
        self.seek(root, key, inclusive);
        if self.leaf().is_some() {
            self.step(false);
        } else {
            self.stack.clear();
            self.descend(root.step.clone(), false);
        }
    }
}

/// A double-ended walk between two cursors that stops when they meet.
struct Walk<'a, L: Link<'a>> {
    front: Cursor<'a, L>,
    back: Cursor<'a, L>,
    done: bool,
}

impl<'a, L: Link<'a>> Walk<'a, L> {
    fn new(
        stored: bool,
        values: bool,
        root: Option<Root<'a, '_, L>>,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Self {
        let mut front = Cursor::new(stored, values);
        let mut back = Cursor::new(stored, values);
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
        let done = match (front.leaf(), back.leaf()) {
            (Some(first), Some(last)) => leaf_key(first) > leaf_key(last),
            _ => true,
        };
        Walk { front, back, done }
    }

    /// The cursor moving in the direction `forward` and the other one.
    #[inline(always)]
    fn ends(&mut self, forward: bool) -> (&mut Cursor<'a, L>, &mut Cursor<'a, L>) {
        if forward {
            (&mut self.front, &mut self.back)
        } else {
            (&mut self.back, &mut self.front)
        }
    }

    /// The next leaf from the front (`forward`) or the back. Most steps take a leaf gathered
    /// ahead that lies before the other end's: nothing to check but the limit.
    #[inline(always)]
    fn step(&mut self, forward: bool) -> Option<L::Leaf> {
        let (this, other) = self.ends(forward);
        if this.taken < this.limit {
            let leaf = this.ahead[this.taken].clone();
            this.taken += 1;
            other.limit = 0;
            return Some(leaf);
        }
        self.checked(forward)
    }

    /// The next leaf from the front (`forward`) or the back, checked against the other end;
    /// sets how far the next steps need no check.
    #[cold]
    #[inline(never)]
    fn checked(&mut self, forward: bool) -> Option<L::Leaf> {
        if self.done {
            return None;
        }
        let (this, other) = self.ends(forward);
        (this.limit, other.limit) = (0, 0);
        let leaf = this.known_leaf(forward)?.clone();
        if other
            .known_leaf(!forward)
            .is_some_and(|end| same(end, &leaf))
        {
            self.done = true;
            return Some(leaf);
        }
        this.advance(forward);
        let ahead = &this.ahead[..this.next_batch];
        this.limit = match other.leaf() {
            Some(end) => ahead
                .iter()
                .skip(this.taken)
                .position(|leaf| same(leaf, end))
                .map_or(ahead.len(), |at| this.taken + at),
            None => ahead.len(),
        };
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
            step: borrowed::<true>(node),
            node,
        });
        Range {
            walk: Walk::new(tree.stored, false, root, start, end),
        }
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.walk.step(true).map(leaf_entry)
    }
}

impl DoubleEndedIterator for Range<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        self.walk.step(false).map(leaf_entry)
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
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let item = self.range.next()?;
        self.remaining -= 1;
        Some(item)
    }
    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        let item = self.range.next_back()?;
        self.remaining -= 1;
        Some(item)
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// A range that owns its path, for handles that must not borrow the tree (the C ABI).
/// Yields leaf allocations; [`leaf_key`] and [`leaf_value`](crate::tree::node::leaf_value) read
/// them.
pub(crate) struct OwnedRange {
    walk: Walk<'static, BranchRef>,
}

impl OwnedRange {
    pub(crate) fn new(tree: &Tree, start: Bound<&[u8]>, end: Bound<&[u8]>) -> OwnedRange {
        // The walk clones what it keeps, so it borrows the root only while positioning.
        let root = tree.root().map(|node| Root {
            step: owned::<true>(node),
            node,
        });
        // Its callers (the C ABI's steps) copy every value out.
        OwnedRange {
            walk: Walk::new(tree.stored, true, root, start, end),
        }
    }

    #[inline]
    pub(crate) fn next(&mut self) -> Option<LeafRef> {
        self.walk.step(true)
    }

    #[inline]
    pub(crate) fn next_back(&mut self) -> Option<LeafRef> {
        self.walk.step(false)
    }
}
